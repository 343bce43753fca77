//! The spec's job pricing model ("Pricing Model", seed 002), in CYXWIZ base units.
//!
//! price = hourly resources × hours × duration multiplier × priority multiplier
//!         × (1 + node tier adjustment) × node ask
//!
//! Resources per hour: CPU-only 0.5, consumer GPU 2, datacenter GPU 10 (per GPU), RAM
//! 0.1 per GB, VRAM 0.5 per GB (per GPU). Multipliers are basis points so the arithmetic is
//! exact integers (u128, one rounding up at the end); the rates are parameters.

use cyxwiz_common::units::ONE_CYXWIZ;
use serde::{Deserialize, Serialize};

use crate::types::{Hardware, Priority};

const BPS: u128 = 10_000;
const MB_PER_GB: u128 = 1_024;
const SECS_PER_HOUR: u128 = 3_600;

/// Rates and multipliers (defaults: the seed's figures).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PriceList {
    pub cpu_only_per_hour: u64,
    pub consumer_gpu_per_hour: u64,
    pub datacenter_gpu_per_hour: u64,
    pub ram_gb_per_hour: u64,
    pub vram_gb_per_hour: u64,
    /// Duration multipliers for < 1 h, 1–6 h, 6–24 h, > 24 h.
    pub duration_bps: [u32; 4],
    /// Priority multipliers: low, normal, high, critical.
    pub priority_bps: [u32; 4],
    /// Tier adjustments: Bronze, Silver, Gold, Diamond (+ is dearer).
    pub tier_adjust_bps: [i32; 4],
}

impl Default for PriceList {
    fn default() -> Self {
        PriceList {
            cpu_only_per_hour: ONE_CYXWIZ / 2,
            consumer_gpu_per_hour: 2 * ONE_CYXWIZ,
            datacenter_gpu_per_hour: 10 * ONE_CYXWIZ,
            ram_gb_per_hour: ONE_CYXWIZ / 10,
            vram_gb_per_hour: ONE_CYXWIZ / 2,
            duration_bps: [10_000, 9_000, 8_000, 7_000],
            priority_bps: [8_000, 10_000, 15_000, 20_000],
            tier_adjust_bps: [2_000, 1_000, 0, -1_000],
        }
    }
}

/// A quote and how it was reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quote {
    pub hourly_rate: u64,
    pub duration_bps: u32,
    pub priority_bps: u32,
    pub tier_adjust_bps: i32,
    pub ask_bps: u32,
    pub total: u64,
}

impl PriceList {
    /// Resources per hour for a job needing `hw`.
    pub fn hourly(&self, hw: &Hardware) -> u128 {
        let compute = if hw.gpu_count == 0 {
            u128::from(self.cpu_only_per_hour)
        } else {
            let per_gpu = if hw.datacenter_gpu {
                self.datacenter_gpu_per_hour
            } else {
                self.consumer_gpu_per_hour
            };
            u128::from(per_gpu) * u128::from(hw.gpu_count)
        };
        let ram = u128::from(self.ram_gb_per_hour) * u128::from(hw.ram_mb) / MB_PER_GB;
        let vram =
            u128::from(self.vram_gb_per_hour) * u128::from(hw.vram_mb) * u128::from(hw.gpu_count)
                / MB_PER_GB;
        compute + ram + vram
    }

    pub fn duration_multiplier(&self, secs: u32) -> u32 {
        match secs {
            s if s < 3_600 => self.duration_bps[0],
            s if s <= 6 * 3_600 => self.duration_bps[1],
            s if s <= 24 * 3_600 => self.duration_bps[2],
            _ => self.duration_bps[3],
        }
    }

    pub fn priority_multiplier(&self, p: Priority) -> u32 {
        self.priority_bps[match p {
            Priority::Low => 0,
            Priority::Normal => 1,
            Priority::High => 2,
            Priority::Critical => 3,
        }]
    }

