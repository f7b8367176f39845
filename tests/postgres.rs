//! The persistence ports on PostgreSQL ([`PgDb`]), against a throwaway cluster (one per
//! test binary, a database per test; see `common/postgres.rs`): several handles on one
//! database act as several nodes. Where SQLite has an answer for the same calls, the
//! test runs both and compares. Without PostgreSQL these fail.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::postgres::Postgres;
use liverec::config::callback::{CallbackRule, CallbackTemplate};
use liverec::config::forbid::ForbiddenStream;
use liverec::config::push_auth::PushAuthKey;
use liverec::config::rule::RecordRule;
use liverec::config::task::RecordTask;
use liverec::config::template::RecordTemplate;
use liverec::server::db::{
    Applied, Attempt, AttemptQuery, Change, ConfigRepo, DbError, Leases, Outbox, Pending, PgDb,
    Recording, RecordingIndex, Search, SqliteDb, PENDING_ID,
};

/// Two handles (two nodes) on a fresh database, connected (and migrating) at once.
async fn nodes(test: &str) -> (PgDb, PgDb) {
    let url = Postgres::shared().create_database(test);
    let (a, b) = tokio::join!(PgDb::connect(&url), PgDb::connect(&url));
    (a.unwrap(), b.unwrap())
}

/// A cluster of its own runs until dropped, then is stopped and deleted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_gone_once_dropped() {
    let cluster = Postgres::start();
    let db = PgDb::connect(&cluster.url).await.unwrap();
    assert_eq!(db.version().await.unwrap(), 0);
    db.close().await;
    let (dir, port) = (cluster.dir().to_owned(), cluster.port);
    drop(cluster);
    assert!(!dir.exists(), "{} deleted", dir.display());
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "stopped"
    );
}

fn template(name: &str) -> Box<RecordTemplate> {
    Box::new(RecordTemplate {
        template_id: Some(PENDING_ID),
        template_name: name.into(),
        ..RecordTemplate::default()
    })
}

fn callback_template() -> Box<CallbackTemplate> {
    Box::new(CallbackTemplate {
        template_id: Some(PENDING_ID),
        ..CallbackTemplate::default()
    })
}

/// The SQLite unit test's scenario: ids come from the database, are never reused after a
/// delete, are distinct across handles, and every write bumps the version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_and_versions_come_from_the_database() {
    let (a, b) = nodes("ids").await;
    assert_eq!(a.version().await.unwrap(), 0);
    let first = a
        .apply(&[Change::NewRecordTemplate(template("t"))])
        .await
        .unwrap();
    assert_eq!(
        first,
        Applied {
            ids: vec![1],
            version: 1
        }
    );
    let second = b
        .apply(&[Change::NewRecordTemplate(template("t"))])
        .await
        .unwrap();
    assert_eq!(second.ids, vec![2]);
    a.apply(&[Change::DeleteRecordTemplate(2)]).await.unwrap();
    let third = a
        .apply(&[
            Change::NewRecordTemplate(template("t")),
            Change::NewCallbackTemplate(callback_template()),
        ])
        .await
        .unwrap();
    assert_eq!(
        third,
        Applied {
            ids: vec![3, 1],
            version: 4
        }
    );
    let (state, version) = b.load().await.unwrap();
    assert_eq!(version, 4);
    let ids: Vec<_> = state
        .config
        .templates
        .iter()
        .map(|t| t.template_id)
        .collect();
    assert_eq!(
        ids,
        vec![Some(1), Some(3)],
        "ids from the rows, not the JSON"
    );
    a.close().await;
    b.close().await;
}

