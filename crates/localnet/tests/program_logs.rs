//! The localnet as an ordinary Solana client sees it: a failed instruction comes back
//! with the program's own error lines (so any client names the error), simulateTransaction
//! and getTransaction carry the same logs, the IDLs are where Anchor clients fetch them,
//! the binary prints no program output, and a signal stops it even during start-up.

use std::{
    io::{BufRead, BufReader, Read},
    path::Path,
    process::{Child, Command, Stdio},
    sync::mpsc,
    time::{Duration, Instant},
};

use cyxwiz_chain::{ChainError, Pubkey, client::ChainClient, ids, ix, keys};
use cyxwiz_localnet::{Localnet, LocalnetConfig};
use solana_commitment_config::CommitmentConfig;
use solana_keypair::Keypair;
use solana_rpc_client::nonblocking::rpc_client::RpcClient;
use solana_rpc_client_api::{
    client_error::ErrorKind,
    config::{RpcSendTransactionConfig, RpcTransactionConfig},
    request::{RpcError, RpcResponseErrorData},
};
use solana_signer::Signer;
use solana_transaction::Transaction;
use solana_transaction_status_client_types::{
    UiTransactionEncoding, option_serializer::OptionSerializer,
};

const SOL: u64 = 1_000_000_000;
/// `EscrowError::NotAdmin`, JobEscrow's first error: 7000 = 0x1b58.
const NOT_ADMIN: u32 = 7000;

/// The logs a validator records for `set_paused` signed by `signer`, not the admin.
fn not_admin_logs(signer: &Pubkey, admin: &Pubkey) -> Vec<String> {
    let id = ids::JOB_ESCROW;
    vec![
        format!("Program {id} invoke [1]"),
        "Program log: Instruction: SetPaused".to_string(),
        format!(
            "Program log: AnchorError caused by account: admin. Error Code: NotAdmin. Error Number: {NOT_ADMIN}. Error Message: Signer is not the escrow admin."
        ),
        "Program log: Left:".to_string(),
        format!("Program log: {signer}"),
        "Program log: Right:".to_string(),
        format!("Program log: {admin}"),
        format!("Program {id} failed: custom program error: {NOT_ADMIN:#x}"),
    ]
}

