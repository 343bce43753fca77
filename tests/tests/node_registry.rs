//! NodeRegistry on the native SVM: every instruction's happy path (state, token balances
//! and events after the CPIs) and its failure paths (exact error code, nothing moved).

use anchor_lang::{InstructionData, error::ErrorCode as AnchorError, prelude::Pubkey};
use cyxwiz_common::{
    ids,
    units::{DAY, DECIMALS, ONE_CYXWIZ},
};
use cyxwiz_program_tests::*;
use node_registry::{
    Capabilities, JobOutcome, NodeStatus, RegistryError, RegistryParams, SlashReason,
    constants::default_params, events, instruction as rix,
};
use solana_instruction::{Instruction, error::InstructionError};
use solana_keypair::Keypair;
use solana_signer::Signer;

/// The smallest stake a node may register with (tier 0 of the defaults).
const MIN: u64 = 50 * ONE_CYXWIZ;
/// SPL Token's `TokenError::InsufficientFunds`.
const TOKEN_INSUFFICIENT_FUNDS: u32 = 1;
/// The system program's `SystemError::AccountAlreadyInUse`.
const SYSTEM_ACCOUNT_ALREADY_IN_USE: u32 = 0;

const ALL_REASONS: [SlashReason; 4] = [
    SlashReason::Timeout,
    SlashReason::InvalidProof,
    SlashReason::Fraud,
    SlashReason::RepeatedFailures,
];
const ALL_OUTCOMES: [JobOutcome; 5] = [
    JobOutcome::Completed,
    JobOutcome::StoppedByUser,
    JobOutcome::Failed,
    JobOutcome::TimedOut,
    JobOutcome::InvalidProof,
];

/// Sends `ix`, asserts it fails with exactly `err`, and that no balance, stake, node or
/// config byte changed.
#[track_caller]
fn assert_fails(
    env: &mut Env,
    ix: Instruction,
    signers: &[&Keypair],
    err: impl Into<anchor_lang::error::Error>,
) {
    let before = env.snapshot();
    let result = env.send(ix, signers);
    assert_anchor_err(result, err);
    assert_eq!(env.snapshot(), before, "a failed transaction changed state");
    env.assert_conserved();
}

/// Like [`assert_fails`] for runtime / token-program errors.
#[track_caller]
fn assert_fails_ix(env: &mut Env, ix: Instruction, signers: &[&Keypair], err: InstructionError) {
    let before = env.snapshot();
    let result = env.send(ix, signers);
    assert_ix_err(result, err);
    assert_eq!(env.snapshot(), before, "a failed transaction changed state");
    env.assert_conserved();
}

/// `amount * bps / 10_000`, rounded down.
fn bps(amount: u64, bps: u16) -> u64 {
    (u128::from(amount) * u128::from(bps) / 10_000) as u64
}

fn admin(env: &Env) -> Keypair {
    env.admin.insecure_clone()
}

// ═════════════════════════════ initialize ═════════════════════════════

#[test]
fn initialize_creates_config_and_a_vault_owned_by_the_config() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let deployer = env.deployer.insecure_clone();
    let ok = env
        .send(env.initialize_ix(default_params()), &[&deployer])
        .unwrap();

    let config = env.config();
    assert_eq!(config.admin, env.admin.pubkey());
    assert_eq!(config.governance, ids::governance_authority());
    assert_eq!(config.escrow_authority, ids::escrow_authority());
    assert_eq!(config.dispute_authority, ids::dispute_authority());
    assert_eq!(config.stake_mint, env.mint);
    assert_eq!(config.stake_vault, vault_pda());
    assert_eq!(config.insurance_vault, env.insurance);
    assert_eq!(config.params, default_params());
    assert_eq!(
        (config.total_staked, config.node_count, config.paused),
        (0, 0, false)
    );
    let (_, bump) = Pubkey::find_program_address(&[b"registry-config"], &node_registry::ID);
    let (_, vault_bump) = Pubkey::find_program_address(&[b"stake-vault"], &node_registry::ID);
    assert_eq!((config.bump, config.vault_bump), (bump, vault_bump));

    // The vault is a token account of the stake mint whose authority is the config PDA.
    let vault = env.chain.account(&vault_pda()).unwrap();
    assert_eq!(vault.owner, kit::TOKEN_PROGRAM);
    assert_eq!(&vault.data[0..32], env.mint.as_ref());
    assert_eq!(&vault.data[32..64], config_pda().as_ref());
    assert_eq!(env.vault_balance(), 0);

    let ev = ok.event::<events::RegistryInitialized>();
    assert_eq!(ev.admin, env.admin.pubkey());
    assert_eq!(ev.stake_mint, env.mint);
    assert_eq!(ev.params, default_params());
}

#[test]
fn initialize_by_anyone_but_the_deployer_fails_with_not_deployer() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let attacker = env.wallet();
    let mut accounts = env.initialize_accounts();
    accounts.deployer = attacker.pubkey();
    accounts.admin = attacker.pubkey();
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&attacker],
    );
    assert_anchor_err(result, RegistryError::NotDeployer);
    assert!(env.chain.account(&config_pda()).is_none());
    assert!(env.chain.account(&vault_pda()).is_none());
}

#[test]
fn initialize_with_invalid_params_fails_and_creates_nothing() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let deployer = env.deployer.insecure_clone();
    let mut params = default_params();
    params.insurance_bps = 10_001;
    let result = env.send(env.initialize_ix(params), &[&deployer]);
    assert_anchor_err(result, RegistryError::InvalidParams);
    assert!(env.chain.account(&config_pda()).is_none());
}

#[test]
fn initialize_twice_fails_and_keeps_the_first_config() {
    let mut env = Env::new();
    let deployer = env.deployer.insecure_clone();
    let mut accounts = env.initialize_accounts();
    accounts.admin = deployer.pubkey();
    let before = env.snapshot();
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&deployer],
    );
    assert_ix_err(
        result,
        InstructionError::Custom(SYSTEM_ACCOUNT_ALREADY_IN_USE),
    );
    assert_eq!(env.snapshot(), before);
    assert_eq!(env.config().admin, env.admin.pubkey());
}

#[test]
fn initialize_at_a_non_pda_config_or_vault_fails_with_constraint_seeds() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let deployer = env.deployer.insecure_clone();

    let mut accounts = env.initialize_accounts();
    accounts.config = Pubkey::new_unique();
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&deployer],
    );
    assert_anchor_err(result, AnchorError::ConstraintSeeds);

    let mut accounts = env.initialize_accounts();
    accounts.stake_vault = Pubkey::new_unique();
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&deployer],
    );
    assert_anchor_err(result, AnchorError::ConstraintSeeds);
    assert!(env.chain.account(&config_pda()).is_none());
    assert!(env.chain.account(&vault_pda()).is_none());
}

#[test]
fn initialize_with_an_insurance_account_of_another_mint_fails() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let deployer = env.deployer.insecure_clone();
    let owner = Pubkey::new_unique();
    let (_, other) = env.other_mint_account(&owner, 0);
    let mut accounts = env.initialize_accounts();
    accounts.insurance_vault = other;
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&deployer],
    );
    assert_anchor_err(result, AnchorError::ConstraintTokenMint);
    assert!(env.chain.account(&config_pda()).is_none());
}

#[test]
fn initialize_with_a_token_program_not_owning_the_mint_fails() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let deployer = env.deployer.insecure_clone();
    let mut accounts = env.initialize_accounts();
    accounts.token_program = kit::TOKEN_2022_PROGRAM;
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&deployer],
    );
    // Anchor creates `init` accounts before checking the other fields' constraints, so the
    // vault's InitializeAccount3 CPI is what refuses first: Token-2022 does not own the
    // mint. The whole transaction (config included) is rolled back.
    assert_ix_err(result, InstructionError::IncorrectProgramId);
    assert!(env.chain.account(&config_pda()).is_none());
    assert!(env.chain.account(&vault_pda()).is_none());
}

