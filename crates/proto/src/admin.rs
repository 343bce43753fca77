//! The node daemon's admin protocol: what `cyxwiz start/stop/status/peers/network …`
//! ask `cyxwizd` over its owner-only Unix socket, and what it answers.
//!
//! One request is one line of JSON, answered by one line of JSON; a line is at most
//! [`MAX_LINE_BYTES`] including its newline. Both directions carry the protocol version
//! ([`VERSION`]); the decoders ([`decode_request`], [`decode_response`]) are strict: an
//! oversized line, invalid UTF-8, unknown fields, a missing field or another version is
//! an [`AdminError`], never a panic and never a guess (property-tested with arbitrary
//! bytes in the daemon's crate, `node-agent/src/admin.rs`). The types are plain serde data
//! (no libp2p), so the CLI talks to the daemon without linking the mesh.
//!
//! The socket lives at [`socket_path`]: `<data dir>/admin/cyxwizd.sock`, the directory
//! mode 0700 and the socket 0600, both owned by the operator (the daemon refuses to
//! start when the directory is reachable by group or others).

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};

/// Version of the request and response lines. A daemon answers a request of another
/// version with [`ErrorCode::UnsupportedVersion`].
pub const VERSION: u32 = 1;

/// Longest line either side accepts, newline included. Requests are tiny; the bound is
/// for responses (a topology of a few hundred nodes as DOT) and against a client that
/// streams garbage without a newline.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The admin directory under the node's data dir (mode 0700).
pub const SOCKET_DIR: &str = "admin";
/// The socket's file name inside [`SOCKET_DIR`].
pub const SOCKET_NAME: &str = "cyxwizd.sock";

/// Where the daemon whose data dir is `data_dir` listens.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET_DIR).join(SOCKET_NAME)
}

/// What a line failed on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AdminError {
    #[error("line of {len} bytes exceeds the limit of {MAX_LINE_BYTES}")]
    TooLong { len: usize },
    #[error("malformed line: {0}")]
    Malformed(String),
    #[error("protocol version {got} (this side speaks {VERSION})")]
    Version { got: u32 },
}

impl AdminError {
    /// The code a daemon answers this decoding failure with.
    pub fn code(&self) -> ErrorCode {
        match self {
            AdminError::TooLong { .. } => ErrorCode::LineTooLong,
            AdminError::Malformed(_) => ErrorCode::BadRequest,
            AdminError::Version { .. } => ErrorCode::UnsupportedVersion,
        }
    }
}

/// Output formats of the topology (rendered by the daemon's mesh).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TopologyFormat {
    #[default]
    Text,
    Dot,
    Json,
}

impl TopologyFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            TopologyFormat::Text => "text",
            TopologyFormat::Dot => "dot",
            TopologyFormat::Json => "json",
        }
    }
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

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// Lifecycle state, identity, stake, jobs, NAT status, addresses.
    Status,
    /// The connected peers.
    Peers,
    /// Mesh counters.
    NetworkStats,
    /// The known graph, rendered.
    Topology { format: TopologyFormat },
    /// Graceful shutdown (GOODBYE to the mesh, jobs to an epoch boundary).
    Stop,
}

/// A request line: `{"v":1,"request":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestLine {
    pub v: u32,
    pub request: Request,
}

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The line is not a valid request.
    BadRequest,
    UnsupportedVersion,
    LineTooLong,
    /// The daemon is at its client limit.
    Busy,
    /// The request did not finish within the daemon's per-request timeout.
    Timeout,
    /// The mesh is disabled or not joined yet (`[network] enabled = false`, starting).
    Unavailable,
    /// The daemon failed to answer (its mesh task stopped, …).
    Internal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    pub code: ErrorCode,
    pub message: String,
}

/// What the on-chain NodeRegistry says about this node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StakeInfo {
    /// active, suspended, banned, unstaking or unregistered.
    pub standing: String,
    /// Base units staked.
    pub stake: u64,
    /// Stake tier index (`None` below the lowest tier).
    pub tier: Option<u8>,
}

/// `cyxwiz status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusReply {
    /// init, join, discover, join_mesh, serving, shutting_down.
    pub state: String,
    pub version: String,
    pub pid: u32,
    /// The operator key (base58): the node's id on chain and on the mesh.
    pub node_id: String,
    /// The libp2p peer id (`None` with the mesh disabled).
    pub peer_id: Option<String>,
    /// `None` when the chain could not be read.
    pub stake: Option<StakeInfo>,
    pub jobs_running: u32,
    pub capacity: u32,
    /// The job channel engines reach.
    pub advertise: String,
    pub mesh_enabled: bool,
    /// AutoNAT's verdict: unknown, private or public (address).
    pub nat_status: String,
    pub listen_addresses: Vec<String>,
    /// External addresses confirmed for this node (observed by peers and AutoNAT, or
    /// configured).
    pub observed_addresses: Vec<String>,
    pub connected_peers: u64,
    pub known_nodes: u64,
    pub uptime_secs: u64,
}

