//! NAT traversal across Linux network namespaces: a public relay and two nodes, each
//! behind its own NAT router, every node a separate `cyxwiz-mesh-node` process started
//! with `ip netns exec`.
//!
//! ```text
//!  hosta 10.1.0.2 ── lan│nata│wan 172.31.1.2 ──┐
//!                                              inet: relay on 172.31.0.1 (lo), routes
//!  hostb 10.2.0.2 ── lan│natb│wan 172.31.2.2 ──┘      172.31.1.0/24 and 172.31.2.0/24
//! ```
//!
//! Each router masquerades its LAN behind its WAN address with nftables and, like a home
//! router, drops unsolicited inbound packets (without that, its kernel answers a punch
//! that arrives early with a RST or ICMP error and kills the attempt). Two NAT kinds:
//!
//! * `Cone`: plain `masquerade`. Linux keeps the source port when it is free, so the
//!   mapping is endpoint-independent (the port the relay observes is the port the other
//!   node must aim at); filtering is address-and-port-dependent.
//! * `Symmetric`: `masquerade fully-random`: every new destination gets a random port
//!   (address-dependent mapping), so the observed address is useless to the other side.
//!
//! The tests show a relay reservation on both sides, a relayed connection, its DCUtR
//! upgrade to a direct connection behind cone NATs, and behind a symmetric NAT the
//! failed punch with the relayed connection kept and still carrying requests. The
//! namespaces are created and deleted by the test (also when it panics); only addresses
//! inside them are used. Without root, `ip` or `nft` the tests print why and pass,
//! unless `CYXWIZ_REQUIRE_NETNS=1` (CI), where that is a failure.
//!
//! `nat_matrix` (ignored by default) repeats every NAT pairing over TCP and QUIC and
//! prints the outcome table of docs/BENCHMARKS.md:
//! `cargo test -p cyxwiz-mesh --test netns_nat -- --ignored --nocapture nat_matrix`.

use std::{
    io::{BufRead, BufReader, Write},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc::{Receiver, RecvTimeoutError, sync_channel},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const NODE_BIN: &str = env!("CARGO_BIN_EXE_cyxwiz-mesh-node");
/// Namespace names start with this, then the test process id (stale ones are swept).
const PREFIX: &str = "cxwt-";
const RELAY_IP: &str = "172.31.0.1";
const PORT: u16 = 4001;
/// Most lines a node may have queued unread before its reader thread waits.
const LINE_QUEUE: usize = 4_096;

static LAB_SEQ: AtomicUsize = AtomicUsize::new(0);

// ── Preconditions ───────────────────────────────────────────────────────────────

fn netns_unavailable() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(str::to_string))
        });
    if uid.as_deref() != Some("0") {
        return Some(format!(
            "not root (effective uid {})",
            uid.unwrap_or_default()
        ));
    }
    for (tool, arg) in [("ip", "-V"), ("nft", "--version")] {
        match Command::new(tool).arg(arg).output() {
            Ok(o) if o.status.success() => {}
            _ => {
                return Some(format!(
                    "`{tool}` is missing (apt-get install iproute2 nftables)"
                ));
            }
        }
    }
    None
}

/// Whether to run: skips with the reason printed, or fails under CYXWIZ_REQUIRE_NETNS=1.
fn lab_available() -> bool {
    match netns_unavailable() {
        None => true,
        Some(reason) if std::env::var("CYXWIZ_REQUIRE_NETNS").as_deref() == Ok("1") => {
            panic!("CYXWIZ_REQUIRE_NETNS=1 but the namespace lab cannot run: {reason}")
        }
        Some(reason) => {
            eprintln!("skipping the network-namespace NAT test: {reason}");
            false
        }
    }
}

