//! JobEscrow's payment path with **real Groth16 proofs** on the native SVM: the escrow
//! anchors real Poseidon Merkle roots of a real checkpoint chain (`cyxwiz-poc`), the node
//! proves with the development keys (`cyxwiz-circuits`), and `complete_payment` verifies
//! through groth16-solana against the embedded verifying keys. Valid proofs pay 90/10;
//! every proof of another statement, every tampered proof and every non-canonical input is
//! rejected with the exact error and moves nothing.
//!
//! The test build also enables the `insecure-test-verifier` feature (for the other program
//! tests), but its "proof" is a SHA-256 digest followed by zeros, which no Groth16 proof
//! here equals: every proof below goes through the pairing check.

use std::{sync::LazyLock, time::Instant};

use cyxwiz_circuits::{Groth16Prover, PROOF_LEN, proof_from_bytes};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_poc::{CheckpointChain, Statement, Witness, metrics_digest, weights_digest};
use cyxwiz_program_tests::{escrow::*, *};
use job_escrow::{
    EscrowError, EscrowState,
    constants::MAX_EPOCHS,
    events::PaymentReleased,
    verifier::{self, ProofStatement},
};

const CYX: u64 = ONE_CYXWIZ;
const AMOUNT: u64 = 100 * CYX;
const STAKE: u64 = 5_000 * CYX;
const USER_TOKENS: u64 = 10_000 * CYX;

/// BN254 scalar field modulus `r` (public inputs must be below it), big-endian.
const FR_MODULUS: [u8; 32] = be("30644e72e131a029b85045b68181585d2833e84879b9709143e1f593f0000001");
/// BN254 base field modulus `p` (point coordinates), big-endian.
const FQ_MODULUS: [u8; 32] = be("30644e72e131a029b85045b68181585d97816a916871ca8d3c208c16d87cfd47");

/// One development prover per test binary: each capacity's keys are derived once.
static PROVER: LazyLock<Groth16Prover> = LazyLock::new(Groth16Prover::insecure_dev);

// ── big-endian 256-bit helpers ───────────────────────────────────────────

const fn be(hex: &str) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not lowercase hex"),
        }
    }
    let h = hex.as_bytes();
    assert!(h.len() == 64);
    let mut out = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        out[i] = (nibble(h[2 * i]) << 4) | nibble(h[2 * i + 1]);
        i += 1;
    }
    out
}

/// `a + b` (panics on overflow past 2^256).
fn add_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    assert_eq!(carry, 0, "overflow");
    out
}

/// `a − b` (panics if `b > a`).
fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    assert_eq!(borrow, 0, "underflow");
    out
}

/// The proof with `A` in place of the `−A` groth16-solana expects: G1 negation on the
/// big-endian encoding, `(x, y) ↦ (x, p − y)`, written canonically.
///
/// `proof_to_bytes` leaves arkworks' `SWFlags` in the two top bits of each `y` (bit 7 set
/// when `y > −y`); the bn254 syscalls mask them, so they are cleared before negating.
fn unnegate_a(proof: &[u8; PROOF_LEN]) -> [u8; PROOF_LEN] {
    let mut out = *proof;
    let mut y: [u8; 32] = proof[32..64].try_into().unwrap();
    y[0] &= 0x3F;
    assert_ne!(y, [0; 32], "A is not the point at infinity");
    out[32..64].copy_from_slice(&sub_be(&FQ_MODULUS, &y));
    out
}

// ── chains and proofs ────────────────────────────────────────────────────

/// A node's run of a job: the checkpoint chain, the witness and the statement of all of it.
struct Run {
    chain: CheckpointChain,
    witness: Witness,
    statement: Statement,
}

impl Run {
    /// `epochs` epochs of `job` with synthetic per-epoch weights and metrics digests and
    /// timestamps; `salt` picks the history (two salts give two different histories).
    fn new(job: &Job, epochs: u32, salt: u8) -> Self {
        let mut chain = CheckpointChain::new(job.id);
        let mut witness = Witness::new();
        for e in 0..epochs {
            let weights = weights_digest(&[&job.id[..], &[salt], &e.to_le_bytes()].concat());
            let loss = 2.0 / (f64::from(e) + 1.0) + f64::from(salt) / 100.0;
            let metrics = metrics_digest(e + 1, &[(0, loss), (1, 0.5 + f64::from(e) / 64.0)]);
            let t = 1_760_000_000 + 600 * i64::from(e);
            let h = chain.push(&weights, &metrics, t).expect("chain step");
            witness.push(weights, metrics, t, h);
        }
        let statement = witness.statement(job.id).expect("consistent witness");
        assert_eq!(Some(statement.merkle_root), chain.root());
        Run {
            chain,
            witness,
            statement,
        }
    }

