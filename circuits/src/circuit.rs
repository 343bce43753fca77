//! The proof-of-compute circuit: checkpoint chain, Merkle root, final digest, anchored prefix.
//!
//! For capacity `C = 2^D` (one of [`CAPACITIES`]) and `1 ≤ N ≤ C` epochs it proves, with
//! the four public inputs of [`PublicInputs`]:
//!
//! * `header = job_id·2^64 + N·2^32 + k` is decomposed into 192 bits (so it is below
//!   2^192 and `job_id < 2^128`, `N, k < 2^32` are the unique integers it packs);
//! * the private epoch inputs `(w_i, m_i, t_i)`, `i < C` (zero-padded past `N`), chain
//!   `H_0 = job_id`, `H_{i+1} = Poseidon4(H_i, w_i, m_i, t_i)` (circom);
//! * `a_i = [i < N]` and `b_i = [i < k]` are bit vectors with leading ones only
//!   (`a_0 = 1`, `a_i ≤ a_{i-1}`, `b_i ≤ b_{i-1}`, `b_i ≤ a_i`) summing to `N` and `k`,
//!   which enforces `1 ≤ N ≤ C` and `0 ≤ k ≤ N`;
//! * `final_weights_hash = w_{N-1}` (selected with the one-hot `a_i − a_{i+1}`);
//! * the perfect Poseidon2 tree over all `C` leaves `H_1..H_C` is computed; the root of
//!   the promote-odd tree over the first `n` leaves (rs_merkle's rule, `cyxwiz-poc`'s tree)
//!   equals the right fold `P_1, H(P_2, … H(P_{m-1}, P_m))` of the perfect subtrees of
//!   `n`'s binary decomposition, largest first — and those subtrees are nodes of the
//!   perfect tree (they lie inside `[0, n)`, so padding never enters). Per level `l` the
//!   node for bit `l` of `n` is the last node wholly inside `[0, n)` when its index is
//!   even; it is selected with a one-hot read off the `a` (or `b`) bits. `merkle_root`
//!   is this fold for `N`; `anchored_root` is the fold for `k`, or 0 when `k = 0`.
//!
//! Cost: `C` Poseidon4, `C − 1 + 2D` Poseidon2, about `6C` further constraints.

use ark_bn254::Fr;
use ark_ff::{AdditiveGroup, One, Zero};
use ark_r1cs_std::alloc::AllocVar;
use ark_r1cs_std::boolean::Boolean;
use ark_r1cs_std::eq::EqGadget;
use ark_r1cs_std::fields::FieldVar;
use ark_r1cs_std::fields::fp::FpVar;
use ark_relations::r1cs::{ConstraintSynthesizer, ConstraintSystemRef, SynthesisError};
use cyxwiz_poc::{Digest, Statement, Witness};

use crate::CircuitError;
use crate::field::digest_to_fr;
use crate::poseidon::poseidon_var;

/// Circuit capacities (maximum epochs), smallest first. A proof for `N` epochs is made in
/// the smallest capacity `≥ N` ([`capacity_for`]); the verifier picks the key the same way.
pub const CAPACITIES: [usize; 4] = [16, 64, 256, 1024];

/// Most epochs one proof covers.
pub const MAX_EPOCHS: usize = CAPACITIES[CAPACITIES.len() - 1];

/// Number of Groth16 public inputs: `header`, `merkle_root`, `final_weights_hash`,
/// `anchored_root`.
pub const NUM_PUBLIC_INPUTS: usize = 4;

/// The smallest capacity holding `epochs` (1 ≤ epochs ≤ [`MAX_EPOCHS`]).
pub fn capacity_for(epochs: u32) -> Result<usize, CircuitError> {
    CAPACITIES
        .iter()
        .copied()
        .find(|&c| epochs >= 1 && epochs as usize <= c)
        .ok_or(CircuitError::UnsupportedEpochs {
            epochs: epochs.into(),
            max: MAX_EPOCHS,
        })
}

/// Index of `capacity` in [`CAPACITIES`].
pub fn capacity_index(capacity: usize) -> Result<usize, CircuitError> {
    CAPACITIES
        .iter()
        .position(|&c| c == capacity)
        .ok_or(CircuitError::UnknownCapacity(capacity))
}

/// What a proof attests: the escrow's view at `complete_payment`.
///
/// `anchored_epochs`/`anchored_root` are the escrow's `epochs_done`/`merkle_root` before
/// completion (`0`/all zeros when nothing was anchored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PublicInputs {
    pub job_id: [u8; 16],
    pub epochs: u32,
    pub anchored_epochs: u32,
    pub merkle_root: Digest,
    pub final_weights_hash: Digest,
    pub anchored_root: Digest,
}

