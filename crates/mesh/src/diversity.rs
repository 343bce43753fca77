//! The peer table's size limit and eclipse resistance.
//!
//! Seed 000's threat model answers the eclipse attack with "diverse peer selection". An
//! attacker who controls many addresses in one network (a /24 of IPv4, or a /48 of IPv6:
//! what one hosting customer typically gets) must not be able to fill a node's
//! connections or routing table. So:
//!
//! * **Connections.** [`PeerGate`] is a libp2p behaviour that refuses a connection to a
//!   *new* peer when `max_peers` distinct peers are already connected (seed 000
//!   `[network] max_peers = 50`), or when the peer's prefix already holds its quota.
//!   Extra connections to an already-connected peer are not counted again.
//! * **Routing table.** Kademlia runs with manual bucket inserts; a peer enters the
//!   table only through [`PrefixCounter::try_add`] against the same kind of quota,
//!   computed over `routing_table_target` entries.
//!
//! The quota per prefix is `max(min_per_prefix, floor(max_share × capacity))` with
//! `capacity` = `max_peers` for connections and `routing_table_target` for the table:
//! a fixed bound, not a share of whoever happens to be connected, so the first peers
//! cannot claim 100 %; the floor keeps small and LAN networks (all in one /24) usable.
//! A relayed connection counts under its relay's address (the first IP in the
//! multiaddr), which is the network an attacker would have to own. Connections without
//! an IP (in-memory) are not limited by prefix.

use std::{
    collections::{HashMap, HashSet},
    convert::Infallible,
    net::IpAddr,
    task::{Context, Poll},
};

use libp2p::{
    Multiaddr, PeerId,
    core::{Endpoint, transport::PortUse},
    multiaddr::Protocol,
    swarm::{
        ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, THandler,
        THandlerInEvent, THandlerOutEvent, ToSwarm, behaviour::ConnectionEstablished, dummy,
    },
};
use serde::Serialize;

/// The network an address belongs to, at the granularity one operator usually holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IpPrefix {
    /// The first three octets (a /24).
    V4([u8; 3]),
    /// The first six bytes (a /48).
    V6([u8; 6]),
}

impl std::fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IpPrefix::V4(o) => write!(f, "{}.{}.{}.0/24", o[0], o[1], o[2]),
            IpPrefix::V6(b) => write!(
                f,
                "{:x}:{:x}:{:x}::/48",
                u16::from_be_bytes([b[0], b[1]]),
                u16::from_be_bytes([b[2], b[3]]),
                u16::from_be_bytes([b[4], b[5]])
            ),
        }
    }
}

impl IpPrefix {
    pub fn of_ip(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => {
                let o = v4.octets();
                IpPrefix::V4([o[0], o[1], o[2]])
            }
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Self::of_ip(IpAddr::V4(v4)),
                None => {
                    let o = v6.octets();
                    IpPrefix::V6([o[0], o[1], o[2], o[3], o[4], o[5]])
                }
            },
        }
    }
}

/// The prefix of the first IP in `addr`, if it has one.
pub fn prefix_of(addr: &Multiaddr) -> Option<IpPrefix> {
    addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpPrefix::of_ip(IpAddr::V4(ip))),
        Protocol::Ip6(ip) => Some(IpPrefix::of_ip(IpAddr::V6(ip))),
        _ => None,
    })
}

/// Whether an address can mean anything to a peer on the internet: its first IP (for
/// a relay circuit, the relay's) is not loopback, private, link-local, shared (CGNAT
/// 100.64/10), unique-local, documentation or unspecified. Addresses without an IP are
/// kept. Used when `private_networks` is off, so a node behind a NAT does not announce
/// 127.0.0.1 and 10.x addresses that remote peers would dial in vain — and count under
/// the prefix quota of 127.0.0.0/24, squeezing out real peers.
pub fn globally_routable(addr: &Multiaddr) -> bool {
    let ip = addr.iter().find_map(|p| match p {
        Protocol::Ip4(ip) => Some(IpAddr::V4(ip)),
        Protocol::Ip6(ip) => Some(IpAddr::V6(ip)),
        _ => None,
    });
    match ip {
        None => true,
        Some(IpAddr::V4(v4)) => v4_global(v4),
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4_global(v4),
            None => {
                let first = v6.segments()[0];
                !(v6.is_loopback()
                    || v6.is_unspecified()
                    || (first & 0xfe00) == 0xfc00 // unique local fc00::/7
                    || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
                    || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
            }
        },
    }
}

