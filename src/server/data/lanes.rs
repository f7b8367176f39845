//! Ingest lanes: RTMP(S) connections run on single-threaded runtimes, one OS thread
//! each, rather than on the server's shared work-stealing runtime — the shape of nginx's
//! worker processes. A connection stays on the lane it was given for its whole life.
//!
//! Why: every media tick wakes every publishing connection at once. On the shared
//! runtime those wake-ups are spread over its workers by stealing, so each tick costs
//! cross-thread notifications (futex, eventfd), searching workers, and connections that
//! move between cores with their buffers; measured at 50 streams on 2 cores, the same
//! server with one worker thread used 15 % less CPU per stream-minute. On a lane a tick
//! is one wake-up and a loop over its connections, on one core.
//!
//! Placement packs: a new connection goes to the first lane that is not full — fewer
//! than [`LANE_PACK`] connections and busy less than [`LANE_BUSY_LIMIT`] of its time
//! over the last [`BUSY_WINDOW`] — and, when all are full, to the one with the fewest
//! connections. So a light load runs on one thread (the measurement above) and a heavy
//! one spreads over every core. How many lanes: `[ingest] threads` (default: one per
//! core). The rest of the server
//! (HTTP API, database, uploads, mixing, SRT) stays on the shared runtime; channels and
//! locks work across runtimes.
//!
//! liverec's own code: tokio gives the runtimes, nothing else does this placement.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::sync::watch;

/// Most lanes, whatever the setting says.
pub const MAX_LANES: usize = 256;
/// Connections on a lane before the next lane is used.
pub const LANE_PACK: usize = 200;
/// Share of its time a lane may be busy before the next lane is used.
pub const LANE_BUSY_LIMIT: f64 = 0.5;
/// The window a lane's busy share is measured over.
pub const BUSY_WINDOW: Duration = Duration::from_secs(2);

/// The ingest lanes (see the module doc). Dropping it ends the lanes once their
/// connections have ended.
#[derive(Debug)]
pub struct Lanes {
    lanes: Vec<Lane>,
    /// Turned true on drop: the lanes' threads return.
    stop: watch::Sender<bool>,
}

#[derive(Debug)]
struct Lane {
    handle: Handle,
    /// Connections on the lane now.
    load: Arc<AtomicUsize>,
    /// The latest busy share and when the window began (instant, busy time then).
    busy: Mutex<Busy>,
}

#[derive(Debug)]
struct Busy {
    share: f64,
    since: Instant,
    busy_then: Duration,
}

impl Lane {
    /// Whether the lane takes no more connections while another is not full.
    fn full(&self) -> bool {
        if self.load.load(Ordering::Relaxed) >= LANE_PACK {
            return true;
        }
        let Ok(mut busy) = self.busy.lock() else {
            return false;
        };
        let now = Instant::now();
        let elapsed = now.duration_since(busy.since);
        if elapsed >= BUSY_WINDOW {
            let total = self.handle.metrics().worker_total_busy_duration(0);
            let spent = total.saturating_sub(busy.busy_then);
            busy.share = spent.as_secs_f64() / elapsed.as_secs_f64();
            busy.since = now;
            busy.busy_then = total;
        }
        busy.share >= LANE_BUSY_LIMIT
    }
}

/// A connection's place on its lane: the lane counts it until this is dropped.
#[derive(Debug)]
pub struct Seat {
    load: Arc<AtomicUsize>,
}

impl Drop for Seat {
    fn drop(&mut self) {
        self.load.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Lanes {
    /// Starts `count` lanes (at least 1, at most [`MAX_LANES`]).
    pub fn start(count: usize) -> std::io::Result<Self> {
        let (stop, stopped) = watch::channel(false);
        let mut lanes = Vec::new();
        for index in 0..count.clamp(1, MAX_LANES) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let handle = runtime.handle().clone();
            let mut stopped = stopped.clone();
            std::thread::Builder::new()
                .name(format!("ingest-{index}"))
                .spawn(move || {
                    runtime.block_on(async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    });
                })?;
            lanes.push(Lane {
                handle,
                load: Arc::new(AtomicUsize::new(0)),
                busy: Mutex::new(Busy {
                    share: 0.0,
                    since: Instant::now(),
                    busy_then: Duration::ZERO,
                }),
            });
        }
        Ok(Self { lanes, stop })
    }

    #[cfg(test)]
    /// Lanes running.
    pub fn len(&self) -> usize {
        self.lanes.len()
    }

