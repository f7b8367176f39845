//! The ports on SQLite (through sqlx; migrations embedded from `migrations/`): one node,
//! the embedded default. Its statements are here and, those PostgreSQL runs too, in
//! `sql.rs`.
//!
//! Configuration rows hold the API JSON of each object, keyed by columns; a template's
//! id is its row's `AUTOINCREMENT` key (the JSON's copy is overwritten on load). Every
//! configuration write bumps `config_version` in the same transaction. The outbox is
//! claimed with one `UPDATE … RETURNING` (atomic, so two workers never send one row
//! at the same time). Leases run on the caller's clock (`now_ms`).

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::sql::{self, backend, reading, Bind};
use super::{Applied, Change, ConfigRepo, ControlState, DbError, Pending};

/// Connections in the pool.
pub const POOL_CONNECTIONS: u32 = 4;

/// The caller's clock is held within ± this (about 36 million years, in ms) so that a
/// lease's `now + ttl` cannot overflow ([`sql::MAX_LEASE_TTL_MS`]).
const MAX_CLOCK_MS: i64 = 1 << 60;

/// The ports over one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    pool: SqlitePool,
}

impl SqliteDb {
    /// Opens (creating if needed) `DATA/liverec.db` and applies migrations.
    pub async fn open(data_dir: &Path) -> Result<Self, DbError> {
        std::fs::create_dir_all(data_dir).map_err(|e| DbError::Backend {
            context: "creating the data directory",
            message: format!("{}: {e}", data_dir.display()),
        })?;
        let path = data_dir.join("liverec.db");
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
            .map_err(backend("opening the database"))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(5));
        let pool = SqlitePoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(backend("opening the database"))?;
        sqlx::migrate!("./migrations")
            .run(&pool)
            .await
            .map_err(|e| DbError::Backend {
                context: "migrating the database",
                message: e.to_string(),
            })?;
        Ok(Self { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The `(id, body)` rows `query` selects.
    async fn bodies(&self, query: &str) -> Result<Vec<(i64, String)>, DbError> {
        sqlx::query_as(query)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("loading"))
    }
}

/// The `(id, body)` rows of the configuration tables, in [`sql::assemble`]'s order; rules
/// in the order they were written.
const LOAD: [&str; sql::TABLES] = [
    "SELECT template_id AS id, body FROM record_templates ORDER BY template_id",
    "SELECT rowid AS id, body FROM record_rules ORDER BY rowid",
    "SELECT 0 AS id, body FROM record_tasks ORDER BY start_time, task_id",
    "SELECT template_id AS id, body FROM callback_templates ORDER BY template_id",
    "SELECT rowid AS id, body FROM callback_rules ORDER BY rowid",
    "SELECT 0 AS id, body FROM push_auth_keys ORDER BY domain_key",
    "SELECT 0 AS id, body FROM mix_sessions ORDER BY session_id",
    "SELECT 0 AS id, body FROM forbidden_streams ORDER BY stream_key",
];

#[async_trait]
impl ConfigRepo for SqliteDb {
    async fn load(&self) -> Result<(ControlState, i64), DbError> {
        let mut tables = [const { Vec::new() }; sql::TABLES];
        for (rows, query) in tables.iter_mut().zip(LOAD) {
            *rows = self.bodies(query).await?;
        }
        let state = sql::assemble(tables)?;
        let version = self.version().await?;
        Ok((state, version))
    }

    async fn version(&self) -> Result<i64, DbError> {
        sqlx::query_scalar(sql::VERSION)
            .fetch_one(&self.pool)
            .await
            .map_err(backend("reading the configuration version"))
    }

    /// One node's database.
    fn shared(&self) -> bool {
        false
    }

    async fn apply_at(
        &self,
        changes: &[Change],
        based_on: Option<i64>,
    ) -> Result<Applied, DbError> {
        let mut tx = self.pool.begin().await.map_err(backend("writing"))?;
        let mut applied = Applied::default();
        for change in changes {
            if let Some(id) = apply_one(&mut tx, change).await? {
                applied.ids.push(id);
            }
        }
        applied.version = sqlx::query_scalar(sql::BUMP_VERSION)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("writing"))?;
        if based_on.is_some_and(|v| applied.version != v + 1) {
            return Err(DbError::Stale); // dropping `tx` rolls it back
        }
        tx.commit().await.map_err(backend("committing"))?;
        Ok(applied)
    }
}

