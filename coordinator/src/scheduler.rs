//! The matching policy: which nodes may take a job, and in what order to try them.
//!
//! Filters (every one must pass): the node is active on chain and not unstaking; it has
//! heartbeated the coordinator within the health window and NodeRegistry recently enough
//! for `assign_node` to accept it; its stake covers the job size's minimum; its reputation
//! tier allows the job size; its hardware meets the job's; it has a free slot; its quote
//! is within the user's maximum. Survivors are ranked by a weighted score of reputation,
//! price, load and locality, and the first pick is drawn at random among the best few so
//! that replicas matching at the same moment spread over nodes instead of all fighting for
//! the top one. Pure: no I/O, the caller passes the clock and the random source.

use std::sync::atomic::{AtomicU64, Ordering};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::{
    pricing::{PriceList, Quote},
    store::{ChainStatus, NodeRecord},
    types::JobConfig,
};

/// Ranking weights (any non-negative numbers; they are normalised).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Weights {
    pub reputation: f64,
    pub price: f64,
    pub load: f64,
    pub locality: f64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            reputation: 0.45,
            price: 0.25,
            load: 0.20,
            locality: 0.10,
        }
    }
}

/// Chain parameters the filters need (NodeRegistry stake tiers and heartbeat age,
/// ReputationManager tier caps).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainRules {
    /// `(max_job_amount, min_stake)` per job size, ascending.
    pub stake_tiers: Vec<(u64, u64)>,
    pub heartbeat_max_age_secs: i64,
    /// Largest job amount per reputation tier (Bronze … Diamond).
    pub tier_max_job_amount: [u64; 4],
}

impl ChainRules {
    pub fn min_stake_for(&self, amount: u64) -> u64 {
        self.stake_tiers
            .iter()
            .find(|(max, _)| amount <= *max)
            .or(self.stake_tiers.last())
            .map(|(_, s)| *s)
            .unwrap_or(u64::MAX)
    }
}

/// The policy's settings.
#[derive(Debug, Clone)]
pub struct Policy {
    pub weights: Weights,
    /// Off-chain heartbeat freshness (spec: 2 minutes).
    pub health_window_ms: i64,
    /// How much younger than the chain's limit a chain heartbeat must be, so it is still
    /// valid when `assign_node` runs (up to one reservation later).
    pub chain_heartbeat_margin_secs: i64,
    /// Draw the first pick among this many best nodes.
    pub top_k: usize,
    /// Return at most this many nodes to try.
    pub max_candidates: usize,
    pub prices: PriceList,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            weights: Weights::default(),
            health_window_ms: 120_000,
            chain_heartbeat_margin_secs: 300,
            top_k: 4,
            max_candidates: 8,
            prices: PriceList::default(),
        }
    }
}

/// Most jobs one node runs at once (slots are bits of a `u64`).
pub const MAX_CAPACITY: u32 = 64;

/// A node as the scheduler sees it: its record and the slots its jobs hold now, as a
/// bit mask. The mask is atomic so a replica can mark a slot it just reserved in its
/// shared snapshot without copying the node set per request.
#[derive(Debug)]
pub struct Candidate {
    pub node: NodeRecord,
    busy: AtomicU64,
}

impl Clone for Candidate {
    fn clone(&self) -> Self {
        Candidate {
            node: self.node.clone(),
            busy: AtomicU64::new(self.busy_mask()),
        }
    }
}

impl Candidate {
    /// `busy`: the slots taken now (slots ≥ 64 are ignored).
    pub fn new(node: NodeRecord, busy: &[u32]) -> Candidate {
        let mask = busy
            .iter()
            .filter(|s| **s < MAX_CAPACITY)
            .fold(0u64, |m, s| m | (1 << s));
        Candidate {
            node,
            busy: AtomicU64::new(mask),
        }
    }

    fn capacity(&self) -> u32 {
        self.node.capacity.clamp(1, MAX_CAPACITY)
    }

