//! The CyxWiz IP mesh (issue 16): libp2p discovery, NAT traversal and staked
//! announcements, as a library the node daemon wires in.
//!
//! * [`identity`]: the libp2p identity *is* the operator's Solana node key, so peer id
//!   ↔ on-chain node is checkable by anyone.
//! * [`record`]: the signed, versioned, size-bounded announcement and its strict codec.
//! * [`oracle`] / [`chain_oracle`]: what NodeRegistry says about a node, cached.
//! * [`admission`]: which announcements are admitted, and drops counted by reason.
//! * [`diversity`]: `max_peers` and the per-/24 (/48) quotas against eclipse attacks.
//! * [`protocol`]: the announce/ack and goodbye exchanges, and neighbour lists.
//! * [`node`]: the swarm task (TCP, QUIC, noise, yamux, identify, ping, Kademlia,
//!   AutoNAT, relay v2, DCUtR, gossipsub, request-response, mDNS).
//! * [`stats`]: snapshots for `cyxwiz peers`, `network stats` and `network topology`.
//! * [`Mesh`]: the handle: spawn with a config, then publish, look up, list, shut down.
//!
//! Every queue is bounded: commands ([`MeshConfig::command_queue`]), events
//! ([`MeshConfig::event_queue`], overflow dropped and counted), stake checks in flight
//! ([`MeshConfig::max_inflight_checks`]), the stake cache, the known-node table, the
//! DHT store and pending queries.

pub mod admission;
#[cfg(feature = "chain")]
pub mod chain_oracle;
pub mod config;
pub mod diversity;
pub mod identity;
pub mod node;
pub mod oracle;
pub mod protocol;
pub mod record;
pub mod stats;

use std::{sync::Arc, time::Duration};

pub use admission::{DropCounts, DropReason};
pub use config::MeshConfig;
pub use identity::{NodeId, NodeKey};
/// The libp2p address and peer types, so users configure the mesh without naming libp2p.
pub use libp2p::{Multiaddr, PeerId};
pub use node::{
    LocalAnnouncement, MeshEvent, NodeRecord, provider_key, record_key, type_capability,
};
pub use oracle::{StakeOracle, StakeStatus, Standing, StaticOracle};
pub use protocol::PeerResponse;
pub use record::{Announcement, NodeType, OnionKeys, SignedAnnouncement};
pub use stats::{MeshStats, PeerInfo, Topology, TopologyFormat};
use tokio::sync::{mpsc, oneshot};

use crate::node::Command;

/// Errors of the mesh API.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("invalid mesh configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("transport setup failed: {0}")]
    Transport(String),
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: String, reason: String },
    #[error("dial failed: {0}")]
    Dial(String),
    #[error("request failed: {0}")]
    Request(String),
    #[error("announcement invalid: {0}")]
    Record(#[from] record::RecordError),
    #[error("the mesh task has stopped")]
    Stopped,
    #[error("timed out after {0:?}")]
    Timeout(Duration),
}

/// Most lookups a provider search runs at once.
const PROVIDER_LOOKUP_FANOUT: usize = 16;

/// The application's end of the event queue.
pub struct MeshEvents(mpsc::Receiver<MeshEvent>);

impl MeshEvents {
    /// The next event, or `None` once the mesh has stopped.
    pub async fn recv(&mut self) -> Option<MeshEvent> {
        self.0.recv().await
    }

    /// An event if one is queued.
    pub fn try_recv(&mut self) -> Option<MeshEvent> {
        self.0.try_recv().ok()
    }
}

/// A handle to a running mesh node. Cheap to clone; the node stops on
/// [`Mesh::shutdown`] (sending GOODBYE) or when every handle is dropped.
#[derive(Clone)]
pub struct Mesh {
    commands: mpsc::Sender<Command>,
    peer_id: PeerId,
    node_id: NodeId,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("peer_id", &self.peer_id)
            .field("node_id", &self.node_id)
            .finish()
    }
}

impl Mesh {
    /// Builds the swarm, starts listening and dialling bootstrap peers, and spawns the
    /// swarm task on the current tokio runtime.
    pub async fn spawn(
        key: NodeKey,
        cfg: MeshConfig,
        oracle: Arc<dyn StakeOracle>,
    ) -> Result<(Mesh, MeshEvents), MeshError> {
        cfg.validate()?;
        let mut registry = libp2p::metrics::Registry::default();
        let swarm = node::build_swarm(&key, &cfg, &mut registry)?;
        let (cmd_tx, cmd_rx) = mpsc::channel(cfg.command_queue);
        let (ev_tx, ev_rx) = mpsc::channel(cfg.event_queue);
        let peer_id = key.peer_id();
        let node_id = key.node_id();
        let mut task = node::Task::new(swarm, cfg, key, oracle, registry, cmd_rx, ev_tx);
        task.start()?;
        tokio::spawn(task.run());
        Ok((
            Mesh {
                commands: cmd_tx,
                peer_id,
                node_id,
            },
            MeshEvents(ev_rx),
        ))
    }

    pub fn peer_id(&self) -> PeerId {
        self.peer_id
    }

