//! Groth16 proof of compute for CyxWiz (BN254, arkworks 0.5).
//!
//! # Wiring it in
//!
//! **Node (prover).** Build one [`Groth16Prover`] per process and keep it (`Arc`): it
//! loads each capacity's proving key on first use — [`Groth16Prover::from_dir`] reads
//! `DIR/pk-<capacity>.bin` from `cyxwiz-ceremony export`; [`Groth16Prover::insecure_dev`]
//! derives the **insecure** development keys (tests, localnet). It implements
//! [`cyxwiz_poc::Prover`]; at settlement call
//! `prover.prove_anchored(&statement, &witness, escrow.epochs_done)` — the escrow's
//! anchored epoch count *before* `complete_payment` (0 when never anchored). Plain
//! `prove` means "nothing anchored". The result is the 256-byte proof `complete_payment`
//! takes. Proving is CPU-bound for seconds to a minute: run it on a blocking thread.
//!
//! **Program (verifier).** Embed the generated verifying keys
//! (`programs/job-escrow/src/verifying_keys.rs`, regenerated and checked by
//! `cargo run -p cyxwiz-circuits --bin cyxwiz-vkgen -- [--check] <path>`; ceremony keys:
//! `--from-dir`), then in `complete_payment`:
//!
//! ```text
//! let vk = verifying_key_for(epochs).ok_or(..)?;            // smallest capacity ≥ epochs
//! let mut header = [0u8; 32];                                // public input 0
//! header[8..24].copy_from_slice(&escrow.job_id);
//! header[24..28].copy_from_slice(&epochs.to_be_bytes());
//! header[28..32].copy_from_slice(&escrow.epochs_done.to_be_bytes());
//! let inputs = [header, merkle_root, final_weights_hash, escrow.merkle_root];
//! Groth16Verifier::new(proof[..64], proof[64..192], proof[192..], &inputs, vk)?.verify()?;
//! ```
//!
//! (`escrow.merkle_root` is all zeros while nothing is anchored, which is exactly what
//! the circuit requires for `anchored_epochs = 0`.) Off chain, [`verify`] checks the same
//! bytes with arkworks.
//!
//! # What is proven
//!
//! See [`circuit`] and `docs/proof-of-compute.md`: the per-epoch inputs chain from
//! `genesis(job_id)` to `H_1..H_N` (circom Poseidon4), the promote-odd Merkle root over
//! them (circom Poseidon2) is `merkle_root`, the last weights digest is
//! `final_weights_hash`, `1 ≤ N ≤ capacity`, and `anchored_root` is the root of the first
//! `k ≤ N` checkpoint hashes (0 for `k = 0`) — exactly `cyxwiz-poc`'s commitments.
#![forbid(unsafe_code)]

pub mod ceremony;
pub mod circuit;
mod error;
pub mod field;
pub mod poseidon;
mod prover;
pub mod setup;
pub mod solana;

pub use circuit::{
    Assignment, CAPACITIES, MAX_EPOCHS, NUM_PUBLIC_INPUTS, PocCircuit, PublicInputs, capacity_for,
    capacity_index, public_inputs,
};
pub use error::CircuitError;
pub use prover::{CircuitKeys, Groth16Prover, KeySource, verify, verify_prepared};
pub use solana::{PROOF_LEN, SolanaVerifyingKey, proof_from_bytes, proof_to_bytes};
