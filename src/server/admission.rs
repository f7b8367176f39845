//! Who may connect: the process's file handles shared out so that recording never runs
//! out of them, whatever arrives on the ports.
//!
//! At start the soft `RLIMIT_NOFILE` is raised to the hard one ([`raise_file_limit`]).
//! Of that limit, [`RESERVED_FDS`] stay for the process itself (the database, the
//! listeners, callbacks, retention) and two per HTTP connection (its socket and a
//! recording it serves; [`Budget::http_connections`] of them); the rest are units for
//! RTMP connections: one for a
//! connection that has not published, [`FDS_PER_PUSH`] for a push (its socket, one
//! open file per output, the GOP cache and a short-lived sidecar or playlist write).
//! An RTMP connection is accepted and closed at once when it would pass the total cap
//! (`[limits] max_connections`, also bounded by the units), the cap per source address
//! (`[limits] max_connections_per_ip`) or the units; a publish that finds no units left
//! is refused (`NetStream.Publish.Rejected`). So with a limit of N open files liverec
//! records up to `(N − 64 − 2 × min(256, N/8)) / 8` streams at once — 88 at 1024.
//! Addresses are counted per IPv4 address and per IPv6 /64 (one host's share of
//! addresses).
//!
//! Should accepting fail all the same for lack of resources (`EMFILE`, `ENFILE`,
//! `ENOBUFS`, `ENOMEM`: another process, a budget set too high), the accept loops back
//! off ([`AcceptBackoff`], 5 ms doubling to 1 s) and log at most one line per
//! [`LOG_EVERY`] with the count of the others, instead of spinning.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// File handles kept for the process itself, outside any connection.
pub const RESERVED_FDS: u64 = 64;
/// File handles a push may hold: its socket, one open file per output (four formats),
/// the GOP cache, and a sidecar or playlist being written, with one to spare.
pub const FDS_PER_PUSH: u64 = 8;
/// Most HTTP connections at once (fewer at low file limits: an eighth of the limit).
pub const MAX_HTTP_CONNECTIONS: u64 = 256;
/// Default cap on RTMP connections at once.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10_000;
/// Default cap on RTMP connections from one source address.
pub const DEFAULT_MAX_CONNECTIONS_PER_IP: usize = 100;
/// A repeated warning is logged at most once per this.
pub const LOG_EVERY: Duration = Duration::from_secs(10);
/// First wait after an accept failed for lack of resources.
pub const ACCEPT_BACKOFF_FIRST: Duration = Duration::from_millis(5);
/// Longest wait between such accepts.
pub const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// Raises the soft open-file limit to the hard one; returns the soft limit then in
/// effect (`u64::MAX` when unlimited).
pub fn raise_file_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return limit.maximum.unwrap_or(u64::MAX);
        }
    }
    limit.current.unwrap_or(u64::MAX)
}

/// How a file limit is shared out (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// The open-file limit it was made from.
    pub file_limit: u64,
    /// HTTP connections at once.
    pub http_connections: u64,
    /// Units for RTMP connections.
    pub rtmp_units: u64,
}

impl Budget {
    /// The budget of `file_limit` open files.
    pub fn of(file_limit: u64) -> Budget {
        let http = MAX_HTTP_CONNECTIONS.min(file_limit / 8).max(1);
        Budget {
            file_limit,
            http_connections: http,
            rtmp_units: file_limit.saturating_sub(RESERVED_FDS + 2 * http),
        }
    }

    /// Pushes that fit at once.
    pub fn streams(&self) -> u64 {
        self.rtmp_units / FDS_PER_PUSH
    }
}

/// Why a connection or a publish is turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// `max_connections` reached.
    #[error("{0} RTMP connections are open (max_connections)")]
    Total(usize),
    /// `max_connections_per_ip` reached.
    #[error("{0} RTMP connections come from this address (max_connections_per_ip)")]
    PerAddress(usize),
    /// The file handles for connections are all taken.
    #[error(
        "no file handles left for another connection or push ({0} streams fit the open-file limit)"
    )]
    Files(u64),
}

impl Refusal {
    /// A short label for metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Total(_) => "max_connections",
            Refusal::PerAddress(_) => "max_connections_per_ip",
            Refusal::Files(_) => "file_limit",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    connections: usize,
    units: u64,
    per_ip: HashMap<IpAddr, usize>,
}

