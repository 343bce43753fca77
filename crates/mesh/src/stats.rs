//! Snapshots for the CLI (`cyxwiz peers`, `cyxwiz network stats`, `cyxwiz network
//! topology`): plain serialisable types, and the renderers of the topology as text,
//! Graphviz DOT and JSON.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    time::{Duration, Instant},
};

use libp2p::{Multiaddr, multiaddr::Protocol};
use serde::Serialize;

use crate::{admission::DropCounts, identity::NodeId, record::NodeType};

/// How a connection is carried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TransportKind {
    Tcp,
    Quic,
    Memory,
    Other,
}

impl TransportKind {
    pub fn of(addr: &Multiaddr) -> Self {
        // The last transport protocol wins: a relayed address names the relay's
        // transport first, and the hop to the relay is what carries the bytes.
        let mut kind = TransportKind::Other;
        for p in addr.iter() {
            kind = match p {
                Protocol::Tcp(_) => TransportKind::Tcp,
                Protocol::QuicV1 | Protocol::Quic => TransportKind::Quic,
                Protocol::Memory(_) => TransportKind::Memory,
                Protocol::P2pCircuit => return kind,
                _ => kind,
            };
        }
        kind
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TransportKind::Tcp => "tcp",
            TransportKind::Quic => "quic",
            TransportKind::Memory => "memory",
            TransportKind::Other => "other",
        }
    }
}

/// One row of `cyxwiz peers`.
#[derive(Debug, Clone, Serialize)]
pub struct PeerInfo {
    pub peer_id: String,
    pub node_id: Option<NodeId>,
    /// From the peer's admitted announcement; `None` until one is admitted.
    pub node_type: Option<NodeType>,
    pub transport: TransportKind,
    pub address: String,
    /// Last libp2p ping round trip.
    pub rtt_ms: Option<f64>,
    /// Whether every connection to the peer goes through a relay.
    pub relayed: bool,
    pub connections: usize,
}

/// Gossip counters and the rates over the last minute.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GossipStats {
    pub received: u64,
    pub published: u64,
    pub rejected: u64,
    pub received_per_min: u64,
    pub published_per_min: u64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct HolePunchStats {
    pub successes: u64,
    pub failures: u64,
}

/// `cyxwiz network stats`.
#[derive(Debug, Clone, Serialize)]
pub struct MeshStats {
    pub peer_id: String,
    pub node_id: NodeId,
    pub uptime_secs: u64,
    pub nat_status: String,
    pub listen_addresses: Vec<String>,
    pub external_addresses: Vec<String>,
    pub connected_peers: usize,
    pub peers_by_type: BTreeMap<String, usize>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dht_routing_entries: usize,
    pub dht_records: usize,
    pub dht_provider_records: usize,
    pub known_nodes: usize,
    pub gossip: GossipStats,
    pub hole_punch: HolePunchStats,
    pub relay_reservations: u64,
    pub announcements_accepted: u64,
    pub announcements_dropped: DropCounts,
    pub goodbyes_sent: u64,
    pub goodbyes_received: u64,
    pub connections_denied: u64,
    pub routing_inserts_denied: u64,
    pub events_dropped: u64,
    /// Connected peers per IP prefix, largest first (eclipse resistance at a glance).
    pub peers_per_prefix: Vec<(String, usize)>,
}

/// A node of the known graph.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopologyNode {
    pub peer_id: String,
    pub node_type: Option<NodeType>,
    pub local: bool,
}

/// An undirected edge: a connection one end reported.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, PartialOrd, Ord)]
pub struct TopologyEdge {
    pub a: String,
    pub b: String,
    /// Known only for the local node's own connections.
    pub relayed: Option<bool>,
}

/// `cyxwiz network topology`: this node's connections plus the neighbour lists its
/// peers reported.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Topology {
    pub local: String,
    pub nodes: Vec<TopologyNode>,
    pub edges: Vec<TopologyEdge>,
}

/// Output formats of [`Topology::render`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopologyFormat {
    Text,
    Dot,
    Json,
}

