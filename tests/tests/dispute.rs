//! Dispute/DAO end to end on the native SVM: the whole dispute lifecycle (open → evidence
//! → vote → tally → appeal → finalize → voter rewards) through the real programs, with
//! every balance, stake, reputation and state it touches; the failure paths with the exact
//! error and nothing moved; and token conservation in every scenario.

use anchor_lang::{error::ErrorCode as AnchorErrorCode, prelude::Pubkey};
use cyxwiz_common::units::ONE_CYXWIZ;
use cyxwiz_deploy::programs as deploy;
use cyxwiz_program_tests::{dao::*, escrow::*, *};
use dispute_dao::{
    Claim, DaoError, DisputeState, Side, Verdict, VoteChoice,
    constants::default_params as dao_params,
    events::{
        DisputeAppealed, DisputeCreated, DisputeExecuted, DisputeTallied, EvidenceSubmitted,
        RewardClaimed, VoteCast, Withdrawn,
    },
    instruction as dix,
};
use job_escrow::{
    DisputeResolution, EscrowError, EscrowState,
    events::{DisputeSettled, EscrowFrozen},
    verifier::insecure_test_proof,
};
use node_registry::{
    NodeStatus,
    events::{DisputeSlashed, NodeBanned},
};
use reputation_manager::UserReputation;
use solana_instruction::Instruction;
use solana_keypair::Keypair;
use solana_signer::Signer;

const CYX: u64 = ONE_CYXWIZ;
/// A "50–200 CYXWIZ" job: needs 1,000 staked.
const AMOUNT: u64 = 100 * CYX;
const STAKE: u64 = 1_000 * CYX;
const USER_TOKENS: u64 = 10_000 * CYX;
const EPOCHS: u32 = 4;
/// Fraud slash: 50 % of the stake; half of it to the user, half to the DAO treasury.
const SLASH: u64 = STAKE / 2;
const SLASH_TO_USER: u64 = SLASH / 2;
const SLASH_TO_TREASURY: u64 = SLASH - SLASH_TO_USER;
/// Gold tier (score 700): 10 % platform fee, split 40/30/20 with 10 % burned.
const FEE: u64 = AMOUNT / 10;
const APPEAL_DEPOSIT: u64 = 100 * CYX;
const REWARD: u64 = CYX / 10;
const FORGED_POINTS: u16 = 700;

fn setup() -> (DaoEnv, User, Operator) {
    let mut d = DaoEnv::new(insecure_test_proof);
    let user = d.user(USER_TOKENS);
    let node = d.node(STAKE);
    (d, user, node)
}

/// An accepted job disputed by its user.
fn disputed() -> (DaoEnv, User, Operator, Job) {
    let (mut d, user, node) = setup();
    let job = d.disputed_job(&user, &node, AMOUNT, EPOCHS);
    (d, user, node, job)
}

/// A voter whose deposit is exactly the current round's quorum, plus `extra`.
fn quorum_voter(d: &mut DaoEnv, job: &Job, extra: u64) -> Voter {
    let q = d.dispute(job).quorum;
    d.voter(q + extra)
}

fn user_rep(d: &DaoEnv, wallet: &Pubkey) -> UserReputation {
    d.chain
        .anchor_account(&deploy::user_reputation(wallet))
        .expect("user reputation exists")
}

fn raw(d: &DaoEnv, key: &Pubkey) -> Option<(u64, Vec<u8>)> {
    d.chain.account(key).map(|a| (a.lamports, a.data))
}

/// Mints `amount` fresh tokens into `token` (a node's appeal deposit).
fn mint_to(d: &mut DaoEnv, token: &Pubkey, amount: u64) {
    let mint = d.mint;
    let authority = d.f.env.mint_authority.insecure_clone();
    d.f.env.chain.mint_to(&mint, token, &authority, amount);
}

/// Sends `ix`, asserts it fails with exactly `expected`, and that neither the fixture's
/// state (every token account, stake, escrow) nor the dispute, the DAO config or any of
/// `watch` changed.
#[track_caller]
fn dao_fails(
    d: &mut DaoEnv,
    job: &Job,
    ix: Instruction,
    signers: &[&Keypair],
    expected: impl Into<anchor_lang::error::Error>,
    watch: &[Pubkey],
) {
    let keys: Vec<Pubkey> = [dispute_pda(&job.id), deploy::dao_config()]
        .into_iter()
        .chain(watch.iter().copied())
        .collect();
    let before: Vec<_> = keys.iter().map(|k| raw(d, k)).collect();
    d.fails(ix, signers, expected);
    let after: Vec<_> = keys.iter().map(|k| raw(d, k)).collect();
    assert_eq!(after, before, "a failed transaction changed DAO state");
}

/// First round voted to `side` by a quorum voter and tallied: (verdict decided, voter).
fn decided(d: &mut DaoEnv, job: &Job, side: Side) -> Voter {
    let v = quorum_voter(d, job, 0);
    d.warp_to_voting(job);
    d.vote(job, &v, side).expect("vote");
    d.warp_past_voting(job);
    d.tally(job).expect("tally");
    v
}

fn appeal(d: &mut DaoEnv, job: &Job, who: &Keypair, token: &Pubkey) -> Result<TxOk, TxError> {
    let ix = d.appeal_ix(job, &who.pubkey(), token, [9; 32]);
    d.send(ix, &[who])
}

// ── 1. user wins ─────────────────────────────────────────────────────────