    pub fn node_id(&self) -> NodeId {
        self.node_id
    }

    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<T>) -> Command,
    ) -> Result<T, MeshError> {
        let (tx, rx) = oneshot::channel();
        self.commands
            .send(make(tx))
            .await
            .map_err(|_| MeshError::Stopped)?;
        rx.await.map_err(|_| MeshError::Stopped)
    }

    /// Signs and publishes the node's announcement (DHT record, provider records per
    /// capability and tier, gossip, direct announce to connected peers), and keeps
    /// republishing it every `announce_interval`. Call again when anything changes
    /// (e.g. the onion key epoch).
    pub async fn publish_announcement(
        &self,
        local: LocalAnnouncement,
    ) -> Result<NodeRecord, MeshError> {
        self.ask(|reply| Command::Publish { local, reply }).await?
    }

    /// The admitted record of `node`: from the known table, else through the DHT (the
    /// fetched record passes the full admission, stake check included).
    pub async fn lookup(&self, node: NodeId) -> Result<Option<NodeRecord>, MeshError> {
        self.ask(|reply| Command::Lookup { node, reply }).await
    }

    /// Nodes providing `capability` at stake tier `min_tier` or higher (`None`: any
    /// tier, unstaked included), each verified by [`Mesh::lookup`]. Use
    /// [`type_capability`] to search by node type.
    pub async fn find_providers(
        &self,
        capability: &str,
        min_tier: Option<u8>,
    ) -> Result<Vec<NodeRecord>, MeshError> {
        let mut tiers: Vec<Option<u8>> = (min_tier.unwrap_or(0)..record::NUM_TIERS)
            .map(Some)
            .collect();
        if min_tier.is_none() {
            tiers.push(None);
        }
        let mut peers = std::collections::BTreeSet::new();
        for t in tiers {
            let key = provider_key(capability, t);
            peers.extend(self.ask(|reply| Command::Providers { key, reply }).await?);
        }
        let nodes: Vec<NodeId> = peers.iter().filter_map(identity::node_id_of).collect();
        let mut out = Vec::new();
        for chunk in nodes.chunks(PROVIDER_LOOKUP_FANOUT) {
            let found = futures::future::join_all(chunk.iter().map(|n| self.lookup(*n))).await;
            for rec in found.into_iter().flatten().flatten() {
                let a = &rec.announcement;
                let tier_ok = match min_tier {
                    Some(t) => a.tier.is_some_and(|x| x >= t),
                    None => true,
                };
                let has = a.capabilities.iter().any(|c| c == capability)
                    || type_capability(a.node_type) == capability;
                if tier_ok && has {
                    out.push(rec);
                }
            }
        }
        Ok(out)
    }

    /// Compute nodes offering `capability` at `min_tier` or higher: how an engine finds
    /// nodes when the coordinator is unreachable.
    pub async fn find_compute(
        &self,
        capability: &str,
        min_tier: u8,
    ) -> Result<Vec<NodeRecord>, MeshError> {
        Ok(self
            .find_providers(capability, Some(min_tier))
            .await?
            .into_iter()
            .filter(|r| r.announcement.node_type == NodeType::Compute)
            .collect())
    }

    /// Sends raw announcement bytes to `peer` over the peer protocol and returns its
    /// ACK (forwarding a record obtained elsewhere; also how tests play an attacker).
    pub async fn push_announcement(
        &self,
        peer: PeerId,
        bytes: Vec<u8>,
    ) -> Result<PeerResponse, MeshError> {
        self.ask(|reply| Command::PushAnnouncement { peer, bytes, reply })
            .await?
    }

    /// Runs a record obtained out of band (a bootstrap list, a file) through admission.
    pub async fn inject_announcement(
        &self,
        bytes: Vec<u8>,
    ) -> Result<Result<NodeRecord, DropReason>, MeshError> {
        self.ask(|reply| Command::Inject { bytes, reply }).await
    }

    pub async fn dial(&self, addr: Multiaddr) -> Result<(), MeshError> {
        self.ask(|reply| Command::Dial { addr, reply }).await?
    }

    /// Addresses the swarm listens on (resolved ports).
    pub async fn listen_addrs(&self) -> Result<Vec<Multiaddr>, MeshError> {
        self.ask(Command::ListenAddrs).await
    }

    pub async fn peers(&self) -> Result<Vec<PeerInfo>, MeshError> {
        self.ask(Command::Peers).await
    }

    pub async fn stats(&self) -> Result<MeshStats, MeshError> {
        self.ask(Command::Stats).await
    }

    pub async fn topology(&self) -> Result<Topology, MeshError> {
        self.ask(Command::Topology).await
    }

    /// Every admitted node.
    pub async fn known_nodes(&self) -> Result<Vec<NodeRecord>, MeshError> {
        self.ask(Command::Known).await
    }

    /// Peers in the Kademlia routing table.
    pub async fn routing_table(&self) -> Result<Vec<PeerId>, MeshError> {
        self.ask(Command::RoutingTable).await
    }

    /// Sends GOODBYE to every connected peer, waits up to `goodbye_timeout` for their
    /// acknowledgements, and stops the task.
    pub async fn shutdown(self) -> Result<(), MeshError> {
        self.ask(Command::Shutdown).await
    }
}
