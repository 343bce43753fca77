//! `cyxwizd`: the node daemon. Reads `~/.cyxwiz/config.toml` (or `--config`), the
//! `CYXWIZ_*` environment and flags, joins the network and serves until Ctrl-C or
//! SIGTERM, then shuts down gracefully.

use std::{net::SocketAddr, path::PathBuf};

use anyhow::Context;
use clap::Parser;
use cyxwiz_node_agent::Config;

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The CyxWiz node daemon: trains jobs in a WASM sandbox for CYXWIZ"
)]
struct Args {
    /// Configuration file (default: ~/.cyxwiz/config.toml when it exists).
    #[arg(long, short, env = "CYXWIZ_CONFIG")]
    config: Option<PathBuf>,
    /// Operator keypair (Solana CLI JSON); created if missing.
    #[arg(long)]
    keypair: Option<PathBuf>,
    #[arg(long)]
    tls_key: Option<PathBuf>,
    /// CYXWIZ token account (stake source, payment destination).
    #[arg(long)]
    token_account: Option<String>,
    /// Base units to stake if the node is not registered yet.
    #[arg(long)]
    stake: Option<u64>,
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// https://host:port engines reach this node at.
    #[arg(long)]
    advertise: Option<String>,
    #[arg(long)]
    capacity: Option<u32>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    coordinator: Option<String>,
    #[arg(long)]
    rpc_url: Option<String>,
    /// trace, debug, info, warn or error.
    #[arg(long)]
    log_level: Option<String>,
    /// Mesh listen multiaddr (repeatable; replaces [network] listen).
    #[arg(long = "p2p-listen")]
    p2p_listen: Vec<String>,
    /// Mesh bootstrap peer, /ip4/…/tcp/…/p2p/<peer id> (repeatable; added to [network]
    /// bootstrap).
    #[arg(long)]
    bootstrap: Vec<String>,
    /// Discover peers on the local network with mDNS.
    #[arg(long)]
    mdns: bool,
    /// Do not join the mesh (the coordinator alone finds this node).
    #[arg(long)]
    no_mesh: bool,
}

fn load(args: &Args) -> anyhow::Result<Config> {
    let default = cyxwiz_proto::config::home_dir().join("config.toml");
    let path = args.config.clone().or(default.exists().then_some(default));
    let mut cfg = Config::load(path.as_deref(), std::env::vars())?;
    let n = &mut cfg.node;
    if let Some(v) = &args.keypair {
        n.keypair = v.clone();
    }
    if let Some(v) = &args.tls_key {
        n.tls_key = v.clone();
    }
    if let Some(v) = &args.token_account {
        n.token_account = Some(v.clone());
    }
    if let Some(v) = args.stake {
        n.stake = v;
    }
    if let Some(v) = args.listen {
        n.listen = v;
    }
    if let Some(v) = &args.advertise {
        n.advertise = v.clone();
    }
    if let Some(v) = args.capacity {
        n.capacity = v;
    }
    if let Some(v) = &args.data_dir {
        cfg.storage.data_dir = v.clone();
    }
    if let Some(v) = &args.coordinator {
        cfg.coordinator.url = v.clone();
    }
    if let Some(v) = &args.rpc_url {
        cfg.chain.rpc_url = v.clone();
    }
    if let Some(v) = &args.log_level {
        cfg.logging.level = v.clone();
    }
    let net = &mut cfg.network;
    if !args.p2p_listen.is_empty() {
        net.listen = args.p2p_listen.clone();
    }
    net.bootstrap.extend(args.bootstrap.iter().cloned());
    if args.mdns {
        net.mdns = true;
    }
    if args.no_mesh {
        net.enabled = false;
    }
    cfg.expand_paths();
    cfg.validate()?;
    Ok(cfg)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let cfg = load(&args)?;
    tracing_subscriber::fmt()
        .with_env_filter(cyxwiz_node_agent::logging::filter(&cfg.logging.level))
        .init();
    cyxwiz_node_agent::agent::serve_until_signal(cfg)
        .await
        .context("running the node")
}
