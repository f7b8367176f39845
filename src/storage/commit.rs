//! Committing a final scratch file into the store: one operation, never an overwrite.
//!
//! - Local store: a hard link at the final path (fails when the name is taken), then the
//!   scratch name unlinked — no byte copied when scratch space is on the store's file
//!   system; across file systems, a copy into a temporary name beside the target, made
//!   durable, then linked into place.
//! - Any other store: one PUT for a file of at most [`UPLOAD_PART_BYTES`] (an HLS
//!   segment), else a streamed multipart upload in parts of that size (bounded memory;
//!   the store's client retries each request with backoff). The name is checked first:
//!   conditional puts are not relied on (some S3 servers ignore `If-None-Match`), keys
//!   are unique by construction (one writer per stream, the lease's epoch in the key).
//!
//! Storing never unlinks the scratch file: its owner does, once the stored copy is
//! indexed (a crash in between leaves the scratch file and its sidecar to recovery).
//! With `resume`, an object already at the key with the scratch file's size counts as
//! this copy: an earlier attempt stored it and then failed to hear back, or a crash came
//! before the scratch file went (keys are unique by construction, so a stranger of the
//! same name and size is not a case to serve).

use std::path::{Path as FsPath, PathBuf};

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use super::pool::BufferPool;
use super::StorageError;

/// Bytes read from the scratch file per upload part.
pub const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;

fn io(context: String) -> impl FnOnce(std::io::Error) -> StorageError {
    move |source| StorageError::Io { context, source }
}

/// Links `from` at `to`, not replacing anything (see the module doc for `resume`).
pub async fn into_directory(from: PathBuf, to: PathBuf, resume: bool) -> Result<(), StorageError> {
    tokio::task::spawn_blocking(move || match link_into_place(&from, &to) {
        Err(StorageError::Taken(_)) if resume && same_size(&from, &to) => Ok(()),
        other => other,
    })
    .await
    .map_err(|e| StorageError::Io {
        context: "committing".into(),
        source: std::io::Error::other(e),
    })?
}

fn link_into_place(from: &FsPath, to: &FsPath) -> Result<(), StorageError> {
    let shown = to.display().to_string();
    // The directory mostly exists (a stream's files go to one): made only when missing.
    let mut linked = std::fs::hard_link(from, to);
    if matches!(&linked, Err(e) if e.kind() == std::io::ErrorKind::NotFound) && from.exists() {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        linked = std::fs::hard_link(from, to);
    }
    match linked {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(StorageError::Taken(shown))
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::XDEV.raw_os_error()) => {
            copy_into_place(from, to)?;
        }
        Err(e) => {
            return Err(StorageError::Io {
                context: format!("storing {shown}"),
                source: e,
            })
        }
    }
    Ok(())
}

fn same_size(a: &FsPath, b: &FsPath) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.len() == b.len(),
        _ => false,
    }
}

/// Across file systems: copied beside the target, synced, then linked into place.
fn copy_into_place(from: &FsPath, to: &FsPath) -> Result<(), StorageError> {
    let shown = to.display().to_string();
    let mut temp = to.as_os_str().to_owned();
    temp.push(".committing");
    let temp = PathBuf::from(temp);
    let result = (|| {
        std::fs::copy(from, &temp)?;
        std::fs::File::open(&temp)?.sync_all()?;
        std::fs::hard_link(&temp, to)
    })();
    let _ = std::fs::remove_file(&temp);
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(StorageError::Taken(shown)),
        Err(e) => Err(StorageError::Io {
            context: format!("storing {shown}"),
            source: e,
        }),
    }
}

/// Parts of a multipart upload in flight at once.
pub const PARTS_IN_FLIGHT: usize = 2;

/// Part buffers read from scratch files and not yet uploaded, across every upload
/// (bounded memory: 64 MiB however many files finish at once); as many are kept for
/// the next ones ([`super::pool`]).
pub const PART_BUFFERS: usize = 8;

static PARTS: BufferPool = BufferPool::new(UPLOAD_PART_BYTES, PART_BUFFERS);
static PARTS_OUT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(PART_BUFFERS);

