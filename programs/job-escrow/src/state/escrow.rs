//! One job's escrow: who pays, who works, what was proven, and how the money splits.

use anchor_lang::prelude::*;
use cyxwiz_common::bps;

use crate::error::EscrowError;

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum EscrowState {
    /// Funded; no node yet (the escrow never names a node before the coordinator commits
    /// one, so the funding transaction reveals nothing to front-run).
    Locked,
    /// A node is assigned and may accept.
    Assigned,
    /// The node accepted; training runs and checkpoints are anchored.
    InProgress,
    /// Frozen by the Dispute/DAO program until its verdict.
    Disputed,
    // ── terminal ──
    Completed,
    Cancelled,
    Refunded,
    TimedOut,
}

impl EscrowState {
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            Self::Completed | Self::Cancelled | Self::Refunded | Self::TimedOut
        )
    }
}

#[account]
#[derive(InitSpace, Debug)]
pub struct Escrow {
    pub job_id: [u8; 16],
    /// The submitter: receives refunds, paid the rent.
    pub user: Pubkey,
    pub mint: Pubkey,
    pub amount: u64,
    pub epochs_required: u32,
    /// Node owner wallet; `Pubkey::default()` until assigned.
    pub node: Pubkey,
    pub state: EscrowState,
    pub created_at: i64,
    pub timeout_at: i64,
    pub assigned_at: i64,
    pub accepted_at: i64,
    /// When the escrow reached a terminal state (0 before).
    pub finished_at: i64,
    /// Progress anchored on-chain by the node.
    pub epochs_done: u32,
    pub merkle_root: [u8; 32],
    pub last_checkpoint_at: i64,
    pub final_weights_hash: [u8; 32],
    /// The user rated the node (once per job).
    pub rated: bool,
    pub bump: u8,
    pub vault_bump: u8,
    /// The user assigned the node (`assign_node_by_user`, the coordinator having missed its
    /// window); the coordinator may then no longer re-match the escrow.
    pub assigned_by_user: bool,
    /// The user's estimate of the training time (seconds), bounding completion at
    /// 0.5×–2× of it from acceptance.
    pub estimated_secs: u32,
    /// Completed: until when the user may dispute the paid job (the node's stake stays
    /// locked until then); 0 for escrows that never completed.
    pub challenge_until: i64,
    /// Completed: NodeRegistry has been told the job ended (`release_stake` after the
    /// window, or a post-completion dispute's verdict), so the node's stake is free again.
    pub stake_released: bool,
    /// The escrow was disputed after completion (its vault is already empty; a verdict
    /// against the node repays the user from the node's stake).
    pub challenged: bool,
}

/// How Dispute/DAO settles a frozen escrow.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum DisputeResolution {
    /// The user won: full refund; the node's job counts as a lost dispute.
    UserFavor,
    /// The node won: paid as on completion (platform fee included).
    NodeFavor,
    /// No quorum or a tie: settled by anchored progress, as if the user had stopped the
    /// job; nobody is penalised.
    NoDecision,
}

/// Who gets what when an escrow is settled. Always sums to the escrow amount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settlement {
    pub to_user: u64,
    pub to_node: u64,
    pub fee: u64,
}

impl Escrow {
    pub fn has_timed_out(&self, now: i64) -> bool {
        now >= self.timeout_at
    }

    /// Completed job: the node gets everything but the platform fee.
    pub fn settle_completed(&self, fee_bps: u16) -> Result<Settlement> {
        let fee = bps::share(self.amount, fee_bps).ok_or(EscrowError::InvalidParams)?;
        let to_node = self.amount.checked_sub(fee).ok_or(EscrowError::Overflow)?;
        Ok(Settlement {
            to_user: 0,
            to_node,
            fee,
        })
    }

    /// Stopped job: the node is paid for anchored progress, the user gets the rest.
    pub fn settle_by_progress(&self) -> Result<Settlement> {
        let done = self.epochs_done.min(self.epochs_required);
        let to_node = bps::ratio(
            self.amount,
            u64::from(done),
            u64::from(self.epochs_required),
        )
        .ok_or(EscrowError::Overflow)?;
        let to_user = self
            .amount
            .checked_sub(to_node)
            .ok_or(EscrowError::Overflow)?;
        Ok(Settlement {
            to_user,
            to_node,
            fee: 0,
        })
    }

    /// Cancelled before acceptance: the cancellation fee is kept, the rest refunded.
    pub fn settle_cancelled(&self, cancel_fee_bps: u16) -> Result<Settlement> {
        let fee = bps::share(self.amount, cancel_fee_bps).ok_or(EscrowError::InvalidParams)?;
        let to_user = self.amount.checked_sub(fee).ok_or(EscrowError::Overflow)?;
        Ok(Settlement {
            to_user,
            to_node: 0,
            fee,
        })
    }

