//! The registry's configuration: authorities, stake mint and vaults, and parameters.

use anchor_lang::prelude::*;
use cyxwiz_common::bps::MAX_BPS;

use crate::{constants::MAX_FAILURE_WINDOW, error::RegistryError};

/// One row of the spec's stake table: jobs paying up to `max_job_amount` (inclusive)
/// need a node staking at least `min_stake`, and a failure on such a job slashes
/// `failure_slash_bps` of the node's stake.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct StakeTier {
    pub max_job_amount: u64,
    pub min_stake: u64,
    pub failure_slash_bps: u16,
}

/// Tunable parameters (defaults in [`crate::constants::default_params`]).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct RegistryParams {
    /// Ascending by `max_job_amount` and `min_stake`; the last tier covers `u64::MAX`.
    pub stake_tiers: [StakeTier; 4],
    pub min_lock_secs: i64,
    pub lock_per_job_secs: i64,
    pub unstake_cooldown_secs: i64,
    /// A node whose last on-chain heartbeat is older than this cannot be assigned jobs.
    pub heartbeat_max_age_secs: i64,
    pub invalid_proof_slash_bps: u16,
    pub fraud_slash_bps: u16,
    pub repeated_failure_slash_bps: u16,
    /// Failures within the window that trigger the repeated-failure slash (≤ 8).
    pub repeated_failure_count: u8,
    pub repeated_failure_window_secs: i64,
    pub suspension_secs: i64,
    /// Share of every slash sent to the insurance pool; the rest is burned.
    pub insurance_bps: u16,
}

impl RegistryParams {
    /// Rejects parameters that would break the registry's invariants.
    pub fn validate(&self) -> Result<()> {
        let bps_ok = [
            self.invalid_proof_slash_bps,
            self.fraud_slash_bps,
            self.repeated_failure_slash_bps,
            self.insurance_bps,
        ]
        .iter()
        .chain(self.stake_tiers.iter().map(|t| &t.failure_slash_bps))
        .all(|b| *b <= MAX_BPS);
        let windows_ok = [
            self.min_lock_secs,
            self.lock_per_job_secs,
            self.unstake_cooldown_secs,
            self.heartbeat_max_age_secs,
            self.repeated_failure_window_secs,
            self.suspension_secs,
        ]
        .iter()
        .all(|w| *w > 0);
        let tiers_ok =
            self.stake_tiers.windows(2).all(|w| {
                w[0].max_job_amount < w[1].max_job_amount && w[0].min_stake <= w[1].min_stake
            }) && self.stake_tiers[0].min_stake > 0
                && self.stake_tiers[3].max_job_amount == u64::MAX;
        let count_ok = self.repeated_failure_count >= 1
            && usize::from(self.repeated_failure_count) <= MAX_FAILURE_WINDOW;
        require!(
            bps_ok && windows_ok && tiers_ok && count_ok,
            RegistryError::InvalidParams
        );
        Ok(())
    }

    /// The stake tier a job paying `job_amount` falls into.
    pub fn tier_for(&self, job_amount: u64) -> &StakeTier {
        self.stake_tiers
            .iter()
            .find(|t| job_amount <= t.max_job_amount)
            .unwrap_or(&self.stake_tiers[3])
    }

    /// The smallest stake any node must hold to register.
    pub fn min_registration_stake(&self) -> u64 {
        self.stake_tiers[0].min_stake
    }
}

#[account]
#[derive(InitSpace, Debug)]
pub struct RegistryConfig {
    /// Emergency and maintenance authority (a multisig in production).
    pub admin: Pubkey,
    /// Dispute/DAO's governance PDA, derived from its program id at initialisation.
    pub governance: Pubkey,
    /// JobEscrow's CPI PDA, derived from its program id at initialisation.
    pub escrow_authority: Pubkey,
    /// Dispute/DAO's verdict PDA, derived from its program id at initialisation.
    pub dispute_authority: Pubkey,
    pub stake_mint: Pubkey,
    pub stake_vault: Pubkey,
    pub insurance_vault: Pubkey,
    pub params: RegistryParams,
    /// Sum of all nodes' stakes; always equals the vault balance.
    pub total_staked: u64,
    pub node_count: u64,
    pub paused: bool,
    pub bump: u8,
    pub vault_bump: u8,
}

impl RegistryConfig {
    pub fn is_admin_or_governance(&self, key: &Pubkey) -> bool {
        *key == self.admin || *key == self.governance
    }
}
