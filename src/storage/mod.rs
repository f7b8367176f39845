//! Where recordings live: any [`object_store::ObjectStore`] (the local file system under
//! `--data` by default; S3 and others by configuration), plus a local scratch directory
//! for files still being written (`DATA/.scratch/` by default, `[storage] scratch_dir`).
//!
//! Files grow in scratch space (MP4 and FLV finalisation rewrite their heads, which
//! object stores cannot do in place). When a file is final it is committed — one
//! operation of this layer ([`commit`]): into the local store, a hard link (no copy on
//! one file system, a copy across two); into another store, a streamed upload. A final
//! file's scratch copy is removed only once the stored copy is indexed
//! ([`Storage::store_copy`], then [`Storage::remove_scratch`]), so a crash in between
//! leaves it to recovery. Names that are taken get a `_1`, `_2`… suffix, never an
//! overwrite. Playlists
//! are small and are `put` whole. Reads (`GET /vod/…`, with ranges) and deletes
//! (retention) go through the store too. Nothing outside this layer and recovery
//! touches a stored file by its path.
//!
//! [`scratch`] holds the file operations of the muxers' events (append, patch, finish an
//! MP4); [`direct`] its page-cache-bypassing appends for `liverec remux`; [`gather`] the
//! recording server's appends of shared payloads, written by reference.

mod commit;
#[cfg(target_os = "linux")]
pub mod direct;
pub mod gather;
pub mod memory;
pub mod pool;
pub mod s3;
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

/// Key of the `n`th name tried for `file_name` in `dir`: `dir/file_name`, then
/// `dir/stem_N.ext`.
pub fn candidate_key(dir: &str, file_name: &str, n: u32) -> String {
    match (n, file_name.rsplit_once('.')) {
        (0, _) => format!("{dir}/{file_name}"),
        (n, Some((stem, ext))) => format!("{dir}/{stem}_{n}.{ext}"),
        (n, None) => format!("{dir}/{file_name}_{n}"),
    }
}

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
    /// The name is taken (a commit never overwrites).
    #[error("already stored: {0}")]
    Taken(String),
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
            StorageError::Key(_) | StorageError::NotFound(_) | StorageError::Taken(_) => false,
        }
    }
}

/// The recordings store; see the module doc.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The directory of the local store, when the store is one (commits link into it).
    local_root: Option<PathBuf>,
    scratch: PathBuf,
    /// Added to every commit (tests: a slow store).
    commit_delay: std::time::Duration,
    /// Signs download URLs, when reads are to be redirected to the store.
    presigner: Option<s3::Presigner>,
    /// HLS segments held in memory for a network store (none for the local one).
    segment_memory: Arc<memory::SegmentMemory>,
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

fn io_err(context: String) -> impl FnOnce(std::io::Error) -> StorageError {
    move |source| StorageError::Io { context, source }
}

impl Storage {
    /// The local store rooted at `data_dir`, with scratch space in `scratch_dir`
    /// (default `DATA/.scratch`); both created if missing.
    pub fn local(data_dir: &FsPath, scratch_dir: Option<&FsPath>) -> Result<Self, StorageError> {
        std::fs::create_dir_all(data_dir)
            .map_err(io_err(format!("creating {}", data_dir.display())))?;
        let root = std::fs::canonicalize(data_dir)
            .map_err(io_err(format!("resolving {}", data_dir.display())))?;
        let store =
            LocalFileSystem::new_with_prefix(&root).map_err(|source| StorageError::Store {
                context: format!("opening {}", root.display()),
                source,
            })?;
        let scratch = scratch_dir.map_or_else(|| root.join(SCRATCH_DIR), FsPath::to_path_buf);
        Self::new(Arc::new(store), Some(root), scratch)
    }

