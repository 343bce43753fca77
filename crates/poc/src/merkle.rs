//! The Merkle tree over checkpoint hashes.
//!
//! Shape (identical to `rs_merkle`'s, and the circuit will mirror it): leaves are the
//! checkpoint hashes themselves; each level pairs nodes left to right and a parent is
//! `Poseidon(left, right)`; a level's last node without a right sibling is *promoted
//! unchanged* to the next level (no hashing with itself or with zero). A single leaf is
//! its own root. Proofs are `rs_merkle` proofs: the sibling hashes bottom-up, skipping
//! levels where the path node was promoted, serialised as concatenated 32-byte digests.

use rs_merkle::{Hasher, MerkleProof};
use sha2::{Digest as _, Sha256};

use crate::PocError;
use crate::field::{Digest, hash_pair, is_canonical, reduce};

/// `rs_merkle` hasher: Poseidon parents over BN254 digests.
#[derive(Debug, Clone, Copy, Default)]
pub struct PoseidonMerkle;

impl Hasher for PoseidonMerkle {
    type Hash = Digest;

    /// Only for leaves supplied as raw bytes: SHA-256 reduced mod `p`. This crate never
    /// uses it — checkpoint hashes are inserted as leaves already hashed (they are field
    /// elements), so the circuit sees no extra leaf-hashing layer.
    fn hash(data: &[u8]) -> Digest {
        reduce(&Sha256::digest(data).into())
    }

    /// `Some(right)`: [`hash_pair`]. `None`: `left` promoted unchanged — `rs_merkle`'s
    /// default, restated here because the circuit relies on it.
    fn concat_and_hash(left: &Digest, right: Option<&Digest>) -> Digest {
        match right {
            Some(right) => hash_pair(left, right),
            None => *left,
        }
    }
}

/// Merkle root of `leaves` (`None` when empty); same tree as [`CheckpointChain::root`](crate::CheckpointChain::root).
pub fn merkle_root(leaves: &[Digest]) -> Option<Digest> {
    Levels::from_leaves(leaves.to_vec()).root()
}

/// Splits proof bytes into digests; [`PocError::BadProof`] unless whole canonical digests.
pub fn parse_proof(proof: &[u8]) -> Result<Vec<Digest>, PocError> {
    if !proof.len().is_multiple_of(32) {
        return Err(PocError::BadProof(format!(
            "length {} is not a multiple of 32",
            proof.len()
        )));
    }
    proof
        .chunks_exact(32)
        .enumerate()
        .map(|(i, c)| {
            let d: Digest = c.try_into().expect("chunk of 32");
            if is_canonical(&d) {
                Ok(d)
            } else {
                Err(PocError::BadProof(format!("hash {i} is not canonical")))
            }
        })
        .collect()
}

/// Whether `proof` shows `leaf` at `index` in the tree of `total` leaves with root `root`.
///
/// Strict beyond `rs_merkle`: the proof must hold exactly the number of siblings the path
/// needs (rs_merkle ignores trailing hashes) and every value must be canonical, so one
/// inclusion has one proof encoding — the one the circuit will accept.
pub fn verify_inclusion(
    root: &Digest,
    index: usize,
    leaf: &Digest,
    total: usize,
    proof: &[u8],
) -> bool {
    if index >= total || !is_canonical(root) || !is_canonical(leaf) {
        return false;
    }
    let Ok(hashes) = parse_proof(proof) else {
        return false;
    };
    if hashes.len() != sibling_positions(index, total).count() {
        return false;
    }
    MerkleProof::<PoseidonMerkle>::new(hashes).verify(*root, &[index], &[*leaf], total)
}

