//! JobEscrow end to end on the native SVM: every instruction's happy path with every
//! balance it touches, and its failure paths with the exact error and nothing moved.

use anchor_lang::{error::ErrorCode as AnchorErrorCode, prelude::Pubkey};
use anchor_spl::token_2022::spl_token_2022::{error::TokenError, instruction as token_ix};
use cyxwiz_common::{
    ids,
    units::{DAY, ONE_CYXWIZ, TOTAL_SUPPLY},
};
use cyxwiz_deploy::{programs::TreasuryAccounts, token};
use cyxwiz_program_tests::{escrow::*, *};
use job_escrow::{
    DisputeResolution, EscrowError, EscrowState,
    constants::{MAX_EPOCHS, default_params as escrow_params},
    events::*,
    instruction as eix,
    verifier::{ProofStatement, insecure_test_proof},
};
use node_registry::{NodeStatus, RegistryError, SlashReason, events::NodeSlashed};
use solana_keypair::Keypair;

fn deploy_node_reputation(owner: &Pubkey) -> Pubkey {
    cyxwiz_deploy::programs::node_reputation(owner)
}
use solana_signer::Signer;

const CYX: u64 = ONE_CYXWIZ;
/// A "50–200 CYXWIZ" job: needs 1,000 staked, a failure slashes 20 %.
const AMOUNT: u64 = 100 * CYX;
const STAKE: u64 = 5_000 * CYX;
const USER_TOKENS: u64 = 10_000 * CYX;
const EPOCHS: u32 = 4;

fn setup() -> (EscrowEnv, User, Operator) {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    (f, user, node)
}

fn token_error(e: TokenError) -> u32 {
    e as u32
}

// ── initialize ───────────────────────────────────────────────────────────

#[test]
fn initialize_by_the_deployer_sets_the_config() {
    let mut f = EscrowEnv::uninitialized(kit::TOKEN_PROGRAM, insecure_test_proof);
    let ix = f.initialize_ix(escrow_params());
    let deployer = cyxwiz_deploy::keys::localnet_deployer();
    let ok = f.send(ix, &[&deployer]).expect("initialize");
    let c = f.escrow_config();
    assert_eq!(c.admin, f.escrow_admin.pubkey());
    assert_eq!(c.coordinator, f.coordinator.pubkey());
    assert_eq!(c.governance, ids::governance_authority());
    assert_eq!(c.dispute_authority, ids::dispute_authority());
    assert_eq!(c.mint, f.mint);
    assert_eq!(c.staking_treasury, f.treasury.staking);
    assert_eq!(c.development_treasury, f.treasury.development);
    assert_eq!(c.liquidity_treasury, f.treasury.liquidity);
    assert_eq!(c.params, escrow_params());
    assert!(!c.paused);
    let (authority, bump) =
        Pubkey::find_program_address(&[cyxwiz_common::seeds::ESCROW_AUTHORITY], &job_escrow::ID);
    assert_eq!(authority, ids::escrow_authority());
    assert_eq!(c.authority_bump, bump);
    assert_eq!(ok.event::<EscrowConfigUpdated>().params, escrow_params());

    // A second initialisation cannot overwrite it (the config account already exists).
    let ix = f.initialize_ix(escrow_params());
    let before = f.escrow_snapshot();
    let err = f.send(ix, &[&deployer]).unwrap_err();
    assert_eq!(
        err.custom_code(),
        Some(0),
        "system program: account already in use; {err}"
    );
    assert_eq!(f.escrow_snapshot(), before);
}

#[test]
fn initialize_rejects_other_signers_bad_params_and_wrong_accounts() {
    let mut f = EscrowEnv::uninitialized(kit::TOKEN_PROGRAM, insecure_test_proof);
    let deployer = cyxwiz_deploy::keys::localnet_deployer();
    let admin = f.escrow_admin.pubkey();
    let coordinator = f.coordinator.pubkey();
    let init = |accounts, admin, coordinator, params| {
        escrow_ix(
            accounts,
            eix::Initialize {
                admin,
                coordinator,
                params,
            },
        )
    };

    // Anyone but the deployer.
    let attacker = f.wallet();
    let ix = init(
        f.escrow_initialize_accounts(&attacker.pubkey()),
        admin,
        coordinator,
        escrow_params(),
    );
    f.fails(ix, &[&attacker], EscrowError::NotDeployer);

    // Bad parameters.
    let mut bad = escrow_params();
    bad.fee_split.burn_bps += 1;
    let ix = init(
        f.escrow_initialize_accounts(&ids::DEPLOYER),
        admin,
        coordinator,
        bad,
    );
    f.fails(ix, &[&deployer], EscrowError::InvalidParams);
    let mut bad = escrow_params();
    bad.min_timeout_secs = 0;
    let ix = init(
        f.escrow_initialize_accounts(&ids::DEPLOYER),
        admin,
        coordinator,
        bad,
    );
    f.fails(ix, &[&deployer], EscrowError::InvalidParams);
    let ix = init(
        f.escrow_initialize_accounts(&ids::DEPLOYER),
        Pubkey::default(),
        coordinator,
        escrow_params(),
    );
    f.fails(ix, &[&deployer], EscrowError::InvalidParams);
    let ix = init(
        f.escrow_initialize_accounts(&ids::DEPLOYER),
        admin,
        Pubkey::default(),
        escrow_params(),
    );
    f.fails(ix, &[&deployer], EscrowError::InvalidParams);

    // A treasury account of another mint.
    let owner = f.treasury_owner.pubkey();
    let (_, other) = f.other_mint_account(&owner, 0);
    let mut accounts = f.escrow_initialize_accounts(&ids::DEPLOYER);
    accounts.liquidity_treasury = other;
    let ix = init(accounts, admin, coordinator, escrow_params());
    f.fails(ix, &[&deployer], AnchorErrorCode::ConstraintTokenMint);

    // One account for all three treasuries: every fee payment would carry the same
    // writable account three times, which Anchor rejects, blocking completions and
    // cancellations; the program refuses such a configuration up front.
    let mut accounts = f.escrow_initialize_accounts(&ids::DEPLOYER);
    accounts.development_treasury = accounts.staking_treasury;
    let ix = init(accounts, admin, coordinator, escrow_params());
    f.fails(ix, &[&deployer], EscrowError::InvalidParams);

    assert!(f.chain.account(&escrow_config_pda()).is_none());
}

// ── admin: update_params, set_admin, set_coordinator, set_treasury, set_paused ──

#[test]
fn update_params_by_admin_or_governance_applies_to_later_settlements() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let admin = f.escrow_admin.insecure_clone();

    // Not admin or governance.
    let mut p = escrow_params();
    p.fee_bps = 500;
    p.diamond_fee_bps = 400;
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&user.key()),
        eix::UpdateParams { params: p },
    );
    f.fails(ix, &[&user.wallet], EscrowError::NotAdminOrGovernance);
    let coordinator = f.coordinator.insecure_clone();
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&coordinator.pubkey()),
        eix::UpdateParams { params: p },
    );
    f.fails(ix, &[&coordinator], EscrowError::NotAdminOrGovernance);

    // Invalid.
    let mut bad = p;
    bad.diamond_fee_bps = p.fee_bps + 1;
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&admin.pubkey()),
        eix::UpdateParams { params: bad },
    );
    f.fails(ix, &[&admin], EscrowError::InvalidParams);
    let mut bad = p;
    bad.max_timeout_secs = bad.default_timeout_secs - 1;
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&admin.pubkey()),
        eix::UpdateParams { params: bad },
    );
    f.fails(ix, &[&admin], EscrowError::InvalidParams);

    // Admin.
    let ok = f
        .escrow_update_params(&admin, p)
        .expect("admin updates params");
    assert_eq!(f.escrow_config().params, p);
    assert_eq!(ok.event::<EscrowConfigUpdated>().by, admin.pubkey());

    // Governance (the Dispute/DAO PDA, through a real CPI).
    let mut g = p;
    g.close_grace_secs = DAY;
    let inner = escrow_ix(
        f.escrow_update_config_accounts(&ids::governance_authority()),
        eix::UpdateParams { params: g },
    );
    let ok = f
        .send(via_dispute_dao(AS_GOVERNANCE, inner), &[])
        .expect("governance updates params");
    assert_eq!(f.escrow_config().params, g);
    assert_eq!(
        ok.event::<EscrowConfigUpdated>().by,
        ids::governance_authority()
    );
    // The dispute PDA is not governance.
    let inner = escrow_ix(
        f.escrow_update_config_accounts(&ids::dispute_authority()),
        eix::UpdateParams {
            params: escrow_params(),
        },
    );
    f.fails(
        via_dispute_dao(AS_DISPUTE_AUTHORITY, inner),
        &[],
        EscrowError::NotAdminOrGovernance,
    );

    // The job locked under a 10 % fee settles at the 5 % now configured.
    f.checkpoints(&job, &node, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    f.complete(&job, &node, EPOCHS).expect("complete");
    let fee = AMOUNT / 20;
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            vault: 0,
            node: b.node + AMOUNT - fee,
            staking: b.staking + fee * 4 / 10,
            development: b.development + fee * 3 / 10,
            liquidity: b.liquidity + fee * 2 / 10,
            supply: b.supply - fee / 10,
            ..b
        }
    );
}

#[test]
fn set_admin_rotates_the_admin() {
    let (mut f, user, _) = setup();
    let admin = f.escrow_admin.insecure_clone();
    let new_admin = f.wallet();

    let ix = escrow_ix(
        f.escrow_update_config_accounts(&user.key()),
        eix::SetAdmin {
            new_admin: user.key(),
        },
    );
    f.fails(ix, &[&user.wallet], EscrowError::NotAdminOrGovernance);
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&admin.pubkey()),
        eix::SetAdmin {
            new_admin: Pubkey::default(),
        },
    );
    f.fails(ix, &[&admin], EscrowError::InvalidParams);

    let ix = escrow_ix(
        f.escrow_update_config_accounts(&admin.pubkey()),
        eix::SetAdmin {
            new_admin: new_admin.pubkey(),
        },
    );
    f.send(ix, &[&admin]).expect("set admin");
    assert_eq!(f.escrow_config().admin, new_admin.pubkey());

    // The old admin lost its powers, the new one has them.
    let ix = escrow_ix(
        f.escrow_set_paused_accounts(&admin.pubkey()),
        eix::SetPaused { paused: true },
    );
    f.fails(ix, &[&admin], EscrowError::NotAdmin);
    let ix = escrow_ix(
        f.escrow_set_paused_accounts(&new_admin.pubkey()),
        eix::SetPaused { paused: true },
    );
    f.send(ix, &[&new_admin]).expect("new admin pauses");
    assert!(f.escrow_config().paused);

    // Governance may rotate the admin too.
    let inner = escrow_ix(
        f.escrow_update_config_accounts(&ids::governance_authority()),
        eix::SetAdmin {
            new_admin: admin.pubkey(),
        },
    );
    f.send(via_dispute_dao(AS_GOVERNANCE, inner), &[])
        .expect("governance sets admin");
    assert_eq!(f.escrow_config().admin, admin.pubkey());
}

#[test]
fn set_coordinator_moves_the_assignment_right() {
    let (mut f, user, node) = setup();
    let admin = f.escrow_admin.insecure_clone();
    let old = f.coordinator.insecure_clone();
    let new = f.wallet();

    let ix = escrow_ix(
        f.escrow_update_config_accounts(&old.pubkey()),
        eix::SetCoordinator {
            coordinator: old.pubkey(),
        },
    );
    f.fails(ix, &[&old], EscrowError::NotAdminOrGovernance);
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&admin.pubkey()),
        eix::SetCoordinator {
            coordinator: Pubkey::default(),
        },
    );
    f.fails(ix, &[&admin], EscrowError::InvalidParams);
    let ix = escrow_ix(
        f.escrow_update_config_accounts(&admin.pubkey()),
        eix::SetCoordinator {
            coordinator: new.pubkey(),
        },
    );
    f.send(ix, &[&admin]).expect("set coordinator");
    assert_eq!(f.escrow_config().coordinator, new.pubkey());

    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = escrow_ix(
        f.assign_node_accounts(&old.pubkey(), &job, &node.key()),
        eix::AssignNode {},
    );
    f.fails(ix, &[&old], EscrowError::NotCoordinator);
    let ix = escrow_ix(
        f.assign_node_accounts(&new.pubkey(), &job, &node.key()),
        eix::AssignNode {},
    );
    f.send(ix, &[&new]).expect("new coordinator assigns");
    assert_eq!(f.state(&job), EscrowState::Assigned);
}

#[test]
fn set_treasury_redirects_fees() {
    let (mut f, user, node) = setup();
    let admin = f.escrow_admin.insecure_clone();
    let old = f.treasury;
    let owner = Keypair::new();
    let new = TreasuryAccounts {
        staking: f.fund_tokens(&owner.pubkey(), 0),
        development: f.fund_tokens(&owner.pubkey(), 0),
        liquidity: f.fund_tokens(&owner.pubkey(), 0),
    };

    let ix = escrow_ix(
        f.set_treasury_accounts(&user.key(), new),
        eix::SetTreasury {},
    );
    f.fails(ix, &[&user.wallet], EscrowError::NotAdminOrGovernance);
    let (_, wrong_mint) = f.other_mint_account(&owner.pubkey(), 0);
    let ix = escrow_ix(
        f.set_treasury_accounts(
            &admin.pubkey(),
            TreasuryAccounts {
                staking: wrong_mint,
                ..new
            },
        ),
        eix::SetTreasury {},
    );
    f.fails(ix, &[&admin], AnchorErrorCode::ConstraintTokenMint);
    let dup = TreasuryAccounts {
        liquidity: new.staking,
        ..new
    };
    let ix = escrow_ix(
        f.set_treasury_accounts(&admin.pubkey(), dup),
        eix::SetTreasury {},
    );
    f.fails(ix, &[&admin], EscrowError::InvalidParams);

    f.set_treasury(&admin, new).expect("set treasury");
    let c = f.escrow_config();
    assert_eq!(
        (
            c.staking_treasury,
            c.development_treasury,
            c.liquidity_treasury
        ),
        (new.staking, new.development, new.liquidity)
    );

    // The old accounts are now the wrong treasury.
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let mut accounts = f.complete_payment_accounts(&node.key(), &job, &node.token);
    accounts.treasury.staking = old.staking;
    let root = root_for(&job, EPOCHS);
    let proof = f.proof(&job, root, EPOCHS);
    let data = || eix::CompletePayment {
        proof,
        final_weights_hash: weights_for(&job),
        merkle_root: root,
        epochs: EPOCHS,
    };
    f.fails(
        escrow_ix(accounts, data()),
        &[&node.wallet],
        EscrowError::WrongTreasury,
    );

    f.complete(&job, &node, EPOCHS).expect("complete");
    assert_eq!(f.balance(&new.staking), 4 * CYX);
    assert_eq!(f.balance(&new.development), 3 * CYX);
    assert_eq!(f.balance(&new.liquidity), 2 * CYX);
    assert_eq!(
        f.balance(&old.staking) + f.balance(&old.development) + f.balance(&old.liquidity),
        0
    );
}

