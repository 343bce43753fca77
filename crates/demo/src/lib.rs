//! A whole CyxWiz network on one machine: the embedded localnet, a coordinator on
//! SQLite with in-process shared state, and node-agents (in this process or as separate
//! `cyxwiz-demo node` processes), all on embedded defaults in one scratch directory.
//! The main job (`cargo run -p cyxwiz-demo`) and the end-to-end tests are built on it.

pub mod main_job;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use cyxwiz_chain::{Pubkey, keys};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_coordinator::{config::Config as CoordinatorConfig, server};
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use cyxwiz_node_agent::{Agent, Config as NodeConfig};
use solana_keypair::Keypair;
use solana_signer::Signer;

pub const SOL: u64 = 1_000_000_000;
/// What each node stakes: enough for jobs up to 200 CYXWIZ.
pub const NODE_STAKE: u64 = 1_000 * ONE_CYXWIZ;

/// The example job shipped in `jobs/`: the MLP and the UCI digits.
pub const MLP_WASM: &[u8] = include_bytes!("../../../jobs/wasm/mlp.wasm");
pub const DIGITS: &[u8] = include_bytes!("../../../jobs/data/digits.cyxd");
pub const LOGREG_WASM: &[u8] = include_bytes!("../../../jobs/wasm/logreg.wasm");
pub const BREAST_CANCER: &[u8] = include_bytes!("../../../jobs/data/breast_cancer.cyxd");

