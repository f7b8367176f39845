//! Live streams through the reference API (§3.14) with real ffmpeg pushes: the online
//! list and push info show a push within seconds, with its codecs, size and rates;
//! `DropLiveStream` ends it (it may push again); `ForbidLiveStream` ends it and refuses
//! it, across a restart, until `ResumeLiveStream` or its resume time.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{temp_dir, Server};
use serde_json::{json, Value};

/// A real-time push of `seconds` of 640x360 H.264 at 25 fps and 44.1 kHz AAC.
fn push(server: &Server, stream: &str, seconds: u32) -> Child {
    Command::new("ffmpeg")
        .args(["-v", "error", "-re", "-f", "lavfi", "-i"])
        .arg("testsrc=size=640x360:rate=25")
        .args(["-f", "lavfi", "-i", "sine=f=440:r=44100"])
        .args(["-t", &seconds.to_string()])
        .args(["-c:v", "libx264", "-preset", "ultrafast", "-g", "25"])
        .args(["-pix_fmt", "yuv420p", "-c:a", "aac", "-f", "flv"])
        .arg(server.rtmp("live", stream))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// Waits up to `limit` for the push to end; its exit status, if it did.
fn ended_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    None
}

fn names(stream: &str) -> Value {
    json!({"DomainName": "localhost", "AppName": "live", "StreamName": stream})
}

async fn state(server: &Server, stream: &str) -> String {
    let r = server.call("DescribeLiveStreamState", names(stream)).await;
    r["StreamState"].as_str().unwrap_or_default().to_owned()
}