    fn root(&self) -> [u8; 32] {
        self.statement.merkle_root
    }

    fn weights(&self) -> [u8; 32] {
        self.statement.final_weights_hash
    }

    fn epochs(&self) -> u32 {
        self.statement.epochs
    }

    /// Root of the first `k` checkpoints: what the node anchors after epoch `k`.
    fn root_at(&self, k: u32) -> [u8; 32] {
        self.chain.root_at(k as usize).expect("prefix of the chain")
    }

    /// A real proof of the whole run with the first `anchored` epochs anchored.
    fn prove(&self, anchored: u32) -> [u8; PROOF_LEN] {
        let t = Instant::now();
        let proof = PROVER
            .prove_anchored(&self.statement, &self.witness, anchored)
            .expect("prove");
        println!(
            "proved N={} k={anchored} in {:?}",
            self.epochs(),
            t.elapsed()
        );
        proof
    }
}

fn setup() -> (EscrowEnv, User, Operator) {
    let mut f = EscrowEnv::new(no_prover);
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    (f, user, node)
}

/// Anchors `epochs` of `run` with their real prefix roots.
fn anchor(f: &mut EscrowEnv, job: &Job, node: &Operator, run: &Run, epochs: &[u32]) {
    for &k in epochs {
        f.anchor(job, node, k, run.root_at(k)).expect("anchor");
        let e = f.escrow(job);
        assert_eq!((e.epochs_done, e.merkle_root), (k, run.root_at(k)));
    }
}

/// `complete_payment` of `job` by its node with explicit arguments.
fn complete(
    f: &mut EscrowEnv,
    job: &Job,
    node: &Operator,
    proof: [u8; PROOF_LEN],
    weights: [u8; 32],
    root: [u8; 32],
    epochs: u32,
) -> Result<TxOk, TxError> {
    let ix = f.complete_ix_with(job, proof, weights, root, epochs);
    f.send(ix, &[&node.wallet])
}

/// `complete_payment` fails with exactly `expected`; no token moved (vault, user, node,
/// treasuries, supply), no state changed and the escrow is still InProgress.
#[track_caller]
fn rejected(
    f: &mut EscrowEnv,
    (job, user, node): (&Job, &User, &Operator),
    what: &str,
    proof: [u8; PROOF_LEN],
    weights: [u8; 32],
    root: [u8; 32],
    epochs: u32,
    expected: EscrowError,
) {
    let name = format!("{expected:?}");
    let code = kit::anchor_code(expected);
    let balances = f.balances(job, &user.token, &node.token);
    let snapshot = f.escrow_snapshot();
    let r = complete(f, job, node, proof, weights, root, epochs);
    assert_eq!(
        r.as_ref().err().and_then(|e| e.custom_code()),
        Some(code),
        "{what}: expected {name} ({code}), got {r:?}"
    );
    assert_eq!(
        f.balances(job, &user.token, &node.token),
        balances,
        "{what}: tokens moved"
    );
    assert_eq!(f.escrow_snapshot(), snapshot, "{what}: state changed");
    assert_eq!(f.state(job), EscrowState::InProgress, "{what}");
}

