//! Training throughput of the example jobs in the sandbox against the same C kernels
//! compiled natively (gcc -O2, the flags of `jobs/native/check.sh`), measured in one run.
//!
//! `cargo bench -p cyxwiz-sandbox --bench train --profile dev` (results: docs/BENCHMARKS.md).
//! The native side runs `jobs/native/run.c` as a process and reads the training time it
//! prints (dataset load and process start excluded); the sandbox side times `init` and
//! every `train_epoch` + `evaluate` call the same way. Best of `RUNS` for each.

use std::{path::Path, process::Command, time::Instant};

use cyxwiz_sandbox::{Limits, Sandbox};

const RUNS: usize = 5;

fn native(root: &Path, kernel: &str, data: &str, epochs: u32) -> f64 {
    let bin = std::env::temp_dir().join(format!("cyxwiz-native-{kernel}-{}", std::process::id()));
    let status = Command::new("gcc")
        .current_dir(root.join("jobs"))
        .args([
            "-std=c11",
            "-O2",
            "-ffp-contract=off",
            "-fno-math-errno",
            "-o",
        ])
        .arg(&bin)
        .args(["native/run.c", "src/common.c", &format!("src/{kernel}.c")])
        .status()
        .expect("gcc is installed");
    assert!(status.success());
    let mut best = f64::MAX;
    for _ in 0..RUNS {
        let out = Command::new(&bin)
            .arg(root.join("jobs/data").join(data))
            .arg(epochs.to_string())
            .arg("--quiet")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let secs: f64 = text
            .split_whitespace()
            .find_map(|f| f.strip_prefix("seconds="))
            .and_then(|s| s.parse().ok())
            .expect("run prints seconds=");
        best = best.min(secs);
    }
    let _ = std::fs::remove_file(bin);
    best
}

fn sandboxed(root: &Path, kernel: &str, data: &str, epochs: u32) -> (f64, u64) {
    let wasm = std::fs::read(root.join(format!("jobs/wasm/{kernel}.wasm"))).unwrap();
    let data = std::fs::read(root.join("jobs/data").join(data)).unwrap();
    let sb = Sandbox::new(Limits::default()).unwrap();
    let module = sb.load(&wasm).unwrap();
    let (mut best, mut fuel) = (f64::MAX, 0);
    for _ in 0..RUNS {
        let mut job = sb.instantiate(&module).unwrap();
        let start = Instant::now();
        job.init(&data, 42).unwrap();
        job.evaluate().unwrap();
        let mut f = 0;
        for e in 0..epochs {
            f += job.train_epoch(e).unwrap().fuel;
            f += job.evaluate().unwrap().fuel;
        }
        best = best.min(start.elapsed().as_secs_f64());
        fuel = f;
    }
    (best, fuel)
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    println!("| job | epochs | native (gcc -O2) | wasmtime sandbox | sandbox / native | fuel |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (kernel, data, epochs) in [
        ("logreg", "breast_cancer.cyxd", 30),
        ("mlp", "digits.cyxd", 50),
    ] {
        let n = native(&root, kernel, data, epochs);
        let (s, fuel) = sandboxed(&root, kernel, data, epochs);
        println!(
            "| {kernel} | {epochs} | {:.1} ms | {:.1} ms | {:.2}× | {fuel} |",
            n * 1e3,
            s * 1e3,
            s / n
        );
    }
}
