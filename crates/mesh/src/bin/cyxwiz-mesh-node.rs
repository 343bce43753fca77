//! `cyxwiz-mesh-node`: one mesh node as a process, driven through stdin and stdout. The
//! network-namespace NAT test runs one inside each namespace (`ip netns exec`), the mesh
//! benchmark measures one as a hub, and it is a way to poke at a mesh by hand.
//!
//! ```text
//! cyxwiz-mesh-node '<json>'            # the configuration inline
//! cyxwiz-mesh-node --config <file>     # or from a file
//! ```
//!
//! The configuration (every field optional):
//!
//! ```json
//! { "key_file": "node.json",              // Solana CLI keypair; absent: a fresh key
//!   "mesh": { ... },                      // a MeshConfig, as in the daemon's [network]
//!   "announce": { "node_type": "relay", "tier": null,
//!                 "capabilities": [], "region": "lab" },
//!   "stake": { "<node id>": 1 } }         // the StaticOracle: staked nodes and tiers
//! ```
//!
//! stdout carries one JSON object per line: `{"event": ...}` for mesh events (the first
//! is `ready`, with the peer id, node id and listen addresses) and `{"reply": ...}` for
//! commands. stdin takes one command per line: `dial <multiaddr>`, `probe <peer id>`
//! (a request/response round trip over whatever connection exists), `peers`, `stats`,
//! `known`, `routing`, `quit`. End of input is `quit`: the node says GOODBYE and exits,
//! so a parent that dies takes its nodes with it.

use std::{
    collections::BTreeMap,
    io::{BufRead, Read, Write},
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::Context;
use cyxwiz_mesh::{
    Announcement, LocalAnnouncement, Mesh, MeshConfig, MeshEvent, NodeId, NodeKey, NodeType,
    OnionKeys, PeerResponse, StakeStatus, Standing, StaticOracle,
};
use libp2p::{Multiaddr, PeerId};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

/// Longest stdin line accepted (a multiaddr with a relay circuit is < 300 bytes).
const MAX_LINE: usize = 4_096;
/// Commands waiting to be read by the node at once; stdin blocks beyond it.
const COMMAND_QUEUE: usize = 64;

#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct NodeConfig {
    key_file: Option<std::path::PathBuf>,
    mesh: MeshConfig,
    announce: Option<AnnounceConfig>,
    stake: BTreeMap<String, u8>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnnounceConfig {
    node_type: String,
    #[serde(default)]
    tier: Option<u8>,
    #[serde(default)]
    capabilities: Vec<String>,
    #[serde(default)]
    region: String,
}

fn parse_node_type(s: &str) -> anyhow::Result<NodeType> {
    Ok(match s {
        "relay" => NodeType::Relay,
        "compute" => NodeType::Compute,
        "storage" => NodeType::Storage,
        "validator" => NodeType::Validator,
        other => anyhow::bail!("unknown node type {other:?}"),
    })
}

impl AnnounceConfig {
    fn local(&self) -> anyhow::Result<LocalAnnouncement> {
        let mut capabilities = self.capabilities.clone();
        capabilities.sort();
        Ok(LocalAnnouncement {
            node_type: parse_node_type(&self.node_type)?,
            tier: self.tier,
            capabilities,
            region: self.region.clone(),
            onion: OnionKeys::default(),
            addresses: vec![],
        })
    }
}

/// One line to stdout. Lines are written whole under the lock, so tasks never interleave.
fn out(v: Value) {
    let mut o = std::io::stdout().lock();
    // A closed stdout means the parent is gone; stdin's end follows and stops the node.
    let _ = writeln!(o, "{v}");
    let _ = o.flush();
}

fn read_key(path: &std::path::Path) -> anyhow::Result<NodeKey> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the key file {}", path.display()))?;
    let mut bytes: Vec<u8> = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a Solana CLI keypair file", path.display()))?;
    Ok(NodeKey::from_solana_keypair_bytes(&mut bytes)?)
}

