//! Who may connect over RTMP: the units of file handles [`crate::server::limits`] gives
//! RTMP shared out per connection, with caps in all (`[limits] max_connections`, also
//! bounded by the units) and per source address (`[limits] max_connections_per_ip`;
//! IPv4 addresses, IPv6 /64s). A connection that would pass a cap is accepted and closed
//! at once; a publish that finds no units left for a push is refused
//! (`NetStream.Publish.Rejected`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::server::limits::{Budget, FDS_PER_PUSH};

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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
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
}
