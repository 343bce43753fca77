//! SubmitJob throughput and latency with 1,000 registered nodes, on one replica and on
//! two, with SQLite and with PostgreSQL (+ Redis for shared state).
//!
//! `cargo bench -p cyxwiz-coordinator --bench submit` (results: docs/BENCHMARKS.md).
//! Each configuration gets a fresh database with 1,000 nodes (64 slots each) inserted
//! directly, an embedded localnet for the chain rules, coordinators served in this
//! process on real TCP, and `LOADS` concurrent gRPC clients sending signed requests
//! from 256 wallets for `SECONDS`. Every successful call is a job matched and a node slot
//! reserved (shared state + database).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use cyxwiz_chain::keys;
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_coordinator::{
    config::Config,
    server,
    store::{ChainNode, ChainStatus, NodeRecord, Store, StoreOptions},
    types::Hardware,
};
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use cyxwiz_proto::{
    auth::sign_now,
    methods,
    v1::{self, engine_service_client::EngineServiceClient},
};
use solana_keypair::Keypair;
use solana_signer::Signer;

const NODES: usize = 1_000;
/// Concurrent clients: a saturating load (throughput) and a light one (latency).
const LOADS: [usize; 2] = [32, 4];
const WALLETS: usize = 256;

fn seconds() -> u64 {
    std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5)
}

#[derive(Clone, Copy, Debug)]
enum Db {
    Sqlite,
    Postgres,
}

struct Case {
    label: &'static str,
    db: Db,
    redis: bool,
    replicas: usize,
}

fn config(net: &Localnet, dir: &std::path::Path, case: &Case, tag: &str) -> Config {
    let mut cfg = Config::default();
    cfg.chain.rpc_url = net.rpc_url().into();
    cfg.chain.ws_url = net.ws_url().into();
    cfg.chain.coordinator_keypair = dir.join("coordinator.json");
    cfg.chain.updater_keypair = dir.join("updater.json");
    cfg.chain.refresh_interval_secs = 86_400;
    match case.db {
        Db::Sqlite => {
            cfg.database.url = format!("sqlite:{}", dir.join(format!("{tag}.db")).display())
        }
        Db::Postgres => {
            cfg.database.url = "postgres://postgres@127.0.0.1:5432/test".into();
            cfg.database.schema = Some(format!("bench_{tag}"));
            cfg.database.max_connections = 32;
        }
    }
    if case.redis {
        cfg.redis.url = "redis://127.0.0.1:6379".into();
        cfg.redis.prefix = format!("bench-{tag}");
    }
    cfg.api.jobs_per_wallet_per_day = 1_000_000;
    cfg.api.requests_per_wallet_per_minute = 1_000_000;
    cfg.matching.cache_refresh_ms = 1_000;
    cfg
}

async fn seed_nodes(store: &Store, chain_now: i64) {
    for i in 0..NODES {
        let owner = Keypair::new().pubkey().to_string();
        store
            .upsert_node(&NodeRecord {
                owner,
                endpoint: format!("https://node{i}.bench:7443"),
                tls_fingerprint: [i as u8; 32],
                hardware: Hardware {
                    cpu_cores: 8 + (i % 8) as u32,
                    ram_mb: 32_768,
                    gpu_count: (i % 2) as u32,
                    vram_mb: 8_192,
                    datacenter_gpu: false,
                },
                capacity: 64,
                region: ["eu", "us", "ap"][i % 3].into(),
                price_bps: 8_000 + (i % 9) as u32 * 500,
                registered_at: 0,
                last_heartbeat: cyxwiz_proto::auth::now_ms(),
                running_jobs: 0,
                heartbeats: 1,
                chain: ChainNode {
                    stake: 10_000 * ONE_CYXWIZ,
                    status: ChainStatus::Active,
                    heartbeat_secs: chain_now,
                    reputation: (i % 1_000) as u16,
                    tier: (i % 4) as u8,
                    synced_at: 0,
                },
                rating_sum: 0,
                rating_count: 0,
            })
            .await
            .expect("seed node");
    }
}

fn job() -> v1::JobConfig {
    v1::JobConfig {
        module_hash: vec![1; 32],
        module_size: 20_000,
        dataset_hash: vec![2; 32],
        dataset_size: 100_000,
        epochs: 100,
        hardware: Some(v1::HardwareRequirements {
            min_cpu_cores: 4,
            min_ram_mb: 4_096,
            ..Default::default()
        }),
        max_price: 5 * ONE_CYXWIZ,
        priority: v1::Priority::Normal as i32,
        estimated_secs: 900,
        region: "eu".into(),
    }
}

struct Result {
    ok: usize,
    errors: usize,
    per_sec: f64,
    p50: Duration,
    p99: Duration,
}

