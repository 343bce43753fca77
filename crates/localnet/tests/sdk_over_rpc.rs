//! The chain SDK against the embedded localnet over real JSON-RPC and WebSocket: an
//! escrow's whole life, the events it emits, the safe-resend guarantee, and the typed
//! errors a caller gets for each kind of failure.

use std::{collections::BTreeSet, time::Duration};

use cyxwiz_chain::{
    ChainError, Pubkey,
    client::{ChainClient, Outcome},
    events::ProgramEvent,
    ids, ix, pda,
    pubsub::{EventSubscription, Notice, ReconnectPolicy},
    state::{Escrow, EscrowState, NodeAccount},
};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use node_registry::Capabilities;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;

const SOL: u64 = 1_000_000_000;

async fn localnet() -> Localnet {
    Localnet::start(LocalnetConfig {
        // 150 blocks of 20 ms: a blockhash expires in ~3 s, so resends are quick.
        slot_time_ms: 20,
        ..LocalnetConfig::default()
    })
    .await
    .expect("localnet starts")
}

fn caps() -> Capabilities {
    Capabilities {
        cpu_cores: 16,
        ram_mb: 65_536,
        gpu_count: 1,
        gpu_vram_mb: 24_576,
        storage_gb: 1_000,
        bandwidth_mbps: 1_000,
        flags: 1,
    }
}

/// A registered operator with reputation, its token account and a client paying as it.
async fn operator(net: &Localnet, stake: u64) -> (Keypair, Pubkey, ChainClient) {
    let (op, token) = net
        .fund_wallet(10 * SOL, stake + 10 * ONE_CYXWIZ)
        .await
        .expect("fund operator");
    let client = net.client(op.insecure_clone());
    let a = net.network().addresses;
    client
        .send(
            &[
                ix::registry::register_node(
                    &a,
                    &op.pubkey(),
                    &token,
                    op.pubkey().to_bytes(),
                    stake,
                    caps(),
                ),
                ix::reputation::init_node_reputation(&op.pubkey(), &op.pubkey()),
            ],
            &[],
        )
        .await
        .expect("register node");
    (op, token, client)
}

/// `create_escrow` of a 4-epoch job with a one-hour timeout, signed by `user`.
fn job_escrow_ix(
    a: &cyxwiz_chain::Addresses,
    user: &Keypair,
    user_token: &Pubkey,
    job: [u8; 16],
    amount: u64,
) -> cyxwiz_chain::Instruction {
    ix::escrow::create_escrow(a, &user.pubkey(), user_token, job, amount, 4, 3_600, 600)
}

