//! Property test: random interleavings of escrow instructions across several users and
//! nodes never create, lose or strand a token, and every escrow settles exactly once.
//!
//! After every step (successful or not):
//! * Σ balances of every token account of the mint + burned (initial − current supply)
//!   == initial supply;
//! * every vault holds its escrow's amount while the escrow is open, 0 once it is final;
//! * registry stake vault == `config.total_staked` == Σ node stakes;
//! * each node's `active_jobs` == its accepted escrows whose stake hold has not ended:
//!   running, disputed, and completed ones still in their challenge window;
//! * an escrow that reached its final state (terminal, and for a completed one with its
//!   stake released) never changes again (until it is closed, after which it stays
//!   closed), and a failed transaction changes nothing at all.
//!
//! Disputes are part of the flows: Dispute/DAO's verdict PDA (the fixture's stand-in
//! signs as it) freezes running escrows and paid ones within their challenge window, and
//! settles them by each verdict (user wins: full refund, or for a paid job the stake
//! repays the user; node wins: paid with the platform fee, or the payment stands; no
//! decision: by anchored progress, or the payment stands). Paid jobs are released after
//! their window; invalid proofs are submitted too (refund and slash).
//!
//! At the end every escrow is driven to its final state by timeouts and releases (and
//! frozen ones by a verdict, which no timeout can touch).

use std::collections::HashMap;

use anchor_lang::prelude::Pubkey;
use cyxwiz_common::units::{DAY, ONE_CYXWIZ};
use cyxwiz_program_tests::{Operator, escrow::*};
use job_escrow::{DisputeResolution, EscrowState, verifier::insecure_test_proof};
use proptest::{prelude::*, sample::Index};
use solana_keypair::Keypair;
use solana_signer::Signer;

const CYX: u64 = ONE_CYXWIZ;
/// Job sizes across every stake tier (and a 1-base-unit job for rounding).
const AMOUNTS: [u64; 6] = [1, 7 * CYX + 3, 10 * CYX, 50 * CYX + 1, 150 * CYX, 300 * CYX];
/// Node stakes: the smallest qualifies for the first two tiers only.
const STAKES: [u64; 3] = [250 * CYX, 1_500 * CYX, 6_000 * CYX];
const USER_TOKENS: u64 = 2_000 * CYX;
const TIMEOUTS: [i64; 3] = [0, 3_600, 2 * DAY];
const WARPS: [i64; 6] = [60, 3_600, 6 * 3_600, DAY + 1, 3 * DAY, 8 * DAY];

/// Which escrow an operation targets: usually one in a state where the operation can
/// succeed (so long flows happen), sometimes any escrow (so wrong states are exercised).
#[derive(Debug, Clone)]
struct Pick {
    index: Index,
    any_state: bool,
}

fn pick() -> impl Strategy<Value = Pick> {
    (any::<Index>(), prop::bool::weighted(0.15))
        .prop_map(|(index, any_state)| Pick { index, any_state })
}

