//! Jobs without the coordinator (issue 16), end to end on a local network.
//!
//! * The main job runs to payment with the coordinator stopped: the engine finds the
//!   nodes on the mesh (DHT, by capability and stake tier), checks them on chain, funds
//!   the escrow, waits out the chain's `user_assign_after_secs` (3 s on this localnet),
//!   assigns the node itself (`assign_node_by_user`) and uploads with a header signed
//!   by its wallet; the node checks the escrow on chain, trains, proves and is paid
//!   90 % by `complete_payment`, the fee split into the treasuries and the burn.
//! * A node takes such an upload only from the escrow's user, for an escrow assigned to
//!   itself, with a fresh signature used once: a wrong signer, an escrow assigned to
//!   another node, an unassigned escrow, no escrow, a stale signature and a replayed
//!   one are each refused with their own status and start nothing.
//! * A job the coordinator quoted but, stopped right after, never confirmed goes on the
//!   same way from its funded escrow.
//! * A fallback that fails after funding (the node vanishes once assigned) says where the
//!   money is and how to get it back, and that way works (`cancel`: 90 % back).
//! * The engine's list price is the coordinator's dearest quote.

mod common;

use std::time::Duration;

use cyxwiz_chain::{Pubkey, client::ChainClient, ix, pda, state::EscrowState};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_demo::{DIGITS, MLP_WASM, NetOptions, Network};
use cyxwiz_engine_client::{
    Engine, EngineConfig, Error, Event, JobSpec, NodeSession, Observer, SessionOptions,
    UploadOptions, config::Discovery, direct::list_price,
};
use solana_signer::Signer;
use tonic::Code;

/// The chain's window before a user may assign its own escrow, on these localnets.
const WINDOW_SECS: i64 = 3;

/// An engine on `net` whose coordinator is `coordinator_url` and whose way into the
/// mesh is `bootstrap`.
async fn engine(
    net: &Network,
    name: &str,
    coordinator_url: &str,
    bootstrap: Vec<String>,
) -> Engine {
    let dir = net.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let keypair = dir.join("keypair.json");
    let (wallet, _) = net.fund_engine(500 * ONE_CYXWIZ, &keypair).await.unwrap();
    let mut config = EngineConfig::default();
    config.engine.keypair = keypair;
    config.engine.jobs_dir = dir.join("jobs");
    config.engine.settle_timeout_secs = 180;
    config.engine.reconnect_interval_ms = 500;
    config.engine.coordinator_attempts = 2;
    config.engine.discovery_timeout_secs = 60;
    config.chain.rpc_url = net.net.rpc_url().to_string();
    config.coordinator.url = coordinator_url.to_string();
    config.coordinator.timeout_ms = 2_000;
    config.network.bootstrap = bootstrap;
    config.network.private_networks = true;
    config.network.query_timeout = 5;
    Engine::with_wallet(config, wallet).unwrap()
}

/// Remembers what the engine said it was doing.
#[derive(Default)]
struct Seen {
    unreachable: Option<String>,
    candidates: usize,
    assigned_by_user: Option<String>,
    uploaded: bool,
}

impl Observer for Seen {
    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::CoordinatorUnreachable { reason } => self.unreachable = Some(reason.into()),
            Event::Candidates(c) => self.candidates = c.len(),
            Event::AssignedByUser { node, .. } => {
                self.assigned_by_user = Some(node.owner.to_string())
            }
            Event::Uploaded(_) => self.uploaded = true,
            _ => {}
        }
    }
}

