//! The node's lifecycle (seed 000): INIT (configuration, keys), JOIN (stake on chain),
//! DISCOVER (the IP mesh listens and dials its bootstrap peers), JOIN MESH (the node's
//! staked announcement is published, [`crate::network`]), SERVE (the TLS job channel,
//! registration and heartbeats with the coordinator, jobs restored from disk), SHUTDOWN
//! (GOODBYE to the mesh, jobs stop at an epoch boundary with their checkpoints on disk,
//! settlements in flight get a grace period, key material is zeroed). The admin socket
//! ([`crate::admin`]) answers from JOIN on, and its `stop` request is a SHUTDOWN.

use std::{net::SocketAddr, path::Path, sync::Arc, time::Duration};

use cyxwiz_chain::{ChainError, Pubkey, client::ChainClient, ix, keys, pda, state::NodeAccount};
use cyxwiz_channel::{limits::MAX_MESSAGE_BYTES, tls::TlsIdentity, v1::job_channel_server};
use cyxwiz_proto::{auth::sign_now, methods, v1 as cv1};
use cyxwiz_sandbox::Sandbox;
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_signer::Signer;
use tokio::sync::watch;
use tonic::transport::{Endpoint, Server};

use crate::{
    admin::{AdminContext, AdminServer, Lifecycle},
    config::Config,
    network::{AnnounceInfo, MeshNode},
    node::Node,
    service::ChannelService,
};

