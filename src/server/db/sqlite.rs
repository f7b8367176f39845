//! The ports on SQLite (through sqlx; migrations embedded from `migrations/`): one node,
//! the embedded default. Every SQL statement of the server is in this file.
//!
//! Configuration rows hold the API JSON of each object, keyed by columns; a template's
//! id is its row's `AUTOINCREMENT` key (the JSON's copy is overwritten on load). Every
//! configuration write bumps `config_version` in the same transaction. The outbox is
//! claimed with one `UPDATE … RETURNING` (atomic, so two workers never send one row
//! at the same time).

use std::path::Path;
use std::str::FromStr;

use async_trait::async_trait;
use serde::{de::DeserializeOwned, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{QueryBuilder, Row, Sqlite, Transaction};

use super::{
    Applied, Change, ConfigRepo, ControlState, DbError, Leases, Outbox, Pending, Recording,
    RecordingIndex, Search,
};
use crate::config::callback::{CallbackRule, CallbackTemplate};
use crate::config::push_auth::PushAuthKey;
use crate::config::rule::RecordRule;
use crate::config::task::RecordTask;
use crate::config::template::RecordTemplate;

/// Connections in the pool.
pub const POOL_CONNECTIONS: u32 = 4;

/// The ports over one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteDb {
    pool: SqlitePool,
}

fn backend(context: &'static str) -> impl Fn(sqlx::Error) -> DbError {
    move |e| DbError::Backend {
        context,
        message: e.to_string(),
    }
}

fn decode<T: DeserializeOwned>(table: &'static str, body: &str) -> Result<T, DbError> {
    serde_json::from_str(body).map_err(|e| DbError::Corrupt {
        table,
        message: e.to_string(),
    })
}

fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
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

    async fn bodies(&self, sql: &str) -> Result<Vec<(i64, String)>, DbError> {
        let rows = sqlx::query(sql)
            .fetch_all(&self.pool)
            .await
            .map_err(backend("loading"))?;
        Ok(rows
            .iter()
            .map(|r| (r.get::<i64, _>("id"), r.get::<String, _>("body")))
            .collect())
    }
}

#[async_trait]
impl ConfigRepo for SqliteDb {
    async fn load(&self) -> Result<(ControlState, i64), DbError> {
        let mut state = ControlState::default();
        for (id, body) in self
            .bodies("SELECT template_id AS id, body FROM record_templates ORDER BY template_id")
            .await?
        {
            let mut t: RecordTemplate = decode("record_templates", &body)?;
            t.template_id = Some(id);
            state.config.templates.push(t);
        }
        for (_, body) in self
            .bodies("SELECT rowid AS id, body FROM record_rules ORDER BY rowid")
            .await?
        {
            state
                .config
                .rules
                .push(decode::<RecordRule>("record_rules", &body)?);
        }
        for (_, body) in self
            .bodies("SELECT 0 AS id, body FROM record_tasks ORDER BY start_time, task_id")
            .await?
        {
            state
                .config
                .tasks
                .push(decode::<RecordTask>("record_tasks", &body)?);
        }
        for (id, body) in self
            .bodies("SELECT template_id AS id, body FROM callback_templates ORDER BY template_id")
            .await?
        {
            let mut t: CallbackTemplate = decode("callback_templates", &body)?;
            t.template_id = Some(id);
            state.callbacks.templates.push(t);
        }
        for (_, body) in self
            .bodies("SELECT rowid AS id, body FROM callback_rules ORDER BY rowid")
            .await?
        {
            state
                .callbacks
                .rules
                .push(decode::<CallbackRule>("callback_rules", &body)?);
        }
        for (_, body) in self
            .bodies("SELECT 0 AS id, body FROM push_auth_keys ORDER BY domain_key")
            .await?
        {
            let key: PushAuthKey = decode("push_auth_keys", &body)?;
            state
                .push_auth
                .insert(key.domain_name.to_ascii_lowercase(), key);
        }
        let version = self.version().await?;
        Ok((state, version))
    }

    async fn version(&self) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT version FROM config_version WHERE id = 1")
            .fetch_one(&self.pool)
            .await
            .map_err(backend("reading the configuration version"))?;
        Ok(row.get("version"))
    }

    async fn apply(&self, changes: &[Change]) -> Result<Applied, DbError> {
        let mut tx = self.pool.begin().await.map_err(backend("writing"))?;
        let mut applied = Applied::default();
        for change in changes {
            if let Some(id) = apply_one(&mut tx, change).await? {
                applied.ids.push(id);
            }
        }
        let row = sqlx::query(
            "UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version",
        )
        .fetch_one(&mut *tx)
        .await
        .map_err(backend("writing"))?;
        applied.version = row.get("version");
        tx.commit().await.map_err(backend("committing"))?;
        Ok(applied)
    }
}

