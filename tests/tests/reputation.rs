//! ReputationManager end to end on the native SVM: initialisation and admin, reputation
//! account creation, the coordinator's batched updates (replay window, account checks,
//! score and tier maths, events), the uptime bonus, the CPI-only hooks, ratings through
//! JobEscrow and JobEscrow's tier checks. Every failure asserts the exact error and that
//! the reputation config and the touched reputation accounts did not change.

use anchor_lang::{
    InstructionData, ToAccountMetas, error::ErrorCode as AnchorErrorCode, prelude::Pubkey,
    system_program,
};
use cyxwiz_common::{
    ids,
    units::{DAY, ONE_CYXWIZ},
};
use cyxwiz_deploy::programs as deploy;
use cyxwiz_program_tests::{escrow::*, *};
use job_escrow::{EscrowError, EscrowState, instruction as eix, verifier::insecure_test_proof};
use reputation_manager::{
    ReputationConfig, ReputationError, ReputationParams, ReputationUpdate, Tier, UpdateKind,
    UserReputation, VerdictEffect, accounts as racc,
    constants::{BATCH_WINDOW, default_params},
    events::{
        BatchApplied, NodeRated, NodeReputationCreated, ReputationInitialized,
        ReputationParamsUpdated, TierChanged, VerdictApplied,
    },
    instruction as rix,
};
use solana_instruction::{AccountMeta, Instruction};
use solana_keypair::Keypair;
use solana_signer::Signer;

const CYX: u64 = ONE_CYXWIZ;
const STAKE: u64 = 5_000 * CYX;
const USER_TOKENS: u64 = 10_000 * CYX;
const AMOUNT: u64 = 100 * CYX;
const EPOCHS: u32 = 4;

// ── helpers ──────────────────────────────────────────────────────────────

fn setup() -> EscrowEnv {
    EscrowEnv::new(insecure_test_proof)
}

