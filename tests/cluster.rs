//! Several nodes, one PostgreSQL, one bucket: `liverec serve` processes on loopback ports
//! sharing a throwaway PostgreSQL 15 cluster and an `s3s-fs` S3 server, pushed to with a
//! real ffmpeg, their recordings checked with ffprobe where the S3 server keeps them.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::postgres::Postgres;
use common::publisher::{Answer, Publisher};
use common::recording::*;
use common::s3::S3;
use common::{receiver, temp_dir, Server};
use serde_json::{json, Value};

/// A cluster: the database, the bucket and its nodes.
struct Cluster {
    /// The database's name.
    database: String,
    _s3: S3,
    s3_root: PathBuf,
    nodes: Vec<Option<Server>>,
    dir: PathBuf,
}

/// The config file of node `name` on `database` and `s3`.
fn node_config(dir: &Path, name: &str, database: &str, s3: &S3) -> PathBuf {
    let node_dir = dir.join(name);
    std::fs::create_dir_all(&node_dir).unwrap();
    let extra = format!(
        "{}[database]\nurl = \"{database}\"\nnode_id = \"{name}\"\n",
        s3.storage_toml("rec")
    );
    config(&node_dir, &extra)
}

async fn start_node(dir: &Path, name: &str, database: &str, s3: &S3) -> Server {
    let cfg = node_config(dir, name, database, s3);
    let data = dir.join(name).join("data");
    Server::start_with(&data, None, &["--config", cfg.to_str().unwrap()]).await
}

impl Cluster {
    async fn start(name: &str, nodes: usize) -> Cluster {
        let dir = temp_dir(name);
        let database = Postgres::shared().create_database(name);
        let s3_root = dir.join("s3");
        let s3 = S3::start(&s3_root);
        let mut started = Vec::new();
        for i in 1..=nodes {
            started.push(Some(
                start_node(&dir, &format!("n{i}"), &database, &s3).await,
            ));
        }
        Cluster {
            database: database.rsplit('/').next().unwrap().to_owned(),
            _s3: s3,
            s3_root,
            nodes: started,
            dir,
        }
    }

    /// Runs `sql` in the cluster's database.
    fn sql(&self, sql: &str) -> String {
        Postgres::shared().psql_in(&self.database, sql)
    }

    fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().unwrap()
    }

    /// Objects of stream `stream` with extension `ext`, in the bucket.
    fn objects(&self, stream: &str, ext: &str) -> Vec<PathBuf> {
        let dir = self
            .s3_root
            .join(common::s3::BUCKET)
            .join("rec/localhost/live")
            .join(stream);
        let mut out: Vec<PathBuf> = files(&dir, ext)
            .into_iter()
            .filter(|p| {
                !p.file_name().unwrap().to_string_lossy().starts_with('.')
                    && p.extension().is_some_and(|e| e == ext)
            })
            .collect();
        out.sort();
        out
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in self.nodes.iter_mut().filter_map(Option::take) {
            node.stop();
        }
        if std::thread::panicking() {
            eprintln!("cluster kept for a look: {}", self.dir.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// The event ids of callbacks of `event_type`, asserting each arrived once.
fn once_each(events: &[Value]) -> BTreeSet<String> {
    let ids: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["file_id"].as_str().unwrap_or(""),
                e["sequence"].as_str().unwrap_or("")
            )
        })
        .collect();
    let unique: BTreeSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a callback arrived twice: {ids:?}");
    unique
}

