//! Dispute/DAO parameter governance end to end on the native SVM: initialisation, the
//! DAO's own admin, governance deposits, proposals, votes and execution into every
//! target program, with the exact error and nothing changed on every failure path.

use anchor_lang::{error::ErrorCode as AnchorErrorCode, prelude::Pubkey};
use cyxwiz_common::{
    ids,
    units::{DAY, ONE_CYXWIZ},
};
use cyxwiz_deploy::programs as deploy;
use cyxwiz_program_tests::{dao::*, escrow::EscrowEnv, *};
use dispute_dao::{
    DaoError, DaoParams, ParamChange, ProposalState, VoteChoice,
    constants::default_params as dao_params, events::ProposalExecuted, instruction as dix,
};
use job_escrow::{
    EscrowError, EscrowParams, constants::default_params as escrow_params,
    verifier::insecure_test_proof,
};
use node_registry::{RegistryError, RegistryParams, constants::default_params as registry_params};
use reputation_manager::{
    ReputationConfig, ReputationError, ReputationParams,
    constants::default_params as reputation_params,
};
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;

const CYX: u64 = ONE_CYXWIZ;
const WHALE: u64 = 1_000 * CYX;
const MID: u64 = 300 * CYX;
const SMALL: u64 = 20 * CYX;
const TINY: u64 = 5 * CYX;

/// Voters created before anything else, so the supply is exactly their tokens
/// (1,325 CYXWIZ): 1 % = 13.25 (SMALL may propose, TINY may not), 5 % = 66.25 (SMALL
/// alone misses the quorum, WHALE or MID alone meet it).
struct Setup {
    d: DaoEnv,
    whale: Voter,
    mid: Voter,
    small: Voter,
    tiny: Voter,
}

fn setup() -> Setup {
    let mut d = DaoEnv::new(insecure_test_proof);
    assert_eq!(d.supply(), 0, "the fixture mints nothing before the voters");
    let whale = d.voter(WHALE);
    let mid = d.voter(MID);
    let small = d.voter(SMALL);
    let tiny = d.voter(TINY);
    assert_eq!(d.supply(), WHALE + MID + SMALL + TINY);
    Setup {
        d,
        whale,
        mid,
        small,
        tiny,
    }
}

type Watched = Vec<(Pubkey, Option<(u64, Vec<u8>)>)>;

/// Lamports and data of every account a governance instruction may touch, plus `extra`.
fn watched(d: &DaoEnv, extra: &[Pubkey]) -> Watched {
    let mut keys = vec![
        deploy::dao_config(),
        deploy::escrow_config(),
        deploy::registry_config(),
        deploy::reputation_config(),
        deploy::dao_deposit_vault(),
        deploy::dao_treasury(),
        deploy::dao_appeal_vault(),
    ];
    keys.extend((0..4).map(proposal_pda));
    keys.extend_from_slice(extra);
    keys.into_iter()
        .map(|k| (k, d.chain.account(&k).map(|a| (a.lamports, a.data))))
        .collect()
}

/// The accounts of `v` (wallet, voter, token account, vote records on proposals 0–3).
fn voter_keys(v: &Voter) -> Vec<Pubkey> {
    let mut keys = vec![v.key(), voter_pda(&v.key()), v.token];
    keys.extend((0..4).map(|id| vote_pda(&proposal_pda(id), 0, &v.key())));
    keys
}

/// Sends `ix`, asserts it fails with exactly `err` and that nothing watched changed.
#[track_caller]
fn fails(
    d: &mut DaoEnv,
    ix: Instruction,
    signers: &[&Keypair],
    err: impl Into<anchor_lang::error::Error>,
    extra: &[Pubkey],
) {
    let before = watched(d, extra);
    let result = d.send(ix, signers);
    assert_anchor_err(result, err);
    assert_eq!(
        watched(d, extra),
        before,
        "a failed transaction changed state"
    );
}

/// `execute_proposal` with the target config marked writable (the accounts struct leaves
/// it read-only so a DAO proposal can pass the DAO config itself; the CPI writes it).
fn execute_ix(d: &DaoEnv, id: u64) -> Instruction {
    execute_ix_with(d.execute_proposal_accounts(id))
}

fn execute_ix_with(accounts: dispute_dao::accounts::ExecuteProposal) -> Instruction {
    let target = accounts.target_config;
    let mut ix = dao_ix(accounts, dix::ExecuteProposal {});
    for m in ix.accounts.iter_mut().filter(|m| m.pubkey == target) {
        m.is_writable = true;
    }
    ix
}

fn propose(d: &mut DaoEnv, proposer: &Voter, change: ParamChange) -> u64 {
    let id = d.dao_config().proposal_count;
    let ix = d.propose_ix(&proposer.key(), change);
    d.send(ix, &[&proposer.wallet]).expect("propose");
    id
}

