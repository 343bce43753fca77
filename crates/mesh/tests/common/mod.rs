//! Shared helpers of the mesh integration tests: nodes on loopback TCP inside the test
//! process (each on its own 127.0.x.y address where prefixes matter), and polling.

#![allow(dead_code)]

use std::{future::Future, sync::Arc, time::Duration};

use cyxwiz_mesh::{
    Announcement, LocalAnnouncement, Mesh, MeshConfig, MeshEvents, NodeKey, NodeType, OnionKeys,
    StakeOracle, admission::AdmissionConfig, config::GossipConfig, diversity::DiversityConfig,
};
use libp2p::{Multiaddr, multiaddr::Protocol};

/// A config for a small test network: reachable (Kademlia server mode), private
/// addresses allowed, no prefix limits, fast gossip, no update rate limit.
pub fn test_config(ip: &str) -> MeshConfig {
    MeshConfig {
        listen: vec![format!("/ip4/{ip}/tcp/0").parse().unwrap()],
        reachable: true,
        private_networks: true,
        discovery_interval: Duration::from_secs(60),
        announce_interval: Duration::from_secs(300),
        record_ttl: Duration::from_secs(600),
        goodbye_timeout: Duration::from_millis(1_000),
        query_timeout: Duration::from_secs(5),
        gossip: GossipConfig {
            mesh_n: 2,
            mesh_n_low: 1,
            mesh_n_high: 4,
            mesh_outbound_min: 0,
            heartbeat: Duration::from_millis(200),
        },
        diversity: DiversityConfig {
            max_share: 1.0,
            min_per_prefix: 64,
            routing_table_target: 64,
        },
        admission: AdmissionConfig {
            min_update_interval: Duration::ZERO,
            ..AdmissionConfig::default()
        },
        ..MeshConfig::default()
    }
}

pub struct TestNode {
    pub key: NodeKey,
    pub mesh: Mesh,
    pub events: MeshEvents,
    /// Listen address with the `/p2p/<peer id>` suffix.
    pub addr: Multiaddr,
}

pub async fn spawn(key: NodeKey, cfg: MeshConfig, oracle: Arc<dyn StakeOracle>) -> TestNode {
    let (mesh, events) = Mesh::spawn(key.clone(), cfg, oracle).await.unwrap();
    let listen = eventually("listening", Duration::from_secs(5), || async {
        mesh.listen_addrs().await.unwrap().into_iter().next()
    })
    .await;
    let addr = listen.with(Protocol::P2p(mesh.peer_id()));
    TestNode {
        key,
        mesh,
        events,
        addr,
    }
}

/// Polls `f` every 50 ms until it returns `Some`, panicking after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A signed record of `key` as raw bytes.
pub fn record(
    key: &NodeKey,
    node_type: NodeType,
    tier: Option<u8>,
    seq: u64,
    issued_at: u64,
) -> Vec<u8> {
    Announcement {
        node_id: key.node_id(),
        node_type,
        tier,
        capabilities: vec!["wasm".into()],
        region: "test".into(),
        onion: OnionKeys {
            epoch: 1,
            keys: vec![[7; 32]],
        },
        addresses: vec![],
        issued_at,
        ttl_secs: 600,
        seq,
    }
    .sign(key)
    .unwrap()
    .encode()
}

pub fn local(node_type: NodeType, tier: Option<u8>, caps: &[&str]) -> LocalAnnouncement {
    let mut capabilities: Vec<String> = caps.iter().map(|s| s.to_string()).collect();
    capabilities.sort();
    LocalAnnouncement {
        node_type,
        tier,
        capabilities,
        region: "test".into(),
        onion: OnionKeys {
            epoch: 3,
            keys: vec![[1; 32], [2; 32]],
        },
        addresses: vec![],
    }
}