    /// Whether the user may assign a node itself at `now`: nobody was ever assigned and the
    /// coordinator had `after_secs` since creation to do it.
    pub fn check_user_may_assign(&self, now: i64, after_secs: i64) -> Result<()> {
        match self.state {
            EscrowState::Locked => {}
            EscrowState::Assigned | EscrowState::InProgress | EscrowState::Disputed => {
                return err!(EscrowError::AlreadyAssigned);
            }
            _ => return err!(EscrowError::InvalidState),
        }
        let from = self
            .created_at
            .checked_add(after_secs)
            .ok_or(EscrowError::Overflow)?;
        require!(now >= from, EscrowError::UserAssignTooEarly);
        Ok(())
    }

    /// The seed's training-time bound, `0.5·estimate ≤ T ≤ 2·estimate` with `T` = now −
    /// acceptance, each end widened by `margin` seconds (inclusive).
    pub fn check_duration(&self, now: i64, margin: i64) -> Result<()> {
        let elapsed = now
            .checked_sub(self.accepted_at)
            .ok_or(EscrowError::Overflow)?;
        let estimate = i64::from(self.estimated_secs);
        // 2·(T + margin) ≥ estimate, without rounding the half.
        let fast_enough = elapsed
            .checked_add(margin)
            .and_then(|t| t.checked_mul(2))
            .ok_or(EscrowError::Overflow)?;
        require!(fast_enough >= estimate, EscrowError::TrainingTooFast);
        let slowest = estimate
            .checked_mul(2)
            .and_then(|t| t.checked_add(margin))
            .ok_or(EscrowError::Overflow)?;
        require!(elapsed <= slowest, EscrowError::TrainingTooSlow);
        Ok(())
    }

    /// Commits `node` (its standing checked by the caller).
    pub fn assign(&mut self, node: Pubkey, now: i64, by_user: bool) {
        self.node = node;
        self.state = EscrowState::Assigned;
        self.assigned_at = now;
        self.assigned_by_user = by_user;
    }

    /// Whether a completed job may still be disputed at `now`.
    pub fn check_challengeable(&self, now: i64) -> Result<()> {
        require!(
            self.state == EscrowState::Completed && !self.stake_released,
            EscrowError::InvalidState
        );
        require!(
            now < self.challenge_until,
            EscrowError::ChallengeWindowClosed
        );
        Ok(())
    }

    /// Whether a completed job's stake lock may be released at `now`.
    pub fn check_releasable(&self, now: i64) -> Result<()> {
        require!(
            self.state == EscrowState::Completed && !self.stake_released,
            EscrowError::InvalidState
        );
        require!(
            now >= self.challenge_until,
            EscrowError::ChallengeWindowOpen
        );
        Ok(())
    }

    /// Whether the escrow may be closed at `now`: finished, its stake released, and the
    /// grace period over.
    pub fn check_closable(&self, now: i64, grace_secs: i64) -> Result<()> {
        require!(self.state.is_terminal(), EscrowError::InvalidState);
        require!(
            self.state != EscrowState::Completed || self.stake_released,
            EscrowError::StakeNotReleased
        );
        let closable_at = self
            .finished_at
            .checked_add(grace_secs)
            .ok_or(EscrowError::Overflow)?;
        require!(now >= closable_at, EscrowError::CloseTooEarly);
        Ok(())
    }

