use serde_json::json;
use tokio::sync::mpsc;

use super::fixture::{inputs, plane, stream_tags, Plane};
use crate::config::push_auth::PushAuthKey;
use crate::server::data::push::{Admitted, PublishRequest, Push, RefusalKind};
use crate::server::db::{Change, Search};

fn request(app: &str, stream_key: &str) -> PublishRequest {
    PublishRequest {
        app: app.into(),
        stream_key: stream_key.into(),
        url: format!("rtmp://d.example/{app}"),
        peer: "127.0.0.1:50000".parse().unwrap(),
        local: "127.0.0.1:1935".parse().unwrap(),
        protocol: "rtmp",
        mix: Default::default(),
    }
}

async fn refusal(p: &Plane, app: &str, key: &str) -> Option<RefusalKind> {
    let mut slot = p.slot();
    let (tx, _) = mpsc::unbounded_channel();
    match Admitted::check(&p.app, &mut slot, request(app, key), tx).await {
        Ok(admitted) => {
            admitted.abandon(&mut slot).await;
            None
        }
        Err(refusal) => Some(refusal.kind),
    }
}

async fn start(p: &Plane, key: &str) -> (Push, crate::server::data::admission::Slot) {
    let mut slot = p.slot();
    let (tx, _) = mpsc::unbounded_channel();
    let admitted = Admitted::check(&p.app, &mut slot, request("live", key), tx)
        .await
        .unwrap();
    (admitted.start().await, slot)
}

#[tokio::test]
async fn publishes_are_refused_for_their_names_their_key_a_live_duplicate_and_lack_of_room() {
    let p = plane("refusals", 60, 65_536).await;
    assert_eq!(refusal(&p, "live", "cam").await, None);
    assert_eq!(refusal(&p, "live", "..").await, Some(RefusalKind::BadName));
    assert_eq!(refusal(&p, ".", "cam").await, Some(RefusalKind::BadName));
    assert_eq!(
        refusal(&p, "live", &"x".repeat(300)).await,
        Some(RefusalKind::BadName)
    );
    let (push, mut slot) = start(&p, "cam").await;
    assert_eq!(
        refusal(&p, "live", "cam").await,
        Some(RefusalKind::BadName),
        "already live"
    );
    push.end(&mut slot, "test").await;
    assert_eq!(refusal(&p, "live", "cam").await, None, "free again");
    let key = PushAuthKey {
        domain_name: "d.example".into(),
        enable: 1,
        master_auth_key: "secret".into(),
        auth_delta: 3600,
        ..PushAuthKey::default()
    };
    p.change(move |state| {
        state.push_auth.insert(key.domain_name.clone(), key.clone());
        Ok(vec![Change::PutPushAuthKey(key.clone())])
    })
    .await;
    assert_eq!(
        refusal(&p, "live", "cam").await,
        Some(RefusalKind::Unauthorized)
    );

    // A file-handle budget of one push: the second is refused for room.
    let small = plane("room", 60, 100).await;
    let (push, mut slot) = start(&small, "one").await;
    assert_eq!(
        refusal(&small, "live", "two").await,
        Some(RefusalKind::NoRoom)
    );
    push.end(&mut slot, "test").await;
    assert_eq!(refusal(&small, "live", "two").await, None);
}

