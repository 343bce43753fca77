//! What committing and checkpointing cost per epoch, against the epoch itself.
//!
//! `cargo bench -p cyxwiz-node-agent --bench checkpoint --profile dev` (results:
//! docs/BENCHMARKS.md). For each example job, one run measures per epoch, in the same
//! process and on the same data:
//! * the work: `train_epoch` + `evaluate` + reading the weights out of the sandbox;
//! * the commitment: weights digest, metrics digest, `H_E` and the Merkle root;
//! * the checkpoint: writing the weights file and appending the chain record (what the
//!   node does every epoch; the fsync happens only at anchors and is timed apart).
//!
//! The overhead is (commitment + checkpoint) / work. Best of `RUNS` runs.

use std::{path::Path, time::Instant};

use cyxwiz_node_agent::store::{Checkpoint, JobDir, Manifest, Phase, Record};
use cyxwiz_poc::CheckpointChain;
use cyxwiz_sandbox::{Limits, Sandbox};

const RUNS: usize = 3;

fn manifest() -> Manifest {
    Manifest {
        phase: Phase::Running,
        created_at_ms: 0,
        ..Manifest::new(&[0; 16], "", 0, 42, &[], &[])
    }
}

struct Times {
    work: f64,
    commit: f64,
    save: f64,
    sync: f64,
    weights: usize,
}

fn run(root: &Path, kernel: &str, data: &str, epochs: u32) -> Times {
    let wasm = std::fs::read(root.join(format!("jobs/wasm/{kernel}.wasm"))).unwrap();
    let data = std::fs::read(root.join("jobs/data").join(data)).unwrap();
    let sb = Sandbox::new(Limits::default()).unwrap();
    let module = sb.load(&wasm).unwrap();
    let mut best = Times {
        work: f64::MAX,
        commit: f64::MAX,
        save: f64::MAX,
        sync: f64::MAX,
        weights: 0,
    };
    for _ in 0..RUNS {
        let tmp = tempfile::tempdir().unwrap();
        let id = [7u8; 16];
        let dir = JobDir::new(tmp.path(), &id);
        dir.create(&wasm, &data, &manifest()).unwrap();
        let mut job = sb.instantiate(&module).unwrap();
        job.init(&data, 42).unwrap();
        let mut chain = CheckpointChain::new(id);
        let (mut work, mut commit, mut save) = (0.0, 0.0, 0.0);
        let mut weights_len = 0;
        for e in 0..epochs {
            let t = Instant::now();
            let train = job.train_epoch(e).unwrap();
            let eval = job.evaluate().unwrap();
            let weights = job.weights().unwrap();
            work += t.elapsed().as_secs_f64();
            weights_len = weights.len();

            let t = Instant::now();
            let mut metrics = train.metrics.clone();
            metrics.extend(eval.metrics.iter().copied());
            let wd = cyxwiz_poc::weights_digest(&weights);
            let md = cyxwiz_poc::metrics_digest(e + 1, &metrics);
            let ts = 1_700_000_000_000 + e as i64;
            let hash = chain.push(&wd, &md, ts).unwrap();
            let _root = chain.root();
            commit += t.elapsed().as_secs_f64();

            let t = Instant::now();
            dir.save_epoch(
                &Checkpoint {
                    epoch: e + 1,
                    timestamp: ts,
                    metrics,
                    weights,
                },
                &Record {
                    weights: wd,
                    metrics: md,
                    timestamp: ts,
                    hash,
                },
            )
            .unwrap();
            save += t.elapsed().as_secs_f64();
        }
        let t = Instant::now();
        dir.sync().unwrap();
        let sync = t.elapsed().as_secs_f64();
        let n = epochs as f64;
        if work / n < best.work {
            best = Times {
                work: work / n,
                commit: commit / n,
                save: save / n,
                sync,
                weights: weights_len,
            };
        }
    }
    best
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    println!(
        "{:<8} {:>9} {:>12} {:>12} {:>12} {:>10} {:>12}",
        "job", "weights", "epoch µs", "commit µs", "save µs", "overhead", "sync@anchor"
    );
    for (kernel, data, epochs) in [
        ("logreg", "breast_cancer.cyxd", 30),
        ("mlp", "digits.cyxd", 50),
    ] {
        let t = run(&root, kernel, data, epochs);
        println!(
            "{:<8} {:>8}B {:>12.1} {:>12.1} {:>12.1} {:>9.2}% {:>10.1}µs",
            kernel,
            t.weights,
            t.work * 1e6,
            t.commit * 1e6,
            t.save * 1e6,
            (t.commit + t.save) / t.work * 100.0,
            t.sync * 1e6
        );
    }
}