/// RTMP admission; see the module doc.
#[derive(Debug)]
pub struct Admission {
    counts: Mutex<Counts>,
    budget: Budget,
    max_connections: usize,
    max_per_ip: usize,
}

/// The address a connection counts under: an IPv4 address (IPv4-mapped IPv6 too), or
/// the /64 of an IPv6 address.
pub fn address_group(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

fn lock(m: &Mutex<Counts>) -> MutexGuard<'_, Counts> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Admission {
    /// Admission under `budget` and the two caps.
    pub fn new(budget: Budget, max_connections: usize, max_per_ip: usize) -> Self {
        Self {
            counts: Mutex::default(),
            budget,
            max_connections,
            max_per_ip,
        }
    }

    /// The budget it shares out.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// RTMP connections open now.
    pub fn connections(&self) -> usize {
        lock(&self.counts).connections
    }

    /// Admits a connection from `ip` (one unit), or says why not.
    pub fn connect(self: &Arc<Self>, ip: IpAddr) -> Result<Slot, Refusal> {
        let ip = address_group(ip);
        let mut c = lock(&self.counts);
        if c.connections >= self.max_connections {
            return Err(Refusal::Total(c.connections));
        }
        let from_ip = c.per_ip.get(&ip).copied().unwrap_or(0);
        if from_ip >= self.max_per_ip {
            return Err(Refusal::PerAddress(from_ip));
        }
        if c.units >= self.budget.rtmp_units {
            return Err(Refusal::Files(self.budget.streams()));
        }
        c.connections += 1;
        c.units += 1;
        *c.per_ip.entry(ip).or_default() += 1;
        Ok(Slot {
            admission: Arc::clone(self),
            ip,
            units: 1,
        })
    }

    fn grow(&self, slot: &mut Slot, to: u64) -> Result<(), Refusal> {
        let mut c = lock(&self.counts);
        let more = to.saturating_sub(slot.units);
        if c.units + more > self.budget.rtmp_units {
            return Err(Refusal::Files(self.budget.streams()));
        }
        c.units += more;
        slot.units += more;
        Ok(())
    }

    fn release(&self, slot: &Slot) {
        let mut c = lock(&self.counts);
        c.connections = c.connections.saturating_sub(1);
        c.units = c.units.saturating_sub(slot.units);
        if let Some(n) = c.per_ip.get_mut(&slot.ip) {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&slot.ip);
            }
        }
    }
}

/// An admitted connection's share; released when dropped.
#[derive(Debug)]
pub struct Slot {
    admission: Arc<Admission>,
    ip: IpAddr,
    units: u64,
}

impl Slot {
    /// Takes the file handles of a push, or says why not.
    pub fn publish(&mut self) -> Result<(), Refusal> {
        let admission = Arc::clone(&self.admission);
        admission.grow(self, FDS_PER_PUSH)
    }

    /// Gives a push's file handles back (the connection keeps one).
    pub fn unpublish(&mut self) {
        let mut c = lock(&self.admission.counts);
        c.units = c.units.saturating_sub(self.units.saturating_sub(1));
        self.units = self.units.min(1);
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.admission.release(self);
    }
}

/// Lets a repeated warning through at most once per [`LOG_EVERY`], counting the rest.
#[derive(Debug, Default)]
pub struct Quiet {
    last: Option<Instant>,
    suppressed: u64,
}

impl Quiet {
    /// `Some(n)`: log now, `n` occurrences were kept quiet since the last line.
    pub fn note(&mut self, now: Instant) -> Option<u64> {
        match self.last {
            Some(last) if now.duration_since(last) < LOG_EVERY => {
                self.suppressed += 1;
                None
            }
            _ => {
                self.last = Some(now);
                Some(std::mem::take(&mut self.suppressed))
            }
        }
    }
}

/// Whether an accept error means the process or system lacks resources (it would fail
/// again at once: wait before retrying).
pub fn out_of_resources(e: &std::io::Error) -> bool {
    use rustix::io::Errno;
    matches!(
        Errno::from_io_error(e),
        Some(Errno::MFILE | Errno::NFILE | Errno::NOBUFS | Errno::NOMEM)
    )
}

