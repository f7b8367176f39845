//! A file being written: the muxers' byte events (append, patch in place, replace the
//! head, rebuild from ranges) as local file operations. Shared by `liverec remux` and
//! the recording server.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Write buffer per open file: small, because a server holds hundreds of them.
pub const SERVER_WRITE_BUFFER_BYTES: usize = 32 * 1024;

/// One open file.
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
    writer: BufWriter<File>,
    buffer_bytes: usize,
}

impl ScratchFile {
    /// Creates (truncates) `path` with a write buffer of `buffer_bytes`.
    pub fn create(path: PathBuf, buffer_bytes: usize) -> std::io::Result<Self> {
        let file = File::create(&path)?;
        Ok(Self {
            path,
            writer: BufWriter::with_capacity(buffer_bytes, file),
            buffer_bytes,
        })
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends bytes.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.write_all(bytes)
    }

    /// Overwrites bytes at `offset` (inside what was written).
    pub fn patch(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.seek(SeekFrom::Start(offset))?;
        self.writer.write_all(bytes)?;
        self.writer.seek(SeekFrom::End(0))?;
        Ok(())
    }

    /// Replaces the first `replace` bytes by `head`.
    pub fn rewrite_head(&mut self, head: &[u8], replace: u64) -> std::io::Result<()> {
        self.writer.flush()?;
        rewrite_head(&self.path, head, replace)?;
        self.reopen()
    }

    /// Rebuilds the file as `head` followed by byte `ranges` of its current content.
    pub fn rebuild(&mut self, head: &[u8], ranges: &[(u64, u64)]) -> std::io::Result<()> {
        self.writer.flush()?;
        rebuild(&self.path, head, ranges)?;
        self.reopen()
    }

    /// Flushes buffered bytes to the OS.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }

    /// Flushes and closes; returns the path.
    pub fn close(mut self) -> std::io::Result<PathBuf> {
        self.writer.flush()?;
        Ok(self.path)
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        let file = OpenOptions::new().append(true).open(&self.path)?;
        self.writer = BufWriter::with_capacity(self.buffer_bytes, file);
        Ok(())
    }
}

fn temp_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".rewrite");
    path.with_file_name(name)
}

/// Rebuilds `path` as `head` followed by the byte `ranges` (offset, length) of its
/// current content, through a temporary file renamed over it.
pub fn rebuild(path: &Path, head: &[u8], ranges: &[(u64, u64)]) -> std::io::Result<()> {
    let temp = temp_of(path);
    let result = rebuild_into(path, &temp, head, ranges);
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn rebuild_into(
    path: &Path,
    temp: &Path,
    head: &[u8],
    ranges: &[(u64, u64)],
) -> std::io::Result<()> {
    let mut source = File::open(path)?;
    let mut target = BufWriter::with_capacity(1024 * 1024, File::create(temp)?);
    target.write_all(head)?;
    for (offset, len) in ranges {
        source.seek(SeekFrom::Start(*offset))?;
        let copied = std::io::copy(&mut (&mut source).take(*len), &mut target)?;
        if copied != *len {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                format!(
                    "{}: {} bytes missing while rewriting",
                    path.display(),
                    len - copied
                ),
            ));
        }
    }
    target.flush()?;
    drop(target);
    std::fs::rename(temp, path)
}

/// Replaces the first `replace` bytes of `path` by `head`, copying the rest behind it.
pub fn rewrite_head(path: &Path, head: &[u8], replace: u64) -> std::io::Result<()> {
    let temp = temp_of(path);
    let result = rewrite_head_into(path, &temp, head, replace);
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result
}

fn rewrite_head_into(path: &Path, temp: &Path, head: &[u8], replace: u64) -> std::io::Result<()> {
    let mut source = File::open(path)?;
    source.seek(SeekFrom::Start(replace))?;
    let mut target = BufWriter::with_capacity(1024 * 1024, File::create(temp)?);
    target.write_all(head)?;
    std::io::copy(&mut source, &mut target)?;
    target.flush()?;
    drop(target);
    std::fs::rename(temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_patch_rewrite_rebuild() {
        let dir = std::env::temp_dir().join(format!("liverec-scratch-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let mut f = ScratchFile::create(path.clone(), 16).unwrap();
        f.append(b"hello world, this is longer than the buffer")
            .unwrap();
        f.patch(0, b"HELLO").unwrap();
        f.append(b"!").unwrap();
        f.rewrite_head(b"<head>", 6).unwrap();
        f.append(b"?").unwrap();
        f.flush().unwrap();
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"<head>world, this is longer than the buffer!?"
        );
        f.rebuild(b"H:", &[(6, 5), (43, 2)]).unwrap();
        let path = f.close().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"H:world!?");
        assert!(rebuild(&path, b"", &[(0, 100)]).is_err(), "short source");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
