//! Defaults of the reputation parameters, from the spec's "Node Reputation System".
//! All of them live in `ReputationConfig::params` and are changeable by admin/governance.

use cyxwiz_common::units::{DAY, ONE_CYXWIZ};

use crate::state::{Points, ReputationParams};

/// Most updates one `batch_update` may carry, whatever the params say: bounds the
/// instruction's compute and heap use.
pub const MAX_BATCH_UPDATES: u16 = 256;
/// Batch ids remembered for replay protection (a sliding window of this many ids).
pub const BATCH_WINDOW: u64 = 256;
/// Highest score.
pub const MAX_SCORE: u16 = 1_000;
/// A user's standing starts here and only dispute losses lower it.
pub const USER_START_SCORE: u16 = 1_000;

pub fn default_params() -> ReputationParams {
    ReputationParams {
        // Bronze 0–299, Silver 300–599, Gold 600–799, Diamond 800–1000.
        tier_min_score: [0, 300, 600, 800],
        // "< 10", "< 50", "< 200" tokens, any size.
        tier_max_job_amount: [
            10 * ONE_CYXWIZ - 1,
            50 * ONE_CYXWIZ - 1,
            200 * ONE_CYXWIZ - 1,
            u64::MAX,
        ],
        points: Points {
            job_completed: 10,
            five_star: 5,
            uptime_bonus: 20,
            dispute_won: 5,
            job_failed: 50,
            job_timed_out: 30,
            invalid_proof: 100,
            dispute_lost: 200,
            user_dispute_lost: 10,
        },
        uptime_bonus_period_secs: 30 * DAY,
        uptime_min_bps: 9_500,
        max_batch_updates: 128,
    }
}
