//! The control plane over HTTP, table-driven: each action × valid, missing, out of range,
//! duplicate, not found; persistence across a restart; concurrent conflicting writes; the
//! wire format's edges; and the official Python SDK (tests/sdk/sdk_test.py).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{temp_dir, template, Server};
use serde_json::{json, Value};

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn every_action_valid_missing_out_of_range_duplicate_not_found() {
    let data = temp_dir("actions");
    let s = Server::start(&data, None).await;
    let t = now();
    let cases: Vec<(&str, Value, &str)> = vec![
        ("CreateLiveRecordTemplate", template("t1"), "ok"),
        (
            "CreateLiveRecordTemplate",
            json!({"HlsParam": {"Enable": 1}}),
            "MissingParameter",
        ),
        (
            "CreateLiveRecordTemplate",
            json!({"TemplateName": "t", "AacParam": {"RecordInterval": 7201}}),
            "InvalidParameterValue",
        ),
        (
            "CreateLiveRecordTemplate",
            json!({"TemplateName": "t", "Surprise": 1}),
            "UnknownParameter",
        ),
        (
            "ModifyLiveRecordTemplate",
            json!({"TemplateId": 1, "Description": "changed"}),
            "ok",
        ),
        (
            "ModifyLiveRecordTemplate",
            json!({"Description": "x"}),
            "MissingParameter",
        ),
        (
            "ModifyLiveRecordTemplate",
            json!({"TemplateId": 1, "FlvParam": {"RecordInterval": 59}}),
            "InvalidParameterValue",
        ),
        (
            "ModifyLiveRecordTemplate",
            json!({"TemplateId": 1, "CosStore": 0}),
            "UnknownParameter",
        ),
        (
            "ModifyLiveRecordTemplate",
            json!({"TemplateId": 42}),
            "FailedOperation.NotFound",
        ),
        ("DescribeLiveRecordTemplate", json!({"TemplateId": 1}), "ok"),
        ("DescribeLiveRecordTemplate", json!({}), "MissingParameter"),
        (
            "DescribeLiveRecordTemplate",
            json!({"TemplateId": 0}),
            "InvalidParameterValue",
        ),
        (
            "DescribeLiveRecordTemplate",
            json!({"TemplateId": 42}),
            "FailedOperation.NotFound",
        ),
        ("DescribeLiveRecordTemplates", json!({}), "ok"),
        (
            "DescribeLiveRecordTemplates",
            json!({"IsDelayLive": 2}),
            "InvalidParameterValue",
        ),
        (
            "CreateLiveRecordRule",
            json!({"DomainName": "d.com", "TemplateId": 1}),
            "ok",
        ),
        (
            "CreateLiveRecordRule",
            json!({"DomainName": "d.com", "TemplateId": 1}),
            "FailedOperation.RuleAlreadyExist",
        ),
        (
            "CreateLiveRecordRule",
            json!({"TemplateId": 1}),
            "MissingParameter",
        ),
        (
            "CreateLiveRecordRule",
            json!({"DomainName": "d.com", "StreamName": "s", "TemplateId": 42}),
            "InvalidParameter.ConfNotFound",
        ),
        (
            "CreateLiveRecordRule",
            json!({"DomainName": "-bad-.com", "TemplateId": 1}),
            "InvalidParameter.DomainFormatError",
        ),
        ("DescribeLiveRecordRules", json!({}), "ok"),
        (
            "DeleteLiveRecordTemplate",
            json!({"TemplateId": 1}),
            "FailedOperation.ConfInUsed",
        ),
        (
            "DeleteLiveRecordRule",
            json!({"DomainName": "d.com", "AppName": "live"}),
            "InternalError.RuleNotFound",
        ),
        (
            "DeleteLiveRecordRule",
            json!({"AppName": "live"}),
            "MissingParameter",
        ),
        ("DeleteLiveRecordRule", json!({"DomainName": "d.com"}), "ok"),
        ("DeleteLiveRecordTemplate", json!({"TemplateId": 1}), "ok"),
        (
            "DeleteLiveRecordTemplate",
            json!({"TemplateId": 1}),
            "InternalError.ConfNotFound",
        ),
        (
            "CreateRecordTask",
            json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "EndTime": t + 60}),
            "ok",
        ),
        (
            "CreateRecordTask",
            json!({"DomainName": "d.com", "AppName": "live", "EndTime": t + 60}),
            "MissingParameter",
        ),
        (
            "CreateRecordTask",
            json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "EndTime": t + 8 * 86400}),
            "InvalidParameter.InvalidTaskTime",
        ),
        (
            "CreateRecordTask",
            json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "EndTime": t + 60, "StreamType": 3}),
            "InvalidParameterValue",
        ),
        ("StopRecordTask", json!({}), "MissingParameter"),
        (
            "StopRecordTask",
            json!({"TaskId": "nope"}),
            "InvalidParameter.TaskNotExist",
        ),
        (
            "DeleteRecordTask",
            json!({"TaskId": "nope"}),
            "InvalidParameter.TaskNotExist",
        ),
        (
            "DescribeRecordTask",
            json!({"StartTime": t - 10, "EndTime": t + 100}),
            "ok",
        ),
        (
            "DescribeRecordTask",
            json!({"StartTime": t}),
            "MissingParameter",
        ),
        (
            "DescribeRecordTask",
            json!({"StartTime": t - 100 * 86400, "EndTime": t - 99 * 86400}),
            "InvalidParameter.InvalidTaskTime",
        ),
        (
            "CreateLiveCallbackTemplate",
            json!({"TemplateName": "cb", "RecordNotifyUrl": "http://127.0.0.1:1/x"}),
            "ok",
        ),
        (
            "CreateLiveCallbackTemplate",
            json!({"TemplateName": "cb"}),
            "MissingParameter",
        ),
        (
            "CreateLiveCallbackTemplate",
            json!({"TemplateName": "cb", "RecordNotifyUrl": "nope"}),
            "InvalidParameter.InvalidCallbackUrl",
        ),
        (
            "ModifyLiveCallbackTemplate",
            json!({"TemplateId": 1, "CallbackKey": "k"}),
            "ok",
        ),
        (
            "ModifyLiveCallbackTemplate",
            json!({"TemplateId": 9, "CallbackKey": "k"}),
            "FailedOperation.NotFound",
        ),
        (
            "DescribeLiveCallbackTemplate",
            json!({"TemplateId": 1}),
            "ok",
        ),
        (
            "DescribeLiveCallbackTemplate",
            json!({"TemplateId": 9}),
            "FailedOperation.NotFound",
        ),
        ("DescribeLiveCallbackTemplates", json!({}), "ok"),
        (
            "CreateLiveCallbackRule",
            json!({"DomainName": "d.com", "AppName": "live", "TemplateId": 1}),
            "ok",
        ),
        (
            "CreateLiveCallbackRule",
            json!({"DomainName": "d.com", "AppName": "live", "TemplateId": 1}),
            "FailedOperation.RuleAlreadyExist",
        ),
        (
            "CreateLiveCallbackRule",
            json!({"DomainName": "d.com", "TemplateId": 1}),
            "MissingParameter",
        ),
        ("DescribeLiveCallbackRules", json!({}), "ok"),
        (
            "DeleteLiveCallbackTemplate",
            json!({"TemplateId": 1}),
            "FailedOperation.ConfInUsed",
        ),
        (
            "DeleteLiveCallbackRule",
            json!({"DomainName": "d.com", "AppName": "other"}),
            "InternalError.RuleNotFound",
        ),
        (
            "DeleteLiveCallbackRule",
            json!({"DomainName": "d.com", "AppName": "live"}),
            "ok",
        ),
        ("DeleteLiveCallbackTemplate", json!({"TemplateId": 1}), "ok"),
        (
            "DescribeLivePushAuthKey",
            json!({"DomainName": "d.com"}),
            "ok",
        ),
        ("DescribeLivePushAuthKey", json!({}), "MissingParameter"),
        (
            "ModifyLivePushAuthKey",
            json!({"DomainName": "d.com", "Enable": 1, "MasterAuthKey": "k1"}),
            "ok",
        ),
        (
            "ModifyLivePushAuthKey",
            json!({"DomainName": "d.com", "AuthDelta": -1}),
            "InvalidParameterValue",
        ),
        (
            "ModifyLivePushAuthKey",
            json!({"Enable": 1}),
            "MissingParameter",
        ),
        ("SearchMedia", json!({}), "ok"),
        (
            "SearchMedia",
            json!({"Limit": 5001}),
            "InvalidParameterValue",
        ),
        (
            "SearchMedia",
            json!({"FileFormat": "avi"}),
            "InvalidParameterValue",
        ),
        ("DescribeMediaInfos", json!({}), "MissingParameter"),
        ("NoSuchThing", json!({}), "InvalidAction"),
    ];
    for (action, params, want) in cases {
        assert_eq!(
            s.code(action, params.clone()).await,
            want,
            "{action} {params}"
        );
    }
    s.stop();
}