fn vote(d: &mut DaoEnv, v: &Voter, id: u64, approve: bool) {
    let ix = d.vote_proposal_ix(&v.key(), id, approve);
    d.send(ix, &[&v.wallet]).expect("vote on proposal");
}

/// Warps to `t` (no-op if already past).
fn warp_to(d: &mut DaoEnv, t: i64) {
    let wait = (t - d.chain.now()).max(0);
    d.chain.warp(wait);
}

/// Proposes `change` as the whale, votes for it with the whale's deposit (above quorum)
/// and warps past voting and timelock.
fn passed(s: &mut Setup, change: ParamChange) -> u64 {
    let id = propose(&mut s.d, &s.whale, change);
    vote(&mut s.d, &s.whale, id, true);
    let p = s.d.proposal(id);
    let t = p.voting_end + s.d.dao_config().params.timelock_secs;
    warp_to(&mut s.d, t);
    id
}

fn escrow_fee_change() -> EscrowParams {
    let mut p = escrow_params();
    assert_eq!(p.fee_bps, 1_000);
    p.fee_bps = 800;
    p.diamond_fee_bps = p.diamond_fee_bps.min(800);
    p
}

fn reputation_config(d: &DaoEnv) -> ReputationConfig {
    d.chain
        .anchor_account(&deploy::reputation_config())
        .expect("reputation config")
}

// ── initialize ───────────────────────────────────────────────────────────

#[test]
fn initialize_rejects_non_deployer_and_invalid_params() {
    let mut f = EscrowEnv::build(kit::TOKEN_PROGRAM, insecure_test_proof, true);
    let admin = f.env.wallet();
    let stranger = f.env.wallet();
    let deployer = cyxwiz_deploy::keys::localnet_deployer();
    let (mint, tp) = (f.mint, f.token_program);

    let ix = deploy::initialize_dao(
        &stranger.pubkey(),
        &admin.pubkey(),
        &mint,
        &tp,
        dao_params(),
    );
    assert_anchor_err(f.send(ix, &[&stranger]), DaoError::NotDeployer);
    assert!(f.chain.account(&deploy::dao_config()).is_none());

    let bad: Vec<(&str, DaoParams)> = vec![
        (
            "dispute quorum 0",
            DaoParams {
                dispute_quorum_bps: 0,
                ..dao_params()
            },
        ),
        (
            "appeal quorum below dispute quorum",
            DaoParams {
                appeal_quorum_bps: 400,
                ..dao_params()
            },
        ),
        (
            "zero voting window",
            DaoParams {
                voting_secs: 0,
                ..dao_params()
            },
        ),
        (
            "zero timelock",
            DaoParams {
                timelock_secs: 0,
                ..dao_params()
            },
        ),
        (
            "zero execution window",
            DaoParams {
                execution_window_secs: 0,
                ..dao_params()
            },
        ),
        (
            "window above a year",
            DaoParams {
                proposal_voting_secs: 366 * DAY,
                ..dao_params()
            },
        ),
        (
            "bps above 100 %",
            DaoParams {
                slash_to_user_bps: 10_001,
                ..dao_params()
            },
        ),
        (
            "threshold 0",
            DaoParams {
                proposal_threshold_bps: 0,
                ..dao_params()
            },
        ),
        (
            "proposal quorum 0",
            DaoParams {
                proposal_quorum_bps: 0,
                ..dao_params()
            },
        ),
    ];
    for (what, params) in bad {
        let ix = deploy::initialize_dao(&ids::DEPLOYER, &admin.pubkey(), &mint, &tp, params);
        let r = f.send(ix, &[&deployer]);
        assert!(r.is_err(), "{what}: accepted");
        assert_anchor_err(r, DaoError::InvalidParams);
        assert!(f.chain.account(&deploy::dao_config()).is_none(), "{what}");
    }
    // A default admin is refused too.
    let ix = deploy::initialize_dao(&ids::DEPLOYER, &Pubkey::default(), &mint, &tp, dao_params());
    assert_anchor_err(f.send(ix, &[&deployer]), DaoError::InvalidParams);
    assert!(f.chain.account(&deploy::dao_config()).is_none());

    let ix = deploy::initialize_dao(&ids::DEPLOYER, &admin.pubkey(), &mint, &tp, dao_params());
    f.send(ix, &[&deployer]).expect("initialize dao");
    let c: dispute_dao::DaoConfig = f
        .chain
        .anchor_account(&deploy::dao_config())
        .expect("dao config");
    assert_eq!(c.admin, admin.pubkey());
    assert_eq!(c.mint, mint);
    assert_eq!(c.deposit_vault, deploy::dao_deposit_vault());
    assert_eq!(c.treasury, deploy::dao_treasury());
    assert_eq!(c.appeal_vault, deploy::dao_appeal_vault());
    assert_eq!(c.params, dao_params());
    assert_eq!(
        (c.total_deposited, c.proposal_count, c.dispute_count),
        (0, 0, 0)
    );
    let (gov, bump) = Pubkey::find_program_address(
        &[cyxwiz_common::seeds::GOVERNANCE_AUTHORITY],
        &dispute_dao::ID,
    );
    assert_eq!(gov, ids::governance_authority());
    assert_eq!(c.governance_bump, bump);
}

