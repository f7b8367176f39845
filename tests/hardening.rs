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
