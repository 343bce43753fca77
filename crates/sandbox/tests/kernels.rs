//! The repository's example jobs (`jobs/`, built from C with clang) trained in the
//! sandbox: they reach their accuracy bars, and their weights are bit-identical to the
//! same kernels compiled natively (the hashes `jobs/native/check.sh` prints), so a
//! re-execution on any node reproduces them. A run resumed from a checkpoint ends with
//! the same weights as an uninterrupted one.

use cyxwiz_sandbox::{Limits, Sandbox, metric};

const LOGREG: &[u8] = include_bytes!("../../../jobs/wasm/logreg.wasm");
const MLP: &[u8] = include_bytes!("../../../jobs/wasm/mlp.wasm");
const CANCER: &[u8] = include_bytes!("../../../jobs/data/breast_cancer.cyxd");
const DIGITS: &[u8] = include_bytes!("../../../jobs/data/digits.cyxd");

/// FNV-1a 64, as `jobs/native/run.c` hashes the weights.
fn fnv1a64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// Trains `epochs` epochs from `start` (resuming from `weights` if given); returns the
/// held-out accuracy and the final weights.
fn train(
    sb: &Sandbox,
    wasm: &[u8],
    data: &[u8],
    epochs: u32,
    resume: Option<(u32, &[u8])>,
) -> (f64, Vec<u8>) {
    let module = sb.load(wasm).expect("the kernel implements ABI v1");
    let mut job = sb.instantiate(&module).unwrap();
    job.init(data, 42).unwrap();
    let mut start = 0;
    if let Some((from, w)) = resume {
        job.set_weights(w).unwrap();
        start = from;
    }
    let mut accuracy = 0.0;
    for e in start..epochs {
        let r = job.train_epoch(e).unwrap();
        assert!(r.metric(metric::TRAIN_LOSS).unwrap().is_finite());
        assert!(r.metric(metric::SAMPLES).unwrap() > 0.0);
        accuracy = job
            .evaluate()
            .unwrap()
            .metric(metric::TEST_ACCURACY)
            .unwrap();
    }
    (accuracy, job.weights().unwrap())
}

#[test]
fn logistic_regression_beats_94_percent_on_breast_cancer_bit_identical_to_native() {
    let sb = Sandbox::new(Limits::default()).unwrap();
    let (acc, w) = train(&sb, LOGREG, CANCER, 30, None);
    assert!(acc >= 0.94, "held-out accuracy {acc}");
    assert_eq!(
        fnv1a64(&w),
        "56e622376f90a3cf",
        "the native build's weights"
    );
}

#[test]
fn the_mlp_beats_95_percent_on_digits_bit_identical_to_native() {
    let sb = Sandbox::new(Limits::default()).unwrap();
    let (acc, w) = train(&sb, MLP, DIGITS, 50, None);
    assert!(acc >= 0.95, "held-out accuracy {acc}");
    assert_eq!(
        fnv1a64(&w),
        "aad2211c418bc958",
        "the native build's weights"
    );
}

#[test]
fn a_run_resumed_from_a_checkpoint_ends_with_the_same_weights() {
    let sb = Sandbox::new(Limits::default()).unwrap();
    let (_, half) = train(&sb, MLP, DIGITS, 25, None);
    let (_, resumed) = train(&sb, MLP, DIGITS, 50, Some((25, &half)));
    assert_eq!(fnv1a64(&resumed), "aad2211c418bc958");
}
