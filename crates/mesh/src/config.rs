//! The mesh's configuration: seed 000's `[network]` section (`max_peers = 50`,
//! `discovery_interval = 30`) plus what libp2p needs. It deserialises from TOML with
//! defaults for everything, so the daemon can embed it as its `[network]` section.

use std::time::Duration;

use libp2p::Multiaddr;
use serde::{Deserialize, Serialize};

use crate::{admission::AdmissionConfig, diversity::DiversityConfig, oracle::CacheConfig};

/// Durations as whole seconds in config files.
pub mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_secs(u64::deserialize(d)?))
    }
}

/// Durations as milliseconds in config files (for the short ones).
pub mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis().min(u128::from(u64::MAX)) as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

/// Gossipsub mesh degree. libp2p's defaults (n 6, low 5, high 12) cannot be met by a
/// network of 2–20 nodes (ARCHITECTURE.md §6), so ours are lower; all are configurable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GossipConfig {
    pub mesh_n: usize,
    pub mesh_n_low: usize,
    pub mesh_n_high: usize,
    pub mesh_outbound_min: usize,
    #[serde(with = "millis")]
    pub heartbeat: Duration,
}

impl Default for GossipConfig {
    fn default() -> Self {
        GossipConfig {
            mesh_n: 4,
            mesh_n_low: 2,
            mesh_n_high: 8,
            mesh_outbound_min: 1,
            heartbeat: Duration::from_millis(1_000),
        }
    }
}

/// Limits of the relay v2 hop a reachable node serves. libp2p's defaults (2 minutes and
/// 128 KiB per circuit) make a relay a stepping stone for DCUtR only: when the hole
/// punch fails (a symmetric NAT) the relayed connection *is* the connection, so ours
/// last an hour and carry 16 MiB of mesh control traffic, and a node serves more
/// circuits. Circuits past the limit close; the next request redials through the relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RelayConfig {
    pub max_reservations: usize,
    pub max_reservations_per_peer: usize,
    pub max_circuits: usize,
    pub max_circuits_per_peer: usize,
    #[serde(with = "secs")]
    pub max_circuit_duration: Duration,
    pub max_circuit_bytes: u64,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            max_reservations: 128,
            max_reservations_per_peer: 4,
            max_circuits: 64,
            max_circuits_per_peer: 8,
            max_circuit_duration: Duration::from_secs(3_600),
            max_circuit_bytes: 16 << 20,
        }
    }
}

impl RelayConfig {
    /// libp2p's relay configuration with these limits (its rate limiters kept).
    pub fn to_libp2p(&self) -> libp2p::relay::Config {
        libp2p::relay::Config {
            max_reservations: self.max_reservations,
            max_reservations_per_peer: self.max_reservations_per_peer,
            max_circuits: self.max_circuits,
            max_circuits_per_peer: self.max_circuits_per_peer,
            // The relay protocol carries the duration as u32 seconds.
            max_circuit_duration: self
                .max_circuit_duration
                .min(Duration::from_secs(u64::from(u32::MAX))),
            max_circuit_bytes: self.max_circuit_bytes,
            ..libp2p::relay::Config::default()
        }
    }
}

/// Everything the mesh needs except the node key and the stake oracle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MeshConfig {
    /// Where to listen (TCP and, with the `quic` feature, QUIC).
    pub listen: Vec<Multiaddr>,
    /// Addresses to announce as reachable in addition to what AutoNAT confirms (a
    /// public node behind a port forward, or a localnet).
    pub external_addresses: Vec<Multiaddr>,
    /// Bootstrap peers, each with its `/p2p/<peer id>` suffix (from the config or the
    /// coordinator's list).
    pub bootstrap: Vec<Multiaddr>,
    /// Relays to reserve a slot on when this node is not reachable (each `/p2p/…`).
    pub relays: Vec<Multiaddr>,
    /// Seed 000 `[network] max_peers`.
    pub max_peers: usize,
    /// Seed 000 `[network] discovery_interval`: how often the node bootstraps its
    /// routing table, walks the DHT, redials bootstrap peers and asks neighbours.
    #[serde(with = "secs")]
    pub discovery_interval: Duration,
    /// The node is publicly reachable (or in a small/LAN network): Kademlia server mode
    /// is set explicitly (it would otherwise wait for a confirmed external address) and
    /// the node serves as a relay v2 hop.
    pub reachable: bool,
    /// mDNS discovery on the local network: off in production, on in the localnet.
    pub mdns: bool,
    /// Private and loopback addresses count as reachable (AutoNAT probes them): on for
    /// the localnet, LANs and network-namespace tests, off on the internet.
    pub private_networks: bool,
    /// How long the node's own announcement lives.
    #[serde(with = "secs")]
    pub record_ttl: Duration,
    /// How often the node republishes its announcement (well inside the TTL).
    #[serde(with = "secs")]
    pub announce_interval: Duration,
    /// Connections without traffic are closed after this long.
    #[serde(with = "secs")]
    pub idle_timeout: Duration,
    /// How long shutdown waits for peers to acknowledge GOODBYE.
    #[serde(with = "millis")]
    pub goodbye_timeout: Duration,
    /// Kademlia query timeout.
    #[serde(with = "secs")]
    pub query_timeout: Duration,
    pub gossip: GossipConfig,
    /// The relay hop's limits (reachable nodes only).
    pub relay_server: RelayConfig,
    pub diversity: DiversityConfig,
    pub admission: AdmissionConfig,
    pub stake_cache: CacheConfig,
    /// Stake checks running at once; more are dropped as `overloaded`.
    pub max_inflight_checks: usize,
    /// Capacity of the handle → swarm command queue.
    pub command_queue: usize,
    /// Capacity of the swarm → application event queue (events beyond it are dropped
    /// and counted, so a slow consumer never stalls the network).
    pub event_queue: usize,
    /// Most neighbour lists kept for the topology view.
    pub max_graph_nodes: usize,
}