fn rep_ix(accounts: impl ToAccountMetas, data: impl InstructionData) -> Instruction {
    Instruction {
        program_id: reputation_manager::ID,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}

fn config_key() -> Pubkey {
    deploy::reputation_config()
}

fn rep_config(f: &EscrowEnv) -> ReputationConfig {
    f.chain
        .anchor_account(&config_key())
        .expect("reputation config exists")
}

type Raw = Vec<(Pubkey, Option<(u64, Vec<u8>)>)>;

/// Raw lamports and data of the reputation config and of `keys`.
fn raw(f: &EscrowEnv, keys: &[Pubkey]) -> Raw {
    std::iter::once(config_key())
        .chain(keys.iter().copied())
        .map(|k| (k, f.chain.account(&k).map(|a| (a.lamports, a.data))))
        .collect()
}

/// Sends `ix`, asserts the exact error, and that neither the reputation config, the
/// accounts `keys`, nor any escrow/registry state changed.
#[track_caller]
fn rep_fails(
    f: &mut EscrowEnv,
    ix: Instruction,
    signers: &[&Keypair],
    expected: impl Into<anchor_lang::error::Error>,
    keys: &[Pubkey],
) {
    let before = raw(f, keys);
    let escrow_before = f.escrow_snapshot();
    let result = f.send(ix, signers);
    assert_anchor_err(result, expected);
    assert_eq!(raw(f, keys), before, "reputation state changed");
    assert_eq!(
        f.escrow_snapshot(),
        escrow_before,
        "escrow/registry changed"
    );
}

/// A registered node whose reputation account is fresh (score 0, Bronze).
fn fresh_node(f: &mut EscrowEnv) -> Operator {
    let op = f.env.registered(STAKE, STAKE);
    f.token_of.insert(op.key(), op.token);
    let ix = deploy::init_node_reputation(&op.key(), &op.key());
    f.send(ix, &[&op.wallet]).expect("init node reputation");
    op
}

fn batch_ix_with(
    updater: &Pubkey,
    batch_id: u64,
    updates: Vec<ReputationUpdate>,
    nodes: Vec<AccountMeta>,
) -> Instruction {
    let mut accounts = racc::BatchUpdate {
        updater: *updater,
        config: config_key(),
    }
    .to_account_metas(None);
    accounts.extend(nodes);
    Instruction {
        program_id: reputation_manager::ID,
        accounts,
        data: rix::BatchUpdate { batch_id, updates }.data(),
    }
}

/// `batch_update` over the reputation accounts of `owners` (writable, in order).
fn batch_ix(
    updater: &Pubkey,
    batch_id: u64,
    updates: Vec<ReputationUpdate>,
    owners: &[Pubkey],
) -> Instruction {
    let nodes = owners
        .iter()
        .map(|o| AccountMeta::new(deploy::node_reputation(o), false))
        .collect();
    batch_ix_with(updater, batch_id, updates, nodes)
}

fn upd(node_index: u8, kind: UpdateKind) -> ReputationUpdate {
    ReputationUpdate { node_index, kind }
}

fn done(actual_secs: u32, estimated_secs: u32) -> UpdateKind {
    UpdateKind::Completed {
        actual_secs,
        estimated_secs,
    }
}

fn uptime(received: u32, expected: u32) -> UpdateKind {
    UpdateKind::Uptime { received, expected }
}

fn batch(
    f: &mut EscrowEnv,
    batch_id: u64,
    updates: Vec<ReputationUpdate>,
    owners: &[Pubkey],
) -> TxOk {
    let coordinator = f.coordinator.insecure_clone();
    let ix = batch_ix(&coordinator.pubkey(), batch_id, updates, owners);
    f.send(ix, &[&coordinator]).expect("batch update")
}

fn update_config_accounts(authority: &Pubkey) -> racc::UpdateConfig {
    racc::UpdateConfig {
        authority: *authority,
        config: config_key(),
    }
}

fn rep_keys(owners: &[Pubkey]) -> Vec<Pubkey> {
    owners.iter().map(deploy::node_reputation).collect()
}

// ── initialize ───────────────────────────────────────────────────────────

#[test]
fn initialize_by_the_deployer_stores_authorities_and_params() {
    let mut f = EscrowEnv::uninitialized(kit::TOKEN_PROGRAM, insecure_test_proof);
    assert!(
        f.chain.account(&config_key()).is_none(),
        "uninitialized fixture must not initialise ReputationManager"
    );
    let deployer = cyxwiz_deploy::keys::localnet_deployer();
    let admin = f.escrow_admin.pubkey();
    let updater = f.coordinator.pubkey();
    let ix = deploy::initialize_reputation(&ids::DEPLOYER, &admin, &updater, default_params());
    let ok = f.send(ix, &[&deployer]).expect("initialize");
    let c = rep_config(&f);
    assert_eq!(c.admin, admin);
    assert_eq!(c.updater, updater);
    assert_eq!(c.governance, ids::governance_authority());
    assert_eq!(c.escrow_authority, ids::escrow_authority());
    assert_eq!(c.dispute_authority, ids::dispute_authority());
    assert_eq!(c.params, default_params());
    assert_eq!(c.batch_base, 0);
    assert_eq!(c.batch_bitmap, [0; 4]);
    assert_eq!(c.batches_applied, 0);
    let (pda, bump) = Pubkey::find_program_address(
        &[cyxwiz_common::seeds::REPUTATION_CONFIG],
        &reputation_manager::ID,
    );
    assert_eq!(pda, config_key());
    assert_eq!(c.bump, bump);
    assert_eq!(
        ok.event::<ReputationInitialized>(),
        ReputationInitialized {
            admin,
            updater,
            params: default_params()
        }
    );

    // A second initialisation fails: the config account is already in use.
    let ix = deploy::initialize_reputation(&ids::DEPLOYER, &admin, &updater, default_params());
    let before = raw(&f, &[]);
    let err = f.send(ix, &[&deployer]).unwrap_err();
    assert_eq!(err.custom_code(), Some(0), "account already in use; {err}");
    assert_eq!(raw(&f, &[]), before);
}

#[test]
fn initialize_rejects_other_signers_bad_params_and_default_keys() {
    let mut f = EscrowEnv::uninitialized(kit::TOKEN_PROGRAM, insecure_test_proof);
    let deployer = cyxwiz_deploy::keys::localnet_deployer();
    let admin = f.escrow_admin.pubkey();
    let updater = f.coordinator.pubkey();

    // Anyone but the deployer.
    let attacker = f.wallet();
    let ix = deploy::initialize_reputation(&attacker.pubkey(), &admin, &updater, default_params());
    rep_fails(&mut f, ix, &[&attacker], ReputationError::NotDeployer, &[]);

    // Unordered tiers, a too-large batch size, a capped Diamond tier, a zero period.
    let mut bads: Vec<ReputationParams> = Vec::new();
    let mut p = default_params();
    p.tier_min_score = [0, 600, 300, 800];
    bads.push(p);
    let mut p = default_params();
    p.tier_min_score[0] = 1;
    bads.push(p);
    let mut p = default_params();
    p.max_batch_updates = 0;
    bads.push(p);
    let mut p = default_params();
    p.tier_max_job_amount[3] = 5;
    bads.push(p);
    let mut p = default_params();
    p.uptime_bonus_period_secs = 0;
    bads.push(p);
    for bad in bads {
        let ix = deploy::initialize_reputation(&ids::DEPLOYER, &admin, &updater, bad);
        rep_fails(
            &mut f,
            ix,
            &[&deployer],
            ReputationError::InvalidParams,
            &[],
        );
    }

    // Default admin or updater.
    let ix = deploy::initialize_reputation(
        &ids::DEPLOYER,
        &Pubkey::default(),
        &updater,
        default_params(),
    );
    rep_fails(
        &mut f,
        ix,
        &[&deployer],
        ReputationError::InvalidParams,
        &[],
    );
    let ix =
        deploy::initialize_reputation(&ids::DEPLOYER, &admin, &Pubkey::default(), default_params());
    rep_fails(
        &mut f,
        ix,
        &[&deployer],
        ReputationError::InvalidParams,
        &[],
    );

    assert!(f.chain.account(&config_key()).is_none());
}

// ── admin ────────────────────────────────────────────────────────────────

#[test]
fn update_params_by_admin_or_governance_only_and_validated() {
    let mut f = setup();
    let admin = f.escrow_admin.insecure_clone();
    let mut p = default_params();
    p.points.job_completed = 25;
    p.max_batch_updates = 64;

    // Random signer and the updater are not admin.
    let attacker = f.wallet();
    let ix = rep_ix(
        update_config_accounts(&attacker.pubkey()),
        rix::UpdateParams { params: p },
    );
    rep_fails(
        &mut f,
        ix,
        &[&attacker],
        ReputationError::NotAdminOrGovernance,
        &[],
    );
    let coordinator = f.coordinator.insecure_clone();
    let ix = rep_ix(
        update_config_accounts(&coordinator.pubkey()),
        rix::UpdateParams { params: p },
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::NotAdminOrGovernance,
        &[],
    );

    // Invalid params.
    let mut bad = p;
    bad.tier_min_score = [0, 300, 300, 800];
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::UpdateParams { params: bad },
    );
    rep_fails(&mut f, ix, &[&admin], ReputationError::InvalidParams, &[]);
    let mut bad = p;
    bad.uptime_min_bps = 10_001;
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::UpdateParams { params: bad },
    );
    rep_fails(&mut f, ix, &[&admin], ReputationError::InvalidParams, &[]);
    let mut bad = p;
    bad.points.dispute_lost = 1_001;
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::UpdateParams { params: bad },
    );
    rep_fails(&mut f, ix, &[&admin], ReputationError::InvalidParams, &[]);

    // Admin.
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::UpdateParams { params: p },
    );
    let ok = f.send(ix, &[&admin]).expect("admin updates params");
    assert_eq!(rep_config(&f).params, p);
    assert_eq!(
        ok.event::<ReputationParamsUpdated>(),
        ReputationParamsUpdated {
            by: admin.pubkey(),
            params: p
        }
    );

    // Governance (Dispute/DAO's PDA, through the stand-in program).
    let q = default_params();
    let inner = rep_ix(
        update_config_accounts(&ids::governance_authority()),
        rix::UpdateParams { params: q },
    );
    let ok = f
        .send(via_dispute_dao(AS_GOVERNANCE, inner), &[])
        .expect("governance updates params");
    assert_eq!(rep_config(&f).params, q);
    assert_eq!(
        ok.event::<ReputationParamsUpdated>().by,
        ids::governance_authority()
    );

    // The new params apply: a completed job now earns the configured points.
    let node = fresh_node(&mut f);
    let admin_ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::UpdateParams { params: p },
    );
    f.send(admin_ix, &[&admin]).expect("params again");
    batch(&mut f, 1, vec![upd(0, done(10, 10))], &[node.key()]);
    assert_eq!(f.reputation(&node.key()).points, 25);
}

