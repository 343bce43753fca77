//! groth16-solana 0.3.1 byte formats: proofs, public inputs and verifying keys.
//!
//! * G1 point (64 bytes): `x ‖ y`, each coordinate 32 bytes big-endian — arkworks'
//!   uncompressed little-endian serialisation with each 32-byte half reversed.
//! * G2 point (128 bytes): `x ‖ y`, each an `Fq2` written `c1 ‖ c0` big-endian (EIP-197
//!   order) — arkworks' uncompressed serialisation with each 64-byte half reversed.
//! * Proof (256 bytes): `−A ‖ B ‖ C` — `A` **negated**, because groth16-solana checks
//!   `e(−A, B)·e(IC, γ)·e(C, δ)·e(α, β) = 1` in one pairing call.
//! * Public inputs: 32-byte big-endian scalars ([`PublicInputs::to_be_scalars`](crate::PublicInputs::to_be_scalars)).

use ark_bn254::{Bn254, G1Affine, G2Affine};
use ark_groth16::{Proof, VerifyingKey};
use ark_serialize::{CanonicalDeserialize, CanonicalSerialize, Compress, Validate};

use crate::{CAPACITIES, CircuitError, NUM_PUBLIC_INPUTS};

/// Size of a proof in groth16-solana's uncompressed format.
pub const PROOF_LEN: usize = 256;

fn reverse_chunks<const N: usize>(bytes: &mut [u8]) {
    bytes.chunks_exact_mut(N).for_each(<[u8]>::reverse);
}

/// A G1 point as groth16-solana takes it.
pub fn g1_to_be(p: &G1Affine) -> [u8; 64] {
    let mut out = [0u8; 64];
    p.serialize_with_mode(&mut out[..], Compress::No)
        .expect("64 bytes hold an uncompressed G1 point");
    // arkworks keeps two flag bits in the top of y; the standard (EIP-197) encoding the
    // alt_bn128 syscalls define has plain coordinates < q, so they are cleared.
    out[63] &= FLAG_MASK;
    reverse_chunks::<32>(&mut out);
    out
}

/// Clears arkworks' two serialisation flag bits (q < 2^254, so they are never value bits).
const FLAG_MASK: u8 = 0x3f;

/// `q`, the BN254 base field modulus, big-endian.
const BASE_MODULUS_BE: [u8; 32] = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d,
    0x97, 0x81, 0x6a, 0x91, 0x68, 0x71, 0xca, 0x8d, 0x3c, 0x20, 0x8c, 0x16, 0xd8, 0x7c, 0xfd, 0x47,
];

/// Whether every 32-byte big-endian coordinate is a canonical base field element, so a
/// point has exactly one encoding.
pub fn coordinates_canonical(bytes: &[u8]) -> bool {
    bytes.len().is_multiple_of(32)
        && bytes
            .chunks_exact(32)
            .all(|c| c < BASE_MODULUS_BE.as_slice())
}

/// A G2 point as groth16-solana takes it.
pub fn g2_to_be(p: &G2Affine) -> [u8; 128] {
    let mut out = [0u8; 128];
    p.serialize_with_mode(&mut out[..], Compress::No)
        .expect("128 bytes hold an uncompressed G2 point");
    out[127] &= FLAG_MASK;
    reverse_chunks::<64>(&mut out);
    out
}

/// Parses a G1 point (on-curve and subgroup checked).
pub fn g1_from_be(bytes: &[u8; 64]) -> Result<G1Affine, CircuitError> {
    if !coordinates_canonical(bytes) {
        return Err(CircuitError::MalformedProof(
            "G1 coordinate not below the modulus",
        ));
    }
    let mut le = *bytes;
    reverse_chunks::<32>(&mut le);
    G1Affine::deserialize_with_mode(&le[..], Compress::No, Validate::Yes)
        .map_err(|_| CircuitError::MalformedProof("G1 point not on the curve"))
}

