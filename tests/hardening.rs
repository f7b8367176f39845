//! What broke when liverec was tried as its users and attackers would (hostile names,
//! protocol abuse, timestamp jumps), each checked from outside: a real server, real
//! media, the answers a publisher and an HTTP client get.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::publisher::{media_flv, Answer, Publisher};
use common::recording::*;
use common::{receiver, Server};
use liverec::formats::flv::demux::FlvTag;
use serde_json::{json, Value};

/// Every recording of the index, through SearchMedia.
async fn indexed(server: &Server) -> Vec<Value> {
    let found = server.call("SearchMedia", json!({"Limit": 5000})).await;
    found["MediaInfoSet"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

/// GETs `url`; its status and body.
async fn get(server: &Server, url: &str) -> (u16, Vec<u8>) {
    let r = server.client.get(url).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.bytes().await.unwrap().to_vec())
}

/// Fetches every MediaUrl of the index (and every segment of each HLS playlist):
/// each answers 200 with bytes. Returns the formats found per stream.
async fn every_media_url_is_served(server: &Server) -> BTreeMap<String, Vec<String>> {
    let mut formats: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for media in indexed(server).await {
        let url = media["BasicInfo"]["MediaUrl"].as_str().unwrap().to_owned();
        let stream = media["LiveRecordInfo"]["StreamName"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let (status, body) = get(server, &url).await;
        assert_eq!(status, 200, "{url} ({stream:?})");
        assert!(!body.is_empty(), "{url}");
        let format = url.rsplit('.').next().unwrap().to_owned();
        if format == "m3u8" {
            let text = String::from_utf8(body).unwrap();
            let base = url.rsplit_once('/').unwrap().0;
            for segment in text
                .lines()
                .filter(|l| !l.starts_with('#') && !l.is_empty())
            {
                let (status, bytes) = get(server, &format!("{base}/{segment}")).await;
                assert_eq!(status, 200, "{base}/{segment}");
                assert!(!bytes.is_empty());
            }
        }
        formats.entry(stream).or_default().push(format);
    }
    for list in formats.values_mut() {
        list.sort();
    }
    formats
}

/// Connects to `app`, publishes `stream` and, when accepted, sends `tags` in real time.
async fn push_named(port: u16, app: &str, stream: &str, tags: &[FlvTag]) -> Answer {
    let mut p = Publisher::connect(port, app).await;
    let answer = p.publish(stream).await;
    if answer == Answer::Accepted {
        p.replay(tags, |_, t| t.timestamp_ms).await;
        p.close().await;
    }
    answer
}

/// Names that cannot be recorded are refused at publish (the pusher is told), names
/// that can are recorded, and every indexed file is served at its MediaUrl — leading
/// dots, 255-byte CJK names and 128-byte apps included.
#[tokio::test(flavor = "multi_thread")]
async fn hostile_names_are_refused_or_recorded_and_served() {
    let (server, dir) = start("hard-names").await;
    let cb = receiver(0).await;
    let template = json!({"TemplateName": "t", "FlvParam": {"Enable": 1, "RecordInterval": 60},
        "HlsParam": {"Enable": 1}, "Mp4Param": {"Enable": 1, "RecordInterval": 60}});
    let id = server.call("CreateLiveRecordTemplate", template).await["TemplateId"].clone();
    let rule = json!({"DomainName": "localhost", "TemplateId": id});
    assert_eq!(server.code("CreateLiveRecordRule", rule).await, "ok");
    let hook = json!({"TemplateName": "cb", "RecordExceptionNotifyUrl": cb.url});
    let hook_id = server.call("CreateLiveCallbackTemplate", hook).await["TemplateId"].clone();
    for app in ["live", "..", &"a".repeat(128)] {
        let rule = json!({"DomainName": "localhost", "AppName": app, "TemplateId": hook_id});
        server.call("CreateLiveCallbackRule", rule).await;
    }
    let tags = media_flv(&dir.join("media.flv"), 2);
    let long_app = "a".repeat(128);
    let accepted: Vec<(String, String)> = vec![
        ("live".into(), ".hidden".into()),
        ("live".into(), "....".into()),
        ("live".into(), "s".repeat(256)),
        ("live".into(), "流".repeat(85)),
        (long_app.clone(), "cam".into()),
    ];
    let refused: Vec<(String, String)> = vec![
        ("live".into(), ".".into()),
        ("live".into(), "..".into()),
        ("live".into(), "s".repeat(257)),
        ("live".into(), "流".repeat(680)),
        ("..".into(), "cam".into()),
        ("a".repeat(300), "cam".into()),
    ];
    let mut pushes = tokio::task::JoinSet::new();
    for (app, stream) in accepted.iter().chain(&refused).cloned() {
        let (port, tags) = (server.rtmp_port, tags.clone());
        pushes.spawn(async move {
            let answer = push_named(port, &app, &stream, &tags).await;
            (app, stream, answer)
        });
    }
    while let Some(done) = pushes.join_next().await {
        let (app, stream, answer) = done.unwrap();
        let name = format!("{app}/{stream}");
        if accepted.contains(&(app, stream)) {
            assert_eq!(answer, Answer::Accepted, "{name}");
        } else {
            assert_eq!(
                answer,
                Answer::Refused("NetStream.Publish.BadName".into()),
                "{name}"
            );
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let formats = every_media_url_is_served(&server).await;
    let want: Vec<String> = ["flv", "m3u8", "mp4"].map(String::from).to_vec();
    assert_eq!(formats.len(), accepted.len(), "{formats:?}");
    for (_, stream) in &accepted {
        assert_eq!(formats.get(stream), Some(&want), "{stream:?}: {formats:?}");
    }
    assert!(
        cb.of_type(341).is_empty(),
        "no output failed: {:?}",
        cb.of_type(341)
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// A second publish on a connection is refused and the connection dropped; the first
/// push's recording is complete.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_publish_on_one_connection_is_refused_and_dropped() {
    let (server, dir) = start("hard-twice").await;
    configure(&server, json!({"FlvParam": {"Enable": 1}}), 0, None).await;
    let tags = media_flv(&dir.join("media.flv"), 2);
    let mut p = Publisher::connect(server.rtmp_port, "live").await;
    assert_eq!(p.publish("one").await, Answer::Accepted);
    p.replay(&tags, |_, t| t.timestamp_ms).await;
    assert_eq!(
        p.publish_again("two").await,
        Answer::Refused("NetStream.Publish.BadName".into())
    );
    assert!(p.closed_within(Duration::from_secs(3)).await, "dropped");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let recorded = files(&stream_dir(&server, "one"), "flv");
    assert_eq!(recorded.len(), 1);
    decodes(&recorded[0]);
    assert!(!stream_dir(&server, "two").exists());
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// `format=start_time,duration` of a file, seconds.
fn start_and_duration(file: &std::path::Path) -> (f64, f64) {
    let out = ffprobe(
        &[
            "-show_entries",
            "format=start_time,duration",
            "-of",
            "csv=p=0",
        ],
        file,
    );
    let mut f = out
        .trim()
        .split(',')
        .map(|v| v.parse::<f64>().unwrap_or(f64::NAN));
    (f.next().unwrap(), f.next().unwrap())
}

/// Pushes `seconds` of media whose timestamps `stamp` rewrites, into FLV files of 2 s;
/// returns the FLV files, the index rows and the wall clock around the push.
async fn push_stamped(
    name: &str,
    seconds: u32,
    stamp: impl Fn(u32) -> u32,
) -> (
    Vec<std::path::PathBuf>,
    Vec<Value>,
    (i64, i64),
    Server,
    std::path::PathBuf,
) {
    let (server, dir) = start(name).await;
    configure(
        &server,
        json!({"FlvParam": {"Enable": 1}, "Mp4Param": {"Enable": 1}}),
        0,
        None,
    )
    .await;
    let tags = media_flv(&dir.join("media.flv"), seconds);
    let before = now_ms();
    let mut p = Publisher::connect(server.rtmp_port, "live").await;
    assert_eq!(p.publish("cam").await, Answer::Accepted);
    p.replay(&tags, |_, t| stamp(t.timestamp_ms)).await;
    p.close().await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let after = now_ms();
    let flv = files(&stream_dir(&server, "cam"), "flv");
    let rows = indexed(&server).await;
    (flv, rows, (before, after), server, dir)
}

/// Every row's times lie within the wall clock of the push.
fn times_within(rows: &[Value], (before, after): (i64, i64)) {
    use liverec::formats::hls::datetime::encode_date_time;
    let (low, high) = (encode_date_time(before - 1000), encode_date_time(after));
    for row in rows {
        let info = &row["LiveRecordInfo"];
        let (start, end) = (
            info["RecordStartTime"].as_str().unwrap(),
            info["RecordEndTime"].as_str().unwrap(),
        );
        assert!(
            low.as_str() <= start && start <= end && end <= high.as_str(),
            "{low} <= {start} <= {end} <= {high}"
        );
    }
}

/// Timestamps that leap +3 h and back: FLV files end at each jump (no file holds
/// hours, none goes back), and every recording's times follow the wall clock.
#[tokio::test(flavor = "multi_thread")]
async fn timestamp_jumps_end_flv_files_and_times_follow_the_wall_clock() {
    const HOURS_3: u32 = 3 * 3600 * 1000;
    let (flv, rows, wall, server, dir) = push_stamped("hard-jumps", 12, |t| {
        if (4000..8000).contains(&t) {
            t + HOURS_3
        } else {
            t
        }
    })
    .await;
    assert!(flv.len() >= 6, "{flv:?}");
    let mut total = 0.0;
    for file in &flv {
        let dts: Vec<f64> = packets(file)
            .iter()
            .filter_map(|p| p.2.parse().ok())
            .collect();
        assert!(
            dts.windows(2).all(|w| w[1] >= w[0]),
            "{}: timestamps go back",
            file.display()
        );
        let span = (dts.last().unwrap() - dts[0]) / 1000.0;
        let (_, duration) = start_and_duration(file);
        assert!(
            span < 2.6 && duration < 2.6,
            "{}: {span} s of timestamps, {duration} s",
            file.display()
        );
        total += duration;
        decodes(file);
    }
    assert!(
        (total - 12.0).abs() < 1.5,
        "{total} s in FLV files for 12 s pushed"
    );
    times_within(&rows, wall);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Across the 32-bit wrap, each FLV file starts at its own first tag (its sequence
/// headers are not stamped before the wrap): durations sum to what was pushed.
#[tokio::test(flavor = "multi_thread")]
async fn flv_files_after_a_timestamp_wrap_start_at_their_first_tag() {
    let base = u32::MAX - 3000;
    let (flv, rows, wall, server, dir) =
        push_stamped("hard-wrap", 12, |t| t.wrapping_add(base)).await;
    assert!(flv.len() >= 5, "{flv:?}");
    // FLV timestamps are signed 32-bit: the files before the wrap start below 0.
    let mut total = 0.0;
    let mut after_wrap = 0;
    for file in &flv {
        let (start, duration) = start_and_duration(file);
        assert!(duration < 2.6, "{}: {duration} s", file.display());
        after_wrap += usize::from(start >= 0.0);
        total += duration;
    }
    assert!(after_wrap >= 3, "{after_wrap} files after the wrap");
    assert!(
        (total - 12.0).abs() < 1.5,
        "{total} s in FLV files for 12 s pushed"
    );
    times_within(&rows, wall);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Lines and bytes of a server's log.
fn log_size(server: &Server) -> (usize, usize) {
    let log = std::fs::read_to_string(server.data.with_extension("log")).unwrap_or_default();
    (log.lines().count(), log.len())
}

/// CPU seconds (user + system) the process has used.
fn cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let after_name = stat.rsplit_once(')').unwrap().1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 and 15 of stat(5), counted after the name: utime, stime (clock ticks).
    let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
    ticks / 100.0
}

/// Opens `n` TCP connections to `port` that never say a word.
async fn idle_connections(port: u16, n: usize) -> Vec<tokio::net::TcpStream> {
    let mut idle = Vec::new();
    for _ in 0..n {
        // A full backlog holds a connect back: stop there — once past the server's
        // limit of 256 handles; before it, a slow connect is a busy machine: go on.
        let connect = tokio::net::TcpStream::connect(("127.0.0.1", port));
        match tokio::time::timeout(Duration::from_millis(300), connect).await {
            Ok(Ok(s)) => idle.push(s),
            _ if idle.len() >= 260 => break,
            _ => {}
        }
    }
    idle
}

/// A server under an open-file limit of 256 and no cap per address, recording all four
/// formats, with record and exception callbacks; `testing` goes in its `[testing]`.
async fn limited(name: &str, testing: &str) -> (Server, common::Receiver, std::path::PathBuf) {
    let dir = common::temp_dir(name);
    let cfg = dir.join("liverec.toml");
    std::fs::write(
        &cfg,
        format!(
            "[testing]\nrecord_interval_seconds = {INTERVAL_S}\n{testing}[callbacks]\nretry_interval_seconds = 1\n\
             [limits]\nmax_connections_per_ip = 100000\n[retention]\nmin_free_bytes = 16777216\n"
        ),
    )
    .unwrap();
    let server = Server::start_limited(
        &dir.join("data"),
        None,
        &["--config", cfg.to_str().unwrap()],
        Some(256),
    )
    .await;
    let cb = receiver(0).await;
    configure(&server, all_formats(), 0, None).await;
    callbacks(
        &server,
        &cb,
        &["RecordNotifyUrl", "RecordExceptionNotifyUrl"],
    )
    .await;
    (server, cb, dir)
}

/// Under an open-file limit of 256, 400 idle connections to the RTMP port while a real
/// ffmpeg push records: the push's files are complete, /healthz answers throughout, the
/// log stays small, and the connections beyond the file budget are refused.
#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_beyond_the_file_limit_leave_recordings_alone() {
    let (server, cb, dir) = limited("hard-fds", "").await;
    let url = server.rtmp("live", "cam");
    let pushing = std::thread::spawn(move || push(&url, 8.0, None, false));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let idle = idle_connections(server.rtmp_port, 400).await;
    for _ in 0..8 {
        let (status, _) = get(&server, &format!("{}healthz", server.url())).await;
        assert_eq!(status, 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(pushing.join().unwrap(), "ffmpeg's push");
    drop(idle);
    cb.wait_for(100, 13, Duration::from_secs(10)).await;
    let dir_of = stream_dir(&server, "cam");
    for ext in ["flv", "mp4", "aac"] {
        let found = files(&dir_of, ext);
        assert!(found.len() >= 4, "{ext}: {found:?}");
        found.iter().for_each(|f| decodes(f));
    }
    let formats = every_media_url_is_served(&server).await;
    assert_eq!(formats["cam"].iter().filter(|f| *f == "m3u8").count(), 1);
    assert!(cb.of_type(341).is_empty(), "{:?}", cb.of_type(341));
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(r#"liverec_refusals_total{reason="file_limit"}"#),
        "{metrics}"
    );
    let (lines, bytes) = log_size(&server);
    assert!(
        lines < 1000 && bytes < 300_000,
        "{lines} lines, {bytes} bytes of log"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// When the process runs out of file handles all the same (here a budget set far past
/// the real limit), accepting backs off instead of spinning, its log stays small, and
/// the push's outputs pause and resume as new files — the HLS recording made before
/// the failure finalised and announced, one 341 per output.
#[tokio::test(flavor = "multi_thread")]
async fn out_of_file_handles_accept_backs_off_and_outputs_resume() {
    let (server, cb, dir) = limited("hard-emfile", "file_limit = 100000\n").await;
    let url = server.rtmp("live", "cam");
    let pushing = std::thread::spawn(move || push(&url, 18.0, None, false));
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let idle = idle_connections(server.rtmp_port, 400).await;
    let cpu = cpu_seconds(server.pid());
    tokio::time::sleep(Duration::from_secs(5)).await;
    let spent = cpu_seconds(server.pid()) - cpu;
    // Past the first HLS segment's end (6 s), so HLS fails too.
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(idle);
    assert!(pushing.join().unwrap(), "ffmpeg's push");
    cb.wait_for(100, 12, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        spent < 1.0,
        "{spent} CPU seconds in 5 s without file handles"
    );
    let log = std::fs::read_to_string(server.data.with_extension("log")).unwrap();
    let accept_lines = log.lines().filter(|l| l.contains("accept failed")).count();
    assert!(
        (1..=2).contains(&accept_lines),
        "{accept_lines} accept lines"
    );
    let (lines, bytes) = log_size(&server);
    assert!(
        lines < 1000 && bytes < 300_000,
        "{lines} lines, {bytes} bytes of log"
    );
    let exceptions = cb.of_type(341);
    assert!(
        !exceptions.is_empty() && exceptions.len() <= 4,
        "{exceptions:?}"
    );
    // Every output recorded again once the handles came back: one file of each before
    // the flood, then files again (HLS, which may or may not have hit the flood, has at
    // least one recording), every one served.
    let formats = every_media_url_is_served(&server).await;
    assert!(formats["cam"].contains(&"m3u8".to_owned()), "{formats:?}");
    let dir_of = stream_dir(&server, "cam");
    for ext in ["flv", "mp4", "aac"] {
        let found = files(&dir_of, ext);
        assert!(found.len() >= 3, "{ext}: {found:?}");
        found.iter().for_each(|f| decodes(f));
    }
    let scratch = std::fs::read_dir(server.data.join(".scratch"))
        .unwrap()
        .count();
    assert_eq!(scratch, 0, "nothing left in scratch space");
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// An HLS output that storage stops (its growing playlist can no longer be written) is
/// finalised with the segments it stored — ENDLIST, index row, callback — announced by
/// one 341, and not left as an unfinished playlist.
#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_hls_output_is_finalised_with_what_it_stored() {
    let (server, dir, cb, pushing, rid) = hls_push("hard-hls-stop", 15.0).await;
    let dir_of = stream_dir(&server, "cam");
    // The growing playlist becomes a directory: the next playlist write fails for good.
    let growing = dir_of.join(format!("{rid}.m3u8"));
    while !growing.exists() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    std::fs::remove_file(&growing).unwrap();
    std::fs::create_dir(&growing).unwrap();
    assert!(pushing.join().unwrap());
    let done = cb.wait_for(100, 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(cb.of_type(341).len(), 1, "{:?}", cb.of_type(341));
    let formats = every_media_url_is_served(&server).await;
    assert_eq!(formats["cam"], vec!["m3u8".to_owned()]);
    let playlist: Vec<_> = files(&dir_of, "m3u8")
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(playlist.len(), 1, "{playlist:?}");
    let text = std::fs::read_to_string(&playlist[0]).unwrap();
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let segments = text.lines().filter(|l| l.ends_with(".ts")).count();
    assert!((1..=2).contains(&segments), "{text}");
    decodes(&playlist[0]);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Below the free-space floor the guard deletes the recordings that have a StorageTime,
/// keeps those kept forever, and, still below it, refuses new pushes with a clear
/// status and a 341 callback; /metrics shows free space and the deletions.
#[tokio::test(flavor = "multi_thread")]
async fn below_the_free_space_floor_expiring_recordings_go_then_pushes_are_refused() {
    let dir = common::temp_dir("hard-space");
    let data = dir.join("data");
    let cfg = config(&dir, "");
    let server = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    let cb = receiver(0).await;
    for (stream, storage_time) in [("expiring", 3600), ("kept", 0)] {
        let t =
            json!({"TemplateName": stream, "FlvParam": {"Enable": 1, "StorageTime": storage_time}});
        let id = server.call("CreateLiveRecordTemplate", t).await["TemplateId"].clone();
        let rule = json!({"DomainName": "localhost", "AppName": "live", "StreamName": stream, "TemplateId": id});
        assert_eq!(server.code("CreateLiveRecordRule", rule).await, "ok");
    }
    callbacks(
        &server,
        &cb,
        &["RecordNotifyUrl", "RecordExceptionNotifyUrl"],
    )
    .await;
    let tags = media_flv(&dir.join("media.flv"), 4);
    for stream in ["expiring", "kept"] {
        assert_eq!(
            push_named(server.rtmp_port, "live", stream, &tags).await,
            Answer::Accepted
        );
    }
    cb.wait_for(100, 4, Duration::from_secs(10)).await;
    let expiring = files(&stream_dir(&server, "expiring"), "flv").len();
    assert!(expiring >= 2, "{expiring}");
    server.stop();
    // The same data with a floor no disk can meet.
    let cfg = config(&dir, "");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("min_free_bytes = 16777216", "min_free_percent = 100");
    std::fs::write(&cfg, text).unwrap();
    let server = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    assert!(files(&stream_dir(&server, "expiring"), "flv").is_empty());
    assert!(files(&stream_dir(&server, "kept"), "flv").len() >= 2);
    let left: Vec<Value> = indexed(&server).await;
    assert!(
        left.iter()
            .all(|m| m["LiveRecordInfo"]["StreamName"] == "kept"),
        "{left:?}"
    );
    let mut p = Publisher::connect(server.rtmp_port, "live").await;
    assert_eq!(
        p.publish("kept").await,
        Answer::Refused("NetStream.Publish.Rejected".into())
    );
    let exceptions = cb.wait_for(341, 1, Duration::from_secs(5)).await;
    assert_eq!(exceptions.len(), 1, "{exceptions:?}");
    assert!(exceptions[0]["exception"]["desc"]
        .as_str()
        .unwrap()
        .contains("free space"));
    let metrics = server.metrics().await;
    assert!(
        metrics.contains(&format!("liverec_space_deletions_total {expiring}")),
        "{metrics}"
    );
    assert!(metrics.contains("liverec_free_bytes "), "{metrics}");
    assert!(
        metrics.contains(r#"liverec_refusals_total{reason="free_space"} 1"#),
        "{metrics}"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Storage fails under the last HLS segment as the push ends: the recording is
/// finalised without it (ENDLIST, index row, callback), not left without a playlist.
#[tokio::test(flavor = "multi_thread")]
async fn a_segment_lost_at_the_end_of_a_push_is_left_out_of_the_final_playlist() {
    let (server, dir, cb, pushing, rid) = hls_push("hard-hls-last", 9.0).await;
    let dir_of = stream_dir(&server, "cam");
    // The second (last) segment's name is taken: storing it fails for good.
    std::fs::create_dir(dir_of.join(format!("{rid}_00001.ts"))).unwrap();
    assert!(pushing.join().unwrap());
    let done = cb.wait_for(100, 1, Duration::from_secs(10)).await;
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(cb.wait_for(341, 1, Duration::from_secs(5)).await.len(), 1);
    let formats = every_media_url_is_served(&server).await;
    assert_eq!(formats["cam"], vec!["m3u8".to_owned()]);
    let playlist: Vec<_> = files(&dir_of, "m3u8")
        .into_iter()
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(playlist.len(), 1, "{playlist:?}");
    let text = std::fs::read_to_string(&playlist[0]).unwrap();
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.ends_with(".ts")).count(),
        1,
        "{text}"
    );
    decodes(&playlist[0]);
    assert_eq!(
        std::fs::read_dir(server.data.join(".scratch"))
            .unwrap()
            .count(),
        0
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// An HLS-only server with record and exception callbacks, pushed to for `seconds`
/// (stream `cam`) until its first segment is stored: the server, its directory, the
/// callbacks, the pusher, and the recording id.
async fn hls_push(
    name: &str,
    seconds: f64,
) -> (
    Server,
    std::path::PathBuf,
    common::Receiver,
    std::thread::JoinHandle<bool>,
    String,
) {
    let (server, dir) = start(name).await;
    let cb = receiver(0).await;
    configure(&server, json!({"HlsParam": {"Enable": 1}}), 0, None).await;
    callbacks(
        &server,
        &cb,
        &["RecordNotifyUrl", "RecordExceptionNotifyUrl"],
    )
    .await;
    let url = server.rtmp("live", "cam");
    let pushing = std::thread::spawn(move || push(&url, seconds, None, false));
    let dir_of = stream_dir(&server, "cam");
    let first = loop {
        if let Some(ts) = files(&dir_of, "ts").first() {
            break ts.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let name = first.file_name().unwrap().to_str().unwrap();
    let rid = name.trim_end_matches("_00000.ts").to_owned();
    (server, dir, cb, pushing, rid)
}