#[tokio::test]
async fn state_survives_a_restart() {
    let data = temp_dir("restart");
    let s = Server::start(&data, None).await;
    assert_eq!(
        s.code("CreateLiveRecordTemplate", template("keep")).await,
        "ok"
    );
    assert_eq!(
        s.code(
            "CreateLiveRecordRule",
            json!({"DomainName": "d.com", "AppName": "live", "TemplateId": 1})
        )
        .await,
        "ok"
    );
    let task = s.call("CreateRecordTask", json!({"DomainName": "d.com", "AppName": "live", "StreamName": "s", "EndTime": now() + 600})).await;
    assert_eq!(
        s.code(
            "ModifyLivePushAuthKey",
            json!({"DomainName": "d.com", "Enable": 1, "MasterAuthKey": "abc"})
        )
        .await,
        "ok"
    );
    assert_eq!(
        s.code(
            "CreateLiveCallbackTemplate",
            json!({"TemplateName": "cb", "RecordNotifyUrl": "http://h/x"})
        )
        .await,
        "ok"
    );
    let before = (
        s.call("DescribeLiveRecordTemplates", json!({})).await["Templates"].clone(),
        s.call("DescribeLiveRecordRules", json!({})).await["Rules"].clone(),
        s.call("DescribeLivePushAuthKey", json!({"DomainName": "d.com"}))
            .await["PushAuthKeyInfo"]
            .clone(),
        s.call("DescribeLiveCallbackTemplates", json!({})).await["Templates"].clone(),
    );
    s.stop();
    let s = Server::start(&data, None).await;
    let after = (
        s.call("DescribeLiveRecordTemplates", json!({})).await["Templates"].clone(),
        s.call("DescribeLiveRecordRules", json!({})).await["Rules"].clone(),
        s.call("DescribeLivePushAuthKey", json!({"DomainName": "d.com"}))
            .await["PushAuthKeyInfo"]
            .clone(),
        s.call("DescribeLiveCallbackTemplates", json!({})).await["Templates"].clone(),
    );
    assert_eq!(before, after);
    let tasks = s
        .call(
            "DescribeRecordTask",
            json!({"StartTime": now() - 60, "EndTime": now() + 3600}),
        )
        .await;
    assert_eq!(tasks["TaskList"][0]["TaskId"], task["TaskId"]);
    let next = s.call("CreateLiveRecordTemplate", template("next")).await;
    assert_eq!(
        next["TemplateId"],
        json!(2),
        "ids keep counting after a restart"
    );
    s.stop();
}

