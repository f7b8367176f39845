//! What [`super::sqlite`] and [`super::postgres`] share: the statements both run
//! unchanged, the filters of a recordings search, and the mapping of errors and bodies.
//!
//! Placeholders are `$n`, which both accept (sqlx's SQLite reads `$n` as the n-th
//! argument), and the SQL is the common subset: `ON CONFLICT … DO NOTHING / DO UPDATE`
//! rather than SQLite's `INSERT OR IGNORE`, no `rowid`, integer arithmetic only. What a
//! backend does its own way — claiming the outbox, the lease clock, loading in one
//! snapshot — is in its own file.

use serde::{de::DeserializeOwned, Serialize};
use sqlx::{Encode, QueryBuilder, Type};

use super::{Change, ControlState, DbError, Search};
use crate::config::callback::{CallbackRule, CallbackTemplate};
use crate::config::forbid::ForbiddenStream;
use crate::config::mix::MixSession;
use crate::config::push_auth::PushAuthKey;
use crate::config::rule::RecordRule;
use crate::config::task::RecordTask;
use crate::config::template::RecordTemplate;

/// The configuration's version now.
pub(super) const VERSION: &str = "SELECT version FROM config_version WHERE id = 1";

/// Bumps the configuration's version (in a write's transaction).
pub(super) const BUMP_VERSION: &str =
    "UPDATE config_version SET version = version + 1 WHERE id = 1 RETURNING version";

/// Indexes a recording (again: nothing changes, so a retried or recovered index is safe).
pub(super) const INSERT_RECORDING: &str =
    "INSERT INTO recordings (file_id, domain_name, app_name, stream_name, format, start_ms, end_ms, duration_ms, \
     size_bytes, video_codec, audio_codec, width, height, task_id, template_id, storage_path, url, created_ms, expires_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19) \
     ON CONFLICT (file_id) DO NOTHING";

/// Recordings past their deadline `$1`, soonest first, at most `$2`.
pub(super) const EXPIRED: &str =
    "SELECT * FROM recordings WHERE expires_ms IS NOT NULL AND expires_ms <= $1 ORDER BY expires_ms, file_id LIMIT $2";

/// The oldest recordings with a deadline (or all, when `$1`), at most `$2`.
pub(super) const OLDEST: &str =
    "SELECT * FROM recordings WHERE expires_ms IS NOT NULL OR $1 ORDER BY start_ms, file_id LIMIT $2";

/// Removes a recording's row.
pub(super) const DELETE_RECORDING: &str = "DELETE FROM recordings WHERE file_id = $1";

/// Queues a callback (a second one with its event id is ignored).
pub(super) const ENQUEUE: &str =
    "INSERT INTO callback_outbox (event_id, url, callback_key, body, attempts, next_attempt_ms, created_ms) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (event_id) DO NOTHING";

/// Removes a callback.
pub(super) const ACK: &str = "DELETE FROM callback_outbox WHERE event_id = $1";

/// Reschedules a callback.
pub(super) const RETRY: &str =
    "UPDATE callback_outbox SET attempts = $1, next_attempt_ms = $2, last_error = $3 WHERE event_id = $4";

/// When the next callback is due.
pub(super) const NEXT_DUE: &str = "SELECT MIN(next_attempt_ms) AS next FROM callback_outbox";

/// Callbacks queued.
pub(super) const QUEUED: &str = "SELECT COUNT(*) AS n FROM callback_outbox";

/// Logs a delivery attempt; its event time is the event's first logged attempt's, if any.
pub(super) const LOG_ATTEMPT: &str =
    "INSERT INTO callback_log (event_id, attempt, stream_name, event_type, event_ms, response_ms, \
     request, response, result_code) SELECT $1, $2, $3, $4, \
     COALESCE((SELECT MIN(event_ms) FROM callback_log WHERE event_id = $1), $5), $6, $7, $8, $9 \
     WHERE true ON CONFLICT (event_id, attempt) DO NOTHING";

/// The filter of [`ATTEMPTS`] and [`COUNT_ATTEMPTS`]: event time in [$1, $2), stream $3,
/// event type $4, delivered $5 (1) or not (0); NULL: any.
macro_rules! attempt_filter {
    () => {
        "FROM callback_log WHERE event_ms >= $1 AND event_ms < $2 \
         AND (CAST($3 AS TEXT) IS NULL OR stream_name = $3) \
         AND (CAST($4 AS BIGINT) IS NULL OR event_type = $4) \
         AND (CAST($5 AS BIGINT) IS NULL OR (CASE WHEN result_code = 0 THEN 1 ELSE 0 END) = $5)"
    };
}

