//! A file being written: the muxers' byte events (append, patch in place, replace the
//! head, finish an MP4 as moov-first) as local file operations. Shared by `liverec remux` and
//! the recording server.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[cfg(target_os = "linux")]
use super::direct::DirectFile;
use super::gather::Gather;
use crate::formats::mp4::progressive::{FileWrite, Plan, MAX_MOOF_BYTES};
use crate::formats::mp4::{FragmentRef, Mp4Error, Mp4Finish};

/// Write buffer per open file: a server holds hundreds of them, but the kernel's cost
/// per byte written falls with the write size (ext4: ~30 % less CPU at 128 KiB than at
/// 32 KiB).
pub const SERVER_WRITE_BUFFER_BYTES: usize = 128 * 1024;

/// Disk space is reserved ahead of the writes in steps of this (Linux `fallocate` with
/// `FALLOC_FL_KEEP_SIZE`: the file's length is unchanged, so a crash leaves no zeros
/// behind the data). ext4 then maps blocks it has already allocated instead of
/// reserving delayed allocations block by block, which takes about a third off the
/// kernel's cost of a buffered write. The unused rest is released at close.
pub const PREALLOCATE_BYTES: u64 = 4 * 1024 * 1024;

/// How a scratch file's appends reach it.
#[derive(Debug)]
enum Writer {
    Buffered(BufWriter<File>),
    /// Shared payloads held by reference until the owner's flush ([`super::gather`]).
    Gathered(Gather),
    #[cfg(target_os = "linux")]
    Direct(DirectFile),
}

impl Writer {
    fn file(&self) -> &File {
        match self {
            Writer::Buffered(w) => w.get_ref(),
            Writer::Gathered(g) => g.file(),
            #[cfg(target_os = "linux")]
            Writer::Direct(d) => d.file(),
        }
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Writer::Buffered(w) => w.write_all(bytes),
            Writer::Gathered(g) => g.append(bytes),
            #[cfg(target_os = "linux")]
            Writer::Direct(d) => d.write_all(bytes),
        }
    }

    /// Every appended byte in the file; direct writing stops (see [`DirectFile::settle`]).
    fn settle(&mut self) -> std::io::Result<()> {
        match self {
            Writer::Buffered(w) => w.flush(),
            Writer::Gathered(g) => g.flush(),
            #[cfg(target_os = "linux")]
            Writer::Direct(d) => d.settle(),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Writer::Buffered(w) => w.flush(),
            Writer::Gathered(g) => g.flush(),
            #[cfg(target_os = "linux")]
            Writer::Direct(d) => d.flush(),
        }
    }

    fn patch(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Writer::Buffered(w) => {
                w.seek(SeekFrom::Start(offset))?;
                w.write_all(bytes)?;
                w.seek(SeekFrom::End(0))?;
                Ok(())
            }
            Writer::Gathered(g) => {
                g.flush()?;
                write_all_at(g.file(), bytes, offset)
            }
            #[cfg(target_os = "linux")]
            Writer::Direct(d) => d.patch(offset, bytes),
        }
    }
}

/// One open file.
#[derive(Debug)]
pub struct ScratchFile {
    path: PathBuf,
    writer: Writer,
    buffer_bytes: usize,
    /// Logical length (written + buffered).
    end: u64,
    /// Bytes reserved on disk from offset 0.
    reserved: u64,
    /// False once a reservation failed (not every file system can): plain writes.
    reserving: bool,
}

impl ScratchFile {
    /// Creates (truncates) `path` with a write buffer of `buffer_bytes`.
    pub fn create(path: PathBuf, buffer_bytes: usize) -> std::io::Result<Self> {
        let file = File::create(&path)?;
        Ok(Self {
            path,
            writer: Writer::Buffered(BufWriter::with_capacity(buffer_bytes, file)),
            buffer_bytes,
            end: 0,
            reserved: 0,
            reserving: true,
        })
    }

    /// Creates (truncates) `path` for appends held by reference until [`Self::flush`]
    /// ([`super::gather`]): the recording server's files, flushed once per read tick.
    pub fn create_gathered(path: PathBuf) -> std::io::Result<Self> {
        let file = File::create(&path)?;
        Ok(Self {
            path,
            writer: Writer::Gathered(Gather::new(file)),
            buffer_bytes: 0,
            end: 0,
            reserved: 0,
            reserving: true,
        })
    }