// ═════════════════════════════ update_params ═════════════════════════════

#[test]
fn update_params_by_admin_replaces_params_and_emits_event() {
    let mut env = Env::new();
    let admin = admin(&env);
    let mut params = default_params();
    params.unstake_cooldown_secs = 21 * DAY;
    params.fraud_slash_bps = 10_000;
    let ok = env.update_params(&admin, params).unwrap();
    assert_eq!(env.config().params, params);
    let ev = ok.event::<events::RegistryParamsUpdated>();
    assert_eq!((ev.by, ev.params), (admin.pubkey(), params));
}

#[test]
fn update_params_by_non_admin_fails_with_not_admin_or_governance() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let attacker = env.wallet();
    let mut params = default_params();
    params.fraud_slash_bps = 0;
    for signer in [&attacker, &op.wallet, &env.deployer.insecure_clone()] {
        let ix = env.update_params_ix(&signer.pubkey(), params);
        assert_fails(&mut env, ix, &[signer], RegistryError::NotAdminOrGovernance);
    }
    assert_eq!(env.config().params, default_params());
}

#[test]
fn update_params_without_the_admin_signature_fails_with_account_not_signer() {
    let mut env = Env::new();
    let ix = without_signer(
        env.update_params_ix(&env.admin.pubkey(), default_params()),
        &env.admin.pubkey(),
    );
    assert_fails(&mut env, ix, &[], AnchorError::AccountNotSigner);
}

#[test]
fn update_params_rejects_every_out_of_range_parameter() {
    let mut env = Env::new();
    let admin = admin(&env);
    type Mutation = (&'static str, fn(&mut RegistryParams));
    let mutations: Vec<Mutation> = vec![
        ("invalid_proof_slash_bps > 100%", |p| {
            p.invalid_proof_slash_bps = 10_001
        }),
        ("fraud_slash_bps > 100%", |p| p.fraud_slash_bps = 10_001),
        ("repeated_failure_slash_bps > 100%", |p| {
            p.repeated_failure_slash_bps = u16::MAX
        }),
        ("insurance_bps > 100%", |p| p.insurance_bps = 10_001),
        ("tier failure_slash_bps > 100%", |p| {
            p.stake_tiers[2].failure_slash_bps = 10_001
        }),
        ("min_lock_secs = 0", |p| p.min_lock_secs = 0),
        ("lock_per_job_secs < 0", |p| p.lock_per_job_secs = -1),
        ("unstake_cooldown_secs = 0", |p| p.unstake_cooldown_secs = 0),
        ("heartbeat_max_age_secs = 0", |p| {
            p.heartbeat_max_age_secs = 0
        }),
        ("repeated_failure_window_secs = 0", |p| {
            p.repeated_failure_window_secs = 0
        }),
        ("suspension_secs < 0", |p| p.suspension_secs = i64::MIN),
        ("tiers not ascending by job amount", |p| {
            p.stake_tiers[1].max_job_amount = p.stake_tiers[0].max_job_amount
        }),
        ("tiers not ascending by min stake", |p| {
            p.stake_tiers[2].min_stake = p.stake_tiers[1].min_stake - 1
        }),
        ("first tier min stake 0", |p| p.stake_tiers[0].min_stake = 0),
        ("last tier does not cover u64::MAX", |p| {
            p.stake_tiers[3].max_job_amount = u64::MAX - 1
        }),
        ("repeated_failure_count = 0", |p| {
            p.repeated_failure_count = 0
        }),
        ("repeated_failure_count > window", |p| {
            p.repeated_failure_count = 9
        }),
    ];
    for (what, mutate) in mutations {
        let mut params = default_params();
        mutate(&mut params);
        let before = env.snapshot();
        let result = env.update_params(&admin, params);
        assert!(result.is_err(), "{what} was accepted");
        assert_anchor_err(result, RegistryError::InvalidParams);
        assert_eq!(env.snapshot(), before, "{what}");
    }
    // The boundaries themselves are accepted.
    let mut params = default_params();
    params.fraud_slash_bps = 10_000;
    params.repeated_failure_count = 8;
    env.update_params(&admin, params).unwrap();
}

#[test]
fn update_params_on_a_forged_config_fails_with_constraint_seeds() {
    let mut env = Env::new();
    let attacker = env.wallet();
    let forged = env.forge_config(|c| c.admin = attacker.pubkey());
    let mut accounts = env.update_config_accounts(&attacker.pubkey());
    accounts.config = forged;
    let ix = registry_ix(
        accounts,
        rix::UpdateParams {
            params: default_params(),
        },
    );
    assert_fails(&mut env, ix, &[&attacker], AnchorError::ConstraintSeeds);
}

// ═════════════════════════════ set_admin ═════════════════════════════

#[test]
fn set_admin_hands_admin_rights_to_the_new_key() {
    let mut env = Env::new();
    let old = admin(&env);
    let new = env.wallet();
    env.set_admin(&old, new.pubkey()).unwrap();
    assert_eq!(env.config().admin, new.pubkey());
    let ix = env.set_paused_ix(&old.pubkey(), true);
    assert_fails(&mut env, ix, &[&old], RegistryError::NotAdmin);
    env.set_paused(&new, true).unwrap();
    assert!(env.config().paused);
}

#[test]
fn set_admin_by_non_admin_fails_with_not_admin_or_governance() {
    let mut env = Env::new();
    let attacker = env.wallet();
    let ix = env.set_admin_ix(&attacker.pubkey(), attacker.pubkey());
    assert_fails(
        &mut env,
        ix,
        &[&attacker],
        RegistryError::NotAdminOrGovernance,
    );
    assert_eq!(env.config().admin, env.admin.pubkey());
}

#[test]
fn set_admin_to_the_default_pubkey_fails_with_invalid_params() {
    let mut env = Env::new();
    let admin = admin(&env);
    let ix = env.set_admin_ix(&admin.pubkey(), Pubkey::default());
    assert_fails(&mut env, ix, &[&admin], RegistryError::InvalidParams);
}

// ═════════════════════════════ set_insurance_vault ═════════════════════════════

#[test]
fn set_insurance_vault_redirects_the_insurance_share_of_slashes() {
    let mut env = Env::new();
    let admin = admin(&env);
    let op = env.registered(1_000 * ONE_CYXWIZ, 1_000 * ONE_CYXWIZ);
    let new_pool = env.fund_tokens(&Pubkey::new_unique(), 0);
    env.set_insurance_vault(&admin, &new_pool).unwrap();
    assert_eq!(env.config().insurance_vault, new_pool);

    env.admin_slash(&op.key(), SlashReason::InvalidProof)
        .unwrap();
    let slashed = bps(1_000 * ONE_CYXWIZ, default_params().invalid_proof_slash_bps);
    assert_eq!(env.balance(&new_pool), bps(slashed, 8_000));
    assert_eq!(env.balance(&env.insurance), 0);
    env.assert_conserved();

    // The old pool is no longer accepted by slash.
    let mut accounts = env.slash_accounts(&admin.pubkey(), &op.key());
    accounts.insurance_vault = env.insurance;
    let ix = registry_ix(
        accounts,
        rix::Slash {
            reason: SlashReason::Timeout,
        },
    );
    assert_fails(&mut env, ix, &[&admin], RegistryError::WrongVault);
}

#[test]
fn set_insurance_vault_by_non_admin_fails_with_not_admin_or_governance() {
    let mut env = Env::new();
    let attacker = env.wallet();
    let theirs = env.fund_tokens(&attacker.pubkey(), 0);
    let ix = env.set_insurance_vault_ix(&attacker.pubkey(), &theirs);
    assert_fails(
        &mut env,
        ix,
        &[&attacker],
        RegistryError::NotAdminOrGovernance,
    );
    assert_eq!(env.config().insurance_vault, env.insurance);
}

#[test]
fn set_insurance_vault_of_another_mint_fails_with_constraint_token_mint() {
    let mut env = Env::new();
    let admin = admin(&env);
    let (_, other) = env.other_mint_account(&Pubkey::new_unique(), 0);
    let ix = env.set_insurance_vault_ix(&admin.pubkey(), &other);
    assert_fails(&mut env, ix, &[&admin], AnchorError::ConstraintTokenMint);
}

#[test]
fn set_insurance_vault_to_the_stake_vault_fails_with_wrong_vault() {
    // Otherwise slashes would "transfer" from the vault to itself (total_staked would drop
    // below the vault balance) or, with Anchor's duplicate-mutable-account check, every
    // slash and every job release would fail.
    let mut env = Env::new();
    let admin = admin(&env);
    let ix = env.set_insurance_vault_ix(&admin.pubkey(), &vault_pda());
    assert_fails(&mut env, ix, &[&admin], RegistryError::WrongVault);
}

// ═════════════════════════════ set_paused ═════════════════════════════

#[test]
fn pause_blocks_registration_and_top_ups_but_not_withdrawals_slashes_or_heartbeats() {
    let mut env = Env::new();
    let admin = admin(&env);
    let staker = env.registered(2 * MIN, MIN);
    let leaver = env.registered(MIN, MIN);
    let newcomer = env.operator(MIN);
    env.ready_to_withdraw(&leaver);

    env.set_paused(&admin, true).unwrap();
    assert!(env.config().paused);

    let ix = env.register_node_ix(&newcomer, MIN);
    assert_fails(&mut env, ix, &[&newcomer.wallet], RegistryError::Paused);
    let ix = env.stake_more_ix(&staker, MIN);
    assert_fails(&mut env, ix, &[&staker.wallet], RegistryError::Paused);

    env.heartbeat(&staker).unwrap();
    env.admin_slash(&staker.key(), SlashReason::Timeout)
        .unwrap();
    env.withdraw(&leaver).unwrap();
    assert_eq!(env.balance(&leaver.token), MIN);
    env.assert_conserved();

    env.set_paused(&admin, false).unwrap();
    assert!(!env.config().paused);
    env.register_node(&newcomer, MIN).unwrap();
    env.stake_more(&staker, MIN).unwrap();
    env.assert_conserved();
}

#[test]
fn set_paused_by_anyone_but_the_admin_fails_with_not_admin() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let attacker = env.wallet();
    for signer in [&attacker, &op.wallet] {
        let ix = env.set_paused_ix(&signer.pubkey(), true);
        assert_fails(&mut env, ix, &[signer], RegistryError::NotAdmin);
    }
    assert!(!env.config().paused);
}