/// Back-off and quiet logging of an accept loop.
#[derive(Debug)]
pub struct AcceptBackoff {
    what: &'static str,
    wait: Duration,
    quiet: Quiet,
}

impl AcceptBackoff {
    /// For the `what` listener ("RTMP", "HTTP").
    pub fn new(what: &'static str) -> Self {
        Self {
            what,
            wait: ACCEPT_BACKOFF_FIRST,
            quiet: Quiet::default(),
        }
    }

    /// An accept succeeded.
    pub fn reset(&mut self) {
        self.wait = ACCEPT_BACKOFF_FIRST;
    }

    /// An accept failed: logs (quietly) and, for lack of resources, waits.
    pub async fn failed(&mut self, e: &std::io::Error) {
        let exhausted = out_of_resources(e);
        if let Some(more) = self.quiet.note(Instant::now()) {
            if exhausted {
                tracing::warn!(listener = self.what, error = %e, more, "accept failed: out of resources; backing off");
            } else {
                tracing::info!(listener = self.what, error = %e, more, "accept failed");
            }
        }
        if exhausted {
            tokio::time::sleep(self.wait).await;
            self.wait = (self.wait * 2).min(ACCEPT_BACKOFF_MAX);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    #[test]
    fn budgets() {
        let b = Budget::of(1024);
        assert_eq!(
            (b.http_connections, b.rtmp_units, b.streams()),
            (128, 704, 88)
        );
        let b = Budget::of(1_048_576);
        assert_eq!(b.http_connections, MAX_HTTP_CONNECTIONS);
        assert_eq!(Budget::of(32).rtmp_units, 0);
    }

    #[test]
    fn caps_total_per_address_and_files() {
        let a = Arc::new(Admission::new(Budget::of(1024), 50, 3));
        let mut held: Vec<Slot> = (0..3).map(|_| a.connect(ip(1)).unwrap()).collect();
        assert_eq!(a.connect(ip(1)).unwrap_err(), Refusal::PerAddress(3));
        held.pop();
        held.push(a.connect(ip(1)).unwrap());
        for k in 2..49 {
            held.push(a.connect(ip(k)).unwrap());
        }
        assert_eq!(a.connections(), 50);
        assert_eq!(a.connect(ip(200)).unwrap_err(), Refusal::Total(50));
        drop(held);
        assert_eq!(a.connections(), 0);
        // Units: 704 at 1024 files; each push takes 8.
        let a = Arc::new(Admission::new(Budget::of(1024), 10_000, 10_000));
        let mut pushes = Vec::new();
        for _ in 0..88 {
            let mut s = a.connect(ip(1)).unwrap();
            s.publish().unwrap();
            pushes.push(s);
        }
        assert_eq!(a.connect(ip(1)).unwrap_err(), Refusal::Files(88));
        pushes.pop();
        let mut s = a.connect(ip(2)).unwrap();
        let idle: Vec<Slot> = (0..7).map(|_| a.connect(ip(3)).unwrap()).collect();
        assert_eq!(s.publish().unwrap_err(), Refusal::Files(88));
        drop(idle);
        s.publish().unwrap();
        s.unpublish();
        let idle: Vec<Slot> = (0..7).map(|_| a.connect(ip(3)).unwrap()).collect();
        assert_eq!(idle.len(), 7, "a push's handles given back");
    }

    #[test]
    fn ipv6_counts_per_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(address_group(a), address_group(b));
        assert_ne!(address_group(a), address_group(c));
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert_eq!(address_group(mapped), ip(1));
        let limits = Arc::new(Admission::new(Budget::of(1024), 50, 1));
        let _held = limits.connect(a).unwrap();
        assert_eq!(limits.connect(b).unwrap_err(), Refusal::PerAddress(1));
    }

    #[test]
    fn quiet_logs_once_per_period_with_a_count() {
        let mut q = Quiet::default();
        let t = Instant::now();
        assert_eq!(q.note(t), Some(0));
        for i in 1..1000 {
            assert_eq!(q.note(t + Duration::from_millis(i)), None);
        }
        assert_eq!(q.note(t + LOG_EVERY), Some(999));
    }

    #[test]
    fn resource_errors() {
        let emfile = std::io::Error::from_raw_os_error(24);
        assert!(out_of_resources(&emfile));
        let reset = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert!(!out_of_resources(&reset));
    }
}