    pub fn busy_mask(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    pub fn busy_count(&self) -> u32 {
        let cap = self.capacity();
        let usable = if cap == 64 {
            u64::MAX
        } else {
            (1u64 << cap) - 1
        };
        (self.busy_mask() & usable).count_ones()
    }

    pub fn mark_busy(&self, slot: u32) {
        if slot < MAX_CAPACITY {
            self.busy.fetch_or(1 << slot, Ordering::Relaxed);
        }
    }

    /// Atomically takes the lowest free slot in this snapshot (so concurrent requests
    /// of one replica never try the same slot); `None` when all are taken.
    pub fn claim_slot(&self) -> Option<u32> {
        let mut mask = self.busy_mask();
        loop {
            let slot = (0..self.capacity()).find(|s| mask & (1 << s) == 0)?;
            match self.busy.compare_exchange(
                mask,
                mask | (1 << slot),
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(slot),
                Err(now) => mask = now,
            }
        }
    }

    pub fn free_slot(&self) -> Option<u32> {
        let mask = self.busy_mask();
        (0..self.capacity()).find(|s| mask & (1 << s) == 0)
    }
}

/// One node to try, with its quote.
#[derive(Debug, Clone, PartialEq)]
pub struct Choice {
    /// Index into the candidate slice.
    pub index: usize,
    pub quote: Quote,
    pub score: f64,
}

/// Why no node matched: how many nodes each filter removed (a node is counted under
/// the first filter it fails).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NoMatch {
    pub total: usize,
    pub inactive: usize,
    pub unhealthy: usize,
    pub stale_on_chain: usize,
    pub hardware: usize,
    pub busy: usize,
    pub over_budget: usize,
    pub understaked: usize,
    pub tier_too_low: usize,
}

impl std::fmt::Display for NoMatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "no node can take this job ({} registered: {} inactive, {} without a recent \
             heartbeat, {} stale on chain, {} lacking hardware, {} busy, {} over max_price, \
             {} understaked, {} reputation tier too low)",
            self.total,
            self.inactive,
            self.unhealthy,
            self.stale_on_chain,
            self.hardware,
            self.busy,
            self.over_budget,
            self.understaked,
            self.tier_too_low
        )
    }
}

/// Ranks the nodes that may take `job`; the first entry is the one to reserve first.
pub fn choose<R: Rng>(
    policy: &Policy,
    rules: &ChainRules,
    job: &JobConfig,
    candidates: &[Candidate],
    now_ms: i64,
    chain_now_secs: i64,
    rng: &mut R,
) -> Result<Vec<Choice>, NoMatch> {
    let mut why = NoMatch {
        total: candidates.len(),
        ..NoMatch::default()
    };
    let mut eligible = Vec::new();
    for (index, c) in candidates.iter().enumerate() {
        let n = &c.node;
        if n.chain.status != ChainStatus::Active {
            why.inactive += 1;
            continue;
        }
        if now_ms.saturating_sub(n.last_heartbeat) > policy.health_window_ms {
            why.unhealthy += 1;
            continue;
        }
        let chain_age = chain_now_secs.saturating_sub(n.chain.heartbeat_secs);
        if chain_age + policy.chain_heartbeat_margin_secs > rules.heartbeat_max_age_secs {
            why.stale_on_chain += 1;
            continue;
        }
        if !n.hardware.satisfies(&job.hardware) {
            why.hardware += 1;
            continue;
        }
        if c.free_slot().is_none() {
            why.busy += 1;
            continue;
        }
        let Some(quote) = policy.prices.quote(
            &job.hardware,
            job.estimated_secs,
            job.priority,
            n.chain.tier,
            n.price_bps,
        ) else {
            why.over_budget += 1;
            continue;
        };
        if quote.total > job.max_price {
            why.over_budget += 1;
            continue;
        }
        if n.chain.stake < rules.min_stake_for(quote.total) {
            why.understaked += 1;
            continue;
        }
        let tier_cap = rules
            .tier_max_job_amount
            .get(usize::from(n.chain.tier))
            .copied()
            .unwrap_or(0);
        if quote.total > tier_cap {
            why.tier_too_low += 1;
            continue;
        }
        let score = score(policy, job, c, &quote);
        eligible.push(Choice {
            index,
            quote,
            score,
        });
    }
    if eligible.is_empty() {
        return Err(why);
    }
    // Best first; ties broken by owner so the order is deterministic. Only the best
    // `max_candidates` are ordered (a full sort of every eligible node is wasted work).
    let order = |a: &Choice, b: &Choice| {
        b.score.total_cmp(&a.score).then_with(|| {
            candidates[a.index]
                .node
                .owner
                .cmp(&candidates[b.index].node.owner)
        })
    };
    let keep = policy.max_candidates.max(policy.top_k).max(1);
    if eligible.len() > keep {
        eligible.select_nth_unstable_by(keep - 1, order);
        eligible.truncate(keep);
    }
    eligible.sort_by(order);
    let k = policy.top_k.clamp(1, eligible.len());
    let pick = weighted_pick(&eligible[..k], rng);
    let first = eligible.remove(pick);
    eligible.insert(0, first);
    eligible.truncate(policy.max_candidates.max(1));
    Ok(eligible)
}

