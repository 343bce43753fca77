//! Two coordinator processes on one PostgreSQL and one Redis: they never hand one node
//! slot to two jobs, a batch sent by a replica that dies before recording it is applied
//! exactly once, and the survivor keeps serving.

mod common;

use std::time::Duration;

use common::*;
use cyxwiz_chain::{pda, state::NodeReputation};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_coordinator::{
    store::{NewUpdate, UpdateKind},
    workers::FAULT_EXIT_AFTER_BATCH_SEND,
};
use solana_keypair::Keypair;
use solana_signer::Signer;
use tonic::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_racing_never_assign_a_node_slot_twice() {
    let net = localnet().await;
    let dir = temp_dir("race");
    let prefix = unique("race");
    let cfg = config(&net, &dir, &Db::Postgres, Some(&prefix));
    let a = Replica::spawn(&cfg, &[]).await;
    let b = Replica::spawn(&cfg, &[]).await;
    let mut ops = Vec::new();
    for _ in 0..3 {
        let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
        op.join(&a.url(), 1).await;
        ops.push(op);
    }
    tokio::time::sleep(Duration::from_millis(300)).await; // both caches see the nodes

    let mut tasks = Vec::new();
    for i in 0..16 {
        let url = if i % 2 == 0 { a.url() } else { b.url() };
        let engine = Engine::unfunded(&net);
        tasks.push(tokio::spawn(async move {
            engine.submit(&url, cpu_job(2)).await
        }));
    }
    let mut won = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(ready) => won.push(ready.node_owner),
            Err(e) => assert!(
                matches!(e.code(), Code::ResourceExhausted | Code::Aborted),
                "unexpected refusal: {e:?}"
            ),
        }
    }
    won.sort();
    let mut expected: Vec<String> = ops.iter().map(|o| o.wallet.pubkey().to_string()).collect();
    expected.sort();
    assert_eq!(won, expected, "each node exactly once");
    let store = store_of(&cfg).await;
    let mut slots = store.active_slots().await.unwrap();
    slots.sort();
    assert_eq!(slots.len(), 3);
    assert_eq!(
        slots.iter().map(|(o, _)| o.clone()).collect::<Vec<_>>(),
        expected
    );
    drop((a, b));
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_mid_batch_leaves_the_batch_applied_exactly_once() {
    let net = localnet().await;
    let dir = temp_dir("killed");
    let prefix = unique("killed");
    let mut cfg = config(&net, &dir, &Db::Postgres, Some(&prefix));
    cfg.batching.lease_secs = 2;
    cfg.batching.reputation_batch_jobs = 2;
    // The first replica leads (it starts first) and dies right after its batch lands.
    let mut a = Replica::spawn(&cfg, &[(FAULT_EXIT_AFTER_BATCH_SEND, "1")]).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    let b = Replica::spawn(&cfg, &[]).await;
    let (x, y) = (
        Operator::on_chain(&net, 100 * ONE_CYXWIZ).await,
        Operator::on_chain(&net, 100 * ONE_CYXWIZ).await,
    );
    x.join(&b.url(), 1).await;
    y.join(&b.url(), 1).await;

    let store = store_of(&cfg).await;
    for op in [&x, &y] {
        assert!(
            store
                .enqueue_reputation(&NewUpdate {
                    dedup_key: format!("completed:test-{}", op.wallet.pubkey()),
                    node_owner: op.wallet.pubkey().to_string(),
                    kind: UpdateKind::Completed {
                        actual_secs: 600,
                        estimated_secs: 600,
                    },
                })
                .await
                .unwrap()
        );
    }
    assert_eq!(
        a.wait_exit(Duration::from_secs(30)).await,
        Some(86),
        "the leader died mid-batch"
    );

    // The survivor takes the lease, finds the batch unrecorded, and settles it from chain.
    let mut applied = false;
    for _ in 0..150 {
        let batches = store.batches().await.unwrap();
        if batches.len() == 1 && batches[0].state == "applied" {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        applied,
        "batch applied: {:?}",
        store.batches().await.unwrap()
    );
    let batches = store.batches().await.unwrap();
    assert_eq!(batches.len(), 1, "no second batch for the same updates");
    assert_eq!(batches[0].batch_id, 1);
    let chain = net.client(Keypair::new());
    for op in [&x, &y] {
        let rep: NodeReputation = chain
            .account(&pda::node_reputation(&op.wallet.pubkey()))
            .await
            .unwrap();
        assert_eq!(rep.jobs_completed, 1, "applied exactly once");
    }
    assert!(store.pending_updates(10).await.unwrap().is_empty());

    // The survivor still serves.
    Engine::unfunded(&net)
        .submit(&b.url(), cpu_job(2))
        .await
        .expect("the survivor serves");
    drop(b);
    net.stop();
}
