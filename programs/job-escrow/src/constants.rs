//! Defaults of JobEscrow's parameters (spec: "Payment Flow Integration", "Token Economics",
//! "Security Model"). Stored in `EscrowConfig::params`, changeable by admin/governance.

use cyxwiz_common::units::DAY;

use crate::state::{EscrowParams, FeeSplit};

/// Upper bound on epochs a job may require: the largest proof-of-compute circuit's
/// capacity (`verifier::MAX_PROVABLE_EPOCHS`), since a job needing more could never be
/// proven and paid.
pub const MAX_EPOCHS: u32 = 1_024;

pub fn default_params() -> EscrowParams {
    EscrowParams {
        fee_bps: 1_000,
        diamond_fee_bps: 800,
        cancel_fee_bps: 1_000,
        default_timeout_secs: 7 * DAY,
        min_timeout_secs: 3_600,
        max_timeout_secs: 30 * DAY,
        close_grace_secs: 7 * DAY,
        // Platform fee: 40 % staking rewards, 30 % development, 20 % liquidity, 10 % burned.
        fee_split: FeeSplit {
            staking_bps: 4_000,
            development_bps: 3_000,
            liquidity_bps: 2_000,
            burn_bps: 1_000,
        },
        user_assign_after_secs: 15 * 60,
        duration_margin_secs: 5 * 60,
        challenge_window_secs: 7 * DAY,
    }
}