enum Bind {
    Int(i64),
    Text(String),
}

fn text(s: &str) -> Bind {
    Bind::Text(s.to_owned())
}

fn domain_key(domain: &str) -> Bind {
    Bind::Text(domain.to_ascii_lowercase())
}

/// Runs `sql` with `binds`; returns the first column of the row it returns, if any.
async fn exec(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    binds: Vec<Bind>,
) -> Result<Option<i64>, DbError> {
    let mut query = sqlx::query(sql);
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

/// The statement and binds of a change; new templates return their allocated id.
fn statement(change: &Change) -> (&'static str, Vec<Bind>) {
    use Bind::Int;
    match change {
        Change::NewRecordTemplate(t) => ("INSERT INTO record_templates (body) VALUES (?) RETURNING template_id", vec![Bind::Text(encode(t))]),
        Change::PutRecordTemplate(t) => ("UPDATE record_templates SET body = ? WHERE template_id = ?", vec![Bind::Text(encode(t)), Int(t.template_id.unwrap_or(0))]),
        Change::DeleteRecordTemplate(id) => ("DELETE FROM record_templates WHERE template_id = ?", vec![Int(*id)]),
        Change::PutRecordRule(r) => ("INSERT INTO record_rules (domain_key, app_name, stream_name, body) VALUES (?, ?, ?, ?)", vec![domain_key(&r.domain_name), text(&r.app_name), text(&r.stream_name), Bind::Text(encode(r))]),
        Change::DeleteRecordRule(r) => ("DELETE FROM record_rules WHERE domain_key = ? AND app_name = ? AND stream_name = ?", vec![domain_key(&r.domain_name), text(&r.app_name), text(&r.stream_name)]),
        Change::PutTask(t) => ("INSERT INTO record_tasks (task_id, start_time, end_time, body) VALUES (?, ?, ?, ?) ON CONFLICT (task_id) DO UPDATE SET start_time = excluded.start_time, end_time = excluded.end_time, body = excluded.body", vec![text(&t.task_id), Int(t.start_time), Int(t.end_time), Bind::Text(encode(t))]),
        Change::DeleteTask(id) => ("DELETE FROM record_tasks WHERE task_id = ?", vec![text(id)]),
        Change::NewCallbackTemplate(t) => ("INSERT INTO callback_templates (body) VALUES (?) RETURNING template_id", vec![Bind::Text(encode(t))]),
        Change::PutCallbackTemplate(t) => ("UPDATE callback_templates SET body = ? WHERE template_id = ?", vec![Bind::Text(encode(t)), Int(t.template_id.unwrap_or(0))]),
        Change::DeleteCallbackTemplate(id) => ("DELETE FROM callback_templates WHERE template_id = ?", vec![Int(*id)]),
        Change::PutCallbackRule(r) => ("INSERT INTO callback_rules (domain_key, app_name, body) VALUES (?, ?, ?)", vec![domain_key(&r.domain_name), text(&r.app_name), Bind::Text(encode(r))]),
        Change::DeleteCallbackRule(r) => ("DELETE FROM callback_rules WHERE domain_key = ? AND app_name = ?", vec![domain_key(&r.domain_name), text(&r.app_name)]),
        Change::PutPushAuthKey(k) => ("INSERT INTO push_auth_keys (domain_key, body) VALUES (?, ?) ON CONFLICT (domain_key) DO UPDATE SET body = excluded.body", vec![domain_key(&k.domain_name), Bind::Text(encode(k))]),
    }
}

async fn apply_one(
    tx: &mut Transaction<'_, Sqlite>,
    change: &Change,
) -> Result<Option<i64>, DbError> {
    let (sql, binds) = statement(change);
    let id = exec(tx, sql, binds).await?;
    let new = matches!(
        change,
        Change::NewRecordTemplate(_) | Change::NewCallbackTemplate(_)
    );
    Ok(if new { id } else { None })
}

fn row_to_recording(row: &SqliteRow) -> Recording {
    Recording {
        file_id: row.get("file_id"),
        domain_name: row.get("domain_name"),
        app_name: row.get("app_name"),
        stream_name: row.get("stream_name"),
        format: row.get("format"),
        start_ms: row.get("start_ms"),
        end_ms: row.get("end_ms"),
        duration_ms: row.get("duration_ms"),
        size_bytes: row.get("size_bytes"),
        video_codec: row.get("video_codec"),
        audio_codec: row.get("audio_codec"),
        width: row.get("width"),
        height: row.get("height"),
        task_id: row.get("task_id"),
        template_id: row.get("template_id"),
        storage_path: row.get("storage_path"),
        url: row.get("url"),
        created_ms: row.get("created_ms"),
        expires_ms: row.get("expires_ms"),
    }
}

fn filters(q: &mut QueryBuilder<'_, Sqlite>, s: &Search) {
    q.push(" WHERE 1 = 1");
    for (column, values) in [("file_id", &s.file_ids), ("stream_name", &s.stream_names)] {
        if !values.is_empty() {
            q.push(format!(" AND {column} IN ("));
            let mut list = q.separated(", ");
            for v in values {
                list.push_bind(v.clone());
            }
            q.push(")");
        }
    }
    if let Some(d) = &s.domain_name {
        q.push(" AND lower(domain_name) = ")
            .push_bind(d.to_ascii_lowercase());
    }
    for (column, value) in [
        ("app_name", &s.app_name),
        ("format", &s.format),
        ("task_id", &s.task_id),
    ] {
        if let Some(v) = value {
            q.push(format!(" AND {column} = ")).push_bind(v.clone());
        }
    }
    if let Some(after) = s.after_ms {
        q.push(" AND start_ms >= ").push_bind(after);
    }
    if let Some(before) = s.before_ms {
        q.push(" AND start_ms < ").push_bind(before);
    }
}

#[async_trait]
impl RecordingIndex for SqliteDb {
    async fn insert(&self, r: &Recording) -> Result<(), DbError> {
        sqlx::query(
            "INSERT INTO recordings (file_id, domain_name, app_name, stream_name, format, start_ms, end_ms, duration_ms, \
             size_bytes, video_codec, audio_codec, width, height, task_id, template_id, storage_path, url, created_ms, expires_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&r.file_id)
        .bind(&r.domain_name)
        .bind(&r.app_name)
        .bind(&r.stream_name)
        .bind(&r.format)
        .bind(r.start_ms)
        .bind(r.end_ms)
        .bind(r.duration_ms)
        .bind(r.size_bytes)
        .bind(&r.video_codec)
        .bind(&r.audio_codec)
        .bind(r.width)
        .bind(r.height)
        .bind(&r.task_id)
        .bind(r.template_id)
        .bind(&r.storage_path)
        .bind(&r.url)
        .bind(r.created_ms)
        .bind(r.expires_ms)
        .execute(&self.pool)
        .await
        .map_err(backend("indexing a recording"))?;
        Ok(())
    }

    async fn search(&self, s: &Search) -> Result<(i64, Vec<Recording>), DbError> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) AS n FROM recordings");
        filters(&mut count, s);
        let total: i64 = count
            .build()
            .fetch_one(&self.pool)
            .await
            .map_err(backend("searching recordings"))?
            .get("n");
        let mut rows = QueryBuilder::<Sqlite>::new("SELECT * FROM recordings");
        filters(&mut rows, s);
        rows.push(if s.descending {
            " ORDER BY start_ms DESC, file_id DESC"
        } else {
            " ORDER BY start_ms, file_id"
        });
        rows.push(" LIMIT ")
            .push_bind(s.limit)
            .push(" OFFSET ")
            .push_bind(s.offset);
        let found = rows
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(backend("searching recordings"))?;
        Ok((total, found.iter().map(row_to_recording).collect()))
    }

    async fn expired(&self, now_ms: i64, limit: i64) -> Result<Vec<Recording>, DbError> {
        let rows = sqlx::query(
            "SELECT * FROM recordings WHERE expires_ms IS NOT NULL AND expires_ms <= ? ORDER BY expires_ms LIMIT ?",
        )
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend("finding expired recordings"))?;
        Ok(rows.iter().map(row_to_recording).collect())
    }

    async fn oldest(&self, kept_forever_too: bool, limit: i64) -> Result<Vec<Recording>, DbError> {
        let rows = sqlx::query(
            "SELECT * FROM recordings WHERE expires_ms IS NOT NULL OR ? ORDER BY start_ms, file_id LIMIT ?",
        )
        .bind(kept_forever_too)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend("finding the oldest recordings"))?;
        Ok(rows.iter().map(row_to_recording).collect())
    }

    async fn delete(&self, file_id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM recordings WHERE file_id = ?")
            .bind(file_id)
            .execute(&self.pool)
            .await
            .map_err(backend("deleting a recording's row"))?;
        Ok(())
    }
}