// ═════════════════════════════ slash ═════════════════════════════

#[test]
fn admin_fraud_slash_takes_half_sends_80_percent_to_insurance_burns_20_and_bans() {
    let mut env = Env::new();
    let stake = 1_000 * ONE_CYXWIZ + 7;
    let op = env.registered(stake, stake);
    let supply = env.supply();

    let ok = env.admin_slash(&op.key(), SlashReason::Fraud).unwrap();

    let slashed = bps(stake, 5_000);
    let to_insurance = bps(slashed, 8_000);
    let burned = slashed - to_insurance;
    assert_eq!(env.balance(&env.insurance), to_insurance);
    assert_eq!(env.supply(), supply - burned);
    assert_eq!(env.vault_balance(), stake - slashed);
    let node = env.node(&op.key()).unwrap();
    assert_eq!(node.stake, stake - slashed);
    assert_eq!(node.total_slashed, slashed);
    assert_eq!(node.status, NodeStatus::Banned);
    assert_eq!(env.config().total_staked, stake - slashed);

    let ev = ok.event::<events::NodeSlashed>();
    assert_eq!(
        ev,
        events::NodeSlashed {
            node: op.node(),
            reason: SlashReason::Fraud,
            amount: slashed,
            to_insurance,
            burned,
            remaining_stake: stake - slashed,
        }
    );
    assert_eq!(ok.event::<events::NodeBanned>().node, op.node());
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn banned_node_cannot_stake_more_heartbeat_or_update_capabilities() {
    let mut env = Env::new();
    let op = env.registered(3 * MIN, 2 * MIN);
    env.admin_slash(&op.key(), SlashReason::Fraud).unwrap();

    let ix = env.stake_more_ix(&op, MIN);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeBanned);
    let ix = env.heartbeat_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeBanned);
    let ix = env.update_capabilities_ix(&op.key(), Capabilities::default());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeBanned);
}

#[test]
fn banned_node_withdraws_the_remainder_and_stays_as_a_tombstone() {
    let mut env = Env::new();
    let stake = 100 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    env.admin_slash(&op.key(), SlashReason::Fraud).unwrap();
    let remaining = stake - bps(stake, 5_000);

    // Still locked: the ban does not shorten the lock.
    let ix = env.request_unstake_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::StakeLocked);

    env.start_unstake(&op);
    let ix = env.withdraw_ix(&op);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::CooldownActive);
    env.chain.warp(14 * DAY);
    let lamports = env.chain.lamports(&op.key());
    let ok = env.withdraw(&op).unwrap();

    assert_eq!(env.balance(&op.token), remaining);
    assert_eq!(env.vault_balance(), 0);
    let ev = ok.event::<events::StakeWithdrawn>();
    assert_eq!((ev.amount, ev.closed), (remaining, false));
    // The account stays (no rent refund), emptied, still banned and still counted.
    assert_eq!(env.chain.lamports(&op.key()), lamports);
    let node = env.node(&op.key()).expect("tombstone kept");
    assert_eq!(
        (node.stake, node.status, node.unstake_requested_at),
        (0, NodeStatus::Banned, 0)
    );
    assert_eq!(env.config().node_count, 1);
    env.assert_conserved();

    // The wallet cannot register again, and there is nothing left to slash.
    let more = env.fund_tokens(&op.key(), MIN);
    let again = Operator {
        wallet: op.wallet.insecure_clone(),
        token: more,
    };
    let ix = env.register_node_ix(&again, MIN);
    assert_fails_ix(
        &mut env,
        ix,
        &[&op.wallet],
        InstructionError::Custom(SYSTEM_ACCOUNT_ALREADY_IN_USE),
    );
    let admin = admin(&env);
    let ix = env.slash_ix(&admin.pubkey(), &op.key(), SlashReason::Fraud);
    assert_fails(&mut env, ix, &[&admin], RegistryError::NothingToSlash);
}

#[test]
fn fraud_ban_is_not_lifted_by_a_later_repeated_failures_slash() {
    let mut env = Env::new();
    let stake = 200 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    env.admin_slash(&op.key(), SlashReason::Fraud).unwrap();
    env.admin_slash(&op.key(), SlashReason::RepeatedFailures)
        .unwrap();
    assert_eq!(env.node(&op.key()).unwrap().status, NodeStatus::Banned);

    // Long after the suspension would have ended the node is still banned, and a
    // withdrawal keeps the tombstone.
    env.chain.warp(60 * DAY);
    let ix = env.heartbeat_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeBanned);
    env.ready_to_withdraw(&op);
    env.withdraw(&op).unwrap();
    assert_eq!(env.node(&op.key()).unwrap().status, NodeStatus::Banned);
    env.assert_conserved();
}