/// A task created mid-push records from the last keyframe, whether the GOP comes from
/// the GOP cache (no rule FLV output) or from the rule FLV output's open file.
#[tokio::test]
async fn a_task_started_mid_push_records_from_the_last_keyframe() {
    for (name, template) in [
        (
            "gop-cache",
            json!({"TemplateName": "hls", "HlsParam": {"Enable": 1}}),
        ),
        (
            "flv-file",
            json!({"TemplateName": "flv", "FlvParam": {"Enable": 1}}),
        ),
    ] {
        let p = plane(name, 60, 65_536).await;
        p.record(template).await;
        let (mut push, mut slot) = start(&p, "cam").await;
        let tags = stream_tags(0, 4_000, true);
        let split = tags.iter().position(|t| t.timestamp_ms >= 2_500).unwrap();
        let inputs = inputs(&tags);
        for input in &inputs[..split] {
            push.input(input).await;
        }
        let before = push.active_outputs();
        let now = crate::server::notify::now_ms() / 1000;
        p.task("t1", json!({"DomainName": "d.example", "AppName": "live", "StreamName": "cam", "StartTime": now - 1, "EndTime": now + 3600, "TemplateId": 0})).await;
        push.replan().await;
        assert_eq!(push.active_outputs(), before + 1, "{name}");
        for input in &inputs[split..] {
            push.input(input).await;
        }
        push.end(&mut slot, "test").await;
        let (_, rows) = p
            .app
            .db
            .search(&Search {
                task_id: Some("t1".into()),
                limit: 10,
                ..Search::default()
            })
            .await
            .unwrap();
        let row = rows
            .first()
            .unwrap_or_else(|| panic!("{name}: the task's recording is indexed"));
        // From the keyframe at 2 s to the end at 4 s.
        assert!(
            (1_900..=2_100).contains(&row.duration_ms),
            "{name}: {}",
            row.duration_ms
        );
        let bytes = p.object(&row.storage_path).await;
        assert!(!bytes.is_empty());
    }
}

#[tokio::test]
async fn an_interrupted_hls_push_parks_and_the_next_push_continues_its_playlist() {
    let p = plane("splice", 60, 65_536).await;
    p.record(json!({"TemplateName": "hls", "HlsParam": {"Enable": 1}, "HlsSpecialParam": {"FlowContinueDuration": 60}})).await;
    for round in 0..2 {
        let (mut push, mut slot) = start(&p, "cam").await;
        assert_eq!(p.app.live.parked_count(), 0, "round {round}: taken over");
        for input in inputs(&stream_tags(0, 7_000, true)) {
            push.input(&input).await;
        }
        push.end(&mut slot, "test").await;
        assert_eq!(
            p.app.live.parked_count(),
            1,
            "round {round}: parked, not final"
        );
    }
    let (_, rows) = p
        .app
        .db
        .search(&Search {
            limit: 10,
            ..Search::default()
        })
        .await
        .unwrap();
    assert!(rows.is_empty(), "nothing announced while parked");
    for (stream, hls) in p.app.live.take_all_parked() {
        crate::server::data::publish::finish_parked(&p.app, &stream, &hls).await;
    }
    let (_, rows) = p
        .app
        .db
        .search(&Search {
            limit: 10,
            ..Search::default()
        })
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "one recording for both pushes");
    let playlist = String::from_utf8(p.object(&rows[0].storage_path).await.to_vec()).unwrap();
    assert_eq!(
        playlist.matches("#EXT-X-DISCONTINUITY").count(),
        1,
        "{playlist}"
    );
    assert_eq!(playlist.matches(".ts").count(), 4, "{playlist}");
    assert!(playlist.ends_with("#EXT-X-ENDLIST\n"));
    assert!(
        (13_000..=14_500).contains(&rows[0].duration_ms),
        "{}",
        rows[0].duration_ms
    );
}

/// An encoder that reconnects while its last push is still ending (storing its last
/// files) is let in once that push is over, and continues its parked playlist.
#[tokio::test]
async fn a_push_that_reconnects_while_the_last_one_ends_waits_and_takes_its_playlist_over() {
    let p = plane("reconnect", 60, 65_536).await;
    p.record(json!({"TemplateName": "hls", "HlsParam": {"Enable": 1}, "HlsSpecialParam": {"FlowContinueDuration": 60}})).await;
    let (mut push, mut slot) = start(&p, "cam").await;
    for input in inputs(&stream_tags(0, 7_000, true)) {
        push.input(&input).await;
    }
    let ending = tokio::spawn(async move { push.end(&mut slot, "test").await });
    tokio::task::yield_now().await;
    assert!(
        !p.app.live.is_live("d.example/live/cam"),
        "its connection is gone"
    );
    let (mut push, mut slot) = start(&p, "cam").await;
    ending.await.unwrap();
    assert_eq!(p.app.live.parked_count(), 0, "taken over");
    assert!(p.app.live.is_live("d.example/live/cam"));
    for input in inputs(&stream_tags(0, 3_000, true)) {
        push.input(&input).await;
    }
    push.end(&mut slot, "test").await;
    assert_eq!(p.app.live.parked_count(), 1, "one playlist parked");
}