/// Polls the push info list until `stream`'s entry satisfies `ready` (within `limit`).
async fn push_info(
    server: &Server,
    stream: &str,
    limit: Duration,
    ready: fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + limit;
    loop {
        let list = server
            .call("DescribeLiveStreamPushInfoList", json!({}))
            .await;
        let found = list["DataInfoList"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["StreamName"] == stream)
            .cloned();
        match found {
            Some(p) if ready(&p) => return p,
            other => assert!(Instant::now() < deadline, "{stream}: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn start(dir: &std::path::Path) -> Server {
    Server::start(&dir.join("data"), None).await
}

#[tokio::test]
async fn a_push_is_listed_with_its_codecs_and_rates_and_dropped_on_request() {
    let dir = temp_dir("live-list");
    let server = start(&dir).await;
    let template = json!({"TemplateName": "flv", "FlvParam": {"Enable": 1}});
    let id = server.call("CreateLiveRecordTemplate", template).await["TemplateId"].clone();
    let rule = json!({"DomainName": "localhost", "AppName": "live", "TemplateId": id});
    assert_eq!(server.code("CreateLiveRecordRule", rule).await, "ok");
    assert_eq!(state(&server, "cam").await, "inactive");
    let began = Instant::now();
    let mut ffmpeg = push(&server, "cam", 60);
    let shown = push_info(&server, "cam", Duration::from_secs(5), |_| true).await;
    assert!(
        began.elapsed() < Duration::from_secs(5),
        "listed after {:?}",
        began.elapsed()
    );
    assert_eq!(shown["PushDomain"], "localhost");
    // Rates over the last seconds settle near the source's.
    let p = push_info(&server, "cam", Duration::from_secs(15), |p| {
        // Both rates past ffmpeg's start-up burst (44.1 kHz AAC: 43 frames/s).
        let audio = p["AudioFps"].as_i64().unwrap_or(0);
        p["VideoFps"].as_i64() >= Some(23) && (40..=50).contains(&audio) && p["Resolution"] != ""
    })
    .await;
    assert_eq!(
        (
            &p["Vcodec"],
            &p["Acodec"],
            &p["Resolution"],
            &p["AsampleRate"]
        ),
        (
            &json!("H264"),
            &json!("AAC"),
            &json!("640*360"),
            &json!(44100)
        ),
        "{p}"
    );
    assert!(p["VideoFps"].as_i64().unwrap() <= 27, "{p}");
    assert!((40..=50).contains(&p["AudioFps"].as_i64().unwrap()), "{p}");
    assert!(p["VideoSpeed"].as_u64().unwrap() > 10_000, "{p}");
    assert!(p["AudioSpeed"].as_u64().unwrap() > 10_000, "{p}");
    assert_eq!(
        (&p["ClientIp"], &p["Protocol"]),
        (&json!("127.0.0.1"), &json!("rtmp"))
    );
    assert_eq!(p["RecordFormats"], json!(["flv"]), "{p}");

    let online = server
        .call("DescribeLiveStreamOnlineList", json!({"StreamName": "cam"}))
        .await;
    assert_eq!(
        (&online["TotalNum"], &online["PageSize"]),
        (&json!(1), &json!(10)),
        "{online}"
    );
    let info = &online["OnlineInfo"][0];
    assert_eq!(
        (&info["DomainName"], &info["AppName"]),
        (&json!("localhost"), &json!("live"))
    );
    let publish = info["PublishTimeList"][0]["PublishTime"].as_str().unwrap();
    assert!(publish.ends_with('Z') && publish.len() == 20, "{publish}");
    let none = server
        .call("DescribeLiveStreamOnlineList", json!({"AppName": "other"}))
        .await;
    assert_eq!(none["TotalNum"], 0);
    assert_eq!(state(&server, "cam").await, "active");

    assert_eq!(server.code("DropLiveStream", names("cam")).await, "ok");
    assert!(
        ended_within(&mut ffmpeg, Duration::from_secs(5)).is_some(),
        "the push was not dropped"
    );
    assert_eq!(state(&server, "cam").await, "inactive");
    // Not live: still a success (as the reference), and it may push again.
    assert_eq!(server.code("DropLiveStream", names("cam")).await, "ok");
    let mut again = push(&server, "cam", 60);
    push_info(&server, "cam", Duration::from_secs(5), |_| true).await;
    let _ = again.kill();
    let _ = again.wait();
    let bad = json!({"DomainName": "localhost", "AppName": "live"});
    assert_eq!(server.code("DropLiveStream", bad).await, "MissingParameter");
    assert_eq!(
        server
            .code("DescribeLiveStreamPushInfoList", json!({"PageSize": 0}))
            .await,
        "InvalidParameterValue"
    );
    server.stop();
}

#[tokio::test]
async fn a_forbidden_stream_is_ended_and_refused_across_a_restart_until_resumed() {
    let dir = temp_dir("live-forbid");
    let server = start(&dir).await;
    let mut ffmpeg = push(&server, "cam", 60);
    push_info(&server, "cam", Duration::from_secs(5), |_| true).await;
    let mut forbid = names("cam");
    forbid["Reason"] = json!("test");
    assert_eq!(server.code("ForbidLiveStream", forbid).await, "ok");
    assert!(
        ended_within(&mut ffmpeg, Duration::from_secs(5)).is_some(),
        "not ended"
    );
    assert_eq!(state(&server, "cam").await, "forbid");
    let mut refused = push(&server, "cam", 5);
    let status = ended_within(&mut refused, Duration::from_secs(10)).expect("refused quickly");
    assert!(!status.success(), "a forbidden stream was accepted");
    // Another stream of the app is not forbidden.
    let mut other = push(&server, "other", 60);
    push_info(&server, "other", Duration::from_secs(5), |_| true).await;
    let _ = other.kill();
    let _ = other.wait();

    server.stop();
    let server = start(&dir).await;
    assert_eq!(state(&server, "cam").await, "forbid");
    let mut refused = push(&server, "cam", 5);
    let status = ended_within(&mut refused, Duration::from_secs(10)).expect("refused quickly");
    assert!(!status.success(), "forgotten at the restart");

    assert_eq!(server.code("ResumeLiveStream", names("cam")).await, "ok");
    assert_eq!(state(&server, "cam").await, "inactive");
    let mut ffmpeg = push(&server, "cam", 60);
    push_info(&server, "cam", Duration::from_secs(5), |_| true).await;
    let _ = ffmpeg.kill();
    let _ = ffmpeg.wait();

    // A resume time passed lifts the forbid by itself; one too far is refused.
    let mut brief = names("cam");
    let soon = time_in(2);
    brief["ResumeTime"] = json!(soon);
    assert_eq!(server.code("ForbidLiveStream", brief.clone()).await, "ok");
    assert_eq!(state(&server, "cam").await, "forbid");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(state(&server, "cam").await, "inactive");
    brief["ResumeTime"] = json!(time_in(91 * 86_400));
    assert_eq!(
        server.code("ForbidLiveStream", brief).await,
        "InvalidParameter"
    );
    server.stop();
}

/// `YYYY-MM-DDTHH:MM:SSZ`, `seconds` from now.
fn time_in(seconds: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + seconds;
    let out = Command::new("date")
        .args(["-u", "-d", &format!("@{now}"), "+%Y-%m-%dT%H:%M:%SZ"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}