/// A template made on node 1 governs a push to node 2; every format lands in the bucket,
/// plays from either node's /vod (ranges too), is announced once and found by
/// SearchMedia on both; /healthz names the node and both parts.
#[tokio::test(flavor = "multi_thread")]
async fn recordings_land_in_the_bucket_and_play_from_any_node() {
    let cluster = Cluster::start("cl-formats", 2).await;
    let (n1, n2) = (cluster.node(0), cluster.node(1));
    let cb = receiver(0).await;
    configure(n1, all_formats(), 0, Some(&cb)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(push(&n2.rtmp("live", "cam"), 5.0, None, false));
    let record = cb.wait_for(100, 10, Duration::from_secs(30)).await;
    assert_eq!(record.len(), 10, "{record:?}");
    once_each(&record);
    for format in ["flv", "mp4", "aac", "m3u8"] {
        let objects = cluster.objects("cam", format);
        let want = if format == "m3u8" { 1 } else { 3 };
        assert_eq!(objects.len(), want, "{format}: {objects:?}");
        for object in &objects {
            decodes(object);
        }
    }
    for event in &record {
        let url = event["video_url"].as_str().unwrap();
        let path = url.split_once("/vod/").unwrap().1;
        for node in [n1, n2] {
            let got = node
                .client
                .get(format!("{}vod/{path}", node.url()))
                .send()
                .await
                .unwrap();
            assert_eq!(got.status(), 200, "{url} from node {}", node.port);
            let len = got.bytes().await.unwrap().len() as u64;
            if event["file_format"] != "hls" {
                assert_eq!(len, event["file_size"].as_u64().unwrap());
            }
        }
    }
    let mp4 = record.iter().find(|e| e["file_format"] == "mp4").unwrap();
    let path = mp4["video_url"]
        .as_str()
        .unwrap()
        .split_once("/vod/")
        .unwrap()
        .1;
    let partial = n1
        .client
        .get(format!("{}vod/{path}", n1.url()))
        .header("Range", "bytes=4-11")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 206);
    assert_eq!(&partial.bytes().await.unwrap()[..], b"ftypisom");
    for node in [n1, n2] {
        let search = node
            .call("SearchMedia", json!({"StreamIds": ["cam"], "Limit": 100}))
            .await;
        assert_eq!(search["TotalCount"], 10, "{search}");
        let health = node
            .client
            .get(format!("{}healthz", node.url()))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        let text = health.text().await.unwrap();
        assert!(
            text.contains("database: ok") && text.contains("store: ok"),
            "{text}"
        );
        // HLS segments went through memory, all of it given back once stored.
        let metrics = node.metrics().await;
        assert!(
            metrics.contains("\nliverec_segment_memory_bytes 0\n"),
            "{metrics}"
        );
    }
    // A task made on node 2 is listed by node 1 (DescribeRecordTask).
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let task = json!({"DomainName": "localhost", "AppName": "live", "StreamName": "later",
        "StartTime": t + 3600, "EndTime": t + 7200});
    let created = n2.call("CreateRecordTask", task).await;
    let id = created["TaskId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let window = json!({"StartTime": t, "EndTime": t + 7200});
    let listed = n1.call("DescribeRecordTask", window).await;
    let ids: Vec<&str> = listed["TaskList"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|task| task["TaskId"].as_str())
        .collect();
    assert_eq!(ids, [id.as_str()], "{listed}");
    // Callbacks stay once each after the outbox has been idle a while on both nodes.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cb.of_type(100).len(), 10);
}

/// While a stream is live on node 1, a publish of it on node 2 is refused; once the
/// push ends, node 2 takes it. A push whose lease went to another node is ended.
#[tokio::test(flavor = "multi_thread")]
async fn a_live_stream_is_refused_on_another_node() {
    let cluster = Cluster::start("cl-owner", 2).await;
    let (n1, n2) = (cluster.node(0), cluster.node(1));
    configure(n1, json!({"FlvParam": {"Enable": 1}}), 0, None).await;
    let mut first = Publisher::connect(n1.rtmp_port, "live").await;
    assert_eq!(first.publish("dup").await, Answer::Accepted);
    let mut second = Publisher::connect(n2.rtmp_port, "live").await;
    let refused = second.publish("dup").await;
    assert!(
        matches!(&refused, Answer::Refused(code) if code == "NetStream.Publish.BadName"),
        "{refused:?}"
    );
    first.close().await;
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut again = Publisher::connect(n2.rtmp_port, "live").await;
        match again.publish("dup").await {
            Answer::Accepted => break,
            other => assert!(Instant::now() < deadline, "still refused: {other:?}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A push whose stream lease another node took (this node was cut off from the
    // database longer than the lease, and the stream was published there) is ended
    // when its lease is next renewed: the stream has one publisher again.
    let mut cut_off = Publisher::connect(n1.rtmp_port, "live").await;
    assert_eq!(cut_off.publish("taken").await, Answer::Accepted);
    let moved = cluster.sql(
        "UPDATE leases SET owner = 'elsewhere', epoch = epoch + 1, expires_ms = expires_ms + 60000 \
         WHERE name LIKE 'stream/%/live/taken' RETURNING owner",
    );
    assert_eq!(moved.trim(), "elsewhere");
    assert!(
        cut_off.closed_within(Duration::from_secs(8)).await,
        "the push whose lease went elsewhere was not ended"
    );
    // A stream live on node 1 is active as node 2 sees it; a forbid made through node
    // 2 ends it on node 1 and refuses it there.
    let mut live = Publisher::connect(n1.rtmp_port, "live").await;
    assert_eq!(live.publish("forbidden").await, Answer::Accepted);
    let names = json!({"DomainName": "localhost", "AppName": "live", "StreamName": "forbidden"});
    let state = n2.call("DescribeLiveStreamState", names.clone()).await;
    assert_eq!(state["StreamState"], "active");
    assert_eq!(
        n2.code("DropLiveStream", names.clone()).await,
        "UnsupportedOperation"
    );
    assert_eq!(n2.code("ForbidLiveStream", names).await, "ok");
    assert!(
        live.closed_within(Duration::from_secs(5)).await,
        "a forbid made through another node did not end the push"
    );
    let mut again = Publisher::connect(n1.rtmp_port, "live").await;
    assert!(matches!(
        again.publish("forbidden").await,
        Answer::Refused(_)
    ));
}

/// Pushes `seconds` to `url` in a thread of its own.
fn push_in_background(url: String, seconds: f64) -> std::thread::JoinHandle<bool> {
    std::thread::spawn(move || push(&url, seconds, None, false))
}

/// Pushes to `url` until a push is accepted and runs its `seconds` (a broadcaster
/// reconnecting while the stream's lease still names a dead node).
fn push_until_accepted(url: &str, seconds: f64, limit: Duration) {
    let deadline = Instant::now() + limit;
    while !push(url, seconds, None, false) {
        assert!(Instant::now() < deadline, "no node took the push");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// Waits until `node` serves the growing playlist of `stream` (recorded on any node):
/// its first segment is in the bucket. Polled rather than slept for: how soon that is
/// depends on the load (in CI, while the other cluster tests start their PostgreSQL
/// clusters, a push took 14 s to start).
async fn live_playlist_served(node: &Server, stream: &str) {
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let live = node
            .client
            .get(format!("{}live/localhost/live/{stream}.m3u8", node.url()))
            .send()
            .await
            .unwrap();
        if live.status() == 200 {
            let text = live.text().await.unwrap();
            assert!(text.contains("#EXT-X-PLAYLIST-TYPE:EVENT"), "{text}");
            return;
        }
        assert!(Instant::now() < deadline, "no live playlist of {stream}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The final playlists of `stream` in the bucket.
fn final_playlist(cluster: &Cluster, stream: &str) -> String {
    let playlists = cluster.objects(stream, "m3u8");
    assert_eq!(playlists.len(), 1, "{playlists:?}");
    for segment in cluster.objects(stream, "ts") {
        decodes(&segment);
    }
    std::fs::read_to_string(&playlists[0]).unwrap()
}

/// Node 2 serves the growing playlist of node 1's push. Node 1 dies (-9) mid-push; the
/// broadcaster reconnects to node 2 within the splice
/// timeout (once node 1's lease on the stream expired): one playlist, one
/// discontinuity, one callback.
#[tokio::test(flavor = "multi_thread")]
async fn a_push_cut_by_a_dead_node_continues_on_another() {
    let mut cluster = Cluster::start("cl-splice", 2).await;
    let cb = receiver(0).await;
    configure(
        cluster.node(0),
        json!({"HlsParam": {"Enable": 1}}),
        15,
        Some(&cb),
    )
    .await;
    // HLS segments are 6 s: one is in the bucket when node 1 dies, one is being written.
    let first = push_in_background(cluster.node(0).rtmp("live", "cut"), 60.0);
    // While node 1 records, node 2 serves its growing playlist too (`/live` → `/vod`):
    // node 1 dies once its first segment is in the bucket.
    live_playlist_served(cluster.node(1), "cut").await;
    cluster.nodes[0].take().unwrap().kill9();
    let _ = first.join();
    let again = cluster.node(1).rtmp("live", "cut");
    tokio::task::spawn_blocking(move || push_until_accepted(&again, 3.0, Duration::from_secs(15)))
        .await
        .unwrap();
    assert!(
        cb.of_type(100).is_empty(),
        "announced before the splice timeout"
    );
    let record = cb.wait_for(100, 1, Duration::from_secs(30)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cb.of_type(100).len(), 1, "{record:?}");
    let text = final_playlist(&cluster, "cut");
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY\n").count(), 1, "{text}");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let duration = record[0]["duration"].as_i64().unwrap();
    assert!((7..=11).contains(&duration), "{duration} s: {text}");
}

/// Node 1 dies (-9) mid-push and nobody pushes again: node 2 finalises and announces
/// node 1's HLS recording once the lease and the splice timeout have passed.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_nodes_hls_recording_is_finished_by_another() {
    let mut cluster = Cluster::start("cl-orphan", 2).await;
    let cb = receiver(0).await;
    configure(
        cluster.node(0),
        json!({"HlsParam": {"Enable": 1}}),
        3,
        Some(&cb),
    )
    .await;
    let first = push_in_background(cluster.node(0).rtmp("live", "orphan"), 60.0);
    live_playlist_served(cluster.node(1), "orphan").await;
    cluster.nodes[0].take().unwrap().kill9();
    let _ = first.join();
    let record = cb.wait_for(100, 1, Duration::from_secs(25)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(cb.of_type(100).len(), 1, "{record:?}");
    let text = final_playlist(&cluster, "orphan");
    assert_eq!(text.matches("#EXT-X-DISCONTINUITY").count(), 0, "{text}");
    assert!(text.ends_with("#EXT-X-ENDLIST\n"), "{text}");
    let url = record[0]["video_url"].as_str().unwrap();
    let path = url.split_once("/vod/").unwrap().1;
    let n2 = cluster.node(1);
    let got = n2
        .client
        .get(format!("{}vod/{path}", n2.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(got.status(), 200);
}

/// StorageTime on two nodes: the objects (an HLS recording: playlist and segments) and
/// the rows go once, and SearchMedia agrees on both nodes.
#[tokio::test(flavor = "multi_thread")]
async fn retention_deletes_objects_and_rows_once() {
    let cluster = Cluster::start("cl-retention", 2).await;
    let cb = receiver(0).await;
    let formats = json!({"AacParam": {"Enable": 1, "RecordInterval": 60, "StorageTime": 3},
        "HlsParam": {"Enable": 1, "StorageTime": 3}});
    configure(cluster.node(0), formats, 0, Some(&cb)).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(push(&cluster.node(1).rtmp("live", "old"), 1.0, None, false));
    let record = cb.wait_for(100, 2, Duration::from_secs(15)).await;
    assert_eq!(record.len(), 2, "{record:?}");
    let stored: Vec<PathBuf> = ["aac", "m3u8", "ts"]
        .iter()
        .flat_map(|ext| cluster.objects("old", ext))
        .collect();
    assert!(stored.len() >= 3, "{stored:?}");
    let deadline = Instant::now() + Duration::from_secs(15);
    while stored.iter().any(|f| f.exists()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let left: Vec<&PathBuf> = stored.iter().filter(|f| f.exists()).collect();
    assert!(left.is_empty(), "retention left {left:?}");
    for i in 0..2 {
        let search = cluster
            .node(i)
            .call("SearchMedia", json!({"StreamIds": ["old"]}))
            .await;
        assert_eq!(search["TotalCount"], 0, "{search}");
    }
    // Each recording (AAC and HLS) deleted by one node.
    let deleted = deletions(&cluster);
    assert_eq!(deleted.len(), record.len(), "{deleted:?}");
}

/// The recordings each node's log says it deleted for retention, across nodes.
fn deletions(cluster: &Cluster) -> Vec<String> {
    let mut out = Vec::new();
    for i in 1..=2 {
        let log =
            std::fs::read_to_string(cluster.dir.join(format!("n{i}/data.log"))).unwrap_or_default();
        out.extend(
            log.lines()
                .filter(|l| l.contains("retention: recording deleted"))
                .map(str::to_owned),
        );
    }
    out
}