#[test]
fn set_paused_is_admin_only() {
    let (mut f, user, _) = setup();
    let coordinator = f.coordinator.insecure_clone();
    let ix = escrow_ix(
        f.escrow_set_paused_accounts(&user.key()),
        eix::SetPaused { paused: true },
    );
    f.fails(ix, &[&user.wallet], EscrowError::NotAdmin);
    let ix = escrow_ix(
        f.escrow_set_paused_accounts(&coordinator.pubkey()),
        eix::SetPaused { paused: true },
    );
    f.fails(ix, &[&coordinator], EscrowError::NotAdmin);
    // Governance may change parameters but the emergency switch is the admin's alone.
    let inner = escrow_ix(
        f.escrow_set_paused_accounts(&ids::governance_authority()),
        eix::SetPaused { paused: true },
    );
    f.fails(
        via_dispute_dao(AS_GOVERNANCE, inner),
        &[],
        EscrowError::NotAdmin,
    );

    f.escrow_set_paused(true).expect("pause");
    assert!(f.escrow_config().paused);
    f.escrow_set_paused(false).expect("unpause");
    assert!(!f.escrow_config().paused);
}

// ── create_escrow ────────────────────────────────────────────────────────

#[test]
fn create_escrow_locks_the_payment() {
    let (mut f, user, node) = setup();
    let job = f.next_job();
    let b = f.balances(&job, &user.token, &node.token);
    let rent_before = f.chain.lamports(&user.key());
    let ix = f.create_escrow_ix(&user, &job, AMOUNT, EPOCHS, 0);
    let ok = f.send(ix, &[&user.wallet]).expect("create");
    f.track(job);
    let now = f.chain.now();
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            user: b.user - AMOUNT,
            vault: AMOUNT,
            ..b
        }
    );
    let rents = f.chain.lamports(&job.escrow) + f.chain.lamports(&job.vault);
    assert_eq!(
        f.chain.lamports(&user.key()),
        rent_before - rents,
        "the user pays both rents"
    );

    let e = f.escrow(&job);
    assert_eq!(e.job_id, job.id);
    assert_eq!(e.user, user.key());
    assert_eq!(e.mint, f.mint);
    assert_eq!(e.amount, AMOUNT);
    assert_eq!(e.epochs_required, EPOCHS);
    assert_eq!(e.node, Pubkey::default());
    assert_eq!(e.state, EscrowState::Locked);
    assert_eq!(e.created_at, now);
    assert_eq!(e.timeout_at, now + 7 * DAY);
    assert_eq!(
        (e.assigned_at, e.accepted_at, e.finished_at, e.epochs_done),
        (0, 0, 0, 0)
    );
    assert_eq!(
        ok.event::<EscrowCreated>(),
        EscrowCreated {
            job_id: job.id,
            escrow: job.escrow,
            user: user.key(),
            amount: AMOUNT,
            epochs_required: EPOCHS,
            timeout_at: now + 7 * DAY,
            estimated_secs: DEFAULT_ESTIMATE_SECS,
        }
    );
    assert_eq!(e.estimated_secs, DEFAULT_ESTIMATE_SECS);

    // Explicit timeouts at both ends of the range, and the most epochs allowed.
    let p = escrow_params();
    let (j, _) = f
        .create_escrow(&user, 1, MAX_EPOCHS, p.min_timeout_secs)
        .expect("min timeout");
    assert_eq!(f.escrow(&j).timeout_at, f.chain.now() + p.min_timeout_secs);
    assert_eq!(f.escrow(&j).epochs_required, MAX_EPOCHS);
    let (j, _) = f
        .create_escrow(&user, 1, 1, p.max_timeout_secs)
        .expect("max timeout");
    assert_eq!(f.escrow(&j).timeout_at, f.chain.now() + p.max_timeout_secs);
}

#[test]
fn create_escrow_rejects_invalid_parameters() {
    let (mut f, user, _) = setup();
    let p = escrow_params();
    let cases: [(u64, u32, i64, EscrowError); 7] = [
        (0, EPOCHS, 0, EscrowError::ZeroAmount),
        (AMOUNT, 0, 0, EscrowError::InvalidEpochs),
        (AMOUNT, MAX_EPOCHS + 1, 0, EscrowError::InvalidEpochs),
        (AMOUNT, u32::MAX, 0, EscrowError::InvalidEpochs),
        (
            AMOUNT,
            EPOCHS,
            p.min_timeout_secs - 1,
            EscrowError::InvalidTimeout,
        ),
        (
            AMOUNT,
            EPOCHS,
            p.max_timeout_secs + 1,
            EscrowError::InvalidTimeout,
        ),
        (AMOUNT, EPOCHS, -1, EscrowError::InvalidTimeout),
    ];
    for (amount, epochs, timeout, err) in cases {
        let job = f.next_job();
        f.track(job);
        let ix = f.create_escrow_ix(&user, &job, amount, epochs, timeout);
        f.fails(ix, &[&user.wallet], err);
        assert!(f.try_escrow(&job).is_none());
    }
    let job = f.next_job();
    let ix = f.create_escrow_ix(&user, &job, AMOUNT, EPOCHS, i64::MAX);
    f.fails(ix, &[&user.wallet], EscrowError::InvalidTimeout);

    // The training-time estimate: at least a second, at most the timeout (explicit or
    // the default one).
    let min = p.min_timeout_secs;
    let default = p.default_timeout_secs;
    for (timeout, estimate) in [
        (0, 0),
        (min, 0),
        (min, min as u32 + 1),
        (0, default as u32 + 1),
        (0, u32::MAX),
    ] {
        let job = f.next_job();
        f.track(job);
        let ix = f.create_escrow_ix_with(&user, &job, AMOUNT, EPOCHS, timeout, estimate);
        f.fails(ix, &[&user.wallet], EscrowError::InvalidEstimate);
        assert!(f.try_escrow(&job).is_none());
    }
    for (timeout, estimate) in [(min, 1), (min, min as u32), (0, default as u32)] {
        let (job, ok) = f
            .create_escrow_with(&user, AMOUNT, EPOCHS, timeout, estimate)
            .expect("estimate within the timeout");
        assert_eq!(f.escrow(&job).estimated_secs, estimate);
        assert_eq!(ok.event::<EscrowCreated>().estimated_secs, estimate);
    }
}

#[test]
fn create_escrow_beyond_the_balance_fails_in_the_token_program() {
    let (mut f, user, _) = setup();
    for amount in [USER_TOKENS + 1, u64::MAX] {
        let job = f.next_job();
        f.track(job);
        let ix = f.create_escrow_ix(&user, &job, amount, EPOCHS, 0);
        f.fails_with_code(
            ix,
            &[&user.wallet],
            token_error(TokenError::InsufficientFunds),
        );
        assert!(f.try_escrow(&job).is_none());
    }
    // Exactly the balance is fine.
    let (job, _) = f
        .create_escrow(&user, USER_TOKENS, EPOCHS, 0)
        .expect("whole balance");
    assert_eq!(f.balance(&user.token), 0);
    assert_eq!(f.balance(&job.vault), USER_TOKENS);
}

#[test]
fn create_escrow_rejects_substituted_accounts() {
    let (mut f, user, _) = setup();
    let other = f.user(USER_TOKENS);
    let existing = f.locked_job(&other, AMOUNT, EPOCHS);

    // Someone else's token account.
    let job = f.next_job();
    f.track(job);
    let ix = escrow_ix(
        f.create_escrow_accounts(&user.key(), &other.token, &job),
        eix::CreateEscrow {
            job_id: job.id,
            amount: AMOUNT,
            epochs_required: EPOCHS,
            timeout_secs: 0,
            estimated_secs: DEFAULT_ESTIMATE_SECS,
        },
    );
    f.fails(ix, &[&user.wallet], AnchorErrorCode::ConstraintTokenOwner);

    // A token account of another mint.
    let (other_mint, wrong_mint_token) = f.other_mint_account(&user.key(), USER_TOKENS);
    let data = || eix::CreateEscrow {
        job_id: job.id,
        amount: AMOUNT,
        epochs_required: EPOCHS,
        timeout_secs: 0,
        estimated_secs: DEFAULT_ESTIMATE_SECS,
    };
    let ix = escrow_ix(
        f.create_escrow_accounts(&user.key(), &wrong_mint_token, &job),
        data(),
    );
    f.fails(ix, &[&user.wallet], AnchorErrorCode::ConstraintTokenMint);

    // Another mint altogether (and the user's account of it).
    let mut accounts = f.create_escrow_accounts(&user.key(), &wrong_mint_token, &job);
    accounts.mint = other_mint;
    f.fails(
        escrow_ix(accounts, data()),
        &[&user.wallet],
        EscrowError::WrongMint,
    );

    // Another job's vault.
    let mut accounts = f.create_escrow_accounts(&user.key(), &user.token, &job);
    accounts.vault = existing.vault;
    f.fails(
        escrow_ix(accounts, data()),
        &[&user.wallet],
        AnchorErrorCode::ConstraintSeeds,
    );

    // An escrow address that is not the job's PDA.
    let mut accounts = f.create_escrow_accounts(&user.key(), &user.token, &job);
    accounts.escrow = existing.escrow;
    f.fails(
        escrow_ix(accounts, data()),
        &[&user.wallet],
        AnchorErrorCode::ConstraintSeeds,
    );

    // An existing job id cannot be funded again (the escrow account exists).
    let ix = f.create_escrow_ix(&user, &existing, AMOUNT, EPOCHS, 0);
    let before = f.escrow_snapshot();
    let err = f.send(ix, &[&user.wallet]).unwrap_err();
    assert_eq!(
        err.custom_code(),
        Some(0),
        "system program: account already in use; {err}"
    );
    assert_eq!(f.escrow_snapshot(), before);
    assert_eq!(f.escrow(&existing).user, other.key());
}

// ── assign_node ──────────────────────────────────────────────────────────

#[test]
fn assign_node_commits_a_qualified_node() {
    let (mut f, user, node) = setup();
    let second = f.node(STAKE);
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let snap = f.escrow_snapshot().registry;
    let ok = f.assign(&job, &node.key()).expect("assign");
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.node, e.assigned_at),
        (EscrowState::Assigned, node.key(), f.chain.now())
    );
    assert_eq!(
        ok.event::<NodeAssigned>(),
        NodeAssigned {
            job_id: job.id,
            node: node.key()
        }
    );
    assert_eq!(
        f.escrow_snapshot().registry,
        snap,
        "assignment touches no balance or node"
    );
    assert_eq!(f.balance(&job.vault), AMOUNT);

    // The coordinator may re-match an escrow nobody accepted yet.
    f.chain.warp(60);
    f.assign(&job, &second.key()).expect("re-assign");
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.node, e.assigned_at),
        (EscrowState::Assigned, second.key(), f.chain.now())
    );
    let ix = f.accept_ix(&job, &node.key());
    f.fails(ix, &[&node.wallet], EscrowError::NotAssignedNode);
}

#[test]
fn assign_node_rejects_wrong_signers_states_and_accounts() {
    let (mut f, user, node) = setup();
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let admin = f.escrow_admin.insecure_clone();
    for signer in [&user.wallet, &node.wallet, &admin] {
        let ix = escrow_ix(
            f.assign_node_accounts(&signer.pubkey(), &job, &node.key()),
            eix::AssignNode {},
        );
        f.fails(ix, &[signer], EscrowError::NotCoordinator);
    }
    let coordinator = f.coordinator.insecure_clone();
    // A node account at an address that is not the owner's PDA.
    let forged = f.forge_copy(&node_pda(&node.key()));
    let mut accounts = f.assign_node_accounts(&coordinator.pubkey(), &job, &node.key());
    accounts.node = forged;
    f.fails(
        escrow_ix(accounts, eix::AssignNode {}),
        &[&coordinator],
        AnchorErrorCode::ConstraintSeeds,
    );
    // A wallet that never registered.
    let stranger = f.wallet();
    let ix = f.assign_ix(&job, &stranger.pubkey());
    f.fails(ix, &[&coordinator], AnchorErrorCode::AccountNotInitialized);

    // Wrong states: accepted, cancelled.
    f.assign(&job, &node.key()).unwrap();
    f.accept(&job, &node).unwrap();
    let ix = f.assign_ix(&job, &node.key());
    f.fails(ix, &[&coordinator], EscrowError::InvalidState);
    let cancelled = f.locked_job(&user, AMOUNT, EPOCHS);
    f.cancel(&cancelled, &user).unwrap();
    let ix = f.assign_ix(&cancelled, &node.key());
    f.fails(ix, &[&coordinator], EscrowError::InvalidState);

    // Too late.
    let late = f.create_escrow(&user, AMOUNT, EPOCHS, 3_600).unwrap().0;
    f.chain.warp(3_600);
    let ix = f.assign_ix(&late, &node.key());
    f.fails(ix, &[&coordinator], EscrowError::TimedOut);
}

