//! The Groth16 prover behind [`cyxwiz_poc::Prover`] and the native verifier.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use ark_bn254::{Bn254, Fr};
use ark_groth16::r1cs_to_qap::LibsnarkReduction;
use ark_groth16::{Groth16, PreparedVerifyingKey, ProvingKey, VerifyingKey, prepare_verifying_key};
use cyxwiz_poc::{PocError, Statement, Witness};
use rand::{CryptoRng, RngCore};

use crate::circuit::{Assignment, PocCircuit, PublicInputs, capacity_for, capacity_index};
use crate::setup::{insecure_dev_proving_key, read_proving_key};
use crate::solana::{PROOF_LEN, proof_from_bytes, proof_to_bytes};
use crate::{CAPACITIES, CircuitError};

/// Where proving keys come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// [`insecure_dev_proving_key`], generated on first use (tests, localnet). INSECURE.
    InsecureDev,
    /// `DIR/pk-<capacity>.bin` files (`cyxwiz-ceremony export` writes them).
    Directory(PathBuf),
}

impl KeySource {
    /// Path of the key file of `capacity` in a directory of keys.
    pub fn key_file(dir: &std::path::Path, capacity: usize) -> PathBuf {
        dir.join(format!("pk-{capacity}.bin"))
    }
}

/// A proving key with its prepared verifying key (every proof is checked before it is
/// returned).
#[derive(Debug)]
pub struct CircuitKeys {
    pub capacity: usize,
    pub pk: ProvingKey<Bn254>,
    pub pvk: PreparedVerifyingKey<Bn254>,
}

/// Groth16 prover of the proof-of-compute circuit; loads each capacity's key on first use
/// and keeps it. Cheap to share (`Arc`), safe to call from several threads.
#[derive(Debug)]
pub struct Groth16Prover {
    source: KeySource,
    keys: [Mutex<Option<Arc<CircuitKeys>>>; CAPACITIES.len()],
}

impl Groth16Prover {
    /// Keys from `source`, loaded lazily.
    pub fn new(source: KeySource) -> Self {
        Self {
            source,
            keys: Default::default(),
        }
    }

    /// **INSECURE** development keys (deterministic seed): tests and localnets only.
    pub fn insecure_dev() -> Self {
        Self::new(KeySource::InsecureDev)
    }

    /// Keys from `dir/pk-<capacity>.bin`.
    pub fn from_dir(dir: impl Into<PathBuf>) -> Self {
        Self::new(KeySource::Directory(dir.into()))
    }

    /// Where this prover's keys come from.
    pub fn source(&self) -> &KeySource {
        &self.source
    }

    /// The keys of `capacity`, loading or generating them on first use.
    pub fn keys(&self, capacity: usize) -> Result<Arc<CircuitKeys>, CircuitError> {
        let slot = &self.keys[capacity_index(capacity)?];
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(k) = slot.as_ref() {
            return Ok(k.clone());
        }
        let pk = match &self.source {
            KeySource::InsecureDev => insecure_dev_proving_key(capacity)?,
            KeySource::Directory(dir) => {
                read_proving_key(&KeySource::key_file(dir, capacity), capacity)?
            }
        };
        let keys = Arc::new(CircuitKeys {
            capacity,
            pvk: prepare_verifying_key(&pk.vk),
            pk,
        });
        *slot = Some(keys.clone());
        Ok(keys)
    }

    /// The verifying key of `capacity`.
    pub fn verifying_key(&self, capacity: usize) -> Result<VerifyingKey<Bn254>, CircuitError> {
        Ok(self.keys(capacity)?.pk.vk.clone())
    }

    /// Proves `statement` for a job whose escrow anchored its first `anchored_epochs`
    /// epochs (the escrow's `epochs_done` before completion; 0 if never anchored), in the
    /// smallest capacity holding `statement.epochs`. Returns the groth16-solana proof bytes.
    pub fn prove_anchored(
        &self,
        statement: &Statement,
        witness: &Witness,
        anchored_epochs: u32,
    ) -> Result<[u8; PROOF_LEN], CircuitError> {
        let capacity = capacity_for(statement.epochs)?;
        self.prove_in(
            capacity,
            statement,
            witness,
            anchored_epochs,
            &mut rand::rngs::OsRng,
        )
        .map(|(proof, _)| proof)
    }

    /// Proves in an explicit `capacity` with the caller's randomness; also returns the
    /// public inputs proven. Refuses (never panics on) an inconsistent witness, too many
    /// epochs for the capacity, or an anchor beyond the chain, and checks the proof
    /// against the verifying key before returning it.
    pub fn prove_in<R: RngCore + CryptoRng>(
        &self,
        capacity: usize,
        statement: &Statement,
        witness: &Witness,
        anchored_epochs: u32,
        rng: &mut R,
    ) -> Result<([u8; PROOF_LEN], PublicInputs), CircuitError> {
        let assignment = Assignment::new(statement, witness, anchored_epochs, capacity)?;
        let public = *assignment.public_inputs();
        let keys = self.keys(capacity)?;
        let circuit = PocCircuit::with_assignment(capacity, assignment)?;
        let proof = Groth16::<Bn254, LibsnarkReduction>::create_random_proof_with_reduction(
            circuit, &keys.pk, rng,
        )?;
        let bytes = proof_to_bytes(&proof);
        verify_prepared(&keys.pvk, &public, &bytes)?;
        Ok((bytes, public))
    }
}

impl cyxwiz_poc::Prover for Groth16Prover {
    fn name(&self) -> &'static str {
        match self.source {
            KeySource::InsecureDev => "groth16-insecure-dev",
            KeySource::Directory(_) => "groth16",
        }
    }

    /// Proves with **nothing anchored** (`anchored_epochs = 0`, anchored root zero). A job
    /// whose escrow anchored progress must use [`prove_anchored`](Self::prove_anchored).
    fn prove(&self, statement: &Statement, witness: &Witness) -> Result<[u8; PROOF_LEN], PocError> {
        Ok(Groth16Prover::prove_anchored(self, statement, witness, 0)?)
    }

    fn prove_anchored(
        &self,
        statement: &Statement,
        witness: &Witness,
        anchored_epochs: u32,
    ) -> Result<[u8; PROOF_LEN], PocError> {
        Ok(Groth16Prover::prove_anchored(
            self,
            statement,
            witness,
            anchored_epochs,
        )?)
    }
}

/// Verifies groth16-solana proof bytes natively (arkworks pairing check); `Ok` iff valid.
pub fn verify(
    vk: &VerifyingKey<Bn254>,
    inputs: &PublicInputs,
    proof: &[u8; PROOF_LEN],
) -> Result<(), CircuitError> {
    verify_prepared(&prepare_verifying_key(vk), inputs, proof)
}

/// [`verify`] with a prepared key (saves the key preparation per call).
pub fn verify_prepared(
    pvk: &PreparedVerifyingKey<Bn254>,
    inputs: &PublicInputs,
    proof: &[u8; PROOF_LEN],
) -> Result<(), CircuitError> {
    let proof = proof_from_bytes(proof)?;
    let public: [Fr; crate::NUM_PUBLIC_INPUTS] = inputs.to_field()?;
    if Groth16::<Bn254, LibsnarkReduction>::verify_proof(pvk, &proof, &public)? {
        Ok(())
    } else {
        Err(CircuitError::ProofRejected)
    }
}
