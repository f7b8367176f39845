//! Who is pushing now, and which HLS recordings wait for their push to come back.
//!
//! - One publisher per stream key (`domain/app/stream`): a second `publish` on a live key
//!   is rejected (`NetStream.Publish.BadName`), the first push keeps recording. A push
//!   whose connection is gone but which is still storing its last files, parking its
//!   HLS and giving its lease back is *ending*: a publish of its key waits for that
//!   ([`Busy::Ending`]) instead of being refused — an encoder that reconnects at once
//!   gets in, and takes over what the old push parked. A publish of a live key waits a
//!   moment too ([`Busy::Live`]): the old connection may be closing, its end not yet read.
//! - Each live push has a [`Fanout`]: other consumers subscribe to its frames
//!   ([`Live::subscribe`]); it closes when the push ends.
//! - Control messages reach a live push's connection: the task configuration changed
//!   (a real-time task created, a task stopped or deleted) — the connection re-plans its
//!   tasks, which never changes what the rule records mid-push (reference §3.9).
//! - Parked HLS recordings (auto-splice, reference §7): each has a deadline; a push of the
//!   same stream before it takes it over, otherwise a timer finalises and announces it.
//! - The growing HLS playlist of each stream, so `GET /live/DOMAIN/APP/STREAM.m3u8` can
//!   redirect to it while the recording grows (EVENT playlist) — during a splice wait too.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{mpsc, watch};

use super::error::DataError;
use super::fanout::{Fanout, Subscription};
use super::presence::PushInfo;
use super::stream::PushStream;
use crate::record::session::ParkedHls;

/// What a live push is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Control {
    /// Tasks changed: re-plan them now.
    Replan,
    /// End the push now, for this reason (its connection is closed).
    Drop(&'static str),
}

struct Entry {
    id: u64,
    control: mpsc::UnboundedSender<Control>,
    fanout: Arc<Fanout>,
    info: Arc<PushInfo>,
    /// Set once the push's connection is gone (see [`Live::ending`]).
    ending: bool,
    /// Dropped with the entry: whoever waits for the key sees its receiver close.
    released: watch::Sender<()>,
}

/// Why a key cannot be registered now.
#[derive(Debug)]
pub enum Busy {
    /// A push of it is live: the receiver's `changed()` returns once it is ending (`Ok`)
    /// or gone (an error).
    Live(watch::Receiver<()>),
    /// Its push is ending: the receiver's `changed()` returns (an error) once the key is
    /// free.
    Ending(watch::Receiver<()>),
}

/// A publisher's place in the registry.
pub struct Registration {
    /// Its id (only it can unregister the key).
    pub id: u64,
    /// Its frames, for subscribers.
    pub fanout: Arc<Fanout>,
    /// What it shows of itself.
    pub info: Arc<PushInfo>,
}

struct Parked {
    id: u64,
    stream: PushStream,
    hls: ParkedHls,
}