#[derive(Debug, Clone)]
enum Op {
    Create {
        user: usize,
        amount: usize,
        epochs: u32,
        timeout: usize,
    },
    /// With `heartbeat`, the node sends a heartbeat first (in the same transaction).
    Assign {
        job: Pick,
        node: usize,
        heartbeat: bool,
    },
    Accept {
        job: Pick,
    },
    Checkpoint {
        job: Pick,
        step: u32,
    },
    Complete {
        job: Pick,
        extra: u32,
    },
    /// `submit_proof` with a valid or an invalid proof.
    Submit {
        job: Pick,
        valid: bool,
    },
    /// `release_stake` of a paid job (anyone).
    Release {
        job: Pick,
    },
    Cancel {
        job: Pick,
    },
    /// 0 user, 1 node, 2 coordinator, 3 a stranger.
    Refund {
        job: Pick,
        party: usize,
    },
    TimeoutRefund {
        job: Pick,
    },
    TimeoutRefundWithSlash {
        job: Pick,
    },
    Close {
        job: Pick,
    },
    Heartbeat {
        node: usize,
    },
    /// Dispute/DAO freezes a running escrow or a paid one in its challenge window.
    Freeze {
        job: Pick,
    },
    /// The verdict of a dispute on a paid job also slashes the node to repay the user.
    SlashForFraud {
        job: Pick,
    },
    /// Dispute/DAO executes a verdict: 0 user wins, 1 node wins, 2 no decision.
    Resolve {
        job: Pick,
        verdict: usize,
    },
    Warp {
        secs: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..AMOUNTS.len(), 1..=4u32, 0..TIMEOUTS.len())
            .prop_map(|(user, amount, epochs, timeout)| Op::Create { user, amount, epochs, timeout }),
        5 => (pick(), 0..3usize, prop::bool::weighted(0.7))
            .prop_map(|(job, node, heartbeat)| Op::Assign { job, node, heartbeat }),
        4 => pick().prop_map(|job| Op::Accept { job }),
        4 => (pick(), 1..=2u32).prop_map(|(job, step)| Op::Checkpoint { job, step }),
        3 => (pick(), 0..=1u32).prop_map(|(job, extra)| Op::Complete { job, extra }),
        2 => (pick(), prop::bool::weighted(0.6)).prop_map(|(job, valid)| Op::Submit { job, valid }),
        2 => pick().prop_map(|job| Op::Release { job }),
        2 => pick().prop_map(|job| Op::Cancel { job }),
        2 => (pick(), 0..4usize).prop_map(|(job, party)| Op::Refund { job, party }),
        1 => pick().prop_map(|job| Op::TimeoutRefund { job }),
        1 => pick().prop_map(|job| Op::TimeoutRefundWithSlash { job }),
        1 => pick().prop_map(|job| Op::Close { job }),
        3 => (0..3usize).prop_map(|node| Op::Heartbeat { node }),
        2 => pick().prop_map(|job| Op::Freeze { job }),
        1 => pick().prop_map(|job| Op::SlashForFraud { job }),
        2 => (pick(), 0..3usize).prop_map(|(job, verdict)| Op::Resolve { job, verdict }),
        1 => (0..WARPS.len()).prop_map(|secs| Op::Warp { secs }),
    ]
}

fn open_unaccepted(s: EscrowState) -> bool {
    matches!(s, EscrowState::Locked | EscrowState::Assigned)
}
fn assigned(s: EscrowState) -> bool {
    s == EscrowState::Assigned
}
fn running(s: EscrowState) -> bool {
    s == EscrowState::InProgress
}
fn disputed(s: EscrowState) -> bool {
    s == EscrowState::Disputed
}
fn running_or_paid(s: EscrowState) -> bool {
    matches!(s, EscrowState::InProgress | EscrowState::Completed)
}
fn paid(s: EscrowState) -> bool {
    s == EscrowState::Completed
}
fn refunded(s: EscrowState) -> bool {
    s == EscrowState::Refunded
}
/// An escrow that can no longer change: terminal, and a completed one released.
fn is_final(e: &job_escrow::Escrow) -> bool {
    e.state.is_terminal() && (e.state != EscrowState::Completed || e.stake_released)
}
const VERDICTS: [DisputeResolution; 3] = [
    DisputeResolution::UserFavor,
    DisputeResolution::NodeFavor,
    DisputeResolution::NoDecision,
];
fn finished(s: EscrowState) -> bool {
    s.is_terminal()
}

struct World {
    f: EscrowEnv,
    users: Vec<User>,
    nodes: Vec<Operator>,
    stranger: Keypair,
    /// Token account standing in for the DAO treasury (the fraud slash's other half).
    dao_treasury: Pubkey,
    /// Paid jobs whose fraud verdict has already slashed the node.
    fraud_slashed: std::collections::HashSet<Job>,
    initial_supply: u64,
    /// The first terminal state (and raw data) each escrow reached.
    finished: HashMap<Job, Option<Vec<u8>>>,
}

