//! The proof-of-compute check `complete_payment` runs.
//!
//! The Groth16 verifier arrives with the proof-of-compute circuit. Until then this module
//! is deliberately strict: a normal build has **no** verifier and rejects every proof
//! (`ProofVerifierUnavailable`), so a deployed program cannot release payments on
//! unverified work. For tests of the payment path only, the `insecure-test-verifier`
//! feature accepts a SHA-256 commitment to the exact statement (job id, Merkle root, final
//! weights hash, epochs): a proof made for another job, root, digest or epoch count fails.
//! That feature refuses to compile for SBF, so no deployable program can contain it.

use anchor_lang::prelude::*;

#[cfg(all(feature = "insecure-test-verifier", target_os = "solana"))]
compile_error!("`insecure-test-verifier` is for native tests only and must never be deployed");

use crate::error::EscrowError;

/// What a proof must attest to. These become the Groth16 public inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProofStatement {
    pub job_id: [u8; 16],
    pub merkle_root: [u8; 32],
    pub final_weights_hash: [u8; 32],
    pub epochs: u32,
}

/// Size of a Groth16 proof in groth16-solana's uncompressed format (A ‖ B ‖ C).
pub const PROOF_LEN: usize = 256;

/// Verifies `proof` for `statement`.
pub fn verify(statement: &ProofStatement, proof: &[u8; PROOF_LEN]) -> Result<()> {
    #[cfg(feature = "insecure-test-verifier")]
    {
        require!(
            *proof == insecure_test_proof(statement),
            EscrowError::InvalidProof
        );
        Ok(())
    }
    #[cfg(not(feature = "insecure-test-verifier"))]
    {
        let _ = (statement, proof);
        err!(EscrowError::ProofVerifierUnavailable)
    }
}

/// The only "proof" the test verifier accepts: `SHA-256(domain ‖ statement)` followed by
/// zeros. Exposed so tests can produce valid and invalid proofs.
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
