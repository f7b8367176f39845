//! More ways in: RTMPS and SRT pushed by Debian's ffmpeg to `liverec serve`, recorded
//! like RTMP, checked with ffprobe (Enhanced RTMP v2 codecs: `tests/enhanced_rtmp.rs`).
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

use common::ffmpeg9::{codecs, decodes_with, ffmpeg9};
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

/// A server with SRT on a free UDP port; its address.
async fn start_srt(name: &str) -> (Server, PathBuf, String) {
    let dir = temp_dir(name);
    let cfg = config(&dir, "[srt]\nlatency_ms = 120\n");
    let srt = format!("127.0.0.1:{}", free_port());
    let args = ["--config", cfg.to_str().unwrap(), "--srt", srt.as_str()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    (server, dir, srt)
}

/// Encodes `seconds` of H.264 (B-frames, 1 s GOP) + AAC into an MPEG-TS file.
fn make_ts(path: &Path, seconds: f64) {
    let x264 = ["-c:v", "libx264", "-preset", "veryfast", "-bf", "2"];
    make_ts_with(path, seconds, &x264);
}

/// Encodes `seconds` of video (`video`: the encoder and its options) + AAC into MPEG-TS.
fn make_ts_with(path: &Path, seconds: f64, video: &[&str]) {
    let source = ["-f", "lavfi", "-i", "testsrc=size=320x240:rate=25"];
    let audio = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"];
    let made = Command::new("ffmpeg")
        .args(["-v", "error"])
        .args(source)
        .args(audio)
        .args([
            "-t",
            &seconds.to_string(),
            "-map",
            "0:v",
            "-map",
            "1:a",
            "-g",
            "25",
        ])
        .args(video)
        .args([
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "64k", "-f", "mpegts", "-y",
        ])
        .arg(path)
        .status()
        .unwrap();
    assert!(made.success());
}

/// Pushes the TS file `source` in real time to the SRT listener at `addr` with Debian's
/// ffmpeg (timestamps as in the file), as stream id `stream_id`; returns its success.
fn push_ts(addr: &str, stream_id: &str, source: &Path) -> bool {
    Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(source)
        .args([
            "-c",
            "copy",
            "-copyts",
            "-mpegts_copyts",
            "1",
            "-f",
            "mpegts",
        ])
        // libsrt's live mode drops unsent data at close unless told to linger.
        .args(["-linger", "2", "-srt_streamid", stream_id])
        .arg(format!("srt://{addr}"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Per codec type, the (dts, pts) of every packet in ms, sorted.
fn times_ms(file: &Path) -> std::collections::BTreeMap<String, Vec<(i64, i64)>> {
    let text = ffprobe(
        &[
            "-show_entries",
            "packet=codec_type,pts_time,dts_time",
            "-of",
            "csv=p=0",
        ],
        file,
    );
    let mut by_type = std::collections::BTreeMap::<String, Vec<(i64, i64)>>::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        let ms = |i: usize| {
            let s: f64 = f.get(i).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN);
            (s * 1000.0).round() as i64
        };
        if let Some(kind) = f.first().filter(|k| !k.is_empty()) {
            by_type
                .entry((*kind).to_owned())
                .or_default()
                .push((ms(2), ms(1)));
        }
    }
    for list in by_type.values_mut() {
        list.sort();
    }
    by_type
}

#[tokio::test(flavor = "multi_thread")]
async fn srt_push_is_recorded_in_every_format_with_its_timestamps() {
    let (server, dir, srt) = start_srt("in-srt").await;
    configure(&server, all_formats(), 0, None).await;
    let copy = dir.join("sent.ts");
    make_ts(&copy, 5.0);
    assert!(
        push_ts(&srt, "#!::r=live/field,m=publish", &copy),
        "ffmpeg's SRT push failed"
    );
    // H.265 over SRT too (MediaMTX's stream id form).
    let hevc = dir.join("hevc.ts");
    let x265 = [
        "-c:v",
        "libx265",
        "-preset",
        "ultrafast",
        "-x265-params",
        "log-level=error",
    ];
    make_ts_with(&hevc, 3.0, &x265);
    assert!(
        push_ts(&srt, "publish:live/hevc", &hevc),
        "ffmpeg's HEVC SRT push failed"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = stream_dir(&server, "field");
    for ext in ["flv", "mp4", "aac", "m3u8"] {
        let list = files(&stream, ext);
        assert!(!list.is_empty(), "no {ext} recorded from SRT");
        for f in &list {
            decodes(f);
        }
    }
    // (FLV holds it as Enhanced RTMP `hvc1`, which Debian's FFmpeg 5.1 cannot read.)
    let ffmpeg = ffmpeg9();
    for ext in ["flv", "mp4", "m3u8"] {
        let list = files(&stream_dir(&server, "hevc"), ext);
        assert!(!list.is_empty(), "no {ext} recorded from the HEVC SRT push");
        for f in &list {
            decodes_with(&ffmpeg, f);
            if ext == "mp4" {
                assert_eq!(codecs(f), ["hevc", "aac"], "{}", f.display());
            }
        }
    }
    // Every MP4 holds both tracks (audio arrives behind video in TS: interleaved).
    for f in files(&stream, "mp4") {
        let kinds = ffprobe(
            &["-show_entries", "stream=codec_type", "-of", "csv=p=0"],
            &f,
        );
        assert_eq!(kinds.lines().count(), 2, "{}: {kinds}", f.display());
    }
    // Timestamps unchanged: the FLV files hold every frame sent, at its time (± 1 ms:
    // TS ticks are 1/90 ms).
    let sent = times_ms(&copy);
    let mut recorded = std::collections::BTreeMap::<String, Vec<(i64, i64)>>::new();
    for f in files(&stream, "flv") {
        for (kind, list) in times_ms(&f) {
            recorded.entry(kind).or_default().extend(list);
        }
    }
    assert_eq!(
        recorded.keys().collect::<Vec<_>>(),
        sent.keys().collect::<Vec<_>>()
    );
    for (kind, list) in &sent {
        let got = &recorded[kind];
        let missing: Vec<_> = list
            .iter()
            .filter(|t| !got.iter().any(|g| g.0.abs_diff(t.0) <= 1))
            .collect();
        assert_eq!(
            got.len(),
            list.len(),
            "{kind}: frames recorded of sent; missing {missing:?}"
        );
        for (a, b) in got.iter().zip(list) {
            assert!(
                (a.0 - b.0).abs() <= 1 && (a.1 - b.1).abs() <= 1,
                "{kind}: {a:?} vs {b:?}"
            );
        }
    }
    let metrics = server.metrics().await;
    assert!(
        metrics.contains("liverec_protocol_pushes_total{protocol=\"srt\"} 2"),
        "{metrics}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn srt_publish_checks_are_rtmps_and_garbage_is_dropped_alone() {
    let (server, dir, srt) = start_srt("in-srt-checks").await;
    configure(
        &server,
        serde_json::json!({"FlvParam": {"Enable": 1}}),
        0,
        None,
    )
    .await;
    let copy = dir.join("sent.ts");
    make_ts(&copy, 4.0);
    // Garbage datagrams on the SRT port, and a caller that never completes a handshake.
    let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for size in [1, 16, 64, 1316, 1500] {
        udp.send_to(&vec![0xA5; size], &srt).unwrap();
    }
    // Not a publish; no stream; a bad name: refused.
    for id in [
        "#!::r=live/x,m=request",
        "#!::m=publish",
        "#!::r=live/a%b,m=publish",
    ] {
        assert!(!push_ts(&srt, id, &copy), "{id} accepted");
    }
    // Push auth with the key in the stream id's query.
    let key = "0123456789abcdef";
    let auth = serde_json::json!({"DomainName": "localhost", "Enable": 1,
        "MasterAuthKey": key, "AuthDelta": 60});
    assert_eq!(server.code("ModifyLivePushAuthKey", auth).await, "ok");
    let unsigned = "#!::r=live/locked,m=publish";
    assert!(
        !push_ts(&srt, unsigned, &copy),
        "unsigned SRT push accepted"
    );
    let tx_time = format!(
        "{:X}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 60
    );
    let secret = liverec::config::push_auth::push_secret(key, "locked", &tx_time);
    let id = format!("#!::r=live/locked?txSecret={secret}&txTime={tx_time},m=publish");
    // One publisher per stream, across protocols.
    let first = {
        let (srt, id, copy) = (srt.clone(), id.clone(), copy.clone());
        std::thread::spawn(move || push_ts(&srt, &id, &copy))
    };
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!push_ts(&srt, &id, &copy), "second SRT publisher accepted");
    let rtmp = server.rtmp(
        "live",
        &format!("locked?txSecret={secret}&txTime={tx_time}"),
    );
    assert!(
        !push(&rtmp, 1.0, None, false),
        "RTMP publisher of a live SRT stream accepted"
    );
    assert!(first.join().unwrap(), "first publisher disturbed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let recorded = files(&stream_dir(&server, "locked"), "flv");
    assert!(!recorded.is_empty());
    decodes(&recorded[0]);
    // A caller that falls silent mid-push (stopped) is dropped after SRT's peer idle
    // timeout (5 s) and its recording finalised.
    let secret = liverec::config::push_auth::push_secret(key, "silent", &tx_time);
    let silent_id = format!("#!::r=live/silent?txSecret={secret}&txTime={tx_time},m=publish");
    let mut silent = Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-i"])
        .arg(&copy)
        .args(["-c", "copy", "-f", "mpegts", "-srt_streamid", &silent_id])
        .arg(format!("srt://{srt}"))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let pid = silent.id().to_string();
    assert!(Command::new("kill")
        .args(["-STOP", &pid])
        .status()
        .unwrap()
        .success());
    let deadline = Instant::now() + Duration::from_secs(12);
    while files(&stream_dir(&server, "silent"), "flv").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let _ = silent.kill();
    let _ = silent.wait();
    let silent = files(&stream_dir(&server, "silent"), "flv");
    assert_eq!(silent.len(), 1, "silent caller's push not ended");
    decodes(&silent[0]);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}
