//! The chain SDK's instruction builders (`cyxwiz_chain::ix`) through real transactions on
//! the native SVM: every builder is sent at least once in a scenario that makes sense,
//! its effects asserted on account state and token balances, and its instruction compared
//! with the one the test fixtures build (same accounts, flags and data) wherever the
//! fixtures build it.

use anchor_lang::{InstructionData, ToAccountMetas, prelude::Pubkey};
use cyxwiz_chain::{Addresses, Treasury, ix, pda};
use cyxwiz_common::{ids, units::ONE_CYXWIZ};
use cyxwiz_deploy::programs as deploy;
use cyxwiz_program_tests::{dao::*, escrow::*, *};
use dispute_dao::{
    Claim, DisputeState, ParamChange, ProposalState, Side, Verdict,
    constants::default_params as dao_params, events::RewardClaimed,
};
use job_escrow::{
    EscrowState, constants::default_params as escrow_params, verifier::insecure_test_proof,
};
use node_registry::{NodeStatus, SlashReason, constants::default_params as registry_params};
use reputation_manager::{
    ReputationConfig, ReputationError, ReputationUpdate, UpdateKind, UserReputation,
    constants::default_params as reputation_params,
};
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_signer::Signer;

const CYX: u64 = ONE_CYXWIZ;
/// A "50–200 CYXWIZ" job: needs 1,000 staked.
const AMOUNT: u64 = 100 * CYX;
const STAKE: u64 = 1_000 * CYX;
const USER_TOKENS: u64 = 10_000 * CYX;
const EPOCHS: u32 = 4;
/// Gold tier (the fixture's default score): 10 % platform fee.
const FEE: u64 = AMOUNT / 10;

/// The deployment addresses of a fixture chain.
fn addresses(f: &EscrowEnv) -> Addresses {
    Addresses {
        mint: f.mint,
        token_program: f.token_program,
        treasury: Treasury {
            staking: f.treasury.staking,
            development: f.treasury.development,
            liquidity: f.treasury.liquidity,
        },
        insurance_vault: f.config().insurance_vault,
    }
}

/// The three fee treasuries' balances.
fn treasuries(f: &EscrowEnv) -> u64 {
    f.balance(&f.treasury.staking)
        + f.balance(&f.treasury.development)
        + f.balance(&f.treasury.liquidity)
}

fn send(f: &mut EscrowEnv, ix: Instruction, signers: &[&Keypair]) -> TxOk {
    f.send(ix, signers).expect("transaction succeeds")
}

fn warp_until(f: &mut EscrowEnv, at: i64) {
    let wait = (at - f.chain.now()).max(0);
    f.chain.warp(wait);
}

fn reputation_config(f: &EscrowEnv) -> ReputationConfig {
    f.chain
        .anchor_account(&pda::reputation_config())
        .expect("reputation config exists")
}

// ── initialize ───────────────────────────────────────────────────────────

#[test]
fn initialize_builders_match_deploy_and_initialise_every_program() {
    let deployer = deployer_keypair();

    // NodeRegistry.
    let mut env = Env::uninitialized(kit::TOKEN_PROGRAM);
    let a = Addresses {
        mint: env.mint,
        token_program: env.token_program,
        treasury: Treasury {
            staking: Pubkey::new_unique(),
            development: Pubkey::new_unique(),
            liquidity: Pubkey::new_unique(),
        },
        insurance_vault: env.insurance,
    };
    let ix = ix::registry::initialize(&ids::DEPLOYER, &env.admin.pubkey(), &a, registry_params());
    assert_eq!(ix, env.initialize_ix(registry_params()));
    assert_eq!(
        ix,
        deploy::initialize_registry(
            &ids::DEPLOYER,
            &env.admin.pubkey(),
            &env.mint,
            &env.insurance,
            &env.token_program,
            registry_params(),
        )
    );
    env.chain
        .send(&[ix], &[&deployer])
        .expect("initialize registry");
    let c = env.config();
    assert_eq!(c.admin, env.admin.pubkey());
    assert_eq!(c.stake_mint, env.mint);
    assert_eq!(c.stake_vault, pda::stake_vault());
    assert_eq!(c.insurance_vault, env.insurance);
    assert_eq!(c.params, registry_params());

    // JobEscrow and ReputationManager.
    let mut f = EscrowEnv::uninitialized(kit::TOKEN_PROGRAM, insecure_test_proof);
    let a = addresses(&f);
    let (admin, coordinator) = (f.escrow_admin.pubkey(), f.coordinator.pubkey());
    let escrow = ix::escrow::initialize(&ids::DEPLOYER, &admin, &coordinator, &a, escrow_params());
    assert_eq!(escrow, f.initialize_ix(escrow_params()));
    let rep = ix::reputation::initialize(&ids::DEPLOYER, &admin, &coordinator, reputation_params());
    assert_eq!(
        rep,
        deploy::initialize_reputation(&ids::DEPLOYER, &admin, &coordinator, reputation_params())
    );
    f.chain
        .send(&[escrow, rep], &[&deployer])
        .expect("initialize escrow and reputation");
    let c = f.escrow_config();
    assert_eq!(
        (c.admin, c.coordinator, c.mint),
        (admin, coordinator, f.mint)
    );
    assert_eq!(
        [
            c.staking_treasury,
            c.development_treasury,
            c.liquidity_treasury
        ],
        [
            f.treasury.staking,
            f.treasury.development,
            f.treasury.liquidity
        ]
    );
    assert_eq!(c.params, escrow_params());
    let r = reputation_config(&f);
    assert_eq!((r.admin, r.updater), (admin, coordinator));
    assert_eq!(r.params, reputation_params());

    // Dispute/DAO (the real program, everything else initialised).
    let mut f = EscrowEnv::build(kit::TOKEN_PROGRAM, insecure_test_proof, true);
    let dao_admin = Pubkey::new_unique();
    let a = addresses(&f);
    let ix = ix::dao::initialize(&ids::DEPLOYER, &dao_admin, &a, dao_params());
    assert_eq!(
        ix,
        deploy::initialize_dao(
            &ids::DEPLOYER,
            &dao_admin,
            &f.mint,
            &f.token_program,
            dao_params()
        )
    );
    f.chain.send(&[ix], &[&deployer]).expect("initialize dao");
    let c: dispute_dao::DaoConfig = f
        .chain
        .anchor_account(&pda::dao_config())
        .expect("dao config exists");
    assert_eq!((c.admin, c.mint), (dao_admin, f.mint));
    assert_eq!(
        [c.deposit_vault, c.treasury, c.appeal_vault],
        [
            pda::dao_deposit_vault(),
            pda::dao_treasury(),
            pda::dao_appeal_vault()
        ]
    );
    assert_eq!(c.params, dao_params());
    assert_eq!(f.balance(&pda::dao_deposit_vault()), 0);
}