#[tokio::test]
async fn of_concurrent_conflicting_rules_exactly_one_wins() {
    let data = temp_dir("race");
    let s = Server::start(&data, None).await;
    assert_eq!(
        s.code("CreateLiveRecordTemplate", template("t")).await,
        "ok"
    );
    let handles: Vec<_> = (0..24)
        .map(|_| {
            let (client, url) = (s.client.clone(), s.url());
            tokio::spawn(async move {
                let body = json!({"DomainName": "d.com", "AppName": "live", "StreamName": "x", "TemplateId": 1});
                let r = client.post(url).header("X-TC-Action", "CreateLiveRecordRule").body(body.to_string()).send().await.unwrap();
                let v: Value = r.json().await.unwrap();
                v["Response"]["Error"]["Code"].as_str().unwrap_or("ok").to_owned()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for h in handles {
        codes.push(h.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| *c == "ok").count(), 1, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c == "ok" || c == "FailedOperation.RuleAlreadyExist"),
        "{codes:?}"
    );
    assert_eq!(
        s.call("DescribeLiveRecordRules", json!({})).await["Rules"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    s.stop();
}

#[tokio::test]
async fn wire_format_edges() {
    let data = temp_dir("wire");
    let s = Server::start(&data, None).await;
    let send = |body: Vec<u8>, content_type: &'static str| {
        s.client
            .post(s.url())
            .header("X-TC-Action", "CreateLiveRecordTemplate")
            .header("Content-Type", content_type)
            .body(body)
            .send()
    };
    let big = send(vec![b' '; 1024 * 1024 + 1], "application/json")
        .await
        .unwrap();
    assert_eq!(big.status(), 200);
    let v: Value = big.json().await.unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "RequestSizeLimitExceeded");
    let v: Value = send(b"{not json".to_vec(), "application/json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "InvalidParameter");
    let v: Value = send(b"[1]".to_vec(), "application/json")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "InvalidParameter");
    let form = s
        .client
        .get(format!("{}?Action=CreateLiveRecordTemplate&Version=2018-08-01&TemplateName=123&Mp4Param.Enable=1&Mp4Param.RecordInterval=600", s.url()))
        .send()
        .await
        .unwrap();
    let v: Value = form.json().await.unwrap();
    assert_eq!(v["Response"]["TemplateId"], json!(1), "{v}");
    let got = s
        .call("DescribeLiveRecordTemplate", json!({"TemplateId": 1}))
        .await;
    assert_eq!(
        (
            got["Template"]["TemplateName"].clone(),
            got["Template"]["Mp4Param"]["RecordInterval"].clone()
        ),
        (json!("123"), json!(600))
    );
    let v: Value = s
        .client
        .post(s.url())
        .header("X-TC-Action", "DescribeLiveRecordRules")
        .header("X-TC-Version", "2017-03-12")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "NoSuchVersion");
    let v: Value = s
        .client
        .post(s.url())
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "MissingParameter");
    let metrics = s.metrics().await;
    assert!(metrics.contains("liverec_api_requests_total{action=\"CreateLiveRecordTemplate\",result=\"RequestSizeLimitExceeded\"} 1"), "{metrics}");
    s.stop();
}

#[tokio::test]
async fn signed_mode_refuses_unsigned_requests_and_open_addresses_need_credentials() {
    let data = temp_dir("signed");
    let s = Server::start(&data, Some(("AKIDtest", "secret"))).await;
    assert_eq!(
        s.code("DescribeLiveRecordRules", json!({})).await,
        "AuthFailure.InvalidAuthorization"
    );
    let v: Value = s
        .client
        .post(s.url())
        .header("X-TC-Action", "DescribeLiveRecordRules")
        .header("Authorization", "TC3-HMAC-SHA256 Credential=AKIDtest/2026-01-01/live/tc3_request, SignedHeaders=content-type;host, Signature=00")
        .header("X-TC-Timestamp", "1")
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        v["Response"]["Error"]["Code"],
        "AuthFailure.SignatureExpire"
    );
    s.stop();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liverec"))
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--http",
            "0.0.0.0:0",
        ])
        .env_remove("LIVEREC_SECRET_ID")
        .env_remove("LIVEREC_SECRET_KEY")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("without credentials"));
}