/// One row of `cyxwiz peers`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PeerRow {
    pub peer_id: String,
    pub node_id: Option<String>,
    /// From the peer's admitted announcement; `None` until one is admitted.
    pub node_type: Option<String>,
    /// tcp, quic, memory or other.
    pub transport: String,
    pub address: String,
    pub rtt_ms: Option<f64>,
    /// Every connection to the peer goes through a relay.
    pub relayed: bool,
    pub connections: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GossipRates {
    pub received: u64,
    pub published: u64,
    pub rejected: u64,
    pub received_per_min: u64,
    pub published_per_min: u64,
}

/// `cyxwiz network stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkStats {
    pub connected_peers: u64,
    pub peers_by_type: BTreeMap<String, u64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub dht_routing_entries: u64,
    pub dht_records: u64,
    pub dht_provider_records: u64,
    pub known_nodes: u64,
    pub gossip: GossipRates,
    pub hole_punch_successes: u64,
    pub hole_punch_failures: u64,
    pub relay_reservations: u64,
    pub announcements_accepted: u64,
    /// Dropped announcements by reason (only reasons that occurred).
    pub announcements_dropped: BTreeMap<String, u64>,
    pub goodbyes_sent: u64,
    pub goodbyes_received: u64,
    pub connections_denied: u64,
    pub routing_inserts_denied: u64,
    pub events_dropped: u64,
    /// Connected peers per IP prefix, largest first.
    pub peers_per_prefix: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphNode {
    pub peer_id: String,
    pub node_type: Option<String>,
    pub local: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphEdge {
    pub a: String,
    pub b: String,
    /// Known only for the local node's own connections.
    pub relayed: Option<bool>,
}

/// `cyxwiz network topology`: the graph as data and as the mesh rendered it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopologyReply {
    pub format: TopologyFormat,
    pub rendered: String,
    pub local: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

/// A successful answer, one variant per request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Reply {
    Status(Box<StatusReply>),
    Peers(Vec<PeerRow>),
    NetworkStats(Box<NetworkStats>),
    Topology(Box<TopologyReply>),
    /// The daemon accepted the stop and is shutting down.
    Stopping,
}

/// The answer: `{"ok":…}` or `{"error":{"code":…,"message":…}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Outcome {
    Ok(Reply),
    Error(ErrorBody),
}

/// A response line: `{"v":1,"outcome":…}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseLine {
    pub v: u32,
    pub outcome: Outcome,
}

impl ResponseLine {
    pub fn ok(reply: Reply) -> Self {
        ResponseLine {
            v: VERSION,
            outcome: Outcome::Ok(reply),
        }
    }

    pub fn error(code: ErrorCode, message: impl Into<String>) -> Self {
        ResponseLine {
            v: VERSION,
            outcome: Outcome::Error(ErrorBody {
                code,
                message: message.into(),
            }),
        }
    }
}

/// Checks the bound and the encoding shared by both directions, without the newline.
fn line_text(line: &[u8]) -> Result<&str, AdminError> {
    if line.len() > MAX_LINE_BYTES {
        return Err(AdminError::TooLong { len: line.len() });
    }
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    std::str::from_utf8(line).map_err(|e| AdminError::Malformed(format!("not UTF-8: {e}")))
}

/// The version field alone, so a line of another version is reported as such even if
/// its body would not parse as ours.
fn version_of(text: &str) -> Option<u32> {
    #[derive(Deserialize)]
    struct V {
        v: u32,
    }
    serde_json::from_str::<V>(text).ok().map(|v| v.v)
}

fn decode<T: serde::de::DeserializeOwned>(line: &[u8]) -> Result<T, AdminError> {
    let text = line_text(line)?;
    if let Some(v) = version_of(text)
        && v != VERSION
    {
        return Err(AdminError::Version { got: v });
    }
    serde_json::from_str(text).map_err(|e| AdminError::Malformed(e.to_string()))
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // The types hold only strings, numbers, options, vectors and maps with string
    // keys: serialisation cannot fail.
    let mut out = serde_json::to_vec(value).expect("admin types serialise");
    out.push(b'\n');
    out
}

/// Decodes one request line (with or without its newline).
pub fn decode_request(line: &[u8]) -> Result<Request, AdminError> {
    decode::<RequestLine>(line).map(|l| l.request)
}

/// Decodes one response line (with or without its newline).
pub fn decode_response(line: &[u8]) -> Result<Outcome, AdminError> {
    decode::<ResponseLine>(line).map(|l| l.outcome)
}

/// A request as one line, newline included.
pub fn encode_request(request: &Request) -> Vec<u8> {
    encode(&RequestLine {
        v: VERSION,
        request: request.clone(),
    })
}