// ── NodeRegistry ─────────────────────────────────────────────────────────

#[test]
fn registry_operator_lifecycle() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let a = addresses(&f);
    let op = f.operator(2 * STAKE);
    let owner = op.key();
    let caps = sample_capabilities();

    // register_node
    let ix = ix::registry::register_node(&a, &owner, &op.token, op.node_id(), STAKE, caps);
    assert_eq!(ix, f.register_node_ix(&op, STAKE));
    let vault0 = f.vault_balance();
    send(&mut f, ix, &[&op.wallet]);
    let node = f.node_account(&owner);
    assert_eq!(
        (node.owner, node.node_id, node.stake),
        (owner, op.node_id(), STAKE)
    );
    assert_eq!(node.capabilities, caps);
    assert_eq!(node.status, NodeStatus::Active);
    assert_eq!(f.balance(&op.token), STAKE);
    assert_eq!(f.vault_balance(), vault0 + STAKE);

    // stake_more
    let ix = ix::registry::stake_more(&a, &owner, &op.token, STAKE / 2);
    assert_eq!(ix, f.stake_more_ix(&op, STAKE / 2));
    send(&mut f, ix, &[&op.wallet]);
    assert_eq!(f.node_account(&owner).stake, STAKE + STAKE / 2);
    assert_eq!(f.balance(&op.token), STAKE / 2);
    assert_eq!(f.config().total_staked, STAKE + STAKE / 2);

    // update_heartbeat
    f.chain.warp(600);
    let ix = ix::registry::update_heartbeat(&owner);
    assert_eq!(ix, f.heartbeat_ix(&owner));
    send(&mut f, ix, &[&op.wallet]);
    assert_eq!(f.node_account(&owner).last_heartbeat, f.chain.now());

    // update_capabilities
    let mut new_caps = caps;
    new_caps.gpu_count = 8;
    new_caps.gpu_vram_mb = 81_920;
    let ix = ix::registry::update_capabilities(&owner, new_caps);
    assert_eq!(ix, f.update_capabilities_ix(&owner, new_caps));
    send(&mut f, ix, &[&op.wallet]);
    assert_eq!(f.node_account(&owner).capabilities, new_caps);

    // request_unstake (after the registration lock), cancel_unstake, request again.
    let locked_until = f.node_account(&owner).locked_until;
    warp_until(&mut f, locked_until);
    let ix = ix::registry::request_unstake(&owner);
    assert_eq!(ix, f.request_unstake_ix(&owner));
    send(&mut f, ix, &[&op.wallet]);
    assert_eq!(f.node_account(&owner).unstake_requested_at, f.chain.now());

    let ix = ix::registry::cancel_unstake(&owner);
    assert_eq!(ix, f.cancel_unstake_ix(&owner));
    send(&mut f, ix, &[&op.wallet]);
    assert_eq!(f.node_account(&owner).unstake_requested_at, 0);

    f.chain.warp(1);
    send(&mut f, ix::registry::request_unstake(&owner), &[&op.wallet]);
    let requested = f.node_account(&owner).unstake_requested_at;
    assert_eq!(requested, f.chain.now());

    // withdraw_stake after the cooldown: everything back, the node account closed.
    let cooldown = f.config().params.unstake_cooldown_secs;
    warp_until(&mut f, requested + cooldown);
    let ix = ix::registry::withdraw_stake(&a, &owner, &op.token);
    assert_eq!(ix, f.withdraw_ix(&op));
    send(&mut f, ix, &[&op.wallet]);
    assert!(f.env.node(&owner).is_none(), "node account closed");
    assert_eq!(f.balance(&op.token), 2 * STAKE);
    assert_eq!(f.config().total_staked, 0);
    assert_eq!(f.vault_balance(), vault0);
    f.assert_conserved();
}