#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("node keypair: {0}")]
    Keypair(Box<ChainError>),
    #[error(transparent)]
    Tls(#[from] cyxwiz_channel::tls::TlsError),
    #[error("chain at {url}: {source}")]
    Chain {
        url: String,
        source: Box<ChainError>,
    },
    #[error("{0}")]
    Setup(String),
    #[error("binding the job channel on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error(transparent)]
    Admin(#[from] crate::admin::AdminError),
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
}

/// Loads the operator keypair, creating it (mode 0600) on first start.
pub fn load_or_create_keypair(path: &Path) -> Result<Keypair, AgentError> {
    if path.exists() {
        keys::read_keypair(path).map_err(|e| AgentError::Keypair(Box::new(e)))
    } else {
        let k = Keypair::new();
        keys::write_keypair(path, &k).map_err(|e| AgentError::Keypair(Box::new(e)))?;
        tracing::info!(path = %path.display(), owner = %k.pubkey(), "created the node keypair");
        Ok(k)
    }
}

/// A running node.
pub struct Agent {
    node: Arc<Node>,
    local_addr: SocketAddr,
    stop: watch::Sender<bool>,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    background: tokio::task::JoinHandle<()>,
    registered: watch::Receiver<bool>,
    tls: Option<TlsIdentity>,
    mesh: Option<MeshNode>,
    admin: Option<AdminServer>,
    state: watch::Sender<Lifecycle>,
    /// Set by the admin socket's `stop`.
    stop_requested: watch::Receiver<bool>,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("owner", &self.node.owner())
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// INIT, JOIN on chain, start serving; registration with the coordinator and the
    /// heartbeats continue in the background (see [`Agent::wait_registered`]).
    pub async fn start(cfg: Config) -> Result<Agent, AgentError> {
        let started = std::time::Instant::now();
        let (state, state_rx) = watch::channel(Lifecycle::Init);
        let wallet = Arc::new(load_or_create_keypair(&cfg.node.keypair)?);
        let tls = TlsIdentity::load_or_create(&cfg.node.tls_key)?;
        std::fs::create_dir_all(&cfg.storage.data_dir).map_err(|e| {
            AgentError::Setup(format!(
                "creating the data dir {}: {e}",
                cfg.storage.data_dir.display()
            ))
        })?;
        // The admin directory is checked now, before anything is staked, so a node that
        // would refuse to serve its admin socket fails before it costs anything.
        crate::admin::prepare_dir(&cfg.storage.data_dir)?;
        let chain_err = |source: ChainError| AgentError::Chain {
            url: cfg.chain.rpc_url.clone(),
            source: Box::new(source),
        };
        let chain = ChainClient::new(
            &cfg.chain.rpc_url,
            wallet.insecure_clone(),
            cfg.chain
                .commitment()
                .unwrap_or(CommitmentConfig::confirmed()),
        )
        .map_err(chain_err)?;
        chain.check().await.map_err(chain_err)?;
        let addresses = chain.load_addresses().await.map_err(chain_err)?;
        let token_account = match &cfg.node.token_account {
            Some(s) => Some(s.parse::<Pubkey>().map_err(|_| {
                AgentError::Setup(format!("node.token_account {s:?} is not a valid address"))
            })?),
            None => None,
        };

        // JOIN (chain): stake once, then keep the heartbeat fresh.
        let _ = state.send(Lifecycle::Join);
        ensure_registered(
            &cfg,
            &chain,
            &addresses,
            &wallet,
            token_account,
            tls.fingerprint(),
        )
        .await?;
        chain
            .send(&[ix::registry::update_heartbeat(&wallet.pubkey())], &[])
            .await
            .map_err(chain_err)?;

        let coordinator = Endpoint::from_shared(cfg.coordinator.url.clone())
            .map_err(|e| AgentError::Setup(format!("coordinator.url: {e}")))?
            .connect_timeout(cfg.coordinator_timeout())
            .timeout(cfg.coordinator_timeout())
            .connect_lazy();
        let sandbox = Arc::new(
            Sandbox::new(cfg.sandbox_limits())
                .map_err(|e| AgentError::Setup(format!("sandbox: {e}")))?,
        );
        let listen = cfg.node.listen;
        let mesh_cfg = if cfg.network.enabled {
            Some(
                cfg.network
                    .mesh_config()
                    .map_err(|e| AgentError::Setup(e.to_string()))?,
            )
        } else {
            None
        };
        let node = Arc::new(Node::new(
            cfg,
            wallet,
            tls.fingerprint(),
            chain,
            addresses,
            token_account,
            sandbox,
            coordinator,
        ));
        // The announcement also says where the job channel is (port, TLS fingerprint), so
        // engines reach the node without the coordinator (decision 151).
        let announce = AnnounceInfo::new(
            &[
                node.cfg.network.capabilities.clone(),
                node.channel_capabilities(),
            ]
            .concat(),
            &node.cfg.node.region,
        );

        // The admin socket answers from here on (status shows the steps below).
        let oracle = crate::network::registry_oracle(&node.chain);
        let (stop_tx, stop_requested) = watch::channel(false);
        let ctx = Arc::new(AdminContext {
            node: node.clone(),
            mesh: std::sync::OnceLock::new(),
            oracle: oracle.clone(),
            state: state_rx,
            stop: stop_tx,
            started,
        });
        let admin = AdminServer::start(&node.cfg.storage.data_dir, ctx.clone()).await?;

        // DISCOVER and JOIN MESH. The coordinator hands out no bootstrap peers (its API
        // has none): the configured ones and mDNS are the ways in.
        let mesh = match mesh_cfg {
            Some(mesh_cfg) => {
                let _ = state.send(Lifecycle::Discover);
                let (mut mesh, events) =
                    MeshNode::discover(&node.wallet, oracle.clone(), mesh_cfg, vec![]).await?;
                let _ = state.send(Lifecycle::JoinMesh);
                mesh.join(events, oracle, announce).await?;
                let _ = ctx.mesh.set(mesh.mesh.clone());
                Some(mesh)
            }
            None => {
                tracing::info!("[network] enabled = false: not joining the mesh");
                None
            }
        };

        // SERVE.
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| AgentError::Bind {
                addr: listen,
                source,
            })?;
        let local_addr = listener.local_addr().map_err(|source| AgentError::Bind {
            addr: listen,
            source,
        })?;
        // Jobs on disk are registered before the channel opens, so an engine reconnecting
        // after a restart never hears "no such job" for a job being restored.
        node.restore_jobs().await;
        let (stop, mut stop_rx) = watch::channel(false);
        let service =
            job_channel_server::JobChannelServer::new(ChannelService { node: node.clone() })
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let server = Server::builder()
            .tls_config(tls.server_config())
            .map_err(|e| AgentError::Setup(format!("TLS: {e}")))?
            .concurrency_limit_per_connection(32)
            .http2_keepalive_interval(Some(Duration::from_secs(20)))
            .add_service(service);
        let server = tokio::spawn(server.serve_with_incoming_shutdown(
            tokio_stream::wrappers::TcpListenerStream::new(listener),
            async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            },
        ));
        tracing::info!(owner = %node.owner(), %local_addr, advertise = %node.cfg.node.advertise,
            fingerprint = %hex::encode(tls.fingerprint()), "job channel serving");

        let (registered_tx, registered) = watch::channel(false);
        let release_every = Duration::from_secs(node.cfg.jobs.stake_release_check_secs.max(1));
        let background = tokio::spawn({
            let (node, joined_stop, release_stop) =
                (node.clone(), stop.subscribe(), stop.subscribe());
            async move {
                tokio::join!(
                    keep_joined(node.clone(), joined_stop, registered_tx),
                    crate::release::run(node, release_every, release_stop),
                );
            }
        });
        let _ = state.send(Lifecycle::Serving);
        Ok(Agent {
            node,
            local_addr,
            stop,
            server,
            background,
            registered,
            tls: Some(tls),
            mesh,
            admin: Some(admin),
            state,
            stop_requested,
        })
    }

    /// The node's mesh handle (`None` with `[network] enabled = false`).
    pub fn mesh(&self) -> Option<&cyxwiz_mesh::Mesh> {
        self.mesh.as_ref().map(|m| &m.mesh)
    }

    /// Where the admin socket listens.
    pub fn admin_socket(&self) -> Option<&Path> {
        self.admin.as_ref().map(|a| a.path.as_path())
    }

    /// Resolves once a `stop` request came in over the admin socket.
    pub async fn stop_requested(&self) {
        let mut rx = self.stop_requested.clone();
        // An error means the sender is gone, which it never is while the agent lives.
        let _ = rx.wait_for(|s| *s).await;
    }

    pub fn node(&self) -> &Arc<Node> {
        &self.node
    }

    pub fn owner(&self) -> Pubkey {
        self.node.owner()
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    pub fn fingerprint(&self) -> [u8; 32] {
        self.node.fingerprint
    }

    /// Waits until the coordinator has accepted the registration.
    pub async fn wait_registered(&self, timeout: Duration) -> bool {
        let mut rx = self.registered.clone();
        tokio::time::timeout(timeout, rx.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// SHUTDOWN: stops taking work, lets jobs reach an epoch boundary and settlements
    /// land (bounded by the grace period), stops serving and drops the keys.
    pub async fn shutdown(mut self) {
        let grace = Duration::from_secs(self.node.cfg.node.shutdown_grace_secs);
        tracing::info!("shutting down");
        let _ = self.state.send(Lifecycle::ShuttingDown);
        // GOODBYE first: peers drop the node at once instead of waiting for timeouts,
        // and nobody discovers it for new work while its jobs wind down.
        if let Some(mesh) = self.mesh.take() {
            mesh.leave().await;
        }
        self.node.shutdown(grace).await;
        let _ = self.stop.send(true);
        self.background.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.server).await;
        self.server.abort();
        // The TLS key is held in zeroizing memory and the wallet's ed25519 signing key
        // zeroizes on drop: dropping the last references wipes them.
        self.tls.take();
        if let Some(admin) = self.admin.take() {
            admin.stop().await;
        }
        tracing::info!("stopped");
    }
}

/// Runs a node until Ctrl-C, SIGTERM or an admin `stop`, then shuts it down gracefully:
/// the daemon's whole life after its configuration is loaded.
pub async fn serve_until_signal(cfg: Config) -> Result<(), AgentError> {
    let agent = Agent::start(cfg).await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| AgentError::Setup(format!("installing the SIGTERM handler: {e}")))?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = agent.stop_requested() => {}
    }
    agent.shutdown().await;
    Ok(())
}