    /// Opens an existing file to go on writing it (recovery finishes files a crash left).
    pub fn open(path: PathBuf, buffer_bytes: usize) -> std::io::Result<Self> {
        let mut file = OpenOptions::new().write(true).open(&path)?;
        let end = file.seek(SeekFrom::End(0))?;
        Ok(Self {
            path,
            writer: Writer::Buffered(BufWriter::with_capacity(buffer_bytes, file)),
            buffer_bytes,
            end,
            reserved: end,
            reserving: true,
        })
    }

    /// Creates (truncates) `path` for appends that bypass the page cache where the file
    /// system allows ([`super::direct`]; elsewhere as [`Self::create`]): for output written
    /// once and not read back soon (`liverec remux`).
    pub fn create_direct(path: PathBuf, buffer_bytes: usize) -> std::io::Result<Self> {
        #[cfg(target_os = "linux")]
        if let Some(direct) = DirectFile::create(&path, buffer_bytes)? {
            return Ok(Self {
                path,
                writer: Writer::Direct(direct),
                buffer_bytes,
                end: 0,
                reserved: 0,
                reserving: true,
            });
        }
        Self::create(path, buffer_bytes)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Appends bytes.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.grow(bytes.len() as u64);
        self.writer.write_all(bytes)
    }

    /// Appends shared bytes: by reference where the file gathers its writes, else copied.
    pub fn append_shared(&mut self, bytes: bytes::Bytes) -> std::io::Result<()> {
        self.grow(bytes.len() as u64);
        match &mut self.writer {
            Writer::Gathered(g) => g.append_shared(bytes),
            writer => writer.write_all(&bytes),
        }
    }

    fn grow(&mut self, len: u64) {
        if self.reserving && self.end + len > self.reserved {
            self.reserve(self.end + len);
        }
        self.end += len;
    }

    /// Reserves disk space up to at least `upto` (best effort: a file system that
    /// cannot simply gets plain writes).
    fn reserve(&mut self, upto: u64) {
        let from = self.reserved.max(self.end);
        let len = (upto - from).max(PREALLOCATE_BYTES);
        if reserve_keep_size(self.writer.file(), from, len) {
            self.reserved = from + len;
        } else {
            self.reserving = false;
        }
    }

    /// Releases disk space reserved past the end.
    fn release(&mut self) -> std::io::Result<()> {
        if self.reserved > self.end {
            self.writer.file().set_len(self.end)?;
            self.reserved = self.end;
        }
        Ok(())
    }

    /// Overwrites bytes at `offset` (inside what was written).
    pub fn patch(&mut self, offset: u64, bytes: &[u8]) -> std::io::Result<()> {
        self.writer.patch(offset, bytes)
    }

    /// Replaces the first `replace` bytes by `head`.
    pub fn rewrite_head(&mut self, head: &[u8], replace: u64) -> std::io::Result<()> {
        self.writer.settle()?;
        self.release()?;
        rewrite_head(&self.path, head, replace)?;
        self.reopen()
    }

    /// Finishes a fragmented MP4 as moov-first (see [`crate::formats::mp4::progressive`]):
    /// reads its `moof`s back (twice) and applies the writes, in place or into a new file
    /// that replaces it.
    pub fn finish_mp4(&mut self, mut finish: Mp4Finish) -> std::io::Result<()> {
        self.writer.settle()?;
        let path = self.path.clone();
        let invalid = |e: Mp4Error| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("{}: {e}", path.display()),
            )
        };
        let source = File::open(&self.path)?;
        // Small reads far apart (the moofs): no read-ahead of the samples between them,
        // which direct appends left out of the page cache.
        #[cfg(target_os = "linux")]
        let _ = rustix::fs::fadvise(&source, 0, None, rustix::fs::Advice::Random);
        let mut moof = Vec::new();
        while let Some(fragment) = finish.next_read() {
            read_moof(&source, &fragment, &mut moof)?;
            finish.count(&moof).map_err(invalid)?;
        }
        let mut writes = Vec::new();
        let plan = finish.plan(&mut writes).map_err(invalid)?;
        if plan == Plan::InPlace {
            let target = File::options().write(true).open(&self.path)?;
            second_pass(&source, &target, &mut finish, &mut writes).map_err(|e| e.or(&invalid))?;
            let finished = finish.finish(&mut writes).map_err(invalid)?;
            return apply_switch(&target, writes, finished.switch);
        }
        let Plan::Rebuild { data_start, ranges } = plan else {
            return Ok(());
        };
        self.release()?;
        let temp = temp_of(&self.path);
        let result = (|| {
            let mut target = File::create(&temp)?;
            let total = data_start + ranges.iter().map(|(_, len)| len).sum::<u64>();
            reserve_keep_size(&target, 0, total);
            target.seek(SeekFrom::Start(data_start))?;
            copy_ranges(&self.path, &source, &mut target, &ranges)?;
            second_pass(&source, &target, &mut finish, &mut writes).map_err(|e| e.or(&invalid))?;
            finish.finish(&mut writes).map_err(invalid)?;
            apply(&target, &mut writes)?;
            // Durable before it replaces the fragmented file.
            target.sync_data()?;
            drop(target);
            std::fs::rename(&temp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result?;
        self.reopen()
    }

    /// Flushes buffered bytes to the OS.
    pub fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }

    /// Flushes and closes; returns the path.
    pub fn close(mut self) -> std::io::Result<PathBuf> {
        self.writer.settle()?;
        self.release()?;
        Ok(self.path)
    }

    fn reopen(&mut self) -> std::io::Result<()> {
        // Not O_APPEND: `patch` seeks, and an O_APPEND write ignores the position.
        let mut file = OpenOptions::new().write(true).open(&self.path)?;
        self.end = file.seek(SeekFrom::End(0))?;
        self.reserved = self.end;
        self.writer = match self.writer {
            Writer::Gathered(_) => Writer::Gathered(Gather::new(file)),
            _ => Writer::Buffered(BufWriter::with_capacity(self.buffer_bytes, file)),
        };
        Ok(())
    }
}

