//! The daemon's admin endpoint: a Unix socket only the operator can reach, speaking
//! [`cyxwiz_proto::admin`] (one JSON request line, one JSON response line).
//!
//! Access control is the file system's: the socket sits in `<data dir>/admin/`, which
//! must be mode 0700 and owned by the daemon's user (the daemon creates it so and
//! refuses to start when it is reachable by group or others, rather than fixing a
//! directory someone else may be watching); the socket itself is 0600. Each connection
//! is also checked by its peer credentials (same uid), against a socket passed around
//! by file descriptor.
//!
//! Bounds: [`MAX_CLIENTS`] connections at once (one more is answered `busy` and
//! closed), lines of at most [`admin::MAX_LINE_BYTES`] (a longer one is answered
//! `line_too_long` and the connection closed, since the stream cannot be resynchronised),
//! [`READ_TIMEOUT`] to send a line, [`REQUEST_TIMEOUT`] to answer it. A garbage line
//! gets a `bad_request` answer and the connection stays usable.

use std::{
    future::Future,
    os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt},
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    time::{Duration, Instant},
};

use cyxwiz_mesh::{Mesh, StakeOracle, TopologyFormat as MeshFormat};
use cyxwiz_proto::admin::{
    self, ErrorCode, GossipRates, GraphEdge, GraphNode, NetworkStats, PeerRow, Reply, Request,
    ResponseLine, StatusReply, TopologyFormat, TopologyReply,
};
use tokio::{
    io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::{Semaphore, watch},
};

use crate::{network::stake_info, node::Node};

/// Admin connections served at once.
pub const MAX_CLIENTS: usize = 16;
/// How long a client may take to send a request line.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the daemon may take to answer one request.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// `sun_path` holds 108 bytes with its terminating NUL.
const MAX_SOCKET_PATH: usize = 107;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("admin directory {path}: {reason}")]
    Directory { path: PathBuf, reason: String },
    #[error(
        "admin directory {path} is accessible by group or others (mode {mode:o}); run `chmod 700 {path}`"
    )]
    Permissions { path: PathBuf, mode: u32 },
    #[error("admin directory {path} belongs to uid {owner}, not to this daemon's uid {uid}")]
    Owner { path: PathBuf, owner: u32, uid: u32 },
    #[error(
        "admin socket path {path} is {len} bytes, over the {MAX_SOCKET_PATH}-byte limit of Unix sockets; use a shorter data dir"
    )]
    PathTooLong { path: PathBuf, len: usize },
    #[error("another cyxwizd already answers on {0}")]
    InUse(PathBuf),
    #[error("admin socket {path}: {source}")]
    Socket {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Where the node is in its lifecycle (seed 000).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Init,
    Join,
    Discover,
    JoinMesh,
    Serving,
    ShuttingDown,
}

impl Lifecycle {
    pub fn as_str(self) -> &'static str {
        match self {
            Lifecycle::Init => "init",
            Lifecycle::Join => "join",
            Lifecycle::Discover => "discover",
            Lifecycle::JoinMesh => "join_mesh",
            Lifecycle::Serving => "serving",
            Lifecycle::ShuttingDown => "shutting_down",
        }
    }
}

/// What the handlers read.
pub struct AdminContext {
    pub node: Arc<Node>,
    /// Set once JOIN MESH is done (`None` with the mesh disabled or before).
    pub mesh: std::sync::OnceLock<Mesh>,
    pub oracle: Arc<dyn StakeOracle>,
    pub state: watch::Receiver<Lifecycle>,
    /// Set to `true` by a `stop` request; the daemon's main loop shuts down on it.
    pub stop: watch::Sender<bool>,
    pub started: Instant,
}

/// Answers requests; the daemon's is [`AdminContext`], tests bring their own.
pub trait Handler: Send + Sync + 'static {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ResponseLine> + Send + '_>>;
}

impl Handler for AdminContext {
    fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ResponseLine> + Send + '_>> {
        Box::pin(handle(self, req))
    }
}

/// The uid this process runs as, from `/proc/self` (owned by the process's
/// effective uid), which needs neither libc nor unsafe code.
fn current_uid() -> std::io::Result<u32> {
    Ok(std::fs::metadata("/proc/self")?.uid())
}

