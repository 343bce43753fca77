//! Proof-of-compute commitments for CyxWiz training jobs.
//!
//! For every training epoch `E` a node-agent commits to the work it did:
//!
//! ```text
//! H_0 = genesis(job_id)
//! H_E = Poseidon(H_{E-1}, weights_digest(W_E), metrics_digest(M_E), t_E)
//! ```
//!
//! The checkpoint hashes `H_1..H_N` are the leaves of a Merkle tree (Poseidon parents, odd
//! nodes promoted unchanged) whose root is anchored on chain. A later Groth16 circuit will
//! recompute exactly this, which is why every value here is an element of BN254's scalar
//! field `Fr` (32 bytes, big-endian, always canonical) and every hash inside the chain and
//! the tree is circom-compatible Poseidon. SHA-256 only appears *outside* the circuit, to
//! compress arbitrary bytes (weights, metrics) into one field element.
//!
//! The [`Prover`] trait is the seam where the Groth16 prover (`cyxwiz-circuits`) plugs in;
//! [`Witness::supports`] is the consistency check every prover makes first.
#![forbid(unsafe_code)]

mod chain;
mod digest;
mod field;
mod merkle;
mod prover;

pub use chain::{CheckpointChain, chain_step};
pub use digest::{genesis, metrics_digest, weights_digest};
pub use field::{Digest, from_hex, hash_pair, is_canonical, reduce, to_hex};
pub use merkle::{PoseidonMerkle, merkle_root, parse_proof, verify_inclusion};
pub use prover::{PROOF_LEN, Prover, Statement, Witness};

/// Everything that can go wrong building or checking a commitment.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PocError {
    /// A 32-byte value is not `< p` (BN254 scalar modulus), so it is not a field element.
    /// We refuse rather than reduce: two encodings of one element would let a chain be
    /// re-presented with different bytes the circuit would never accept.
    #[error("value is not a canonical BN254 scalar field element")]
    NonCanonical,
    /// Timestamps are Unix seconds; negatives have no field encoding we would want to prove.
    #[error("negative timestamp {0}")]
    NegativeTimestamp(i64),
    /// The operation needs at least one checkpoint.
    #[error("the checkpoint chain is empty")]
    EmptyChain,
    /// An epoch or leaf index beyond what exists.
    #[error("index {index} out of range (length {len})")]
    IndexOutOfRange { index: usize, len: usize },
    /// Merkle proof bytes that cannot be parsed.
    #[error("bad merkle proof: {0}")]
    BadProof(String),
    /// A hex string that is not 32 bytes of hex.
    #[error("bad hex digest: {0}")]
    BadHex(String),
    /// The prover refused (inconsistent witness) or failed.
    #[error("prover: {0}")]
    Prover(String),
}