/// A part read from a scratch file and its place among the [`PART_BUFFERS`], held until
/// its upload is done (the buffer goes back to the pool once the store lets go of it).
type Part = (Bytes, tokio::sync::SemaphorePermit<'static>);

/// Reads `len` (at most [`UPLOAD_PART_BYTES`]) bytes at `offset` of `path` into a pooled
/// buffer (on a blocking thread, straight into the buffer the upload then owns: no
/// intermediate copy).
async fn read_part(path: &FsPath, offset: u64, len: usize) -> Result<Part, StorageError> {
    let out = PARTS_OUT.acquire().await.map_err(|e| StorageError::Io {
        context: format!("reading {}", path.display()),
        source: std::io::Error::other(e),
    })?;
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || -> std::io::Result<Bytes> {
        use std::io::{Read, Seek};
        let mut file = std::fs::File::open(&owned)?;
        file.seek(std::io::SeekFrom::Start(offset))?;
        let mut buffer = PARTS.take();
        // Not zeroed first: `read_to_end` fills the spare capacity as it reads.
        file.take(len as u64).read_to_end(buffer.vec())?;
        if buffer.len() != len {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        Ok(buffer.freeze())
    })
    .await
    .map_err(|e| StorageError::Io {
        context: format!("reading {}", path.display()),
        source: std::io::Error::other(e),
    })?;
    Ok((
        read.map_err(io(format!("reading {}", path.display())))?,
        out,
    ))
}

/// Uploads `from` to `location` (one PUT up to [`UPLOAD_PART_BYTES`], else a multipart
/// upload in parts of that size, [`PARTS_IN_FLIGHT`] at a time); see the module doc for
/// `resume`.
pub async fn upload(
    store: &dyn ObjectStore,
    from: &FsPath,
    location: &Path,
    resume: bool,
) -> Result<(), StorageError> {
    let shown = location.to_string();
    let store_err = |source| StorageError::Store {
        context: format!("storing {shown}"),
        source,
    };
    let len = tokio::fs::metadata(from)
        .await
        .map_err(io(format!("reading {}", from.display())))?
        .len();
    if already_there(store, location, len, resume).await? {
        return Ok(());
    }
    if len <= UPLOAD_PART_BYTES as u64 {
        let (whole, _out) = read_part(from, 0, len as usize).await?;
        store.put(location, whole.into()).await.map_err(store_err)?;
    } else {
        let mut upload = store.put_multipart(location).await.map_err(store_err)?;
        if let Err(e) = upload_parts(upload.as_mut(), from, len).await {
            let _ = upload.abort().await;
            return Err(e);
        }
        upload.complete().await.map_err(store_err)?;
    }
    Ok(())
}

/// Uploads a segment held in memory to `location` in one PUT of its chunks as they are
/// (see the module doc for `resume`).
pub async fn upload_bytes(
    store: &dyn ObjectStore,
    bytes: &super::memory::SegmentBytes,
    location: &Path,
    resume: bool,
) -> Result<(), StorageError> {
    if already_there(store, location, bytes.len(), resume).await? {
        return Ok(());
    }
    let payload: object_store::PutPayload = bytes.chunks().collect();
    store
        .put(location, payload)
        .await
        .map_err(|source| StorageError::Store {
            context: format!("storing {location}"),
            source,
        })?;
    Ok(())
}

/// Whether `location` already holds this copy (with `resume`, an object of `len`
/// bytes); [`StorageError::Taken`] when another object has the name.
async fn already_there(
    store: &dyn ObjectStore,
    location: &Path,
    len: u64,
    resume: bool,
) -> Result<bool, StorageError> {
    match store.head(location).await {
        Ok(meta) if resume && meta.size == len => Ok(true),
        Ok(_) => Err(StorageError::Taken(location.to_string())),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(source) => Err(StorageError::Store {
            context: format!("storing {location}"),
            source,
        }),
    }
}

async fn upload_parts(
    upload: &mut dyn object_store::MultipartUpload,
    from: &FsPath,
    len: u64,
) -> Result<(), StorageError> {
    let failed = |source| StorageError::Store {
        context: format!("uploading {}", from.display()),
        source,
    };
    let joined = |e: tokio::task::JoinError| StorageError::Io {
        context: format!("uploading {}", from.display()),
        source: std::io::Error::other(e),
    };
    let mut in_flight = std::collections::VecDeque::new();
    let mut offset = 0u64;
    while offset < len {
        if in_flight.len() == PARTS_IN_FLIGHT {
            if let Some(part) = in_flight.pop_front() {
                let part: tokio::task::JoinHandle<object_store::Result<()>> = part;
                part.await.map_err(joined)?.map_err(failed)?;
            }
        }
        let n = (len - offset).min(UPLOAD_PART_BYTES as u64) as usize;
        let (bytes, out) = read_part(from, offset, n).await?;
        offset += n as u64;
        let put = upload.put_part(bytes.into());
        in_flight.push_back(tokio::spawn(async move {
            let _out = out;
            put.await
        }));
    }
    for part in in_flight {
        part.await.map_err(joined)?.map_err(failed)?;
    }
    Ok(())
}