/// Logged attempts, newest first: filtered as `attempt_filter!`, then LIMIT $6 OFFSET $7;
/// each row also carries `total`, how many the filter matches, counted in the same
/// statement (one snapshot: a count read apart could disagree with the page).
pub(super) const ATTEMPTS: &str = concat!(
    "SELECT *, COUNT(*) OVER () AS total ",
    attempt_filter!(),
    " ORDER BY event_ms DESC, event_id, attempt DESC LIMIT $6 OFFSET $7"
);

/// How many logged attempts `attempt_filter!` matches (for a page past the end, where
/// [`ATTEMPTS`] returns no row to carry it).
pub(super) const COUNT_ATTEMPTS: &str = concat!("SELECT COUNT(*) ", attempt_filter!());

/// Forgets attempts of events before $1.
pub(super) const PRUNE_LOG: &str = "DELETE FROM callback_log WHERE event_ms < $1";

/// Takes or renews lease `$1` for owner `$2` for `$3` ms, with "now" from `$clock` (an
/// SQL expression, read once): the epoch goes up unless the same owner renews in time;
/// returns no row while another owner holds it. (`WHERE true` keeps SQLite from reading
/// `ON CONFLICT` as a join's `ON`.)
macro_rules! acquire_lease {
    ($clock:literal) => {
        concat!(
            "WITH clock AS (SELECT ",
            $clock,
            " AS now_ms) \
             INSERT INTO leases (name, owner, expires_ms, epoch) \
             SELECT $1, $2, now_ms + $3, 1 FROM clock WHERE true \
             ON CONFLICT (name) DO UPDATE SET \
             epoch = CASE WHEN leases.owner = excluded.owner AND leases.expires_ms > (SELECT now_ms FROM clock) \
             THEN leases.epoch ELSE leases.epoch + 1 END, \
             owner = excluded.owner, expires_ms = excluded.expires_ms \
             WHERE leases.owner = excluded.owner OR leases.expires_ms <= (SELECT now_ms FROM clock) \
             RETURNING epoch"
        )
    };
}

/// `acquire_lease!` with the caller's clock (`$4`).
pub(super) const ACQUIRE_LEASE_AT: &str = acquire_lease!("$4");

/// `acquire_lease!` with PostgreSQL's clock (the time of the statement's execution, in
/// Unix ms), which every node sharing the database agrees on.
pub(super) const ACQUIRE_LEASE_PG_CLOCK: &str =
    acquire_lease!("(extract(epoch FROM clock_timestamp()) * 1000)::bigint");

/// Renews every lease owner `$1` holds unexpired whose name starts with `$2`, for `$3`
/// ms, with "now" from `$clock`; returns their names.
macro_rules! renew_leases {
    ($clock:literal) => {
        concat!(
            "WITH clock AS (SELECT ",
            $clock,
            " AS now_ms) \
             UPDATE leases SET expires_ms = (SELECT now_ms FROM clock) + $3 \
             WHERE owner = $1 AND substr(name, 1, length($2)) = $2 \
             AND expires_ms > (SELECT now_ms FROM clock) RETURNING name"
        )
    };
}

/// `renew_leases!` with the caller's clock (`$4`).
pub(super) const RENEW_LEASES_AT: &str = renew_leases!("$4");

/// `renew_leases!` with PostgreSQL's clock.
pub(super) const RENEW_LEASES_PG_CLOCK: &str =
    renew_leases!("(extract(epoch FROM clock_timestamp()) * 1000)::bigint");

/// Releases lease `$1` if `$2` holds it: it expires, its row (and epoch) stays.
pub(super) const RELEASE_LEASE: &str =
    "UPDATE leases SET expires_ms = 0 WHERE name = $1 AND owner = $2";

/// A lease's holder, epoch and deadline.
pub(super) const LEASE_HOLDER: &str = "SELECT owner, epoch, expires_ms FROM leases WHERE name = $1";

/// The longest lease, ms (about 35,000 years): keeps `now + ttl` far from overflowing a
/// 64-bit integer, which SQLite would turn into a float and PostgreSQL refuse.
pub(super) const MAX_LEASE_TTL_MS: i64 = 1 << 50;