#[test]
fn admin_timeout_slash_uses_the_top_tier_rate_and_keeps_the_node_active() {
    let mut env = Env::new();
    let stake = 5_000 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    let supply = env.supply();
    let ok = env.admin_slash(&op.key(), SlashReason::Timeout).unwrap();
    let slashed = bps(stake, default_params().stake_tiers[3].failure_slash_bps);
    assert_eq!(slashed, 1_250 * ONE_CYXWIZ);
    let node = env.node(&op.key()).unwrap();
    assert_eq!(
        (node.stake, node.status),
        (stake - slashed, NodeStatus::Active)
    );
    assert_eq!(env.balance(&env.insurance), 1_000 * ONE_CYXWIZ);
    assert_eq!(env.supply(), supply - 250 * ONE_CYXWIZ);
    assert!(ok.events::<events::NodeBanned>().is_empty());
    assert!(ok.events::<events::NodeSuspended>().is_empty());
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn admin_invalid_proof_slash_uses_the_invalid_proof_rate() {
    let mut env = Env::new();
    let stake = 400 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    env.admin_slash(&op.key(), SlashReason::InvalidProof)
        .unwrap();
    let node = env.node(&op.key()).unwrap();
    assert_eq!(node.stake, 300 * ONE_CYXWIZ);
    assert_eq!(node.status, NodeStatus::Active);
    assert_eq!(env.balance(&env.insurance), 80 * ONE_CYXWIZ);
    env.assert_conserved();
}

#[test]
fn repeated_failures_slash_suspends_and_blocks_unstaking_until_the_suspension_ends() {
    let mut env = Env::new();
    let stake = 1_000 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    env.chain.warp(10 * DAY);
    let ok = env
        .admin_slash(&op.key(), SlashReason::RepeatedFailures)
        .unwrap();
    let now = env.chain.now();

    let node = env.node(&op.key()).unwrap();
    assert_eq!(node.stake, 700 * ONE_CYXWIZ);
    assert_eq!(node.status, NodeStatus::Suspended);
    assert_eq!(node.suspended_until, now + 30 * DAY);
    assert_eq!(ok.event::<events::NodeSuspended>().until, now + 30 * DAY);

    // The 30-day lock has expired 10 days before the suspension ends.
    env.chain.warp(30 * DAY - 1);
    let ix = env.request_unstake_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeSuspended);
    // Heartbeats and top-ups stay possible while suspended.
    env.heartbeat(&op).unwrap();
    env.chain.warp(1);
    env.request_unstake(&op).unwrap();
    env.assert_conserved();
}

#[test]
fn slash_during_the_unstake_cooldown_still_applies() {
    let mut env = Env::new();
    let stake = 200 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    env.start_unstake(&op);
    env.admin_slash(&op.key(), SlashReason::InvalidProof)
        .unwrap();
    env.chain.warp(14 * DAY);
    env.withdraw(&op).unwrap();
    assert_eq!(env.balance(&op.token), 150 * ONE_CYXWIZ);
    assert_eq!(env.balance(&env.insurance), 40 * ONE_CYXWIZ);
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn slash_by_anyone_but_the_admin_fails_with_unauthorized_slasher() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let other = env.registered(MIN, MIN);
    let attacker = env.wallet();
    // The dispute authority is a PDA and cannot sign here; a random key claiming any
    // reason, the node itself and another operator are all refused.
    for reason in ALL_REASONS {
        for signer in [&attacker, &op.wallet, &other.wallet] {
            let ix = env.slash_ix(&signer.pubkey(), &op.key(), reason);
            assert_fails(&mut env, ix, &[signer], RegistryError::UnauthorizedSlasher);
        }
    }
}

#[test]
fn slash_with_substituted_token_accounts_fails_and_moves_nothing() {
    let mut env = Env::new();
    let admin = admin(&env);
    let op = env.registered(MIN, MIN);
    let attacker = env.wallet();
    let attacker_token = env.fund_tokens(&attacker.pubkey(), 0);
    let (other_mint, _) = env.other_mint_account(&attacker.pubkey(), 0);
    let slash = |env: &Env, f: &dyn Fn(&mut node_registry::accounts::Slash)| {
        let mut accounts = env.slash_accounts(&admin.pubkey(), &op.key());
        f(&mut accounts);
        registry_ix(
            accounts,
            rix::Slash {
                reason: SlashReason::Fraud,
            },
        )
    };

    let ix = slash(&env, &|a| a.stake_vault = attacker_token);
    assert_fails(&mut env, ix, &[&admin], RegistryError::WrongVault);
    let ix = slash(&env, &|a| a.insurance_vault = attacker_token);
    assert_fails(&mut env, ix, &[&admin], RegistryError::WrongVault);
    let ix = slash(&env, &|a| a.stake_mint = other_mint);
    assert_fails(&mut env, ix, &[&admin], RegistryError::WrongMint);
    let ix = slash(&env, &|a| a.token_program = anchor_lang::system_program::ID);
    assert_fails(&mut env, ix, &[&admin], AnchorError::InvalidProgramId);
    let ix = slash(&env, &|a| a.insurance_vault = vault_pda());
    assert_fails(
        &mut env,
        ix,
        &[&admin],
        AnchorError::ConstraintDuplicateMutableAccount,
    );
    assert_eq!(env.node(&op.key()).unwrap().status, NodeStatus::Active);
}

#[test]
fn slash_of_a_forged_node_account_fails_with_constraint_seeds() {
    let mut env = Env::new();
    let admin = admin(&env);
    let op = env.registered(MIN, MIN);
    let forged = env.forge_copy(&op.node());
    let mut accounts = env.slash_accounts(&admin.pubkey(), &op.key());
    accounts.node = forged;
    let ix = registry_ix(
        accounts,
        rix::Slash {
            reason: SlashReason::Fraud,
        },
    );
    assert_fails(&mut env, ix, &[&admin], AnchorError::ConstraintSeeds);
}

#[test]
fn slash_of_an_unregistered_wallet_fails_with_account_not_initialized() {
    let mut env = Env::new();
    let admin = admin(&env);
    let ix = env.slash_ix(&admin.pubkey(), &Pubkey::new_unique(), SlashReason::Fraud);
    assert_fails(&mut env, ix, &[&admin], AnchorError::AccountNotInitialized);
}

// ═════════════════════════════ register_node ═════════════════════════════