    pub fn finish(&mut self, state: EscrowState, now: i64) {
        debug_assert!(state.is_terminal());
        self.state = state;
        self.finished_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn escrow(amount: u64, required: u32, done: u32) -> Escrow {
        Escrow {
            job_id: [7; 16],
            user: Pubkey::new_unique(),
            mint: Pubkey::new_unique(),
            amount,
            epochs_required: required,
            node: Pubkey::new_unique(),
            state: EscrowState::InProgress,
            created_at: 0,
            timeout_at: 100,
            assigned_at: 0,
            accepted_at: 0,
            finished_at: 0,
            epochs_done: done,
            merkle_root: [0; 32],
            last_checkpoint_at: 0,
            final_weights_hash: [0; 32],
            rated: false,
            bump: 255,
            vault_bump: 255,
            assigned_by_user: false,
            estimated_secs: 1_000,
            challenge_until: 0,
            stake_released: false,
            challenged: false,
        }
    }

    #[test]
    fn a_completed_job_is_challengeable_then_releasable_then_closable() {
        let mut e = escrow(100, 1, 1);
        assert!(e.check_challengeable(0).is_err(), "in progress");
        assert!(e.check_releasable(0).is_err(), "in progress");
        e.finish(EscrowState::Completed, 1_000);
        e.challenge_until = 2_000;
        e.check_challengeable(1_999).unwrap();
        assert!(e.check_challengeable(2_000).is_err());
        assert!(e.check_releasable(1_999).is_err());
        e.check_releasable(2_000).unwrap();
        assert!(e.check_closable(i64::MAX, 0).is_err(), "stake not released");
        e.stake_released = true;
        assert!(e.check_releasable(2_000).is_err(), "released twice");
        assert!(e.check_challengeable(1_500).is_err(), "released");
        assert!(e.check_closable(1_099, 100).is_err());
        e.check_closable(1_100, 100).unwrap();
        assert!(e.check_closable(i64::MAX, i64::MAX).is_err(), "overflow");
    }

    #[test]
    fn training_time_must_be_half_to_twice_the_estimate_with_the_margin() {
        let mut e = escrow(100, 1, 1);
        e.accepted_at = 10_000;
        e.estimated_secs = 1_001;
        // Without margin: 2·T ≥ 1,001 means T ≥ 501 (500.5 rounded up); T ≤ 2,002.
        assert!(e.check_duration(10_500, 0).is_err());
        e.check_duration(10_501, 0).unwrap();
        e.check_duration(12_002, 0).unwrap();
        assert!(e.check_duration(12_003, 0).is_err());
        // The margin widens both ends.
        e.check_duration(10_441, 60).unwrap();
        assert!(e.check_duration(10_440, 60).is_err());
        e.check_duration(12_062, 60).unwrap();
        assert!(e.check_duration(12_063, 60).is_err());
        // Before acceptance (a clock going backwards) is too fast; overflow is an error.
        assert!(e.check_duration(9_000, 0).is_err());
        assert!(e.check_duration(i64::MIN, 0).is_err());
    }

    #[test]
    fn users_may_assign_only_unassigned_escrows_after_the_window() {
        let mut e = escrow(100, 1, 0);
        e.state = EscrowState::Locked;
        e.created_at = 1_000;
        assert!(e.check_user_may_assign(1_899, 900).is_err());
        e.check_user_may_assign(1_900, 900).unwrap();
        assert!(e.check_user_may_assign(i64::MAX, i64::MAX).is_err());
        for state in [
            EscrowState::Assigned,
            EscrowState::InProgress,
            EscrowState::Disputed,
            EscrowState::Completed,
            EscrowState::Cancelled,
        ] {
            e.state = state;
            assert!(e.check_user_may_assign(1_900, 900).is_err(), "{state:?}");
        }
        e.state = EscrowState::Locked;
        let node = Pubkey::new_unique();
        e.assign(node, 1_900, true);
        assert_eq!(
            (e.state, e.node, e.assigned_at, e.assigned_by_user),
            (EscrowState::Assigned, node, 1_900, true)
        );
    }

    #[test]
    fn progress_refunds_follow_the_spec_table() {
        assert_eq!(
            escrow(100, 10, 0).settle_by_progress().unwrap(),
            Settlement {
                to_user: 100,
                to_node: 0,
                fee: 0
            }
        );
        assert_eq!(
            escrow(100, 10, 5).settle_by_progress().unwrap(),
            Settlement {
                to_user: 50,
                to_node: 50,
                fee: 0
            }
        );
        assert_eq!(
            escrow(100, 10, 10).settle_by_progress().unwrap(),
            Settlement {
                to_user: 0,
                to_node: 100,
                fee: 0
            }
        );
        // Rounding favours the user; nothing is lost.
        let s = escrow(101, 3, 1).settle_by_progress().unwrap();
        assert_eq!(s.to_user + s.to_node, 101);
        assert_eq!(s.to_node, 33);
    }

    #[test]
    fn completion_pays_ninety_ten_and_diamond_ninety_two_eight() {
        assert_eq!(
            escrow(100, 1, 1).settle_completed(1_000).unwrap(),
            Settlement {
                to_user: 0,
                to_node: 90,
                fee: 10
            }
        );
        assert_eq!(
            escrow(100, 1, 1).settle_completed(800).unwrap(),
            Settlement {
                to_user: 0,
                to_node: 92,
                fee: 8
            }
        );
        let s = escrow(u64::MAX, 1, 1).settle_completed(1_000).unwrap();
        assert_eq!(s.to_node as u128 + s.fee as u128, u64::MAX as u128);
    }

    #[test]
    fn cancellation_keeps_the_fee() {
        assert_eq!(
            escrow(100, 1, 0).settle_cancelled(1_000).unwrap(),
            Settlement {
                to_user: 90,
                to_node: 0,
                fee: 10
            }
        );
    }
}