#[test]
fn registry_admin_setters_and_admin_slash() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let admin = f.env.admin.insecure_clone();
    let op = f.env.registered(STAKE, STAKE);

    // set_paused on and off.
    let ix = ix::registry::set_paused(&admin.pubkey(), true);
    assert_eq!(ix, f.set_paused_ix(&admin.pubkey(), true));
    send(&mut f, ix, &[&admin]);
    assert!(f.config().paused);
    send(
        &mut f,
        ix::registry::set_paused(&admin.pubkey(), false),
        &[&admin],
    );
    assert!(!f.config().paused);

    // update_params
    let mut params = registry_params();
    params.unstake_cooldown_secs += 3_600;
    let ix = ix::registry::update_params(&admin.pubkey(), params);
    assert_eq!(ix, f.update_params_ix(&admin.pubkey(), params));
    send(&mut f, ix, &[&admin]);
    assert_eq!(f.config().params, params);

    // set_insurance_vault to a new account, then an admin slash pays into it.
    let new_insurance = f.fund_tokens(&Pubkey::new_unique(), 0);
    let ix = ix::registry::set_insurance_vault(&admin.pubkey(), &new_insurance);
    assert_eq!(
        ix,
        f.set_insurance_vault_ix(&admin.pubkey(), &new_insurance)
    );
    send(&mut f, ix, &[&admin]);
    assert_eq!(f.config().insurance_vault, new_insurance);

    let a = addresses(&f);
    assert_eq!(a.insurance_vault, new_insurance);
    let ix = ix::registry::slash(&a, &admin.pubkey(), &op.key(), SlashReason::InvalidProof);
    assert_eq!(
        ix,
        f.slash_ix(&admin.pubkey(), &op.key(), SlashReason::InvalidProof)
    );
    let supply0 = f.supply();
    send(&mut f, ix, &[&admin]);
    let slashed = STAKE - f.node_account(&op.key()).stake;
    let expected = STAKE * u64::from(params.invalid_proof_slash_bps) / 10_000;
    assert_eq!(slashed, expected);
    let burned = supply0 - f.supply();
    assert_eq!(f.balance(&new_insurance) + burned, slashed);
    assert_eq!(
        f.balance(&new_insurance),
        slashed * u64::from(params.insurance_bps) / 10_000
    );
    f.assert_conserved();

    // set_admin: the new admin takes over.
    let new_admin = f.wallet();
    let ix = ix::registry::set_admin(&admin.pubkey(), new_admin.pubkey());
    assert_eq!(ix, f.set_admin_ix(&admin.pubkey(), new_admin.pubkey()));
    send(&mut f, ix, &[&admin]);
    assert_eq!(f.config().admin, new_admin.pubkey());
    send(
        &mut f,
        ix::registry::set_paused(&new_admin.pubkey(), true),
        &[&new_admin],
    );
    assert!(f.config().paused);
}

// ── JobEscrow ────────────────────────────────────────────────────────────

#[test]
fn escrow_job_completed_rated_and_closed() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let a = addresses(&f);
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    let coordinator = f.coordinator.insecure_clone();
    let initial_supply = f.supply();

    // create_escrow
    let job = f.next_job();
    let ix = ix::escrow::create_escrow(
        &a,
        &user.key(),
        &user.token,
        job.id,
        AMOUNT,
        EPOCHS,
        0,
        DEFAULT_ESTIMATE_SECS,
    );
    assert_eq!(ix, f.create_escrow_ix(&user, &job, AMOUNT, EPOCHS, 0));
    send(&mut f, ix, &[&user.wallet]);
    f.track(job);
    let e = f.escrow(&job);
    assert_eq!(
        (e.user, e.amount, e.epochs_required),
        (user.key(), AMOUNT, EPOCHS)
    );
    assert_eq!(e.state, EscrowState::Locked);
    assert_eq!(f.balance(&job.vault), AMOUNT);
    assert_eq!(f.balance(&user.token), USER_TOKENS - AMOUNT);

    // assign_node
    let ix = ix::escrow::assign_node(&coordinator.pubkey(), job.id, &node.key());
    assert_eq!(ix, f.assign_ix(&job, &node.key()));
    send(&mut f, ix, &[&coordinator]);
    let e = f.escrow(&job);
    assert_eq!((e.state, e.node), (EscrowState::Assigned, node.key()));

    // accept_job: the node's stake is locked for the job by CPI.
    let ix = ix::escrow::accept_job(&node.key(), job.id);
    assert_eq!(ix, f.accept_ix(&job, &node.key()));
    send(&mut f, ix, &[&node.wallet]);
    assert_eq!(f.state(&job), EscrowState::InProgress);
    assert_eq!(f.node_account(&node.key()).active_jobs, 1);

    // anchor_checkpoint for every epoch.
    for epoch in 1..=EPOCHS {
        let ix = ix::escrow::anchor_checkpoint(&node.key(), job.id, epoch, root_for(&job, epoch));
        assert_eq!(ix, f.checkpoint_ix(&job, &node.key(), epoch));
        send(&mut f, ix, &[&node.wallet]);
        let e = f.escrow(&job);
        assert_eq!(
            (e.epochs_done, e.merkle_root),
            (epoch, root_for(&job, epoch))
        );
    }

    // complete_payment: the node is paid, the fee goes to the treasuries (and is burned
    // in part); the job holds the node's stake for the challenge window.
    let root = f.escrow(&job).merkle_root;
    let proof = f.proof(&job, root, EPOCHS);
    let ix = ix::escrow::complete_payment(
        &a,
        &node.key(),
        job.id,
        &node.token,
        proof,
        weights_for(&job),
        root,
        EPOCHS,
    );
    assert_eq!(ix, f.complete_ix(&job, EPOCHS));
    let supply0 = f.supply();
    send(&mut f, ix, &[&node.wallet]);
    let e = f.escrow(&job);
    assert_eq!(e.state, EscrowState::Completed);
    assert_eq!(e.final_weights_hash, weights_for(&job));
    assert_eq!(f.balance(&node.token), AMOUNT - FEE);
    assert_eq!(f.balance(&job.vault), 0);
    assert_eq!(treasuries(&f) + (supply0 - f.supply()), FEE);
    let n = f.node_account(&node.key());
    assert_eq!((n.active_jobs, n.jobs_completed), (1, 0));

    // rate_node: the rating reaches the node's reputation by CPI.
    let ix = ix::escrow::rate_node(&user.key(), job.id, &node.key(), 5);
    assert_eq!(ix, f.rate_ix(&job, &user.key(), 5));
    send(&mut f, ix, &[&user.wallet]);
    assert!(f.escrow(&job).rated);
    let r = f.reputation(&node.key());
    assert_eq!((r.rating_count, r.rating_sum, r.five_star_count), (1, 5, 1));

    // release_stake by a stranger after the challenge window: the job is released in the
    // registry.
    let stranger = f.wallet();
    warp_until(&mut f, e.challenge_until);
    let ix = ix::escrow::release_stake(&a, &stranger.pubkey(), job.id, &node.key());
    assert_eq!(ix, f.release_ix(&job, &stranger.pubkey()));
    send(&mut f, ix, &[&stranger]);
    assert!(f.escrow(&job).stake_released);
    let n = f.node_account(&node.key());
    assert_eq!((n.active_jobs, n.jobs_completed), (0, 1));

    // close_escrow by a stranger after the grace period: rent back to the user.
    let grace = f.escrow_config().params.close_grace_secs;
    warp_until(&mut f, e.finished_at + grace);
    let ix = ix::escrow::close_escrow(&a, &stranger.pubkey(), job.id, &user.key());
    assert_eq!(ix, f.close_ix(&job, &stranger.pubkey()));
    let rent = f.chain.lamports(&job.escrow) + f.chain.lamports(&job.vault);
    let user_lamports = f.chain.lamports(&user.key());
    send(&mut f, ix, &[&stranger]);
    assert!(f.try_escrow(&job).is_none(), "escrow closed");
    assert_eq!(f.chain.lamports(&job.vault), 0, "vault closed");
    assert_eq!(f.chain.lamports(&user.key()), user_lamports + rent);
    f.assert_tokens_conserved(initial_supply);
}