/// Registers the node on chain with its stake if it is not registered yet.
async fn ensure_registered(
    cfg: &Config,
    chain: &ChainClient,
    addresses: &cyxwiz_chain::Addresses,
    wallet: &Keypair,
    token: Option<Pubkey>,
    fingerprint: [u8; 32],
) -> Result<(), AgentError> {
    let owner = wallet.pubkey();
    let chain_err = |source: ChainError| AgentError::Chain {
        url: cfg.chain.rpc_url.clone(),
        source: Box::new(source),
    };
    if chain
        .try_account::<NodeAccount>(&pda::node(&owner))
        .await
        .map_err(chain_err)?
        .is_some()
    {
        return Ok(());
    }
    let Some(token) = token.filter(|_| cfg.node.stake > 0) else {
        return Err(AgentError::Setup(format!(
            "node {owner} is not registered on chain: set node.stake and node.token_account to stake and register"
        )));
    };
    let caps = node_registry::Capabilities {
        cpu_cores: cfg.cpu_cores().min(u16::MAX as u32) as u16,
        ram_mb: cfg.ram_mb(),
        gpu_count: 0,
        gpu_vram_mb: 0,
        storage_gb: cfg.storage.max_storage_gb.min(u32::MAX as u64) as u32,
        bandwidth_mbps: 100,
        flags: 1, // WASM sandbox
    };
    let sent = chain
        .send(
            &[ix::registry::register_node(
                addresses,
                &owner,
                &token,
                fingerprint,
                cfg.node.stake,
                caps,
            )],
            &[],
        )
        .await
        .map_err(chain_err)?;
    tracing::info!(%owner, stake = cfg.node.stake, signature = %sent.signature, "registered on chain");
    Ok(())
}

