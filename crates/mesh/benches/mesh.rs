//! The mesh figures of docs/BENCHMARKS.md ("Mesh (issue 16)"), measured in one run:
//!
//! 1. **Routing tables**: 50 nodes on loopback (in this process) bootstrap from one
//!    peer; the time until every node's Kademlia table holds every peer it has room
//!    for (the ideal table: per bucket, min(k = 20, peers at that distance)).
//! 2. **Propagation**: each node in turn publishes its announcement; the time until
//!    each other node has admitted it (stake check included), p50/p99 per receiver and
//!    per round ("all 49 have it").
//! 3. **Cost per connected peer**: a `cyxwiz-mesh-node` hub process, its resident
//!    memory and CPU time (from /proc) idle with 0, 25, 50 and 100 peers connected.
//!
//! `cargo bench -p cyxwiz-mesh --bench mesh` (env: `CYXWIZ_MESH_NODES`, default 50;
//! `CYXWIZ_MESH_WINDOW` seconds of CPU sampling per level, default 20;
//! `CYXWIZ_MESH_ONLY=routing|cost` runs one part; `CYXWIZ_MESH_DISCOVERY` seconds
//! between discovery rounds, default 30). docs/BENCHMARKS.md ran it with `--profile dev
//! --config 'profile.dev.package.cyxwiz-mesh.opt-level=2'` to reuse the dev build of the
//! dependencies. It prints figures and asserts nothing about time: a slow machine gives
//! slow numbers.

use std::{
    collections::HashMap,
    io::{BufRead, BufReader, Write},
    process::{Command, Stdio},
    sync::Arc,
    time::{Duration, Instant},
};

use cyxwiz_mesh::{
    LocalAnnouncement, Mesh, MeshConfig, MeshEvent, MeshEvents, NodeId, NodeKey, NodeType,
    OnionKeys, StakeStatus, Standing, StaticOracle, admission::AdmissionConfig,
    diversity::DiversityConfig,
};
use libp2p::{Multiaddr, PeerId, kad::KBucketKey, multiaddr::Protocol};
use tokio::sync::mpsc;