#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("localnet: {0}")]
    Localnet(#[from] cyxwiz_localnet::LocalnetError),
    #[error("chain: {0}")]
    Chain(Box<cyxwiz_chain::ChainError>),
    #[error("coordinator: {0}")]
    Coordinator(String),
    #[error("node {index}: {reason}")]
    Node { index: usize, reason: String },
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl From<cyxwiz_chain::ChainError> for NetError {
    fn from(e: cyxwiz_chain::ChainError) -> Self {
        NetError::Chain(Box::new(e))
    }
}

/// Knobs of a local network.
#[derive(Debug, Clone)]
pub struct NetOptions {
    /// Nodes started in this process (more can be added as processes).
    pub nodes: usize,
    pub node_capacity: u32,
    pub progress_every: u32,
    pub anchor_every: u32,
    pub slot_time_ms: u64,
    /// The coordinator's credential lifetime.
    pub jwt_ttl_secs: u64,
    pub failed_refund_grace_secs: u64,
    /// JobEscrow's `user_assign_after_secs` on this chain (`None`: the program's 15
    /// minutes); tests of jobs without the coordinator shorten it.
    pub user_assign_after_secs: Option<i64>,
    /// Where everything lives (a fresh temporary directory if `None`).
    pub dir: Option<PathBuf>,
}

impl Default for NetOptions {
    fn default() -> Self {
        NetOptions {
            nodes: 3,
            node_capacity: 2,
            progress_every: 10,
            anchor_every: 50,
            slot_time_ms: 50,
            jwt_ttl_secs: 120,
            failed_refund_grace_secs: 60,
            user_assign_after_secs: None,
            dir: None,
        }
    }
}

/// The coordinator served in this process (the coordinator's own helper).
pub use cyxwiz_coordinator::server::Served;

/// One node operator: wallet, token account and configuration.
#[derive(Debug, Clone)]
pub struct Operator {
    pub owner: Pubkey,
    pub token: Pubkey,
    pub config: NodeConfig,
    pub config_path: PathBuf,
}

/// A running local network.
pub struct Network {
    pub net: Localnet,
    pub coordinator: Served,
    pub coordinator_config: CoordinatorConfig,
    pub operators: Vec<Operator>,
    pub agents: Vec<Option<Agent>>,
    pub dir: PathBuf,
    pub options: NetOptions,
    /// Node 0's mesh address (`/ip4/127.0.0.1/tcp/<port>/p2p/<peer id>`): every other
    /// node bootstraps from it.
    pub mesh_bootstrap: Option<String>,
    _tmp: Option<tempfile::TempDir>,
}

fn free_port() -> Result<u16, NetError> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Network {
    pub async fn start(options: NetOptions) -> Result<Network, NetError> {
        let (tmp, dir) = match &options.dir {
            Some(d) => {
                std::fs::create_dir_all(d)?;
                (None, d.clone())
            }
            None => {
                let t = tempfile::Builder::new().prefix("cyxwiz-net-").tempdir()?;
                let d = t.path().to_path_buf();
                (Some(t), d)
            }
        };
        let mut chain = LocalnetConfig {
            slot_time_ms: options.slot_time_ms,
            ..LocalnetConfig::default()
        };
        if let Some(secs) = options.user_assign_after_secs {
            chain.params.escrow.user_assign_after_secs = secs;
        }
        let net = Localnet::start(chain).await?;

        let cdir = dir.join("coordinator");
        std::fs::create_dir_all(&cdir)?;
        let mut cfg = CoordinatorConfig::default();
        let (ck, uk) = (cdir.join("coordinator.json"), cdir.join("updater.json"));
        keys::write_keypair(&ck, &net.keys().coordinator)?;
        keys::write_keypair(&uk, &net.keys().updater)?;
        cfg.chain.rpc_url = net.rpc_url().to_string();
        cfg.chain.ws_url = net.ws_url().to_string();
        cfg.chain.coordinator_keypair = ck;
        cfg.chain.updater_keypair = uk;
        cfg.database.url = format!("sqlite:{}", cdir.join("coordinator.db").display());
        cfg.api.jwt_ttl_secs = options.jwt_ttl_secs;
        cfg.batching.tick_ms = 200;
        cfg.batching.reputation_batch_secs = 2;
        cfg.matching.cache_refresh_ms = 100;
        let coordinator = server::serve_on_free_ports(cfg.clone())
            .await
            .map_err(|e| NetError::Coordinator(e.to_string()))?;

        let mut network = Network {
            net,
            coordinator,
            coordinator_config: cfg,
            operators: Vec::new(),
            agents: Vec::new(),
            dir,
            options: options.clone(),
            mesh_bootstrap: None,
            _tmp: tmp,
        };
        for _ in 0..options.nodes {
            let i = network.add_operator().await?;
            network.start_node(i).await?;
        }
        Ok(network)
    }

    /// A new funded operator with its configuration written to `<dir>/node-<i>/`.
    pub async fn add_operator(&mut self) -> Result<usize, NetError> {
        let index = self.operators.len();
        let ndir = self.dir.join(format!("node-{index}"));
        std::fs::create_dir_all(&ndir)?;
        let (wallet, token) = self
            .net
            .fund_wallet(10 * SOL, NODE_STAKE + ONE_CYXWIZ)
            .await?;
        let keypair = ndir.join("keypair.json");
        keys::write_keypair(&keypair, &wallet)?;
        let port = free_port()?;
        let mut cfg = NodeConfig::default();
        cfg.node.keypair = keypair;
        cfg.node.tls_key = ndir.join("tls-key.pem");
        cfg.node.token_account = Some(token.to_string());
        cfg.node.stake = NODE_STAKE;
        cfg.node.listen = SocketAddr::from(([127, 0, 0, 1], port));
        cfg.node.advertise = format!("https://127.0.0.1:{port}");
        cfg.node.capacity = self.options.node_capacity;
        cfg.node.region = "local".into();
        cfg.node.shutdown_grace_secs = 10;
        cfg.chain.rpc_url = self.net.rpc_url().to_string();
        cfg.coordinator.url = self.coordinator.url();
        cfg.jobs.progress_every = self.options.progress_every;
        cfg.jobs.anchor_every = self.options.anchor_every;
        cfg.jobs.failed_refund_grace_secs = self.options.failed_refund_grace_secs;
        cfg.storage.data_dir = ndir.join("data");
        cfg.storage.max_storage_gb = 10;
        // The mesh on loopback: private addresses count, Kademlia serves from the start,
        // no mDNS (concurrent demos and tests on one machine would find each other's
        // nodes); node 0 listens on a known port and the others bootstrap from it.
        cfg.network.private_networks = true;
        cfg.network.reachable = true;
        cfg.network.mdns = false;
        cfg.network.discovery_interval = 5;
        match &self.mesh_bootstrap {
            None => {
                let mesh_port = free_port()?;
                cfg.network.listen = vec![format!("/ip4/127.0.0.1/tcp/{mesh_port}")];
                let peer = cyxwiz_node_agent::network::node_key(&wallet)
                    .map_err(|e| NetError::Node {
                        index,
                        reason: e.to_string(),
                    })?
                    .peer_id();
                self.mesh_bootstrap = Some(format!("/ip4/127.0.0.1/tcp/{mesh_port}/p2p/{peer}"));
            }
            Some(boot) => {
                cfg.network.listen = vec!["/ip4/127.0.0.1/tcp/0".into()];
                cfg.network.bootstrap = vec![boot.clone()];
            }
        }
        let config_path = ndir.join("config.toml");
        let text = toml_of(&cfg).map_err(|reason| NetError::Node { index, reason })?;
        std::fs::write(&config_path, text)?;
        self.operators.push(Operator {
            owner: wallet.pubkey(),
            token,
            config: cfg,
            config_path,
        });
        self.agents.push(None);
        Ok(index)
    }

    /// Starts operator `index`'s node in this process and waits for its registration.
    pub async fn start_node(&mut self, index: usize) -> Result<(), NetError> {
        let cfg = self.operators[index].config.clone();
        let agent = Agent::start(cfg).await.map_err(|e| NetError::Node {
            index,
            reason: e.to_string(),
        })?;
        if !agent.wait_registered(Duration::from_secs(20)).await {
            return Err(NetError::Node {
                index,
                reason: "not registered with the coordinator within 20 s".into(),
            });
        }
        self.agents[index] = Some(agent);
        Ok(())
    }

    /// Gracefully stops operator `index`'s in-process node.
    pub async fn stop_node(&mut self, index: usize) {
        if let Some(a) = self.agents.get_mut(index).and_then(Option::take) {
            a.shutdown().await;
        }
    }

    /// Starts operator `index`'s node as its own process (`<exe> node --config …`, the
    /// demo binary) and waits until it serves its job channel and the coordinator knows it.
    pub async fn spawn_node_process(
        &self,
        index: usize,
        exe: &Path,
    ) -> Result<NodeProcess, NetError> {
        let op = &self.operators[index];
        let log = std::fs::File::create(self.dir.join(format!("node-{index}.log")))?;
        let child = std::process::Command::new(exe)
            .arg("node")
            .arg("--config")
            .arg(&op.config_path)
            .env("RUST_LOG", "info")
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        let mut process = NodeProcess { child };
        let owner = op.owner.to_string();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let serving = tokio::net::TcpStream::connect(op.config.node.listen)
                .await
                .is_ok();
            if serving && let Ok(Some(_)) = self.coordinator.coordinator.store.node(&owner).await {
                return Ok(process);
            }
            if let Some(status) = process.child.try_wait()? {
                return Err(NetError::Node {
                    index,
                    reason: format!("the node process exited with {status} (see node-{index}.log)"),
                });
            }
            if tokio::time::Instant::now() > deadline {
                return Err(NetError::Node {
                    index,
                    reason: "the node process did not register within 30 s".into(),
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A wallet with SOL and `tokens` CYXWIZ, its keypair written to `path`.
    pub async fn fund_engine(
        &self,
        tokens: u64,
        path: &Path,
    ) -> Result<(Keypair, Pubkey), NetError> {
        let (wallet, token) = self.net.fund_wallet(10 * SOL, tokens).await?;
        keys::write_keypair(path, &wallet)?;
        Ok((wallet, token))
    }

    /// Stops everything this network started in this process.
    pub async fn stop(mut self) {
        for i in 0..self.agents.len() {
            self.stop_node(i).await;
        }
        self.coordinator.stop().await;
        self.net.stop();
    }
}

/// A node-agent running as a child process; killed (SIGKILL) when dropped.
#[derive(Debug)]
pub struct NodeProcess {
    pub child: std::process::Child,
}

impl NodeProcess {
    /// SIGKILL: no graceful shutdown, no flushing, as a crash or power cut would end it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The TOML of a node configuration (for node processes).
pub fn toml_of(cfg: &NodeConfig) -> Result<String, String> {
    toml::to_string(cfg).map_err(|e| e.to_string())
}
