//! JobEscrow's configuration: authorities, mint, treasury accounts and parameters.

use anchor_lang::prelude::*;
use cyxwiz_common::bps::{self, MAX_BPS};

use crate::error::EscrowError;

/// How the platform fee is divided (spec "Token Flow": 40/30/20/10). Sums to 100 %.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct FeeSplit {
    pub staking_bps: u16,
    pub development_bps: u16,
    pub liquidity_bps: u16,
    pub burn_bps: u16,
}

/// Token amounts of one fee, after splitting. The burn share absorbs rounding dust so the
/// parts always sum to the fee exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeeParts {
    pub staking: u64,
    pub development: u64,
    pub liquidity: u64,
    pub burn: u64,
}

impl FeeSplit {
    pub fn is_valid(&self) -> bool {
        u32::from(self.staking_bps)
            + u32::from(self.development_bps)
            + u32::from(self.liquidity_bps)
            + u32::from(self.burn_bps)
            == u32::from(MAX_BPS)
    }

    pub fn split(&self, fee: u64) -> Result<FeeParts> {
        let staking = bps::share(fee, self.staking_bps).ok_or(EscrowError::InvalidParams)?;
        let development =
            bps::share(fee, self.development_bps).ok_or(EscrowError::InvalidParams)?;
        let liquidity = bps::share(fee, self.liquidity_bps).ok_or(EscrowError::InvalidParams)?;
        let burn = fee
            .checked_sub(staking)
            .and_then(|r| r.checked_sub(development))
            .and_then(|r| r.checked_sub(liquidity))
            .ok_or(EscrowError::Overflow)?;
        Ok(FeeParts {
            staking,
            development,
            liquidity,
            burn,
        })
    }
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct EscrowParams {
    /// Platform fee on completed jobs (10 %).
    pub fee_bps: u16,
    /// Platform fee when the node is Diamond tier (8 %); applied once ReputationManager
    /// supplies tiers.
    pub diamond_fee_bps: u16,
    /// Kept from the user's refund when they cancel before acceptance (10 %).
    pub cancel_fee_bps: u16,
    /// Timeout used when `create_escrow` passes 0 (7 days).
    pub default_timeout_secs: i64,
    pub min_timeout_secs: i64,
    pub max_timeout_secs: i64,
    /// A finished escrow stays readable this long (for ratings and disputes) before anyone
    /// may close it and return its rent.
    pub close_grace_secs: i64,
    pub fee_split: FeeSplit,
    /// How long after creation an escrow the coordinator has not assigned may be assigned
    /// by its user instead (`assign_node_by_user`), with the same checks on the node (15 min).
    pub user_assign_after_secs: i64,
    /// Slack on both ends of the training-time bound `complete_payment` enforces (0.5×–2×
    /// the escrow's estimate, from acceptance to completion): clock drift of the cluster
    /// and transaction landing times (5 min; see docs/decisions.md).
    pub duration_margin_secs: i64,
    /// After a verified completion the node's stake stays locked this long (the job counts
    /// as active in NodeRegistry) and the user may open a dispute on the paid job (7 days).
    pub challenge_window_secs: i64,
}

impl EscrowParams {
    pub fn validate(&self) -> Result<()> {
        let ok = self.fee_bps <= MAX_BPS
            && self.diamond_fee_bps <= self.fee_bps
            && self.cancel_fee_bps <= MAX_BPS
            && self.min_timeout_secs > 0
            && self.min_timeout_secs <= self.default_timeout_secs
            && self.default_timeout_secs <= self.max_timeout_secs
            && self.close_grace_secs >= 0
            && self.fee_split.is_valid()
            && self.user_assign_after_secs > 0
            && self.user_assign_after_secs <= self.max_timeout_secs
            && (0..=self.max_timeout_secs).contains(&self.duration_margin_secs)
            && (1..=self.max_timeout_secs).contains(&self.challenge_window_secs);
        require!(ok, EscrowError::InvalidParams);
        Ok(())
    }

