//! The ports on PostgreSQL (through sqlx; migrations embedded from
//! `migrations/postgres/`): several nodes sharing one database, each through its own
//! [`PgDb`], behave as one. Statements SQLite runs too are in `sql.rs`; the ones here
//! are PostgreSQL's own.
//!
//! A typed backend (`PgPool`), beside [`super::SqliteDb`], rather than one over sqlx's
//! `Any` driver: `Any` maps values through a small common set of types, and failed on
//! SQLite's `BOOLEAN` columns and PostgreSQL's `TIMESTAMPTZ`; two typed backends behind
//! the same ports cost little, as most SQL is shared.
//!
//! What several writers need, each in one statement or transaction:
//! - Configuration writes ([`ConfigRepo::apply`]) bump `config_version` *first*, with
//!   `UPDATE … RETURNING`: its row lock queues concurrent writes until the holder
//!   commits, so each gets its own version, in commit order. Template ids come from
//!   identity columns (`RETURNING`): distinct across nodes and never reused, though a
//!   write that rolls back skips the ids it drew (sequences are not transactional;
//!   SQLite's `AUTOINCREMENT` hands them out again).
//! - [`ConfigRepo::load`] reads every table in one `REPEATABLE READ` snapshot, so it never
//!   mixes two versions.
//! - [`Outbox::claim`] locks the due rows it takes with `FOR UPDATE SKIP LOCKED` and moves
//!   their deadline in the same statement: two nodes never claim one row, and neither
//!   waits for the other. Claimed rows come back soonest due first.
//! - [`Leases`] run on the database's clock (`clock_timestamp()`), not the caller's
//!   `now_ms`, so nodes whose clocks disagree still agree on who holds a lease; `ttl_ms`
//!   is relative, and deadlines ([`Leases::holder`]) are on that clock.
//!
//! For the same rows, answers are SQLite's: text keys are `COLLATE "C"` (bytewise order,
//! ASCII-only `lower()`), and rules keep the order they were written in (a `seq`
//! identity stands in for SQLite's `rowid`).

use std::str::FromStr;

use async_trait::async_trait;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{FromRow, Postgres, Row, Transaction};

use super::sql::{self, backend, reading, Bind};
use super::{Applied, Change, ConfigRepo, ControlState, DbError, Pending};

/// Connections in each node's pool.
pub const POOL_CONNECTIONS: u32 = 4;

/// How the connections introduce themselves (`pg_stat_activity.application_name`).
const APPLICATION_NAME: &str = "liverec";

/// The ports over one PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PgDb {
    pool: PgPool,
}

impl PgDb {
    /// Connects to `url` (`postgres://user:password@host:port/database`) and applies
    /// migrations (under PostgreSQL's advisory lock, so nodes starting together apply
    /// them once).
    pub async fn connect(url: &str) -> Result<Self, DbError> {
        let options = PgConnectOptions::from_str(url)
            .map_err(backend("reading the database URL"))?
            .application_name(APPLICATION_NAME);
        // No ping before each use (a round trip per query): a connection that broke fails
        // its query, is dropped, and the caller's retry gets a fresh one.
        let pool = PgPoolOptions::new()
            .max_connections(POOL_CONNECTIONS)
            .test_before_acquire(false)
            .connect_with(options)
            .await
            .map_err(backend("connecting to the database"))?;
        sqlx::migrate!("./migrations/postgres")
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
}

/// The `(id, body)` rows of the configuration tables, in [`sql::assemble`]'s order; rules
/// in the order they were written.
const LOAD: [&str; sql::TABLES] = [
    "SELECT template_id AS id, body FROM record_templates ORDER BY template_id",
    "SELECT seq AS id, body FROM record_rules ORDER BY seq",
    "SELECT 0::BIGINT AS id, body FROM record_tasks ORDER BY start_time, task_id",
    "SELECT template_id AS id, body FROM callback_templates ORDER BY template_id",
    "SELECT seq AS id, body FROM callback_rules ORDER BY seq",
    "SELECT 0::BIGINT AS id, body FROM push_auth_keys ORDER BY domain_key",
    "SELECT 0::BIGINT AS id, body FROM mix_sessions ORDER BY session_id",
    "SELECT 0::BIGINT AS id, body FROM forbidden_streams ORDER BY stream_key",
];

/// Makes the transaction it opens a consistent, read-only snapshot.
const SNAPSHOT: &str = "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY";

/// Claims due callbacks: `$1` the new deadline, `$2` now, `$3` how many. Rows another
/// claim has locked are skipped, and rows it moved no longer match once it commits.
const CLAIM: &str = "WITH due AS (\
     SELECT event_id, next_attempt_ms AS due_ms FROM callback_outbox \
     WHERE next_attempt_ms <= $2 ORDER BY next_attempt_ms, event_id LIMIT $3 \
     FOR UPDATE SKIP LOCKED) \
     UPDATE callback_outbox o SET next_attempt_ms = $1 FROM due WHERE o.event_id = due.event_id \
     RETURNING o.event_id, o.url, o.callback_key, o.body, o.attempts, due.due_ms";

#[async_trait]
impl ConfigRepo for PgDb {
    async fn load(&self) -> Result<(ControlState, i64), DbError> {
        let mut tx = self.pool.begin().await.map_err(backend("loading"))?;
        sqlx::query(SNAPSHOT)
            .execute(&mut *tx)
            .await
            .map_err(backend("loading"))?;
        let mut tables = [const { Vec::new() }; sql::TABLES];
        for (rows, query) in tables.iter_mut().zip(LOAD) {
            *rows = bodies(&mut tx, query).await?;
        }
        let version = sqlx::query_scalar(sql::VERSION)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("reading the configuration version"))?;
        tx.commit().await.map_err(backend("loading"))?;
        Ok((sql::assemble(tables)?, version))
    }

