//! Playback of time ranges (`/playback/…`) end to end: real ffmpeg pushes with a break
//! and a picture-size change between them, one stream recorded as MP4 and FLV only, the
//! spans listed, the range playlist checked line by line and read by ffprobe, and signed
//! URLs refused when expired, altered or missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::recording::*;
use common::{receiver, temp_dir, Server};
use serde_json::{json, Value};

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Pushes `seconds` of H.264 at `size` + AAC in real time.
fn push_sized(url: &str, seconds: u32, size: &str) {
    let status = Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-f", "lavfi", "-i"])
        .arg(format!("testsrc=size={size}:rate=25"))
        .args(["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"])
        .args(["-t", &seconds.to_string(), "-map", "0:v", "-map", "1:a"])
        .args([
            "-c:v", "libx264", "-preset", "veryfast", "-g", "25", "-pix_fmt", "yuv420p",
        ])
        .args(["-c:a", "aac", "-b:a", "64k", "-f", "flv", url])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
}

async fn get(server: &Server, path: &str) -> (u16, String) {
    let r = server
        .client
        .get(format!("http://127.0.0.1:{}{path}", server.port))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

/// Waits until `/playback/list` shows `want` spans for `stream`, each with HLS and at
/// least `seconds` long (every file of the push indexed).
async fn spans(server: &Server, stream: &str, want: usize, seconds: f64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        // Signed with the key of the signed-URL test (ignored by a server without one).
        let path = format!("/playback/list/localhost/live/{stream}");
        let expires = now_ms() as u64 / 1000 + 60;
        let q = liverec::playback::sign::signed_query("play-key", &path, expires);
        let (status, body) = get(server, &format!("{path}?{q}")).await;
        if status == 200 {
            let list: Value = serde_json::from_str(&body).unwrap();
            let spans = list["spans"].as_array().unwrap();
            let hls = |s: &Value| s["formats"].as_array().unwrap().contains(&json!("hls"));
            let long = |s: &Value| s["durationSeconds"].as_f64().unwrap_or(0.0) >= seconds;
            if spans.len() == want && spans.iter().all(hls) && spans.iter().all(long) {
                return list;
            }
        }
        assert!(Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

fn ffprobe_duration(url: &str) -> f64 {
    let out = Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
            url,
        ])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn ranges_are_listed_and_played_across_breaks() {
    let (server, _dir) = start("pb-hls").await;
    let both = json!({"FlvParam": {"Enable": 1, "RecordInterval": 60}, "HlsParam": {"Enable": 1}});
    configure(&server, both, 0, None).await;
    let t0 = now_ms();
    push_sized(&server.rtmp("live", "cam"), 5, "320x240");
    let t1 = now_ms();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let t2 = now_ms();
    push_sized(&server.rtmp("live", "cam"), 5, "640x360");
    let t3 = now_ms();

    // Two spans, matching the pushes; a gap between them.
    let list = spans(&server, "cam", 2, 4.5).await;
    let s = list["spans"].as_array().unwrap();
    let (a0, a1) = (
        s[0]["startUnixMs"].as_i64().unwrap(),
        s[0]["endUnixMs"].as_i64().unwrap(),
    );
    let (b0, b1) = (
        s[1]["startUnixMs"].as_i64().unwrap(),
        s[1]["endUnixMs"].as_i64().unwrap(),
    );
    // (ffmpeg takes a second or two to start sending)
    assert!(
        a0 > t0 && a0 < t0 + 3000 && (a1 - t1).abs() < 1500,
        "{list} {t0} {t1}"
    );
    assert!(
        b0 > t2 && b0 < t2 + 3000 && (b1 - t3).abs() < 1500,
        "{list} {t2} {t3}"
    );
    assert_eq!(s[0]["formats"], json!(["flv", "hls"]));
    assert_eq!(list["gaps"].as_array().unwrap().len(), 1);

    // The whole range: one playlist, a discontinuity and a date at the break.
    let (start, end) = (a0 / 1000, b1 / 1000 + 1);
    let path = format!("/playback/localhost/live/cam.m3u8?start={start}&end={end}");
    let (status, text) = get(&server, &path).await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.ends_with("#EXT-X-ENDLIST\n"));
    assert!(
        text.matches("#EXT-X-DISCONTINUITY\n").count() >= 1,
        "{text}"
    );
    let dates = text.matches("#EXT-X-PROGRAM-DATE-TIME").count();
    assert_eq!(
        dates,
        text.matches("#EXT-X-DISCONTINUITY\n").count() + 1,
        "{text}"
    );
    let url = format!("http://127.0.0.1:{}{path}", server.port);
    let played = ffprobe_duration(&url);
    let recorded = (a1 - a0 + b1 - b0) as f64 / 1000.0;
    assert!(
        (played - recorded).abs() < 1.5,
        "{played} vs {recorded}\n{text}"
    );

    // A range starting inside the first push: exact start offset, in ISO 8601 with a zone.
    let from = iso(a0 + 2500);
    let to = iso(b0 + 1000);
    let (status, clip) = get(
        &server,
        &format!("/playback/localhost/live/cam.m3u8?start={from}&end={to}"),
    )
    .await;
    assert_eq!(status, 200, "{clip}");
    assert!(clip.contains("#EXT-X-START:TIME-OFFSET="), "{clip}");
    assert!(clip.contains("#EXT-X-DISCONTINUITY"), "{clip}");

    // Nothing there: 404 naming the nearest spans; too long: 400.
    let (status, body) = get(
        &server,
        &format!(
            "/playback/localhost/live/cam.m3u8?start={}&end={}",
            b1 / 1000 + 60,
            b1 / 1000 + 120
        ),
    )
    .await;
    assert_eq!(status, 404, "{body}");
    let nothing: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(nothing["code"], "ResourceNotFound.NoRecording");
    assert_eq!(nothing["nearest"].as_array().unwrap().len(), 1, "{body}");
    let (status, body) = get(
        &server,
        "/playback/localhost/live/cam.m3u8?start=0&end=90000",
    )
    .await;
    assert_eq!(status, 400);
    assert!(body.contains("InvalidParameter.RangeTooLong"), "{body}");
    let (status, _) = get(
        &server,
        "/playback/localhost/live/cam.m3u8?start=soon&end=1",
    )
    .await;
    assert_eq!(status, 400);
    // The MP4 of the whole range, from the FLV recordings: the picture size changes at
    // the second push, so the file is cut there and says where the rest is.
    let dir = _dir.clone();
    let mp4 = format!("/playback/localhost/live/cam.mp4?start={start}&end={end}");
    let r = server
        .client
        .get(format!("http://127.0.0.1:{}{mp4}", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let cut = r.headers()["liverec-cut-at"].to_str().unwrap().to_owned();
    let next = r.headers()["liverec-next"].to_str().unwrap().to_owned();
    let first = dir.join("first.mp4");
    std::fs::write(&first, r.bytes().await.unwrap()).unwrap();
    let want = (a1 - a0.max(start * 1000)) as f64 / 1000.0;
    assert!(
        (duration(&first) - want).abs() < 0.15,
        "{} vs {want} (cut at {cut})",
        duration(&first)
    );
    monotonic(&first);
    let second = dir.join("second.mp4");
    let r = server
        .client
        .get(format!("http://127.0.0.1:{}{next}", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{next}");
    std::fs::write(&second, r.bytes().await.unwrap()).unwrap();
    assert!(
        (duration(&second) - (b1 - b0) as f64 / 1000.0).abs() < 0.15,
        "{}",
        duration(&second)
    );
    let size = ffprobe(
        &[
            "-show_entries",
            "stream=width,height",
            "-of",
            "csv=p=0",
            "-select_streams",
            "v",
        ],
        &second,
    );
    assert_eq!(size.trim(), "640,360");
}

/// Packet decode times of every track never go back, and the file decodes.
fn monotonic(file: &std::path::Path) {
    let mut last: std::collections::HashMap<String, f64> = Default::default();
    for (kind, _pts, dts) in packets(file) {
        let dts: f64 = dts.parse().unwrap();
        let previous = last.insert(kind.clone(), dts);
        assert!(
            previous.is_none_or(|p| dts > p),
            "{kind}: {previous:?} then {dts}"
        );
    }
    decodes(file);
}

/// Unix ms as ISO 8601 with a +08:00 offset, escaped for a query.
fn iso(ms: i64) -> String {
    let local = liverec::formats::hls::datetime::encode_date_time(ms + 8 * 3600 * 1000);
    format!("{}%2B08:00", local.trim_end_matches('Z'))
}

/// `http://…/playback/localhost/live/STREAM.mp4` of `[from_ms, to_ms)`.
fn mp4_url(server: &Server, stream: &str, from_ms: i64, to_ms: i64) -> String {
    format!(
        "http://127.0.0.1:{}/playback/localhost/live/{stream}.mp4?start={}.{:03}&end={}.{:03}",
        server.port,
        from_ms / 1000,
        from_ms % 1000,
        to_ms / 1000,
        to_ms % 1000
    )
}

/// GETs the MP4 at `url` (200, not cut), keeps it in `file`, checks its duration is
/// `want` ± `tolerance` s, its timestamps monotonic and that it decodes, then that a
/// range request from byte `from` gets exactly those bytes (206).
async fn checked_mp4(
    server: &Server,
    url: &str,
    file: &std::path::Path,
    want: f64,
    tolerance: f64,
    from: usize,
) {
    let whole = server.client.get(url).send().await.unwrap();
    assert_eq!(whole.status(), 200);
    assert!(whole.headers().get("liverec-cut-at").is_none());
    let whole = whole.bytes().await.unwrap();
    std::fs::write(file, &whole).unwrap();
    assert!(
        (duration(file) - want).abs() <= tolerance,
        "{} vs {want}",
        duration(file)
    );
    monotonic(file);
    let part = server
        .client
        .get(url)
        .header("Range", format!("bytes={from}-"))
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.bytes().await.unwrap(), whole.slice(from..));
}

#[tokio::test(flavor = "multi_thread")]
async fn signed_urls_are_required_with_a_playback_key() {
    let dir = temp_dir("pb-signed");
    let cfg = config(&dir, "[playback]\nkey = \"play-key\"\nurl_seconds = 600\n");
    let server = Server::start_with(
        &dir.join("data"),
        None,
        &["--config", cfg.to_str().unwrap()],
    )
    .await;
    let mp4_flv = json!({"FlvParam": {"Enable": 1, "RecordInterval": 60},
        "Mp4Param": {"Enable": 1, "RecordInterval": 60}, "HlsParam": {"Enable": 1}});
    configure(&server, mp4_flv, 0, None).await;
    push_sized(&server.rtmp("live", "cam"), 3, "320x240");
    spans(&server, "cam", 1, 2.5).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let media = loop {
        let r = server
            .call(
                "SearchMedia",
                json!({"StreamIds": ["cam"], "FileFormat": "mp4"}),
            )
            .await;
        if r["TotalCount"].as_i64().unwrap_or(0) > 0 {
            break r["MediaInfoSet"][0]["BasicInfo"]["MediaUrl"]
                .as_str()
                .unwrap()
                .to_owned();
        }
        assert!(Instant::now() < deadline, "no MP4 indexed");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let (path, query) = media
        .split_once("/vod/")
        .map(|(_, p)| p)
        .unwrap()
        .split_once('?')
        .unwrap();
    let path = format!("/vod/{path}");
    let status = |p: String| {
        let server = &server;
        async move { get(server, &p).await }
    };
    // Signed as handed out: plays; unsigned, altered or expired: 403 with no body.
    let (ok, body) = status(format!("{path}?{query}")).await;
    assert_eq!(ok, 200);
    assert!(body.len() > 1000);
    let (code, body) = status(path.clone()).await;
    assert_eq!((code, body.as_str()), (403, ""));
    let altered = query.replacen("sign=", "sign=0", 1);
    assert_eq!(status(format!("{path}?{altered}")).await.0, 403);
    let t = query.split('&').next().unwrap().trim_start_matches("t=");
    let other = format!("{}?{query}", path.replace(".mp4", "_x.mp4"));
    assert_eq!(status(other).await.0, 403);
    let past = format!("{:x}", u64::from_str_radix(t, 16).unwrap() - 3600);
    let sign = liverec::playback::sign::url_signature("play-key", &path, &past);
    assert_eq!(status(format!("{path}?t={past}&sign={sign}")).await.0, 403);
    let list = "/playback/list/localhost/live/cam";
    assert_eq!(status(list.to_owned()).await.0, 403);
    let q = liverec::playback::sign::signed_query("play-key", list, now_ms() as u64 / 1000 + 60);
    assert_eq!(status(format!("{list}?{q}")).await.0, 200);

    // A range playlist: its segment URIs carry signatures, and ffprobe plays it.
    let pl = "/playback/localhost/live/cam.m3u8";
    let q = liverec::playback::sign::signed_query("play-key", pl, now_ms() as u64 / 1000 + 60);
    let range = format!(
        "start={}&end={}",
        now_ms() / 1000 - 120,
        now_ms() / 1000 + 1
    );
    let (code, text) = status(format!("{pl}?{range}&{q}")).await;
    assert_eq!(code, 200, "{text}");
    assert!(
        text.lines()
            .filter(|l| l.ends_with(".ts") || l.contains(".ts?"))
            .all(|l| l.contains("&sign=") || l.contains("?t=")),
        "{text}"
    );
    let url = format!("http://127.0.0.1:{}{pl}?{range}&{q}", server.port);
    assert!(ffprobe_duration(&url) > 2.0, "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stream_without_hls_lists_its_spans_but_has_no_playlist() {
    let (server, _dir) = start("pb-nohls").await;
    let _dir = _dir.clone();
    let mp4_flv = json!({"FlvParam": {"Enable": 1, "RecordInterval": 60},
        "Mp4Param": {"Enable": 1, "RecordInterval": 60}});
    let cb = receiver(0).await;
    configure(&server, mp4_flv, 0, Some(&cb)).await;
    push_sized(&server.rtmp("live", "side"), 6, "320x240");
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let (status, body) = get(&server, "/playback/list/localhost/live/side").await;
        let list: Value = serde_json::from_str(&body).unwrap_or_default();
        let long = list["spans"][0]["durationSeconds"].as_f64().unwrap_or(0.0) >= 5.5;
        if status == 200 && long && list["spans"][0]["formats"] == json!(["flv", "mp4"]) {
            break list;
        }
        assert!(Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let (s0, s1) = (
        list["spans"][0]["startUnixMs"].as_i64().unwrap(),
        list["spans"][0]["endUnixMs"].as_i64().unwrap(),
    );
    let start = s0 / 1000;

    // The MP4 of a range over three MP4 files (cut every 2 s): its length is the range's,
    // to a frame; timestamps never go back; a range request gets its bytes.
    let (from, to) = (s0 + 500, s1 - 300);
    let url = mp4_url(&server, "side", from, to);
    let want = (to - from) as f64 / 1000.0;
    checked_mp4(&server, &url, &_dir.join("side.mp4"), want, 0.041, 1000).await;

    // A clip of the range becomes a recording of its own: indexed, announced, playable.
    let (from_s, to_s) = (s0 / 1000 + 1, s0 / 1000 + 3);
    let clip = server
        .call(
            "CreateRecordClip",
            json!({"DomainName": "localhost", "AppName": "live",
            "StreamName": "side", "StartTime": from_s, "EndTime": to_s}),
        )
        .await;
    let file_id = clip["FileId"].as_str().expect("FileId").to_owned();
    let task_id = clip["TaskId"].as_str().expect("TaskId").to_owned();
    let deadline = Instant::now() + Duration::from_secs(20);
    let event = loop {
        let found = cb
            .of_type(100)
            .into_iter()
            .find(|e| e["file_id"] == json!(file_id));
        if let Some(event) = found {
            break event;
        }
        assert!(
            Instant::now() < deadline,
            "no callback for the clip {file_id}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(event["task_id"], json!(task_id));
    assert_eq!(event["file_format"], json!("mp4"), "{event}");
    let found = server
        .call("SearchMedia", json!({"FileIds": [file_id]}))
        .await;
    assert_eq!(found["TotalCount"], 1, "{found}");
    assert_eq!(
        found["MediaInfoSet"][0]["LiveRecordInfo"]["TaskId"],
        json!(task_id)
    );
    let clip_file = _dir.join("clip.mp4");
    let url = event["video_url"].as_str().unwrap();
    std::fs::write(
        &clip_file,
        server
            .client
            .get(url)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap(),
    )
    .unwrap();
    let want = ((to_s * 1000).min(s1) - from_s * 1000) as f64 / 1000.0;
    assert!(
        (duration(&clip_file) - want).abs() <= 0.041,
        "{} vs {want}",
        duration(&clip_file)
    );
    monotonic(&clip_file);
    let bad = server
        .call(
            "CreateRecordClip",
            json!({"StreamName": "side", "StartTime": to_s, "EndTime": from_s}),
        )
        .await;
    assert_eq!(bad["Error"]["Code"], "InvalidParameter.InvalidTaskTime");
    let none = server
        .call(
            "CreateRecordClip",
            json!({"StreamName": "side", "StartTime": 1000, "EndTime": 1060}),
        )
        .await;
    assert_eq!(none["Error"]["Code"], "FailedOperation.NotFound");

    let path = format!(
        "/playback/localhost/live/side.m3u8?start={start}&end={}",
        start + 10
    );
    let (status, body) = get(&server, &path).await;
    assert_eq!(status, 404);
    assert!(
        body.contains("ResourceNotFound.NoHlsRecording") && body.contains("flv, mp4"),
        "{body}"
    );
    // Another stream, a bad path, a path outside /playback's shapes.
    assert_eq!(
        get(&server, "/playback/list/localhost/live/nobody").await.0,
        404
    );
    assert_eq!(get(&server, "/playback/list/localhost/live").await.0, 404);
    assert_eq!(
        get(&server, "/playback/localhost/live/side.flv?start=1&end=2")
            .await
            .0,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_same_from_an_s3_bucket() {
    let dir = temp_dir("pb-s3");
    let s3 = common::s3::S3::start(&dir.join("s3"));
    let cfg = config(&dir, &s3.storage_toml("rec"));
    let server = Server::start_with(
        &dir.join("data"),
        None,
        &["--config", cfg.to_str().unwrap()],
    )
    .await;
    let all = json!({"FlvParam": {"Enable": 1, "RecordInterval": 60}, "HlsParam": {"Enable": 1},
        "Mp4Param": {"Enable": 1, "RecordInterval": 60}});
    configure(&server, all, 0, None).await;
    push_sized(&server.rtmp("live", "cam"), 4, "320x240");
    tokio::time::sleep(Duration::from_secs(2)).await;
    push_sized(&server.rtmp("live", "cam"), 4, "320x240");
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let (status, body) = get(&server, "/playback/list/localhost/live/cam").await;
        let list: Value = serde_json::from_str(&body).unwrap_or_default();
        let full = |s: &Value| s["formats"] == json!(["flv", "hls", "mp4"]);
        let long = |s: &Value| s["durationSeconds"].as_f64().unwrap_or(0.0) >= 3.5;
        if status == 200
            && list["spans"]
                .as_array()
                .is_some_and(|s| s.len() == 2 && s.iter().all(full) && s.iter().all(long))
        {
            break list;
        }
        assert!(Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let span = |i: usize, f: &str| list["spans"][i][f].as_i64().unwrap();
    let covered = (span(0, "endUnixMs") - span(0, "startUnixMs") + span(1, "endUnixMs")
        - span(1, "startUnixMs")) as f64
        / 1000.0;
    let (start, end) = (
        span(0, "startUnixMs") / 1000,
        span(1, "endUnixMs") / 1000 + 1,
    );
    let base = format!(
        "http://127.0.0.1:{}/playback/localhost/live/cam",
        server.port
    );
    let played = ffprobe_duration(&format!("{base}.m3u8?start={start}&end={end}"));
    assert!((played - covered).abs() < 1.5, "{played} vs {covered}");
    let url = format!("{base}.mp4?start={start}&end={end}");
    checked_mp4(&server, &url, &dir.join("range.mp4"), covered, 0.3, 5000).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_hls_only_stream_makes_its_mp4_from_the_ts_segments() {
    let (server, dir) = start("pb-hlsmp4").await;
    configure(&server, json!({"HlsParam": {"Enable": 1}}), 0, None).await;
    push_sized(&server.rtmp("live", "cam"), 5, "320x240");
    let list = spans(&server, "cam", 1, 4.5).await;
    let (s0, s1) = (
        list["spans"][0]["startUnixMs"].as_i64().unwrap(),
        list["spans"][0]["endUnixMs"].as_i64().unwrap(),
    );
    let (from, to) = (s0 + 1500, s1 - 500);
    let url = mp4_url(&server, "cam", from, to);
    let want = (to - from) as f64 / 1000.0;
    checked_mp4(&server, &url, &dir.join("from-ts.mp4"), want, 0.041, 700).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_codec_change_cuts_the_mp4_where_it_happens() {
    let (server, dir) = start("pb-codec").await;
    let mp4 = json!({"Mp4Param": {"Enable": 1, "RecordInterval": 60}});
    configure(&server, mp4, 0, None).await;
    let t0 = now_ms();
    push_sized(&server.rtmp("live", "cam"), 3, "320x240");
    // Then H.265 over Enhanced RTMP (Debian's ffmpeg cannot send it: liverec's own
    // publisher replays an FLV made from libx265's output).
    let raw = dir.join("x265.hevc");
    common::hevc::x265(&raw, 3);
    let flv = dir.join("hevc.flv");
    common::hevc::enhanced_hevc_flv(&raw, &flv);
    common::hevc::publish_flv(&flv, &server.rtmp("live", "cam"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let hevc_indexed = loop {
        let r = server
            .call("SearchMedia", json!({"StreamIds": ["cam"], "Limit": 20}))
            .await;
        let rows = r["MediaInfoSet"].as_array().cloned().unwrap_or_default();
        let codecs: Vec<&Value> = rows
            .iter()
            .map(|m| &m["MetaData"]["VideoStreamSet"][0]["Codec"])
            .collect();
        if codecs.iter().any(|c| *c == "h265") && codecs.iter().any(|c| *c == "h264") {
            break rows;
        }
        assert!(Instant::now() < deadline, "{rows:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert!(!hevc_indexed.is_empty());
    let end = now_ms() / 1000 + 1;
    let url = format!(
        "http://127.0.0.1:{}/playback/localhost/live/cam.mp4?start={}&end={end}",
        server.port,
        t0 / 1000
    );
    let r = server.client.get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("liverec-cut-at"));
    let next = r.headers()["liverec-next"].to_str().unwrap().to_owned();
    let first = dir.join("h264.mp4");
    std::fs::write(&first, r.bytes().await.unwrap()).unwrap();
    let codec = |f: &std::path::Path| {
        ffprobe(
            &[
                "-select_streams",
                "v",
                "-show_entries",
                "stream=codec_name",
                "-of",
                "csv=p=0",
            ],
            f,
        )
    };
    assert_eq!(codec(&first).trim(), "h264");
    monotonic(&first);
    let r = server
        .client
        .get(format!("http://127.0.0.1:{}{next}", server.port))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{next}");
    let second = dir.join("h265.mp4");
    std::fs::write(&second, r.bytes().await.unwrap()).unwrap();
    assert_eq!(codec(&second).trim(), "hevc");
    assert!(duration(&second) > 2.5, "{}", duration(&second));
}