    /// The timeout for a new escrow: `requested` seconds, or the default when 0.
    pub fn timeout_for(&self, requested: i64) -> Result<i64> {
        if requested == 0 {
            return Ok(self.default_timeout_secs);
        }
        require!(
            (self.min_timeout_secs..=self.max_timeout_secs).contains(&requested),
            EscrowError::InvalidTimeout
        );
        Ok(requested)
    }

    /// Checks a new escrow's training-time estimate against its timeout: at least a
    /// second, and no longer than the timeout (half of it must fit before the escrow
    /// times out, or no completion could ever land).
    pub fn check_estimate(&self, estimated_secs: u32, timeout_secs: i64) -> Result<()> {
        require!(
            estimated_secs > 0 && i64::from(estimated_secs) <= timeout_secs,
            EscrowError::InvalidEstimate
        );
        Ok(())
    }
}

/// Whether three treasury accounts are distinct. They must be: every fee payment passes
/// all three as writable accounts, and Anchor rejects an instruction naming one writable
/// account twice (`ConstraintDuplicateMutableAccount`), so a shared account would block
/// every completion and every cancellation before assignment.
pub fn distinct_treasuries(staking: &Pubkey, development: &Pubkey, liquidity: &Pubkey) -> bool {
    staking != development && staking != liquidity && development != liquidity
}

#[account]
#[derive(InitSpace, Debug)]
pub struct EscrowConfig {
    pub admin: Pubkey,
    /// Dispute/DAO's governance PDA (derived from its program id).
    pub governance: Pubkey,
    /// Dispute/DAO's verdict PDA (derived from its program id).
    pub dispute_authority: Pubkey,
    /// The coordinator's key: may assign nodes, never move funds.
    pub coordinator: Pubkey,
    pub mint: Pubkey,
    pub staking_treasury: Pubkey,
    pub development_treasury: Pubkey,
    pub liquidity_treasury: Pubkey,
    pub params: EscrowParams,
    pub paused: bool,
    pub bump: u8,
    /// Bump of the `escrow-authority` PDA that signs CPIs into NodeRegistry.
    pub authority_bump: u8,
}

impl EscrowConfig {
    pub fn is_admin_or_governance(&self, key: &Pubkey) -> bool {
        *key == self.admin || *key == self.governance
    }
}

#[cfg(test)]
mod tests {
    use crate::constants::default_params;

    #[test]
    fn fee_split_sums_exactly_with_dust_to_burn() {
        let p = default_params();
        for fee in [0u64, 1, 9, 10, 99, 1_000_000_007, u64::MAX] {
            let f = p.fee_split.split(fee).unwrap();
            assert_eq!(
                f.staking as u128 + f.development as u128 + f.liquidity as u128 + f.burn as u128,
                fee as u128
            );
        }
        let f = p.fee_split.split(10_000_000_000).unwrap();
        assert_eq!(
            (f.staking, f.development, f.liquidity, f.burn),
            (4_000_000_000, 3_000_000_000, 2_000_000_000, 1_000_000_000)
        );
    }

    #[test]
    fn params_reject_bad_windows_and_splits() {
        let mut p = default_params();
        p.validate().unwrap();
        p.fee_split.burn_bps += 1;
        assert!(p.validate().is_err());
        let mut p = default_params();
        p.min_timeout_secs = p.default_timeout_secs + 1;
        assert!(p.validate().is_err());
        let mut p = default_params();
        p.user_assign_after_secs = 0;
        assert!(p.validate().is_err());
        p.user_assign_after_secs = p.max_timeout_secs + 1;
        assert!(p.validate().is_err());
        let mut p = default_params();
        p.duration_margin_secs = -1;
        assert!(p.validate().is_err());
        p.duration_margin_secs = 0;
        p.validate().unwrap();
        p.challenge_window_secs = 0;
        assert!(p.validate().is_err());
        p.challenge_window_secs = p.max_timeout_secs + 1;
        assert!(p.validate().is_err());
        let p = default_params();
        assert_eq!(p.timeout_for(0).unwrap(), p.default_timeout_secs);
        assert!(p.timeout_for(1).is_err());
        assert!(p.timeout_for(p.max_timeout_secs + 1).is_err());
    }
}
