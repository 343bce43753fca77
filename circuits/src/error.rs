//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong proving, verifying, setting up or running the ceremony.
#[derive(Debug, thiserror::Error)]
pub enum CircuitError {
    /// `epochs` is 0 or above the largest capacity.
    #[error("{epochs} epochs: a proof covers 1 to {max} epochs")]
    UnsupportedEpochs { epochs: u64, max: usize },
    /// A capacity that is not one of [`CAPACITIES`](crate::CAPACITIES).
    #[error("{0} is not a circuit capacity (capacities: {caps:?})", caps = crate::CAPACITIES)]
    UnknownCapacity(usize),
    /// More epochs than the chosen circuit holds.
    #[error("{epochs} epochs do not fit in a circuit of capacity {capacity}")]
    TooManyEpochs { epochs: u64, capacity: usize },
    /// The anchored prefix is longer than the proven chain.
    #[error("anchored prefix of {anchored} epochs is longer than the chain ({epochs} epochs)")]
    AnchorBeyondChain { anchored: u32, epochs: u32 },
    /// The witness does not yield the statement; the prover refuses.
    #[error("inconsistent witness: {0}")]
    InconsistentWitness(String),
    /// A 32-byte value that is not a canonical BN254 scalar.
    #[error("{0} is not a canonical BN254 scalar field element")]
    NonCanonical(&'static str),
    /// Proof bytes that do not decode to curve points.
    #[error("malformed proof: {0}")]
    MalformedProof(&'static str),
    /// The proof does not verify against the key and public inputs.
    #[error("proof rejected")]
    ProofRejected,
    /// Constraint synthesis or proving failed inside arkworks.
    #[error("synthesis: {0}")]
    Synthesis(#[from] ark_relations::r1cs::SynthesisError),
    /// (De)serialisation of keys, proofs or transcripts.
    #[error("serialisation: {0}")]
    Serialization(#[from] ark_serialize::SerializationError),
    /// A key file belongs to another capacity or circuit.
    #[error("key mismatch: {0}")]
    KeyMismatch(String),
    /// The ceremony transcript does not verify.
    #[error("ceremony transcript invalid: {0}")]
    Transcript(String),
    /// File I/O.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl CircuitError {
    pub(crate) fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { path, source }
    }
}

impl From<CircuitError> for cyxwiz_poc::PocError {
    fn from(e: CircuitError) -> Self {
        cyxwiz_poc::PocError::Prover(e.to_string())
    }
}
