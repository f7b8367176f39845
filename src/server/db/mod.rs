//! Persistence: the ports the rest of the server uses, behind which every SQL statement
//! lives: SQLite in [`sqlite`], the embedded default, and PostgreSQL in [`postgres`], for
//! nodes sharing one database; the statements both run unchanged are in `sql`.
//!
//! - [`ConfigRepo`]: the configuration the API manages, written in transactions that bump
//!   a version (a reader that kept a copy can tell it is stale) and allocate the ids of
//!   new templates — never a counter in memory, so processes sharing a database cannot
//!   hand out the same id.
//! - [`RecordingIndex`]: one row per finished recording.
//! - [`Outbox`]: callbacks waiting for delivery (enqueue, claim, ack, retry).
//! - [`Leases`]: named, owned, expiring leases (one node at a time does a job), each
//!   holding with an epoch that fences off a previous holder.
//!
//! This wing imports neither the control plane nor the data plane.

mod handover;
mod index;
mod ports;
pub mod postgres;
mod sql;
pub mod sqlite;

use std::collections::BTreeMap;

use async_trait::async_trait;

pub use postgres::PgDb;
pub use sqlite::SqliteDb;

use crate::config::callback::{CallbackRule, CallbackStore, CallbackTemplate};
use crate::config::forbid::ForbiddenStream;
use crate::config::mix::MixSession;
use crate::config::push_auth::PushAuthKey;
use crate::config::rule::RecordRule;
use crate::config::store::ConfigStore;
use crate::config::task::RecordTask;
use crate::config::template::RecordTemplate;

/// Why a database operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DbError {
    /// The database refused or could not be reached.
    #[error("database: {context}: {message}")]
    Backend {
        /// What was being done.
        context: &'static str,
        /// The database's message.
        message: String,
    },
    /// The configuration changed since the state a change was made on.
    #[error("database: the configuration changed meanwhile")]
    Stale,
    /// A stored row could not be read back.
    #[error("database: corrupt row in {table}: {message}")]
    Corrupt {
        /// Its table.
        table: &'static str,
        /// Why.
        message: String,
    },
}

impl DbError {
    /// A stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            DbError::Backend { .. } => "db.backend",
            DbError::Stale => "db.stale",
            DbError::Corrupt { .. } => "db.corrupt",
        }
    }
}

/// The configuration the API manages (what [`ConfigRepo`] stores).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ControlState {
    /// Recording templates, rules and tasks.
    pub config: ConfigStore,
    /// Callback templates and rules.
    pub callbacks: CallbackStore,
    /// Push keys by lower-case domain.
    pub push_auth: BTreeMap<String, PushAuthKey>,
    /// Stream mixing sessions by id.
    pub mixes: BTreeMap<String, MixSession>,
    /// Forbidden streams by key (`domain/app/stream`), expired ones included until
    /// resumed or forbidden anew.
    pub forbidden: BTreeMap<String, ForbiddenStream>,
}

/// The id a new template carries until the database allocates its own
/// ([`ConfigRepo::apply`]); no real id is 0.
pub const PENDING_ID: i64 = 0;

/// One change to the configuration.
#[derive(Debug, Clone)]
pub enum Change {
    /// A new recording template: the database allocates its id.
    NewRecordTemplate(Box<RecordTemplate>),
    /// Replace a recording template.
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
    /// A new callback template: the database allocates its id.
    NewCallbackTemplate(Box<CallbackTemplate>),
    /// Replace a callback template.
    PutCallbackTemplate(Box<CallbackTemplate>),
    /// Delete a callback template.
    DeleteCallbackTemplate(i64),
    /// Insert a callback rule.
    PutCallbackRule(CallbackRule),
    /// Delete a callback rule.
    DeleteCallbackRule(CallbackRule),
    /// Insert or replace a domain's push keys.
    PutPushAuthKey(PushAuthKey),
    /// Insert or replace a mix session.
    PutMixSession(Box<MixSession>),
    /// Delete a mix session by id.
    DeleteMixSession(String),
    /// Insert or replace a forbidden stream.
    PutForbidden(ForbiddenStream),
    /// Lift a forbid by stream key.
    DeleteForbidden(String),
}

/// What a transaction of changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// The ids allocated to the new templates, in the order of the changes.
    pub ids: Vec<i64>,
    /// The configuration's version after it.
    pub version: i64,
}

