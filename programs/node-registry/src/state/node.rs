//! A registered compute node: its stake, lock, liveness and standing.

use anchor_lang::prelude::*;
use cyxwiz_common::bps;

use crate::{constants::MAX_FAILURE_WINDOW, error::RegistryError, state::RegistryParams};

/// What the node offers, as declared by its operator (the coordinator verifies it off-chain).
#[derive(
    AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, Default, PartialEq, Eq, InitSpace,
)]
pub struct Capabilities {
    pub cpu_cores: u16,
    pub ram_mb: u32,
    pub gpu_count: u8,
    pub gpu_vram_mb: u32,
    pub storage_gb: u32,
    pub bandwidth_mbps: u32,
    /// Bit flags for optional features (bit 0: WASM sandbox, bit 1: TEE, …).
    pub flags: u32,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum NodeStatus {
    Active,
    /// Cannot take jobs until `suspended_until` (repeated failures).
    Suspended,
    /// Permanently excluded (fraud). The account is kept so the ban sticks.
    Banned,
}

/// Why a node's stake is slashed.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum SlashReason {
    /// Job timed out; rate from the job's stake tier.
    Timeout,
    /// Proof of compute failed verification.
    InvalidProof,
    /// Dispute resolved against the node: slash and permanent ban.
    Fraud,
    /// Too many failures in the window: slash and suspension.
    RepeatedFailures,
}

/// How a job ended, as JobEscrow reports it.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum JobOutcome {
    /// Paid in full after a verified proof.
    Completed,
    /// The user stopped the job; the node is paid for anchored progress. Not a failure.
    StoppedByUser,
    /// The node gave up or was reported offline: a failure, no slash by itself.
    Failed,
    /// The escrow timed out with the node assigned: failure and timeout slash.
    TimedOut,
    /// The proof did not verify: failure and invalid-proof slash.
    InvalidProof,
    /// A dispute was decided against the node: a failure; the verdict's own fraud slash
    /// and ban follow (`slash_for_dispute`), so no other slash applies here.
    DisputeLost,
}

impl JobOutcome {
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            JobOutcome::Failed
                | JobOutcome::TimedOut
                | JobOutcome::InvalidProof
                | JobOutcome::DisputeLost
        )
    }

    /// Whether the outcome counts toward the repeated-failure slash. A lost dispute does
    /// not: the node is banned and slashed by the verdict instead.
    pub fn counts_as_repeated_failure(self) -> bool {
        self.is_failure() && self != JobOutcome::DisputeLost
    }
}

#[account]
#[derive(InitSpace, Debug)]
pub struct NodeAccount {
    pub owner: Pubkey,
    pub node_id: [u8; 32],
    pub capabilities: Capabilities,
    pub stake: u64,
    pub status: NodeStatus,
    pub registered_at: i64,
    pub last_heartbeat: i64,
    pub locked_until: i64,
    pub suspended_until: i64,
    /// 0 when not unstaking.
    pub unstake_requested_at: i64,
    pub active_jobs: u32,
    pub jobs_completed: u64,
    pub jobs_failed: u64,
    pub total_slashed: u64,
    /// Timestamps of recent failures (0 = empty slot), for the repeated-failure rule.
    pub recent_failures: [i64; MAX_FAILURE_WINDOW],
    pub bump: u8,
}

/// The split of one slash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlashSplit {
    pub total: u64,
    pub insurance: u64,
    pub burned: u64,
}

impl NodeAccount {
    pub fn is_unstaking(&self) -> bool {
        self.unstake_requested_at != 0
    }

    /// Whether the node may be given a new job worth `job_amount` now.
    pub fn check_eligible(&self, now: i64, params: &RegistryParams, job_amount: u64) -> Result<()> {
        match self.status {
            NodeStatus::Banned => return err!(RegistryError::NodeBanned),
            NodeStatus::Suspended if now < self.suspended_until => {
                return err!(RegistryError::NodeSuspended);
            }
            _ => {}
        }
        require!(!self.is_unstaking(), RegistryError::NodeUnstaking);
        let age = now
            .checked_sub(self.last_heartbeat)
            .ok_or(RegistryError::Overflow)?;
        require!(
            age <= params.heartbeat_max_age_secs,
            RegistryError::HeartbeatStale
        );
        require!(
            self.stake >= params.tier_for(job_amount).min_stake,
            RegistryError::InsufficientStake
        );
        Ok(())
    }

