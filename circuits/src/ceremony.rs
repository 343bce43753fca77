//! Multi-party Groth16 phase-2 ceremony (the δ update of Bowe–Gabizon–Miers 2017).
//!
//! A transcript starts from initial parameters ([`Transcript::init`]) and collects
//! contributions. Contributor `j` draws a secret `s_j ≠ 0` and replaces
//! `δ ← s_j·δ` (in G1 and G2) and every `h_query`/`l_query` element `P ← s_j^{-1}·P`,
//! so the final δ is `δ_0·Π s_j` and unknown unless **every** contributor colluded. With
//! it the contributor publishes `s_j·G1` and `s_j·R_j`, where
//! `R_j = HashToG2(h_{j−1} ‖ s_j·G1 ‖ δ_j)` and `h_{j−1}` is the hash of the transcript so
//! far: a proof of knowledge of `s_j` bound to this transcript, which cannot be copied
//! from another ceremony or computed from earlier contributions.
//!
//! [`Transcript::verify`] checks, for every contribution (δ_{j−1} → δ_j):
//!
//! 1. `e(s_j·G1, R_j) = e(G1, s_j·R_j)` — knowledge of `s_j`;
//! 2. `e(δ_j^{G1}, R_j) = e(δ_{j−1}^{G1}, s_j·R_j)` — `δ_j = s_j·δ_{j−1}`;
//! 3. `e(δ_j^{G1}, β^{G2}) = e(β^{G1}, δ_j^{G2})` — G1 and G2 δ agree;
//!
//! and for the current queries `e(Σρ_i·H_i, δ_m^{G2}) = e(Σρ_i·H_i^{(0)}, δ_0^{G2})` over
//! `h_query ‖ l_query` against the initial ones — so they were divided by exactly the
//! product of the secrets. All equations are batched into one multi-pairing with fresh
//! random 128-bit coefficients (a false equation survives with probability ≈ 2^{-128}).
//! Everything else in the key is the initial parameters' by construction (only the four
//! changing fields are stored beyond them).
//!
//! **Limit:** phase 2 randomises δ only. α, β, γ and τ come from the initial parameters;
//! whoever made them (`init` uses fresh OS randomness and forgets it) must be trusted, or
//! they must come from a phase-1 powers-of-tau ceremony — see `docs/proof-of-compute.md`.
//!
//! File format (all points arkworks uncompressed, little-endian; lengths u64 LE as
//! arkworks writes them): magic `CYXWIZ-CEREMONY-v1`, capacity u32 LE, initial
//! `ProvingKey`, contribution count u32 LE, contributions (`δ^{G1}`, `δ^{G2}`, `s·G1`,
//! `s·R`, label as u64 length + UTF-8), current `h_query`, current `l_query`.

use std::io::{Read, Write};
use std::path::Path;