#[test]
fn user_favor_refunds_the_user_slashes_and_bans_the_node() {
    let (mut d, user, node) = setup();
    let job = d.f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let supply_at_opening = d.supply();
    let ok = d
        .create_dispute(&job, &user.wallet, Claim::WorkNotDone, [1; 32])
        .expect("create dispute");
    assert_eq!(d.state(&job), EscrowState::Disputed);
    assert_eq!(ok.event::<EscrowFrozen>().job_id, job.id);
    let c = ok.event::<DisputeCreated>();
    let disp = d.dispute(&job);
    let quorum = u64::try_from(u128::from(supply_at_opening) * 500 / 10_000).unwrap();
    assert_eq!(disp.quorum, quorum, "5 % of the supply at opening");
    assert_eq!(disp.state, DisputeState::Open);
    assert_eq!(disp.round, 0);
    assert_eq!(disp.user, user.key());
    assert_eq!(disp.node, node.key());
    assert_eq!(disp.opener, user.key());
    assert_eq!(disp.escrow, job.escrow);
    assert_eq!(disp.claim, Claim::WorkNotDone);
    assert_eq!(
        disp.evidence_end,
        disp.opened_at + dao_params().evidence_secs
    );
    assert_eq!(
        disp.voting_end,
        disp.evidence_end + dao_params().voting_secs
    );
    assert_eq!(disp.user_evidence_count, 1);
    assert_eq!(disp.user_evidence[0], [1; 32]);
    assert_eq!(disp.verdict, Verdict::NoDecision);
    assert_eq!(
        c,
        DisputeCreated {
            job_id: job.id,
            opener: user.key(),
            claim: Claim::WorkNotDone,
            evidence_hash: [1; 32],
            evidence_end: disp.evidence_end,
            voting_end: disp.voting_end,
            quorum,
        }
    );
    assert_eq!(d.dao_config().dispute_count, 1);
    // The user's reputation account was created by the dispute.
    assert_eq!(user_rep(&d, &user.key()).score, 1_000);

    // The node answers with evidence.
    let ix = d.evidence_ix(&job, &node.key(), [2; 32]);
    let ok = d.send(ix, &[&node.wallet]).expect("node evidence");
    assert_eq!(
        ok.event::<EvidenceSubmitted>(),
        EvidenceSubmitted {
            job_id: job.id,
            party: node.key(),
            hash: [2; 32],
            index: 0
        }
    );
    assert_eq!(d.dispute(&job).node_evidence_count, 1);
    assert_eq!(d.dispute(&job).node_evidence[0], [2; 32]);

    let big = quorum_voter(&mut d, &job, 0);
    let small = d.voter(10 * CYX);
    d.warp_to_voting(&job);
    let ok = d.vote(&job, &big, Side::UserFavor).expect("vote");
    assert_eq!(
        ok.event::<VoteCast>(),
        VoteCast {
            subject: dispute_pda(&job.id),
            voter: big.key(),
            choice: VoteChoice::Dispute(Side::UserFavor),
            weight: quorum
        }
    );
    d.vote(&job, &small, Side::NodeFavor).expect("vote");
    let rec = d
        .vote_record(&dispute_pda(&job.id), 0, &big.key())
        .expect("vote record");
    assert_eq!(rec.weight, quorum);
    assert_eq!(rec.choice, VoteChoice::Dispute(Side::UserFavor));
    assert_eq!(
        d.voter_account(&big.key()).unwrap().locked_until,
        disp.voting_end
    );
    let disp = d.dispute(&job);
    assert_eq!(
        (disp.votes_user, disp.votes_node, disp.voters),
        (quorum, 10 * CYX, 2)
    );

    d.warp_past_voting(&job);
    let ok = d.tally(&job).expect("tally");
    let now = d.chain.now();
    let disp = d.dispute(&job);
    assert_eq!(disp.state, DisputeState::Decided);
    assert_eq!(disp.verdict, Verdict::UserFavor);
    assert_eq!(disp.appeal_deadline, now + dao_params().appeal_window_secs);
    assert_eq!(
        ok.event::<DisputeTallied>(),
        DisputeTallied {
            job_id: job.id,
            round: 0,
            votes_user: quorum,
            votes_node: 10 * CYX,
            quorum,
            verdict: Verdict::UserFavor,
            appeal_deadline: disp.appeal_deadline,
        }
    );

    d.warp_past_appeal(&job);
    let initial = d.supply();
    d.assert_tokens_conserved(initial);
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let rep0 = d.reputation(&node.key());
    assert_eq!(rep0.points, FORGED_POINTS);
    let stake0 = d.node_account(&node.key()).stake;
    assert_eq!(stake0, STAKE);

    let ok = d.finalize(&job).expect("finalize");
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(b1.user, b0.user + AMOUNT + SLASH_TO_USER);
    assert_eq!(b1.vault, 0);
    assert_eq!(b1.node, b0.node);
    assert_eq!(b1.staking, b0.staking);
    assert_eq!(b1.development, b0.development);
    assert_eq!(b1.liquidity, b0.liquidity);
    assert_eq!(b1.supply, b0.supply, "nothing burned");
    assert_eq!(b1.stake_vault, b0.stake_vault - SLASH);
    assert_eq!(b1.insurance, b0.insurance);
    assert_eq!(d.treasury_balance(), t0 + SLASH_TO_TREASURY);
    assert_eq!(d.appeal_vault_balance(), 0);

    let n = d.node_account(&node.key());
    assert_eq!(n.stake, STAKE - SLASH, "stake halved");
    assert_eq!(n.status, NodeStatus::Banned);
    let rep = d.reputation(&node.key());
    assert_eq!(rep.points, FORGED_POINTS - 200);
    assert_eq!(rep.disputes_lost, rep0.disputes_lost + 1);
    assert_eq!(rep.disputes_won, rep0.disputes_won);
    let ur = user_rep(&d, &user.key());
    assert_eq!((ur.disputes_won, ur.disputes_lost, ur.score), (1, 0, 1_000));

    assert_eq!(d.state(&job), EscrowState::Refunded);
    let disp = d.dispute(&job);
    assert_eq!(disp.state, DisputeState::Executed);
    assert_eq!(disp.executed_at, d.chain.now());

    assert_eq!(
        ok.event::<DisputeExecuted>(),
        DisputeExecuted {
            job_id: job.id,
            verdict: Verdict::UserFavor,
            appeal_deposit_returned: false
        }
    );
    assert_eq!(
        ok.event::<DisputeSettled>(),
        DisputeSettled {
            job_id: job.id,
            resolution: DisputeResolution::UserFavor,
            to_user: AMOUNT,
            to_node: 0,
            platform_fee: 0
        }
    );
    let s = ok.event::<DisputeSlashed>();
    assert_eq!(
        (s.amount, s.to_user, s.to_treasury, s.remaining_stake),
        (SLASH, SLASH_TO_USER, SLASH_TO_TREASURY, STAKE - SLASH)
    );
    assert_eq!(ok.event::<NodeBanned>().node, node.node());
    d.assert_tokens_conserved(initial);
    d.assert_vaults_match();
}