#[test]
fn assign_node_rejects_unqualified_nodes() {
    let (mut f, user, qualified) = setup();
    let coordinator = f.coordinator.insecure_clone();

    // Stake below the job's tier: 100 CYXWIZ needs 1,000 staked; 10 CYXWIZ needs 200.
    let small = f.node(999 * CYX);
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = f.assign_ix(&job, &small.key());
    f.fails(ix, &[&coordinator], RegistryError::InsufficientStake);
    let tiny = f.node(199 * CYX);
    let ten = f.locked_job(&user, 10 * CYX, EPOCHS);
    let ix = f.assign_ix(&ten, &tiny.key());
    f.fails(ix, &[&coordinator], RegistryError::InsufficientStake);
    let nine = f.locked_job(&user, 10 * CYX - 1, EPOCHS);
    f.assign(&nine, &tiny.key())
        .expect("a 9.99 CYXWIZ job needs only 50 staked");
    let exact = f.node(1_000 * CYX);
    f.assign(&job, &exact.key())
        .expect("exactly the tier's minimum qualifies");
    let big = f.locked_job(&user, 200 * CYX + 1, EPOCHS);
    let ix = f.assign_ix(&big, &exact.key());
    f.fails(ix, &[&coordinator], RegistryError::InsufficientStake);

    // Stale heartbeat.
    f.chain.warp(DAY + 1);
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = f.assign_ix(&job, &qualified.key());
    f.fails(ix, &[&coordinator], RegistryError::HeartbeatStale);
    f.heartbeat_node(&qualified);
    f.assign(&job, &qualified.key()).expect("fresh heartbeat");

    // Unstaking.
    let leaving = f.node(STAKE);
    f.start_unstake(&leaving);
    f.heartbeat_node(&leaving);
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = f.assign_ix(&job, &leaving.key());
    f.fails(ix, &[&coordinator], RegistryError::NodeUnstaking);

    // Banned after an admin fraud slash.
    let cheat = f.node(STAKE);
    f.admin_slash(&cheat.key(), SlashReason::Fraud)
        .expect("fraud slash");
    assert_eq!(f.node_account(&cheat.key()).status, NodeStatus::Banned);
    let ix = f.assign_ix(&job, &cheat.key());
    f.fails(ix, &[&coordinator], RegistryError::NodeBanned);

    // Suspended after repeated-failure slash.
    let flaky = f.node(STAKE);
    f.admin_slash(&flaky.key(), SlashReason::RepeatedFailures)
        .expect("suspend");
    let ix = f.assign_ix(&job, &flaky.key());
    f.fails(ix, &[&coordinator], RegistryError::NodeSuspended);
}

// ── assign_node_by_user (the coordinator's fallback) ─────────────────────

/// A Locked escrow whose coordinator window has just passed.
fn overdue_job(f: &mut EscrowEnv, user: &User, amount: u64) -> Job {
    let job = f.locked_job(user, amount, EPOCHS);
    f.chain.warp(escrow_params().user_assign_after_secs);
    job
}

#[test]
fn assign_node_by_user_commits_a_qualified_node_once_the_coordinator_window_passed() {
    let (mut f, user, node) = setup();
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let window = escrow_params().user_assign_after_secs;
    assert_eq!(window, 15 * 60);
    let created = f.escrow(&job).created_at;
    f.chain.warp(window);
    assert_eq!(f.chain.now(), created + window);
    let snap = f.escrow_snapshot().registry;
    let ok = f
        .assign_by_user(&job, &user, &node.key())
        .expect("assign by user");
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.node, e.assigned_at, e.assigned_by_user),
        (EscrowState::Assigned, node.key(), f.chain.now(), true)
    );
    assert_eq!(
        ok.event::<NodeAssigned>(),
        NodeAssigned {
            job_id: job.id,
            node: node.key()
        }
    );
    assert_eq!(
        f.escrow_snapshot().registry,
        snap,
        "no balance or node moved"
    );
    assert_eq!(f.balance(&job.vault), AMOUNT);

    // The coordinator can no longer re-match it, not even to the same node.
    let second = f.node(STAKE);
    let coordinator = f.coordinator.insecure_clone();
    for n in [&second, &node] {
        let ix = f.assign_ix(&job, &n.key());
        f.fails(ix, &[&coordinator], EscrowError::AssignedByUser);
    }
    // The node runs the job to payment as usual.
    f.accept(&job, &node).expect("accept");
    f.checkpoints(&job, &node, EPOCHS);
    f.complete(&job, &node, EPOCHS).expect("complete");
    assert_eq!(f.balance(&node.token), AMOUNT - AMOUNT / 10);
}

#[test]
fn assign_node_by_user_rejects_other_signers_early_calls_and_assigned_escrows() {
    let (mut f, user, node) = setup();
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let window = escrow_params().user_assign_after_secs;

    // Too early: one second before the window ends.
    f.chain.warp(window - 1);
    let ix = f.assign_by_user_ix(&job, &user.key(), &node.key());
    f.fails(ix, &[&user.wallet], EscrowError::UserAssignTooEarly);
    f.chain.warp(1);

    // Anyone but the escrow's user: the coordinator, the node, another user, the admin.
    let other = f.user(USER_TOKENS);
    let coordinator = f.coordinator.insecure_clone();
    let admin = f.escrow_admin.insecure_clone();
    for signer in [&coordinator, &node.wallet, &other.wallet, &admin] {
        let ix = f.assign_by_user_ix(&job, &signer.pubkey(), &node.key());
        f.fails(ix, &[signer], EscrowError::NotJobUser);
    }
    // The user's key without its signature.
    let ix = without_signer(
        f.assign_by_user_ix(&job, &user.key(), &node.key()),
        &user.key(),
    );
    f.fails(ix, &[], AnchorErrorCode::AccountNotSigner);
    // A node account at an address that is not the owner's PDA; a wallet never registered.
    let forged = f.forge_copy(&node_pda(&node.key()));
    let mut accounts = f.assign_by_user_accounts(&user.key(), &job, &node.key());
    accounts.node = forged;
    f.fails(
        escrow_ix(accounts, eix::AssignNodeByUser {}),
        &[&user.wallet],
        AnchorErrorCode::ConstraintSeeds,
    );
    let stranger = f.wallet();
    let ix = f.assign_by_user_ix(&job, &user.key(), &stranger.pubkey());
    f.fails(ix, &[&user.wallet], AnchorErrorCode::AccountNotInitialized);
    // Another node's reputation account.
    let second = f.node(STAKE);
    let mut accounts = f.assign_by_user_accounts(&user.key(), &job, &node.key());
    accounts.reputation = f.reputation_view(&second.key());
    f.fails(
        escrow_ix(accounts, eix::AssignNodeByUser {}),
        &[&user.wallet],
        EscrowError::WrongReputation,
    );

    // Already assigned by the coordinator (even after the window), accepted, or by the
    // user itself.
    f.assign(&job, &node.key()).unwrap();
    let ix = f.assign_by_user_ix(&job, &user.key(), &second.key());
    f.fails(ix, &[&user.wallet], EscrowError::AlreadyAssigned);
    f.accept(&job, &node).unwrap();
    let ix = f.assign_by_user_ix(&job, &user.key(), &second.key());
    f.fails(ix, &[&user.wallet], EscrowError::AlreadyAssigned);
    let mine = overdue_job(&mut f, &user, AMOUNT);
    f.heartbeat_node(&second);
    f.assign_by_user(&mine, &user, &second.key()).unwrap();
    let ix = f.assign_by_user_ix(&mine, &user.key(), &second.key());
    f.fails(ix, &[&user.wallet], EscrowError::AlreadyAssigned);

    // Finished escrows.
    let cancelled = f.locked_job(&user, AMOUNT, EPOCHS);
    f.cancel(&cancelled, &user).unwrap();
    f.chain.warp(window);
    f.heartbeat_node(&second);
    let ix = f.assign_by_user_ix(&cancelled, &user.key(), &second.key());
    f.fails(ix, &[&user.wallet], EscrowError::InvalidState);

    // Timed out.
    let late = f.create_escrow(&user, AMOUNT, EPOCHS, 3_600).unwrap().0;
    f.chain.warp(3_600);
    f.heartbeat_node(&second);
    let ix = f.assign_by_user_ix(&late, &user.key(), &second.key());
    f.fails(ix, &[&user.wallet], EscrowError::TimedOut);

    // Paused.
    let paused = overdue_job(&mut f, &user, AMOUNT);
    f.heartbeat_node(&second);
    f.escrow_set_paused(true).unwrap();
    let ix = f.assign_by_user_ix(&paused, &user.key(), &second.key());
    f.fails(ix, &[&user.wallet], EscrowError::Paused);
    f.escrow_set_paused(false).unwrap();
    f.assign_by_user(&paused, &user, &second.key())
        .expect("once unpaused");
}

#[test]
fn assign_node_by_user_rejects_unqualified_nodes_like_assign_node() {
    let (mut f, user, qualified) = setup();

    // Stake below the job's tier: 100 CYXWIZ needs 1,000 staked.
    let small = f.node(999 * CYX);
    let job = overdue_job(&mut f, &user, AMOUNT);
    f.heartbeat_node(&small);
    let ix = f.assign_by_user_ix(&job, &user.key(), &small.key());
    f.fails(ix, &[&user.wallet], RegistryError::InsufficientStake);

    // Reputation tier too low for the size: a Bronze node (jobs below 10 CYXWIZ).
    let bronze = f.node(STAKE);
    f.set_score(&bronze.key(), 100);
    let ix = f.assign_by_user_ix(&job, &user.key(), &bronze.key());
    f.fails(ix, &[&user.wallet], EscrowError::TierTooLow);

    // Stale heartbeat.
    f.chain.warp(DAY + 1);
    let job = overdue_job(&mut f, &user, AMOUNT);
    let ix = f.assign_by_user_ix(&job, &user.key(), &qualified.key());
    f.fails(ix, &[&user.wallet], RegistryError::HeartbeatStale);

    // Unstaking (starting it waits out the registration lock: a fresh escrow after).
    let leaving = f.node(STAKE);
    f.start_unstake(&leaving);
    f.heartbeat_node(&leaving);
    let job = overdue_job(&mut f, &user, AMOUNT);
    f.heartbeat_node(&leaving);
    let ix = f.assign_by_user_ix(&job, &user.key(), &leaving.key());
    f.fails(ix, &[&user.wallet], RegistryError::NodeUnstaking);

    // Banned (fraud) and suspended (repeated failures).
    let cheat = f.node(STAKE);
    f.admin_slash(&cheat.key(), SlashReason::Fraud).unwrap();
    let ix = f.assign_by_user_ix(&job, &user.key(), &cheat.key());
    f.fails(ix, &[&user.wallet], RegistryError::NodeBanned);
    let flaky = f.node(STAKE);
    f.admin_slash(&flaky.key(), SlashReason::RepeatedFailures)
        .unwrap();
    let ix = f.assign_by_user_ix(&job, &user.key(), &flaky.key());
    f.fails(ix, &[&user.wallet], RegistryError::NodeSuspended);

    // The qualified node, alive again, is accepted.
    f.heartbeat_node(&qualified);
    f.assign_by_user(&job, &user, &qualified.key())
        .expect("qualified node");
}

// ── accept_job ───────────────────────────────────────────────────────────

#[test]
fn accept_job_locks_the_node_and_extends_its_stake_lock() {
    let (mut f, user, node) = setup();
    let registered_lock = f.node_account(&node.key()).locked_until;
    // Late in the registration lock, so the per-job lock reaches further.
    f.chain.warp(29 * DAY);
    f.heartbeat_node(&node);
    let job = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let snap = f.escrow_snapshot().registry;
    let ok = f.accept(&job, &node).expect("accept");
    let now = f.chain.now();
    let e = f.escrow(&job);
    assert_eq!((e.state, e.accepted_at), (EscrowState::InProgress, now));
    assert_eq!(
        ok.event::<JobAccepted>(),
        JobAccepted {
            job_id: job.id,
            node: node.key()
        }
    );
    let n = f.node_account(&node.key());
    assert_eq!(n.active_jobs, 1);
    assert_eq!(n.locked_until, now + 7 * DAY);
    assert!(n.locked_until > registered_lock);
    let after = f.escrow_snapshot().registry;
    assert_eq!(
        (after.tokens, after.vault, after.supply, after.total_staked),
        (snap.tokens, snap.vault, snap.supply, snap.total_staked)
    );
    assert_eq!(f.balance(&job.vault), AMOUNT);

    // A second job counts too; both stay counted through their challenge windows, and
    // releasing both brings active_jobs back to 0.
    let second = f.accepted_job(&user, &node, AMOUNT, 1);
    assert_eq!(f.node_account(&node.key()).active_jobs, 2);
    f.checkpoints(&job, &node, EPOCHS);
    f.complete(&job, &node, EPOCHS).unwrap();
    f.complete(&second, &node, 1).unwrap();
    assert_eq!(f.node_account(&node.key()).active_jobs, 2);
    f.release_after_window(&job);
    assert_eq!(f.node_account(&node.key()).active_jobs, 1);
    f.release_after_window(&second);
    let n = f.node_account(&node.key());
    assert_eq!((n.active_jobs, n.jobs_completed, n.jobs_failed), (0, 2, 0));
    // The node can leave once the post-job lock has passed.
    f.chain.warp(7 * DAY);
    f.request_unstake(&node).expect("unstake after the jobs");
}

#[test]
fn accept_job_rejects_wrong_nodes_states_and_times() {
    let (mut f, user, node) = setup();
    let other = f.node(STAKE);
    let job = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let other_job = f.assigned_job(&user, &other, AMOUNT, EPOCHS);

    // Not the assigned node: another node (assigned elsewhere), the user.
    let ix = f.accept_ix(&job, &other.key());
    f.fails(ix, &[&other.wallet], EscrowError::NotAssignedNode);
    let mut accounts = f.accept_job_accounts(&user.key(), &job);
    accounts.node = node_pda(&node.key());
    accounts.reputation = f.reputation_view(&node.key());
    f.fails(
        escrow_ix(accounts, eix::AcceptJob {}),
        &[&user.wallet],
        EscrowError::NotAssignedNode,
    );
    // The right signer with another node's account.
    let mut accounts = f.accept_job_accounts(&node.key(), &job);
    accounts.node = node_pda(&other.key());
    f.fails(
        escrow_ix(accounts, eix::AcceptJob {}),
        &[&node.wallet],
        AnchorErrorCode::ConstraintSeeds,
    );
    // Another escrow-authority address.
    let mut accounts = f.accept_job_accounts(&node.key(), &job);
    accounts.escrow_authority = other.key();
    f.fails(
        escrow_ix(accounts, eix::AcceptJob {}),
        &[&node.wallet],
        AnchorErrorCode::ConstraintSeeds,
    );

    // Locked (nobody assigned) and accepted twice.
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = f.accept_ix(&locked, &node.key());
    f.fails(ix, &[&node.wallet], EscrowError::NotAssignedNode);
    f.accept(&job, &node).unwrap();
    let ix = f.accept_ix(&job, &node.key());
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);
    assert_eq!(f.node_account(&node.key()).active_jobs, 1);

    // Too late.
    f.chain.warp(7 * DAY);
    f.heartbeat_node(&other);
    let ix = f.accept_ix(&other_job, &other.key());
    f.fails(ix, &[&other.wallet], EscrowError::TimedOut);
}

