//! Proof-of-compute circuit cost: constraints, setup, proving and verification time, sizes.
//! Plain `Instant` timing, no harness.
//!
//! Run: `cargo bench -p cyxwiz-circuits --bench prove --profile dev`
//! (`BENCH_EPOCHS=16,128` to choose the epoch counts; default 16,128,1024).

use std::time::Instant;

use ark_serialize::CanonicalSerialize;
use cyxwiz_circuits::setup::{constraint_count, insecure_dev_proving_key};
use cyxwiz_circuits::{Groth16Prover, PublicInputs, capacity_for, verify_prepared};
use cyxwiz_poc::{CheckpointChain, Witness, metrics_digest, weights_digest};
use rand::SeedableRng;

fn main() {
    let epochs: Vec<usize> = std::env::var("BENCH_EPOCHS")
        .unwrap_or_else(|_| "16,128,1024".into())
        .split(',')
        .map(|s| s.trim().parse().expect("epoch count"))
        .collect();
    println!(
        "| N | capacity | constraints | setup (dev) | proving key | prove | verify (native) | proof |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for n in epochs {
        let job = *b"cyxwiz-bench-job";
        let mut chain = CheckpointChain::new(job);
        let mut witness = Witness::new();
        for e in 0..n {
            let w = weights_digest(&(e as u64).to_le_bytes());
            let m = metrics_digest(e as u32 + 1, &[(0, e as f64)]);
            let h = chain.push(&w, &m, 1_760_000_000_000 + e as i64).unwrap();
            witness.push(w, m, 1_760_000_000_000 + e as i64, h);
        }
        let statement = witness.statement(job).unwrap();
        let capacity = capacity_for(n as u32).unwrap();
        let constraints = constraint_count(capacity).unwrap();

        let t = Instant::now();
        let pk = insecure_dev_proving_key(capacity).unwrap();
        let setup = t.elapsed();
        let pk_size = pk.uncompressed_size();
        let dir = tempfile::tempdir().unwrap();
        cyxwiz_circuits::setup::write_proving_key(
            &dir.path().join(format!("pk-{capacity}.bin")),
            capacity,
            &pk,
        )
        .unwrap();
        drop(pk);
        let prover = Groth16Prover::from_dir(dir.path());
        let keys = prover.keys(capacity).unwrap();

        let anchored = (n as u32 / 50) * 50;
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(n as u64);
        let runs = if capacity >= 1024 { 1 } else { 3 };
        let mut best = f64::MAX;
        let mut out = None;
        for _ in 0..runs {
            let t = Instant::now();
            let r = prover
                .prove_in(capacity, &statement, &witness, anchored, &mut rng)
                .unwrap();
            best = best.min(t.elapsed().as_secs_f64());
            out = Some(r);
        }
        let (proof, public): ([u8; 256], PublicInputs) = out.unwrap();

        let iters = 50;
        let t = Instant::now();
        for _ in 0..iters {
            verify_prepared(&keys.pvk, &public, &proof).unwrap();
        }
        let verify_ms = t.elapsed().as_secs_f64() * 1e3 / iters as f64;
        println!(
            "| {n} | {capacity} | {constraints} | {:.1} s | {:.1} MB | {:.2} s | {:.2} ms | {} B |",
            setup.as_secs_f64(),
            pk_size as f64 / 1e6,
            best,
            verify_ms,
            proof.len()
        );
    }
}