/// Two nodes writing at once: every write succeeds, with its own version and ids, ids
/// in version order; a load sees all of them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writes_get_distinct_ids_and_versions() {
    const WRITES: i64 = 16;
    let (a, b) = nodes("concurrent_ids").await;
    let mut writers = Vec::new();
    for i in 0..WRITES {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        writers.push(tokio::spawn(async move {
            let changes = [
                Change::NewRecordTemplate(template(&format!("t{i}"))),
                Change::NewCallbackTemplate(callback_template()),
            ];
            db.apply(&changes).await.unwrap()
        }));
    }
    let mut applied = Vec::new();
    for w in writers {
        applied.push(w.await.unwrap());
    }
    applied.sort_by_key(|x| x.version);
    let versions: Vec<i64> = applied.iter().map(|x| x.version).collect();
    assert_eq!(versions, (1..=WRITES).collect::<Vec<_>>());
    for column in 0..2 {
        let ids: Vec<i64> = applied.iter().map(|x| x.ids[column]).collect();
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "distinct, in version order: {ids:?}"
        );
    }
    let (state, version) = a.load().await.unwrap();
    assert_eq!(version, WRITES);
    let loaded: BTreeSet<i64> = state
        .config
        .templates
        .iter()
        .filter_map(|t| t.template_id)
        .collect();
    let written: BTreeSet<i64> = applied.iter().map(|x| x.ids[0]).collect();
    assert_eq!(loaded, written);
    assert_eq!(state.callbacks.templates.len(), WRITES as usize);
    a.close().await;
    b.close().await;
}

/// A change made on a version is written only if the stored version is still that one
/// (one change: one statement; several: one transaction); otherwise nothing is written
/// and the answer is `Stale`. Racing nodes that retry on `Stale` all land, once each.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_writes_land_only_on_their_version() {
    let (a, b) = nodes("conditional").await;
    let one = a
        .apply_at(&[Change::NewRecordTemplate(template("t"))], Some(0))
        .await
        .unwrap();
    assert_eq!((one.ids, one.version), (vec![1], 1));
    for changes in [
        vec![Change::PutTask(task("late", 1))],
        vec![
            Change::PutTask(task("late", 1)),
            Change::DeleteTask("x".into()),
        ],
    ] {
        let stale = b.apply_at(&changes, Some(0)).await;
        assert!(matches!(stale, Err(DbError::Stale)), "{stale:?}");
    }
    let (state, version) = b.load().await.unwrap();
    assert_eq!(
        (version, state.config.tasks.len()),
        (1, 0),
        "nothing written"
    );
    let mut writers = Vec::new();
    for i in 0..12 {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        writers.push(tokio::spawn(async move {
            loop {
                let version = db.version().await.unwrap();
                let changes = [Change::PutTask(task(&format!("t{i}"), i))];
                match db.apply_at(&changes, Some(version)).await {
                    Ok(applied) => break applied.version,
                    Err(DbError::Stale) => continue,
                    Err(e) => panic!("{e}"),
                }
            }
        }));
    }
    let mut versions = Vec::new();
    for w in writers {
        versions.push(w.await.unwrap());
    }
    versions.sort_unstable();
    assert_eq!(versions, (2..14).collect::<Vec<i64>>());
    let (state, version) = a.load().await.unwrap();
    assert_eq!((version, state.config.tasks.len()), (13, 12));
    a.close().await;
    b.close().await;
}

fn rule(domain: &str, app: &str, template_id: i64) -> RecordRule {
    RecordRule {
        template_id,
        domain_name: domain.into(),
        app_name: app.into(),
        ..RecordRule::default()
    }
}

fn task(id: &str, start_time: i64) -> RecordTask {
    RecordTask {
        task_id: id.into(),
        start_time,
        end_time: start_time + 100,
        ..RecordTask::default()
    }
}

fn key(domain: &str, master: &str) -> PushAuthKey {
    PushAuthKey {
        domain_name: domain.into(),
        master_auth_key: master.into(),
        ..PushAuthKey::default()
    }
}