#[test]
fn escrow_assign_node_by_user_after_the_coordinator_window() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let created = f.escrow(&job).created_at;
    warp_until(&mut f, created + escrow_params().user_assign_after_secs);
    let ix = ix::escrow::assign_node_by_user(&user.key(), job.id, &node.key());
    assert_eq!(ix, f.assign_by_user_ix(&job, &user.key(), &node.key()));
    send(&mut f, ix, &[&user.wallet]);
    let e = f.escrow(&job);
    assert_eq!(
        (e.state, e.node, e.assigned_by_user),
        (EscrowState::Assigned, node.key(), true)
    );
    let ix = ix::escrow::accept_job(&node.key(), job.id);
    send(&mut f, ix, &[&node.wallet]);
    assert_eq!(f.state(&job), EscrowState::InProgress);
}

#[test]
fn escrow_submit_proof_pays_a_valid_proof_and_records_an_invalid_one() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let a = addresses(&f);
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    for valid in [true, false] {
        let job = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
        f.checkpoints(&job, &node, EPOCHS);
        let root = f.escrow(&job).merkle_root;
        let mut proof = f.proof(&job, root, EPOCHS);
        if !valid {
            proof[0] ^= 1;
        }
        let ix = ix::escrow::submit_proof(
            &a,
            &node.key(),
            job.id,
            &node.token,
            &user.token,
            proof,
            weights_for(&job),
            root,
            EPOCHS,
        );
        assert_eq!(ix, f.submit_ix(&job, EPOCHS, valid));
        let user_before = f.balance(&user.token);
        send(&mut f, ix, &[&node.wallet]);
        if valid {
            assert_eq!(f.state(&job), EscrowState::Completed);
            assert_eq!(f.balance(&node.token), AMOUNT - FEE);
        } else {
            assert_eq!(f.state(&job), EscrowState::Refunded);
            assert_eq!(f.balance(&user.token), user_before + AMOUNT);
            assert_eq!(f.node_account(&node.key()).stake, STAKE - STAKE / 4);
        }
    }
}

#[test]
fn escrow_refund_timeout_and_cancel_endings() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let a = addresses(&f);
    let user = f.user(USER_TOKENS);
    let (n1, n2, n3) = (f.node(STAKE), f.node(STAKE), f.node(STAKE));
    let initial_supply = f.supply();
    let cancel_fee = AMOUNT * u64::from(f.escrow_config().params.cancel_fee_bps) / 10_000;

    // refund by the user of a half-done job: split by anchored progress.
    let refunded = f.accepted_job(&user, &n1, AMOUNT, EPOCHS);
    f.checkpoints(&refunded, &n1, EPOCHS / 2);
    let ix = ix::escrow::refund(
        &a,
        &user.key(),
        refunded.id,
        &n1.key(),
        &user.token,
        &n1.token,
    );
    assert_eq!(ix, f.refund_ix(&refunded, &user.key()));
    let (u0, k0) = (f.balance(&user.token), f.balance(&n1.token));
    send(&mut f, ix, &[&user.wallet]);
    assert_eq!(f.state(&refunded), EscrowState::Refunded);
    let (du, dn) = (f.balance(&user.token) - u0, f.balance(&n1.token) - k0);
    assert_eq!(du + dn, AMOUNT);
    assert!(du > 0 && dn > 0, "both parties get a share: {du} / {dn}");
    assert_eq!(f.node_account(&n1.key()).active_jobs, 0);

    // cancel before assignment (no node token): the fee goes to the treasuries.
    let locked = f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = ix::escrow::cancel(&a, &user.key(), locked.id, &user.token, None);
    assert_eq!(ix, f.cancel_ix(&locked));
    let (u0, t0, s0) = (f.balance(&user.token), treasuries(&f), f.supply());
    send(&mut f, ix, &[&user.wallet]);
    assert_eq!(f.state(&locked), EscrowState::Cancelled);
    assert_eq!(f.balance(&user.token), u0 + AMOUNT - cancel_fee);
    assert_eq!(treasuries(&f) - t0 + (s0 - f.supply()), cancel_fee);

    // cancel after assignment: the fee goes to the assigned node.
    let assigned = f.assigned_job(&user, &n2, AMOUNT, EPOCHS);
    let ix = ix::escrow::cancel(&a, &user.key(), assigned.id, &user.token, Some(n2.token));
    assert_eq!(ix, f.cancel_ix(&assigned));
    let (u0, k0) = (f.balance(&user.token), f.balance(&n2.token));
    send(&mut f, ix, &[&user.wallet]);
    assert_eq!(f.state(&assigned), EscrowState::Cancelled);
    assert_eq!(f.balance(&user.token), u0 + AMOUNT - cancel_fee);
    assert_eq!(f.balance(&n2.token), k0 + cancel_fee);

    // Two jobs left to time out: one only assigned, one accepted.
    let unaccepted = f.assigned_job(&user, &n2, AMOUNT, EPOCHS);
    let abandoned = f.accepted_job(&user, &n3, AMOUNT, EPOCHS);
    let timeout = f
        .escrow(&unaccepted)
        .timeout_at
        .max(f.escrow(&abandoned).timeout_at);
    warp_until(&mut f, timeout);
    let stranger = f.wallet();

    // timeout_refund of the unaccepted job: everything back, no slash.
    let ix = ix::escrow::timeout_refund(&a, &stranger.pubkey(), unaccepted.id, &user.token);
    assert_eq!(ix, f.timeout_refund_ix(&unaccepted, &stranger.pubkey()));
    let u0 = f.balance(&user.token);
    send(&mut f, ix, &[&stranger]);
    assert_eq!(f.state(&unaccepted), EscrowState::TimedOut);
    assert_eq!(f.balance(&user.token), u0 + AMOUNT);
    assert_eq!(f.node_account(&n2.key()).stake, STAKE);

    // timeout_refund_with_slash of the accepted job: refund and a slash of the node.
    let ix = ix::escrow::timeout_refund_with_slash(
        &a,
        &stranger.pubkey(),
        abandoned.id,
        &n3.key(),
        &user.token,
    );
    assert_eq!(
        ix,
        f.timeout_refund_with_slash_ix(&abandoned, &stranger.pubkey())
    );
    let (u0, i0) = (f.balance(&user.token), f.balance(&f.insurance));
    send(&mut f, ix, &[&stranger]);
    assert_eq!(f.state(&abandoned), EscrowState::TimedOut);
    assert_eq!(f.balance(&user.token), u0 + AMOUNT);
    let n = f.node_account(&n3.key());
    assert!(n.stake < STAKE, "the node was slashed");
    assert_eq!((n.active_jobs, n.jobs_failed), (0, 1));
    assert!(f.balance(&f.insurance) > i0, "insurance share paid");

    f.assert_vaults_match();
    f.assert_tokens_conserved(initial_supply);
    f.assert_conserved();
}