    /// Extends the lock so the stake stays at risk `lock_per_job_secs` past now.
    pub fn extend_lock(&mut self, now: i64, params: &RegistryParams) -> Result<()> {
        let until = now
            .checked_add(params.lock_per_job_secs)
            .ok_or(RegistryError::Overflow)?;
        self.locked_until = self.locked_until.max(until);
        Ok(())
    }

    /// Takes `rate_bps` of the stake and splits it between insurance and burn.
    pub fn slash(&mut self, rate_bps: u16, params: &RegistryParams) -> Result<SlashSplit> {
        self.slash_at_least(rate_bps, 0, params)
    }

    /// As [`NodeAccount::slash`], but takes at least `floor` (capped at the whole stake):
    /// fraud found after payment must be able to repay the job.
    pub fn slash_at_least(
        &mut self,
        rate_bps: u16,
        floor: u64,
        params: &RegistryParams,
    ) -> Result<SlashSplit> {
        require!(self.stake > 0, RegistryError::NothingToSlash);
        let total = bps::share(self.stake, rate_bps)
            .ok_or(RegistryError::InvalidParams)?
            .max(floor.min(self.stake));
        let insurance =
            bps::share(total, params.insurance_bps).ok_or(RegistryError::InvalidParams)?;
        let burned = total
            .checked_sub(insurance)
            .ok_or(RegistryError::Overflow)?;
        self.stake = self
            .stake
            .checked_sub(total)
            .ok_or(RegistryError::Overflow)?;
        self.total_slashed = self
            .total_slashed
            .checked_add(total)
            .ok_or(RegistryError::Overflow)?;
        Ok(SlashSplit {
            total,
            insurance,
            burned,
        })
    }

    /// Records a failure at `now`; returns true if it completes a repeated-failure streak
    /// (which then resets, so one streak is punished once).
    pub fn record_failure(&mut self, now: i64, params: &RegistryParams) -> bool {
        let window_start = now.saturating_sub(params.repeated_failure_window_secs);
        for slot in self.recent_failures.iter_mut() {
            if *slot != 0 && *slot <= window_start {
                *slot = 0;
            }
        }
        match self.recent_failures.iter_mut().find(|s| **s == 0) {
            Some(slot) => *slot = now,
            None => {
                // Window full: overwrite the oldest.
                if let Some(oldest) = self.recent_failures.iter_mut().min() {
                    *oldest = now;
                }
            }
        }
        let count = self.recent_failures.iter().filter(|s| **s != 0).count();
        if count >= usize::from(params.repeated_failure_count) {
            self.recent_failures = [0; MAX_FAILURE_WINDOW];
            true
        } else {
            false
        }
    }

