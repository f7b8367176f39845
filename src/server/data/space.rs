//! The free-space guard: keeps the data and scratch file systems above a floor
//! (`[retention] min_free_bytes` / `min_free_percent`, the larger; 1 GiB by default)
//! before the disk is full rather than after.
//!
//! Every `free_space_check_seconds` it measures free space (`statvfs`, the blocks an
//! unprivileged writer may use) on each distinct file system. Below the floor on the
//! data file system (where recordings are) it deletes the oldest recordings (by start
//! time) that it may — those with a StorageTime, which
//! would expire anyway (`delete_oldest_for_space`), and with
//! `delete_kept_forever_for_space` also those kept forever — until their sizes cover
//! the shortfall, then measures again. When that is not enough (or a separate scratch
//! file system is short), new pushes are refused (`NetStream.Publish.Rejected`, with one
//! 341 callback per stream and episode where configured) until space comes back; pushes
//! already recording go on. Free space, the floor and the deletions
//! are in `/metrics`.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::server::db::{Recording, RecordingIndex};

use super::DataPlane;
use crate::server::error::ServerError;
use crate::server::settings::RetentionSettings;

/// Rows looked at per deletion pass.
pub const SPACE_BATCH: i64 = 200;

/// Free and total bytes of the file system holding `path`, and its id.
pub fn free_space(path: &Path) -> std::io::Result<(u64, u64, u64)> {
    let s = rustix::fs::statvfs(path)?;
    let unit = s.f_frsize.max(1);
    Ok((
        s.f_bavail.saturating_mul(unit),
        s.f_blocks.saturating_mul(unit),
        s.f_fsid,
    ))
}

/// The floor for a file system of `total` bytes.
pub fn floor(settings: &RetentionSettings, total: u64) -> u64 {
    let percent = total / 100 * u64::from(settings.min_free_percent.min(100));
    settings.min_free_bytes.max(percent)
}

