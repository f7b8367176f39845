//! One live stream's frames, handed to whoever subscribes — a mixing engine, live
//! playback — beside the recorder, which the push feeds in its own task (it writes
//! scratch files only; finals go to the finalisation worker, so it never waits on
//! storage).
//!
//! Each subscriber has a bounded queue ([`DEFAULT_SUBSCRIBER_FRAMES`] frames unless it
//! asks otherwise). Publishing never waits: a subscriber whose queue is full is dropped
//! (its receiver ends, and [`Subscription::dropped`] says why), never the publisher. A
//! subscriber starts with the next frame; frames carry their codec configuration, so it
//! needs nothing else, and waits for a keyframe if it decodes. Costs nothing without
//! subscribers: one atomic load per frame.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::mpsc;

use super::error::DataError;
use crate::media::Frame;

/// Frames a subscriber may fall behind by before it is dropped (about 4 s of 30 fps
/// video with its audio).
pub const DEFAULT_SUBSCRIBER_FRAMES: usize = 256;
/// Subscribers per live stream.
pub const MAX_SUBSCRIBERS: usize = 64;

struct Subscriber {
    queue: mpsc::Sender<Arc<Frame>>,
    dropped: Arc<AtomicBool>,
}

/// See the module doc.
#[derive(Default)]
pub struct Fanout {
    subscribers: Mutex<Vec<Subscriber>>,
    count: AtomicUsize,
}

/// A subscriber's end: frames until the push ends or the subscriber falls behind.
pub struct Subscription {
    /// The frames.
    pub frames: mpsc::Receiver<Arc<Frame>>,
    dropped: Arc<AtomicBool>,
}

impl Subscription {
    /// Whether it was dropped for falling behind (rather than the push ending).
    pub fn dropped(&self) -> bool {
        self.dropped.load(Ordering::Relaxed)
    }
}

impl Fanout {
    /// Subscribes with room for `capacity` frames (at least 1).
    pub fn subscribe(&self, capacity: usize) -> Result<Subscription, DataError> {
        let mut subscribers = self.lock();
        if subscribers.len() >= MAX_SUBSCRIBERS {
            return Err(DataError::Subscribers(subscribers.len()));
        }
        let (queue, frames) = mpsc::channel(capacity.max(1));
        let dropped = Arc::new(AtomicBool::new(false));
        subscribers.push(Subscriber {
            queue,
            dropped: Arc::clone(&dropped),
        });
        self.count.store(subscribers.len(), Ordering::Release);
        Ok(Subscription { frames, dropped })
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Hands `frame` to every subscriber without waiting; returns how many were dropped
    /// for a full queue.
    pub fn publish(&self, frame: &Frame) -> usize {
        if self.subscribers() == 0 {
            return 0;
        }
        let frame = Arc::new(frame.clone());
        let mut subscribers = self.lock();
        let before = subscribers.len();
        let mut slow = 0;
        subscribers.retain(|s| match s.queue.try_send(Arc::clone(&frame)) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                s.dropped.store(true, Ordering::Relaxed);
                slow += 1;
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        });
        if subscribers.len() != before {
            self.count.store(subscribers.len(), Ordering::Release);
        }
        slow
    }

    /// Ends every subscription (the push ended).
    pub fn close(&self) {
        self.lock().clear();
        self.count.store(0, Ordering::Release);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Subscriber>> {
        self.subscribers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::{Codec, Track};

    fn frame(ms: i64) -> Frame {
        Frame {
            track_id: 0,
            track: Track::Audio,
            codec: Codec::Mp3,
            dts_ms: ms,
            pts_ms: ms,
            keyframe: true,
            payload: bytes::Bytes::from_static(&[0xFF, 0xFB]),
            config: None,
            flv: None,
        }
    }

    #[tokio::test]
    async fn a_slow_subscriber_is_dropped_and_the_others_and_the_publisher_go_on() {
        let fanout = Fanout::default();
        assert_eq!(fanout.publish(&frame(0)), 0, "nobody listens");
        let mut fast = fanout.subscribe(4).unwrap();
        let slow = fanout.subscribe(2).unwrap();
        let mut dropped = 0;
        for i in 0..10 {
            dropped += fanout.publish(&frame(i * 23));
            let got = fast.frames.recv().await.unwrap();
            assert_eq!(got.dts_ms, i * 23, "in order, nothing lost");
        }
        assert_eq!(dropped, 1, "the slow one, once");
        assert!(slow.dropped() && !fast.dropped());
        assert_eq!(fanout.subscribers(), 1);
        let mut slow = slow;
        assert_eq!(
            slow.frames.recv().await.map(|f| f.dts_ms),
            Some(0),
            "what it had queued"
        );
        assert_eq!(slow.frames.recv().await.map(|f| f.dts_ms), Some(23));
        assert!(slow.frames.recv().await.is_none(), "then its end");
        fanout.close();
        assert!(fast.frames.recv().await.is_none(), "the push ended");
        assert!(!fast.dropped());
    }

    #[test]
    fn subscribers_are_bounded_and_gone_ones_are_forgotten() {
        let fanout = Fanout::default();
        let subs: Vec<Subscription> = (0..MAX_SUBSCRIBERS)
            .map(|_| fanout.subscribe(1).unwrap())
            .collect();
        let refused = fanout.subscribe(1).err().map(|e| e.code());
        assert_eq!(refused, Some("subscribers"));
        drop(subs);
        fanout.publish(&frame(0));
        assert_eq!(
            fanout.subscribers(),
            0,
            "closed receivers leave on the next frame"
        );
        assert!(fanout.subscribe(1).is_ok());
    }
}
