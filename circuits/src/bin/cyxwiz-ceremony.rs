//! Multi-party Groth16 phase-2 ceremony for the proof-of-compute circuit.
//!
//! ```text
//! cyxwiz-ceremony init --capacity 1024 --out t.bin
//! cyxwiz-ceremony contribute --transcript t.bin --label "alice" [--entropy "typed noise"]
//! cyxwiz-ceremony verify --transcript t.bin
//! cyxwiz-ceremony export --transcript t.bin --out-dir keys/
//! ```
//!
//! `contribute` verifies the transcript first, then rewrites it in place with the new
//! contribution and prints the contribution hash to publish. See docs/proof-of-compute.md.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cyxwiz_circuits::CircuitError;
use cyxwiz_circuits::ceremony::{Transcript, contribution_rng, export};

#[derive(Parser)]
#[command(about = "Groth16 phase-2 ceremony for the CyxWiz proof-of-compute circuit")]
struct Args {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Fresh initial parameters for one capacity (the initialiser must be trusted to
    /// forget its randomness: phase 1 is not part of this ceremony).
    Init {
        #[arg(long)]
        capacity: usize,
        #[arg(long)]
        out: PathBuf,
    },
    /// Verify the transcript, add a contribution, write it back.
    Contribute {
        #[arg(long)]
        transcript: PathBuf,
        #[arg(long, default_value = "")]
        label: String,
        /// Extra entropy mixed with the OS generator (e.g. typed at random).
        #[arg(long, default_value = "")]
        entropy: String,
    },
    /// Verify the whole transcript with pairing checks; print the hash chain.
    Verify {
        #[arg(long)]
        transcript: PathBuf,
    },
    /// Verify, then write pk-<capacity>.bin and vk-<capacity>.bin to a directory.
    Export {
        #[arg(long)]
        transcript: PathBuf,
        #[arg(long)]
        out_dir: PathBuf,
    },
}

fn run(cmd: Cmd) -> Result<(), CircuitError> {
    match cmd {
        Cmd::Init { capacity, out } => {
            let t = Transcript::init(capacity, &mut contribution_rng(b"init"))?;
            t.save(&out)?;
            println!("initial parameters hash {}", hex::encode(t.initial_hash()));
        }
        Cmd::Contribute {
            transcript,
            label,
            entropy,
        } => {
            let mut t = Transcript::load(&transcript)?;
            t.verify(&mut rand::rngs::OsRng)?;
            let h = t.contribute(&label, &mut contribution_rng(entropy.as_bytes()))?;
            t.save(&transcript)?;
            println!(
                "contribution {} added; publish its hash {}",
                t.contributions.len(),
                hex::encode(h)
            );
        }
        Cmd::Verify { transcript } => {
            let t = Transcript::load(&transcript)?;
            let hashes = t.verify(&mut rand::rngs::OsRng)?;
            println!("transcript valid: capacity {}", t.capacity);
            println!("initial parameters {}", hex::encode(hashes[0]));
            for (i, (c, h)) in t.contributions.iter().zip(&hashes[1..]).enumerate() {
                println!("contribution {} {:?}: {}", i + 1, c.label, hex::encode(h));
            }
        }
        Cmd::Export {
            transcript,
            out_dir,
        } => {
            let t = Transcript::load(&transcript)?;
            let h = export(&t, &out_dir)?;
            println!(
                "exported capacity {} keys to {} (transcript {})",
                t.capacity,
                out_dir.display(),
                hex::encode(h)
            );
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    match run(Args::parse().cmd) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