/// Writes `bytes` at `offset` without moving the file position.
fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
    }
    #[cfg(not(unix))]
    {
        let mut file = file;
        let end = file.seek(SeekFrom::Current(0))?;
        file.seek(SeekFrom::Start(offset))?;
        file.write_all(bytes)?;
        file.seek(SeekFrom::Start(end)).map(|_| ())
    }
}

fn temp_of(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".rewrite");
    path.with_file_name(name)
}

/// An I/O error, or the MP4 core's.
enum FinishError {
    Io(std::io::Error),
    Mp4(Mp4Error),
}

impl FinishError {
    fn or(self, invalid: &impl Fn(Mp4Error) -> std::io::Error) -> std::io::Error {
        match self {
            FinishError::Io(e) => e,
            FinishError::Mp4(e) => invalid(e),
        }
    }
}

/// Reads every `moof` again into [`Mp4Finish::write`], applying its writes to `target`.
fn second_pass(
    source: &File,
    target: &File,
    finish: &mut Mp4Finish,
    writes: &mut Vec<FileWrite>,
) -> Result<(), FinishError> {
    apply(target, writes).map_err(FinishError::Io)?;
    let mut moof = Vec::new();
    while let Some(fragment) = finish.next_read() {
        read_moof(source, &fragment, &mut moof).map_err(FinishError::Io)?;
        finish.write(&moof, writes).map_err(FinishError::Mp4)?;
        apply(target, writes).map_err(FinishError::Io)?;
    }
    Ok(())
}

fn read_moof(file: &File, fragment: &FragmentRef, buf: &mut Vec<u8>) -> std::io::Result<()> {
    if fragment.moof_len > MAX_MOOF_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("moof of {} bytes", fragment.moof_len),
        ));
    }
    buf.resize(fragment.moof_len as usize, 0);
    let mut file = file;
    file.seek(SeekFrom::Start(fragment.moof_offset))?;
    file.read_exact(buf)
}

/// Applies the writes of an in-place finish in order, durable in three steps around
/// the `switch` write (see [`crate::formats::mp4::progressive::Finished`]): a power
/// loss then leaves the fragmented file, or a complete moov-first one whose old boxes
/// recovery frees.
fn apply_switch(
    file: &File,
    mut writes: Vec<FileWrite>,
    switch: Option<usize>,
) -> std::io::Result<()> {
    let Some(at) = switch.filter(|&at| at < writes.len()) else {
        return apply(file, &mut writes);
    };
    let mut switch = writes.split_off(at);
    let mut rest = switch.split_off(1);
    apply(file, &mut writes)?;
    file.sync_data()?;
    apply(file, &mut switch)?;
    file.sync_data()?;
    apply(file, &mut rest)
}

/// Applies `writes` in order (and empties the list).
fn apply(file: &File, writes: &mut Vec<FileWrite>) -> std::io::Result<()> {
    let mut file = file;
    for (at, bytes) in writes.drain(..) {
        file.seek(SeekFrom::Start(at))?;
        file.write_all(&bytes)?;
    }
    Ok(())
}

