//! The node on the IP mesh: the DISCOVER and JOIN MESH steps of the lifecycle and what
//! keeps the node's announcement true afterwards.
//!
//! * The libp2p identity is the node's Solana keypair itself (decision 110), so any peer
//!   checks this node's stake from its peer id.
//! * Stake checks of other nodes' announcements go to NodeRegistry through the node's
//!   own chain client ([`cyxwiz_mesh::chain_oracle::RegistryOracle`]); the same oracle
//!   gives this node's tier, which its announcement claims.
//! * DISCOVER: the mesh listens, dials the bootstrap peers and waits briefly for a first
//!   connection (discovery goes on in the background either way).
//! * JOIN MESH: the compute announcement (capabilities, region, tier, addresses) is
//!   published, then re-published by a keeper task whenever the tier or the addresses
//!   change (the mesh itself refreshes it every `announce_interval`).
//! * The mesh's events are drained and logged here, so its bounded queue never fills.

use std::{sync::Arc, time::Duration};

use cyxwiz_chain::client::ChainClient;
use cyxwiz_mesh::{
    LocalAnnouncement, Mesh, MeshConfig, MeshEvent, MeshEvents, NodeKey, NodeType, OnionKeys,
    StakeOracle, StakeStatus, Standing, chain_oracle::RegistryOracle,
};
use cyxwiz_proto::admin::StakeInfo;
use solana_keypair::Keypair;
use tokio::sync::{Notify, watch};

/// How long DISCOVER waits for a first peer before the node goes on (discovery
/// continues in the background): long enough for a bootstrap dial on a LAN, short
/// enough not to hold up a node that is the first of its network.
const DISCOVER_WAIT: Duration = Duration::from_secs(3);
/// How long the mesh gets to report its listen addresses before the first publication.
const LISTEN_WAIT: Duration = Duration::from_secs(2);
/// How often the keeper re-reads the stake and the addresses.
const KEEPER_INTERVAL: Duration = Duration::from_secs(15);
/// Least time between two publications: receivers refuse updates of one node faster
/// than every 5 s (decision 112), so a quicker republish would just be dropped.
const MIN_REPUBLISH_GAP: Duration = Duration::from_secs(6);

#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error("node key: {0}")]
    Key(#[from] cyxwiz_mesh::identity::IdentityError),
    #[error("mesh: {0}")]
    Mesh(#[from] cyxwiz_mesh::MeshError),
}

/// What the chain says about this node, in the admin protocol's terms.
pub fn stake_info(status: &StakeStatus) -> StakeInfo {
    match *status {
        StakeStatus::Unregistered => StakeInfo {
            standing: "unregistered".into(),
            stake: 0,
            tier: None,
        },
        StakeStatus::Registered {
            standing,
            stake,
            tier,
        } => StakeInfo {
            standing: match standing {
                Standing::Active => "active",
                Standing::Suspended => "suspended",
                Standing::Banned => "banned",
                Standing::Unstaking => "unstaking",
            }
            .into(),
            stake,
            tier,
        },
    }
}

/// The stake oracle over the node's chain client: NodeRegistry accounts, cached by the
/// mesh in front of it.
pub fn registry_oracle(chain: &ChainClient) -> Arc<dyn StakeOracle> {
    Arc::new(RegistryOracle::new(chain.clone()))
}

/// The libp2p identity of the node: its operator keypair (the copy of the secret is
/// zeroed by [`NodeKey::from_solana_keypair_bytes`]).
pub fn node_key(wallet: &Keypair) -> Result<NodeKey, NetworkError> {
    let mut bytes = wallet.to_bytes();
    let key = NodeKey::from_solana_keypair_bytes(&mut bytes);
    zeroize::Zeroize::zeroize(&mut bytes);
    Ok(key?)
}

/// The node's part of the mesh: the handle, the keeper and the event logger.
pub struct MeshNode {
    pub mesh: Mesh,
    stop: watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for MeshNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeshNode")
            .field("peer_id", &self.mesh.peer_id())
            .finish_non_exhaustive()
    }
}

/// What the node announces, apart from what the mesh fills in.
#[derive(Debug, Clone)]
pub struct AnnounceInfo {
    pub capabilities: Vec<String>,
    pub region: String,
}

impl AnnounceInfo {
    /// Capabilities sorted and unique (the record's canonical form), region in the
    /// record's alphabet (lowercase; anything else becomes `-`).
    pub fn new(capabilities: &[String], region: &str) -> Self {
        let mut caps = capabilities.to_vec();
        caps.sort();
        caps.dedup();
        let region: String = region
            .to_ascii_lowercase()
            .chars()
            .map(|c| {
                if c.is_ascii_lowercase() || c.is_ascii_digit() || ":._-".contains(c) {
                    c
                } else {
                    '-'
                }
            })
            .take(cyxwiz_mesh::record::MAX_REGION_LEN)
            .collect();
        AnnounceInfo {
            capabilities: caps,
            region,
        }
    }

