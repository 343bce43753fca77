//! Key generation: the **insecure** deterministic development setup, and key files.
//!
//! The development setup draws every Groth16 secret (α, β, γ, δ, τ and the generators)
//! from ChaCha20 seeded with `SHA-256("cyxwiz-circuits insecure dev setup v1" ‖ capacity as
//! u32 LE)` — a seed anyone can recompute, so anyone can forge proofs for these keys. It
//! exists so tests and the localnet agree on keys without files; a deployment uses keys
//! from the multi-party ceremony ([`crate::ceremony`]).

use std::path::Path;

use ark_bn254::{Bn254, Fr, G1Projective, G2Projective};
use ark_ec::CurveGroup;
use ark_ff::{Field, UniformRand};
use ark_groth16::r1cs_to_qap::{LibsnarkReduction, R1CSToQAP};
use ark_groth16::{Groth16, ProvingKey, VerifyingKey};
use ark_poly::{EvaluationDomain, GeneralEvaluationDomain};
use ark_relations::r1cs::{
    ConstraintSynthesizer, ConstraintSystem, OptimizationGoal, SynthesisError, SynthesisMode,
};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};
use rand::SeedableRng;
use rand_chacha::ChaCha20Rng;
use sha2::{Digest as _, Sha256};

use crate::{CircuitError, PocCircuit, capacity_index};

/// Domain string of the development setup's seed (see the module docs).
pub const DEV_SEED_DOMAIN: &[u8] = b"cyxwiz-circuits insecure dev setup v1";

/// The development setup's ChaCha20 seed for `capacity`.
pub fn dev_seed(capacity: usize) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(DEV_SEED_DOMAIN);
    h.update((capacity as u32).to_le_bytes());
    h.finalize().into()
}

/// **INSECURE** deterministic proving key for `capacity` (tests, localnet). Seconds for
/// the small capacities; about a minute and ~1 GB for 1024 on 2 cores.
pub fn insecure_dev_proving_key(capacity: usize) -> Result<ProvingKey<Bn254>, CircuitError> {
    let circuit = PocCircuit::blank(capacity)?;
    let mut rng = ChaCha20Rng::from_seed(dev_seed(capacity));
    Ok(
        Groth16::<Bn254, LibsnarkReduction>::generate_random_parameters_with_reduction(
            circuit, &mut rng,
        )?,
    )
}

/// The verifying key of [`insecure_dev_proving_key`], computed without the proving key.
///
/// Replays the setup's random draws in the same order (α, β, γ, δ, the G1 and G2
/// generators, then τ outside the evaluation domain) and evaluates only the public
/// inputs' QAP polynomials at τ: no multi-scalar multiplications over the whole circuit,
/// so it takes a few seconds even for capacity 1024. A test asserts it equals the full
/// setup's key.
pub fn insecure_dev_verifying_key(capacity: usize) -> Result<VerifyingKey<Bn254>, CircuitError> {
    let circuit = PocCircuit::blank(capacity)?;
    let mut rng = ChaCha20Rng::from_seed(dev_seed(capacity));
    let alpha = Fr::rand(&mut rng);
    let beta = Fr::rand(&mut rng);
    let gamma = Fr::rand(&mut rng);
    let delta = Fr::rand(&mut rng);
    let g1 = G1Projective::rand(&mut rng);
    let g2 = G2Projective::rand(&mut rng);

    let cs = ConstraintSystem::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    circuit.generate_constraints(cs.clone())?;
    cs.finalize();
    let domain_size = cs.num_constraints() + cs.num_instance_variables();
    let domain = GeneralEvaluationDomain::<Fr>::new(domain_size)
        .ok_or(SynthesisError::PolynomialDegreeTooLarge)?;
    let t = domain.sample_element_outside_domain(&mut rng);
    let instances = cs.num_instance_variables();
    let (a, b, c, _, _, _) =
        LibsnarkReduction::instance_map_with_evaluation::<Fr, GeneralEvaluationDomain<Fr>>(cs, &t)?;
    let gamma_inv = gamma.inverse().ok_or(SynthesisError::UnexpectedIdentity)?;
    let gamma_abc_g1 = (0..instances)
        .map(|i| (g1 * ((beta * a[i] + alpha * b[i] + c[i]) * gamma_inv)).into_affine())
        .collect();
    Ok(VerifyingKey {
        alpha_g1: (g1 * alpha).into_affine(),
        beta_g2: (g2 * beta).into_affine(),
        gamma_g2: (g2 * gamma).into_affine(),
        delta_g2: (g2 * delta).into_affine(),
        gamma_abc_g1,
    })
}

/// Number of constraints of the circuit of `capacity` (synthesised in setup mode).
pub fn constraint_count(capacity: usize) -> Result<usize, CircuitError> {
    let cs = ConstraintSystem::<Fr>::new_ref();
    cs.set_optimization_goal(OptimizationGoal::Constraints);
    cs.set_mode(SynthesisMode::Setup);
    PocCircuit::blank(capacity)?.generate_constraints(cs.clone())?;
    cs.finalize();
    Ok(cs.num_constraints())
}

/// Writes a proving key file: the capacity (u32 LE) then the key, arkworks uncompressed.
pub fn write_proving_key(
    path: &Path,
    capacity: usize,
    pk: &ProvingKey<Bn254>,
) -> Result<(), CircuitError> {
    capacity_index(capacity)?;
    let mut bytes = (capacity as u32).to_le_bytes().to_vec();
    pk.serialize_uncompressed(&mut bytes)?;
    std::fs::write(path, bytes).map_err(CircuitError::io(path))
}

/// Reads a proving key file written by [`write_proving_key`] (or `cyxwiz-ceremony export`)
/// for `capacity`.
///
/// Points are not subgroup-checked (that would take minutes for capacity 1024): key files
/// are the prover's own trusted input, and a wrong key only yields proofs that fail —
/// [`Groth16Prover`](crate::Groth16Prover) checks every proof before returning it.
pub fn read_proving_key(path: &Path, capacity: usize) -> Result<ProvingKey<Bn254>, CircuitError> {
    let bytes = std::fs::read(path).map_err(CircuitError::io(path))?;
    let (head, body) = bytes
        .split_first_chunk::<4>()
        .ok_or_else(|| CircuitError::KeyMismatch(format!("{}: too short", path.display())))?;
    let found = u32::from_le_bytes(*head) as usize;
    if found != capacity {
        return Err(CircuitError::KeyMismatch(format!(
            "{} holds the key of capacity {found}, wanted {capacity}",
            path.display()
        )));
    }
    let pk = ProvingKey::<Bn254>::deserialize_with_mode(body, Compress::No, Validate::No)?;
    let expected_inputs = crate::NUM_PUBLIC_INPUTS + 1;
    if pk.vk.gamma_abc_g1.len() != expected_inputs {
        return Err(CircuitError::KeyMismatch(format!(
            "{}: key has {} public inputs, the circuit {}",
            path.display(),
            pk.vk.gamma_abc_g1.len().saturating_sub(1),
            crate::NUM_PUBLIC_INPUTS
        )));
    }
    Ok(pk)
}