/// Parses a G2 point (on-curve and subgroup checked).
pub fn g2_from_be(bytes: &[u8; 128]) -> Result<G2Affine, CircuitError> {
    if !coordinates_canonical(bytes) {
        return Err(CircuitError::MalformedProof(
            "G2 coordinate not below the modulus",
        ));
    }
    let mut le = *bytes;
    reverse_chunks::<64>(&mut le);
    G2Affine::deserialize_with_mode(&le[..], Compress::No, Validate::Yes).map_err(|_| {
        CircuitError::MalformedProof("G2 point not on the curve or not in the subgroup")
    })
}

/// `−A ‖ B ‖ C`.
pub fn proof_to_bytes(proof: &Proof<Bn254>) -> [u8; PROOF_LEN] {
    let mut out = [0u8; PROOF_LEN];
    out[..64].copy_from_slice(&g1_to_be(&(-proof.a)));
    out[64..192].copy_from_slice(&g2_to_be(&proof.b));
    out[192..].copy_from_slice(&g1_to_be(&proof.c));
    out
}

/// Inverse of [`proof_to_bytes`] (un-negates `A`).
pub fn proof_from_bytes(bytes: &[u8; PROOF_LEN]) -> Result<Proof<Bn254>, CircuitError> {
    let (a, rest) = bytes.split_first_chunk::<64>().expect("256 bytes");
    let (b, c) = rest.split_first_chunk::<128>().expect("192 bytes");
    let c: &[u8; 64] = c.try_into().expect("64 bytes");
    Ok(Proof {
        a: -g1_from_be(a)?,
        b: g2_from_be(b)?,
        c: g1_from_be(c)?,
    })
}

/// A verifying key in groth16-solana's `Groth16Verifyingkey` layout (owned).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolanaVerifyingKey {
    pub alpha_g1: [u8; 64],
    pub beta_g2: [u8; 128],
    pub gamma_g2: [u8; 128],
    pub delta_g2: [u8; 128],
    /// `IC_0..IC_4` (`nr_pubinputs + 1` points).
    pub ic: Vec<[u8; 64]>,
}

impl SolanaVerifyingKey {
    /// Converts an arkworks key.
    pub fn new(vk: &VerifyingKey<Bn254>) -> Self {
        Self {
            alpha_g1: g1_to_be(&vk.alpha_g1),
            beta_g2: g2_to_be(&vk.beta_g2),
            gamma_g2: g2_to_be(&vk.gamma_g2),
            delta_g2: g2_to_be(&vk.delta_g2),
            ic: vk.gamma_abc_g1.iter().map(g1_to_be).collect(),
        }
    }

    /// Number of public inputs the key takes.
    pub fn nr_pubinputs(&self) -> usize {
        self.ic.len().saturating_sub(1)
    }
}

/// How a generated key file describes its setup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetupKind {
    /// [`insecure_dev_verifying_key`](crate::setup::insecure_dev_verifying_key): forgeable.
    InsecureDev,
    /// Exported from a verified ceremony transcript.
    Ceremony,
}

fn bytes_literal(bytes: &[u8], indent: &str) -> String {
    let mut s = String::from("[\n");
    for line in bytes.chunks(16) {
        s.push_str(indent);
        s.push_str("    ");
        let items: Vec<String> = line.iter().map(|b| format!("{b:#04x}")).collect();
        s.push_str(&items.join(", "));
        s.push_str(",\n");
    }
    s.push_str(indent);
    s.push(']');
    s
}

