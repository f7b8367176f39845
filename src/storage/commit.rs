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
//!   The scratch file is unlinked only once the store confirmed the object.

use std::path::{Path as FsPath, PathBuf};

use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, WriteMultipart};
use tokio::io::AsyncReadExt;

use super::StorageError;

/// Bytes read from the scratch file per upload part.
pub const UPLOAD_PART_BYTES: usize = 8 * 1024 * 1024;

fn io(context: String) -> impl FnOnce(std::io::Error) -> StorageError {
    move |source| StorageError::Io { context, source }
}

/// Links `from` at `to` (not replacing anything) and unlinks `from`.
pub async fn into_directory(from: PathBuf, to: PathBuf) -> Result<(), StorageError> {
    tokio::task::spawn_blocking(move || link_into_place(&from, &to))
        .await
        .map_err(|e| StorageError::Io {
            context: "committing".into(),
            source: std::io::Error::other(e),
        })?
}

fn link_into_place(from: &FsPath, to: &FsPath) -> Result<(), StorageError> {
    let shown = to.display().to_string();
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
    }
    match std::fs::hard_link(from, to) {
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
    std::fs::remove_file(from).map_err(io(format!("removing {}", from.display())))
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

/// Uploads `from` to `location` in parts of [`UPLOAD_PART_BYTES`], then unlinks it.
pub async fn upload(
    store: &dyn ObjectStore,
    from: &FsPath,
    location: &Path,
) -> Result<(), StorageError> {
    let shown = location.to_string();
    let store_err = |source| StorageError::Store {
        context: format!("storing {shown}"),
        source,
    };
    match store.head(location).await {
        Ok(_) => return Err(StorageError::Taken(shown)),
        Err(object_store::Error::NotFound { .. }) => {}
        Err(e) => return Err(store_err(e)),
    }
    let mut file = tokio::fs::File::open(from)
        .await
        .map_err(io(format!("opening {}", from.display())))?;
    let len = file
        .metadata()
        .await
        .map_err(io(format!("reading {}", from.display())))?
        .len();
    if len <= UPLOAD_PART_BYTES as u64 {
        let mut whole = Vec::with_capacity(len as usize);
        file.read_to_end(&mut whole)
            .await
            .map_err(io(format!("reading {}", from.display())))?;
        store.put(location, whole.into()).await.map_err(store_err)?;
        return tokio::fs::remove_file(from)
            .await
            .map_err(io(format!("removing {}", from.display())));
    }
    let upload = store.put_multipart(location).await.map_err(store_err)?;
    let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES);
    let mut buf = vec![0u8; UPLOAD_PART_BYTES];
    loop {
        let n = file
            .read(&mut buf)
            .await
            .map_err(io(format!("reading {}", from.display())))?;
        if n == 0 {
            break;
        }
        writer.wait_for_capacity(2).await.map_err(store_err)?;
        writer.write(buf.get(..n).unwrap_or_default());
    }
    writer.finish().await.map_err(store_err)?;
    tokio::fs::remove_file(from)
        .await
        .map_err(io(format!("removing {}", from.display())))
}
