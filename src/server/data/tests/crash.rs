//! A crash between storing a final file and indexing it: recovery resumes the copy its
//! sidecar names (never a second object), indexes and announces it once, and clears
//! scratch space.

use serde_json::json;

use super::fixture::{plane, Plane};
use crate::config::template::Format;
use crate::record::session::{DoneFile, MediaInfo, OutputSpec};
use crate::server::data::publish::write_sidecar;
use crate::server::data::recovery::recover;
use crate::server::data::stream::{Committing, PushStream, Sidecar};
use crate::server::db::Search;

const DIR: &str = "d.example/live/cam";

fn sidecar(scratch: &str, key: &str) -> Sidecar {
    let spec = OutputSpec {
        format: Format::Flv,
        interval_ms: Some(60_000),
        vod_file_name: "{StreamID}_{StartYear}".into(),
        task_id: String::new(),
        template_id: 1,
        storage_time_s: 0,
        flow_continue_s: 0,
        ends_at_ms: None,
        recording_id: format!("r-{scratch}"),
        hls_segments: Default::default(),
    };
    let done = DoneFile {
        name: key.rsplit('/').next().unwrap().to_owned(),
        start_wall_ms: 1_764_000_000_000,
        end_wall_ms: 1_764_000_060_000,
        duration_ms: 60_000,
        bytes: 11,
        frames: 1_500,
        media: MediaInfo::default(),
        media_start_ms: 0,
    };
    Sidecar {
        stream: PushStream {
            domain: "d.example".into(),
            app: "live".into(),
            stream: "cam".into(),
            stream_param: String::new(),
            mix: Default::default(),
        },
        spec,
        file_id: format!("id-{scratch}"),
        scratch_name: scratch.to_owned(),
        opened_ms: 1_764_000_000_000,
        media: MediaInfo::default(),
        node: String::new(),
        committing: Some(Committing {
            key: key.to_owned(),
            done,
        }),
    }
}

/// Leaves scratch file `scratch` (11 bytes) with a sidecar naming `key`, as a crash
/// would after the store was asked to take it.
fn crashed(p: &Plane, scratch: &str, key: &str) {
    std::fs::write(p.app.storage.scratch_path(scratch), b"eleven byte").unwrap();
    let name = format!("{scratch}.json");
    write_sidecar(&p.app, &name, &sidecar(scratch, key)).unwrap();
}

#[tokio::test]
async fn recovery_resumes_the_copy_its_sidecar_names_and_indexes_it_once() {
    let p = plane("crash-commit", 60, 65_536).await;
    p.callbacks("http://127.0.0.1:9/cb").await;
    // Stored, not yet indexed.
    let stored = format!("{DIR}/stored.flv");
    crashed(&p, "a.flv", &stored);
    let a = p.app.storage.scratch_path("a.flv");
    p.app
        .storage
        .store_copy("a.flv", &stored, false)
        .await
        .unwrap();
    assert!(a.exists(), "storing leaves the scratch copy");
    // Interrupted before the store had it.
    let pending = format!("{DIR}/pending.flv");
    crashed(&p, "b.flv", &pending);
    // Indexed and its scratch copy removed: only the sidecar was left.
    crashed(&p, "c.flv", &format!("{DIR}/done.flv"));
    std::fs::remove_file(p.app.storage.scratch_path("c.flv")).unwrap();
    let before = p.events();

    recover(&p.app).await;

    let after = p.events()[before.len()..].to_vec();
    assert_eq!(
        after,
        vec![format!("put {pending}")],
        "one upload, no second copy"
    );
    let search = Search {
        limit: 100,
        ..Search::default()
    };
    let mut rows = p.app.db.search(&search).await.unwrap().1;
    rows.sort_by(|x, y| x.storage_path.cmp(&y.storage_path));
    let paths: Vec<&str> = rows.iter().map(|r| r.storage_path.as_str()).collect();
    assert_eq!(paths, [pending.as_str(), stored.as_str()]);
    assert!(rows
        .iter()
        .all(|r| r.duration_ms == 60_000 && r.size_bytes == 11));
    assert_eq!(&p.object(&pending).await[..], b"eleven byte");
    assert_eq!(
        p.app.notifier.pending().await.unwrap(),
        2,
        "{}",
        json!(paths)
    );
    let left: Vec<_> = std::fs::read_dir(p.app.storage.scratch_dir())
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "scratch space cleared: {left:?}");

    // Recovering the same sidecar again changes nothing.
    crashed(&p, "a.flv", &stored);
    recover(&p.app).await;
    assert_eq!(p.events().len(), before.len() + 1);
    assert_eq!(p.app.db.search(&search).await.unwrap().0, 2);
}
