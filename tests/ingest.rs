//! More ways in: RTMPS (and, as they come, SRT and Enhanced RTMP v2 codecs) pushed by a
//! real ffmpeg to `liverec serve`, recorded like RTMP, checked with ffprobe.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::recording::*;
use common::{free_port, temp_dir, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A self-signed certificate for `localhost` and its key (openssl, as an operator would).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    (cert, key)
}

/// A server with RTMPS on a free port; its address.
async fn start_rtmps(name: &str) -> (Server, PathBuf, String) {
    let dir = temp_dir(name);
    let (cert, key) = certificate(&dir);
    let extra = format!(
        "[tls]\ncert_file = \"{}\"\nkey_file = \"{}\"\n",
        cert.display(),
        key.display()
    );
    let cfg = config(&dir, &extra);
    let rtmps = format!("127.0.0.1:{}", free_port());
    let args = ["--config", cfg.to_str().unwrap(), "--rtmps", rtmps.as_str()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    (server, dir, rtmps)
}

#[tokio::test(flavor = "multi_thread")]
async fn rtmps_push_is_recorded_in_every_format_like_rtmp() {
    let (server, dir, rtmps) = start_rtmps("in-rtmps").await;
    configure(&server, all_formats(), 0, None).await;
    let copy = dir.join("sent.flv");
    let url = format!("rtmps://{rtmps}/live/secure");
    assert!(
        push(&url, 5.0, Some(&copy), false),
        "ffmpeg's RTMPS push failed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = stream_dir(&server, "secure");
    for ext in ["flv", "mp4", "aac", "m3u8"] {
        let list = files(&stream, ext);
        assert!(!list.is_empty(), "no {ext} recorded from RTMPS");
        for f in &list {
            decodes(f);
        }
    }
    // Byte for byte what was sent, as with RTMP.
    let recorded: Vec<_> = files(&stream, "flv")
        .iter()
        .flat_map(|f| packets(f))
        .collect();
    assert_eq!(
        recorded,
        packets(&copy),
        "FLV packets differ from what ffmpeg sent"
    );
    // Plain RTMP still works beside it.
    assert!(push(&server.rtmp("live", "plain"), 2.0, None, false));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!files(&stream_dir(&server, "plain"), "flv").is_empty());
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn rtmps_bad_handshakes_drop_that_connection_only() {
    let (server, dir, rtmps) = start_rtmps("in-rtmps-abuse").await;
    configure(
        &server,
        serde_json::json!({"FlvParam": {"Enable": 1}}),
        0,
        None,
    )
    .await;
    let opened = Instant::now();
    // Slowloris: TCP connections that never start TLS.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(tokio::net::TcpStream::connect(&rtmps).await.unwrap());
    }
    // Plain RTMP (garbage to TLS) on the RTMPS port.
    let mut garbage = tokio::net::TcpStream::connect(&rtmps).await.unwrap();
    garbage.write_all(&[0x03; 1537]).await.unwrap();
    // A real push meanwhile.
    let url = format!("rtmps://{rtmps}/live/fine");
    assert!(push(&url, 2.0, None, false));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recorded = files(&stream_dir(&server, "fine"), "flv");
    assert_eq!(recorded.len(), 1);
    decodes(&recorded[0]);
    let mut buf = vec![0u8; 4096];
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match garbage.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "garbage connection not dropped");
    // The handshake timeout (10 s) drops the idle ones.
    tokio::time::sleep(Duration::from_secs(11).saturating_sub(opened.elapsed())).await;
    for socket in &mut idle {
        let n = tokio::time::timeout(Duration::from_secs(3), socket.read(&mut buf))
            .await
            .expect("idle connection still open")
            .unwrap_or(0);
        assert_eq!(n, 0);
    }
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn rtmps_without_a_certificate_is_refused_at_start() {
    let dir = temp_dir("in-rtmps-nocert");
    let out = Command::new(env!("CARGO_BIN_EXE_liverec"))
        .args(["serve", "--data"])
        .arg(dir.join("data"))
        .args(["--http", "127.0.0.1:0", "--rtmp", "127.0.0.1:0"])
        .args(["--rtmps", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("[tls]"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}