impl PublicInputs {
    /// A statement extended by the anchored prefix.
    pub fn new(statement: &Statement, anchored_epochs: u32, anchored_root: Digest) -> Self {
        Self {
            job_id: statement.job_id,
            epochs: statement.epochs,
            anchored_epochs,
            merkle_root: statement.merkle_root,
            final_weights_hash: statement.final_weights_hash,
            anchored_root,
        }
    }

    /// Public input 0: `0^8 ‖ job_id ‖ epochs (u32 BE) ‖ anchored_epochs (u32 BE)`, i.e. the
    /// integer `job_id·2^64 + epochs·2^32 + anchored_epochs`, big-endian.
    pub fn header(&self) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[8..24].copy_from_slice(&self.job_id);
        h[24..28].copy_from_slice(&self.epochs.to_be_bytes());
        h[28..32].copy_from_slice(&self.anchored_epochs.to_be_bytes());
        h
    }

    /// The four public inputs as groth16-solana takes them: 32-byte big-endian scalars
    /// `[header, merkle_root, final_weights_hash, anchored_root]`.
    pub fn to_be_scalars(&self) -> [[u8; 32]; NUM_PUBLIC_INPUTS] {
        [
            self.header(),
            self.merkle_root,
            self.final_weights_hash,
            self.anchored_root,
        ]
    }

    /// The public inputs as field elements; errors if a digest is not canonical.
    pub fn to_field(&self) -> Result<[Fr; NUM_PUBLIC_INPUTS], CircuitError> {
        Ok([
            digest_to_fr(&self.header(), "header")?,
            digest_to_fr(&self.merkle_root, "merkle_root")?,
            digest_to_fr(&self.final_weights_hash, "final_weights_hash")?,
            digest_to_fr(&self.anchored_root, "anchored_root")?,
        ])
    }
}

/// Every value the circuit needs, padded to the capacity.
#[derive(Debug, Clone)]
pub struct Assignment {
    public: PublicInputs,
    public_fields: [Fr; NUM_PUBLIC_INPUTS],
    weights: Vec<Fr>,
    metrics: Vec<Fr>,
    timestamps: Vec<Fr>,
}