/// Fraud found after payment (an audit within the challenge window): the user opens the
/// dispute, the node's stake stays locked until the verdict, which repays the user from
/// the slash.
#[test]
fn fraud_found_after_payment_repays_the_user_from_the_slashed_stake() {
    let (mut d, user, node) = setup();
    let job = d.f.completed_job(&user, &node, AMOUNT, EPOCHS);
    assert_eq!(d.balance(&node.token), AMOUNT - FEE);
    // Only the user may claim fraud on a paid job.
    let ix = d.create_dispute_ix(&job, &node.key(), Claim::PaymentWithheld, [2; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&node.wallet],
        DaoError::OnlyUserAfterPayment,
        &[],
    );
    let ok = d
        .create_dispute(&job, &user.wallet, Claim::WorkNotDone, [1; 32])
        .expect("dispute a paid job");
    assert_eq!(ok.event::<EscrowFrozen>(), EscrowFrozen { job_id: job.id });
    assert_eq!(d.dispute(&job).repay_from_stake, AMOUNT);
    let e = d.escrow(&job);
    assert_eq!((e.state, e.challenged), (EscrowState::Disputed, true));

    decided(&mut d, &job, Side::UserFavor);
    d.warp_past_appeal(&job);
    // Weeks later, past the challenge window, the stake is still held by the dispute.
    assert!(d.chain.now() > e.challenge_until);
    assert_eq!(d.node_account(&node.key()).active_jobs, 1);
    let before = d.escrow_snapshot();
    assert_anchor_err(
        d.request_unstake(&node),
        node_registry::RegistryError::HasActiveJobs,
    );
    assert_eq!(d.escrow_snapshot(), before);

    let initial = d.supply();
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let ok = d.finalize(&job).expect("finalize");
    // Slash: 50 % of 1,000 = 500 ≥ the payment; the user gets the 100 back plus half of
    // the other 400, the treasury 200.
    let to_user = AMOUNT + (SLASH - AMOUNT) / 2;
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(b1.user, b0.user + to_user);
    assert_eq!(b1.node, b0.node);
    assert_eq!(b1.vault, 0);
    assert_eq!(b1.stake_vault, b0.stake_vault - SLASH);
    assert_eq!(
        (b1.staking, b1.development, b1.liquidity, b1.supply),
        (b0.staking, b0.development, b0.liquidity, b0.supply)
    );
    assert_eq!(d.treasury_balance(), t0 + SLASH - to_user);
    let s = ok.event::<DisputeSlashed>();
    assert_eq!(
        (s.amount, s.to_user, s.to_treasury),
        (SLASH, to_user, SLASH - to_user)
    );
    let n = d.node_account(&node.key());
    assert_eq!(
        (
            n.stake,
            n.status,
            n.active_jobs,
            n.jobs_failed,
            n.jobs_completed
        ),
        (STAKE - SLASH, NodeStatus::Banned, 0, 1, 0)
    );
    assert_eq!(d.reputation(&node.key()).points, FORGED_POINTS - 200);
    let e = d.escrow(&job);
    assert_eq!((e.state, e.stake_released), (EscrowState::Refunded, true));
    d.assert_tokens_conserved(initial);
    d.assert_vaults_match();
}

// ── 2. node wins ─────────────────────────────────────────────────────────

#[test]
fn node_favor_pays_the_node_and_penalises_the_user() {
    let (mut d, user, node, job) = disputed();
    let v = decided(&mut d, &job, Side::NodeFavor);
    assert_eq!(d.dispute(&job).verdict, Verdict::NodeFavor);
    assert_eq!(d.dispute(&job).votes_node, v_weight(&d, &v));
    d.warp_past_appeal(&job);

    let initial = d.supply();
    d.assert_tokens_conserved(initial);
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let rep0 = d.reputation(&node.key());

    let ok = d.finalize(&job).expect("finalize");
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(b1.node, b0.node + AMOUNT - FEE, "90 % to a Gold node");
    assert_eq!(b1.user, b0.user);
    assert_eq!(b1.vault, 0);
    assert_eq!(b1.staking, b0.staking + FEE * 40 / 100);
    assert_eq!(b1.development, b0.development + FEE * 30 / 100);
    assert_eq!(b1.liquidity, b0.liquidity + FEE * 20 / 100);
    assert_eq!(b1.supply, b0.supply - FEE / 10, "10 % of the fee burned");
    assert_eq!(b1.stake_vault, b0.stake_vault, "stake untouched");
    assert_eq!(b1.insurance, b0.insurance);
    assert_eq!(d.treasury_balance(), t0);

    let n = d.node_account(&node.key());
    assert_eq!(n.stake, STAKE);
    assert_ne!(n.status, NodeStatus::Banned);
    let rep = d.reputation(&node.key());
    assert_eq!(rep.points, FORGED_POINTS + 5);
    assert_eq!(rep.disputes_won, rep0.disputes_won + 1);
    assert_eq!(rep.disputes_lost, rep0.disputes_lost);
    let ur = user_rep(&d, &user.key());
    assert_eq!((ur.score, ur.disputes_lost, ur.disputes_won), (990, 1, 0));

    assert_eq!(d.state(&job), EscrowState::Completed);
    assert_eq!(d.dispute(&job).state, DisputeState::Executed);
    assert_eq!(
        ok.event::<DisputeSettled>(),
        DisputeSettled {
            job_id: job.id,
            resolution: DisputeResolution::NodeFavor,
            to_user: 0,
            to_node: AMOUNT - FEE,
            platform_fee: FEE
        }
    );
    assert_eq!(ok.event::<DisputeExecuted>().verdict, Verdict::NodeFavor);
    assert!(ok.events::<DisputeSlashed>().is_empty());
    assert!(ok.events::<NodeBanned>().is_empty());
    d.assert_tokens_conserved(initial);
    d.assert_vaults_match();
}