#[tokio::test]
async fn the_official_python_sdk_drives_every_action() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = std::env::var("LIVEREC_SDK_PYTHON")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/sdk-venv/bin/python"));
    assert!(
        python.exists(),
        "{} is missing: scripts/test-all.sh creates it (python3 -m venv target/sdk-venv && pip install tencentcloud-sdk-python-live)",
        python.display()
    );
    let data = temp_dir("sdk");
    {
        use liverec::server::db::{Recording, RecordingIndex, SqliteDb};
        let pool = SqliteDb::open(&data).await.unwrap();
        for (id, format, start) in [("file-hls", "hls", 1_000), ("file-mp4", "mp4", 2_000)] {
            let r = Recording {
                file_id: id.into(),
                domain_name: "push.example.com".into(),
                app_name: "live".into(),
                stream_name: "cam1".into(),
                format: format.into(),
                start_ms: 1_790_000_000_000 + start,
                end_ms: 1_790_000_060_000 + start,
                duration_ms: 60_000,
                size_bytes: 12_345,
                video_codec: Some("h264".into()),
                audio_codec: Some("aac".into()),
                width: Some(1280),
                height: Some(720),
                storage_path: format!("push.example.com/live/cam1/{id}.{format}"),
                url: format!("http://127.0.0.1/vod/{id}"),
                created_ms: 1_790_000_061_000,
                ..Recording::default()
            };
            pool.insert(&r).await.unwrap();
        }
        pool.close().await;
    }
    let s = Server::start(&data, Some(("AKIDsdktest", "sdk-secret-key"))).await;
    let out = tokio::process::Command::new(&python)
        .arg(root.join("tests/sdk/sdk_test.py"))
        .arg(s.port.to_string())
        .env("LIVEREC_SECRET_ID", "AKIDsdktest")
        .env("LIVEREC_SECRET_KEY", "sdk-secret-key")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" passed, 0 failed"), "{stdout}");
    s.stop();
}