#[test]
fn set_admin_rotates_the_admin() {
    let mut f = setup();
    let admin = f.escrow_admin.insecure_clone();
    let new_admin = f.wallet();

    let attacker = f.wallet();
    let ix = rep_ix(
        update_config_accounts(&attacker.pubkey()),
        rix::SetAdmin {
            admin: attacker.pubkey(),
        },
    );
    rep_fails(
        &mut f,
        ix,
        &[&attacker],
        ReputationError::NotAdminOrGovernance,
        &[],
    );
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::SetAdmin {
            admin: Pubkey::default(),
        },
    );
    rep_fails(&mut f, ix, &[&admin], ReputationError::InvalidParams, &[]);

    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::SetAdmin {
            admin: new_admin.pubkey(),
        },
    );
    f.send(ix, &[&admin]).expect("set admin");
    assert_eq!(rep_config(&f).admin, new_admin.pubkey());

    // The old admin lost its rights; the new one has them.
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::SetAdmin {
            admin: admin.pubkey(),
        },
    );
    rep_fails(
        &mut f,
        ix,
        &[&admin],
        ReputationError::NotAdminOrGovernance,
        &[],
    );
    let mut p = default_params();
    p.uptime_min_bps = 9_000;
    let ix = rep_ix(
        update_config_accounts(&new_admin.pubkey()),
        rix::UpdateParams { params: p },
    );
    f.send(ix, &[&new_admin]).expect("new admin updates params");
    assert_eq!(rep_config(&f).params.uptime_min_bps, 9_000);
}

#[test]
fn set_updater_moves_batch_rights() {
    let mut f = setup();
    let admin = f.escrow_admin.insecure_clone();
    let coordinator = f.coordinator.insecure_clone();
    let new_updater = f.wallet();
    let node = fresh_node(&mut f);

    let attacker = f.wallet();
    let ix = rep_ix(
        update_config_accounts(&attacker.pubkey()),
        rix::SetUpdater {
            updater: attacker.pubkey(),
        },
    );
    rep_fails(
        &mut f,
        ix,
        &[&attacker],
        ReputationError::NotAdminOrGovernance,
        &[],
    );
    // The updater itself cannot rotate the key.
    let ix = rep_ix(
        update_config_accounts(&coordinator.pubkey()),
        rix::SetUpdater {
            updater: new_updater.pubkey(),
        },
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::NotAdminOrGovernance,
        &[],
    );
    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::SetUpdater {
            updater: Pubkey::default(),
        },
    );
    rep_fails(&mut f, ix, &[&admin], ReputationError::InvalidParams, &[]);

    let ix = rep_ix(
        update_config_accounts(&admin.pubkey()),
        rix::SetUpdater {
            updater: new_updater.pubkey(),
        },
    );
    f.send(ix, &[&admin]).expect("set updater");
    assert_eq!(rep_config(&f).updater, new_updater.pubkey());

    let keys = rep_keys(&[node.key()]);
    let ix = batch_ix(
        &coordinator.pubkey(),
        1,
        vec![upd(0, UpdateKind::Failed)],
        &[node.key()],
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::NotUpdater,
        &keys,
    );
    let ix = batch_ix(
        &new_updater.pubkey(),
        1,
        vec![upd(0, done(5, 5))],
        &[node.key()],
    );
    f.send(ix, &[&new_updater]).expect("new updater batches");
    assert_eq!(f.reputation(&node.key()).jobs_completed, 1);
}

// ── init_node_reputation ─────────────────────────────────────────────────

#[test]
fn init_node_reputation_for_registered_nodes_only_and_once() {
    let mut f = setup();
    let op = f.env.registered(STAKE, STAKE);
    assert!(f.try_reputation(&op.key()).is_none());

    // Anyone may pay.
    let payer = f.wallet();
    let ix = deploy::init_node_reputation(&payer.pubkey(), &op.key());
    let ok = f.send(ix, &[&payer]).expect("init node reputation");
    let r = f.reputation(&op.key());
    assert_eq!(r.owner, op.key());
    assert_eq!((r.score, r.points, r.tier), (0, 0, Tier::Bronze));
    assert_eq!(r.jobs_assigned(), 0);
    assert_eq!(r.rating_count, 0);
    assert_eq!(r.uptime_streak_start, 0);
    assert_eq!(r.created_at, f.chain.now());
    assert_eq!(r.updated_at, f.chain.now());
    let (pda, bump) = Pubkey::find_program_address(
        &[cyxwiz_common::seeds::NODE_REPUTATION, op.key().as_ref()],
        &reputation_manager::ID,
    );
    assert_eq!(pda, deploy::node_reputation(&op.key()));
    assert_eq!(r.bump, bump);
    assert_eq!(
        f.chain.owner_of(&pda),
        reputation_manager::ID,
        "owned by ReputationManager"
    );
    assert_eq!(
        ok.event::<NodeReputationCreated>(),
        NodeReputationCreated { owner: op.key() }
    );

    // Twice: the account is already in use.
    let keys = rep_keys(&[op.key()]);
    let before = raw(&f, &keys);
    let ix = deploy::init_node_reputation(&op.key(), &op.key());
    let err = f.send(ix, &[&op.wallet]).unwrap_err();
    assert_eq!(err.custom_code(), Some(0), "account already in use; {err}");
    assert_eq!(raw(&f, &keys), before);

    // A wallet without a registered node.
    let stranger = f.wallet();
    let ix = deploy::init_node_reputation(&stranger.pubkey(), &stranger.pubkey());
    let keys = rep_keys(&[stranger.pubkey()]);
    rep_fails(
        &mut f,
        ix,
        &[&stranger],
        AnchorErrorCode::AccountNotInitialized,
        &keys,
    );
    assert!(f.try_reputation(&stranger.pubkey()).is_none());
}