async fn run_case(
    net: &Localnet,
    dir: &std::path::Path,
    case: &Case,
    tag: &str,
    clients: usize,
) -> Result {
    let cfg = config(net, dir, case, tag);
    let store = Store::connect(
        &cfg.database.url,
        StoreOptions {
            schema: cfg.database.schema.clone(),
            ..StoreOptions::default()
        },
    )
    .await
    .expect("store");
    let chain_now = net.client(Keypair::new()).unix_time().await.unwrap();
    seed_nodes(&store, chain_now).await;
    let mut urls = Vec::new();
    let mut stops = Vec::new();
    for _ in 0..case.replicas {
        let c = Arc::new(server::build(cfg.clone()).await.expect("coordinator"));
        let grpc = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let http = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        urls.push(format!("http://{}", grpc.local_addr().unwrap()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        stops.push(tx);
        tokio::spawn(async move {
            let _ = server::run(c, grpc, http, async {
                let _ = rx.await;
            })
            .await;
        });
    }
    let wallets: Arc<Vec<Keypair>> = Arc::new((0..WALLETS).map(|_| Keypair::new()).collect());
    let run_for = Duration::from_secs(seconds());
    // Warm-up: connections, caches, prepared statements.
    let warm_until = Instant::now() + Duration::from_millis(500);
    let measure_from = warm_until;
    let stop_at = measure_from + run_for;
    let mut tasks = Vec::new();
    for i in 0..clients {
        let url = urls[i % urls.len()].clone();
        let wallets = wallets.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = EngineServiceClient::connect(url).await.unwrap();
            let mut lat = Vec::new();
            let (mut ok, mut err) = (0usize, 0usize);
            let mut n = i;
            loop {
                let now = Instant::now();
                if now >= stop_at {
                    break;
                }
                let w = &wallets[n % WALLETS];
                n += clients;
                let req = sign_now(
                    methods::SUBMIT_JOB,
                    v1::SubmitJobRequest {
                        config: Some(job()),
                    },
                    w,
                );
                let t = Instant::now();
                let r = client.submit_job(req).await;
                let d = t.elapsed();
                if t >= measure_from {
                    match r {
                        Ok(_) => {
                            ok += 1;
                            lat.push(d);
                        }
                        Err(e) => {
                            err += 1;
                            if err <= 2 && i == 0 {
                                eprintln!("  refused: {:?} {}", e.code(), e.message());
                            }
                        }
                    }
                }
            }
            (ok, err, lat)
        }));
    }
    let (mut ok, mut errors, mut lat) = (0, 0, Vec::new());
    for t in tasks {
        let (o, e, l) = t.await.unwrap();
        ok += o;
        errors += e;
        lat.extend(l);
    }
    for s in stops {
        let _ = s.send(());
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    store.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    Result {
        ok,
        errors,
        per_sec: ok as f64 / run_for.as_secs_f64(),
        p50: pct(0.50),
        p99: pct(0.99),
    }
}

fn main() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let net = Localnet::start(LocalnetConfig::default())
            .await
            .expect("localnet");
        let dir = std::env::temp_dir().join(format!("cyxwiz-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        keys::write_keypair(dir.join("coordinator.json"), &net.keys().coordinator).unwrap();
        keys::write_keypair(dir.join("updater.json"), &net.keys().updater).unwrap();
        let cases = [
            Case {
                label: "SQLite, in-process state, 1 replica",
                db: Db::Sqlite,
                redis: false,
                replicas: 1,
            },
            Case {
                label: "PostgreSQL, in-process state, 1 replica",
                db: Db::Postgres,
                redis: false,
                replicas: 1,
            },
            Case {
                label: "PostgreSQL + Redis, 1 replica",
                db: Db::Postgres,
                redis: true,
                replicas: 1,
            },
            Case {
                label: "PostgreSQL + Redis, 2 replicas",
                db: Db::Postgres,
                redis: true,
                replicas: 2,
            },
        ];
        println!("SubmitJob, {NODES} nodes, {} s per case\n", seconds());
        println!(
            "| configuration | clients | submits matched | refused | per second | p50 | p99 |"
        );
        println!("|---|---:|---:|---:|---:|---:|---:|");
        let pid = std::process::id();
        for (i, case) in cases.iter().enumerate() {
            for (j, clients) in LOADS.iter().enumerate() {
                let r = run_case(&net, &dir, case, &format!("{pid}_{i}_{j}"), *clients).await;
                println!(
                    "| {} | {} | {} | {} | {:.0} | {:.2} ms | {:.2} ms |",
                    case.label,
                    clients,
                    r.ok,
                    r.errors,
                    r.per_sec,
                    r.p50.as_secs_f64() * 1e3,
                    r.p99.as_secs_f64() * 1e3
                );
            }
        }
        net.stop();
    });
}