fn v_weight(d: &DaoEnv, v: &Voter) -> u64 {
    d.voter_account(&v.key()).expect("voter").deposited
}

// ── 3. no decision ───────────────────────────────────────────────────────

/// Anchors 2 of 4 epochs, disputes, then votes with `votes` ((weight, side) each).
fn no_decision_case(votes: impl Fn(u64) -> Vec<(u64, Side)>) {
    let (mut d, user, node) = setup();
    let job = d.f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    d.checkpoints(&job, &node, 2);
    d.create_dispute(&job, &user.wallet, Claim::WrongResult, [1; 32])
        .expect("create dispute");
    let quorum = d.dispute(&job).quorum;
    let voters: Vec<(Voter, Side)> = votes(quorum)
        .into_iter()
        .map(|(w, s)| (d.voter(w), s))
        .collect();
    d.warp_to_voting(&job);
    for (v, s) in &voters {
        d.vote(&job, v, *s).expect("vote");
    }
    d.warp_past_voting(&job);
    d.tally(&job).expect("tally");
    let disp = d.dispute(&job);
    assert_eq!(disp.verdict, Verdict::NoDecision);
    assert_eq!(disp.state, DisputeState::Decided);
    assert_eq!(disp.appeal_deadline, d.chain.now(), "no appeal window");

    // Neither party can appeal "no decision".
    let ix = d.appeal_ix(&job, &user.key(), &user.token, [9; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&user.wallet],
        DaoError::NotAppealable,
        &[],
    );
    mint_to(&mut d, &node.token, APPEAL_DEPOSIT);
    let ix = d.appeal_ix(&job, &node.key(), &node.token, [9; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&node.wallet],
        DaoError::NotAppealable,
        &[],
    );

    let initial = d.supply();
    d.assert_tokens_conserved(initial);
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let rep0 = d.reputation(&node.key());
    // Executable at once.
    let ok = d.finalize(&job).expect("finalize right after tally");
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(b1.node, b0.node + AMOUNT / 2, "2 of 4 epochs anchored");
    assert_eq!(b1.user, b0.user + AMOUNT / 2);
    assert_eq!(b1.vault, 0);
    assert_eq!(
        (b1.staking, b1.development, b1.liquidity, b1.supply),
        (b0.staking, b0.development, b0.liquidity, b0.supply)
    );
    assert_eq!(b1.stake_vault, b0.stake_vault, "nobody slashed");
    assert_eq!(b1.insurance, b0.insurance);
    assert_eq!(d.treasury_balance(), t0);
    let n = d.node_account(&node.key());
    assert_eq!(n.stake, STAKE);
    assert_ne!(n.status, NodeStatus::Banned);
    let rep = d.reputation(&node.key());
    assert_eq!(
        (rep.points, rep.score, rep.disputes_won, rep.disputes_lost),
        (
            rep0.points,
            rep0.score,
            rep0.disputes_won,
            rep0.disputes_lost
        )
    );
    let ur = user_rep(&d, &user.key());
    assert_eq!((ur.score, ur.disputes_won, ur.disputes_lost), (1_000, 0, 0));
    assert_eq!(d.state(&job), EscrowState::Refunded);
    assert_eq!(d.dispute(&job).state, DisputeState::Executed);
    assert_eq!(
        ok.event::<DisputeSettled>(),
        DisputeSettled {
            job_id: job.id,
            resolution: DisputeResolution::NoDecision,
            to_user: AMOUNT / 2,
            to_node: AMOUNT / 2,
            platform_fee: 0
        }
    );
    assert_eq!(ok.event::<DisputeExecuted>().verdict, Verdict::NoDecision);
    d.assert_tokens_conserved(initial);
    d.assert_vaults_match();
}

#[test]
fn no_quorum_is_no_decision_settled_by_progress() {
    no_decision_case(|q| vec![(q - 1, Side::UserFavor)]);
}

#[test]
fn no_votes_at_all_is_no_decision() {
    no_decision_case(|_| vec![]);
}

#[test]
fn a_tie_is_no_decision_settled_by_progress() {
    no_decision_case(|q| vec![(q, Side::UserFavor), (q, Side::NodeFavor)]);
}

// ── 4. appeals ───────────────────────────────────────────────────────────