impl ControlState {
    /// Gives the templates created with [`PENDING_ID`] the ids the database allocated,
    /// in order (recording templates first, as [`Change`]s list them).
    pub fn assign_ids(&mut self, changes: &[Change], ids: &[i64]) {
        let mut ids = ids.iter();
        for change in changes {
            match change {
                Change::NewRecordTemplate(_) => {
                    let slot = self
                        .config
                        .templates
                        .iter_mut()
                        .find(|t| t.template_id == Some(PENDING_ID));
                    if let (Some(t), Some(id)) = (slot, ids.next()) {
                        t.template_id = Some(*id);
                    }
                }
                Change::NewCallbackTemplate(_) => {
                    let slot = self
                        .callbacks
                        .templates
                        .iter_mut()
                        .find(|t| t.template_id == Some(PENDING_ID));
                    if let (Some(t), Some(id)) = (slot, ids.next()) {
                        t.template_id = Some(*id);
                    }
                }
                _ => {}
            }
        }
    }
}

/// The configuration repository.
#[async_trait]
pub trait ConfigRepo: Send + Sync {
    /// The whole configuration and its version.
    async fn load(&self) -> Result<(ControlState, i64), DbError>;
    /// The version now.
    async fn version(&self) -> Result<i64, DbError>;
    /// Writes `changes` in one transaction that bumps the version and allocates the ids
    /// of new templates.
    async fn apply(&self, changes: &[Change]) -> Result<Applied, DbError> {
        self.apply_at(changes, None).await
    }
    /// [`ConfigRepo::apply`], only if the version is still `based_on` (else nothing is
    /// written and the answer is [`DbError::Stale`]: another writer came first).
    async fn apply_at(&self, changes: &[Change], based_on: Option<i64>)
        -> Result<Applied, DbError>;
    /// Whether other nodes may write this database (PostgreSQL), so that what they change
    /// has to be looked for often; false for one node's own database (SQLite), which only
    /// this process writes in normal use.
    fn shared(&self) -> bool;
}

/// One finished file.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Recording {
    /// Unique id (also in callbacks as `file_id`).
    pub file_id: String,
    /// Push domain.
    pub domain_name: String,
    /// Push path.
    pub app_name: String,
    /// Stream name.
    pub stream_name: String,
    /// `flv`, `hls`, `mp4` or `aac`.
    pub format: String,
    /// First frame, Unix ms.
    pub start_ms: i64,
    /// Last frame end, Unix ms.
    pub end_ms: i64,
    /// Duration, ms.
    pub duration_ms: i64,
    /// Bytes.
    pub size_bytes: i64,
    /// `h264`, `h265`.
    pub video_codec: Option<String>,
    /// `aac`, `mp3`.
    pub audio_codec: Option<String>,
    /// Pixels.
    pub width: Option<i64>,
    /// Pixels.
    pub height: Option<i64>,
    /// Record task id, "" for rule-driven recordings.
    pub task_id: String,
    /// Template id (0: the default task template).
    pub template_id: i64,
    /// Path in storage (`domain/app/stream/name.ext`).
    pub storage_path: String,
    /// Playback/download URL.
    pub url: String,
    /// Indexed at, Unix ms.
    pub created_ms: i64,
    /// Deleted after, Unix ms; `None` keeps forever.
    pub expires_ms: Option<i64>,
}

impl Recording {
    /// Where its media ends, Unix ms: its start plus its media duration. `end_ms` may be
    /// earlier: a file's end is never later than the moment it closed, and an encoder
    /// that sends its last frames in a burst (x264's lookahead at the end of a push) ends
    /// a file before its media does.
    pub fn media_end_ms(&self) -> i64 {
        self.end_ms
            .max(self.start_ms.saturating_add(self.duration_ms))
    }
}

/// Filters and paging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Search {
    /// Exact file ids.
    pub file_ids: Vec<String>,
    /// Stream names.
    pub stream_names: Vec<String>,
    /// Domain (case-insensitive).
    pub domain_name: Option<String>,
    /// App.
    pub app_name: Option<String>,
    /// Format.
    pub format: Option<String>,
    /// Task id.
    pub task_id: Option<String>,
    /// Recording start at or after, Unix ms.
    pub after_ms: Option<i64>,
    /// Recording start before, Unix ms.
    pub before_ms: Option<i64>,
    /// Recording end after, Unix ms (with `before_ms`: the recordings overlapping a
    /// range).
    pub ends_after_ms: Option<i64>,
    /// Newest first.
    pub descending: bool,
    /// Rows to skip.
    pub offset: i64,
    /// Rows to return.
    pub limit: i64,
    /// Skip counting every match (the total is then the rows returned).
    pub without_total: bool,
}