// ── the DAO's own admin ──────────────────────────────────────────────────

#[test]
fn dao_update_params_by_admin_only_and_validated() {
    let mut d = DaoEnv::new(insecure_test_proof);
    let admin = d.dao_admin.insecure_clone();
    let stranger = d.env.wallet();
    let new = DaoParams {
        proposal_voting_secs: 3 * DAY,
        proposal_quorum_bps: 700,
        ..dao_params()
    };

    let ix = dao_ix(
        d.update_config_accounts(&stranger.pubkey()),
        dix::UpdateParams { params: new },
    );
    fails(
        &mut d,
        ix,
        &[&stranger],
        DaoError::NotAdminOrGovernance,
        &[],
    );

    let bad = DaoParams {
        appeal_quorum_bps: 100,
        ..dao_params()
    };
    let ix = dao_ix(
        d.update_config_accounts(&admin.pubkey()),
        dix::UpdateParams { params: bad },
    );
    fails(&mut d, ix, &[&admin], DaoError::InvalidParams, &[]);

    let ix = dao_ix(
        d.update_config_accounts(&admin.pubkey()),
        dix::UpdateParams { params: new },
    );
    d.send(ix, &[&admin]).expect("admin updates params");
    assert_eq!(d.dao_config().params, new);
}

#[test]
fn dao_set_admin_by_admin_only() {
    let mut d = DaoEnv::new(insecure_test_proof);
    let admin = d.dao_admin.insecure_clone();
    let stranger = d.env.wallet();
    let next = d.env.wallet();

    let ix = dao_ix(
        d.update_config_accounts(&stranger.pubkey()),
        dix::SetAdmin {
            admin: stranger.pubkey(),
        },
    );
    fails(
        &mut d,
        ix,
        &[&stranger],
        DaoError::NotAdminOrGovernance,
        &[],
    );

    let ix = dao_ix(
        d.update_config_accounts(&admin.pubkey()),
        dix::SetAdmin {
            admin: Pubkey::default(),
        },
    );
    fails(&mut d, ix, &[&admin], DaoError::InvalidParams, &[]);

    let ix = dao_ix(
        d.update_config_accounts(&admin.pubkey()),
        dix::SetAdmin {
            admin: next.pubkey(),
        },
    );
    d.send(ix, &[&admin]).expect("set admin");
    assert_eq!(d.dao_config().admin, next.pubkey());

    // The old admin is now a stranger; the new one can act.
    let ix = dao_ix(
        d.update_config_accounts(&admin.pubkey()),
        dix::UpdateParams {
            params: dao_params(),
        },
    );
    fails(&mut d, ix, &[&admin], DaoError::NotAdminOrGovernance, &[]);
    let params = DaoParams {
        timelock_secs: DAY,
        ..dao_params()
    };
    let ix = dao_ix(
        d.update_config_accounts(&next.pubkey()),
        dix::UpdateParams { params },
    );
    d.send(ix, &[&next]).expect("new admin updates params");
    assert_eq!(d.dao_config().params, params);
}

// ── deposits ─────────────────────────────────────────────────────────────