#[test]
fn appeal_that_overturns_returns_the_deposit_and_executes_the_new_verdict() {
    let (mut d, user, node, job) = disputed();
    let first = decided(&mut d, &job, Side::NodeFavor);
    let q1 = d.dispute(&job).quorum;

    // The winner (node) cannot appeal.
    mint_to(&mut d, &node.token, APPEAL_DEPOSIT);
    let ix = d.appeal_ix(&job, &node.key(), &node.token, [9; 32]);
    dao_fails(&mut d, &job, ix, &[&node.wallet], DaoError::NotLoser, &[]);

    let user0 = d.balance(&user.token);
    let supply_at_appeal = d.supply();
    let ok = appeal(&mut d, &job, &user.wallet, &user.token).expect("appeal");
    assert_eq!(d.balance(&user.token), user0 - APPEAL_DEPOSIT);
    assert_eq!(d.appeal_vault_balance(), APPEAL_DEPOSIT);
    let disp = d.dispute(&job);
    let q2 = u64::try_from(u128::from(supply_at_appeal) * 1_000 / 10_000).unwrap();
    assert_eq!(disp.quorum, q2, "10 % of the supply at the appeal");
    assert_eq!(disp.round, 1);
    assert_eq!(disp.state, DisputeState::Open);
    assert_eq!(disp.appealed_verdict, Verdict::NodeFavor);
    assert_eq!(disp.appellant, user.key());
    assert_eq!(disp.appeal_deposit, APPEAL_DEPOSIT);
    assert_eq!((disp.votes_user, disp.votes_node, disp.voters), (0, 0, 0));
    assert_eq!(disp.user_evidence_count, 2, "the appeal's new evidence");
    assert_eq!(disp.user_evidence[1], [9; 32]);
    assert_eq!(
        ok.event::<DisputeAppealed>(),
        DisputeAppealed {
            job_id: job.id,
            appellant: user.key(),
            deposit: APPEAL_DEPOSIT,
            evidence_hash: [9; 32],
            voting_end: disp.voting_end,
            quorum: q2,
        }
    );
    // Appealing while the re-vote is open is a state error.
    let ix = d.appeal_ix(&job, &user.key(), &user.token, [9; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&user.wallet],
        DaoError::InvalidDisputeState,
        &[],
    );

    // Re-vote: the first voter may vote again (new round), but is outvoted.
    let second = d.voter(q2 + q1);
    d.warp_to_voting(&job);
    d.vote(&job, &first, Side::NodeFavor).expect("re-vote");
    d.vote(&job, &second, Side::UserFavor).expect("vote");
    d.warp_past_voting(&job);
    d.tally(&job).expect("tally");
    let disp = d.dispute(&job);
    assert_eq!(disp.verdict, Verdict::UserFavor);
    assert_eq!(disp.appeal_deadline, d.chain.now(), "final at once");

    // No second appeal.
    let ix = d.appeal_ix(&job, &node.key(), &node.token, [9; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&node.wallet],
        DaoError::NotAppealable,
        &[],
    );

    let initial = d.supply();
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let ok = d.finalize(&job).expect("finalize");
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(
        b1.user,
        b0.user + APPEAL_DEPOSIT + AMOUNT + SLASH_TO_USER,
        "deposit returned, refund and slash share"
    );
    assert_eq!(b1.node, b0.node);
    assert_eq!(d.appeal_vault_balance(), 0);
    assert_eq!(d.treasury_balance(), t0 + SLASH_TO_TREASURY);
    assert_eq!(d.node_account(&node.key()).status, NodeStatus::Banned);
    assert_eq!(d.state(&job), EscrowState::Refunded);
    assert_eq!(
        ok.event::<DisputeExecuted>(),
        DisputeExecuted {
            job_id: job.id,
            verdict: Verdict::UserFavor,
            appeal_deposit_returned: true
        }
    );
    d.assert_tokens_conserved(initial);

    // Rewards follow the final verdict, per round's record: the appeal-round winner earns
    // it; the first voter's records (node side, both rounds) earn nothing.
    d.fund_treasury(REWARD);
    let initial = d.supply();
    let t0 = d.treasury_balance();
    let s0 = d.balance(&second.token);
    let ix = d.claim_ix(&job, &second, 1);
    d.send(ix, &[&second.wallet]).expect("claim round 1");
    assert_eq!(d.balance(&second.token), s0 + REWARD);
    let f0 = d.balance(&first.token);
    for round in [0, 1] {
        let ix = d.claim_ix(&job, &first, round);
        let ok = d.send(ix, &[&first.wallet]).expect("claim");
        assert_eq!(ok.event::<RewardClaimed>().reward, 0);
        assert!(
            d.vote_record(&dispute_pda(&job.id), round, &first.key())
                .is_none()
        );
    }
    assert_eq!(d.balance(&first.token), f0);
    assert_eq!(d.treasury_balance(), t0 - REWARD);
    d.assert_tokens_conserved(initial);
}

#[test]
fn appeal_rejected_by_the_same_side_forfeits_the_deposit() {
    let (mut d, user, node, job) = disputed();
    decided(&mut d, &job, Side::UserFavor);
    // The winner (user) cannot appeal.
    let ix = d.appeal_ix(&job, &user.key(), &user.token, [9; 32]);
    dao_fails(&mut d, &job, ix, &[&user.wallet], DaoError::NotLoser, &[]);

    mint_to(&mut d, &node.token, 2 * APPEAL_DEPOSIT);
    appeal(&mut d, &job, &node.wallet, &node.token).expect("node appeals");
    assert_eq!(d.balance(&node.token), APPEAL_DEPOSIT);
    assert_eq!(d.appeal_vault_balance(), APPEAL_DEPOSIT);
    assert_eq!(d.dispute(&job).node_evidence_count, 1);

    let v = quorum_voter(&mut d, &job, 0);
    d.warp_to_voting(&job);
    d.vote(&job, &v, Side::UserFavor).expect("vote");
    d.warp_past_voting(&job);
    d.tally(&job).expect("tally");
    assert_eq!(d.dispute(&job).verdict, Verdict::UserFavor);

    let initial = d.supply();
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let ok = d.finalize(&job).expect("finalize");
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(b1.node, b0.node, "deposit not returned");
    assert_eq!(b1.user, b0.user + AMOUNT + SLASH_TO_USER);
    assert_eq!(d.appeal_vault_balance(), 0);
    assert_eq!(
        d.treasury_balance(),
        t0 + SLASH_TO_TREASURY + APPEAL_DEPOSIT,
        "deposit forfeited to the treasury"
    );
    assert!(!ok.event::<DisputeExecuted>().appeal_deposit_returned);
    d.assert_tokens_conserved(initial);
}

