//! Test harness: a localnet, a coordinator configured for it (in-process or as a real
//! process), and helpers that act as node operators and engines over real gRPC.
#![allow(dead_code)]

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use cyxwiz_chain::{Pubkey, client::ChainClient, ix, keys};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_coordinator::{
    config::Config,
    store::{Store, StoreOptions},
};
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use cyxwiz_proto::{
    auth::sign_now,
    methods,
    v1::{
        self, engine_service_client::EngineServiceClient, node_service_client::NodeServiceClient,
    },
};
use node_registry::Capabilities;
use solana_keypair::Keypair;
use solana_signer::Signer;
use tonic::transport::Channel;

pub const SOL: u64 = 1_000_000_000;
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const REDIS: &str = "redis://127.0.0.1:6379";

pub async fn localnet() -> Localnet {
    Localnet::start(LocalnetConfig {
        slot_time_ms: 20,
        ..LocalnetConfig::default()
    })
    .await
    .expect("localnet starts")
}

/// Which database a test coordinator uses.
#[derive(Debug, Clone)]
pub enum Db {
    /// A fresh SQLite file.
    Sqlite,
    /// A fresh schema in the machine's PostgreSQL.
    Postgres,
    /// An existing URL + schema (replicas sharing one database).
    Shared { url: String, schema: Option<String> },
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique(name));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A configuration for a coordinator on `net`, with its keys written to `dir`.
pub fn config(net: &Localnet, dir: &Path, db: &Db, redis_prefix: Option<&str>) -> Config {
    let coordinator = dir.join("coordinator.json");
    let updater = dir.join("updater.json");
    if !coordinator.exists() {
        keys::write_keypair(&coordinator, &net.keys().coordinator).unwrap();
        keys::write_keypair(&updater, &net.keys().updater).unwrap();
    }
    let mut cfg = Config::default();
    cfg.chain.rpc_url = net.rpc_url().to_string();
    cfg.chain.ws_url = net.ws_url().to_string();
    cfg.chain.coordinator_keypair = coordinator;
    cfg.chain.updater_keypair = updater;
    match db {
        Db::Sqlite => cfg.database.url = format!("sqlite:{}", dir.join("coordinator.db").display()),
        Db::Postgres => {
            cfg.database.url = POSTGRES.into();
            cfg.database.schema = Some(unique("t"));
        }
        Db::Shared { url, schema } => {
            cfg.database.url = url.clone();
            cfg.database.schema = schema.clone();
        }
    }
    if let Some(prefix) = redis_prefix {
        cfg.redis.url = REDIS.into();
        cfg.redis.prefix = prefix.into();
    }
    cfg.batching.tick_ms = 200;
    cfg.matching.cache_refresh_ms = 100;
    cfg
}

pub use cyxwiz_coordinator::server::Served;

/// The coordinator of `cfg` served on free loopback ports.
pub async fn serve(cfg: Config) -> Served {
    cyxwiz_coordinator::server::serve_on_free_ports(cfg)
        .await
        .expect("coordinator builds and binds")
}

pub async fn engine_client(url: &str) -> EngineServiceClient<Channel> {
    EngineServiceClient::connect(url.to_string()).await.unwrap()
}

pub async fn node_client(url: &str) -> NodeServiceClient<Channel> {
    NodeServiceClient::connect(url.to_string()).await.unwrap()
}

fn caps() -> Capabilities {
    Capabilities {
        cpu_cores: 8,
        ram_mb: 16_384,
        gpu_count: 0,
        gpu_vram_mb: 0,
        storage_gb: 100,
        bandwidth_mbps: 100,
        flags: 0,
    }
}

/// A node operator registered on chain with `stake` (base units).
pub struct Operator {
    pub wallet: Keypair,
    pub token: Pubkey,
    pub client: ChainClient,
    pub tls: [u8; 32],
}