/// The recordings index.
#[async_trait]
pub trait RecordingIndex: Send + Sync {
    /// Adds a row.
    async fn insert(&self, r: &Recording) -> Result<(), DbError>;
    /// The matching rows of one page, and the total count.
    async fn search(&self, s: &Search) -> Result<(i64, Vec<Recording>), DbError>;
    /// Rows whose deadline passed before `now_ms`, soonest first, at most `limit`.
    async fn expired(&self, now_ms: i64, limit: i64) -> Result<Vec<Recording>, DbError>;
    /// The oldest rows (by start) that have a deadline — or all, with
    /// `kept_forever_too` — at most `limit`.
    async fn oldest(&self, kept_forever_too: bool, limit: i64) -> Result<Vec<Recording>, DbError>;
    /// Removes a row.
    async fn delete(&self, file_id: &str) -> Result<(), DbError>;
}

/// A callback waiting for delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Pending {
    /// Its event id (unique: enqueueing it twice keeps one).
    pub event_id: String,
    /// Where it goes.
    pub url: String,
    /// The key that signs it.
    pub callback_key: String,
    /// The JSON body, without `t` and `sign`.
    pub body: String,
    /// Failed attempts so far.
    pub attempts: i64,
}

/// A row of [`sql::ATTEMPTS`]: an attempt and how many the query matches in all.
#[derive(Debug, sqlx::FromRow)]
pub(crate) struct CountedAttempt {
    #[sqlx(flatten)]
    attempt: Attempt,
    total: i64,
}

/// One delivery attempt of a callback, as the delivery log keeps it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Attempt {
    /// The event.
    pub event_id: String,
    /// Which attempt (1, 2, …).
    pub attempt: i64,
    /// The stream it is about (`stream_id` of the body).
    pub stream_name: String,
    /// Its `event_type`.
    pub event_type: i64,
    /// When its first attempt was made, Unix ms (kept by the log for later attempts).
    pub event_ms: i64,
    /// When this attempt ended, Unix ms.
    pub response_ms: i64,
    /// The body sent.
    pub request: String,
    /// What came back: the response body, or why none did.
    pub response: String,
    /// 0: delivered (HTTP 200); else the HTTP status, or 1 without a response.
    pub result_code: i64,
}

/// Which logged attempts to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttemptQuery {
    /// Events from this instant on, Unix ms.
    pub from_ms: i64,
    /// Events before this instant, Unix ms.
    pub to_ms: i64,
    /// This stream only.
    pub stream_name: Option<String>,
    /// This `event_type` only.
    pub event_type: Option<i64>,
    /// Delivered ones only (true) or failed ones only (false).
    pub delivered: Option<bool>,
    /// Rows skipped (newest first).
    pub offset: i64,
    /// Rows at most.
    pub limit: i64,
}

/// The callback outbox.
#[async_trait]
pub trait Outbox: Send + Sync {
    /// Queues a callback due at `now_ms`; false when its event id is already queued.
    async fn enqueue(&self, p: &Pending, now_ms: i64) -> Result<bool, DbError>;
    /// Takes up to `limit` callbacks due at `now_ms`, each hidden from other claims
    /// until `until_ms` (a worker that dies leaves them due again then).
    async fn claim(&self, now_ms: i64, until_ms: i64, limit: i64) -> Result<Vec<Pending>, DbError>;
    /// Delivered or given up: removes it.
    async fn ack(&self, event_id: &str) -> Result<(), DbError>;
    /// Failed again: `attempts` so far, due again at `next_ms`.
    async fn retry(
        &self,
        event_id: &str,
        attempts: i64,
        next_ms: i64,
        error: &str,
    ) -> Result<(), DbError>;
    /// When the next one is due, if any is queued.
    async fn next_due(&self) -> Result<Option<i64>, DbError>;
    /// Callbacks queued.
    async fn queued(&self) -> Result<i64, DbError>;
    /// Logs an attempt (its `event_ms` is replaced by the event's first logged one).
    async fn log_attempt(&self, a: &Attempt) -> Result<(), DbError>;
    /// Logged attempts matching `q`, newest first: (how many match, the page).
    async fn attempts(&self, q: &AttemptQuery) -> Result<(i64, Vec<Attempt>), DbError>;
    /// Forgets attempts of events before `before_ms`.
    async fn prune_log(&self, before_ms: i64) -> Result<(), DbError>;
}

