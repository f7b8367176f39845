//! Appends that bypass the page cache (Linux `O_DIRECT`, open(2)): the disk reads the
//! bytes straight from an aligned user buffer, so the kernel neither allocates page-cache
//! folios for them nor copies them — the largest part of a buffered write's CPU cost
//! (measured on ext4: a 198 MB remux spends ~45 ms in the buffered write path, a few ms
//! direct). Used by `liverec remux`, whose output is written once and not read back
//! soon; the recording server keeps buffered writes (small, frequent flushes).
//!
//! Direct I/O needs the buffer address, the length and the file offset aligned to the
//! device's logical block size; [`ALIGN`] (4096) covers every common device. So only
//! whole aligned blocks go direct; what must reach the file before a block is full (a
//! flush, the end) goes through a second, ordinary descriptor, and stays in the buffer
//! to be rewritten direct once its block fills (the kernel writes back and drops the
//! cached copy first, so the file stays coherent). Patches of bytes already on disk go
//! through the ordinary descriptor too. A file system that refuses `O_DIRECT` (at open
//! or at the first write) gets ordinary writes of the same buffer instead.
//!
//! liverec's own code: std and rustix give the flag, nothing wraps this pattern.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Alignment of direct transfers (address, length, offset).
pub const ALIGN: usize = 4096;

/// A file appended to through an aligned buffer written with `O_DIRECT`.
#[derive(Debug)]
pub struct DirectFile {
    /// The `O_DIRECT` descriptor; `None` once direct writes were refused.
    direct: Option<File>,
    /// An ordinary descriptor on the same file.
    plain: File,
    raw: Vec<u8>,
    /// Where the aligned buffer starts in `raw`.
    start: usize,
    capacity: usize,
    /// Bytes in the buffer.
    len: usize,
    /// File offset of the buffer's first byte (a multiple of [`ALIGN`]).
    at: u64,
}

impl DirectFile {
    /// Creates (truncates) `path` for direct appends through a buffer of about
    /// `buffer_bytes` (rounded up to [`ALIGN`]). `None` when the file system refuses
    /// `O_DIRECT`.
    pub fn create(path: &Path, buffer_bytes: usize) -> std::io::Result<Option<Self>> {
        let plain = File::create(path)?;
        let flags = rustix::fs::OFlags::DIRECT.bits() as i32;
        let direct = match OpenOptions::new()
            .write(true)
            .custom_flags(flags)
            .open(path)
        {
            Ok(f) => f,
            Err(e) if e.kind() == ErrorKind::InvalidInput => return Ok(None),
            Err(e) => return Err(e),
        };
        let capacity = buffer_bytes.div_ceil(ALIGN).max(1) * ALIGN;
        let raw = SPARE
            .with(|spare| spare.borrow_mut().take())
            .filter(|raw| raw.len() == capacity + ALIGN)
            .unwrap_or_else(|| vec![0u8; capacity + ALIGN]);
        let start = raw.as_ptr().align_offset(ALIGN).min(ALIGN);
        Ok(Some(Self {
            direct: Some(direct),
            plain,
            raw,
            start,
            capacity,
            len: 0,
            at: 0,
        }))
    }

    /// The ordinary descriptor (for length changes and space reservation).
    pub fn file(&self) -> &File {
        &self.plain
    }

    fn buffer(&mut self) -> &mut [u8] {
        let (start, end) = (self.start, self.start + self.capacity);
        self.raw.get_mut(start..end).unwrap_or_default()
    }

    /// Appends bytes.
    pub fn write_all(&mut self, mut bytes: &[u8]) -> std::io::Result<()> {
        while !bytes.is_empty() {
            let len = self.len;
            let n = (self.capacity - len).min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            if let Some(place) = self.buffer().get_mut(len..len + n) {
                place.copy_from_slice(now);
            }
            self.len += n;
            bytes = rest;
            if self.len == self.capacity {
                self.write_blocks(self.capacity)?;
            }
        }
        Ok(())
    }