impl Operator {
    pub async fn on_chain(net: &Localnet, stake: u64) -> Operator {
        let (wallet, token) = net
            .fund_wallet(10 * SOL, stake + ONE_CYXWIZ)
            .await
            .expect("fund operator");
        let client = net.client(wallet.insecure_clone());
        client
            .send(
                &[ix::registry::register_node(
                    &net.network().addresses,
                    &wallet.pubkey(),
                    &token,
                    [7; 32],
                    stake,
                    caps(),
                )],
                &[],
            )
            .await
            .expect("register node on chain");
        Operator {
            tls: rand_bytes(),
            wallet,
            token,
            client,
        }
    }

    /// Registers with the coordinator at `url` and heartbeats once.
    pub async fn join(&self, url: &str, capacity: u32) -> v1::RegisterNodeResponse {
        let mut nodes = node_client(url).await;
        let resp = nodes
            .register_node(sign_now(
                methods::REGISTER_NODE,
                v1::RegisterNodeRequest {
                    endpoint: format!(
                        "https://{}.node.test:7443",
                        &self.wallet.pubkey().to_string()[..8]
                    ),
                    tls_fingerprint: self.tls.to_vec(),
                    capabilities: Some(v1::Capabilities {
                        cpu_cores: 8,
                        ram_mb: 16_384,
                        gpu_count: 0,
                        gpu_vram_mb: 0,
                        datacenter_gpu: false,
                    }),
                    capacity,
                    region: "eu".into(),
                    price_bps: 0,
                },
                &self.wallet,
            ))
            .await
            .expect("RegisterNode")
            .into_inner();
        nodes
            .heartbeat(sign_now(
                methods::HEARTBEAT,
                v1::HeartbeatRequest { running_jobs: 0 },
                &self.wallet,
            ))
            .await
            .expect("Heartbeat");
        resp
    }
}

pub fn rand_bytes() -> [u8; 32] {
    rand::random()
}

/// A CPU job for `epochs` epochs of ten minutes' estimated work.
pub fn cpu_job(epochs: u32) -> v1::JobConfig {
    v1::JobConfig {
        module_hash: rand_bytes().to_vec(),
        module_size: 20_000,
        dataset_hash: rand_bytes().to_vec(),
        dataset_size: 100_000,
        epochs,
        hardware: Some(v1::HardwareRequirements {
            min_cpu_cores: 2,
            min_ram_mb: 1_024,
            ..Default::default()
        }),
        max_price: 5 * ONE_CYXWIZ,
        priority: v1::Priority::Normal as i32,
        estimated_secs: 600,
        region: String::new(),
    }
}

/// An engine wallet with SOL and CYXWIZ.
pub struct Engine {
    pub wallet: Keypair,
    pub token: Pubkey,
    pub client: ChainClient,
}

impl Engine {
    pub async fn funded(net: &Localnet, tokens: u64) -> Engine {
        let (wallet, token) = net
            .fund_wallet(10 * SOL, tokens)
            .await
            .expect("fund engine");
        Engine {
            client: net.client(wallet.insecure_clone()),
            wallet,
            token,
        }
    }

    pub async fn submit(
        &self,
        url: &str,
        job: v1::JobConfig,
    ) -> Result<v1::NodeAssignmentReady, tonic::Status> {
        engine_client(url)
            .await
            .submit_job(sign_now(
                methods::SUBMIT_JOB,
                v1::SubmitJobRequest { config: Some(job) },
                &self.wallet,
            ))
            .await
            .map(|r| r.into_inner())
    }

    /// A wallet with nothing on chain: enough to sign coordinator calls.
    pub fn unfunded(net: &Localnet) -> Engine {
        Engine {
            client: net.client(Keypair::new()),
            wallet: Keypair::new(),
            token: Pubkey::default(),
        }
    }

    /// Funds job `job_id`'s escrow with `amount`, timing out after `timeout_secs`;
    /// returns the transaction signature.
    pub async fn escrow(
        &self,
        net: &Localnet,
        job_id: &[u8],
        amount: u64,
        epochs: u32,
        timeout_secs: i64,
    ) -> String {
        let id: [u8; 16] = job_id.try_into().unwrap();
        self.client
            .send(
                &[ix::escrow::create_escrow(
                    &net.network().addresses,
                    &self.wallet.pubkey(),
                    &self.token,
                    id,
                    amount,
                    epochs,
                    timeout_secs,
                    600,
                )],
                &[],
            )
            .await
            .expect("create escrow")
            .signature
            .to_string()
    }

