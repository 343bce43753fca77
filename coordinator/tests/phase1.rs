//! Phase 1 of the spec's workflow against the localnet, over real gRPC: submit, reserve,
//! escrow by a real signed transaction, confirm, credential, node verification — and each
//! way it can go wrong, with a clear status and no state change.

mod common;

use std::time::Duration;

use anchor_lang::solana_program::{program_pack::Pack, system_instruction};
use common::*;
use cyxwiz_chain::{
    ix, pda,
    state::{Escrow, EscrowState},
};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_proto::{auth::sign_now, methods, v1};
use solana_keypair::Keypair;
use solana_signer::Signer;
use spl_token_2022_interface::{instruction as token_ix, state::Mint};
use tonic::Code;

const WEEK: i64 = 7 * 86_400;

async fn escrow_state(net: &cyxwiz_localnet::Localnet, job: &[u8]) -> Option<Escrow> {
    let id: [u8; 16] = job.try_into().unwrap();
    net.client(Keypair::new())
        .try_account(&pda::escrow(&id))
        .await
        .unwrap()
}

async fn phase_one(db: Db) {
    let net = localnet().await;
    let dir = temp_dir("phase1");
    let served = serve(config(&net, &dir, &db, None)).await;
    let url = served.url();

    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    let reg = op.join(&url, 1).await;
    assert_eq!(reg.stake, 100 * ONE_CYXWIZ);
    assert_eq!(reg.tier, "bronze");

    let engine = Engine::funded(&net, 20 * ONE_CYXWIZ).await;
    let job = cpu_job(4);
    let ready = engine.submit(&url, job.clone()).await.expect("SubmitJob");
    assert_eq!(ready.node_owner, op.wallet.pubkey().to_string());
    assert_eq!(ready.epochs, 4);
    assert!(ready.price > 0 && ready.price <= job.max_price);
    let b = ready.breakdown.unwrap();
    assert_eq!(b.total, ready.price);
    assert_eq!(b.tier_adjustment_bps, 2_000, "a new node is Bronze: +20 %");
    let id: [u8; 16] = ready.job_id.as_slice().try_into().unwrap();
    assert_eq!(ready.escrow_address, pda::escrow(&id).to_string());
    assert_eq!(ready.mint, net.network().addresses.mint.to_string());
    let deadline_in = ready.escrow_deadline - cyxwiz_proto::auth::now_ms();
    assert!(
        (290_000..=300_000).contains(&deadline_in),
        "5-minute reservation: {deadline_in}"
    );
    assert_eq!(
        engine.status(&url, &ready.job_id).await.state,
        v1::JobState::Reserved as i32
    );

    let sig = engine
        .escrow(&net, &ready.job_id, ready.price, 4, WEEK)
        .await;
    let start = engine
        .confirm(&url, &ready.job_id, &sig)
        .await
        .expect("ConfirmEscrow");
    assert_eq!(start.node_owner, op.wallet.pubkey().to_string());
    assert_eq!(start.node_tls_fingerprint, op.tls.to_vec());
    assert!(!start.assign_signature.is_empty());
    let e = escrow_state(&net, &ready.job_id).await.unwrap();
    assert_eq!(e.state, EscrowState::Assigned);
    assert_eq!(e.node, op.wallet.pubkey());
    assert_eq!(
        engine.status(&url, &ready.job_id).await.state,
        v1::JobState::Assigned as i32
    );

    // The node checks the engine's credential: once.
    let mut nodes = node_client(&url).await;
    let verify = |token: String, kp: &Keypair| {
        sign_now(methods::VERIFY_TOKEN, v1::VerifyTokenRequest { token }, kp)
    };
    // Another node cannot use it.
    let other = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    other.join(&url, 1).await;
    let err = nodes
        .verify_token(verify(start.auth_token.clone(), &other.wallet))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let ok = nodes
        .verify_token(verify(start.auth_token.clone(), &op.wallet))
        .await
        .expect("VerifyToken")
        .into_inner();
    assert_eq!(ok.job_id, ready.job_id);
    assert_eq!(ok.engine_wallet, engine.wallet.pubkey().to_string());
    assert_eq!(ok.tls_fingerprint, op.tls.to_vec());
    assert_eq!(ok.config.unwrap().epochs, 4);
    let replay = nodes
        .verify_token(verify(start.auth_token.clone(), &op.wallet))
        .await
        .unwrap_err();
    assert_eq!(replay.code(), Code::Unauthenticated);
    assert!(
        replay.message().contains("already used"),
        "{}",
        replay.message()
    );
    let garbage = nodes
        .verify_token(verify("a.b.c".into(), &op.wallet))
        .await
        .unwrap_err();
    assert_eq!(garbage.code(), Code::Unauthenticated);

    // A fresh credential for the owner of an assigned job.
    let again = engine
        .confirm(&url, &ready.job_id, &sig)
        .await
        .expect("re-issue");
    assert_ne!(again.auth_token, start.auth_token);

    // The engine watches the job while the node accepts on chain; the coordinator
    // follows the event.
    let mut watch = engine_client(&url)
        .await
        .watch_job(sign_now(
            methods::WATCH_JOB,
            v1::JobRef {
                job_id: ready.job_id.clone(),
            },
            &engine.wallet,
        ))
        .await
        .expect("WatchJob")
        .into_inner();
    let first = watch.message().await.unwrap().unwrap();
    assert_eq!(first.state, v1::JobState::Assigned as i32);
    op.client
        .send(&[ix::escrow::accept_job(&op.wallet.pubkey(), id)], &[])
        .await
        .expect("accept_job");
    let mut state = 0;
    for _ in 0..100 {
        state = engine.status(&url, &ready.job_id).await.state;
        if state == v1::JobState::Running as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, v1::JobState::Running as i32);
    let next = tokio::time::timeout(Duration::from_secs(5), watch.message())
        .await
        .expect("a status change is streamed")
        .unwrap()
        .unwrap();
    assert_eq!(next.state, v1::JobState::Running as i32);
    let progress = nodes
        .report_progress(sign_now(
            methods::REPORT_PROGRESS,
            v1::ReportProgressRequest {
                job_id: ready.job_id.clone(),
                epoch: 2,
                checkpoint_hash: vec![5; 32],
            },
            &op.wallet,
        ))
        .await
        .expect("ReportProgress")
        .into_inner();
    assert_eq!(progress.epochs_reported, 2);
    let s = engine.status(&url, &ready.job_id).await;
    assert_eq!(s.epochs_reported, 2);
    assert_eq!(s.last_checkpoint_hash, vec![5; 32]);

    // The REST edge shows the same job and node, and publishes its contract.
    let (code, body) = http_get(
        served.http,
        &format!("/v1/jobs/{}", hex::encode(&ready.job_id)),
    )
    .await;
    assert_eq!(code, 200);
    assert!(body.contains("\"state\":\"running\""), "{body}");
    let (code, body) = http_get(served.http, "/v1/leaderboard").await;
    assert_eq!(code, 200);
    assert!(body.contains(&op.wallet.pubkey().to_string()), "{body}");
    let (code, body) = http_get(served.http, "/.well-known/jwks.json").await;
    assert_eq!(code, 200);
    assert!(body.contains("Ed25519"), "{body}");
    let (code, body) = http_get(served.http, "/metrics").await;
    assert_eq!(code, 200);
    assert!(body.contains("cyxwiz_escrows_confirmed_total"), "{body}");
    assert_eq!(http_get(served.http, "/v1/jobs/zz").await.0, 400);
    assert_eq!(http_get(served.http, "/v1/nodes/nobody").await.0, 404);
    let (code, body) = http_get(served.http, "/openapi.json").await;
    assert_eq!(code, 200);
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/v1/jobs",
        "/v1/jobs/{id}",
        "/v1/nodes",
        "/v1/nodes/{owner}",
        "/v1/leaderboard",
        "/.well-known/jwks.json",
    ] {
        assert!(
            body.contains(&format!("\"{path}\"")),
            "{path} missing from the OpenAPI document"
        );
        let concrete = path
            .replace("{id}", &hex::encode(&ready.job_id))
            .replace("{owner}", &op.wallet.pubkey().to_string());
        assert_eq!(http_get(served.http, &concrete).await.0, 200, "{concrete}");
    }
    // gRPC health for both services.
    let channel = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
    let serving = health
        .check(tonic_health::pb::HealthCheckRequest {
            service: "cyxwiz.coordinator.v1.EngineService".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        serving.status,
        tonic_health::pb::health_check_response::ServingStatus::Serving as i32
    );
    // Reflection lists the services (what `grpcurl list` shows).
    use tonic_reflection::pb::v1::{
        ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
        server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
    };
    let channel = tonic::transport::Channel::from_shared(url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut reflection = ServerReflectionClient::new(channel);
    let mut answers = reflection
        .server_reflection_info(tokio_stream::iter([ServerReflectionRequest {
            host: String::new(),
            message_request: Some(MessageRequest::ListServices(String::new())),
        }]))
        .await
        .unwrap()
        .into_inner();
    let Some(MessageResponse::ListServicesResponse(list)) =
        answers.message().await.unwrap().unwrap().message_response
    else {
        panic!("reflection answered something else");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    for name in [
        "cyxwiz.coordinator.v1.EngineService",
        "cyxwiz.coordinator.v1.NodeService",
        "grpc.health.v1.Health",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} not in {names:?}");
    }
    served.stop().await;
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase_one_end_to_end_on_sqlite() {
    phase_one(Db::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn phase_one_end_to_end_on_postgres() {
    phase_one(Db::Postgres).await;
}

/// A second mint the engine holds, to fund an escrow in the wrong token.
async fn foreign_mint_account(
    net: &cyxwiz_localnet::Localnet,
    engine: &Engine,
    amount: u64,
) -> (cyxwiz_chain::Pubkey, cyxwiz_chain::Pubkey) {
    let tp = net.network().addresses.token_program;
    let mint = Keypair::new();
    let account = Keypair::new();
    let me = engine.wallet.pubkey();
    let rent_mint = engine.client.rent_exempt(Mint::LEN).await.unwrap();
    let rent_acct = engine
        .client
        .rent_exempt(cyxwiz_chain::token::ACCOUNT_LEN)
        .await
        .unwrap();
    let mut ixs = vec![
        system_instruction::create_account(&me, &mint.pubkey(), rent_mint, Mint::LEN as u64, &tp),
        token_ix::initialize_mint2(&tp, &mint.pubkey(), &me, None, 9).unwrap(),
    ];
    ixs.extend(
        cyxwiz_chain::token::create_token_account(
            &me,
            &account.pubkey(),
            &mint.pubkey(),
            &tp,
            &me,
            rent_acct,
        )
        .unwrap(),
    );
    ixs.push(token_ix::mint_to(&tp, &mint.pubkey(), &account.pubkey(), &me, &[], amount).unwrap());
    engine
        .client
        .send(&ixs, &[&mint, &account])
        .await
        .expect("foreign mint");
    (mint.pubkey(), account.pubkey())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_escrows_are_refused_and_change_nothing() {
    let net = localnet().await;
    let dir = temp_dir("badescrow");
    let served = serve(config(&net, &dir, &Db::Sqlite, None)).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 4).await;
    let engine = Engine::funded(&net, 50 * ONE_CYXWIZ).await;

    let a = engine.submit(&url, cpu_job(4)).await.unwrap();
    let b = engine.submit(&url, cpu_job(4)).await.unwrap();
    let c = engine.submit(&url, cpu_job(4)).await.unwrap();
    let d = engine.submit(&url, cpu_job(4)).await.unwrap();
    let unchanged = |job: &v1::NodeAssignmentReady| {
        let job_id = job.job_id.clone();
        let (engine, url) = (&engine, url.clone());
        async move { engine.status(&url, &job_id).await.state == v1::JobState::Reserved as i32 }
    };

    // A signature no transaction has.
    let forged = solana_signature::Signature::from([9u8; 64]).to_string();
    let err = engine.confirm(&url, &a.job_id, &forged).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("not found"), "{}", err.message());
    assert!(unchanged(&a).await);
    let err = engine
        .confirm(&url, &a.job_id, "not-base58!")
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // The escrow of another job (b), presented for a.
    let sig_b = engine.escrow(&net, &b.job_id, b.price, 4, WEEK).await;
    let err = engine.confirm(&url, &a.job_id, &sig_b).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("did not create the escrow"),
        "{}",
        err.message()
    );
    assert!(unchanged(&a).await);
    assert_eq!(
        escrow_state(&net, &b.job_id).await.unwrap().state,
        EscrowState::Locked
    );

    // The right job, the wrong amount.
    let sig_c = engine.escrow(&net, &c.job_id, c.price - 1, 4, WEEK).await;
    let err = engine.confirm(&url, &c.job_id, &sig_c).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("does not match the quoted price"),
        "{}",
        err.message()
    );
    assert!(unchanged(&c).await);
    assert_eq!(
        escrow_state(&net, &c.job_id).await.unwrap().state,
        EscrowState::Locked
    );

    // The right job and amount in another token: JobEscrow itself refuses to create it
    // (the coordinator's own mint check is a unit test of the gateway).
    let (mint, account) = foreign_mint_account(&net, &engine, 10 * ONE_CYXWIZ).await;
    let mut addresses = net.network().addresses;
    addresses.mint = mint;
    let id_d: [u8; 16] = d.job_id.as_slice().try_into().unwrap();
    let err = engine
        .client
        .send(
            &[ix::escrow::create_escrow(
                &addresses,
                &engine.wallet.pubkey(),
                &account,
                id_d,
                d.price,
                4,
                7 * 86_400,
                600,
            )],
            &[],
        )
        .await
        .unwrap_err();
    assert_eq!(err.program_error_name(), Some("WrongMint"));
    assert!(escrow_state(&net, &d.job_id).await.is_none());
    assert!(unchanged(&d).await);

    // Someone else's job.
    let stranger = Engine::funded(&net, ONE_CYXWIZ).await;
    let err = stranger.confirm(&url, &b.job_id, &sig_b).await.unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    // b itself confirms fine.
    engine
        .confirm(&url, &b.job_id, &sig_b)
        .await
        .expect("b confirms");
    served.stop().await;
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_reservation_is_refused_and_releases_the_node() {
    let net = localnet().await;
    let dir = temp_dir("expired");
    let mut cfg = config(&net, &dir, &Db::Sqlite, None);
    cfg.api.reservation_secs = 2;
    let served = serve(cfg).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 1).await;
    let engine = Engine::funded(&net, 20 * ONE_CYXWIZ).await;
    let ready = engine.submit(&url, cpu_job(4)).await.unwrap();
    // The only node is held.
    let busy = engine.submit(&url, cpu_job(4)).await.unwrap_err();
    assert_eq!(busy.code(), Code::ResourceExhausted);
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let sig = engine
        .escrow(&net, &ready.job_id, ready.price, 4, WEEK)
        .await;
    let err = engine.confirm(&url, &ready.job_id, &sig).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("reservation expired"),
        "{}",
        err.message()
    );
    assert_eq!(
        escrow_state(&net, &ready.job_id).await.unwrap().state,
        EscrowState::Locked
    );
    // The sweeper marks it expired and the node is free again.
    let mut state = 0;
    for _ in 0..50 {
        state = engine.status(&url, &ready.job_id).await.state;
        if state == v1::JobState::Expired as i32 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(state, v1::JobState::Expired as i32);
    engine
        .submit(&url, cpu_job(4))
        .await
        .expect("the node is free again");
    served.stop().await;
    net.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_size_limits_and_bad_signatures_are_refused() {
    let net = localnet().await;
    let dir = temp_dir("limits");
    let mut cfg = config(&net, &dir, &Db::Sqlite, None);
    cfg.api.jobs_per_wallet_per_day = 2;
    cfg.api.max_request_bytes = 4_096;
    let store_cfg = cfg.clone();
    let served = serve(cfg).await;
    let url = served.url();
    let op = Operator::on_chain(&net, 100 * ONE_CYXWIZ).await;
    op.join(&url, 8).await;
    let engine = Engine::funded(&net, ONE_CYXWIZ).await;
    let store = store_of(&store_cfg).await;
    let count = || async { store.jobs(None, None, 100, 0).await.unwrap().len() };

    engine.submit(&url, cpu_job(1)).await.unwrap();
    engine.submit(&url, cpu_job(1)).await.unwrap();
    let err = engine.submit(&url, cpu_job(1)).await.unwrap_err();
    assert_eq!(err.code(), Code::ResourceExhausted);
    assert!(
        err.message().contains("2 jobs per wallet per day"),
        "{}",
        err.message()
    );
    assert!(err.metadata().get("retry-after").is_some());
    assert_eq!(count().await, 2);

    // Oversized: refused by the transport before any handler runs.
    let other = Engine::funded(&net, ONE_CYXWIZ).await;
    let mut big = cpu_job(1);
    big.region = "x".repeat(8_000);
    let err = other.submit(&url, big).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{}", err.message());
    // Invalid fields: a clear message naming the field.
    let mut bad = cpu_job(0);
    bad.module_hash = vec![1; 3];
    let err = other.submit(&url, bad).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("module_hash"), "{}", err.message());
    assert_eq!(count().await, 2);

    // A request signed by one wallet but claiming another, and a replayed request.
    let mut engines = engine_client(&url).await;
    let mut req = sign_now(
        methods::SUBMIT_JOB,
        v1::SubmitJobRequest {
            config: Some(cpu_job(1)),
        },
        &other.wallet,
    );
    req.metadata_mut().insert(
        cyxwiz_proto::auth::WALLET,
        engine.wallet.pubkey().to_string().parse().unwrap(),
    );
    let err = engines.submit_job(req).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    let status = sign_now(
        methods::GET_JOB_STATUS,
        v1::JobRef {
            job_id: vec![0; 16],
        },
        &other.wallet,
    );
    let replay = tonic::Request::from_parts(
        status.metadata().clone(),
        Default::default(),
        status.get_ref().clone(),
    );
    assert_eq!(
        engines.get_job_status(status).await.unwrap_err().code(),
        Code::NotFound
    );
    let err = engines.get_job_status(replay).await.unwrap_err();
    assert_eq!(err.code(), Code::Unauthenticated);
    assert!(err.message().contains("replayed"), "{}", err.message());
    assert_eq!(count().await, 2);
    served.stop().await;
    net.stop();
}
