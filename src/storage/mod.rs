//! Where recordings live: an [`object_store::ObjectStore`] (the local file system under
//! `--data` by default; S3 and others by configuration later), plus local scratch files
//! for files still being written.
//!
//! Files grow in `DATA/.scratch/` (MP4 and FLV finalisation rewrite their heads, which
//! object stores cannot do in place). When a file is final it is committed: with the
//! local store, a rename inside the store (`ObjectStore::rename_if_not_exists`, no
//! copy); names that are taken get a `_1`, `_2`… suffix, never an overwrite. Playlists
//! are small and are `put` whole. Reads (`GET /vod/…`, with ranges) and deletes
//! (retention) go through the store too.
//!
//! [`scratch`] holds the file operations of the muxers' events (append, patch, finish an
//! MP4); [`direct`] its page-cache-bypassing appends for `liverec remux`.

#[cfg(target_os = "linux")]
pub mod direct;
pub mod scratch;

use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{GetOptions, GetRange, GetResult, ObjectStore, ObjectStoreExt, PutPayload};

/// Directory under the data directory holding files being written.
pub const SCRATCH_DIR: &str = ".scratch";
/// Most `_N` suffixes tried for a taken name.
pub const MAX_NAME_SUFFIX: u32 = 1000;

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// A local file operation.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The object store refused.
    #[error("{context}: {source}")]
    Store {
        /// What was being done.
        context: String,
        /// The store's error.
        source: object_store::Error,
    },
    /// A key that is not a valid object path.
    #[error("invalid storage key {0:?}")]
    Key(String),
    /// No such object.
    #[error("not found: {0}")]
    NotFound(String),
}

/// Whether an OS error may go away by itself: out of file handles or memory, out of
/// space or quota, busy, interrupted, timed out, a device I/O error. Writers retry
/// those (later, as a new file); anything else — permissions, a name the file system
/// refuses, a path that is not a directory — stays until a person acts.
pub fn is_transient(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(
            Errno::MFILE
                | Errno::NFILE
                | Errno::NOSPC
                | Errno::DQUOT
                | Errno::NOMEM
                | Errno::AGAIN
                | Errno::INTR
                | Errno::BUSY
                | Errno::TIMEDOUT
                | Errno::IO
        )
    ) || matches!(
        e.kind(),
        std::io::ErrorKind::StorageFull
            | std::io::ErrorKind::OutOfMemory
            | std::io::ErrorKind::TimedOut
            | std::io::ErrorKind::Interrupted
    )
}

impl StorageError {
    /// Whether the failure may go away by itself: [`is_transient`] of the OS error
    /// behind it; of a store's own errors, only the generic ones (a network store's
    /// hiccups) count as transient.
    pub fn is_transient(&self) -> bool {
        match self {
            StorageError::Io { source, .. } => is_transient(source),
            StorageError::Store { source, .. } => {
                let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(source);
                while let Some(e) = cause {
                    if let Some(io) = e.downcast_ref::<std::io::Error>() {
                        return is_transient(io);
                    }
                    cause = e.source();
                }
                matches!(
                    source,
                    object_store::Error::Generic { .. } | object_store::Error::JoinError { .. }
                )
            }
            StorageError::Key(_) | StorageError::NotFound(_) => false,
        }
    }
}

/// The recordings store; see the module doc.
#[derive(Debug, Clone)]
pub struct Storage {
    root: PathBuf,
    store: Arc<LocalFileSystem>,
}

fn key(path: &str) -> Result<Path, StorageError> {
    if path
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(StorageError::Key(path.to_owned()));
    }
    Path::parse(path).map_err(|_| StorageError::Key(path.to_owned()))
}

fn store_err(context: String) -> impl FnOnce(object_store::Error) -> StorageError {
    move |source| match source {
        object_store::Error::NotFound { .. } => StorageError::NotFound(context),
        source => StorageError::Store { context, source },
    }
}

impl Storage {
    /// The local store rooted at `data_dir` (created if missing).
    pub fn local(data_dir: &FsPath) -> Result<Self, StorageError> {
        let scratch = data_dir.join(SCRATCH_DIR);
        std::fs::create_dir_all(&scratch).map_err(|source| StorageError::Io {
            context: format!("creating {}", scratch.display()),
            source,
        })?;
        let root = std::fs::canonicalize(data_dir).map_err(|source| StorageError::Io {
            context: format!("resolving {}", data_dir.display()),
            source,
        })?;
        let store =
            LocalFileSystem::new_with_prefix(&root).map_err(|source| StorageError::Store {
                context: format!("opening {}", root.display()),
                source,
            })?;
        Ok(Self {
            root,
            store: Arc::new(store),
        })
    }