/// Creates `<data dir>/admin` (0700) if missing and checks it: a directory, not a
/// symlink, owned by this user, no access for group or others.
pub fn prepare_dir(data_dir: &Path) -> Result<PathBuf, AdminError> {
    let socket = admin::socket_path(data_dir);
    let dir = socket
        .parent()
        .expect("the socket has a directory")
        .to_path_buf();
    let len = socket.as_os_str().len();
    if len > MAX_SOCKET_PATH {
        return Err(AdminError::PathTooLong { path: socket, len });
    }
    let err = |reason: String| AdminError::Directory {
        path: dir.clone(),
        reason,
    };
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| err(format!("cannot create it: {e}")))?;
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| err(e.to_string()))?;
    if !meta.is_dir() {
        return Err(err("not a directory (a symlink or a file)".into()));
    }
    let uid = current_uid().map_err(|e| err(format!("reading this process's uid: {e}")))?;
    if meta.uid() != uid {
        return Err(AdminError::Owner {
            path: dir,
            owner: meta.uid(),
            uid,
        });
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(AdminError::Permissions { path: dir, mode });
    }
    Ok(socket)
}

/// The admin socket, bound and serving.
pub struct AdminServer {
    pub path: PathBuf,
    task: tokio::task::JoinHandle<()>,
    stop: watch::Sender<bool>,
}

impl std::fmt::Debug for AdminServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminServer")
            .field("path", &self.path)
            .finish()
    }
}

impl AdminServer {
    /// Checks the directory, binds the socket (0600) and serves it. A stale socket
    /// file of a dead daemon is replaced; a live one is an error.
    pub async fn start<H: Handler>(
        data_dir: &Path,
        handler: Arc<H>,
    ) -> Result<AdminServer, AdminError> {
        let path = prepare_dir(data_dir)?;
        let sock_err = |source| AdminError::Socket {
            path: path.clone(),
            source,
        };
        if path.exists() {
            if UnixStream::connect(&path).await.is_ok() {
                return Err(AdminError::InUse(path));
            }
            std::fs::remove_file(&path).map_err(sock_err)?;
        }
        let listener = UnixListener::bind(&path).map_err(sock_err)?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(sock_err)?;
        let uid = current_uid().map_err(sock_err)?;
        let (stop, stop_rx) = watch::channel(false);
        let task = tokio::spawn(serve(listener, handler, uid, stop_rx));
        tracing::info!(socket = %path.display(), "admin socket serving");
        Ok(AdminServer { path, task, stop })
    }

    /// Stops accepting, ends the connections and removes the socket file.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
    }
}

/// Also on a failed start: no task left serving, no socket file left behind.
impl Drop for AdminServer {
    fn drop(&mut self) {
        self.task.abort();
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Accepts connections until `stop`, each on its own task within [`MAX_CLIENTS`].
pub async fn serve<H: Handler>(
    listener: UnixListener,
    handler: Arc<H>,
    uid: u32,
    mut stop: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(MAX_CLIENTS));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.changed() => break,
        };
        // Reap finished connections so the set stays as small as the live ones.
        while conns.try_join_next().is_some() {}
        let mut stream = match accepted {
            Ok((s, _)) => s,
            Err(e) => {
                tracing::warn!(error = %e, "admin accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        match stream.peer_cred() {
            Ok(c) if c.uid() == uid => {}
            Ok(c) => {
                tracing::warn!(uid = c.uid(), "admin connection from another user refused");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "admin connection without credentials refused");
                continue;
            }
        }
        let Ok(permit) = permits.clone().try_acquire_owned() else {
            let line = admin::encode_response(&ResponseLine::error(
                ErrorCode::Busy,
                format!("the daemon serves at most {MAX_CLIENTS} admin clients at once"),
            ));
            conns.spawn(async move {
                let _ = tokio::time::timeout(READ_TIMEOUT, stream.write_all(&line)).await;
            });
            continue;
        };
        let handler = handler.clone();
        let stop = stop.clone();
        conns.spawn(async move {
            connection(stream, handler, stop).await;
            drop(permit);
        });
    }
    conns.abort_all();
}