#[test]
fn accept_job_rechecks_the_node_in_the_registry() {
    let (mut f, user, node) = setup();
    // The heartbeat went stale between assignment and acceptance.
    let job = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    f.chain.warp(DAY + 1);
    let ix = f.accept_ix(&job, &node.key());
    f.fails(ix, &[&node.wallet], RegistryError::HeartbeatStale);
    f.heartbeat_node(&node);

    // Banned in between.
    let cheat = f.node(STAKE);
    let job2 = f.assigned_job(&user, &cheat, AMOUNT, EPOCHS);
    f.admin_slash(&cheat.key(), SlashReason::Fraud).unwrap();
    let ix = f.accept_ix(&job2, &cheat.key());
    f.fails(ix, &[&cheat.wallet], RegistryError::NodeBanned);

    // Slashed below the tier in between.
    let thin = f.node(1_200 * CYX);
    let job3 = f.assigned_job(&user, &thin, AMOUNT, EPOCHS);
    f.admin_slash(&thin.key(), SlashReason::InvalidProof)
        .unwrap();
    let ix = f.accept_ix(&job3, &thin.key());
    f.fails(ix, &[&thin.wallet], RegistryError::InsufficientStake);

    // The registry is paused.
    let registry_admin = f.admin.insecure_clone();
    f.env.set_paused(&registry_admin, true).unwrap();
    let ix = f.accept_ix(&job, &node.key());
    f.fails(ix, &[&node.wallet], RegistryError::Paused);
    f.env.set_paused(&registry_admin, false).unwrap();
    f.accept(&job, &node)
        .expect("accept once the registry runs again");
}

// ── anchor_checkpoint ────────────────────────────────────────────────────

#[test]
fn anchor_checkpoint_records_progress() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let snap = f.escrow_snapshot().registry;
    f.chain.warp(600);
    let ok = f.checkpoint(&job, &node, 1).expect("epoch 1");
    let e = f.escrow(&job);
    assert_eq!(
        (e.epochs_done, e.merkle_root, e.last_checkpoint_at),
        (1, root_for(&job, 1), f.chain.now())
    );
    assert_eq!(
        ok.event::<CheckpointAnchored>(),
        CheckpointAnchored {
            job_id: job.id,
            epoch: 1,
            epochs_required: EPOCHS,
            merkle_root: root_for(&job, 1)
        }
    );
    // Epochs may be skipped; the last one is the required count.
    f.checkpoint(&job, &node, 3).expect("epoch 3");
    f.checkpoint(&job, &node, EPOCHS).expect("last epoch");
    assert_eq!(f.escrow(&job).epochs_done, EPOCHS);
    assert_eq!(f.escrow_snapshot().registry, snap);
    assert_eq!(f.balance(&job.vault), AMOUNT);
    assert_eq!(f.state(&job), EscrowState::InProgress);
}

#[test]
fn anchor_checkpoint_rejects_bad_epochs_parties_states_and_times() {
    let (mut f, user, node) = setup();
    let other = f.node(STAKE);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let ix = f.checkpoint_ix(&assigned, &node.key(), 1);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);

    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let ix = f.checkpoint_ix(&job, &other.key(), 1);
    f.fails(ix, &[&other.wallet], EscrowError::NotAssignedNode);
    let ix = escrow_ix(
        f.anchor_checkpoint_accounts(&user.key(), &job),
        eix::AnchorCheckpoint {
            epoch: 1,
            merkle_root: [1; 32],
        },
    );
    f.fails(ix, &[&user.wallet], EscrowError::NotAssignedNode);

    let ix = f.checkpoint_ix(&job, &node.key(), 0);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidCheckpoint);
    let ix = f.checkpoint_ix(&job, &node.key(), EPOCHS + 1);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidCheckpoint);
    let ix = f.checkpoint_ix(&job, &node.key(), u32::MAX);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidCheckpoint);
    f.checkpoint(&job, &node, 2).unwrap();
    for epoch in [1, 2] {
        let ix = f.checkpoint_ix(&job, &node.key(), epoch);
        f.fails(ix, &[&node.wallet], EscrowError::InvalidCheckpoint);
    }

    // Too late.
    f.chain.warp(7 * DAY);
    let ix = f.checkpoint_ix(&job, &node.key(), 3);
    f.fails(ix, &[&node.wallet], EscrowError::TimedOut);

    // Finished.
    f.heartbeat_node(&node);
    let done = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    let ix = f.checkpoint_ix(&done, &node.key(), EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);
}

// ── complete_payment ─────────────────────────────────────────────────────

#[test]
fn complete_payment_pays_ninety_ten_with_the_fee_split_forty_thirty_twenty_ten() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    let total_staked = f.config().total_staked;
    f.chain.warp(60);
    let ok = f.complete(&job, &node, EPOCHS).expect("complete");
    let now = f.chain.now();

    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            user: b.user,
            vault: 0,
            node: b.node + 90 * CYX,
            staking: b.staking + 4 * CYX,
            development: b.development + 3 * CYX,
            liquidity: b.liquidity + 2 * CYX,
            supply: b.supply - CYX,
            stake_vault: b.stake_vault,
            insurance: b.insurance,
        }
    );
    assert_eq!(f.config().total_staked, total_staked);
    let e = f.escrow(&job);
    assert_eq!(e.state, EscrowState::Completed);
    assert_eq!(e.finished_at, now);
    assert_eq!(e.epochs_done, EPOCHS);
    assert_eq!(e.merkle_root, root_for(&job, EPOCHS));
    assert_eq!(e.final_weights_hash, weights_for(&job));
    assert_eq!(
        ok.event::<PaymentReleased>(),
        PaymentReleased {
            job_id: job.id,
            node: node.key(),
            node_amount: 90 * CYX,
            platform_fee: 10 * CYX,
            burned: CYX,
            final_weights_hash: weights_for(&job),
            merkle_root: root_for(&job, EPOCHS),
        }
    );
    let n = f.node_account(&node.key());
    assert_eq!(
        (n.active_jobs, n.jobs_completed, n.jobs_failed, n.stake),
        (1, 0, 0, STAKE),
        "the job holds the stake through its challenge window"
    );
    assert_eq!(
        n.locked_until,
        (now + 7 * DAY).max(n.registered_at + 30 * DAY)
    );
}

#[test]
fn complete_payment_rounding_dust_is_burned() {
    let (mut f, user, node) = setup();
    let amount = 12_345;
    let job = f.accepted_job(&user, &node, amount, 1);
    let b = f.balances(&job, &user.token, &node.token);
    // Without an anchored checkpoint: the proof covers a root of its own.
    f.complete(&job, &node, 1).expect("complete");
    // fee 1,234 = 493 + 370 + 246 + 125 (the burn absorbs the dust).
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            vault: 0,
            node: b.node + 11_111,
            staking: b.staking + 493,
            development: b.development + 370,
            liquidity: b.liquidity + 246,
            supply: b.supply - 125,
            ..b
        }
    );
}

#[test]
fn complete_payment_rejects_proofs_of_other_statements() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let other = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let root = root_for(&job, EPOCHS);
    let weights = weights_for(&job);
    let prove = |job_id, merkle_root, final_weights_hash, epochs| {
        insecure_test_proof(&ProofStatement {
            job_id,
            merkle_root,
            final_weights_hash,
            epochs,
            anchored_root: [0; 32],
            anchored_epochs: 0,
        })
    };
    let wrong = [
        ("another job", prove(other.id, root, weights, EPOCHS)),
        (
            "another root",
            prove(job.id, root_for(&job, 3), weights, EPOCHS),
        ),
        (
            "another epoch count",
            prove(job.id, root, weights, EPOCHS + 1),
        ),
        ("another weights hash", prove(job.id, root, [9; 32], EPOCHS)),
        ("no proof", [0; 256]),
    ];
    for (what, proof) in wrong {
        let ix = f.complete_ix_with(&job, proof, weights, root, EPOCHS);
        let before = f.escrow_snapshot();
        let r = f.send(ix, &[&node.wallet]);
        assert_eq!(
            r.as_ref().err().and_then(|e| e.custom_code()),
            Some(kit::anchor_code(EscrowError::InvalidProof)),
            "{what}: {r:?}"
        );
        assert_eq!(f.escrow_snapshot(), before, "{what}");
    }
    // A valid proof for more epochs than anchored, with its own root, is accepted.
    let proof = prove(job.id, root_for(&job, EPOCHS + 1), weights, EPOCHS + 1);
    let ix = f.complete_ix_with(&job, proof, weights, root_for(&job, EPOCHS + 1), EPOCHS + 1);
    f.send(ix, &[&node.wallet]).expect("valid proof");
    assert_eq!(f.escrow(&job).epochs_done, EPOCHS + 1);
}

#[test]
fn complete_payment_rejects_missing_epochs_and_root_mismatch() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS - 1);
    // Fewer epochs than required, even with a valid proof.
    let ix = f.complete_ix(&job, EPOCHS - 1);
    f.fails(ix, &[&node.wallet], EscrowError::NotEnoughEpochs);
    f.checkpoint(&job, &node, EPOCHS).unwrap();
    // No epochs beyond the last anchor: the root must be the anchored one.
    let root = root_for(&job, 99);
    let proof = f.proof(&job, root, EPOCHS);
    let ix = f.complete_ix_with(&job, proof, weights_for(&job), root, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::RootMismatch);
    f.complete(&job, &node, EPOCHS).expect("anchored root");
}

#[test]
fn complete_payment_rejects_wrong_states_and_late_completion() {
    let (mut f, user, node) = setup();
    let locked = f.locked_job(&user, AMOUNT, 1);
    let ix = escrow_ix(
        f.complete_payment_accounts(&node.key(), &locked, &node.token),
        eix::CompletePayment {
            proof: [0; 256],
            final_weights_hash: [0; 32],
            merkle_root: [0; 32],
            epochs: 1,
        },
    );
    f.fails(ix, &[&node.wallet], EscrowError::NotAssignedNode);

    // Before acceptance.
    let assigned = f.assigned_job(&user, &node, AMOUNT, 1);
    let ix = f.complete_ix(&assigned, 1);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);

    // Twice.
    let job = f.accepted_job(&user, &node, AMOUNT, 1);
    f.complete(&job, &node, 1).unwrap();
    let ix = f.complete_ix(&job, 1);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);

    // After the timeout (exactly at it).
    let late = f.accepted_job(&user, &node, AMOUNT, 1);
    let timeout_at = f.escrow(&late).timeout_at;
    let now = f.chain.now();
    f.chain.warp(timeout_at - now);
    let ix = f.complete_ix(&late, 1);
    f.fails(ix, &[&node.wallet], EscrowError::TimedOut);
}

/// A job of `estimate` seconds `node` accepted, anchored to the last epoch.
fn estimated_job(f: &mut EscrowEnv, user: &User, node: &Operator, estimate: u32) -> Job {
    let (job, _) = f
        .create_escrow_with(user, AMOUNT, EPOCHS, 0, estimate)
        .expect("create escrow");
    f.assign(&job, &node.key()).unwrap();
    f.accept(&job, node).unwrap();
    f.checkpoints(&job, node, EPOCHS);
    job
}

/// Warps to `accepted_at + elapsed` of `job`.
fn warp_to_elapsed(f: &mut EscrowEnv, job: &Job, elapsed: i64) {
    let at = f.escrow(job).accepted_at + elapsed;
    let wait = at - f.chain.now();
    assert!(wait >= 0, "already past {elapsed} s");
    f.chain.warp(wait);
}

#[test]
fn complete_payment_enforces_half_to_twice_the_estimate_with_the_margin() {
    let (mut f, user, node) = setup();
    let margin = escrow_params().duration_margin_secs;
    assert_eq!(margin, 300);
    // Two hours estimated: completion from 1 h − 5 min to 4 h + 5 min after acceptance.
    const ESTIMATE: u32 = 7_200;
    let fast_edge = i64::from(ESTIMATE) / 2 - margin;
    let slow_edge = 2 * i64::from(ESTIMATE) + margin;

    let early = estimated_job(&mut f, &user, &node, ESTIMATE);
    warp_to_elapsed(&mut f, &early, fast_edge - 1);
    let ix = f.complete_ix(&early, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::TrainingTooFast);
    f.chain.warp(1);
    f.complete(&early, &node, EPOCHS)
        .expect("exactly half the estimate less the margin");
    assert_eq!(f.state(&early), EscrowState::Completed);

    let late = estimated_job(&mut f, &user, &node, ESTIMATE);
    warp_to_elapsed(&mut f, &late, slow_edge);
    f.chain.warp(1);
    let ix = f.complete_ix(&late, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::TrainingTooSlow);
    assert_eq!(f.balance(&late.vault), AMOUNT);
    // A too slow node is still paid for its anchored progress if it gives up.
    f.refund(&late, &node.wallet).expect("node abandons");
    assert_eq!(f.balance(&node.token), (AMOUNT - AMOUNT / 10) + AMOUNT);

    // Exactly twice the estimate plus the margin is still in time.
    let edge = estimated_job(&mut f, &user, &node, ESTIMATE);
    warp_to_elapsed(&mut f, &edge, slow_edge);
    f.complete(&edge, &node, EPOCHS)
        .expect("exactly twice the estimate plus the margin");

    // Without margin (governance may set 0) the bound is the seed's 0.5×–2×.
    let admin = f.escrow_admin.insecure_clone();
    let mut p = escrow_params();
    p.duration_margin_secs = 0;
    f.escrow_update_params(&admin, p).unwrap();
    let strict = estimated_job(&mut f, &user, &node, ESTIMATE);
    warp_to_elapsed(&mut f, &strict, i64::from(ESTIMATE) / 2 - 1);
    let ix = f.complete_ix(&strict, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::TrainingTooFast);
    f.chain.warp(1);
    f.complete(&strict, &node, EPOCHS)
        .expect("half the estimate");
    let strict = estimated_job(&mut f, &user, &node, ESTIMATE);
    warp_to_elapsed(&mut f, &strict, 2 * i64::from(ESTIMATE) + 1);
    let ix = f.complete_ix(&strict, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::TrainingTooSlow);
}