#[test]
fn create_voter_deposit_and_withdraw_move_tokens() {
    let mut d = DaoEnv::new(insecure_test_proof);
    let wallet = d.env.wallet();
    let token = d.env.fund_tokens(&wallet.pubkey(), 100 * CYX);
    let v = Voter { wallet, token };

    let ix = dao_ix(d.create_voter_accounts(&v.key()), dix::CreateVoter {});
    d.send(ix, &[&v.wallet]).expect("create voter");
    let acc = d.voter_account(&v.key()).expect("voter account");
    assert_eq!(acc.wallet, v.key());
    assert_eq!((acc.deposited, acc.locked_until), (0, 0));

    let ix = d.deposit_ix(&v, 40 * CYX);
    d.send(ix, &[&v.wallet]).expect("deposit");
    assert_eq!(d.balance(&v.token), 60 * CYX);
    assert_eq!(d.deposit_vault_balance(), 40 * CYX);
    assert_eq!(d.dao_config().total_deposited, 40 * CYX);
    assert_eq!(d.voter_account(&v.key()).unwrap().deposited, 40 * CYX);

    let extra = voter_keys(&v);
    let ix = d.deposit_ix(&v, 0);
    fails(&mut d, ix, &[&v.wallet], DaoError::ZeroAmount, &extra);
    let ix = d.withdraw_ix(&v, 0);
    fails(&mut d, ix, &[&v.wallet], DaoError::ZeroAmount, &extra);
    let ix = d.withdraw_ix(&v, 40 * CYX + 1);
    fails(
        &mut d,
        ix,
        &[&v.wallet],
        DaoError::InsufficientDeposit,
        &extra,
    );

    let ix = d.withdraw_ix(&v, 15 * CYX);
    d.send(ix, &[&v.wallet]).expect("withdraw");
    assert_eq!(d.balance(&v.token), 75 * CYX);
    assert_eq!(d.deposit_vault_balance(), 25 * CYX);
    assert_eq!(d.dao_config().total_deposited, 25 * CYX);
    assert_eq!(d.voter_account(&v.key()).unwrap().deposited, 25 * CYX);

    // Creating the voter account twice fails (account in use), nothing changes.
    let ix = dao_ix(d.create_voter_accounts(&v.key()), dix::CreateVoter {});
    let before = watched(&d, &extra);
    assert!(d.send(ix, &[&v.wallet]).is_err());
    assert_eq!(watched(&d, &extra), before);
}

#[test]
fn withdraw_to_another_mint_or_from_someone_elses_voter_fails() {
    let mut s = setup();
    let d = &mut s.d;
    let (_, other) = d.env.other_mint_account(&s.mid.key(), 0);
    let mut extra = voter_keys(&s.mid);
    extra.push(other);
    let ix = dao_ix(
        d.move_deposit_accounts(&s.mid.key(), &other),
        dix::Withdraw { amount: CYX },
    );
    fails(d, ix, &[&s.mid.wallet], DaoError::WrongMint, &extra);

    // mid signs but names the whale's voter account: its seeds are the whale's.
    extra.extend(voter_keys(&s.whale));
    let mut accounts = d.move_deposit_accounts(&s.mid.key(), &s.mid.token);
    accounts.voter = voter_pda(&s.whale.key());
    let ix = dao_ix(accounts, dix::Withdraw { amount: CYX });
    fails(
        d,
        ix,
        &[&s.mid.wallet],
        AnchorErrorCode::ConstraintSeeds,
        &extra,
    );
    let ix = dao_ix(accounts, dix::Deposit { amount: CYX });
    fails(
        d,
        ix,
        &[&s.mid.wallet],
        AnchorErrorCode::ConstraintSeeds,
        &extra,
    );
}

#[test]
fn deposit_is_locked_by_a_proposal_vote_until_voting_end() {
    let mut s = setup();
    let id = propose(&mut s.d, &s.whale, ParamChange::Escrow(escrow_fee_change()));
    vote(&mut s.d, &s.mid, id, false);
    let end = s.d.proposal(id).voting_end;
    assert_eq!(s.d.voter_account(&s.mid.key()).unwrap().locked_until, end);

    let extra = voter_keys(&s.mid);
    let ix = s.d.withdraw_ix(&s.mid, CYX);
    fails(
        &mut s.d,
        ix,
        &[&s.mid.wallet],
        DaoError::DepositLocked,
        &extra,
    );
    warp_to(&mut s.d, end - 1);
    let ix = s.d.withdraw_ix(&s.mid, CYX);
    fails(
        &mut s.d,
        ix,
        &[&s.mid.wallet],
        DaoError::DepositLocked,
        &extra,
    );
    s.d.chain.warp(1);
    let ix = s.d.withdraw_ix(&s.mid, MID);
    s.d.send(ix, &[&s.mid.wallet])
        .expect("withdraw after voting end");
    assert_eq!(s.d.balance(&s.mid.token), MID);
    assert_eq!(s.d.voter_account(&s.mid.key()).unwrap().deposited, 0);
    assert_eq!(s.d.dao_config().total_deposited, WHALE + SMALL + TINY);
}

// ── proposals ────────────────────────────────────────────────────────────

#[test]
fn propose_below_threshold_fails() {
    let mut s = setup();
    let ix =
        s.d.propose_ix(&s.tiny.key(), ParamChange::Escrow(escrow_fee_change()));
    let extra = voter_keys(&s.tiny);
    fails(
        &mut s.d,
        ix,
        &[&s.tiny.wallet],
        DaoError::BelowProposalThreshold,
        &extra,
    );
    assert_eq!(s.d.dao_config().proposal_count, 0);
}