#[test]
fn escrow_admin_setters() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let admin = f.escrow_admin.insecure_clone();

    let ix = ix::escrow::set_paused(&admin.pubkey(), true);
    assert_eq!(
        ix,
        escrow_ix(
            f.escrow_set_paused_accounts(&admin.pubkey()),
            job_escrow::instruction::SetPaused { paused: true }
        )
    );
    send(&mut f, ix, &[&admin]);
    assert!(f.escrow_config().paused);
    send(
        &mut f,
        ix::escrow::set_paused(&admin.pubkey(), false),
        &[&admin],
    );
    assert!(!f.escrow_config().paused);

    let mut params = escrow_params();
    params.close_grace_secs += 3_600;
    let ix = ix::escrow::update_params(&admin.pubkey(), params);
    assert_eq!(
        ix,
        escrow_ix(
            f.escrow_update_config_accounts(&admin.pubkey()),
            job_escrow::instruction::UpdateParams { params }
        )
    );
    send(&mut f, ix, &[&admin]);
    assert_eq!(f.escrow_config().params, params);

    let owner = Pubkey::new_unique();
    let treasury = Treasury {
        staking: f.fund_tokens(&owner, 0),
        development: f.fund_tokens(&owner, 0),
        liquidity: f.fund_tokens(&owner, 0),
    };
    let ix = ix::escrow::set_treasury(&admin.pubkey(), &treasury);
    assert_eq!(
        ix,
        escrow_ix(
            f.set_treasury_accounts(
                &admin.pubkey(),
                deploy::TreasuryAccounts {
                    staking: treasury.staking,
                    development: treasury.development,
                    liquidity: treasury.liquidity,
                }
            ),
            job_escrow::instruction::SetTreasury {}
        )
    );
    send(&mut f, ix, &[&admin]);
    let c = f.escrow_config();
    assert_eq!(
        [
            c.staking_treasury,
            c.development_treasury,
            c.liquidity_treasury
        ],
        [treasury.staking, treasury.development, treasury.liquidity]
    );

    let new_coordinator = Pubkey::new_unique();
    send(
        &mut f,
        ix::escrow::set_coordinator(&admin.pubkey(), new_coordinator),
        &[&admin],
    );
    assert_eq!(f.escrow_config().coordinator, new_coordinator);

    let new_admin = f.wallet();
    send(
        &mut f,
        ix::escrow::set_admin(&admin.pubkey(), new_admin.pubkey()),
        &[&admin],
    );
    assert_eq!(f.escrow_config().admin, new_admin.pubkey());
    send(
        &mut f,
        ix::escrow::set_paused(&new_admin.pubkey(), true),
        &[&new_admin],
    );
    assert!(f.escrow_config().paused);
}

// ── ReputationManager ────────────────────────────────────────────────────