impl World {
    fn new() -> Self {
        let mut f = EscrowEnv::new(insecure_test_proof);
        let users = (0..3).map(|_| f.user(USER_TOKENS)).collect();
        let nodes: Vec<Operator> = STAKES.iter().map(|s| f.node(*s)).collect();
        // The biggest staker is Diamond: any job size, 8 % platform fee.
        f.set_score(&nodes[2].key(), 850);
        let stranger = f.wallet();
        let dao_treasury = f.fund_tokens(&stranger.pubkey(), 0);
        let initial_supply = f.supply();
        World {
            f,
            users,
            nodes,
            stranger,
            dao_treasury,
            fraud_slashed: Default::default(),
            initial_supply,
            finished: HashMap::new(),
        }
    }

    /// The escrow `p` targets among those whose state satisfies `fits` (any escrow when
    /// `p.any_state` or when none fits); None before the first escrow exists.
    fn job(&self, p: &Pick, fits: fn(EscrowState) -> bool) -> Option<Job> {
        let fitting: Vec<Job> = self
            .f
            .jobs
            .iter()
            .filter(|j| self.f.try_escrow(j).is_some_and(|e| fits(e.state)))
            .copied()
            .collect();
        let pool = if p.any_state || fitting.is_empty() {
            &self.f.jobs
        } else {
            &fitting
        };
        (!pool.is_empty()).then(|| *p.index.get(pool))
    }

    /// The wallet of the node `owner` (None for an escrow without a node).
    fn node_of(&self, owner: &Pubkey) -> Option<Keypair> {
        self.nodes
            .iter()
            .find(|n| n.key() == *owner)
            .map(|n| n.wallet.insecure_clone())
    }

    fn user_of(&self, owner: &Pubkey) -> Keypair {
        let user = self
            .users
            .iter()
            .find(|u| u.key() == *owner)
            .expect("fixture user");
        user.wallet.insecure_clone()
    }

