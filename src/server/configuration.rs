//! The configuration in memory, shared by both wings: what the control plane changes and
//! the data plane reads when a push starts (rules, tasks, callbacks, push keys).
//!
//! Every change runs under one lock: it works on a copy of the state, writes the
//! resulting changes to the database in one transaction ([`ConfigRepo::apply`], which
//! allocates new templates' ids and bumps the version), and only then replaces the
//! state. Two concurrent `CreateLiveRecordRule` calls for one key therefore serialise:
//! exactly one wins, and a failed write leaves memory and database unchanged.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use tokio::sync::{Mutex, MutexGuard};

use super::db::{Applied, Change, ConfigRepo, ControlState, DbError};

/// See the module doc.
pub struct Configuration {
    state: Arc<Mutex<ControlState>>,
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

impl Configuration {
    /// The configuration `state` at `version`, stored in `repo`.
    pub fn new(state: ControlState, version: i64, repo: Arc<dyn ConfigRepo>) -> Self {
        Self {
            state: Arc::new(Mutex::new(state)),
            repo,
            version: Arc::new(AtomicI64::new(version)),
        }
    }

    /// Loads it from `repo`.
    pub async fn load(repo: Arc<dyn ConfigRepo>) -> Result<Self, DbError> {
        let (state, version) = repo.load().await?;
        Ok(Self::new(state, version, repo))
    }

    /// The state, locked for reading (hold it briefly).
    pub async fn read(&self) -> MutexGuard<'_, ControlState> {
        self.state.lock().await
    }

    /// The version of the state in memory.
    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Relaxed)
    }

    /// Applies a change: `f` edits a copy and lists the rows to write; the copy replaces
    /// the state only once the database has them (with the ids it gave new templates).
    pub async fn mutate<T, E, F>(&self, f: F) -> Result<(T, Applied), ChangeError<E>>
    where
        T: Send + 'static,
        F: FnOnce(&mut ControlState) -> Result<(T, Vec<Change>), E>,
    {
        let mut guard = Arc::clone(&self.state).lock_owned().await;
        let mut next = guard.clone();
        let (output, changes) = f(&mut next).map_err(ChangeError::Refused)?;
        // Persist and swap in a task of their own: if the caller goes away mid-write (a
        // client disconnects), memory still follows what the database committed.
        let (repo, version) = (Arc::clone(&self.repo), Arc::clone(&self.version));
        let stored = tokio::spawn(async move {
            let applied = repo.apply(&changes).await?;
            next.assign_ids(&changes, &applied.ids);
            *guard = next;
            version.store(applied.version, Ordering::Relaxed);
            Ok::<_, DbError>(applied)
        });
        match stored.await {
            Ok(Ok(applied)) => Ok((output, applied)),
            Ok(Err(e)) => Err(ChangeError::Stored(e.to_string())),
            Err(e) => Err(ChangeError::Stored(e.to_string())),
        }
    }
}