    /// `store`, with scratch space in `scratch` (created if missing); `local_root` is the
    /// store's directory when it is the local file system.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        local_root: Option<PathBuf>,
        scratch: PathBuf,
    ) -> Result<Self, StorageError> {
        std::fs::create_dir_all(&scratch)
            .map_err(io_err(format!("creating {}", scratch.display())))?;
        Ok(Self {
            store,
            local_root,
            scratch,
            commit_delay: std::time::Duration::ZERO,
            presigner: None,
            segment_memory: memory::SegmentMemory::new(0),
        })
    }

    /// The bucket of `options`, with scratch space in `scratch` (created if missing);
    /// with `presign` set, [`Storage::presigned_url`] gives download URLs valid that long.
    pub fn s3(
        options: &s3::S3Options,
        scratch: PathBuf,
        presign: Option<std::time::Duration>,
    ) -> Result<Self, StorageError> {
        let bucket = s3::open(options)?;
        let mut storage = Self::new(bucket.store, None, scratch)?;
        storage.presigner =
            presign.map(|valid| s3::Presigner::new(bucket.signer, bucket.prefix, valid));
        Ok(storage)
    }

    /// A presigned download URL of `path`, when the store gives them (S3 with
    /// `presign_seconds`); `None` means: serve the bytes.
    pub async fn presigned_url(&self, path: &str) -> Result<Option<String>, StorageError> {
        match &self.presigner {
            Some(p) => p.get_url(&key(path)?).await.map(Some),
            None => Ok(None),
        }
    }

    /// Whether the store answers (a missing probe object is an answer).
    pub async fn reachable(&self) -> Result<(), StorageError> {
        match self.store.head(&Path::from(".liverec-probe")).await {
            Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(source) => Err(StorageError::Store {
                context: "reaching the store".into(),
                source,
            }),
        }
    }

    /// Whether recordings are in the local file system (else a network store).
    pub fn is_local(&self) -> bool {
        self.local_root.is_some()
    }

    /// The same storage with every commit taking `delay` longer (to test with a slow
    /// store).
    pub fn with_commit_delay(mut self, delay: std::time::Duration) -> Self {
        self.commit_delay = delay;
        self
    }

    /// The same storage holding up to `limit` bytes of HLS segments in memory on their
    /// way to a network store ([`memory`]); the local store never does.
    pub fn with_segment_memory(mut self, limit: u64) -> Self {
        let limit = if self.is_local() { 0 } else { limit };
        self.segment_memory = memory::SegmentMemory::new(limit);
        self
    }

    /// A new HLS segment in memory, when the store is a network one and the memory
    /// bound allows; else `None` (write it to scratch space).
    pub fn segment_in_memory(&self) -> Option<memory::MemorySegment> {
        self.segment_memory.open()
    }

    /// Bytes of HLS segments in memory now, and segments opened in memory so far.
    pub fn segment_memory(&self) -> (u64, u64) {
        (self.segment_memory.used(), self.segment_memory.opened())
    }

    /// Stores a segment held in memory at exactly `dir/file_name` (resumed, see
    /// [`Storage::store_copy`]).
    pub async fn commit_bytes(
        &self,
        bytes: &memory::SegmentBytes,
        dir: &str,
        file_name: &str,
    ) -> Result<String, StorageError> {
        let to = format!("{dir}/{file_name}");
        let location = key(&to)?;
        if !self.commit_delay.is_zero() {
            tokio::time::sleep(self.commit_delay).await;
        }
        match &self.local_root {
            Some(_) => Err(StorageError::Key(format!(
                "{to}: segments in memory are for network stores"
            ))),
            None => commit::upload_bytes(self.store.as_ref(), bytes, &location, true).await,
        }?;
        Ok(to)
    }

    /// Path of scratch file `name`.
    pub fn scratch_path(&self, name: &str) -> PathBuf {
        self.scratch.join(name)
    }

    /// The scratch directory.
    pub fn scratch_dir(&self) -> PathBuf {
        self.scratch.clone()
    }

    /// Moves scratch file `name` to `dir/file_name` (or `dir/stem_N.ext` when taken,
    /// [`candidate_key`]) and returns the key it got.
    pub async fn commit(
        &self,
        scratch_name: &str,
        dir: &str,
        file_name: &str,
    ) -> Result<String, StorageError> {
        for n in 0..=MAX_NAME_SUFFIX {
            let key = candidate_key(dir, file_name, n);
            match self.store_copy(scratch_name, &key, false).await {
                Err(StorageError::Taken(_)) => continue,
                Err(e) => return Err(e),
                Ok(()) => {
                    self.remove_scratch(scratch_name)?;
                    return Ok(key);
                }
            }
        }
        Err(StorageError::Key(format!(
            "{dir}/{file_name}: more than {MAX_NAME_SUFFIX} files of that name"
        )))
    }

    /// Moves scratch file `name` to exactly `dir/file_name` (HLS segments: a playlist
    /// names them; resumed, see [`Storage::store_copy`]); [`StorageError::Taken`] when
    /// that name is.
    pub async fn commit_exact(
        &self,
        scratch_name: &str,
        dir: &str,
        file_name: &str,
    ) -> Result<String, StorageError> {
        let to = format!("{dir}/{file_name}");
        self.store_copy(scratch_name, &to, true).await?;
        self.remove_scratch(scratch_name)?;
        Ok(to)
    }

    /// Stores a copy of scratch file `scratch_name` at `key`, never over another object
    /// ([`StorageError::Taken`]). With `resume`, an object already at `key` of the
    /// scratch file's size counts as this copy (an earlier attempt stored it, then failed
    /// to hear back or crashed: keys are unique by construction). The scratch file
    /// stays: its owner removes it ([`Storage::remove_scratch`]) once the copy is
    /// indexed.
    pub async fn store_copy(
        &self,
        scratch_name: &str,
        key_text: &str,
        resume: bool,
    ) -> Result<(), StorageError> {
        let location = key(key_text)?;
        let from = self.scratch_path(scratch_name);
        if !self.commit_delay.is_zero() {
            tokio::time::sleep(self.commit_delay).await;
        }
        match &self.local_root {
            Some(root) => commit::into_directory(from, root.join(location.as_ref()), resume).await,
            None => commit::upload(self.store.as_ref(), &from, &location, resume).await,
        }
    }

    /// Removes scratch file `name`; a missing one is not an error.
    pub fn remove_scratch(&self, name: &str) -> Result<(), StorageError> {
        let path = self.scratch_path(name);
        match std::fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(StorageError::Io {
                context: format!("removing {}", path.display()),
                source: e,
            }),
            _ => Ok(()),
        }
    }

    /// Writes a text object that grows at its end (an EVENT playlist), given what the
    /// last call wrote to it. On local disk, when `text` extends that, only the new end is
    /// appended to the file: replacing it (a new file renamed over the old) would allocate
    /// an inode per write, which ext4 pays for dearly once many files were deleted (its
    /// search skips recently freed inodes) — about 8 % of a recording server's CPU with
    /// one playlist per HLS segment. A reader sees the file grow; it may, rarely, see a
    /// write in two parts (at a page boundary), as any file being appended to. Otherwise
    /// (an object store, no or other previous text) the object is replaced, as [`Self::put`].
    pub async fn put_growing(
        &self,
        path: &str,
        text: &str,
        before: Option<Grown>,
    ) -> Result<Grown, StorageError> {
        let now = Grown::of(text.as_bytes());
        if let (Some(root), Some(before)) = (&self.local_root, before) {
            let file = root.join(key(path)?.as_ref());
            let old = text.as_bytes().get(..before.len);
            if text.len() > before.len && old.is_some_and(|old| Grown::of(old) == before) {
                let tail = text.as_bytes().get(before.len..).unwrap_or_default();
                if append_if_length(&file, before.len as u64, tail).unwrap_or(false) {
                    return Ok(now);
                }
            }
        }
        self.put(path, text.as_bytes().to_vec()).await?;
        Ok(now)
    }

    /// Writes a whole (small) object, replacing it.
    pub async fn put(&self, path: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put(&key(path)?, PutPayload::from(bytes))
            .await
            .map_err(store_err(format!("writing {path}")))?;
        Ok(())
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

    /// Reads `range` (all when `None`) of an object as a stream of chunks: a local
    /// file in [`READ_CHUNK_BYTES`] reads (object_store's own stream reads 8 KiB a blocking
    /// task: 25,000 tasks for a 200 MB download), a remote object as the store sends it.
    pub async fn get_stream(
        &self,
        path: &str,
        range: Option<Range<u64>>,
    ) -> Result<(Range<u64>, ChunkStream), StorageError> {
        let result = self.get(path, range).await?;
        let served = result.range.clone();
        let stream = match result.payload {
            object_store::GetResultPayload::File(file, _) => file_chunks(file, served.clone()),
            object_store::GetResultPayload::Stream(s) => {
                let name = path.to_owned();
                Box::pin(futures_util::StreamExt::map(s, move |r| {
                    r.map_err(store_err(name.clone()))
                }))
            }
        };
        Ok((served, stream))
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

/// What [`Storage::put_growing`] wrote to an object: its length and a hash of its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grown {
    len: usize,
    hash: u64,
}

impl Grown {
    fn of(bytes: &[u8]) -> Self {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        Self {
            len: bytes.len(),
            hash: h.finish(),
        }
    }
}

/// Appends `tail` to `file` if it is `len` bytes long now; false when it is not (changed
/// by another writer: the caller replaces it).
fn append_if_length(file: &FsPath, len: u64, tail: &[u8]) -> std::io::Result<bool> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new().append(true).open(file)?;
    if f.metadata()?.len() != len {
        return Ok(false);
    }
    f.write_all(tail)?;
    Ok(true)
}

