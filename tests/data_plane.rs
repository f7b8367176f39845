//! The data plane end to end: `liverec serve` on loopback ports, configured through the
//! API, pushed to with a real ffmpeg, checked with ffprobe, its callbacks received by a
//! loopback HTTP server. RecordInterval is shortened with the test-only
//! `[testing] record_interval_seconds` setting.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::publisher::{media_flv, Answer, Publisher};
use common::recording::*;
use common::{receiver, temp_dir, Server};
use serde_json::{json, Value};

#[tokio::test(flavor = "multi_thread")]
async fn push_records_every_format_indexed_served_and_announced() {
    let (server, dir) = start("dp-all").await;
    let cb = receiver(0).await;
    configure(&server, all_formats(), 0, Some(&cb)).await;
    let copy = dir.join("sent.flv");
    assert!(push(
        &server.rtmp("live", "cam?extra=1"),
        5.0,
        Some(&copy),
        false
    ));
    let pushed = duration(&copy);
    let sent = packets(&copy);
    let stream = stream_dir(&server, "cam");

    // One callback per file: FLV, MP4 and AAC cut every 2 s of 5 s → 3 each; HLS → 1.
    let record = cb.wait_for(100, 10, Duration::from_secs(20)).await;
    assert_eq!(record.len(), 10, "{record:?}");
    for format in ["flv", "mp4", "aac"] {
        let mut list = files(&stream, format);
        list.retain(|p| p.extension().is_some_and(|e| e == format));
        assert_eq!(list.len(), 3, "{format}: {list:?}");
        let total: f64 = list.iter().map(|f| duration(f)).sum();
        assert!(
            (total - pushed).abs() <= 1.04,
            "{format}: {total} s recorded of {pushed} s"
        );
        for f in &list {
            decodes(f);
        }
    }
    // MP4s end moov-first, with no fragment left.
    let mp4s = files(&stream, "mp4");
    for f in mp4s
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "mp4"))
    {
        let boxes = common::mp4_boxes(f);
        assert_eq!(boxes[..2], ["ftyp", "moov"], "{}", f.display());
        assert!(
            !boxes.iter().any(|b| b == "moof" || b == "mvex"),
            "{boxes:?}"
        );
    }
    let playlists = files(&stream, "m3u8");
    assert_eq!(playlists.len(), 1, "{playlists:?}");
    decodes(&playlists[0]);
    assert!((duration(&playlists[0]) - pushed).abs() <= 1.04);
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert!(text.contains("#EXT-X-PLAYLIST-TYPE:VOD") && text.ends_with("#EXT-X-ENDLIST\n"));

    // Packet timestamps unchanged: the FLV files hold exactly the packets sent.
    let recorded: Vec<_> = files(&stream, "flv")
        .iter()
        .flat_map(|f| packets(f))
        .collect();
    assert_eq!(recorded, sent, "FLV packets differ from what ffmpeg sent");
    // The other formats hold as many packets of each kind.
    let want = count_by_type(&sent);
    for ext in ["mp4", "m3u8"] {
        let got: Vec<_> = files(&stream, ext)
            .iter()
            .flat_map(|f| packets(f))
            .collect();
        assert_eq!(count_by_type(&got), want, "{ext}");
    }
    let aac: Vec<_> = files(&stream, "aac")
        .iter()
        .flat_map(|f| packets(f))
        .collect();
    assert_eq!(aac.len(), want["audio"]);

    // Callbacks: reference fields, valid signatures, URLs that serve the files.
    for event in &record {
        check_signature(event);
        assert_eq!(event["app"], "localhost");
        assert_eq!(event["appname"], "live");
        assert_eq!(event["stream_id"], "cam");
        assert_eq!(event["stream_param"], "extra=1");
        let url = event["video_url"].as_str().unwrap();
        let response = server.client.get(url).send().await.unwrap();
        assert_eq!(response.status(), 200, "{url}");
        let mime = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body = response.bytes().await.unwrap();
        let format = event["file_format"].as_str().unwrap();
        if format != "hls" {
            assert_eq!(
                body.len() as u64,
                event["file_size"].as_u64().unwrap(),
                "{url}"
            );
        }
        let expected = match format {
            "flv" => "video/x-flv",
            "mp4" => "video/mp4",
            "aac" => "audio/aac",
            _ => "application/vnd.apple.mpegurl",
        };
        assert_eq!(mime, expected);
        assert!(event["start_time"].as_i64().unwrap() <= event["end_time"].as_i64().unwrap());
    }
    let begin = cb.wait_for(1, 1, Duration::from_secs(5)).await;
    let end = cb.wait_for(0, 1, Duration::from_secs(5)).await;
    assert_eq!((begin.len(), end.len()), (1, 1));
    assert_eq!(begin[0]["sequence"], end[0]["sequence"]);
    check_signature(&end[0]);

    // Range requests.
    let url = record.iter().find(|e| e["file_format"] == "mp4").unwrap()["video_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let partial = server
        .client
        .get(&url)
        .header("Range", "bytes=4-11")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 206);
    assert_eq!(&partial.bytes().await.unwrap()[..], b"ftypisom");

    // The index.
    let search = server
        .call("SearchMedia", json!({"StreamIds": ["cam"], "Limit": 100}))
        .await;
    assert_eq!(search["TotalCount"], 10, "{search}");
    let metrics = server.metrics().await;
    for line in [
        "liverec_recording_files_total{format=\"flv\"} 3",
        "liverec_recording_files_total{format=\"hls\"} 1",
        "liverec_pushes_total 1",
        "liverec_live_pushes 0",
    ] {
        assert!(metrics.contains(line), "{line} not in\n{metrics}");
    }
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn two_second_push_and_audio_only_push_yield_files() {
    let (server, dir) = start("dp-short").await;
    configure(&server, all_formats(), 0, None).await;
    assert!(push(&server.rtmp("live", "short"), 2.0, None, false));
    assert!(push(&server.rtmp("live", "radio"), 3.0, None, true));
    tokio::time::sleep(Duration::from_millis(500)).await;
    for (stream, formats) in [
        ("short", vec!["flv", "mp4", "aac", "m3u8"]),
        ("radio", vec!["flv", "mp4", "aac", "m3u8"]),
    ] {
        for ext in formats {
            let list = files(&stream_dir(&server, stream), ext);
            assert!(!list.is_empty(), "{stream}: no {ext}");
            for f in &list {
                decodes(f);
            }
        }
    }
    let radio = files(&stream_dir(&server, "radio"), "mp4");
    assert!(
        ffprobe(
            &["-show_entries", "stream=codec_type", "-of", "csv=p=0"],
            &radio[0]
        )
        .trim()
            == "audio"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn hls_auto_splice_one_playlist_one_callback() {
    let (server, dir) = start("dp-splice").await;
    let cb = receiver(0).await;
    configure(&server, json!({"HlsParam": {"Enable": 1}}), 4, Some(&cb)).await;
    assert!(push(&server.rtmp("live", "splice"), 3.0, None, false));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        cb.of_type(100).is_empty(),
        "no callback while the splice timeout runs"
    );
    // While the recording waits for the push to come back, its EVENT playlist is at
    // /live/DOMAIN/APP/STREAM.m3u8 (a redirect to the growing playlist).
    let live = format!("{}live/localhost/live/splice.m3u8", server.url());
    let growing = server.client.get(&live).send().await.unwrap();
    assert_eq!(growing.status(), 200);
    let text = growing.text().await.unwrap();
    assert!(
        text.contains("#EXT-X-PLAYLIST-TYPE:EVENT") && !text.contains("ENDLIST"),
        "{text}"
    );
    assert!(push(&server.rtmp("live", "splice"), 3.0, None, false));
    let record = cb.wait_for(100, 1, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cb.of_type(100).len(), 1, "{record:?}");
    let playlists = files(&stream_dir(&server, "splice"), "m3u8");
    assert_eq!(playlists.len(), 1, "{playlists:?}");
    let text = std::fs::read_to_string(&playlists[0]).unwrap();
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"));
    // Timestamps restart after the discontinuity (a new push), which ffmpeg's HLS
    // demuxer reports; each segment decodes on its own.
    let segments = files(&stream_dir(&server, "splice"), "ts");
    assert_eq!(segments.len(), 2, "{segments:?}");
    for s in &segments {
        decodes(s);
    }
    let total = record[0]["duration"].as_i64().unwrap();
    assert!((5..=7).contains(&total), "{total}");
    let after = server.client.get(&live).send().await.unwrap();
    assert_eq!(after.status(), 404, "no growing playlist once final");
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn push_auth_and_one_publisher_per_stream() {
    let (server, dir) = start("dp-auth").await;
    configure(&server, json!({"FlvParam": {"Enable": 1}}), 0, None).await;
    let key = "0123456789abcdef";
    let modify = server
        .code(
            "ModifyLivePushAuthKey",
            json!({"DomainName": "localhost", "Enable": 1, "MasterAuthKey": key, "AuthDelta": 60}),
        )
        .await;
    assert_eq!(modify, "ok");
    assert!(
        !push(&server.rtmp("live", "locked"), 1.0, None, false),
        "unsigned push accepted"
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
    let bad = format!("locked?txSecret={}&txTime={tx_time}", "0".repeat(32));
    assert!(
        !push(&server.rtmp("live", &bad), 1.0, None, false),
        "bad secret accepted"
    );
    let good = format!("locked?txSecret={secret}&txTime={tx_time}");
    let url = server.rtmp("live", &good);
    let first = {
        let url = url.clone();
        std::thread::spawn(move || push(&url, 4.0, None, false))
    };
    std::thread::sleep(Duration::from_millis(1500));
    assert!(!push(&url, 1.0, None, false), "second publisher accepted");
    assert!(first.join().unwrap(), "first publisher disturbed");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!files(&stream_dir(&server, "locked"), "flv").is_empty());
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_then_restart_recovers_and_announces() {
    let dir = temp_dir("dp-crash");
    let data = dir.join("data");
    let cfg = config(&dir, "");
    let server = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    let cb = receiver(0).await;
    configure(&server, all_formats(), 30, Some(&cb)).await;
    let url = server.rtmp("live", "crash");
    let pusher = std::thread::spawn(move || push(&url, 20.0, None, false));
    // Two 2-second files of FLV, MP4 and AAC, then 1.5 s into the third ones: crash.
    let before = cb.wait_for(100, 6, Duration::from_secs(15)).await;
    assert_eq!(before.len(), 6, "{before:?}");
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    server.kill9();
    let _ = pusher.join();
    let finished = cb.of_type(100).len();
    let restarted = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    // After restart: the open FLV, MP4, AAC files and the HLS recording are recovered.
    let record = cb
        .wait_for(100, finished + 4, Duration::from_secs(20))
        .await;
    assert_eq!(record.len(), finished + 4, "{record:?}");
    let stream = stream_dir(&restarted, "crash");
    let mut recorded = 0.0;
    for ext in ["flv", "mp4", "aac", "m3u8"] {
        let list = files(&stream, ext);
        assert!(!list.is_empty(), "{ext}");
        for f in &list {
            decodes(f);
        }
        if ext == "flv" {
            recorded = list.iter().map(|f| duration(f)).sum();
        }
    }
    assert!(
        recorded >= 4.0 + 1.5 - 1.0,
        "FLV lost more than ~1 s: {recorded} s of ~5.5 s"
    );
    // Every MP4, the recovered one too, is moov-first without the moov's room.
    for f in files(&stream, "mp4") {
        let boxes = common::mp4_boxes(&f);
        assert_eq!(
            boxes.get(1).map(String::as_str),
            Some("moov"),
            "{}: {boxes:?}",
            f.display()
        );
        assert!(!boxes.contains(&"moof".to_owned()), "{boxes:?}");
    }
    assert!(std::fs::read_dir(data.join(".scratch"))
        .unwrap()
        .next()
        .is_none());
    let search = restarted
        .call("SearchMedia", json!({"StreamIds": ["crash"], "Limit": 100}))
        .await;
    assert_eq!(search["TotalCount"], record.len(), "{search}");
    restarted.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn realtime_task_starts_at_the_cached_keyframe_and_stops_at_once() {
    // No rule: the GOP cache is a scratch file.
    realtime_task(false).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn realtime_task_beside_an_flv_rule_replays_from_the_flv_file() {
    // An FLV rule: its open file is the GOP cache.
    realtime_task(true).await;
}

async fn realtime_task(flv_rule: bool) {
    let (server, dir) = start(if flv_rule { "dp-task-flv" } else { "dp-task" }).await;
    let cb = receiver(0).await;
    if flv_rule {
        let flv = json!({"TemplateName": "flv", "FlvParam": {"Enable": 1, "RecordInterval": 60}});
        bind(
            &server,
            "CreateLiveRecordTemplate",
            "CreateLiveRecordRule",
            flv,
        )
        .await;
    }
    callbacks(&server, &cb, &["RecordNotifyUrl"]).await;
    let url = server.rtmp("live", "highlight");
    let pusher = std::thread::spawn(move || push(&url, 8.0, None, false));
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    let requested = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let now = requested.as_secs();
    let task = server
        .call(
            "CreateRecordTask",
            json!({"DomainName": "localhost", "AppName": "live", "StreamName": "highlight", "EndTime": now + 600}),
        )
        .await;
    let task_id = task["TaskId"].as_str().expect("task id").to_owned();
    tokio::time::sleep(Duration::from_millis(2_000)).await;
    assert_eq!(
        server
            .code("StopRecordTask", json!({"TaskId": task_id}))
            .await,
        "ok"
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    let task_events = || -> Vec<Value> {
        cb.of_type(100)
            .into_iter()
            .filter(|e| e["task_id"] != "")
            .collect()
    };
    while task_events().is_empty() && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let record = task_events();
    assert_eq!(record.len(), 1, "stopped at once, before the push ended");
    let _ = pusher.join();
    assert_eq!(record[0]["task_id"], task_id.as_str());
    // It starts at the keyframe received before it was asked for (the GOP cache).
    let start_ms = record[0]["start_time"].as_i64().unwrap() * 1000
        + record[0]["start_time_usec"].as_i64().unwrap() / 1000;
    assert!(
        start_ms < requested.as_millis() as i64,
        "recording starts at {start_ms}, after the request at {}",
        requested.as_millis()
    );
    assert_eq!(record[0]["file_format"], "hls");
    assert_eq!(record[0]["stream_param"], "");
    let playlists = files(&stream_dir(&server, "highlight"), "m3u8");
    assert_eq!(playlists.len(), 1);
    decodes(&playlists[0]);
    // From the keyframe before the request (GOP 1 s) to the stop: about 2–3 s.
    let d = duration(&playlists[0]);
    assert!((1.9..=3.6).contains(&d), "{d}");
    let first = packets(&playlists[0]);
    assert!(!first.is_empty());
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn failed_callbacks_are_retried_and_retention_deletes() {
    let (server, dir) = start("dp-retry").await;
    let cb = receiver(2).await;
    let formats = json!({"AacParam": {"Enable": 1, "RecordInterval": 60, "StorageTime": 2},
        "HlsParam": {"Enable": 1, "StorageTime": 2}});
    configure(&server, formats, 0, Some(&cb)).await;
    assert!(push(&server.rtmp("live", "retry"), 1.0, None, true));
    let record = cb.wait_for(100, 2, Duration::from_secs(15)).await;
    assert_eq!(record.len(), 2, "both delivered after the failures");
    assert!(*cb.posts.lock().unwrap() >= 4, "two failures, then success");
    delivery_log_shows_the_attempts(&server).await;
    let stream = stream_dir(&server, "retry");
    let mut stored: Vec<PathBuf> = ["aac", "m3u8", "ts"]
        .iter()
        .flat_map(|ext| files(&stream, ext))
        .collect();
    assert!(stored.len() >= 3, "{stored:?}");
    // StorageTime 2 s: the sweeper (every 1 s here) deletes files, segments and rows.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stored.iter().any(|f| f.exists()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    stored.retain(|f| f.exists());
    assert!(stored.is_empty(), "retention left {stored:?}");
    let search = server
        .call("SearchMedia", json!({"StreamIds": ["retry"]}))
        .await;
    assert_eq!(search["TotalCount"], 0);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// DescribeCallbackRecordsList: every attempt of the `retry` stream's events, the two
/// failures (HTTP 500, retried) and the deliveries, in both time forms; filters work.
async fn delivery_log_shows_the_attempts(server: &Server) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let iso = |s: i64| {
        let out = std::process::Command::new("date")
            .args(["-u", "-d", &format!("@{s}"), "+%Y-%m-%dT%H:%M:%SZ"])
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_owned()
    };
    let ask = |extra: Value| {
        let mut p = json!({"StartTime": iso(now - 600), "EndTime": iso(now + 60),
            "StreamName": "retry", "PageNum": 1, "PageSize": 100});
        for (k, v) in extra.as_object().unwrap() {
            p[k] = v.clone();
        }
        server.call("DescribeCallbackRecordsList", p)
    };
    let all = ask(json!({})).await;
    let list = all["DataInfoList"].as_array().unwrap().clone();
    let failed: Vec<&Value> = list.iter().filter(|e| e["ResultCode"] == 500).collect();
    let delivered: Vec<&Value> = list.iter().filter(|e| e["ResultCode"] == 0).collect();
    assert_eq!(failed.len(), 2, "{all}");
    assert!(delivered.len() >= 2, "{all}");
    assert_eq!(all["TotalNum"], list.len());
    for e in &list {
        assert_eq!(e["StreamId"], "retry");
        assert!(e["EventTime"].as_str().unwrap().ends_with('Z'), "{e}");
        let request: Value = serde_json::from_str(e["Request"].as_str().unwrap()).unwrap();
        assert!(
            request["sign"].is_string() && request["t"].is_i64(),
            "{request}"
        );
    }
    assert!(
        failed[0]["Response"].as_str().unwrap().contains("retrying"),
        "{}",
        failed[0]
    );
    let only_failed = ask(json!({"ResultCode": 500, "EventType": 100})).await;
    assert!(only_failed["DataInfoList"]
        .as_array()
        .unwrap()
        .iter()
        .all(|e| e["ResultCode"] != 0));
    let paged = ask(json!({"PageSize": 1, "PageNum": 2})).await;
    assert_eq!(paged["DataInfoList"].as_array().unwrap().len(), 1);
    assert_eq!(paged["TotalPage"], list.len());
    // Beijing time in, Beijing time out.
    let beijing = |s: i64| iso(s + 8 * 3600).replace('T', " ").replace('Z', "");
    let local = ask(json!({"StartTime": beijing(now - 600), "EndTime": beijing(now + 60)})).await;
    let first = &local["DataInfoList"][0]["EventTime"];
    assert_eq!(first.as_str().unwrap().len(), 19, "{local}");
    assert_eq!(local["TotalNum"], list.len());
    // More than a day: refused.
    let long = server
        .call(
            "DescribeCallbackRecordsList",
            json!({"StartTime": iso(now - 90_000),
            "EndTime": iso(now), "PageNum": 1, "PageSize": 10}),
        )
        .await;
    assert_eq!(long["Error"]["Code"], "InvalidParameterValue", "{long}");
}

#[tokio::test(flavor = "multi_thread")]
async fn enhanced_rtmp_hevc_publisher_is_recorded() {
    let (server, dir) = start("dp-hevc").await;
    configure(&server, all_formats(), 0, None).await;
    let raw = dir.join("x265.hevc");
    common::hevc::x265(&raw, 3);
    let flv = dir.join("hevc.flv");
    let frames = common::hevc::enhanced_hevc_flv(&raw, &flv);
    // liverec's own load publisher: rml_rtmp's client session sending the E-RTMP tags.
    let summary = common::hevc::publish_flv(&flv, &server.rtmp("live", "hevc"));
    assert_eq!(
        summary["framesSent"],
        frames as u64 + 1,
        "frames and the sequence start"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let stream = stream_dir(&server, "hevc");
    for ext in ["flv", "mp4", "m3u8"] {
        let list = files(&stream, ext);
        assert!(!list.is_empty(), "no {ext}");
        let mut video = 0;
        for f in &list {
            // Debian's ffmpeg 5.1 predates Enhanced RTMP in FLV: the FLV recording is
            // checked through liverec's own remux to MPEG-TS.
            let f = &if ext == "flv" {
                let ts = dir.join("from-flv.ts");
                let status = Command::new(env!("CARGO_BIN_EXE_liverec"))
                    .arg("remux")
                    .arg(f)
                    .args(["--to", "ts", "--out"])
                    .arg(&ts)
                    .stdout(Stdio::null())
                    .status()
                    .unwrap();
                assert!(status.success());
                ts
            } else {
                f.clone()
            };
            decodes(f);
            video += count_by_type(&packets(f))
                .get("video")
                .copied()
                .unwrap_or(0);
        }
        assert_eq!(video, frames, "{ext}: every HEVC frame");
    }
    let mp4 = files(&stream, "mp4");
    assert_eq!(
        ffprobe(
            &["-show_entries", "stream=codec_name", "-of", "csv=p=0"],
            &mp4[0]
        )
        .trim(),
        "hevc"
    );
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_oversized_chunks_and_idle_sockets_are_dropped_alone() {
    use rml_rtmp::handshake::{Handshake, HandshakeProcessResult, PeerType};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (server, dir) = start("dp-abuse").await;
    configure(&server, json!({"FlvParam": {"Enable": 1}}), 0, None).await;
    let addr = format!("127.0.0.1:{}", server.rtmp_port);
    let opened = Instant::now();
    // Slowloris: connections that never finish the handshake.
    let mut idle = Vec::new();
    for _ in 0..50 {
        idle.push(tokio::net::TcpStream::connect(&addr).await.unwrap());
    }
    // Garbage instead of a handshake.
    let mut garbage = tokio::net::TcpStream::connect(&addr).await.unwrap();
    garbage.write_all(&[0x42u8; 4096]).await.unwrap();
    // A valid handshake, then a SetChunkSize of 1 GiB.
    let mut big = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let mut hs = Handshake::new(PeerType::Client);
    big.write_all(&hs.generate_outbound_p0_and_p1().unwrap())
        .await
        .unwrap();
    let mut buf = vec![0u8; 8192];
    loop {
        let n = big.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed during the handshake");
        match hs.process_bytes(&buf[..n]).unwrap() {
            HandshakeProcessResult::InProgress { response_bytes } => {
                big.write_all(&response_bytes).await.unwrap()
            }
            HandshakeProcessResult::Completed { response_bytes, .. } => {
                big.write_all(&response_bytes).await.unwrap();
                break;
            }
        }
    }
    // Chunk stream 2, type 0 header, timestamp 0, length 4, type 1 (SetChunkSize), stream 0.
    let mut set_chunk = vec![0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0];
    set_chunk.extend_from_slice(&(1u32 << 30).to_be_bytes());
    big.write_all(&set_chunk).await.unwrap();
    // Meanwhile a real push records normally.
    assert!(push(&server.rtmp("live", "fine"), 2.0, None, false));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recorded = files(&stream_dir(&server, "fine"), "flv");
    assert_eq!(recorded.len(), 1);
    decodes(&recorded[0]);
    for (name, socket) in [("garbage", &mut garbage), ("chunk size", &mut big)] {
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                match socket.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "{name} connection not dropped");
    }
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

#[tokio::test(flavor = "multi_thread")]
async fn a_storage_error_stops_that_recording_only_and_is_announced() {
    let (server, dir) = start("dp-storage").await;
    let cb = receiver(0).await;
    let formats =
        json!({"FlvParam": {"Enable": 1, "RecordInterval": 60}, "HlsParam": {"Enable": 1}});
    configure(&server, formats, 2, None).await;
    callbacks(
        &server,
        &cb,
        &["RecordNotifyUrl", "RecordExceptionNotifyUrl"],
    )
    .await;
    // A file where the stream's directory should be: every commit there fails.
    let blocked = stream_dir(&server, "blocked");
    std::fs::create_dir_all(blocked.parent().unwrap()).unwrap();
    std::fs::write(&blocked, b"not a directory").unwrap();
    let url = server.rtmp("live", "blocked");
    let failing = std::thread::spawn(move || push(&url, 5.0, None, false));
    assert!(push(&server.rtmp("live", "healthy"), 5.0, None, false));
    let _ = failing.join();
    // One exception per output of the blocked stream (FLV and HLS).
    let exceptions = cb.wait_for(341, 2, Duration::from_secs(10)).await;
    assert_eq!(exceptions.len(), 2, "{exceptions:?}");
    for e in &exceptions {
        assert_eq!(e["stream_id"], "blocked");
        assert_eq!(e["exception_level"], "error");
        check_signature(e);
    }
    // The healthy stream: 3 FLV files and its HLS recording after the 2-s splice wait.
    cb.wait_for(100, 4, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let files_ok = cb.of_type(100);
    assert!(
        files_ok.iter().all(|e| e["stream_id"] == "healthy"),
        "a recording that lost files is not announced: {files_ok:?}"
    );
    assert_eq!(files_ok.len(), 4, "the other stream records all its files");
    assert!(std::fs::read_dir(server.data.join(".scratch"))
        .unwrap()
        .next()
        .is_none());
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

/// Bytes in the scratch files of `ext` now.
fn scratch_bytes(data: &std::path::Path, ext: &str) -> u64 {
    std::fs::read_dir(data.join(".scratch"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == ext))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// A store that takes 2 s per commit: the push keeps reading and recording meanwhile
/// (its files are committed by the finalisation worker, off the read path), and a
/// shutdown right after the push drains the worker's queue — every file stored.
#[tokio::test(flavor = "multi_thread")]
async fn a_slow_store_never_stalls_the_push_and_shutdown_drains_the_queue() {
    let dir = temp_dir("dp-slow-store");
    let data = dir.join("data");
    let cfg = dir.join("liverec.toml");
    std::fs::write(
        &cfg,
        format!("[testing]\nrecord_interval_seconds = {INTERVAL_S}\ncommit_delay_ms = 2000\n[retention]\nmin_free_bytes = 16777216\n"),
    )
    .unwrap();
    let server = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    configure(
        &server,
        json!({"FlvParam": {"Enable": 1}, "HlsParam": {"Enable": 1}}),
        0,
        None,
    )
    .await;
    // A paced replay of encoded media: no encoder competes for the CPU (12 tests share
    // 2 cores), so a pause in the files' growth is the server's.
    let tags = media_flv(&dir.join("media.flv"), 10);
    let port = server.rtmp_port;
    let pushing = tokio::spawn(async move {
        let mut publisher = Publisher::connect(port, "live").await;
        let answer = publisher.publish("cam").await;
        publisher.replay(&tags, |_, t| t.timestamp_ms).await;
        answer == Answer::Accepted
    });
    // The FLV scratch files keep growing: no stall near the 2 s a commit takes.
    let mut last = (Instant::now(), 0u64);
    let mut longest = Duration::ZERO;
    let started = Instant::now();
    while !pushing.is_finished() {
        let bytes = scratch_bytes(&data, "flv");
        if bytes != last.1 {
            if started.elapsed() > Duration::from_secs(2) {
                longest = longest.max(last.0.elapsed());
            }
            last = (Instant::now(), bytes);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(pushing.await.unwrap(), "publish accepted");
    assert!(
        longest < Duration::from_millis(1500),
        "FLV writing stalled {longest:?}"
    );
    let pending = std::fs::read_dir(data.join(".scratch")).unwrap().count();
    assert!(pending > 0, "commits still waiting when the push ends");
    assert!(
        server.stop_within(Duration::from_secs(60)),
        "stopped by itself"
    );
    let stored = files(&stream_dir_of(&data, "cam"), "flv");
    assert!(stored.len() >= 5, "{stored:?}");
    stored.iter().for_each(|f| decodes(f));
    assert_eq!(
        files(&stream_dir_of(&data, "cam"), "m3u8").len(),
        1,
        "the final playlist"
    );
    assert_eq!(
        std::fs::read_dir(data.join(".scratch")).unwrap().count(),
        0,
        "queue drained"
    );
    let restarted = Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await;
    let found = restarted.call("SearchMedia", json!({"Limit": 100})).await;
    assert_eq!(found["TotalCount"], stored.len() + 1, "every file indexed");
    restarted.stop();
    let _ = std::fs::remove_dir_all(dir);
}