#[test]
fn propose_with_invalid_params_fails_with_the_targets_error() {
    let mut s = setup();
    let extra = voter_keys(&s.whale);

    let escrow = EscrowParams {
        fee_bps: 10_001,
        ..escrow_params()
    };
    let ix = s.d.propose_ix(&s.whale.key(), ParamChange::Escrow(escrow));
    fails(
        &mut s.d,
        ix,
        &[&s.whale.wallet],
        EscrowError::InvalidParams,
        &extra,
    );

    let mut registry = registry_params();
    registry.stake_tiers[0].min_stake = 0;
    let ix =
        s.d.propose_ix(&s.whale.key(), ParamChange::Registry(registry));
    fails(
        &mut s.d,
        ix,
        &[&s.whale.wallet],
        RegistryError::InvalidParams,
        &extra,
    );

    let reputation = ReputationParams {
        max_batch_updates: 0,
        ..reputation_params()
    };
    let ix =
        s.d.propose_ix(&s.whale.key(), ParamChange::Reputation(reputation));
    fails(
        &mut s.d,
        ix,
        &[&s.whale.wallet],
        ReputationError::InvalidParams,
        &extra,
    );

    let dao = DaoParams {
        dispute_quorum_bps: 0,
        ..dao_params()
    };
    let ix = s.d.propose_ix(&s.whale.key(), ParamChange::Dao(dao));
    fails(
        &mut s.d,
        ix,
        &[&s.whale.wallet],
        DaoError::InvalidParams,
        &extra,
    );

    assert_eq!(s.d.dao_config().proposal_count, 0);
    assert_eq!(s.d.voter_account(&s.whale.key()).unwrap().locked_until, 0);
}

#[test]
fn propose_records_the_proposal_and_locks_the_proposer() {
    let mut s = setup();
    let change = ParamChange::Escrow(escrow_fee_change());
    let now = s.d.chain.now();
    let id = propose(&mut s.d, &s.small, change);
    assert_eq!(id, 0);
    let p = s.d.proposal(id);
    let params = dao_params();
    assert_eq!(p.id, 0);
    assert_eq!(p.proposer, s.small.key());
    assert_eq!(p.change, change);
    assert_eq!(p.description_hash, [7; 32]);
    assert_eq!(p.state, ProposalState::Voting);
    assert_eq!(p.created_at, now);
    assert_eq!(p.voting_end, now + params.proposal_voting_secs);
    assert_eq!(p.quorum, s.d.share_of_supply(500));
    assert_eq!((p.votes_for, p.votes_against, p.executed_at), (0, 0, 0));
    assert_eq!(s.d.dao_config().proposal_count, 1);
    assert_eq!(
        s.d.voter_account(&s.small.key()).unwrap().locked_until,
        p.voting_end
    );

    // The proposer's deposit backs the proposal until its vote ends.
    let extra = voter_keys(&s.small);
    let ix = s.d.withdraw_ix(&s.small, CYX);
    fails(
        &mut s.d,
        ix,
        &[&s.small.wallet],
        DaoError::DepositLocked,
        &extra,
    );
    warp_to(&mut s.d, p.voting_end);
    let ix = s.d.withdraw_ix(&s.small, SMALL);
    s.d.send(ix, &[&s.small.wallet])
        .expect("withdraw after voting end");
    assert_eq!(s.d.balance(&s.small.token), SMALL);

    // A second proposal gets the next id.
    let id = propose(&mut s.d, &s.whale, change);
    assert_eq!(id, 1);
    assert_eq!(s.d.proposal(1).proposer, s.whale.key());
}

#[test]
fn votes_are_weighted_once_per_voter_and_only_during_voting() {
    let mut s = setup();
    let id = propose(&mut s.d, &s.small, ParamChange::Escrow(escrow_fee_change()));
    let subject = proposal_pda(id);

    vote(&mut s.d, &s.whale, id, true);
    vote(&mut s.d, &s.mid, id, false);
    vote(&mut s.d, &s.small, id, true);
    let p = s.d.proposal(id);
    assert_eq!(p.votes_for, WHALE + SMALL);
    assert_eq!(p.votes_against, MID);
    let r =
        s.d.vote_record(&subject, 0, &s.mid.key())
            .expect("vote record");
    assert_eq!(r.voter, s.mid.key());
    assert_eq!(r.subject, subject);
    assert_eq!(r.round, 0);
    assert_eq!(r.choice, VoteChoice::Proposal { approve: false });
    assert_eq!(r.weight, MID);
    assert_eq!(
        s.d.voter_account(&s.whale.key()).unwrap().locked_until,
        p.voting_end
    );

    // Voting twice, either way.
    let mut extra = voter_keys(&s.whale);
    for approve in [true, false] {
        let ix = s.d.vote_proposal_ix(&s.whale.key(), id, approve);
        fails(
            &mut s.d,
            ix,
            &[&s.whale.wallet],
            DaoError::AlreadyVoted,
            &extra,
        );
    }

    // No deposit, no vote.
    let empty = s.d.voter(0);
    extra.extend(voter_keys(&empty));
    let ix = s.d.vote_proposal_ix(&empty.key(), id, true);
    fails(
        &mut s.d,
        ix,
        &[&empty.wallet],
        DaoError::NoVotingWeight,
        &extra,
    );

    // After the voting period.
    warp_to(&mut s.d, p.voting_end);
    extra.extend(voter_keys(&s.tiny));
    let ix = s.d.vote_proposal_ix(&s.tiny.key(), id, true);
    fails(
        &mut s.d,
        ix,
        &[&s.tiny.wallet],
        DaoError::VotingEnded,
        &extra,
    );
    let p2 = s.d.proposal(id);
    assert_eq!((p2.votes_for, p2.votes_against), (WHALE + SMALL, MID));
}

