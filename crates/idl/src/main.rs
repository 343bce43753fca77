//! `cyxwiz-idl`: writes (or checks) the committed IDLs in `deploy/idl/`.
//!
//! `anchor idl build` is a thin wrapper over `anchor_lang_idl::build::IdlBuilder`, which
//! compiles a program's test harness with the `idl-build` feature, runs its
//! `__anchor_private_print_idl` test and assembles the printed pieces. This tool calls the
//! same builder with the settings our `Anchor.toml` gives anchor-cli (`resolution = true`,
//! `skip-lint = false`) and writes the IDL as anchor-cli does (pretty JSON, no trailing
//! newline), so CI needs neither a 15-minute `cargo install anchor-cli` nor the SBF
//! toolchain.
//!
//! The builder sets `RUSTFLAGS=-A warnings`, which would invalidate every artifact the
//! normal build keeps in the shared target dir; the IDL builds therefore use the target
//! dir this tool runs with (`scripts/idl.sh` gives it `<target>/idl`), built once and
//! reused.
//!
//! Usage: `cyxwiz-idl [--check]` from anywhere inside the workspace.

use std::{
    path::{Path, PathBuf},
    process::ExitCode,
};

use anchor_lang_idl::build::IdlBuilder;
use anyhow::{Context, Result, bail};

/// The programs whose IDLs are committed, by folder under `programs/`.
const PROGRAMS: [&str; 4] = [
    "node-registry",
    "job-escrow",
    "reputation-manager",
    "dispute-dao",
];

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("cyxwiz-idl: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn run() -> Result<bool> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [a] if a == "--check" => true,
        _ => bail!("usage: cyxwiz-idl [--check]"),
    };
    // anchor-lang-idl 0.1.4 turns a set RUSTUP_TOOLCHAIN (rustup's proxies set it for
    // the processes they start) into the literal argument `cargo +{toolchain}`, which
    // fails. The toolchain that runs us is the one to use, so it is dropped.
    // SAFETY: nothing else runs yet: this is the main thread before any other is started.
    unsafe { std::env::remove_var("RUSTUP_TOOLCHAIN") };
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let root = root.canonicalize().context("workspace root")?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/idl"));
    let out_dir = root.join("deploy/idl");
    let mut clean = true;
    for program in PROGRAMS {
        let name = program.replace('-', "_");
        let idl = IdlBuilder::new()
            .program_path(root.join("programs").join(program))
            .resolution(true)
            .skip_lint(false)
            .cargo_args(vec![
                "--target-dir".into(),
                target.display().to_string(),
                "--locked".into(),
            ])
            .build()
            .with_context(|| format!("building the IDL of {program}"))?;
        let json = serde_json::to_string_pretty(&idl)?;
        let path = out_dir.join(format!("{name}.json"));
        if check {
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            if committed != json {
                eprintln!(
                    "IDL drift: {} is out of date; run scripts/idl.sh and commit",
                    path.display()
                );
                print_first_difference(&committed, &json);
                clean = false;
            }
        } else {
            std::fs::create_dir_all(&out_dir)?;
            std::fs::write(&path, json)?;
            println!("wrote {}", path.display());
        }
    }
    Ok(clean)
}

fn print_first_difference(committed: &str, generated: &str) {
    let line = committed
        .lines()
        .zip(generated.lines())
        .position(|(a, b)| a != b)
        .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()));
    eprintln!("  first difference at line {}:", line + 1);
    for (label, text) in [("committed", committed), ("generated", generated)] {
        for l in text.lines().skip(line.saturating_sub(2)).take(5) {
            eprintln!("  {label}: {l}");
        }
    }
}
