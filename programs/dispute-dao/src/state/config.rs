//! The DAO's configuration: mint, vaults, parameters and counters.

use anchor_lang::prelude::*;
use cyxwiz_common::bps::{self, MAX_BPS};

use crate::{constants::MAX_WINDOW_SECS, error::DaoError};

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct DaoParams {
    /// Both parties attach evidence hashes during this window (48 h).
    pub evidence_secs: i64,
    /// Token holders vote after the evidence window, for this long (7 days).
    pub voting_secs: i64,
    /// The loser may appeal this long after the tally (7 days).
    pub appeal_window_secs: i64,
    /// Votes needed for a verdict, in bps of the supply at opening (5 %).
    pub dispute_quorum_bps: u16,
    /// Quorum of an appeal's re-vote (twice the first: 10 %).
    pub appeal_quorum_bps: u16,
    /// Deposit an appellant locks, returned if the appeal overturns the verdict (100).
    pub appeal_deposit: u64,
    /// Paid from the treasury per vote on the final winning side (0.1).
    pub voter_reward: u64,
    /// Smallest vote weight that earns a reward (anti-Sybil: splitting a deposit over many
    /// wallets must not multiply rewards).
    pub reward_min_weight: u64,
    /// Share of a losing node's slashed stake paid to the user; the rest to the treasury.
    pub slash_to_user_bps: u16,
    /// Deposit needed to propose, in bps of the supply (1 %).
    pub proposal_threshold_bps: u16,
    /// Votes a proposal needs, in bps of the supply (5 %).
    pub proposal_quorum_bps: u16,
    pub proposal_voting_secs: i64,
    /// Delay between a proposal passing and its execution (2 days).
    pub timelock_secs: i64,
    /// After the timelock, a passed proposal may be executed for this long.
    pub execution_window_secs: i64,
}

impl DaoParams {
    pub fn validate(&self) -> Result<()> {
        let windows_ok = [
            self.evidence_secs,
            self.voting_secs,
            self.appeal_window_secs,
            self.proposal_voting_secs,
            self.timelock_secs,
            self.execution_window_secs,
        ]
        .iter()
        .all(|w| *w > 0 && *w <= MAX_WINDOW_SECS);
        let bps_ok = [
            self.dispute_quorum_bps,
            self.appeal_quorum_bps,
            self.slash_to_user_bps,
            self.proposal_threshold_bps,
            self.proposal_quorum_bps,
        ]
        .iter()
        .all(|b| *b <= MAX_BPS);
        let ok = windows_ok
            && bps_ok
            && self.dispute_quorum_bps > 0
            && self.appeal_quorum_bps >= self.dispute_quorum_bps
            && self.proposal_quorum_bps > 0
            && self.proposal_threshold_bps > 0;
        require!(ok, DaoError::InvalidParams);
        Ok(())
    }

    /// Evidence and voting windows of a dispute round opened at `now`:
    /// `(evidence_end, voting_end)`.
    pub fn dispute_windows(&self, now: i64) -> Result<(i64, i64)> {
        let evidence_end = now
            .checked_add(self.evidence_secs)
            .ok_or(DaoError::Overflow)?;
        let voting_end = evidence_end
            .checked_add(self.voting_secs)
            .ok_or(DaoError::Overflow)?;
        Ok((evidence_end, voting_end))
    }

    /// `bps` of `supply`, at least 1 so a quorum can never be met by no votes.
    pub fn of_supply(supply: u64, bps_value: u16) -> Result<u64> {
        Ok(bps::share(supply, bps_value)
            .ok_or(DaoError::InvalidParams)?
            .max(1))
    }
}

#[account]
#[derive(InitSpace, Debug)]
pub struct DaoConfig {
    pub admin: Pubkey,
    pub mint: Pubkey,
    /// Holds every voter's deposit; owned by this config PDA.
    pub deposit_vault: Pubkey,
    /// The DAO treasury: voter rewards out, slashed shares and forfeited appeals in.
    pub treasury: Pubkey,
    /// Appeal deposits until the appeal is decided.
    pub appeal_vault: Pubkey,
    pub params: DaoParams,
    pub total_deposited: u64,
    pub proposal_count: u64,
    pub dispute_count: u64,
    pub bump: u8,
    pub dispute_authority_bump: u8,
    pub governance_bump: u8,
}

impl DaoConfig {
    /// The governance PDA is rebuilt from the stored bump (one hash) instead of searched
    /// for (`find_program_address`) on every admin call.
    pub fn is_admin_or_governance(&self, key: &Pubkey) -> bool {
        *key == self.admin
            || Pubkey::create_program_address(
                &[
                    cyxwiz_common::seeds::GOVERNANCE_AUTHORITY,
                    &[self.governance_bump],
                ],
                &crate::ID,
            )
            .is_ok_and(|governance| *key == governance)
    }
}
