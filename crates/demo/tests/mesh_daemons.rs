//! The mesh over IP with real processes: twelve `cyxwizd` daemons on one localnet, each
//! staked on chain, find each other from one bootstrap address; the real `cyxwiz` CLI
//! shows the full mesh (`status`, `peers`, `network stats`, `network topology --json`);
//! `cyxwiz stop` makes the stopped node's peers drop it at once (GOODBYE); and the admin
//! socket refuses a group-readable directory, oversized and garbage lines.
//!
//! The binaries come from `cargo build` run by the test itself (the way `escargot` does
//! it): integration tests only get the binaries of their own package, and these are the
//! node-agent's and the engine-client's. The build selects the whole workspace with its
//! tests (`--workspace --tests --bins`) so that it resolves features exactly as
//! `cargo test --workspace` does: the programs are `cdylib`s, whose rlibs carry no hash
//! in their file names, so a build with another feature set (the program tests' test
//! verifier off) would overwrite `libjob_escrow.rlib` under the running test build and
//! leave every crate above it stale (the doctests after this test failed with E0463).
//! After `cargo test --workspace` this build is fresh.

use std::{
    collections::BTreeSet,
    io::{BufRead, BufReader, Write},
    os::unix::{fs::PermissionsExt, net::UnixStream},
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use cyxwiz_demo::{NetOptions, Network, toml_of};
use cyxwiz_proto::admin;
use serde_json::Value;

const NODES: usize = 12;

/// The two binaries, built (or found fresh) by cargo.
struct Bins {
    cyxwizd: PathBuf,
    cyxwiz: PathBuf,
}

fn bins() -> Bins {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--workspace", "--tests", "--bins"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("running cargo build for cyxwizd and cyxwiz");
    assert!(status.success(), "building cyxwizd and cyxwiz failed");
    // <target>/<profile>/deps/<this test> → <target>/<profile>/
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap().to_path_buf();
    let b = Bins {
        cyxwizd: dir.join("cyxwizd"),
        cyxwiz: dir.join("cyxwiz"),
    };
    assert!(b.cyxwizd.is_file(), "{} missing", b.cyxwizd.display());
    assert!(b.cyxwiz.is_file(), "{} missing", b.cyxwiz.display());
    b
}

/// Daemons started by the test; whatever is still running at the end (a failed
/// assertion included) is killed.
#[derive(Default)]
struct Daemons(Vec<PathBuf>);

impl Drop for Daemons {
    fn drop(&mut self) {
        for pid_file in &self.0 {
            if let Ok(pid) = std::fs::read_to_string(pid_file) {
                let _ = Command::new("kill").arg("-9").arg(pid.trim()).status();
            }
        }
    }
}

/// Runs `cyxwiz --config <config> <args…>`; returns (success, stdout, stderr).
fn cli(b: &Bins, config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(&b.cyxwiz)
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .expect("running cyxwiz");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `cyxwiz … --json`, parsed, asserting `"ok": true`.
fn cli_json(b: &Bins, config: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let (ok, out, err) = cli(b, config, &all);
    let v: Value = serde_json::from_str(out.trim())
        .unwrap_or_else(|e| panic!("cyxwiz {args:?}: {e}: {out} {err}"));
    assert!(ok && v["ok"] == true, "cyxwiz {args:?}: {out} {err}");
    v
}

fn start(b: &Bins, config: &Path) -> std::process::Child {
    Command::new(&b.cyxwiz)
        .arg("--config")
        .arg(config)
        .args(["start", "--json", "--wait", "90", "--daemon"])
        .arg(&b.cyxwizd)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("running cyxwiz start")
}

fn started(child: std::process::Child) -> Value {
    let out = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let v: Value = serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "cyxwiz start: {e}: {text} {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert!(out.status.success() && v["ok"] == true, "cyxwiz start: {v}");
    v
}

fn peer_ids(v: &Value, list: &str) -> BTreeSet<String> {
    v[list]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["peer_id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twelve_daemons_find_each_other_from_one_bootstrap_address() {
    let b = bins();
    let mut net = Network::start(NetOptions {
        nodes: 0,
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let mut configs = vec![];
    let mut daemons = Daemons::default();
    for _ in 0..NODES {
        let i = net.add_operator().await.unwrap();
        let op = &mut net.operators[i];
        // Discovery rounds every 2 s so the DHT walks run within the test's time; no
        // prover (nothing is trained here).
        op.config.network.discovery_interval = 2;
        op.config.jobs.prover = "none".into();
        std::fs::write(&op.config_path, toml_of(&op.config).unwrap()).unwrap();
        configs.push(op.config_path.clone());
        daemons
            .0
            .push(op.config.storage.data_dir.join("cyxwizd.pid"));
    }
    let boot = net.mesh_bootstrap.clone().unwrap();
    let expected: BTreeSet<String> = net
        .operators
        .iter()
        .map(|op| {
            let wallet = cyxwiz_chain::keys::read_keypair(&op.config.node.keypair).unwrap();
            cyxwiz_node_agent::network::node_key(&wallet)
                .unwrap()
                .peer_id()
                .to_string()
        })
        .collect();
    assert_eq!(expected.len(), NODES);
    assert!(boot.ends_with(&format!(
        "/p2p/{}",
        cyxwiz_node_agent::network::node_key(
            &cyxwiz_chain::keys::read_keypair(&net.operators[0].config.node.keypair).unwrap()
        )
        .unwrap()
        .peer_id()
    )));

    // Node 0 first (it is the bootstrap address), then the other eleven at once, each
    // knowing nothing but that address.
    let t0 = Instant::now();
    let s0 = started(start(&b, &configs[0]));
    assert_eq!(s0["started"]["state"], "serving", "{s0}");
    let children: Vec<_> = configs[1..].iter().map(|c| start(&b, c)).collect();
    for c in children {
        let s = started(c);
        assert_eq!(s["started"]["state"], "serving", "{s}");
    }
    let all_up = t0.elapsed();

    // Every node learns the eleven others (admitted: signature and on-chain stake), and
    // its known graph (its connections and its peers' neighbour lists) holds all twelve.
    let topology_nodes = |c: &Path| -> BTreeSet<String> {
        cli_json(&b, c, &["network", "topology"])["topology"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["peer_id"].as_str().unwrap().to_string())
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let known: Vec<u64> = configs
            .iter()
            .map(|c| {
                cli_json(&b, c, &["status"])["status"]["known_nodes"]
                    .as_u64()
                    .unwrap()
            })
            .collect();
        let graphs: Vec<usize> = configs.iter().map(|c| topology_nodes(c).len()).collect();
        if known.iter().all(|k| *k == NODES as u64 - 1) && graphs.iter().all(|n| *n == NODES) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the mesh did not fill within 60 s: known nodes {known:?}, graph sizes {graphs:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    let full_mesh = t0.elapsed();
    println!(
        "{NODES} daemons serving {:.1} s after the first start; every one knew all others and held all {NODES} in its graph after {:.1} s",
        all_up.as_secs_f64(),
        full_mesh.as_secs_f64()
    );

    for (i, c) in configs.iter().enumerate() {
        let st = &cli_json(&b, c, &["status"])["status"];
        assert_eq!(st["state"], "serving");
        assert_eq!(st["node_id"], net.operators[i].owner.to_string());
        assert!(expected.contains(st["peer_id"].as_str().unwrap()), "{st}");
        assert_eq!(st["stake"]["standing"], "active", "{st}");
        assert_eq!(
            st["stake"]["stake"].as_u64(),
            Some(cyxwiz_demo::NODE_STAKE),
            "{st}"
        );
        assert!(st["stake"]["tier"].is_u64(), "a tier from the stake: {st}");
        assert!(
            st["listen_addresses"].as_array().unwrap().len() == 1,
            "{st}"
        );

        // The known graph holds all twelve nodes.
        let topo = &cli_json(&b, c, &["network", "topology", "--format", "json"])["topology"];
        let nodes: BTreeSet<String> = topo["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["peer_id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(nodes, expected, "daemon {i}'s topology");
        let rendered: Value = serde_json::from_str(topo["rendered"].as_str().unwrap()).unwrap();
        assert_eq!(rendered["nodes"].as_array().unwrap().len(), NODES);

        let peers = cli_json(&b, c, &["peers"]);
        assert!(!peers_of(&peers).is_empty(), "daemon {i} has no peers");
        for p in peers["peers"].as_array().unwrap() {
            assert_eq!(p["node_type"], "compute", "admitted as staked compute: {p}");
            assert_eq!(p["transport"], "tcp");
            assert_eq!(p["relayed"], false);
        }
    }

    // The bootstrap node is connected to everyone.
    let peers0 = cli_json(&b, &configs[0], &["peers"]);
    let mut others = expected.clone();
    others.remove(
        cli_json(&b, &configs[0], &["status"])["status"]["peer_id"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(peer_ids(&peers0, "peers"), others);
    let (ok, table, _) = cli(&b, &configs[0], &["peers"]);
    assert!(ok);
    assert!(table.starts_with("PEER"), "{table}");
    assert_eq!(table.lines().count(), NODES + 1, "{table}");
    assert!(
        table.ends_with(&format!("{} peers\n", NODES - 1)),
        "{table}"
    );
    let stats = &cli_json(&b, &configs[0], &["network", "stats"])["stats"];
    assert_eq!(stats["connected_peers"], NODES as u64 - 1);
    assert_eq!(stats["peers_by_type"]["compute"], NODES as u64 - 1);
    assert!(stats["announcements_accepted"].as_u64().unwrap() >= NODES as u64 - 1);
    assert!(stats["bytes_in"].as_u64().unwrap() > 0);
    // The human forms, shown with --nocapture.
    for args in [
        &["status"][..],
        &["network", "stats"][..],
        &["network", "topology"][..],
    ] {
        let (ok, text, err) = cli(&b, &configs[0], args);
        assert!(ok && !text.is_empty(), "cyxwiz {args:?}: {err}");
        println!("$ cyxwiz {}\n{text}", args.join(" "));
    }
    let (ok, status_text, _) = cli(&b, &configs[0], &["status"]);
    assert!(
        ok && status_text.starts_with("state        serving"),
        "{status_text}"
    );
    assert!(
        status_text.contains("11 peers connected, 11 nodes known"),
        "{status_text}"
    );
    let (ok, dot, _) = cli(&b, &configs[0], &["network", "topology", "--format", "dot"]);
    assert!(ok && dot.starts_with("graph mesh {"), "{dot}");

    // GOODBYE: `cyxwiz stop` on the last node; every peer connected to it drops it from
    // its peers and its known set at once (without GOODBYE the record would stay until
    // its TTL, an hour).
    let leaving = NODES - 1;
    let leaving_peer = cli_json(&b, &configs[leaving], &["status"])["status"]["peer_id"]
        .as_str()
        .unwrap()
        .to_string();
    let neighbours: Vec<usize> = (0..leaving)
        .filter(|i| {
            peer_ids(&cli_json(&b, &configs[*i], &["peers"]), "peers").contains(&leaving_peer)
        })
        .collect();
    assert!(neighbours.contains(&0));
    let before: Vec<u64> = neighbours
        .iter()
        .map(|i| {
            cli_json(&b, &configs[*i], &["network", "stats"])["stats"]["goodbyes_received"]
                .as_u64()
                .unwrap()
        })
        .collect();
    let stop_at = Instant::now();
    let stopped = cli_json(&b, &configs[leaving], &["stop"]);
    let stop_took = stop_at.elapsed();
    assert!(stopped["stopped"].is_u64(), "{stopped}");
    let socket = admin::socket_path(&net.operators[leaving].config.storage.data_dir);
    assert!(!socket.exists(), "the daemon removes its socket");
    let (ok, _, err) = cli(&b, &configs[leaving], &["status"]);
    assert!(!ok && err.contains("not running"), "{err}");
    let mut dropped_after = Duration::ZERO;
    for (n, i) in neighbours.iter().enumerate() {
        let st = &cli_json(&b, &configs[*i], &["status"])["status"];
        let peers = cli_json(&b, &configs[*i], &["peers"]);
        let stats = &cli_json(&b, &configs[*i], &["network", "stats"])["stats"];
        dropped_after = dropped_after.max(stop_at.elapsed());
        assert!(
            !peer_ids(&peers, "peers").contains(&leaving_peer),
            "daemon {i}"
        );
        assert_eq!(
            st["known_nodes"],
            NODES as u64 - 2,
            "daemon {i} forgot the node"
        );
        assert!(
            stats["goodbyes_received"].as_u64().unwrap() > before[n],
            "daemon {i} got the GOODBYE"
        );
    }
    println!(
        "cyxwiz stop took {:.2} s; its {} peers had dropped it when checked, {:.2} s after the stop began",
        stop_took.as_secs_f64(),
        neighbours.len(),
        dropped_after.as_secs_f64()
    );

    // Stop the rest, all at once.
    let stops: Vec<_> = configs[..leaving]
        .iter()
        .map(|c| {
            Command::new(&b.cyxwiz)
                .arg("--config")
                .arg(c)
                .args(["stop", "--json"])
                .stdout(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for s in stops {
        let s = s.wait_with_output().unwrap();
        assert!(s.status.success(), "{}", String::from_utf8_lossy(&s.stdout));
    }
    net.stop().await;
}

fn peers_of(v: &Value) -> Vec<Value> {
    v["peers"].as_array().cloned().unwrap_or_default()
}

/// One raw line to the socket, one line back.
fn raw(socket: &Path, line: &[u8]) -> (Option<admin::Outcome>, UnixStream) {
    let mut s = UnixStream::connect(socket).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    let _ = s.write_all(line);
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut out = Vec::new();
    r.read_until(b'\n', &mut out).unwrap();
    (admin::decode_response(&out).ok(), s)
}

fn code(o: Option<admin::Outcome>) -> admin::ErrorCode {
    match o {
        Some(admin::Outcome::Error(e)) => e.code,
        other => panic!("expected an error line, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_admin_socket_is_owner_only_and_survives_bad_lines() {
    let b = bins();
    let mut net = Network::start(NetOptions {
        nodes: 0,
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let mut daemons = Daemons::default();
    let i = net.add_operator().await.unwrap();
    let op = net.operators[i].clone();
    daemons
        .0
        .push(op.config.storage.data_dir.join("cyxwizd.pid"));

    // A group-readable admin directory: the daemon refuses to start (before it stakes
    // anything), and `cyxwiz start` says why and where the log is.
    let admin_dir = op.config.storage.data_dir.join(admin::SOCKET_DIR);
    std::fs::create_dir_all(&admin_dir).unwrap();
    std::fs::set_permissions(&admin_dir, std::fs::Permissions::from_mode(0o750)).unwrap();
    let out = start(&b, &op.config_path).wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{text}");
    assert!(
        text.contains("accessible by group or others") && text.contains("cyxwizd.log"),
        "{text}"
    );
    let stake_pda = cyxwiz_chain::pda::node(&op.owner);
    assert!(
        net.net
            .client(solana_keypair::Keypair::new())
            .try_account::<cyxwiz_chain::state::NodeAccount>(&stake_pda)
            .await
            .unwrap()
            .is_none(),
        "nothing was staked"
    );

    std::fs::set_permissions(&admin_dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let s = started(start(&b, &op.config_path));
    assert_eq!(s["started"]["state"], "serving");
    let socket = admin::socket_path(&op.config.storage.data_dir);
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);

    // Garbage: an error line, and the same connection still answers.
    let (o, mut conn) = raw(&socket, b"{\"v\":1,\"request\":\"reboot\"}\n");
    assert_eq!(code(o), admin::ErrorCode::BadRequest);
    conn.write_all(&admin::encode_request(&admin::Request::Status))
        .unwrap();
    let mut line = Vec::new();
    BufReader::new(conn).read_until(b'\n', &mut line).unwrap();
    assert!(matches!(
        admin::decode_response(&line).unwrap(),
        admin::Outcome::Ok(admin::Reply::Status(_))
    ));
    let (o, _) = raw(&socket, b"\x00\xff binary junk\n");
    assert_eq!(code(o), admin::ErrorCode::BadRequest);

    // An oversized line: refused, connection closed, daemon unharmed.
    let big = vec![b'{'; admin::MAX_LINE_BYTES * 2];
    let (o, _) = raw(&socket, &big);
    assert_eq!(code(o), admin::ErrorCode::LineTooLong);
    let st = cli_json(&b, &op.config_path, &["status"]);
    assert_eq!(st["status"]["state"], "serving");

    // `cyxwiz start` again: refused, the running daemon named.
    let out = start(&b, &op.config_path).wait_with_output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("already running"));

    let stopped = cli_json(&b, &op.config_path, &["stop"]);
    assert!(stopped["stopped"].is_u64());
    net.stop().await;
}
