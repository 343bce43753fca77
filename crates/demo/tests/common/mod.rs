//! Shared helpers of the end-to-end tests: an engine on a network, and a job taken up
//! to the point where the node is committed and a credential issued.
#![allow(dead_code)]

use std::time::Duration;

use cyxwiz_demo::Network;
use cyxwiz_engine_client::{Credential, Engine, EngineConfig, JobSpec, Quote};

/// An engine with a fresh funded wallet on `net`, its journal under `<dir>/<name>`.
pub async fn engine(net: &Network, name: &str, tokens: u64) -> Engine {
    let dir = net.dir.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    let keypair = dir.join("keypair.json");
    let (wallet, _) = net.fund_engine(tokens, &keypair).await.unwrap();
    let mut config = EngineConfig::default();
    config.engine.keypair = keypair;
    config.engine.jobs_dir = dir.join("jobs");
    config.engine.settle_timeout_secs = 120;
    config.engine.reconnect_interval_ms = 500;
    config.chain.rpc_url = net.net.rpc_url().to_string();
    config.coordinator.url = net.coordinator.url();
    Engine::with_wallet(config, wallet).unwrap()
}

/// Submit, fund the escrow, confirm: the node is committed on chain and a credential
/// for it issued. Returns the quote, the escrow transaction and the credential.
pub async fn prepare(engine: &Engine, spec: &JobSpec) -> (Quote, String, Credential) {
    let quote = engine.submit(spec).await.unwrap();
    let escrow_tx = engine.fund_escrow(&quote, spec).await.unwrap();
    let credential = engine.confirm(&quote.job_id, &escrow_tx).await.unwrap();
    (quote, escrow_tx, credential)
}

/// Asks the node to pause `job` once `epochs` epochs are done and waits until it has;
/// returns the epoch it holds at.
pub async fn hold_at(
    session: &cyxwiz_engine_client::NodeSession,
    job: &[u8; 16],
    epochs: u32,
) -> u32 {
    use cyxwiz_channel::v1::{Control, Phase};
    session
        .control_at(job, Control::Pause, epochs)
        .await
        .unwrap();
    let id = *job;
    let held = eventually(Duration::from_secs(60), move || async move {
        session
            .get_job(&id)
            .await
            .is_ok_and(|p| p.phase == Phase::Paused as i32)
    })
    .await;
    assert!(held, "the job did not pause at epoch {epochs}");
    session.get_job(job).await.unwrap().epoch
}

/// Polls `cond` every 100 ms until it holds or `timeout` passes; returns whether it held.
pub async fn eventually<F, Fut>(timeout: Duration, mut cond: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond().await {
            return true;
        }
        if tokio::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