/// Every kind of change, in an order where insertion order and key order differ.
fn config_scenario() -> Vec<Vec<Change>> {
    let callback_rule = |domain: &str| CallbackRule {
        domain_name: domain.into(),
        template_id: 1,
        ..CallbackRule::default()
    };
    let renamed = RecordTemplate {
        template_id: Some(1),
        template_name: "renamed".into(),
        ..RecordTemplate::default()
    };
    vec![
        vec![
            Change::NewRecordTemplate(template("a")),
            Change::NewRecordTemplate(template("b")),
            Change::NewCallbackTemplate(callback_template()),
        ],
        vec![
            Change::PutRecordRule(rule("Zeta.com", "live", 1)),
            Change::PutRecordRule(rule("alpha.com", "", 1)),
            Change::PutRecordRule(rule("Mid.com", "app", 2)),
            Change::PutCallbackRule(callback_rule("z.com")),
            Change::PutCallbackRule(callback_rule("A.com")),
        ],
        vec![
            Change::PutTask(task("t-b", 50)),
            Change::PutTask(task("t-a", 50)),
            Change::PutTask(task("T-c", 10)),
            Change::PutTask(task("t-b", 5)),
            Change::PutPushAuthKey(key("b.com", "1")),
            Change::PutPushAuthKey(key("A.com", "2")),
            Change::PutPushAuthKey(key("B.com", "3")),
            Change::PutForbidden(forbidden("cam", 100)),
            Change::PutForbidden(forbidden("cam", 200)),
            Change::PutForbidden(forbidden("gone", 300)),
        ],
        vec![
            Change::DeleteRecordRule(rule("ALPHA.com", "", 1)),
            Change::PutRecordRule(rule("alpha.com", "", 2)),
            Change::DeleteRecordTemplate(2),
            Change::PutRecordTemplate(Box::new(renamed)),
            Change::DeleteTask("t-a".into()),
            Change::DeleteCallbackRule(callback_rule("Z.COM")),
            Change::NewRecordTemplate(template("c")),
            Change::DeleteForbidden("d.com/live/gone".into()),
        ],
    ]
}

fn forbidden(stream: &str, resume_time: i64) -> ForbiddenStream {
    ForbiddenStream {
        domain_name: "d.com".into(),
        app_name: "live".into(),
        stream_name: stream.into(),
        resume_time,
        reason: "r".into(),
        create_time: 1,
    }
}

/// The same changes load back the same on both backends (rules in the order written).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn configuration_loads_as_sqlite_does() {
    let (pg, _) = nodes("config").await;
    let dir = common::temp_dir("pg-config-sqlite");
    let sqlite = SqliteDb::open(&dir).await.unwrap();
    for changes in config_scenario() {
        let on_sqlite = sqlite.apply(&changes).await.unwrap();
        let on_pg = pg.apply(&changes).await.unwrap();
        assert_eq!(on_pg, on_sqlite);
    }
    let (state, version) = pg.load().await.unwrap();
    assert_eq!((state.clone(), version), sqlite.load().await.unwrap());
    let rules: Vec<&str> = state
        .config
        .rules
        .iter()
        .map(|r| r.domain_name.as_str())
        .collect();
    assert_eq!(
        rules,
        ["Zeta.com", "Mid.com", "alpha.com"],
        "in the order written"
    );
    let tasks: Vec<&str> = state
        .config
        .tasks
        .iter()
        .map(|t| t.task_id.as_str())
        .collect();
    assert_eq!(tasks, ["t-b", "T-c"]);
    assert_eq!(state.push_auth["b.com"].master_auth_key, "3");
    let forbids: Vec<(&str, i64)> = (state.forbidden.iter())
        .map(|(k, f)| (k.as_str(), f.resume_time))
        .collect();
    assert_eq!(forbids, [("d.com/live/cam", 200)]);
    pg.close().await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(dir);
}

fn pending(id: &str) -> Pending {
    Pending {
        event_id: id.into(),
        url: "http://h/cb".into(),
        callback_key: "k".into(),
        body: "{}".into(),
        attempts: 0,
    }
}

