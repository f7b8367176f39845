//! The configuration in memory, shared by both wings: what the control plane changes and
//! the data plane reads when a push starts (rules, tasks, callbacks, push keys).
//!
//! Readers take a snapshot (an `Arc` of the state: never waiting for a change being
//! written). Every change runs under one writer lock: it works on a copy of the state,
//! writes the resulting changes to the database in one transaction
//! ([`ConfigRepo::apply`], which allocates new templates' ids and bumps the version), and
//! only then publishes the copy as the new snapshot. Two concurrent
//! `CreateLiveRecordRule` calls for one key therefore serialise: exactly one wins, and a
//! failed write leaves memory and database unchanged.
//!
//! Several nodes may share the database: [`Configuration::refresh`] reloads the state
//! when the stored version moved (a change made through another node); the server runs
//! it every [`REFRESH_INTERVAL`] (every [`LOCAL_REFRESH_INTERVAL`] on one node's SQLite
//! database, which no other node writes). A change is written only if the stored version is the
//! one it was made on (optimistic concurrency, no extra round trip): otherwise the
//! state is reloaded and the change made again, so it never builds on a stale copy.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock};

use tokio::sync::{watch, Mutex};

use super::db::{Applied, Change, ConfigRepo, ControlState, DbError};

/// How often the stored version is compared with the one in memory when several nodes
/// share the database: a change made through another node governs this node's next push
/// within this.
pub const REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_millis(500);
/// The same on one node's own database (SQLite), where every change goes through this
/// process and is in memory at once: only another process writing the same file would
/// be found, so the check is rare (an idle server then wakes for it once in this).
pub const LOCAL_REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);
/// Times a change is made again on a reloaded state when other nodes keep writing first.
pub const STALE_ATTEMPTS: usize = 5;

/// The snapshot readers take, replaced whole by each change, and a counter of the
/// snapshots published (what [`Configuration::subscribe`] watches).
struct Published {
    state: RwLock<Arc<ControlState>>,
    count: watch::Sender<u64>,
}

type Current = Arc<Published>;

/// See the module doc.
pub struct Configuration {
    current: Current,
    writer: Arc<Mutex<()>>,
    repo: Arc<dyn ConfigRepo>,
    version: Arc<AtomicI64>,
}

/// Why a change was not made: the caller's own refusal, or the database's.
#[derive(Debug)]
pub enum ChangeError<E> {
    /// The change was refused before anything was written.
    Refused(E),
    /// The database did not take it (memory is unchanged).
    Stored(String),
}

fn snapshot(current: &Current) -> Arc<ControlState> {
    match current.state.read() {
        Ok(state) => Arc::clone(&state),
        Err(poisoned) => Arc::clone(&poisoned.into_inner()),
    }
}

fn publish(current: &Current, state: ControlState) {
    let state = Arc::new(state);
    match current.state.write() {
        Ok(mut slot) => *slot = state,
        Err(poisoned) => *poisoned.into_inner() = state,
    }
    current.count.send_modify(|n| *n = n.wrapping_add(1));
}

impl Configuration {
    /// The configuration `state` at `version`, stored in `repo`.
    pub fn new(state: ControlState, version: i64, repo: Arc<dyn ConfigRepo>) -> Self {
        Self {
            current: Arc::new(Published {
                state: RwLock::new(Arc::new(state)),
                count: watch::Sender::new(0),
            }),
            writer: Arc::new(Mutex::new(())),
            repo,
            version: Arc::new(AtomicI64::new(version)),
        }
    }

    /// Loads it from `repo`.
    pub async fn load(repo: Arc<dyn ConfigRepo>) -> Result<Self, DbError> {
        let (state, version) = repo.load().await?;
        Ok(Self::new(state, version, repo))
    }

    /// The state now (a snapshot: later changes do not show in it).
    pub fn read(&self) -> Arc<ControlState> {
        snapshot(&self.current)
    }