use ark_bn254::{Bn254, Fr, G1Affine, G1Projective, G2Affine};
use ark_ec::pairing::Pairing;
use ark_ec::{AffineRepr, CurveGroup, PrimeGroup, VariableBaseMSM};
use ark_ff::{Field, One, PrimeField, UniformRand, Zero};
use ark_groth16::ProvingKey;
use ark_groth16::r1cs_to_qap::LibsnarkReduction;
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rand::{CryptoRng, Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;
use rayon::prelude::*;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroize;

use crate::{CircuitError, PocCircuit, capacity_index};

const MAGIC: &[u8] = b"CYXWIZ-CEREMONY-v1";
const PARAMS_DOMAIN: &[u8] = b"cyxwiz-ceremony-params-v1";
const POK_DOMAIN: &[u8] = b"cyxwiz-ceremony-pok-v1";
/// Longest participant label.
pub const MAX_LABEL: usize = 256;

/// One participant's published update.
#[derive(Debug, Clone, PartialEq, Eq, CanonicalSerialize, CanonicalDeserialize)]
pub struct Contribution {
    /// δ after this contribution, in G1.
    pub delta_g1: G1Affine,
    /// δ after this contribution, in G2.
    pub delta_g2: G2Affine,
    /// `s·G1` (standard generator).
    pub s_g1: G1Affine,
    /// `s·R`, `R` hashed to G2 from the transcript so far, `s·G1` and the new δ.
    pub s_r_g2: G2Affine,
    /// Free-form participant label (≤ [`MAX_LABEL`] bytes), covered by the hash chain.
    pub label: String,
}

/// A ceremony transcript for one capacity.
#[derive(Debug, Clone, PartialEq)]
pub struct Transcript {
    pub capacity: usize,
    /// The parameters the ceremony started from.
    pub initial: ProvingKey<Bn254>,
    pub contributions: Vec<Contribution>,
    /// `h_query` after the last contribution.
    pub h_query: Vec<G1Affine>,
    /// `l_query` after the last contribution.
    pub l_query: Vec<G1Affine>,
}

/// Hash-to-G2: try-and-increment on ChaCha20 seeded with `seed`, cofactor cleared. The
/// discrete logarithm of the point is unknown to everyone.
fn hash_to_g2(seed: [u8; 32]) -> G2Affine {
    let mut rng = ChaCha20Rng::from_seed(seed);
    loop {
        let p = G2Affine::rand(&mut rng);
        if !p.is_zero() {
            return p;
        }
    }
}

fn pok_base(prev_hash: &[u8; 32], s_g1: &G1Affine, delta_g1: &G1Affine) -> G2Affine {
    let mut h = Sha256::new();
    h.update(POK_DOMAIN);
    h.update(prev_hash);
    let mut buf = Vec::new();
    s_g1.serialize_uncompressed(&mut buf).expect("vec");
    delta_g1.serialize_uncompressed(&mut buf).expect("vec");
    h.update(&buf);
    hash_to_g2(h.finalize().into())
}

/// Multiplies every point by `s`, in parallel.
fn scale(points: &[G1Affine], s: Fr) -> Vec<G1Affine> {
    let proj: Vec<G1Projective> = points.par_iter().map(|p| *p * s).collect();
    G1Projective::normalize_batch(&proj)
}

impl Transcript {
    /// Starts a ceremony from fresh parameters for `capacity` (arkworks setup drawing
    /// α, β, γ, δ, τ from `rng`, which the caller must then forget).
    pub fn init<R: RngCore + CryptoRng>(
        capacity: usize,
        rng: &mut R,
    ) -> Result<Self, CircuitError> {
        let circuit = PocCircuit::blank(capacity)?;
        let pk = ark_groth16::Groth16::<Bn254, LibsnarkReduction>::generate_random_parameters_with_reduction(
            circuit, rng,
        )?;
        Ok(Self::from_initial(capacity, pk))
    }

    /// Starts a ceremony from given parameters (e.g. the development key, in tests).
    pub fn from_initial(capacity: usize, initial: ProvingKey<Bn254>) -> Self {
        Self {
            capacity,
            h_query: initial.h_query.clone(),
            l_query: initial.l_query.clone(),
            initial,
            contributions: Vec::new(),
        }
    }

    /// δ after the last contribution (the initial δ when there is none).
    pub fn current_delta(&self) -> (G1Affine, G2Affine) {
        match self.contributions.last() {
            Some(c) => (c.delta_g1, c.delta_g2),
            None => (self.initial.delta_g1, self.initial.vk.delta_g2),
        }
    }

    /// `h_0`: SHA-256 of the domain, the capacity and the initial parameters.
    pub fn initial_hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(PARAMS_DOMAIN);
        h.update((self.capacity as u32).to_le_bytes());
        let mut buf = Vec::new();
        self.initial
            .serialize_uncompressed(&mut buf)
            .expect("serialising to a vec");
        h.update(&buf);
        h.finalize().into()
    }

    /// Hashes `h_0, h_1, …, h_m`: `h_j = SHA-256(h_{j−1} ‖ contribution_j)`. `h_j` is
    /// what participant `j` records to find their contribution later; `h_m` identifies the
    /// whole transcript.
    pub fn hashes(&self) -> Vec<[u8; 32]> {
        let mut out = vec![self.initial_hash()];
        for c in &self.contributions {
            let mut buf = Vec::new();
            c.serialize_uncompressed(&mut buf).expect("vec");
            let mut h = Sha256::new();
            h.update(out.last().expect("non-empty"));
            h.update(&buf);
            out.push(h.finalize().into());
        }
        out
    }

    /// Adds a contribution with a secret drawn from `rng` (mix in the OS generator: see
    /// the `cyxwiz-ceremony` binary). Returns the new transcript hash. The secret is
    /// zeroised before returning.
    pub fn contribute<R: RngCore + CryptoRng>(
        &mut self,
        label: &str,
        rng: &mut R,
    ) -> Result<[u8; 32], CircuitError> {
        if label.len() > MAX_LABEL {
            return Err(CircuitError::Transcript(format!(
                "label longer than {MAX_LABEL} bytes"
            )));
        }
        let prev_hash = *self.hashes().last().expect("non-empty");
        let mut s = loop {
            let s = Fr::rand(rng);
            if !s.is_zero() {
                break s;
            }
        };
        let mut s_inv = s.inverse().expect("non-zero");
        let (d1, d2) = self.current_delta();
        let delta_g1 = (d1 * s).into_affine();
        let delta_g2 = (d2 * s).into_affine();
        let s_g1 = (G1Projective::generator() * s).into_affine();
        let r = pok_base(&prev_hash, &s_g1, &delta_g1);
        let s_r_g2 = (r * s).into_affine();
        self.h_query = scale(&self.h_query, s_inv);
        self.l_query = scale(&self.l_query, s_inv);
        s.zeroize();
        s_inv.zeroize();
        self.contributions.push(Contribution {
            delta_g1,
            delta_g2,
            s_g1,
            s_r_g2,
            label: label.to_owned(),
        });
        Ok(*self.hashes().last().expect("non-empty"))
    }

    /// Verifies the whole transcript back to the initial parameters (see the module
    /// docs), with the verifier's own randomness for the batching coefficients. Returns
    /// the transcript hashes `h_0..h_m`.
    pub fn verify<R: Rng>(&self, rng: &mut R) -> Result<Vec<[u8; 32]>, CircuitError> {
        let bad = |m: String| Err(CircuitError::Transcript(m));
        capacity_index(self.capacity)?;
        if self.h_query.len() != self.initial.h_query.len()
            || self.l_query.len() != self.initial.l_query.len()
        {
            return bad("query lengths differ from the initial parameters".into());
        }
        let hashes = self.hashes();
        let g1 = G1Affine::generator();
        let beta_g1 = self.initial.beta_g1;
        let beta_g2 = self.initial.vk.beta_g2;
        let mut left: Vec<G1Affine> = Vec::new();
        let mut right: Vec<G2Affine> = Vec::new();
        // Adds ρ·(e(a, b) / e(c, d)) to the batch.
        let mut push = |a: G1Affine, b: G2Affine, c: G1Affine, d: G2Affine, rho: Fr| {
            left.push((a * rho).into_affine());
            right.push(b);
            left.push((-(c * rho)).into_affine());
            right.push(d);
        };
        let rand128 = |rng: &mut R| Fr::from(rng.r#gen::<u128>()) + Fr::one();

        let (mut prev_g1, mut prev_g2) = (self.initial.delta_g1, self.initial.vk.delta_g2);
        if prev_g1.is_zero() || prev_g2.is_zero() {
            return bad("initial delta is the identity".into());
        }
        push(prev_g1, beta_g2, beta_g1, prev_g2, rand128(rng));
        for (j, c) in self.contributions.iter().enumerate() {
            if c.label.len() > MAX_LABEL {
                return bad(format!("contribution {}: label too long", j + 1));
            }
            if c.s_g1.is_zero()
                || c.delta_g1.is_zero()
                || c.delta_g2.is_zero()
                || c.s_r_g2.is_zero()
            {
                return bad(format!("contribution {}: identity point", j + 1));
            }
            let r = pok_base(&hashes[j], &c.s_g1, &c.delta_g1);
            push(c.s_g1, r, g1, c.s_r_g2, rand128(rng));
            push(c.delta_g1, r, prev_g1, c.s_r_g2, rand128(rng));
            push(c.delta_g1, beta_g2, beta_g1, c.delta_g2, rand128(rng));
            (prev_g1, prev_g2) = (c.delta_g1, c.delta_g2);
        }
        // Queries: Σρ_i·P_i (current) against Σρ_i·P_i (initial).
        let n = self.h_query.len() + self.l_query.len();
        let rhos: Vec<Fr> = (0..n).map(|_| rand128(rng)).collect();
        let current: Vec<G1Affine> = self.h_query.iter().chain(&self.l_query).copied().collect();
        let initial: Vec<G1Affine> = self
            .initial
            .h_query
            .iter()
            .chain(&self.initial.l_query)
            .copied()
            .collect();
        let cur = G1Projective::msm(&current, &rhos)
            .expect("equal lengths")
            .into_affine();
        let ini = G1Projective::msm(&initial, &rhos)
            .expect("equal lengths")
            .into_affine();
        push(cur, prev_g2, ini, self.initial.vk.delta_g2, Fr::one());

        if Bn254::multi_pairing(left, right).is_zero() {
            Ok(hashes)
        } else {
            bad("pairing checks failed (a contribution or the queries do not follow)".into())
        }
    }

    /// The proving key after the last contribution.
    pub fn proving_key(&self) -> ProvingKey<Bn254> {
        let mut pk = self.initial.clone();
        let (d1, d2) = self.current_delta();
        pk.delta_g1 = d1;
        pk.vk.delta_g2 = d2;
        pk.h_query = self.h_query.clone();
        pk.l_query = self.l_query.clone();
        pk
    }

    /// Writes the transcript file.
    pub fn write_to<W: Write>(&self, mut w: W) -> Result<(), CircuitError> {
        let io = |e: std::io::Error| CircuitError::Serialization(e.into());
        w.write_all(MAGIC).map_err(io)?;
        w.write_all(&(self.capacity as u32).to_le_bytes())
            .map_err(io)?;
        self.initial.serialize_uncompressed(&mut w)?;
        w.write_all(&(self.contributions.len() as u32).to_le_bytes())
            .map_err(io)?;
        for c in &self.contributions {
            c.serialize_uncompressed(&mut w)?;
        }
        self.h_query.serialize_uncompressed(&mut w)?;
        self.l_query.serialize_uncompressed(&mut w)?;
        Ok(())
    }

    /// Reads a transcript file, checking every point is on the curve and in the subgroup.
    pub fn read_from<Rd: Read>(mut r: Rd) -> Result<Self, CircuitError> {
        let io = |e: std::io::Error| CircuitError::Serialization(e.into());
        let mut magic = [0u8; MAGIC.len()];
        r.read_exact(&mut magic).map_err(io)?;
        if magic != MAGIC {
            return Err(CircuitError::Transcript(
                "not a cyxwiz ceremony transcript".into(),
            ));
        }
        let mut u32b = [0u8; 4];
        r.read_exact(&mut u32b).map_err(io)?;
        let capacity = u32::from_le_bytes(u32b) as usize;
        capacity_index(capacity)?;
        let (c, v) = (Compress::No, Validate::Yes);
        let initial = ProvingKey::<Bn254>::deserialize_with_mode(&mut r, c, v)?;
        r.read_exact(&mut u32b).map_err(io)?;
        let count = u32::from_le_bytes(u32b);
        let mut contributions = Vec::new();
        for _ in 0..count {
            contributions.push(Contribution::deserialize_with_mode(&mut r, c, v)?);
        }
        let h_query = Vec::<G1Affine>::deserialize_with_mode(&mut r, c, v)?;
        let l_query = Vec::<G1Affine>::deserialize_with_mode(&mut r, c, v)?;
        let mut rest = [0u8; 1];
        if r.read(&mut rest).map_err(io)? != 0 {
            return Err(CircuitError::Transcript("trailing bytes".into()));
        }
        Ok(Self {
            capacity,
            initial,
            contributions,
            h_query,
            l_query,
        })
    }

    /// Writes to `path` (via a temporary file and rename).
    pub fn save(&self, path: &Path) -> Result<(), CircuitError> {
        let tmp = path.with_extension("tmp");
        let f = std::fs::File::create(&tmp).map_err(CircuitError::io(&tmp))?;
        let mut w = std::io::BufWriter::new(f);
        self.write_to(&mut w)?;
        w.flush().map_err(CircuitError::io(&tmp))?;
        drop(w);
        std::fs::rename(&tmp, path).map_err(CircuitError::io(path))
    }

    /// Reads from `path`.
    pub fn load(path: &Path) -> Result<Self, CircuitError> {
        let f = std::fs::File::open(path).map_err(CircuitError::io(path))?;
        Self::read_from(std::io::BufReader::new(f))
    }
}

/// The randomness a contributor uses: ChaCha20 seeded with
/// `SHA-256(32 bytes from the OS ‖ extra entropy)`, so neither a weak OS generator nor a
/// guessable string alone determines the secret.
pub fn contribution_rng(extra_entropy: &[u8]) -> ChaCha20Rng {
    let mut os = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut os);
    let mut h = Sha256::new();
    h.update(os);
    h.update(extra_entropy);
    os.zeroize();
    ChaCha20Rng::from_seed(h.finalize().into())
}

