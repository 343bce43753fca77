//! What a proof of compute attests, and the pluggable prover behind it.
//!
//! [`Statement`] is the public side (it becomes the Groth16 public inputs and mirrors
//! `job-escrow`'s `ProofStatement`); [`Witness`] is everything the prover may use. The real
//! Groth16 prover (`cyxwiz-circuits`) implements [`Prover`].

use crate::PocError;
use crate::chain::CheckpointChain;
use crate::field::Digest;

/// Size of a Groth16 proof in groth16-solana's uncompressed format (A ‖ B ‖ C).
pub const PROOF_LEN: usize = 256;

/// What a proof of compute attests (these become the Groth16 public inputs later).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Statement {
    pub job_id: [u8; 16],
    /// Root of the Merkle tree over all `epochs` checkpoint hashes.
    pub merkle_root: Digest,
    /// `weights_digest` of the last epoch's weights.
    pub final_weights_hash: Digest,
    pub epochs: u32,
}

/// What the prover may use: per-epoch inputs and the resulting checkpoint hashes,
/// index `i` being epoch `i + 1`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witness {
    pub weights_digests: Vec<Digest>,
    pub metrics_digests: Vec<Digest>,
    pub timestamps: Vec<i64>,
    pub hashes: Vec<Digest>,
}

impl Witness {
    /// An empty witness; record each epoch with [`push`](Self::push).
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one epoch alongside `CheckpointChain::push` (`hash` is what it returned).
    pub fn push(&mut self, weights: Digest, metrics: Digest, timestamp: i64, hash: Digest) {
        self.weights_digests.push(weights);
        self.metrics_digests.push(metrics);
        self.timestamps.push(timestamp);
        self.hashes.push(hash);
    }

    /// Number of recorded epochs (of `hashes`; the other vectors should match).
    pub fn len(&self) -> usize {
        self.hashes.len()
    }

    /// Whether no epoch is recorded.
    pub fn is_empty(&self) -> bool {
        self.hashes.is_empty()
    }

    /// Recomputes the chain from `genesis(job_id)` and checks it against this witness,
    /// returning the statement it supports. Every mismatch is a [`PocError::Prover`] naming
    /// what disagrees, since this is the gate before anything gets certified.
    pub fn statement(&self, job_id: [u8; 16]) -> Result<Statement, PocError> {
        let n = self.hashes.len();
        if self.weights_digests.len() != n
            || self.metrics_digests.len() != n
            || self.timestamps.len() != n
        {
            return Err(PocError::Prover(format!(
                "witness vectors differ in length: {} weights digests, {} metrics digests, \
                 {} timestamps, {} hashes",
                self.weights_digests.len(),
                self.metrics_digests.len(),
                self.timestamps.len(),
                n
            )));
        }
        if n == 0 {
            return Err(PocError::Prover("witness has no epochs".into()));
        }
        let epochs = u32::try_from(n)
            .map_err(|_| PocError::Prover(format!("{n} epochs do not fit in u32")))?;

        let mut chain = CheckpointChain::new(job_id);
        for i in 0..n {
            let epoch = i + 1;
            let h = chain
                .push(
                    &self.weights_digests[i],
                    &self.metrics_digests[i],
                    self.timestamps[i],
                )
                .map_err(|e| PocError::Prover(format!("epoch {epoch}: {e}")))?;
            if h != self.hashes[i] {
                return Err(PocError::Prover(format!(
                    "epoch {epoch}: checkpoint hash does not follow from the chain \
                     (recomputed {}, witness has {})",
                    hex::encode(h),
                    hex::encode(self.hashes[i])
                )));
            }
        }
        Ok(Statement {
            job_id,
            merkle_root: chain.root().expect("n > 0 leaves"),
            final_weights_hash: self.weights_digests[n - 1],
            epochs,
        })
    }
}

impl Witness {
    /// Checks that this witness yields exactly `statement` (same epoch count, Merkle root
    /// and final weights digest for the statement's job): what any prover must establish
    /// before it proves, so an inconsistent witness is refused with a reason rather than
    /// failing deep inside proving.
    pub fn supports(&self, statement: &Statement) -> Result<(), PocError> {
        if usize::try_from(statement.epochs).ok() != Some(self.len()) {
            return Err(PocError::Prover(format!(
                "statement claims {} epochs, witness has {}",
                statement.epochs,
                self.len()
            )));
        }
        let actual = self.statement(statement.job_id)?;
        if actual.merkle_root != statement.merkle_root {
            return Err(PocError::Prover(format!(
                "merkle root mismatch: witness gives {}, statement has {}",
                hex::encode(actual.merkle_root),
                hex::encode(statement.merkle_root)
            )));
        }
        if actual.final_weights_hash != statement.final_weights_hash {
            return Err(PocError::Prover(format!(
                "final weights hash mismatch: witness gives {}, statement has {}",
                hex::encode(actual.final_weights_hash),
                hex::encode(statement.final_weights_hash)
            )));
        }
        Ok(())
    }
}

/// Produces a proof that `witness` yields `statement`.
pub trait Prover: Send + Sync + std::fmt::Debug {
    /// Short identifier for logs and metrics.
    fn name(&self) -> &'static str;
    /// A [`PROOF_LEN`]-byte proof, or [`PocError::Prover`] if the witness does not support
    /// the statement or proving failed.
    fn prove(&self, statement: &Statement, witness: &Witness) -> Result<[u8; PROOF_LEN], PocError>;

    /// Like [`prove`](Self::prove) for a job whose escrow anchored the first
    /// `anchored_epochs` epochs (its `epochs_done` before completion, 0 if none):
    /// `complete_payment` checks that the anchored root is a prefix of the proven chain.
    ///
    /// The default suits provers whose proof does not cover the anchor: it checks the
    /// prefix fits the statement and calls `prove`. The Groth16
    /// prover (`cyxwiz-circuits`) overrides it and proves the prefix.
    fn prove_anchored(
        &self,
        statement: &Statement,
        witness: &Witness,
        anchored_epochs: u32,
    ) -> Result<[u8; PROOF_LEN], PocError> {
        if anchored_epochs > statement.epochs {
            return Err(PocError::Prover(format!(
                "anchored prefix of {anchored_epochs} epochs is longer than the {} proven",
                statement.epochs
            )));
        }
        self.prove(statement, witness)
    }
}