impl Assignment {
    /// Checks `witness` against `statement` (recomputing the chain from `genesis(job_id)`,
    /// the root and the final digest) and computes the anchored root of the first
    /// `anchored_epochs` epochs. Refuses anything inconsistent or not fitting `capacity`.
    pub fn new(
        statement: &Statement,
        witness: &Witness,
        anchored_epochs: u32,
        capacity: usize,
    ) -> Result<Self, CircuitError> {
        capacity_index(capacity)?;
        let n = statement.epochs;
        if n == 0 || n as usize > capacity {
            return Err(CircuitError::TooManyEpochs {
                epochs: n.into(),
                capacity,
            });
        }
        if witness.len() != n as usize {
            return Err(CircuitError::InconsistentWitness(format!(
                "statement claims {n} epochs, witness has {}",
                witness.len()
            )));
        }
        if anchored_epochs > n {
            return Err(CircuitError::AnchorBeyondChain {
                anchored: anchored_epochs,
                epochs: n,
            });
        }
        let actual = witness
            .statement(statement.job_id)
            .map_err(|e| CircuitError::InconsistentWitness(e.to_string()))?;
        if actual.merkle_root != statement.merkle_root {
            return Err(CircuitError::InconsistentWitness(format!(
                "merkle root: witness gives {}, statement has {}",
                hex::encode(actual.merkle_root),
                hex::encode(statement.merkle_root)
            )));
        }
        if actual.final_weights_hash != statement.final_weights_hash {
            return Err(CircuitError::InconsistentWitness(format!(
                "final weights hash: witness gives {}, statement has {}",
                hex::encode(actual.final_weights_hash),
                hex::encode(statement.final_weights_hash)
            )));
        }
        let anchored_root = if anchored_epochs == 0 {
            [0u8; 32]
        } else {
            cyxwiz_poc::merkle_root(&witness.hashes[..anchored_epochs as usize])
                .expect("non-empty prefix")
        };
        let pad = |v: Vec<Fr>| {
            let mut v = v;
            v.resize(capacity, Fr::zero());
            v
        };
        let digests = |ds: &[Digest], what| {
            ds.iter()
                .map(|d| digest_to_fr(d, what))
                .collect::<Result<Vec<_>, _>>()
        };
        let timestamps = witness
            .timestamps
            .iter()
            .map(|&t| {
                u64::try_from(t).map(Fr::from).map_err(|_| {
                    CircuitError::InconsistentWitness(format!("negative timestamp {t}"))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let public = PublicInputs::new(statement, anchored_epochs, anchored_root);
        Ok(Self {
            public_fields: public.to_field()?,
            public,
            weights: pad(digests(&witness.weights_digests, "weights digest")?),
            metrics: pad(digests(&witness.metrics_digests, "metrics digest")?),
            timestamps: pad(timestamps),
        })
    }

    /// The public inputs this assignment proves.
    pub fn public_inputs(&self) -> &PublicInputs {
        &self.public
    }
}

/// The circuit of one capacity; without an assignment it is the shape used by the setup.
#[derive(Debug, Clone)]
pub struct PocCircuit {
    capacity: usize,
    assignment: Option<Assignment>,
}

impl PocCircuit {
    /// The circuit's shape for a setup (no values).
    pub fn blank(capacity: usize) -> Result<Self, CircuitError> {
        capacity_index(capacity)?;
        Ok(Self {
            capacity,
            assignment: None,
        })
    }

    /// The circuit with values, for proving.
    pub fn with_assignment(capacity: usize, assignment: Assignment) -> Result<Self, CircuitError> {
        capacity_index(capacity)?;
        if assignment.weights.len() != capacity {
            return Err(CircuitError::KeyMismatch(format!(
                "assignment padded to {}, circuit capacity {capacity}",
                assignment.weights.len()
            )));
        }
        Ok(Self {
            capacity,
            assignment: Some(assignment),
        })
    }
}

/// Allocates a witness whose value is read from the assignment (absent during setup).
fn witness<T: Copy>(
    cs: &ConstraintSystemRef<Fr>,
    value: Option<T>,
    to_fr: impl FnOnce(T) -> Fr,
) -> Result<FpVar<Fr>, SynthesisError> {
    FpVar::new_witness(cs.clone(), || {
        value.map(to_fr).ok_or(SynthesisError::AssignmentMissing)
    })
}

fn bit(cs: &ConstraintSystemRef<Fr>, value: Option<bool>) -> Result<FpVar<Fr>, SynthesisError> {
    let b = Boolean::new_witness(cs.clone(), || {
        value.ok_or(SynthesisError::AssignmentMissing)
    })?;
    Ok(FpVar::from(b))
}

/// `x·(1 − y) = 0`, i.e. `x ⇒ y` for bits.
fn implies(x: &FpVar<Fr>, y: &FpVar<Fr>) -> Result<(), SynthesisError> {
    x.mul_equals(&(FpVar::one() - y), &FpVar::zero())
}

/// Bits `[i < count]` for `i < len`, constrained to be leading ones summing to `count`;
/// `first_one` forces bit 0 (count ≥ 1).
fn prefix_bits(
    cs: &ConstraintSystemRef<Fr>,
    len: usize,
    count: Option<u32>,
    count_var: &FpVar<Fr>,
    first_one: bool,
) -> Result<Vec<FpVar<Fr>>, SynthesisError> {
    let mut bits: Vec<FpVar<Fr>> = Vec::with_capacity(len);
    for i in 0..len {
        let b = bit(cs, count.map(|c| (i as u64) < u64::from(c)))?;
        match bits.last() {
            Some(prev) => implies(&b, prev)?,
            None if first_one => b.enforce_equal(&FpVar::one())?,
            None => {}
        }
        bits.push(b);
    }
    let sum = bits.iter().fold(FpVar::zero(), |acc, b| acc + b);
    sum.enforce_equal(count_var)?;
    Ok(bits)
}

/// Root of the promote-odd tree over the first `count` leaves, `count` given by its
/// prefix bits, from the perfect tree's levels (`levels[l][j]` covers leaves
/// `[j·2^l, (j+1)·2^l)`). Returns garbage-but-defined (0) for `count = 0`.
fn prefix_root(
    cs: &ConstraintSystemRef<Fr>,
    levels: &[Vec<FpVar<Fr>>],
    bits: &[FpVar<Fr>],
) -> Result<FpVar<Fr>, SynthesisError> {
    let mut acc = FpVar::zero();
    let mut seen = FpVar::zero(); // some lower bit of count was set
    for (l, nodes) in levels.iter().enumerate() {
        // full[j] = node j lies wholly inside [0, count) = bit of its last leaf.
        let full = |j: usize| -> FpVar<Fr> {
            if j < nodes.len() {
                bits[((j + 1) << l) - 1].clone()
            } else {
                FpVar::zero()
            }
        };
        // One-hot of the last full node, kept only at even indices: its sum is bit l of
        // count, and the selected node is the perfect subtree for that bit.
        let mut bit_l = FpVar::zero();
        let mut sel = FpVar::zero();
        for j in (0..nodes.len()).step_by(2) {
            let e = full(j) - full(j + 1);
            sel += &e * &nodes[j];
            bit_l += e;
        }
        let folded = if l == 0 {
            sel.clone()
        } else {
            // acc holds the fold of the smaller subtrees (to the right) when seen = 1.
            let h = poseidon_var(cs.clone(), &[sel.clone(), acc.clone()])?;
            &sel + &seen * (h - &sel)
        };
        acc = &acc + &bit_l * (folded - &acc);
        seen = &seen + &bit_l - &seen * &bit_l;
    }
    Ok(acc)
}

impl ConstraintSynthesizer<Fr> for PocCircuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<Fr>) -> Result<(), SynthesisError> {
        let c = self.capacity;
        let a = self.assignment.as_ref();
        let public = a.map(|a| a.public);
        let input = |i: usize| {
            FpVar::new_input(cs.clone(), || {
                a.map(|a| a.public_fields[i])
                    .ok_or(SynthesisError::AssignmentMissing)
            })
        };
        let header = input(0)?;
        let merkle_root = input(1)?;
        let final_weights = input(2)?;
        let anchored_root = input(3)?;

        // header = Σ bit_i 2^i over 192 bits: k = bits 0..32, N = 32..64, job = 64..192.
        let header_int = public.map(|p| p.header());
        let header_bits: Vec<FpVar<Fr>> = (0..192)
            .map(|i| bit(&cs, header_int.map(|h| (h[31 - i / 8] >> (i % 8)) & 1 == 1)))
            .collect::<Result<_, _>>()?;
        let pack = |range: std::ops::Range<usize>| {
            let mut acc = FpVar::<Fr>::zero();
            let mut coeff = Fr::one();
            for i in range {
                acc += &header_bits[i] * coeff;
                coeff.double_in_place();
            }
            acc
        };
        let k = pack(0..32);
        let n = pack(32..64);
        let job = pack(64..192);
        (pack(0..192)).enforce_equal(&header)?;

        let active = prefix_bits(&cs, c, public.map(|p| p.epochs), &n, true)?;
        let anchored = prefix_bits(&cs, c, public.map(|p| p.anchored_epochs), &k, false)?;
        for (b, a) in anchored.iter().zip(&active) {
            implies(b, a)?;
        }

        // The chain, H_0 = job id.
        let mut head = job;
        let mut leaves = Vec::with_capacity(c);
        let mut weights = Vec::with_capacity(c);
        for i in 0..c {
            let w = witness(&cs, a, |a| a.weights[i])?;
            let m = witness(&cs, a, |a| a.metrics[i])?;
            let t = witness(&cs, a, |a| a.timestamps[i])?;
            head = poseidon_var(cs.clone(), &[head, w.clone(), m, t])?;
            leaves.push(head.clone());
            weights.push(w);
        }

        // Final weights digest = w_{N-1}: one-hot a_i − a_{i+1}.
        let mut last = FpVar::zero();
        for i in 0..c {
            let next = active.get(i + 1).cloned().unwrap_or_else(FpVar::zero);
            last += (&active[i] - next) * &weights[i];
        }
        last.enforce_equal(&final_weights)?;

        // Perfect tree over all C leaves.
        let mut levels = vec![leaves];
        while levels.last().expect("non-empty").len() > 1 {
            let below = levels.last().expect("non-empty");
            let up = below
                .chunks(2)
                .map(|p| poseidon_var(cs.clone(), &[p[0].clone(), p[1].clone()]))
                .collect::<Result<Vec<_>, _>>()?;
            levels.push(up);
        }

        prefix_root(&cs, &levels, &active)?.enforce_equal(&merkle_root)?;
        let anchored_fold = prefix_root(&cs, &levels, &anchored)?;
        (&anchored[0] * anchored_fold).enforce_equal(&anchored_root)?;
        Ok(())
    }
}

/// The public inputs a witness supports for `anchored_epochs`, computed natively (what a
/// node hands `complete_payment`, and what the circuit recomputes).
pub fn public_inputs(
    job_id: [u8; 16],
    witness: &Witness,
    anchored_epochs: u32,
) -> Result<PublicInputs, CircuitError> {
    let statement = witness
        .statement(job_id)
        .map_err(|e| CircuitError::InconsistentWitness(e.to_string()))?;
    let capacity = capacity_for(statement.epochs)?;
    Ok(*Assignment::new(&statement, witness, anchored_epochs, capacity)?.public_inputs())
}
