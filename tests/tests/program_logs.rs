//! What the natively run programs log lands in the transaction's logs, line for line as a
//! validator records it (`Program log: …`), and never on the process's stdout: `msg!`,
//! Anchor's `Instruction: X`, its `AnchorError …` lines and the compared addresses of a
//! failed constraint, in order with the runtime's own lines and a CPI's.

use std::process::Command;

use cyxwiz_program_tests::escrow::*;
use job_escrow::{
    EscrowError, events::EscrowCreated, instruction as eix, verifier::insecure_test_proof,
};
use solana_keypair::Keypair;
use solana_signer::Signer;

const CYX: u64 = cyxwiz_common::units::ONE_CYXWIZ;

/// Set when this test binary re-runs itself to watch its own stdout.
const PROBE_ENV: &str = "CYXWIZ_PROGRAM_LOGS_PROBE";

/// The exact logs of `set_paused` signed by `impostor` instead of the admin.
fn not_admin_logs(impostor: &Keypair, admin: &Keypair) -> Vec<String> {
    let id = job_escrow::ID;
    let code = u32::from(EscrowError::NotAdmin);
    vec![
        format!("Program {id} invoke [1]"),
        "Program log: Instruction: SetPaused".to_string(),
        format!(
            "Program log: AnchorError caused by account: admin. Error Code: NotAdmin. Error Number: {code}. Error Message: Signer is not the escrow admin."
        ),
        "Program log: Left:".to_string(),
        format!("Program log: {}", impostor.pubkey()),
        "Program log: Right:".to_string(),
        format!("Program log: {}", admin.pubkey()),
        format!("Program {id} failed: custom program error: {code:#x}"),
    ]
}

/// Runs the instructions whose logs the tests check; returns the failure's and the
/// CPI-making success's logs.
fn run_scenario() -> (EscrowEnv, Keypair, Vec<String>, Vec<String>) {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let impostor = f.wallet();
    let ix = escrow_ix(
        f.escrow_set_paused_accounts(&impostor.pubkey()),
        eix::SetPaused { paused: true },
    );
    let failed = f.send(ix, &[&impostor]).unwrap_err();
    assert_eq!(failed.custom_code(), Some(u32::from(EscrowError::NotAdmin)));
    let failed_logs = failed.logs().to_vec();

    let user = f.user(1_000 * CYX);
    let job = f.next_job();
    let ix = f.create_escrow_ix(&user, &job, 100 * CYX, 4, 0);
    let ok = f.send(ix, &[&user.wallet]).expect("create escrow");
    assert_eq!(ok.event::<EscrowCreated>().amount, 100 * CYX);
    (f, impostor, failed_logs, ok.logs)
}

#[test]
fn a_failed_constraint_logs_anchors_error_lines_exactly_as_a_validator() {
    let (f, impostor, failed, _) = run_scenario();
    assert_eq!(failed, not_admin_logs(&impostor, &f.escrow_admin));
}

#[test]
fn a_cpi_making_instruction_logs_its_lines_in_order_with_the_token_programs() {
    let (_, _, _, logs) = run_scenario();
    let at = |line: &str| {
        logs.iter()
            .position(|l| l == line)
            .unwrap_or_else(|| panic!("no {line:?} in\n{}", logs.join("\n")))
    };
    let id = job_escrow::ID;
    let invoke = at(&format!("Program {id} invoke [1]"));
    let ix_name = at("Program log: Instruction: CreateEscrow");
    let cpi = logs
        .iter()
        .position(|l| l.ends_with(" invoke [2]"))
        .expect("a token CPI");
    let event = logs
        .iter()
        .position(|l| l.starts_with("Program data: "))
        .expect("the event");
    let success = at(&format!("Program {id} success"));
    // The program's own line comes before its CPI (whose own logs are the token
    // program's, from its SBF build), and its event after; all inside its invocation.
    assert!(
        invoke < ix_name && ix_name < cpi && cpi < event && event < success,
        "{}",
        logs.join("\n")
    );
    assert_eq!(invoke, 0);
    assert_eq!(success, logs.len() - 1);
}

/// The body of [`program_logs_never_reach_stdout`]'s child: a no-op unless that test
/// started this binary to watch its stdout.
#[test]
fn stdout_probe() {
    if std::env::var_os(PROBE_ENV).is_none() {
        return;
    }
    let (f, impostor, failed, ok) = run_scenario();
    assert_eq!(failed, not_admin_logs(&impostor, &f.escrow_admin));
    assert!(ok.contains(&"Program log: Instruction: CreateEscrow".to_string()));
    // For the parent: what must not have been printed.
    eprintln!("PROBE-IMPOSTOR {}", impostor.pubkey());
}

#[test]
fn program_logs_never_reach_stdout() {
    // libtest captures a test thread's prints, so watch a child run with --nocapture:
    // its stdout is exactly what the process printed.
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "stdout_probe", "--nocapture", "--test-threads=1"])
        .env(PROBE_ENV, "1")
        .output()
        .expect("re-run this test binary");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "probe failed:\n{stdout}\n{stderr}");
    let impostor = stderr
        .lines()
        .find_map(|l| l.strip_prefix("PROBE-IMPOSTOR "))
        .unwrap_or_else(|| panic!("the probe did not run:\n{stdout}\n{stderr}"));
    assert!(stdout.contains("1 passed"), "{stdout}");
    for leak in [
        "Instruction:",
        "AnchorError",
        "Left:",
        "Right:",
        impostor,
        "Program log",
    ] {
        assert!(!stdout.contains(leak), "{leak:?} was printed:\n{stdout}");
    }
}