#[test]
fn register_node_moves_the_stake_into_the_vault_and_opens_the_node() {
    let mut env = Env::new();
    let op = env.operator(120 * ONE_CYXWIZ);
    let lamports = env.chain.lamports(&op.key());
    let now = env.chain.now();

    let ok = env.register_node(&op, 100 * ONE_CYXWIZ).unwrap();

    assert_eq!(env.balance(&op.token), 20 * ONE_CYXWIZ);
    assert_eq!(env.vault_balance(), 100 * ONE_CYXWIZ);
    let config = env.config();
    assert_eq!(
        (config.total_staked, config.node_count),
        (100 * ONE_CYXWIZ, 1)
    );
    let node = env.node(&op.key()).unwrap();
    assert_eq!(node.owner, op.key());
    assert_eq!(node.node_id, op.node_id());
    assert_eq!(node.capabilities, sample_capabilities());
    assert_eq!(node.stake, 100 * ONE_CYXWIZ);
    assert_eq!(node.status, NodeStatus::Active);
    assert_eq!((node.registered_at, node.last_heartbeat), (now, now));
    assert_eq!(node.locked_until, now + 30 * DAY);
    assert_eq!(
        (
            node.suspended_until,
            node.unstake_requested_at,
            node.active_jobs
        ),
        (0, 0, 0)
    );
    assert_eq!(
        (node.jobs_completed, node.jobs_failed, node.total_slashed),
        (0, 0, 0)
    );
    assert_eq!(node.recent_failures, [0; 8]);
    let (_, bump) = Pubkey::find_program_address(&[b"node", op.key().as_ref()], &node_registry::ID);
    assert_eq!(node.bump, bump);
    // The owner paid the node account's rent.
    assert_eq!(
        lamports - env.chain.lamports(&op.key()),
        env.chain.lamports(&op.node())
    );

    assert_eq!(
        ok.event::<events::NodeRegistered>(),
        events::NodeRegistered {
            node: op.node(),
            owner: op.key(),
            node_id: op.node_id(),
            stake: 100 * ONE_CYXWIZ,
            locked_until: now + 30 * DAY,
        }
    );
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn register_node_below_the_minimum_stake_fails_with_insufficient_stake() {
    let mut env = Env::new();
    let op = env.operator(MIN);
    let ix = env.register_node_ix(&op, MIN - 1);
    assert_fails(
        &mut env,
        ix,
        &[&op.wallet],
        RegistryError::InsufficientStake,
    );
    let ix = env.register_node_ix(&op, 0);
    assert_fails(
        &mut env,
        ix,
        &[&op.wallet],
        RegistryError::InsufficientStake,
    );
    // Exactly the minimum is enough.
    env.register_node(&op, MIN).unwrap();
    assert_eq!(env.vault_balance(), MIN);
}

#[test]
fn register_node_with_an_all_zero_node_id_fails_with_invalid_node_id() {
    let mut env = Env::new();
    let op = env.operator(MIN);
    let ix = registry_ix(
        env.register_node_accounts(&op.key(), &op.token),
        rix::RegisterNode {
            node_id: [0; 32],
            stake: MIN,
            capabilities: sample_capabilities(),
        },
    );
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::InvalidNodeId);
}

#[test]
fn register_node_twice_fails_and_moves_nothing() {
    let mut env = Env::new();
    let op = env.registered(2 * MIN, MIN);
    let ix = env.register_node_ix(&op, MIN);
    assert_fails_ix(
        &mut env,
        ix,
        &[&op.wallet],
        InstructionError::Custom(SYSTEM_ACCOUNT_ALREADY_IN_USE),
    );
}

#[test]
fn register_node_while_paused_fails_with_paused() {
    let mut env = Env::new();
    let admin = admin(&env);
    let op = env.operator(MIN);
    env.set_paused(&admin, true).unwrap();
    let ix = env.register_node_ix(&op, MIN);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::Paused);
}

#[test]
fn register_node_paying_from_someone_elses_token_account_fails_with_constraint_token_owner() {
    let mut env = Env::new();
    let victim = env.operator(10 * MIN);
    let attacker = env.operator(0);
    let ix = registry_ix(
        env.register_node_accounts(&attacker.key(), &victim.token),
        rix::RegisterNode {
            node_id: [7; 32],
            stake: MIN,
            capabilities: sample_capabilities(),
        },
    );
    assert_fails(
        &mut env,
        ix,
        &[&attacker.wallet],
        AnchorError::ConstraintTokenOwner,
    );
}

#[test]
fn register_node_with_substituted_accounts_fails_and_moves_nothing() {
    let mut env = Env::new();
    let op = env.operator(MIN);
    let other = env.operator(MIN);
    let attacker_vault = env.fund_tokens(&op.key(), 0);
    let (other_mint, other_mint_token) = env.other_mint_account(&op.key(), MIN);
    let register = |env: &Env, f: &dyn Fn(&mut node_registry::accounts::RegisterNode)| {
        let mut accounts = env.register_node_accounts(&op.key(), &op.token);
        f(&mut accounts);
        registry_ix(
            accounts,
            rix::RegisterNode {
                node_id: op.node_id(),
                stake: MIN,
                capabilities: sample_capabilities(),
            },
        )
    };
    let s = &[&op.wallet];

    let ix = register(&env, &|a| a.stake_vault = attacker_vault);
    assert_fails(&mut env, ix, s, RegistryError::WrongVault);
    let ix = register(&env, &|a| a.owner_token = other_mint_token);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintTokenMint);
    let ix = register(&env, &|a| {
        a.owner_token = other_mint_token;
        a.stake_mint = other_mint;
    });
    assert_fails(&mut env, ix, s, RegistryError::WrongMint);
    let ix = register(&env, &|a| a.node = other.node());
    assert_fails(&mut env, ix, s, AnchorError::ConstraintSeeds);
    let ix = register(&env, &|a| a.node = Pubkey::new_unique());
    assert_fails(&mut env, ix, s, AnchorError::ConstraintSeeds);
    let ix = register(&env, &|a| a.token_program = kit::TOKEN_2022_PROGRAM);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintTokenTokenProgram);
    let forged_config = env.forge_config(|_| {});
    let ix = register(&env, &|a| a.config = forged_config);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintSeeds);
    assert!(env.node(&op.key()).is_none());
}

#[test]
fn register_node_without_the_owner_signature_fails_with_account_not_signer() {
    let mut env = Env::new();
    let op = env.operator(MIN);
    let ix = without_signer(env.register_node_ix(&op, MIN), &op.key());
    assert_fails(&mut env, ix, &[], AnchorError::AccountNotSigner);
}

#[test]
fn register_node_with_more_than_the_token_balance_fails_in_the_token_program() {
    let mut env = Env::new();
    let op = env.operator(MIN);
    let ix = env.register_node_ix(&op, MIN + 1);
    assert_fails_ix(
        &mut env,
        ix,
        &[&op.wallet],
        InstructionError::Custom(TOKEN_INSUFFICIENT_FUNDS),
    );
    assert!(env.node(&op.key()).is_none());
}

// ═════════════════════════════ stake_more ═════════════════════════════

#[test]
fn stake_more_adds_to_the_stake_and_the_vault() {
    let mut env = Env::new();
    let op = env.registered(300 * ONE_CYXWIZ, MIN);
    let ok = env.stake_more(&op, 150 * ONE_CYXWIZ).unwrap();
    assert_eq!(env.balance(&op.token), 100 * ONE_CYXWIZ);
    assert_eq!(env.vault_balance(), 200 * ONE_CYXWIZ);
    assert_eq!(env.node(&op.key()).unwrap().stake, 200 * ONE_CYXWIZ);
    assert_eq!(env.config().total_staked, 200 * ONE_CYXWIZ);
    let ev = ok.event::<events::StakeChanged>();
    assert_eq!(
        (ev.node, ev.stake, ev.delta),
        (op.node(), 200 * ONE_CYXWIZ, 150 * ONE_CYXWIZ as i64)
    );
    env.assert_conserved();
}

#[test]
fn stake_more_of_zero_fails_with_zero_amount() {
    let mut env = Env::new();
    let op = env.registered(2 * MIN, MIN);
    let ix = env.stake_more_ix(&op, 0);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::ZeroAmount);
}

#[test]
fn stake_more_while_unstaking_fails_with_node_unstaking() {
    let mut env = Env::new();
    let op = env.registered(2 * MIN, MIN);
    env.start_unstake(&op);
    let ix = env.stake_more_ix(&op, MIN);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeUnstaking);
}

#[test]
fn stake_more_while_paused_fails_with_paused() {
    let mut env = Env::new();
    let admin = admin(&env);
    let op = env.registered(2 * MIN, MIN);
    env.set_paused(&admin, true).unwrap();
    let ix = env.stake_more_ix(&op, MIN);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::Paused);
}

#[test]
fn stake_more_beyond_the_token_balance_fails_in_the_token_program() {
    let mut env = Env::new();
    let op = env.registered(2 * MIN, MIN);
    let ix = env.stake_more_ix(&op, MIN + 1);
    assert_fails_ix(
        &mut env,
        ix,
        &[&op.wallet],
        InstructionError::Custom(TOKEN_INSUFFICIENT_FUNDS),
    );
}