/// Runs `statement` with `binds`; returns the first column of the row it returns, if any.
async fn exec(
    tx: &mut Transaction<'_, Sqlite>,
    statement: &str,
    binds: Vec<Bind>,
) -> Result<Option<i64>, DbError> {
    let mut query = sqlx::query(statement);
    for bind in binds {
        query = match bind {
            Bind::Int(v) => query.bind(v),
            Bind::Text(v) => query.bind(v),
        };
    }
    let row = query
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend("writing"))?;
    Ok(row.and_then(|r| r.try_get::<i64, _>(0).ok()))
}

async fn apply_one(
    tx: &mut Transaction<'_, Sqlite>,
    change: &Change,
) -> Result<Option<i64>, DbError> {
    let (statement, binds) = sql::statement(change);
    let id = exec(tx, statement, binds).await?;
    Ok(if sql::allocates_id(change) { id } else { None })
}

super::index::impl_recording_index!(SqliteDb, Sqlite);

super::ports::impl_outbox!(SqliteDb, sqlite_claim);

/// Claims due callbacks (SQLite has one writer at a time: no row locks to skip).
async fn sqlite_claim(
    db: &SqliteDb,
    now_ms: i64,
    until_ms: i64,
    limit: i64,
) -> Result<Vec<Pending>, DbError> {
    sqlx::query_as(
        "UPDATE callback_outbox SET next_attempt_ms = $1 WHERE event_id IN \
         (SELECT event_id FROM callback_outbox WHERE next_attempt_ms <= $2 ORDER BY next_attempt_ms LIMIT $3) \
         RETURNING event_id, url, callback_key, body, attempts",
    )
    .bind(until_ms)
    .bind(now_ms)
    .bind(sql::limit(limit))
    .fetch_all(&db.pool)
    .await
    .map_err(reading("callback_outbox", "claiming callbacks"))
}

super::ports::impl_leases!(SqliteDb, sqlite_acquire, sqlite_renew);