    #[cfg(test)]
    /// Whether there are none (never: [`Lanes::start`] makes at least one).
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    #[cfg(test)]
    /// Connections on each lane now.
    pub fn loads(&self) -> Vec<usize> {
        self.lanes
            .iter()
            .map(|l| l.load.load(Ordering::Relaxed))
            .collect()
    }

    /// The first lane not full, else the least loaded (the first on a tie), and a seat
    /// on it.
    fn pick(&self) -> Option<(&Handle, Seat)> {
        let lane = match self.lanes.iter().find(|l| !l.full()) {
            Some(lane) => lane,
            None => self
                .lanes
                .iter()
                .min_by_key(|l| l.load.load(Ordering::Relaxed))?,
        };
        lane.load.fetch_add(1, Ordering::Relaxed);
        let seat = Seat {
            load: Arc::clone(&lane.load),
        };
        Some((&lane.handle, seat))
    }

    /// Spawns `task` (given its seat) on the lane [`Lanes::pick`] gives, into `set`.
    pub fn spawn_into<F, T>(&self, set: &mut tokio::task::JoinSet<()>, task: F)
    where
        F: FnOnce(Seat) -> T,
        T: Future<Output = ()> + Send + 'static,
    {
        match self.pick() {
            Some((handle, seat)) => {
                set.spawn_on(task(seat), handle);
            }
            None => {
                let load = Arc::new(AtomicUsize::new(1));
                set.spawn(task(Seat { load }));
            }
        }
    }
}

impl Drop for Lanes {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_fill_the_first_lane_then_spread_and_leave() {
        let lanes = Lanes::start(3).unwrap();
        assert_eq!(lanes.len(), 3);
        let mut seats: Vec<Seat> = (0..LANE_PACK + 1)
            .map(|_| lanes.pick().unwrap().1)
            .collect();
        assert_eq!(lanes.loads(), vec![LANE_PACK, 1, 0]);
        seats.extend((0..2 * LANE_PACK - 1).map(|_| lanes.pick().unwrap().1));
        assert_eq!(lanes.loads(), vec![LANE_PACK; 3]);
        // All full: the least loaded takes it.
        let extra = lanes.pick().unwrap().1;
        assert_eq!(lanes.loads(), vec![LANE_PACK + 1, LANE_PACK, LANE_PACK]);
        drop(extra);
        seats.truncate(LANE_PACK - 1);
        assert_eq!(lanes.loads(), vec![LANE_PACK - 1, 0, 0]);
        let last = lanes.pick().unwrap().1;
        assert_eq!(lanes.loads(), vec![LANE_PACK, 0, 0]);
        drop((seats, last));
        assert_eq!(lanes.loads(), vec![0, 0, 0]);
    }

    #[tokio::test]
    async fn a_busy_lane_is_full() {
        let lanes = Lanes::start(2).unwrap();
        let lane = &lanes.lanes[0];
        // Busy for the whole window: a task that never yields for 2.1 s.
        let spin = lane.handle.spawn(async {
            let end = Instant::now() + BUSY_WINDOW + Duration::from_millis(100);
            while Instant::now() < end {
                std::hint::spin_loop();
            }
        });
        spin.await.unwrap();
        // The runtime adds the busy time up when its worker parks, which may come just
        // after the task's end has woken this one (late on a loaded box).
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(lane.full(), "a lane busy all the window is full");
        assert!(!lanes.lanes[1].full());
        let (_, seat) = lanes.pick().unwrap();
        assert_eq!(lanes.loads(), vec![0, 1]);
        drop(seat);
    }

    #[tokio::test]
    async fn tasks_run_on_the_lanes_threads() {
        let lanes = Lanes::start(2).unwrap();
        let mut set = tokio::task::JoinSet::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..4 {
            let tx = tx.clone();
            lanes.spawn_into(&mut set, move |seat| async move {
                let name = std::thread::current().name().map(str::to_owned);
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                let _ = tx.send(name);
                drop(seat);
            });
        }
        drop(tx);
        while set.join_next().await.is_some() {}
        let mut names = Vec::new();
        while let Some(name) = rx.recv().await {
            names.push(name.unwrap_or_default());
        }
        // A light load: all on the first lane.
        assert_eq!(names, ["ingest-0"; 4]);
        assert_eq!(lanes.loads(), vec![0, 0]);
    }

    #[test]
    fn at_least_one_lane() {
        let lanes = Lanes::start(0).unwrap();
        assert_eq!(lanes.len(), 1);
        assert!(!lanes.is_empty());
    }
}
