//! Callback delivery (reference §8.1): a durable outbox in the metadata DB and one worker.
//!
//! [`Notifier::enqueue`] inserts the body (see [`crate::config::callback_event`]) and
//! wakes the worker, so a file's callback leaves within milliseconds of the file being
//! final. The worker POSTs due rows as JSON with a fresh `t`/`sign`, waits at most
//! `timeout_seconds` (20), and deletes the row on HTTP 200. Otherwise it records the
//! error and retries after `retry_interval_seconds` (60), at most `max_retries` (12)
//! times, then gives up with a warning. Rows survive restarts: delivery is
//! at-least-once, with `event_id` (also sent as the `X-Liverec-Event-Id` header) to
//! deduplicate on.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use sqlx::{Row, SqlitePool};
use tokio::sync::Notify;

use super::settings::CallbackSettings;
use super::ServerError;
use crate::config::callback_event::sign_body;

/// Rows fetched per worker pass.
pub const DELIVERY_BATCH: i64 = 32;
/// Longest sleep of an idle worker before it looks at the table again (new rows wake it
/// at once; this only bounds the effect of a missed wake-up).
pub const IDLE_POLL: Duration = Duration::from_secs(30);

/// The outbox.
#[derive(Debug, Clone)]
pub struct Notifier {
    db: SqlitePool,
    wake: Arc<Notify>,
    settings: CallbackSettings,
}

fn db_err(e: sqlx::Error) -> ServerError {
    ServerError::Database(format!("callback outbox: {e}"))
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

struct Due {
    event_id: String,
    url: String,
    key: String,
    body: String,
    attempts: i64,
}

impl Notifier {
    /// An outbox over `db`.
    pub fn new(db: SqlitePool, settings: CallbackSettings) -> Self {
        Self {
            db,
            wake: Arc::new(Notify::new()),
            settings,
        }
    }

    /// Queues `body` for `url`, signed with `key` at delivery.
    pub async fn enqueue(&self, url: &str, key: &str, body: &Value) -> Result<(), ServerError> {
        let event_id = body
            .get("event_id")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let now = now_ms();
        sqlx::query(
            "INSERT OR IGNORE INTO callback_outbox (event_id, url, callback_key, body, next_attempt_ms, created_ms) \
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&event_id)
        .bind(url)
        .bind(key)
        .bind(body.to_string())
        .bind(now)
        .bind(now)
        .execute(&self.db)
        .await
        .map_err(db_err)?;
        self.wake.notify_one();
        Ok(())
    }

    /// Rows still queued.
    pub async fn pending(&self) -> Result<i64, ServerError> {
        let row = sqlx::query("SELECT COUNT(*) AS n FROM callback_outbox")
            .fetch_one(&self.db)
            .await
            .map_err(db_err)?;
        Ok(row.get("n"))
    }

    /// Delivers forever (spawn it once).
    pub async fn run(self) {
        let client = match reqwest::Client::builder()
            .timeout(Duration::from_secs(self.settings.timeout_seconds.max(1)))
            .build()
        {
            Ok(client) => client,
            Err(e) => {
                tracing::error!(error = %e, "callbacks disabled: cannot build an HTTP client");
                return;
            }
        };
        loop {
            let wait = match self.pass(&client).await {
                Ok(Some(next)) => Duration::from_millis((next - now_ms()).clamp(0, 30_000) as u64),
                Ok(None) => IDLE_POLL,
                Err(e) => {
                    tracing::warn!(error = %e, "callback outbox");
                    IDLE_POLL
                }
            };
            if !wait.is_zero() {
                let _ = tokio::time::timeout(wait, self.wake.notified()).await;
            }
        }
    }

    /// Sends the due rows; returns when the next one is due.
    async fn pass(&self, client: &reqwest::Client) -> Result<Option<i64>, ServerError> {
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT event_id, url, callback_key, body, attempts FROM callback_outbox \
             WHERE next_attempt_ms <= ? ORDER BY next_attempt_ms LIMIT ?",
        )
        .bind(now)
        .bind(DELIVERY_BATCH)
        .fetch_all(&self.db)
        .await
        .map_err(db_err)?;
        let due: Vec<Due> = rows
            .iter()
            .map(|r| Due {
                event_id: r.get("event_id"),
                url: r.get("url"),
                key: r.get("callback_key"),
                body: r.get("body"),
                attempts: r.get("attempts"),
            })
            .collect();
        // Concurrently: a slow receiver (up to the timeout) does not hold up the others.
        let mut sends = tokio::task::JoinSet::new();
        for d in due {
            let (me, client) = (self.clone(), client.clone());
            sends.spawn(async move { me.send(&client, &d).await });
        }
        while let Some(joined) = sends.join_next().await {
            if let Ok(Err(e)) = joined {
                tracing::warn!(error = %e, "callback outbox");
            }
        }
        let next = sqlx::query("SELECT MIN(next_attempt_ms) AS next FROM callback_outbox")
            .fetch_one(&self.db)
            .await
            .map_err(db_err)?;
        Ok(next.get::<Option<i64>, _>("next"))
    }

    async fn send(&self, client: &reqwest::Client, due: &Due) -> Result<(), ServerError> {
        // Claim the row first: if recording the outcome fails, it is retried after the
        // timeout instead of being re-sent in a tight loop.
        let claim = now_ms() + (self.settings.timeout_seconds.max(1) as i64 + 1) * 1000;
        sqlx::query("UPDATE callback_outbox SET next_attempt_ms = ? WHERE event_id = ?")
            .bind(claim)
            .bind(&due.event_id)
            .execute(&self.db)
            .await
            .map_err(db_err)?;
        let body: Value = serde_json::from_str(&due.body).unwrap_or(Value::Null);
        let signed = sign_body(&body, &due.key, now_ms() / 1000);
        let result = client
            .post(&due.url)
            .header("X-Liverec-Event-Id", &due.event_id)
            .json(&signed)
            .send()
            .await;
        let error = match result {
            Ok(response) if response.status() == reqwest::StatusCode::OK => None,
            Ok(response) => Some(format!("HTTP {}", response.status().as_u16())),
            Err(e) => Some(e.to_string()),
        };
        let Some(error) = error else {
            tracing::debug!(event = %due.event_id, url = %due.url, "callback delivered");
            return self.delete(&due.event_id).await;
        };
        let attempts = due.attempts + 1;
        if attempts > i64::from(self.settings.max_retries) {
            tracing::warn!(event = %due.event_id, url = %due.url, %error, attempts, "callback given up");
            return self.delete(&due.event_id).await;
        }
        tracing::info!(event = %due.event_id, url = %due.url, %error, attempts, "callback failed; will retry");
        let next = now_ms() + (self.settings.retry_interval_seconds as i64) * 1000;
        sqlx::query(
            "UPDATE callback_outbox SET attempts = ?, next_attempt_ms = ?, last_error = ? WHERE event_id = ?",
        )
        .bind(attempts)
        .bind(next)
        .bind(&error)
        .bind(&due.event_id)
        .execute(&self.db)
        .await
        .map_err(db_err)?;
        Ok(())
    }

    async fn delete(&self, event_id: &str) -> Result<(), ServerError> {
        sqlx::query("DELETE FROM callback_outbox WHERE event_id = ?")
            .bind(event_id)
            .execute(&self.db)
            .await
            .map_err(db_err)?;
        Ok(())
    }
}