#[test]
fn complete_payment_rejects_substituted_accounts() {
    let (mut f, user, node) = setup();
    let other = f.node(STAKE);
    let job = f.accepted_job(&user, &node, AMOUNT, 1);
    let elsewhere = f.accepted_job(&user, &other, AMOUNT, 1);
    let root = root_for(&job, 1);
    let proof = f.proof(&job, root, 1);
    let data = || eix::CompletePayment {
        proof,
        final_weights_hash: weights_for(&job),
        merkle_root: root,
        epochs: 1,
    };
    let base = f.complete_payment_accounts(&node.key(), &job, &node.token);
    let node_signs = [&node.wallet];

    // A node from another escrow signs, with its own accounts.
    let ix = escrow_ix(
        f.complete_payment_accounts(&other.key(), &job, &other.token),
        data(),
    );
    f.fails(ix, &[&other.wallet], EscrowError::NotAssignedNode);
    // The user signs.
    let mut a = f.complete_payment_accounts(&user.key(), &job, &node.token);
    a.registry = f.registry_hooks(&node.key());
    a.reputation = f.reputation_view(&node.key());
    f.fails(
        escrow_ix(a, data()),
        &[&user.wallet],
        EscrowError::NotAssignedNode,
    );
    // The right node with another node's registry account.
    let mut a = base;
    a.registry.node = node_pda(&other.key());
    f.fails(escrow_ix(a, data()), &node_signs, EscrowError::WrongNode);
    // Pay into an account the node does not own / of another mint.
    let mut a = base;
    a.node_token = other.token;
    f.fails(
        escrow_ix(a, data()),
        &node_signs,
        EscrowError::WrongTokenOwner,
    );
    let mut a = base;
    a.node_token = user.token;
    f.fails(
        escrow_ix(a, data()),
        &node_signs,
        EscrowError::WrongTokenOwner,
    );
    let (other_mint, wrong_mint_token) = f.other_mint_account(&node.key(), 0);
    let mut a = base;
    a.node_token = wrong_mint_token;
    f.fails(escrow_ix(a, data()), &node_signs, EscrowError::WrongMint);
    let mut a = base;
    a.mint = other_mint;
    f.fails(escrow_ix(a, data()), &node_signs, EscrowError::WrongMint);
    // Another job's vault.
    let mut a = base;
    a.vault = elsewhere.vault;
    f.fails(
        escrow_ix(a, data()),
        &node_signs,
        AnchorErrorCode::ConstraintSeeds,
    );
    // Treasury accounts swapped or replaced.
    let mut a = base;
    std::mem::swap(&mut a.treasury.staking, &mut a.treasury.development);
    f.fails(
        escrow_ix(a, data()),
        &node_signs,
        EscrowError::WrongTreasury,
    );
    let mut a = base;
    a.treasury.liquidity = user.token;
    f.fails(
        escrow_ix(a, data()),
        &node_signs,
        EscrowError::WrongTreasury,
    );
    // Registry vaults substituted: the payment itself no longer reaches NodeRegistry (the
    // job stays held there until `release_stake`), but a judged-invalid proof does, and
    // NodeRegistry rejects them inside that CPI.
    let mut bad = f.proof(&job, root_for(&job, 1), 1);
    bad[0] ^= 1;
    let verdict = || eix::SubmitProof {
        proof: bad,
        final_weights_hash: weights_for(&job),
        merkle_root: root_for(&job, 1),
        epochs: 1,
    };
    let submit = f.submit_proof_accounts(&node.key(), &job, &node.token, &user.token);
    let mut a = submit;
    a.payment.registry.insurance_vault = f.treasury.staking;
    f.fails(
        escrow_ix(a, verdict()),
        &node_signs,
        RegistryError::WrongVault,
    );
    let mut a = submit;
    a.payment.registry.stake_vault = user.token;
    f.fails(
        escrow_ix(a, verdict()),
        &node_signs,
        RegistryError::WrongVault,
    );
    // Not the escrow-authority PDA.
    let mut a = base;
    a.registry.escrow_authority = user.key();
    f.fails(
        escrow_ix(a, data()),
        &node_signs,
        AnchorErrorCode::ConstraintSeeds,
    );

    f.send(escrow_ix(base, data()), &node_signs)
        .expect("the right accounts work");
}

// ── submit_proof (a binding verdict on the proof) ────────────────────────

#[test]
fn submit_proof_with_a_valid_proof_pays_exactly_like_complete_payment() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    let ok = f.submit(&job, &node, EPOCHS, true).expect("valid proof");
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            vault: 0,
            node: b.node + 90 * CYX,
            staking: b.staking + 4 * CYX,
            development: b.development + 3 * CYX,
            liquidity: b.liquidity + 2 * CYX,
            supply: b.supply - CYX,
            ..b
        }
    );
    assert_eq!(ok.event::<PaymentReleased>().node_amount, 90 * CYX);
    assert!(ok.events::<ProofRejected>().is_empty());
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.final_weights_hash),
        (EscrowState::Completed, weights_for(&job))
    );
    let n = f.node_account(&node.key());
    assert_eq!((n.stake, n.jobs_failed), (STAKE, 0));
    assert_eq!(f.reputation(&node.key()).jobs_invalid_proof, 0);
}

#[test]
fn submit_proof_with_an_invalid_proof_refunds_slashes_a_quarter_and_costs_100_points() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    let total_staked = f.config().total_staked;
    let points = f.reputation(&node.key()).points;

    // complete_payment rejects the same proof and changes nothing.
    let mut bad = f.proof(&job, f.escrow(&job).merkle_root, EPOCHS);
    bad[0] ^= 1;
    let root = f.escrow(&job).merkle_root;
    let ix = f.complete_ix_with(&job, bad, weights_for(&job), root, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidProof);

    // submit_proof records the verdict.
    let ok = f
        .submit(&job, &node, EPOCHS, false)
        .expect("a recorded verdict");
    let slash = STAKE / 4;
    let insurance = slash * 8 / 10;
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            user: b.user + AMOUNT,
            vault: 0,
            stake_vault: b.stake_vault - slash,
            insurance: b.insurance + insurance,
            supply: b.supply - (slash - insurance),
            ..b
        },
        "the user is refunded in full, the node is paid nothing, the treasuries nothing"
    );
    assert_eq!(f.config().total_staked, total_staked - slash);
    let n = f.node_account(&node.key());
    assert_eq!(
        (
            n.stake,
            n.total_slashed,
            n.active_jobs,
            n.jobs_failed,
            n.jobs_completed
        ),
        (STAKE - slash, slash, 0, 1, 0)
    );
    let s = ok.event::<NodeSlashed>();
    assert_eq!(
        (s.reason, s.amount, s.to_insurance),
        (SlashReason::InvalidProof, slash, insurance)
    );
    assert_eq!(
        ok.event::<ProofRejected>(),
        ProofRejected {
            job_id: job.id,
            node: node.key(),
            refund_amount: AMOUNT
        }
    );
    let r = f.reputation(&node.key());
    assert_eq!(
        (
            r.points,
            r.jobs_invalid_proof,
            r.total_proofs,
            r.valid_proofs
        ),
        (points - 100, 1, 1, 0)
    );
    let ev = ok.event::<reputation_manager::events::InvalidProofRecorded>();
    assert_eq!((ev.owner, ev.points), (node.key(), points - 100));
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.finished_at),
        (EscrowState::Refunded, f.chain.now())
    );
    assert_eq!(
        e.final_weights_hash, [0; 32],
        "nothing was accepted as the result"
    );
    f.assert_conserved();

    // The verdict is final: neither a second submission nor a payment is possible.
    for valid in [true, false] {
        let ix = f.submit_ix(&job, EPOCHS, valid);
        f.fails(ix, &[&node.wallet], EscrowError::InvalidState);
    }
    let ix = f.complete_ix(&job, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);
}

#[test]
fn submit_proof_counts_only_the_assigned_nodes_own_submission() {
    let (mut f, user, node) = setup();
    let other = f.node(STAKE);
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let root = f.escrow(&job).merkle_root;
    let mut bad = f.proof(&job, root, EPOCHS);
    bad[0] ^= 1;
    let data = || eix::SubmitProof {
        proof: bad,
        final_weights_hash: weights_for(&job),
        merkle_root: root,
        epochs: EPOCHS,
    };

    // Another node, the user, or a stranger signing as the "node": nobody can have the
    // assigned node slashed with a proof it never sent.
    let stranger = f.wallet();
    for (signer, name) in [
        (&other.wallet, "other node"),
        (&user.wallet, "user"),
        (&stranger, "stranger"),
    ] {
        let mut accounts = f.submit_proof_accounts(&node.key(), &job, &node.token, &user.token);
        accounts.payment.node_owner = signer.pubkey();
        let ix = escrow_ix(accounts, data());
        let before = f.escrow_snapshot();
        assert_anchor_err(f.send(ix, &[signer]), EscrowError::NotAssignedNode);
        assert_eq!(f.escrow_snapshot(), before, "{name}");
    }
    // The node's key without its signature.
    let ix = without_signer(
        escrow_ix(
            f.submit_proof_accounts(&node.key(), &job, &node.token, &user.token),
            data(),
        ),
        &node.key(),
    );
    f.fails(ix, &[], AnchorErrorCode::AccountNotSigner);
    // Another node, signing, with all its own accounts.
    let ix = escrow_ix(
        f.submit_proof_accounts(&other.key(), &job, &other.token, &user.token),
        data(),
    );
    f.fails(ix, &[&other.wallet], EscrowError::NotAssignedNode);

    // The refund must reach the job's user; the reputation written must be the node's.
    let intruder = f.user(0);
    let ix = escrow_ix(
        f.submit_proof_accounts(&node.key(), &job, &node.token, &intruder.token),
        data(),
    );
    f.fails(ix, &[&node.wallet], EscrowError::WrongTokenOwner);
    let mut accounts = f.submit_proof_accounts(&node.key(), &job, &node.token, &user.token);
    accounts.node_reputation = deploy_node_reputation(&other.key());
    f.fails(
        escrow_ix(accounts, data()),
        &[&node.wallet],
        EscrowError::WrongReputation,
    );
    let mut accounts = f.submit_proof_accounts(&node.key(), &job, &node.token, &user.token);
    accounts.reputation_program = node_registry::ID;
    f.fails(
        escrow_ix(accounts, data()),
        &[&node.wallet],
        AnchorErrorCode::InvalidProgramId,
    );
    assert_eq!(f.node_account(&node.key()).stake, STAKE);
    assert_eq!(f.state(&job), EscrowState::InProgress);
}

#[test]
fn submit_proof_gives_no_verdict_before_the_checks_pass() {
    let (mut f, user, node) = setup();
    // Not accepted yet.
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let ix = f.submit_ix(&assigned, EPOCHS, false);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);

    // Too fast for its estimate: no verdict, the node may submit later.
    let (fast, _) = f
        .create_escrow_with(&user, AMOUNT, EPOCHS, 0, 7_200)
        .unwrap();
    f.assign(&fast, &node.key()).unwrap();
    f.accept(&fast, &node).unwrap();
    f.checkpoints(&fast, &node, EPOCHS);
    let ix = f.submit_ix(&fast, EPOCHS, false);
    f.fails(ix, &[&node.wallet], EscrowError::TrainingTooFast);

    // Missing epochs, a root that is not the anchored one.
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, 2);
    let ix = f.submit_ix(&job, EPOCHS - 1, false);
    f.fails(ix, &[&node.wallet], EscrowError::NotEnoughEpochs);
    f.checkpoints(&job, &node, EPOCHS);
    let proof = f.proof(&job, [9; 32], EPOCHS);
    let ix = f.submit_ix_with(&job, proof, weights_for(&job), [9; 32], EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::RootMismatch);
    // More epochs than any circuit covers: no verdict is possible, so no slash.
    let ix = f.submit_ix_with(&job, [7; 256], weights_for(&job), [9; 32], MAX_EPOCHS + 1);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidEpochs);

    // Paused, then timed out.
    f.escrow_set_paused(true).unwrap();
    let ix = f.submit_ix(&job, EPOCHS, false);
    f.fails(ix, &[&node.wallet], EscrowError::Paused);
    f.escrow_set_paused(false).unwrap();
    f.chain.warp(7 * DAY);
    let ix = f.submit_ix(&job, EPOCHS, false);
    f.fails(ix, &[&node.wallet], EscrowError::TimedOut);
    assert_eq!(f.node_account(&node.key()).stake, STAKE);
}

// ── the challenge window after completion ────────────────────────────────

#[test]
fn a_completed_job_keeps_the_stake_locked_until_its_challenge_window_closes() {
    let (mut f, user, node) = setup();
    let job = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    let window = escrow_params().challenge_window_secs;
    assert_eq!(window, 7 * DAY);
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.challenge_until, e.stake_released, e.challenged),
        (EscrowState::Completed, e.finished_at + window, false, false)
    );
    let n = f.node_account(&node.key());
    assert_eq!(
        (n.active_jobs, n.jobs_completed, n.stake),
        (1, 0, STAKE),
        "the job still holds the stake"
    );
    // Past the registration lock the node still cannot leave: the job is active.
    f.chain.warp(window - 1);
    let before = f.escrow_snapshot();
    assert_anchor_err(f.request_unstake(&node), RegistryError::HasActiveJobs);
    assert_eq!(f.escrow_snapshot(), before);

    // Nobody can release it a second early; closing needs the release.
    let anyone = f.wallet();
    let ix = f.release_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::ChallengeWindowOpen);
    f.chain.warp(1);
    let ix = f.close_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::StakeNotReleased);
    // Another node's registry accounts.
    let other = f.node(STAKE);
    let ix = escrow_ix(
        f.release_stake_accounts(&anyone.pubkey(), &job, &other.key()),
        eix::ReleaseStake {},
    );
    f.fails(ix, &[&anyone], EscrowError::WrongNode);

    let b = f.balances(&job, &user.token, &node.token);
    let ok = f.release(&job, &anyone).expect("release after the window");
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        b,
        "no token moves"
    );
    assert_eq!(
        ok.event::<StakeReleased>(),
        StakeReleased {
            job_id: job.id,
            node: node.key()
        }
    );
    assert!(f.escrow(&job).stake_released);
    let n = f.node_account(&node.key());
    assert_eq!(
        (n.active_jobs, n.jobs_completed, n.jobs_failed, n.stake),
        (0, 1, 0, STAKE)
    );
    let ix = f.release_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    // Now the node may leave once its locks have passed, and anyone may close.
    let lock = f.node_account(&node.key()).locked_until;
    let now = f.chain.now();
    f.chain.warp(lock - now);
    f.request_unstake(&node).expect("unstake");
    f.close(&job, &anyone).expect("close");
}

#[test]
fn release_stake_only_for_completed_jobs_not_under_dispute() {
    let (mut f, user, node) = setup();
    let anyone = f.wallet();
    let running = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let refunded = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.refund(&refunded, &user.wallet).unwrap();
    let disputed = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    f.freeze(&disputed).unwrap();
    f.chain.warp(8 * DAY);
    for job in [&running, &refunded, &disputed] {
        let ix = f.release_ix(job, &anyone.pubkey());
        f.fails(ix, &[&anyone], EscrowError::InvalidState);
    }
}