#[test]
fn stake_more_with_substituted_accounts_fails_and_moves_nothing() {
    let mut env = Env::new();
    let op = env.registered(2 * MIN, MIN);
    let victim = env.registered(10 * MIN, MIN);
    let attacker_vault = env.fund_tokens(&op.key(), 0);
    let (other_mint, other_mint_token) = env.other_mint_account(&op.key(), MIN);
    let stake_more = |env: &Env, f: &dyn Fn(&mut node_registry::accounts::StakeMore)| {
        let mut accounts = env.stake_more_accounts(&op.key(), &op.token);
        f(&mut accounts);
        registry_ix(accounts, rix::StakeMore { amount: MIN })
    };
    let s = &[&op.wallet];

    // Credit someone else's node / pay from someone else's tokens.
    let ix = stake_more(&env, &|a| a.node = victim.node());
    assert_fails(&mut env, ix, s, AnchorError::ConstraintSeeds);
    let ix = stake_more(&env, &|a| a.owner_token = victim.token);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintTokenOwner);
    let ix = stake_more(&env, &|a| a.stake_vault = attacker_vault);
    assert_fails(&mut env, ix, s, RegistryError::WrongVault);
    let ix = stake_more(&env, &|a| a.owner_token = other_mint_token);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintTokenMint);
    let ix = stake_more(&env, &|a| {
        a.owner_token = other_mint_token;
        a.stake_mint = other_mint;
    });
    assert_fails(&mut env, ix, s, RegistryError::WrongMint);
}

#[test]
fn stake_more_without_a_node_fails_with_account_not_initialized() {
    let mut env = Env::new();
    let op = env.operator(MIN);
    let ix = env.stake_more_ix(&op, MIN);
    assert_fails(
        &mut env,
        ix,
        &[&op.wallet],
        AnchorError::AccountNotInitialized,
    );
}

// ═════════════════════════════ heartbeat / capabilities ═════════════════════════════

#[test]
fn heartbeat_records_the_current_time() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.chain.warp(DAY + 5);
    env.heartbeat(&op).unwrap();
    assert_eq!(env.node(&op.key()).unwrap().last_heartbeat, env.chain.now());
}

#[test]
fn update_capabilities_replaces_the_declared_capabilities() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let caps = Capabilities {
        cpu_cores: 8,
        ram_mb: 16_384,
        flags: 0b10,
        ..Default::default()
    };
    env.update_capabilities(&op, caps).unwrap();
    assert_eq!(env.node(&op.key()).unwrap().capabilities, caps);
}

#[test]
fn node_owner_actions_on_someone_elses_node_fail_with_constraint_seeds() {
    let mut env = Env::new();
    let victim = env.registered(MIN, MIN);
    let attacker = env.registered(MIN, MIN);
    env.chain.warp(31 * DAY);
    let datas = [
        rix::UpdateHeartbeat {}.data(),
        rix::UpdateCapabilities {
            capabilities: Capabilities::default(),
        }
        .data(),
        rix::RequestUnstake {}.data(),
        rix::CancelUnstake {}.data(),
    ];
    for data in datas {
        let mut ix = env.heartbeat_ix(&attacker.key());
        ix.data = data;
        ix.accounts[2].pubkey = victim.node();
        assert_fails(
            &mut env,
            ix,
            &[&attacker.wallet],
            AnchorError::ConstraintSeeds,
        );
    }
    // Signing as the victim is impossible without its key.
    let ix = without_signer(env.request_unstake_ix(&victim.key()), &victim.key());
    assert_fails(&mut env, ix, &[], AnchorError::AccountNotSigner);
}

#[test]
fn heartbeat_without_a_node_fails_with_account_not_initialized() {
    let mut env = Env::new();
    let op = env.operator(0);
    let ix = env.heartbeat_ix(&op.key());
    assert_fails(
        &mut env,
        ix,
        &[&op.wallet],
        AnchorError::AccountNotInitialized,
    );
}

// ═════════════════════════════ request_unstake / cancel_unstake ═════════════════════════════

#[test]
fn request_unstake_is_refused_until_the_lock_expires() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let locked_until = env.node(&op.key()).unwrap().locked_until;
    env.chain.warp(locked_until - env.chain.now() - 1);
    let ix = env.request_unstake_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::StakeLocked);

    env.chain.warp(1);
    let ok = env.request_unstake(&op).unwrap();
    let now = env.chain.now();
    assert_eq!(now, locked_until);
    assert_eq!(env.node(&op.key()).unwrap().unstake_requested_at, now);
    let ev = ok.event::<events::UnstakeRequested>();
    assert_eq!((ev.node, ev.withdrawable_at), (op.node(), now + 14 * DAY));
    // Nothing moves until the withdrawal.
    assert_eq!(env.vault_balance(), MIN);
}

#[test]
fn request_unstake_twice_fails_with_node_unstaking() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.start_unstake(&op);
    let ix = env.request_unstake_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NodeUnstaking);
}

#[test]
fn request_unstake_with_an_active_job_fails_with_has_active_jobs() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.chain.warp(31 * DAY);
    env.set_node(&op.key(), |n| n.active_jobs = 1);
    let ix = env.request_unstake_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::HasActiveJobs);
}

#[test]
fn cancel_unstake_clears_the_request_and_allows_staking_again() {
    let mut env = Env::new();
    let op = env.registered(2 * MIN, MIN);
    env.start_unstake(&op);
    env.cancel_unstake(&op).unwrap();
    assert_eq!(env.node(&op.key()).unwrap().unstake_requested_at, 0);
    env.stake_more(&op, MIN).unwrap();
    // And the cancelled request cannot be used to withdraw.
    env.chain.warp(14 * DAY);
    let ix = env.withdraw_ix(&op);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NotUnstaking);
    env.assert_conserved();
}

#[test]
fn cancel_unstake_without_a_request_fails_with_not_unstaking() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let ix = env.cancel_unstake_ix(&op.key());
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NotUnstaking);
}

// ═════════════════════════════ withdraw_stake ═════════════════════════════

#[test]
fn withdraw_after_cooldown_returns_the_stake_closes_the_node_and_refunds_rent() {
    let mut env = Env::new();
    let op = env.registered(300 * ONE_CYXWIZ, 250 * ONE_CYXWIZ);
    env.ready_to_withdraw(&op);
    let rent = env.chain.lamports(&op.node());
    let lamports = env.chain.lamports(&op.key());

    let ok = env.withdraw(&op).unwrap();

    assert_eq!(env.balance(&op.token), 300 * ONE_CYXWIZ);
    assert_eq!(env.vault_balance(), 0);
    assert!(
        env.chain
            .account(&op.node())
            .is_none_or(|a| a.lamports == 0)
    );
    assert!(env.node(&op.key()).is_none());
    assert_eq!(env.chain.lamports(&op.key()), lamports + rent);
    let config = env.config();
    assert_eq!((config.total_staked, config.node_count), (0, 0));
    assert_eq!(
        ok.event::<events::StakeWithdrawn>(),
        events::StakeWithdrawn {
            node: op.node(),
            owner: op.key(),
            amount: 250 * ONE_CYXWIZ,
            closed: true,
        }
    );
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn withdraw_before_cooldown_fails_and_moves_nothing() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.start_unstake(&op);
    let ix = env.withdraw_ix(&op);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::CooldownActive);
    env.chain.warp(14 * DAY - 1);
    let ix = env.withdraw_ix(&op);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::CooldownActive);
    env.chain.warp(1);
    env.withdraw(&op).unwrap();
    assert_eq!(env.balance(&op.token), MIN);
}