/// What the last check found.
#[derive(Debug, Default)]
pub struct SpaceGuard {
    low: AtomicBool,
    free: AtomicU64,
    floor: AtomicU64,
    /// Streams told (341) that they were refused, since space last ran low.
    told: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl SpaceGuard {
    /// `Some((free, floor))` while free space is below the floor.
    pub fn low(&self) -> Option<(u64, u64)> {
        self.low.load(Ordering::Relaxed).then(|| {
            (
                self.free.load(Ordering::Relaxed),
                self.floor.load(Ordering::Relaxed),
            )
        })
    }

    /// Whether a refused push of `stream` should be announced: once per stream while
    /// space stays low.
    pub fn first_refusal(&self, stream: &str) -> bool {
        let mut told = self
            .told
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        told.insert(stream.to_owned())
    }

    /// Free bytes and the floor at the last check (the tightest file system).
    pub fn last(&self) -> (u64, u64) {
        (
            self.free.load(Ordering::Relaxed),
            self.floor.load(Ordering::Relaxed),
        )
    }
}

/// (free, floor) of the data directory's file system, then of the scratch directory's
/// when it is another one.
fn measure(app: &DataPlane) -> std::io::Result<Vec<(u64, u64)>> {
    let settings = &app.settings.file.retention;
    let (free, total, data_fs) = free_space(&app.settings.data_dir)?;
    let mut out = vec![(free, floor(settings, total))];
    let (free, total, scratch_fs) = free_space(&app.storage.scratch_dir())?;
    if scratch_fs != data_fs {
        out.push((free, floor(settings, total)));
    }
    Ok(out)
}

/// The oldest recordings the settings let the guard delete, whose sizes add up to at
/// least `needed` bytes (or all there are).
pub async fn candidates(
    db: &dyn RecordingIndex,
    settings: &RetentionSettings,
    needed: u64,
) -> Result<Vec<Recording>, ServerError> {
    if !settings.delete_oldest_for_space {
        return Ok(Vec::new());
    }
    let rows = db
        .oldest(settings.delete_kept_forever_for_space, SPACE_BATCH)
        .await
        .map_err(|e| ServerError::Database(format!("free space: {e}")))?;
    let mut picked = Vec::new();
    let mut covered = 0u64;
    for row in rows {
        if covered >= needed {
            break;
        }
        covered = covered.saturating_add(u64::try_from(row.size_bytes).unwrap_or(0));
        picked.push(row);
    }
    Ok(picked)
}

/// One check: measure, delete what may be deleted while below the floor, measure again.
pub async fn check(app: &DataPlane) -> Result<(), ServerError> {
    let io = |source| ServerError::Io {
        context: "measuring free space".into(),
        source,
    };
    let mut systems = measure(app).map_err(io)?;
    // Deleting recordings frees the data file system only; a tight scratch file system
    // (when it is another) just refuses pushes.
    let needed = systems
        .first()
        .map_or(0, |(free, fl)| fl.saturating_sub(*free));
    if needed > 0 {
        let settings = &app.settings.file.retention;
        for row in candidates(app.db.as_ref(), settings, needed).await? {
            if super::retention::delete_recording(app, &row, "free space").await? {
                app.metrics.space_deletions.inc();
                let size = u64::try_from(row.size_bytes).unwrap_or(0);
                app.metrics.space_deleted_bytes.inc_by(size);
            }
        }
        systems = measure(app).map_err(io)?;
    }
    let tightest = systems
        .iter()
        .min_by_key(|(free, fl)| i128::from(*free) - i128::from(*fl))
        .copied()
        .unwrap_or((0, 0));
    let guard = &app.space;
    guard.free.store(tightest.0, Ordering::Relaxed);
    guard.floor.store(tightest.1, Ordering::Relaxed);
    let low = tightest.0 < tightest.1;
    if guard.low.swap(low, Ordering::Relaxed) != low {
        if !low {
            let mut told = guard
                .told
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            told.clear();
        }
        if low {
            tracing::error!(
                free = tightest.0,
                floor = tightest.1,
                "free space below the floor with nothing left to delete: new pushes are refused"
            );
        } else {
            tracing::info!(
                free = tightest.0,
                floor = tightest.1,
                "free space back above the floor"
            );
        }
    }
    Ok(())
}

/// Checks forever.
pub async fn guard_forever(app: Arc<DataPlane>) {
    let every = Duration::from_secs(app.settings.file.retention.free_space_check_seconds.max(1));
    loop {
        if let Err(e) = check(&app).await {
            tracing::warn!(error = %e, "free-space check");
        }
        tokio::time::sleep(every).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floors() {
        let mut s = RetentionSettings::default();
        assert_eq!(floor(&s, 10 << 40), 1 << 30);
        s.min_free_percent = 5;
        assert_eq!(floor(&s, 100 << 30), 5 << 30);
        assert_eq!(floor(&s, 10 << 30), 1 << 30, "the larger of the two");
        s.min_free_bytes = 0;
        s.min_free_percent = 0;
        assert_eq!(floor(&s, 100 << 30), 0);
    }

    /// The oldest deletable recordings first, only as many as cover the shortfall; kept
    /// forever ones only when allowed.
    #[tokio::test]
    async fn candidates_are_the_oldest_deletable_covering_the_shortfall() {
        let dir = std::env::temp_dir().join(format!("liverec-space-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = crate::server::db::SqliteDb::open(&dir).await.unwrap();
        // (id, start, size, expires)
        let rows = [
            ("c", 3, 100, true),
            ("a", 1, 100, true),
            ("k", 0, 500, false),
            ("b", 2, 100, true),
        ];
        for (id, start, size, expires) in rows {
            let r = Recording {
                file_id: id.into(),
                format: "flv".into(),
                start_ms: start,
                size_bytes: size,
                storage_path: format!("d.com/live/s/{id}.flv"),
                expires_ms: expires.then_some(9),
                ..Recording::default()
            };
            db.insert(&r).await.unwrap();
        }
        let ids = |c: Vec<Recording>| c.into_iter().map(|r| r.file_id).collect::<Vec<_>>();
        let mut s = RetentionSettings::default();
        assert_eq!(ids(candidates(&db, &s, 150).await.unwrap()), ["a", "b"]);
        assert_eq!(ids(candidates(&db, &s, 1).await.unwrap()), ["a"]);
        assert_eq!(
            ids(candidates(&db, &s, 10_000).await.unwrap()),
            ["a", "b", "c"]
        );
        s.delete_kept_forever_for_space = true;
        assert_eq!(ids(candidates(&db, &s, 1).await.unwrap()), ["k"]);
        s.delete_oldest_for_space = false;
        assert!(candidates(&db, &s, 1).await.unwrap().is_empty());
        db.close().await;
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn free_space_of_a_directory() {
        let (free, total, _) = free_space(&std::env::temp_dir()).unwrap();
        assert!(total > 0 && free <= total);
    }
}
