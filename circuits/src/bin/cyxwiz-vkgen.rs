//! Writes the verifying keys (one per capacity) as Rust source in groth16-solana's
//! `Groth16Verifyingkey` layout, for the on-chain program to embed.
//!
//! ```text
//! cyxwiz-vkgen <PATH>                 # insecure development keys (deterministic setup)
//! cyxwiz-vkgen --check <PATH>         # fail if PATH differs from what would be written
//! cyxwiz-vkgen --from-dir DIR <PATH>  # ceremony keys: DIR/vk-<capacity>.bin from `cyxwiz-ceremony export`
//! ```
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use cyxwiz_circuits::solana::{SetupKind, verifying_keys_rust_source};
use cyxwiz_circuits::{CAPACITIES, CircuitError, SolanaVerifyingKey};

#[derive(Parser)]
#[command(about = "Generate the proof-of-compute verifying keys as Rust source")]
struct Args {
    /// Compare with the file instead of writing it; exit 1 if it differs.
    #[arg(long)]
    check: bool,
    /// Read ceremony verifying keys (`vk-<capacity>.bin`) from this directory instead of
    /// deriving the insecure development keys.
    #[arg(long)]
    from_dir: Option<PathBuf>,
    /// The Rust file to write (or check).
    path: PathBuf,
}

fn source(from_dir: Option<&PathBuf>) -> Result<String, CircuitError> {
    let mut keys = Vec::new();
    for c in CAPACITIES {
        let vk = match from_dir {
            None => cyxwiz_circuits::setup::insecure_dev_verifying_key(c)?,
            Some(dir) => cyxwiz_circuits::ceremony::read_verifying_key(dir, c)?,
        };
        keys.push(SolanaVerifyingKey::new(&vk));
    }
    let (kind, generator) = match from_dir {
        None => (SetupKind::InsecureDev, "cyxwiz-vkgen"),
        Some(_) => (SetupKind::Ceremony, "cyxwiz-vkgen --from-dir"),
    };
    verifying_keys_rust_source(&keys, kind, generator)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let src = match source(args.from_dir.as_ref()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if args.check {
        match std::fs::read_to_string(&args.path) {
            Ok(on_disk) if on_disk == src => {
                println!("{} is up to date", args.path.display());
                ExitCode::SUCCESS
            }
            Ok(_) => {
                eprintln!(
                    "{} differs from the verifying keys the circuit generates now; regenerate with \
                     `cargo run -p cyxwiz-circuits --bin cyxwiz-vkgen -- {}`",
                    args.path.display(),
                    args.path.display()
                );
                ExitCode::FAILURE
            }
            Err(e) => {
                eprintln!("{}: {e}", args.path.display());
                ExitCode::FAILURE
            }
        }
    } else {
        match std::fs::write(&args.path, src) {
            Ok(()) => {
                println!("wrote {}", args.path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("{}: {e}", args.path.display());
                ExitCode::from(2)
            }
        }
    }
}