fn score(policy: &Policy, job: &JobConfig, c: &Candidate, quote: &Quote) -> f64 {
    let w = &policy.weights;
    let total = (w.reputation + w.price + w.load + w.locality).max(f64::EPSILON);
    let reputation = f64::from(c.node.chain.reputation.min(1_000)) / 1_000.0;
    let price = 1.0 - (quote.total as f64 / job.max_price.max(1) as f64).min(1.0);
    let capacity = c.capacity();
    let busy = c.busy_count().max(c.node.running_jobs).min(capacity);
    let load = f64::from(capacity - busy) / f64::from(capacity);
    let locality = if job.region.is_empty() {
        0.5
    } else if job.region == c.node.region {
        1.0
    } else {
        0.0
    };
    (w.reputation * reputation + w.price * price + w.load * load + w.locality * locality) / total
}

/// Index drawn with probability proportional to score (uniform if all scores are 0).
fn weighted_pick<R: Rng>(choices: &[Choice], rng: &mut R) -> usize {
    let sum: f64 = choices.iter().map(|c| c.score.max(0.0)).sum();
    if sum <= 0.0 {
        return rng.gen_range(0..choices.len());
    }
    let mut x = rng.gen_range(0.0..sum);
    for (i, c) in choices.iter().enumerate() {
        x -= c.score.max(0.0);
        if x < 0.0 {
            return i;
        }
    }
    choices.len() - 1
}

#[cfg(test)]
mod tests {
    use rand::{SeedableRng, rngs::StdRng};

    use super::*;
    use crate::{
        store::ChainNode,
        types::{Hardware, Priority},
    };
    use cyxwiz_common::units::ONE_CYXWIZ;

    const NOW_MS: i64 = 1_000_000_000;
    const CHAIN_NOW: i64 = 1_000_000;

    fn rules() -> ChainRules {
        ChainRules {
            stake_tiers: vec![
                (10 * ONE_CYXWIZ - 1, 50 * ONE_CYXWIZ),
                (50 * ONE_CYXWIZ, 200 * ONE_CYXWIZ),
                (200 * ONE_CYXWIZ, 1_000 * ONE_CYXWIZ),
                (u64::MAX, 5_000 * ONE_CYXWIZ),
            ],
            heartbeat_max_age_secs: 86_400,
            tier_max_job_amount: [
                10 * ONE_CYXWIZ - 1,
                50 * ONE_CYXWIZ - 1,
                200 * ONE_CYXWIZ - 1,
                u64::MAX,
            ],
        }
    }