    /// Runs one operation; a failed transaction must leave every account as it was.
    fn apply(&mut self, op: &Op) {
        let before = self.f.escrow_snapshot();
        let result = match op {
            Op::Create {
                user,
                amount,
                epochs,
                timeout,
            } => {
                let user = &self.users[*user];
                self.f
                    .create_escrow(user, AMOUNTS[*amount], *epochs, TIMEOUTS[*timeout])
                    .map(|_| ())
            }
            Op::Assign {
                job,
                node,
                heartbeat,
            } => {
                let Some(job) = self.job(job, open_unaccepted) else {
                    return;
                };
                let node = &self.nodes[*node];
                let mut ixs = Vec::new();
                if *heartbeat {
                    ixs.push(self.f.heartbeat_ix(&node.key()));
                }
                ixs.push(self.f.assign_ix(&job, &node.key()));
                let coordinator = self.f.coordinator.insecure_clone();
                let signers: &[&Keypair] = if *heartbeat {
                    &[&coordinator, &node.wallet]
                } else {
                    &[&coordinator]
                };
                self.f.env.chain.send(&ixs, signers).map(|_| ())
            }
            Op::Accept { job } => {
                let Some(job) = self.job(job, assigned) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                let Some(node) = self.node_of(&e.node) else {
                    return;
                };
                let ix = self.f.accept_ix(&job, &node.pubkey());
                self.f.send(ix, &[&node]).map(|_| ())
            }
            Op::Checkpoint { job, step } => {
                let Some(job) = self.job(job, running) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                let Some(node) = self.node_of(&e.node) else {
                    return;
                };
                let epoch = e.epochs_done.saturating_add(*step);
                let ix = self.f.checkpoint_ix(&job, &node.pubkey(), epoch);
                self.f.send(ix, &[&node]).map(|_| ())
            }
            Op::Complete { job, extra } => {
                let Some(job) = self.job(job, running) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                let Some(node) = self.node_of(&e.node) else {
                    return;
                };
                let ix = self
                    .f
                    .complete_ix(&job, e.epochs_required.max(e.epochs_done) + extra);
                self.f.send(ix, &[&node]).map(|_| ())
            }
            Op::Submit { job, valid } => {
                let Some(job) = self.job(job, running) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                let Some(node) = self.node_of(&e.node) else {
                    return;
                };
                let ix = self
                    .f
                    .submit_ix(&job, e.epochs_required.max(e.epochs_done), *valid);
                self.f.send(ix, &[&node]).map(|_| ())
            }
            Op::Release { job } => {
                let Some(job) = self.job(job, paid) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                if self.node_of(&e.node).is_none() {
                    return;
                }
                let ix = self.f.release_ix(&job, &self.stranger.pubkey());
                self.f.send(ix, &[&self.stranger]).map(|_| ())
            }
            Op::SlashForFraud { job } => {
                // What Dispute/DAO's finalize does after a verdict for the user on a paid
                // job: slash the node, the payment first to the user.
                let Some(job) = self.job(job, refunded) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                if !e.challenged || self.fraud_slashed.contains(&job) {
                    return;
                }
                let user_token = self.f.token_of(&e.user);
                let ix = fraud_slash_ix(&self.f, &e.node, user_token, self.dao_treasury, e.amount);
                let result = self.f.send(ix, &[]).map(|_| ());
                if result.is_ok() {
                    self.fraud_slashed.insert(job);
                }
                result
            }
            Op::Cancel { job } => {
                let Some(job) = self.job(job, open_unaccepted) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                let ix = self.f.cancel_ix(&job);
                let user = self.user_of(&e.user);
                self.f.send(ix, &[&user]).map(|_| ())
            }
            Op::Refund { job, party } => {
                let Some(job) = self.job(job, running) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                // No node yet: the node's accounts cannot even be named.
                let Some(node) = self.node_of(&e.node) else {
                    return;
                };
                let caller = match party {
                    0 => self.user_of(&e.user),
                    1 => node,
                    2 => self.f.coordinator.insecure_clone(),
                    _ => self.stranger.insecure_clone(),
                };
                let ix = self.f.refund_ix(&job, &caller.pubkey());
                self.f.send(ix, &[&caller]).map(|_| ())
            }
            Op::TimeoutRefund { job } => {
                let Some(job) = self.job(job, open_unaccepted) else {
                    return;
                };
                if self.f.try_escrow(&job).is_none() {
                    return;
                }
                let ix = self.f.timeout_refund_ix(&job, &self.stranger.pubkey());
                self.f.send(ix, &[&self.stranger]).map(|_| ())
            }
            Op::TimeoutRefundWithSlash { job } => {
                let Some(job) = self.job(job, running) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                if self.node_of(&e.node).is_none() {
                    return;
                }
                let ix = self
                    .f
                    .timeout_refund_with_slash_ix(&job, &self.stranger.pubkey());
                self.f.send(ix, &[&self.stranger]).map(|_| ())
            }
            Op::Close { job } => {
                let Some(job) = self.job(job, finished) else {
                    return;
                };
                if self.f.try_escrow(&job).is_none() {
                    return;
                }
                let ix = self.f.close_ix(&job, &self.stranger.pubkey());
                self.f.send(ix, &[&self.stranger]).map(|_| ())
            }
            Op::Heartbeat { node } => {
                let node = &self.nodes[*node];
                self.f.env.heartbeat(node).map(|_| ())
            }
            Op::Freeze { job } => {
                let Some(job) = self.job(job, running_or_paid) else {
                    return;
                };
                if self.f.try_escrow(&job).is_none() {
                    return;
                }
                self.f.freeze(&job).map(|_| ())
            }
            Op::Resolve { job, verdict } => {
                let Some(job) = self.job(job, disputed) else {
                    return;
                };
                let Some(e) = self.f.try_escrow(&job) else {
                    return;
                };
                if self.node_of(&e.node).is_none() {
                    return;
                }
                self.f.resolve(&job, VERDICTS[*verdict]).map(|_| ())
            }
            Op::Warp { secs } => {
                self.f.chain.warp(WARPS[*secs]);
                return;
            }
        };
        if result.is_err() {
            assert_eq!(
                self.f.escrow_snapshot(),
                before,
                "failed {op:?} changed state"
            );
        }
    }