    /// The price of a job needing `hw` for `secs` at priority `p` on a node of tier
    /// `tier` (0 Bronze … 3 Diamond) asking `ask_bps` of list. `None` on overflow or a
    /// nonsensical list. Never 0 for a real job (rounded up).
    pub fn quote(
        &self,
        hw: &Hardware,
        secs: u32,
        p: Priority,
        tier: u8,
        ask_bps: u32,
    ) -> Option<Quote> {
        let hourly = self.hourly(hw);
        let dur = self.duration_multiplier(secs);
        let prio = self.priority_multiplier(p);
        let adjust = *self.tier_adjust_bps.get(usize::from(tier))?;
        let tier_factor = u128::try_from(i64::from(BPS as i32 + adjust)).ok()?;
        let numerator = hourly
            .checked_mul(u128::from(secs))?
            .checked_mul(u128::from(dur))?
            .checked_mul(u128::from(prio))?
            .checked_mul(tier_factor)?
            .checked_mul(u128::from(ask_bps))?;
        let denominator = SECS_PER_HOUR * BPS * BPS * BPS * BPS;
        let total = numerator.div_ceil(denominator).max(1);
        Some(Quote {
            hourly_rate: u64::try_from(hourly).ok()?,
            duration_bps: dur,
            priority_bps: prio,
            tier_adjust_bps: adjust,
            ask_bps,
            total: u64::try_from(total).ok()?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rtx3070() -> Hardware {
        Hardware {
            cpu_cores: 8,
            ram_mb: 16 * 1_024,
            gpu_count: 1,
            vram_mb: 8 * 1_024,
            datacenter_gpu: false,
        }
    }

    #[test]
    fn the_seeds_worked_example_costs_72_96_cyxwiz() {
        // ResNet-50: RTX 3070 + 8 GB VRAM + 16 GB RAM = 7.6/h, 12 h, ×0.8, normal, Gold.
        let q = PriceList::default()
            .quote(&rtx3070(), 12 * 3_600, Priority::Normal, 2, 10_000)
            .unwrap();
        assert_eq!(q.hourly_rate, 7_600_000_000);
        assert_eq!(q.duration_bps, 8_000);
        assert_eq!(q.total, 72_960_000_000);
    }

    #[test]
    fn priority_tier_and_ask_scale_the_price() {
        let list = PriceList::default();
        let base = |p, tier, ask| list.quote(&rtx3070(), 3_600, p, tier, ask).unwrap().total;
        let gold = base(Priority::Normal, 2, 10_000);
        assert_eq!(gold, 6_840_000_000); // 7.6 × 1 h × 0.9 (1 h is in the 1–6 h band)
        assert_eq!(base(Priority::Critical, 2, 10_000), 2 * gold);
        assert_eq!(base(Priority::Low, 2, 10_000), gold * 8 / 10);
        assert_eq!(base(Priority::Normal, 0, 10_000), gold * 12 / 10); // Bronze +20 %
        assert_eq!(base(Priority::Normal, 3, 10_000), gold * 9 / 10); // Diamond −10 %
        assert_eq!(base(Priority::Normal, 2, 5_000), gold / 2);
    }

    #[test]
    fn a_short_cpu_job_is_cheap_but_never_free() {
        let list = PriceList::default();
        let q = list
            .quote(&Hardware::default(), 60, Priority::Normal, 2, 10_000)
            .unwrap();
        // 0.5 CYXWIZ/h for one minute.
        assert_eq!(q.total, ONE_CYXWIZ / 2 / 60 + 1);
        let tiny = PriceList {
            cpu_only_per_hour: 0,
            ..list
        };
        assert_eq!(
            tiny.quote(&Hardware::default(), 1, Priority::Low, 3, 1)
                .unwrap()
                .total,
            1
        );
    }

    #[test]
    fn an_unknown_tier_or_an_overflow_gives_no_quote() {
        let list = PriceList::default();
        assert!(
            list.quote(&rtx3070(), 60, Priority::Normal, 4, 10_000)
                .is_none()
        );
        let huge = PriceList {
            datacenter_gpu_per_hour: u64::MAX,
            ..list
        };
        let hw = Hardware {
            gpu_count: u32::MAX,
            datacenter_gpu: true,
            ..Hardware::default()
        };
        assert!(
            huge.quote(&hw, u32::MAX, Priority::Critical, 0, u32::MAX)
                .is_none()
        );
    }
}