#[async_trait]
impl Outbox for SqliteDb {
    async fn enqueue(&self, p: &Pending, now_ms: i64) -> Result<bool, DbError> {
        let done = sqlx::query(
            "INSERT OR IGNORE INTO callback_outbox (event_id, url, callback_key, body, attempts, next_attempt_ms, created_ms) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&p.event_id)
        .bind(&p.url)
        .bind(&p.callback_key)
        .bind(&p.body)
        .bind(p.attempts)
        .bind(now_ms)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(backend("queueing a callback"))?;
        Ok(done.rows_affected() == 1)
    }

    async fn claim(&self, now_ms: i64, until_ms: i64, limit: i64) -> Result<Vec<Pending>, DbError> {
        let rows = sqlx::query(
            "UPDATE callback_outbox SET next_attempt_ms = ? WHERE event_id IN \
             (SELECT event_id FROM callback_outbox WHERE next_attempt_ms <= ? ORDER BY next_attempt_ms LIMIT ?) \
             RETURNING event_id, url, callback_key, body, attempts",
        )
        .bind(until_ms)
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
        .map_err(backend("claiming callbacks"))?;
        Ok(rows
            .iter()
            .map(|r| Pending {
                event_id: r.get("event_id"),
                url: r.get("url"),
                callback_key: r.get("callback_key"),
                body: r.get("body"),
                attempts: r.get("attempts"),
            })
            .collect())
    }

    async fn ack(&self, event_id: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM callback_outbox WHERE event_id = ?")
            .bind(event_id)
            .execute(&self.pool)
            .await
            .map_err(backend("removing a callback"))?;
        Ok(())
    }

    async fn retry(
        &self,
        event_id: &str,
        attempts: i64,
        next_ms: i64,
        error: &str,
    ) -> Result<(), DbError> {
        sqlx::query("UPDATE callback_outbox SET attempts = ?, next_attempt_ms = ?, last_error = ? WHERE event_id = ?")
            .bind(attempts)
            .bind(next_ms)
            .bind(error)
            .bind(event_id)
            .execute(&self.pool)
            .await
            .map_err(backend("rescheduling a callback"))?;
        Ok(())
    }

    async fn next_due(&self) -> Result<Option<i64>, DbError> {
        let row = sqlx::query("SELECT MIN(next_attempt_ms) AS next FROM callback_outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(backend("reading the outbox"))?;
        Ok(row.get::<Option<i64>, _>("next"))
    }

    async fn queued(&self) -> Result<i64, DbError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM callback_outbox")
            .fetch_one(&self.pool)
            .await
            .map_err(backend("reading the outbox"))?;
        Ok(row.get("n"))
    }
}

#[async_trait]
impl Leases for SqliteDb {
    async fn acquire(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<bool, DbError> {
        let taken = sqlx::query(
            "INSERT INTO leases (name, owner, expires_ms) VALUES (?, ?, ?) \
             ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_ms = excluded.expires_ms \
             WHERE leases.owner = excluded.owner OR leases.expires_ms <= ?",
        )
        .bind(name)
        .bind(owner)
        .bind(now_ms.saturating_add(ttl_ms))
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(backend("taking a lease"))?;
        Ok(taken.rows_affected() == 1)
    }

    async fn release(&self, name: &str, owner: &str) -> Result<(), DbError> {
        sqlx::query("DELETE FROM leases WHERE name = ? AND owner = ?")
            .bind(name)
            .bind(owner)
            .execute(&self.pool)
            .await
            .map_err(backend("releasing a lease"))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::template::RecordTemplate;

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

    #[tokio::test]
    async fn leases_have_one_owner_until_they_expire() {
        let (db, dir) = db("leases").await;
        assert!(db.acquire("retention", "node-a", 1000, 500).await.unwrap());
        assert!(!db.acquire("retention", "node-b", 1200, 500).await.unwrap());
        assert!(
            db.acquire("retention", "node-a", 1400, 500).await.unwrap(),
            "renewed"
        );
        assert!(!db.acquire("retention", "node-b", 1800, 500).await.unwrap());
        assert!(
            db.acquire("retention", "node-b", 1900, 500).await.unwrap(),
            "expired"
        );
        db.release("retention", "node-a").await.unwrap();
        assert!(
            !db.acquire("retention", "node-a", 2000, 500).await.unwrap(),
            "not a's to release"
        );
        db.release("retention", "node-b").await.unwrap();
        assert!(db.acquire("retention", "node-a", 2000, 500).await.unwrap());
        db.close().await;
        let _ = std::fs::remove_dir_all(dir);
    }
}
