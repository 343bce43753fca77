//! The main job: on a fresh local network, one engine trains the MLP on the UCI digits
//! end to end (escrow, assignment, upload, live metrics, anchored checkpoints, proof and
//! payment, verified download, rating, reputation), and the outcome is measured from the
//! chain itself: balances before and after, the fee split, the transactions sent.

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use cyxwiz_chain::{Pubkey, client::ChainClient, pda, state::NodeReputation};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_engine_client::{Engine, EngineConfig, JobSpec, Observer, RunReport};
use serde::Serialize;

use crate::{DIGITS, MLP_WASM, NetError, NetOptions, Network};

/// What the engine's wallet is given to pay with.
pub const ENGINE_TOKENS: u64 = 500 * ONE_CYXWIZ;

/// Knobs of the main job.
#[derive(Debug, Clone)]
pub struct MainJobOptions {
    pub net: NetOptions,
    /// Epochs of MLP training (past `anchor_every` so a checkpoint is anchored mid-run).
    pub epochs: u32,
    pub seed: i64,
    /// Stars the engine gives the node afterwards.
    pub stars: u8,
    /// How long to wait for the coordinator's reputation batch to land on chain.
    pub reputation_wait: Duration,
}

impl Default for MainJobOptions {
    fn default() -> Self {
        MainJobOptions {
            net: NetOptions::default(),
            epochs: 60,
            seed: 42,
            stars: 5,
            reputation_wait: Duration::from_secs(30),
        }
    }
}

/// Token balances (base units) of every party to the job.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct Balances {
    pub engine: u64,
    pub node: u64,
    pub treasury_staking: u64,
    pub treasury_development: u64,
    pub treasury_liquidity: u64,
    /// The mint's supply (the burned share of the fee leaves it).
    pub supply: u64,
}

/// Where the price went, from the balance changes.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct FeeSplit {
    pub price: u64,
    pub to_node: u64,
    pub to_treasury_staking: u64,
    pub to_treasury_development: u64,
    pub to_treasury_liquidity: u64,
    pub burned: u64,
}

impl FeeSplit {
    /// The platform fee: everything of the price that did not go to the node.
    pub fn platform_fee(&self) -> u64 {
        self.to_treasury_staking
            + self.to_treasury_development
            + self.to_treasury_liquidity
            + self.burned
    }
}

/// The node's on-chain reputation, before and after.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq, Eq)]
pub struct ReputationChange {
    pub score_before: u16,
    pub score_after: u16,
    pub jobs_completed_before: u32,
    pub jobs_completed_after: u32,
    pub ratings_after: u32,
    pub tier_after: &'static str,
    /// Whether the coordinator's batch reached the chain within the wait.
    pub batch_landed: bool,
}

/// Everything the main job measured.
#[derive(Debug, Clone, Serialize)]
pub struct MainJobReport {
    pub run: RunReport,
    pub node_owner: String,
    pub before: Balances,
    pub after: Balances,
    pub split: FeeSplit,
    pub reputation: ReputationChange,
    pub rate_signature: String,
    /// Network start (chain, coordinator, nodes staked and registered).
    pub startup_ms: u64,
    pub wall_ms: u64,
    /// The node's proving time for the Groth16 proof `complete_payment` verified.
    pub prove_ms: u64,
    /// `dev` (the insecure development keys a localnet uses) or the keys' directory.
    pub proving_keys: String,
    pub dir: PathBuf,
    /// For each node, how many other nodes its mesh admitted (signed, staked
    /// announcements), read when the job is done.
    pub mesh_known: Vec<usize>,
}

async fn balances(
    chain: &ChainClient,
    net: &Network,
    engine_token: &Pubkey,
    node_token: &Pubkey,
) -> Result<Balances, NetError> {
    let a = &net.net.network().addresses;
    let supply = chain
        .rpc()
        .get_token_supply(&a.mint)
        .await
        .map_err(|e| NetError::Coordinator(format!("reading the token supply: {e}")))?
        .amount
        .parse::<u64>()
        .map_err(|e| NetError::Coordinator(format!("token supply: {e}")))?;
    Ok(Balances {
        engine: chain.token_balance(engine_token).await?,
        node: chain.token_balance(node_token).await?,
        treasury_staking: chain.token_balance(&a.treasury.staking).await?,
        treasury_development: chain.token_balance(&a.treasury.development).await?,
        treasury_liquidity: chain.token_balance(&a.treasury.liquidity).await?,
        supply,
    })
}

fn gained(after: u64, before: u64) -> u64 {
    after.saturating_sub(before)
}

async fn reputation(
    chain: &ChainClient,
    owner: &Pubkey,
) -> Result<Option<NodeReputation>, NetError> {
    Ok(chain
        .try_account::<NodeReputation>(&pda::node_reputation(owner))
        .await?)
}

/// Starts a network, runs the job, measures, stops everything.
pub async fn run(
    options: MainJobOptions,
    observer: &mut dyn Observer,
) -> Result<MainJobReport, NetError> {
    let started = Instant::now();
    let net = Network::start(options.net.clone()).await?;
    let startup_ms = started.elapsed().as_millis() as u64;
    let result = run_on(&net, &options, observer, startup_ms, started).await;
    net.stop().await;
    result
}

