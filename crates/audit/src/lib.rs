//! Deterministic re-execution audit of a node's proof-of-compute commitments.
//!
//! A node commits to every training epoch `E` with
//! `H_E = chain_step(H_{E-1}, weights_digest(W_E), metrics_digest(E, M_E), t_E)` and
//! anchors the Merkle root of the first `k` checkpoint hashes on chain (`cyxwiz-poc`).
//! A Groth16 proof over those commitments shows the chain is *consistent*; it cannot show
//! the weights are what training actually produces. This crate closes that gap by
//! re-execution: the sandbox is bit-for-bit deterministic (same module, data, seed and
//! starting weights ⇒ same weights), so anyone holding the job's module and dataset can
//! recompute one epoch from the node's own committed starting point and compare.
//!
//! The protocol (see `docs/audit.md`):
//!
//! 1. A [`Challenge`] names an anchored epoch `E` (`1 ≤ E ≤ k`) under an anchored root.
//! 2. The node answers with a [`Reveal`]: [`Opening`]s of `E − 1` and `E` (weights bytes,
//!    metrics, timestamp, previous hash, Merkle proof). [`build_reveal`] makes one from a
//!    [`CheckpointChain`](cyxwiz_poc::CheckpointChain) and the node's stored checkpoints.
//! 3. [`verify_reveal`] checks both openings hash to the leaves the anchored root commits
//!    to, so the node is bound to what it anchored.
//! 4. [`reexecute_epoch`] runs exactly what the node-agent runs for epoch `E` from the
//!    revealed `W_{E-1}` (or from `init` for `E = 1`), and [`judge`] compares digests into a
//!    [`Verdict`]; [`audit`] does 3 and 4 together.
//! 5. A challenger holding its own full re-run finds a divergent epoch with `O(log k)`
//!    digest-level probes ([`Bisection`]) and then audits that single epoch.
//! 6. [`Evidence`] is the canonical, versioned transcript of one audit; its
//!    [`evidence_hash`](Evidence::evidence_hash) goes on chain as the dispute's evidence
//!    hash, and [`verify_evidence`] lets any voter reproduce the verdict.
//!
//! Pure library: no networking, no clock, no storage.
#![forbid(unsafe_code)]

mod bisect;
mod evidence;
mod node;
mod protocol;
mod reexec;
mod serde_hex;

pub use bisect::{Bisection, Step, verify_probe};
pub use evidence::{EVIDENCE_DOMAIN, EVIDENCE_VERSION, Evidence, JobInputs, verify_evidence};
pub use node::{CheckpointSource, StoredCheckpoint, build_probe, build_reveal, open_epoch};
pub use protocol::{
    Challenge, Digests, Opening, ProbeOpening, Reveal, RevealFault, VerifiedReveal, verify_reveal,
};
pub use reexec::{Audit, Fraud, FraudKind, ReExecution, Verdict, audit, judge, reexecute_epoch};

use cyxwiz_poc::PocError;
use cyxwiz_sandbox::JobError;

/// Everything that can go wrong in an audit.
///
/// Only [`AuditError::RevealInvalid`] is a finding against the node (it answered with
/// something that does not match what it anchored). The others mean the audit could not
/// be carried out or the inputs were malformed; none of them is a verdict.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The challenge itself is malformed (epoch 0, epoch past the anchored prefix, …).
    #[error("bad challenge: {0}")]
    BadChallenge(String),
    /// The node's answer does not open what it anchored.
    #[error("reveal invalid: {reason}")]
    RevealInvalid { reason: RevealFault },
    /// Node side: the node cannot open an epoch from its own store (missing checkpoint,
    /// or a stored checkpoint that no longer reproduces its chain).
    #[error("cannot open epoch {epoch}: {reason}")]
    Unavailable { epoch: u32, reason: String },
    /// The sandbox failed while re-executing (inconclusive, not a verdict).
    #[error("re-executing epoch {epoch}: {source}")]
    ReExecution { epoch: u32, source: JobError },
    /// The bisection was driven out of order (a probe for another epoch, or after it ended).
    #[error("bisection: {0}")]
    Bisection(String),
    /// An evidence transcript that cannot be decoded, or whose recorded result does not
    /// reproduce.
    #[error("evidence rejected: {0}")]
    Evidence(String),
    /// A commitment primitive refused its input.
    #[error(transparent)]
    Poc(#[from] PocError),
}

fn hex32(d: &[u8; 32]) -> String {
    hex::encode(d)
}