/// `ttl_ms` within ±[`MAX_LEASE_TTL_MS`] (a negative one leaves the lease expired).
pub(super) fn lease_ttl(ttl_ms: i64) -> i64 {
    ttl_ms.clamp(-MAX_LEASE_TTL_MS, MAX_LEASE_TTL_MS)
}

/// A value bound to a configuration statement.
pub(super) enum Bind {
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
}

fn text(s: &str) -> Bind {
    Bind::Text(s.to_owned())
}

fn domain_key(domain: &str) -> Bind {
    Bind::Text(domain.to_ascii_lowercase())
}

fn body<T: Serialize>(value: &T) -> Bind {
    Bind::Text(encode(value))
}

/// How many configuration tables [`assemble`] reads.
pub(super) const TABLES: usize = 8;

/// The statement and binds of a change; those of new templates return the allocated id.
#[rustfmt::skip]
pub(super) fn statement(change: &Change) -> (&'static str, Vec<Bind>) {
    use Bind::Int;
    match change {
        Change::NewRecordTemplate(t) => ("INSERT INTO record_templates (body) VALUES ($1) RETURNING template_id", vec![body(t)]),
        Change::PutRecordTemplate(t) => ("UPDATE record_templates SET body = $1 WHERE template_id = $2", vec![body(t), Int(t.template_id.unwrap_or(0))]),
        Change::DeleteRecordTemplate(id) => ("DELETE FROM record_templates WHERE template_id = $1", vec![Int(*id)]),
        Change::PutRecordRule(r) => ("INSERT INTO record_rules (domain_key, app_name, stream_name, body) VALUES ($1, $2, $3, $4)", vec![domain_key(&r.domain_name), text(&r.app_name), text(&r.stream_name), body(r)]),
        Change::DeleteRecordRule(r) => ("DELETE FROM record_rules WHERE domain_key = $1 AND app_name = $2 AND stream_name = $3", vec![domain_key(&r.domain_name), text(&r.app_name), text(&r.stream_name)]),
        Change::PutTask(t) => ("INSERT INTO record_tasks (task_id, start_time, end_time, body) VALUES ($1, $2, $3, $4) ON CONFLICT (task_id) DO UPDATE SET start_time = excluded.start_time, end_time = excluded.end_time, body = excluded.body", vec![text(&t.task_id), Int(t.start_time), Int(t.end_time), body(t)]),
        Change::DeleteTask(id) => ("DELETE FROM record_tasks WHERE task_id = $1", vec![text(id)]),
        Change::NewCallbackTemplate(t) => ("INSERT INTO callback_templates (body) VALUES ($1) RETURNING template_id", vec![body(t)]),
        Change::PutCallbackTemplate(t) => ("UPDATE callback_templates SET body = $1 WHERE template_id = $2", vec![body(t), Int(t.template_id.unwrap_or(0))]),
        Change::DeleteCallbackTemplate(id) => ("DELETE FROM callback_templates WHERE template_id = $1", vec![Int(*id)]),
        Change::PutCallbackRule(r) => ("INSERT INTO callback_rules (domain_key, app_name, body) VALUES ($1, $2, $3)", vec![domain_key(&r.domain_name), text(&r.app_name), body(r)]),
        Change::DeleteCallbackRule(r) => ("DELETE FROM callback_rules WHERE domain_key = $1 AND app_name = $2", vec![domain_key(&r.domain_name), text(&r.app_name)]),
        Change::PutMixSession(m) => ("INSERT INTO mix_sessions (session_id, body) VALUES ($1, $2) ON CONFLICT (session_id) DO UPDATE SET body = excluded.body", vec![text(&m.mix_stream_session_id), body(m)]),
        Change::DeleteMixSession(id) => ("DELETE FROM mix_sessions WHERE session_id = $1", vec![text(id)]),
        Change::PutForbidden(f) => ("INSERT INTO forbidden_streams (stream_key, body) VALUES ($1, $2) ON CONFLICT (stream_key) DO UPDATE SET body = excluded.body", vec![text(&f.key()), body(f)]),
        Change::DeleteForbidden(key) => ("DELETE FROM forbidden_streams WHERE stream_key = $1", vec![text(key)]),
        Change::PutPushAuthKey(k) => ("INSERT INTO push_auth_keys (domain_key, body) VALUES ($1, $2) ON CONFLICT (domain_key) DO UPDATE SET body = excluded.body", vec![domain_key(&k.domain_name), body(k)]),
    }
}

/// Whether `change` creates a template (its statement returns the new id).
pub(super) fn allocates_id(change: &Change) -> bool {
    matches!(
        change,
        Change::NewRecordTemplate(_) | Change::NewCallbackTemplate(_)
    )
}