#[test]
fn appeal_round_without_quorum_leaves_the_first_verdict_and_forfeits_the_deposit() {
    let (mut d, user, node, job) = disputed();
    decided(&mut d, &job, Side::NodeFavor);
    appeal(&mut d, &job, &user.wallet, &user.token).expect("user appeals");
    // Below the 10 % appeal quorum, all for the user: not enough to overturn.
    let q2 = d.dispute(&job).quorum;
    let v = d.voter(q2 - 1);
    d.warp_to_voting(&job);
    d.vote(&job, &v, Side::UserFavor).expect("vote");
    d.warp_past_voting(&job);
    d.tally(&job).expect("tally");
    let disp = d.dispute(&job);
    assert_eq!(disp.verdict, Verdict::NodeFavor, "first verdict stands");
    assert_eq!(disp.appeal_deadline, d.chain.now());

    let initial = d.supply();
    let b0 = d.balances(&job, &user.token, &node.token);
    let t0 = d.treasury_balance();
    let ok = d.finalize(&job).expect("finalize");
    let b1 = d.balances(&job, &user.token, &node.token);
    assert_eq!(b1.node, b0.node + AMOUNT - FEE);
    assert_eq!(b1.user, b0.user, "deposit not returned");
    assert_eq!(d.treasury_balance(), t0 + APPEAL_DEPOSIT);
    assert_eq!(d.appeal_vault_balance(), 0);
    assert_eq!(d.state(&job), EscrowState::Completed);
    let ex = ok.event::<DisputeExecuted>();
    assert_eq!(ex.verdict, Verdict::NodeFavor);
    assert!(!ex.appeal_deposit_returned);
    d.assert_tokens_conserved(initial);
}

#[test]
fn appeal_after_the_window_is_rejected() {
    let (mut d, _user, node, job) = disputed();
    decided(&mut d, &job, Side::UserFavor);
    mint_to(&mut d, &node.token, APPEAL_DEPOSIT);
    d.warp_past_appeal(&job);
    let ix = d.appeal_ix(&job, &node.key(), &node.token, [9; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&node.wallet],
        DaoError::AppealWindowClosed,
        &[],
    );
    // The deadline itself is already closed.
    assert_eq!(d.dispute(&job).appeal_deadline, d.chain.now());
}

// ── 5. failure paths ─────────────────────────────────────────────────────

#[test]
fn only_a_party_can_open_a_dispute() {
    let (mut d, user, node) = setup();
    let job = d.f.accepted_job(&user, &node, AMOUNT, EPOCHS);
    let stranger = d.f.env.wallet();
    let ix = d.create_dispute_ix(&job, &stranger.pubkey(), Claim::Other, [1; 32]);
    dao_fails(&mut d, &job, ix, &[&stranger], DaoError::NotParty, &[]);
    assert!(d.try_dispute(&job).is_none());
    assert_eq!(d.state(&job), EscrowState::InProgress);
    // The node may open one.
    d.create_dispute(&job, &node.wallet, Claim::PaymentWithheld, [3; 32])
        .expect("node opens");
    let disp = d.dispute(&job);
    assert_eq!(disp.opener, node.key());
    assert_eq!((disp.node_evidence_count, disp.user_evidence_count), (1, 0));
}

/// A second dispute on a job is refused with `DisputeExists`, checked before the escrow
/// freeze, while it is open and after it was executed.
#[test]
fn a_second_dispute_on_the_same_job_is_rejected() {
    let (mut d, user, node, job) = disputed();
    for who in [&user.wallet, &node.wallet] {
        let ix = d.create_dispute_ix(&job, &who.pubkey(), Claim::Other, [4; 32]);
        dao_fails(&mut d, &job, ix, &[who], DaoError::DisputeExists, &[]);
    }
    // Also after the first one was executed (escrow Refunded).
    decided(&mut d, &job, Side::UserFavor);
    d.warp_past_appeal(&job);
    d.finalize(&job).expect("finalize");
    let ix = d.create_dispute_ix(&job, &user.key(), Claim::Other, [4; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&user.wallet],
        DaoError::DisputeExists,
        &[],
    );
}

#[test]
fn disputing_a_job_not_in_progress_is_rejected() {
    let (mut d, user, node) = setup();
    let locked = d.f.locked_job(&user, AMOUNT, EPOCHS);
    let ix = d.create_dispute_ix(&locked, &user.key(), Claim::Other, [1; 32]);
    dao_fails(
        &mut d,
        &locked,
        ix,
        &[&user.wallet],
        EscrowError::InvalidState,
        &[],
    );
    // A paid job once its challenge window has closed, and once its stake is released.
    let done = d.f.completed_job(&user, &node, AMOUNT, EPOCHS);
    let released = d.f.completed_job(&user, &node, AMOUNT, EPOCHS);
    d.f.release_after_window(&released);
    let ix = d.create_dispute_ix(&done, &user.key(), Claim::Other, [1; 32]);
    dao_fails(
        &mut d,
        &done,
        ix,
        &[&user.wallet],
        EscrowError::ChallengeWindowClosed,
        &[],
    );
    let ix = d.create_dispute_ix(&released, &user.key(), Claim::Other, [1; 32]);
    dao_fails(
        &mut d,
        &released,
        ix,
        &[&user.wallet],
        EscrowError::InvalidState,
        &[],
    );
    assert!(d.try_dispute(&locked).is_none());
    assert!(d.try_dispute(&done).is_none());
    assert!(d.try_dispute(&released).is_none());
}

