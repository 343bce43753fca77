//! Human output for the engine: progress bars for the upload and the training, the
//! quote, and the approval prompt. Shared by the `cyxwiz` CLI and the main job's demo.

use std::{
    io::{BufRead, Write},
    time::Duration,
};

use cyxwiz_channel::v1::{Completion, Phase, TrainingMetrics};
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Event, Observer, Quote, amount::display_tokens, node::phase_of};

/// Progress bars and prompts for [`Engine::run`](crate::Engine::run) on a terminal.
pub struct ConsoleObserver {
    quiet: bool,
    yes: bool,
    upload: Option<ProgressBar>,
    training: Option<ProgressBar>,
}

impl ConsoleObserver {
    /// `quiet`: print nothing (JSON output); `yes`: approve every quote without asking.
    pub fn new(quiet: bool, yes: bool) -> ConsoleObserver {
        ConsoleObserver {
            quiet,
            yes,
            upload: None,
            training: None,
        }
    }

    /// Ends the progress bars (call after the run, whatever its outcome).
    pub fn finish(&mut self) {
        if let Some(b) = self.upload.take() {
            b.finish_and_clear();
        }
        if let Some(b) = self.training.take() {
            b.finish();
        }
    }

    fn training_bar(&mut self, epochs: u64) -> &ProgressBar {
        self.training.get_or_insert_with(|| {
            let bar = ProgressBar::new(epochs.max(1));
            if let Ok(style) = ProgressStyle::with_template("training {bar:30.green/white} {msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        })
    }

    fn metrics(&mut self, m: &TrainingMetrics) {
        let p = m.progress.clone().unwrap_or_default();
        let bar = self.training_bar(p.epochs as u64).clone();
        bar.set_length(p.epochs.max(1) as u64);
        bar.set_position(p.epoch as u64);
        let acc = if m.test_accuracy > 0.0 {
            m.test_accuracy
        } else {
            m.train_accuracy
        };
        let phase = phase_of(m);
        let tail = match phase {
            Phase::Queued => "queued".to_string(),
            Phase::Paused => "paused".to_string(),
            Phase::Completing => "proving and settling on chain…".to_string(),
            Phase::Completed => "completed".to_string(),
            Phase::Failed => format!("failed: {}", p.detail),
            Phase::Stopped => "stopped".to_string(),
            _ => format!("ETA {}", eta(m.eta_ms)),
        };
        let resumed = if p.resumed_from > 0 {
            format!(" (resumed from {})", p.resumed_from)
        } else {
            String::new()
        };
        bar.set_message(format!(
            "epoch {}/{} loss {:.3} acc {:.1}% {tail}{resumed}",
            p.epoch,
            p.epochs,
            m.train_loss,
            acc * 100.0
        ));
    }
}

/// `1h02m`, `3m05s`, `12s`.
pub fn eta(ms: u64) -> String {
    let s = ms.div_ceil(1000);
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Prints a quote for a human.
pub fn print_quote(q: &Quote) {
    let b = &q.breakdown;
    if q.node_owner.is_empty() {
        // No coordinator: the engine's own offer, before any node is assigned.
        println!("offer for job {} (no coordinator)", hex::encode(q.job_id));
        println!("  node            the best candidate, once the chain allows");
        println!("  epochs          {}", q.epochs);
        println!(
            "  price           {} (the list price)",
            display_tokens(q.price)
        );
        return;
    }
    println!("quote for job {}", hex::encode(q.job_id));
    println!("  node            {} ({})", q.node_owner, q.node_endpoint);
    println!("  epochs          {}", q.epochs);
    println!("  price           {}", display_tokens(q.price));
    println!(
        "  breakdown       {}/h × duration {:.2} × priority {:.2} × tier {:+.1}%",
        display_tokens(b.hourly_rate),
        b.duration_multiplier_bps as f64 / 1e4,
        b.priority_multiplier_bps as f64 / 1e4,
        b.tier_adjustment_bps as f64 / 100.0
    );
    let left_ms = q.escrow_deadline - cyxwiz_proto::auth::now_ms();
    println!("  reserved for    {}s", (left_ms / 1000).max(0));
}

impl Observer for ConsoleObserver {
    fn event(&mut self, event: Event<'_>) {
        if self.quiet {
            return;
        }
        match event {
            Event::Quoted(q) => print_quote(q),
            Event::EscrowLocked { signature } => println!("escrow locked    tx {signature}"),
            Event::Confirmed(c) => println!(
                "node assigned    {} at {} (tx {})",
                c.node_owner, c.endpoint, c.assign_signature
            ),
            Event::Uploading { sent, total } => {
                let bar = self.upload.get_or_insert_with(|| {
                    let bar = ProgressBar::new(total);
                    if let Ok(style) = ProgressStyle::with_template(
                        "uploading {bar:30.cyan/white} {bytes}/{total_bytes} {bytes_per_sec}",
                    ) {
                        bar.set_style(style.progress_chars("=> "));
                    }
                    bar
                });
                bar.set_position(sent);
            }
            Event::Uploaded(r) => {
                if let Some(b) = self.upload.take() {
                    b.finish_and_clear();
                }
                println!(
                    "uploaded         job accepted on chain (tx {})",
                    r.accept_signature
                );
            }
            Event::Metrics(m) => self.metrics(m),
            Event::Completed(c) => {
                if let Some(b) = self.training.take() {
                    b.finish();
                }
                completed(c);
            }
            Event::Downloaded { bytes } => println!("downloaded       {bytes} bytes"),
            Event::Verified { digest, path } => println!(
                "verified         digest {} matches the chain; saved {}",
                hex::encode(digest),
                path.display()
            ),
            Event::CoordinatorUnreachable { reason } => {
                println!("coordinator unreachable ({reason}); discovering nodes on the mesh…")
            }
            Event::Discovering { capability } => {
                println!("mesh             searching for compute nodes with {capability:?}")
            }
            Event::Candidates(list) => {
                println!("candidates       {} passed the chain's checks", list.len());
                for c in list {
                    println!(
                        "  {} at {} (stake {}, reputation {}{})",
                        c.owner,
                        c.endpoint,
                        display_tokens(c.stake),
                        c.score,
                        if c.region.is_empty() {
                            String::new()
                        } else {
                            format!(", region {}", c.region)
                        }
                    );
                }
            }
            Event::WaitingToAssign { secs } => println!(
                "waiting          the chain lets us assign the escrow ourselves in {secs}s"
            ),
            Event::AssignedByUser { node, signature } => println!(
                "node assigned    {} at {} by us (tx {signature})",
                node.owner, node.endpoint
            ),
        }
    }

    fn approve(&mut self, _quote: &Quote) -> bool {
        if self.yes {
            return true;
        }
        print!("lock this price in escrow and start? [y/N] ");
        let _ = std::io::stdout().flush();
        let mut line = String::new();
        if std::io::stdin().lock().read_line(&mut line).is_err() {
            return false;
        }
        matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
    }
}

fn completed(c: &Completion) {
    println!(
        "settled          test accuracy {:.2}%, paid on chain (tx {})",
        c.test_accuracy * 100.0,
        c.payment_signature
    );
}