#[test]
fn withdraw_without_an_unstake_request_fails_with_not_unstaking() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.chain.warp(60 * DAY);
    let ix = env.withdraw_ix(&op);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::NotUnstaking);
}

#[test]
fn withdraw_with_an_active_job_fails_with_has_active_jobs() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.ready_to_withdraw(&op);
    env.set_node(&op.key(), |n| n.active_jobs = 1);
    let ix = env.withdraw_ix(&op);
    assert_fails(&mut env, ix, &[&op.wallet], RegistryError::HasActiveJobs);
}

#[test]
fn withdraw_with_substituted_accounts_fails_and_moves_nothing() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let victim = env.registered(10 * MIN, 10 * MIN);
    env.ready_to_withdraw(&op);
    env.ready_to_withdraw(&victim);
    let op_second_token = env.fund_tokens(&op.key(), 0);
    let (other_mint, other_mint_token) = env.other_mint_account(&op.key(), 0);
    let withdraw = |env: &Env, f: &dyn Fn(&mut node_registry::accounts::WithdrawStake)| {
        let mut accounts = env.withdraw_accounts(&op.key(), &op.token);
        f(&mut accounts);
        registry_ix(accounts, rix::WithdrawStake {})
    };
    let s = &[&op.wallet];

    // Withdraw the victim's (larger) stake into the attacker's account.
    let ix = withdraw(&env, &|a| a.node = victim.node());
    assert_fails(&mut env, ix, s, AnchorError::ConstraintSeeds);
    // Pay out to a token account the signer does not own.
    let ix = withdraw(&env, &|a| a.owner_token = victim.token);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintTokenOwner);
    // Draw from a "vault" the attacker controls (any token account of the mint).
    let ix = withdraw(&env, &|a| a.stake_vault = op_second_token);
    assert_fails(&mut env, ix, s, RegistryError::WrongVault);
    let ix = withdraw(&env, &|a| a.owner_token = other_mint_token);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintTokenMint);
    let ix = withdraw(&env, &|a| {
        a.owner_token = other_mint_token;
        a.stake_mint = other_mint;
    });
    assert_fails(&mut env, ix, s, RegistryError::WrongMint);
    let forged = env.forge_copy(&victim.node());
    let ix = withdraw(&env, &|a| a.node = forged);
    assert_fails(&mut env, ix, s, AnchorError::ConstraintSeeds);

    // The real withdrawal still works, into a second account of the owner.
    let ix = withdraw(&env, &|a| a.owner_token = op_second_token);
    env.send(ix, s).unwrap();
    assert_eq!(env.balance(&op_second_token), MIN);
    env.assert_conserved();
}

#[test]
fn withdrawn_operator_can_register_again() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    env.ready_to_withdraw(&op);
    env.withdraw(&op).unwrap();
    env.register_node(&op, MIN).unwrap();
    let node = env.node(&op.key()).unwrap();
    assert_eq!(
        (node.stake, node.status, node.locked_until),
        (MIN, NodeStatus::Active, env.chain.now() + 30 * DAY)
    );
    assert_eq!(env.config().node_count, 1);
    env.assert_conserved();
}

// ═════════════════════════════ JobEscrow hooks ═════════════════════════════

#[test]
fn lock_for_job_rejects_every_signer_but_the_escrow_authority() {
    let mut env = Env::new();
    let op = env.registered(MIN, MIN);
    let admin = admin(&env);
    let attacker = env.wallet();
    for signer in [&attacker, &op.wallet, &admin] {
        let ix = env.lock_for_job_ix(&signer.pubkey(), &op.key(), ONE_CYXWIZ);
        assert_fails(&mut env, ix, &[signer], RegistryError::NotEscrowAuthority);
    }
    let node = env.node(&op.key()).unwrap();
    assert_eq!(node.active_jobs, 0);
    // Naming the real authority without its signature is refused too.
    let ix = without_signer(
        env.lock_for_job_ix(&ids::escrow_authority(), &op.key(), ONE_CYXWIZ),
        &ids::escrow_authority(),
    );
    assert_fails(&mut env, ix, &[], AnchorError::AccountNotSigner);
}

#[test]
fn record_outcome_rejects_every_signer_but_the_escrow_authority() {
    let mut env = Env::new();
    let op = env.registered(5_000 * ONE_CYXWIZ, 5_000 * ONE_CYXWIZ);
    env.set_node(&op.key(), |n| n.active_jobs = 1);
    let admin = admin(&env);
    let attacker = env.wallet();
    for outcome in ALL_OUTCOMES {
        for signer in [&attacker, &op.wallet, &admin] {
            let ix =
                env.record_outcome_ix(&signer.pubkey(), &op.key(), 1_000 * ONE_CYXWIZ, outcome);
            assert_fails(&mut env, ix, &[signer], RegistryError::NotEscrowAuthority);
        }
    }
    let ix = without_signer(
        env.record_outcome_ix(
            &ids::escrow_authority(),
            &op.key(),
            ONE_CYXWIZ,
            JobOutcome::TimedOut,
        ),
        &ids::escrow_authority(),
    );
    assert_fails(&mut env, ix, &[], AnchorError::AccountNotSigner);
    assert_eq!(env.node(&op.key()).unwrap().active_jobs, 1);
}

// ═════════════════════════════ Token-2022 ═════════════════════════════

