//! Things that go wrong on the node's side, end to end: modules that loop, bomb memory or
//! break the ABI fail their own job with a clear reason (the user is refunded) and the
//! node carries on; a node killed mid-training resumes the job from its checkpoints.

mod common;

use std::time::Duration;

use cyxwiz_chain::state::EscrowState;
use cyxwiz_channel::v1::Phase;
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_demo::{BREAST_CANCER, DIGITS, LOGREG_WASM, MLP_WASM, NetOptions, Network};
use cyxwiz_engine_client::{Error, JobSpec, Silent, audit::local_weight_digests};

/// A module implementing job ABI v1 whose epoch body is `train` (see the sandbox tests
/// for the full ABI; this one keeps a single f64 weight).
fn wat_module(version: i32, train: &str) -> Vec<u8> {
    let text = format!(
        r#"(module
  (import "cyx" "report_metric" (func $report (param i32 f64)))
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "cyx_abi_version") (result i32) (i32.const {version}))
  (func (export "cyx_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (return (i32.const 0))))
    (local.get $p))
  (func (export "cyx_init") (param $p i32) (param $n i32) (param $seed i64) (result i32)
    (i32.const 0))
  (func (export "cyx_train_epoch") (param $epoch i32) (result i32)
    {train}
    (call $report (i32.const 0) (f64.const 1.0))
    (i32.const 0))
  (func (export "cyx_evaluate") (result i32)
    (call $report (i32.const 3) (f64.const 0.5))
    (i32.const 0))
  (func (export "cyx_weights_ptr") (result i32) (i32.const 0))
  (func (export "cyx_weights_len") (result i32) (i32.const 8))
  (func (export "cyx_set_weights") (param $p i32) (param $n i32) (result i32)
    (i32.const 0))
)"#
    );
    wat::parse_str(text).unwrap()
}

