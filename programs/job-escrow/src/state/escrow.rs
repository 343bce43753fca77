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
        }
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