fn event_json(ev: MeshEvent) -> Value {
    match ev {
        MeshEvent::Listening(a) => json!({"event": "listening", "address": a.to_string()}),
        MeshEvent::PeerConnected { peer } => {
            json!({"event": "peer_connected", "peer": peer.to_string()})
        }
        MeshEvent::Connection {
            peer,
            address,
            relayed,
        } => json!({
            "event": "connection",
            "peer": peer.to_string(),
            "address": address.to_string(),
            "relayed": relayed,
        }),
        MeshEvent::PeerDisconnected { peer } => {
            json!({"event": "peer_disconnected", "peer": peer.to_string()})
        }
        MeshEvent::PeerLeft { peer } => json!({"event": "peer_left", "peer": peer.to_string()}),
        MeshEvent::NodeAdmitted(rec) => json!({"event": "node_admitted", "record": *rec}),
        MeshEvent::AnnouncementDropped { from, reason } => json!({
            "event": "announcement_dropped",
            "from": from.map(|p| p.to_string()),
            "reason": reason.to_string(),
        }),
        MeshEvent::NatStatus(s) => json!({"event": "nat_status", "status": s}),
        MeshEvent::HolePunch { peer, success } => {
            json!({"event": "hole_punch", "peer": peer.to_string(), "success": success})
        }
        MeshEvent::RelayReservation { relay } => {
            json!({"event": "relay_reservation", "relay": relay.to_string()})
        }
        #[allow(unreachable_patterns)] // events added later print as their debug form
        other => json!({"event": "other", "debug": format!("{other:?}")}),
    }
}

/// A freshly signed announcement of this node, for `probe`: the receiver answers with
/// an ACK whatever it decides, so the round trip proves the connection carries requests.
fn probe_record(key: &NodeKey, local: &LocalAnnouncement, seq: u64) -> anyhow::Result<Vec<u8>> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let signed = Announcement {
        node_id: key.node_id(),
        node_type: local.node_type,
        tier: local.tier,
        capabilities: local.capabilities.clone(),
        region: local.region.clone(),
        onion: local.onion.clone(),
        addresses: vec![],
        issued_at: now,
        ttl_secs: 600,
        seq,
    }
    .sign(key)?;
    Ok(signed.encode())
}

async fn command(mesh: Mesh, key: Arc<NodeKey>, local: Arc<LocalAnnouncement>, line: String) {
    let mut words = line.split_whitespace();
    let verb = words.next().unwrap_or("");
    let arg = words.next();
    let reply = match (verb, arg) {
        ("dial", Some(a)) => match a.parse::<Multiaddr>() {
            Ok(addr) => match mesh.dial(addr).await {
                Ok(()) => json!({"reply": "dial", "ok": true}),
                Err(e) => json!({"reply": "dial", "ok": false, "error": e.to_string()}),
            },
            Err(e) => json!({"reply": "dial", "ok": false, "error": e.to_string()}),
        },
        ("probe", Some(p)) => {
            let seq = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(1);
            match (p.parse::<PeerId>(), probe_record(&key, &local, seq)) {
                (Ok(peer), Ok(bytes)) => {
                    let t0 = Instant::now();
                    match mesh.push_announcement(peer, bytes).await {
                        Ok(PeerResponse::Ack { accepted, reason }) => json!({
                            "reply": "probe", "peer": p, "ok": true, "accepted": accepted,
                            "reason": reason,
                            "rtt_ms": t0.elapsed().as_secs_f64() * 1e3,
                        }),
                        Ok(other) => json!({
                            "reply": "probe", "peer": p, "ok": false,
                            "error": format!("unexpected answer {other:?}"),
                        }),
                        Err(e) => json!({
                            "reply": "probe", "peer": p, "ok": false, "error": e.to_string(),
                        }),
                    }
                }
                (Err(e), _) => json!({"reply": "probe", "ok": false, "error": e.to_string()}),
                (_, Err(e)) => json!({"reply": "probe", "ok": false, "error": e.to_string()}),
            }
        }
        ("peers", None) => match mesh.peers().await {
            Ok(p) => json!({"reply": "peers", "peers": p}),
            Err(e) => json!({"reply": "peers", "error": e.to_string()}),
        },
        ("stats", None) => match mesh.stats().await {
            Ok(s) => json!({"reply": "stats", "stats": s, "process": process_usage()}),
            Err(e) => json!({"reply": "stats", "error": e.to_string()}),
        },
        ("known", None) => match mesh.known_nodes().await {
            Ok(n) => json!({"reply": "known", "nodes": n}),
            Err(e) => json!({"reply": "known", "error": e.to_string()}),
        },
        ("routing", None) => match mesh.routing_table().await {
            Ok(p) => json!({
                "reply": "routing",
                "peers": p.iter().map(|p| p.to_string()).collect::<Vec<_>>(),
            }),
            Err(e) => json!({"reply": "routing", "error": e.to_string()}),
        },
        _ => json!({"reply": "error", "error": format!("unknown command {line:?}")}),
    };
    out(reply);
}