fn v4_global(v4: std::net::Ipv4Addr) -> bool {
    let o = v4.octets();
    !(v4.is_loopback()
        || v4.is_private()
        || v4.is_link_local()
        || v4.is_unspecified()
        || v4.is_broadcast()
        || v4.is_documentation()
        || (o[0] == 100 && (o[1] & 0xc0) == 64)) // shared address space 100.64/10
}

/// The configured limits.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct DiversityConfig {
    /// Largest share of `max_peers` (and of `routing_table_target`) one prefix may hold.
    pub max_share: f64,
    /// A prefix may always hold at least this many.
    pub min_per_prefix: usize,
    /// The routing-table size the share is computed over.
    pub routing_table_target: usize,
}

impl Default for DiversityConfig {
    fn default() -> Self {
        DiversityConfig {
            max_share: 0.25,
            min_per_prefix: 2,
            routing_table_target: 256,
        }
    }
}

impl DiversityConfig {
    /// The per-prefix quota over `capacity` entries.
    pub fn quota(&self, capacity: usize) -> usize {
        let share = (self.max_share.clamp(0.0, 1.0) * capacity as f64).floor() as usize;
        share.max(self.min_per_prefix)
    }
}

/// Counts distinct peers per prefix against a quota.
#[derive(Debug, Default)]
pub struct PrefixCounter {
    quota: usize,
    by_prefix: HashMap<IpPrefix, HashSet<PeerId>>,
    prefix_of_peer: HashMap<PeerId, IpPrefix>,
}

impl PrefixCounter {
    pub fn new(quota: usize) -> Self {
        PrefixCounter {
            quota,
            ..Default::default()
        }
    }

    /// Whether `peer` at `addr` fits (already counted peers always do).
    pub fn allows(&self, peer: &PeerId, addr: &Multiaddr) -> bool {
        if self.prefix_of_peer.contains_key(peer) {
            return true;
        }
        match prefix_of(addr) {
            Some(p) => self.by_prefix.get(&p).map_or(0, HashSet::len) < self.quota,
            None => true,
        }
    }

    /// Counts `peer` if it fits; returns whether it does.
    pub fn try_add(&mut self, peer: PeerId, addr: &Multiaddr) -> bool {
        if !self.allows(&peer, addr) {
            return false;
        }
        if let Some(p) = prefix_of(addr)
            && !self.prefix_of_peer.contains_key(&peer)
        {
            self.by_prefix.entry(p).or_default().insert(peer);
            self.prefix_of_peer.insert(peer, p);
        }
        true
    }

    pub fn remove(&mut self, peer: &PeerId) {
        if let Some(p) = self.prefix_of_peer.remove(peer)
            && let Some(set) = self.by_prefix.get_mut(&p)
        {
            set.remove(peer);
            if set.is_empty() {
                self.by_prefix.remove(&p);
            }
        }
    }

    /// Peers counted per prefix, largest first.
    pub fn histogram(&self) -> Vec<(IpPrefix, usize)> {
        let mut v: Vec<_> = self.by_prefix.iter().map(|(p, s)| (*p, s.len())).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }
}

/// Why [`PeerGate`] refused a connection.
#[derive(Debug, thiserror::Error)]
pub enum GateDenied {
    #[error("peer table full ({0} peers)")]
    Full(usize),
    #[error("prefix {prefix} already holds its quota of {quota} peers")]
    Prefix { prefix: String, quota: usize },
    #[error("peer said goodbye moments ago")]
    Departed,
}

