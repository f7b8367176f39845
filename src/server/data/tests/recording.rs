use serde_json::json;
use tokio::sync::mpsc;

use super::fixture::{inputs, plane, stream_tags};
use crate::server::data::push::{Admitted, PublishRequest};
use crate::server::db::Search;

/// What the store saw for one push of 8 s recorded as FLV (1 s files) and HLS, printed
/// on failure.
#[tokio::test]
async fn the_store_sees_each_file_once_and_each_playlist_after_its_segments() {
    let p = plane("record", 1, 65_536).await;
    p.record(json!({"TemplateName": "all", "FlvParam": {"Enable": 1}, "HlsParam": {"Enable": 1}}))
        .await;
    p.callbacks("http://127.0.0.1:9/cb").await;
    let mut slot = p.slot();
    let request = PublishRequest {
        app: "live".into(),
        stream_key: "cam".into(),
        url: "rtmp://d.example/live".into(),
        peer: "127.0.0.1:50000".parse().unwrap(),
        local: "127.0.0.1:1935".parse().unwrap(),
    };
    let admitted = Admitted::check(&p.app, &mut slot, request, mpsc::unbounded_channel().0)
        .await
        .unwrap();
    let mut push = admitted.start().await;
    for input in inputs(&stream_tags(0, 8_000, true)) {
        push.input(&input).await;
    }
    push.end(&mut slot, "test").await;
    let events = p.events();
    let shown = events.join("\n");
    let puts: Vec<&str> = events
        .iter()
        .filter_map(|e| e.strip_prefix("put "))
        .collect();
    // The storage effects in order, as kinds: the worker handles a push's files one by
    // one, as the session closed them.
    let kinds: Vec<String> = events.iter().map(|e| kind(e)).collect();
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
    assert_eq!(kinds, expected, "{shown}");

    // FLV: eight 1-second files, each stored once.
    let flv: Vec<&&str> = puts.iter().filter(|k| k.ends_with(".flv")).collect();
    assert_eq!(flv.len(), 8, "{shown}");
    // HLS: segments at 6 s and at the end, each stored once and before any playlist
    // naming it; the growing playlist after each; the final playlist last of all.
    let segments: Vec<&&str> = puts.iter().filter(|k| k.ends_with(".ts")).collect();
    assert_eq!(segments.len(), 2, "{shown}");
    for key in flv.iter().chain(&segments) {
        assert_eq!(
            puts.iter().filter(|k| k == key).count(),
            1,
            "{key} once\n{shown}"
        );
    }
    let (_, rows) = p
        .app
        .db
        .search(&Search {
            limit: 100,
            ..Search::default()
        })
        .await
        .unwrap();
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
    let last_hls = puts
        .iter()
        .rposition(|k| k.ends_with(".ts") || k.ends_with(".m3u8"));
    assert_eq!(last_hls, Some(final_at), "the final playlist last\n{shown}");
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