/// `(level, sibling index)` of every sibling on leaf `index`'s path in a tree of `k` leaves,
/// bottom-up, skipping levels where the path node is an odd last node (promoted).
fn sibling_positions(index: usize, k: usize) -> impl Iterator<Item = (usize, usize)> {
    let mut width = k;
    let mut j = index;
    let mut level = 0;
    std::iter::from_fn(move || {
        while width > 1 {
            let here = (level, j ^ 1);
            let promoted = j.is_multiple_of(2) && j == width - 1;
            level += 1;
            j /= 2;
            width = width.div_ceil(2);
            if !promoted {
                return Some(here);
            }
        }
        None
    })
}

/// All levels of the tree: `levels[0]` are the leaves, the last level holds the root.
/// Levels stop at the first one-node level (rs_merkle's extra promote-only levels for
/// power-of-two sizes change nothing and are not stored).
#[derive(Debug, Clone)]
pub(crate) struct Levels {
    levels: Vec<Vec<Digest>>,
}

impl Default for Levels {
    fn default() -> Self {
        Self {
            levels: vec![Vec::new()],
        }
    }
}

impl Levels {
    /// Builds level by level: `N - 1` hashes at most.
    pub(crate) fn from_leaves(leaves: Vec<Digest>) -> Self {
        let mut levels = vec![leaves];
        while levels.last().expect("non-empty").len() > 1 {
            let below = levels.last().expect("non-empty");
            let up = below
                .chunks(2)
                .map(|p| PoseidonMerkle::concat_and_hash(&p[0], p.get(1)))
                .collect();
            levels.push(up);
        }
        Self { levels }
    }

    pub(crate) fn len(&self) -> usize {
        self.levels[0].len()
    }

    pub(crate) fn leaves(&self) -> &[Digest] {
        &self.levels[0]
    }

    pub(crate) fn root(&self) -> Option<Digest> {
        let top = self.levels.last().expect("non-empty");
        (top.len() == 1).then(|| top[0])
    }

    /// Appends a leaf and recomputes only its path to the root: one hash per level where
    /// the path node has a left sibling, nothing where it is promoted.
    pub(crate) fn push(&mut self, leaf: Digest) {
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len() > 1 {
            let below = &self.levels[level];
            let j = (below.len() - 1) / 2;
            let parent = PoseidonMerkle::concat_and_hash(&below[2 * j], below.get(2 * j + 1));
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            let up = &mut self.levels[level + 1];
            if up.len() == j {
                up.push(parent);
            } else {
                up[j] = parent;
            }
            level += 1;
        }
    }

    /// Node `j` of `level` in the tree of the first `k` leaves (`1 ≤ k ≤ len`, node exists).
    ///
    /// A node is a function of the leaves it covers, `[j·2^l, min((j+1)·2^l, k))`, alone,
    /// so it equals the stored node whenever the full tree's node covers the same range;
    /// only nodes on the right edge of the prefix are recomputed (one per level).
    fn prefix_node(&self, level: usize, j: usize, k: usize) -> Digest {
        let span_end = (j + 1) << level;
        if span_end <= k || k == self.len() {
            return self.levels[level][j];
        }
        let left = self.prefix_node(level - 1, 2 * j, k);
        let right_start = (2 * j + 1) << (level - 1);
        if right_start < k {
            hash_pair(&left, &self.prefix_node(level - 1, 2 * j + 1, k))
        } else {
            left
        }
    }

    /// Root of the first `k` leaves (`1 ≤ k ≤ len`).
    pub(crate) fn prefix_root(&self, k: usize) -> Digest {
        // Smallest depth whose span covers k leaves.
        let depth = k.next_power_of_two().trailing_zeros() as usize;
        self.prefix_node(depth, 0, k)
    }

    /// rs_merkle proof bytes of leaf `index` in the tree of the first `k` leaves.
    pub(crate) fn prefix_proof(&self, index: usize, k: usize) -> Vec<u8> {
        let siblings = sibling_positions(index, k)
            .map(|(level, j)| self.prefix_node(level, j, k))
            .collect();
        MerkleProof::<PoseidonMerkle>::new(siblings).to_bytes()
    }
}