/// See the module doc.
#[derive(Default)]
pub struct Live {
    streams: Mutex<HashMap<String, Entry>>,
    parked: Mutex<HashMap<String, Vec<Parked>>>,
    /// The growing HLS playlist of each stream (storage key), for `GET /live/…`.
    playlists: Mutex<HashMap<String, String>>,
    next_id: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Live {
    /// Registers the publisher `info` describes, unless its key is taken.
    pub fn register(
        &self,
        info: Arc<PushInfo>,
        control: mpsc::UnboundedSender<Control>,
    ) -> Result<Registration, Busy> {
        let mut streams = lock(&self.streams);
        let key = info.stream().key();
        if let Some(entry) = streams.get(&key) {
            let released = entry.released.subscribe();
            return Err(match entry.ending {
                true => Busy::Ending(released),
                false => Busy::Live(released),
            });
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let fanout = Arc::new(Fanout::default());
        let entry = Entry {
            id,
            control,
            fanout: Arc::clone(&fanout),
            info: Arc::clone(&info),
            ending: false,
            released: watch::channel(()).0,
        };
        streams.insert(key, entry);
        Ok(Registration { id, fanout, info })
    }

    /// Marks a publisher (only the registration `id` made) as ending: its connection is
    /// gone, its subscriptions end, it is no longer listed or live, but its key stays
    /// taken (and its lease renewed) until [`Self::unregister`].
    pub fn ending(&self, stream: &PushStream, id: u64) {
        let mut streams = lock(&self.streams);
        if let Some(entry) = streams.get_mut(&stream.key()).filter(|e| e.id == id) {
            entry.ending = true;
            entry.fanout.close();
            entry.released.send_replace(());
        }
    }

    /// Removes a publisher (only the registration `id` made) and ends its subscriptions;
    /// a publish waiting for the key goes on.
    pub fn unregister(&self, stream: &PushStream, id: u64) {
        let mut streams = lock(&self.streams);
        if streams.get(&stream.key()).is_some_and(|e| e.id == id) {
            if let Some(entry) = streams.remove(&stream.key()) {
                entry.fanout.close();
            }
        }
    }

    /// Subscribes to the frames of live stream `domain/app/stream` with room for
    /// `capacity` frames; `None` when it is not live.
    pub fn subscribe(
        &self,
        stream_key: &str,
        capacity: usize,
    ) -> Option<Result<Subscription, DataError>> {
        let streams = lock(&self.streams);
        let fanout = Arc::clone(&streams.get(stream_key).filter(|e| !e.ending)?.fanout);
        drop(streams);
        Some(fanout.subscribe(capacity))
    }

    /// The keys of the live pushes, ending ones too (their leases are still held).
    pub fn keys(&self) -> Vec<String> {
        lock(&self.streams).keys().cloned().collect()
    }

    /// What the live pushes show of themselves at `now_ms` (a mix's replacement output
    /// left out: the pushed stream of its name is listed), sorted by key.
    pub fn pushes(&self, now_ms: i64) -> Vec<crate::server::streams::LivePush> {
        let infos: Vec<Arc<PushInfo>> = lock(&self.streams)
            .values()
            .filter(|e| !e.ending && e.info.stream().mix != super::stream::MixRole::Replacement)
            .map(|e| Arc::clone(&e.info))
            .collect();
        let mut pushes: Vec<_> = infos.iter().map(|i| i.snapshot(now_ms)).collect();
        pushes.sort_by_key(crate::server::streams::LivePush::key);
        pushes
    }

    /// Whether `stream_key` is live here (not ending).
    pub fn is_live(&self, stream_key: &str) -> bool {
        lock(&self.streams)
            .get(stream_key)
            .is_some_and(|e| !e.ending)
    }

    /// Live pushes (not ending).
    pub fn count(&self) -> usize {
        lock(&self.streams).values().filter(|e| !e.ending).count()
    }

    /// Ends live push `stream_key` (its connection is closed, its recordings finalised
    /// as at any end); false when it is not live here.
    pub fn drop_push(&self, stream_key: &str, why: &'static str) -> bool {
        lock(&self.streams)
            .get(stream_key)
            .is_some_and(|entry| entry.control.send(Control::Drop(why)).is_ok())
    }

    /// Tells every live push to re-plan its tasks (the task configuration changed).
    pub fn replan_all(&self) {
        for entry in lock(&self.streams).values() {
            let _ = entry.control.send(Control::Replan);
        }
    }

    /// Parks an HLS recording until its `flow_continue_s` passes without a push; returns
    /// its id and that wait: the caller's timer then takes it back with
    /// [`Live::take_expired`] (unless a push of the stream took it first).
    pub fn park(&self, stream: PushStream, hls: ParkedHls) -> (u64, std::time::Duration) {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wait_ms = u64::try_from(hls.spec.flow_continue_s.max(0)).unwrap_or(0) * 1000;
        lock(&self.parked)
            .entry(stream.key())
            .or_default()
            .push(Parked { id, stream, hls });
        (id, std::time::Duration::from_millis(wait_ms))
    }

    /// Takes back parked recording `id` whose wait has passed; `None` when a push of its
    /// stream took it over meanwhile.
    pub fn take_expired(&self, id: u64) -> Option<(PushStream, ParkedHls)> {
        let mut parked = lock(&self.parked);
        let key = parked
            .iter()
            .find(|(_, list)| list.iter().any(|p| p.id == id))
            .map(|(key, _)| key.clone())?;
        let list = parked.get_mut(&key)?;
        let at = list.iter().position(|p| p.id == id)?;
        let found = list.remove(at);
        if list.is_empty() {
            parked.remove(&key);
        }
        Some((found.stream, found.hls))
    }

    /// Takes the parked recordings of a stream (a push came back before their timeout).
    pub fn take_parked(&self, stream: &PushStream) -> Vec<ParkedHls> {
        lock(&self.parked)
            .remove(&stream.key())
            .unwrap_or_default()
            .into_iter()
            .map(|p| p.hls)
            .collect()
    }

    /// Takes every parked recording (shutdown finalises them).
    pub fn take_all_parked(&self) -> Vec<(PushStream, ParkedHls)> {
        lock(&self.parked)
            .drain()
            .flat_map(|(_, list)| list)
            .map(|p| (p.stream, p.hls))
            .collect()
    }

    /// Records the growing playlist of a stream's HLS recording (the latest one wins).
    pub fn set_live_playlist(&self, stream: &PushStream, key: &str) {
        lock(&self.playlists).insert(stream.key(), key.to_owned());
    }

    /// Forgets a growing playlist once its recording is final.
    pub fn clear_live_playlist(&self, stream: &PushStream, key: &str) {
        let mut playlists = lock(&self.playlists);
        if playlists.get(&stream.key()).is_some_and(|k| k == key) {
            playlists.remove(&stream.key());
        }
    }

    /// The storage key of the growing HLS playlist of `domain/app/stream`.
    pub fn live_playlist(&self, stream_key: &str) -> Option<String> {
        lock(&self.playlists).get(stream_key).cloned()
    }

    /// Parked recordings (for metrics and tests).
    pub fn parked_count(&self) -> usize {
        lock(&self.parked).values().map(Vec::len).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::session::OutputSpec;

    fn stream(name: &str) -> PushStream {
        PushStream {
            domain: "d.example".into(),
            app: "live".into(),
            stream: name.into(),
            stream_param: String::new(),
            mix: Default::default(),
        }
    }

    fn info(name: &str) -> Arc<PushInfo> {
        let addr = "127.0.0.1:1935".parse().unwrap();
        Arc::new(PushInfo::new(stream(name), "rtmp", (addr, addr), 0))
    }

    #[test]
    fn one_publisher_per_key_and_only_it_unregisters_it() {
        let live = Live::default();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let first = live.register(info("a"), tx.clone()).unwrap();
        assert!(
            matches!(live.register(info("a"), tx.clone()), Err(Busy::Live(_))),
            "a second publisher"
        );
        let other = live.register(info("b"), tx).unwrap();
        live.unregister(&stream("a"), other.id);
        assert_eq!(live.count(), 2, "not its registration");
        live.replan_all();
        assert_eq!(
            (rx.try_recv(), rx.try_recv()),
            (Ok(Control::Replan), Ok(Control::Replan))
        );
        assert!(live.drop_push("d.example/live/b", "why"));
        assert!(!live.drop_push("d.example/live/z", "why"), "not live");
        assert_eq!(rx.try_recv(), Ok(Control::Drop("why")));
        let sub = live.subscribe("d.example/live/a", 8).unwrap().unwrap();
        assert_eq!(first.fanout.subscribers(), 1);
        live.unregister(&stream("a"), first.id);
        assert_eq!(live.count(), 1);
        assert!(
            live.subscribe("d.example/live/a", 8).is_none(),
            "no longer live"
        );
        let mut sub = sub;
        assert!(
            sub.frames.try_recv().is_err() && !sub.dropped(),
            "ended with the push"
        );
        assert!(live
            .register(info("a"), mpsc::unbounded_channel().0)
            .is_ok());
    }

    #[tokio::test]
    async fn a_publish_of_an_ending_push_waits_for_its_key() {
        let live = Live::default();
        let (tx, _rx) = mpsc::unbounded_channel();
        let first = live.register(info("a"), tx.clone()).unwrap();
        let mut sub = live.subscribe("d.example/live/a", 8).unwrap().unwrap();
        live.ending(&stream("b"), first.id);
        live.ending(&stream("a"), first.id + 1);
        assert!(live.is_live("d.example/live/a"), "not its registration");
        let Err(Busy::Live(mut changed)) = live.register(info("a"), tx.clone()) else {
            panic!("a live push's key is busy");
        };
        live.ending(&stream("a"), first.id);
        assert!(changed.changed().await.is_ok(), "told when it is ending");
        assert!(sub.frames.recv().await.is_none(), "subscriptions end");
        assert!(!live.is_live("d.example/live/a") && live.count() == 0);
        assert!(live.pushes(0).is_empty() && live.subscribe("d.example/live/a", 8).is_none());
        assert_eq!(
            live.keys(),
            ["d.example/live/a"],
            "its lease is still renewed"
        );
        let Err(Busy::Ending(mut released)) = live.register(info("a"), tx.clone()) else {
            panic!("an ending push's key is busy until it is released");
        };
        let waiting = tokio::spawn(async move { released.changed().await.is_err() });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        live.unregister(&stream("a"), first.id);
        assert!(waiting.await.unwrap(), "told when the key is free");
        assert!(live.register(info("a"), tx).is_ok());
    }

    fn parked(flow_continue_s: i64) -> ParkedHls {
        let spec = OutputSpec {
            format: crate::config::template::Format::Hls,
            interval_ms: None,
            vod_file_name: "{StreamID}".into(),
            task_id: String::new(),
            template_id: 1,
            storage_time_s: 0,
            flow_continue_s,
            ends_at_ms: None,
            recording_id: "r".into(),
            hls_segments: Default::default(),
        };
        ParkedHls::new(spec, "a")
    }

    #[test]
    fn parked_recordings_go_to_the_next_push_or_to_their_timer_once() {
        let live = Live::default();
        let (first, wait) = live.park(stream("a"), parked(5));
        assert_eq!(wait, std::time::Duration::from_secs(5));
        let (second, _) = live.park(stream("a"), parked(5));
        assert_eq!(live.parked_count(), 2);
        assert!(live.take_expired(first).is_some());
        assert!(live.take_expired(first).is_none(), "once");
        assert_eq!(
            live.take_parked(&stream("a")).len(),
            1,
            "the push came back"
        );
        assert!(live.take_expired(second).is_none(), "taken over");
        live.park(stream("b"), parked(1));
        assert_eq!(live.take_all_parked().len(), 1);
        assert_eq!(live.parked_count(), 0);
    }

    #[test]
    fn the_latest_growing_playlist_wins_and_is_cleared_only_by_its_own_key() {
        let live = Live::default();
        live.set_live_playlist(&stream("a"), "k1");
        live.set_live_playlist(&stream("a"), "k2");
        live.clear_live_playlist(&stream("a"), "k1");
        assert_eq!(
            live.live_playlist("d.example/live/a").as_deref(),
            Some("k2")
        );
        live.clear_live_playlist(&stream("a"), "k2");
        assert_eq!(live.live_playlist("d.example/live/a"), None);
    }
}
