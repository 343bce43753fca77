//! Defaults of the registry's parameters, from the spec's "Stake-Based Security" table.
//! All of them are stored in `RegistryConfig::params` and changeable by admin/governance.

use cyxwiz_common::units::{DAY, ONE_CYXWIZ};

use crate::state::{RegistryParams, StakeTier};

/// Most failures remembered per node for the repeated-failure rule.
pub const MAX_FAILURE_WINDOW: usize = 8;

/// The spec's defaults: stake tiers by job size (inclusive upper bounds: a job of exactly
/// 10 CYXWIZ is a "10–50" job), 30-day lock, +7 days per job, 14-day cooldown, slashing
/// rates, 80 % of slashes to insurance.
pub fn default_params() -> RegistryParams {
    RegistryParams {
        stake_tiers: [
            StakeTier {
                max_job_amount: 10 * ONE_CYXWIZ - 1,
                min_stake: 50 * ONE_CYXWIZ,
                failure_slash_bps: 1_000,
            },
            StakeTier {
                max_job_amount: 50 * ONE_CYXWIZ,
                min_stake: 200 * ONE_CYXWIZ,
                failure_slash_bps: 1_500,
            },
            StakeTier {
                max_job_amount: 200 * ONE_CYXWIZ,
                min_stake: 1_000 * ONE_CYXWIZ,
                failure_slash_bps: 2_000,
            },
            StakeTier {
                max_job_amount: u64::MAX,
                min_stake: 5_000 * ONE_CYXWIZ,
                failure_slash_bps: 2_500,
            },
        ],
        min_lock_secs: 30 * DAY,
        lock_per_job_secs: 7 * DAY,
        unstake_cooldown_secs: 14 * DAY,
        heartbeat_max_age_secs: DAY,
        invalid_proof_slash_bps: 2_500,
        fraud_slash_bps: 5_000,
        repeated_failure_slash_bps: 3_000,
        repeated_failure_count: 3,
        repeated_failure_window_secs: 7 * DAY,
        suspension_secs: 30 * DAY,
        insurance_bps: 8_000,
    }
}
