//! `cyxwiz-coordinator`: reads the configuration (file, `CYXWIZ_*` environment, flags),
//! binds the gRPC and REST listeners and serves until Ctrl-C or SIGTERM.

use std::{net::SocketAddr, path::PathBuf, sync::Arc};

use anyhow::Context;
use clap::Parser;
use cyxwiz_coordinator::{config::Config, server};

#[derive(Parser, Debug)]
#[command(
    version,
    about = "The CyxWiz coordinator: job matching, escrow verification, P2P credentials, reputation batching"
)]
struct Args {
    /// TOML configuration file (see deploy/services/config/coordinator.toml).
    #[arg(long, short, env = "CYXWIZ_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long)]
    grpc_listen: Option<SocketAddr>,
    #[arg(long)]
    http_listen: Option<SocketAddr>,
    /// postgres://… or sqlite:path
    #[arg(long)]
    database_url: Option<String>,
    /// Empty for in-process shared state (one replica).
    #[arg(long)]
    redis_url: Option<String>,
    #[arg(long)]
    rpc_url: Option<String>,
    #[arg(long)]
    ws_url: Option<String>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let args = Args::parse();
    let mut cfg = Config::load(args.config.as_deref(), std::env::vars())?;
    if let Some(a) = args.grpc_listen {
        cfg.api.grpc_listen = a;
    }
    if let Some(a) = args.http_listen {
        cfg.api.http_listen = a;
    }
    if let Some(u) = args.database_url {
        cfg.database.url = u;
    }
    if let Some(u) = args.redis_url {
        cfg.redis.url = u;
    }
    if let Some(u) = args.rpc_url {
        cfg.chain.rpc_url = u;
    }
    if let Some(u) = args.ws_url {
        cfg.chain.ws_url = u;
    }
    cfg.validate()?;
    let grpc = tokio::net::TcpListener::bind(cfg.api.grpc_listen)
        .await
        .with_context(|| format!("bind gRPC {}", cfg.api.grpc_listen))?;
    let http = tokio::net::TcpListener::bind(cfg.api.http_listen)
        .await
        .with_context(|| format!("bind REST {}", cfg.api.http_listen))?;
    let coordinator = Arc::new(server::build(cfg).await?);
    tracing::info!(
        grpc = %grpc.local_addr()?,
        http = %http.local_addr()?,
        replica = %coordinator.replica_id,
        "coordinator serving"
    );
    server::run(coordinator, grpc, http, shutdown_signal()).await?;
    tracing::info!("coordinator stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
