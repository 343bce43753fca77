//! The leader's chain work against the localnet: a node that goes silent before
//! accepting is replaced on chain, and an escrow past its timeout is refunded to the user
//! without anyone asking.

mod common;

use std::time::Duration;

use common::*;
use cyxwiz_chain::{
    pda,
    state::{Escrow, EscrowState},
};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_proto::{auth::sign_now, methods, v1};
use solana_keypair::Keypair;
use solana_signer::Signer;

async fn escrow_of(net: &cyxwiz_localnet::Localnet, job: &[u8]) -> Escrow {
    let id: [u8; 16] = job.try_into().unwrap();
    net.client(Keypair::new())
        .account(&pda::escrow(&id))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_silent_before_accepting_is_replaced_on_chain() {
    let net = localnet().await;
    let dir = temp_dir("rematch");
    let mut cfg = config(&net, &dir, &Db::Sqlite, None);
    cfg.matching.health_window_secs = 2;
    let served = serve(cfg).await;
    let url = served.url();
    let silent = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    silent.join(&url, 1).await;
    let engine = Engine::funded(&net, 20 * ONE_CYXWIZ).await;
    let ready = engine.submit(&url, cpu_job(4)).await.unwrap();
    assert_eq!(ready.node_owner, silent.wallet.pubkey().to_string());
    let sig = engine
        .escrow(&net, &ready.job_id, ready.price, 4, 7 * 86_400)
        .await;
    engine.confirm(&url, &ready.job_id, &sig).await.unwrap();
    assert_eq!(
        escrow_of(&net, &ready.job_id).await.node,
        silent.wallet.pubkey()
    );

    // A second node joins and keeps heartbeating; the first never does again.
    let alive = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    alive.join(&url, 1).await;
    let beat_url = url.clone();
    let wallet = alive.wallet.insecure_clone();
    let beating = tokio::spawn(async move {
        let mut nodes = node_client(&beat_url).await;
        loop {
            let _ = nodes
                .heartbeat(sign_now(
                    methods::HEARTBEAT,
                    v1::HeartbeatRequest { running_jobs: 0 },
                    &wallet,
                ))
                .await;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    let mut status = engine.status(&url, &ready.job_id).await;
    for _ in 0..60 {
        if status.node_owner == alive.wallet.pubkey().to_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
        status = engine.status(&url, &ready.job_id).await;
    }
    beating.abort();
    assert_eq!(
        escrow_of(&net, &ready.job_id).await.node,
        alive.wallet.pubkey(),
        "the job was re-assigned on chain"
    );
    assert_eq!(status.node_owner, alive.wallet.pubkey().to_string());
    assert_eq!(status.state, v1::JobState::Assigned as i32);
    // The engine gets a credential for the new node.
    let start = engine.confirm(&url, &ready.job_id, &sig).await.unwrap();
    assert_eq!(start.node_owner, alive.wallet.pubkey().to_string());
    assert_eq!(start.node_tls_fingerprint, alive.tls.to_vec());
    served.stop().await;
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escrow_past_its_timeout_is_refunded_by_the_leader() {
    let net = localnet().await;
    let dir = temp_dir("timeout");
    let cfg = config(&net, &dir, &Db::Sqlite, None);
    let store_cfg = cfg.clone();
    let served = serve(cfg).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 1).await;
    let engine = Engine::funded(&net, 20 * ONE_CYXWIZ).await;
    let before = engine.client.token_balance(&engine.token).await.unwrap();
    let ready = engine.submit(&url, cpu_job(4)).await.unwrap();
    let id: [u8; 16] = ready.job_id.as_slice().try_into().unwrap();
    // A one-hour escrow (the job is estimated at ten minutes).
    let sig = engine
        .escrow(&net, &ready.job_id, ready.price, 4, 3_600)
        .await;
    engine.confirm(&url, &ready.job_id, &sig).await.unwrap();
    assert_eq!(
        engine.client.token_balance(&engine.token).await.unwrap(),
        before - ready.price
    );
    // The node never accepts; two hours pass on chain.
    net.time_travel(2 * 3_600).await.expect("time travel");
    let mut state = 0;
    for _ in 0..80 {
        state = engine.status(&url, &ready.job_id).await.state;
        if state == v1::JobState::TimedOut as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(state, v1::JobState::TimedOut as i32);
    assert_eq!(
        escrow_of(&net, &ready.job_id).await.state,
        EscrowState::TimedOut
    );
    assert_eq!(
        engine.client.token_balance(&engine.token).await.unwrap(),
        before
    );
    let store = store_of(&store_cfg).await;
    let id = cyxwiz_coordinator::types::JobId(id);
    let payment = store.payment(&id).await.unwrap().expect("refund recorded");
    assert_eq!(
        (payment.kind.as_str(), payment.to_user),
        ("timed_out", ready.price)
    );
    let op_state = store
        .op(&format!("timeout_refund:{id}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(op_state.0, cyxwiz_coordinator::store::OpState::Done);
    served.stop().await;
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_settlement_missed_while_down_is_rebuilt_by_reconciliation() {
    let net = localnet().await;
    let dir = temp_dir("missed");
    let cfg = config(&net, &dir, &Db::Sqlite, None);
    let store_cfg = cfg.clone();
    let served = serve(cfg.clone()).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 1).await;
    let engine = Engine::funded(&net, 20 * ONE_CYXWIZ).await;
    let ready = engine.submit(&url, cpu_job(4)).await.unwrap();
    let id: [u8; 16] = ready.job_id.as_slice().try_into().unwrap();
    let sig = engine
        .escrow(&net, &ready.job_id, ready.price, 4, 3_600)
        .await;
    engine.confirm(&url, &ready.job_id, &sig).await.unwrap();
    // The coordinator goes away; meanwhile the user takes the timeout refund himself.
    served.stop().await;
    net.time_travel(2 * 3_600).await.unwrap();
    engine
        .client
        .send(
            &[cyxwiz_chain::ix::escrow::timeout_refund(
                &net.network().addresses,
                &engine.wallet.pubkey(),
                id,
                &engine.token,
            )],
            &[],
        )
        .await
        .expect("user's own timeout refund");
    // A coordinator comes back on the same database and reconciles on taking the lead.
    let served = serve(cfg).await;
    let store = store_of(&store_cfg).await;
    let job = cyxwiz_coordinator::types::JobId(id);
    let mut payment = None;
    for _ in 0..60 {
        payment = store.payment(&job).await.unwrap();
        if payment.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let payment = payment.expect("the missed settlement is rebuilt from the escrow's history");
    assert_eq!(
        (payment.kind.as_str(), payment.to_user),
        ("timed_out", ready.price)
    );
    assert_eq!(
        store.job(&job).await.unwrap().unwrap().state,
        cyxwiz_coordinator::types::JobState::TimedOut
    );
    served.stop().await;
    net.stop();
}

/// A TCP proxy in front of the localnet's RPC that can be cut (refusing and dropping
/// every connection) and restored on the same port.
struct Cuttable {
    port: u16,
    up: tokio::sync::watch::Sender<bool>,
}

impl Cuttable {
    async fn start(target: std::net::SocketAddr) -> Cuttable {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (up, rx) = tokio::sync::watch::channel(true);
        tokio::spawn(async move {
            loop {
                let Ok((mut inbound, _)) = listener.accept().await else {
                    return;
                };
                if !*rx.borrow() {
                    continue; // dropped: the client sees the connection closed
                }
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                        _ = rx.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Cuttable { port, up }
    }

    fn set(&self, up: bool) {
        let _ = self.up.send(up);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_outage_delays_a_reputation_batch_but_never_loses_or_doubles_it() {
    use cyxwiz_coordinator::store::{NewUpdate, UpdateKind};
    let net = localnet().await;
    let dir = temp_dir("outage");
    let rpc: std::net::SocketAddr = net.rpc_url().trim_start_matches("http://").parse().unwrap();
    let proxy = Cuttable::start(rpc).await;
    let mut cfg = config(&net, &dir, &Db::Postgres, None);
    cfg.chain.rpc_url = format!("http://127.0.0.1:{}", proxy.port);
    cfg.batching.reputation_batch_jobs = 1;
    let store_cfg = cfg.clone();
    let served = serve(cfg).await;
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&served.url(), 1).await;
    let store = store_of(&store_cfg).await;

    proxy.set(false);
    store
        .enqueue_reputation(&NewUpdate {
            dedup_key: "completed:outage".into(),
            node_owner: op.wallet.pubkey().to_string(),
            kind: UpdateKind::Completed {
                actual_secs: 100,
                estimated_secs: 100,
            },
        })
        .await
        .unwrap();
    // The leader cuts the batch and fails to send it, and keeps it.
    let mut failed = None;
    for _ in 0..120 {
        if let Some(b) = store.batch(1).await.unwrap()
            && b.attempts > 0
        {
            failed = Some(b);
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let failed = failed.expect("a failed attempt is recorded");
    assert_eq!(failed.state, "pending");
    assert!(!failed.last_error.is_empty());

    proxy.set(true);
    let mut applied = false;
    for _ in 0..120 {
        if store.batch(1).await.unwrap().unwrap().state == "applied" {
            applied = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert!(applied, "the batch is applied once the RPC is back");
    assert_eq!(store.batches().await.unwrap().len(), 1);
    let rep: cyxwiz_chain::state::NodeReputation = net
        .client(Keypair::new())
        .account(&pda::node_reputation(&op.wallet.pubkey()))
        .await
        .unwrap();
    assert_eq!(rep.jobs_completed, 1);
    served.stop().await;
    net.stop();
}