#[test]
fn evidence_rules() {
    let (mut d, user, node, job) = disputed();
    let stranger = d.f.env.wallet();
    let ix = d.evidence_ix(&job, &stranger.pubkey(), [5; 32]);
    dao_fails(&mut d, &job, ix, &[&stranger], DaoError::NotParty, &[]);

    // The user opened with one hash; seven more fit, the ninth does not.
    for i in 1..8u8 {
        let ix = d.evidence_ix(&job, &user.key(), [10 + i; 32]);
        let ok = d.send(ix, &[&user.wallet]).expect("evidence");
        assert_eq!(ok.event::<EvidenceSubmitted>().index, i);
    }
    let disp = d.dispute(&job);
    assert_eq!(disp.user_evidence_count, 8);
    assert_eq!(disp.user_evidence[7], [17; 32]);
    let ix = d.evidence_ix(&job, &user.key(), [99; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&user.wallet],
        DaoError::EvidenceFull,
        &[],
    );

    // The node still has its own eight slots, until the window closes.
    let ix = d.evidence_ix(&job, &node.key(), [6; 32]);
    d.send(ix, &[&node.wallet]).expect("node evidence");
    d.warp_to_voting(&job);
    let ix = d.evidence_ix(&job, &node.key(), [7; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&node.wallet],
        DaoError::EvidenceWindowClosed,
        &[],
    );
    assert_eq!(d.dispute(&job).node_evidence_count, 1);
}

#[test]
fn voting_rules() {
    let (mut d, user, _node, job) = disputed();
    let v = d.voter(100 * CYX);
    let empty = d.voter(0);
    // The user makes a voter account with a deposit, to show parties are refused.
    let ix = dao_ix(d.create_voter_accounts(&user.key()), dix::CreateVoter {});
    d.send(ix, &[&user.wallet]).expect("user voter");
    let party_voter = Voter {
        wallet: user.wallet.insecure_clone(),
        token: user.token,
    };
    let ix = d.deposit_ix(&party_voter, 50 * CYX);
    d.send(ix, &[&user.wallet]).expect("user deposit");

    let dispute = dispute_pda(&job.id);
    let rec = |w: &Voter| vote_pda(&dispute, 0, &w.key());

    let ix = d.vote_ix(&job, &v.key(), Side::UserFavor);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&v.wallet],
        DaoError::VotingNotStarted,
        &[rec(&v)],
    );

    d.warp_to_voting(&job);
    let ix = d.vote_ix(&job, &user.key(), Side::UserFavor);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&user.wallet],
        DaoError::PartyCannotVote,
        &[rec(&party_voter)],
    );
    let ix = d.vote_ix(&job, &empty.key(), Side::UserFavor);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&empty.wallet],
        DaoError::NoVotingWeight,
        &[rec(&empty)],
    );

    d.vote(&job, &v, Side::NodeFavor).expect("vote");
    for side in [Side::NodeFavor, Side::UserFavor] {
        let ix = d.vote_ix(&job, &v.key(), side);
        dao_fails(
            &mut d,
            &job,
            ix,
            &[&v.wallet],
            DaoError::AlreadyVoted,
            &[rec(&v)],
        );
    }
    let disp = d.dispute(&job);
    assert_eq!(
        (disp.votes_user, disp.votes_node, disp.voters),
        (0, 100 * CYX, 1)
    );
}

#[test]
fn votes_after_the_window_and_early_tally_are_rejected() {
    let (mut d, _user, _node, job) = disputed();
    let v = d.voter(100 * CYX);
    // Tally before voting ends (during evidence and during voting).
    let ix = d.tally_ix(&job);
    dao_fails(&mut d, &job, ix, &[], DaoError::VotingNotEnded, &[]);
    d.warp_to_voting(&job);
    let ix = d.tally_ix(&job);
    dao_fails(&mut d, &job, ix, &[], DaoError::VotingNotEnded, &[]);

    d.warp_past_voting(&job);
    let ix = d.vote_ix(&job, &v.key(), Side::UserFavor);
    let rec = vote_pda(&dispute_pda(&job.id), 0, &v.key());
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&v.wallet],
        DaoError::VotingEnded,
        &[rec],
    );

    d.tally(&job).expect("tally");
    // Tally twice.
    let ix = d.tally_ix(&job);
    dao_fails(&mut d, &job, ix, &[], DaoError::InvalidDisputeState, &[]);
}

#[test]
fn finalize_timing_and_accounts() {
    let (mut d, user, _node, job) = disputed();
    // Before the tally.
    let ix = d.finalize_ix(&job);
    dao_fails(&mut d, &job, ix, &[], DaoError::InvalidDisputeState, &[]);
    decided(&mut d, &job, Side::UserFavor);
    // During the appeal window.
    let ix = d.finalize_ix(&job);
    dao_fails(&mut d, &job, ix, &[], DaoError::AppealWindowOpen, &[]);
    d.warp_past_appeal(&job);

    // Another user's (existing, valid) user-reputation account: created by a dispute of
    // theirs against another node.
    let other = d.user(USER_TOKENS);
    let other_node = d.node(STAKE);
    d.disputed_job(&other, &other_node, AMOUNT, EPOCHS);
    assert!(
        d.chain
            .account(&deploy::user_reputation(&other.key()))
            .is_some()
    );
    let mut acc = d.finalize_accounts(&job);
    acc.user_reputation = deploy::user_reputation(&other.key());
    let ix = dao_ix(acc, dix::Finalize {});
    dao_fails(
        &mut d,
        &job,
        ix,
        &[],
        DaoError::WrongAccount,
        &[
            deploy::user_reputation(&user.key()),
            deploy::user_reputation(&other.key()),
        ],
    );

    d.finalize(&job).expect("finalize");
    let ix = d.finalize_ix(&job);
    dao_fails(&mut d, &job, ix, &[], DaoError::InvalidDisputeState, &[]);
}