/// Rust source declaring one `Groth16Verifyingkey` per capacity (`VERIFYING_KEY_<C>`),
/// `CAPACITIES`, `INSECURE_DEV_SETUP` and `verifying_key_for(epochs)` (the smallest
/// capacity holding `epochs`, as the prover picks it). `keys` must be in [`CAPACITIES`]
/// order, one per capacity.
pub fn verifying_keys_rust_source(
    keys: &[SolanaVerifyingKey],
    kind: SetupKind,
    generator: &str,
) -> Result<String, CircuitError> {
    if keys.len() != CAPACITIES.len() {
        return Err(CircuitError::KeyMismatch(format!(
            "{} keys for {} capacities",
            keys.len(),
            CAPACITIES.len()
        )));
    }
    let mut s = String::new();
    s.push_str(&format!(
        "// Groth16 verifying keys of the CyxWiz proof-of-compute circuit, one per capacity.\n\
         //\n\
         // GENERATED by `{generator}` — do not edit; a check fails when it drifts.\n"
    ));
    match kind {
        SetupKind::InsecureDev => s.push_str(
            "//\n// INSECURE: from the deterministic development setup, whose secrets anyone can\n\
             // recompute (seed in `cyxwiz-circuits` `setup.rs`). Anyone can forge proofs for\n\
             // these keys; for tests and localnets only.\n",
        ),
        SetupKind::Ceremony => {
            s.push_str("//\n// From a verified multi-party phase-2 ceremony transcript.\n")
        }
    }
    s.push_str(
        "//\n// Public inputs (32-byte big-endian scalars): `[header, merkle_root,\n\
         // final_weights_hash, anchored_root]`, header = `0^8 ‖ job_id ‖ epochs u32 BE ‖\n\
         // anchored_epochs u32 BE`.\n\n\
         use groth16_solana::groth16::Groth16Verifyingkey;\n\n",
    );
    s.push_str(&format!(
        "/// Whether these keys come from the insecure development setup.\n\
         pub const INSECURE_DEV_SETUP: bool = {};\n\n",
        kind == SetupKind::InsecureDev
    ));
    s.push_str(&format!(
        "/// Number of public inputs.\npub const NR_PUBLIC_INPUTS: usize = {NUM_PUBLIC_INPUTS};\n\n"
    ));
    let caps: Vec<String> = CAPACITIES.iter().map(|c| c.to_string()).collect();
    s.push_str(&format!(
        "/// Circuit capacities (most epochs per proof), smallest first.\n\
         pub const CAPACITIES: [u32; {}] = [{}];\n\n",
        CAPACITIES.len(),
        caps.join(", ")
    ));
    for (cap, key) in CAPACITIES.iter().zip(keys) {
        if key.nr_pubinputs() != NUM_PUBLIC_INPUTS {
            return Err(CircuitError::KeyMismatch(format!(
                "key for capacity {cap} takes {} public inputs",
                key.nr_pubinputs()
            )));
        }
        let ind = "    ";
        let ic: Vec<String> = key
            .ic
            .iter()
            .map(|p| format!("{ind}{ind}{}", bytes_literal(p, &format!("{ind}{ind}"))))
            .collect();
        s.push_str(&format!(
            "/// Verifying key of the capacity-{cap} circuit (1 to {cap} epochs).\n\
             pub const VERIFYING_KEY_{cap}: Groth16Verifyingkey<'static> = Groth16Verifyingkey {{\n\
             {ind}nr_pubinputs: {n},\n\
             {ind}vk_alpha_g1: {alpha},\n\
             {ind}vk_beta_g2: {beta},\n\
             {ind}vk_gamma_g2: {gamma},\n\
             {ind}vk_delta_g2: {delta},\n\
             {ind}vk_ic: &[\n{ic}\n{ind}],\n\
             {ind}vk_commitment: None,\n\
             }};\n\n",
            n = key.nr_pubinputs(),
            alpha = bytes_literal(&key.alpha_g1, ind),
            beta = bytes_literal(&key.beta_g2, ind),
            gamma = bytes_literal(&key.gamma_g2, ind),
            delta = bytes_literal(&key.delta_g2, ind),
            ic = ic.join(",\n") + ",",
        ));
    }
    s.push_str(
        "/// The key for a proof of `epochs` epochs: the smallest capacity `>= epochs`\n\
         /// (`None` for 0 or more than the largest capacity).\n\
         pub fn verifying_key_for(epochs: u32) -> Option<&'static Groth16Verifyingkey<'static>> {\n\
         \x20   match epochs {\n",
    );
    let mut lo = 1;
    for cap in CAPACITIES {
        s.push_str(&format!(
            "        {lo}..={cap} => Some(&VERIFYING_KEY_{cap}),\n"
        ));
        lo = cap + 1;
    }
    s.push_str("        _ => None,\n    }\n}\n");
    Ok(s)
}
