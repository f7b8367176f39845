//! The README's examples work as written: its curl commands against a fresh server, and
//! its Python SDK and tccli snippets against a server started with the README's
//! credentials (the Node.js SDK's runs in tests/node/sdk.test.mjs, where npm installs it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{temp_dir, Server};

/// The code block after `<!-- example: NAME -->`, with the README's port replaced.
fn example(name: &str, port: u16) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let marker = format!("<!-- example: {name} -->");
    let after = readme
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README has no {marker}"))
        .1;
    let block = after.split_once("```").unwrap().1;
    let code = block
        .split_once('\n')
        .unwrap()
        .1
        .split_once("```")
        .unwrap()
        .0;
    code.replace("127.0.0.1:8080", &format!("127.0.0.1:{port}"))
}

#[tokio::test]
async fn curl_example() {
    let s = Server::start(&temp_dir("readme-curl"), None).await;
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(example("curl", s.port))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains(r#"{"Response":{"TemplateId":1,"RequestId":""#),
        "{stdout}"
    );
    assert!(!stdout.contains("Error"), "{stdout}");
    let rules = s
        .call("DescribeLiveRecordRules", serde_json::json!({}))
        .await;
    assert_eq!(rules["Rules"][0]["DomainName"], "push.example.com");
    s.stop();
}

#[tokio::test]
async fn python_sdk_example() {
    let python =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/sdk-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run scripts/test-all.sh",
        python.display()
    );
    let s = Server::start(
        &temp_dir("readme-sdk"),
        Some(("AKIDexample", "example-secret-key")),
    )
    .await;
    let out = tokio::process::Command::new(&python)
        .arg("-c")
        .arg(example("python-sdk", s.port))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("1\n"), "{stdout}");
    assert!(stdout.contains("mp4_hourly"), "{stdout}");
    s.stop();
}

#[tokio::test]
async fn tccli_example() {
    let venv = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tccli-venv/bin");
    assert!(
        venv.join("tccli").exists(),
        "{} is missing: run scripts/test-all.sh",
        venv.display()
    );
    let home = temp_dir("readme-tccli");
    let s = Server::start(&home, Some(("AKIDexample", "example-secret-key"))).await;
    let path = format!(
        "{}:{}",
        venv.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(example("tccli", s.port))
        .env("PATH", path)
        .env("HOME", &home)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(r#""TemplateId": 1"#), "{stdout}");
    assert!(stdout.contains(r#""TemplateName": "aac_only""#), "{stdout}");
    s.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn record_example_pushes_and_finds_the_files_everywhere() {
    let dir = temp_dir("readme-record");
    let data = dir.join("liverec-data");
    let s = Server::start(&data, None).await;
    let hook = common::receiver(0).await;
    let hook_addr = hook
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/cb")
        .to_owned();
    let script = example("record", s.port)
        .replace("127.0.0.1:1935", &format!("127.0.0.1:{}", s.rtmp_port))
        .replace("127.0.0.1:9000", &hook_addr);
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("\"Error\""), "{stdout}");
    for ext in [".flv", ".mp4", ".m3u8"] {
        assert!(
            stdout.contains("cam_") && stdout.contains(ext),
            "{ext}: {stdout}"
        );
    }
    assert!(stdout.contains(r#""TotalCount":3"#), "{stdout}");
    let events = hook
        .wait_for(100, 3, std::time::Duration::from_secs(10))
        .await;
    assert_eq!(events.len(), 3);
    for event in &events {
        let url = event["video_url"].as_str().unwrap();
        let r = s.client.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
    }
    s.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn mix_example_records_the_mixed_stream() {
    let dir = temp_dir("readme-mix");
    let s = Server::start(&dir.join("liverec-data"), None).await;
    let script =
        example("mix", s.port).replace("127.0.0.1:1935", &format!("127.0.0.1:{}", s.rtmp_port));
    let out = tokio::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&dir)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!stdout.contains("\"Error\""), "{stdout}");
    assert!(stdout.contains("c_") && stdout.contains(".mp4"), "{stdout}");
    s.stop();
    let _ = std::fs::remove_dir_all(dir);
}