fn run(args: &[&str]) {
    let o = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        o.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

fn run_stdin(args: &[&str], input: &str) {
    let mut c = Command::new(args[0])
        .args(&args[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    c.stdin
        .take()
        .expect("piped")
        .write_all(input.as_bytes())
        .unwrap();
    let o = c.wait_with_output().unwrap();
    assert!(
        o.status.success(),
        "{args:?} failed: {}\n{input}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ── The lab ─────────────────────────────────────────────────────────────────────

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Nat {
    Cone,
    Symmetric,
}

impl Nat {
    fn name(self) -> &'static str {
        match self {
            Nat::Cone => "endpoint-independent (cone)",
            Nat::Symmetric => "address-dependent (symmetric)",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tcp,
    Quic,
}

impl Transport {
    fn suffix(self) -> String {
        match self {
            Transport::Tcp => format!("tcp/{PORT}"),
            Transport::Quic => format!("udp/{PORT}/quic-v1"),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::Tcp => "TCP",
            Transport::Quic => "QUIC",
        }
    }
}

/// The namespaces of one run; deleted on drop (after the nodes, which die first).
struct Lab {
    names: Vec<String>,
    tag: String,
}

fn pid_alive(pid: &str) -> bool {
    std::path::Path::new("/proc").join(pid).exists()
}

/// Deletes namespaces a killed earlier run left behind (only ours: prefix and a dead pid).
fn sweep_stale() {
    let Ok(o) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if let Some(rest) = name.strip_prefix(PREFIX)
            && let Some(pid) = rest.split('-').next()
            && !pid_alive(pid)
        {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

impl Lab {
    fn new(nat_a: Nat, nat_b: Nat) -> Lab {
        sweep_stale();
        let tag = format!(
            "{PREFIX}{}-{}",
            std::process::id(),
            LAB_SEQ.fetch_add(1, Ordering::Relaxed)
        );
        let mut lab = Lab {
            names: vec![],
            tag: tag.clone(),
        };
        let ns = |role: &str| format!("{tag}-{role}");
        for role in ["inet", "nata", "natb", "hosta", "hostb"] {
            run(&["ip", "netns", "add", &ns(role)]);
            lab.names.push(ns(role));
            run(&["ip", "-n", &ns(role), "link", "set", "lo", "up"]);
        }
        let inet = ns("inet");
        run(&[
            "ip",
            "-n",
            &inet,
            "addr",
            "add",
            &format!("{RELAY_IP}/32"),
            "dev",
            "lo",
        ]);
        for (side, nat) in [("a", nat_a), ("b", nat_b)] {
            let (router, host) = (ns(&format!("nat{side}")), ns(&format!("host{side}")));
            let n = if side == "a" { 1 } else { 2 };
            // The veth ends are created directly inside their namespaces: nothing
            // appears in the root namespace, so nothing there can collide or leak.
            run(&[
                "ip",
                "link",
                "add",
                "wan",
                "netns",
                &router,
                "type",
                "veth",
                "peer",
                "name",
                &format!("to{side}"),
                "netns",
                &inet,
            ]);
            run(&[
                "ip", "link", "add", "lan", "netns", &router, "type", "veth", "peer", "name",
                "eth0", "netns", &host,
            ]);
            let addrs = [
                (&inet, format!("to{side}"), format!("172.31.{n}.1/24")),
                (&router, "wan".to_string(), format!("172.31.{n}.2/24")),
                (&router, "lan".to_string(), format!("10.{n}.0.1/24")),
                (&host, "eth0".to_string(), format!("10.{n}.0.2/24")),
            ];
            for (netns, dev, addr) in &addrs {
                run(&["ip", "-n", netns, "addr", "add", addr, "dev", dev]);
                run(&["ip", "-n", netns, "link", "set", dev, "up"]);
            }
            run(&[
                "ip",
                "-n",
                &host,
                "route",
                "add",
                "default",
                "via",
                &format!("10.{n}.0.1"),
            ]);
            run(&[
                "ip",
                "-n",
                &router,
                "route",
                "add",
                "default",
                "via",
                &format!("172.31.{n}.1"),
            ]);
            run(&[
                "ip",
                "netns",
                "exec",
                &router,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ]);
            let masq = match nat {
                Nat::Cone => "masquerade",
                Nat::Symmetric => "masquerade fully-random",
            };
            let rules = format!(
                "table ip nat {{
                   chain postrouting {{
                     type nat hook postrouting priority srcnat; policy accept;
                     oifname \"wan\" {masq}
                   }}
                 }}
                 table inet filter {{
                   chain input {{
                     type filter hook input priority filter; policy accept;
                     iifname \"wan\" ct state established,related accept
                     iifname \"wan\" drop
                   }}
                   chain forward {{
                     type filter hook forward priority filter; policy drop;
                     iifname \"lan\" oifname \"wan\" accept
                     iifname \"wan\" oifname \"lan\" ct state established,related accept
                   }}
                 }}"
            );
            run_stdin(&["ip", "netns", "exec", &router, "nft", "-f", "-"], &rules);
        }
        run(&[
            "ip",
            "netns",
            "exec",
            &inet,
            "sysctl",
            "-qw",
            "net.ipv4.ip_forward=1",
        ]);
        lab
    }

    fn ns(&self, role: &str) -> String {
        format!("{}-{role}", self.tag)
    }

    fn spawn(&self, role: &str, config: Value) -> Node {
        let log = std::env::temp_dir().join(format!("{}-{role}.log", self.tag));
        let stderr = std::fs::File::create(&log).unwrap();
        let mut child = Command::new("ip")
            .args(["netns", "exec"])
            .arg(self.ns(role))
            .arg(NODE_BIN)
            .arg(config.to_string())
            .env(
                "RUST_LOG",
                std::env::var("CYXWIZ_NETNS_LOG")
                    .unwrap_or_else(|_| "warn,libp2p_dcutr=debug".into()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("start cyxwiz-mesh-node");
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = sync_channel(LINE_QUEUE);
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v: Value = serde_json::from_str(&line)
                    .unwrap_or_else(|_| json!({"event": "unparsed", "line": line}));
                if tx.send((Instant::now(), v)).is_err() {
                    break;
                }
            }
        });
        let stdin = child.stdin.take().expect("piped");
        let mut node = Node {
            role: role.to_string(),
            child,
            stdin,
            lines: rx,
            seen: vec![],
            log,
            peer_id: String::new(),
        };
        let ready = node.wait_for("ready", Duration::from_secs(15), |v| v["event"] == "ready");
        node.peer_id = ready["peer_id"].as_str().unwrap().to_string();
        node
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for n in self.names.iter().rev() {
            let _ = Command::new("ip").args(["netns", "del"]).arg(n).status();
        }
    }
}

// ── A node process ──────────────────────────────────────────────────────────────

struct Node {
    role: String,
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<(Instant, Value)>,
    /// Every line read so far, with when it was read.
    seen: Vec<(Instant, Value)>,
    log: std::path::PathBuf,
    peer_id: String,
}

impl Node {
    /// The first line (already seen or arriving within `timeout`) matching `pred`.
    fn try_wait_for(
        &mut self,
        timeout: Duration,
        pred: impl Fn(&Value) -> bool,
    ) -> Option<(Instant, Value)> {
        if let Some(hit) = self.seen.iter().find(|(_, v)| pred(v)) {
            return Some(hit.clone());
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    self.seen.push(line.clone());
                    if pred(&line.1) {
                        return Some(line);
                    }
                }
                Err(RecvTimeoutError::Timeout) => return None,
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("{} exited; its log:\n{}", self.role, self.log_tail())
                }
            }
        }
    }

    fn wait_for(&mut self, what: &str, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Value {
        match self.try_wait_for(timeout, pred) {
            Some((_, v)) => v,
            None => panic!(
                "{}: no {what} within {timeout:?}; lines so far: {:#?}\nlog:\n{}",
                self.role,
                self.seen.iter().map(|(_, v)| v).collect::<Vec<_>>(),
                self.log_tail()
            ),
        }
    }

    /// Sends a command and waits for its reply (only replies read after the send count).
    fn command(&mut self, line: &str, timeout: Duration) -> Value {
        let verb = line.split_whitespace().next().unwrap_or("").to_string();
        let mark = self.seen.len();
        writeln!(self.stdin, "{line}").expect("node stdin");
        self.stdin.flush().unwrap();
        let deadline = Instant::now() + timeout;
        loop {
            if let Some((_, v)) = self.seen[mark..].iter().find(|(_, v)| v["reply"] == verb) {
                return v.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(l) => self.seen.push(l),
                Err(_) => panic!("{}: no reply to {line:?}:\n{}", self.role, self.log_tail()),
            }
        }
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // Our own child, by its handle: `ip netns exec` execs the node in place.
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() && std::env::var_os("CYXWIZ_NETNS_KEEP_LOGS").is_none() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

// ── One hole-punch attempt ──────────────────────────────────────────────────────

fn relay_config(t: Transport) -> Value {
    json!({"mesh": {
        "listen": [format!("/ip4/0.0.0.0/{}", t.suffix())],
        // The relay's public address is known by configuration; the relay protocol
        // hands it to clients in their reservations.
        "external_addresses": [format!("/ip4/{RELAY_IP}/{}", t.suffix())],
        "reachable": true,
        "private_networks": true,
        "idle_timeout": 300,
    }})
}

fn natted_config(t: Transport, relay: &str) -> Value {
    json!({
        "mesh": {
            "listen": [format!("/ip4/0.0.0.0/{}", t.suffix())],
            "bootstrap": [relay],
            "relays": [relay],
            "reachable": false,
            "private_networks": true,
            "idle_timeout": 300,
        },
        "announce": {"node_type": "relay", "region": "netns"},
    })
}

#[derive(Debug)]
struct Outcome {
    /// A's view of its connection to B once the punch settled.
    direct: bool,
    /// Relayed connection → direct connection, at A.
    upgrade: Option<Duration>,
    /// A request/response from A to B succeeded at the end.
    reachable: bool,
    probe_rtt_ms: Option<f64>,
    /// B reported a failed hole punch.
    punch_failed: bool,
}

fn is_conn(v: &Value, peer: &str, relayed: bool) -> bool {
    v["event"] == "connection" && v["peer"] == peer && v["relayed"] == relayed
}

/// Relay in `inet`, A behind `nat_a`, B behind `nat_b`; A dials B through the relay and
/// DCUtR does the rest.
fn attempt(nat_a: Nat, nat_b: Nat, t: Transport) -> Outcome {
    let lab = Lab::new(nat_a, nat_b);
    let mut relay = lab.spawn("inet", relay_config(t));
    let relay_addr = format!("/ip4/{RELAY_IP}/{}/p2p/{}", t.suffix(), relay.peer_id);
    let mut a = lab.spawn("hosta", natted_config(t, &relay_addr));
    let mut b = lab.spawn("hostb", natted_config(t, &relay_addr));
    let (a_id, b_id) = (a.peer_id.clone(), b.peer_id.clone());

    // Both reserve a slot on the relay (the relay sees them at their routers' WAN
    // addresses, as it would on the internet).
    for n in [&mut a, &mut b] {
        let r = n.wait_for("relay reservation", Duration::from_secs(30), |v| {
            v["event"] == "relay_reservation"
        });
        assert_eq!(r["relay"], relay.peer_id.as_str());
    }
    let from_a = relay.wait_for("a's connection", Duration::from_secs(5), |v| {
        v["event"] == "connection" && v["peer"] == a_id.as_str()
    });
    assert!(
        from_a["address"]
            .as_str()
            .unwrap()
            .starts_with("/ip4/172.31.1.2/"),
        "the relay sees A behind its NAT: {from_a}"
    );

    // A dials B through the relay: the relayed connection comes first.
    let circuit = format!("{relay_addr}/p2p-circuit/p2p/{b_id}");
    let r = a.command(&format!("dial {circuit}"), Duration::from_secs(5));
    assert_eq!(r["ok"], true, "{r}");
    let (relayed_at, _) = a
        .try_wait_for(Duration::from_secs(20), |v| is_conn(v, &b_id, true))
        .unwrap_or_else(|| panic!("no relayed connection A→B:\n{}", a.log_tail()));
    b.wait_for("relayed connection from A", Duration::from_secs(5), |v| {
        is_conn(v, &a_id, true)
    });

    // Then DCUtR: a direct connection, or (B's side) a reported failure after its
    // three attempts.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut direct_at = None;
    let mut punch_failed = false;
    while Instant::now() < deadline && direct_at.is_none() && !punch_failed {
        if let Some((at, _)) =
            a.try_wait_for(Duration::from_millis(200), |v| is_conn(v, &b_id, false))
        {
            direct_at = Some(at);
        }
        punch_failed = b
            .try_wait_for(Duration::from_millis(200), |v| {
                v["event"] == "hole_punch" && v["success"] == false
            })
            .is_some();
    }
    if punch_failed {
        // Give a late direct connection a chance to show before calling it relayed.
        if let Some((at, _)) = a.try_wait_for(Duration::from_secs(2), |v| is_conn(v, &b_id, false))
        {
            direct_at = Some(at);
        }
    }

    // Whatever the punch did, A still reaches B.
    let probe = a.command(&format!("probe {b_id}"), Duration::from_secs(15));
    let peers = a.command("peers", Duration::from_secs(5));
    let row = peers["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["peer_id"] == b_id.as_str())
        .cloned();
    let direct_now = row.as_ref().is_some_and(|r| r["relayed"] == false);
    assert_eq!(
        direct_now,
        direct_at.is_some(),
        "A's peer table agrees with the connection events: {row:?}"
    );
    Outcome {
        direct: direct_now,
        upgrade: direct_at.map(|d| d.saturating_duration_since(relayed_at)),
        reachable: probe["ok"] == true,
        probe_rtt_ms: probe["rtt_ms"].as_f64(),
        punch_failed,
    }
}

// ── Tests ───────────────────────────────────────────────────────────────────────

#[test]
fn cone_nats_upgrade_the_relayed_connection_to_direct() {
    if !lab_available() {
        return;
    }
    let o = attempt(Nat::Cone, Nat::Cone, Transport::Tcp);
    println!("cone/cone over TCP: {o:?}");
    assert!(o.direct, "DCUtR should punch through two cone NATs: {o:?}");
    assert!(!o.punch_failed, "{o:?}");
    assert!(o.reachable, "{o:?}");
}

#[test]
fn cone_nats_upgrade_over_quic() {
    if !lab_available() {
        return;
    }
    let o = attempt(Nat::Cone, Nat::Cone, Transport::Quic);
    println!("cone/cone over QUIC: {o:?}");
    assert!(o.direct, "DCUtR should punch through two cone NATs: {o:?}");
    assert!(o.reachable, "{o:?}");
}

#[test]
fn a_symmetric_nat_falls_back_to_the_relay() {
    if !lab_available() {
        return;
    }
    let o = attempt(Nat::Cone, Nat::Symmetric, Transport::Tcp);
    println!("cone/symmetric over TCP: {o:?}");
    assert!(
        !o.direct,
        "no direct path exists through a symmetric NAT: {o:?}"
    );
    assert!(o.punch_failed, "B reports the failed hole punch: {o:?}");
    assert!(
        o.reachable,
        "the relayed connection still carries requests: {o:?}"
    );
}

/// Every NAT pairing over TCP and QUIC, `CYXWIZ_NAT_REPS` times (default 3): the
/// outcome table of docs/BENCHMARKS.md. Pairings run in parallel (separate labs).
#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn nat_matrix() {
    if !lab_available() {
        return;
    }
    let reps: usize = std::env::var("CYXWIZ_NAT_REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let pairs = [
        (Nat::Cone, Nat::Cone),
        (Nat::Cone, Nat::Symmetric),
        (Nat::Symmetric, Nat::Cone),
        (Nat::Symmetric, Nat::Symmetric),
    ];
    let mut handles = vec![];
    for t in [Transport::Tcp, Transport::Quic] {
        for (na, nb) in pairs {
            handles.push(std::thread::spawn(move || {
                let outcomes: Vec<Outcome> = (0..reps).map(|_| attempt(na, nb, t)).collect();
                (t, na, nb, outcomes)
            }));
        }
    }
    println!(
        "\n| transport | A's NAT | B's NAT | runs | direct | relayed | unreachable | upgrade time (median) | probe RTT (median) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let (mut total, mut connected) = (0, 0);
    for h in handles {
        let (t, na, nb, outcomes) = h.join().expect("a pairing panicked");
        let n = outcomes.len();
        let direct = outcomes.iter().filter(|o| o.direct && o.reachable).count();
        let relayed = outcomes.iter().filter(|o| !o.direct && o.reachable).count();
        let lost = n - direct - relayed;
        total += n;
        connected += direct + relayed;
        let mut up: Vec<f64> = outcomes
            .iter()
            .filter_map(|o| o.upgrade.map(|d| d.as_secs_f64() * 1e3))
            .collect();
        let mut rtt: Vec<f64> = outcomes.iter().filter_map(|o| o.probe_rtt_ms).collect();
        let median = |v: &mut Vec<f64>| {
            if v.is_empty() {
                return "–".to_string();
            }
            v.sort_by(|a, b| a.total_cmp(b));
            format!("{:.0} ms", v[v.len() / 2])
        };
        println!(
            "| {} | {} | {} | {n} | {direct} | {relayed} | {lost} | {} | {} |",
            t.name(),
            na.name(),
            nb.name(),
            median(&mut up),
            median(&mut rtt),
        );
    }
    println!(
        "\nconnectivity: {connected}/{total} ({:.0} %)",
        100.0 * connected as f64 / total as f64
    );
    assert_eq!(connected, total, "every pairing stays connected");
}