/// How long a peer that said GOODBYE is refused, so a connection still in flight from
/// its shutdown cannot bring it back into the table.
pub const DEPARTED_QUARANTINE: std::time::Duration = std::time::Duration::from_secs(3);
/// Most quarantined peers remembered.
const MAX_QUARANTINED: usize = 1_024;

/// Enforces `max_peers` and the per-prefix connection quota.
pub struct PeerGate {
    max_peers: usize,
    quota: usize,
    counter: PrefixCounter,
    /// Established connections per peer.
    conns: HashMap<PeerId, HashSet<ConnectionId>>,
    quarantine: HashMap<PeerId, std::time::Instant>,
    denied: u64,
}

impl PeerGate {
    pub fn new(max_peers: usize, cfg: &DiversityConfig) -> Self {
        let quota = cfg.quota(max_peers);
        PeerGate {
            max_peers,
            quota,
            counter: PrefixCounter::new(quota),
            conns: HashMap::new(),
            quarantine: HashMap::new(),
            denied: 0,
        }
    }

    /// Refuses `peer` for [`DEPARTED_QUARANTINE`].
    pub fn quarantine(&mut self, peer: PeerId) {
        let now = std::time::Instant::now();
        self.quarantine.retain(|_, until| *until > now);
        if self.quarantine.len() < MAX_QUARANTINED {
            self.quarantine.insert(peer, now + DEPARTED_QUARANTINE);
        }
    }

    /// Connections refused so far.
    pub fn denied(&self) -> u64 {
        self.denied
    }

    pub fn connected_peers(&self) -> usize {
        self.conns.len()
    }

    pub fn histogram(&self) -> Vec<(IpPrefix, usize)> {
        self.counter.histogram()
    }

    fn check(&mut self, peer: &PeerId, addr: &Multiaddr) -> Result<(), ConnectionDenied> {
        if self
            .quarantine
            .get(peer)
            .is_some_and(|until| *until > std::time::Instant::now())
        {
            self.denied += 1;
            return Err(ConnectionDenied::new(GateDenied::Departed));
        }
        if self.conns.contains_key(peer) {
            return Ok(());
        }
        if self.conns.len() >= self.max_peers {
            self.denied += 1;
            return Err(ConnectionDenied::new(GateDenied::Full(self.max_peers)));
        }
        if !self.counter.allows(peer, addr) {
            self.denied += 1;
            let prefix = prefix_of(addr).map(|p| p.to_string()).unwrap_or_default();
            return Err(ConnectionDenied::new(GateDenied::Prefix {
                prefix,
                quota: self.quota,
            }));
        }
        Ok(())
    }
}

