//! The node's job channel, shared by node-agent (server) and engine-client (client).
//!
//! * [`v1`]: generated gRPC code for `cyxwiz.node.v1` (`proto/cyxwiz/node/v1/node.proto`).
//! * [`tls`]: the node's TLS identity (a long-lived key, a certificate made from it at
//!   start) and the client side that accepts exactly one server key, pinned by the
//!   SHA-256 of its SubjectPublicKeyInfo. No certificate authority is involved: the
//!   coordinator's JWT carries the fingerprint, so the engine trusts the key the
//!   coordinator matched it with and nothing else.
//! * [`auth`]: how each call is authenticated (bearer JWT for `SendJob`, the engine
//!   wallet's request signature for the rest) and the channel's size limits.
//! * [`discovery`]: how a node announces its channel (port, TLS fingerprint) on the mesh
//!   so engines find it without the coordinator.
#![forbid(unsafe_code)]

pub mod auth;
pub mod discovery;
pub mod tls;

/// Generated messages, the `job_channel_client` and the `job_channel_server`.
pub mod v1 {
    #![allow(clippy::all, missing_docs)]
    tonic::include_proto!("cyxwiz.node.v1");
}

/// Full gRPC method names: what a request signature covers.
pub mod methods {
    pub const SEND_JOB: &str = "/cyxwiz.node.v1.JobChannel/SendJob";
    pub const STREAM_TRAINING_METRICS: &str = "/cyxwiz.node.v1.JobChannel/StreamTrainingMetrics";
    pub const CONTROL_JOB: &str = "/cyxwiz.node.v1.JobChannel/ControlJob";
    pub const GET_JOB: &str = "/cyxwiz.node.v1.JobChannel/GetJob";
    pub const DOWNLOAD_WEIGHTS: &str = "/cyxwiz.node.v1.JobChannel/DownloadWeights";
    pub const TRAINING_COMPLETE: &str = "/cyxwiz.node.v1.JobChannel/TrainingComplete";
    pub const REVEAL_CHECKPOINTS: &str = "/cyxwiz.node.v1.JobChannel/RevealCheckpoints";
}

/// Limits both ends agree on. The node enforces its own (configurable) values; these
/// are the defaults and the engine's chunking.
pub mod limits {
    /// Bytes per upload or download chunk.
    pub const CHUNK_BYTES: usize = 256 * 1024;
    /// Largest gRPC message either side decodes (a chunk plus framing).
    pub const MAX_MESSAGE_BYTES: usize = CHUNK_BYTES + 64 * 1024;
    /// Default largest WASM module a node takes.
    pub const MAX_MODULE_BYTES: u64 = 16 * 1024 * 1024;
    /// Default largest dataset a node takes.
    pub const MAX_DATASET_BYTES: u64 = 256 * 1024 * 1024;
}

/// SHA-256, the chunk checksum.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).into()
}
