//! The operator's side of the node daemon: `cyxwiz start`, `stop`, `status`, `peers`,
//! `network stats` and `network topology`, all through `cyxwizd`'s admin socket
//! ([`cyxwiz_proto::admin`]; no libp2p here).
//!
//! The daemon is found through the node's data dir (`[storage] data_dir` of the same
//! configuration file, `CYXWIZ_STORAGE_DATA_DIR`, default `~/.cyxwiz/data`): the socket
//! is `<data dir>/admin/cyxwizd.sock`, and `cyxwiz start` keeps the daemon's pid in
//! `<data dir>/cyxwizd.pid` and its log in `<data dir>/cyxwizd.log`.

use std::{
    io::{BufRead, Seek},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use clap::Subcommand;
use cyxwiz_proto::admin::{
    self, ErrorCode, NetworkStats, Outcome, PeerRow, Reply, Request, StatusReply, TopologyFormat,
    TopologyReply,
};
use serde_json::json;
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::UnixStream,
};

use crate::amount::display_tokens;

/// How long connecting to the socket may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one answer may take: the daemon's own per-request timeout (10 s) plus slack,
/// so the daemon's `timeout` error arrives rather than ours.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(15);
/// Lines of the daemon's log shown when it dies during `cyxwiz start`.
const LOG_TAIL_LINES: usize = 20;
/// Bytes of the log read for that tail.
const LOG_TAIL_BYTES: u64 = 16 * 1024;
const POLL: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error(
        "cyxwizd is not running (no answer on {socket}: {reason}); start it with `cyxwiz start`"
    )]
    NotRunning { socket: PathBuf, reason: String },
    #[error("cyxwizd is already running (pid {pid}, socket {socket})")]
    AlreadyRunning { pid: u32, socket: PathBuf },
    #[error("the daemon's answer: {0}")]
    Protocol(#[from] admin::AdminError),
    #[error("cyxwizd answered {code:?}: {message}")]
    Daemon { code: ErrorCode, message: String },
    #[error("cyxwizd gave an answer of the wrong kind to {0}")]
    Unexpected(&'static str),
    #[error("no answer from cyxwizd within {0:?}")]
    Timeout(Duration),
    #[error("configuration: {0}")]
    Config(String),
    #[error("starting {daemon}: {source}")]
    Spawn {
        daemon: PathBuf,
        source: std::io::Error,
    },
    #[error("cyxwizd exited during start-up ({status}); its log is {log}:\n{tail}")]
    Died {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "cyxwizd (pid {pid}) did not come up within {waited:?} (state: {state}); it keeps running, its log is {log}"
    )]
    StartTimeout {
        pid: u32,
        waited: Duration,
        state: String,
        log: PathBuf,
    },
    #[error("cyxwizd (pid {pid}) was still running {waited:?} after the stop")]
    StopTimeout { pid: u32, waited: Duration },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

type Result<T, E = DaemonError> = std::result::Result<T, E>;

/// The daemon commands (`cyxwiz status` without a job is the daemon's status too, see
/// [`status`]).
#[derive(Subcommand, Debug, Clone)]
pub enum DaemonCommand {
    /// Start the node daemon (cyxwizd) in the background with this configuration and
    /// wait until it serves.
    Start {
        /// The cyxwizd binary (default: $CYXWIZD, else cyxwizd next to this program,
        /// else on PATH).
        #[arg(long)]
        daemon: Option<PathBuf>,
        /// Seconds to wait for the daemon to come up.
        #[arg(long, default_value_t = 120)]
        wait: u64,
    },
    /// Stop the node daemon gracefully (GOODBYE to the mesh, jobs to an epoch boundary)
    /// and wait until it has exited.
    Stop {
        /// Seconds to wait for the daemon to exit.
        #[arg(long, default_value_t = 90)]
        wait: u64,
    },
    /// The daemon's mesh peers: peer, type, transport, RTT, direct or relayed.
    Peers,
    /// The daemon's view of the mesh.
    Network {
        #[command(subcommand)]
        what: NetworkCommand,
    },
}

#[derive(Subcommand, Debug, Clone)]
pub enum NetworkCommand {
    /// Peers by type, bytes in/out, DHT size, gossip rates, hole punching.
    Stats,
    /// The known graph of the mesh.
    Topology {
        /// text, dot or json.
        #[arg(long, default_value = "text")]
        format: TopologyFormat,
    },
}

/// Where a node's daemon keeps its socket, pid and log.
#[derive(Debug, Clone)]
pub struct NodeFiles {
    /// The configuration file named with `--config`, if any (passed on to cyxwizd).
    pub config: Option<PathBuf>,
    pub data_dir: PathBuf,
    pub socket: PathBuf,
    pub pid_file: PathBuf,
    pub log_file: PathBuf,
}

impl NodeFiles {
    /// From the configuration file (or the default one when it exists) and the
    /// environment, as cyxwizd itself reads them.
    pub fn locate(config: Option<&Path>) -> Result<NodeFiles> {
        let default = cyxwiz_proto::config::home_dir().join("config.toml");
        let path = config
            .map(Path::to_path_buf)
            .or(default.exists().then_some(default));
        let table =
            cyxwiz_proto::config::layered_table(path.as_deref(), std::env::vars(), &["storage"])
                .map_err(|e| DaemonError::Config(e.to_string()))?;
        let data_dir = match table.get("storage").and_then(|s| s.get("data_dir")) {
            Some(toml::Value::String(s)) => cyxwiz_proto::config::expand_home(Path::new(s)),
            Some(other) => {
                return Err(DaemonError::Config(format!(
                    "storage.data_dir must be a path, got {other}"
                )));
            }
            None => cyxwiz_proto::config::home_dir().join("data"),
        };
        Ok(NodeFiles::in_dir(config.map(Path::to_path_buf), data_dir))
    }

    pub fn in_dir(config: Option<PathBuf>, data_dir: PathBuf) -> NodeFiles {
        NodeFiles {
            config,
            socket: admin::socket_path(&data_dir),
            pid_file: data_dir.join("cyxwizd.pid"),
            log_file: data_dir.join("cyxwizd.log"),
            data_dir,
        }
    }
}

/// One request, one answer, on a fresh connection.
pub async fn request(socket: &Path, req: &Request) -> Result<Reply> {
    let not_running = |reason: String| DaemonError::NotRunning {
        socket: socket.to_path_buf(),
        reason,
    };
    let stream = tokio::time::timeout(CONNECT_TIMEOUT, UnixStream::connect(socket))
        .await
        .map_err(|_| not_running("connect timed out".into()))?
        .map_err(|e| not_running(e.to_string()))?;
    let exchange = async {
        let mut stream = BufReader::new(stream);
        stream
            .get_mut()
            .write_all(&admin::encode_request(req))
            .await?;
        let mut line = Vec::new();
        (&mut stream)
            .take(admin::MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await?;
        Ok::<_, std::io::Error>(line)
    };
    let line = tokio::time::timeout(ANSWER_TIMEOUT, exchange)
        .await
        .map_err(|_| DaemonError::Timeout(ANSWER_TIMEOUT))?
        .map_err(|e| not_running(e.to_string()))?;
    if line.is_empty() {
        return Err(not_running(
            "the connection closed without an answer".into(),
        ));
    }
    match admin::decode_response(&line)? {
        Outcome::Ok(reply) => Ok(reply),
        Outcome::Error(e) => Err(DaemonError::Daemon {
            code: e.code,
            message: e.message,
        }),
    }
}

/// The daemon's status.
pub async fn fetch_status(socket: &Path) -> Result<StatusReply> {
    match request(socket, &Request::Status).await? {
        Reply::Status(s) => Ok(*s),
        _ => Err(DaemonError::Unexpected("status")),
    }
}

/// Runs a daemon command and prints its result (one JSON object with `json`).
pub async fn run(cmd: &DaemonCommand, config: Option<&Path>, json: bool) -> Result<()> {
    let files = NodeFiles::locate(config)?;
    match cmd {
        DaemonCommand::Start { daemon, wait } => {
            let daemon = daemon.clone().unwrap_or_else(daemon_binary);
            let s = start(&files, &daemon, Duration::from_secs(*wait)).await?;
            if json {
                println!(
                    "{}",
                    json!({ "ok": true, "started": s, "log": files.log_file })
                );
            } else {
                println!(
                    "cyxwizd started (pid {}), log {}",
                    s.pid,
                    files.log_file.display()
                );
                print_status(&s);
            }
        }
        DaemonCommand::Stop { wait } => {
            let (pid, took) = stop(&files, Duration::from_secs(*wait)).await?;
            if json {
                println!(
                    "{}",
                    json!({ "ok": true, "stopped": pid, "secs": took.as_secs_f64() })
                );
            } else {
                println!("cyxwizd (pid {pid}) stopped in {:.1} s", took.as_secs_f64());
            }
        }
        DaemonCommand::Peers => {
            let peers = match request(&files.socket, &Request::Peers).await? {
                Reply::Peers(p) => p,
                _ => return Err(DaemonError::Unexpected("peers")),
            };
            if json {
                println!("{}", json!({ "ok": true, "peers": peers }));
            } else {
                print!("{}", peers_table(&peers));
            }
        }
        DaemonCommand::Network {
            what: NetworkCommand::Stats,
        } => {
            let stats = match request(&files.socket, &Request::NetworkStats).await? {
                Reply::NetworkStats(s) => *s,
                _ => return Err(DaemonError::Unexpected("network stats")),
            };
            if json {
                println!("{}", json!({ "ok": true, "stats": stats }));
            } else {
                print!("{}", stats_text(&stats));
            }
        }
        DaemonCommand::Network {
            what: NetworkCommand::Topology { format },
        } => {
            let req = Request::Topology { format: *format };
            let topo: TopologyReply = match request(&files.socket, &req).await? {
                Reply::Topology(t) => *t,
                _ => return Err(DaemonError::Unexpected("topology")),
            };
            if json {
                println!("{}", json!({ "ok": true, "topology": topo }));
            } else {
                print!("{}", topo.rendered);
                if !topo.rendered.ends_with('\n') {
                    println!();
                }
            }
        }
    }
    Ok(())
}

/// `cyxwiz status` without a job: the daemon's status.
pub async fn status(config: Option<&Path>, json: bool) -> Result<()> {
    let files = NodeFiles::locate(config)?;
    let s = fetch_status(&files.socket).await?;
    if json {
        println!("{}", json!({ "ok": true, "status": s }));
    } else {
        print_status(&s);
    }
    Ok(())
}

/// `$CYXWIZD`, else `cyxwizd` beside this executable, else `cyxwizd` on `PATH`.
pub fn daemon_binary() -> PathBuf {
    if let Some(p) = std::env::var_os("CYXWIZD") {
        return PathBuf::from(p);
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        let sibling = dir.join("cyxwizd");
        if sibling.is_file() {
            return sibling;
        }
    }
    PathBuf::from("cyxwizd")
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DaemonError + '_ {
    move |source| DaemonError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Starts `daemon` in the background (its own process group, output to the log) and
/// waits until its admin socket reports it serving.
pub async fn start(files: &NodeFiles, daemon: &Path, wait: Duration) -> Result<StatusReply> {
    if let Ok(s) = fetch_status(&files.socket).await {
        return Err(DaemonError::AlreadyRunning {
            pid: s.pid,
            socket: files.socket.clone(),
        });
    }
    std::fs::create_dir_all(&files.data_dir).map_err(io_err(&files.data_dir))?;
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&files.log_file)
        .map_err(io_err(&files.log_file))?;
    // Where this start's output begins, so a failure shows this start's lines only.
    let log_start = log.seek(std::io::SeekFrom::End(0)).unwrap_or(0);
    let log_err = log.try_clone().map_err(io_err(&files.log_file))?;
    let mut cmd = std::process::Command::new(daemon);
    if let Some(c) = &files.config {
        cmd.arg("--config").arg(c);
    }
    // Its own process group: a Ctrl-C meant for the shell that ran `cyxwiz start` does
    // not reach the daemon.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    let mut child = cmd
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(|source| DaemonError::Spawn {
            daemon: daemon.to_path_buf(),
            source,
        })?;
    let pid = child.id();
    std::fs::write(&files.pid_file, format!("{pid}\n")).map_err(io_err(&files.pid_file))?;
    let began = Instant::now();
    let mut state = "not answering yet".to_string();
    loop {
        if let Some(status) = child.try_wait().map_err(io_err(daemon))? {
            let _ = std::fs::remove_file(&files.pid_file);
            return Err(DaemonError::Died {
                status: status.to_string(),
                log: files.log_file.clone(),
                tail: log_tail(&files.log_file, log_start),
            });
        }
        match fetch_status(&files.socket).await {
            Ok(s) if s.pid == pid && s.state == "serving" => return Ok(s),
            Ok(s) => state = s.state,
            Err(_) => {}
        }
        if began.elapsed() > wait {
            return Err(DaemonError::StartTimeout {
                pid,
                waited: wait,
                state,
                log: files.log_file.clone(),
            });
        }
        tokio::time::sleep(POLL).await;
    }
}

/// The last lines the log got since `from`.
fn log_tail(path: &Path, from: u64) -> String {
    let Ok(mut f) = std::fs::File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let at = from.max(len.saturating_sub(LOG_TAIL_BYTES));
    if f.seek(std::io::SeekFrom::Start(at)).is_err() {
        return String::new();
    }
    let lines: Vec<String> = std::io::BufReader::new(f)
        .lines()
        .map_while(|l| l.ok())
        .collect();
    // A daemon that fails to start ends with `Error: …` (its error chain), followed by
    // a backtrace when RUST_BACKTRACE is set: show the error, not the frames.
    let shown: &[String] = match lines.iter().rposition(|l| l.starts_with("Error: ")) {
        Some(at) => {
            let end = lines[at..]
                .iter()
                .position(|l| l.trim().eq_ignore_ascii_case("stack backtrace:"))
                .map_or(lines.len(), |n| at + n);
            &lines[at..end.min(at + LOG_TAIL_LINES)]
        }
        None => &lines[lines.len().saturating_sub(LOG_TAIL_LINES)..],
    };
    shown
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Whether process `pid` still runs (a zombie has exited; it only waits to be reaped).
fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may hold spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// Asks the daemon to stop and waits until its process is gone. Returns its pid and
/// how long the stop took.
pub async fn stop(files: &NodeFiles, wait: Duration) -> Result<(u32, Duration)> {
    let began = Instant::now();
    let pid = fetch_status(&files.socket).await?.pid;
    match request(&files.socket, &Request::Stop).await? {
        Reply::Stopping => {}
        _ => return Err(DaemonError::Unexpected("stop")),
    }
    while alive(pid) {
        if began.elapsed() > wait {
            return Err(DaemonError::StopTimeout { pid, waited: wait });
        }
        tokio::time::sleep(POLL).await;
    }
    let _ = std::fs::remove_file(&files.pid_file);
    Ok((pid, began.elapsed()))
}

fn print_status(s: &StatusReply) {
    let stake = match &s.stake {
        Some(st) => format!(
            "{} ({}, tier {})",
            display_tokens(st.stake),
            st.standing,
            st.tier.map_or("none".to_string(), |t| t.to_string())
        ),
        None => "unknown (chain unreachable)".into(),
    };
    let list = |v: &[String]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.join(", ")
        }
    };
    println!("state        {}", s.state);
    println!("node id      {}", s.node_id);
    println!(
        "peer id      {}",
        s.peer_id.as_deref().unwrap_or("- (mesh disabled)")
    );
    println!("stake        {stake}");
    println!("jobs         {} running of {}", s.jobs_running, s.capacity);
    println!("job channel  {}", s.advertise);
    println!("NAT          {}", s.nat_status);
    println!("listening    {}", list(&s.listen_addresses));
    println!("observed     {}", list(&s.observed_addresses));
    println!(
        "mesh         {} peers connected, {} nodes known",
        s.connected_peers, s.known_nodes
    );
    println!(
        "uptime       {} s (pid {}, v{})",
        s.uptime_secs, s.pid, s.version
    );
}

/// `cyxwiz peers` as a table.
pub fn peers_table(peers: &[PeerRow]) -> String {
    let mut out = format!(
        "{:<52}  {:<9}  {:<9}  {:>9}  {:<8}  {}\n",
        "PEER", "TYPE", "TRANSPORT", "RTT", "PATH", "ADDRESS"
    );
    for p in peers {
        let rtt = p.rtt_ms.map_or("-".to_string(), |r| format!("{r:.1} ms"));
        out.push_str(&format!(
            "{:<52}  {:<9}  {:<9}  {:>9}  {:<8}  {}\n",
            p.peer_id,
            p.node_type.as_deref().unwrap_or("?"),
            p.transport,
            rtt,
            if p.relayed { "relayed" } else { "direct" },
            p.address
        ));
    }
    out.push_str(&format!("{} peers\n", peers.len()));
    out
}

/// `cyxwiz network stats` as text.
pub fn stats_text(s: &NetworkStats) -> String {
    let by_type = if s.peers_by_type.is_empty() {
        "-".to_string()
    } else {
        s.peers_by_type
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let dropped = if s.announcements_dropped.is_empty() {
        "none".to_string()
    } else {
        s.announcements_dropped
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let g = &s.gossip;
    let mut out = String::new();
    let mut line = |k: &str, v: String| out.push_str(&format!("{k:<22} {v}\n"));
    line("peers", format!("{} ({by_type})", s.connected_peers));
    line("known nodes", s.known_nodes.to_string());
    line(
        "bytes in / out",
        format!("{} / {}", s.bytes_in, s.bytes_out),
    );
    line(
        "DHT",
        format!(
            "{} routing entries, {} records, {} provider records",
            s.dht_routing_entries, s.dht_records, s.dht_provider_records
        ),
    );
    line(
        "gossip",
        format!(
            "{} received ({}/min), {} published ({}/min), {} rejected",
            g.received, g.received_per_min, g.published, g.published_per_min, g.rejected
        ),
    );
    line(
        "hole punching",
        format!(
            "{} succeeded, {} failed",
            s.hole_punch_successes, s.hole_punch_failures
        ),
    );
    line("relay reservations", s.relay_reservations.to_string());
    line(
        "announcements",
        format!("{} accepted, dropped: {dropped}", s.announcements_accepted),
    );
    line(
        "goodbyes",
        format!("{} sent, {} received", s.goodbyes_sent, s.goodbyes_received),
    );
    line(
        "refused",
        format!(
            "{} connections, {} routing inserts (peer limits)",
            s.connections_denied, s.routing_inserts_denied
        ),
    );
    if !s.peers_per_prefix.is_empty() {
        line(
            "peers per prefix",
            s.peers_per_prefix
                .iter()
                .map(|(p, n)| format!("{p} {n}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use super::*;

    #[test]
    fn files_follow_the_data_dir_of_the_config() {
        let dir = tempfile::tempdir().unwrap();
        let cfg = dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            "[storage]\ndata_dir = \"/srv/node\"\n[engine]\nx = 1\n",
        )
        .unwrap();
        let f = NodeFiles::locate(Some(&cfg)).unwrap();
        assert_eq!(f.socket, Path::new("/srv/node/admin/cyxwizd.sock"));
        assert_eq!(f.pid_file, Path::new("/srv/node/cyxwizd.pid"));
        assert_eq!(f.config.as_deref(), Some(cfg.as_path()));
    }

    #[test]
    fn the_log_tail_shows_the_error_not_the_backtrace() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("cyxwizd.log");
        std::fs::write(&log, "old run\n").unwrap();
        let from = std::fs::metadata(&log).unwrap().len();
        let mut text = String::from(
            "INFO starting\nError: running the node\n\nCaused by:\n    bad dir\n\nStack backtrace:\n",
        );
        for i in 0..40 {
            text.push_str(&format!("  {i}: frame\n"));
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&log)
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let tail = log_tail(&log, from);
        assert!(tail.starts_with("  Error: running the node"), "{tail}");
        assert!(
            tail.contains("bad dir") && !tail.contains("frame") && !tail.contains("old run"),
            "{tail}"
        );
        std::fs::write(&log, "a\nb\n").unwrap();
        assert_eq!(log_tail(&log, 0), "  a\n  b");
    }

    #[test]
    fn only_live_processes_are_alive() {
        assert!(alive(std::process::id()));
        assert!(!alive(u32::MAX));
    }

    #[test]
    fn the_peers_table_has_a_row_per_peer() {
        let row = PeerRow {
            peer_id: "12D3KooWpeer".into(),
            node_id: None,
            node_type: Some("compute".into()),
            transport: "tcp".into(),
            address: "/ip4/127.0.0.1/tcp/1".into(),
            rtt_ms: Some(0.42),
            relayed: false,
            connections: 1,
        };
        let t = peers_table(&[
            row.clone(),
            PeerRow {
                relayed: true,
                ..row
            },
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 4);
        assert!(lines[0].starts_with("PEER"));
        assert!(
            lines[1].contains("compute")
                && lines[1].contains("0.4 ms")
                && lines[1].contains("direct")
        );
        assert!(lines[2].contains("relayed"));
        assert_eq!(lines[3], "2 peers");
    }

    #[tokio::test]
    async fn a_missing_daemon_is_reported_with_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let files = NodeFiles::in_dir(None, dir.path().to_path_buf());
        let e = fetch_status(&files.socket).await.unwrap_err();
        assert!(matches!(e, DaemonError::NotRunning { .. }), "{e}");
        assert!(e.to_string().contains("cyxwizd.sock"), "{e}");
    }
}