    /// Sees every state published from now on (a change made here, or one reloaded from
    /// the database): its `changed()` wakes the task that waits on it, so a task that
    /// follows the configuration need not poll it.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.current.count.subscribe()
    }

    /// The version of the state in memory.
    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Reloads the state when the stored version differs from the one in memory; true
    /// when it did.
    pub async fn refresh(&self) -> Result<bool, DbError> {
        let _writing = self.writer.lock().await;
        if self.repo.version().await? == self.version() {
            return Ok(false);
        }
        let (fresh, version) = self.repo.load().await?;
        publish(&self.current, fresh);
        self.version.store(version, Ordering::Relaxed);
        Ok(true)
    }

    /// How often [`Configuration::refresh_forever`] looks: [`REFRESH_INTERVAL`] on a
    /// shared database, else [`LOCAL_REFRESH_INTERVAL`].
    pub fn refresh_interval(&self) -> std::time::Duration {
        if self.repo.shared() {
            REFRESH_INTERVAL
        } else {
            LOCAL_REFRESH_INTERVAL
        }
    }

    /// Refreshes every [`Configuration::refresh_interval`], calling `changed` after each
    /// reload.
    pub async fn refresh_forever(self: Arc<Self>, changed: impl Fn() + Send + 'static) {
        let mut tick = tokio::time::interval(self.refresh_interval());
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            match self.refresh().await {
                Ok(true) => changed(),
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "checking the configuration's version"),
            }
        }
    }

    /// Applies a change: `f` edits a copy and lists the rows to write; the copy replaces
    /// the state only once the database has them (with the ids it gave new templates).
    /// The write is conditional on the version the copy was made at: when another node
    /// wrote first, the state is reloaded and `f` runs again on it (at most
    /// [`STALE_ATTEMPTS`] times).
    pub async fn mutate<T, E, F>(&self, mut f: F) -> Result<(T, Applied), ChangeError<E>>
    where
        T: Send + 'static,
        F: FnMut(&mut ControlState) -> Result<(T, Vec<Change>), E>,
    {
        let mut writing = Arc::clone(&self.writer).lock_owned().await;
        for _ in 0..STALE_ATTEMPTS {
            let mut next = (*self.read()).clone();
            let (output, changes) = f(&mut next).map_err(ChangeError::Refused)?;
            // Persist and publish in a task of their own: if the caller goes away
            // mid-write (a client disconnects), memory still follows what the database
            // committed; the writer lock goes with it.
            let repo = Arc::clone(&self.repo);
            let (current, version) = (Arc::clone(&self.current), Arc::clone(&self.version));
            let stored = tokio::spawn(async move {
                let result = store(repo.as_ref(), &version, &current, next, &changes).await;
                (writing, result)
            });
            match stored.await {
                Ok((_, Ok(Some(applied)))) => return Ok((output, applied)),
                Ok((again, Ok(None))) => writing = again,
                Ok((_, Err(e))) => return Err(ChangeError::Stored(e.to_string())),
                Err(e) => return Err(ChangeError::Stored(e.to_string())),
            }
        }
        Err(ChangeError::Stored(
            "the configuration kept changing under this change; try again".into(),
        ))
    }
}

/// Writes `changes` if the stored version is still the one in memory, then publishes
/// `next`; when it moved, reloads and publishes the stored state instead and answers
/// `None` (make the change again).
async fn store(
    repo: &dyn ConfigRepo,
    version: &AtomicI64,
    current: &Current,
    mut next: ControlState,
    changes: &[Change],
) -> Result<Option<Applied>, DbError> {
    let based_on = version.load(Ordering::Relaxed);
    match repo.apply_at(changes, Some(based_on)).await {
        Ok(applied) => {
            next.assign_ids(changes, &applied.ids);
            publish(current, next);
            version.store(applied.version, Ordering::Relaxed);
            Ok(Some(applied))
        }
        Err(DbError::Stale) => {
            let (fresh, now) = repo.load().await?;
            publish(current, fresh);
            version.store(now, Ordering::Relaxed);
            Ok(None)
        }
        Err(e) => Err(e),
    }
}
