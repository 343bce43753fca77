//! State the coordinator's replicas share: node reservations, rate limits, single-use ids
//! (JWT ids, request nonces) and leader leases for periodic work.
//!
//! Two implementations: [`redis::RedisShared`] for several replicas on one Redis, and
//! [`memory::MemoryShared`] for the single-replica embedded default. Nothing here is the
//! only copy of anything that must survive: Redis runs without persistence, so durable
//! facts (jobs, assignments, reputation updates) live in the database, and everything here
//! expires on its own.

use std::time::Duration;

use async_trait::async_trait;

pub mod memory;
pub mod redis;

/// Shared state could not be reached or answered nonsense. Callers fail closed: a request
/// that needs it is refused with `UNAVAILABLE` rather than served without the guard.
#[derive(Debug, thiserror::Error)]
pub enum SharedError {
    #[error("shared state (Redis) unavailable: {0}")]
    Unavailable(String),
    #[error("shared state answered unexpectedly: {0}")]
    Protocol(String),
}

/// A rate-limit decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    /// Hits counted in the window, including this one if it was allowed.
    pub count: u32,
    /// When a refused caller may try again (zero when allowed).
    pub retry_after: Duration,
}

/// The operations replicas share. Every key is namespaced by the implementation's prefix,
/// so tests (and deployments) can share one server.
#[async_trait]
pub trait SharedState: Send + Sync + 'static {
    /// Holds `key` for `holder` for `ttl` if nobody holds it. Returns whether `holder`
    /// now holds it (re-reserving a key one already holds refreshes the TTL and is true).
    async fn reserve(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, SharedError>;

    /// Extends `holder`'s hold on `key` to `ttl` from now; false if `holder` does not
    /// hold it (it expired or someone else has it).
    async fn extend(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, SharedError>;

    /// Releases `key` if `holder` holds it (compare-and-delete); true if it did.
    async fn release(&self, key: &str, holder: &str) -> Result<bool, SharedError>;

    /// Who holds `key` now.
    async fn holder(&self, key: &str) -> Result<Option<String>, SharedError>;

    /// Sliding-window rate limit: at most `limit` hits on `key` per `window`. A refused
    /// hit is not counted.
    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, SharedError>;

    /// Marks `id` used for `ttl`; false if it was already used (a replay).
    async fn use_once(&self, id: &str, ttl: Duration) -> Result<bool, SharedError>;

    /// Acquires or renews the lease `name` for `holder` for `ttl`. Returns the lease's
    /// fencing token while `holder` leads (the same token across renewals, a larger one
    /// for every new leader), `None` while someone else does.
    async fn lead(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<u64>, SharedError>;

    /// Gives up the lease `name` if `holder` has it.
    async fn resign(&self, name: &str, holder: &str) -> Result<(), SharedError>;

    /// Round trip to the store (readiness).
    async fn ping(&self) -> Result<(), SharedError>;
}