impl NetworkBehaviour for PeerGate {
    type ConnectionHandler = dummy::ConnectionHandler;
    type ToSwarm = Infallible;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        _local: &Multiaddr,
        remote: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer, remote)?;
        Ok(dummy::ConnectionHandler)
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        peer: PeerId,
        addr: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        self.check(&peer, addr)?;
        Ok(dummy::ConnectionHandler)
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            }) => {
                self.counter.try_add(peer_id, endpoint.get_remote_address());
                self.conns.entry(peer_id).or_default().insert(connection_id);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed {
                peer_id,
                connection_id,
                ..
            }) => {
                if let Some(set) = self.conns.get_mut(&peer_id) {
                    set.remove(&connection_id);
                    if set.is_empty() {
                        self.conns.remove(&peer_id);
                        self.counter.remove(&peer_id);
                    }
                }
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(
        &mut self,
        _: PeerId,
        _: ConnectionId,
        event: THandlerOutEvent<Self>,
    ) {
        libp2p::core::util::unreachable(event)
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ToSwarm<Self::ToSwarm, THandlerInEvent<Self>>> {
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> Multiaddr {
        s.parse().unwrap()
    }

    #[test]
    fn prefixes_group_by_24_and_48() {
        assert_eq!(
            prefix_of(&a("/ip4/10.1.2.3/tcp/1")),
            prefix_of(&a("/ip4/10.1.2.200/udp/2/quic-v1"))
        );
        assert_ne!(
            prefix_of(&a("/ip4/10.1.2.3/tcp/1")),
            prefix_of(&a("/ip4/10.1.3.3/tcp/1"))
        );
        assert_eq!(
            prefix_of(&a("/ip6/2001:db8:1:ff::1/tcp/1")),
            prefix_of(&a("/ip6/2001:db8:1:aa::2/tcp/1"))
        );
        assert_ne!(
            prefix_of(&a("/ip6/2001:db8:1::1/tcp/1")),
            prefix_of(&a("/ip6/2001:db8:2::1/tcp/1"))
        );
        assert_eq!(prefix_of(&a("/memory/5")), None);
        assert_eq!(
            prefix_of(&a("/ip4/10.1.2.3/tcp/1")).unwrap().to_string(),
            "10.1.2.0/24"
        );
    }

    #[test]
    fn only_internet_addresses_are_globally_routable() {
        for local in [
            "/ip4/127.0.0.1/tcp/4001",
            "/ip4/10.1.0.2/tcp/4001",
            "/ip4/172.20.0.5/udp/4001/quic-v1",
            "/ip4/192.168.1.9/tcp/1",
            "/ip4/169.254.0.1/tcp/1",
            "/ip4/100.64.3.4/tcp/1",
            "/ip4/0.0.0.0/tcp/1",
            "/ip6/::1/tcp/1",
            "/ip6/fd00::1/tcp/1",
            "/ip6/fe80::1/tcp/1",
            "/ip6/::ffff:10.0.0.1/tcp/1",
            // a circuit through a relay on a private address
            "/ip4/10.0.0.1/tcp/4001/p2p/12D3KooWDf5T7gKDy4v5j3K2z6skJeRyCxhN29YcRPm8AqCrNG9k/p2p-circuit",
        ] {
            assert!(!globally_routable(&a(local)), "{local}");
        }
        for global in [
            "/ip4/8.8.8.8/tcp/4001",
            "/ip4/100.128.0.1/tcp/1",
            "/ip4/172.32.0.1/tcp/1",
            "/ip6/2a00:1450::1/udp/1/quic-v1",
            "/ip4/1.2.3.4/tcp/4001/p2p/12D3KooWDf5T7gKDy4v5j3K2z6skJeRyCxhN29YcRPm8AqCrNG9k/p2p-circuit",
            "/memory/5",
        ] {
            assert!(globally_routable(&a(global)), "{global}");
        }
    }

    #[test]
    fn quota_has_a_floor_and_a_share() {
        let cfg = DiversityConfig::default();
        assert_eq!(cfg.quota(50), 12);
        assert_eq!(cfg.quota(4), 2);
    }

    #[test]
    fn counter_refuses_past_the_quota_and_frees_on_remove() {
        let mut c = PrefixCounter::new(2);
        let (p1, p2, p3) = (PeerId::random(), PeerId::random(), PeerId::random());
        assert!(c.try_add(p1, &a("/ip4/10.0.0.1/tcp/1")));
        assert!(c.try_add(p2, &a("/ip4/10.0.0.2/tcp/1")));
        assert!(!c.try_add(p3, &a("/ip4/10.0.0.3/tcp/1")));
        assert!(c.try_add(p3, &a("/ip4/10.0.1.3/tcp/1")), "another /24");
        assert!(c.try_add(p1, &a("/ip4/10.0.0.1/tcp/2")), "already counted");
        c.remove(&p1);
        assert!(c.allows(&PeerId::random(), &a("/ip4/10.0.0.9/tcp/1")));
        assert_eq!(c.histogram().len(), 2);
    }
}