#[test]
fn reputation_accounts_batch_update_and_admin_setters() {
    let mut f = EscrowEnv::new(insecure_test_proof);
    let coordinator = f.coordinator.insecure_clone();
    let admin = f.escrow_admin.insecure_clone();
    let payer = f.wallet();
    let a = f.env.registered(STAKE, STAKE);
    let b = f.env.registered(STAKE, STAKE);

    // init_node_reputation (payer ≠ owner) for both nodes.
    for op in [&a, &b] {
        let ix = ix::reputation::init_node_reputation(&payer.pubkey(), &op.key());
        assert_eq!(ix, deploy::init_node_reputation(&payer.pubkey(), &op.key()));
        send(&mut f, ix, &[&payer]);
        let r = f.reputation(&op.key());
        assert_eq!(r.owner, op.key());
        assert_eq!((r.jobs_completed, r.jobs_failed), (0, 0));
    }

    // init_user_reputation
    let wallet = Pubkey::new_unique();
    send(
        &mut f,
        ix::reputation::init_user_reputation(&payer.pubkey(), &wallet),
        &[&payer],
    );
    let u: UserReputation = f
        .chain
        .anchor_account(&pda::user_reputation(&wallet))
        .expect("user reputation created");
    assert_eq!(u.wallet, wallet);
    assert_eq!((u.disputes_won, u.disputes_lost), (0, 0));

    // batch_update: node indexes follow the order of the owners given.
    let owners = [b.key(), a.key()];
    let completed = UpdateKind::Completed {
        actual_secs: 3_600,
        estimated_secs: 3_600,
    };
    let updates = vec![
        ReputationUpdate {
            node_index: 1,
            kind: completed,
        },
        ReputationUpdate {
            node_index: 0,
            kind: UpdateKind::Failed,
        },
        ReputationUpdate {
            node_index: 1,
            kind: completed,
        },
    ];
    let ix = ix::reputation::batch_update(&coordinator.pubkey(), 7, &owners, updates.clone());
    let mut expected = Instruction {
        program_id: reputation_manager::ID,
        accounts: reputation_manager::accounts::BatchUpdate {
            updater: coordinator.pubkey(),
            config: pda::reputation_config(),
        }
        .to_account_metas(None),
        data: reputation_manager::instruction::BatchUpdate {
            batch_id: 7,
            updates,
        }
        .data(),
    };
    expected.accounts.extend([
        AccountMeta::new(deploy::node_reputation(&b.key()), false),
        AccountMeta::new(deploy::node_reputation(&a.key()), false),
    ]);
    assert_eq!(ix, expected);
    let applied0 = reputation_config(&f).batches_applied;
    send(&mut f, ix, &[&coordinator]);
    let (ra, rb) = (f.reputation(&a.key()), f.reputation(&b.key()));
    assert_eq!((ra.jobs_completed, ra.jobs_failed), (2, 0));
    assert_eq!((rb.jobs_completed, rb.jobs_failed), (0, 1));
    assert_eq!(reputation_config(&f).batches_applied, applied0 + 1);

    // The same batch id again is refused.
    let replay = ix::reputation::batch_update(
        &coordinator.pubkey(),
        7,
        &[a.key()],
        vec![ReputationUpdate {
            node_index: 0,
            kind: UpdateKind::Failed,
        }],
    );
    assert_anchor_err(
        f.send(replay, &[&coordinator]),
        ReputationError::BatchAlreadyApplied,
    );
    assert_eq!(f.reputation(&a.key()).jobs_failed, 0);

    // Admin setters.
    let mut params = reputation_params();
    params.max_batch_updates = 64;
    send(
        &mut f,
        ix::reputation::update_params(&admin.pubkey(), params),
        &[&admin],
    );
    assert_eq!(reputation_config(&f).params, params);

    let new_updater = f.wallet();
    send(
        &mut f,
        ix::reputation::set_updater(&admin.pubkey(), new_updater.pubkey()),
        &[&admin],
    );
    assert_eq!(reputation_config(&f).updater, new_updater.pubkey());
    let ix = ix::reputation::batch_update(
        &new_updater.pubkey(),
        8,
        &[a.key()],
        vec![ReputationUpdate {
            node_index: 0,
            kind: UpdateKind::TimedOut,
        }],
    );
    send(&mut f, ix, &[&new_updater]);
    assert_eq!(f.reputation(&a.key()).jobs_timed_out, 1);

    let new_admin = Pubkey::new_unique();
    send(
        &mut f,
        ix::reputation::set_admin(&admin.pubkey(), new_admin),
        &[&admin],
    );
    assert_eq!(reputation_config(&f).admin, new_admin);
}

// ── Dispute/DAO ──────────────────────────────────────────────────────────

/// A voter created and funded through the SDK builders (compared with the fixture's).
fn sdk_voter(d: &mut DaoEnv, a: &Addresses, tokens: u64) -> Voter {
    let wallet = d.f.env.wallet();
    let token = d.f.env.fund_tokens(&wallet.pubkey(), tokens);
    let v = Voter { wallet, token };
    let create = ix::dao::create_voter(&v.key());
    assert_eq!(
        create,
        dao_ix(
            d.create_voter_accounts(&v.key()),
            dispute_dao::instruction::CreateVoter {}
        )
    );
    let deposit = ix::dao::deposit(a, &v.key(), &v.token, tokens);
    assert_eq!(deposit, d.deposit_ix(&v, tokens));
    d.f.env
        .chain
        .send(&[create, deposit], &[&v.wallet])
        .expect("create voter and deposit");
    v
}

