//! Per-node reputation (the spec's five weighted components plus earned points) and
//! per-user dispute standing.
//!
//! The spec gives both a formula (completion 40 %, time accuracy 25 %, ratings 20 %, proof
//! validity 10 %, uptime 5 %) and point penalties/recoveries. Both are kept: `points` is
//! trust earned over time (starts at 0, +10 per job, −50 per failure, …) and `quality()` is
//! the formula over the node's record; the score is the lower of the two. A new node cannot
//! jump to Diamond on one perfect job, and a node with a long history but poor quality is
//! capped by the formula. See docs/decisions.md.

use anchor_lang::prelude::*;
use cyxwiz_common::bps::MAX_BPS;

use crate::{
    constants::{MAX_SCORE, USER_START_SCORE},
    error::ReputationError,
    state::{ReputationParams, Tier},
};

/// What the coordinator reports for one node in a batch.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum UpdateKind {
    /// A job was paid after a valid proof; times in seconds.
    Completed {
        actual_secs: u32,
        estimated_secs: u32,
    },
    /// The node failed or abandoned a job.
    Failed,
    /// The job timed out on the node.
    TimedOut,
    /// The node's proof of compute was rejected.
    InvalidProof,
    /// Heartbeats seen and expected over a reporting period.
    Uptime { received: u32, expected: u32 },
}

/// One entry of a batch: `node_index` points into the instruction's remaining accounts,
/// so several updates for one node share one account slot.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReputationUpdate {
    pub node_index: u8,
    pub kind: UpdateKind,
}

/// A dispute verdict as it affects reputation.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum VerdictEffect {
    /// The node lost: −200 to the node.
    NodeLost,
    /// The node won: +5 to the node, −10 to the user (frivolous dispute).
    NodeWon,
}

#[account]
#[derive(InitSpace, Debug)]
pub struct NodeReputation {
    /// The node operator's wallet (NodeRegistry's node owner).
    pub owner: Pubkey,
    /// `min(points, quality)`, 0–1000.
    pub score: u16,
    /// Earned trust, 0–1000.
    pub points: u16,
    pub tier: Tier,
    pub jobs_completed: u32,
    pub jobs_failed: u32,
    pub jobs_timed_out: u32,
    /// Jobs whose proof was rejected (they also count as assigned).
    pub jobs_invalid_proof: u32,
    /// Sum over completed jobs of `1 − |actual − estimated| / estimated`, in bps.
    pub time_accuracy_sum_bps: u64,
    pub time_samples: u32,
    pub rating_sum: u64,
    pub rating_count: u32,
    pub five_star_count: u32,
    pub valid_proofs: u32,
    pub total_proofs: u32,
    pub heartbeats_received: u64,
    pub heartbeats_expected: u64,
    /// Start of the current streak of good uptime reports (0: no streak).
    pub uptime_streak_start: i64,
    pub disputes_won: u32,
    pub disputes_lost: u32,
    pub created_at: i64,
    pub updated_at: i64,
    pub bump: u8,
}

impl NodeReputation {
    pub fn new(owner: Pubkey, now: i64, bump: u8) -> Self {
        Self {
            owner,
            score: 0,
            points: 0,
            tier: Tier::Bronze,
            jobs_completed: 0,
            jobs_failed: 0,
            jobs_timed_out: 0,
            jobs_invalid_proof: 0,
            time_accuracy_sum_bps: 0,
            time_samples: 0,
            rating_sum: 0,
            rating_count: 0,
            five_star_count: 0,
            valid_proofs: 0,
            total_proofs: 0,
            heartbeats_received: 0,
            heartbeats_expected: 0,
            uptime_streak_start: 0,
            disputes_won: 0,
            disputes_lost: 0,
            created_at: now,
            updated_at: now,
            bump,
        }
    }

    pub fn jobs_assigned(&self) -> u64 {
        u64::from(self.jobs_completed)
            + u64::from(self.jobs_failed)
            + u64::from(self.jobs_timed_out)
            + u64::from(self.jobs_invalid_proof)
    }

    /// Completion rate in bps (the seed's `completion_rate` field).
    pub fn completion_rate_bps(&self) -> u16 {
        ratio_bps(u64::from(self.jobs_completed), self.jobs_assigned())
    }

    /// The spec's formula over the node's record, 0–1000. Components with no data yet
    /// score 0 (trust must be earned), except ratings: users often do not rate, so an
    /// unrated node gets the neutral 3 stars (120) rather than a penalty.
    pub fn quality(&self) -> u16 {
        let completion = u64::from(self.completion_rate_bps()) * 400 / u64::from(MAX_BPS);
        let time = if self.time_samples == 0 {
            0
        } else {
            self.time_accuracy_sum_bps / u64::from(self.time_samples) * 250 / u64::from(MAX_BPS)
        };
        let ratings = if self.rating_count == 0 {
            120
        } else {
            self.rating_sum * 200 / (5 * u64::from(self.rating_count))
        };
        let proofs = u64::from(ratio_bps(
            u64::from(self.valid_proofs),
            u64::from(self.total_proofs),
        )) * 100
            / u64::from(MAX_BPS);
        let uptime = u64::from(ratio_bps(
            self.heartbeats_received,
            self.heartbeats_expected,
        )) * 50
            / u64::from(MAX_BPS);
        let total = completion + time.min(250) + ratings.min(200) + proofs + uptime;
        total.min(u64::from(MAX_SCORE)) as u16
    }