    pub async fn confirm(
        &self,
        url: &str,
        job_id: &[u8],
        sig: &str,
    ) -> Result<v1::StartJobResponse, tonic::Status> {
        engine_client(url)
            .await
            .confirm_escrow(sign_now(
                methods::CONFIRM_ESCROW,
                v1::ConfirmEscrowRequest {
                    job_id: job_id.to_vec(),
                    tx_signature: sig.to_string(),
                },
                &self.wallet,
            ))
            .await
            .map(|r| r.into_inner())
    }

    pub async fn status(&self, url: &str, job_id: &[u8]) -> v1::JobStatus {
        engine_client(url)
            .await
            .get_job_status(sign_now(
                methods::GET_JOB_STATUS,
                v1::JobRef {
                    job_id: job_id.to_vec(),
                },
                &self.wallet,
            ))
            .await
            .expect("GetJobStatus")
            .into_inner()
    }
}

/// A store on the same database as `cfg` (to inspect what the coordinator wrote).
pub async fn store_of(cfg: &Config) -> Store {
    Store::connect(
        &cfg.database.url,
        StoreOptions {
            schema: cfg.database.schema.clone(),
            max_connections: 2,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap()
}

/// A free local port (bound then released; the race is harmless in tests).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A coordinator running as its own process (the real binary).
pub struct Replica {
    pub child: std::process::Child,
    pub grpc: u16,
    pub http: u16,
}

impl Replica {
    /// Starts the binary configured like `cfg` (through `CYXWIZ_*` variables) plus
    /// `extra` variables, and waits until it serves gRPC.
    pub async fn spawn(cfg: &Config, extra: &[(&str, &str)]) -> Replica {
        let (grpc, http) = (free_port(), free_port());
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_cyxwiz-coordinator"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "warn,cyxwiz_coordinator=info")
            .env("CYXWIZ_CHAIN_RPC_URL", &cfg.chain.rpc_url)
            .env("CYXWIZ_CHAIN_WS_URL", &cfg.chain.ws_url)
            .env(
                "CYXWIZ_CHAIN_COORDINATOR_KEYPAIR",
                &cfg.chain.coordinator_keypair,
            )
            .env("CYXWIZ_CHAIN_UPDATER_KEYPAIR", &cfg.chain.updater_keypair)
            .env("CYXWIZ_DATABASE_URL", &cfg.database.url)
            .env("CYXWIZ_REDIS_URL", &cfg.redis.url)
            .env("CYXWIZ_REDIS_PREFIX", &cfg.redis.prefix)
            .env("CYXWIZ_API_GRPC_LISTEN", format!("\"127.0.0.1:{grpc}\""))
            .env("CYXWIZ_API_HTTP_LISTEN", format!("\"127.0.0.1:{http}\""))
            .env("CYXWIZ_BATCHING_TICK_MS", cfg.batching.tick_ms.to_string())
            .env(
                "CYXWIZ_BATCHING_LEASE_SECS",
                cfg.batching.lease_secs.to_string(),
            )
            .env(
                "CYXWIZ_BATCHING_REPUTATION_BATCH_JOBS",
                cfg.batching.reputation_batch_jobs.to_string(),
            )
            .env(
                "CYXWIZ_MATCHING_CACHE_REFRESH_MS",
                cfg.matching.cache_refresh_ms.to_string(),
            )
            .stdout(std::process::Stdio::null());
        if let Some(schema) = &cfg.database.schema {
            cmd.env("CYXWIZ_DATABASE_SCHEMA", schema);
        }
        for (k, v) in extra {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawn coordinator");
        let url = format!("http://127.0.0.1:{grpc}");
        for _ in 0..300 {
            if EngineServiceClient::connect(url.clone()).await.is_ok() {
                return Replica { child, grpc, http };
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("coordinator exited during start: {status}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        panic!("coordinator did not start serving");
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.grpc)
    }

    /// Waits up to `timeout` for the process to exit; its exit code.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw HTTP/1.0 GET; returns the status code and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).await.unwrap();
    let code = out
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = out.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (code, body)
}