/// Bytes a local file is read in when streamed ([`Storage::get_stream`]).
pub const READ_CHUNK_BYTES: usize = 256 * 1024;

/// An object's bytes as they are read.
pub type ChunkStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = Result<Bytes, StorageError>> + Send>>;

/// `range` of a local file in [`READ_CHUNK_BYTES`] reads, each on a blocking thread.
fn file_chunks(file: std::fs::File, range: Range<u64>) -> ChunkStream {
    use std::io::{Read, Seek, SeekFrom};
    let state = (Some(file), range.start, range.end);
    Box::pin(futures_util::stream::try_unfold(
        state,
        |(file, at, end)| async move {
            let Some(mut file) = file.filter(|_| at < end) else {
                return Ok(None);
            };
            let want = usize::try_from((end - at).min(READ_CHUNK_BYTES as u64)).unwrap_or(0);
            let read = tokio::task::spawn_blocking(move || {
                let mut buf = vec![0; want];
                file.seek(SeekFrom::Start(at))?;
                file.read_exact(&mut buf)?;
                Ok::<_, std::io::Error>((file, buf))
            })
            .await
            .map_err(|e| io_err("reading a file".into())(std::io::Error::other(e)))?
            .map_err(io_err("reading a file".into()))?;
            let (file, buf) = read;
            let next = at + buf.len() as u64;
            Ok(Some((Bytes::from(buf), (Some(file), next, end))))
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("liverec-storage-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    async fn commit_twice(storage: &Storage) -> (String, String) {
        std::fs::write(storage.scratch_path("a.flv"), b"first").unwrap();
        let first = storage
            .commit("a.flv", "d.com/live/s", "f.flv")
            .await
            .unwrap();
        std::fs::write(storage.scratch_path("b.flv"), b"second").unwrap();
        let second = storage
            .commit("b.flv", "d.com/live/s", "f.flv")
            .await
            .unwrap();
        assert!(!storage.scratch_path("a.flv").exists() && !storage.scratch_path("b.flv").exists());
        assert_eq!(&storage.read(&first).await.unwrap()[..], b"first");
        assert_eq!(&storage.read(&second).await.unwrap()[..], b"second");
        std::fs::write(storage.scratch_path("c.ts"), b"x").unwrap();
        let taken = storage.commit_exact("c.ts", "d.com/live/s", "f.flv").await;
        assert!(matches!(taken, Err(StorageError::Taken(_))), "{taken:?}");
        // A copy of the same size already there: an earlier attempt's, resumed; the
        // scratch copy stays until its owner removes it.
        std::fs::write(storage.scratch_path("d.flv"), b"again").unwrap();
        let resumed = storage.store_copy("d.flv", &first, true).await;
        assert!(resumed.is_ok(), "{resumed:?}");
        assert!(storage.scratch_path("d.flv").exists());
        let fresh = storage.store_copy("d.flv", &first, false).await;
        assert!(matches!(fresh, Err(StorageError::Taken(_))), "{fresh:?}");
        storage.remove_scratch("d.flv").unwrap();
        assert_eq!(&storage.read(&first).await.unwrap()[..], b"first");
        (first, second)
    }

    /// EVENT playlists grow by appends on local disk (the same inode), by replacement when
    /// the text or the file changed otherwise.
    #[tokio::test]
    async fn growing_text_is_appended_on_local_disk_and_replaced_otherwise() {
        use std::os::unix::fs::MetadataExt;
        let data = temp("growing");
        let storage = Storage::local(&data, None).unwrap();
        let path = "d.com/live/s/r.m3u8";
        let file = data.join(path);
        let a = storage.put_growing(path, "#EXTM3U\n", None).await.unwrap();
        let inode = std::fs::metadata(&file).unwrap().ino();
        let b = storage
            .put_growing(path, "#EXTM3U\na.ts\n", Some(a))
            .await
            .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "#EXTM3U\na.ts\n");
        assert_eq!(
            std::fs::metadata(&file).unwrap().ino(),
            inode,
            "appended in place"
        );
        // Not an extension of what was written: replaced whole.
        let c = storage
            .put_growing(path, "#EXTM3U\nb.ts\nc.ts\n", Some(b))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "#EXTM3U\nb.ts\nc.ts\n"
        );
        // Changed by someone else since: replaced whole, not appended to.
        std::fs::write(&file, "#EXTM3U\nb.ts\nc.ts\nx").unwrap();
        storage
            .put_growing(path, "#EXTM3U\nb.ts\nc.ts\nd.ts\n", Some(c))
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "#EXTM3U\nb.ts\nc.ts\nd.ts\n"
        );
        let _ = std::fs::remove_dir_all(&data);
    }

    /// Scratch space inside the store, in another directory, on another file system
    /// (`/dev/shm`, a tmpfs here: committed by copy): the same commits, never an
    /// overwrite.
    #[tokio::test]
    async fn commits_into_the_local_store_from_any_scratch_space() {
        let shm = FsPath::new("/dev/shm");
        let elsewhere = temp("shm-scratch");
        let cases = [
            (temp("inside"), None),
            (temp("beside"), Some(temp("beside-scratch"))),
            (
                temp("across"),
                shm.is_dir()
                    .then(|| shm.join(elsewhere.file_name().unwrap())),
            ),
        ];
        for (data, scratch) in cases {
            let storage = Storage::local(&data, scratch.as_deref()).unwrap();
            let (first, second) = commit_twice(&storage).await;
            assert_eq!(first, "d.com/live/s/f.flv");
            assert_eq!(second, "d.com/live/s/f_1.flv");
            assert!(data.join(&second).is_file());
            let _ = std::fs::remove_dir_all(&data);
            if let Some(s) = scratch {
                let _ = std::fs::remove_dir_all(s);
            }
        }
    }

    /// Into a store that is not a directory (here in memory): a streamed upload.
    #[tokio::test]
    async fn commits_into_any_object_store_by_upload() {
        let scratch = temp("memory-scratch");
        let store = Arc::new(object_store::memory::InMemory::new());
        let storage = Storage::new(store, None, scratch.clone()).unwrap();
        commit_twice(&storage).await;
        assert_eq!(storage.size("d.com/live/s/f_1.flv").await.unwrap(), 6);
        // Over a part's size: a multipart upload, the parts in order.
        let big: Vec<u8> = (0..commit::UPLOAD_PART_BYTES * 2 + 12_345)
            .map(|i| (i % 251) as u8)
            .collect();
        std::fs::write(storage.scratch_path("big.mp4"), &big).unwrap();
        let key = storage.commit("big.mp4", "d.com/live/s", "big.mp4").await;
        assert_eq!(key.unwrap(), "d.com/live/s/big.mp4");
        assert!(!storage.scratch_path("big.mp4").exists());
        assert_eq!(storage.read("d.com/live/s/big.mp4").await.unwrap(), big);
        let _ = std::fs::remove_dir_all(scratch);
    }
}
