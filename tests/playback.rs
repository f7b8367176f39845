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

/// Waits until `/playback/list` shows `want` spans for `stream`, each with HLS.
async fn spans(server: &Server, stream: &str, want: usize) -> Value {
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
            if spans.len() == want && spans.iter().all(hls) {
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
    let list = spans(&server, "cam", 2).await;
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
}

fn iso(ms: i64) -> String {
    // Unix ms as ISO 8601 with a +08:00 offset, escaped for a query.
    let secs = ms / 1000 + 8 * 3600;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}%2B08:00",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        ms % 1000
    )
}

fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
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
    spans(&server, "cam", 1).await;
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
    push_sized(&server.rtmp("live", "side"), 4, "320x240");
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let (status, body) = get(&server, "/playback/list/localhost/live/side").await;
        let list: Value = serde_json::from_str(&body).unwrap_or_default();
        if status == 200 && list["spans"][0]["formats"] == json!(["flv", "mp4"]) {
            break list;
        }
        assert!(Instant::now() < deadline, "{status} {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let start = list["spans"][0]["startUnixMs"].as_i64().unwrap() / 1000;
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
