//! `cyxwiz`: submit WASM training jobs to the CyxWiz network and collect verified
//! weights. Human output by default; `--json` prints one JSON object per command.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use cyxwiz_channel::v1::Control;
use cyxwiz_engine_client::{
    Engine, EngineConfig, JobSpec, amount::display_tokens, console::ConsoleObserver, daemon,
    engine::job_state_name, journal::JobRecord, parse_tokens, spec::parse_priority,
};
use serde_json::json;

#[derive(Parser, Debug)]
#[command(
    name = "cyxwiz",
    version,
    about = "Train WASM models on the CyxWiz network"
)]
struct Cli {
    /// Configuration file (default ~/.cyxwiz/config.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Wallet keypair (Solana CLI JSON); overrides [engine] keypair.
    #[arg(long, global = true)]
    keypair: Option<PathBuf>,
    /// Solana RPC URL; overrides [chain] rpc_url.
    #[arg(long, global = true)]
    rpc_url: Option<String>,
    /// Coordinator gRPC URL; overrides [coordinator] url.
    #[arg(long, global = true)]
    coordinator: Option<String>,
    /// Print one JSON object instead of human output.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Submit a job, pay its escrow, upload, follow training and collect the weights.
    Run(RunArgs),
    /// List the jobs in the local journal.
    Jobs,
    /// Show a job's state (coordinator, chain and journal); without a job, the node
    /// daemon's status (lifecycle, peer id, stake, jobs, NAT, addresses).
    Status {
        /// Job id (or a unique prefix of one in the journal).
        job: Option<String>,
    },
    /// Download a completed job's weights and verify them against the chain.
    Result {
        job: String,
        /// Where to write the weights (default: the job's directory).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Cancel a job that has not started (refund minus the cancellation fee).
    Cancel { job: String },
    /// Stop a running job and settle its escrow by anchored progress (the node is paid
    /// for the epochs anchored on chain, the rest comes back).
    Refund { job: String },
    /// Pause, resume or stop a running job on its node.
    Control {
        job: String,
        /// pause, resume or stop.
        action: String,
        /// pause only: once this many epochs are done.
        #[arg(long)]
        at_epoch: Option<u32>,
    },
    /// Audit the node's anchored work by re-executing an epoch (or, with --bisect, by
    /// bisection against a local re-run); with --dispute, open a dispute on fraud.
    Audit {
        job: String,
        /// The module and dataset the job was submitted with.
        #[arg(long)]
        module: PathBuf,
        #[arg(long)]
        data: PathBuf,
        /// The seed it was submitted with (default: the journal's).
        #[arg(long)]
        seed: Option<i64>,
        /// The anchored epoch to re-execute (default: bisect).
        #[arg(long)]
        epoch: Option<u32>,
        /// Open a dispute with the evidence if the audit finds fraud.
        #[arg(long)]
        dispute: bool,
    },
    /// Rate a completed job's node, 1 to 5 stars.
    Rate { job: String, stars: u8 },
    /// The wallet's SOL and CYXWIZ.
    Balance,
    #[command(flatten)]
    Daemon(daemon::DaemonCommand),
}

#[derive(clap::Args, Debug)]
struct RunArgs {
    /// The WASM training module.
    module: PathBuf,
    /// The dataset (.cyxd).
    #[arg(long)]
    data: PathBuf,
    #[arg(long)]
    epochs: u32,
    /// The kernel's RNG seed.
    #[arg(long, default_value_t = 0)]
    seed: i64,
    /// The most you will pay, in CYXWIZ (default: [engine] max_price).
    #[arg(long)]
    max_price: Option<String>,
    /// Your estimate of the training time in seconds (default: [engine] estimated_secs).
    #[arg(long)]
    estimated_secs: Option<u32>,
    /// The escrow's timeout in seconds (default: [engine] timeout_secs; 0 = program default).
    #[arg(long)]
    timeout_secs: Option<i64>,
    #[arg(long)]
    cpu_cores: Option<u32>,
    #[arg(long)]
    ram_mb: Option<u32>,
    /// Preferred node region.
    #[arg(long)]
    region: Option<String>,
    /// low, normal, high or critical.
    #[arg(long)]
    priority: Option<String>,
    /// Accept the quoted price without asking.
    #[arg(long, short = 'y')]
    yes: bool,
    /// Do not contact the coordinator: find the node on the mesh and assign it on chain
    /// (as `[engine] discovery = "mesh"`).
    #[arg(long)]
    no_coordinator: bool,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let json = cli.json;
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            if json {
                println!("{}", json!({ "ok": false, "error": format!("{e:#}") }));
            } else {
                eprintln!("error: {e:#}");
            }
            std::process::ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> anyhow::Result<EngineConfig> {
    let mut config = EngineConfig::load(cli.config.as_deref())?;
    if let Some(k) = &cli.keypair {
        config.engine.keypair = cyxwiz_proto::config::expand_home(k);
    }
    if let Some(u) = &cli.rpc_url {
        config.chain.rpc_url = u.clone();
    }
    if let Some(u) = &cli.coordinator {
        config.coordinator.url = u.clone();
    }
    config.validate()?;
    Ok(config)
}

fn engine(config: EngineConfig) -> anyhow::Result<Engine> {
    let path = config.engine.keypair.clone();
    Engine::new(config).with_context(|| {
        format!(
            "loading the wallet {} (create one with `solana-keygen new -o {}` or pass --keypair)",
            path.display(),
            path.display()
        )
    })
}

fn print(json: bool, value: serde_json::Value, human: impl FnOnce()) {
    if json {
        println!("{value}");
    } else {
        human();
    }
}

async fn dispatch(cli: Cli) -> anyhow::Result<()> {
    // The node daemon's commands need its data dir only, not the engine's wallet.
    match &cli.command {
        Command::Daemon(cmd) => {
            return Ok(daemon::run(cmd, cli.config.as_deref(), cli.json).await?);
        }
        Command::Status { job: None } => {
            return Ok(daemon::status(cli.config.as_deref(), cli.json).await?);
        }
        _ => {}
    }
    let config = load_config(&cli)?;
    let json = cli.json;
    match cli.command {
        Command::Run(args) => run(config, args, json).await,
        Command::Jobs => {
            let journal = cyxwiz_engine_client::Journal::new(config.engine.jobs_dir.clone());
            let jobs = journal.list()?;
            print(json, json!({ "ok": true, "jobs": jobs }), || {
                if jobs.is_empty() {
                    println!("no jobs in {}", journal.dir().display());
                }
                for j in &jobs {
                    println!(
                        "{}  {:<9}  {:>3} epochs  {:>14}  node {}{}",
                        j.job_id,
                        j.state.as_str(),
                        j.epochs,
                        display_tokens(j.price),
                        short(&j.node_owner),
                        j.test_accuracy
                            .map(|a| format!("  acc {:.1}%", a * 100.0))
                            .unwrap_or_default()
                    );
                }
            });
            Ok(())
        }
        Command::Status { job: Some(job) } => status(config, &job, json).await,
        Command::Status { job: None } | Command::Daemon(_) => Ok(()), // answered above
        Command::Result { job, out } => result(config, &job, out.as_deref(), json).await,
        Command::Cancel { job } => {
            let e = engine(config)?;
            let id = e.journal().resolve(&job)?;
            let out = e.cancel(&id).await?;
            print(
                json,
                json!({ "ok": true, "job_id": hex::encode(id), "cancel": out }),
                || {
                    println!("job {} cancelled", hex::encode(id));
                    if let Some(s) = &out.signature {
                        println!("  on-chain cancel: {s}");
                    }
                    if let Some(s) = &out.coordinator_state {
                        println!("  coordinator: {s}");
                    }
                    if let Some(e) = &out.coordinator_error {
                        println!("  coordinator did not confirm yet: {e}");
                    }
                },
            );
            Ok(())
        }
        Command::Refund { job } => {
            let e = engine(config)?;
            let id = e.journal().resolve(&job)?;
            let sig = e.refund(&id).await?;
            print(
                json,
                json!({ "ok": true, "job_id": hex::encode(id), "refund_signature": sig }),
                || match &sig {
                    Some(s) => println!("job {} refunded by progress (tx {s})", hex::encode(id)),
                    None => println!(
                        "job {} is not in progress: nothing to refund",
                        hex::encode(id)
                    ),
                },
            );
            Ok(())
        }
        Command::Control {
            job,
            action,
            at_epoch,
        } => {
            let e = engine(config)?;
            let id = e.journal().resolve(&job)?;
            let action = match action.to_ascii_lowercase().as_str() {
                "pause" => Control::Pause,
                "resume" => Control::Resume,
                "stop" => Control::Stop,
                other => bail!("action {other:?}: expected pause, resume or stop"),
            };
            let session = e.connect_journaled(&id).await?;
            let p = session
                .control_at(&id, action, at_epoch.unwrap_or(0))
                .await?;
            print(
                json,
                json!({ "ok": true, "job_id": hex::encode(id), "epoch": p.epoch, "phase": p.phase }),
                || {
                    println!(
                        "job {} at epoch {}/{}: {:?} sent",
                        hex::encode(id),
                        p.epoch,
                        p.epochs,
                        action
                    )
                },
            );
            Ok(())
        }
        Command::Audit {
            job,
            module,
            data,
            seed,
            epoch,
            dispute,
        } => {
            let e = engine(config)?;
            let id = e.journal().resolve(&job)?;
            let module = read(&module, "module")?;
            let dataset = read(&data, "dataset")?;
            let seed = match seed {
                Some(s) => s,
                None => e.journal().load(&id)?.seed,
            };
            let bytes = cyxwiz_engine_client::JobBytes {
                module: &module,
                dataset: &dataset,
                seed,
            };
            let session = e.connect_journaled(&id).await?;
            let report = match epoch {
                Some(n) => e.audit_epoch(&session, &id, n, bytes).await?,
                None => e.audit_bisect(&session, &id, bytes).await?,
            };
            let dispute_tx = if dispute && report.is_fraud() {
                Some(e.dispute(&report).await?)
            } else {
                None
            };
            print(
                json,
                json!({ "ok": true, "audit": report, "dispute_signature": dispute_tx }),
                || {
                    println!(
                        "job {} epoch {} of {} anchored ({} probes): {}",
                        hex::encode(id),
                        report.epoch,
                        report.anchored_epochs,
                        report.probes,
                        if report.is_fraud() { "FRAUD" } else { "honest" }
                    );
                    println!("  evidence hash   {}", hex::encode(report.evidence_hash));
                    if let Some(tx) = &dispute_tx {
                        println!("  dispute opened  tx {tx}");
                    }
                },
            );
            Ok(())
        }
        Command::Rate { job, stars } => {
            let e = engine(config)?;
            let id = e.journal().resolve(&job)?;
            let escrow = e
                .escrow(&id)
                .await?
                .with_context(|| format!("job {} has no escrow on chain", hex::encode(id)))?;
            let out = e.rate(&id, &escrow.node, stars).await?;
            print(
                json,
                json!({ "ok": true, "job_id": hex::encode(id), "node": escrow.node.to_string(), "rate": out }),
                || {
                    println!(
                        "rated node {} {} star{} (tx {})",
                        escrow.node,
                        stars,
                        if stars == 1 { "" } else { "s" },
                        out.signature
                    );
                    if let Some(e) = &out.coordinator_error {
                        println!("  the coordinator did not record it: {e}");
                    }
                },
            );
            Ok(())
        }
        Command::Balance => {
            let e = engine(config)?;
            let b = e.balance().await?;
            print(json, json!({ "ok": true, "balance": b }), || {
                println!("wallet  {}", b.wallet);
                println!("SOL     {}", b.lamports as f64 / 1e9);
                println!("CYXWIZ  {}", display_tokens(b.tokens));
                for a in &b.token_accounts {
                    println!("  {}  {}", a.address, display_tokens(a.amount));
                }
            });
            Ok(())
        }
    }
}

fn short(s: &str) -> String {
    if s.len() > 12 {
        format!("{}…{}", &s[..6], &s[s.len() - 4..])
    } else {
        s.to_string()
    }
}

fn read(path: &Path, what: &str) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading the {what} {}", path.display()))
}

async fn run(mut config: EngineConfig, args: RunArgs, json: bool) -> anyhow::Result<()> {
    if args.no_coordinator {
        config.engine.discovery = cyxwiz_engine_client::config::Discovery::Mesh;
    }
    let module = read(&args.module, "module")?;
    let dataset = read(&args.data, "dataset")?;
    let max_price = match &args.max_price {
        Some(t) => parse_tokens(t)?,
        None => config.engine.max_price()?,
    };
    let priority_text = args.priority.as_deref().unwrap_or(&config.engine.priority);
    let Some(priority) = parse_priority(priority_text) else {
        bail!("priority {priority_text:?}: expected low, normal, high or critical");
    };
    let mut spec = JobSpec::new(module, dataset, args.epochs, max_price);
    spec.seed = args.seed;
    spec.estimated_secs = args.estimated_secs.unwrap_or(config.engine.estimated_secs);
    spec.timeout_secs = args.timeout_secs.unwrap_or(config.engine.timeout_secs);
    spec.hardware.cpu_cores = args.cpu_cores.unwrap_or(config.engine.cpu_cores);
    spec.hardware.ram_mb = args.ram_mb.unwrap_or(config.engine.ram_mb);
    spec.region = args.region.clone().unwrap_or(config.engine.region.clone());
    spec.priority = priority;
    spec.validate()?;
    if !args.yes && !json && !std::io::stdin().is_terminal() {
        bail!("not asking for approval without a terminal: pass --yes to accept the quote");
    }
    if json && !args.yes {
        bail!("--json runs need --yes (there is no one to ask)");
    }
    let e = engine(config)?;
    let mut observer = ConsoleObserver::new(json, args.yes);
    let report = e.run(&spec, &mut observer).await;
    observer.finish();
    let report = report?;
    print(json, json!({ "ok": true, "report": report }), || {
        println!();
        println!("job {} done", hex::encode(report.job_id));
        println!(
            "  test accuracy   {:.2}%  (loss {:.4})",
            report.test_accuracy * 100.0,
            report.test_loss
        );
        println!(
            "  weights         {} ({} bytes)",
            report.weights_path.display(),
            report.weights_bytes
        );
        println!(
            "  digest          {} (verified against the chain)",
            hex::encode(report.final_weights_hash)
        );
        println!("  paid            {}", display_tokens(report.price));
        println!("  payment tx      {}", report.payment_signature);
        if report.resumed_from > 0 {
            println!("  resumed from    epoch {}", report.resumed_from);
        }
        let t = &report.timings;
        println!(
            "  timings         submit {:.1}s · escrow {:.1}s · upload {:.1}s · training {:.1}s · settlement {:.1}s · download {:.1}s · total {:.1}s",
            t.submit_ms as f64 / 1e3,
            t.escrow_ms as f64 / 1e3,
            t.upload_ms as f64 / 1e3,
            t.training_ms as f64 / 1e3,
            t.settlement_ms as f64 / 1e3,
            t.download_ms as f64 / 1e3,
            t.total_ms as f64 / 1e3
        );
    });
    Ok(())
}

async fn status(config: EngineConfig, job: &str, json: bool) -> anyhow::Result<()> {
    let e = engine(config)?;
    let id = e.journal().resolve(job)?;
    let record: Option<JobRecord> = e.journal().load(&id).ok();
    let coordinator = e.status(&id).await;
    let escrow = e.escrow(&id).await;
    let coord_json = match &coordinator {
        Ok(s) => json!({
            "state": job_state_name(s.state),
            "node_owner": s.node_owner,
            "node_endpoint": s.node_endpoint,
            "price": s.price,
            "epochs_required": s.epochs_required,
            "epochs_reported": s.epochs_reported,
            "epochs_anchored": s.epochs_anchored,
            "final_weights_hash": hex::encode(&s.final_weights_hash),
            "escrow_address": s.escrow_address,
            "detail": s.detail,
        }),
        Err(err) => json!({ "error": err.to_string() }),
    };
    let escrow_json = match &escrow {
        Ok(Some(x)) => json!({
            "state": format!("{:?}", x.state),
            "amount": x.amount,
            "node": x.node.to_string(),
            "epochs_required": x.epochs_required,
            "epochs_done": x.epochs_done,
            "final_weights_hash": hex::encode(x.final_weights_hash),
            "rated": x.rated,
        }),
        Ok(None) => serde_json::Value::Null,
        Err(err) => json!({ "error": err.to_string() }),
    };
    if coordinator.is_err() && !matches!(escrow, Ok(Some(_))) && record.is_none() {
        return Err(coordinator
            .err()
            .map(anyhow::Error::from)
            .unwrap_or_else(|| anyhow::anyhow!("unknown job")));
    }
    print(
        json,
        json!({
            "ok": true,
            "job_id": hex::encode(id),
            "coordinator": coord_json,
            "escrow": escrow_json,
            "journal": record,
        }),
        || {
            println!("job {}", hex::encode(id));
            match &coordinator {
                Ok(s) => {
                    println!(
                        "  coordinator     {} · epochs reported {}/{} · anchored {}",
                        job_state_name(s.state),
                        s.epochs_reported,
                        s.epochs_required,
                        s.epochs_anchored
                    );
                    if !s.detail.is_empty() {
                        println!("  detail          {}", s.detail);
                    }
                    println!("  price           {}", display_tokens(s.price));
                    println!("  node            {} {}", s.node_owner, s.node_endpoint);
                }
                Err(err) => println!("  coordinator     unavailable: {err}"),
            }
            match &escrow {
                Ok(Some(x)) => {
                    println!(
                        "  escrow          {:?} · {} · epochs done {}/{}",
                        x.state,
                        display_tokens(x.amount),
                        x.epochs_done,
                        x.epochs_required
                    );
                    if x.final_weights_hash != [0; 32] {
                        println!("  weights hash    {}", hex::encode(x.final_weights_hash));
                    }
                }
                Ok(None) => println!("  escrow          none"),
                Err(err) => println!("  escrow          unreadable: {err}"),
            }
            if let Some(r) = &record {
                println!("  journal         {}", r.state.as_str());
                if let Some(p) = &r.weights_path {
                    println!("  weights         {}", p.display());
                }
            }
        },
    );
    Ok(())
}

async fn result(
    config: EngineConfig,
    job: &str,
    out: Option<&Path>,
    json: bool,
) -> anyhow::Result<()> {
    let e = engine(config)?;
    let id = e.journal().resolve(job)?;
    let session = match e.connect_journaled(&id).await {
        Ok(s) => s,
        Err(err) => {
            // Not in the journal (another machine submitted it): ask the coordinator for
            // a fresh credential, which names the node and its key.
            let escrow_tx = e
                .journal()
                .load(&id)
                .ok()
                .and_then(|r| r.escrow_tx)
                .with_context(|| format!("cannot reach the job's node: {err}"))?;
            let cred = e.confirm(&id, &escrow_tx).await?;
            e.connect(&cred).await?
        }
    };
    let (downloaded, digest, path) = e.collect(&session, &id, out).await?;
    print(
        json,
        json!({
            "ok": true,
            "job_id": hex::encode(id),
            "weights_path": path,
            "bytes": downloaded.weights.len(),
            "final_weights_hash": hex::encode(digest),
            "verified": true,
        }),
        || {
            println!(
                "weights of job {} saved to {} ({} bytes)",
                hex::encode(id),
                path.display(),
                downloaded.weights.len()
            );
            println!("digest {} verified against the chain", hex::encode(digest));
        },
    );
    Ok(())
}