async fn one_node_network(tweak: impl FnOnce(&mut cyxwiz_node_agent::Config)) -> Network {
    let mut net = Network::start(NetOptions {
        nodes: 0,
        failed_refund_grace_secs: 30,
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let i = net.add_operator().await.unwrap();
    tweak(&mut net.operators[i].config);
    net
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn malicious_modules_fail_their_own_jobs_and_the_node_carries_on() {
    let mut net = one_node_network(|cfg| {
        cfg.jobs.fuel_per_call = 2_000_000_000;
        cfg.jobs.max_memory_mb = 64;
        cfg.jobs.max_call_secs = 20;
    })
    .await;
    net.start_node(0).await.unwrap();
    let node = net.agents[0].as_ref().unwrap().node().clone();
    let engine = common::engine(&net, "engine", 500 * ONE_CYXWIZ).await;
    let data = vec![1u8; 1024];

    // Breaking the ABI (a version the node does not speak) is refused at upload, before
    // the node commits to anything; the user cancels the assigned job.
    let spec = JobSpec::new(wat_module(99, ""), data.clone(), 5, 100 * ONE_CYXWIZ);
    let (quote, _, cred) = common::prepare(&engine, &spec).await;
    let session = engine.connect(&cred).await.unwrap();
    let e = session
        .upload(
            &cred.token,
            &quote.job_id,
            0,
            &spec.module,
            &spec.dataset,
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert_eq!(e.grpc_code(), Some(tonic::Code::InvalidArgument), "{e}");
    assert!(e.to_string().contains("ABI"), "{e}");
    assert!(node.job(&quote.job_id).is_none());
    engine.cancel(&quote.job_id).await.unwrap();
    let escrow = engine.escrow(&quote.job_id).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Cancelled);

    // An endless loop and a memory bomb pass the upload, then fail their job with the
    // reason; the engine refunds the escrow by progress (nothing anchored: all of it).
    for (train, reason) in [
        ("(loop $spin (br $spin))", "fuel"),
        (
            "(loop $grow (drop (memory.grow (i32.const 16))) (br $grow))",
            "memory",
        ),
    ] {
        let before = engine.balance().await.unwrap().tokens;
        let spec = JobSpec::new(wat_module(1, train), data.clone(), 5, 100 * ONE_CYXWIZ);
        let e = engine.run(&spec, &mut Silent).await.unwrap_err();
        let Error::JobFailed { job, phase, detail } = &e else {
            panic!("expected a failed job, got {e}");
        };
        assert_eq!(phase, "failed", "{e}");
        assert!(detail.to_lowercase().contains(reason), "{e}");
        assert!(detail.contains("refunded by progress"), "{e}");
        let id = cyxwiz_engine_client::parse_job_id(job).unwrap();
        let escrow = engine.escrow(&id).await.unwrap().unwrap();
        assert_eq!(escrow.state, EscrowState::Refunded);
        assert_eq!(
            engine.balance().await.unwrap().tokens,
            before,
            "every token came back"
        );
    }

    // The node is unharmed: a real job on it trains and settles.
    let mut spec = JobSpec::new(
        LOGREG_WASM.to_vec(),
        BREAST_CANCER.to_vec(),
        30,
        100 * ONE_CYXWIZ,
    );
    spec.seed = 42;
    let report = engine.run(&spec, &mut Silent).await.unwrap();
    assert!(report.test_accuracy >= 0.94, "{}", report.test_accuracy);
    assert_eq!(node.active_jobs(), 0);

    net.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_killed_mid_training_resumes_the_job_from_its_checkpoints() {
    const EPOCHS: u32 = 40;
    const KILL_AT: u32 = 17;
    let net = one_node_network(|_| {}).await;
    let exe = std::path::Path::new(env!("CARGO_BIN_EXE_cyxwiz-demo"));
    let mut process = net.spawn_node_process(0, exe).await.unwrap();
    let engine = common::engine(&net, "engine", 500 * ONE_CYXWIZ).await;
    let mut spec = JobSpec::new(MLP_WASM.to_vec(), DIGITS.to_vec(), EPOCHS, 200 * ONE_CYXWIZ);
    spec.seed = 42;

    let (quote, _, cred) = common::prepare(&engine, &spec).await;
    let id = quote.job_id;
    let session = engine.connect(&cred).await.unwrap();
    session
        .upload(
            &cred.token,
            &id,
            spec.seed,
            &spec.module,
            &spec.dataset,
            |_, _| {},
        )
        .await
        .unwrap();
    // Hold the job at a known epoch, then kill the node process outright (SIGKILL: no
    // shutdown, no flush) with the job half-trained.
    assert_eq!(common::hold_at(&session, &id, KILL_AT).await, KILL_AT);
    process.kill();
    assert!(session.get_job(&id).await.is_err(), "the node is gone");

    // Restarted, the node restores the job from its checkpoints and finishes it.
    let _restarted = net.spawn_node_process(0, exe).await.unwrap();
    let completion = session
        .training_complete(&id, Duration::from_secs(180))
        .await
        .unwrap();
    let progress = completion.progress.unwrap();
    assert_eq!(
        progress.phase,
        Phase::Completed as i32,
        "{}",
        progress.detail
    );
    assert_eq!(
        progress.resumed_from, KILL_AT,
        "resumed from the last checkpoint"
    );
    assert_eq!(progress.epoch, EPOCHS);
    assert!(
        completion.test_accuracy >= 0.95,
        "{}",
        completion.test_accuracy
    );
    let escrow = engine.escrow(&id).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Completed);
    let (_, digest, _) = engine.collect(&session, &id, None).await.unwrap();
    assert_eq!(escrow.final_weights_hash, digest);

    // Resuming changed nothing: the weights are those of an uninterrupted run.
    let honest = local_weight_digests(MLP_WASM, DIGITS, spec.seed, EPOCHS).unwrap();
    assert_eq!(honest.last(), Some(&digest));

    net.stop().await;
}
