//! ReputationManager's configuration: authorities, parameters and the replay window of
//! applied batch ids.

use anchor_lang::prelude::*;
use cyxwiz_common::bps::MAX_BPS;

use crate::{
    constants::{BATCH_WINDOW, MAX_BATCH_UPDATES, MAX_SCORE},
    error::ReputationError,
};

/// Reputation tiers (spec: Bronze 0–299, Silver 300–599, Gold 600–799, Diamond 800–1000).
#[derive(
    AnchorSerialize,
    AnchorDeserialize,
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    InitSpace,
)]
pub enum Tier {
    Bronze,
    Silver,
    Gold,
    Diamond,
}

impl Tier {
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Point changes per event (spec "Penalties" and "Recovery"); penalties are magnitudes.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct Points {
    pub job_completed: u16,
    pub five_star: u16,
    pub uptime_bonus: u16,
    pub dispute_won: u16,
    pub job_failed: u16,
    pub job_timed_out: u16,
    pub invalid_proof: u16,
    pub dispute_lost: u16,
    pub user_dispute_lost: u16,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub struct ReputationParams {
    /// Lowest score of each tier, ascending, starting at 0.
    pub tier_min_score: [u16; 4],
    /// Largest job (token base units, inclusive) a node of each tier may take.
    pub tier_max_job_amount: [u64; 4],
    pub points: Points,
    /// Uninterrupted good uptime this long earns `points.uptime_bonus`.
    pub uptime_bonus_period_secs: i64,
    /// An uptime report below this share of expected heartbeats restarts the streak.
    pub uptime_min_bps: u16,
    /// Most updates per `batch_update` (≤ [`MAX_BATCH_UPDATES`]).
    pub max_batch_updates: u16,
}

impl ReputationParams {
    pub fn validate(&self) -> Result<()> {
        let p = &self.points;
        let tiers_ok = self.tier_min_score[0] == 0
            && self.tier_min_score.windows(2).all(|w| w[0] < w[1])
            && self.tier_min_score[3] <= MAX_SCORE
            && self.tier_max_job_amount.windows(2).all(|w| w[0] <= w[1])
            && self.tier_max_job_amount[3] == u64::MAX;
        let points_ok = [
            p.job_completed,
            p.five_star,
            p.uptime_bonus,
            p.dispute_won,
            p.job_failed,
            p.job_timed_out,
            p.invalid_proof,
            p.dispute_lost,
            p.user_dispute_lost,
        ]
        .iter()
        .all(|v| *v <= MAX_SCORE);
        let ok = tiers_ok
            && points_ok
            && self.uptime_bonus_period_secs > 0
            && self.uptime_min_bps <= MAX_BPS
            && self.max_batch_updates >= 1
            && self.max_batch_updates <= MAX_BATCH_UPDATES;
        require!(ok, ReputationError::InvalidParams);
        Ok(())
    }

    pub fn tier_for(&self, score: u16) -> Tier {
        match self.tier_min_score.iter().rposition(|min| score >= *min) {
            Some(3) => Tier::Diamond,
            Some(2) => Tier::Gold,
            Some(1) => Tier::Silver,
            _ => Tier::Bronze,
        }
    }

    /// Whether a node with `score` may take a job paying `amount`.
    pub fn allows_job(&self, score: u16, amount: u64) -> bool {
        amount <= self.tier_max_job_amount[self.tier_for(score).index()]
    }
}

#[account]
#[derive(InitSpace, Debug)]
pub struct ReputationConfig {
    pub admin: Pubkey,
    /// Dispute/DAO's governance PDA.
    pub governance: Pubkey,
    /// The coordinator's key that submits batched job outcomes and uptime.
    pub updater: Pubkey,
    /// JobEscrow's CPI PDA (ratings of completed jobs).
    pub escrow_authority: Pubkey,
    /// Dispute/DAO's verdict PDA.
    pub dispute_authority: Pubkey,
    pub params: ReputationParams,
    /// Lowest batch id of the replay window; ids below it are refused.
    pub batch_base: u64,
    /// Bit `i` set: batch `batch_base + i` was applied.
    pub batch_bitmap: [u64; 4],
    pub batches_applied: u64,
    pub bump: u8,
}

impl ReputationConfig {
    pub fn is_admin_or_governance(&self, key: &Pubkey) -> bool {
        *key == self.admin || *key == self.governance
    }

    /// Records `id` as applied, refusing replays and ids older than the window. Newer ids
    /// slide the window forward, forgetting the oldest.
    pub fn mark_batch(&mut self, id: u64) -> Result<()> {
        require!(id >= self.batch_base, ReputationError::BatchTooOld);
        let mut offset = id - self.batch_base;
        if offset >= BATCH_WINDOW {
            let shift = offset - (BATCH_WINDOW - 1);
            self.shift_window(shift);
            offset = id - self.batch_base;
        }
        let (word, bit) = ((offset / 64) as usize, offset % 64);
        require!(
            self.batch_bitmap[word] & (1 << bit) == 0,
            ReputationError::BatchAlreadyApplied
        );
        self.batch_bitmap[word] |= 1 << bit;
        self.batches_applied = self.batches_applied.saturating_add(1);
        Ok(())
    }

    fn shift_window(&mut self, shift: u64) {
        self.batch_base = self.batch_base.saturating_add(shift);
        if shift >= BATCH_WINDOW {
            self.batch_bitmap = [0; 4];
            return;
        }
        // Shift the 256-bit little-endian bitmap right by `shift` bits.
        let words = (shift / 64) as usize;
        let bits = (shift % 64) as u32;
        let old = self.batch_bitmap;
        let mut new = [0u64; 4];
        for (i, slot) in new.iter_mut().enumerate() {
            let src = i + words;
            if src < 4 {
                let lo = old[src] >> bits;
                let hi = if bits > 0 && src + 1 < 4 {
                    old[src + 1] << (64 - bits)
                } else {
                    0
                };
                *slot = lo | hi;
            }
        }
        self.batch_bitmap = new;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::default_params;

    fn config() -> ReputationConfig {
        ReputationConfig {
            admin: Pubkey::new_unique(),
            governance: Pubkey::new_unique(),
            updater: Pubkey::new_unique(),
            escrow_authority: Pubkey::new_unique(),
            dispute_authority: Pubkey::new_unique(),
            params: default_params(),
            batch_base: 0,
            batch_bitmap: [0; 4],
            batches_applied: 0,
            bump: 255,
        }
    }

    #[test]
    fn tiers_follow_the_spec_boundaries() {
        let p = default_params();
        p.validate().unwrap();
        assert_eq!(p.tier_for(0), Tier::Bronze);
        assert_eq!(p.tier_for(299), Tier::Bronze);
        assert_eq!(p.tier_for(300), Tier::Silver);
        assert_eq!(p.tier_for(599), Tier::Silver);
        assert_eq!(p.tier_for(600), Tier::Gold);
        assert_eq!(p.tier_for(799), Tier::Gold);
        assert_eq!(p.tier_for(800), Tier::Diamond);
        assert_eq!(p.tier_for(1_000), Tier::Diamond);
        let one = cyxwiz_common::units::ONE_CYXWIZ;
        assert!(p.allows_job(0, 10 * one - 1));
        assert!(!p.allows_job(0, 10 * one));
        assert!(p.allows_job(300, 50 * one - 1));
        assert!(!p.allows_job(599, 50 * one));
        assert!(!p.allows_job(799, 200 * one));
        assert!(p.allows_job(800, u64::MAX));
    }

    #[test]
    fn batch_window_refuses_replays_and_slides() {
        let mut c = config();
        c.mark_batch(0).unwrap();
        c.mark_batch(5).unwrap();
        assert!(c.mark_batch(5).is_err());
        assert!(c.mark_batch(0).is_err());
        // Out of order inside the window is fine.
        c.mark_batch(3).unwrap();
        // Jump far ahead: the window slides, ids that fell out are too old.
        c.mark_batch(300).unwrap();
        assert_eq!(c.batch_base, 300 - (BATCH_WINDOW - 1));
        assert!(c.mark_batch(5).is_err());
        assert!(c.mark_batch(300).is_err());
        c.mark_batch(299).unwrap();
        // Slide by less than a word: earlier bits move with the window.
        let mut c = config();
        c.mark_batch(100).unwrap();
        c.mark_batch(260).unwrap();
        assert_eq!(c.batch_base, 5);
        assert!(c.mark_batch(100).is_err());
        c.mark_batch(101).unwrap();
        // A huge jump clears everything.
        c.mark_batch(u64::MAX).unwrap();
        assert!(c.mark_batch(u64::MAX).is_err());
        assert!(c.mark_batch(1_000).is_err());
    }

    #[test]
    fn params_validation_rejects_unordered_tiers() {
        let mut p = default_params();
        p.tier_min_score[2] = 200;
        assert!(p.validate().is_err());
        let mut p = default_params();
        p.max_batch_updates = MAX_BATCH_UPDATES + 1;
        assert!(p.validate().is_err());
        let mut p = default_params();
        p.tier_max_job_amount[3] = 5;
        assert!(p.validate().is_err());
    }
}