    /// Path of scratch file `name`.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.root.join(SCRATCH_DIR).join(name)
    }

    /// The scratch directory.
    pub fn scratch_dir(&self) -> PathBuf {
        self.root.join(SCRATCH_DIR)
    }

    /// Moves scratch file `name` to `dir/file_name` (or `dir/stem_N.ext` when taken) and
    /// returns the key it got.
    pub async fn commit(
        &self,
        scratch_name: &str,
        dir: &str,
        file_name: &str,
    ) -> Result<String, StorageError> {
        let from = key(&format!("{SCRATCH_DIR}/{scratch_name}"))?;
        let (stem, ext) = file_name.rsplit_once('.').unwrap_or((file_name, ""));
        for n in 0..=MAX_NAME_SUFFIX {
            let name = match n {
                0 => file_name.to_owned(),
                n => format!("{stem}_{n}.{ext}"),
            };
            let to_text = format!("{dir}/{name}");
            let to = key(&to_text)?;
            match self.store.rename_if_not_exists(&from, &to).await {
                Ok(()) => return Ok(to_text),
                Err(object_store::Error::AlreadyExists { .. }) => continue,
                Err(source) => {
                    return Err(StorageError::Store {
                        context: format!("storing {to_text}"),
                        source,
                    })
                }
            }
        }
        Err(StorageError::Key(format!(
            "{dir}/{file_name}: more than {MAX_NAME_SUFFIX} files of that name"
        )))
    }

    /// Moves scratch file `name` to exactly `dir/file_name` (HLS segments: a playlist
    /// names them); fails when that name is taken.
    pub async fn commit_exact(
        &self,
        scratch_name: &str,
        dir: &str,
        file_name: &str,
    ) -> Result<String, StorageError> {
        let from = key(&format!("{SCRATCH_DIR}/{scratch_name}"))?;
        let to_text = format!("{dir}/{file_name}");
        let to = key(&to_text)?;
        self.store
            .rename_if_not_exists(&from, &to)
            .await
            .map_err(|source| StorageError::Store {
                context: format!("storing {to_text}"),
                source,
            })?;
        Ok(to_text)
    }

    /// Writes a whole (small) object, replacing it.
    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put(&key(path)?, PutPayload::from(bytes))
            .await
            .map_err(store_err(format!("writing {path}")))?;
        Ok(())
    }

    /// Writes a whole object unless one exists; returns false when it does.
    pub async fn put_new(&self, path: &str, bytes: Vec<u8>) -> Result<bool, StorageError> {
        let options = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match self
            .store
            .put_opts(&key(path)?, PutPayload::from(bytes), options)
            .await
        {
            Ok(_) => Ok(true),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
            Err(source) => Err(StorageError::Store {
                context: format!("writing {path}"),
                source,
            }),
        }
    }

    /// Reads `range` (all when `None`) of an object.
    pub async fn get(
        &self,
        path: &str,
        range: Option<Range<u64>>,
    ) -> Result<GetResult, StorageError> {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..GetOptions::default()
        };
        self.store
            .get_opts(&key(path)?, options)
            .await
            .map_err(store_err(path.to_owned()))
    }

    /// Size of an object.
    pub async fn size(&self, path: &str) -> Result<u64, StorageError> {
        let meta = self
            .store
            .head(&key(path)?)
            .await
            .map_err(store_err(path.to_owned()))?;
        Ok(meta.size)
    }

    /// Reads a whole small object.
    pub async fn read(&self, path: &str) -> Result<Bytes, StorageError> {
        let result = self.get(path, None).await?;
        result.bytes().await.map_err(store_err(path.to_owned()))
    }

    /// Deletes an object; a missing one is not an error.
    pub async fn delete(&self, path: &str) -> Result<(), StorageError> {
        match self.store.delete(&key(path)?).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StorageError::Store {
                context: format!("deleting {path}"),
                source,
            }),
        }
    }
}
