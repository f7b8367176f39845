//! Acknowledgements (RTMP specification §5.4.3, §5.4.4): once the peer has set a window
//! (Window Acknowledgement Size), each window's worth of bytes received is acknowledged
//! with the total received so far.
//!
//! They go out on a chunk stream of their own, [`ACK_CSID`]: `rml_rtmp` writes its
//! answers on chunk streams 2 to 6 with headers compressed against its own previous
//! chunk on the same stream, so a message of ours there would break the peer's reading
//! of its next one.

/// The chunk stream of acknowledgements (one `rml_rtmp` never uses).
pub const ACK_CSID: u8 = 7;
/// Message type id of an Acknowledgement.
const ACKNOWLEDGEMENT: u8 = 3;

/// A connection's acknowledgement state.
#[derive(Debug, Default)]
pub(super) struct Acks {
    /// The peer's window, once set (0: none).
    window: u32,
    /// Bytes received since the handshake.
    received: u64,
    /// `received` at the last acknowledgement.
    acked: u64,
}

impl Acks {
    /// A Window Acknowledgement Size message's payload (ignored when malformed).
    pub(super) fn window(&mut self, payload: &[u8]) {
        if let Some(size) = payload.get(..4).and_then(|b| b.try_into().ok()) {
            self.window = u32::from_be_bytes(size);
        }
    }

    /// Counts `n` received bytes; appends an acknowledgement to `out` when a window
    /// is complete.
    pub(super) fn count(&mut self, n: usize, out: &mut Vec<u8>) {
        self.received += n as u64;
        if self.window == 0 || self.received - self.acked < u64::from(self.window) {
            return;
        }
        self.acked = self.received;
        // The sequence number is the byte count on a 32-bit counter that wraps.
        let sequence = (self.received & 0xFFFF_FFFF) as u32;
        out.extend_from_slice(&[ACK_CSID, 0, 0, 0, 0, 0, 4, ACKNOWLEDGEMENT, 0, 0, 0, 0]);
        out.extend_from_slice(&sequence.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acknowledges_each_window_with_the_total() {
        let mut acks = Acks::default();
        let mut out = Vec::new();
        acks.count(5000, &mut out);
        assert!(out.is_empty(), "no window set: no acknowledgement");
        acks.window(&2500u32.to_be_bytes());
        acks.count(1000, &mut out);
        assert_eq!(out.len(), 16);
        assert_eq!(out[..12], [7, 0, 0, 0, 0, 0, 4, 3, 0, 0, 0, 0]);
        assert_eq!(out[12..], 6000u32.to_be_bytes());
        acks.count(2499, &mut out);
        assert_eq!(out.len(), 16, "not a full window since");
        acks.count(1, &mut out);
        assert_eq!(out[28..], 8500u32.to_be_bytes());
    }
}