/// Runs `tccli live ACTION ARGS…` against `port` with the given key; (exit code, stdout
/// and stderr together).
async fn tccli(port: u16, key: &str, home: &std::path::Path, args: &[&str]) -> (i32, String) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let tccli = std::env::var("LIVEREC_TCCLI")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| root.join("target/tccli-venv/bin/tccli"));
    assert!(
        tccli.exists(),
        "{} is missing: scripts/test-all.sh creates it (python3 -m venv target/tccli-venv && pip install tccli)",
        tccli.display()
    );
    let endpoint = format!("http://127.0.0.1:{port}");
    let out = tokio::process::Command::new(&tccli)
        .arg("live")
        .args(args)
        .args(["--secretId", "AKIDtccli", "--secretKey", key])
        .args(["--region", "ap-guangzhou", "--endpoint", &endpoint])
        .env("HOME", home)
        .output()
        .await
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The reference's command-line tool, pointed at liverec with `--endpoint http://HOST:PORT`.
#[tokio::test]
async fn tccli_drives_templates_rules_and_reports_errors() {
    let data = temp_dir("tccli");
    let s = Server::start(&data, Some(("AKIDtccli", "tccli-key"))).await;
    let key = "tccli-key";
    let (code, out) = tccli(
        s.port,
        key,
        &data,
        &[
            "CreateLiveRecordTemplate",
            "--TemplateName",
            "cli_hls",
            "--HlsParam",
            r#"{"Enable": 1}"#,
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let created: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(created["TemplateId"], 1);
    let unfolded = [
        "CreateLiveRecordTemplate",
        "--cli-unfold-argument",
        "--TemplateName",
        "cli_mp4",
        "--Mp4Param.Enable",
        "1",
        "--Mp4Param.RecordInterval",
        "1800",
    ];
    let (code, out) = tccli(s.port, key, &data, &unfolded).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = tccli(
        s.port,
        key,
        &data,
        &[
            "CreateLiveRecordRule",
            "--DomainName",
            "a.com",
            "--AppName",
            "live",
            "--TemplateId",
            "2",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = tccli(s.port, key, &data, &["DescribeLiveRecordRules"]).await;
    assert_eq!(code, 0, "{out}");
    let rules: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(rules["Rules"][0]["TemplateId"], 2);
    let (code, out) = tccli(
        s.port,
        key,
        &data,
        &["DescribeLiveRecordTemplate", "--TemplateId", "9"],
    )
    .await;
    assert_ne!(code, 0);
    assert!(out.contains("code:FailedOperation.NotFound"), "{out}");
    let (code, out) = tccli(s.port, "wrong", &data, &["DescribeLiveRecordTemplates"]).await;
    assert_ne!(code, 0);
    assert!(out.contains("code:AuthFailure.SignatureFailure"), "{out}");
    s.stop();
}

#[tokio::test]
async fn config_file_credentials_and_limits() {
    let data = temp_dir("config");
    let file = data.join("liverec.toml");
    std::fs::write(
        &file,
        "default_domain = \"push.example.com\"\n[[credentials]]\nsecret_id = \"AKIDfile\"\nsecret_key = \"file-key\"\n[limits]\nmax_body_bytes = 200\n",
    )
    .unwrap();
    let s = Server::start_with(&data, None, &["--config", file.to_str().unwrap()]).await;
    let ok = common::signed_call(
        &s.client,
        s.port,
        "AKIDfile",
        "file-key",
        "DescribeLiveRecordRules",
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(ok["Response"]["Rules"], json!([]), "{ok}");
    let long = json!({"TemplateName": "t", "Description": "x".repeat(300)})
        .to_string()
        .into_bytes();
    let big = common::signed_call(
        &s.client,
        s.port,
        "AKIDfile",
        "file-key",
        "CreateLiveRecordTemplate",
        long,
    )
    .await;
    assert_eq!(big["Response"]["Error"]["Code"], "RequestSizeLimitExceeded");
    assert_eq!(
        s.code("DescribeLiveRecordRules", json!({})).await,
        "AuthFailure.InvalidAuthorization"
    );
    s.stop();
    std::fs::write(
        &file,
        "[[credentials]]\nsecret_id = \"x\"\nunknown_key = 1\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_liverec"))
        .args([
            "serve",
            "--data",
            data.to_str().unwrap(),
            "--config",
            file.to_str().unwrap(),
            "--http",
            "127.0.0.1:0",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("liverec.toml"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn unsigned_mode_refuses_browsers_and_foreign_hosts_signed_mode_refuses_unsigned_queries() {
    let data = temp_dir("browsers");
    let s = Server::start(&data, None).await;
    let send = |name: &'static str, value: &'static str| {
        s.client
            .post(s.url())
            .header("X-TC-Action", "DescribeLiveRecordRules")
            .header("Content-Type", "application/json")
            .header(name, value)
            .body("{}")
            .send()
    };
    for (name, value, want) in [
        (
            "Origin",
            "https://evil.example",
            "AuthFailure.UnauthorizedOperation",
        ),
        (
            "Sec-Fetch-Site",
            "cross-site",
            "AuthFailure.UnauthorizedOperation",
        ),
        (
            "Host",
            "rebound.example:8080",
            "AuthFailure.UnauthorizedOperation",
        ),
        ("Origin", "null", "AuthFailure.UnauthorizedOperation"),
        ("Sec-Fetch-Site", "none", "ok"),
        ("Host", "localhost:8080", "ok"),
    ] {
        let v: Value = send(name, value).await.unwrap().json().await.unwrap();
        assert_eq!(
            v["Response"]["Error"]["Code"].as_str().unwrap_or("ok"),
            want,
            "{name}: {value}"
        );
    }
    // The console's own requests: same origin, a loopback host. A rebinding page that
    // is "same origin" with its own host name is still refused.
    let own = format!("http://127.0.0.1:{}", s.port);
    let rebound = "http://rebound.example:8080";
    for (origin, host, want) in [
        (own.as_str(), format!("127.0.0.1:{}", s.port), "ok"),
        (
            rebound,
            "rebound.example:8080".to_owned(),
            "AuthFailure.UnauthorizedOperation",
        ),
        (
            own.as_str(),
            format!("127.0.0.1:{}", s.port + 1),
            "AuthFailure.UnauthorizedOperation",
        ),
    ] {
        let v: Value = (s.client.post(s.url()))
            .header("X-TC-Action", "DescribeLiveRecordRules")
            .header("Content-Type", "application/json")
            .header("Origin", origin)
            .header("Host", host.as_str())
            .header("Sec-Fetch-Site", "same-origin")
            .body("{}")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let code = v["Response"]["Error"]["Code"].as_str().unwrap_or("ok");
        assert_eq!(code, want, "{origin} {host}");
    }
    s.stop();
    let s = Server::start(&temp_dir("signed-query"), Some(("AKIDq", "q-key"))).await;
    let host = format!("127.0.0.1:{}", s.port);
    let (timestamp, authorization) = common::sign(&host, "AKIDq", "q-key", b"{}");
    let v: Value = s
        .client
        .post(format!("{}?TemplateId=1", s.url()))
        .header("X-TC-Action", "DeleteLiveRecordTemplate")
        .header("Content-Type", "application/json")
        .header("X-TC-Timestamp", timestamp)
        .header("Authorization", authorization)
        .body("{}")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Response"]["Error"]["Code"], "InvalidParameter", "{v}");
    s.stop();
}