/// The SQLite unit test's scenario, and claims come back soonest due first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_outbox_claims_acks_and_retries() {
    let (db, _) = nodes("outbox").await;
    assert!(db.enqueue(&pending("a"), 100).await.unwrap());
    assert!(
        !db.enqueue(&pending("a"), 100).await.unwrap(),
        "deduplicated"
    );
    assert!(db.enqueue(&pending("b"), 200).await.unwrap());
    assert_eq!(db.claim(50, 1000, 10).await.unwrap(), vec![]);
    assert_eq!(db.claim(150, 1000, 10).await.unwrap(), vec![pending("a")]);
    let claimed = db.claim(300, 1000, 10).await.unwrap();
    assert_eq!(claimed, vec![pending("b")], "a is hidden until 1000");
    db.retry("b", 1, 2000, "HTTP 500").await.unwrap();
    db.ack("a").await.unwrap();
    assert_eq!(db.next_due().await.unwrap(), Some(2000));
    assert_eq!(db.queued().await.unwrap(), 1);
    let again = db.claim(2000, 3000, 10).await.unwrap();
    assert_eq!(again.first().map(|p| p.attempts), Some(1));
    db.ack("b").await.unwrap();
    assert_eq!(db.next_due().await.unwrap(), None);
    for (id, due) in [("z", 30), ("y", 20), ("x", 30), ("w", 10)] {
        db.enqueue(&pending(id), due).await.unwrap();
    }
    let order: Vec<String> = db
        .claim(100, 1000, 3)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.event_id)
        .collect();
    assert_eq!(order, ["w", "y", "x"], "soonest due first, then by id");
    db.close().await;
}