// ── batch_update ─────────────────────────────────────────────────────────

#[test]
fn batch_update_applies_every_kind_and_recomputes_scores() {
    let mut f = setup();
    let a = fresh_node(&mut f);
    let b = fresh_node(&mut f);
    let c = fresh_node(&mut f);
    // Earned points before the batch (score/tier as the program last computed them).
    f.set_reputation(&a.key(), |r| r.points = 295);
    f.set_reputation(&b.key(), |r| r.points = 200);
    f.set_score(&c.key(), 650);
    assert_eq!(f.reputation(&c.key()).tier, Tier::Gold);

    let updates = vec![
        upd(0, done(100, 100)),
        upd(1, done(150, 100)),
        upd(2, UpdateKind::InvalidProof),
        upd(0, done(100, 100)),
        upd(1, UpdateKind::Failed),
        upd(2, uptime(90, 100)),
        upd(0, done(100, 100)),
        upd(1, UpdateKind::TimedOut),
        upd(0, uptime(100, 100)),
    ];
    let owners = [a.key(), b.key(), c.key()];
    let ok = batch(&mut f, 7, updates, &owners);
    let now = f.chain.now();

    // A: three on-time jobs, full uptime; quality 400 + 250 + 120 + 100 + 50 = 920.
    let r = f.reputation(&a.key());
    assert_eq!(r.jobs_completed, 3);
    assert_eq!(
        (r.jobs_failed, r.jobs_timed_out, r.jobs_invalid_proof),
        (0, 0, 0)
    );
    assert_eq!(r.time_samples, 3);
    assert_eq!(r.time_accuracy_sum_bps, 30_000);
    assert_eq!((r.valid_proofs, r.total_proofs), (3, 3));
    assert_eq!((r.heartbeats_received, r.heartbeats_expected), (100, 100));
    assert_eq!(r.uptime_streak_start, now, "a good report starts a streak");
    assert_eq!(r.points, 325);
    assert_eq!(r.quality(), 920);
    assert_eq!(r.score, r.points.min(r.quality()));
    assert_eq!(r.score, 325);
    assert_eq!(r.tier, Tier::Silver);
    assert_eq!(r.updated_at, now);

    // B: one job 50 % late, one failure, one timeout.
    // Quality: completion 1/3 → 133, time 5,000 bps → 125, unrated 120, proofs 1/1 → 100.
    let r = f.reputation(&b.key());
    assert_eq!(
        (r.jobs_completed, r.jobs_failed, r.jobs_timed_out),
        (1, 1, 1)
    );
    assert_eq!(r.time_accuracy_sum_bps, 5_000);
    assert_eq!(r.points, 200 + 10 - 50 - 30);
    assert_eq!(r.quality(), 133 + 125 + 120 + 100);
    assert_eq!(r.score, 130);
    assert_eq!(r.tier, Tier::Bronze);

    // C: a rejected proof and 90 % uptime (below the 95 % bar: no streak).
    // Quality: 0 + 0 + 120 + 0 + 45 = 165 caps the score.
    let r = f.reputation(&c.key());
    assert_eq!(r.jobs_invalid_proof, 1);
    assert_eq!((r.valid_proofs, r.total_proofs), (0, 1));
    assert_eq!((r.heartbeats_received, r.heartbeats_expected), (90, 100));
    assert_eq!(r.uptime_streak_start, 0);
    assert_eq!(r.points, 550);
    assert_eq!(r.quality(), 165);
    assert_eq!(r.score, 165);
    assert_eq!(r.tier, Tier::Bronze);

    assert_eq!(
        ok.event::<BatchApplied>(),
        BatchApplied {
            batch_id: 7,
            updates: 9,
            nodes: 3
        }
    );
    assert_eq!(
        ok.events::<TierChanged>(),
        vec![
            TierChanged {
                owner: a.key(),
                from: Tier::Bronze,
                to: Tier::Silver,
                score: 325
            },
            TierChanged {
                owner: c.key(),
                from: Tier::Gold,
                to: Tier::Bronze,
                score: 165
            },
        ]
    );

    let cfg = rep_config(&f);
    assert_eq!(cfg.batches_applied, 1);
    assert_eq!(cfg.batch_base, 0);
    assert_eq!(cfg.batch_bitmap, [1 << 7, 0, 0, 0]);

    // Out of order inside the window is fine; no tier change, no TierChanged event.
    let ok = batch(&mut f, 3, vec![upd(0, done(100, 100))], &[b.key()]);
    assert!(ok.events::<TierChanged>().is_empty());
    assert_eq!(ok.event::<BatchApplied>().nodes, 1);
    assert_eq!(f.reputation(&b.key()).jobs_completed, 2);
    let cfg = rep_config(&f);
    assert_eq!(cfg.batches_applied, 2);
    assert_eq!(cfg.batch_bitmap[0], (1 << 7) | (1 << 3));
}

