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
//!
//! Every attempt is logged ([`Attempt`]: the body sent, the first [`MAX_LOGGED_RESPONSE`]
//! bytes of the answer or why none came, and a result code) for
//! `DescribeCallbackRecordsList`, and kept [`LOG_DAYS`] days.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use super::db::{Attempt, Database, Pending};
use super::error::ServerError;
use super::settings::CallbackSettings;
use crate::config::callback_event::sign_body;

/// Rows claimed per worker pass.
pub const DELIVERY_BATCH: i64 = 32;
/// Longest sleep of an idle worker before it looks at the table again (new rows of this
/// node wake it at once; this bounds a missed wake-up, and how long rows another node
/// queued and could not send — it died — wait for this one).
pub const IDLE_POLL: Duration = Duration::from_secs(5);

/// Bytes of a receiver's answer kept in the delivery log.
pub const MAX_LOGGED_RESPONSE: usize = 1024;
/// Days the delivery log keeps an event's attempts (the reference's window: 14).
pub const LOG_DAYS: i64 = 14;
/// How often the log is pruned.
const PRUNE_EVERY_MS: i64 = 3_600_000;

/// The outbox.
#[derive(Clone)]
pub struct Notifier {
    db: Arc<dyn Database>,
    wake: Arc<Notify>,
    settings: CallbackSettings,
}

fn db_err(e: super::db::DbError) -> ServerError {
    ServerError::Database(e.to_string())
}

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

impl Notifier {
    /// An outbox over `db`.
    pub fn new(db: Arc<dyn Database>, settings: CallbackSettings) -> Self {
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
        let pending = Pending {
            event_id,
            url: url.to_owned(),
            callback_key: key.to_owned(),
            body: body.to_string(),
            attempts: 0,
        };
        self.db.enqueue(&pending, now_ms()).await.map_err(db_err)?;
        self.wake.notify_one();
        Ok(())
    }

    /// Rows still queued.
    pub async fn pending(&self) -> Result<i64, ServerError> {
        self.db.queued().await.map_err(db_err)
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
        let mut pruned_ms = 0;
        loop {
            if now_ms() - pruned_ms >= PRUNE_EVERY_MS {
                pruned_ms = now_ms();
                if let Err(e) = self.db.prune_log(pruned_ms - LOG_DAYS * 86_400_000).await {
                    tracing::warn!(error = %e, "pruning the callback log");
                }
            }
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

    /// Sends the due rows; returns when the next one is due. Each claimed row stays
    /// hidden from other claims until its send's timeout has passed: if recording the
    /// outcome fails, it is retried then instead of being re-sent in a tight loop.
    async fn pass(&self, client: &reqwest::Client) -> Result<Option<i64>, ServerError> {
        let now = now_ms();
        let until = now + (self.settings.timeout_seconds.max(1) as i64 + 1) * 1000;
        let due = self
            .db
            .claim(now, until, DELIVERY_BATCH)
            .await
            .map_err(db_err)?;
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
        self.db.next_due().await.map_err(db_err)
    }

    async fn send(&self, client: &reqwest::Client, due: &Pending) -> Result<(), ServerError> {
        let body: Value = serde_json::from_str(&due.body).unwrap_or(Value::Null);
        let signed = sign_body(&body, &due.callback_key, now_ms() / 1000);
        let result = client
            .post(&due.url)
            .header("X-Liverec-Event-Id", &due.event_id)
            .json(&signed)
            .send()
            .await;
        let (code, answer) = match result {
            Ok(response) => {
                let status = response.status().as_u16();
                let code = if status == 200 { 0 } else { i64::from(status) };
                (code, answer_of(response).await)
            }
            Err(e) => (1, e.to_string()),
        };
        let attempts = due.attempts + 1;
        let will_retry = code != 0 && attempts <= i64::from(self.settings.max_retries);
        self.log(due, &signed, attempts, code, &answer, will_retry)
            .await;
        let error = (code != 0).then(|| match code {
            1 => answer.clone(),
            status => format!("HTTP {status}"),
        });
        let Some(error) = error else {
            tracing::debug!(event = %due.event_id, url = %due.url, "callback delivered");
            return self.db.ack(&due.event_id).await.map_err(db_err);
        };
        if !will_retry {
            tracing::warn!(event = %due.event_id, url = %due.url, %error, attempts, "callback given up");
            return self.db.ack(&due.event_id).await.map_err(db_err);
        }
        tracing::info!(event = %due.event_id, url = %due.url, %error, attempts, "callback failed; will retry");
        let next = now_ms() + (self.settings.retry_interval_seconds as i64) * 1000;
        self.db
            .retry(&due.event_id, attempts, next, &error)
            .await
            .map_err(db_err)
    }

    /// Logs one attempt (a failure to log is a warning: delivery goes on).
    async fn log(
        &self,
        due: &Pending,
        signed: &Value,
        attempt: i64,
        code: i64,
        answer: &str,
        will_retry: bool,
    ) {
        let body: Value = serde_json::from_str(&due.body).unwrap_or(Value::Null);
        let mut response = answer.to_owned();
        if code != 0 {
            let next = if will_retry {
                format!("retrying in {} s", self.settings.retry_interval_seconds)
            } else {
                "given up".to_owned()
            };
            response = format!("{response} (attempt {attempt}; {next})");
        }
        let now = now_ms();
        let entry = Attempt {
            event_id: due.event_id.clone(),
            attempt,
            stream_name: body
                .get("stream_id")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned(),
            event_type: body.get("event_type").and_then(Value::as_i64).unwrap_or(-1),
            event_ms: now,
            response_ms: now,
            request: signed.to_string(),
            response,
            result_code: code,
        };
        if let Err(e) = self.db.log_attempt(&entry).await {
            tracing::warn!(error = %e, event = %due.event_id, "logging a callback attempt");
        }
    }
}

/// The first [`MAX_LOGGED_RESPONSE`] bytes of a receiver's answer, as text.
async fn answer_of(mut response: reqwest::Response) -> String {
    let mut kept = Vec::new();
    while kept.len() < MAX_LOGGED_RESPONSE {
        match response.chunk().await {
            Ok(Some(chunk)) => kept.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    kept.truncate(MAX_LOGGED_RESPONSE);
    String::from_utf8_lossy(&kept).into_owned()
}
