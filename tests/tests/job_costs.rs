//! What one job costs on chain: transactions on the happy path, rent paid and reclaimed,
//! and the size of every account. Printed as the table in docs/BENCHMARKS.md
//! (`cargo test -p cyxwiz-program-tests --test job_costs -- --nocapture`) and asserted, so
//! the figures cannot silently drift.

use anchor_lang::{Space, prelude::Rent};
use cyxwiz_common::units::ONE_CYXWIZ as CYX;
use cyxwiz_program_tests::escrow::*;
use job_escrow::verifier::insecure_test_proof;
use solana_signer::Signer;

const EPOCHS: u32 = 100;
/// The node-agent's default: anchor progress on chain every 50 epochs.
const ANCHOR_EVERY: u32 = 50;

#[test]
fn account_sizes_and_rent() {
    let rent = Rent::default();
    let rows: [(&str, usize); 13] = [
        (
            "NodeRegistry RegistryConfig",
            8 + node_registry::RegistryConfig::INIT_SPACE,
        ),
        (
            "NodeRegistry NodeAccount",
            8 + node_registry::NodeAccount::INIT_SPACE,
        ),
        (
            "JobEscrow EscrowConfig",
            8 + job_escrow::EscrowConfig::INIT_SPACE,
        ),
        ("JobEscrow Escrow", 8 + job_escrow::Escrow::INIT_SPACE),
        ("JobEscrow escrow vault (token account)", 165),
        (
            "ReputationManager ReputationConfig",
            8 + reputation_manager::ReputationConfig::INIT_SPACE,
        ),
        (
            "ReputationManager NodeReputation",
            8 + reputation_manager::NodeReputation::INIT_SPACE,
        ),
        (
            "ReputationManager UserReputation",
            8 + reputation_manager::UserReputation::INIT_SPACE,
        ),
        (
            "Dispute/DAO DaoConfig",
            8 + dispute_dao::DaoConfig::INIT_SPACE,
        ),
        ("Dispute/DAO Dispute", 8 + dispute_dao::Dispute::INIT_SPACE),
        ("Dispute/DAO Voter", 8 + dispute_dao::Voter::INIT_SPACE),
        (
            "Dispute/DAO VoteRecord",
            8 + dispute_dao::VoteRecord::INIT_SPACE,
        ),
        (
            "Dispute/DAO Proposal",
            8 + dispute_dao::Proposal::INIT_SPACE,
        ),
    ];
    println!("| account | bytes | rent-exempt SOL |");
    println!("|---|---|---|");
    for (name, bytes) in rows {
        // Every account must fit a single CPI-created allocation (10 KiB).
        assert!(bytes <= 10 * 1024, "{name}: {bytes} bytes");
        println!(
            "| {name} | {bytes} | {:.6} |",
            rent.minimum_balance(bytes) as f64 / 1e9
        );
    }
}

#[test]
fn a_happy_path_job_costs_few_transactions_and_its_rent_comes_back() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let user = f.user(1_000 * CYX);
    let node = f.node(5_000 * CYX);
    let mut transactions = 0u32;

    let lamports_before = f.env.chain.lamports(&user.key());
    let (job, _) = f
        .create_escrow(&user, 100 * CYX, EPOCHS, 0)
        .expect("create escrow");
    transactions += 1;
    let rent_paid = lamports_before - f.env.chain.lamports(&user.key());
    let escrow_rent = f.env.chain.lamports(&job.escrow);
    let vault_rent = f.env.chain.lamports(&job.vault);
    assert_eq!(
        rent_paid,
        escrow_rent + vault_rent,
        "the user pays both accounts' rent"
    );

    f.assign(&job, &node.key()).expect("assign");
    f.accept(&job, &node).expect("accept");
    transactions += 2;
    for epoch in (ANCHOR_EVERY..=EPOCHS).step_by(ANCHOR_EVERY as usize) {
        f.checkpoint(&job, &node, epoch).expect("anchor");
        transactions += 1;
    }
    f.complete(&job, &node, EPOCHS).expect("complete");
    f.rate(&job, &user, 5).expect("rate");
    transactions += 2;

    let grace = job_escrow::constants::default_params().close_grace_secs;
    f.env.chain.warp(grace + 1);
    let before_close = f.env.chain.lamports(&user.key());
    let closer = f.env.wallet();
    // The challenge window (as long as the grace period by default) has passed too.
    f.release(&job, &closer).expect("release stake");
    let closer_before = f.env.chain.lamports(&closer.pubkey());
    f.close(&job, &closer).expect("close");
    transactions += 2;
    let reclaimed = f.env.chain.lamports(&user.key()) - before_close;
    assert_eq!(reclaimed, rent_paid, "closing returns all rent to the user");
    assert!(f.try_escrow(&job).is_none());
    assert_eq!(f.env.chain.lamports(&job.vault), 0);
    assert_eq!(
        f.env.chain.lamports(&closer.pubkey()),
        closer_before,
        "the closer gets none of the user's rent"
    );

    // create, assign, accept, one anchor per 50 epochs, complete, rate, release, close.
    assert_eq!(transactions, 7 + EPOCHS / ANCHOR_EVERY);
    println!("| step | signer | transactions |");
    println!("|---|---|---|");
    println!("| create_escrow | user | 1 |");
    println!("| assign_node | coordinator | 1 |");
    println!("| accept_job | node | 1 |");
    println!(
        "| anchor_checkpoint (every {ANCHOR_EVERY} epochs, {EPOCHS} epochs) | node | {} |",
        EPOCHS / ANCHOR_EVERY
    );
    println!("| complete_payment | node | 1 |");
    println!("| rate_node (optional) | user | 1 |");
    println!("| release_stake (after the challenge window) | anyone | 1 |");
    println!("| close_escrow (after the grace period) | anyone | 1 |");
    println!("| total | | {transactions} |");
    println!(
        "rent paid at create_escrow: {rent_paid} lamports ({:.6} SOL: escrow {escrow_rent}, vault {vault_rent}); reclaimed at close_escrow: {reclaimed}",
        rent_paid as f64 / 1e9
    );
}
