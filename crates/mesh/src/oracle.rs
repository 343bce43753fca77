//! Stake oracle: what the chain says about a node, behind a trait so the mesh needs no
//! RPC stack, plus the bounded TTL cache the receiver keeps in front of it.
//!
//! A receiver admits a compute, storage or validator announcement only if the oracle
//! says the node is registered, active (not suspended, banned or unstaking) and holds
//! at least the stake tier it claims (issue 16). Answers are cached for
//! [`CacheConfig::ttl`] (negative answers for [`CacheConfig::negative_ttl`], shorter, so
//! a node that registers is admitted soon) and the cache holds at most
//! [`CacheConfig::capacity`] entries: a flood of ids cannot grow it.

use std::{
    collections::{HashMap, HashSet},
    sync::RwLock,
    time::{Duration, Instant},
};

use async_trait::async_trait;

use crate::identity::NodeId;

/// A node's standing in NodeRegistry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Standing {
    Active,
    /// Suspended and the suspension has not run out.
    Suspended,
    /// Permanently excluded.
    Banned,
    /// Has asked to withdraw its stake: leaving, not assignable.
    Unstaking,
}

/// What the chain says about one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum StakeStatus {
    /// No NodeRegistry account for this operator key.
    Unregistered,
    Registered {
        standing: Standing,
        /// Base units staked.
        stake: u64,
        /// The highest tier whose `min_stake` the stake meets (`None` below tier 0).
        tier: Option<u8>,
    },
}

/// Why the oracle could not answer (the record is then dropped, not cached).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum OracleError {
    #[error("chain unavailable: {0}")]
    Unavailable(String),
    #[error("account data invalid: {0}")]
    Invalid(String),
}

/// Answers stake questions about node ids. Implementations talk to the chain (see
/// [`crate::chain_oracle`]) or, in tests, to a table.
#[async_trait]
pub trait StakeOracle: Send + Sync + 'static {
    async fn stake_status(&self, node: &NodeId) -> Result<StakeStatus, OracleError>;
}

/// An oracle backed by a table, for tests and the single-process localnet.
#[derive(Debug, Default)]
pub struct StaticOracle {
    table: RwLock<HashMap<NodeId, StakeStatus>>,
    unavailable: RwLock<HashSet<NodeId>>,
}

impl StaticOracle {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(&self, node: NodeId, status: StakeStatus) {
        self.table
            .write()
            .expect("oracle lock")
            .insert(node, status);
    }

    /// Makes lookups of `node` fail, as a chain outage would.
    pub fn set_unavailable(&self, node: NodeId) {
        self.unavailable.write().expect("oracle lock").insert(node);
    }
}

#[async_trait]
impl StakeOracle for StaticOracle {
    async fn stake_status(&self, node: &NodeId) -> Result<StakeStatus, OracleError> {
        if self.unavailable.read().expect("oracle lock").contains(node) {
            return Err(OracleError::Unavailable(
                "static oracle: marked down".into(),
            ));
        }
        Ok(self
            .table
            .read()
            .expect("oracle lock")
            .get(node)
            .copied()
            .unwrap_or(StakeStatus::Unregistered))
    }
}

/// Bounds of the stake cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct CacheConfig {
    pub capacity: usize,
    /// How long a registered answer is trusted (stake and standing change slowly; a
    /// slash or suspension reaches the mesh within this time).
    #[serde(with = "crate::config::secs")]
    pub ttl: Duration,
    /// How long "unregistered" is trusted.
    #[serde(with = "crate::config::secs")]
    pub negative_ttl: Duration,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            capacity: 4_096,
            ttl: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
        }
    }
}

/// A bounded TTL cache of oracle answers. When full, expired entries go first, then the
/// entry closest to expiry (the oldest answer).
#[derive(Debug)]
pub struct StakeCache {
    cfg: CacheConfig,
    entries: HashMap<NodeId, (StakeStatus, Instant)>,
}

impl StakeCache {
    pub fn new(cfg: CacheConfig) -> Self {
        StakeCache {
            cfg,
            entries: HashMap::new(),
        }
    }

    pub fn get(&self, node: &NodeId, now: Instant) -> Option<StakeStatus> {
        self.entries
            .get(node)
            .filter(|(_, until)| *until > now)
            .map(|(s, _)| *s)
    }

    pub fn insert(&mut self, node: NodeId, status: StakeStatus, now: Instant) {
        if self.cfg.capacity == 0 {
            return;
        }
        if !self.entries.contains_key(&node) && self.entries.len() >= self.cfg.capacity {
            self.entries.retain(|_, (_, until)| *until > now);
            if self.entries.len() >= self.cfg.capacity
                && let Some(oldest) = self
                    .entries
                    .iter()
                    .min_by_key(|(_, (_, until))| *until)
                    .map(|(k, _)| *k)
            {
                self.entries.remove(&oldest);
            }
        }
        let ttl = match status {
            StakeStatus::Unregistered => self.cfg.negative_ttl,
            StakeStatus::Registered { .. } => self.cfg.ttl,
        };
        self.entries.insert(node, (status, now + ttl));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> NodeId {
        NodeId([n; 32])
    }

    #[test]
    fn cache_expires_and_stays_bounded() {
        let cfg = CacheConfig {
            capacity: 2,
            ttl: Duration::from_secs(10),
            negative_ttl: Duration::from_secs(1),
        };
        let mut c = StakeCache::new(cfg);
        let t0 = Instant::now();
        let reg = StakeStatus::Registered {
            standing: Standing::Active,
            stake: 5,
            tier: Some(0),
        };
        c.insert(id(1), reg, t0);
        c.insert(id(2), StakeStatus::Unregistered, t0);
        assert_eq!(c.get(&id(1), t0), Some(reg));
        // The negative answer expires first.
        assert_eq!(c.get(&id(2), t0 + Duration::from_secs(2)), None);
        assert_eq!(c.get(&id(1), t0 + Duration::from_secs(2)), Some(reg));
        c.insert(id(3), reg, t0 + Duration::from_secs(2));
        assert_eq!(c.len(), 2);
        c.insert(id(4), reg, t0 + Duration::from_secs(3));
        assert_eq!(c.len(), 2);
        assert_eq!(
            c.get(&id(1), t0 + Duration::from_secs(3)),
            None,
            "oldest evicted"
        );
        assert_eq!(c.get(&id(1), t0 + Duration::from_secs(11)), None);
    }

    #[tokio::test]
    async fn static_oracle_answers_and_fails_on_demand() {
        let o = StaticOracle::new();
        assert_eq!(o.stake_status(&id(1)).await, Ok(StakeStatus::Unregistered));
        o.set_unavailable(id(1));
        assert!(o.stake_status(&id(1)).await.is_err());
    }
}