#[test]
fn a_paid_job_can_be_frozen_for_dispute_only_within_its_window() {
    let (mut f, user, node) = setup();
    let window = escrow_params().challenge_window_secs;
    let job = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    let late = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    let released = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    f.chain.warp(window - 1);
    let ok = f.freeze(&job).expect("freeze in the window");
    assert_eq!(ok.event::<EscrowFrozen>(), EscrowFrozen { job_id: job.id });
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.challenged, e.stake_released),
        (EscrowState::Disputed, true, false)
    );
    f.assert_vaults_match();
    // Frozen: no timeout, release or close touches it; it cannot be frozen twice.
    let anyone = f.wallet();
    f.chain.warp(1);
    for ix in [
        f.timeout_refund_with_slash_ix(&job, &anyone.pubkey()),
        f.release_ix(&job, &anyone.pubkey()),
        f.close_ix(&job, &anyone.pubkey()),
    ] {
        f.fails(ix, &[&anyone], EscrowError::InvalidState);
    }
    let ix = f.freeze_ix(&job);
    f.fails(ix, &[], EscrowError::InvalidState);

    // At the end of the window it is too late; once released, there is nothing to hold.
    let ix = f.freeze_ix(&late);
    f.fails(ix, &[], EscrowError::ChallengeWindowClosed);
    f.release(&released, &anyone).unwrap();
    let ix = f.freeze_ix(&released);
    f.fails(ix, &[], EscrowError::InvalidState);
}

/// `slash_for_dispute` as Dispute/DAO's verdict PDA sends it (through the stand-in).
fn slash_for_dispute_ix(
    f: &EscrowEnv,
    node_owner: &Pubkey,
    user_token: Pubkey,
    dao_treasury: Pubkey,
    repay: u64,
) -> solana_instruction::Instruction {
    via_dispute_dao(
        AS_DISPUTE_AUTHORITY,
        registry_ix(
            node_registry::accounts::SlashForDispute {
                dispute_authority: ids::dispute_authority(),
                config: config_pda(),
                node: node_pda(node_owner),
                stake_vault: vault_pda(),
                stake_mint: f.mint,
                user_token,
                dao_treasury,
                token_program: f.token_program,
            },
            node_registry::instruction::SlashForDispute {
                to_user_bps: 5_000,
                repay,
            },
        ),
    )
}

#[test]
fn a_fraud_verdict_after_payment_ends_the_hold_and_the_stake_repays_the_user() {
    let (mut f, user, node) = setup();
    let job = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    f.freeze(&job).unwrap();
    let b = f.balances(&job, &user.token, &node.token);
    let ok = f
        .resolve(&job, DisputeResolution::UserFavor)
        .expect("verdict for the user");
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        b,
        "the vault is empty: the escrow moves nothing"
    );
    assert_eq!(
        ok.event::<DisputeSettled>(),
        DisputeSettled {
            job_id: job.id,
            resolution: DisputeResolution::UserFavor,
            to_user: 0,
            to_node: 0,
            platform_fee: 0
        }
    );
    let e = f.escrow(&job);
    assert_eq!((e.state, e.stake_released), (EscrowState::Refunded, true));
    let n = f.node_account(&node.key());
    assert_eq!((n.active_jobs, n.jobs_completed, n.jobs_failed), (0, 0, 1));

    // The DAO's slash then repays the job first: at least the payment is slashed, the
    // user gets it back plus half of the rest, the DAO treasury the other half.
    let treasury_owner = f.wallet();
    let dao_treasury = f.fund_tokens(&treasury_owner.pubkey(), 0);
    let b = f.balances(&job, &user.token, &node.token);
    let ix = slash_for_dispute_ix(&f, &node.key(), user.token, dao_treasury, AMOUNT);
    f.send(ix, &[]).expect("slash for dispute");
    let slash = STAKE / 2;
    let to_user = AMOUNT + (slash - AMOUNT) / 2;
    let b1 = f.balances(&job, &user.token, &node.token);
    assert_eq!(b1.user, b.user + to_user);
    assert_eq!(b1.stake_vault, b.stake_vault - slash);
    assert_eq!(f.balance(&dao_treasury), slash - to_user);
    assert_eq!(
        b1.node, b.node,
        "the node keeps its pay but loses more stake"
    );
    let n = f.node_account(&node.key());
    assert_eq!((n.stake, n.status), (STAKE - slash, NodeStatus::Banned));
    f.assert_conserved();

    // A stake smaller than the payment repays all it holds (a Diamond node's 5,000 for a
    // 6,000 job).
    let rich = f.node(STAKE);
    f.set_score(&rich.key(), 850);
    let big = 6_000 * CYX;
    let job = f.completed_job(&user, &rich, big, EPOCHS);
    f.freeze(&job).unwrap();
    f.resolve(&job, DisputeResolution::UserFavor).unwrap();
    let b = f.balance(&user.token);
    let t = f.balance(&dao_treasury);
    let ix = slash_for_dispute_ix(&f, &rich.key(), user.token, dao_treasury, big);
    f.send(ix, &[]).unwrap();
    assert_eq!(f.balance(&user.token), b + STAKE);
    assert_eq!(f.balance(&dao_treasury), t);
    assert_eq!(f.node_account(&rich.key()).stake, 0);
    f.assert_conserved();
}

#[test]
fn a_verdict_for_the_node_after_payment_keeps_the_payment_and_ends_the_hold() {
    for resolution in [DisputeResolution::NodeFavor, DisputeResolution::NoDecision] {
        let (mut f, user, node) = setup();
        let job = f.completed_job(&user, &node, AMOUNT, EPOCHS);
        f.freeze(&job).unwrap();
        let b = f.balances(&job, &user.token, &node.token);
        f.resolve(&job, resolution).expect("verdict");
        assert_eq!(
            f.balances(&job, &user.token, &node.token),
            b,
            "{resolution:?}"
        );
        let e = f.escrow(&job);
        assert_eq!((e.state, e.stake_released), (EscrowState::Completed, true));
        let n = f.node_account(&node.key());
        assert_eq!((n.active_jobs, n.jobs_completed, n.stake), (0, 1, STAKE));
        // Not again, and nothing left to release.
        let ix = f.freeze_ix(&job);
        f.fails(ix, &[], EscrowError::InvalidState);
        let anyone = f.wallet();
        let ix = f.release_ix(&job, &anyone.pubkey());
        f.fails(ix, &[&anyone], EscrowError::InvalidState);
        f.chain.warp(7 * DAY);
        f.close(&job, &anyone).expect("close");
    }
}

// ── cancel ───────────────────────────────────────────────────────────────

#[test]
fn cancel_before_assignment_pays_the_fee_to_the_treasury() {
    let (mut f, user, node) = setup();
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    let ok = f.cancel(&job, &user).expect("cancel");
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            user: b.user + 90 * CYX,
            vault: 0,
            node: b.node,
            staking: b.staking + 4 * CYX,
            development: b.development + 3 * CYX,
            liquidity: b.liquidity + 2 * CYX,
            supply: b.supply - CYX,
            stake_vault: b.stake_vault,
            insurance: b.insurance,
        }
    );
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.finished_at),
        (EscrowState::Cancelled, f.chain.now())
    );
    assert_eq!(
        ok.event::<EscrowCancelled>(),
        EscrowCancelled {
            job_id: job.id,
            refund_amount: 90 * CYX,
            fee: 10 * CYX,
            fee_to_node: false
        }
    );
}

#[test]
fn cancel_after_assignment_pays_the_fee_to_the_node() {
    let (mut f, user, node) = setup();
    let job = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    let node_before = f.node_account(&node.key());
    let ok = f.cancel(&job, &user).expect("cancel");
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            user: b.user + 90 * CYX,
            vault: 0,
            node: b.node + 10 * CYX,
            ..b
        }
    );
    assert_eq!(f.state(&job), EscrowState::Cancelled);
    assert!(ok.event::<EscrowCancelled>().fee_to_node);
    let n = f.node_account(&node.key());
    assert_eq!(
        (n.active_jobs, n.jobs_failed, n.jobs_completed),
        (node_before.active_jobs, 0, 0)
    );
}

#[test]
fn cancel_rejects_wrong_parties_accounts_and_states() {
    let (mut f, user, node) = setup();
    let other_user = f.user(USER_TOKENS);
    let other = f.node(STAKE);
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let signers = [&user.wallet];
    let ix = |a: job_escrow::accounts::Cancel| escrow_ix(a, eix::Cancel {});

    // Not the user.
    for intruder in [&other_user.wallet, &node.wallet] {
        let a = f.cancel_accounts(
            &intruder.pubkey(),
            &locked,
            &intruder_token(&f, intruder),
            None,
        );
        f.fails(ix(a), &[intruder], EscrowError::NotJobUser);
    }
    let coordinator = f.coordinator.insecure_clone();
    let a = f.cancel_accounts(&coordinator.pubkey(), &locked, &user.token, None);
    f.fails(ix(a), &[&coordinator], EscrowError::NotJobUser);

    // Refund into someone else's account or one of another mint.
    let a = f.cancel_accounts(&user.key(), &locked, &other_user.token, None);
    f.fails(ix(a), &signers, EscrowError::WrongTokenOwner);
    let (_, wrong_mint) = f.other_mint_account(&user.key(), 0);
    let a = f.cancel_accounts(&user.key(), &locked, &wrong_mint, None);
    f.fails(ix(a), &signers, EscrowError::WrongMint);
    // Another job's vault.
    let mut a = f.cancel_accounts(&user.key(), &locked, &user.token, None);
    a.vault = assigned.vault;
    f.fails(ix(a), &signers, AnchorErrorCode::ConstraintSeeds);
    // Wrong treasury.
    let mut a = f.cancel_accounts(&user.key(), &locked, &user.token, None);
    a.treasury.development = user.token;
    f.fails(ix(a), &signers, EscrowError::WrongTreasury);

    // Assigned: the node's account is required and must be the assigned node's.
    let a = f.cancel_accounts(&user.key(), &assigned, &user.token, None);
    f.fails(ix(a), &signers, EscrowError::NodeTokenRequired);
    let a = f.cancel_accounts(&user.key(), &assigned, &user.token, Some(other.token));
    f.fails(ix(a), &signers, EscrowError::WrongTokenOwner);
    let (_, node_wrong_mint) = f.other_mint_account(&node.key(), 0);
    let a = f.cancel_accounts(&user.key(), &assigned, &user.token, Some(node_wrong_mint));
    f.fails(ix(a), &signers, EscrowError::WrongMint);

    // Without the user's signature.
    let unsigned = without_signer(f.cancel_ix(&locked), &user.key());
    f.fails(unsigned, &[], AnchorErrorCode::AccountNotSigner);

    // After acceptance, and twice.
    f.accept(&assigned, &node).unwrap();
    let i = f.cancel_ix(&assigned);
    f.fails(i, &signers, EscrowError::InvalidState);
    f.cancel(&locked, &user).unwrap();
    let i = f.cancel_ix(&locked);
    f.fails(i, &signers, EscrowError::InvalidState);
}

fn intruder_token(f: &EscrowEnv, who: &Keypair) -> Pubkey {
    f.token_of(&who.pubkey())
}

// ── refund ───────────────────────────────────────────────────────────────

#[test]
fn refund_settles_by_anchored_progress_for_every_caller() {
    let (mut f, user, _) = setup();
    let coordinator = f.coordinator.insecure_clone();
    for (done, node_share) in [(0, 0), (EPOCHS / 2, AMOUNT / 2), (EPOCHS, AMOUNT)] {
        for caller in ["user", "node", "coordinator"] {
            let node = f.node(STAKE);
            let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
            f.checkpoints(&job, &node, done);
            let b = f.balances(&job, &user.token, &node.token);
            let total_staked = f.config().total_staked;
            let signer = match caller {
                "user" => &user.wallet,
                "node" => &node.wallet,
                _ => &coordinator,
            };
            let ok = f
                .refund(&job, signer)
                .unwrap_or_else(|e| panic!("{caller} at {done}: {e}"));
            assert_eq!(
                f.balances(&job, &user.token, &node.token),
                Balances {
                    user: b.user + AMOUNT - node_share,
                    vault: 0,
                    node: b.node + node_share,
                    ..b
                },
                "{caller} refund at {done}/{EPOCHS}"
            );
            assert_eq!(f.config().total_staked, total_staked);
            let e = f.escrow(&job);
            assert_eq!(
                (e.state, e.finished_at),
                (EscrowState::Refunded, f.chain.now())
            );
            let (reason, failed) = match caller {
                "user" => (RefundReason::UserStopped, 0),
                "node" => (RefundReason::NodeAbandoned, 1),
                _ => (RefundReason::NodeOffline, 1),
            };
            assert_eq!(
                ok.event::<EscrowRefunded>(),
                EscrowRefunded {
                    job_id: job.id,
                    reason,
                    refund_amount: AMOUNT - node_share,
                    node_amount: node_share,
                    epochs_done: done
                }
            );
            let n = f.node_account(&node.key());
            assert_eq!(
                (n.active_jobs, n.jobs_failed, n.jobs_completed, n.stake),
                (0, failed, 1 - failed, STAKE)
            );
        }
    }
}

#[test]
fn refund_rounds_in_the_users_favour() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, 101, 3);
    f.checkpoint(&job, &node, 1).unwrap();
    let b = f.balances(&job, &user.token, &node.token);
    f.refund(&job, &user.wallet).unwrap();
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            user: b.user + 68,
            vault: 0,
            node: b.node + 33,
            ..b
        }
    );
}

