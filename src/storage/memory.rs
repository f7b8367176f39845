//! HLS segments held in memory on their way to a network store (S3), instead of being
//! written to scratch space and read back for the upload: a segment is appended into
//! [`CHUNK_BYTES`] chunks (one copy, as a file's write buffer makes) and uploaded from
//! them as they are (no read-back copy, no page-cache traffic, no blocking thread).
//!
//! Memory is bounded: [`SegmentMemory`] counts the bytes of every segment open or
//! waiting for its upload, and a segment opened while that count is at the limit goes to
//! scratch space as before. The price is crash-safety of the segment being written: a
//! process that dies loses it (at most one segment, ~6 s, per HLS recording — what a
//! node that dies loses anyway once another node continues its recordings); segments
//! already uploaded and the growing playlist are in the store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use super::pool::{BufferPool, PooledBuffer};

/// Bytes per chunk of a segment in memory (large enough for few allocations and
/// writes, small enough to waste little at a segment's end).
pub const CHUNK_BYTES: usize = 256 * 1024;

/// Unused chunk buffers kept for the next segments ([`super::pool`]): 32 MiB.
pub const POOLED_CHUNKS: usize = 128;

static CHUNKS: BufferPool = BufferPool::new(CHUNK_BYTES, POOLED_CHUNKS);

/// Default bound of the bytes of HLS segments in memory (`[storage]
/// segment_memory_bytes`): ~128 streams of 2.7 Mbit/s with 6 s segments.
pub const DEFAULT_SEGMENT_MEMORY_BYTES: u64 = 256 * 1024 * 1024;

/// The bytes held by segments in memory, against a limit.
#[derive(Debug)]
pub struct SegmentMemory {
    limit: u64,
    used: AtomicU64,
    opened: AtomicU64,
}

impl SegmentMemory {
    /// At most `limit` bytes (0: segments never go to memory).
    pub fn new(limit: u64) -> Arc<Self> {
        Arc::new(Self {
            limit,
            used: AtomicU64::new(0),
            opened: AtomicU64::new(0),
        })
    }

    /// Bytes held now.
    pub fn used(&self) -> u64 {
        self.used.load(Ordering::Relaxed)
    }

    /// Segments opened in memory so far.
    pub fn opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// A new segment in memory, or `None` when the bytes held reached the limit (the
    /// segment then goes to scratch space).
    pub fn open(self: &Arc<Self>) -> Option<MemorySegment> {
        if self.used() >= self.limit {
            return None;
        }
        self.opened.fetch_add(1, Ordering::Relaxed);
        Some(MemorySegment {
            chunks: Vec::new(),
            current: None,
            held: Held {
                memory: Arc::clone(self),
                bytes: 0,
            },
        })
    }
}

/// Bytes counted against a [`SegmentMemory`] until dropped.
#[derive(Debug)]
struct Held {
    memory: Arc<SegmentMemory>,
    bytes: u64,
}

impl Held {
    fn add(&mut self, n: u64) {
        self.bytes += n;
        self.memory.used.fetch_add(n, Ordering::Relaxed);
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        self.memory.used.fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// A segment being written in memory.
#[derive(Debug)]
pub struct MemorySegment {
    chunks: Vec<Bytes>,
    current: Option<PooledBuffer>,
    held: Held,
}

impl MemorySegment {
    /// Appends bytes.
    pub fn append(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let current = match &mut self.current {
                Some(chunk) if chunk.room() > 0 => chunk,
                _ => {
                    if let Some(full) = self.current.take() {
                        self.chunks.push(full.freeze());
                    }
                    self.held.add(CHUNK_BYTES as u64);
                    self.current.insert(CHUNKS.take())
                }
            };
            let (now, later) = bytes.split_at(current.room().min(bytes.len()));
            current.vec().extend_from_slice(now);
            bytes = later;
        }
    }

    /// Bytes written.
    pub fn len(&self) -> u64 {
        let full: usize = self.chunks.iter().map(Bytes::len).sum();
        (full + self.current.as_ref().map_or(0, PooledBuffer::len)) as u64
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The segment, complete.
    pub fn finish(mut self) -> SegmentBytes {
        if let Some(last) = self.current.take().filter(|c| !c.is_empty()) {
            self.chunks.push(last.freeze());
        }
        SegmentBytes {
            chunks: self.chunks,
            _held: self.held,
        }
    }
}

/// A complete segment in memory; its bytes stay counted until it is dropped (after its
/// upload).
pub struct SegmentBytes {
    chunks: Vec<Bytes>,
    _held: Held,
}

impl SegmentBytes {
    /// Its chunks, in order (cheap clones of the same memory).
    pub fn chunks(&self) -> impl Iterator<Item = Bytes> + '_ {
        self.chunks.iter().cloned()
    }

    /// Its length.
    pub fn len(&self) -> u64 {
        self.chunks.iter().map(|c| c.len() as u64).sum()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for SegmentBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SegmentBytes({} bytes)", self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_hold_their_bytes_until_dropped_and_respect_the_limit() {
        let memory = SegmentMemory::new(CHUNK_BYTES as u64 * 3);
        let mut a = memory.open().expect("room");
        let data: Vec<u8> = (0..CHUNK_BYTES * 2 + 100)
            .map(|i| (i % 253) as u8)
            .collect();
        a.append(&data[..10]);
        a.append(&data[10..]);
        assert_eq!(a.len(), data.len() as u64);
        assert_eq!(memory.used(), CHUNK_BYTES as u64 * 3);
        assert!(
            memory.open().is_none(),
            "at the limit: scratch space instead"
        );
        let done = a.finish();
        let joined: Vec<u8> = done.chunks().flat_map(|c| c.to_vec()).collect();
        assert_eq!(joined, data);
        assert_eq!(done.chunks().count(), 3);
        drop(done);
        assert_eq!(memory.used(), 0);
        let empty = memory.open().expect("room again");
        assert!(empty.is_empty());
        assert!(SegmentMemory::new(0).open().is_none(), "0: never in memory");
    }
}
