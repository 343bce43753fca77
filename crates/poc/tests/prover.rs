//! The statement/witness interface: a witness supports exactly the statement it yields.

use cyxwiz_poc::{CheckpointChain, PocError, Statement, Witness, metrics_digest, weights_digest};

const JOB: [u8; 16] = [0x42; 16];
const N: usize = 7;

fn recorded() -> (Statement, Witness) {
    let mut chain = CheckpointChain::new(JOB);
    let mut witness = Witness::new();
    for e in 1..=N {
        let w = weights_digest(&[e as u8; 64]);
        let m = metrics_digest(e as u32, &[(0, 1.0 / e as f64)]);
        let t = 1_700_000_000 + e as i64;
        let h = chain.push(&w, &m, t).unwrap();
        witness.push(w, m, t, h);
    }
    let statement = Statement {
        job_id: JOB,
        merkle_root: chain.root().unwrap(),
        final_weights_hash: *witness.weights_digests.last().unwrap(),
        epochs: N as u32,
    };
    (statement, witness)
}

fn expect_refusal(statement: &Statement, witness: &Witness, what: &str) {
    match witness.supports(statement) {
        Err(PocError::Prover(msg)) => assert!(!msg.is_empty(), "{what}"),
        other => panic!("{what}: expected Prover error, got {other:?}"),
    }
}

#[test]
fn a_recorded_witness_supports_its_statement() {
    let (s, w) = recorded();
    assert_eq!(w.statement(JOB), Ok(s));
    assert_eq!(w.supports(&s), Ok(()));
}

#[test]
fn wrong_root_refused() {
    let (mut s, w) = recorded();
    s.merkle_root[31] ^= 1;
    expect_refusal(&s, &w, "wrong root");
    // A root anchored at an earlier epoch is not the statement's root either.
    let (mut s, w) = recorded();
    let chain = CheckpointChain::from_hashes(JOB, w.hashes.clone()).unwrap();
    s.merkle_root = chain.root_at(N - 1).unwrap();
    expect_refusal(&s, &w, "prefix root");
}

#[test]
fn wrong_final_digest_refused() {
    let (mut s, w) = recorded();
    s.final_weights_hash = w.weights_digests[N - 2];
    expect_refusal(&s, &w, "final weights hash");
}

#[test]
fn epochs_mismatch_refused() {
    let (mut s, w) = recorded();
    s.epochs = N as u32 + 1;
    expect_refusal(&s, &w, "epochs +1");
    s.epochs = N as u32 - 1;
    expect_refusal(&s, &w, "epochs -1");
    // Dropping the last epoch from the witness alone.
    let (s, mut w) = recorded();
    w.hashes.pop();
    w.weights_digests.pop();
    w.metrics_digests.pop();
    w.timestamps.pop();
    expect_refusal(&s, &w, "short witness");
}

#[test]
fn tampered_middle_hash_refused() {
    let (s, mut w) = recorded();
    w.hashes[N / 2][31] ^= 1;
    expect_refusal(&s, &w, "tampered hash");
}

#[test]
fn tampered_inputs_refused() {
    let (s, w) = recorded();
    let mut t = w.clone();
    t.timestamps[2] += 1;
    expect_refusal(&s, &t, "tampered timestamp");
    let mut t = w.clone();
    t.timestamps[2] = -1;
    expect_refusal(&s, &t, "negative timestamp");
    let mut t = w.clone();
    t.metrics_digests[4] = metrics_digest(5, &[]);
    expect_refusal(&s, &t, "tampered metrics");
    let mut t = w.clone();
    t.weights_digests[0] = weights_digest(b"x");
    expect_refusal(&s, &t, "tampered weights");
    let mut t = w.clone();
    t.metrics_digests[1] = [0xff; 32];
    expect_refusal(&s, &t, "non-canonical digest");
    let mut t = w.clone();
    t.timestamps.pop();
    expect_refusal(&s, &t, "ragged witness");
}

#[test]
fn wrong_job_refused() {
    let (mut s, w) = recorded();
    s.job_id = [0x43; 16];
    expect_refusal(&s, &w, "other job");
}

#[test]
fn empty_witness_refused() {
    let s = Statement {
        job_id: JOB,
        merkle_root: [0; 32],
        final_weights_hash: [0; 32],
        epochs: 0,
    };
    expect_refusal(&s, &Witness::default(), "empty");
    assert!(Witness::new().is_empty());
}