fn job_id() -> [u8; 16] {
    Pubkey::new_unique().to_bytes()[..16].try_into().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escrow_lives_its_whole_life_over_rpc_and_its_events_arrive() {
    let net = localnet().await;
    let a = net.network().addresses;
    let mut events = EventSubscription::start(
        net.ws_url(),
        &[ids::JOB_ESCROW, ids::NODE_REGISTRY],
        CommitmentConfig::confirmed(),
        ReconnectPolicy::default(),
    )
    .await
    .expect("subscribe");

    let (op, op_token, op_client) = operator(&net, 60 * ONE_CYXWIZ).await;
    let node: NodeAccount = op_client.account(&pda::node(&op.pubkey())).await.unwrap();
    assert_eq!(node.stake, 60 * ONE_CYXWIZ);

    let (user, user_token) = net.fund_wallet(10 * SOL, 20 * ONE_CYXWIZ).await.unwrap();
    let user_client = net.client(user.insecure_clone());
    let coordinator = net.client(net.keys().coordinator.insecure_clone());
    let job = job_id();
    let amount = 8 * ONE_CYXWIZ;

    user_client
        .send(&[job_escrow_ix(&a, &user, &user_token, job, amount)], &[])
        .await
        .expect("create escrow");
    assert_eq!(
        user_client
            .token_balance(&pda::escrow_vault(&pda::escrow(&job)))
            .await
            .unwrap(),
        amount
    );
    coordinator
        .send(
            &[ix::escrow::assign_node(
                &net.keys().coordinator.pubkey(),
                job,
                &op.pubkey(),
            )],
            &[],
        )
        .await
        .expect("assign");
    op_client
        .send(&[ix::escrow::accept_job(&op.pubkey(), job)], &[])
        .await
        .expect("accept");
    let root = [9u8; 32];
    let anchored = op_client
        .send(
            &[ix::escrow::anchor_checkpoint(&op.pubkey(), job, 2, root)],
            &[],
        )
        .await
        .expect("anchor checkpoint");
    // The landed transaction's own events are decoded from its logs.
    assert!(
        anchored
            .events
            .iter()
            .any(|e| matches!(e, ProgramEvent::CheckpointAnchored(c) if c.job_id == job)),
        "{:?}",
        anchored.events
    );
    let escrow: Escrow = op_client.account(&pda::escrow(&job)).await.unwrap();
    assert_eq!(escrow.state, EscrowState::InProgress);
    assert_eq!(escrow.epochs_done, 2);
    assert_eq!(escrow.merkle_root, root);

    // A zero proof is refused, by name. A deployable build has no verifier until the
    // Groth16 circuit lands (`ProofVerifierUnavailable`); under `cargo test --workspace`
    // Cargo unifies in the test crate's dev-only test verifier, which rejects it as
    // `InvalidProof`. Either way nothing is paid.
    let refused = op_client
        .send(
            &[ix::escrow::complete_payment(
                &a,
                &op.pubkey(),
                job,
                &op_token,
                [0; 256],
                [1; 32],
                root,
                4,
            )],
            &[],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused.program_error_name(),
            Some("ProofVerifierUnavailable" | "InvalidProof")
        ),
        "{refused}"
    );
    assert_eq!(
        user_client
            .token_balance(&pda::escrow_vault(&pda::escrow(&job)))
            .await
            .unwrap(),
        amount
    );

    // The user stops the job: settled by anchored progress (2 of 4 epochs).
    let user_before = user_client.token_balance(&user_token).await.unwrap();
    let node_before = user_client.token_balance(&op_token).await.unwrap();
    user_client
        .send(
            &[ix::escrow::refund(
                &a,
                &user.pubkey(),
                job,
                &op.pubkey(),
                &user_token,
                &op_token,
            )],
            &[],
        )
        .await
        .expect("refund");
    let escrow: Escrow = user_client.account(&pda::escrow(&job)).await.unwrap();
    assert_eq!(escrow.state, EscrowState::Refunded);
    let to_user = user_client.token_balance(&user_token).await.unwrap() - user_before;
    let to_node = user_client.token_balance(&op_token).await.unwrap() - node_before;
    assert_eq!(to_user + to_node, amount, "the whole escrow is paid out");
    assert_eq!(to_node, amount / 2, "half the epochs were anchored");

    // Every step's event arrived over the WebSocket subscription.
    let want: BTreeSet<&str> = [
        "NodeRegistered",
        "EscrowCreated",
        "NodeAssigned",
        "JobAccepted",
        "JobLocked",
        "CheckpointAnchored",
        "EscrowRefunded",
    ]
    .into();
    let mut seen = BTreeSet::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !want.is_subset(&seen) && tokio::time::Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_secs(5), events.next()).await {
            Ok(Some(Notice::Transaction { events, failed, .. })) => {
                if !failed {
                    seen.extend(events.iter().map(|e| e.name()));
                }
            }
            Ok(Some(Notice::Reconnected { .. })) | Err(_) => {}
            Ok(None) => break,
        }
    }
    assert!(
        want.is_subset(&seen),
        "missing events: {:?}",
        want.difference(&seen)
    );
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resend_after_a_lost_confirmation_never_applies_twice() {
    let net = localnet().await;
    let a = net.network().addresses;
    let (op, token, client) = operator(&net, 60 * ONE_CYXWIZ).await;
    let stake = |c: &ChainClient| {
        let c = c.clone();
        let at = pda::node(&op.pubkey());
        async move { c.account::<NodeAccount>(&at).await.map(|n| n.stake) }
    };
    let top_up = [ix::registry::stake_more(
        &a,
        &op.pubkey(),
        &token,
        ONE_CYXWIZ,
    )];

    // 1. The confirmation is lost: the client waits out the blockhash, finds that the
    //    first transaction landed, and reports it instead of sending again.
    let before = stake(&client).await.unwrap();
    client
        .faults()
        .lose_confirmations
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let sent = client.send(&top_up, &[]).await.expect("stake_more");
    assert_eq!(stake(&client).await.unwrap(), before + ONE_CYXWIZ);
    assert!(sent.events.iter().any(|e| e.name() == "StakeChanged"));

    // 2. The confirmation and the status are both lost (another RPC node answers): the
    //    caller's on-chain check sees the effect and nothing is sent again.
    let before = stake(&client).await.unwrap();
    let target = before + ONE_CYXWIZ;
    client
        .faults()
        .lose_confirmations
        .store(1, std::sync::atomic::Ordering::SeqCst);
    client
        .faults()
        .lose_statuses
        .store(1, std::sync::atomic::Ordering::SeqCst);
    let at = pda::node(&op.pubkey());
    let applied = move |c: ChainClient| -> cyxwiz_chain::client::AppliedFuture {
        Box::pin(async move { Ok(c.account::<NodeAccount>(&at).await?.stake >= target) })
    };
    let outcome = client
        .send_idempotent(&top_up, &[], &applied)
        .await
        .expect("stake_more");
    assert!(matches!(outcome, Outcome::AlreadyApplied), "{outcome:?}");
    assert_eq!(
        stake(&client).await.unwrap(),
        target,
        "applied exactly once"
    );
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_are_typed_errors() {
    // A bad URL: malformed, or nothing listening.
    assert!(matches!(
        ChainClient::new(
            "localhost:8899",
            Keypair::new(),
            CommitmentConfig::confirmed()
        ),
        Err(ChainError::Connection { .. })
    ));
    let nowhere = ChainClient::new(
        "http://127.0.0.1:9",
        Keypair::new(),
        CommitmentConfig::confirmed(),
    )
    .unwrap();
    let err = nowhere.check().await.unwrap_err();
    assert!(matches!(err, ChainError::Connection { .. }), "{err:?}");
    let err = nowhere
        .raw_account(&pda::escrow_config())
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::Connection { .. }), "{err:?}");
    assert!(matches!(
        EventSubscription::start(
            "ws://127.0.0.1:9",
            &[ids::JOB_ESCROW],
            CommitmentConfig::confirmed(),
            ReconnectPolicy::default()
        )
        .await,
        Err(ChainError::Connection { .. })
    ));

    let net = localnet().await;
    let a = net.network().addresses;
    let (user, user_token) = net.fund_wallet(SOL, 5 * ONE_CYXWIZ).await.unwrap();
    let user_client = net.client(user.insecure_clone());

    // An expired (here: never issued) blockhash on a transaction signed elsewhere.
    let tx = solana_transaction::Transaction::new_signed_with_payer(
        &[cyxwiz_chain::token::transfer_lamports(
            &user.pubkey(),
            &Pubkey::new_unique(),
            1,
        )],
        Some(&user.pubkey()),
        &[&user],
        solana_hash::Hash::new_unique(),
    );
    let err = user_client.send_signed(&tx).await.unwrap_err();
    assert!(matches!(err, ChainError::BlockhashExpired), "{err:?}");

    // A fee payer with no SOL at all.
    let broke = net.client(Keypair::new());
    let err = broke
        .send(
            &[ix::registry::update_heartbeat(&broke.payer().pubkey())],
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::InsufficientFunds(_)), "{err:?}");

    // Escrowing more tokens than the account holds.
    let err = user_client
        .send(
            &[job_escrow_ix(
                &a,
                &user,
                &user_token,
                job_id(),
                6 * ONE_CYXWIZ,
            )],
            &[],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, ChainError::InsufficientFunds(_)), "{err:?}");

    // Program errors, named: one of the program's own (from its error enum) and one of
    // Anchor's framework errors (an account that does not exist).
    let (op, _, _) = operator(&net, 60 * ONE_CYXWIZ).await;
    let job = job_id();
    user_client
        .send(
            &[job_escrow_ix(&a, &user, &user_token, job, ONE_CYXWIZ)],
            &[],
        )
        .await
        .unwrap();
    let err = user_client
        .send(
            &[ix::escrow::assign_node(&user.pubkey(), job, &op.pubkey())],
            &[],
        )
        .await
        .unwrap_err();
    match &err {
        ChainError::Program {
            program,
            code,
            name,
            message,
            ..
        } => {
            assert_eq!(*program, "JobEscrow");
            assert_eq!(name, "NotCoordinator");
            assert_eq!(*code, u32::from(job_escrow::EscrowError::NotCoordinator));
            assert!(!message.is_empty());
        }
        other => panic!("expected a program error, got {other:?}"),
    }
    let coordinator = net.client(net.keys().coordinator.insecure_clone());
    let err = coordinator
        .send(
            &[ix::escrow::assign_node(
                &net.keys().coordinator.pubkey(),
                job,
                &Pubkey::new_unique(),
            )],
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.program_error_name(),
        Some("AccountNotInitialized"),
        "{err}"
    );
    // Nothing moved: the escrow is still waiting for a node.
    let escrow: Escrow = user_client.account(&pda::escrow(&job)).await.unwrap();
    assert_eq!(escrow.state, EscrowState::Locked);
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_event_subscription_reconnects_when_the_node_comes_back() {
    let net = localnet().await;
    let port = |url: &str| url.rsplit(':').next().unwrap().parse::<u16>().unwrap();
    let (rpc_port, ws_port) = (port(net.rpc_url()), port(net.ws_url()));
    let mut sub = EventSubscription::start(
        net.ws_url(),
        &[ids::JOB_ESCROW],
        CommitmentConfig::confirmed(),
        ReconnectPolicy {
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(500),
            max_consecutive_failures: None,
        },
    )
    .await
    .expect("subscribe");
    net.stop();

    // The node comes back on the same ports (a restart).
    let mut restarted = None;
    for _ in 0..20 {
        match Localnet::start(LocalnetConfig {
            rpc_port,
            ws_port,
            slot_time_ms: 20,
            ..LocalnetConfig::default()
        })
        .await
        {
            Ok(n) => {
                restarted = Some(n);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(250)).await,
        }
    }
    let net = restarted.expect("the localnet restarts on the same ports");

    // The subscriber says it reconnected (so its consumer reconciles) ...
    let reconnected = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match sub.next().await {
                Some(Notice::Reconnected { .. }) => return true,
                Some(_) => {}
                None => return false,
            }
        }
    })
    .await;
    assert_eq!(reconnected, Ok(true));

    // ... and events flow again.
    let a = net.network().addresses;
    let (user, user_token) = net.fund_wallet(SOL, 2 * ONE_CYXWIZ).await.unwrap();
    let job = job_id();
    net.client(user.insecure_clone())
        .send(
            &[job_escrow_ix(&a, &user, &user_token, job, ONE_CYXWIZ)],
            &[],
        )
        .await
        .unwrap();
    // (The restarted chain's own deployment transactions arrive first.)
    let found = tokio::time::timeout(Duration::from_secs(20), async {
        while let Some(notice) = sub.next().await {
            if let Notice::Transaction { events, .. } = notice
                && events
                    .iter()
                    .any(|e| matches!(e, ProgramEvent::EscrowCreated(c) if c.job_id == job))
            {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "EscrowCreated after the reconnect");
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_server_that_never_answers_is_a_bounded_connection_error() {
    // Accepts TCP connections and then says nothing.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}", listener.local_addr().unwrap());
    let _server = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let started = std::time::Instant::now();
    let result = EventSubscription::start(
        &url,
        &[ids::JOB_ESCROW],
        CommitmentConfig::confirmed(),
        ReconnectPolicy::default(),
    )
    .await;
    assert!(
        matches!(&result, Err(ChainError::Connection { reason, .. }) if reason.contains("handshake")),
        "{result:?}"
    );
    assert!(started.elapsed() < cyxwiz_chain::pubsub::CONNECT_TIMEOUT + Duration::from_secs(5));
}