/// Renews the leases held, on the caller's clock.
async fn sqlite_renew(
    db: &SqliteDb,
    prefix: &str,
    owner: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Vec<String>, DbError> {
    sqlx::query_scalar(sql::RENEW_LEASES_AT)
        .bind(owner)
        .bind(prefix)
        .bind(sql::lease_ttl(ttl_ms))
        .bind(now_ms.clamp(-MAX_CLOCK_MS, MAX_CLOCK_MS))
        .fetch_all(&db.pool)
        .await
        .map_err(backend("renewing leases"))
}

/// Takes or renews a lease on the caller's clock.
async fn sqlite_acquire(
    db: &SqliteDb,
    name: &str,
    owner: &str,
    now_ms: i64,
    ttl_ms: i64,
) -> Result<Option<i64>, DbError> {
    sqlx::query_scalar(sql::ACQUIRE_LEASE_AT)
        .bind(name)
        .bind(owner)
        .bind(sql::lease_ttl(ttl_ms))
        .bind(now_ms.clamp(-MAX_CLOCK_MS, MAX_CLOCK_MS))
        .fetch_optional(&db.pool)
        .await
        .map_err(backend("taking a lease"))
}

super::handover::impl_hls_handover!(SqliteDb);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::template::RecordTemplate;
    use crate::server::db::{Leases, Outbox};

    async fn db(name: &str) -> (SqliteDb, std::path::PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("liverec-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        (SqliteDb::open(&dir).await.unwrap(), dir)
    }

    fn template() -> Box<RecordTemplate> {
        Box::new(RecordTemplate {
            template_id: Some(super::super::PENDING_ID),
            template_name: "t".into(),
            ..RecordTemplate::default()
        })
    }

    /// Ids come from the database, in the insert's transaction: never reused after a
    /// delete, distinct across two handles on one file (two processes), and every write
    /// bumps the version.
    #[tokio::test]
    async fn ids_and_versions_come_from_the_database() {
        let (a, dir) = db("ids").await;
        let b = SqliteDb::open(&dir).await.unwrap();
        assert_eq!(a.version().await.unwrap(), 0);
        let first = a
            .apply(&[Change::NewRecordTemplate(template())])
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
            .apply(&[Change::NewRecordTemplate(template())])
            .await
            .unwrap();
        assert_eq!(second.ids, vec![2]);
        a.apply(&[Change::DeleteRecordTemplate(2)]).await.unwrap();
        let third = a
            .apply(&[
                Change::NewRecordTemplate(template()),
                Change::NewCallbackTemplate(Box::default()),
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
        assert_eq!(b.version().await.unwrap(), 4);
        let (state, version) = b.load().await.unwrap();
        assert_eq!(version, 4);
        let ids: Vec<Option<i64>> = state
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

    /// A claim hides rows until its deadline; ack removes, retry reschedules; an event id
    /// is queued once.
    #[tokio::test]
    async fn the_outbox_claims_acks_and_retries() {
        let (db, dir) = db("outbox").await;
        assert!(db.enqueue(&pending("a"), 100).await.unwrap());
        assert!(
            !db.enqueue(&pending("a"), 100).await.unwrap(),
            "deduplicated"
        );
        assert!(db.enqueue(&pending("b"), 200).await.unwrap());
        assert_eq!(db.claim(50, 1000, 10).await.unwrap(), vec![]);
        let claimed = db.claim(150, 1000, 10).await.unwrap();
        assert_eq!(claimed, vec![pending("a")]);
        let claimed = db.claim(300, 1000, 10).await.unwrap();
        assert_eq!(claimed, vec![pending("b")], "a is hidden until 1000");
        db.retry("b", 1, 2000, "HTTP 500").await.unwrap();
        db.ack("a").await.unwrap();
        assert_eq!(db.next_due().await.unwrap(), Some(2000));
        assert_eq!(db.queued().await.unwrap(), 1);
        let again = db.claim(2000, 3000, 10).await.unwrap();
        assert_eq!(again.first().map(|p| p.attempts), Some(1));
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// One owner until the deadline (`expires_ms <= now` is expired); the epoch goes up
    /// each time the lease passes anew, stays on a renewal, and survives a release.
    #[tokio::test]
    async fn leases_have_one_owner_until_they_expire() {
        let (db, dir) = db("leases").await;
        let lease = "retention";
        assert_eq!(db.holder(lease).await.unwrap(), None);
        assert_eq!(
            db.acquire(lease, "node-a", 1000, 500).await.unwrap(),
            Some(1)
        );
        assert_eq!(db.acquire(lease, "node-b", 1200, 500).await.unwrap(), None);
        assert_eq!(
            db.acquire(lease, "node-a", 1400, 500).await.unwrap(),
            Some(1),
            "renewed in time: same epoch"
        );
        assert_eq!(
            db.holder(lease).await.unwrap(),
            Some(("node-a".into(), 1, 1900))
        );
        assert_eq!(db.acquire(lease, "node-b", 1899, 500).await.unwrap(), None);
        assert_eq!(
            db.acquire(lease, "node-b", 1900, 500).await.unwrap(),
            Some(2),
            "expired: passes to b"
        );
        db.release(lease, "node-a").await.unwrap();
        assert_eq!(
            db.acquire(lease, "node-a", 2000, 500).await.unwrap(),
            None,
            "not a's to release"
        );
        db.release(lease, "node-b").await.unwrap();
        assert_eq!(
            db.holder(lease).await.unwrap(),
            Some(("node-b".into(), 2, 0)),
            "released: the row and its epoch stay"
        );
        assert_eq!(
            db.acquire(lease, "node-b", 2000, 500).await.unwrap(),
            Some(3),
            "taken again after a release: a new epoch, even for the same owner"
        );
        assert_eq!(
            db.acquire(lease, "node-b", 3000, 500).await.unwrap(),
            Some(4),
            "renewed too late: a new epoch"
        );
        assert_eq!(
            db.acquire("other", "node-a", 3000, 500).await.unwrap(),
            Some(1)
        );
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }

    /// One statement renews the leases an owner holds unexpired under a prefix, and no
    /// other: not another's, not an expired or released one, not another prefix's.
    #[tokio::test]
    async fn renew_held_renews_only_live_holdings_of_the_owner() {
        let (db, dir) = db("renew").await;
        for (name, owner) in [
            ("stream/a", "n1"),
            ("stream/b", "n1"),
            ("stream/c", "n2"),
            ("stream/gone", "n1"),
            ("retention", "n1"),
        ] {
            assert!(db.acquire(name, owner, 1000, 500).await.unwrap().is_some());
        }
        db.release("stream/gone", "n1").await.unwrap();
        let mut renewed = db.renew_held("stream/", "n1", 1400, 500).await.unwrap();
        renewed.sort();
        assert_eq!(renewed, ["stream/a", "stream/b"]);
        assert_eq!(
            db.holder("stream/a").await.unwrap(),
            Some(("n1".into(), 1, 1900))
        );
        assert_eq!(
            db.holder("stream/c").await.unwrap(),
            Some(("n2".into(), 1, 1500))
        );
        assert_eq!(
            db.holder("retention").await.unwrap(),
            Some(("n1".into(), 1, 1500))
        );
        assert_eq!(
            db.holder("stream/gone").await.unwrap(),
            Some(("n1".into(), 1, 0))
        );
        let late = db.renew_held("stream/", "n1", 1900, 500).await.unwrap();
        assert!(late.is_empty(), "expired at 1900: not renewed ({late:?})");
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
