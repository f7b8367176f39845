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

/// The static FFmpeg 9.0.2 that `scripts/test-all.sh` installs (PyPI imageio-ffmpeg
/// 0.8.1 in `target/ffmpeg9-venv`).
fn ffmpeg9() -> PathBuf {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/ffmpeg9-venv/bin/python");
    let out = Command::new(&python)
        .args([
            "-c",
            "import imageio_ffmpeg; print(imageio_ffmpeg.get_ffmpeg_exe())",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{}: {e} (run scripts/test-all.sh)", python.display()));
    assert!(
        out.status.success(),
        "imageio-ffmpeg missing: run scripts/test-all.sh"
    );
    PathBuf::from(String::from_utf8(out.stdout).unwrap().trim())
}

/// Asserts that FFmpeg 9 decodes `file` without a message.
fn decodes_with(ffmpeg: &Path, file: &Path) {
    let decoded = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&decoded.stderr);
    let clean = decoded.status.success() && errors.is_empty();
    assert!(clean, "{}: {errors}", file.display());
}

/// Encodes 3 s of `video` (an FFmpeg encoder with its options) + Opus into an
/// Enhanced RTMP FLV with FFmpeg 9.
fn enhanced_flv(ffmpeg: &Path, video: &[&str], path: &Path) {
    let made = Command::new(ffmpeg)
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:sample_rate=48000",
            "-t",
            "3",
        ])
        .args(["-map", "0:v", "-map", "1:a", "-g", "25"])
        .args(video)
        .args(["-c:a", "libopus", "-b:a", "64k", "-f", "flv", "-y"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
}

/// Per stream index, the (dts, payload CRC) of every packet, as FFmpeg 9 reads them.
fn crcs(ffmpeg: &Path, file: &Path) -> Vec<Vec<(i64, String)>> {
    let out = Command::new(ffmpeg)
        .args(["-v", "error", "-i"])
        .arg(file)
        .args(["-map", "0", "-c", "copy", "-copyts", "-f", "framecrc", "-"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut streams: Vec<Vec<(i64, String)>> = Vec::new();
    for line in String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with('#'))
    {
        let f: Vec<&str> = line.split(',').map(str::trim).collect();
        let (Some(index), Some(dts), Some(crc)) = (f.first(), f.get(1), f.get(5)) else {
            continue;
        };
        let index: usize = index.parse().unwrap();
        streams.resize(streams.len().max(index + 1), Vec::new());
        streams[index].push((dts.parse().unwrap(), (*crc).to_owned()));
    }
    streams
}

/// The codecs of `file`'s streams (an HLS playlist's program repeats them after an empty
/// line: left out).
fn codecs(file: &Path) -> Vec<String> {
    let text = ffprobe(
        &["-show_entries", "stream=codec_name", "-of", "csv=p=0"],
        file,
    );
    text.lines()
        .take_while(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks that the MP4 files hold the source's packets from its first keyframe on, byte
/// for byte, at the source's times (each file rebased to its own start).
fn check_mp4s(ffmpeg: &Path, source: &[Vec<(i64, String)>], mp4s: &[PathBuf]) {
    let start = source[0][0].0;
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(), Vec::new()];
    for f in mp4s {
        let streams = crcs(ffmpeg, f);
        // The file's first video packet is the source packet with its CRC.
        let first = &streams[0][0];
        let origin = source[0]
            .iter()
            .find(|p| p.1 == first.1)
            .expect("video packet")
            .0;
        for (i, packets) in streams.iter().enumerate() {
            recorded[i].extend(
                packets
                    .iter()
                    .map(|(dts, crc)| (dts - first.0 + origin, crc.clone())),
            );
        }
    }
    for (i, packets) in source.iter().enumerate() {
        let expected: Vec<_> = packets.iter().filter(|p| p.0 >= start).cloned().collect();
        assert_eq!(
            recorded[i], expected,
            "stream {i}: MP4 packets differ from the source"
        );
    }
}

/// Checks that the streams of the MP4 files hold the source's streams, every one, packet
/// for packet from where each starts in the first file, at the source's times (one
/// offset per file).
fn check_every_track(ffmpeg: &Path, source: &[Vec<(i64, String)>], mp4s: &[PathBuf]) {
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(); source.len()];
    for f in mp4s {
        let streams = crcs(ffmpeg, f);
        let first = &streams[0][0];
        let origin = source[0]
            .iter()
            .find(|p| p.1 == first.1)
            .expect("video packet")
            .0;
        for (i, packets) in streams.iter().enumerate() {
            let head = &packets[0].1;
            let k = source
                .iter()
                .position(|s| s.iter().any(|p| &p.1 == head))
                .unwrap_or_else(|| panic!("{}: stream {i} is no source stream", f.display()));
            recorded[k].extend(
                packets
                    .iter()
                    .map(|(dts, crc)| (dts - first.0 + origin, crc.clone())),
            );
        }
    }
    for (k, packets) in recorded.iter().enumerate() {
        let head = &packets
            .first()
            .unwrap_or_else(|| panic!("source {k}: not recorded"))
            .1;
        let start = source[k].iter().position(|p| &p.1 == head).unwrap();
        assert_eq!(packets[..], source[k][start..], "source stream {k}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn enhanced_rtmp_av1_vp9_hevc_with_opus_are_recorded() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-ertmp");
    let cfg = config(&dir, "");
    let server = Server::start_with(
        &dir.join("data"),
        None,
        &["--config", cfg.to_str().unwrap()],
    )
    .await;
    let cb = common::receiver(0).await;
    configure(&server, all_formats(), 0, None).await;
    callbacks(
        &server,
        &cb,
        &["RecordNotifyUrl", "RecordExceptionNotifyUrl"],
    )
    .await;
    let cases: [(&str, &[&str], &str); 3] = [
        ("av1", &["-c:v", "libsvtav1", "-preset", "12"], "av1"),
        (
            "vp9",
            &[
                "-c:v",
                "libvpx-vp9",
                "-deadline",
                "realtime",
                "-cpu-used",
                "8",
            ],
            "vp9",
        ),
        (
            "hevc",
            &[
                "-c:v",
                "libx265",
                "-preset",
                "ultrafast",
                "-x265-params",
                "log-level=error",
            ],
            "hevc",
        ),
    ];
    for (name, video, codec) in cases {
        let source = dir.join(format!("{name}.flv"));
        enhanced_flv(&ffmpeg, video, &source);
        let pushed = Command::new(&ffmpeg)
            .args(["-v", "error", "-re", "-i"])
            .arg(&source)
            .args(["-c", "copy", "-f", "flv"])
            .arg(server.rtmp("live", name))
            .status()
            .unwrap();
        assert!(pushed.success(), "{name}: FFmpeg 9's push failed");
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stream = stream_dir(&server, name);
        let sent = crcs(&ffmpeg, &source);
        // FLV: the tags as received (enhanced FLV), every packet at its time.
        let mut flv: Vec<Vec<(i64, String)>> = vec![Vec::new(), Vec::new()];
        for f in files(&stream, "flv") {
            for (i, packets) in crcs(&ffmpeg, &f).into_iter().enumerate() {
                flv[i].extend(packets);
            }
        }
        assert_eq!(flv, sent, "{name}: FLV packets differ from what was sent");
        // MP4: both tracks, playable, the packets unchanged.
        let mp4s = files(&stream, "mp4");
        assert!(!mp4s.is_empty(), "{name}: no MP4");
        for f in &mp4s {
            assert_eq!(codecs(f), [codec, "opus"], "{}", f.display());
            decodes_with(&ffmpeg, f);
        }
        check_mp4s(&ffmpeg, &sent, &mp4s);
        // HLS: fMP4 segments (MPEG-TS cannot carry them), playable, packets unchanged.
        let playlists = files(&stream, "m3u8");
        assert_eq!(playlists.len(), 1, "{name}: {playlists:?}");
        let text = std::fs::read_to_string(&playlists[0]).unwrap();
        assert!(
            text.contains("#EXT-X-MAP:URI=") && text.contains(".m4s\n"),
            "{name}: {text}"
        );
        assert_eq!(codecs(&playlists[0]), [codec, "opus"], "{name}: HLS");
        decodes_with(&ffmpeg, &playlists[0]);
        check_mp4s(&ffmpeg, &sent, &playlists);
        // No .aac from Opus (no re-encoding).
        assert!(
            files(&stream, "aac").is_empty(),
            "{name}: Opus written as AAC"
        );
    }
    // One "no audio" exception per push from the AAC output, none stopping anything.
    let exceptions = cb.wait_for(341, 3, Duration::from_secs(10)).await;
    let aac: Vec<_> = exceptions
        .iter()
        .filter(|e| e["file_format"] == "aac")
        .collect();
    assert_eq!(aac.len(), 3, "{exceptions:?}");
    for e in aac {
        assert_eq!(e["exception"]["type"], -17);
        assert_eq!(e["exception_level"], "warning");
    }
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_during_an_av1_opus_recording_recovers_a_playable_mp4_and_fmp4_hls() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-ertmp-crash");
    let data = dir.join("data");
    let cfg = config(&dir, "");
    let args = ["--config", cfg.to_str().unwrap()];
    let server = Server::start_with(&data, None, &args).await;
    let formats = serde_json::json!({"Mp4Param": {"Enable": 1, "RecordInterval": 60},
        "HlsParam": {"Enable": 1}});
    configure(&server, formats, 0, None).await;
    // 60 s of AV1 + Opus, pushed in real time; the server dies 3.5 s in.
    let source = dir.join("av1.flv");
    let made = Command::new(&ffmpeg)
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=sample_rate=48000",
            "-t",
            "60",
            "-g",
            "25",
        ])
        .args([
            "-c:v",
            "libsvtav1",
            "-preset",
            "12",
            "-c:a",
            "libopus",
            "-f",
            "flv",
            "-y",
        ])
        .arg(&source)
        .output()
        .unwrap();
    assert!(made.status.success());
    let mut pusher = Command::new(&ffmpeg)
        .args(["-v", "quiet", "-re", "-i"])
        .arg(&source)
        .args(["-c", "copy", "-f", "flv"])
        .arg(server.rtmp("live", "crash"))
        .spawn()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    server.kill9();
    let _ = pusher.kill();
    let _ = pusher.wait();
    let restarted = Server::start_with(&data, None, &args).await;
    let stream = stream_dir(&restarted, "crash");
    let deadline = Instant::now() + Duration::from_secs(20);
    while files(&stream, "mp4").is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Wait for the recovered one (the files cut every 2 s before the crash come first).
    let mut recovered = files(&stream, "mp4");
    while recovered.len() < 2 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        recovered = files(&stream, "mp4");
    }
    assert!(recovered.len() >= 2, "{recovered:?}");
    let mut seconds = 0.0;
    for f in &recovered {
        assert_eq!(codecs(f), ["av1", "opus"], "{}", f.display());
        decodes_with(&ffmpeg, f);
        seconds += duration(f);
    }
    assert!(
        (2.0..=4.0).contains(&seconds),
        "{seconds} s recorded of ~3.5 s"
    );
    // The HLS recording: its open fMP4 segment cut after its last complete fragment and
    // listed after its initialization section, the playlist finalised.
    let mut playlists = files(&stream, "m3u8");
    while playlists.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        playlists = files(&stream, "m3u8");
    }
    assert_eq!(playlists.len(), 1, "{playlists:?}");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert!(
        text.contains("#EXT-X-MAP:URI=") && text.contains("#EXT-X-ENDLIST"),
        "{text}"
    );
    assert_eq!(codecs(&playlists[0]), ["av1", "opus"]);
    decodes_with(&ffmpeg, &playlists[0]);
    let hls_seconds = duration(&playlists[0]);
    assert!(
        (2.0..=4.0).contains(&hls_seconds),
        "{hls_seconds} s of HLS recovered of ~3.5 s\n{text}"
    );
    restarted.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_multitrack_push_records_every_track_in_mp4_and_the_default_ones_elsewhere() {
    let ffmpeg = ffmpeg9();
    let dir = temp_dir("in-multitrack");
    let cfg = config(&dir, "");
    let args = ["--config", cfg.to_str().unwrap()];
    let server = Server::start_with(&dir.join("data"), None, &args).await;
    configure(&server, all_formats(), 0, None).await;
    // Two video renditions and two audio languages: FFmpeg 9 sends the first of each as
    // plain tags and the others in Enhanced RTMP v2 multitrack packets (track 1).
    let source = dir.join("multi.flv");
    let made = Command::new(&ffmpeg)
        .args([
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            "testsrc=size=320x240:rate=25",
        ])
        .args(["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25"])
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000"])
        .args([
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=880:sample_rate=48000",
            "-t",
            "3",
        ])
        .args(["-map", "0:v", "-map", "1:v", "-map", "2:a", "-map", "3:a"])
        .args([
            "-c:v",
            "libx264",
            "-preset",
            "ultrafast",
            "-g",
            "25",
            "-pix_fmt",
            "yuv420p",
        ])
        .args([
            "-c:a",
            "aac",
            "-metadata:s:a:0",
            "language=eng",
            "-metadata:s:a:1",
            "language=fra",
        ])
        .args(["-f", "flv", "-y"])
        .arg(&source)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let pushed = Command::new(&ffmpeg)
        .args(["-v", "error", "-re", "-i"])
        .arg(&source)
        .args(["-map", "0", "-c", "copy", "-f", "flv"])
        .arg(server.rtmp("live", "multi"))
        .status()
        .unwrap();
    assert!(pushed.success());
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = stream_dir(&server, "multi");
    let sent = crcs(&ffmpeg, &source);
    for ext in ["flv", "mp4", "aac", "m3u8"] {
        let list = files(&stream, ext);
        assert!(!list.is_empty(), "no {ext}");
        for f in &list {
            decodes(f);
        }
    }
    // The default video and audio tracks (the first of each), every packet of them.
    let mut recorded: Vec<Vec<(i64, String)>> = vec![Vec::new(), Vec::new()];
    for f in files(&stream, "flv") {
        for (i, packets) in crcs(&ffmpeg, &f).into_iter().enumerate() {
            recorded[i].extend(packets);
        }
    }
    assert_eq!(recorded[0], sent[0], "default video track");
    assert_eq!(recorded[1], sent[2], "default audio track");
    // MP4: every track — the default ones first, then the other rendition and language —
    // each with the source's packets, at the source's times.
    let mp4s = files(&stream, "mp4");
    for f in &mp4s {
        let size = ffprobe(
            &["-show_entries", "stream=width,height", "-of", "csv=p=0"],
            f,
        );
        assert_eq!(size.lines().next(), Some("320,240"), "default video first");
        // The default tracks, then the others in the order they first sent a frame.
        let mut found = codecs(f);
        found[2..].sort();
        assert_eq!(found, ["h264", "aac", "aac", "h264"], "{}", f.display());
        decodes_with(&ffmpeg, f);
    }
    check_every_track(&ffmpeg, &sent, &mp4s);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}