/// Serves one client: request lines in sequence until EOF, an error that ends the
/// stream, or shutdown.
async fn connection<H: Handler>(
    stream: UnixStream,
    handler: Arc<H>,
    mut stop: watch::Receiver<bool>,
) {
    let (read, mut write) = stream.into_split();
    let mut reader = BufReader::new(read);
    let mut buf = Vec::with_capacity(256);
    loop {
        buf.clear();
        // One byte over the limit tells an oversized line from one that just fits.
        let limit = admin::MAX_LINE_BYTES as u64 + 1;
        let mut limited = (&mut reader).take(limit);
        let read = tokio::select! {
            r = tokio::time::timeout(READ_TIMEOUT, limited.read_until(b'\n', &mut buf)) => r,
            _ = stop.changed() => return,
        };
        let n = match read {
            Ok(Ok(n)) => n,
            Ok(Err(_)) => return,
            Err(_) => {
                let line = admin::encode_response(&ResponseLine::error(
                    ErrorCode::Timeout,
                    format!("no request line within {READ_TIMEOUT:?}"),
                ));
                let _ = write.write_all(&line).await;
                return;
            }
        };
        if n == 0 {
            return;
        }
        let complete = buf.last() == Some(&b'\n');
        if !complete && buf.len() > admin::MAX_LINE_BYTES {
            let e = admin::AdminError::TooLong { len: buf.len() };
            let line = admin::encode_response(&ResponseLine::error(e.code(), e.to_string()));
            let _ = write.write_all(&line).await;
            return;
        }
        let response = match admin::decode_request(&buf) {
            Ok(req) => match tokio::time::timeout(REQUEST_TIMEOUT, handler.handle(req)).await {
                Ok(r) => r,
                Err(_) => ResponseLine::error(
                    ErrorCode::Timeout,
                    format!("the request took longer than {REQUEST_TIMEOUT:?}"),
                ),
            },
            Err(e) => ResponseLine::error(e.code(), e.to_string()),
        };
        let line = admin::encode_response(&response);
        let written = tokio::time::timeout(READ_TIMEOUT, write.write_all(&line)).await;
        if !matches!(written, Ok(Ok(()))) {
            return;
        }
        if !complete {
            return; // EOF after a line without a newline
        }
    }
}

fn unavailable(what: &str) -> ResponseLine {
    ResponseLine::error(
        ErrorCode::Unavailable,
        format!("{what}: the mesh is disabled ([network] enabled = false) or not joined yet"),
    )
}

fn internal(e: impl std::fmt::Display) -> ResponseLine {
    ResponseLine::error(ErrorCode::Internal, e.to_string())
}

/// Answers one request.
pub async fn handle(ctx: &AdminContext, req: Request) -> ResponseLine {
    match req {
        Request::Status => ResponseLine::ok(Reply::Status(Box::new(status(ctx).await))),
        Request::Peers => {
            let Some(mesh) = ctx.mesh.get() else {
                return unavailable("peers");
            };
            match mesh.peers().await {
                Ok(peers) => ResponseLine::ok(Reply::Peers(
                    peers
                        .into_iter()
                        .map(|p| PeerRow {
                            peer_id: p.peer_id,
                            node_id: p.node_id.map(|n| n.to_string()),
                            node_type: p.node_type.map(|t| t.as_str().to_string()),
                            transport: p.transport.as_str().to_string(),
                            address: p.address,
                            rtt_ms: p.rtt_ms,
                            relayed: p.relayed,
                            connections: p.connections as u64,
                        })
                        .collect(),
                )),
                Err(e) => internal(e),
            }
        }
        Request::NetworkStats => {
            let Some(mesh) = ctx.mesh.get() else {
                return unavailable("network stats");
            };
            match mesh.stats().await {
                Ok(s) => ResponseLine::ok(Reply::NetworkStats(Box::new(network_stats(s)))),
                Err(e) => internal(e),
            }
        }
        Request::Topology { format } => {
            let Some(mesh) = ctx.mesh.get() else {
                return unavailable("topology");
            };
            match mesh.topology().await {
                Ok(t) => {
                    let mesh_format = match format {
                        TopologyFormat::Text => MeshFormat::Text,
                        TopologyFormat::Dot => MeshFormat::Dot,
                        TopologyFormat::Json => MeshFormat::Json,
                    };
                    ResponseLine::ok(Reply::Topology(Box::new(TopologyReply {
                        format,
                        rendered: t.render(mesh_format),
                        local: t.local.clone(),
                        nodes: t
                            .nodes
                            .iter()
                            .map(|n| GraphNode {
                                peer_id: n.peer_id.clone(),
                                node_type: n.node_type.map(|t| t.as_str().to_string()),
                                local: n.local,
                            })
                            .collect(),
                        edges: t
                            .edges
                            .iter()
                            .map(|e| GraphEdge {
                                a: e.a.clone(),
                                b: e.b.clone(),
                                relayed: e.relayed,
                            })
                            .collect(),
                    })))
                }
                Err(e) => internal(e),
            }
        }
        Request::Stop => {
            tracing::info!("stop requested over the admin socket");
            let _ = ctx.stop.send(true);
            ResponseLine::ok(Reply::Stopping)
        }
    }
}