#[test]
fn refund_rejects_wrong_callers_accounts_and_states() {
    let (mut f, user, node) = setup();
    let other = f.node(STAKE);
    let other_user = f.user(USER_TOKENS);
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let elsewhere = f.accepted_job(&other_user, &other, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, 2);
    let base = f.refund_accounts(&user.key(), &job, &user.token, &node.token, &node.key());
    let signers = [&user.wallet];

    // Not a party: another user, another node, the admin.
    let admin = f.escrow_admin.insecure_clone();
    for intruder in [&other_user.wallet, &other.wallet, &admin] {
        let ix = escrow_ix(
            f.refund_accounts(
                &intruder.pubkey(),
                &job,
                &user.token,
                &node.token,
                &node.key(),
            ),
            eix::Refund {},
        );
        f.fails(ix, &[intruder], EscrowError::NotRefundParty);
    }
    // Wrong node account (a node from another escrow).
    let mut a = base;
    a.registry.node = node_pda(&other.key());
    f.fails(
        escrow_ix(a, eix::Refund {}),
        &signers,
        EscrowError::WrongNode,
    );
    // Token accounts of the wrong owner or mint.
    let mut a = base;
    a.user_token = other_user.token;
    f.fails(
        escrow_ix(a, eix::Refund {}),
        &signers,
        EscrowError::WrongTokenOwner,
    );
    // One account for both parties: Anchor refuses the duplicate writable account.
    let mut a = base;
    a.node_token = user.token;
    f.fails(
        escrow_ix(a, eix::Refund {}),
        &signers,
        AnchorErrorCode::ConstraintDuplicateMutableAccount,
    );
    let mut a = base;
    a.node_token = other_user.token;
    f.fails(
        escrow_ix(a, eix::Refund {}),
        &signers,
        EscrowError::WrongTokenOwner,
    );
    let (_, wrong_mint) = f.other_mint_account(&user.key(), 0);
    let mut a = base;
    a.user_token = wrong_mint;
    f.fails(
        escrow_ix(a, eix::Refund {}),
        &signers,
        EscrowError::WrongMint,
    );
    // Another job's vault.
    let mut a = base;
    a.vault = elsewhere.vault;
    f.fails(
        escrow_ix(a, eix::Refund {}),
        &signers,
        AnchorErrorCode::ConstraintSeeds,
    );

    // States: Locked (no node: the node account cannot match), Assigned, finished.
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = escrow_ix(
        f.refund_accounts(&user.key(), &locked, &user.token, &node.token, &node.key()),
        eix::Refund {},
    );
    f.fails(ix, &signers, EscrowError::WrongNode);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let ix = f.refund_ix(&assigned, &user.key());
    f.fails(ix, &signers, EscrowError::InvalidState);
    f.refund(&job, &user.wallet).expect("refund");
    let ix = f.refund_ix(&job, &user.key());
    f.fails(ix, &signers, EscrowError::InvalidState);
}

#[test]
fn three_abandoned_jobs_in_a_week_slash_and_suspend_the_node() {
    let (mut f, user, node) = setup();
    let total_before = f.config().total_staked;
    let mut b = None;
    for i in 0..3 {
        let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
        b = Some(f.balances(&job, &user.token, &node.token));
        f.refund(&job, &node.wallet).expect("node abandons");
        if i < 2 {
            assert_eq!(f.node_account(&node.key()).status, NodeStatus::Active);
        }
    }
    let b = b.unwrap();
    // 30 % of 5,000 = 1,500: 1,200 to insurance, 300 burned.
    let n = f.node_account(&node.key());
    assert_eq!(
        (n.status, n.stake, n.jobs_failed, n.active_jobs),
        (NodeStatus::Suspended, 3_500 * CYX, 3, 0)
    );
    assert_eq!(f.balance(&f.insurance), b.insurance + 1_200 * CYX);
    assert_eq!(f.supply(), b.supply - 300 * CYX);
    assert_eq!(f.vault_balance(), b.stake_vault - 1_500 * CYX);
    assert_eq!(f.config().total_staked, total_before - 1_500 * CYX);
    f.assert_conserved();
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let coordinator = f.coordinator.insecure_clone();
    let ix = f.assign_ix(&job, &node.key());
    f.fails(ix, &[&coordinator], RegistryError::NodeSuspended);
}

// ── timeout_refund ───────────────────────────────────────────────────────

#[test]
fn timeout_refund_returns_everything_once_the_timeout_passed() {
    let (mut f, user, node) = setup();
    let anyone = f.wallet();
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let timeout_at = f.escrow(&assigned).timeout_at;

    // One second early.
    let now = f.chain.now();
    f.chain.warp(timeout_at - 1 - now);
    for job in [&locked, &assigned] {
        let ix = f.timeout_refund_ix(job, &anyone.pubkey());
        f.fails(ix, &[&anyone], EscrowError::TimeoutNotReached);
    }
    f.chain.warp(1);
    let node_before = f.node_account(&node.key());
    for job in [&locked, &assigned] {
        let b = f.balances(job, &user.token, &node.token);
        let ok = f.timeout_refund(job, &anyone).expect("timeout refund");
        assert_eq!(
            f.balances(job, &user.token, &node.token),
            Balances {
                user: b.user + AMOUNT,
                vault: 0,
                ..b
            }
        );
        let e = f.escrow(job);
        assert_eq!(
            (e.state, e.finished_at),
            (EscrowState::TimedOut, f.chain.now())
        );
        assert_eq!(
            ok.event::<TimeoutRefunded>(),
            TimeoutRefunded {
                job_id: job.id,
                amount: AMOUNT,
                node_slashed: false
            }
        );
        let ix = f.timeout_refund_ix(job, &anyone.pubkey());
        f.fails(ix, &[&anyone], EscrowError::InvalidState);
    }
    let n = f.node_account(&node.key());
    assert_eq!(
        (n.stake, n.jobs_failed, n.active_jobs),
        (node_before.stake, 0, 0)
    );
}