/// Completes with `run`'s own statement and checks the 90/10 settlement and the record.
fn pays(
    f: &mut EscrowEnv,
    (job, user, node): (&Job, &User, &Operator),
    run: &Run,
    proof: [u8; PROOF_LEN],
) {
    let b = f.balances(job, &user.token, &node.token);
    let t = Instant::now();
    let ok = complete(f, job, node, proof, run.weights(), run.root(), run.epochs())
        .expect("a valid proof pays");
    println!("complete_payment (N={}) in {:?}", run.epochs(), t.elapsed());
    assert_eq!(
        f.balances(job, &user.token, &node.token),
        Balances {
            user: b.user,
            vault: 0,
            node: b.node + 90 * CYX,
            staking: b.staking + 4 * CYX,
            development: b.development + 3 * CYX,
            liquidity: b.liquidity + 2 * CYX,
            supply: b.supply - CYX,
            stake_vault: b.stake_vault,
            insurance: b.insurance,
        }
    );
    let e = f.escrow(job);
    assert_eq!(e.state, EscrowState::Completed);
    assert_eq!(e.epochs_done, run.epochs());
    assert_eq!(e.merkle_root, run.root());
    assert_eq!(e.final_weights_hash, run.weights());
    assert_eq!(
        ok.event::<PaymentReleased>(),
        PaymentReleased {
            job_id: job.id,
            node: node.key(),
            node_amount: 90 * CYX,
            platform_fee: 10 * CYX,
            burned: CYX,
            final_weights_hash: run.weights(),
            merkle_root: run.root(),
        }
    );
    f.assert_vaults_match();
}

// ── valid proofs pay ─────────────────────────────────────────────────────

#[test]
fn real_proof_with_nothing_anchored_pays_ninety_ten() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 6);
    let run = Run::new(&job, 6, 0);
    assert_eq!(f.escrow(&job).merkle_root, [0; 32], "nothing anchored");
    let proof = run.prove(0);
    pays(&mut f, (&job, &user, &node), &run, proof);
    // The job holds the node's stake through its challenge window, then is released.
    let n = f.node_account(&node.key());
    assert_eq!((n.active_jobs, n.jobs_completed, n.jobs_failed), (1, 0, 0));
    f.release_after_window(&job);
    let n = f.node_account(&node.key());
    assert_eq!((n.active_jobs, n.jobs_completed, n.jobs_failed), (0, 1, 0));
    f.assert_tokens_conserved(supply);
}

#[test]
fn real_proof_after_a_prefix_anchor_pays() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 7);
    let run = Run::new(&job, 7, 0);
    anchor(&mut f, &job, &node, &run, &[2, 5]);

    // The prover's public inputs are byte for byte the program's statement.
    let k = f.escrow(&job).epochs_done;
    let public = cyxwiz_circuits::public_inputs(job.id, &run.witness, k).unwrap();
    let statement = ProofStatement {
        job_id: job.id,
        merkle_root: run.root(),
        final_weights_hash: run.weights(),
        epochs: run.epochs(),
        anchored_root: f.escrow(&job).merkle_root,
        anchored_epochs: k,
    };
    assert_eq!(public.to_be_scalars(), statement.public_inputs());

    let proof = run.prove(k);
    pays(&mut f, (&job, &user, &node), &run, proof);
    f.assert_tokens_conserved(supply);
}

#[test]
fn real_proof_of_sixteen_epochs_all_anchored_pays() {
    // The capacity boundary: 16 epochs in the capacity-16 circuit, every epoch anchored,
    // so the final root is the anchored one (epochs == epochs_done).
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 16);
    let run = Run::new(&job, 16, 0);
    anchor(&mut f, &job, &node, &run, &(1..=16).collect::<Vec<_>>());
    assert_eq!(f.escrow(&job).merkle_root, run.root());
    let proof = run.prove(16);
    pays(&mut f, (&job, &user, &node), &run, proof);
    f.assert_tokens_conserved(supply);
}

// ── proofs of other statements ───────────────────────────────────────────

#[test]
fn rejects_wrong_root_digest_and_epoch_count_arguments() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    // 4 required, 6 done, 2 anchored: N − 1 and N + 1 are both acceptable counts.
    let job = f.accepted_job(&user, &node, AMOUNT, 4);
    let run = Run::new(&job, 6, 0);
    anchor(&mut f, &job, &node, &run, &[2]);
    let proof = run.prove(2);
    let (root, weights, n) = (run.root(), run.weights(), run.epochs());
    let parties = (&job, &user, &node);
    let mut flipped_root = root;
    flipped_root[31] ^= 1;
    let mut flipped_weights = weights;
    flipped_weights[31] ^= 1;
    let cases = [
        ("root with a bit flipped", weights, flipped_root, n),
        (
            "root of the first N − 1 epochs",
            weights,
            run.root_at(n - 1),
            n,
        ),
        ("the anchored root", weights, run.root_at(2), n),
        ("zero root", weights, [0; 32], n),
        ("digest with a bit flipped", flipped_weights, root, n),
        (
            "digest of epoch N − 1",
            run.witness.weights_digests[n as usize - 2],
            root,
            n,
        ),
        ("root and digest swapped", root, weights, n),
        ("N − 1 epochs", weights, root, n - 1),
        ("N + 1 epochs", weights, root, n + 1),
    ];
    for (what, w, r, epochs) in cases {
        assert!(epochs >= 4);
        rejected(
            &mut f,
            parties,
            what,
            proof,
            w,
            r,
            epochs,
            EscrowError::InvalidProof,
        );
    }
    // The proof itself was fine.
    pays(&mut f, parties, &run, proof);
    f.assert_tokens_conserved(supply);
}