// ── execution ────────────────────────────────────────────────────────────

#[test]
fn executing_an_escrow_fee_change_respects_voting_end_and_timelock() {
    let mut s = setup();
    assert_eq!(s.d.escrow_config().params.fee_bps, 1_000);
    let change = escrow_fee_change();
    let id = propose(&mut s.d, &s.whale, ParamChange::Escrow(change));
    vote(&mut s.d, &s.whale, id, true);
    let p = s.d.proposal(id);

    let ix = execute_ix(&s.d, id);
    fails(&mut s.d, ix, &[], DaoError::VotingNotEnded, &[]);
    warp_to(&mut s.d, p.voting_end);
    let ix = execute_ix(&s.d, id);
    fails(&mut s.d, ix, &[], DaoError::TimelockActive, &[]);
    warp_to(&mut s.d, p.voting_end + dao_params().timelock_secs - 1);
    let ix = execute_ix(&s.d, id);
    fails(&mut s.d, ix, &[], DaoError::TimelockActive, &[]);
    s.d.chain.warp(1);

    let ix = execute_ix(&s.d, id);
    let ok = s.d.send(ix, &[]).expect("execute");
    let ev = ok.event::<ProposalExecuted>();
    assert_eq!(ev.id, id);
    assert_eq!(ev.change, ParamChange::Escrow(change));
    assert_eq!(s.d.escrow_config().params, change);
    assert_eq!(s.d.escrow_config().params.fee_bps, 800);
    let p = s.d.proposal(id);
    assert_eq!(p.state, ProposalState::Executed);
    assert_eq!(p.executed_at, s.d.chain.now());

    let ix = execute_ix(&s.d, id);
    fails(&mut s.d, ix, &[], DaoError::InvalidProposalState, &[]);
    // Voting on an executed proposal is refused too.
    let extra = voter_keys(&s.mid);
    let ix = s.d.vote_proposal_ix(&s.mid.key(), id, true);
    fails(
        &mut s.d,
        ix,
        &[&s.mid.wallet],
        DaoError::InvalidProposalState,
        &extra,
    );
}

#[test]
fn executing_a_registry_change_updates_the_registry() {
    let mut s = setup();
    let mut params: RegistryParams = registry_params();
    assert_eq!(s.d.config().params, params);
    params.stake_tiers[0].min_stake = 40 * CYX;
    let id = passed(&mut s, ParamChange::Registry(params));
    let ix = execute_ix(&s.d, id);
    s.d.send(ix, &[]).expect("execute");
    assert_eq!(s.d.config().params, params);
    assert_eq!(s.d.config().params.stake_tiers[0].min_stake, 40 * CYX);
    assert_eq!(s.d.proposal(id).state, ProposalState::Executed);
}

#[test]
fn executing_a_reputation_change_updates_reputation() {
    let mut s = setup();
    let mut params = reputation_params();
    assert_eq!(reputation_config(&s.d).params, params);
    params.uptime_bonus_period_secs *= 2;
    params.max_batch_updates = 1;
    let id = passed(&mut s, ParamChange::Reputation(params));
    let ix = execute_ix(&s.d, id);
    s.d.send(ix, &[]).expect("execute");
    assert_eq!(reputation_config(&s.d).params, params);
    assert_eq!(s.d.proposal(id).state, ProposalState::Executed);
}

#[test]
fn executing_a_dao_change_updates_the_dao() {
    let mut s = setup();
    let params = DaoParams {
        proposal_quorum_bps: 600,
        timelock_secs: DAY,
        ..dao_params()
    };
    let id = passed(&mut s, ParamChange::Dao(params));
    // The fixture's instruction, unchanged: the DAO config is already writable.
    let ix = s.d.execute_proposal_ix(id);
    s.d.send(ix, &[]).expect("execute");
    assert_eq!(s.d.dao_config().params, params);
    assert_eq!(s.d.proposal(id).state, ProposalState::Executed);
    // Unchanged otherwise.
    let c = s.d.dao_config();
    assert_eq!(c.proposal_count, 1);
    assert_eq!(c.total_deposited, WHALE + MID + SMALL + TINY);
}