#[test]
fn batch_update_rejects_wrong_signer_replays_and_old_ids() {
    let mut f = setup();
    let node = fresh_node(&mut f);
    let owners = [node.key()];
    let keys = rep_keys(&owners);
    let coordinator = f.coordinator.insecure_clone();

    // Not the updater (random wallet, the reputation admin).
    let attacker = f.wallet();
    let ix = batch_ix(&attacker.pubkey(), 1, vec![upd(0, done(1, 1))], &owners);
    rep_fails(&mut f, ix, &[&attacker], ReputationError::NotUpdater, &keys);
    let admin = f.escrow_admin.insecure_clone();
    let ix = batch_ix(&admin.pubkey(), 1, vec![upd(0, done(1, 1))], &owners);
    rep_fails(&mut f, ix, &[&admin], ReputationError::NotUpdater, &keys);

    // Replay.
    batch(&mut f, 1, vec![upd(0, done(1, 1))], &owners);
    let ix = batch_ix(&coordinator.pubkey(), 1, vec![upd(0, done(1, 1))], &owners);
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::BatchAlreadyApplied,
        &keys,
    );
    assert_eq!(f.reputation(&node.key()).jobs_completed, 1, "counted once");

    // A jump slides the window; ids that fell out of it are too old.
    batch(&mut f, 1_000, vec![upd(0, done(1, 1))], &owners);
    assert_eq!(rep_config(&f).batch_base, 1_000 - (BATCH_WINDOW - 1));
    for old in [2, 744] {
        let ix = batch_ix(
            &coordinator.pubkey(),
            old,
            vec![upd(0, done(1, 1))],
            &owners,
        );
        rep_fails(
            &mut f,
            ix,
            &[&coordinator],
            ReputationError::BatchTooOld,
            &keys,
        );
    }
    let ix = batch_ix(
        &coordinator.pubkey(),
        1_000,
        vec![upd(0, done(1, 1))],
        &owners,
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::BatchAlreadyApplied,
        &keys,
    );
    // The oldest id still in the window works.
    batch(&mut f, 745, vec![upd(0, done(1, 1))], &owners);
    let r = f.reputation(&node.key());
    assert_eq!(r.jobs_completed, 3);
    assert_eq!(rep_config(&f).batches_applied, 3);
    assert_eq!(rep_config(&f).batch_bitmap, [1, 0, 0, 1 << 63]);

    // Ids on both sides of a word boundary (offsets 63 and 64), then a slide by one: the
    // bit of 809 carries from word 1 into word 0, 745 falls out.
    batch(&mut f, 808, vec![upd(0, done(1, 1))], &owners);
    batch(&mut f, 809, vec![upd(0, done(1, 1))], &owners);
    assert_eq!(rep_config(&f).batch_bitmap, [1 | (1 << 63), 1, 0, 1 << 63]);
    batch(&mut f, 1_001, vec![upd(0, done(1, 1))], &owners);
    let cfg = rep_config(&f);
    assert_eq!(cfg.batch_base, 746);
    assert_eq!(
        cfg.batch_bitmap,
        [(1 << 62) | (1 << 63), 0, 0, (1 << 62) | (1 << 63)]
    );
    assert_eq!(cfg.batches_applied, 6);
    for (id, err) in [
        (745, ReputationError::BatchTooOld),
        (808, ReputationError::BatchAlreadyApplied),
        (809, ReputationError::BatchAlreadyApplied),
        (1_000, ReputationError::BatchAlreadyApplied),
        (1_001, ReputationError::BatchAlreadyApplied),
    ] {
        let ix = batch_ix(&coordinator.pubkey(), id, vec![upd(0, done(1, 1))], &owners);
        rep_fails(&mut f, ix, &[&coordinator], err, &keys);
    }
    batch(&mut f, 810, vec![upd(0, done(1, 1))], &owners);
    assert_eq!(f.reputation(&node.key()).jobs_completed, 7);
}

#[test]
fn batch_update_rejects_bad_sizes_indices_and_accounts() {
    let mut f = setup();
    let a = fresh_node(&mut f);
    let b = fresh_node(&mut f);
    let coordinator = f.coordinator.insecure_clone();
    let owners = [a.key(), b.key()];
    let keys = rep_keys(&owners);
    let max = default_params().max_batch_updates;

    // Empty, too large, no accounts.
    let ix = batch_ix(&coordinator.pubkey(), 1, vec![], &owners);
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::InvalidBatchSize,
        &keys,
    );
    let too_many = vec![upd(0, UpdateKind::Failed); usize::from(max) + 1];
    let ix = batch_ix(&coordinator.pubkey(), 1, too_many, &owners);
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::InvalidBatchSize,
        &keys,
    );
    let ix = batch_ix(
        &coordinator.pubkey(),
        1,
        vec![upd(0, UpdateKind::Failed)],
        &[],
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::InvalidBatchSize,
        &keys,
    );

    // Index past the accounts.
    let ix = batch_ix(
        &coordinator.pubkey(),
        1,
        vec![upd(0, done(1, 1)), upd(2, done(1, 1))],
        &owners,
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::BadAccountIndex,
        &keys,
    );

    // Read-only account.
    let nodes = vec![
        AccountMeta::new(keys[0], false),
        AccountMeta::new_readonly(keys[1], false),
    ];
    let ix = batch_ix_with(&coordinator.pubkey(), 1, vec![upd(0, done(1, 1))], nodes);
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::AccountNotWritable,
        &keys,
    );

    // Same account twice.
    let ix = batch_ix(
        &coordinator.pubkey(),
        1,
        vec![upd(0, done(1, 1)), upd(1, done(1, 1))],
        &[a.key(), b.key(), a.key()],
    );
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        ReputationError::DuplicateAccount,
        &keys,
    );

    // Accounts that are not node reputation accounts: the registry node (another
    // program's), the reputation config (ours, other type), a system wallet.
    let not_rep = [node_pda(&a.key()), config_key(), f.escrow_admin.pubkey()];
    for wrong in not_rep {
        let nodes = vec![
            AccountMeta::new(keys[0], false),
            AccountMeta::new(wrong, false),
        ];
        let ix = batch_ix_with(&coordinator.pubkey(), 1, vec![upd(0, done(1, 1))], nodes);
        let mut watched = keys.clone();
        watched.push(wrong);
        rep_fails(
            &mut f,
            ix,
            &[&coordinator],
            ReputationError::WrongReputationAccount,
            &watched,
        );
    }

    // Nothing consumed batch id 1.
    assert_eq!(rep_config(&f).batches_applied, 0);
    let ok = batch(&mut f, 1, vec![upd(1, UpdateKind::Failed)], &owners);
    assert_eq!(ok.event::<BatchApplied>().batch_id, 1);
    assert_eq!(f.reputation(&b.key()).jobs_failed, 1);
    assert_eq!(f.reputation(&a.key()).jobs_assigned(), 0);

    // Exactly the maximum batch size is accepted.
    let full = vec![upd(0, UpdateKind::Failed); usize::from(max)];
    let ok = batch(&mut f, 2, full, &owners);
    assert_eq!(ok.event::<BatchApplied>().updates, max);
    assert_eq!(f.reputation(&a.key()).jobs_failed, u32::from(max));
}

