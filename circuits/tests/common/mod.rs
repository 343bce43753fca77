//! Shared test fixtures: real checkpoint chains built with `cyxwiz-poc`.
#![allow(dead_code)]

use std::sync::{Arc, OnceLock};

use cyxwiz_circuits::Groth16Prover;
use cyxwiz_poc::{CheckpointChain, Statement, Witness, metrics_digest, weights_digest};

pub const JOB: [u8; 16] = *b"cyxwiz-test-job1";

/// A chain of `n` epochs for `job` with distinct weights, metrics and timestamps.
pub fn chain(job: [u8; 16], n: usize) -> (Statement, Witness, CheckpointChain) {
    let mut chain = CheckpointChain::new(job);
    let mut witness = Witness::new();
    for e in 0..n {
        let w = weights_digest(&[job.as_slice(), &(e as u64).to_le_bytes()].concat());
        let m = metrics_digest(e as u32 + 1, &[(0, 1.0 / (e as f64 + 1.0)), (1, e as f64)]);
        let t = 1_760_000_000_000 + 1_000 * e as i64;
        let h = chain.push(&w, &m, t).unwrap();
        witness.push(w, m, t, h);
    }
    let statement = witness.statement(job).unwrap();
    (statement, witness, chain)
}

/// One development prover per test binary, so each capacity's key is generated once.
pub fn prover() -> Arc<Groth16Prover> {
    static P: OnceLock<Arc<Groth16Prover>> = OnceLock::new();
    P.get_or_init(|| Arc::new(Groth16Prover::insecure_dev()))
        .clone()
}

/// Seeded proving randomness.
pub fn rng(seed: u64) -> rand_chacha::ChaCha20Rng {
    use rand::SeedableRng;
    rand_chacha::ChaCha20Rng::seed_from_u64(seed)
}
