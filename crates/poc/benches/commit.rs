//! Per-epoch commitment cost: what a node-agent pays each epoch to extend its checkpoint
//! chain and keep the anchorable Merkle root current. Plain `Instant` loops, no harness.
//!
//! Run: `cargo bench -p cyxwiz-poc --bench commit` (add `--profile dev` for a quick run).

use std::hint::black_box;
use std::time::{Duration, Instant};

use cyxwiz_poc::{
    CheckpointChain, Digest, PoseidonMerkle, chain_step, genesis, metrics_digest, weights_digest,
};
use rs_merkle::MerkleTree;

const JOB: [u8; 16] = [7; 16];

/// Runs `f` `iters` times and returns µs per call.
fn time<F: FnMut()>(iters: usize, mut f: F) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        f();
    }
    per_op(start.elapsed(), iters)
}

fn per_op(elapsed: Duration, iters: usize) -> f64 {
    elapsed.as_secs_f64() * 1e6 / iters as f64
}

fn row(name: &str, iters: usize, us: f64) {
    println!("| {name:<52} | {iters:>6} | {us:>12.2} |");
}

fn chain_of(n: usize) -> CheckpointChain {
    let mut c = CheckpointChain::new(JOB);
    for e in 0..n {
        let w = weights_digest(&(e as u64).to_le_bytes());
        c.push(&w, &w, e as i64).unwrap();
    }
    c
}

/// Average cost of `iters` consecutive `push`es starting from a chain of `len` leaves
/// (consecutive, so both cheap promote-only paths and full-depth paths are included).
fn push_at(len: usize, iters: usize) -> f64 {
    let mut c = chain_of(len);
    let w = weights_digest(b"w");
    let m = metrics_digest(1, &[(0, 0.5)]);
    time(iters, || {
        black_box(c.push(&w, &m, 1_700_000_000).unwrap());
    })
}

/// rs_merkle's own incremental path (insert + commit + root) over the same range, for
/// comparison with the tree-maintenance part of `push` (which is `push − chain_step`).
fn rs_merkle_insert_at(len: usize, iters: usize) -> f64 {
    let leaves: Vec<Digest> = chain_of(len).hashes().to_vec();
    let mut t = MerkleTree::<PoseidonMerkle>::from_leaves(&leaves);
    let leaf = weights_digest(b"leaf");
    time(iters, || {
        t.insert(leaf).commit();
        black_box(t.root());
    })
}

fn main() {
    let mlp = vec![0x5au8; 19_240];
    let mib = vec![0xa5u8; 1 << 20];
    let metrics: Vec<(i32, f64)> = (0..8).map(|k| (k, k as f64 * 0.125)).collect();
    let (w, m) = (weights_digest(&mlp), metrics_digest(1, &metrics));

    println!("| operation                                            |  iters |  µs per op   |");
    println!("|------------------------------------------------------|--------|--------------|");
    row(
        "weights_digest, 19,240 B (MLP)",
        2_000,
        time(2_000, || {
            black_box(weights_digest(black_box(&mlp)));
        }),
    );
    row(
        "weights_digest, 1 MiB",
        50,
        time(50, || {
            black_box(weights_digest(black_box(&mib)));
        }),
    );
    row(
        "metrics_digest, 8 metrics",
        20_000,
        time(20_000, || {
            black_box(metrics_digest(1, black_box(&metrics)));
        }),
    );
    let g = genesis(&JOB);
    row(
        "chain_step (Poseidon, 4 inputs)",
        2_000,
        time(2_000, || {
            black_box(chain_step(&g, &w, &m, 1_700_000_000).unwrap());
        }),
    );
    for len in [50usize, 1_024] {
        row(
            &format!("push incl. root maintenance, len {len}..{}", len + 64),
            64,
            push_at(len, 64),
        );
        let c = chain_of(len);
        row(
            &format!("root(), chain len {len}"),
            100_000,
            time(100_000, || {
                black_box(black_box(&c).root());
            }),
        );
        row(
            &format!("root_at(len - 1), chain len {len}"),
            500,
            time(500, || {
                black_box(c.root_at(len - 1).unwrap());
            }),
        );
        row(
            &format!("proof(len / 3, len), chain len {len}"),
            500,
            time(500, || {
                black_box(c.proof(len / 3, len).unwrap());
            }),
        );
        row(
            &format!(
                "(cmp) rs_merkle insert+commit+root, len {len}..{}",
                len + 64
            ),
            64,
            rs_merkle_insert_at(len, 64),
        );
        let leaves = c.hashes().to_vec();
        row(
            &format!("(cmp) rebuild from scratch, len {len}"),
            20,
            time(20, || {
                black_box(CheckpointChain::from_hashes(JOB, black_box(leaves.clone())).unwrap());
            }),
        );
    }
    for (label, weights) in [("19,240 B", &mlp), ("1 MiB", &mib)] {
        let mut c = chain_of(1_024);
        let iters = 50;
        let us = time(iters, || {
            let wd = weights_digest(weights);
            let md = metrics_digest(1, &metrics);
            black_box(c.push(&wd, &md, 1_700_000_000).unwrap());
            black_box(c.root());
        });
        row(
            &format!("whole epoch commit ({label}), chain len ~1,024"),
            iters,
            us,
        );
    }
}
