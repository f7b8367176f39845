use serde_json::json;
use tokio::sync::mpsc;

use super::fixture::{inputs, plane, plane_with, stream_tags, Plane};
use crate::server::data::push::{Admitted, PublishRequest};
use crate::server::db::{Recording, Search};

/// The storage effects of one push of 8 s recorded as FLV (1 s files) and HLS, in
/// order: the worker handles a push's files one by one, as the session closed them.
#[tokio::test]
async fn the_store_sees_each_file_once_and_each_playlist_after_its_segments() {
    store_sees_each_file_once(plane("record", 1, 65_536).await).await;
}

/// The same with HLS segments held in memory on their way to the store (the plane above
/// has no room for any: all in scratch space).
#[tokio::test]
async fn segments_in_memory_reach_the_store_alike_and_release_their_memory() {
    let p = plane_with("record-memory", 1, 65_536, 64 << 20).await;
    let app = std::sync::Arc::clone(&p.app);
    store_sees_each_file_once(p).await;
    assert_eq!(
        app.storage.segment_memory(),
        (0, 2),
        "both segments in memory"
    );
}

async fn store_sees_each_file_once(p: Plane) {
    let template =
        json!({"TemplateName": "all", "FlvParam": {"Enable": 1}, "HlsParam": {"Enable": 1}});
    p.record(template).await;
    p.callbacks("http://127.0.0.1:9/cb").await;
    push_once(&p, 8_000).await;
    let events = p.events();
    let shown = events.join("\n");
    let kinds: Vec<String> = events.iter().map(|e| kind(e)).collect();
    assert_eq!(kinds, expected_kinds(), "{shown}");
    let puts: Vec<&str> = events
        .iter()
        .filter_map(|e| e.strip_prefix("put "))
        .collect();
    for key in puts.iter().filter(|k| !k.ends_with(".m3u8")) {
        assert_eq!(
            puts.iter().filter(|k| k == &key).count(),
            1,
            "{key} once\n{shown}"
        );
    }
    let rows = indexed(&p).await;
    let hls = rows
        .iter()
        .find(|r| r.format == "hls")
        .expect("the HLS recording is indexed");
    let final_at = puts.iter().position(|k| *k == hls.storage_path).unwrap();
    let playlist = String::from_utf8(p.object(&hls.storage_path).await.to_vec()).unwrap();
    for line in playlist.lines().filter(|l| l.ends_with(".ts")) {
        let at = puts.iter().position(|k| k.ends_with(line)).expect(line);
        assert!(at < final_at, "{line} before the playlist\n{shown}");
    }
    // Every file indexed, at the key it was stored under; one callback per file and
    // the push's begin and end.
    assert_eq!(rows.len(), 9, "{rows:?}");
    for row in &rows {
        assert!(
            puts.contains(&row.storage_path.as_str()),
            "{}",
            row.storage_path
        );
        assert!(row.duration_ms > 0 && row.size_bytes > 0);
    }
    assert_eq!(p.app.notifier.pending().await.unwrap(), 11);
    assert_eq!(p.app.storage.segment_memory().0, 0, "released once stored");
}

async fn indexed(p: &Plane) -> Vec<Recording> {
    let search = Search {
        limit: 100,
        ..Search::default()
    };
    p.app.db.search(&search).await.unwrap().1
}

/// One push of `cam` lasting `ms` of media, fed at once.
async fn push_once(p: &Plane, ms: u32) {
    let mut slot = p.slot();
    let request = PublishRequest {
        app: "live".into(),
        stream_key: "cam".into(),
        url: "rtmp://d.example/live".into(),
        peer: "127.0.0.1:50000".parse().unwrap(),
        local: "127.0.0.1:1935".parse().unwrap(),
        protocol: "rtmp",
        mix: Default::default(),
    };
    let (control, _) = mpsc::unbounded_channel();
    let admitted = Admitted::check(&p.app, &mut slot, request, control)
        .await
        .unwrap();
    let mut push = admitted.start().await;
    for input in inputs(&stream_tags(0, ms, true)) {
        push.input(&input).await;
    }
    push.end(&mut slot, "test").await;
}

/// The storage effects of [`push_once`] of 8 s, as kinds.
fn expected_kinds() -> Vec<&'static str> {
    let mut expected = vec!["put flv"; 6];
    expected.extend([
        "put segment 0",
        "put growing playlist",
        "put flv",
        "put flv",
    ]);
    expected.extend([
        "put segment 1",
        "put growing playlist",
        "put final playlist",
    ]);
    expected.push("delete growing playlist");
    expected
}

/// What a store event did, without the generated names.
fn kind(event: &str) -> String {
    let (verb, key) = event.split_once(' ').unwrap_or((event, ""));
    let name = key.rsplit('/').next().unwrap_or(key);
    let what = match name.rsplit_once('.') {
        Some((_, "flv")) => "flv".to_owned(),
        Some((stem, "ts")) => match stem.rsplit_once('_') {
            Some((_, n)) => format!("segment {}", n.parse::<u32>().unwrap_or(u32::MAX)),
            None => "ts".to_owned(),
        },
        // Growing playlists are named by the recording id (hex), finals by VodFileName.
        Some((stem, "m3u8")) if stem.chars().all(|c| c.is_ascii_hexdigit()) => {
            "growing playlist".to_owned()
        }
        Some((_, "m3u8")) => "final playlist".to_owned(),
        _ => name.to_owned(),
    };
    format!("{verb} {what}")
}
