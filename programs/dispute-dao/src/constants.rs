//! Defaults of the DAO parameters (spec: "Dispute Resolution Process" and Phase 4 "DAO
//! Governance"). All live in `DaoConfig::params` and change only by admin or proposal.

use cyxwiz_common::units::{DAY, ONE_CYXWIZ};

use crate::state::DaoParams;

/// Evidence hashes kept per party per dispute.
pub const MAX_EVIDENCE: usize = 8;
/// Longest window any parameter may set (a year): bounds lock-ups of deposits.
pub const MAX_WINDOW_SECS: i64 = 365 * DAY;

pub fn default_params() -> DaoParams {
    DaoParams {
        evidence_secs: 2 * DAY,
        voting_secs: 7 * DAY,
        appeal_window_secs: 7 * DAY,
        dispute_quorum_bps: 500,
        appeal_quorum_bps: 1_000,
        appeal_deposit: 100 * ONE_CYXWIZ,
        voter_reward: ONE_CYXWIZ / 10,
        reward_min_weight: 100 * ONE_CYXWIZ,
        slash_to_user_bps: 5_000,
        proposal_threshold_bps: 100,
        proposal_quorum_bps: 500,
        proposal_voting_secs: 7 * DAY,
        timelock_secs: 2 * DAY,
        execution_window_secs: 14 * DAY,
    }
}