#[test]
fn rejects_tampered_and_unnegated_proofs() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 5);
    let run = Run::new(&job, 5, 0);
    anchor(&mut f, &job, &node, &run, &[3]);
    let proof = run.prove(3);
    let parties = (&job, &user, &node);

    // One byte flipped in each coordinate of −A (0..64), B (64..192) and C (192..256).
    for (what, i) in [
        ("A.x", 0),
        ("A.y", 63),
        ("B.x.c1", 64),
        ("B.x.c0", 100),
        ("B.y.c1", 150),
        ("B.y.c0", 191),
        ("C.x", 192),
        ("C.y", 255),
    ] {
        let mut bad = proof;
        bad[i] ^= 0x01;
        rejected(
            &mut f,
            parties,
            &format!("byte {i} ({what}) flipped"),
            bad,
            run.weights(),
            run.root(),
            run.epochs(),
            EscrowError::InvalidProof,
        );
    }

    // A instead of −A: still a valid curve point, fails the pairing check.
    let unnegated = unnegate_a(&proof);
    assert_ne!(unnegated, proof);
    // The big-endian negation is arkworks' negation of the same point.
    assert_eq!(
        proof_from_bytes(&unnegated).unwrap().a,
        -proof_from_bytes(&proof).unwrap().a
    );
    rejected(
        &mut f,
        parties,
        "A not negated",
        unnegated,
        run.weights(),
        run.root(),
        run.epochs(),
        EscrowError::InvalidProof,
    );
    // The same proof with a coordinate re-encoded non-canonically (y + q, or a flag bit
    // arkworks would ignore): one proof has exactly one accepted encoding.
    for (what, i) in [("A.y", 32), ("B.y.c1", 128), ("C.y", 224)] {
        assert_eq!(proof[i] & 0xc0, 0, "{what} is encoded canonically");
        let mut flagged = proof;
        flagged[i] |= 0x80;
        rejected(
            &mut f,
            parties,
            &format!("{what} with a high bit set"),
            flagged,
            run.weights(),
            run.root(),
            run.epochs(),
            EscrowError::InvalidProof,
        );
    }
    // A, B and C from the proof in the wrong places; an all-zero proof.
    let mut swapped = proof;
    swapped[..64].copy_from_slice(&proof[192..]);
    swapped[192..].copy_from_slice(&proof[..64]);
    for (what, bad) in [("A and C swapped", swapped), ("all zeros", [0; PROOF_LEN])] {
        rejected(
            &mut f,
            parties,
            what,
            bad,
            run.weights(),
            run.root(),
            run.epochs(),
            EscrowError::InvalidProof,
        );
    }

    pays(&mut f, parties, &run, proof);
    f.assert_tokens_conserved(supply);
}

#[test]
fn rejects_another_jobs_proof() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 4);
    let other = f.accepted_job(&user, &node, AMOUNT, 4);
    let run = Run::new(&job, 4, 0);
    let other_run = Run::new(&other, 4, 0);
    let other_proof = other_run.prove(0);
    let parties = (&job, &user, &node);
    // With the other job's statement, and with this job's.
    for (what, w, r) in [
        (
            "other job's statement",
            other_run.weights(),
            other_run.root(),
        ),
        ("this job's statement", run.weights(), run.root()),
    ] {
        rejected(
            &mut f,
            parties,
            what,
            other_proof,
            w,
            r,
            4,
            EscrowError::InvalidProof,
        );
    }
    // Each proof pays its own job.
    pays(&mut f, (&other, &user, &node), &other_run, other_proof);
    let proof = run.prove(0);
    pays(&mut f, parties, &run, proof);
    f.assert_tokens_conserved(supply);
}