/// Named leases: one owner at a time until it expires.
///
/// Each holding has an epoch: it goes up by one every time the lease passes to a holder
/// anew (another owner, or anyone once it expired or was released) and stays while its
/// owner renews it in time, so epochs are never handed out twice for one name. A holder
/// passes its epoch along with the work it does (a fencing token): whoever sees a larger
/// one knows the holder of a smaller one lost the lease.
#[async_trait]
pub trait Leases: Send + Sync {
    /// Takes or renews lease `name` for `owner` until `now_ms + ttl_ms`: `Some(epoch)` of
    /// its holding, `None` while another owner holds it unexpired (it is held while
    /// `now_ms < expires_ms`). A backend shared by several nodes may read "now" from its
    /// own clock instead of `now_ms`, so that nodes whose clocks disagree agree on expiry
    /// (PostgreSQL does; `ttl_ms` is relative either way).
    async fn acquire(
        &self,
        name: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Option<i64>, DbError>;
    /// Gives it up (only its owner can): it expires now, and its epoch is kept.
    async fn release(&self, name: &str, owner: &str) -> Result<(), DbError>;
    /// Its last holder, epoch and deadline (Unix ms, on the clock `acquire` used), whether
    /// or not it has expired; `None` if it was never taken.
    async fn holder(&self, name: &str) -> Result<Option<(String, i64, i64)>, DbError>;
    /// Renews, in one statement, every lease whose name starts with `prefix` that `owner`
    /// holds unexpired, until `now_ms + ttl_ms` (on the clock [`Self::acquire`] uses);
    /// returns their names. A lease that expired or was taken is left alone: take it
    /// again with [`Self::acquire`] (whose epoch rules then apply).
    async fn renew_held(
        &self,
        prefix: &str,
        owner: &str,
        now_ms: i64,
        ttl_ms: i64,
    ) -> Result<Vec<String>, DbError>;
}

/// An HLS recording some node has open (recording, or parked waiting for its push).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenHls {
    /// The recording id (its file id once final).
    pub recording_id: String,
    /// `domain/app/stream`.
    pub stream_key: String,
    /// The node recording it, or that parked it.
    pub node: String,
    /// What a node needs to continue or finish it (the data plane's sidecar, JSON).
    pub sidecar: String,
    /// Its splice timeout, ms.
    pub flow_continue_ms: i64,
    /// While parked: when its splice wait ends, Unix ms.
    pub parked_until_ms: Option<i64>,
}

/// HLS recordings shared between nodes, so any node can continue or finish them.
#[async_trait]
pub trait HlsHandover: Send + Sync {
    /// Registers an open recording (a second registration changes nothing).
    async fn hls_open(&self, r: &OpenHls) -> Result<(), DbError>;
    /// Parks `node`'s recording until `until_ms`; false when it is not `node`'s (any
    /// more).
    async fn hls_park(
        &self,
        recording_id: &str,
        node: &str,
        until_ms: i64,
    ) -> Result<bool, DbError>;
    /// Removes and returns a recording — only if `node` has it, when given.
    async fn hls_take(
        &self,
        recording_id: &str,
        node: Option<&str>,
    ) -> Result<Option<OpenHls>, DbError>;
    /// `node` takes over the recordings of `stream_key` not past their deadline at
    /// `now_ms` (its push of the stream continues them).
    async fn hls_claim(
        &self,
        stream_key: &str,
        node: &str,
        now_ms: i64,
    ) -> Result<Vec<OpenHls>, DbError>;
    /// Removes and returns up to `limit` recordings no push will continue at `now_ms`:
    /// parked past their deadline (those `own.0` parked only `own.1` ms past it, its
    /// own timer finalising them first), or open on a node whose lease on the stream
    /// (`stream/KEY`) expired longer than their splice timeout ago.
    async fn hls_take_orphans(
        &self,
        now_ms: i64,
        limit: i64,
        own: (&str, i64),
    ) -> Result<Vec<OpenHls>, DbError>;
    /// The recordings of `stream_key` being recorded now, on any node (not parked).
    async fn hls_recording(&self, stream_key: &str) -> Result<Vec<OpenHls>, DbError>;
}

/// Every port over one database.
pub trait Database: ConfigRepo + RecordingIndex + Outbox + Leases + HlsHandover {}

impl<T: ConfigRepo + RecordingIndex + Outbox + Leases + HlsHandover> Database for T {}