/// The configuration from the `(id, body)` rows of its tables, in this order: recording
/// templates, recording rules, tasks, callback templates, callback rules, push keys, mix
/// sessions, forbidden streams. A template's id is its row's (the JSON's copy is overwritten).
pub(super) fn assemble(tables: [Vec<(i64, String)>; TABLES]) -> Result<ControlState, DbError> {
    let [templates, rules, tasks, callback_templates, callback_rules, keys, mixes, forbidden] =
        tables;
    let mut state = ControlState::default();
    for (id, body) in templates {
        let mut t: RecordTemplate = decode("record_templates", &body)?;
        t.template_id = Some(id);
        state.config.templates.push(t);
    }
    for (_, body) in rules {
        let rule: RecordRule = decode("record_rules", &body)?;
        state.config.rules.push(rule);
    }
    for (_, body) in tasks {
        let task: RecordTask = decode("record_tasks", &body)?;
        state.config.tasks.push(task.into());
    }
    for (id, body) in callback_templates {
        let mut t: CallbackTemplate = decode("callback_templates", &body)?;
        t.template_id = Some(id);
        state.callbacks.templates.push(t);
    }
    for (_, body) in callback_rules {
        let rule: CallbackRule = decode("callback_rules", &body)?;
        state.callbacks.rules.push(rule);
    }
    for (_, body) in keys {
        let key: PushAuthKey = decode("push_auth_keys", &body)?;
        let domain = key.domain_name.to_ascii_lowercase();
        state.push_auth.insert(domain, key);
    }
    for (_, body) in mixes {
        let mix: MixSession = decode("mix_sessions", &body)?;
        state.mixes.insert(mix.mix_stream_session_id.clone(), mix);
    }
    for (_, body) in forbidden {
        let f: ForbiddenStream = decode("forbidden_streams", &body)?;
        state.forbidden.insert(f.key(), f);
    }
    Ok(state)
}

/// A `LIMIT` as SQLite reads it: a negative one is no limit.
pub(super) fn limit(n: i64) -> i64 {
    if n < 0 {
        i64::MAX
    } else {
        n
    }
}

/// Appends the `WHERE` clause of `s` to `q`. The domain matches case-insensitively in
/// ASCII (`lower()` changes only ASCII letters in SQLite, and on PostgreSQL's `"C"`
/// columns).
pub(super) fn filters<'a, DB>(q: &mut QueryBuilder<'a, DB>, s: &Search)
where
    DB: sqlx::Database,
    String: Encode<'a, DB> + Type<DB>,
    i64: Encode<'a, DB> + Type<DB>,
{
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
    if let Some(after) = s.ends_after_ms {
        q.push(" AND end_ms > ").push_bind(after);
    }
}

/// Appends the order and page of `s` to `q` (a negative offset is none, as in SQLite).
pub(super) fn page<'a, DB>(q: &mut QueryBuilder<'a, DB>, s: &Search)
where
    DB: sqlx::Database,
    i64: Encode<'a, DB> + Type<DB>,
{
    q.push(if s.descending {
        " ORDER BY start_ms DESC, file_id DESC"
    } else {
        " ORDER BY start_ms, file_id"
    });
    q.push(" LIMIT ")
        .push_bind(limit(s.limit))
        .push(" OFFSET ")
        .push_bind(s.offset.max(0));
}

/// Maps a driver error to [`DbError::Backend`] while doing `context`.
pub(super) fn backend(context: &'static str) -> impl Fn(sqlx::Error) -> DbError {
    move |e| DbError::Backend {
        context,
        message: e.to_string(),
    }
}

/// Maps a driver error to [`DbError::Corrupt`] when a row of `table` could not be read
/// back, else to [`DbError::Backend`] while doing `context`.
pub(super) fn reading(
    table: &'static str,
    context: &'static str,
) -> impl Fn(sqlx::Error) -> DbError {
    move |e| match e {
        sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::Decode(_) => DbError::Corrupt {
            table,
            message: e.to_string(),
        },
        e => backend(context)(e),
    }
}

/// Reads a configuration body of `table`.
pub(super) fn decode<T: DeserializeOwned>(table: &'static str, body: &str) -> Result<T, DbError> {
    serde_json::from_str(body).map_err(|e| DbError::Corrupt {
        table,
        message: e.to_string(),
    })
}

/// Writes a configuration body.
pub(super) fn encode<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}