/// Re-exported so tests and tools can name the scalar field's modulus bits.
pub const SCALAR_BITS: u32 = Fr::MODULUS_BIT_SIZE;

/// Path of an exported verifying key in a key directory.
pub fn verifying_key_file(dir: &Path, capacity: usize) -> std::path::PathBuf {
    dir.join(format!("vk-{capacity}.bin"))
}

/// Writes `DIR/pk-<capacity>.bin` (the prover's key file) and `DIR/vk-<capacity>.bin`
/// (arkworks uncompressed `VerifyingKey`, what `cyxwiz-vkgen --from-dir` reads) from a
/// transcript, after verifying it.
pub fn export(transcript: &Transcript, dir: &Path) -> Result<[u8; 32], CircuitError> {
    let hashes = transcript.verify(&mut rand::rngs::OsRng)?;
    let pk = transcript.proving_key();
    std::fs::create_dir_all(dir).map_err(CircuitError::io(dir))?;
    crate::setup::write_proving_key(
        &crate::KeySource::key_file(dir, transcript.capacity),
        transcript.capacity,
        &pk,
    )?;
    let mut vk = Vec::new();
    pk.vk.serialize_uncompressed(&mut vk)?;
    let path = verifying_key_file(dir, transcript.capacity);
    std::fs::write(&path, vk).map_err(CircuitError::io(&path))?;
    Ok(*hashes.last().expect("non-empty"))
}

/// Reads `DIR/vk-<capacity>.bin` (points validated).
pub fn read_verifying_key(
    dir: &Path,
    capacity: usize,
) -> Result<ark_groth16::VerifyingKey<Bn254>, CircuitError> {
    let path = verifying_key_file(dir, capacity);
    let bytes = std::fs::read(&path).map_err(CircuitError::io(&path))?;
    let vk = ark_groth16::VerifyingKey::<Bn254>::deserialize_with_mode(
        &bytes[..],
        Compress::No,
        Validate::Yes,
    )?;
    if vk.gamma_abc_g1.len() != crate::NUM_PUBLIC_INPUTS + 1 {
        return Err(CircuitError::KeyMismatch(format!(
            "{}: wrong number of public inputs",
            path.display()
        )));
    }
    Ok(vk)
}
