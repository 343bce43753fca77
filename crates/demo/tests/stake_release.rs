//! A paid job keeps its hold on the node's stake through JobEscrow's challenge window,
//! and the node itself ends the hold with `release_stake` once the cluster's clock has
//! passed it — not before.

mod common;

use std::time::Duration;

use cyxwiz_chain::{
    pda,
    state::{Escrow, EscrowState, NodeAccount},
};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_demo::{BREAST_CANCER, LOGREG_WASM, NetOptions, Network};
use cyxwiz_engine_client::{JobSpec, Silent};
use cyxwiz_node_agent::release::RELEASED_ELSEWHERE;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_node_releases_its_stake_hold_when_the_challenge_window_closes() {
    let mut net = Network::start(NetOptions {
        nodes: 0,
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let i = net.add_operator().await.unwrap();
    net.operators[i].config.jobs.stake_release_check_secs = 1;
    net.start_node(i).await.unwrap();
    let agent = net.agents[i].as_ref().unwrap();
    let (node, owner) = (agent.node().clone(), agent.owner());
    let engine = common::engine(&net, "engine", 500 * ONE_CYXWIZ).await;

    let mut spec = JobSpec::new(
        LOGREG_WASM.to_vec(),
        BREAST_CANCER.to_vec(),
        30,
        100 * ONE_CYXWIZ,
    );
    spec.seed = 42;
    let report = engine.run(&spec, &mut Silent).await.unwrap();
    let id = report.job_id;
    let chain = &node.chain;
    let escrow: Escrow = chain.account(&pda::escrow(&id)).await.unwrap();
    assert_eq!(escrow.state, EscrowState::Completed);
    assert!(!escrow.stake_released);
    let now = chain.unix_time().await.unwrap();
    assert!(
        escrow.challenge_until > now + 6 * 24 * 3600,
        "a week's window: until {} at {now}",
        escrow.challenge_until
    );
    let registered: NodeAccount = chain.account(&pda::node(&owner)).await.unwrap();
    assert_eq!(
        registered.active_jobs, 1,
        "the paid job still holds the stake"
    );

    // Sweeps run every second; inside the window none of them may release anything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let escrow: Escrow = chain.account(&pda::escrow(&id)).await.unwrap();
    assert!(
        !escrow.stake_released,
        "released inside the challenge window"
    );
    assert!(node.job(&id).unwrap().manifest().stake_release.is_empty());

    // Past the window on the cluster's clock, the next sweep releases it.
    let wait = escrow.challenge_until - now + 60;
    net.net.time_travel(wait).await.unwrap();
    let released = common::eventually(Duration::from_secs(60), || async {
        chain
            .account::<Escrow>(&pda::escrow(&id))
            .await
            .is_ok_and(|e| e.stake_released)
    })
    .await;
    assert!(
        released,
        "the node did not release the hold after the window"
    );
    let registered: NodeAccount = chain.account(&pda::node(&owner)).await.unwrap();
    assert_eq!(registered.active_jobs, 0, "the hold is over");
    assert!(registered.jobs_completed >= 1);
    // The manifest records the node's own transaction (once it has returned from the
    // send, a moment after the chain shows it), which a restart will not resend.
    let job = node.job(&id).unwrap();
    common::eventually(Duration::from_secs(30), || async {
        !job.manifest().stake_release.is_empty()
    })
    .await;
    let recorded = job.manifest().stake_release;
    assert!(
        !recorded.is_empty() && recorded != RELEASED_ELSEWHERE,
        "{recorded:?}"
    );
    let signature = recorded.parse().expect("a transaction signature");
    assert!(chain.transaction(&signature).await.is_ok());

    // Another sweep finds nothing left to do.
    let again = cyxwiz_node_agent::release::sweep(&node).await.unwrap();
    assert_eq!(again, Default::default());
    net.stop().await;
}