#[test]
fn dao_deposits_dispute_appeal_finalize_and_rewards() {
    let mut d = DaoEnv::new(insecure_test_proof);
    let a = addresses(&d);
    let user = d.user(USER_TOKENS);
    let node = d.node(STAKE);

    // create_voter + deposit, then withdraw part of it.
    let v0 = sdk_voter(&mut d, &a, 500 * CYX);
    let voter = d.voter_account(&v0.key()).expect("voter exists");
    assert_eq!((voter.wallet, voter.deposited), (v0.key(), 500 * CYX));
    assert_eq!(d.deposit_vault_balance(), 500 * CYX);
    assert_eq!(d.balance(&v0.token), 0);
    let ix = ix::dao::withdraw(&a, &v0.key(), &v0.token, 200 * CYX);
    assert_eq!(ix, d.withdraw_ix(&v0, 200 * CYX));
    d.f.send(ix, &[&v0.wallet]).expect("withdraw");
    assert_eq!(d.voter_account(&v0.key()).unwrap().deposited, 300 * CYX);
    assert_eq!(d.balance(&v0.token), 200 * CYX);
    assert_eq!(d.deposit_vault_balance(), 300 * CYX);
    assert_eq!(d.dao_config().total_deposited, 300 * CYX);

    // create_dispute by the user: the escrow is frozen, the user's standing created.
    let job = d.f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let ix = ix::dao::create_dispute(
        &a,
        &user.key(),
        job.id,
        &user.key(),
        Claim::WorkNotDone,
        [1; 32],
    );
    assert_eq!(
        ix,
        d.create_dispute_ix(&job, &user.key(), Claim::WorkNotDone, [1; 32])
    );
    d.f.send(ix, &[&user.wallet]).expect("create dispute");
    assert_eq!(d.state(&job), EscrowState::Disputed);
    let disp = d.dispute(&job);
    assert_eq!(
        (disp.user, disp.node, disp.opener),
        (user.key(), node.key(), user.key())
    );
    assert_eq!((disp.state, disp.round), (DisputeState::Open, 0));
    assert_eq!(disp.user_evidence[0], [1; 32]);
    assert!(
        d.chain
            .account(&pda::user_reputation(&user.key()))
            .is_some()
    );

    // submit_evidence by the node.
    let ix = ix::dao::submit_evidence(&node.key(), job.id, [2; 32]);
    assert_eq!(ix, d.evidence_ix(&job, &node.key(), [2; 32]));
    d.f.send(ix, &[&node.wallet]).expect("submit evidence");
    let disp = d.dispute(&job);
    assert_eq!(
        (disp.node_evidence_count, disp.node_evidence[0]),
        (1, [2; 32])
    );

    // cast_vote (round 0) for the node by a quorum voter; tally.
    let q1 = disp.quorum;
    let first = sdk_voter(&mut d, &a, q1);
    d.warp_to_voting(&job);
    let ix = ix::dao::cast_vote(&first.key(), job.id, 0, Side::NodeFavor);
    assert_eq!(ix, d.vote_ix(&job, &first.key(), Side::NodeFavor));
    d.f.send(ix, &[&first.wallet]).expect("vote");
    let disp = d.dispute(&job);
    assert_eq!((disp.votes_node, disp.votes_user, disp.voters), (q1, 0, 1));
    assert!(
        d.vote_record(&pda::dispute(&job.id), 0, &first.key())
            .is_some()
    );

    d.warp_past_voting(&job);
    let ix = ix::dao::tally(job.id);
    assert_eq!(ix, d.tally_ix(&job));
    d.f.send(ix, &[]).expect("tally");
    let disp = d.dispute(&job);
    assert_eq!(
        (disp.state, disp.verdict),
        (DisputeState::Decided, Verdict::NodeFavor)
    );

    // appeal by the user (the loser): the deposit moves to the appeal vault.
    let deposit = dao_params().appeal_deposit;
    let ix = ix::dao::appeal(&a, &user.key(), &user.token, job.id, [9; 32]);
    assert_eq!(ix, d.appeal_ix(&job, &user.key(), &user.token, [9; 32]));
    let u0 = d.balance(&user.token);
    d.f.send(ix, &[&user.wallet]).expect("appeal");
    assert_eq!(d.balance(&user.token), u0 - deposit);
    assert_eq!(d.appeal_vault_balance(), deposit);
    let disp = d.dispute(&job);
    assert_eq!(
        (disp.round, disp.state, disp.appellant),
        (1, DisputeState::Open, user.key())
    );

    // cast_vote (round 1) for the user by a new quorum voter; tally.
    let second = sdk_voter(&mut d, &a, disp.quorum);
    d.warp_to_voting(&job);
    let ix = ix::dao::cast_vote(&second.key(), job.id, 1, Side::UserFavor);
    assert_eq!(ix, d.vote_ix(&job, &second.key(), Side::UserFavor));
    d.f.send(ix, &[&second.wallet]).expect("re-vote");
    d.warp_past_voting(&job);
    d.f.send(ix::dao::tally(job.id), &[]).expect("tally appeal");
    assert_eq!(d.dispute(&job).verdict, Verdict::UserFavor);

    // finalize: refund, fraud slash shared with the user, deposit back, node banned.
    let ix = ix::dao::finalize(
        &a,
        job.id,
        &user.key(),
        &node.key(),
        &user.token,
        &node.token,
    );
    assert_eq!(ix, d.finalize_ix(&job));
    let u0 = d.balance(&user.token);
    let t0 = d.treasury_balance();
    let supply = d.supply();
    d.f.send(ix, &[]).expect("finalize");
    d.assert_tokens_conserved(supply);
    let slashed = STAKE - d.node_account(&node.key()).stake;
    let to_user = slashed * u64::from(dao_params().slash_to_user_bps) / 10_000;
    assert!(slashed > 0);
    assert_eq!(d.balance(&user.token), u0 + AMOUNT + deposit + to_user);
    assert_eq!(d.treasury_balance(), t0 + slashed - to_user);
    assert_eq!(d.appeal_vault_balance(), 0);
    assert_eq!(d.state(&job), EscrowState::Refunded);
    assert_eq!(d.dispute(&job).state, DisputeState::Executed);
    assert_eq!(d.node_account(&node.key()).status, NodeStatus::Banned);
    let ur: UserReputation = d
        .chain
        .anchor_account(&pda::user_reputation(&user.key()))
        .unwrap();
    assert_eq!(ur.disputes_won, 1);
    assert_eq!(d.reputation(&node.key()).disputes_lost, 1);

    // claim_vote_reward: the appeal-round winner earns the reward, the loser nothing;
    // both vote records are closed.
    let reward = dao_params().voter_reward;
    d.fund_treasury(reward);
    let ix = ix::dao::claim_vote_reward(&a, &second.key(), &second.token, job.id, 1);
    assert_eq!(ix, d.claim_ix(&job, &second, 1));
    let (s0, t0) = (d.balance(&second.token), d.treasury_balance());
    let ok = d.f.send(ix, &[&second.wallet]).expect("claim");
    assert_eq!(ok.event::<RewardClaimed>().reward, reward);
    assert_eq!(d.balance(&second.token), s0 + reward);
    assert_eq!(d.treasury_balance(), t0 - reward);
    assert!(
        d.vote_record(&pda::dispute(&job.id), 1, &second.key())
            .is_none()
    );

    let ix = ix::dao::claim_vote_reward(&a, &first.key(), &first.token, job.id, 0);
    assert_eq!(ix, d.claim_ix(&job, &first, 0));
    let ok = d.f.send(ix, &[&first.wallet]).expect("claim nothing");
    assert_eq!(ok.event::<RewardClaimed>().reward, 0);
    assert!(
        d.vote_record(&pda::dispute(&job.id), 0, &first.key())
            .is_none()
    );

    // The first voter's lock has expired: its whole deposit can be withdrawn.
    send(
        &mut d.f,
        ix::dao::withdraw(&a, &first.key(), &first.token, q1),
        &[&first.wallet],
    );
    assert_eq!(d.balance(&first.token), q1);
    assert_eq!(d.voter_account(&first.key()).unwrap().deposited, 0);
    d.assert_tokens_conserved(d.supply());
}

