//! The proof-of-compute check `complete_payment` runs: a Groth16 proof (BN254, verified
//! through the alt_bn128 syscalls by `groth16-solana`) that the node's checkpoint hash
//! chain from `genesis(job_id)` has `epochs` links, that its Poseidon Merkle root is the
//! claimed root, that the last weights digest is the claimed one, and that the root the
//! escrow anchored earlier (over its first `anchored_epochs` checkpoints) is a prefix of
//! the same chain. The circuit is `circuits/` (`cyxwiz-circuits`); the verifying keys,
//! one per circuit capacity, are generated into `verifying_keys.rs` by `cyxwiz-vkgen`,
//! and a circuits test fails if they drift from the circuit.
//!
//! Public inputs (32-byte big-endian scalars): `[header, merkle_root, final_weights_hash,
//! anchored_root]` with `header = 0^8 ‖ job_id ‖ epochs (u32 BE) ‖ anchored_epochs (u32
//! BE)`. The key is chosen by `epochs` (the smallest capacity that holds it), so a proof
//! never names its own key. Cost: four public inputs, ≈ 85k CU by groth16-solana's
//! published figures (docs/BENCHMARKS.md).
//!
//! For native tests of the payment path only, the `insecure-test-verifier` feature also
//! accepts a SHA-256 commitment to the exact statement. That feature refuses to compile
//! for SBF, and CI checks that no deployable build enables it.

use anchor_lang::prelude::*;
use groth16_solana::groth16::{
    Groth16Verifier, Groth16Verifyingkey, is_less_than_bn254_field_size_be,
};

#[cfg(all(feature = "insecure-test-verifier", target_os = "solana"))]
compile_error!("`insecure-test-verifier` is for native tests only and must never be deployed");

use crate::error::EscrowError;

/// The generated verifying keys (`cyxwiz-vkgen`).
#[allow(dead_code)]
mod keys {
    include!("verifying_keys.rs");
}

// A mainnet build must embed keys from the multi-party ceremony, never the development
// setup whose secrets anyone can recompute.
#[cfg(feature = "mainnet")]
const _: () = assert!(
    !keys::INSECURE_DEV_SETUP,
    "mainnet builds need ceremony verifying keys (cyxwiz-vkgen --from-dir)"
);

/// The largest number of epochs a proof can cover (the largest circuit capacity).
pub const MAX_PROVABLE_EPOCHS: u32 = keys::CAPACITIES[keys::CAPACITIES.len() - 1];

// An escrow may not ask for more epochs than a proof can cover: it could never complete.
const _: () = assert!(crate::constants::MAX_EPOCHS == MAX_PROVABLE_EPOCHS);

/// What a proof must attest to: the Groth16 public inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofStatement {
    pub job_id: [u8; 16],
    pub merkle_root: [u8; 32],
    pub final_weights_hash: [u8; 32],
    pub epochs: u32,
    /// The escrow's anchored root and how many epochs it covers (zeros and 0 if none).
    pub anchored_root: [u8; 32],
    pub anchored_epochs: u32,
}

impl ProofStatement {
    /// The four public inputs, in the circuit's order.
    pub fn public_inputs(&self) -> [[u8; 32]; 4] {
        let mut header = [0u8; 32];
        header[8..24].copy_from_slice(&self.job_id);
        header[24..28].copy_from_slice(&self.epochs.to_be_bytes());
        header[28..32].copy_from_slice(&self.anchored_epochs.to_be_bytes());
        [
            header,
            self.merkle_root,
            self.final_weights_hash,
            self.anchored_root,
        ]
    }
}

/// `q`, the BN254 base field modulus (point coordinates), big-endian.
const BASE_FIELD_MODULUS_BE: [u8; 32] = [
    0x30, 0x64, 0x4e, 0x72, 0xe1, 0x31, 0xa0, 0x29, 0xb8, 0x50, 0x45, 0xb6, 0x81, 0x81, 0x58, 0x5d,
    0x97, 0x81, 0x6a, 0x91, 0x68, 0x71, 0xca, 0x8d, 0x3c, 0x20, 0x8c, 0x16, 0xd8, 0x7c, 0xfd, 0x47,
];

/// Size of a Groth16 proof in groth16-solana's uncompressed format (−A ‖ B ‖ C).
pub const PROOF_LEN: usize = 256;

/// Verifies `proof` for `statement`; `InvalidProof` for anything that is not a valid
/// proof of exactly this statement.
pub fn verify(statement: &ProofStatement, proof: &[u8; PROOF_LEN]) -> Result<()> {
    require!(is_valid(statement, proof)?, EscrowError::InvalidProof);
    Ok(())
}

/// The verdict on `proof`: `Ok(false)` for anything that is not a valid proof of exactly
/// this statement; an error only when no verdict is possible (no circuit for `epochs`).
pub fn is_valid(statement: &ProofStatement, proof: &[u8; PROOF_LEN]) -> Result<bool> {
    #[cfg(feature = "insecure-test-verifier")]
    if *proof == insecure_test_proof(statement) {
        return Ok(true);
    }
    let vk = keys::verifying_key_for(statement.epochs).ok_or(EscrowError::InvalidEpochs)?;
    Ok(groth16(statement, proof, vk))
}

fn groth16(
    statement: &ProofStatement,
    proof: &[u8; PROOF_LEN],
    vk: &Groth16Verifyingkey<'_>,
) -> bool {
    let inputs = statement.public_inputs();
    // The roots and digests must be canonical field elements: a value ≥ p would be read
    // modulo p by the pairing check and so could stand for another value.
    if !inputs.iter().all(is_less_than_bn254_field_size_be) {
        return false;
    }
    // Likewise every point coordinate must be below the base field modulus: the pairing
    // syscall would otherwise ignore high bits, giving one proof several encodings.
    if !proof
        .chunks_exact(32)
        .all(|c| c < BASE_FIELD_MODULUS_BE.as_slice())
    {
        return false;
    }
    let (a, rest) = proof.split_at(64);
    let (b, c) = rest.split_at(128);
    let (Ok(a), Ok(b), Ok(c)) = (
        <[u8; 64]>::try_from(a),
        <[u8; 128]>::try_from(b),
        <[u8; 64]>::try_from(c),
    ) else {
        return false;
    };
    Groth16Verifier::new(&a, &b, &c, &inputs, vk).is_ok_and(|mut v| v.verify().is_ok())
}

/// The only "proof" the test verifier accepts besides a real one: `SHA-256(domain ‖
/// statement)` followed by zeros. Exposed so tests can produce valid and invalid proofs.
#[cfg(feature = "insecure-test-verifier")]
pub fn insecure_test_proof(statement: &ProofStatement) -> [u8; PROOF_LEN] {
    let digest = solana_sha256_hasher::hashv(&[
        b"cyxwiz-insecure-test-proof-v1",
        &statement.job_id,
        &statement.merkle_root,
        &statement.final_weights_hash,
        &statement.epochs.to_le_bytes(),
    ]);
    let mut proof = [0u8; PROOF_LEN];
    proof[..32].copy_from_slice(digest.as_ref());
    proof
}