    fn local(&self, tier: Option<u8>) -> LocalAnnouncement {
        LocalAnnouncement {
            node_type: NodeType::Compute,
            tier,
            capabilities: self.capabilities.clone(),
            region: self.region.clone(),
            onion: OnionKeys::default(),
            // Empty: the mesh announces what it listens on or was confirmed at.
            addresses: vec![],
        }
    }
}

impl MeshNode {
    /// DISCOVER: spawns the mesh (listen, bootstrap dials) and waits briefly for a
    /// first peer. `extra_bootstrap` are peers handed out by someone else (e.g. a
    /// coordinator), dialled beside the configured ones.
    pub async fn discover(
        wallet: &Keypair,
        oracle: Arc<dyn StakeOracle>,
        cfg: MeshConfig,
        extra_bootstrap: Vec<cyxwiz_mesh::Multiaddr>,
    ) -> Result<(MeshNode, MeshEvents), NetworkError> {
        let key = node_key(wallet)?;
        let has_bootstrap = !cfg.bootstrap.is_empty() || !extra_bootstrap.is_empty() || cfg.mdns;
        let (mesh, events) = Mesh::spawn(key, cfg, oracle).await?;
        for addr in extra_bootstrap {
            if let Err(e) = mesh.dial(addr.clone()).await {
                tracing::warn!(%addr, error = %e, "dialling a handed-out bootstrap peer failed");
            }
        }
        let deadline = tokio::time::Instant::now() + LISTEN_WAIT;
        let mut listen = mesh.listen_addrs().await?;
        while listen.is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            listen = mesh.listen_addrs().await?;
        }
        tracing::info!(peer_id = %mesh.peer_id(), listen = ?listen.iter().map(ToString::to_string).collect::<Vec<_>>(), "DISCOVER: mesh listening");
        if has_bootstrap {
            let deadline = tokio::time::Instant::now() + DISCOVER_WAIT;
            let mut peers = mesh.peers().await?.len();
            while peers == 0 && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
                peers = mesh.peers().await?.len();
            }
            if peers == 0 {
                tracing::warn!(
                    "DISCOVER: no peer reached yet; discovery continues in the background"
                );
            } else {
                tracing::info!(peers, "DISCOVER: connected to the mesh");
            }
        } else {
            tracing::info!("DISCOVER: no bootstrap peers configured; waiting to be found");
        }
        let (stop, _) = watch::channel(false);
        Ok((
            MeshNode {
                mesh,
                stop,
                tasks: vec![],
            },
            events,
        ))
    }

    /// JOIN MESH: reads the node's stake tier, publishes the compute announcement, and
    /// starts the keeper (republish on change) and the event logger.
    pub async fn join(
        &mut self,
        events: MeshEvents,
        oracle: Arc<dyn StakeOracle>,
        info: AnnounceInfo,
    ) -> Result<(), NetworkError> {
        let node = self.mesh.node_id();
        let status = match oracle.stake_status(&node).await {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(error = %e, "JOIN MESH: cannot read the node's stake; announcing without a tier");
                None
            }
        };
        let tier = status.as_ref().and_then(announced_tier);
        let rec = self.mesh.publish_announcement(info.local(tier)).await?;
        tracing::info!(
            node_id = %node,
            tier = ?tier,
            capabilities = ?rec.announcement.capabilities,
            addresses = ?rec.announcement.addresses.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "JOIN MESH: announcement published"
        );
        let changed = Arc::new(Notify::new());
        self.tasks.push(tokio::spawn(log_events(
            events,
            changed.clone(),
            self.stop.subscribe(),
        )));
        self.tasks.push(tokio::spawn(keep_announced(
            self.mesh.clone(),
            oracle,
            info,
            Published {
                tier,
                addresses: addresses_of(&self.mesh).await,
            },
            changed,
            self.stop.subscribe(),
        )));
        Ok(())
    }

    /// SHUTDOWN: stops the keeper and sends GOODBYE to every peer (bounded by the
    /// mesh's `goodbye_timeout`).
    pub async fn leave(mut self) {
        let _ = self.stop.send(true);
        for t in self.tasks.drain(..) {
            t.abort();
        }
        match self.mesh.shutdown().await {
            Ok(()) => tracing::info!("left the mesh (GOODBYE sent)"),
            Err(e) => tracing::warn!(error = %e, "leaving the mesh"),
        }
    }
}

/// The tier an active node may claim; none when it is not (its announcement would be
/// refused anyway, but the node stays reachable for its running jobs).
fn announced_tier(status: &StakeStatus) -> Option<u8> {
    match status {
        // A tier beyond what the record format holds is claimed as the highest it
        // holds: claiming lower than the chain says is always admitted.
        StakeStatus::Registered {
            standing: Standing::Active,
            tier,
            ..
        } => tier.map(|t| t.min(cyxwiz_mesh::record::NUM_TIERS - 1)),
        _ => None,
    }
}