    fn node(owner: &str, reputation: u16, tier: u8) -> Candidate {
        Candidate {
            node: NodeRecord {
                owner: owner.into(),
                endpoint: format!("https://{owner}:7000"),
                tls_fingerprint: [1; 32],
                hardware: Hardware {
                    cpu_cores: 8,
                    ram_mb: 16_384,
                    gpu_count: 1,
                    vram_mb: 8_192,
                    datacenter_gpu: false,
                },
                capacity: 1,
                region: "eu".into(),
                price_bps: 10_000,
                registered_at: 0,
                last_heartbeat: NOW_MS - 1_000,
                running_jobs: 0,
                heartbeats: 1,
                chain: ChainNode {
                    stake: 100 * ONE_CYXWIZ,
                    status: ChainStatus::Active,
                    heartbeat_secs: CHAIN_NOW - 60,
                    reputation,
                    tier,
                    synced_at: 0,
                },
                rating_sum: 0,
                rating_count: 0,
            },
            busy: AtomicU64::new(0),
        }
    }

    fn job() -> JobConfig {
        JobConfig {
            module_hash: [2; 32],
            module_size: 10_000,
            dataset_hash: [3; 32],
            dataset_size: 100_000,
            epochs: 100,
            hardware: Hardware {
                cpu_cores: 2,
                ram_mb: 1_024,
                ..Hardware::default()
            },
            max_price: 5 * ONE_CYXWIZ,
            priority: Priority::Normal,
            estimated_secs: 600,
            region: String::new(),
        }
    }

    fn run(cands: &[Candidate], job: &JobConfig, seed: u64) -> Result<Vec<Choice>, NoMatch> {
        choose(
            &Policy::default(),
            &rules(),
            job,
            cands,
            NOW_MS,
            CHAIN_NOW,
            &mut StdRng::seed_from_u64(seed),
        )
    }