/// `ExecuteProposal::target_config` is not `mut` in the accounts struct (so a DAO-params
/// proposal can pass the DAO config, already writable, as its target): for any other
/// program the client must mark it writable, or the runtime refuses the CPI and nothing
/// changes. (This test builds the instruction from the accounts struct alone.)
#[test]
fn executing_with_a_read_only_target_config_fails_cleanly() {
    let mut s = setup();
    let change = escrow_fee_change();
    let id = passed(&mut s, ParamChange::Escrow(change));
    // The accounts struct alone leaves the target read-only.
    let ix = dao_ix(
        s.d.execute_proposal_accounts(id),
        dispute_dao::instruction::ExecuteProposal {},
    );
    assert!(
        ix.accounts
            .iter()
            .any(|m| m.pubkey == deploy::escrow_config() && !m.is_writable)
    );
    let before = watched(&s.d, &[]);
    let err = s.d.send(ix, &[]).unwrap_err();
    assert!(
        err.logs()
            .iter()
            .any(|l| l.contains("writable privilege escalated")),
        "{err}"
    );
    assert_eq!(watched(&s.d, &[]), before);
    let ix = execute_ix(&s.d, id);
    s.d.send(ix, &[]).expect("execute with the target writable");
    assert_eq!(s.d.escrow_config().params, change);
}

#[test]
fn executing_after_the_execution_window_fails() {
    let mut s = setup();
    let id = passed(&mut s, ParamChange::Escrow(escrow_fee_change()));
    let p = s.d.proposal(id);
    let params = dao_params();
    let expires = p.voting_end + params.timelock_secs + params.execution_window_secs;
    // Executable until one second before (see the next test); expired at the deadline.
    warp_to(&mut s.d, expires);
    let ix = execute_ix(&s.d, id);
    fails(&mut s.d, ix, &[], DaoError::ProposalExpired, &[]);
    assert_eq!(s.d.escrow_config().params, escrow_params());
}

#[test]
fn executing_one_second_before_expiry_succeeds() {
    let mut s = setup();
    let change = escrow_fee_change();
    let id = passed(&mut s, ParamChange::Escrow(change));
    let p = s.d.proposal(id);
    let params = dao_params();
    warp_to(
        &mut s.d,
        p.voting_end + params.timelock_secs + params.execution_window_secs - 1,
    );
    let ix = execute_ix(&s.d, id);
    s.d.send(ix, &[]).expect("execute at the last second");
    assert_eq!(s.d.escrow_config().params, change);
}

#[test]
fn rejected_proposals_cannot_be_executed() {
    let mut s = setup();
    let change = ParamChange::Escrow(escrow_fee_change());
    // Below quorum: small alone (20 of a 66.25 quorum).
    let low = propose(&mut s.d, &s.small, change);
    vote(&mut s.d, &s.small, low, true);
    assert!(s.d.proposal(low).quorum > SMALL);
    // Not voted on at all.
    let none = propose(&mut s.d, &s.whale, change);
    // More against than for: mid for, whale against.
    let against = propose(&mut s.d, &s.mid, change);
    vote(&mut s.d, &s.mid, against, true);
    vote(&mut s.d, &s.whale, against, false);

    let end = s.d.proposal(against).voting_end;
    warp_to(&mut s.d, end + dao_params().timelock_secs);
    for id in [low, none, against] {
        let ix = execute_ix(&s.d, id);
        fails(&mut s.d, ix, &[], DaoError::ProposalRejected, &[]);
        assert_eq!(s.d.proposal(id).state, ProposalState::Voting);
    }
    assert_eq!(s.d.escrow_config().params, escrow_params());
}

#[test]
fn executing_against_the_wrong_target_fails() {
    let mut s = setup();
    let id = passed(&mut s, ParamChange::Escrow(escrow_fee_change()));

    // Registry config for an escrow change.
    let mut a = s.d.execute_proposal_accounts(id);
    a.target_config = deploy::registry_config();
    let ix = execute_ix_with(a);
    fails(&mut s.d, ix, &[], DaoError::WrongTarget, &[]);

    // Registry program with the escrow config.
    let mut a = s.d.execute_proposal_accounts(id);
    a.target_program = node_registry::ID;
    let ix = execute_ix_with(a);
    fails(&mut s.d, ix, &[], DaoError::WrongTarget, &[]);

    // Registry program and config together.
    let mut a = s.d.execute_proposal_accounts(id);
    a.target_program = node_registry::ID;
    a.target_config = deploy::registry_config();
    let ix = execute_ix_with(a);
    fails(&mut s.d, ix, &[], DaoError::WrongTarget, &[]);

    // The DAO config for an escrow change.
    let mut a = s.d.execute_proposal_accounts(id);
    a.target_config = deploy::dao_config();
    let ix = execute_ix_with(a);
    fails(&mut s.d, ix, &[], DaoError::WrongTarget, &[]);

    assert_eq!(s.d.escrow_config().params, escrow_params());
    let ix = execute_ix(&s.d, id);
    s.d.send(ix, &[]).expect("right target executes");
    assert_eq!(s.d.escrow_config().params, escrow_fee_change());
}

