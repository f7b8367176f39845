//! Reused buffers for bytes on their way to a network store. A fresh buffer of a
//! megabyte or more is mapped anew by the allocator: the kernel then takes a page fault
//! and zeroes a page for every 4 KiB written into it, and unmaps it when freed — more
//! work than the copy that fills it. Buffers given back are kept (up to a bound) and
//! handed out again, their pages already in place.

use std::sync::Mutex;

use bytes::Bytes;

/// Buffers of one size, up to `keep` of them kept while unused.
pub struct BufferPool {
    size: usize,
    keep: usize,
    free: Mutex<Vec<Vec<u8>>>,
}

impl BufferPool {
    /// A pool of buffers of `size` bytes keeping at most `keep` unused ones.
    pub const fn new(size: usize, keep: usize) -> Self {
        Self {
            size,
            keep,
            free: Mutex::new(Vec::new()),
        }
    }

    /// An empty buffer with room for the pool's size.
    pub fn take(&'static self) -> PooledBuffer {
        let reused = self.free.lock().ok().and_then(|mut free| free.pop());
        let mut buf = reused.unwrap_or_else(|| Vec::with_capacity(self.size));
        buf.clear();
        PooledBuffer { buf, pool: self }
    }

    /// Unused buffers kept now.
    pub fn kept(&self) -> usize {
        self.free.lock().map_or(0, |free| free.len())
    }

    fn give_back(&self, buf: Vec<u8>) {
        if buf.capacity() != self.size {
            return;
        }
        if let Ok(mut free) = self.free.lock() {
            if free.len() < self.keep {
                free.push(buf);
            }
        }
    }
}

/// A buffer of a [`BufferPool`], back to it when dropped.
pub struct PooledBuffer {
    buf: Vec<u8>,
    pool: &'static BufferPool,
}

impl PooledBuffer {
    /// The bytes (never grow it past its capacity: it would leave the pool).
    pub fn vec(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Bytes written.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing was written.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Room left.
    pub fn room(&self) -> usize {
        self.buf.capacity() - self.buf.len()
    }

    /// The bytes as [`Bytes`] (no copy); the buffer goes back once every clone is gone.
    pub fn freeze(self) -> Bytes {
        Bytes::from_owner(self)
    }
}

impl std::fmt::Debug for PooledBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PooledBuffer({} bytes)", self.buf.len())
    }
}

impl AsRef<[u8]> for PooledBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.buf
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        self.pool.give_back(std::mem::take(&mut self.buf));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static POOL: BufferPool = BufferPool::new(64, 2);

    #[test]
    fn buffers_come_back_up_to_the_bound() {
        let (mut a, b, c) = (POOL.take(), POOL.take(), POOL.take());
        a.vec().extend_from_slice(b"hello");
        let frozen = a.freeze();
        let clone = frozen.clone();
        drop(frozen);
        assert_eq!(POOL.kept(), 0, "a clone still holds it");
        assert_eq!(&clone[..], b"hello");
        drop(clone);
        drop((b, c));
        assert_eq!(POOL.kept(), 2, "kept up to the bound");
        let mut again = POOL.take();
        assert!(again.is_empty() && again.room() == 64);
        again.vec().extend_from_slice(&[0; 100]);
        drop(again);
        assert_eq!(POOL.kept(), 1, "a buffer that grew is not kept");
    }
}