async fn signed(rpc: &RpcClient, signer: &Keypair, paused: bool) -> Transaction {
    let blockhash = rpc.get_latest_blockhash().await.expect("blockhash");
    Transaction::new_signed_with_payer(
        &[ix::escrow::set_paused(&signer.pubkey(), paused)],
        Some(&signer.pubkey()),
        &[signer],
        blockhash,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_instruction_reaches_clients_with_the_programs_error_lines() {
    assert_eq!(NOT_ADMIN, u32::from(job_escrow::EscrowError::NotAdmin));
    let net = Localnet::start(LocalnetConfig {
        slot_time_ms: 20,
        ..LocalnetConfig::default()
    })
    .await
    .expect("localnet starts");
    let (impostor, _) = net.fund_wallet(SOL, 0).await.expect("fund");
    let admin = net.keys().admin.pubkey();
    let expected = not_admin_logs(&impostor.pubkey(), &admin);
    let client = net.client(impostor.insecure_clone());
    let rpc = client.rpc();

    // simulateTransaction: the program's lines, and the error.
    let tx = signed(rpc, &impostor, true).await;
    let sim = rpc.simulate_transaction(&tx).await.expect("simulate").value;
    assert_eq!(sim.logs.as_ref(), Some(&expected));
    assert_eq!(
        sim.err.map(|e| e.to_string()).as_deref(),
        Some(
            format!("Error processing Instruction 0: custom program error: {NOT_ADMIN:#x}")
                .as_str()
        )
    );

    // sendTransaction: the preflight failure a client gets carries the same logs, so it
    // names the error ("Error Code: NotAdmin. Error Number: 7000").
    let err = rpc.send_transaction(&tx).await.unwrap_err();
    match err.kind() {
        ErrorKind::RpcError(RpcError::RpcResponseError {
            data: RpcResponseErrorData::SendTransactionPreflightFailure(result),
            message,
            ..
        }) => {
            assert_eq!(result.logs.as_ref(), Some(&expected), "{message}");
            assert!(
                message.contains(&format!("custom program error: {NOT_ADMIN:#x}")),
                "{message}"
            );
        }
        other => panic!("expected a preflight failure, got {other:?}"),
    }

    // The SDK's typed error names it, and the name is in the logs it kept.
    let err = client
        .send(&[ix::escrow::set_paused(&impostor.pubkey(), true)], &[])
        .await
        .unwrap_err();
    match &err {
        ChainError::Program {
            name, code, logs, ..
        } => {
            assert_eq!((name.as_str(), *code), ("NotAdmin", NOT_ADMIN));
            assert_eq!(logs, &expected);
        }
        other => panic!("expected a program error, got {other:?}"),
    }

    // getTransaction of a failed transaction that landed (no preflight).
    let tx = signed(rpc, &impostor, false).await;
    let signature = rpc
        .send_transaction_with_config(
            &tx,
            RpcSendTransactionConfig {
                skip_preflight: true,
                ..RpcSendTransactionConfig::default()
            },
        )
        .await
        .expect("sent without preflight");
    let deadline = Instant::now() + Duration::from_secs(20);
    let landed = loop {
        match rpc
            .get_transaction_with_config(
                &signature,
                RpcTransactionConfig {
                    encoding: Some(UiTransactionEncoding::Json),
                    commitment: Some(CommitmentConfig::confirmed()),
                    max_supported_transaction_version: Some(0),
                },
            )
            .await
        {
            Ok(tx) => break tx,
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("the failed transaction never landed: {e}"),
        }
    };
    let meta = landed.transaction.meta.expect("meta");
    assert!(meta.err.is_some());
    assert_eq!(meta.log_messages, OptionSerializer::Some(expected));

    // A success logs the instruction's name between the runtime's lines, nothing else.
    let admin_client = net.client(net.keys().admin.insecure_clone());
    let sent = admin_client
        .send(&[ix::escrow::set_paused(&admin, true)], &[])
        .await
        .expect("the admin pauses");
    let id = ids::JOB_ESCROW;
    assert_eq!(
        sent.logs,
        vec![
            format!("Program {id} invoke [1]"),
            "Program log: Instruction: SetPaused".to_string(),
            format!("Program {id} success"),
        ]
    );
}

/// Reads a Program Metadata account the way `@anchor-lang/core` 1.2's `decodeIdlAccount`
/// does (written out here rather than calling `cyxwiz_deploy::idl`, which wrote it).
fn decode_like_anchor_ts(data: &[u8]) -> String {
    assert_eq!(data[0], 2, "metadata discriminator");
    assert_eq!(&data[67..70], b"idl");
    assert_eq!((data[83], data[84], data[85], data[86]), (1, 2, 1, 0));
    let len = u32::from_le_bytes(data[87..91].try_into().unwrap()) as usize;
    let mut json = String::new();
    flate2::read::ZlibDecoder::new(&data[96..96 + len])
        .read_to_string(&mut json)
        .expect("zlib");
    json
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_idls_are_where_anchor_clients_fetch_them() {
    let net = Localnet::start(LocalnetConfig::default())
        .await
        .expect("localnet starts");
    let client = net.client(Keypair::new());
    let metadata_program = Pubkey::from_str_const("ProgM6JCCvbYkfKqJYHePx4xxSUSqJp7rh8Lyv7nk7S");
    let idl_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/idl");
    for (name, program) in [
        ("node_registry", ids::NODE_REGISTRY),
        ("job_escrow", ids::JOB_ESCROW),
        ("reputation_manager", ids::REPUTATION),
        ("dispute_dao", ids::DISPUTE_DAO),
    ] {
        let committed = std::fs::read_to_string(idl_dir.join(format!("{name}.json"))).unwrap();
        // Anchor 1.x: `idlAddress(programId)` in `@anchor-lang/core`.
        let at = Pubkey::find_program_address(
            &[program.as_ref(), &[], b"idl\0\0\0\0\0\0\0\0\0\0\0\0\0"],
            &metadata_program,
        )
        .0;
        let account = client.raw_account(&at).await.unwrap().expect("IDL account");
        assert_eq!(account.owner, metadata_program);
        assert_eq!(&account.data[1..33], program.as_ref());
        assert_eq!(decode_like_anchor_ts(&account.data), committed, "{name}");

        // Anchor 0.2x/0.3x: the legacy IdlAccount.
        let base = Pubkey::find_program_address(&[], &program).0;
        let legacy = Pubkey::create_with_seed(&base, "anchor:idl", &program).unwrap();
        let account = client
            .raw_account(&legacy)
            .await
            .unwrap()
            .expect("legacy IDL");
        assert_eq!(account.owner, program);
        assert_eq!(&account.data[..8], &[24, 70, 98, 191, 58, 144, 123, 158]);
        let len = u32::from_le_bytes(account.data[40..44].try_into().unwrap()) as usize;
        let mut json = String::new();
        flate2::read::ZlibDecoder::new(&account.data[44..44 + len])
            .read_to_string(&mut json)
            .unwrap();
        assert_eq!(json, committed, "{name} (legacy)");
    }
}

/// A `cyxwiz-localnet` process with its output read line by line.
struct Binary {
    child: Child,
    stdout: mpsc::Receiver<String>,
    stderr: mpsc::Receiver<String>,
    state_dir: std::path::PathBuf,
}

impl Binary {
    fn spawn(tag: &str) -> Binary {
        let state_dir =
            std::env::temp_dir().join(format!("cyxwiz-localnet-{tag}-{}", std::process::id()));
        let mut child = Command::new(env!("CARGO_BIN_EXE_cyxwiz-localnet"))
            .args(["--rpc-port", "0", "--ws-port", "0", "--slot-time-ms", "50"])
            .arg("--state-dir")
            .arg(&state_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn cyxwiz-localnet");
        let lines = |pipe: Box<dyn Read + Send>| {
            // Bounded: a test that stops reading only stalls this reader thread.
            let (tx, rx) = mpsc::sync_channel(4096);
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            });
            rx
        };
        let stdout = lines(Box::new(child.stdout.take().unwrap()));
        let stderr = lines(Box::new(child.stderr.take().unwrap()));
        Binary {
            child,
            stdout,
            stderr,
            state_dir,
        }
    }

    /// Lines of `from` until one satisfies `until` (included), within `timeout`.
    fn read_until(
        from: &mpsc::Receiver<String>,
        timeout: Duration,
        until: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match from.recv_timeout(left) {
                Ok(line) => {
                    let done = until(&line);
                    seen.push(line);
                    if done {
                        return seen;
                    }
                }
                Err(_) => panic!("not seen within {timeout:?}; got:\n{}", seen.join("\n")),
            }
        }
    }

    fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit; returns its exit code.
    fn wait(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.code();
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                panic!("cyxwiz-localnet still running {timeout:?} after the signal");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn rest(from: &mpsc::Receiver<String>) -> Vec<String> {
        // The reader threads end with the process; give them a moment to drain.
        let mut rest = Vec::new();
        while let Ok(line) = from.recv_timeout(Duration::from_secs(2)) {
            rest.push(line);
        }
        rest
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.state_dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_prints_no_program_output_and_stops_on_sigterm() {
    let mut bin = Binary::spawn("quiet");
    let banner = Binary::read_until(&bin.stdout, Duration::from_secs(120), |l| {
        l == "Ctrl-C to stop."
    });
    let url = banner
        .iter()
        .find_map(|l| l.trim().strip_prefix("RPC URL"))
        .map(|u| u.trim().to_string())
        .expect("the RPC URL is printed");
    let faucet = keys::read_keypair(bin.state_dir.join("faucet.json")).unwrap();
    let admin = keys::read_keypair(bin.state_dir.join("admin.json")).unwrap();
    let rpc =
        ChainClient::new(&url, faucet.insecure_clone(), CommitmentConfig::confirmed()).unwrap();

    // A failure (the faucet is not the admin) and a success, both logging.
    let err = rpc
        .send(&[ix::escrow::set_paused(&faucet.pubkey(), true)], &[])
        .await
        .unwrap_err();
    assert_eq!(err.program_error_name(), Some("NotAdmin"), "{err}");
    ChainClient::new(&url, admin.insecure_clone(), CommitmentConfig::confirmed())
        .unwrap()
        .send(&[ix::escrow::set_paused(&admin.pubkey(), true)], &[])
        .await
        .expect("the admin pauses");

    bin.signal("TERM");
    assert_eq!(bin.wait(Duration::from_secs(30)), Some(0));
    let mut stdout = banner;
    stdout.extend(Binary::rest(&bin.stdout));
    assert_eq!(stdout.last().map(String::as_str), Some("SIGTERM: stopping"));
    let printed = stdout.join("\n");
    for leak in ["Instruction:", "AnchorError", "Left:", "Program log"] {
        assert!(!printed.contains(leak), "{leak:?} on stdout:\n{printed}");
    }
}

#[test]
fn a_signal_during_start_up_stops_it() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let mut bin = Binary::spawn(&format!("early-{signal}"));
        // Printed once the signal handlers are in place, before the chain starts.
        Binary::read_until(&bin.stderr, Duration::from_secs(60), |l| {
            l.starts_with("starting the localnet")
        });
        bin.signal(signal);
        assert_eq!(bin.wait(Duration::from_secs(30)), Some(code), "SIG{signal}");
        let stdout = Binary::rest(&bin.stdout);
        assert!(
            !stdout.iter().any(|l| l == "CyxWiz localnet running"),
            "SIG{signal} came too late to test start-up: {stdout:?}"
        );
        let stderr = Binary::rest(&bin.stderr);
        assert!(
            stderr
                .iter()
                .any(|l| l == &format!("SIG{signal} during start-up: stopped")),
            "{stderr:?}"
        );
    }
}