impl Default for MeshConfig {
    fn default() -> Self {
        MeshConfig {
            listen: vec![
                "/ip4/0.0.0.0/tcp/4001".parse().expect("static multiaddr"),
                "/ip4/0.0.0.0/udp/4001/quic-v1"
                    .parse()
                    .expect("static multiaddr"),
            ],
            external_addresses: vec![],
            bootstrap: vec![],
            relays: vec![],
            max_peers: 50,
            discovery_interval: Duration::from_secs(30),
            reachable: false,
            mdns: false,
            private_networks: false,
            record_ttl: Duration::from_secs(3_600),
            announce_interval: Duration::from_secs(600),
            idle_timeout: Duration::from_secs(60),
            goodbye_timeout: Duration::from_millis(1_000),
            query_timeout: Duration::from_secs(20),
            gossip: GossipConfig::default(),
            relay_server: RelayConfig::default(),
            diversity: DiversityConfig::default(),
            admission: AdmissionConfig::default(),
            stake_cache: CacheConfig::default(),
            max_inflight_checks: 64,
            command_queue: 256,
            event_queue: 1_024,
            max_graph_nodes: 1_024,
        }
    }
}

/// A configuration that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{0} must be at least 1")]
    Zero(&'static str),
    #[error("announce_interval must be shorter than record_ttl")]
    AnnounceAfterExpiry,
    #[error("record_ttl exceeds the record format's {0} s")]
    TtlTooLong(u32),
    #[error(
        "gossip mesh degrees must satisfy outbound_min <= low <= n <= high and 2*outbound_min <= n"
    )]
    Gossip,
    #[error("diversity.max_share must be within 0..=1")]
    Share,
}

impl MeshConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (name, v) in [
            ("max_peers", self.max_peers),
            ("max_inflight_checks", self.max_inflight_checks),
            ("command_queue", self.command_queue),
            ("event_queue", self.event_queue),
        ] {
            if v == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.discovery_interval.is_zero() {
            return Err(ConfigError::Zero("discovery_interval"));
        }
        if self.record_ttl.as_secs() > u64::from(crate::record::MAX_TTL_SECS) {
            return Err(ConfigError::TtlTooLong(crate::record::MAX_TTL_SECS));
        }
        if self.record_ttl.as_secs() == 0 {
            return Err(ConfigError::Zero("record_ttl"));
        }
        if self.announce_interval >= self.record_ttl || self.announce_interval.is_zero() {
            return Err(ConfigError::AnnounceAfterExpiry);
        }
        let g = &self.gossip;
        if !(g.mesh_outbound_min <= g.mesh_n_low
            && g.mesh_n_low <= g.mesh_n
            && g.mesh_n <= g.mesh_n_high
            && g.mesh_outbound_min * 2 <= g.mesh_n)
        {
            return Err(ConfigError::Gossip);
        }
        if !(0.0..=1.0).contains(&self.diversity.max_share) {
            return Err(ConfigError::Share);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_the_seed_and_validate() {
        let c = MeshConfig::default();
        assert_eq!(c.max_peers, 50);
        assert_eq!(c.discovery_interval, Duration::from_secs(30));
        assert!(!c.mdns);
        c.validate().unwrap();
    }

    #[test]
    fn parses_a_network_section() {
        let c: MeshConfig = toml::from_str(
            "max_peers = 12\ndiscovery_interval = 5\nmdns = true\nbootstrap = [\"/ip4/127.0.0.1/tcp/4001\"]\n[gossip]\nmesh_n = 3\n",
        )
        .unwrap();
        assert_eq!(c.max_peers, 12);
        assert_eq!(c.discovery_interval, Duration::from_secs(5));
        assert_eq!(c.gossip.mesh_n, 3);
        assert_eq!(c.bootstrap.len(), 1);
        c.validate().unwrap();
        let bad = MeshConfig {
            announce_interval: Duration::from_secs(4_000),
            ..MeshConfig::default()
        };
        assert_eq!(bad.validate(), Err(ConfigError::AnnounceAfterExpiry));
    }
}