/// What the last publication said, to tell when a new one is due.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Published {
    tier: Option<u8>,
    addresses: Vec<String>,
}

async fn addresses_of(mesh: &Mesh) -> Vec<String> {
    match mesh.stats().await {
        Ok(s) => {
            let mut v: Vec<String> = if s.external_addresses.is_empty() {
                s.listen_addresses
            } else {
                s.external_addresses
            };
            v.sort();
            v
        }
        Err(_) => vec![],
    }
}

/// Republishes the announcement when the stake tier or the addresses change.
async fn keep_announced(
    mesh: Mesh,
    oracle: Arc<dyn StakeOracle>,
    info: AnnounceInfo,
    mut last: Published,
    changed: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(KEEPER_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    let mut last_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = changed.notified() => {}
            _ = stop.changed() => return,
        }
        let wait = MIN_REPUBLISH_GAP.saturating_sub(last_at.elapsed());
        if !wait.is_zero() {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = stop.changed() => return,
            }
        }
        let tier = match oracle.stake_status(&mesh.node_id()).await {
            Ok(s) => announced_tier(&s),
            // The chain is unreachable: keep claiming what was last read.
            Err(e) => {
                tracing::debug!(error = %e, "reading the node's stake");
                last.tier
            }
        };
        let now = Published {
            tier,
            addresses: addresses_of(&mesh).await,
        };
        if now == last {
            continue;
        }
        match mesh.publish_announcement(info.local(tier)).await {
            Ok(_) => {
                tracing::info!(tier = ?now.tier, addresses = ?now.addresses, "announcement republished");
                last = now;
                last_at = tokio::time::Instant::now();
            }
            Err(cyxwiz_mesh::MeshError::Stopped) => return,
            Err(e) => tracing::warn!(error = %e, "republishing the announcement"),
        }
    }
}

/// Drains the mesh's events into the log; address and NAT changes wake the keeper.
async fn log_events(mut events: MeshEvents, changed: Arc<Notify>, mut stop: watch::Receiver<bool>) {
    loop {
        let ev = tokio::select! {
            ev = events.recv() => ev,
            _ = stop.changed() => return,
        };
        let Some(ev) = ev else { return };
        match ev {
            MeshEvent::Listening(addr) => {
                tracing::debug!(%addr, "mesh listening on a new address");
                changed.notify_one();
            }
            MeshEvent::PeerConnected { peer } => tracing::debug!(%peer, "mesh peer connected"),
            MeshEvent::PeerDisconnected { peer } => {
                tracing::debug!(%peer, "mesh peer disconnected")
            }
            MeshEvent::PeerLeft { peer } => tracing::info!(%peer, "mesh peer left (GOODBYE)"),
            MeshEvent::NodeAdmitted(rec) => tracing::info!(
                node = %rec.announcement.node_id,
                node_type = rec.announcement.node_type.as_str(),
                tier = ?rec.announcement.tier,
                "mesh node admitted"
            ),
            MeshEvent::AnnouncementDropped { from, reason } => {
                tracing::debug!(from = ?from, %reason, "announcement dropped")
            }
            MeshEvent::NatStatus(status) => {
                tracing::info!(%status, "NAT status");
                changed.notify_one();
            }
            MeshEvent::HolePunch { peer, success } => {
                tracing::info!(%peer, success, "hole punch")
            }
            MeshEvent::RelayReservation { relay } => {
                tracing::info!(%relay, "relay reservation accepted");
                changed.notify_one();
            }
            // Events the mesh adds later are logged until they are handled here.
            #[allow(unreachable_patterns)]
            other => tracing::trace!(event = ?other, "mesh event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcement_is_canonical() {
        let info = AnnounceInfo::new(&["wasm".into(), "cpu".into(), "wasm".into()], "EU West");
        assert_eq!(info.capabilities, vec!["cpu", "wasm"]);
        assert_eq!(info.region, "eu-west");
        let local = info.local(Some(1));
        assert_eq!(local.node_type, NodeType::Compute);
        assert_eq!(local.tier, Some(1));
    }

    #[test]
    fn only_an_active_node_claims_its_tier() {
        let reg = |standing| StakeStatus::Registered {
            standing,
            stake: 5,
            tier: Some(2),
        };
        assert_eq!(announced_tier(&reg(Standing::Active)), Some(2));
        assert_eq!(announced_tier(&reg(Standing::Suspended)), None);
        assert_eq!(announced_tier(&StakeStatus::Unregistered), None);
        assert_eq!(stake_info(&reg(Standing::Unstaking)).standing, "unstaking");
    }

    #[test]
    fn the_peer_id_is_the_wallet_key() {
        let wallet = Keypair::new();
        let key = node_key(&wallet).unwrap();
        use solana_signer::Signer;
        assert_eq!(key.node_id().0, wallet.pubkey().to_bytes());
    }
}