#[test]
fn timeout_refund_rejects_accepted_jobs_and_wrong_accounts() {
    let (mut f, user, node) = setup();
    let other_user = f.user(USER_TOKENS);
    let anyone = f.wallet();
    let accepted = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let other_job = f.locked_job(&other_user, AMOUNT, EPOCHS);
    f.chain.warp(7 * DAY);
    // An accepted job goes through the slashing variant.
    let ix = f.timeout_refund_ix(&accepted, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    // The refund must go to the user.
    let ix = escrow_ix(
        f.timeout_refund_accounts(&anyone.pubkey(), &locked, &other_user.token),
        eix::TimeoutRefund {},
    );
    f.fails(ix, &[&anyone], EscrowError::WrongTokenOwner);
    let (_, wrong_mint) = f.other_mint_account(&user.key(), 0);
    let ix = escrow_ix(
        f.timeout_refund_accounts(&anyone.pubkey(), &locked, &wrong_mint),
        eix::TimeoutRefund {},
    );
    f.fails(ix, &[&anyone], EscrowError::WrongMint);
    let mut a = f.timeout_refund_accounts(&anyone.pubkey(), &locked, &user.token);
    a.vault = other_job.vault;
    f.fails(
        escrow_ix(a, eix::TimeoutRefund {}),
        &[&anyone],
        AnchorErrorCode::ConstraintSeeds,
    );
}

// ── timeout_refund_with_slash ────────────────────────────────────────────

#[test]
fn timeout_refund_with_slash_slashes_by_the_jobs_tier() {
    // (job amount, tier rate): 10 %, 15 %, 20 %, 25 %.
    for (amount, rate_bps) in [
        (5 * CYX, 1_000u64),
        (10 * CYX, 1_500),
        (AMOUNT, 2_000),
        (500 * CYX, 2_500),
    ] {
        let (mut f, user, node) = setup();
        // Jobs of 200 CYXWIZ and more need a Diamond node.
        f.set_score(&node.key(), 850);
        let anyone = f.wallet();
        let job = f.accepted_job(&user, &node, amount, EPOCHS);
        f.checkpoints(&job, &node, 2);
        let ix = f.timeout_refund_with_slash_ix(&job, &anyone.pubkey());
        f.fails(ix, &[&anyone], EscrowError::TimeoutNotReached);
        f.chain.warp(7 * DAY);
        let b = f.balances(&job, &user.token, &node.token);
        let total_staked = f.config().total_staked;
        let ok = f
            .timeout_refund_with_slash(&job, &anyone)
            .expect("timeout with slash");
        let slash = STAKE * rate_bps / 10_000;
        let insurance = slash * 8 / 10;
        assert_eq!(
            f.balances(&job, &user.token, &node.token),
            Balances {
                user: b.user + amount,
                vault: 0,
                node: b.node,
                stake_vault: b.stake_vault - slash,
                insurance: b.insurance + insurance,
                supply: b.supply - (slash - insurance),
                ..b
            },
            "job of {amount}"
        );
        assert_eq!(f.config().total_staked, total_staked - slash);
        let n = f.node_account(&node.key());
        assert_eq!(
            (n.stake, n.total_slashed, n.active_jobs, n.jobs_failed),
            (STAKE - slash, slash, 0, 1)
        );
        assert_eq!(f.state(&job), EscrowState::TimedOut);
        assert_eq!(
            ok.event::<TimeoutRefunded>(),
            TimeoutRefunded {
                job_id: job.id,
                amount,
                node_slashed: true
            }
        );
        let s = ok.event::<NodeSlashed>();
        assert_eq!(
            (s.reason, s.amount, s.to_insurance, s.burned),
            (SlashReason::Timeout, slash, insurance, slash - insurance)
        );
        f.assert_conserved();
    }
}

#[test]
fn timeout_refund_with_slash_rejects_wrong_states_and_nodes() {
    let (mut f, user, node) = setup();
    let other = f.node(STAKE);
    let anyone = f.wallet();
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let _busy = f.accepted_job(&user, &other, AMOUNT, EPOCHS);
    f.chain.warp(7 * DAY);
    let ix = escrow_ix(
        f.timeout_refund_with_slash_accounts(&anyone.pubkey(), &locked, &user.token, &node.key()),
        eix::TimeoutRefundWithSlash {},
    );
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    let ix = f.timeout_refund_with_slash_ix(&assigned, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    // Slashing a node from another escrow instead.
    let ix = escrow_ix(
        f.timeout_refund_with_slash_accounts(&anyone.pubkey(), &job, &user.token, &other.key()),
        eix::TimeoutRefundWithSlash {},
    );
    f.fails(ix, &[&anyone], EscrowError::WrongNode);
    let ix = escrow_ix(
        f.timeout_refund_with_slash_accounts(&anyone.pubkey(), &job, &other.token, &node.key()),
        eix::TimeoutRefundWithSlash {},
    );
    f.fails(ix, &[&anyone], EscrowError::WrongTokenOwner);
    f.timeout_refund_with_slash(&job, &anyone)
        .expect("the right node");
    let ix = f.timeout_refund_with_slash_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
}

// ── close_escrow ─────────────────────────────────────────────────────────

#[test]
fn close_escrow_returns_both_rents_to_the_user_after_the_grace_period() {
    let (mut f, user, node) = setup();
    let anyone = f.wallet();
    let grace = escrow_params().close_grace_secs;
    let completed = f.completed_job(&user, &node, AMOUNT, 1);
    let cancelled = f.locked_job(&user, AMOUNT, 1);
    f.cancel(&cancelled, &user).unwrap();
    let refunded = f.accepted_job(&user, &node, AMOUNT, 1);
    f.refund(&refunded, &user.wallet).unwrap();
    let timed_out = f.locked_job(&user, AMOUNT, 1);
    let open = f.accepted_job(&user, &node, AMOUNT, 1);
    f.chain.warp(7 * DAY);
    f.timeout_refund(&timed_out, &anyone).unwrap();

    // Before the grace period of the latest one; any open escrow: never.
    let ix = f.close_ix(&timed_out, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::CloseTooEarly);
    f.chain.warp(grace);
    let ix = f.close_ix(&open, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    // Rent to someone else / another job's vault.
    let ix = escrow_ix(
        f.close_escrow_accounts(&anyone.pubkey(), &completed, &anyone.pubkey()),
        eix::CloseEscrow {},
    );
    f.fails(ix, &[&anyone], EscrowError::NotJobUser);
    let mut a = f.close_escrow_accounts(&anyone.pubkey(), &completed, &user.key());
    a.vault = cancelled.vault;
    f.fails(
        escrow_ix(a, eix::CloseEscrow {}),
        &[&anyone],
        AnchorErrorCode::ConstraintSeeds,
    );
    // A completed job's stake hold ends first (its challenge window has passed).
    let ix = f.close_ix(&completed, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::StakeNotReleased);
    f.release(&completed, &anyone).unwrap();

    for job in [completed, cancelled, refunded, timed_out] {
        let rents = f.chain.lamports(&job.escrow) + f.chain.lamports(&job.vault);
        assert!(rents > 0);
        let before = f.chain.lamports(&user.key());
        let tokens = f.balance(&user.token);
        let ok = f.close(&job, &anyone).expect("close");
        assert_eq!(f.chain.lamports(&user.key()), before + rents);
        assert_eq!(f.chain.lamports(&job.escrow), 0);
        assert_eq!(f.chain.lamports(&job.vault), 0);
        assert!(f.try_escrow(&job).is_none());
        assert_eq!(f.balance(&user.token), tokens);
        assert_eq!(
            ok.event::<EscrowClosed>(),
            EscrowClosed {
                job_id: job.id,
                rent_to: user.key()
            }
        );
    }
}

// ── freeze_for_dispute ───────────────────────────────────────────────────

#[test]
fn freeze_for_dispute_holds_the_funds() {
    let (mut f, user, node) = setup();
    let anyone = f.wallet();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&job, &node, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    let ok = f.freeze(&job).expect("freeze");
    assert_eq!(f.state(&job), EscrowState::Disputed);
    assert_eq!(ok.event::<EscrowFrozen>(), EscrowFrozen { job_id: job.id });
    assert_eq!(f.balances(&job, &user.token, &node.token), b);

    // Nothing settles a disputed escrow.
    let ix = f.complete_ix(&job, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);
    let ix = f.refund_ix(&job, &user.key());
    f.fails(ix, &[&user.wallet], EscrowError::InvalidState);
    let ix = f.cancel_ix(&job);
    f.fails(ix, &[&user.wallet], EscrowError::InvalidState);
    let ix = f.checkpoint_ix(&job, &node.key(), EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::InvalidState);
    f.chain.warp(30 * DAY);
    let ix = f.timeout_refund_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    let ix = f.timeout_refund_with_slash_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    let ix = f.close_ix(&job, &anyone.pubkey());
    f.fails(ix, &[&anyone], EscrowError::InvalidState);
    let ix = f.freeze_ix(&job);
    f.fails(ix, &[], EscrowError::InvalidState);
    assert_eq!(f.balances(&job, &user.token, &node.token), b);
}

#[test]
fn freeze_for_dispute_only_by_the_dispute_authority_on_running_jobs() {
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let admin = f.escrow_admin.insecure_clone();
    let coordinator = f.coordinator.insecure_clone();
    for signer in [&admin, &coordinator, &user.wallet] {
        let ix = escrow_ix(
            f.freeze_accounts(&signer.pubkey(), &job),
            eix::FreezeForDispute {},
        );
        f.fails(ix, &[signer], EscrowError::NotDisputeAuthority);
    }
    // Dispute/DAO's governance PDA is not its verdict PDA.
    let inner = escrow_ix(
        f.freeze_accounts(&ids::governance_authority(), &job),
        eix::FreezeForDispute {},
    );
    f.fails(
        via_dispute_dao(AS_GOVERNANCE, inner),
        &[],
        EscrowError::NotDisputeAuthority,
    );
    // Without its signature.
    let ix = without_signer(
        escrow_ix(
            f.freeze_accounts(&ids::dispute_authority(), &job),
            eix::FreezeForDispute {},
        ),
        &ids::dispute_authority(),
    );
    f.fails(ix, &[], AnchorErrorCode::AccountNotSigner);
    // Not running (a paid job within its challenge window can be frozen: see the
    // challenge-window tests; once released it cannot).
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let done = f.completed_job(&user, &node, AMOUNT, 1);
    f.release_after_window(&done);
    for j in [locked, assigned, done] {
        let ix = f.freeze_ix(&j);
        f.fails(ix, &[], EscrowError::InvalidState);
    }
    f.freeze(&job).expect("freeze");
}

// ── pause ────────────────────────────────────────────────────────────────

#[test]
fn pause_blocks_new_work_but_never_exits() {
    let (mut f, user, node) = setup();
    let anyone = f.wallet();
    let coordinator = f.coordinator.insecure_clone();
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let locked2 = f.locked_job(&user, AMOUNT, EPOCHS);
    let assigned = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let assigned2 = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    let running = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let refundable = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let to_slash = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let closable = f.locked_job(&user, AMOUNT, EPOCHS);
    f.cancel(&closable, &user).unwrap();
    f.escrow_set_paused(true).unwrap();

    // Blocked: create, assign, accept, complete.
    let job = f.next_job();
    f.track(job);
    let ix = f.create_escrow_ix(&user, &job, AMOUNT, EPOCHS, 0);
    f.fails(ix, &[&user.wallet], EscrowError::Paused);
    let ix = f.assign_ix(&locked, &node.key());
    f.fails(ix, &[&coordinator], EscrowError::Paused);
    let ix = f.accept_ix(&assigned, &node.key());
    f.fails(ix, &[&node.wallet], EscrowError::Paused);
    f.checkpoints(&running, &node, EPOCHS); // progress is not blocked
    let ix = f.complete_ix(&running, EPOCHS);
    f.fails(ix, &[&node.wallet], EscrowError::Paused);

    // Not blocked: cancel (Locked and Assigned), refund.
    f.cancel(&locked, &user).expect("cancel while paused");
    f.cancel(&assigned, &user)
        .expect("cancel assigned while paused");
    f.refund(&refundable, &user.wallet)
        .expect("refund while paused");
    // ...timeout refunds (with and without slash) and close.
    f.chain.warp(7 * DAY);
    f.timeout_refund(&locked2, &anyone)
        .expect("timeout refund while paused");
    f.timeout_refund(&assigned2, &anyone)
        .expect("timeout refund (assigned) while paused");
    f.timeout_refund_with_slash(&to_slash, &anyone)
        .expect("timeout slash while paused");
    f.close(&closable, &anyone).expect("close while paused");
    for (j, s) in [
        (locked, EscrowState::Cancelled),
        (assigned, EscrowState::Cancelled),
        (refundable, EscrowState::Refunded),
        (locked2, EscrowState::TimedOut),
        (assigned2, EscrowState::TimedOut),
        (to_slash, EscrowState::TimedOut),
    ] {
        assert_eq!(f.state(&j), s);
    }
    f.assert_vaults_match();

    // Unpaused, work resumes.
    f.escrow_set_paused(false).unwrap();
    f.heartbeat_node(&node);
    f.completed_job(&user, &node, AMOUNT, 1);
}

// ── deploy: the CYXWIZ token ─────────────────────────────────────────────

#[test]
fn deploy_token_plan_mints_the_fixed_supply_and_revokes_the_authority() {
    for token_program in [kit::TOKEN_PROGRAM, kit::TOKEN_2022_PROGRAM] {
        let mut chain = TestChain::new(&programs());
        let authority = Keypair::new();
        let owners: [Pubkey; 5] = std::array::from_fn(|_| Pubkey::new_unique());
        let rent = token::Rent {
            mint: chain.svm.minimum_balance_for_rent_exemption(82),
            token_account: chain.svm.minimum_balance_for_rent_exemption(165),
        };
        let payer = chain.payer.pubkey();
        let (steps, deployment) =
            token::plan(&payer, &authority, &owners, &token_program, rent).expect("plan");
        for step in &steps {
            let signers: Vec<&Keypair> = step.signers.iter().collect();
            chain
                .send(&step.instructions, &signers)
                .unwrap_or_else(|e| panic!("{}: {e}", step.label));
        }
        assert_eq!(TOTAL_SUPPLY, 1_000_000_000 * 1_000_000_000);
        assert_eq!(chain.mint_supply(&deployment.mint), TOTAL_SUPPLY);
        assert_eq!(chain.owner_of(&deployment.mint), token_program);
        let expected = [3_000u64, 2_500, 2_000, 1_500, 1_000];
        assert_eq!(deployment.distribution.len(), 5);
        let mut sum = 0;
        for ((name, owner, account, amount), (bps, want_owner)) in deployment
            .distribution
            .iter()
            .zip(expected.iter().zip(owners.iter()))
        {
            assert_eq!(*amount, TOTAL_SUPPLY / 10_000 * bps, "{name}");
            assert_eq!(chain.token_balance(account), *amount, "{name}");
            assert_eq!(owner, want_owner);
            let data = chain.account(account).unwrap().data;
            assert_eq!(
                &data[32..64],
                want_owner.as_ref(),
                "{name} token account owner"
            );
            sum += amount;
        }
        assert_eq!(sum, TOTAL_SUPPLY);
        // Mint authority: COption::None.
        let mint = chain.account(&deployment.mint).unwrap();
        assert_eq!(&mint.data[..4], &[0, 0, 0, 0], "mint authority revoked");
        // Nobody can mint more, not even the former authority.
        let target = deployment.distribution[0].2;
        let ix = token_ix::mint_to(
            &token_program,
            &deployment.mint,
            &target,
            &authority.pubkey(),
            &[],
            1,
        )
        .unwrap();
        let err = chain.send(&[ix], &[&authority]).unwrap_err();
        assert_eq!(
            err.custom_code(),
            Some(token_error(TokenError::FixedSupply)),
            "{err}"
        );
        assert_eq!(chain.mint_supply(&deployment.mint), TOTAL_SUPPLY);
    }
}

// ── Token-2022 ───────────────────────────────────────────────────────────

#[test]
fn token_2022_mint_runs_the_whole_lifecycle() {
    let mut f = EscrowEnv::new_with(kit::TOKEN_2022_PROGRAM, insecure_test_proof);
    assert_eq!(f.chain.owner_of(&f.mint), kit::TOKEN_2022_PROGRAM);
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    let anyone = f.wallet();
    let initial = f.supply();

    // Completed: 90/10 and the fee split, burn included.
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    assert_eq!(f.chain.owner_of(&job.vault), kit::TOKEN_2022_PROGRAM);
    f.checkpoints(&job, &node, EPOCHS);
    let b = f.balances(&job, &user.token, &node.token);
    f.complete(&job, &node, EPOCHS).unwrap();
    assert_eq!(
        f.balances(&job, &user.token, &node.token),
        Balances {
            vault: 0,
            node: b.node + 90 * CYX,
            staking: b.staking + 4 * CYX,
            development: b.development + 3 * CYX,
            liquidity: b.liquidity + 2 * CYX,
            supply: b.supply - CYX,
            ..b
        }
    );
    // Cancelled before assignment, refunded at half progress, timed out with a slash.
    let cancelled = f.locked_job(&user, AMOUNT, EPOCHS);
    f.cancel(&cancelled, &user).unwrap();
    let refunded = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.checkpoints(&refunded, &node, EPOCHS / 2);
    let b = f.balances(&refunded, &user.token, &node.token);
    f.refund(&refunded, &user.wallet).unwrap();
    assert_eq!(
        f.balances(&refunded, &user.token, &node.token),
        Balances {
            user: b.user + AMOUNT / 2,
            vault: 0,
            node: b.node + AMOUNT / 2,
            ..b
        }
    );
    let slashed = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    f.chain.warp(7 * DAY);
    let b = f.balances(&slashed, &user.token, &node.token);
    f.timeout_refund_with_slash(&slashed, &anyone).unwrap();
    let slash = STAKE / 5;
    assert_eq!(
        f.balances(&slashed, &user.token, &node.token),
        Balances {
            user: b.user + AMOUNT,
            vault: 0,
            stake_vault: b.stake_vault - slash,
            insurance: b.insurance + slash * 4 / 5,
            supply: b.supply - slash / 5,
            ..b
        }
    );
    f.chain.warp(escrow_params().close_grace_secs);
    f.release(&job, &anyone)
        .expect("release the paid job's stake");
    for j in [job, cancelled, refunded, slashed] {
        f.close(&j, &anyone).expect("close a Token-2022 vault");
    }
    f.assert_conserved();
    f.assert_tokens_conserved(initial);
    assert_eq!(f.node_account(&node.key()).active_jobs, 0);
}

// ── misc ─────────────────────────────────────────────────────────────────

#[test]
fn proofs_from_the_test_verifier_bind_every_field() {
    let s = ProofStatement {
        job_id: [1; 16],
        merkle_root: [2; 32],
        final_weights_hash: [3; 32],
        epochs: 4,
        anchored_root: [0; 32],
        anchored_epochs: 0,
    };
    let p = insecure_test_proof(&s);
    assert_eq!(p, insecure_test_proof(&s));
    for other in [
        ProofStatement {
            job_id: [9; 16],
            ..s
        },
        ProofStatement {
            merkle_root: [9; 32],
            ..s
        },
        ProofStatement {
            final_weights_hash: [9; 32],
            ..s
        },
        ProofStatement { epochs: 5, ..s },
    ] {
        assert_ne!(insecure_test_proof(&other), p);
    }
}

#[test]
fn resolve_dispute_settles_by_each_verdict() {
    use job_escrow::{DisputeResolution, events::DisputeSettled};
    // (verdict, user gets, node gets, fee, escrow state, node failure counted)
    let cases = [
        (
            DisputeResolution::UserFavor,
            AMOUNT,
            0,
            0,
            EscrowState::Refunded,
            1,
        ),
        (
            DisputeResolution::NodeFavor,
            0,
            90 * CYX,
            10 * CYX,
            EscrowState::Completed,
            0,
        ),
        // 1 of 4 epochs anchored: the node is paid a quarter, no fee.
        (
            DisputeResolution::NoDecision,
            75 * CYX,
            25 * CYX,
            0,
            EscrowState::Refunded,
            0,
        ),
    ];
    for (resolution, to_user, to_node, fee, state, failed) in cases {
        let (mut f, user, node) = setup();
        let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
        f.checkpoints(&job, &node, 1);
        f.freeze(&job).expect("freeze");
        let b = f.balances(&job, &user.token, &node.token);
        let stake = f.node_account(&node.key()).stake;
        let ok = f.resolve(&job, resolution).expect("resolve");
        let a = f.balances(&job, &user.token, &node.token);
        assert_eq!(a.user, b.user + to_user, "{resolution:?}");
        assert_eq!(a.node, b.node + to_node, "{resolution:?}");
        assert_eq!(a.vault, 0);
        assert_eq!(
            (a.staking - b.staking)
                + (a.development - b.development)
                + (a.liquidity - b.liquidity)
                + (b.supply - a.supply),
            fee,
            "{resolution:?}"
        );
        assert_eq!(f.state(&job), state);
        let n = f.node_account(&node.key());
        // The escrow never slashes on a verdict: Dispute/DAO does, through NodeRegistry.
        assert_eq!((n.stake, n.active_jobs, n.jobs_failed), (stake, 0, failed));
        assert_eq!(
            ok.event::<DisputeSettled>(),
            DisputeSettled {
                job_id: job.id,
                resolution,
                to_user,
                to_node,
                platform_fee: fee,
            }
        );
        // Settled once: a second verdict is refused.
        let ix = f.resolve_ix(&job, resolution);
        f.fails(ix, &[], EscrowError::InvalidState);
    }
}

#[test]
fn resolve_dispute_needs_the_dispute_authority_a_frozen_escrow_and_the_parties_accounts() {
    use job_escrow::DisputeResolution;
    let (mut f, user, node) = setup();
    let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    // Not frozen yet.
    let ix = f.resolve_ix(&job, DisputeResolution::UserFavor);
    f.fails(ix, &[], EscrowError::InvalidState);
    f.freeze(&job).expect("freeze");
    // Other signers, and the governance PDA.
    let coordinator = f.coordinator.insecure_clone();
    for signer in [&coordinator, &user.wallet] {
        let ix = escrow_ix(
            f.resolve_dispute_accounts(&signer.pubkey(), &job),
            eix::ResolveDispute {
                resolution: DisputeResolution::UserFavor,
            },
        );
        f.fails(ix, &[signer], EscrowError::NotDisputeAuthority);
    }
    let inner = escrow_ix(
        f.resolve_dispute_accounts(&ids::governance_authority(), &job),
        eix::ResolveDispute {
            resolution: DisputeResolution::UserFavor,
        },
    );
    f.fails(
        via_dispute_dao(AS_GOVERNANCE, inner),
        &[],
        EscrowError::NotDisputeAuthority,
    );
    // The refund must go to the job's user and the pay to its node.
    let stranger = f.user(0);
    let mut a = f.resolve_dispute_accounts(&ids::dispute_authority(), &job);
    a.user_token = stranger.token;
    let ix = via_dispute_dao(
        AS_DISPUTE_AUTHORITY,
        escrow_ix(
            a,
            eix::ResolveDispute {
                resolution: DisputeResolution::UserFavor,
            },
        ),
    );
    f.fails(ix, &[], EscrowError::WrongTokenOwner);
    let mut a = f.resolve_dispute_accounts(&ids::dispute_authority(), &job);
    a.node_token = stranger.token;
    let ix = via_dispute_dao(
        AS_DISPUTE_AUTHORITY,
        escrow_ix(
            a,
            eix::ResolveDispute {
                resolution: DisputeResolution::NodeFavor,
            },
        ),
    );
    f.fails(ix, &[], EscrowError::WrongTokenOwner);
    // Another node's reputation cannot set the fee.
    let other = f.node(STAKE);
    f.set_score(&other.key(), 900);
    let mut a = f.resolve_dispute_accounts(&ids::dispute_authority(), &job);
    a.reputation = f.reputation_view(&other.key());
    let ix = via_dispute_dao(
        AS_DISPUTE_AUTHORITY,
        escrow_ix(
            a,
            eix::ResolveDispute {
                resolution: DisputeResolution::NodeFavor,
            },
        ),
    );
    f.fails(ix, &[], EscrowError::WrongReputation);
}