impl std::str::FromStr for TopologyFormat {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(TopologyFormat::Text),
            "dot" => Ok(TopologyFormat::Dot),
            "json" => Ok(TopologyFormat::Json),
            other => Err(format!(
                "unknown topology format {other:?} (text, dot, json)"
            )),
        }
    }
}

fn short(peer: &str) -> &str {
    // The last characters of a base58 peer id differ between peers; the first ones
    // ("12D3KooW") are the same for every ed25519 key.
    &peer[peer.len().saturating_sub(8)..]
}

impl Topology {
    /// Builds a graph from edges, de-duplicating and normalising direction.
    pub fn build(
        local: String,
        nodes: impl IntoIterator<Item = TopologyNode>,
        edges: impl IntoIterator<Item = TopologyEdge>,
    ) -> Self {
        let mut node_map: BTreeMap<String, TopologyNode> = BTreeMap::new();
        for n in nodes {
            node_map.entry(n.peer_id.clone()).or_insert(n);
        }
        let mut edge_map: BTreeMap<(String, String), Option<bool>> = BTreeMap::new();
        for e in edges {
            if e.a == e.b {
                continue;
            }
            let key = if e.a < e.b { (e.a, e.b) } else { (e.b, e.a) };
            for end in [&key.0, &key.1] {
                node_map.entry(end.clone()).or_insert_with(|| TopologyNode {
                    peer_id: end.clone(),
                    node_type: None,
                    local: *end == local,
                });
            }
            let slot = edge_map.entry(key).or_insert(None);
            if e.relayed.is_some() {
                *slot = e.relayed;
            }
        }
        Topology {
            local,
            nodes: node_map.into_values().collect(),
            edges: edge_map
                .into_iter()
                .map(|((a, b), relayed)| TopologyEdge { a, b, relayed })
                .collect(),
        }
    }

    pub fn render(&self, format: TopologyFormat) -> String {
        match format {
            TopologyFormat::Json => serde_json::to_string_pretty(self).unwrap_or_default(),
            TopologyFormat::Dot => self.to_dot(),
            TopologyFormat::Text => self.to_text(),
        }
    }

    fn label(n: &TopologyNode) -> String {
        let ty = n.node_type.map_or("?", NodeType::as_str);
        format!(
            "{} ({ty}){}",
            short(&n.peer_id),
            if n.local { " *" } else { "" }
        )
    }

    fn to_dot(&self) -> String {
        let mut s = String::from("graph mesh {\n  node [shape=box];\n");
        for n in &self.nodes {
            let _ = writeln!(
                s,
                "  \"{}\" [label=\"{}\"{}];",
                n.peer_id,
                Self::label(n),
                if n.local { ", style=bold" } else { "" }
            );
        }
        for e in &self.edges {
            let style = if e.relayed == Some(true) {
                " [style=dashed]"
            } else {
                ""
            };
            let _ = writeln!(s, "  \"{}\" -- \"{}\"{style};", e.a, e.b);
        }
        s.push_str("}\n");
        s
    }

    fn to_text(&self) -> String {
        let mut adj: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for n in &self.nodes {
            adj.entry(&n.peer_id).or_default();
        }
        for e in &self.edges {
            adj.entry(&e.a).or_default().insert(&e.b);
            adj.entry(&e.b).or_default().insert(&e.a);
        }
        let by_id: BTreeMap<&str, &TopologyNode> =
            self.nodes.iter().map(|n| (n.peer_id.as_str(), n)).collect();
        let mut s = format!(
            "{} nodes, {} edges (* = this node)\n",
            self.nodes.len(),
            self.edges.len()
        );
        for (id, nbrs) in adj {
            let label = by_id
                .get(id)
                .map_or_else(|| short(id).to_string(), |n| Self::label(n));
            let list: Vec<&str> = nbrs.iter().map(|p| short(p)).collect();
            let _ = writeln!(s, "{label:<24} -> {}", list.join(", "));
        }
        s
    }
}

/// Events per second over the last minute, in one-second buckets (bounded memory).
#[derive(Debug)]
pub(crate) struct RateWindow {
    start: Instant,
    buckets: [u64; 60],
    /// The second each bucket holds.
    stamps: [u64; 60],
}