    /// Recomputes score and tier; returns the previous tier.
    pub fn refresh(&mut self, params: &ReputationParams, now: i64) -> Tier {
        let before = self.tier;
        self.score = self.points.min(self.quality());
        self.tier = params.tier_for(self.score);
        self.updated_at = now;
        before
    }

    fn add_points(&mut self, v: u16) {
        self.points = self.points.saturating_add(v).min(MAX_SCORE);
    }

    fn sub_points(&mut self, v: u16) {
        self.points = self.points.saturating_sub(v);
    }

    /// Applies one batch entry. Counters saturate rather than fail: a node's record must
    /// never block a whole batch.
    pub fn apply(&mut self, kind: UpdateKind, params: &ReputationParams, now: i64) -> Result<()> {
        let p = &params.points;
        match kind {
            UpdateKind::Completed {
                actual_secs,
                estimated_secs,
            } => {
                require!(estimated_secs > 0, ReputationError::InvalidUpdate);
                let deviation = u64::from(actual_secs.abs_diff(estimated_secs));
                let off_bps =
                    deviation.saturating_mul(u64::from(MAX_BPS)) / u64::from(estimated_secs);
                let accuracy = u64::from(MAX_BPS).saturating_sub(off_bps);
                self.time_accuracy_sum_bps = self.time_accuracy_sum_bps.saturating_add(accuracy);
                self.time_samples = self.time_samples.saturating_add(1);
                self.jobs_completed = self.jobs_completed.saturating_add(1);
                self.valid_proofs = self.valid_proofs.saturating_add(1);
                self.total_proofs = self.total_proofs.saturating_add(1);
                self.add_points(p.job_completed);
            }
            UpdateKind::Failed => {
                self.jobs_failed = self.jobs_failed.saturating_add(1);
                self.sub_points(p.job_failed);
            }
            UpdateKind::TimedOut => {
                self.jobs_timed_out = self.jobs_timed_out.saturating_add(1);
                self.sub_points(p.job_timed_out);
            }
            UpdateKind::InvalidProof => {
                self.jobs_invalid_proof = self.jobs_invalid_proof.saturating_add(1);
                self.total_proofs = self.total_proofs.saturating_add(1);
                self.sub_points(p.invalid_proof);
            }
            UpdateKind::Uptime { received, expected } => {
                require!(
                    expected > 0 && received <= expected,
                    ReputationError::InvalidUpdate
                );
                self.heartbeats_received =
                    self.heartbeats_received.saturating_add(u64::from(received));
                self.heartbeats_expected =
                    self.heartbeats_expected.saturating_add(u64::from(expected));
                let good = u64::from(ratio_bps(u64::from(received), u64::from(expected)))
                    >= u64::from(params.uptime_min_bps);
                if !good {
                    self.uptime_streak_start = 0;
                } else if self.uptime_streak_start == 0 {
                    self.uptime_streak_start = now;
                } else if now.saturating_sub(self.uptime_streak_start)
                    >= params.uptime_bonus_period_secs
                {
                    self.add_points(p.uptime_bonus);
                    self.uptime_streak_start = now;
                }
            }
        }
        Ok(())
    }

    /// A user's 1–5 star rating of a completed job.
    pub fn rate(&mut self, stars: u8, params: &ReputationParams) -> Result<()> {
        require!((1..=5).contains(&stars), ReputationError::InvalidRating);
        self.rating_sum = self.rating_sum.saturating_add(u64::from(stars));
        self.rating_count = self.rating_count.saturating_add(1);
        if stars == 5 {
            self.five_star_count = self.five_star_count.saturating_add(1);
            self.add_points(params.points.five_star);
        }
        Ok(())
    }

    pub fn apply_verdict(&mut self, effect: VerdictEffect, params: &ReputationParams) {
        match effect {
            VerdictEffect::NodeLost => {
                self.disputes_lost = self.disputes_lost.saturating_add(1);
                self.sub_points(params.points.dispute_lost);
            }
            VerdictEffect::NodeWon => {
                self.disputes_won = self.disputes_won.saturating_add(1);
                self.add_points(params.points.dispute_won);
            }
        }
    }
}

/// A job submitter's standing: starts at 1000, lowered by disputes they lose.
#[account]
#[derive(InitSpace, Debug)]
pub struct UserReputation {
    pub wallet: Pubkey,
    pub score: u16,
    pub disputes_won: u32,
    pub disputes_lost: u32,
    pub bump: u8,
}

