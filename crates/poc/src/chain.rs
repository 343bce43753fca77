//! The per-epoch checkpoint hash chain and its incrementally maintained Merkle tree.

use ark_bn254::Fr;

use crate::PocError;
use crate::digest::genesis;
use crate::field::{Digest, from_fr, is_canonical, poseidon4, to_fr};
use crate::merkle::Levels;

/// One link: `Poseidon(prev, weights, metrics, timestamp)` (circom, 4 inputs).
///
/// Inputs must be canonical: a digest `≥ p` has no field encoding the circuit could take,
/// so it is rejected rather than silently reduced. The timestamp (Unix seconds) must be
/// non-negative; it enters the field as the integer itself.
pub fn chain_step(
    prev: &Digest,
    weights: &Digest,
    metrics: &Digest,
    timestamp: i64,
) -> Result<Digest, PocError> {
    let t = u64::try_from(timestamp).map_err(|_| PocError::NegativeTimestamp(timestamp))?;
    let inputs = [to_fr(prev)?, to_fr(weights)?, to_fr(metrics)?, Fr::from(t)];
    Ok(from_fr(&poseidon4(inputs)))
}

/// The running commitment of one job.
///
/// Holds the checkpoint hashes and every level of their Merkle tree, so appending an epoch
/// costs `O(log N)` Poseidon hashes and [`root`](Self::root) is a lookup. Roots and proofs
/// of earlier prefixes (what was anchored at an earlier epoch) are derived from the same
/// levels in `O(log N)`.
#[derive(Debug, Clone)]
pub struct CheckpointChain {
    job_id: [u8; 16],
    tree: Levels,
}

impl CheckpointChain {
    /// An empty chain whose `H_0` is [`genesis(job_id)`](crate::genesis).
    pub fn new(job_id: [u8; 16]) -> Self {
        Self {
            job_id,
            tree: Levels::default(),
        }
    }

    /// Rebuild from stored checkpoint hashes (node restart). Just rebuilds; does not
    /// re-verify the links (that needs the per-epoch inputs — see the prover's check).
    pub fn from_hashes(job_id: [u8; 16], hashes: Vec<Digest>) -> Result<Self, PocError> {
        if !hashes.iter().all(is_canonical) {
            return Err(PocError::NonCanonical);
        }
        Ok(Self {
            job_id,
            tree: Levels::from_leaves(hashes),
        })
    }

    /// The job this chain commits to.
    pub fn job_id(&self) -> [u8; 16] {
        self.job_id
    }

    /// Commits one epoch: computes `H_E` from the current head, appends it as a leaf and
    /// returns it. On error nothing changes.
    pub fn push(
        &mut self,
        weights: &Digest,
        metrics: &Digest,
        timestamp: i64,
    ) -> Result<Digest, PocError> {
        let h = chain_step(&self.head(), weights, metrics, timestamp)?;
        self.tree.push(h);
        Ok(h)
    }

    /// Number of committed epochs.
    pub fn len(&self) -> usize {
        self.tree.len()
    }

    /// Whether no epoch has been committed yet.
    pub fn is_empty(&self) -> bool {
        self.tree.len() == 0
    }

    /// `H_E` of the last epoch, or `H_0 = genesis(job_id)` when empty.
    pub fn head(&self) -> Digest {
        self.hashes()
            .last()
            .copied()
            .unwrap_or_else(|| genesis(&self.job_id))
    }

    /// `H_1..H_E`.
    pub fn hashes(&self) -> &[Digest] {
        self.tree.leaves()
    }

    /// Merkle root over all checkpoint hashes, `None` when empty. `O(1)`.
    pub fn root(&self) -> Option<Digest> {
        self.tree.root()
    }

    /// Root of the tree of the first `epochs` leaves — what was anchored after that epoch.
    pub fn root_at(&self, epochs: usize) -> Result<Digest, PocError> {
        self.check_prefix(epochs)?;
        Ok(self.tree.prefix_root(epochs))
    }

    /// Merkle proof (rs_merkle `to_bytes` layout: sibling hashes bottom-up, 32 bytes each)
    /// of leaf `index` in the tree of the first `of_first` leaves.
    pub fn proof(&self, index: usize, of_first: usize) -> Result<Vec<u8>, PocError> {
        self.check_prefix(of_first)?;
        if index >= of_first {
            return Err(PocError::IndexOutOfRange {
                index,
                len: of_first,
            });
        }
        Ok(self.tree.prefix_proof(index, of_first))
    }

    fn check_prefix(&self, k: usize) -> Result<(), PocError> {
        if k == 0 {
            return Err(PocError::EmptyChain);
        }
        if k > self.len() {
            return Err(PocError::IndexOutOfRange {
                index: k,
                len: self.len(),
            });
        }
        Ok(())
    }
}