async fn status(ctx: &AdminContext) -> StatusReply {
    let node = &ctx.node;
    let owner = node.owner();
    let node_id = cyxwiz_mesh::NodeId(owner.to_bytes());
    // Fresh from the chain (two account reads), bounded well inside the request timeout.
    let stake =
        match tokio::time::timeout(Duration::from_secs(3), ctx.oracle.stake_status(&node_id)).await
        {
            Ok(Ok(s)) => Some(stake_info(&s)),
            _ => None,
        };
    let mut reply = StatusReply {
        state: ctx.state.borrow().as_str().to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        node_id: owner.to_string(),
        peer_id: None,
        stake,
        jobs_running: node.active_jobs() as u32,
        capacity: node.cfg.node.capacity,
        advertise: node.cfg.node.advertise.clone(),
        mesh_enabled: node.cfg.network.enabled,
        nat_status: "unknown".into(),
        listen_addresses: vec![],
        observed_addresses: vec![],
        connected_peers: 0,
        known_nodes: 0,
        uptime_secs: ctx.started.elapsed().as_secs(),
    };
    if let Some(mesh) = ctx.mesh.get() {
        reply.peer_id = Some(mesh.peer_id().to_string());
        if let Ok(s) = mesh.stats().await {
            reply.nat_status = s.nat_status;
            reply.listen_addresses = s.listen_addresses;
            reply.observed_addresses = s.external_addresses;
            reply.connected_peers = s.connected_peers as u64;
            reply.known_nodes = s.known_nodes as u64;
        }
    } else if node.cfg.network.enabled {
        reply.nat_status = "mesh not joined yet".into();
    } else {
        reply.nat_status = "mesh disabled".into();
    }
    reply
}