/// Copies byte `ranges` of `source` to `target`'s position, in order.
fn copy_ranges(
    path: &Path,
    source: &File,
    target: &mut File,
    ranges: &[(u64, u64)],
) -> std::io::Result<()> {
    let mut source = source;
    for (offset, len) in ranges {
        source.seek(SeekFrom::Start(*offset))?;
        // File to file: std copies inside the kernel (copy_file_range), no user buffer.
        let copied = std::io::copy(&mut source.take(*len), target)?;
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
    Ok(())
}

/// Reserves disk for bytes `from..from + len` of `file` without changing its length
/// (see [`PREALLOCATE_BYTES`]). False when the file system cannot.
fn reserve_keep_size(file: &File, from: u64, len: u64) -> bool {
    #[cfg(target_os = "linux")]
    return rustix::fs::fallocate(file, rustix::fs::FallocateFlags::KEEP_SIZE, from, len).is_ok();
    #[cfg(not(target_os = "linux"))]
    return {
        let _ = (file, from, len);
        false
    };
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
    let rest = source.metadata()?.len().saturating_sub(replace);
    source.seek(SeekFrom::Start(replace))?;
    let mut target = File::create(temp)?;
    reserve_keep_size(&target, 0, head.len() as u64 + rest);
    target.write_all(head)?;
    std::io::copy(&mut source, &mut target)?;
    drop(target);
    std::fs::rename(temp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn append_patch_rewrite() {
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
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The file driver of an MP4 finish gives the bytes the in-memory one does, in
    /// place and rebuilt.
    #[test]
    fn mp4_finish_on_disk_matches_the_core() {
        use crate::formats::mp4::progressive::finish_in_memory;
        use crate::formats::mp4::test_support::audio_file;
        use crate::formats::mp4::MoovRoom;
        let dir = std::env::temp_dir().join(format!("liverec-mp4fin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        type Create = fn(PathBuf, usize) -> std::io::Result<ScratchFile>;
        let cases: [(Option<i64>, &str, Create); 4] = [
            (Some(20_000), "free", ScratchFile::create),
            (None, "mdat", ScratchFile::create),
            (Some(20_000), "free", ScratchFile::create_direct),
            (None, "mdat", ScratchFile::create_direct),
        ];
        for (max_ms, kept, create) in cases {
            let room = MoovRoom {
                max_ms,
                input_bytes: None,
            };
            let (file, finish) = audio_file(600, room, |i| 10 + (i % 5) as usize);
            let path = dir.join("f.mp4");
            let mut f = create(path.clone(), 1024).unwrap();
            for piece in file.chunks(997) {
                f.append(piece).unwrap();
            }
            f.finish_mp4(finish.clone()).unwrap();
            let path = f.close().unwrap();
            let on_disk = std::fs::read(&path).unwrap();
            let in_memory = finish_in_memory(file, finish).unwrap();
            assert!(on_disk == in_memory, "{max_ms:?}");
            // Third box: the room's rest in place, the one mdat when rebuilt.
            let third = 28 + u32::from_be_bytes(on_disk[28..32].try_into().unwrap()) as usize;
            assert_eq!(&on_disk[third + 4..third + 8], kept.as_bytes());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn space_is_reserved_ahead_without_changing_the_length_and_released_at_close() {
        use std::os::unix::fs::MetadataExt;
        let dir = std::env::temp_dir().join(format!("liverec-reserve-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("f.bin");
        let mut f = ScratchFile::create(path.clone(), 1024).unwrap();
        let chunk = vec![7u8; 10_000];
        for _ in 0..50 {
            f.append(&chunk).unwrap();
        }
        f.flush().unwrap();
        let open = std::fs::metadata(&path).unwrap();
        assert_eq!(open.len(), 500_000, "the length is what was written");
        // Every Linux file system liverec targets (ext4, xfs, btrfs, tmpfs) can reserve.
        assert!(
            open.blocks() * 512 >= PREALLOCATE_BYTES,
            "space reserved ahead"
        );
        let path = f.close().unwrap();
        let closed = std::fs::metadata(&path).unwrap();
        assert_eq!(closed.len(), 500_000);
        assert!(
            closed.blocks() * 512 < 600_000,
            "reserved space released ({} bytes allocated)",
            closed.blocks() * 512
        );
        assert!(std::fs::read(&path).unwrap().iter().all(|&b| b == 7));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
