//! Relay v2 and DCUtR in-process on loopback, the part of the NAT path that needs no
//! root: both nodes reserve a slot on the relay, one dials the other through it, and
//! the relayed connection is upgraded to a direct one (on loopback nothing stands in the
//! way; `netns_nat.rs` puts real NATs in between). Checks the `Connection` events that
//! tell the two apart and the relay hop's configured limits.

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use cyxwiz_mesh::{MeshEvent, MeshEvents, NodeKey, StaticOracle, config::RelayConfig};
use libp2p::{Multiaddr, PeerId, multiaddr::Protocol};

/// The next event matching `pred` within `timeout`, skipping others.
async fn next_matching(
    events: &mut MeshEvents,
    what: &str,
    timeout: Duration,
    pred: impl Fn(&MeshEvent) -> bool,
) -> MeshEvent {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(ev)) if pred(&ev) => return ev,
            Ok(Some(_)) => {}
            Ok(None) => panic!("mesh stopped while waiting for {what}"),
            Err(_) => panic!("timed out waiting for {what}"),
        }
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn is_conn(ev: &MeshEvent, to: PeerId, want_relayed: bool) -> bool {
    matches!(ev, MeshEvent::Connection { peer, relayed, .. } if *peer == to && *relayed == want_relayed)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relayed_connection_is_upgraded_to_direct() {
    let oracle = Arc::new(StaticOracle::new());
    // The relay hands its external address to clients in their reservations, so it
    // must know it before it starts: a fixed port, free a moment ago.
    let port = free_port();
    let relay_listen: Multiaddr = format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap();
    let mut rcfg = test_config("127.0.0.1");
    rcfg.listen = vec![relay_listen.clone()];
    rcfg.external_addresses = vec![relay_listen];
    let relay = spawn(NodeKey::generate(), rcfg, oracle.clone()).await;

    let natted = || {
        let mut c = test_config("127.0.0.1");
        c.reachable = false;
        c.relays = vec![relay.addr.clone()];
        // The relay is also the bootstrap peer, as in a small network: its bootstrap
        // dial must not abort the relay client's own dial (and the reservation).
        c.bootstrap = vec![relay.addr.clone()];
        c
    };
    let mut a = spawn(NodeKey::generate(), natted(), oracle.clone()).await;
    let mut b = spawn(NodeKey::generate(), natted(), oracle.clone()).await;
    let relay_id = relay.mesh.peer_id();
    for n in [&mut a, &mut b] {
        next_matching(
            &mut n.events,
            "relay reservation",
            Duration::from_secs(10),
            |ev| matches!(ev, MeshEvent::RelayReservation { relay } if *relay == relay_id),
        )
        .await;
    }

    let b_id = b.mesh.peer_id();
    let circuit = relay
        .addr
        .clone()
        .with(Protocol::P2pCircuit)
        .with(Protocol::P2p(b_id));
    a.mesh.dial(circuit).await.unwrap();
    let first = next_matching(
        &mut a.events,
        "relayed connection",
        Duration::from_secs(10),
        |ev| matches!(ev, MeshEvent::Connection { peer, .. } if *peer == b_id),
    )
    .await;
    assert!(
        is_conn(&first, b_id, true),
        "the first connection runs through the relay: {first:?}"
    );
    if let MeshEvent::Connection { address, .. } = &first {
        assert!(
            address.iter().any(|p| p == Protocol::P2pCircuit),
            "{address}"
        );
    }
    next_matching(
        &mut a.events,
        "direct connection",
        Duration::from_secs(20),
        |ev| is_conn(ev, b_id, false),
    )
    .await;
    let row = eventually(
        "A's peer table shows B direct",
        Duration::from_secs(5),
        || async {
            a.mesh
                .peers()
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.peer_id == b_id.to_string() && !p.relayed)
        },
    )
    .await;
    assert!(row.connections >= 1);
    let stats = b.mesh.stats().await.unwrap();
    assert!(stats.relay_reservations >= 1, "{stats:?}");
}

#[test]
fn relay_limits_outlast_libp2p_defaults_and_parse() {
    let d = RelayConfig::default();
    let lib = libp2p::relay::Config::default();
    assert!(d.max_circuit_duration > lib.max_circuit_duration);
    assert!(d.max_circuit_bytes > lib.max_circuit_bytes);
    let c = d.to_libp2p();
    assert_eq!(c.max_circuit_duration, d.max_circuit_duration);
    assert_eq!(c.max_circuits, d.max_circuits);
    let parsed: cyxwiz_mesh::MeshConfig =
        toml::from_str("[relay_server]\nmax_circuit_duration = 600\nmax_circuit_bytes = 1024\n")
            .unwrap();
    assert_eq!(
        parsed.relay_server.max_circuit_duration,
        Duration::from_secs(600)
    );
    assert_eq!(parsed.relay_server.max_circuit_bytes, 1_024);
    assert_eq!(parsed.relay_server.max_circuits, d.max_circuits);
    // u32 seconds on the wire: longer durations are capped, not a panic in libp2p.
    let huge = RelayConfig {
        max_circuit_duration: Duration::from_secs(u64::MAX / 2),
        ..d
    };
    assert_eq!(
        huge.to_libp2p().max_circuit_duration,
        Duration::from_secs(u64::from(u32::MAX))
    );
}
