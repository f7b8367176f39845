//! How the process's file handles are shared out, and how accept loops behave when they
//! run out all the same.
//!
//! At start the soft `RLIMIT_NOFILE` is raised to the hard one ([`raise_file_limit`]).
//! Of that limit, [`RESERVED_FDS`] stay for the process itself (the database, the
//! listeners, callbacks, retention) and two per HTTP connection (its socket and a
//! recording it serves; [`Budget::http_connections`] of them); the rest are units for
//! RTMP connections ([`Budget::rtmp_units`]): one for a connection that has not
//! published, [`FDS_PER_PUSH`] for a push. So with a limit of N open files liverec
//! records up to `(N − 64 − 2 × min(256, N/8)) / 8` streams at once — 88 at 1024. The
//! data plane's admission shares out the RTMP units.
//!
//! Should accepting fail all the same for lack of resources (`EMFILE`, `ENFILE`,
//! `ENOBUFS`, `ENOMEM`: another process, a budget set too high), the accept loops back
//! off ([`AcceptBackoff`], 5 ms doubling to 1 s) and log at most one line per
//! [`LOG_EVERY`] with the count of the others, instead of spinning.

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