impl UserReputation {
    pub fn new(wallet: Pubkey, bump: u8) -> Self {
        Self {
            wallet,
            score: USER_START_SCORE,
            disputes_won: 0,
            disputes_lost: 0,
            bump,
        }
    }
}

/// `num / den` in bps, 0 when `den == 0`, at most 100 %.
fn ratio_bps(num: u64, den: u64) -> u16 {
    if den == 0 {
        return 0;
    }
    ((u128::from(num.min(den)) * u128::from(MAX_BPS)) / u128::from(den)) as u16
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::default_params;

    fn done(actual: u32, est: u32) -> UpdateKind {
        UpdateKind::Completed {
            actual_secs: actual,
            estimated_secs: est,
        }
    }

    #[test]
    fn formula_matches_the_spec_examples() {
        let p = default_params();
        let mut r = NodeReputation::new(Pubkey::new_unique(), 0, 255);
        // 95 of 100 jobs completed, each 10 % off the estimate.
        for _ in 0..95 {
            r.apply(done(110, 100), &p, 0).unwrap();
        }
        for _ in 0..5 {
            r.apply(UpdateKind::Failed, &p, 0).unwrap();
        }
        // 4.5 stars on average.
        for _ in 0..10 {
            r.rate(4, &p).unwrap();
            r.rate(5, &p).unwrap();
        }
        // 98 % uptime.
        r.apply(
            UpdateKind::Uptime {
                received: 98,
                expected: 100,
            },
            &p,
            0,
        )
        .unwrap();
        // 380 + 225 + 180 + 100 (all proofs valid) + 49.
        assert_eq!(r.quality(), 380 + 225 + 180 + 100 + 49);
    }

    #[test]
    fn score_is_earned_points_capped_by_quality() {
        let p = default_params();
        let mut r = NodeReputation::new(Pubkey::new_unique(), 0, 255);
        assert_eq!(r.refresh(&p, 0), Tier::Bronze);
        assert_eq!(r.score, 0);
        r.apply(done(100, 100), &p, 0).unwrap();
        r.refresh(&p, 0);
        // One perfect job: quality 400+250+120+100 = 870, but only 10 points earned.
        assert_eq!(r.quality(), 870);
        assert_eq!(r.score, 10);
        for _ in 0..99 {
            r.apply(done(100, 100), &p, 0).unwrap();
        }
        r.refresh(&p, 0);
        assert_eq!(r.points, 1_000);
        assert_eq!(r.score, 870);
        assert_eq!(r.tier, Tier::Diamond);
        // Penalties hit points at once; the formula follows the counters.
        r.apply(UpdateKind::InvalidProof, &p, 0).unwrap();
        r.apply(UpdateKind::TimedOut, &p, 0).unwrap();
        r.apply(UpdateKind::Failed, &p, 0).unwrap();
        r.refresh(&p, 0);
        assert_eq!(r.points, 1_000 - 100 - 30 - 50);
        assert_eq!(r.completion_rate_bps(), (100 * 10_000 / 103) as u16);
    }

    #[test]
    fn points_saturate_at_both_ends() {
        let p = default_params();
        let mut r = NodeReputation::new(Pubkey::new_unique(), 0, 255);
        r.apply(UpdateKind::Failed, &p, 0).unwrap();
        assert_eq!(r.points, 0);
        r.apply_verdict(VerdictEffect::NodeLost, &p);
        assert_eq!(r.points, 0);
        r.points = 998;
        r.apply_verdict(VerdictEffect::NodeWon, &p);
        assert_eq!(r.points, 1_000);
    }

    #[test]
    fn uptime_bonus_needs_an_unbroken_period() {
        let p = default_params();
        let day = cyxwiz_common::units::DAY;
        let good = UpdateKind::Uptime {
            received: 99,
            expected: 100,
        };
        let bad = UpdateKind::Uptime {
            received: 90,
            expected: 100,
        };
        let mut r = NodeReputation::new(Pubkey::new_unique(), 0, 255);
        r.apply(good, &p, day).unwrap();
        r.apply(good, &p, 20 * day).unwrap();
        r.apply(bad, &p, 25 * day).unwrap();
        r.apply(good, &p, 31 * day).unwrap();
        assert_eq!(r.points, 0, "streak was broken on day 25");
        r.apply(good, &p, 61 * day).unwrap();
        assert_eq!(r.points, 20);
        assert!(
            r.apply(
                UpdateKind::Uptime {
                    received: 2,
                    expected: 1
                },
                &p,
                0
            )
            .is_err()
        );
        assert!(r.apply(done(1, 0), &p, 0).is_err());
    }

    #[test]
    fn ratings_are_one_to_five() {
        let p = default_params();
        let mut r = NodeReputation::new(Pubkey::new_unique(), 0, 255);
        assert!(r.rate(0, &p).is_err());
        assert!(r.rate(6, &p).is_err());
        r.rate(5, &p).unwrap();
        assert_eq!((r.points, r.five_star_count, r.rating_count), (5, 1, 1));
    }
}