const K: usize = 20;
const NODE_BIN: &str = env!("CARGO_BIN_EXE_cyxwiz-mesh-node");

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The production defaults (seed 000: max_peers 50, discovery every 30 s; gossip
/// degree 4, heartbeat 1 s) with two changes a single-machine run needs: the
/// per-/24 quotas are off (every peer is 127.0.0.1) and a node may update its record
/// at once (each node publishes once per run, but the first round follows the join).
fn bench_config(max_peers: usize) -> MeshConfig {
    MeshConfig {
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        reachable: true,
        private_networks: true,
        max_peers,
        // CYXWIZ_MESH_DISCOVERY overrides the seed's 30 s (to see what rounds change).
        discovery_interval: Duration::from_secs(env_usize("CYXWIZ_MESH_DISCOVERY", 30) as u64),
        idle_timeout: Duration::from_secs(600),
        diversity: DiversityConfig {
            max_share: 1.0,
            min_per_prefix: 1_024,
            routing_table_target: 1_024,
        },
        admission: AdmissionConfig {
            min_update_interval: Duration::ZERO,
            ..AdmissionConfig::default()
        },
        ..MeshConfig::default()
    }
}

fn local() -> LocalAnnouncement {
    LocalAnnouncement {
        node_type: NodeType::Compute,
        tier: Some(1),
        capabilities: vec!["wasm".into()],
        region: "bench".into(),
        onion: OnionKeys {
            epoch: 1,
            keys: vec![[9; 32]],
        },
        addresses: vec![],
    }
}

struct BenchNode {
    mesh: Mesh,
    addr: Multiaddr,
}

/// An admission seen by node `at`: whose record, which sequence, when.
struct Admitted {
    at: usize,
    node: NodeId,
    seq: u64,
    when: Instant,
}

async fn spawn(
    key: NodeKey,
    cfg: MeshConfig,
    oracle: Arc<StaticOracle>,
) -> (BenchNode, MeshEvents) {
    let (mesh, events) = Mesh::spawn(key, cfg, oracle).await.expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(5);
    let listen = loop {
        if let Some(a) = mesh.listen_addrs().await.unwrap().into_iter().next() {
            break a;
        }
        assert!(Instant::now() < deadline, "node did not listen");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    let addr = listen.with(Protocol::P2p(mesh.peer_id()));
    (BenchNode { mesh, addr }, events)
}

/// Per node, how many peers its ideal routing table holds: per bucket (log2 of the
/// XOR distance), min(k, other nodes at that distance).
fn ideal_table_sizes(peers: &[PeerId]) -> Vec<usize> {
    peers
        .iter()
        .map(|me| {
            let mk = KBucketKey::from(*me);
            let mut buckets: HashMap<u32, usize> = HashMap::new();
            for other in peers.iter().filter(|p| *p != me) {
                if let Some(b) = mk.distance(&KBucketKey::from(*other)).ilog2() {
                    *buckets.entry(b).or_default() += 1;
                }
            }
            buckets.values().map(|n| (*n).min(K)).sum()
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

async fn routing_and_propagation(n: usize) {
    let oracle = Arc::new(StaticOracle::new());
    let keys: Vec<NodeKey> = (0..n).map(|_| NodeKey::generate()).collect();
    for k in &keys {
        oracle.set(
            k.node_id(),
            StakeStatus::Registered {
                standing: Standing::Active,
                stake: 1_000,
                tier: Some(1),
            },
        );
    }
    let (adm_tx, mut adm_rx) = mpsc::channel::<Admitted>(16_384);
    let collect = |i: usize, mut events: MeshEvents, tx: mpsc::Sender<Admitted>| {
        tokio::spawn(async move {
            while let Some(ev) = events.recv().await {
                if let MeshEvent::NodeAdmitted(rec) = ev {
                    let _ = tx
                        .send(Admitted {
                            at: i,
                            node: rec.announcement.node_id,
                            seq: rec.announcement.seq,
                            when: Instant::now(),
                        })
                        .await;
                }
            }
        });
    };

    let (boot, ev) = spawn(keys[0].clone(), bench_config(50), oracle.clone()).await;
    collect(0, ev, adm_tx.clone());
    let mut nodes = vec![boot];
    let t0 = Instant::now();
    for (i, k) in keys.iter().enumerate().skip(1) {
        let mut cfg = bench_config(50);
        cfg.bootstrap = vec![nodes[0].addr.clone()];
        let (node, ev) = spawn(k.clone(), cfg, oracle.clone()).await;
        collect(i, ev, adm_tx.clone());
        nodes.push(node);
    }
    let spawned = t0.elapsed();
    let peers: Vec<PeerId> = nodes.iter().map(|n| n.mesh.peer_id()).collect();
    let ideal = ideal_table_sizes(&peers);
    let total_ideal: usize = ideal.iter().sum();

    // Poll every table until all are ideal (or 60 s pass).
    let mut t_90 = None;
    let mut t_full = None;
    let mut last = (0, 0);
    // (second, share of ideal entries held, full tables), once per second.
    let mut curve: Vec<(u64, f64, usize)> = vec![];
    while t0.elapsed() < Duration::from_secs(60) {
        let mut held = 0;
        let mut full = 0;
        for (i, node) in nodes.iter().enumerate() {
            let table = node.mesh.routing_table().await.unwrap();
            let h = table.len().min(ideal[i]);
            held += h;
            if h >= ideal[i] {
                full += 1;
            }
        }
        last = (held, full);
        let sec = t0.elapsed().as_secs();
        if curve.last().is_none_or(|(s, _, _)| *s < sec) {
            curve.push((sec, held as f64 / total_ideal as f64, full));
        }
        if t_90.is_none() && held * 10 >= total_ideal * 9 {
            t_90 = Some(t0.elapsed());
        }
        if full == n {
            t_full = Some(t0.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut sizes = vec![];
    for node in &nodes {
        sizes.push(node.mesh.routing_table().await.unwrap().len());
    }
    sizes.sort_unstable();
    let mut conns = vec![];
    for node in &nodes {
        conns.push(node.mesh.peers().await.unwrap().len());
    }
    conns.sort_unstable();
    println!("## Routing tables: {n} nodes from one bootstrap peer");
    println!("spawning the {} joiners took {spawned:.2?}", n - 1);
    println!(
        "ideal table sizes (k = {K}): min {} / median {} / max {}",
        ideal.iter().min().unwrap(),
        {
            let mut v = ideal.clone();
            v.sort_unstable();
            v[v.len() / 2]
        },
        ideal.iter().max().unwrap()
    );
    println!("90 % of all ideal entries held after: {t_90:.2?}");
    let shown: Vec<String> = curve
        .iter()
        .map(|(s, h, f)| format!("{s} s: {:.0} % ({f} full)", h * 100.0))
        .collect();
    println!("fill by second: {}", shown.join(", "));
    match t_full {
        Some(t) => println!("every table ideal after: {t:.2?}"),
        None => println!(
            "not every table ideal within 60 s: {}/{total_ideal} entries held, {}/{n} tables full",
            last.0, last.1
        ),
    }
    println!(
        "table sizes: min {} / median {} / max {}; connected peers: min {} / median {} / max {}",
        sizes[0],
        sizes[n / 2],
        sizes[n - 1],
        conns[0],
        conns[n / 2],
        conns[n - 1]
    );

    // Drain admissions made while joining (nobody has published yet, so none).
    while adm_rx.try_recv().is_ok() {}

    let mut per_receiver = vec![];
    let mut per_round = vec![];
    let mut incomplete = 0;
    for (r, node) in nodes.iter().enumerate() {
        let t_pub = Instant::now();
        let rec = node.mesh.publish_announcement(local()).await.unwrap();
        let (me, seq) = (rec.announcement.node_id, rec.announcement.seq);
        let mut got = vec![None; n];
        got[r] = Some(Duration::ZERO);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while got.iter().any(Option::is_none) {
            match tokio::time::timeout_at(deadline, adm_rx.recv()).await {
                Ok(Some(a)) if a.node == me && a.seq == seq => {
                    got[a.at].get_or_insert(a.when.saturating_duration_since(t_pub));
                }
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        for (i, g) in got.iter().enumerate() {
            if i != r
                && let Some(d) = g
            {
                per_receiver.push(d.as_secs_f64() * 1e3);
            }
        }
        if got.iter().all(Option::is_some) {
            let all = got.iter().flatten().max().unwrap();
            per_round.push(all.as_secs_f64() * 1e3);
        } else {
            incomplete += 1;
        }
    }
    per_receiver.sort_by(|a, b| a.total_cmp(b));
    per_round.sort_by(|a, b| a.total_cmp(b));
    println!("\n## Announcement propagation: {n} rounds, one publisher each");
    println!(
        "per receiver ({} samples): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        per_receiver.len(),
        percentile(&per_receiver, 50.0),
        percentile(&per_receiver, 99.0),
        per_receiver.last().copied().unwrap_or(f64::NAN)
    );
    println!(
        "to all {} others ({} rounds, {incomplete} incomplete within 10 s): p50 {:.1} ms, p99 {:.1} ms",
        n - 1,
        per_round.len(),
        percentile(&per_round, 50.0),
        percentile(&per_round, 99.0),
    );
    for node in nodes {
        let _ = node.mesh.shutdown().await;
    }
}

/// Resident memory (KiB) and CPU seconds of a process, from /proc.
fn usage(pid: u32) -> (u64, f64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let rss = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(')')
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    // utime and stime, in the 100 Hz ticks Linux reports to user space.
    let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
    (rss, ticks as f64 / 100.0)
}

/// The hub's connected-peer count, through its `stats` command.
async fn hub_connected(
    lines: &mut mpsc::Receiver<serde_json::Value>,
    stdin: &mut std::process::ChildStdin,
) -> usize {
    writeln!(stdin, "stats").unwrap();
    stdin.flush().unwrap();
    loop {
        let v = lines.recv().await.expect("hub output");
        if v["reply"] == "stats" {
            return v["stats"]["connected_peers"].as_u64().unwrap() as usize;
        }
    }
}

async fn cost_per_peer(window: Duration) {
    let hub_cfg = serde_json::json!({"mesh": {
        "listen": ["/ip4/127.0.0.1/tcp/0"],
        "reachable": true,
        "private_networks": true,
        "max_peers": 200,
        "idle_timeout": 600,
        "diversity": {"max_share": 1.0, "min_per_prefix": 1024, "routing_table_target": 1024},
    }});
    let mut hub = Command::new(NODE_BIN)
        .arg(hub_cfg.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the hub");
    let pid = hub.id();
    let mut stdin = hub.stdin.take().unwrap();
    let (tx, mut lines) = mpsc::channel::<serde_json::Value>(1_024);
    let stdout = hub.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Ok(v) = serde_json::from_str(&line)
                && tx.blocking_send(v).is_err()
            {
                break;
            }
        }
    });
    let ready = loop {
        let v = lines.recv().await.expect("hub output");
        if v["event"] == "ready" {
            break v;
        }
    };
    let hub_addr: Multiaddr = format!(
        "{}/p2p/{}",
        ready["listen"][0].as_str().unwrap(),
        ready["peer_id"].as_str().unwrap()
    )
    .parse()
    .unwrap();
    let oracle = Arc::new(StaticOracle::new());
    let mut clients = vec![];
    let mut rows = vec![];
    for level in [0usize, 25, 50, 100] {
        while clients.len() < level {
            let mut cfg = bench_config(50);
            cfg.bootstrap = vec![hub_addr.clone()];
            let (node, _events) = spawn(NodeKey::generate(), cfg, oracle.clone()).await;
            clients.push(node);
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut c = hub_connected(&mut lines, &mut stdin).await;
        while c < level && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            c = hub_connected(&mut lines, &mut stdin).await;
        }
        // Let the joins settle (identify, Kademlia bootstrap, gossip grafts).
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (_, cpu0) = usage(pid);
        tokio::time::sleep(window).await;
        let (rss, cpu1) = usage(pid);
        let c = hub_connected(&mut lines, &mut stdin).await;
        rows.push((level, c, rss, (cpu1 - cpu0) / window.as_secs_f64()));
    }
    println!("\n## Cost per connected peer: one hub process, idle peers");
    println!("| peers asked | connected | hub RSS | hub CPU (share of one core) |");
    println!("|---|---|---|---|");
    for (level, c, rss, cpu) in &rows {
        println!(
            "| {level} | {c} | {:.1} MiB | {:.2} % |",
            *rss as f64 / 1024.0,
            cpu * 100.0
        );
    }
    let (_, c0, rss0, cpu0) = rows[0];
    let (_, cn, rssn, cpun) = *rows.last().unwrap();
    let d = cn.saturating_sub(c0).max(1) as f64;
    println!(
        "per connected peer (0 → {cn}): {:.1} KiB RSS, {:.3} % of a core",
        (rssn as f64 - rss0 as f64) / d,
        (cpun - cpu0) * 100.0 / d
    );
    writeln!(stdin, "quit").unwrap();
    drop(stdin);
    let _ = hub.wait();
    for node in clients {
        let _ = node.mesh.shutdown().await;
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    // `cargo bench` passes `--bench`; any other argument is a filter we do not have.
    let n = env_usize("CYXWIZ_MESH_NODES", 50);
    let window = Duration::from_secs(env_usize("CYXWIZ_MESH_WINDOW", 20) as u64);
    let only = std::env::var("CYXWIZ_MESH_ONLY").unwrap_or_default();
    if only.is_empty() || only == "routing" {
        routing_and_propagation(n).await;
    }
    if only.is_empty() || only == "cost" {
        cost_per_peer(window).await;
    }
}
