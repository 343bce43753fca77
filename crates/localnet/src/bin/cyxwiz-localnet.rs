//! `cyxwiz-localnet`: runs the embedded CyxWiz chain until Ctrl-C (SIGINT) or SIGTERM.
//!
//! ```text
//! cargo run -p cyxwiz-localnet -- --rpc-port 8899 --ws-port 8900 --state-dir .cyxwiz/localnet
//! ```
//! Prints the RPC and WebSocket URLs, the program ids and the mint, and writes the
//! localnet's keys (faucet, admin, coordinator, updater; Solana CLI JSON) and a
//! `localnet.json` description into the state directory for other processes.
//!
//! A signal stops it at any point, start-up included: the start is abandoned (its chain
//! stopped) and the process exits with 128 + the signal number, as a shell reports it.

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use cyxwiz_chain::{ids, keys};
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use solana_signer::Signer;
use tokio::signal::unix::{SignalKind, signal};

#[derive(Parser)]
#[command(about = "Run a local CyxWiz chain (JSON-RPC + WebSocket) until Ctrl-C")]
struct Cli {
    #[arg(long, default_value = "127.0.0.1")]
    bind: String,
    /// JSON-RPC port (0: any free port).
    #[arg(long, default_value_t = 8899)]
    rpc_port: u16,
    /// WebSocket port (0: any free port).
    #[arg(long, default_value_t = 8900)]
    ws_port: u16,
    /// Milliseconds per slot.
    #[arg(long, default_value_t = 400)]
    slot_time_ms: u64,
    /// Where to write keys and localnet.json (replaced on every start).
    #[arg(long, default_value = ".cyxwiz/localnet")]
    state_dir: PathBuf,
}

/// SIGINT and SIGTERM, registered before start-up so neither is missed or ignored.
struct Stop {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Stop {
    fn register() -> anyhow::Result<Stop> {
        Ok(Stop {
            interrupt: signal(SignalKind::interrupt()).context("registering SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("registering SIGTERM")?,
        })
    }

    /// Waits for either signal; returns its name and number.
    async fn wait(&mut self) -> (&'static str, i32) {
        tokio::select! {
            _ = self.interrupt.recv() => ("SIGINT", 2),
            _ = self.terminate.recv() => ("SIGTERM", 15),
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut stop = Stop::register()?;
    eprintln!("starting the localnet (Ctrl-C aborts)");
    let start = Localnet::start(LocalnetConfig {
        bind_host: cli.bind.clone(),
        rpc_port: cli.rpc_port,
        ws_port: cli.ws_port,
        slot_time_ms: cli.slot_time_ms,
        ..LocalnetConfig::default()
    });
    let net = tokio::select! {
        net = start => net.context("starting the localnet")?,
        (name, number) = stop.wait() => {
            // The start future was dropped with the select: its chain is stopped.
            eprintln!("{name} during start-up: stopped");
            std::process::exit(128 + number);
        }
    };

    // Each start is a new chain with new keys: replace the previous state directory.
    if cli.state_dir.exists() {
        std::fs::remove_dir_all(&cli.state_dir)
            .with_context(|| format!("clearing {}", cli.state_dir.display()))?;
    }
    let k = net.keys();
    for (name, key) in [
        ("faucet", &k.faucet),
        ("admin", &k.admin),
        ("coordinator", &k.coordinator),
        ("updater", &k.updater),
    ] {
        keys::write_keypair(cli.state_dir.join(format!("{name}.json")), key)?;
    }
    let n = net.network();
    let description = serde_json::json!({
        "rpc_url": net.rpc_url(),
        "ws_url": net.ws_url(),
        "programs": {
            "node_registry": ids::NODE_REGISTRY.to_string(),
            "job_escrow": ids::JOB_ESCROW.to_string(),
            "reputation_manager": ids::REPUTATION.to_string(),
            "dispute_dao": ids::DISPUTE_DAO.to_string(),
        },
        "mint": n.addresses.mint.to_string(),
        "token_program": n.addresses.token_program.to_string(),
        "treasury": {
            "staking": n.addresses.treasury.staking.to_string(),
            "development": n.addresses.treasury.development.to_string(),
            "liquidity": n.addresses.treasury.liquidity.to_string(),
        },
        "insurance_vault": n.addresses.insurance_vault.to_string(),
        "keys": {
            "faucet": k.faucet.pubkey().to_string(),
            "admin": k.admin.pubkey().to_string(),
            "coordinator": k.coordinator.pubkey().to_string(),
            "updater": k.updater.pubkey().to_string(),
        },
    });
    std::fs::write(
        cli.state_dir.join("localnet.json"),
        serde_json::to_string_pretty(&description)?,
    )?;

    println!("CyxWiz localnet running");
    println!("  RPC URL            {}", net.rpc_url());
    println!("  WebSocket URL      {}", net.ws_url());
    println!("  NodeRegistry       {}", ids::NODE_REGISTRY);
    println!("  JobEscrow          {}", ids::JOB_ESCROW);
    println!("  ReputationManager  {}", ids::REPUTATION);
    println!("  Dispute/DAO        {}", ids::DISPUTE_DAO);
    println!("  CYXWIZ mint        {}", n.addresses.mint);
    println!("  faucet             {}", k.faucet.pubkey());
    println!("  keys and details   {}", cli.state_dir.display());
    println!("Ctrl-C to stop.");
    let (name, _) = stop.wait().await;
    println!("{name}: stopping");
    net.stop();
    Ok(())
}