/// A response as one line, newline included. A reply that would exceed
/// [`MAX_LINE_BYTES`] becomes an [`ErrorCode::Internal`] error line, so a client never
/// receives a line it must refuse.
pub fn encode_response(response: &ResponseLine) -> Vec<u8> {
    let out = encode(response);
    if out.len() <= MAX_LINE_BYTES {
        return out;
    }
    encode(&ResponseLine::error(
        ErrorCode::Internal,
        format!(
            "the reply is {} bytes, over the {MAX_LINE_BYTES}-byte line limit",
            out.len()
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status() -> StatusReply {
        StatusReply {
            state: "serving".into(),
            version: "0.1.0".into(),
            pid: 42,
            node_id: "Node1111".into(),
            peer_id: Some("12D3KooWabc".into()),
            stake: Some(StakeInfo {
                standing: "active".into(),
                stake: 1_000,
                tier: Some(1),
            }),
            jobs_running: 1,
            capacity: 2,
            advertise: "https://127.0.0.1:7443".into(),
            mesh_enabled: true,
            nat_status: "unknown".into(),
            listen_addresses: vec!["/ip4/127.0.0.1/tcp/4001".into()],
            observed_addresses: vec![],
            connected_peers: 3,
            known_nodes: 3,
            uptime_secs: 9,
        }
    }

    #[test]
    fn requests_round_trip_as_one_line() {
        for r in [
            Request::Status,
            Request::Peers,
            Request::NetworkStats,
            Request::Topology {
                format: TopologyFormat::Dot,
            },
            Request::Stop,
        ] {
            let line = encode_request(&r);
            assert_eq!(line.iter().filter(|b| **b == b'\n').count(), 1);
            assert_eq!(line.last(), Some(&b'\n'));
            assert_eq!(decode_request(&line).unwrap(), r);
        }
        assert_eq!(
            decode_request(br#"{"v":1,"request":{"topology":{"format":"json"}}}"#).unwrap(),
            Request::Topology {
                format: TopologyFormat::Json
            }
        );
    }

    #[test]
    fn responses_round_trip() {
        for resp in [
            ResponseLine::ok(Reply::Status(Box::new(status()))),
            ResponseLine::ok(Reply::Stopping),
            ResponseLine::ok(Reply::Peers(vec![PeerRow {
                peer_id: "p".into(),
                node_id: None,
                node_type: Some("compute".into()),
                transport: "tcp".into(),
                address: "/ip4/127.0.0.1/tcp/1".into(),
                rtt_ms: Some(0.25),
                relayed: false,
                connections: 1,
            }])),
            ResponseLine::error(ErrorCode::Busy, "too many clients"),
        ] {
            let line = encode_response(&resp);
            assert_eq!(decode_response(&line).unwrap(), resp.outcome);
        }
    }

    #[test]
    fn the_decoder_is_strict() {
        let bad = |line: &[u8]| decode_request(line).unwrap_err();
        assert_eq!(
            bad(br#"{"v":2,"request":"status"}"#),
            AdminError::Version { got: 2 }
        );
        assert!(matches!(
            bad(br#"{"v":1,"request":"status","extra":1}"#),
            AdminError::Malformed(_)
        ));
        assert!(matches!(
            bad(br#"{"v":1,"request":{"topology":{"format":"dot","x":1}}}"#),
            AdminError::Malformed(_)
        ));
        assert!(matches!(
            bad(br#"{"v":1,"request":"reboot"}"#),
            AdminError::Malformed(_)
        ));
        assert!(matches!(
            bad(br#"{"request":"status"}"#),
            AdminError::Malformed(_)
        ));
        assert!(matches!(bad(b"\xff\xfe"), AdminError::Malformed(_)));
        assert!(matches!(bad(b"status\n"), AdminError::Malformed(_)));
        let long = vec![b' '; MAX_LINE_BYTES + 1];
        assert_eq!(
            bad(&long),
            AdminError::TooLong {
                len: MAX_LINE_BYTES + 1
            }
        );
        assert_eq!(bad(&long).code(), ErrorCode::LineTooLong);
    }

    #[test]
    fn an_oversized_reply_becomes_an_error_line() {
        let huge = ResponseLine::ok(Reply::Topology(Box::new(TopologyReply {
            format: TopologyFormat::Text,
            rendered: "x".repeat(MAX_LINE_BYTES),
            local: "l".into(),
            nodes: vec![],
            edges: vec![],
        })));
        let line = encode_response(&huge);
        assert!(line.len() <= MAX_LINE_BYTES);
        match decode_response(&line).unwrap() {
            Outcome::Error(e) => assert_eq!(e.code, ErrorCode::Internal),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn socket_lives_in_the_admin_dir() {
        assert_eq!(
            socket_path(Path::new("/var/lib/cyxwiz")),
            Path::new("/var/lib/cyxwiz/admin/cyxwizd.sock")
        );
    }
}
