//! The main job as a test: a whole local network trains the MLP on the digits end to end
//! and everything the report claims is checked against the chain.

use cyxwiz_demo::{
    DIGITS, MLP_WASM,
    main_job::{self, MainJobOptions},
};
use cyxwiz_engine_client::{Silent, audit::local_weight_digests};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_main_job_trains_the_mlp_and_settles_by_the_book() {
    // The network's directory outlives it, so the downloaded weights can be read back.
    let dir = tempfile::tempdir().unwrap();
    let mut options = MainJobOptions::default();
    options.net.dir = Some(dir.path().to_path_buf());
    let (epochs, seed) = (options.epochs, options.seed);
    let r = main_job::run(options, &mut Silent).await.unwrap();
    let run = &r.run;

    // A real model: the MLP's documented bar on the held-out digits.
    assert!(
        run.test_accuracy >= 0.95,
        "held-out accuracy {}",
        run.test_accuracy
    );
    assert_eq!(run.epochs, epochs);

    // The downloaded weights are the ones committed on chain, and an independent
    // re-run reproduces them bit for bit.
    let saved = std::fs::read(&run.weights_path).unwrap();
    assert_eq!(saved.len() as u64, run.weights_bytes);
    assert_eq!(cyxwiz_poc::weights_digest(&saved), run.final_weights_hash);
    let honest = local_weight_digests(MLP_WASM, DIGITS, seed, epochs).unwrap();
    assert_eq!(honest.last(), Some(&run.final_weights_hash));

    // 90/10: the node gets 90 % (a new node is Bronze), the platform fee is split into
    // the treasuries and the burn, and nothing is created or lost.
    let s = r.split;
    assert!(s.price > 0);
    assert_eq!(s.to_node, s.price * 9_000 / 10_000, "{s:?}");
    assert_eq!(s.to_node + s.platform_fee(), s.price, "{s:?}");
    assert!(s.burned > 0 && s.to_treasury_staking > 0, "{s:?}");
    assert_eq!(r.before.engine - r.after.engine, s.price);
    assert_eq!(r.before.supply - r.after.supply, s.burned);

    // One anchor at epoch 50 of 60; every transaction landed.
    let sigs = &run.signatures;
    assert_eq!(sigs.anchors.len(), 1, "{sigs:?}");
    for sig in [
        &sigs.escrow,
        &sigs.assign,
        &sigs.accept,
        &sigs.payment,
        &r.rate_signature,
    ] {
        assert!(!sig.is_empty(), "{sigs:?}");
    }
    assert_eq!(run.resumed_from, 0);

    // The coordinator's reputation batch reached the chain, with the rating.
    let rep = r.reputation;
    assert!(rep.batch_landed, "{rep:?}");
    assert_eq!(rep.jobs_completed_after, rep.jobs_completed_before + 1);
    assert_eq!(rep.ratings_after, 1);

    // The three nodes formed a mesh: each admitted the other two (signed announcements
    // checked against their on-chain stake).
    assert_eq!(r.mesh_known, vec![2, 2, 2]);
}