#[test]
fn batch_update_with_an_invalid_update_is_rejected_whole_and_keeps_the_id() {
    let mut f = setup();
    let a = fresh_node(&mut f);
    let b = fresh_node(&mut f);
    let coordinator = f.coordinator.insecure_clone();
    let owners = [a.key(), b.key()];
    let keys = rep_keys(&owners);

    let bad_kinds = [done(10, 0), uptime(101, 100), uptime(0, 0)];
    for bad in bad_kinds {
        // Valid updates before and after the bad one must not be applied either.
        let ix = batch_ix(
            &coordinator.pubkey(),
            42,
            vec![
                upd(0, done(10, 10)),
                upd(1, bad),
                upd(0, UpdateKind::Failed),
            ],
            &owners,
        );
        rep_fails(
            &mut f,
            ix,
            &[&coordinator],
            ReputationError::InvalidUpdate,
            &keys,
        );
    }
    let cfg = rep_config(&f);
    assert_eq!((cfg.batches_applied, cfg.batch_bitmap), (0, [0; 4]));

    // The same id then succeeds with valid data.
    let ok = batch(
        &mut f,
        42,
        vec![upd(0, done(10, 10)), upd(1, uptime(100, 100))],
        &owners,
    );
    assert_eq!(
        ok.event::<BatchApplied>(),
        BatchApplied {
            batch_id: 42,
            updates: 2,
            nodes: 2
        }
    );
    assert_eq!(f.reputation(&a.key()).jobs_completed, 1);
    assert_eq!(f.reputation(&b.key()).heartbeats_expected, 100);
    assert_eq!(rep_config(&f).batches_applied, 1);
}

// ── uptime bonus ─────────────────────────────────────────────────────────

#[test]
fn uptime_bonus_after_thirty_days_and_a_bad_report_resets_the_streak() {
    let mut f = setup();
    let node = fresh_node(&mut f);
    let owners = [node.key()];
    let good = || vec![upd(0, uptime(99, 100))];
    let mut id = 0;
    let mut next = || {
        id += 1;
        id
    };

    let start = f.chain.now();
    batch(&mut f, next(), good(), &owners);
    assert_eq!(f.reputation(&node.key()).uptime_streak_start, start);
    assert_eq!(f.reputation(&node.key()).points, 0);

    // 29 days in: no bonus yet.
    f.env.chain.warp(29 * DAY);
    batch(&mut f, next(), good(), &owners);
    let r = f.reputation(&node.key());
    assert_eq!((r.points, r.uptime_streak_start), (0, start));

    // 30 days: +20, and the streak restarts from now.
    f.env.chain.warp(DAY);
    batch(&mut f, next(), good(), &owners);
    let r = f.reputation(&node.key());
    assert_eq!(r.points, 20);
    assert_eq!(r.uptime_streak_start, f.chain.now());
    // Quality: unrated 120 + uptime 297/300 → 49.
    assert_eq!(r.quality(), 120 + 49);
    assert_eq!(r.score, 20);

    // A bad report (94 %) breaks the streak; 30 days after the last bonus gives nothing.
    f.env.chain.warp(20 * DAY);
    batch(&mut f, next(), vec![upd(0, uptime(94, 100))], &owners);
    assert_eq!(f.reputation(&node.key()).uptime_streak_start, 0);
    f.env.chain.warp(10 * DAY);
    batch(&mut f, next(), good(), &owners);
    let restart = f.chain.now();
    let r = f.reputation(&node.key());
    assert_eq!(r.points, 20, "streak was broken");
    assert_eq!(r.uptime_streak_start, restart);

    // A new unbroken 30 days earns the next bonus.
    f.env.chain.warp(15 * DAY);
    batch(&mut f, next(), good(), &owners);
    assert_eq!(f.reputation(&node.key()).points, 20);
    f.env.chain.warp(15 * DAY);
    batch(&mut f, next(), good(), &owners);
    let r = f.reputation(&node.key());
    assert_eq!(r.points, 40);
    assert_eq!(r.score, 40);
    assert_eq!(
        (r.heartbeats_received, r.heartbeats_expected),
        (7 * 99 - 5, 700)
    );
}

// ── CPI-only hooks ───────────────────────────────────────────────────────