// ── closing vote records ─────────────────────────────────────────────────

#[test]
fn close_proposal_vote_only_after_voting_returns_rent() {
    let mut s = setup();
    let id = propose(&mut s.d, &s.whale, ParamChange::Escrow(escrow_fee_change()));
    vote(&mut s.d, &s.mid, id, false);
    let record = vote_pda(&proposal_pda(id), 0, &s.mid.key());
    let extra = voter_keys(&s.mid);

    let close = |d: &DaoEnv| {
        dao_ix(
            d.close_proposal_vote_accounts(&s.mid.key(), id),
            dix::CloseProposalVote {},
        )
    };
    let ix = close(&s.d);
    fails(
        &mut s.d,
        ix,
        &[&s.mid.wallet],
        DaoError::VotingNotEnded,
        &extra,
    );

    let end = s.d.proposal(id).voting_end;
    warp_to(&mut s.d, end);
    let rent = s.d.chain.lamports(&record);
    assert!(rent > 0);
    let before = s.d.chain.lamports(&s.mid.key());
    let ix = close(&s.d);
    s.d.send(ix, &[&s.mid.wallet]).expect("close vote record");
    assert!(s.d.chain.account(&record).is_none_or(|a| a.lamports == 0));
    assert!(
        s.d.vote_record(&proposal_pda(id), 0, &s.mid.key())
            .is_none()
    );
    assert_eq!(s.d.chain.lamports(&s.mid.key()), before + rent);
    // The proposal is untouched.
    let p = s.d.proposal(id);
    assert_eq!(p.votes_against, MID);

    // Closing again: the record no longer exists.
    let ix = close(&s.d);
    let snap = watched(&s.d, &extra);
    assert!(s.d.send(ix, &[&s.mid.wallet]).is_err());
    assert_eq!(watched(&s.d, &extra), snap);
}

// ── only the admin or the governance PDA ─────────────────────────────────

#[test]
fn strangers_cannot_update_target_params_directly() {
    let mut s = setup();
    let stranger = s.d.env.wallet();
    let change = escrow_fee_change();
    let ix = job_escrow::instruction::UpdateParams { params: change };
    let accounts = job_escrow::accounts::UpdateConfig {
        authority: stranger.pubkey(),
        config: deploy::escrow_config(),
    };
    let ix = cyxwiz_program_tests::escrow::escrow_ix(accounts, ix);
    fails(
        &mut s.d,
        ix,
        &[&stranger],
        EscrowError::NotAdminOrGovernance,
        &[],
    );
    assert_eq!(s.d.escrow_config().params, escrow_params());
    assert_eq!(s.d.escrow_config().governance, ids::governance_authority());

    // A DAO voter is a stranger too: only the governance PDA (by an executed proposal)
    // or the admin may change parameters.
    let whale = s.whale.wallet.insecure_clone();
    let r = s.d.escrow_update_params(&whale, change);
    assert_anchor_err(r, EscrowError::NotAdminOrGovernance);

    let mut registry = registry_params();
    registry.stake_tiers[0].min_stake = 40 * CYX;
    let ix = registry_ix(
        s.d.env.update_config_accounts(&stranger.pubkey()),
        node_registry::instruction::UpdateParams { params: registry },
    );
    fails(
        &mut s.d,
        ix,
        &[&stranger],
        RegistryError::NotAdminOrGovernance,
        &[],
    );

    let reputation = ReputationParams {
        max_batch_updates: 1,
        ..reputation_params()
    };
    let ix = Instruction {
        program_id: reputation_manager::ID,
        accounts: anchor_lang::ToAccountMetas::to_account_metas(
            &reputation_manager::accounts::UpdateConfig {
                authority: stranger.pubkey(),
                config: deploy::reputation_config(),
            },
            None,
        ),
        data: anchor_lang::InstructionData::data(&reputation_manager::instruction::UpdateParams {
            params: reputation,
        }),
    };
    fails(
        &mut s.d,
        ix,
        &[&stranger],
        ReputationError::NotAdminOrGovernance,
        &[],
    );

    // The escrow admin may.
    let admin = s.d.escrow_admin.insecure_clone();
    s.d.escrow_update_params(&admin, change)
        .expect("admin updates");
    assert_eq!(s.d.escrow_config().params, change);
}
