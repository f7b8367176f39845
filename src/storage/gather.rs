//! Appends gathered, not copied: a recording's bytes are mostly frame payloads that
//! already sit in buffers of their own (the RTMP message, a muxed TS frame). Copying
//! them into a per-file write buffer costs a pass over every byte through a buffer that
//! is cold in the cache by the time it is written (a server holds hundreds), and keeps
//! that buffer resident per open file. Here the file keeps shared references to the
//! payloads and copies only small pieces (tag headers, trailers) into a small arena; the
//! owner writes them all with one `writev` per read tick ([`Gather::flush`]), so the
//! kernel copies each byte once, straight from where it was received.
//!
//! Written by hand: `std`'s `write_vectored` does the system call; what no crate does is
//! hold `Bytes` in order beside copied pieces and bound what is held.

use std::fs::File;
use std::io::{IoSlice, Write};
use std::ops::Range;

use bytes::Bytes;

/// A payload shorter than this is copied into the arena (a reference would cost more
/// than the copy).
pub const GATHER_COPY_BELOW: usize = 512;
/// Bytes held before they are written without waiting for the owner's flush.
pub const GATHER_MAX_BYTES: usize = 1024 * 1024;
/// Pieces held before they are written (Linux takes at most 1,024 per `writev`).
pub const GATHER_MAX_PARTS: usize = 1024;

/// One piece of what is held, in file order.
#[derive(Debug)]
enum Part {
    /// A range of the arena.
    Copied(Range<usize>),
    /// A payload shared with its producer.
    Shared(Bytes),
}

/// Appends held until [`Gather::flush`] writes them to the end of `file`.
#[derive(Debug)]
pub struct Gather {
    file: File,
    arena: Vec<u8>,
    parts: Vec<Part>,
    held: usize,
}

impl Gather {
    /// Appends to `file` at its current position.
    pub fn new(file: File) -> Self {
        Self {
            file,
            arena: Vec::new(),
            parts: Vec::new(),
            held: 0,
        }
    }

    /// The file.
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Bytes held, not yet written.
    pub fn held(&self) -> usize {
        self.held
    }

    /// Appends a copy of `bytes`.
    pub fn append(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let start = self.arena.len();
        self.arena.extend_from_slice(bytes);
        match self.parts.last_mut() {
            Some(Part::Copied(range)) if range.end == start => range.end = self.arena.len(),
            _ => self.parts.push(Part::Copied(start..self.arena.len())),
        }
        self.held += bytes.len();
        self.bound()
    }

    /// Appends `bytes` by reference (a short one is copied).
    pub fn append_shared(&mut self, bytes: Bytes) -> std::io::Result<()> {
        if bytes.len() < GATHER_COPY_BELOW {
            return self.append(&bytes);
        }
        self.held += bytes.len();
        self.parts.push(Part::Shared(bytes));
        self.bound()
    }

    fn bound(&mut self) -> std::io::Result<()> {
        if self.held >= GATHER_MAX_BYTES || self.parts.len() >= GATHER_MAX_PARTS {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes everything held, in order. On an error what was not written is dropped
    /// (the file's owner stops it).
    pub fn flush(&mut self) -> std::io::Result<()> {
        if self.parts.is_empty() {
            return Ok(());
        }
        let result = self.write_held();
        self.parts.clear();
        self.arena.clear();
        self.held = 0;
        // A burst's arena is not kept for the quiet that follows.
        if self.arena.capacity() > 4 * GATHER_COPY_BELOW * 16 {
            self.arena.shrink_to(GATHER_COPY_BELOW * 16);
        }
        result
    }

    fn write_held(&mut self) -> std::io::Result<()> {
        let arena = &self.arena;
        let mut slices: Vec<IoSlice<'_>> = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Copied(range) => IoSlice::new(arena.get(range.clone()).unwrap_or_default()),
                Part::Shared(bytes) => IoSlice::new(bytes),
            })
            .collect();
        let mut rest = &mut slices[..];
        while !rest.is_empty() {
            match self.file.write_vectored(rest) {
                Ok(0) => return Err(std::io::ErrorKind::WriteZero.into()),
                Ok(n) => IoSlice::advance_slices(&mut rest, n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pieces_in_order_across_bounds() {
        let dir = std::env::temp_dir().join(format!("liverec-gather-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("g");
        let mut g = Gather::new(File::create(&path).unwrap());
        let mut expected = Vec::new();
        for i in 0..3000u32 {
            let small = i.to_be_bytes();
            g.append(&small).unwrap();
            expected.extend_from_slice(&small);
            let big = Bytes::from(vec![(i % 251) as u8; 600 + (i as usize % 700)]);
            expected.extend_from_slice(&big);
            g.append_shared(big).unwrap();
            assert!(g.held() < GATHER_MAX_BYTES + 2048);
        }
        g.flush().unwrap();
        g.flush().unwrap();
        assert_eq!(g.held(), 0);
        assert_eq!(std::fs::read(&path).unwrap(), expected);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