#[test]
fn record_rating_and_apply_verdict_need_their_program_pdas() {
    let mut f = setup();
    let node = f.node(STAKE);
    let user = f.user(USER_TOKENS);
    let payer = f.wallet();
    let ix = rep_ix(
        racc::InitUserReputation {
            payer: payer.pubkey(),
            wallet: user.key(),
            reputation: deploy::user_reputation(&user.key()),
            system_program: system_program::ID,
        },
        rix::InitUserReputation {},
    );
    f.send(ix, &[&payer]).expect("init user reputation");
    let u: UserReputation = f
        .chain
        .anchor_account(&deploy::user_reputation(&user.key()))
        .unwrap();
    assert_eq!((u.wallet, u.score), (user.key(), 1_000));
    let keys = vec![
        deploy::node_reputation(&node.key()),
        deploy::user_reputation(&user.key()),
    ];

    let attacker = f.wallet();
    let rating = |authority: Pubkey| {
        rep_ix(
            racc::RecordRating {
                escrow_authority: authority,
                config: config_key(),
                reputation: deploy::node_reputation(&node.key()),
            },
            rix::RecordRating { stars: 5 },
        )
    };
    let verdict = |authority: Pubkey| {
        rep_ix(
            racc::ApplyVerdict {
                dispute_authority: authority,
                config: config_key(),
                node_reputation: deploy::node_reputation(&node.key()),
                user_reputation: deploy::user_reputation(&user.key()),
            },
            rix::ApplyVerdict {
                effect: VerdictEffect::NodeLost,
            },
        )
    };

    // Direct calls by a random signer.
    rep_fails(
        &mut f,
        rating(attacker.pubkey()),
        &[&attacker],
        ReputationError::NotEscrowAuthority,
        &keys,
    );
    rep_fails(
        &mut f,
        verdict(attacker.pubkey()),
        &[&attacker],
        ReputationError::NotDisputeAuthority,
        &keys,
    );
    // Each authority is only good for its own hook.
    let ix = via_dispute_dao(AS_DISPUTE_AUTHORITY, rating(ids::dispute_authority()));
    rep_fails(&mut f, ix, &[], ReputationError::NotEscrowAuthority, &keys);
    let ix = via_dispute_dao(AS_GOVERNANCE, verdict(ids::governance_authority()));
    rep_fails(&mut f, ix, &[], ReputationError::NotDisputeAuthority, &keys);

    // The real dispute authority applies a verdict: −200 points to the node.
    let ix = via_dispute_dao(AS_DISPUTE_AUTHORITY, verdict(ids::dispute_authority()));
    let ok = f.send(ix, &[]).expect("verdict");
    let r = f.reputation(&node.key());
    assert_eq!(r.points, 500);
    assert_eq!(r.disputes_lost, 1);
    assert_eq!(r.score, 120, "unrated quality caps the score");
    let u: UserReputation = f
        .chain
        .anchor_account(&deploy::user_reputation(&user.key()))
        .unwrap();
    assert_eq!((u.disputes_won, u.score), (1, 1_000));
    let v = ok.event::<VerdictApplied>();
    assert_eq!(
        (v.node, v.user, v.effect, v.node_score, v.user_score),
        (node.key(), user.key(), VerdictEffect::NodeLost, 120, 1_000)
    );

    // The node wins the next one: +5 to the node, −10 to the user.
    let mut won = verdict(ids::dispute_authority());
    won.data = rix::ApplyVerdict {
        effect: VerdictEffect::NodeWon,
    }
    .data();
    let ok = f
        .send(via_dispute_dao(AS_DISPUTE_AUTHORITY, won), &[])
        .expect("verdict");
    let r = f.reputation(&node.key());
    assert_eq!((r.points, r.disputes_won, r.disputes_lost), (505, 1, 1));
    let u: UserReputation = f
        .chain
        .anchor_account(&deploy::user_reputation(&user.key()))
        .unwrap();
    assert_eq!((u.disputes_won, u.disputes_lost, u.score), (1, 1, 990));
    assert_eq!(ok.event::<VerdictApplied>().user_score, 990);
}

// ── rate_node through JobEscrow ──────────────────────────────────────────

#[test]
fn rate_node_records_one_rating_per_completed_job() {
    let mut f = setup();
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    let other_node = f.node(STAKE);
    let keys = rep_keys(&[node.key(), other_node.key()]);
    let job = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    let before = f.reputation(&node.key());
    assert_eq!(before.points, DEFAULT_NODE_SCORE);

    let ok = f.rate(&job, &user, 5).expect("rate 5 stars");
    let r = f.reputation(&node.key());
    assert_eq!(r.rating_count, 1);
    assert_eq!(r.five_star_count, 1);
    assert_eq!(r.rating_sum, 5);
    assert_eq!(r.points, before.points + 5);
    // No job history was batched for this node: quality is the ratings' 200 alone.
    assert_eq!(r.quality(), 200);
    assert_eq!(r.score, r.points.min(r.quality()));
    assert_eq!(r.tier, Tier::Bronze);
    assert!(f.escrow(&job).rated);
    assert_eq!(
        ok.event::<NodeRated>(),
        NodeRated {
            owner: node.key(),
            stars: 5,
            score: 200
        }
    );
    assert_eq!(
        ok.event::<TierChanged>(),
        TierChanged {
            owner: node.key(),
            from: Tier::Gold,
            to: Tier::Bronze,
            score: 200
        }
    );

    // Once per job.
    let ix = f.rate_ix(&job, &user.key(), 4);
    rep_fails(
        &mut f,
        ix,
        &[&user.wallet],
        EscrowError::AlreadyRated,
        &keys,
    );

    // 0 or 6 stars.
    f.set_score(&node.key(), DEFAULT_NODE_SCORE);
    let job2 = f.completed_job(&user, &node, AMOUNT, EPOCHS);
    for stars in [0, 6] {
        let ix = f.rate_ix(&job2, &user.key(), stars);
        rep_fails(
            &mut f,
            ix,
            &[&user.wallet],
            ReputationError::InvalidRating,
            &keys,
        );
    }
    assert!(!f.escrow(&job2).rated);

    // Not the job's user.
    let stranger = f.user(0);
    let ix = f.rate_ix(&job2, &stranger.key(), 5);
    rep_fails(
        &mut f,
        ix,
        &[&stranger.wallet],
        EscrowError::NotJobUser,
        &keys,
    );

    // Another node's reputation account.
    let mut accounts = f.rate_node_accounts(&user.key(), &job2);
    accounts.node_reputation = deploy::node_reputation(&other_node.key());
    let ix = escrow_ix(accounts, eix::RateNode { stars: 5 });
    rep_fails(
        &mut f,
        ix,
        &[&user.wallet],
        AnchorErrorCode::ConstraintSeeds,
        &keys,
    );

    // A job that is not completed.
    let running = f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    assert_eq!(f.state(&running), EscrowState::InProgress);
    let ix = f.rate_ix(&running, &user.key(), 5);
    rep_fails(
        &mut f,
        ix,
        &[&user.wallet],
        EscrowError::InvalidState,
        &keys,
    );

    // A valid 3-star rating of job2: counted, no five-star points.
    let points = f.reputation(&node.key()).points;
    f.rate(&job2, &user, 3).expect("rate 3 stars");
    let r = f.reputation(&node.key());
    assert_eq!((r.rating_count, r.five_star_count, r.rating_sum), (2, 1, 8));
    assert_eq!(r.points, points);
    assert_eq!(r.quality(), 8 * 200 / 10);
}

