//! The library's error type. Every failure is named by what went wrong and where; gRPC
//! failures keep the status code so callers can tell a refusal from an outage.

use cyxwiz_chain::ChainError;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How [`Error::Timeout`]'s `what` starts for a coordinator call.
pub(crate) const COORDINATOR_TIMEOUT_PREFIX: &str = "coordinator ";

fn hex32(b: &[u8; 32]) -> String {
    hex::encode(b)
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file, an environment override or a flag is wrong.
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    /// Bad input from the caller (arguments, files, amounts).
    #[error("invalid input: {0}")]
    Invalid(String),
    /// A chain call failed.
    #[error("chain: {0}")]
    Chain(Box<ChainError>),
    /// The coordinator could not be reached.
    #[error("cannot reach the coordinator at {url}: {reason}")]
    CoordinatorUnreachable { url: String, reason: String },
    /// The coordinator answered a call with an error.
    #[error("coordinator {call}: {code:?}: {message}")]
    Coordinator {
        call: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// The node's TLS channel could not be opened (or the key did not match the pin).
    #[error(transparent)]
    Tls(#[from] cyxwiz_channel::tls::TlsError),
    /// The node answered a call with an error.
    #[error("node {call}: {code:?}: {message}")]
    Node {
        call: &'static str,
        code: tonic::Code,
        message: String,
    },
    /// The upload was abandoned on purpose (test hook `stop_after_chunks`).
    #[error("upload abandoned after {chunks} chunks")]
    UploadAbandoned { chunks: usize },
    /// A weights chunk's data does not match its checksum.
    #[error("weights chunk at offset {offset}: checksum mismatch")]
    ChunkChecksum { offset: u64 },
    /// A weights chunk does not continue where the previous one ended.
    #[error("weights chunk out of order: expected offset {expected}, got {got}")]
    ChunkGap { expected: u64, got: u64 },
    /// The node announced (or sent) more weights than the engine accepts.
    #[error("weights of {size} bytes exceed the {limit}-byte limit")]
    WeightsTooLarge { size: u64, limit: u64 },
    /// The weights received do not add up to the announced size.
    #[error("weights size mismatch: announced {announced} bytes, received {received}")]
    WeightsSize { announced: u64, received: u64 },
    /// The downloaded weights do not hash to what the node committed on chain.
    #[error(
        "weights tampered: the escrow's on-chain final_weights_hash is {}, the downloaded weights digest to {}",
        hex32(.expected),
        hex32(.got)
    )]
    WeightsTampered { expected: [u8; 32], got: [u8; 32] },
    /// The digest the node claimed in the download stream is not the weights' digest.
    #[error(
        "the node claimed weights digest {} but sent weights digesting to {}",
        hex32(.claimed),
        hex32(.got)
    )]
    NodeDigestMismatch { claimed: [u8; 32], got: [u8; 32] },
    /// The job's escrow has no final weights hash yet (not completed on chain).
    #[error("job {job}: no final weights hash on chain yet (escrow state {state})")]
    NotSettled { job: String, state: String },
    /// The job ended without completing.
    #[error("job {job} ended {phase}: {detail}")]
    JobFailed {
        job: String,
        phase: String,
        detail: String,
    },
    /// The wallet holds no CYXWIZ token account.
    #[error("wallet {0} has no CYXWIZ token account (fund it first)")]
    NoTokenAccount(String),
    /// The wallet's token balance is below what the step needs.
    #[error("insufficient CYXWIZ: need {need} base units, token account {account} holds {have}")]
    InsufficientTokens {
        account: String,
        need: u64,
        have: u64,
    },
    /// The coordinator quoted a job for another mint than the chain's CYXWIZ mint.
    #[error("the quote's mint {quoted} is not the deployment's CYXWIZ mint {chain}")]
    MintMismatch { quoted: String, chain: String },
    /// The quote is above the caller's budget.
    #[error("quoted price {price} exceeds the maximum {max} (base units)")]
    OverBudget { price: u64, max: u64 },
    /// The user declined the quote.
    #[error("quote declined")]
    Declined,
    /// Following the job's metrics failed after every reconnect attempt.
    #[error("lost the node's metrics stream after {attempts} reconnect attempts: {last}")]
    Reconnect { attempts: u32, last: String },
    /// A bounded wait ran out.
    #[error("timed out after {secs} s: {what}")]
    Timeout { what: String, secs: u64 },
    /// The job is not in the local journal.
    #[error("job {0} is not in the local journal")]
    UnknownJob(String),
    /// An audit by re-execution could not be carried out (a bad reveal from the node, a
    /// module that does not load, an inconsistent transcript).
    #[error("audit: {0}")]
    Audit(String),
    /// A token amount could not be parsed.
    #[error("amount {text:?}: {reason}")]
    Amount { text: String, reason: String },
    /// Joining or searching the mesh failed.
    #[error("mesh: {0}")]
    Mesh(String),
    /// The mesh named no node that passes the chain's checks and answers on its channel.
    #[error(
        "no usable compute node found on the mesh for capability {capability:?} at stake tier ≥ {min_tier} ({found} announced{}){}",
        if .rejected.is_empty() { String::new() } else { format!("; rejected: {}", .rejected.join("; ")) },
        if .funded.is_empty() { String::new() } else { format!("; {}", .funded) }
    )]
    NoCandidates {
        capability: String,
        min_tier: u8,
        found: usize,
        /// `<node>: <reason>` for each candidate turned down.
        rejected: Vec<String>,
        /// Where the money is, if an escrow was already funded (empty if not).
        funded: String,
    },
    /// The chain makes users wait longer to assign than this engine is configured to.
    #[error(
        "the chain lets a user assign its escrow only {window} s after creating it, more than [engine] max_assign_wait_secs = {max} (nothing was paid)"
    )]
    AssignWindowTooLong { window: i64, max: u64 },
    /// The coordinator-less path failed after the escrow was funded; the money is safe
    /// on chain and `remedy` says how to get it back.
    #[error("job {job}: {reason}; the escrow is {state}: {remedy}")]
    Fallback {
        job: String,
        state: String,
        reason: String,
        remedy: String,
    },
}

impl From<ChainError> for Error {
    fn from(e: ChainError) -> Self {
        Error::Chain(Box::new(e))
    }
}

impl Error {
    /// A coordinator error from a gRPC status.
    pub fn coordinator(call: &'static str, status: tonic::Status) -> Error {
        Error::Coordinator {
            call,
            code: status.code(),
            message: status.message().to_string(),
        }
    }

    /// A node error from a gRPC status.
    pub fn node(call: &'static str, status: tonic::Status) -> Error {
        Error::Node {
            call,
            code: status.code(),
            message: status.message().to_string(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
        Error::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }

    /// Whether the coordinator is down or unreachable (as opposed to refusing): what
    /// makes `[engine] discovery = "auto"` retry, then fall back to the mesh.
    pub fn is_coordinator_outage(&self) -> bool {
        match self {
            Error::CoordinatorUnreachable { .. } => true,
            Error::Coordinator { code, .. } => {
                matches!(
                    code,
                    tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                )
            }
            Error::Timeout { what, .. } => what.starts_with(COORDINATOR_TIMEOUT_PREFIX),
            _ => false,
        }
    }

    /// The gRPC status code, for node and coordinator errors.
    pub fn grpc_code(&self) -> Option<tonic::Code> {
        match self {
            Error::Node { code, .. } | Error::Coordinator { code, .. } => Some(*code),
            _ => None,
        }
    }
}
