//! The metadata database (SQLite through sqlx; migrations embedded from `migrations/`).
//!
//! Configuration rows hold the API JSON of each object; the server keeps the whole
//! configuration in memory ([`super::state::ControlState`]) and writes each change here
//! inside the same lock, so the database always matches what the API answered.

use std::path::Path;
use std::str::FromStr;

use serde::{de::DeserializeOwned, Serialize};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::state::ControlState;
use super::ServerError;
use crate::config::callback::{CallbackRule, CallbackTemplate};
use crate::config::push_auth::PushAuthKey;
use crate::config::rule::RecordRule;
use crate::config::task::RecordTask;
use crate::config::template::RecordTemplate;

/// Opens (creating if needed) `DATA/liverec.db` and applies migrations.
pub async fn open(data_dir: &Path) -> Result<SqlitePool, ServerError> {
    std::fs::create_dir_all(data_dir).map_err(|source| ServerError::Io {
        context: format!("creating {}", data_dir.display()),
        source,
    })?;
    let path = data_dir.join("liverec.db");
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))
        .map_err(db_err("opening the database"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(std::time::Duration::from_secs(5));
    let pool = SqlitePoolOptions::new()
        .max_connections(4)
        .connect_with(options)
        .await
        .map_err(db_err("opening the database"))?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(|e| ServerError::Database(format!("migrating the database: {e}")))?;
    Ok(pool)
}

fn db_err(context: &'static str) -> impl Fn(sqlx::Error) -> ServerError {
    move |e| ServerError::Database(format!("{context}: {e}"))
}

fn decode<T: DeserializeOwned>(table: &str, body: &str) -> Result<T, ServerError> {
    serde_json::from_str(body)
        .map_err(|e| ServerError::Database(format!("corrupt row in {table}: {e}")))
}

fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

async fn bodies(pool: &SqlitePool, sql: &str) -> Result<Vec<String>, ServerError> {
    let rows = sqlx::query(sql)
        .fetch_all(pool)
        .await
        .map_err(db_err("loading"))?;
    Ok(rows.iter().map(|r| r.get::<String, _>("body")).collect())
}

/// Loads the whole configuration.
pub async fn load(pool: &SqlitePool) -> Result<ControlState, ServerError> {
    let mut state = ControlState::default();
    for body in bodies(
        pool,
        "SELECT body FROM record_templates ORDER BY template_id",
    )
    .await?
    {
        state
            .config
            .templates
            .push(decode::<RecordTemplate>("record_templates", &body)?);
    }
    for body in bodies(pool, "SELECT body FROM record_rules ORDER BY rowid").await? {
        state
            .config
            .rules
            .push(decode::<RecordRule>("record_rules", &body)?);
    }
    for body in bodies(
        pool,
        "SELECT body FROM record_tasks ORDER BY start_time, task_id",
    )
    .await?
    {
        state
            .config
            .tasks
            .push(decode::<RecordTask>("record_tasks", &body)?);
    }
    for body in bodies(
        pool,
        "SELECT body FROM callback_templates ORDER BY template_id",
    )
    .await?
    {
        state
            .callbacks
            .templates
            .push(decode::<CallbackTemplate>("callback_templates", &body)?);
    }
    for body in bodies(pool, "SELECT body FROM callback_rules ORDER BY rowid").await? {
        state
            .callbacks
            .rules
            .push(decode::<CallbackRule>("callback_rules", &body)?);
    }
    for body in bodies(pool, "SELECT body FROM push_auth_keys ORDER BY domain_key").await? {
        let key: PushAuthKey = decode("push_auth_keys", &body)?;
        state
            .push_auth
            .insert(key.domain_name.to_ascii_lowercase(), key);
    }
    let counters = sqlx::query("SELECT name, value FROM counters")
        .fetch_all(pool)
        .await
        .map_err(db_err("loading"))?;
    for row in counters {
        let value: i64 = row.get("value");
        match row.get::<String, _>("name").as_str() {
            "record_template_id" => state.next_record_template_id = value,
            "callback_template_id" => state.next_callback_template_id = value,
            _ => {}
        }
    }
    Ok(state)
}

/// One change to persist.
#[derive(Debug, Clone)]
pub enum Change {
    /// Insert or replace a recording template.
    PutRecordTemplate(Box<RecordTemplate>),
    /// Delete a recording template.
    DeleteRecordTemplate(i64),
    /// Insert a recording rule.
    PutRecordRule(RecordRule),
    /// Delete a recording rule by key.
    DeleteRecordRule(RecordRule),
    /// Insert or replace a task.
    PutTask(RecordTask),
    /// Delete a task.
    DeleteTask(String),
    /// Insert or replace a callback template.
    PutCallbackTemplate(Box<CallbackTemplate>),
    /// Delete a callback template.
    DeleteCallbackTemplate(i64),
    /// Insert a callback rule.
    PutCallbackRule(CallbackRule),
    /// Delete a callback rule.
    DeleteCallbackRule(CallbackRule),
    /// Insert or replace a domain's push keys.
    PutPushAuthKey(PushAuthKey),
    /// Set a counter.
    Counter(&'static str, i64),
}

/// Writes `changes` in one transaction.
pub async fn apply(pool: &SqlitePool, changes: &[Change]) -> Result<(), ServerError> {
    let mut tx = pool.begin().await.map_err(db_err("writing"))?;
    for change in changes {
        apply_one(&mut tx, change).await?;
    }
    tx.commit().await.map_err(db_err("committing"))
}

async fn exec(
    tx: &mut Transaction<'_, Sqlite>,
    sql: &str,
    binds: &[Bind],
) -> Result<(), ServerError> {
    let mut query = sqlx::query(sql);
    for bind in binds {
        query = match bind {
            Bind::Int(v) => query.bind(*v),
            Bind::Text(v) => query.bind(v.clone()),
        };
    }
    query.execute(&mut **tx).await.map_err(db_err("writing"))?;
    Ok(())
}

enum Bind {
    Int(i64),
    Text(String),
}

fn text(s: &str) -> Bind {
    Bind::Text(s.to_owned())
}

async fn apply_one(tx: &mut Transaction<'_, Sqlite>, change: &Change) -> Result<(), ServerError> {
    use Bind::Int;
    match change {
        Change::PutRecordTemplate(t) => {
            let sql = "INSERT OR REPLACE INTO record_templates (template_id, body) VALUES (?, ?)";
            exec(
                tx,
                sql,
                &[Int(t.template_id.unwrap_or(0)), Bind::Text(encode(t))],
            )
            .await
        }
        Change::DeleteRecordTemplate(id) => {
            exec(
                tx,
                "DELETE FROM record_templates WHERE template_id = ?",
                &[Int(*id)],
            )
            .await
        }
        Change::PutRecordRule(r) => {
            let sql = "INSERT INTO record_rules (domain_key, app_name, stream_name, body) VALUES (?, ?, ?, ?)";
            exec(
                tx,
                sql,
                &[
                    text(&r.domain_name.to_ascii_lowercase()),
                    text(&r.app_name),
                    text(&r.stream_name),
                    Bind::Text(encode(r)),
                ],
            )
            .await
        }
        Change::DeleteRecordRule(r) => {
            let sql = "DELETE FROM record_rules WHERE domain_key = ? AND app_name = ? AND stream_name = ?";
            exec(
                tx,
                sql,
                &[
                    text(&r.domain_name.to_ascii_lowercase()),
                    text(&r.app_name),
                    text(&r.stream_name),
                ],
            )
            .await
        }
        Change::PutTask(t) => {
            let sql = "INSERT OR REPLACE INTO record_tasks (task_id, start_time, end_time, body) VALUES (?, ?, ?, ?)";
            exec(
                tx,
                sql,
                &[
                    text(&t.task_id),
                    Int(t.start_time),
                    Int(t.end_time),
                    Bind::Text(encode(t)),
                ],
            )
            .await
        }
        Change::DeleteTask(id) => {
            exec(
                tx,
                "DELETE FROM record_tasks WHERE task_id = ?",
                &[text(id)],
            )
            .await
        }
        Change::PutCallbackTemplate(t) => {
            let sql = "INSERT OR REPLACE INTO callback_templates (template_id, body) VALUES (?, ?)";
            exec(
                tx,
                sql,
                &[Int(t.template_id.unwrap_or(0)), Bind::Text(encode(t))],
            )
            .await
        }
        Change::DeleteCallbackTemplate(id) => {
            exec(
                tx,
                "DELETE FROM callback_templates WHERE template_id = ?",
                &[Int(*id)],
            )
            .await
        }
        Change::PutCallbackRule(r) => {
            let sql = "INSERT INTO callback_rules (domain_key, app_name, body) VALUES (?, ?, ?)";
            exec(
                tx,
                sql,
                &[
                    text(&r.domain_name.to_ascii_lowercase()),
                    text(&r.app_name),
                    Bind::Text(encode(r)),
                ],
            )
            .await
        }
        Change::DeleteCallbackRule(r) => {
            let sql = "DELETE FROM callback_rules WHERE domain_key = ? AND app_name = ?";
            exec(
                tx,
                sql,
                &[text(&r.domain_name.to_ascii_lowercase()), text(&r.app_name)],
            )
            .await
        }
        Change::PutPushAuthKey(k) => {
            let sql = "INSERT OR REPLACE INTO push_auth_keys (domain_key, body) VALUES (?, ?)";
            exec(
                tx,
                sql,
                &[
                    text(&k.domain_name.to_ascii_lowercase()),
                    Bind::Text(encode(k)),
                ],
            )
            .await
        }
        Change::Counter(name, value) => {
            let sql = "INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)";
            exec(tx, sql, &[text(name), Int(*value)]).await
        }
    }
}