async fn token_supply(chain: &ChainClient, mint: &Pubkey) -> u64 {
    chain
        .rpc()
        .get_token_supply(mint)
        .await
        .unwrap()
        .amount
        .parse()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_main_job_is_paid_with_the_coordinator_stopped() {
    let mut net = Network::start(NetOptions {
        user_assign_after_secs: Some(WINDOW_SECS),
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let coordinator_url = net.coordinator.url();
    net.coordinator.halt().await;
    let bootstrap = vec![net.mesh_bootstrap.clone().expect("node 0 is on the mesh")];
    let engine = engine(&net, "engine", &coordinator_url, bootstrap).await;
    assert_eq!(engine.config().engine.discovery, Discovery::Auto);

    let chain = engine.chain().clone();
    let a = net.net.network().addresses;
    let engine_token = engine.token_account().await.unwrap();
    let tokens = |chain: ChainClient, accounts: Vec<Pubkey>| async move {
        let mut out = Vec::new();
        for t in accounts {
            out.push(chain.token_balance(&t).await.unwrap());
        }
        out
    };
    let watched: Vec<Pubkey> = [
        engine_token,
        a.treasury.staking,
        a.treasury.development,
        a.treasury.liquidity,
    ]
    .into_iter()
    .chain(net.operators.iter().map(|o| o.token))
    .collect();
    let before = tokens(chain.clone(), watched.clone()).await;
    let supply_before = token_supply(&chain, &a.mint).await;

    let mut spec = JobSpec::new(MLP_WASM.to_vec(), DIGITS.to_vec(), 60, 200 * ONE_CYXWIZ);
    spec.seed = 42;
    spec.estimated_secs = 60;
    let mut seen = Seen::default();
    let run = engine.run(&spec, &mut seen).await.unwrap();

    // The engine saw the coordinator down and worked around it.
    let reason = seen.unreachable.expect("the outage was reported");
    assert!(reason.contains("coordinator"), "{reason}");
    assert!(seen.candidates >= 1 && seen.uploaded);
    assert_eq!(seen.assigned_by_user.as_deref(), Some(run.node.as_str()));

    // On chain: the user assigned the node, which accepted, trained and was paid.
    let escrow = engine.escrow(&run.job_id).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Completed);
    assert!(escrow.assigned_by_user);
    assert_eq!(escrow.node.to_string(), run.node);
    assert_eq!(escrow.user, engine.wallet().pubkey());
    assert_eq!(escrow.final_weights_hash, run.final_weights_hash);
    assert_eq!(escrow.amount, run.price);
    assert_eq!(
        run.price,
        list_price(&spec),
        "the engine offered the list price"
    );
    let sigs = &run.signatures;
    for sig in [&sigs.escrow, &sigs.assign, &sigs.accept, &sigs.payment] {
        assert!(!sig.is_empty(), "{sigs:?}");
    }

    // A real model, and the weights the engine saved are the ones committed.
    assert!(run.test_accuracy >= 0.95, "accuracy {}", run.test_accuracy);
    let saved = std::fs::read(&run.weights_path).unwrap();
    assert_eq!(cyxwiz_poc::weights_digest(&saved), run.final_weights_hash);

    // 90 % to the node, the 10 % fee split 40/30/20/10 into the treasuries and the
    // burn; nothing else moved.
    let after = tokens(chain.clone(), watched.clone()).await;
    let supply_after = token_supply(&chain, &a.mint).await;
    let gained = |i: usize| after[i].saturating_sub(before[i]);
    let price = run.price;
    assert_eq!(before[0] - after[0], price, "the engine paid the price");
    let node_index = 4 + net
        .operators
        .iter()
        .position(|o| o.owner == escrow.node)
        .expect("one of our nodes");
    // The fee is 10 % rounded down; the node gets the rest.
    let fee = price / 10;
    assert!(fee > 0, "price {price}");
    assert_eq!(gained(node_index), price - fee);
    let (staking, development, liquidity) = (gained(1), gained(2), gained(3));
    let burned = supply_before - supply_after;
    assert_eq!(staking + development + liquidity + burned, fee);
    assert_eq!(staking, fee * 4 / 10);
    assert_eq!(development, fee * 3 / 10);
    assert_eq!(liquidity, fee * 2 / 10);
    for (i, o) in net.operators.iter().enumerate() {
        if o.owner != escrow.node {
            assert_eq!(gained(4 + i), 0, "only the assigned node is paid");
        }
    }

    net.stop().await;
}

/// Approves the coordinator's quote and stops the coordinator right then, so the engine
/// funds an escrow the coordinator will never confirm.
struct StopAfterQuote<'a> {
    seen: Seen,
    coordinator: Option<&'a mut cyxwiz_demo::Served>,
}

impl Observer for StopAfterQuote<'_> {
    fn event(&mut self, event: Event<'_>) {
        self.seen.event(event)
    }

    fn approve(&mut self, _quote: &cyxwiz_engine_client::Quote) -> bool {
        if let Some(c) = self.coordinator.take() {
            // `approve` is synchronous: stop the coordinator on this worker thread.
            tokio::task::block_in_place(|| tokio::runtime::Handle::current().block_on(c.halt()));
        }
        true
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_job_quoted_by_a_coordinator_that_then_dies_is_assigned_by_its_user() {
    let mut net = Network::start(NetOptions {
        nodes: 2,
        user_assign_after_secs: Some(WINDOW_SECS),
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let bootstrap = vec![net.mesh_bootstrap.clone().expect("node 0 is on the mesh")];
    let url = net.coordinator.url();
    let engine = engine(&net, "engine", &url, bootstrap).await;
    let mut spec = JobSpec::new(MLP_WASM.to_vec(), DIGITS.to_vec(), 12, 100 * ONE_CYXWIZ);
    spec.seed = 3;
    spec.estimated_secs = 30;
    let mut observer = StopAfterQuote {
        seen: Seen::default(),
        coordinator: Some(&mut net.coordinator),
    };
    let run = engine.run(&spec, &mut observer).await.unwrap();

    let seen = observer.seen;
    assert!(
        seen.unreachable.is_some(),
        "the outage after the quote was reported"
    );
    assert_eq!(seen.assigned_by_user.as_deref(), Some(run.node.as_str()));
    let escrow = engine.escrow(&run.job_id).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Completed);
    assert!(
        escrow.assigned_by_user,
        "the user, not the coordinator, assigned it"
    );
    assert_eq!(escrow.final_weights_hash, run.final_weights_hash);
    let saved = std::fs::read(&run.weights_path).unwrap();
    assert_eq!(cyxwiz_poc::weights_digest(&saved), run.final_weights_hash);
    net.stop().await;
}

/// Stops the only node as soon as the escrow is funded: the engine will assign it (its
/// on-chain standing is fine) and then find it gone.
struct StopNodeWhenFunded {
    agent: Option<cyxwiz_node_agent::Agent>,
}

impl Observer for StopNodeWhenFunded {
    fn event(&mut self, event: Event<'_>) {
        if matches!(event, Event::EscrowLocked { .. })
            && let Some(a) = self.agent.take()
        {
            tokio::task::block_in_place(|| {
                tokio::runtime::Handle::current().block_on(a.shutdown())
            });
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fallback_that_fails_after_funding_says_how_to_get_the_money_back() {
    let mut net = Network::start(NetOptions {
        nodes: 1,
        user_assign_after_secs: Some(WINDOW_SECS),
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let bootstrap = vec![net.mesh_bootstrap.clone().expect("node 0 is on the mesh")];
    let url = net.coordinator.url();
    net.coordinator.halt().await;
    let engine = engine(&net, "engine", &url, bootstrap).await;
    let token = engine.token_account().await.unwrap();
    let before = engine.chain().token_balance(&token).await.unwrap();
    let mut spec = JobSpec::new(MLP_WASM.to_vec(), DIGITS.to_vec(), 12, 100 * ONE_CYXWIZ);
    spec.estimated_secs = 30;
    let mut observer = StopNodeWhenFunded {
        agent: net.agents[0].take(),
    };
    let e = engine.run(&spec, &mut observer).await.unwrap_err();
    let Error::Fallback {
        job, state, remedy, ..
    } = &e
    else {
        panic!("expected a fallback error, got {e}");
    };
    assert_eq!(state, "Assigned", "{e}");
    assert!(remedy.contains(&format!("cyxwiz cancel {job}")), "{e}");
    assert!(remedy.contains("timeout_refund"), "{e}");

    // The money is where the error says, and the remedy works: 90 % back now.
    let id = cyxwiz_engine_client::parse_job_id(job).unwrap();
    let escrow = engine.escrow(&id).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Assigned);
    assert_eq!(escrow.node, net.operators[0].owner);
    assert_eq!(
        before - engine.chain().token_balance(&token).await.unwrap(),
        escrow.amount
    );
    let cancelled = engine.cancel(&id).await.unwrap();
    assert!(cancelled.signature.is_some());
    let after = engine.chain().token_balance(&token).await.unwrap();
    assert_eq!(
        before - after,
        escrow.amount / 10,
        "only the cancellation fee is kept"
    );
    assert_eq!(
        engine.escrow(&id).await.unwrap().unwrap().state,
        EscrowState::Cancelled
    );
    net.stop().await;
}

/// A session with node `i` of `net` for `engine`'s wallet.
async fn session(
    net: &Network,
    i: usize,
    wallet: std::sync::Arc<solana_keypair::Keypair>,
) -> NodeSession {
    let agent = net.agents[i].as_ref().unwrap();
    NodeSession::connect(
        &net.operators[i].config.node.advertise,
        agent.fingerprint(),
        wallet,
        SessionOptions::default(),
    )
    .await
    .unwrap()
}

fn node_refusal(e: &Error) -> (Code, String) {
    match e {
        Error::Node { code, message, .. } => (*code, message.clone()),
        other => panic!("expected the node's refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_node_takes_a_direct_job_only_from_its_escrows_user_assigned_to_itself() {
    let mut net = Network::start(NetOptions {
        nodes: 2,
        user_assign_after_secs: Some(WINDOW_SECS),
        ..NetOptions::default()
    })
    .await
    .unwrap();
    let url = net.coordinator.url();
    net.coordinator.halt().await;
    let user = engine(&net, "user", &url, vec![]).await;
    let other = engine(&net, "other", &url, vec![]).await;
    let (n0, n1) = (net.operators[0].owner, net.operators[1].owner);
    let node1 = net.agents[1].as_ref().unwrap().node().clone();
    let node0 = net.agents[0].as_ref().unwrap().node().clone();
    let user_wallet = std::sync::Arc::new(user.wallet().insecure_clone());
    let (s0, s1) = (
        session(&net, 0, user_wallet.clone()).await,
        session(&net, 1, user_wallet).await,
    );
    let other_s1 = session(
        &net,
        1,
        std::sync::Arc::new(other.wallet().insecure_clone()),
    )
    .await;

    let mut spec = JobSpec::new(MLP_WASM.to_vec(), DIGITS.to_vec(), 12, 100 * ONE_CYXWIZ);
    spec.seed = 7;
    spec.estimated_secs = 30;
    let upload = |s: &NodeSession, node: Pubkey, job: [u8; 16], options: UploadOptions| {
        let (s, spec) = (s.clone(), spec.clone());
        async move {
            s.upload_direct_with(
                &node,
                &job,
                spec.seed,
                &spec.module,
                &spec.dataset,
                options,
                |_, _| {},
            )
            .await
        }
    };

    // No escrow at all.
    let ghost: [u8; 16] = rand::random();
    let (code, msg) = node_refusal(
        &upload(&s1, n1, ghost, UploadOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::NotFound, "{msg}");

    // A funded escrow nobody assigned yet. The request is kept to be replayed below.
    let job: [u8; 16] = rand::random();
    let price = list_price(&spec);
    user.create_escrow(job, price, spec.epochs, &spec)
        .await
        .unwrap();
    let kept = UploadOptions {
        signed_at_ms: Some(cyxwiz_proto::auth::now_ms()),
        nonce: Some(rand::random()),
        ..UploadOptions::default()
    };
    let (code, msg) = node_refusal(&upload(&s1, n1, job, kept).await.unwrap_err());
    assert_eq!(code, Code::FailedPrecondition, "{msg}");
    assert!(msg.contains("no node is assigned"), "{msg}");

    // The user assigns node 1 once the window has passed.
    let assigned = common::eventually(Duration::from_secs(30), || {
        let (chain, owner) = (user.chain().clone(), user.wallet().pubkey());
        async move {
            chain
                .send(&[ix::escrow::assign_node_by_user(&owner, job, &n1)], &[])
                .await
                .is_ok()
        }
    })
    .await;
    assert!(assigned, "assign_node_by_user did not land");

    // Node 0 is not the escrow's node.
    let (code, msg) = node_refusal(
        &upload(&s0, n0, job, UploadOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::PermissionDenied, "{msg}");
    assert!(msg.contains("another node"), "{msg}");
    // An upload signed for node 0 but sent to node 1.
    let (code, msg) = node_refusal(
        &upload(&s1, n0, job, UploadOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::PermissionDenied, "{msg}");
    // Another wallet than the escrow's user.
    let (code, msg) = node_refusal(
        &upload(&other_s1, n1, job, UploadOptions::default())
            .await
            .unwrap_err(),
    );
    assert_eq!(code, Code::PermissionDenied, "{msg}");
    assert!(msg.contains("escrow belongs to"), "{msg}");
    // A signature from five minutes ago.
    let stale = UploadOptions {
        signed_at_ms: Some(cyxwiz_proto::auth::now_ms() - 300_000),
        ..UploadOptions::default()
    };
    let (code, msg) = node_refusal(&upload(&s1, n1, job, stale).await.unwrap_err());
    assert_eq!(code, Code::Unauthenticated, "{msg}");
    // The request refused while the escrow was unassigned, replayed now that it would
    // pass: its nonce is spent.
    let (code, msg) = node_refusal(&upload(&s1, n1, job, kept).await.unwrap_err());
    assert_eq!(code, Code::Unauthenticated, "{msg}");
    assert!(msg.contains("replayed"), "{msg}");

    // Nothing was started or accepted by any of that.
    assert!(node0.job(&job).is_none() && node1.job(&job).is_none());
    let escrow = user.escrow(&job).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Assigned);
    assert_eq!(escrow.accepted_at, 0);

    // The honest upload is taken, accepted on chain and trained to payment.
    let accepted = upload(&s1, n1, job, UploadOptions::default())
        .await
        .unwrap();
    assert!(!accepted.accept_signature.is_empty());
    let done = s1
        .training_complete(&job, Duration::from_secs(180))
        .await
        .unwrap();
    assert!(!done.payment_signature.is_empty(), "{done:?}");
    let escrow = user.escrow(&job).await.unwrap().unwrap();
    assert_eq!(escrow.state, EscrowState::Completed);
    assert_eq!(escrow.node, n1);
    assert!(node0.job(&job).is_none());
    // The escrow account is where the node got paid from.
    assert!(
        user.chain()
            .try_account::<cyxwiz_chain::state::Escrow>(&pda::escrow(&job))
            .await
            .unwrap()
            .is_some()
    );

    net.stop().await;
}

#[test]
fn the_engines_list_price_is_the_coordinators_dearest_quote() {
    use cyxwiz_coordinator::{pricing::PriceList, types};
    let list = PriceList::default();
    for (secs, gpus, vram, dc, ram, prio) in [
        (60, 0, 0, false, 512, cyxwiz_proto::v1::Priority::Normal),
        (3_600, 0, 0, false, 4_096, cyxwiz_proto::v1::Priority::Low),
        (
            7 * 3_600,
            1,
            8_192,
            false,
            16_384,
            cyxwiz_proto::v1::Priority::High,
        ),
        (
            2 * 86_400,
            4,
            40_960,
            true,
            65_536,
            cyxwiz_proto::v1::Priority::Critical,
        ),
    ] {
        let mut spec = JobSpec::new(b"\0asm".to_vec(), vec![1], 1, u64::MAX);
        spec.estimated_secs = secs;
        spec.priority = prio;
        spec.hardware.gpu_count = gpus;
        spec.hardware.vram_mb = vram;
        spec.hardware.datacenter_gpu = dc;
        spec.hardware.ram_mb = ram;
        let hw = types::Hardware {
            cpu_cores: spec.hardware.cpu_cores,
            ram_mb: ram,
            gpu_count: gpus,
            vram_mb: vram,
            datacenter_gpu: dc,
        };
        let p = types::Priority::from_wire(prio as i32).unwrap();
        // Tier 0 (Bronze) carries the dearest adjustment; 10,000 bps is the list ask.
        let quote = list.quote(&hw, secs, p, 0, 10_000).unwrap();
        assert_eq!(list_price(&spec), quote.total, "{secs} s, {gpus} GPU(s)");
        for tier in 1..4 {
            assert!(list.quote(&hw, secs, p, tier, 10_000).unwrap().total <= quote.total);
        }
    }
}