/// This process's resident memory and CPU time, from /proc (Linux; `null` elsewhere),
/// for the per-peer cost figures.
fn process_usage() -> Value {
    let rss_kib = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        });
    // Fields 14 and 15 of /proc/self/stat (after the parenthesised name) are user and
    // system time in clock ticks; Linux reports them at 100 Hz to user space.
    let cpu_secs = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let utime: u64 = f.get(11)?.parse().ok()?;
            let stime: u64 = f.get(12)?.parse().ok()?;
            Some((utime + stime) as f64 / 100.0)
        });
    json!({"rss_kib": rss_kib, "cpu_secs": cpu_secs})
}

fn load_config() -> anyhow::Result<NodeConfig> {
    let mut args = std::env::args().skip(1);
    let text = match (args.next(), args.next()) {
        (Some(flag), Some(path)) if flag == "--config" => std::fs::read_to_string(&path)
            .with_context(|| format!("reading the configuration {path}"))?,
        (Some(inline), None) if inline != "--config" => inline,
        (None, None) => "{}".to_string(),
        _ => anyhow::bail!("usage: cyxwiz-mesh-node ['<json>' | --config <file>]"),
    };
    serde_json::from_str(&text).context("parsing the node configuration")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .init();
    let cfg = load_config()?;
    let key = match &cfg.key_file {
        Some(p) => read_key(p)?,
        None => NodeKey::generate(),
    };
    let oracle = Arc::new(StaticOracle::new());
    for (node, tier) in &cfg.stake {
        let id: NodeId = node
            .parse()
            .map_err(|e| anyhow::anyhow!("stake table: node id {node:?}: {e}"))?;
        oracle.set(
            id,
            StakeStatus::Registered {
                standing: Standing::Active,
                stake: 1,
                tier: Some(*tier),
            },
        );
    }
    let local = match &cfg.announce {
        Some(a) => a.local()?,
        None => AnnounceConfig {
            node_type: "relay".into(),
            tier: None,
            capabilities: vec![],
            region: String::new(),
        }
        .local()?,
    };
    let announce = cfg.announce.is_some();
    let (mesh, mut events) = Mesh::spawn(key.clone(), cfg.mesh, oracle).await?;

    // Listeners bind asynchronously; report the resolved addresses once there are any.
    let deadline = Instant::now() + Duration::from_secs(5);
    let listen = loop {
        let addrs = mesh.listen_addrs().await?;
        if !addrs.is_empty() || Instant::now() > deadline {
            break addrs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    out(json!({
        "event": "ready",
        "peer_id": mesh.peer_id().to_string(),
        "node_id": mesh.node_id().to_string(),
        "listen": listen.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
        "pid": std::process::id(),
    }));
    if announce {
        match mesh.publish_announcement(local.clone()).await {
            Ok(rec) => out(json!({"event": "published", "record": rec})),
            Err(e) => out(json!({"event": "publish_failed", "error": e.to_string()})),
        }
    }

    // stdin is read on a plain thread (blocking reads), forwarded over a bounded queue.
    let (tx, mut lines) = mpsc::channel::<String>(COMMAND_QUEUE);
    std::thread::spawn(move || {
        let mut input = std::io::stdin().lock();
        let mut buf = Vec::with_capacity(256);
        // Reads at most MAX_LINE bytes at a time, so a runaway line cannot grow memory.
        let mut read = |buf: &mut Vec<u8>| {
            buf.clear();
            (&mut input)
                .take(MAX_LINE as u64)
                .read_until(b'\n', buf)
                .unwrap_or(0)
        };
        loop {
            if read(&mut buf) == 0 {
                break; // end of input (or a read error): quit
            }
            let line = if buf.last() == Some(&b'\n') || buf.len() < MAX_LINE {
                String::from_utf8_lossy(&buf).into_owned()
            } else {
                // Longer than MAX_LINE: skip the rest of it and say so.
                while read(&mut buf) > 0 && buf.last() != Some(&b'\n') {}
                "line-too-long".to_string()
            };
            if tx.blocking_send(line).is_err() {
                break;
            }
        }
    });

    let key = Arc::new(key);
    let local = Arc::new(local);
    loop {
        tokio::select! {
            ev = events.recv() => match ev {
                Some(ev) => out(event_json(ev)),
                None => break,
            },
            line = lines.recv() => {
                let line = line.unwrap_or_else(|| "quit".into());
                let line = line.trim().to_string();
                if line.is_empty() {
                    continue;
                }
                if line == "quit" {
                    mesh.clone().shutdown().await?;
                    out(json!({"reply": "quit"}));
                    return Ok(());
                }
                // Commands run beside the event loop, so a slow one (a probe waiting on
                // its timeout) does not hold events back.
                tokio::spawn(command(mesh.clone(), key.clone(), local.clone(), line));
            }
        }
    }
    Ok(())
}