#[test]
fn a_paid_proof_does_not_replay_on_another_escrow() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 5);
    let second = f.accepted_job(&user, &node, AMOUNT, 5);
    let run = Run::new(&job, 5, 0);
    let proof = run.prove(0);
    pays(&mut f, (&job, &user, &node), &run, proof);
    // Same root, digest and epoch count, nothing anchored either: only the job id differs.
    assert_eq!(f.escrow(&second).merkle_root, [0; 32]);
    rejected(
        &mut f,
        (&second, &user, &node),
        "replayed on another job",
        proof,
        run.weights(),
        run.root(),
        run.epochs(),
        EscrowError::InvalidProof,
    );
    f.assert_tokens_conserved(supply);
}

#[test]
fn rejects_proofs_that_ignore_or_fork_the_anchored_prefix() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 6);
    let run = Run::new(&job, 6, 0);
    anchor(&mut f, &job, &node, &run, &[3]);
    let parties = (&job, &user, &node);
    let (w, r, n) = (run.weights(), run.root(), run.epochs());

    // The right chain, proven as if nothing had been anchored.
    rejected(
        &mut f,
        parties,
        "proof with anchored_epochs = 0",
        run.prove(0),
        w,
        r,
        n,
        EscrowError::InvalidProof,
    );
    // The right chain, proven with another anchored count.
    rejected(
        &mut f,
        parties,
        "proof with anchored_epochs = 2",
        run.prove(2),
        w,
        r,
        n,
        EscrowError::InvalidProof,
    );
    // Another history of the same job (not the one anchored), with or without the prefix.
    let fork = Run::new(&job, 6, 1);
    assert_ne!(fork.root_at(3), run.root_at(3));
    for k in [0, 3] {
        rejected(
            &mut f,
            parties,
            &format!("forked history, anchored_epochs = {k}"),
            fork.prove(k),
            fork.weights(),
            fork.root(),
            n,
            EscrowError::InvalidProof,
        );
    }

    pays(&mut f, parties, &run, run.prove(3));
    f.assert_tokens_conserved(supply);
}

// ── malformed public inputs ──────────────────────────────────────────────

#[test]
fn rejects_non_canonical_roots_and_digests() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 3);
    let run = Run::new(&job, 3, 0);
    let proof = run.prove(0);
    let parties = (&job, &user, &node);
    let (w, r, n) = (run.weights(), run.root(), run.epochs());
    // `x + r` is the same field element as `x`: accepted modulo r, it would let one proof
    // stand for two different byte strings.
    let cases = [
        ("root + r", w, add_be(&r, &FR_MODULUS)),
        ("root = r", w, FR_MODULUS),
        ("root = 2^256 − 1", w, [0xFF; 32]),
        ("digest + r", add_be(&w, &FR_MODULUS), r),
        ("digest = 2^256 − 1", [0xFF; 32], r),
    ];
    for (what, w, r) in cases {
        rejected(
            &mut f,
            parties,
            what,
            proof,
            w,
            r,
            n,
            EscrowError::InvalidProof,
        );
    }
    pays(&mut f, parties, &run, proof);
    f.assert_tokens_conserved(supply);
}

#[test]
fn rejects_epoch_counts_beyond_the_largest_capacity_or_in_another_capacity() {
    let (mut f, user, node) = setup();
    let supply = f.supply();
    let job = f.accepted_job(&user, &node, AMOUNT, 6);
    let run = Run::new(&job, 6, 0);
    let proof = run.prove(0);
    let parties = (&job, &user, &node);
    assert_eq!(verifier::MAX_PROVABLE_EPOCHS, MAX_EPOCHS);
    // No verifying key covers more than MAX_EPOCHS.
    for epochs in [MAX_EPOCHS + 1, u32::MAX] {
        rejected(
            &mut f,
            parties,
            &format!("{epochs} epochs"),
            proof,
            run.weights(),
            run.root(),
            epochs,
            EscrowError::InvalidEpochs,
        );
    }
    // Counts another capacity's key verifies (17 → 64, MAX_EPOCHS → 1024): wrong key.
    for epochs in [17, MAX_EPOCHS] {
        rejected(
            &mut f,
            parties,
            &format!("{epochs} epochs"),
            proof,
            run.weights(),
            run.root(),
            epochs,
            EscrowError::InvalidProof,
        );
    }
    pays(&mut f, parties, &run, proof);
    f.assert_tokens_conserved(supply);
}