#[test]
fn deposits_are_locked_until_the_vote_ends() {
    let (mut d, _user, _node, job) = disputed();
    let v = d.voter(200 * CYX);
    d.warp_to_voting(&job);
    d.vote(&job, &v, Side::UserFavor).expect("vote");
    let voting_end = d.dispute(&job).voting_end;
    assert_eq!(d.voter_account(&v.key()).unwrap().locked_until, voting_end);

    let ix = d.withdraw_ix(&v, 200 * CYX);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&v.wallet],
        DaoError::DepositLocked,
        &[voter_pda(&v.key())],
    );
    // One second before the end: still locked.
    let wait = voting_end - d.chain.now() - 1;
    d.f.env.chain.warp(wait);
    let ix = d.withdraw_ix(&v, 1);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&v.wallet],
        DaoError::DepositLocked,
        &[voter_pda(&v.key())],
    );

    d.warp_past_voting(&job);
    let vault0 = d.deposit_vault_balance();
    let total0 = d.dao_config().total_deposited;
    let ix = d.withdraw_ix(&v, 200 * CYX);
    let ok = d.send(ix, &[&v.wallet]).expect("withdraw after voting end");
    assert_eq!(d.balance(&v.token), 200 * CYX);
    assert_eq!(d.deposit_vault_balance(), vault0 - 200 * CYX);
    assert_eq!(d.dao_config().total_deposited, total0 - 200 * CYX);
    assert_eq!(d.voter_account(&v.key()).unwrap().deposited, 0);
    assert_eq!(
        ok.event::<Withdrawn>(),
        Withdrawn {
            wallet: v.key(),
            amount: 200 * CYX,
            total: 0
        }
    );
}

// ── 6. voter rewards ─────────────────────────────────────────────────────

#[test]
fn voter_rewards() {
    let (mut d, _user, _node, job) = disputed();
    let winner = quorum_voter(&mut d, &job, 0);
    let small = d.voter(dao_params().reward_min_weight - 1);
    let loser = d.voter(10 * CYX);
    d.warp_to_voting(&job);
    d.vote(&job, &winner, Side::NodeFavor).expect("vote");
    d.vote(&job, &small, Side::NodeFavor).expect("vote");
    d.vote(&job, &loser, Side::UserFavor).expect("vote");
    d.warp_past_voting(&job);
    d.tally(&job).expect("tally");
    let dispute = dispute_pda(&job.id);
    let rec = |v: &Voter| vote_pda(&dispute, 0, &v.key());

    // Not before execution.
    let ix = d.claim_ix(&job, &winner, 0);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&winner.wallet],
        DaoError::InvalidDisputeState,
        &[rec(&winner)],
    );
    d.warp_past_appeal(&job);
    d.finalize(&job).expect("finalize");
    assert_eq!(
        d.treasury_balance(),
        0,
        "a node win puts nothing in the treasury"
    );

    // Empty treasury: the claim fails and can be retried.
    let ix = d.claim_ix(&job, &winner, 0);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&winner.wallet],
        DaoError::TreasuryEmpty,
        &[rec(&winner)],
    );
    assert!(d.vote_record(&dispute, 0, &winner.key()).is_some());

    d.fund_treasury(REWARD + REWARD / 2);
    let initial = d.supply();
    d.assert_tokens_conserved(initial);

    let claim = |d: &mut DaoEnv, v: &Voter| -> (u64, u64, TxOk) {
        let t0 = d.balance(&v.token);
        let l0 = d.chain.lamports(&v.key());
        let rent = d.chain.lamports(&rec(v));
        assert!(rent > 0);
        let ix = d.claim_ix(&job, v, 0);
        let ok = d.send(ix, &[&v.wallet]).expect("claim");
        assert!(d.chain.account(&rec(v)).is_none_or(|a| a.lamports == 0));
        assert_eq!(
            d.chain.lamports(&v.key()),
            l0 + rent,
            "rent back to the wallet"
        );
        (d.balance(&v.token) - t0, rent, ok)
    };

    let t0 = d.treasury_balance();
    let (got, _, ok) = claim(&mut d, &winner);
    assert_eq!(got, REWARD);
    assert_eq!(d.treasury_balance(), t0 - REWARD);
    assert_eq!(
        ok.event::<RewardClaimed>(),
        RewardClaimed {
            subject: dispute,
            voter: winner.key(),
            side: Side::NodeFavor,
            reward: REWARD
        }
    );
    // Twice: the record is gone.
    let ix = d.claim_ix(&job, &winner, 0);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&winner.wallet],
        AnchorErrorCode::AccountNotInitialized,
        &[],
    );

    // Losing side and below the minimum weight: nothing, but the record is closed.
    for v in [&loser, &small] {
        let t = d.treasury_balance();
        let (got, _, ok) = claim(&mut d, v);
        assert_eq!(got, 0);
        assert_eq!(ok.event::<RewardClaimed>().reward, 0);
        assert_eq!(d.treasury_balance(), t);
    }
    assert_eq!(d.treasury_balance(), REWARD / 2);
    d.assert_tokens_conserved(initial);
}

/// `DisputeExists` is only reachable when the escrow can be frozen again: the finished
/// escrow is closed and a new one is created under the same job id. The old dispute
/// account is never closed, so that job id can never be disputed again.
#[test]
fn a_reused_job_id_hits_dispute_exists() {
    let (mut d, user, _node, job) = disputed();
    decided(&mut d, &job, Side::UserFavor);
    d.warp_past_appeal(&job);
    d.finalize(&job).expect("finalize");
    let grace = d.escrow_config().params.close_grace_secs;
    d.f.env.chain.warp(grace);
    d.close(&job, &user.wallet).expect("close escrow");
    assert!(d.try_escrow(&job).is_none());

    let node2 = d.node(STAKE);
    let ix = d.create_escrow_ix(&user, &job, AMOUNT, EPOCHS, 0);
    d.send(ix, &[&user.wallet]).expect("same job id again");
    d.assign(&job, &node2.key()).expect("assign");
    d.accept(&job, &node2).expect("accept");
    let ix = d.create_dispute_ix(&job, &user.key(), Claim::Other, [4; 32]);
    dao_fails(
        &mut d,
        &job,
        ix,
        &[&user.wallet],
        DaoError::DisputeExists,
        &[],
    );
    assert_eq!(d.state(&job), EscrowState::InProgress, "freeze rolled back");
}