#[test]
fn token_2022_stake_register_top_up_and_withdraw_move_tokens() {
    let mut env = Env::new_with(kit::TOKEN_2022_PROGRAM);
    assert_eq!(env.chain.owner_of(&vault_pda()), kit::TOKEN_2022_PROGRAM);
    let op = env.operator(300 * ONE_CYXWIZ);
    env.register_node(&op, 100 * ONE_CYXWIZ).unwrap();
    env.stake_more(&op, 50 * ONE_CYXWIZ).unwrap();
    assert_eq!(env.balance(&op.token), 150 * ONE_CYXWIZ);
    assert_eq!(env.vault_balance(), 150 * ONE_CYXWIZ);
    env.assert_conserved();

    env.ready_to_withdraw(&op);
    env.withdraw(&op).unwrap();
    assert_eq!(env.balance(&op.token), 300 * ONE_CYXWIZ);
    assert_eq!(env.vault_balance(), 0);
    assert!(env.node(&op.key()).is_none());
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn token_2022_fraud_slash_splits_and_burns() {
    let mut env = Env::new_with(kit::TOKEN_2022_PROGRAM);
    let op = env.registered(1_000 * ONE_CYXWIZ, 1_000 * ONE_CYXWIZ);
    let supply = env.supply();
    env.admin_slash(&op.key(), SlashReason::Fraud).unwrap();
    assert_eq!(env.vault_balance(), 500 * ONE_CYXWIZ);
    assert_eq!(env.balance(&env.insurance), 400 * ONE_CYXWIZ);
    assert_eq!(env.supply(), supply - 100 * ONE_CYXWIZ);
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn token_2022_registration_with_the_classic_token_program_fails() {
    let mut env = Env::new_with(kit::TOKEN_2022_PROGRAM);
    let op = env.operator(MIN);
    let mut accounts = env.register_node_accounts(&op.key(), &op.token);
    accounts.token_program = kit::TOKEN_PROGRAM;
    let ix = registry_ix(
        accounts,
        rix::RegisterNode {
            node_id: op.node_id(),
            stake: MIN,
            capabilities: sample_capabilities(),
        },
    );
    assert_fails(
        &mut env,
        ix,
        &[&op.wallet],
        AnchorError::ConstraintTokenTokenProgram,
    );
}

// ═════════════════════════════ conservation ═════════════════════════════

#[test]
fn stake_is_conserved_through_a_full_lifecycle_of_several_nodes() {
    let mut env = Env::new();
    let a = env.operator(10_000 * ONE_CYXWIZ);
    let b = env.operator(1_000 * ONE_CYXWIZ);
    let c = env.operator(500 * ONE_CYXWIZ);
    let check = |env: &Env| {
        env.assert_conserved();
        env.assert_supply_accounted();
    };

    env.register_node(&a, 5_000 * ONE_CYXWIZ).unwrap();
    check(&env);
    env.register_node(&b, 200 * ONE_CYXWIZ).unwrap();
    check(&env);
    env.register_node(&c, MIN).unwrap();
    check(&env);
    env.stake_more(&b, 333 * ONE_CYXWIZ + 1).unwrap();
    check(&env);
    env.admin_slash(&a.key(), SlashReason::Timeout).unwrap();
    check(&env);
    env.admin_slash(&b.key(), SlashReason::Fraud).unwrap();
    check(&env);
    env.admin_slash(&c.key(), SlashReason::RepeatedFailures)
        .unwrap();
    check(&env);
    env.chain.warp(30 * DAY);
    env.request_unstake(&a).unwrap();
    env.request_unstake(&b).unwrap();
    check(&env);
    env.admin_slash(&a.key(), SlashReason::InvalidProof)
        .unwrap();
    check(&env);
    env.chain.warp(14 * DAY);
    env.withdraw(&a).unwrap();
    check(&env);
    env.withdraw(&b).unwrap();
    check(&env);
    env.request_unstake(&c).unwrap();
    env.chain.warp(14 * DAY);
    env.withdraw(&c).unwrap();
    check(&env);

    let config = env.config();
    assert_eq!((config.total_staked, env.vault_balance()), (0, 0));
    // b's banned tombstone is the only node left.
    assert_eq!(config.node_count, 1);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Register(usize, u64),
        StakeMore(usize, u64),
        Slash(usize, u8),
        Heartbeat(usize),
        RequestUnstake(usize),
        CancelUnstake(usize),
        Withdraw(usize),
        Warp(i64),
        Pause(bool),
    }

    fn op() -> impl Strategy<Value = Op> {
        let who = 0..3usize;
        prop_oneof![
            (who.clone(), 0..400u64).prop_map(|(w, a)| Op::Register(w, a * ONE_CYXWIZ / 4)),
            (who.clone(), 0..400u64).prop_map(|(w, a)| Op::StakeMore(w, a * ONE_CYXWIZ / 3)),
            (who.clone(), 0..4u8).prop_map(|(w, r)| Op::Slash(w, r)),
            who.clone().prop_map(Op::Heartbeat),
            who.clone().prop_map(Op::RequestUnstake),
            who.clone().prop_map(Op::CancelUnstake),
            who.prop_map(Op::Withdraw),
            (0..46i64).prop_map(|d| Op::Warp(d * DAY)),
            any::<bool>().prop_map(Op::Pause),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig {
            cases: 24,
            failure_persistence: None,
            ..ProptestConfig::default()
        })]

        /// Whatever sequence of operations succeeds or fails, after every step the vault
        /// holds exactly `config.total_staked`, which is the sum of the node stakes, and
        /// every minted unit is either held or was burned.
        #[test]
        fn any_operation_sequence_conserves_stake(ops in proptest::collection::vec(op(), 1..30)) {
            let mut env = Env::new();
            let admin = env.admin.insecure_clone();
            let ops_: Vec<Operator> = (0..3).map(|_| env.operator(200 * ONE_CYXWIZ)).collect();
            let mut burned = 0u64;
            let initial_supply = env.supply();
            for step in ops {
                let supply = env.supply();
                let _ = match step {
                    Op::Register(w, a) => env.register_node(&ops_[w], a),
                    Op::StakeMore(w, a) => env.stake_more(&ops_[w], a),
                    Op::Slash(w, r) => env.admin_slash(&ops_[w].key(), ALL_REASONS[usize::from(r)]),
                    Op::Heartbeat(w) => env.heartbeat(&ops_[w]),
                    Op::RequestUnstake(w) => env.request_unstake(&ops_[w]),
                    Op::CancelUnstake(w) => env.cancel_unstake(&ops_[w]),
                    Op::Withdraw(w) => env.withdraw(&ops_[w]),
                    Op::Warp(s) => { env.chain.warp(s); Ok(TxOk { logs: vec![] }) }
                    Op::Pause(p) => env.set_paused(&admin, p),
                };
                burned += supply - env.supply();
                env.assert_conserved();
                env.assert_supply_accounted();
                prop_assert_eq!(env.supply() + burned, initial_supply);
                let live = ops_.iter().filter(|o| env.node(&o.key()).is_some()).count() as u64;
                prop_assert_eq!(env.config().node_count, live);
            }
        }
    }
}

#[test]
fn decimals_of_the_fixture_mint_are_nine() {
    let env = Env::new();
    let mint = env.chain.account(&env.mint).unwrap();
    assert_eq!(mint.data[44], DECIMALS);
}

#[test]
fn initialize_with_the_default_pubkey_as_admin_fails_with_invalid_params() {
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let deployer = env.deployer.insecure_clone();
    let mut accounts = env.initialize_accounts();
    accounts.admin = Pubkey::default();
    let result = env.send(
        registry_ix(
            accounts,
            rix::Initialize {
                params: default_params(),
            },
        ),
        &[&deployer],
    );
    assert_anchor_err(result, RegistryError::InvalidParams);
    assert!(env.chain.account(&config_pda()).is_none());
}

#[test]
fn suspension_imposed_during_the_cooldown_must_be_served_before_withdrawal() {
    let mut env = Env::new();
    let stake = 200 * ONE_CYXWIZ;
    let op = env.registered(stake, stake);
    env.start_unstake(&op);
    env.admin_slash(&op.key(), SlashReason::RepeatedFailures)
        .unwrap();
    env.chain.warp(14 * DAY);
    let before = env.snapshot();
    assert_anchor_err(env.withdraw(&op), RegistryError::NodeSuspended);
    assert_eq!(env.snapshot(), before);
    env.chain.warp(16 * DAY);
    env.withdraw(&op).unwrap();
    assert_eq!(env.balance(&op.token), 140 * ONE_CYXWIZ);
    env.assert_conserved();
    env.assert_supply_accounted();
}

#[test]
fn slash_for_dispute_only_by_the_dispute_authority() {
    let mut env = Env::new();
    let op = env.registered(5_000 * ONE_CYXWIZ, 5_000 * ONE_CYXWIZ);
    let admin = admin(&env);
    let attacker = env.wallet();
    let user_token = env.fund_tokens(&attacker.pubkey(), 0);
    let treasury = env.fund_tokens(&admin.pubkey(), 0);
    let (mint, token_program, node) = (env.mint, env.token_program, node_pda(&op.key()));
    let accounts = move |signer: Pubkey| node_registry::accounts::SlashForDispute {
        dispute_authority: signer,
        config: config_pda(),
        node,
        stake_vault: vault_pda(),
        stake_mint: mint,
        user_token,
        dao_treasury: treasury,
        token_program,
    };
    for signer in [&attacker, &op.wallet, &admin] {
        let ix = registry_ix(
            accounts(signer.pubkey()),
            rix::SlashForDispute {
                to_user_bps: 5_000,
                repay: 0,
            },
        );
        assert_fails(&mut env, ix, &[signer], RegistryError::UnauthorizedSlasher);
    }
    let ix = without_signer(
        registry_ix(
            accounts(ids::dispute_authority()),
            rix::SlashForDispute {
                to_user_bps: 5_000,
                repay: 0,
            },
        ),
        &ids::dispute_authority(),
    );
    assert_fails(&mut env, ix, &[], AnchorError::AccountNotSigner);
    assert_eq!(env.node(&op.key()).unwrap().status, NodeStatus::Active);
}