/// Registers with the coordinator (retrying with backoff), then heartbeats; registers
/// again if the coordinator forgot the node; refreshes the on-chain heartbeat.
async fn keep_joined(
    node: Arc<Node>,
    mut stop: watch::Receiver<bool>,
    registered: watch::Sender<bool>,
) {
    let mut backoff = Duration::from_millis(200);
    let mut interval = Duration::from_secs(30);
    let chain_every = Duration::from_secs(node.cfg.node.chain_heartbeat_secs.max(60));
    let mut last_chain = tokio::time::Instant::now();
    loop {
        if *stop.borrow() {
            return;
        }
        if !*registered.borrow() {
            match register(&node).await {
                Ok(r) => {
                    interval =
                        Duration::from_millis(r.heartbeat_interval_ms.clamp(1_000, 300_000) as u64);
                    backoff = Duration::from_millis(200);
                    tracing::info!(stake = r.stake, reputation = r.reputation, tier = %r.tier, "registered with the coordinator");
                    let _ = registered.send(true);
                }
                Err(s) => {
                    tracing::warn!(error = %s.message(), "coordinator registration failed; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.changed() => return,
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    continue;
                }
            }
        }
        let running = node.active_jobs() as u32;
        let hb = node
            .coordinator()
            .heartbeat(sign_now(
                methods::HEARTBEAT,
                cv1::HeartbeatRequest {
                    running_jobs: running,
                },
                &node.wallet,
            ))
            .await;
        match hb {
            Ok(r) => {
                let next = r.into_inner().next_heartbeat_ms;
                if next > 0 {
                    interval = Duration::from_millis(next.clamp(1_000, 300_000) as u64);
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {
                let _ = registered.send(false);
                continue;
            }
            Err(s) => tracing::warn!(error = %s.message(), "heartbeat failed"),
        }
        if last_chain.elapsed() >= chain_every {
            match node
                .chain
                .send(&[ix::registry::update_heartbeat(&node.owner())], &[])
                .await
            {
                Ok(_) => last_chain = tokio::time::Instant::now(),
                Err(e) => tracing::warn!(error = %e, "on-chain heartbeat failed"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn register(node: &Node) -> Result<cv1::RegisterNodeResponse, tonic::Status> {
    let cfg = &node.cfg;
    let req = cv1::RegisterNodeRequest {
        endpoint: cfg.node.advertise.clone(),
        tls_fingerprint: node.fingerprint.to_vec(),
        capabilities: Some(cv1::Capabilities {
            cpu_cores: cfg.cpu_cores(),
            ram_mb: cfg.ram_mb(),
            gpu_count: 0,
            gpu_vram_mb: 0,
            datacenter_gpu: false,
        }),
        capacity: cfg.node.capacity,
        region: cfg.node.region.clone(),
        price_bps: cfg.node.price_bps,
    };
    node.coordinator()
        .register_node(sign_now(methods::REGISTER_NODE, req, &node.wallet))
        .await
        .map(|r| r.into_inner())
}