/// Runs the main job on a started network.
pub async fn run_on(
    net: &Network,
    options: &MainJobOptions,
    observer: &mut dyn Observer,
    startup_ms: u64,
    started: Instant,
) -> Result<MainJobReport, NetError> {
    let edir = net.dir.join("engine");
    std::fs::create_dir_all(&edir)?;
    let keypair = edir.join("keypair.json");
    let (wallet, engine_token) = net.fund_engine(ENGINE_TOKENS, &keypair).await?;
    let mut config = EngineConfig::default();
    config.engine.keypair = keypair;
    config.engine.jobs_dir = edir.join("jobs");
    config.engine.settle_timeout_secs = 120;
    config.chain.rpc_url = net.net.rpc_url().to_string();
    config.coordinator.url = net.coordinator.url();
    let engine = Engine::with_wallet(config, wallet.insecure_clone())
        .map_err(|e| NetError::Coordinator(format!("engine: {e}")))?;
    let chain = engine.chain().clone();

    // Every operator's token account, so the assigned one can be found afterwards.
    let mut before_nodes = Vec::new();
    for op in &net.operators {
        before_nodes.push((op.owner, op.token, chain.token_balance(&op.token).await?));
    }
    let placeholder_node = net.operators[0].token;
    let before_all = balances(&chain, net, &engine_token, &placeholder_node).await?;
    let mut rep_before = Vec::new();
    for op in &net.operators {
        rep_before.push(reputation(&chain, &op.owner).await?);
    }

    let mut spec = JobSpec::new(
        MLP_WASM.to_vec(),
        DIGITS.to_vec(),
        options.epochs,
        200 * ONE_CYXWIZ,
    );
    spec.seed = options.seed;
    spec.estimated_secs = 60;
    let run = engine
        .run(&spec, observer)
        .await
        .map_err(|e| NetError::Coordinator(format!("the job failed: {e}")))?;

    let node_owner: Pubkey = run.node.parse().map_err(|_| {
        NetError::Coordinator(format!("node owner {:?} is not an address", run.node))
    })?;
    let index = net
        .operators
        .iter()
        .position(|o| o.owner == node_owner)
        .ok_or_else(|| NetError::Coordinator(format!("node {node_owner} is not one of ours")))?;
    let node_token = net.operators[index].token;
    let before = Balances {
        node: before_nodes[index].2,
        ..before_all
    };

    let rated = engine
        .rate(&run.job_id, &node_owner, options.stars)
        .await
        .map_err(|e| NetError::Coordinator(format!("rating: {e}")))?;

    // The coordinator batches reputation updates; wait for the batch with this job.
    let rb = rep_before.get(index).and_then(Option::as_ref);
    let jobs_before = rb.map_or(0, |r| r.jobs_completed);
    let deadline = Instant::now() + options.reputation_wait;
    let mut rep_after = reputation(&chain, &node_owner).await?;
    while rep_after.as_ref().map_or(0, |r| r.jobs_completed) <= jobs_before
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
        rep_after = reputation(&chain, &node_owner).await?;
    }
    let after = balances(&chain, net, &engine_token, &node_token).await?;
    let split = FeeSplit {
        price: run.price,
        to_node: gained(after.node, before.node),
        to_treasury_staking: gained(after.treasury_staking, before.treasury_staking),
        to_treasury_development: gained(after.treasury_development, before.treasury_development),
        to_treasury_liquidity: gained(after.treasury_liquidity, before.treasury_liquidity),
        burned: before.supply.saturating_sub(after.supply),
    };
    let ra = rep_after.as_ref();
    let reputation = ReputationChange {
        score_before: rb.map_or(0, |r| r.score),
        score_after: ra.map_or(0, |r| r.score),
        jobs_completed_before: jobs_before,
        jobs_completed_after: ra.map_or(0, |r| r.jobs_completed),
        ratings_after: ra.map_or(0, |r| r.rating_count),
        tier_after: ra.map_or("none", |r| {
            cyxwiz_coordinator::types::tier_name(r.tier as u8)
        }),
        batch_landed: ra.is_some_and(|r| r.jobs_completed > jobs_before),
    };
    let prove_ms = run.timings.prove_ms;
    let mut mesh_known = Vec::new();
    for agent in net.agents.iter().flatten() {
        if let Some(mesh) = agent.mesh() {
            let known = mesh
                .known_nodes()
                .await
                .map_err(|e| NetError::Coordinator(format!("reading the mesh: {e}")))?;
            mesh_known.push(known.len());
        }
    }
    Ok(MainJobReport {
        run,
        node_owner: node_owner.to_string(),
        before,
        after,
        split,
        reputation,
        rate_signature: rated.signature,
        startup_ms,
        wall_ms: started.elapsed().as_millis() as u64,
        prove_ms,
        proving_keys: {
            let dir = &net.operators[index].config.jobs.proving_keys_dir;
            if dir.as_os_str().is_empty() {
                "dev".to_string()
            } else {
                dir.display().to_string()
            }
        },
        dir: net.dir.clone(),
        mesh_known,
    })
}