    async fn version(&self) -> Result<i64, DbError> {
        sqlx::query_scalar(sql::VERSION)
            .fetch_one(&self.pool)
            .await
            .map_err(backend("reading the configuration version"))
    }

    /// Every node of a cluster writes it.
    fn shared(&self) -> bool {
        true
    }

    async fn apply_at(
        &self,
        changes: &[Change],
        based_on: Option<i64>,
    ) -> Result<Applied, DbError> {
        if let ([change], Some(based_on)) = (changes, based_on) {
            return self.apply_one(change, based_on).await;
        }
        let mut tx = self.pool.begin().await.map_err(backend("writing"))?;
        let version: i64 = sqlx::query_scalar(sql::BUMP_VERSION)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend("writing"))?;
        if based_on.is_some_and(|v| version != v + 1) {
            return Err(DbError::Stale); // dropping `tx` rolls it back
        }
        let mut applied = Applied {
            ids: Vec::new(),
            version,
        };
        for change in changes {
            let (statement, binds) = sql::statement(change);
            let id = exec(&mut tx, statement, binds).await?;
            if sql::allocates_id(change) {
                applied.ids.extend(id);
            }
        }
        tx.commit().await.map_err(backend("committing"))?;
        Ok(applied)
    }
}

/// SQLSTATE of `liverec_next_version` when the stored version moved.
const STALE_STATE: &str = "LR409";

impl PgDb {
    /// One change made on version `based_on`, as one statement (one round trip, no
    /// transaction to open and close): the version is bumped by a data-modifying CTE
    /// that fails the statement when the stored version moved (migration 0003).
    async fn apply_one(&self, change: &Change, based_on: i64) -> Result<Applied, DbError> {
        let (statement, mut binds) = sql::statement(change);
        binds.push(Bind::Int(based_on));
        let text = format!(
            "WITH bumped AS (UPDATE config_version SET version = liverec_next_version(version, ${}) \
             WHERE id = 1 RETURNING version) {statement}",
            binds.len()
        );
        let mut query = sqlx::query(&text);
        for bind in binds {
            query = match bind {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let row = match query.fetch_optional(&self.pool).await {
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some(STALE_STATE) => {
                return Err(DbError::Stale)
            }
            other => other.map_err(backend("writing"))?,
        };
        let id = row.and_then(|r| r.try_get::<i64, _>(0).ok());
        Ok(Applied {
            ids: if sql::allocates_id(change) {
                id.into_iter().collect()
            } else {
                Vec::new()
            },
            version: based_on + 1,
        })
    }
}

/// The `(id, body)` rows `query` selects.
async fn bodies(conn: &mut PgConnection, query: &str) -> Result<Vec<(i64, String)>, DbError> {
    sqlx::query_as(query)
        .fetch_all(conn)
        .await
        .map_err(backend("loading"))
}

/// Runs `statement` with `binds`; returns the first column of the row it returns, if any.
async fn exec(
    tx: &mut Transaction<'_, Postgres>,
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

super::index::impl_recording_index!(PgDb, Postgres);

/// A claimed row and when it was due.
fn claimed(row: &PgRow) -> Result<(i64, Pending), sqlx::Error> {
    Ok((row.try_get("due_ms")?, Pending::from_row(row)?))
}

super::ports::impl_outbox!(PgDb, pg_claim);

/// Claims due callbacks, skipping rows another node's claim holds, in due order.
async fn pg_claim(
    db: &PgDb,
    now_ms: i64,
    until_ms: i64,
    limit: i64,
) -> Result<Vec<Pending>, DbError> {
    let rows = sqlx::query(CLAIM)
        .bind(until_ms)
        .bind(now_ms)
        .bind(sql::limit(limit))
        .fetch_all(&db.pool)
        .await
        .map_err(backend("claiming callbacks"))?;
    let mut taken = rows
        .iter()
        .map(claimed)
        .collect::<Result<Vec<_>, _>>()
        .map_err(reading("callback_outbox", "claiming callbacks"))?;
    taken.sort_by(|(a_due, a), (b_due, b)| (a_due, &a.event_id).cmp(&(b_due, &b.event_id)));
    Ok(taken.into_iter().map(|(_, p)| p).collect())
}

super::ports::impl_leases!(PgDb, pg_acquire, pg_renew);

/// Renews the leases held, on the database's clock (`now_ms` is not used).
async fn pg_renew(
    db: &PgDb,
    prefix: &str,
    owner: &str,
    _now_ms: i64,
    ttl_ms: i64,
) -> Result<Vec<String>, DbError> {
    sqlx::query_scalar(sql::RENEW_LEASES_PG_CLOCK)
        .bind(owner)
        .bind(prefix)
        .bind(sql::lease_ttl(ttl_ms))
        .fetch_all(&db.pool)
        .await
        .map_err(backend("renewing leases"))
}

/// Takes or renews a lease on the database's clock (`now_ms` is not used).
async fn pg_acquire(
    db: &PgDb,
    name: &str,
    owner: &str,
    _now_ms: i64,
    ttl_ms: i64,
) -> Result<Option<i64>, DbError> {
    sqlx::query_scalar(sql::ACQUIRE_LEASE_PG_CLOCK)
        .bind(name)
        .bind(owner)
        .bind(sql::lease_ttl(ttl_ms))
        .fetch_optional(&db.pool)
        .await
        .map_err(backend("taking a lease"))
}
super::handover::impl_hls_handover!(PgDb);
