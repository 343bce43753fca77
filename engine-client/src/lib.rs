//! The job submitter's side of CyxWiz: everything the `cyxwiz` CLI does, as a library.
//!
//! A job goes through these steps, each usable on its own through [`Engine`] and
//! [`NodeSession`], or all at once through [`Engine::run`]:
//!
//! 1. [`Engine::submit`]: the coordinator reserves a node and quotes a price ([`Quote`]).
//! 2. [`Engine::fund_escrow`]: the quoted price is locked in the job's on-chain escrow.
//! 3. [`Engine::confirm`]: the coordinator checks the escrow, commits the node on chain
//!    and hands out a single-use [`Credential`] for the node (JWT, endpoint, TLS key).
//! 4. [`Engine::connect`] + [`NodeSession::upload`]: the WASM module and the dataset go
//!    straight to the node over TLS pinned to the key the coordinator named.
//! 5. [`NodeSession::metrics`]: live training metrics (reconnecting if the node restarts),
//!    then [`NodeSession::training_complete`] once the node has settled on chain.
//! 6. [`NodeSession::download`] + [`Engine::verify_weights`]: the trained weights, checked
//!    chunk by chunk and, as a whole, against the `final_weights_hash` the node committed
//!    on chain. Weights that do not match are never saved.
//! 7. [`Engine::rate`]: rate the node on chain and with the coordinator.
//!
//! A [`journal::Journal`] in the jobs directory remembers every job, so a later session
//! can follow or collect it with nothing but the wallet.
//!
//! Without the coordinator (unreachable, or `[engine] discovery = "mesh"`), [`direct`]
//! takes steps 1–4 over: nodes found on the mesh and checked on chain, the escrow
//! assigned by the user itself (`assign_node_by_user`), the upload signed by the wallet.
//!
//! [`daemon`] is the operator's side of the node daemon: `cyxwiz start`, `stop`,
//! `status`, `peers` and `network …` over `cyxwizd`'s admin socket.
#![forbid(unsafe_code)]

pub mod amount;
pub mod audit;
pub mod config;
pub mod console;
pub mod daemon;
pub mod direct;
pub mod download;
pub mod engine;
pub mod error;
pub mod journal;
pub mod node;
pub mod spec;
pub mod upload;

pub use amount::{format_tokens, parse_tokens};
pub use audit::{AuditReport, JobBytes};
pub use config::EngineConfig;
pub use direct::Candidate;
pub use download::{Downloaded, WeightsAssembler, verify_download};
pub use engine::{
    Balance, CancelOutcome, Credential, Engine, Event, Observer, Quote, RateOutcome, RunReport,
    Silent,
};
pub use error::{Error, Result};
pub use journal::{JobRecord, JobStage, Journal};
pub use node::{NodeSession, SessionOptions};
pub use spec::{Hardware, JobSpec};
pub use upload::{UploadOptions, upload_messages};

/// Job ids are 16 raw bytes.
pub type JobId = [u8; 16];

/// Parses a job id written as 32 hex digits.
pub fn parse_job_id(text: &str) -> Result<JobId> {
    let bytes = hex::decode(text.trim())
        .map_err(|_| Error::Invalid(format!("job id {text:?} is not hex")))?;
    bytes
        .try_into()
        .map_err(|_| Error::Invalid(format!("job id {text:?} is not 16 bytes (32 hex digits)")))
}

/// A job id from the wire, checked to be 16 bytes.
pub fn job_id_from_bytes(bytes: &[u8]) -> Result<JobId> {
    bytes
        .try_into()
        .map_err(|_| Error::Invalid(format!("job id of {} bytes (expected 16)", bytes.len())))
}