// ── JobEscrow's tier checks ──────────────────────────────────────────────

#[test]
fn bronze_nodes_cannot_be_assigned_ten_cyxwiz_jobs() {
    let mut f = setup();
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    f.set_score(&node.key(), 0);
    assert_eq!(f.reputation(&node.key()).tier, Tier::Bronze);
    let coordinator = f.coordinator.insecure_clone();
    let keys = rep_keys(&[node.key()]);

    let ten = f.locked_job(&user, 10 * CYX, EPOCHS);
    let ix = f.assign_ix(&ten, &node.key());
    rep_fails(&mut f, ix, &[&coordinator], EscrowError::TierTooLow, &keys);
    assert_eq!(f.state(&ten), EscrowState::Locked);

    let nine = f.locked_job(&user, 10 * CYX - 1, EPOCHS);
    f.assign(&nine, &node.key())
        .expect("a 9.999999999 CYXWIZ job fits Bronze");
    assert_eq!(f.escrow(&nine).node, node.key());

    // Silver takes up to 50 CYXWIZ exclusive.
    f.set_score(&node.key(), 300);
    f.assign(&ten, &node.key()).expect("Silver takes 10 CYXWIZ");
    let fifty = f.locked_job(&user, 50 * CYX, EPOCHS);
    let ix = f.assign_ix(&fifty, &node.key());
    rep_fails(&mut f, ix, &[&coordinator], EscrowError::TierTooLow, &keys);
}

#[test]
fn accept_job_rechecks_the_tier() {
    let mut f = setup();
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    let job = f.assigned_job(&user, &node, AMOUNT, EPOCHS);
    f.set_score(&node.key(), 0);
    let keys = rep_keys(&[node.key()]);
    let ix = f.accept_ix(&job, &node.key());
    rep_fails(&mut f, ix, &[&node.wallet], EscrowError::TierTooLow, &keys);
    assert_eq!(f.state(&job), EscrowState::Assigned);

    f.set_score(&node.key(), 600);
    f.accept(&job, &node).expect("Gold again");
    assert_eq!(f.state(&job), EscrowState::InProgress);
}

#[test]
fn assign_node_rejects_another_nodes_reputation_account() {
    let mut f = setup();
    let user = f.user(USER_TOKENS);
    let node = f.node(STAKE);
    let diamond = f.node(STAKE);
    f.set_score(&diamond.key(), 900);
    f.set_score(&node.key(), 0);
    let coordinator = f.coordinator.insecure_clone();
    let keys = rep_keys(&[node.key(), diamond.key()]);

    // A Bronze node borrowing a Diamond node's reputation.
    let job = f.locked_job(&user, AMOUNT, EPOCHS);
    let mut accounts = f.assign_node_accounts(&coordinator.pubkey(), &job, &node.key());
    accounts.reputation = f.reputation_view(&diamond.key());
    let ix = escrow_ix(accounts, eix::AssignNode {});
    rep_fails(
        &mut f,
        ix,
        &[&coordinator],
        EscrowError::WrongReputation,
        &keys,
    );

    // Same at accept time.
    f.set_score(&node.key(), 700);
    f.assign(&job, &node.key()).expect("assign");
    f.set_score(&node.key(), 0);
    let mut accounts = f.accept_job_accounts(&node.key(), &job);
    accounts.reputation = f.reputation_view(&diamond.key());
    let ix = escrow_ix(accounts, eix::AcceptJob {});
    rep_fails(
        &mut f,
        ix,
        &[&node.wallet],
        EscrowError::WrongReputation,
        &keys,
    );
}

#[test]
fn diamond_nodes_pay_the_lower_fee() {
    let mut f = setup();
    let user = f.user(USER_TOKENS);
    let diamond = f.node(STAKE);
    f.set_score(&diamond.key(), 850);
    assert_eq!(f.reputation(&diamond.key()).tier, Tier::Diamond);

    // A job above Gold's limit is fine for Diamond.
    let amount = 1_000 * CYX;
    let job = f.accepted_job(&user, &diamond, amount, EPOCHS);
    f.checkpoints(&job, &diamond, EPOCHS);
    let before = f.balances(&job, &user.token, &diamond.token);
    f.complete(&job, &diamond, EPOCHS).expect("complete");
    let after = f.balances(&job, &user.token, &diamond.token);
    let fee = amount * 8 / 100;
    assert_eq!(after.node - before.node, amount - fee, "92 % to the node");
    assert_eq!(after.staking - before.staking, fee * 40 / 100);
    assert_eq!(after.development - before.development, fee * 30 / 100);
    assert_eq!(after.liquidity - before.liquidity, fee * 20 / 100);
    assert_eq!(before.supply - after.supply, fee * 10 / 100, "burned");
    assert_eq!(before.vault - after.vault, amount);
    assert_eq!(after.vault, 0);

    // The same job for a Gold node pays the standard 10 %.
    let gold = f.node(STAKE);
    let job = f.accepted_job(&user, &gold, AMOUNT, EPOCHS);
    f.checkpoints(&job, &gold, EPOCHS);
    let before = f.balances(&job, &user.token, &gold.token);
    f.complete(&job, &gold, EPOCHS).expect("complete");
    let after = f.balances(&job, &user.token, &gold.token);
    assert_eq!(after.node - before.node, AMOUNT * 90 / 100);
    assert_eq!(after.staking - before.staking, AMOUNT / 10 * 40 / 100);
    assert_eq!(before.supply - after.supply, AMOUNT / 10 / 10);

    // Completion does not change reputation on its own (the coordinator batches it).
    assert_eq!(f.reputation(&diamond.key()).score, 850);
}