#[test]
fn dao_proposals_for_every_target_and_admin_setters() {
    let mut d = DaoEnv::new(insecure_test_proof);
    assert_eq!(d.supply(), 0, "the fixture mints nothing before the voters");
    let a = addresses(&d);
    let whale = sdk_voter(&mut d, &a, 1_000 * CYX);

    let mut escrow = escrow_params();
    escrow.close_grace_secs += 3_600;
    let mut registry = registry_params();
    registry.unstake_cooldown_secs += 3_600;
    let mut reputation = reputation_params();
    reputation.max_batch_updates = 64;
    let mut dao = dao_params();
    dao.voter_reward *= 2;
    let changes = [
        ParamChange::Escrow(escrow),
        ParamChange::Registry(registry),
        ParamChange::Reputation(reputation),
        ParamChange::Dao(dao),
    ];

    // propose + vote_proposal for each.
    let mut proposal_ids = Vec::new();
    for change in changes {
        let id = d.dao_config().proposal_count;
        let ix = ix::dao::propose(&a, &whale.key(), id, change, [7; 32]);
        assert_eq!(ix, d.propose_ix(&whale.key(), change));
        d.f.send(ix, &[&whale.wallet]).expect("propose");
        let p = d.proposal(id);
        assert_eq!((p.id, p.proposer, p.change), (id, whale.key(), change));
        assert_eq!(p.description_hash, [7; 32]);

        let ix = ix::dao::vote_proposal(&whale.key(), id, true);
        assert_eq!(ix, d.vote_proposal_ix(&whale.key(), id, true));
        d.f.send(ix, &[&whale.wallet]).expect("vote on proposal");
        let p = d.proposal(id);
        assert_eq!((p.votes_for, p.votes_against), (1_000 * CYX, 0));
        proposal_ids.push(id);
    }

    // execute_proposal after voting and the timelock: the target config is writable.
    let p = d.proposal(*proposal_ids.last().unwrap());
    d.warp_until(p.voting_end + d.dao_config().params.timelock_secs);
    for (id, change) in proposal_ids.iter().zip(changes) {
        let ix = ix::dao::execute_proposal(*id, &change);
        assert_eq!(ix, d.execute_proposal_ix(*id));
        let (target, _) = ix::dao::change_target(&change);
        assert!(
            ix.accounts
                .iter()
                .filter(|m| m.pubkey == target)
                .all(|m| m.is_writable)
        );
        d.f.send(ix, &[]).expect("execute proposal");
        let p = d.proposal(*id);
        assert_eq!(
            (p.state, p.executed_at),
            (ProposalState::Executed, d.chain.now())
        );
    }
    assert_eq!(d.escrow_config().params, escrow);
    assert_eq!(d.config().params, registry);
    assert_eq!(reputation_config(&d).params, reputation);
    assert_eq!(d.dao_config().params, dao);

    // close_proposal_vote: the vote record's rent goes back to the voter.
    for id in &proposal_ids {
        let ix = ix::dao::close_proposal_vote(&whale.key(), *id);
        assert_eq!(
            ix,
            dao_ix(
                d.close_proposal_vote_accounts(&whale.key(), *id),
                dispute_dao::instruction::CloseProposalVote {}
            )
        );
        let record = pda::proposal_vote(&pda::proposal(*id), &whale.key());
        let rent = d.chain.lamports(&record);
        let before = d.chain.lamports(&whale.key());
        send(&mut d.f, ix, &[&whale.wallet]);
        assert!(d.chain.account(&record).is_none_or(|acc| acc.lamports == 0));
        // The voter also paid the transaction fee.
        assert!(d.chain.lamports(&whale.key()) + 10_000 >= before + rent);
    }

    // DAO admin setters.
    let admin = d.dao_admin.insecure_clone();
    let mut params = dao_params();
    params.evidence_secs += 60;
    let ix = ix::dao::update_params(&admin.pubkey(), params);
    assert_eq!(
        ix,
        dao_ix(
            d.update_config_accounts(&admin.pubkey()),
            dispute_dao::instruction::UpdateParams { params }
        )
    );
    send(&mut d.f, ix, &[&admin]);
    assert_eq!(d.dao_config().params, params);
    let new_admin = Pubkey::new_unique();
    send(
        &mut d.f,
        ix::dao::set_admin(&admin.pubkey(), new_admin),
        &[&admin],
    );
    assert_eq!(d.dao_config().admin, new_admin);
}