impl RateWindow {
    pub(crate) fn new(start: Instant) -> Self {
        RateWindow {
            start,
            buckets: [0; 60],
            stamps: [u64::MAX; 60],
        }
    }

    fn second(&self, now: Instant) -> u64 {
        now.saturating_duration_since(self.start).as_secs()
    }

    pub(crate) fn record(&mut self, now: Instant) {
        let sec = self.second(now);
        let i = (sec % 60) as usize;
        if self.stamps[i] != sec {
            self.stamps[i] = sec;
            self.buckets[i] = 0;
        }
        self.buckets[i] += 1;
    }

    /// Events in the last 60 seconds.
    pub(crate) fn per_minute(&self, now: Instant) -> u64 {
        let sec = self.second(now);
        self.stamps
            .iter()
            .zip(self.buckets.iter())
            .filter(|(st, _)| **st != u64::MAX && sec.saturating_sub(**st) < 60 && **st <= sec)
            .map(|(_, b)| *b)
            .sum()
    }
}

/// Formats a duration in milliseconds with a fraction.
pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        let node = |id: &str, local| TopologyNode {
            peer_id: id.into(),
            node_type: Some(NodeType::Compute),
            local,
        };
        let edge = |a: &str, b: &str, relayed| TopologyEdge {
            a: a.into(),
            b: b.into(),
            relayed,
        };
        Topology::build(
            "peerAAAAAAAA".into(),
            [node("peerAAAAAAAA", true), node("peerBBBBBBBB", false)],
            [
                edge("peerAAAAAAAA", "peerBBBBBBBB", Some(false)),
                edge("peerBBBBBBBB", "peerAAAAAAAA", None),
                edge("peerBBBBBBBB", "peerCCCCCCCC", None),
                edge("peerCCCCCCCC", "peerAAAAAAAA", Some(true)),
            ],
        )
    }

    #[test]
    fn topology_deduplicates_edges_and_adds_unknown_nodes() {
        let t = topo();
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.edges.len(), 3);
        assert_eq!(t.edges[0].relayed, Some(false), "the local report wins");
    }

    #[test]
    fn topology_renders_text_dot_and_json() {
        let t = topo();
        let text = t.render(TopologyFormat::Text);
        assert!(text.starts_with("3 nodes, 3 edges"));
        assert!(text.contains("AAAAAAAA (compute) *"));
        let dot = t.render(TopologyFormat::Dot);
        assert!(dot.starts_with("graph mesh {"));
        assert!(dot.contains("\"peerAAAAAAAA\" -- \"peerCCCCCCCC\" [style=dashed];"));
        let json: serde_json::Value =
            serde_json::from_str(&t.render(TopologyFormat::Json)).unwrap();
        assert_eq!(json["edges"].as_array().unwrap().len(), 3);
        assert_eq!(
            "dot".parse::<TopologyFormat>().unwrap(),
            TopologyFormat::Dot
        );
    }

    #[test]
    fn transport_kind_reads_the_hop_that_carries_bytes() {
        let a = |s: &str| s.parse::<Multiaddr>().unwrap();
        assert_eq!(
            TransportKind::of(&a("/ip4/1.2.3.4/tcp/1")),
            TransportKind::Tcp
        );
        assert_eq!(
            TransportKind::of(&a("/ip4/1.2.3.4/udp/1/quic-v1")),
            TransportKind::Quic
        );
        assert_eq!(
            TransportKind::of(&a("/ip4/1.2.3.4/udp/1/quic-v1/p2p-circuit")),
            TransportKind::Quic
        );
    }

    #[test]
    fn rate_window_counts_the_last_minute() {
        let t0 = Instant::now();
        let mut w = RateWindow::new(t0);
        w.record(t0);
        w.record(t0 + Duration::from_secs(30));
        assert_eq!(w.per_minute(t0 + Duration::from_secs(30)), 2);
        assert_eq!(w.per_minute(t0 + Duration::from_secs(75)), 1);
        assert_eq!(w.per_minute(t0 + Duration::from_secs(200)), 0);
    }
}