fn network_stats(s: cyxwiz_mesh::MeshStats) -> NetworkStats {
    // Drop reasons as a map of the ones that occurred (the counter struct serialises
    // as one field per reason).
    let announcements_dropped = serde_json::to_value(&s.announcements_dropped)
        .ok()
        .and_then(|v| v.as_object().cloned())
        .map(|m| {
            m.into_iter()
                .filter_map(|(k, v)| v.as_u64().filter(|n| *n > 0).map(|n| (k, n)))
                .collect()
        })
        .unwrap_or_default();
    NetworkStats {
        connected_peers: s.connected_peers as u64,
        peers_by_type: s
            .peers_by_type
            .into_iter()
            .map(|(k, v)| (k, v as u64))
            .collect(),
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        dht_routing_entries: s.dht_routing_entries as u64,
        dht_records: s.dht_records as u64,
        dht_provider_records: s.dht_provider_records as u64,
        known_nodes: s.known_nodes as u64,
        gossip: GossipRates {
            received: s.gossip.received,
            published: s.gossip.published,
            rejected: s.gossip.rejected,
            received_per_min: s.gossip.received_per_min,
            published_per_min: s.gossip.published_per_min,
        },
        hole_punch_successes: s.hole_punch.successes,
        hole_punch_failures: s.hole_punch.failures,
        relay_reservations: s.relay_reservations,
        announcements_accepted: s.announcements_accepted,
        announcements_dropped,
        goodbyes_sent: s.goodbyes_sent,
        goodbyes_received: s.goodbyes_received,
        connections_denied: s.connections_denied,
        routing_inserts_denied: s.routing_inserts_denied,
        events_dropped: s.events_dropped,
        peers_per_prefix: s
            .peers_per_prefix
            .into_iter()
            .map(|(p, n)| (p, n as u64))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_dir_is_created_owner_only() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data");
        let socket = prepare_dir(&data).unwrap();
        assert_eq!(socket, admin::socket_path(&data));
        let mode = std::fs::metadata(socket.parent().unwrap())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700);
    }

    #[test]
    fn a_group_or_world_readable_admin_dir_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(admin::SOCKET_DIR);
        std::fs::create_dir(&dir).unwrap();
        for mode in [0o750, 0o705, 0o777] {
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(mode)).unwrap();
            match prepare_dir(tmp.path()) {
                Err(AdminError::Permissions { mode: m, .. }) => assert_eq!(m, mode),
                other => panic!("mode {mode:o} accepted: {other:?}"),
            }
        }
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        prepare_dir(tmp.path()).unwrap();
    }

    #[test]
    fn a_symlinked_admin_dir_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let elsewhere = tmp.path().join("elsewhere");
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&elsewhere)
            .unwrap();
        std::os::unix::fs::symlink(&elsewhere, tmp.path().join(admin::SOCKET_DIR)).unwrap();
        assert!(matches!(
            prepare_dir(tmp.path()),
            Err(AdminError::Directory { .. })
        ));
    }

    /// Answers `status` after `delay` with an error line naming the request, so the
    /// tests see what the server passed on.
    struct Echo {
        delay: Duration,
    }

    impl Handler for Echo {
        fn handle(&self, req: Request) -> Pin<Box<dyn Future<Output = ResponseLine> + Send + '_>> {
            Box::pin(async move {
                tokio::time::sleep(self.delay).await;
                ResponseLine::error(ErrorCode::Internal, format!("echo {req:?}"))
            })
        }
    }

    async fn server(delay: Duration) -> (tempfile::TempDir, AdminServer) {
        let tmp = tempfile::tempdir().unwrap();
        let s = AdminServer::start(tmp.path(), Arc::new(Echo { delay }))
            .await
            .unwrap();
        (tmp, s)
    }

    async fn ask(stream: &mut BufReader<UnixStream>, line: &[u8]) -> admin::Outcome {
        stream.get_mut().write_all(line).await.unwrap();
        let mut out = Vec::new();
        stream.read_until(b'\n', &mut out).await.unwrap();
        admin::decode_response(&out).unwrap()
    }

    fn code(o: &admin::Outcome) -> ErrorCode {
        match o {
            admin::Outcome::Error(e) => e.code,
            other => panic!("not an error: {other:?}"),
        }
    }

    #[tokio::test]
    async fn the_socket_is_0600_and_garbage_gets_an_error_line() {
        let (_tmp, s) = server(Duration::ZERO).await;
        let mode = std::fs::metadata(&s.path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let mut c = BufReader::new(UnixStream::connect(&s.path).await.unwrap());
        let o = ask(&mut c, b"hello there\n").await;
        assert_eq!(code(&o), ErrorCode::BadRequest);
        let o = ask(&mut c, b"{\"v\":9,\"request\":\"status\"}\n").await;
        assert_eq!(code(&o), ErrorCode::UnsupportedVersion);
        // The connection survives both and serves a valid request.
        let o = ask(&mut c, &admin::encode_request(&Request::Peers)).await;
        match o {
            admin::Outcome::Error(e) => assert_eq!(e.message, "echo Peers"),
            other => panic!("{other:?}"),
        }
        s.stop().await;
    }

    #[tokio::test]
    async fn an_oversized_line_is_refused_and_the_connection_closed() {
        let (_tmp, s) = server(Duration::ZERO).await;
        let mut c = BufReader::new(UnixStream::connect(&s.path).await.unwrap());
        let big = vec![b'x'; admin::MAX_LINE_BYTES + 10];
        // The server answers after reading one byte over the limit and closes, so the
        // rest of the write may fail with a broken pipe: that is the point.
        let _ = c.get_mut().write_all(&big).await;
        let mut out = Vec::new();
        c.read_until(b'\n', &mut out).await.unwrap();
        assert_eq!(
            code(&admin::decode_response(&out).unwrap()),
            ErrorCode::LineTooLong
        );
        out.clear();
        assert_eq!(c.read_until(b'\n', &mut out).await.unwrap(), 0, "closed");
        // The server itself carries on.
        let mut c = BufReader::new(UnixStream::connect(&s.path).await.unwrap());
        let o = ask(&mut c, &admin::encode_request(&Request::Status)).await;
        assert_eq!(code(&o), ErrorCode::Internal);
        s.stop().await;
    }

    #[tokio::test]
    async fn clients_beyond_the_limit_are_told_busy() {
        let (_tmp, s) = server(Duration::from_secs(2)).await;
        let mut held = vec![];
        for _ in 0..MAX_CLIENTS {
            let mut c = UnixStream::connect(&s.path).await.unwrap();
            c.write_all(&admin::encode_request(&Request::Status))
                .await
                .unwrap();
            held.push(c);
        }
        // Let the server accept them all before the one too many.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut extra = BufReader::new(UnixStream::connect(&s.path).await.unwrap());
        let mut out = Vec::new();
        extra.read_until(b'\n', &mut out).await.unwrap();
        assert_eq!(
            code(&admin::decode_response(&out).unwrap()),
            ErrorCode::Busy
        );
        drop(held);
        s.stop().await;
    }

    #[tokio::test]
    async fn a_slow_answer_times_out() {
        let (_tmp, s) = server(REQUEST_TIMEOUT + Duration::from_secs(5)).await;
        tokio::time::pause();
        let mut c = BufReader::new(UnixStream::connect(&s.path).await.unwrap());
        let o = ask(&mut c, &admin::encode_request(&Request::Status)).await;
        assert_eq!(code(&o), ErrorCode::Timeout);
        s.stop().await;
    }

    #[tokio::test]
    async fn a_live_socket_is_not_taken_over() {
        let (tmp, s) = server(Duration::ZERO).await;
        assert!(matches!(
            AdminServer::start(
                tmp.path(),
                Arc::new(Echo {
                    delay: Duration::ZERO
                })
            )
            .await,
            Err(AdminError::InUse(_))
        ));
        s.stop().await;
        // A stale file (no daemon behind it) is replaced.
        let _stale = std::os::unix::net::UnixListener::bind(admin::socket_path(tmp.path()));
        drop(_stale);
        let s = AdminServer::start(
            tmp.path(),
            Arc::new(Echo {
                delay: Duration::ZERO,
            }),
        )
        .await
        .unwrap();
        s.stop().await;
    }

    // The decoders the daemon runs on every request line (and the CLI on every answer)
    // never panic, whatever arrives.
    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_the_decoders(
            bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)
        ) {
            let _ = admin::decode_request(&bytes);
            let _ = admin::decode_response(&bytes);
        }

        #[test]
        fn json_shaped_garbage_never_panics(
            text in r#"\{("v":[0-9]{1,3},?)?("request":("status"|"stop"|\{"topology":\{"format":"[a-z]{0,5}"\}\}|[0-9]+),?)?[a-z"{}:,\[\]]{0,20}\}"#
        ) {
            if let Ok(r) = admin::decode_request(text.as_bytes()) {
                // Whatever decodes re-encodes to the same request.
                proptest::prop_assert_eq!(
                    admin::decode_request(&admin::encode_request(&r)).unwrap(),
                    r
                );
            }
        }
    }

    #[test]
    fn an_overlong_socket_path_is_refused() {
        let long = PathBuf::from("/tmp").join("d".repeat(120));
        assert!(matches!(
            prepare_dir(&long),
            Err(AdminError::PathTooLong { .. })
        ));
    }
}