    pub fn suspend(&mut self, now: i64, params: &RegistryParams) -> Result<()> {
        // A ban is permanent: a later suspension must not downgrade it (the node could
        // take jobs again, and its tombstone would be closed on withdrawal).
        if self.status != NodeStatus::Banned {
            self.status = NodeStatus::Suspended;
        }
        self.suspended_until = now
            .checked_add(params.suspension_secs)
            .ok_or(RegistryError::Overflow)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::constants::default_params;
    use cyxwiz_common::units::{DAY, ONE_CYXWIZ};

    fn node(stake: u64) -> NodeAccount {
        NodeAccount {
            owner: Pubkey::new_unique(),
            node_id: [1; 32],
            capabilities: Capabilities::default(),
            stake,
            status: NodeStatus::Active,
            registered_at: 0,
            last_heartbeat: 1_000,
            locked_until: 0,
            suspended_until: 0,
            unstake_requested_at: 0,
            active_jobs: 0,
            jobs_completed: 0,
            jobs_failed: 0,
            total_slashed: 0,
            recent_failures: [0; MAX_FAILURE_WINDOW],
            bump: 255,
        }
    }

    #[test]
    fn stake_table_boundaries_follow_the_spec() {
        let p = default_params();
        assert_eq!(p.tier_for(9 * ONE_CYXWIZ).min_stake, 50 * ONE_CYXWIZ);
        assert_eq!(p.tier_for(10 * ONE_CYXWIZ).min_stake, 200 * ONE_CYXWIZ);
        assert_eq!(p.tier_for(50 * ONE_CYXWIZ).min_stake, 200 * ONE_CYXWIZ);
        assert_eq!(
            p.tier_for(50 * ONE_CYXWIZ + 1).min_stake,
            1_000 * ONE_CYXWIZ
        );
        assert_eq!(
            p.tier_for(200 * ONE_CYXWIZ + 1).min_stake,
            5_000 * ONE_CYXWIZ
        );
        assert_eq!(p.tier_for(u64::MAX).failure_slash_bps, 2_500);
        p.validate().unwrap();
    }

    #[test]
    fn slash_splits_eighty_twenty_and_conserves() {
        let p = default_params();
        let mut n = node(1_000 * ONE_CYXWIZ + 7);
        let s = n.slash(1_000, &p).unwrap();
        assert_eq!(s.total, 100 * ONE_CYXWIZ);
        assert_eq!(s.insurance + s.burned, s.total);
        assert_eq!(s.insurance, 80 * ONE_CYXWIZ);
        assert_eq!(n.stake + s.total, 1_000 * ONE_CYXWIZ + 7);
    }

    #[test]
    fn a_slash_with_a_floor_takes_at_least_the_floor_and_at_most_the_stake() {
        let p = default_params();
        let mut n = node(1_000);
        assert_eq!(n.slash_at_least(5_000, 100, &p).unwrap().total, 500);
        let mut n = node(1_000);
        assert_eq!(n.slash_at_least(5_000, 700, &p).unwrap().total, 700);
        assert_eq!(n.stake, 300);
        let mut n = node(1_000);
        let s = n.slash_at_least(5_000, u64::MAX, &p).unwrap();
        assert_eq!((s.total, n.stake), (1_000, 0));
        assert_eq!(s.insurance + s.burned, s.total);
    }

    #[test]
    fn third_failure_in_a_week_triggers_once() {
        let p = default_params();
        let mut n = node(1);
        assert!(!n.record_failure(10 * DAY, &p));
        assert!(!n.record_failure(11 * DAY, &p));
        assert!(n.record_failure(12 * DAY, &p));
        assert!(!n.record_failure(12 * DAY + 1, &p));
        // Failures older than the window do not count.
        let mut m = node(1);
        assert!(!m.record_failure(DAY, &p));
        assert!(!m.record_failure(2 * DAY, &p));
        assert!(!m.record_failure(20 * DAY, &p));
    }

    #[test]
    fn eligibility_checks_ban_suspension_unstake_heartbeat_and_stake() {
        let p = default_params();
        let mut n = node(50 * ONE_CYXWIZ);
        n.check_eligible(1_000, &p, ONE_CYXWIZ).unwrap();
        assert!(n.check_eligible(1_000, &p, 10 * ONE_CYXWIZ).is_err());
        assert!(n.check_eligible(1_000 + DAY + 1, &p, ONE_CYXWIZ).is_err());
        n.suspend(1_000, &p).unwrap();
        assert!(n.check_eligible(1_000, &p, ONE_CYXWIZ).is_err());
        n.last_heartbeat = 1_000 + 30 * DAY;
        n.check_eligible(1_000 + 30 * DAY, &p, ONE_CYXWIZ).unwrap();
        n.unstake_requested_at = 5;
        assert!(n.check_eligible(1_000 + 30 * DAY, &p, ONE_CYXWIZ).is_err());
    }
}