    #[test]
    fn each_filter_removes_the_node_that_fails_it_and_says_so() {
        let mut inactive = node("a", 500, 1);
        inactive.node.chain.status = ChainStatus::Unstaking;
        let mut unhealthy = node("b", 500, 1);
        unhealthy.node.last_heartbeat = NOW_MS - 121_000;
        let mut stale = node("c", 500, 1);
        stale.node.chain.heartbeat_secs = CHAIN_NOW - 86_400 + 100;
        let mut weak = node("d", 500, 1);
        weak.node.hardware.cpu_cores = 1;
        let busy = node("e", 500, 1);
        busy.mark_busy(0);
        let mut poor = node("f", 500, 1);
        poor.node.chain.stake = 49 * ONE_CYXWIZ;
        let good = node("g", 500, 1);
        let all = [inactive, unhealthy, stale, weak, busy, poor, good];
        let picked = run(&all, &job(), 1).unwrap();
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].index, 6);

        let err = run(&all[..6], &job(), 1).unwrap_err();
        assert_eq!(
            err,
            NoMatch {
                total: 6,
                inactive: 1,
                unhealthy: 1,
                stale_on_chain: 1,
                hardware: 1,
                busy: 1,
                understaked: 1,
                ..NoMatch::default()
            }
        );
        assert!(err.to_string().contains("6 registered"));
    }

    #[test]
    fn a_job_over_the_budget_or_over_the_tier_cap_is_not_matched() {
        let mut j = job();
        j.max_price = 1; // every quote is larger
        assert_eq!(run(&[node("a", 900, 3)], &j, 1).unwrap_err().over_budget, 1);

        // A 20-CYXWIZ job: a Bronze node may not take it, a Silver one may (stake 200).
        let mut big = job();
        big.hardware.gpu_count = 1;
        big.hardware.vram_mb = 8_192;
        big.estimated_secs = 3 * 3_600;
        big.max_price = 100 * ONE_CYXWIZ;
        let mut bronze = node("bronze", 100, 0);
        bronze.node.chain.stake = 1_000 * ONE_CYXWIZ;
        let err = run(&[bronze.clone()], &big, 1).unwrap_err();
        assert_eq!(err.tier_too_low, 1);
        let mut silver = node("silver", 400, 1);
        silver.node.chain.stake = 200 * ONE_CYXWIZ;
        let picked = run(&[bronze, silver], &big, 1).unwrap();
        assert_eq!(picked.len(), 1);
        assert_eq!(picked[0].index, 1);
        assert!(
            picked[0].quote.total >= 10 * ONE_CYXWIZ && picked[0].quote.total <= 50 * ONE_CYXWIZ
        );
    }

    #[test]
    fn better_reputation_cheaper_ask_lower_load_and_same_region_rank_higher() {
        let mut policy = Policy {
            top_k: 1, // no randomness: pure ranking
            ..Policy::default()
        };
        let rank = |cands: &[Candidate], j: &JobConfig, p: &Policy| {
            choose(
                p,
                &rules(),
                j,
                cands,
                NOW_MS,
                CHAIN_NOW,
                &mut StdRng::seed_from_u64(0),
            )
            .unwrap()
            .iter()
            .map(|c| cands[c.index].node.owner.clone())
            .collect::<Vec<_>>()
        };
        assert_eq!(
            rank(
                &[node("low", 100, 1), node("high", 900, 1)],
                &job(),
                &policy
            ),
            ["high", "low"]
        );
        let mut cheap = node("cheap", 500, 1);
        cheap.node.price_bps = 5_000;
        assert_eq!(
            rank(&[node("list", 500, 1), cheap], &job(), &policy),
            ["cheap", "list"]
        );
        let mut loaded = node("loaded", 500, 1);
        loaded.node.capacity = 4;
        for s in 0..3 {
            loaded.mark_busy(s);
        }
        let mut idle = node("idle", 500, 1);
        idle.node.capacity = 4;
        assert_eq!(rank(&[loaded, idle], &job(), &policy), ["idle", "loaded"]);
        let mut j = job();
        j.region = "us".into();
        let mut us = node("us-node", 500, 1);
        us.node.region = "us".into();
        assert_eq!(
            rank(&[node("eu-node", 500, 1), us], &j, &policy),
            ["us-node", "eu-node"]
        );
        policy.weights = Weights {
            reputation: 0.0,
            price: 1.0,
            load: 0.0,
            locality: 0.0,
        };
        let mut pricey = node("pricey-but-famous", 1_000, 1);
        pricey.node.price_bps = 20_000;
        assert_eq!(
            rank(&[pricey, node("plain", 0, 1)], &job(), &policy),
            ["plain", "pricey-but-famous"]
        );
    }

    #[test]
    fn the_first_pick_spreads_over_the_best_few_and_is_reproducible_per_seed() {
        let cands: Vec<_> = (0..10).map(|i| node(&format!("n{i}"), 500, 1)).collect();
        let firsts: std::collections::HashSet<usize> = (0..200)
            .map(|seed| run(&cands, &job(), seed).unwrap()[0].index)
            .collect();
        // Equal nodes: the first pick comes from the top 4 (sorted by owner), all used.
        assert_eq!(firsts, [0, 1, 2, 3].into_iter().collect());
        assert_eq!(
            run(&cands, &job(), 7).unwrap(),
            run(&cands, &job(), 7).unwrap()
        );
        assert_eq!(
            run(&cands, &job(), 7).unwrap().len(),
            Policy::default().max_candidates
        );
    }

    #[test]
    fn free_slots_are_found_below_capacity() {
        let mut c = node("multi", 500, 1);
        c.node.capacity = 3;
        let c = c;
        let c = Candidate::new(c.node, &[0, 2]);
        assert_eq!(c.free_slot(), Some(1));
        assert_eq!(c.busy_count(), 2);
        c.mark_busy(1);
        assert_eq!(c.free_slot(), None);
        let mut node = c.node.clone();
        node.capacity = 0; // treated as 1
        assert_eq!(Candidate::new(node.clone(), &[]).free_slot(), Some(0));
        node.capacity = 64;
        let all: Vec<u32> = (0..63).collect();
        let full = Candidate::new(node, &all);
        assert_eq!(full.free_slot(), Some(63));
        assert_eq!(full.claim_slot(), Some(63));
        assert_eq!(full.claim_slot(), None);
        assert_eq!(full.free_slot(), None);
    }
}