    /// Writes the buffer's first `n` bytes (a multiple of [`ALIGN`]) at `at` and keeps
    /// the rest at its front.
    fn write_blocks(&mut self, n: usize) -> std::io::Result<()> {
        if n == 0 {
            return Ok(());
        }
        let at = self.at;
        let result = match &self.direct {
            Some(direct) => direct.write_all_at(self.raw_slice(0, n), at),
            None => self.plain.write_all_at(self.raw_slice(0, n), at),
        };
        match result {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::InvalidInput && self.direct.is_some() => {
                // Alignment stricter than ALIGN, or no direct I/O after all: plain writes.
                self.direct = None;
                self.plain.write_all_at(self.raw_slice(0, n), at)?;
            }
            Err(e) => return Err(e),
        }
        let (start, len) = (self.start, self.len);
        self.raw.copy_within(start + n..start + len, start);
        self.len -= n;
        self.at += n as u64;
        Ok(())
    }

    fn raw_slice(&self, from: usize, to: usize) -> &[u8] {
        self.raw
            .get(self.start + from..self.start + to)
            .unwrap_or_default()
    }

    /// Makes every appended byte part of the file: whole blocks direct, the partial
    /// last block through the ordinary descriptor (kept buffered, see the module doc).
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.write_blocks(self.len / ALIGN * ALIGN)?;
        if self.len > 0 {
            self.plain
                .write_all_at(self.raw_slice(0, self.len), self.at)?;
        }
        Ok(())
    }

    /// Flushes, then leaves direct I/O: what follows (patches, appends) goes through the
    /// ordinary descriptor alone, and no buffered copy of the file's end is kept that a
    /// later flush could write over changes made through another descriptor.
    pub fn settle(&mut self) -> std::io::Result<()> {
        self.flush()?;
        self.direct = None;
        self.at += self.len as u64;
        self.len = 0;
        Ok(())
    }

    /// Overwrites bytes at `offset` (inside what was appended).
    pub fn patch(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        let on_disk = usize::try_from(self.at.saturating_sub(offset))
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let (disk, buffered) = bytes.split_at(on_disk);
        if !disk.is_empty() {
            self.plain.write_all_at(disk, offset)?;
        }
        if !buffered.is_empty() {
            let from = usize::try_from(offset + on_disk as u64 - self.at).unwrap_or(usize::MAX);
            let len = self.len;
            match self.buffer().get_mut(from..from + buffered.len()) {
                Some(place) if from + buffered.len() <= len => place.copy_from_slice(buffered),
                _ => {
                    return Err(std::io::Error::new(
                        ErrorKind::InvalidInput,
                        "patch past the end of the file",
                    ))
                }
            }
        }
        Ok(())
    }
}

thread_local! {
    /// The buffer of the last file closed on this thread, for the next one: a remux
    /// writing segment after segment does not fault a fresh buffer in for each.
    static SPARE: std::cell::RefCell<Option<Vec<u8>>> = const { std::cell::RefCell::new(None) };
}

impl Drop for DirectFile {
    fn drop(&mut self) {
        // As BufWriter does: what was appended reaches the file (errors cannot be
        // reported here; `flush` and `settle` report them).
        let _ = self.flush();
        let raw = std::mem::take(&mut self.raw);
        SPARE.with(|spare| *spare.borrow_mut() = Some(raw));
    }
}

impl Write for DirectFile {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        DirectFile::flush(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_flushes_and_patches_give_the_plain_bytes() {
        let dir = std::env::temp_dir().join(format!("liverec-direct-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        // The temp dir may refuse O_DIRECT (tmpfs); then the test has nothing to check.
        let Some(mut f) = DirectFile::create(&path, 3 * ALIGN).unwrap() else {
            return;
        };
        let mut expected = Vec::new();
        for i in 0..5000u32 {
            let chunk: Vec<u8> = (0..(i % 97) as u8).map(|b| b ^ i as u8).collect();
            f.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
            if i % 777 == 0 {
                f.flush().unwrap();
                assert_eq!(std::fs::read(&path).unwrap(), expected, "after a flush");
            }
        }
        // One patch on disk, one across the boundary, one in the buffer.
        let len = expected.len() as u64;
        for offset in [10, f.at - 3, len - 5] {
            f.patch(offset, b"PATCH").unwrap();
            let o = offset as usize;
            expected[o..o + 5].copy_from_slice(b"PATCH");
        }
        assert!(f.patch(len - 2, b"PATCH").is_err(), "past the end");
        f.flush().unwrap();
        assert!(std::fs::read(&path).unwrap() == expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
