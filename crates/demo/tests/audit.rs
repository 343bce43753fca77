//! Auditing by re-execution, end to end: a node that stops training after epoch 24 and
//! commits its old weights as new epochs (a consistent hash chain, valid Merkle roots
//! anchored on chain) is caught by the engine — by a single-epoch audit and by bisection
//! against a local re-run, which pins the first skipped epoch — and the evidence, which
//! a voter reproduces independently, opens a dispute that freezes the escrow.

mod common;

use std::{sync::atomic::Ordering, time::Duration};

use cyxwiz_audit::{FraudKind, Verdict, verify_evidence};
use cyxwiz_chain::{pda, state::EscrowState};

use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_demo::{DIGITS, MLP_WASM, NetOptions, Network};
use cyxwiz_engine_client::{JobBytes, JobSpec, UploadOptions};
use cyxwiz_sandbox::{Limits, Sandbox};

const LAZY_FROM: u32 = 25;
const HOLD_AT: u32 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn audits_catch_a_node_that_skips_epochs_and_the_evidence_opens_a_dispute() {
    let net = Network::start(NetOptions {
        nodes: 1,
        anchor_every: 10,
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let node = net.agents[0].as_ref().unwrap().node().clone();
    node.faults
        .skip_training_from
        .store(LAZY_FROM, Ordering::Relaxed);
    let engine = common::engine(&net, "engine", 500 * ONE_CYXWIZ).await;
    let mut spec = JobSpec::new(MLP_WASM.to_vec(), DIGITS.to_vec(), 60, 200 * ONE_CYXWIZ);
    spec.seed = 42;
    let job = JobBytes {
        module: &spec.module,
        dataset: &spec.dataset,
        seed: spec.seed,
    };

    let (quote, _, cred) = common::prepare(&engine, &spec).await;
    let id = quote.job_id;
    let session = engine.connect(&cred).await.unwrap();
    session
        .upload_with(
            &cred.token,
            &id,
            spec.seed,
            &spec.module,
            &spec.dataset,
            UploadOptions::default(),
            |_, _| {},
        )
        .await
        .unwrap();
    // Hold training once 40 epochs are done, so the audit happens while the escrow is
    // still in progress (and disputable).
    assert_eq!(common::hold_at(&session, &id, HOLD_AT).await, HOLD_AT);
    let e = &engine;
    let anchored = common::eventually(Duration::from_secs(30), move || async move {
        e.escrow(&id)
            .await
            .ok()
            .flatten()
            .is_some_and(|e| e.epochs_done == HOLD_AT)
    })
    .await;
    assert!(anchored, "epoch {HOLD_AT} was not anchored");

    // Before the node turned lazy, re-execution agrees with it.
    let honest = engine
        .audit_epoch(&session, &id, LAZY_FROM - 1, job)
        .await
        .unwrap();
    assert_eq!(honest.verdict, Verdict::Honest);

    // A lazy epoch re-executes to other weights.
    let caught = engine.audit_epoch(&session, &id, 33, job).await.unwrap();
    let Verdict::Fraud(f) = caught.verdict else {
        panic!("epoch 33 passed the audit");
    };
    assert_eq!((f.epoch, f.kind), (33, FraudKind::Weights));
    assert_ne!(f.expected.weights, f.committed.weights);

    // Bisection against the engine's own re-run finds the first skipped epoch.
    let bisected = engine.audit_bisect(&session, &id, job).await.unwrap();
    assert_eq!(bisected.epoch, LAZY_FROM);
    assert!(bisected.is_fraud());
    assert!(
        bisected.probes >= 1 && bisected.probes <= cyxwiz_audit::Bisection::max_probes(HOLD_AT)
    );

    // A voter, with nothing but the transcript and the job's inputs, reaches the same
    // verdict; the transcript names the anchor the escrow holds.
    let escrow = engine.escrow(&id).await.unwrap().unwrap();
    let evidence = &bisected.evidence;
    assert_eq!(evidence.challenge.anchored_root, escrow.merkle_root);
    assert_eq!(evidence.challenge.anchored_epochs, escrow.epochs_done);
    let sandbox = Sandbox::new(Limits::default()).unwrap();
    let again = cyxwiz_audit::Evidence::from_json(&evidence.to_json()).unwrap();
    assert_eq!(again.evidence_hash(), bisected.evidence_hash);
    let verdict =
        verify_evidence(&again, &spec.module, &spec.dataset, spec.seed, &sandbox).unwrap();
    assert!(verdict.is_fraud());

    // The evidence opens a dispute: the escrow freezes, the node cannot be paid.
    let sig = engine.dispute(&bisected).await.unwrap();
    assert!(!sig.is_empty());
    let escrow = engine.escrow(&id).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Disputed);
    let dispute = engine
        .chain()
        .account::<cyxwiz_chain::state::Dispute>(&pda::dispute(&id))
        .await
        .unwrap();
    assert_eq!(dispute.user_evidence_count, 1);
    assert_eq!(dispute.user_evidence[0], bisected.evidence_hash);

    // An honest audit never opens a dispute.
    assert!(engine.dispute(&honest).await.is_err());
    net.stop().await;
}
