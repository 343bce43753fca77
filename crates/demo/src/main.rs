//! `cyxwiz-demo`: the main job. Starts a whole CyxWiz network on this machine on embedded
//! defaults (local chain, coordinator on SQLite, three node-agents), trains the MLP on the
//! UCI digits through the engine-client end to end, prints a report, stops everything.

use std::{path::PathBuf, process::ExitCode};

use clap::Parser;
use cyxwiz_demo::main_job::{self, MainJobOptions, MainJobReport};
use cyxwiz_engine_client::{amount::display_tokens, console::ConsoleObserver};

#[derive(Parser, Debug)]
#[command(
    name = "cyxwiz-demo",
    version,
    about = "Run a whole local CyxWiz network and train a model on it"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Epochs of MLP training on the digits.
    #[arg(long, default_value_t = 60)]
    epochs: u32,
    /// Node-agents to start.
    #[arg(long, default_value_t = 3)]
    nodes: usize,
    /// Keep everything (keys, databases, checkpoints, weights) in this directory
    /// instead of a temporary one that is removed at the end.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Print the report as one JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
enum Command {
    /// Run one node-agent of a demo network as its own process, from the configuration
    /// the network wrote (`<dir>/node-<i>/config.toml`); stops on SIGTERM or Ctrl-C.
    Node {
        #[arg(long)]
        config: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(cyxwiz_node_agent::logging::filter("error"))
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(Command::Node { config }) = &cli.command {
        let run = async {
            let cfg = cyxwiz_node_agent::Config::load(Some(config.as_path()), std::env::vars())
                .map_err(|e| e.to_string())?;
            cyxwiz_node_agent::agent::serve_until_signal(cfg)
                .await
                .map_err(|e| e.to_string())
        };
        return match runtime.block_on(run) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let mut options = MainJobOptions {
        epochs: cli.epochs,
        ..MainJobOptions::default()
    };
    options.net.nodes = cli.nodes.max(1);
    options.net.dir = cli.dir.clone();
    if !cli.json {
        println!(
            "starting a local CyxWiz network: chain, coordinator (SQLite), {} node-agents …",
            options.net.nodes
        );
    }
    let mut observer = ConsoleObserver::new(cli.json, true);
    let result = runtime.block_on(main_job::run(options, &mut observer));
    observer.finish();
    match result {
        Ok(report) => {
            if cli.json {
                match serde_json::to_string(&report) {
                    Ok(s) => println!("{s}"),
                    Err(e) => {
                        eprintln!("error: {e}");
                        return ExitCode::FAILURE;
                    }
                }
            } else {
                print_report(&report, cli.dir.is_some());
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn tokens(base: u64) -> String {
    display_tokens(base)
}

fn delta(before: u64, after: u64) -> String {
    if after >= before {
        format!("+{}", tokens(after - before))
    } else {
        format!("-{}", tokens(before - after))
    }
}

fn print_report(r: &MainJobReport, kept: bool) {
    let run = &r.run;
    let t = &run.timings;
    let s = &r.split;
    let secs = |ms: u64| ms as f64 / 1e3;
    println!();
    println!("══ CyxWiz main job: MLP on UCI digits ══");
    println!("job               {}", hex::encode(run.job_id));
    println!("node              {}", r.node_owner);
    println!(
        "mesh              {} nodes; other nodes each one admitted: {:?}",
        r.mesh_known.len(),
        r.mesh_known
    );
    println!(
        "held-out accuracy {:.2}% (loss {:.4}) after {} epochs",
        run.test_accuracy * 100.0,
        run.test_loss,
        run.epochs
    );
    println!(
        "weights           {} bytes, digest {} = the chain's final_weights_hash",
        run.weights_bytes,
        hex::encode(run.final_weights_hash)
    );
    println!(
        "time              network start {:.1}s · submit {:.1}s · escrow+assign {:.1}s · upload+accept {:.1}s · training {:.1}s · proof+payment {:.1}s · download {:.1}s · job total {:.1}s · wall {:.1}s",
        secs(r.startup_ms),
        secs(t.submit_ms),
        secs(t.escrow_ms),
        secs(t.upload_ms),
        secs(t.training_ms),
        secs(t.settlement_ms),
        secs(t.download_ms),
        secs(t.total_ms),
        secs(r.wall_ms)
    );
    let pct = |x: u64| {
        if s.price == 0 {
            0.0
        } else {
            x as f64 * 100.0 / s.price as f64
        }
    };
    println!("price             {}", tokens(s.price));
    println!(
        "  to the node     {} ({:.1}%)",
        tokens(s.to_node),
        pct(s.to_node)
    );
    println!(
        "  platform fee    {} ({:.1}%): staking {} · development {} · liquidity {} · burned {}",
        tokens(s.platform_fee()),
        pct(s.platform_fee()),
        tokens(s.to_treasury_staking),
        tokens(s.to_treasury_development),
        tokens(s.to_treasury_liquidity),
        tokens(s.burned)
    );
    let (b, a) = (&r.before, &r.after);
    println!("balances          before → after (change)");
    for (name, x, y) in [
        ("engine", b.engine, a.engine),
        ("node", b.node, a.node),
        ("treasury/staking", b.treasury_staking, a.treasury_staking),
        (
            "treasury/dev",
            b.treasury_development,
            a.treasury_development,
        ),
        ("treasury/liq", b.treasury_liquidity, a.treasury_liquidity),
        ("token supply", b.supply, a.supply),
    ] {
        println!(
            "  {name:<16}{} → {} ({})",
            tokens(x),
            tokens(y),
            delta(x, y)
        );
    }
    let rep = &r.reputation;
    println!(
        "reputation        score {} → {}, jobs completed {} → {}, ratings {}, tier {}{}",
        rep.score_before,
        rep.score_after,
        rep.jobs_completed_before,
        rep.jobs_completed_after,
        rep.ratings_after,
        rep.tier_after,
        if rep.batch_landed {
            ""
        } else {
            " (the coordinator's batch had not landed yet)"
        }
    );
    let sigs = &run.signatures;
    let sent = 4 + sigs.anchors.len() + 1;
    println!("transactions      {sent} sent by the job's parties:");
    println!("  create_escrow   {}", sigs.escrow);
    println!("  assign_node     {}", sigs.assign);
    println!("  accept_job      {}", sigs.accept);
    for a in &sigs.anchors {
        println!("  anchor          {a}");
    }
    println!("  complete_payment {}", sigs.payment);
    println!("  rate_node       {}", r.rate_signature);
    println!(
        "proof             Groth16 ({} epochs, anchored prefix bound) proven in {:.1}s, verified on chain by complete_payment{}",
        run.epochs,
        secs(r.prove_ms),
        if r.proving_keys == "dev" {
            " (development keys: localnet only)"
        } else {
            ""
        }
    );
    if kept {
        println!("state kept in     {}", r.dir.display());
    }
    println!("everything stopped.");
}