/// The delivery log on `db`: attempts keep their event's first time, list newest first,
/// filter by stream, type and result, page, and are pruned by event time.
async fn delivery_log_scenario(db: &dyn Outbox) {
    let attempt = |id: &str, n: i64, stream: &str, at: i64, code: i64| Attempt {
        event_id: id.into(),
        attempt: n,
        stream_name: stream.into(),
        event_type: if stream == "s" { 100 } else { 1 },
        event_ms: at,
        response_ms: at + 5,
        request: format!("{{\"n\":{n}}}"),
        response: if code == 0 {
            "ok".into()
        } else {
            "HTTP 500 (attempt 1; retrying in 60 s)".into()
        },
        result_code: code,
    };
    db.log_attempt(&attempt("a", 1, "s", 1000, 500))
        .await
        .unwrap();
    db.log_attempt(&attempt("a", 2, "s", 61_000, 0))
        .await
        .unwrap();
    db.log_attempt(&attempt("b", 1, "t", 2000, 0))
        .await
        .unwrap();
    let query = |stream: Option<&str>, delivered: Option<bool>| AttemptQuery {
        from_ms: 0,
        to_ms: 100_000,
        stream_name: stream.map(str::to_owned),
        event_type: None,
        delivered,
        offset: 0,
        limit: 10,
    };
    let (total, all) = db.attempts(&query(None, None)).await.unwrap();
    assert_eq!(total, 3);
    let order: Vec<(&str, i64, i64)> = all
        .iter()
        .map(|a| (a.event_id.as_str(), a.attempt, a.event_ms))
        .collect();
    assert_eq!(
        order,
        [("b", 1, 2000), ("a", 2, 1000), ("a", 1, 1000)],
        "the retry keeps its event's time"
    );
    assert_eq!(all[1].response_ms, 61_005);
    assert_eq!(db.attempts(&query(Some("s"), None)).await.unwrap().0, 2);
    assert_eq!(
        db.attempts(&query(Some("s"), Some(false))).await.unwrap().1[0].result_code,
        500
    );
    assert_eq!(db.attempts(&query(None, Some(true))).await.unwrap().0, 2);
    let typed = AttemptQuery {
        event_type: Some(1),
        ..query(None, None)
    };
    assert_eq!(db.attempts(&typed).await.unwrap().1[0].event_id, "b");
    let paged = AttemptQuery {
        offset: 2,
        limit: 2,
        ..query(None, None)
    };
    assert_eq!(
        db.attempts(&paged).await.unwrap(),
        (3, vec![attempt("a", 1, "s", 1000, 500)])
    );
    db.prune_log(1500).await.unwrap();
    assert_eq!(
        db.attempts(&query(None, None)).await.unwrap().0,
        1,
        "events before 1500 pruned"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_delivery_log_lists_and_filters_on_both_backends() {
    let (db, _) = nodes("delivery_log").await;
    delivery_log_scenario(&db).await;
    db.close().await;
    let dir = std::env::temp_dir().join(format!("liverec-delivery-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let sqlite = SqliteDb::open(&dir).await.unwrap();
    delivery_log_scenario(&sqlite).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Claims until none is left; the event ids taken.
async fn drain(db: PgDb, now_ms: i64) -> Vec<String> {
    let mut taken = Vec::new();
    loop {
        let batch = db.claim(now_ms, now_ms + 1_000_000, 7).await.unwrap();
        if batch.is_empty() {
            return taken;
        }
        taken.extend(batch.into_iter().map(|p| p.event_id));
    }
}

/// Two nodes draining one outbox at once, round after round, never take the same row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_never_claim_the_same_callback() {
    const EVENTS: usize = 300;
    let (a, b) = nodes("outbox_race").await;
    let all: BTreeSet<String> = (0..EVENTS).map(|i| format!("e{i:03}")).collect();
    for (i, id) in all.iter().enumerate() {
        a.enqueue(&pending(id), (i % 50) as i64).await.unwrap();
    }
    for round in 1..=3i64 {
        let now_ms = round * 10_000_000;
        let (from_a, from_b) = tokio::join!(
            tokio::spawn(drain(a.clone(), now_ms)),
            tokio::spawn(drain(b.clone(), now_ms))
        );
        let (from_a, from_b) = (from_a.unwrap(), from_b.unwrap());
        let taken_a: BTreeSet<String> = from_a.iter().cloned().collect();
        let taken_b: BTreeSet<String> = from_b.iter().cloned().collect();
        assert_eq!(
            taken_a.len() + taken_b.len(),
            EVENTS,
            "round {round}: once each"
        );
        assert!(taken_a.is_disjoint(&taken_b), "round {round}");
        assert_eq!(&taken_a | &taken_b, all, "round {round}");
        for id in &all {
            a.retry(id, round, now_ms + 1, "again").await.unwrap();
        }
    }
    a.close().await;
    b.close().await;
}

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// One owner until expiry on the database's clock (the callers' `now_ms` is ignored);
/// epochs go up when the lease passes anew and stay on renewal; releases keep the epoch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn leases_have_one_owner_until_they_expire() {
    const LONG_MS: i64 = 60_000;
    let (a, b) = nodes("leases").await;
    let lease = "retention";
    assert_eq!(a.holder(lease).await.unwrap(), None);
    assert_eq!(
        a.acquire(lease, "node-a", 0, LONG_MS).await.unwrap(),
        Some(1)
    );
    let far_future = wall_ms() + 100 * LONG_MS;
    assert_eq!(
        b.acquire(lease, "node-b", far_future, LONG_MS)
            .await
            .unwrap(),
        None,
        "b's clock is not the database's"
    );
    assert_eq!(
        a.acquire(lease, "node-a", 0, LONG_MS).await.unwrap(),
        Some(1),
        "renewed: same epoch"
    );
    let (owner, epoch, expires_ms) = b.holder(lease).await.unwrap().unwrap();
    assert_eq!((owner.as_str(), epoch), ("node-a", 1));
    let expected = wall_ms() + LONG_MS;
    assert!(
        (expires_ms - expected).abs() < 10_000,
        "{expires_ms} vs {expected}"
    );

    assert_eq!(a.acquire(lease, "node-a", 0, 200).await.unwrap(), Some(1));
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        b.acquire(lease, "node-b", 0, LONG_MS).await.unwrap(),
        Some(2),
        "expired: passes to b"
    );
    assert_eq!(a.acquire(lease, "node-a", 0, LONG_MS).await.unwrap(), None);
    a.release(lease, "node-a").await.unwrap();
    assert_eq!(
        a.acquire(lease, "node-a", 0, LONG_MS).await.unwrap(),
        None,
        "not a's to release"
    );
    b.release(lease, "node-b").await.unwrap();
    assert_eq!(
        a.holder(lease).await.unwrap(),
        Some(("node-b".into(), 2, 0)),
        "released: the row and its epoch stay"
    );
    assert_eq!(
        b.acquire(lease, "node-b", 0, 200).await.unwrap(),
        Some(3),
        "taken again after a release: a new epoch, even for the same owner"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        b.acquire(lease, "node-b", 0, LONG_MS).await.unwrap(),
        Some(4),
        "renewed too late: a new epoch"
    );
    // The batch renewal: only b's unexpired stream leases, on the database's clock.
    assert!(b
        .acquire("stream/x", "node-b", 0, 200)
        .await
        .unwrap()
        .is_some());
    assert!(a
        .acquire("stream/y", "node-a", 0, 200)
        .await
        .unwrap()
        .is_some());
    let renewed = b
        .renew_held("stream/", "node-b", far_future, LONG_MS)
        .await
        .unwrap();
    assert_eq!(renewed, ["stream/x"]);
    let (_, _, expires_ms) = a.holder("stream/x").await.unwrap().unwrap();
    assert!((expires_ms - (wall_ms() + LONG_MS)).abs() < 10_000);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(a
        .renew_held("stream/", "node-a", 0, LONG_MS)
        .await
        .unwrap()
        .is_empty());
    a.close().await;
    b.close().await;
}

/// Many owners racing for a new lease on two nodes: exactly one gets it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_of_many_racing_owners_gets_a_lease() {
    let (a, b) = nodes("lease_race").await;
    let mut racers = Vec::new();
    for i in 0..16 {
        let db = if i % 2 == 0 { a.clone() } else { b.clone() };
        racers.push(tokio::spawn(async move {
            let owner = format!("node-{i}");
            db.acquire("race", &owner, 0, 60_000).await.unwrap()
        }));
    }
    let mut won = Vec::new();
    for r in racers {
        won.extend(r.await.unwrap());
    }
    assert_eq!(won, vec![1]);
    a.close().await;
    b.close().await;
}

const DOMAINS: [&str; 4] = [
    "Live.Example.com",
    "live.example.com",
    "other.net",
    "Ünï.Example.com",
];

/// Rows with ties in start time, ids that differ in case, and some without a deadline.
fn recordings() -> Vec<Recording> {
    (0..40i64)
        .map(|i| Recording {
            file_id: format!("{}-{i:02}", if i % 5 == 0 { "F" } else { "f" }),
            domain_name: DOMAINS[(i % 4) as usize].into(),
            app_name: ["live", "app"][(i / 2 % 2) as usize].into(),
            stream_name: ["cam", "cam2", "b"][(i % 3) as usize].into(),
            format: ["flv", "hls", "mp4", "aac"][(i / 3 % 4) as usize].into(),
            start_ms: 1000 + (i / 3) * 10,
            end_ms: 2000 + i,
            duration_ms: 1000 - (i / 3) * 10 + i,
            size_bytes: 100 * i,
            video_codec: (i % 2 == 0).then(|| "h264".into()),
            audio_codec: (i % 3 == 0).then(|| "aac".into()),
            width: (i % 2 == 0).then_some(1280),
            height: (i % 2 == 0).then_some(720),
            task_id: if i % 6 == 0 {
                "task-1".into()
            } else {
                String::new()
            },
            template_id: i % 3,
            storage_path: format!("d/a/s/{i}.flv"),
            url: format!("http://h/{i}"),
            created_ms: 3000 + i,
            expires_ms: (i % 4 != 0).then_some(5000 + (i * 37) % 400),
        })
        .collect()
}

fn searches() -> Vec<Search> {
    let page = |limit, offset, descending| Search {
        limit,
        offset,
        descending,
        ..Search::default()
    };
    let domain = |d: &str| Search {
        domain_name: Some(d.into()),
        limit: 100,
        ..Search::default()
    };
    vec![
        page(10, 0, false),
        page(100, 0, false),
        page(7, 5, true),
        page(-1, -3, true),
        domain("LIVE.example.COM"),
        domain("ünï.example.com"),
        domain("Ünï.EXAMPLE.com"),
        Search {
            file_ids: vec!["F-00".into(), "f-01".into(), "f-00".into(), "f-39".into()],
            stream_names: vec!["cam".into(), "b".into()],
            limit: 100,
            ..Search::default()
        },
        Search {
            app_name: Some("live".into()),
            format: Some("flv".into()),
            task_id: Some(String::new()),
            limit: 3,
            offset: 1,
            ..Search::default()
        },
        Search {
            task_id: Some("task-1".into()),
            after_ms: Some(1030),
            before_ms: Some(1100),
            descending: true,
            limit: 100,
            ..Search::default()
        },
    ]
}

/// Every answer of the index on PostgreSQL equals SQLite's for the same rows.
async fn same_answers(pg: &PgDb, sqlite: &SqliteDb) {
    for s in searches() {
        let answer = pg.search(&s).await.unwrap();
        assert_eq!(answer, sqlite.search(&s).await.unwrap(), "{s:?}");
    }
    for (now_ms, limit) in [(0, 10), (5100, 5), (5200, 100), (9999, -1)] {
        let answer = pg.expired(now_ms, limit).await.unwrap();
        assert_eq!(answer, sqlite.expired(now_ms, limit).await.unwrap());
    }
    for (kept_forever_too, limit) in [(false, 5), (true, 5), (false, -1), (true, 100)] {
        let answer = pg.oldest(kept_forever_too, limit).await.unwrap();
        assert_eq!(
            answer,
            sqlite.oldest(kept_forever_too, limit).await.unwrap()
        );
    }
}

/// The recordings index answers as SQLite's does: filters, paging, totals, order,
/// expiry, oldest, deletes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recordings_are_found_as_on_sqlite() {
    let (pg, _) = nodes("recordings").await;
    let dir = common::temp_dir("pg-recordings-sqlite");
    let sqlite = SqliteDb::open(&dir).await.unwrap();
    let rows = recordings();
    for r in &rows {
        pg.insert(r).await.unwrap();
        sqlite.insert(r).await.unwrap();
    }
    // Indexing a file again (a retry, a recovery) changes nothing: file ids are unique.
    let mut again = rows[0].clone();
    again.size_bytes += 1;
    pg.insert(&again).await.unwrap();
    sqlite.insert(&again).await.unwrap();
    same_answers(&pg, &sqlite).await;

    let searches = searches();
    let (total, first_page) = pg.search(&searches[0]).await.unwrap();
    assert_eq!((total, first_page.len()), (40, 10));
    assert_eq!(first_page[0].file_id, "F-00");
    assert_eq!(
        first_page[0].size_bytes, rows[0].size_bytes,
        "the first row kept"
    );
    assert_eq!(first_page[1].file_id, "f-01", "ties by id, bytewise");
    let (_, newest) = pg.search(&searches[2]).await.unwrap();
    let ids: Vec<&str> = newest.iter().map(|r| r.file_id.as_str()).collect();
    assert_eq!(
        ids[..3],
        ["f-33", "F-35", "f-32"],
        "newest first, 5 skipped; ties by id, descending bytewise"
    );
    assert_eq!(
        pg.search(&searches[4]).await.unwrap().0,
        20,
        "ASCII case-insensitive"
    );
    assert_eq!(
        pg.search(&searches[5]).await.unwrap().0,
        0,
        "only ASCII folds"
    );
    assert_eq!(pg.search(&searches[6]).await.unwrap().0, 10);

    for r in rows.iter().step_by(3) {
        pg.delete(&r.file_id).await.unwrap();
        sqlite.delete(&r.file_id).await.unwrap();
    }
    same_answers(&pg, &sqlite).await;
    assert_eq!(pg.search(&searches[1]).await.unwrap().0, 40 - 14);
    pg.close().await;
    sqlite.close().await;
    let _ = std::fs::remove_dir_all(dir);
}