    fn check(&mut self) {
        let f = &self.f;
        f.assert_tokens_conserved(self.initial_supply);
        f.assert_vaults_match();
        f.assert_conserved();
        // active_jobs == accepted, unfinished escrows per node.
        for node in &self.nodes {
            let running = f
                .jobs
                .iter()
                .filter_map(|j| f.try_escrow(j))
                .filter(|e| e.node == node.key())
                .filter(|e| {
                    matches!(e.state, EscrowState::InProgress | EscrowState::Disputed)
                        || (e.state == EscrowState::Completed && !e.stake_released)
                })
                .count();
            assert_eq!(
                f.node_account(&node.key()).active_jobs as usize,
                running,
                "active_jobs"
            );
        }
        // Terminal states are final.
        for job in &f.jobs {
            let raw = f
                .chain
                .account(&job.escrow)
                .filter(|a| a.lamports > 0)
                .map(|a| a.data);
            match (self.finished.get(job), f.try_escrow(job)) {
                (None, Some(e)) if is_final(&e) => {
                    self.finished.insert(*job, raw);
                }
                (None, None) => panic!("escrow {job:?} closed without being seen finished"),
                (None, Some(_)) => {}
                (Some(first), _) => {
                    assert!(
                        raw.is_none() || raw == *first,
                        "finished escrow {job:?} changed"
                    );
                    if raw.is_none() {
                        self.finished.insert(*job, None);
                    }
                }
            }
        }
    }

    /// Drives every escrow to its final state through the timeouts and releases.
    fn finish_all(&mut self) {
        self.f.chain.warp(31 * DAY);
        let anyone = self.stranger.insecure_clone();
        for job in self.f.jobs.clone() {
            let Some(e) = self.f.try_escrow(&job) else {
                continue;
            };
            match e.state {
                EscrowState::Locked | EscrowState::Assigned => {
                    self.f
                        .timeout_refund(&job, &anyone)
                        .expect("timeout refund");
                }
                EscrowState::InProgress => {
                    self.f
                        .timeout_refund_with_slash(&job, &anyone)
                        .expect("timeout with slash");
                }
                EscrowState::Disputed => {
                    let ix = self.f.timeout_refund_with_slash_ix(&job, &anyone.pubkey());
                    assert!(
                        self.f.send(ix, &[&anyone]).is_err(),
                        "a timeout must not settle a disputed escrow"
                    );
                    self.f
                        .resolve(&job, DisputeResolution::NoDecision)
                        .expect("verdict");
                }
                EscrowState::Completed if !e.stake_released => {
                    self.f.release(&job, &anyone).expect("release stake");
                }
                _ => {}
            }
            self.check();
        }
        for job in &self.f.jobs {
            if let Some(e) = self.f.try_escrow(job) {
                assert!(is_final(&e), "{job:?} ended in {:?}", e.state);
            }
        }
        for node in &self.nodes {
            assert_eq!(self.f.node_account(&node.key()).active_jobs, 0);
        }
    }
}

/// `slash_for_dispute` signed as Dispute/DAO's verdict PDA (through the stand-in), repaying
/// `repay` to the user first.
fn fraud_slash_ix(
    f: &EscrowEnv,
    node_owner: &Pubkey,
    user_token: Pubkey,
    dao_treasury: Pubkey,
    repay: u64,
) -> solana_instruction::Instruction {
    use cyxwiz_program_tests::{config_pda, node_pda, registry_ix, vault_pda};
    via_dispute_dao(
        AS_DISPUTE_AUTHORITY,
        registry_ix(
            node_registry::accounts::SlashForDispute {
                dispute_authority: cyxwiz_common::ids::dispute_authority(),
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

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, max_shrink_iters: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_escrow_flows_conserve_tokens_and_settle_once(ops in prop::collection::vec(op(), 1..96)) {
        let mut w = World::new();
        w.check();
        for op in &ops {
            w.apply(op);
            w.check();
        }
        w.finish_all();
        w.check();
    }
}
