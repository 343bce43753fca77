//! In-process swarms on loopback TCP: staked admission over the wire, DHT lookup and
//! capability search across three nodes, goodbye, and the eclipse-resistance limits.

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use cyxwiz_mesh::{
    DropReason, MeshEvent, NodeKey, NodeType, PeerResponse, StakeStatus, Standing, StaticOracle,
    TopologyFormat, diversity::DiversityConfig, type_capability,
};

const WAIT: Duration = Duration::from_secs(10);

fn active(tier: u8) -> StakeStatus {
    StakeStatus::Registered {
        standing: Standing::Active,
        stake: 1_000,
        tier: Some(tier),
    }
}

fn ack_reason(r: PeerResponse) -> Option<String> {
    match r {
        PeerResponse::Ack { accepted: true, .. } => None,
        PeerResponse::Ack { reason, .. } => Some(reason.unwrap_or_default()),
        other => panic!("not an ack: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn announcements_are_admitted_only_with_matching_stake() {
    let staked = NodeKey::generate();
    let suspended = NodeKey::generate();
    let low_tier = NodeKey::generate();
    let unregistered = NodeKey::generate();
    let chain_down = NodeKey::generate();
    let oracle = Arc::new(StaticOracle::new());
    oracle.set_unavailable(chain_down.node_id());
    oracle.set(staked.node_id(), active(1));
    oracle.set(low_tier.node_id(), active(0));
    oracle.set(
        suspended.node_id(),
        StakeStatus::Registered {
            standing: Standing::Suspended,
            stake: 1_000,
            tier: Some(3),
        },
    );

    let a = spawn(
        NodeKey::generate(),
        test_config("127.0.0.1"),
        oracle.clone(),
    )
    .await;
    let mut bcfg = test_config("127.0.0.1");
    bcfg.bootstrap = vec![a.addr.clone()];
    let b = spawn(NodeKey::generate(), bcfg, oracle.clone()).await;
    let a_peer = a.mesh.peer_id();
    eventually("b connected to a", WAIT, || async {
        b.mesh
            .peers()
            .await
            .unwrap()
            .iter()
            .any(|p| p.peer_id == a_peer.to_string())
            .then_some(())
    })
    .await;

    let now = unix_now();
    let push = |bytes: Vec<u8>| {
        let m = b.mesh.clone();
        async move { ack_reason(m.push_announcement(a_peer, bytes).await.unwrap()) }
    };

    // A valid, staked compute record is admitted.
    assert_eq!(
        push(record(&staked, NodeType::Compute, Some(1), 10, now)).await,
        None
    );
    // Forged: a valid record of the staked node with its signature altered.
    let mut forged = record(&staked, NodeType::Compute, Some(1), 11, now);
    let last = forged.len() - 1;
    forged[last] ^= 0x55;
    assert_eq!(push(forged).await.as_deref(), Some("bad_signature"));
    // Signed by another key than the node id it claims.
    let mut impostor = record(&unregistered, NodeType::Compute, Some(1), 12, now);
    impostor[6..38].copy_from_slice(staked.node_id().as_bytes());
    assert_eq!(push(impostor).await.as_deref(), Some("bad_signature"));
    // Not in NodeRegistry.
    assert_eq!(
        push(record(&unregistered, NodeType::Compute, Some(0), 1, now))
            .await
            .as_deref(),
        Some("unregistered")
    );
    // Suspended.
    assert_eq!(
        push(record(&suspended, NodeType::Storage, Some(0), 1, now))
            .await
            .as_deref(),
        Some("suspended")
    );
    // Claims tier 2 with a tier-0 stake.
    assert_eq!(
        push(record(&low_tier, NodeType::Validator, Some(2), 1, now))
            .await
            .as_deref(),
        Some("wrong_tier")
    );
    // Replay of an older record of the admitted node.
    assert_eq!(
        push(record(&staked, NodeType::Compute, Some(1), 9, now))
            .await
            .as_deref(),
        Some("replayed")
    );
    // Past its TTL.
    assert_eq!(
        push(record(&staked, NodeType::Compute, Some(1), 20, now - 601))
            .await
            .as_deref(),
        Some("stale")
    );
    // The chain cannot be asked: dropped, not cached as unregistered.
    assert_eq!(
        push(record(&chain_down, NodeType::Compute, Some(0), 1, now))
            .await
            .as_deref(),
        Some("oracle_unavailable")
    );
    // Larger than the bound (but small enough for the request limit).
    assert_eq!(push(vec![0; 2_100]).await.as_deref(), Some("oversized"));
    // A newer record of the staked node replaces the old one.
    assert_eq!(
        push(record(&staked, NodeType::Compute, Some(1), 30, now)).await,
        None
    );

    // An unstaked relay publishes for real and is admitted through the protocol.
    b.mesh
        .publish_announcement(local(NodeType::Relay, None, &["relay"]))
        .await
        .unwrap();
    let b_node = b.mesh.node_id();
    eventually("a admits b's own announcement", WAIT, || async {
        a.mesh
            .known_nodes()
            .await
            .unwrap()
            .iter()
            .any(|r| r.announcement.node_id == b_node)
            .then_some(())
    })
    .await;

    let stats = a.mesh.stats().await.unwrap();
    let d = &stats.announcements_dropped;
    assert_eq!(d.bad_signature, 2);
    assert_eq!(d.unregistered, 1);
    assert_eq!(d.suspended, 1);
    assert_eq!(d.wrong_tier, 1);
    assert_eq!(d.replayed, 1);
    assert_eq!(d.stale, 1);
    assert_eq!(d.oversized, 1);
    assert_eq!(d.oracle_unavailable, 1);
    assert_eq!(d.get(DropReason::Banned), 0);
    assert!(stats.announcements_accepted >= 3, "{stats:?}");
    let known = a.mesh.known_nodes().await.unwrap();
    let rec = known
        .iter()
        .find(|r| r.announcement.node_id == staked.node_id())
        .unwrap();
    assert_eq!(rec.announcement.seq, 30);
    assert_eq!(rec.stake, Some(active(1)));
    assert!(
        !known
            .iter()
            .any(|r| r.announcement.node_id == unregistered.node_id())
    );

    // The peer table shows b as a relay over TCP with an RTT once pinged.
    let peers = a.mesh.peers().await.unwrap();
    let pb = peers
        .iter()
        .find(|p| p.peer_id == b.mesh.peer_id().to_string())
        .unwrap();
    assert_eq!(pb.node_type, Some(NodeType::Relay));
    assert_eq!(pb.transport.as_str(), "tcp");
    assert!(!pb.relayed);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json["announcements_dropped"]["wrong_tier"], 1);
    assert!(stats.bytes_in > 0 && stats.bytes_out > 0, "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_is_found_by_id_and_by_capability_through_the_dht() {
    let oracle = Arc::new(StaticOracle::new());
    let c_key = NodeKey::generate();
    oracle.set(c_key.node_id(), active(1));

    // b is the hub; c joins through b and publishes; a joins later through b.
    let b = spawn(
        NodeKey::generate(),
        test_config("127.0.0.1"),
        oracle.clone(),
    )
    .await;
    let mut ccfg = test_config("127.0.0.1");
    ccfg.bootstrap = vec![b.addr.clone()];
    let c = spawn(c_key.clone(), ccfg, oracle.clone()).await;
    eventually("c connected to b", WAIT, || async {
        (!c.mesh.peers().await.unwrap().is_empty()).then_some(())
    })
    .await;
    c.mesh
        .publish_announcement(local(NodeType::Compute, Some(1), &["gpu", "wasm"]))
        .await
        .unwrap();
    eventually("b stores c's record and provider keys", WAIT, || async {
        let s = b.mesh.stats().await.unwrap();
        (s.dht_records >= 1 && s.known_nodes >= 1).then_some(())
    })
    .await;

    let mut acfg = test_config("127.0.0.1");
    acfg.bootstrap = vec![b.addr.clone()];
    let a = spawn(NodeKey::generate(), acfg, oracle.clone()).await;
    eventually("a connected to b", WAIT, || async {
        (!a.mesh.peers().await.unwrap().is_empty()).then_some(())
    })
    .await;
    assert!(
        a.mesh.known_nodes().await.unwrap().is_empty(),
        "a must learn c from the DHT, not from gossip"
    );

    let found = a
        .mesh
        .lookup(c_key.node_id())
        .await
        .unwrap()
        .expect("c found by id");
    assert_eq!(found.announcement.node_type, NodeType::Compute);
    assert_eq!(
        found.announcement.capabilities,
        vec!["gpu".to_string(), "wasm".into()]
    );
    assert_eq!(found.announcement.onion.keys.len(), 2);
    assert_eq!(found.peer_id, c.mesh.peer_id().to_string());
    assert_eq!(found.stake, Some(active(1)));
    assert!(!found.announcement.addresses.is_empty());
    // A node nobody announced is not found.
    assert!(
        a.mesh
            .lookup(NodeKey::generate().node_id())
            .await
            .unwrap()
            .is_none()
    );

    let by_cap = a.mesh.find_compute("wasm", 1).await.unwrap();
    assert_eq!(by_cap.len(), 1);
    assert_eq!(by_cap[0].announcement.node_id, c_key.node_id());
    assert!(
        a.mesh.find_compute("wasm", 2).await.unwrap().is_empty(),
        "tier too low"
    );
    assert!(
        a.mesh
            .find_providers("fpga", None)
            .await
            .unwrap()
            .is_empty()
    );
    let by_type = a
        .mesh
        .find_providers(&type_capability(NodeType::Compute), None)
        .await
        .unwrap();
    assert_eq!(by_type.len(), 1);

    // Topology: a sees b, and b's reported neighbours include c.
    let topo = eventually("a learns b's neighbours", WAIT, || async {
        let t = a.mesh.topology().await.unwrap();
        let c_id = c.mesh.peer_id().to_string();
        t.nodes.iter().any(|n| n.peer_id == c_id).then_some(t)
    })
    .await;
    assert!(topo.edges.len() >= 2);
    assert!(
        topo.render(TopologyFormat::Dot)
            .contains(&c.mesh.peer_id().to_string())
    );
    assert!(topo.render(TopologyFormat::Text).contains(" nodes, "));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn goodbye_removes_the_sender_at_once() {
    let oracle = Arc::new(StaticOracle::new());
    let a = spawn(
        NodeKey::generate(),
        test_config("127.0.0.1"),
        oracle.clone(),
    )
    .await;
    let mut bcfg = test_config("127.0.0.1");
    bcfg.bootstrap = vec![a.addr.clone()];
    let b = spawn(NodeKey::generate(), bcfg, oracle.clone()).await;
    b.mesh
        .publish_announcement(local(NodeType::Relay, None, &[]))
        .await
        .unwrap();
    let (b_peer, b_node) = (b.mesh.peer_id(), b.mesh.node_id());
    eventually("a knows b and routes to it", WAIT, || async {
        let known = a
            .mesh
            .known_nodes()
            .await
            .unwrap()
            .iter()
            .any(|r| r.announcement.node_id == b_node);
        let routed = a.mesh.routing_table().await.unwrap().contains(&b_peer);
        (known && routed).then_some(())
    })
    .await;

    let mut a_events = a.events;
    b.mesh.clone().shutdown().await.unwrap();
    // Immediately after shutdown returns, a has dropped b from every table.
    let peers = a.mesh.peers().await.unwrap();
    assert!(!peers.iter().any(|p| p.peer_id == b_peer.to_string()));
    assert!(!a.mesh.routing_table().await.unwrap().contains(&b_peer));
    assert!(
        a.mesh.lookup(b_node).await.unwrap().is_none(),
        "record forgotten"
    );
    let s = a.mesh.stats().await.unwrap();
    assert_eq!(s.goodbyes_received, 1);
    let mut left = false;
    while let Some(ev) = a_events.try_recv() {
        left |= matches!(ev, MeshEvent::PeerLeft { peer } if peer == b_peer);
    }
    assert!(left, "PeerLeft event emitted");
    // The stopped handle refuses further work.
    assert!(b.mesh.peers().await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_prefix_cannot_fill_the_peer_table() {
    let oracle = Arc::new(StaticOracle::new());
    let mut acfg = test_config("127.0.0.1");
    acfg.max_peers = 10;
    // Quota = max(1, floor(0.2 × 10)) = 2 peers per /24.
    acfg.diversity = DiversityConfig {
        max_share: 0.2,
        min_per_prefix: 1,
        routing_table_target: 10,
    };
    let a = spawn(NodeKey::generate(), acfg, oracle.clone()).await;
    // Three peers in 127.0.5.0/24 and one in 127.0.6.0/24.
    let mut same = vec![];
    for ip in ["127.0.5.2", "127.0.5.3", "127.0.5.4"] {
        same.push(spawn(NodeKey::generate(), test_config(ip), oracle.clone()).await);
    }
    let other = spawn(
        NodeKey::generate(),
        test_config("127.0.6.2"),
        oracle.clone(),
    )
    .await;
    for n in same.iter().chain(std::iter::once(&other)) {
        a.mesh.dial(n.addr.clone()).await.unwrap();
    }
    let stats = eventually("one dial denied", WAIT, || async {
        let s = a.mesh.stats().await.unwrap();
        (s.connections_denied >= 1 && s.connected_peers == 3).then_some(s)
    })
    .await;
    let peers = a.mesh.peers().await.unwrap();
    let in_same = peers
        .iter()
        .filter(|p| p.address.contains("/127.0.5."))
        .count();
    assert_eq!(in_same, 2, "{peers:?}");
    assert!(peers.iter().any(|p| p.address.contains("/127.0.6.2/")));
    assert_eq!(stats.peers_per_prefix[0], ("127.0.5.0/24".to_string(), 2));
    // The routing table obeys the same quota.
    let rt = a.mesh.routing_table().await.unwrap();
    let same_ids: Vec<_> = same.iter().map(|n| n.mesh.peer_id()).collect();
    assert!(
        rt.iter().filter(|p| same_ids.contains(p)).count() <= 2,
        "{rt:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_peers_bounds_the_connected_set() {
    let oracle = Arc::new(StaticOracle::new());
    let mut acfg = test_config("127.0.0.1");
    acfg.max_peers = 2;
    let a = spawn(NodeKey::generate(), acfg, oracle.clone()).await;
    let mut others = vec![];
    for _ in 0..3 {
        let mut c = test_config("127.0.0.1");
        c.bootstrap = vec![a.addr.clone()];
        others.push(spawn(NodeKey::generate(), c, oracle.clone()).await);
    }
    eventually("a full, one refused", WAIT, || async {
        let s = a.mesh.stats().await.unwrap();
        (s.connected_peers == 2 && s.connections_denied >= 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(a.mesh.peers().await.unwrap().len(), 2);
}
