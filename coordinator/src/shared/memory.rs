//! In-process shared state for the single-replica embedded deployment.
//!
//! [`MemoryShared`] implements [`SharedState`] with plain `HashMap`s behind one
//! `std::sync::Mutex`. No operation awaits while holding the lock, so a blocking mutex is
//! the right tool: critical sections are a few map operations long, and the guard never
//! crosses an `.await`.
//!
//! Expiry is measured with [`tokio::time::Instant`] rather than `std::time::Instant` so
//! tests can drive it with `tokio::time::pause()` / `advance()` instead of sleeping.
//!
//! # Memory bound
//!
//! Nothing is reaped by a background task. Every read treats an expired entry as absent
//! (and removes it when it is touched), and each map is swept of all expired entries when
//! it grows past its sweep threshold, after which the threshold is reset to
//! `max(MIN_SWEEP_THRESHOLD, 2 × live entries)`. So a map never holds more than
//! `max(MIN_SWEEP_THRESHOLD, 2 × the live entries at its last sweep) + 1` entries, and the
//! sweep's O(n) cost is paid at most once per n insertions (amortised O(1) per call).
//! The one exception is the per-lease fencing counters, which must outlive their leases to
//! stay monotonic; there is one per lease *name*, and lease names are a small fixed set
//! chosen by the coordinator's own code, not by clients.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::time::Instant;

use super::{RateDecision, SharedError, SharedState};

/// A map is not swept before it holds this many entries, so small maps never pay for
/// sweeping at all.
const MIN_SWEEP_THRESHOLD: usize = 1024;

/// Longest TTL or window honoured. Longer ones are clamped so `Instant + ttl` cannot
/// overflow (and panic); nothing the coordinator keeps here should live this long anyway.
const MAX_TTL: Duration = Duration::from_secs(10 * 365 * 24 * 60 * 60);

/// In-process [`SharedState`]: correct for exactly one coordinator replica.
#[derive(Default)]
pub struct MemoryShared {
    inner: Mutex<Inner>,
}

impl MemoryShared {
    pub fn new() -> MemoryShared {
        MemoryShared::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every critical section leaves the maps consistent before anything that could
        // panic, so state behind a poisoned lock is still sound: keep serving it rather
        // than turning one panic into a permanently failing coordinator.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for MemoryShared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.lock();
        f.debug_struct("MemoryShared")
            .field("reservations", &inner.holds.map.len())
            .field("rate_keys", &inner.rates.map.len())
            .field("used_ids", &inner.used.map.len())
            .field("leases", &inner.leases.map.len())
            .finish()
    }
}

#[derive(Default)]
struct Inner {
    /// Reservations: key → holder.
    holds: Expiring<Held>,
    /// Rate-limit logs: key → times of the counted hits.
    rates: Expiring<HitLog>,
    /// Single-use ids: id → when it may be forgotten.
    used: Expiring<Instant>,
    /// Leader leases: name → holder and fencing token.
    leases: Expiring<Lease>,
    /// Last fencing token issued per lease name. Never swept (see the module docs).
    fences: HashMap<String, u64>,
}

/// Entries that know when they stop mattering.
trait Expires {
    fn live(&self, now: Instant) -> bool;
}

struct Held {
    holder: String,
    expires: Instant,
}

impl Expires for Held {
    fn live(&self, now: Instant) -> bool {
        self.expires > now
    }
}

#[derive(Default)]
struct HitLog {
    window: Duration,
    /// Counted hits, oldest first. Refused hits are never pushed, so this holds at most
    /// `limit` entries (as of the latest limit used for the key).
    hits: VecDeque<Instant>,
}

impl HitLog {
    /// Drops hits that have left the window ending at `now`.
    fn slide(&mut self, now: Instant) {
        while let Some(&oldest) = self.hits.front() {
            if oldest + self.window <= now {
                self.hits.pop_front();
            } else {
                break;
            }
        }
    }
}

impl Expires for HitLog {
    fn live(&self, now: Instant) -> bool {
        // A log matters until its newest hit leaves the window.
        self.hits
            .back()
            .is_some_and(|&newest| newest + self.window > now)
    }
}

impl Expires for Instant {
    fn live(&self, now: Instant) -> bool {
        *self > now
    }
}

struct Lease {
    holder: String,
    token: u64,
    expires: Instant,
}

impl Expires for Lease {
    fn live(&self, now: Instant) -> bool {
        self.expires > now
    }
}

/// A map whose entries expire, swept lazily as described in the module docs.
struct Expiring<V> {
    map: HashMap<String, V>,
    sweep_at: usize,
}

impl<V> Default for Expiring<V> {
    fn default() -> Self {
        Expiring {
            map: HashMap::new(),
            sweep_at: MIN_SWEEP_THRESHOLD,
        }
    }
}

impl<V: Expires> Expiring<V> {
    /// The live entry for `key`; an expired one is removed and reported absent.
    fn live_mut(&mut self, key: &str, now: Instant) -> Option<&mut V> {
        if self.map.get(key).is_some_and(|v| !v.live(now)) {
            self.map.remove(key);
        }
        self.map.get_mut(key)
    }

    fn insert(&mut self, key: &str, value: V, now: Instant) {
        self.map.insert(key.to_owned(), value);
        self.maybe_sweep(now);
    }

    /// Called after anything that may have added an entry.
    fn maybe_sweep(&mut self, now: Instant) {
        if self.map.len() > self.sweep_at {
            self.map.retain(|_, v| v.live(now));
            // Doubling keeps the sweep amortised O(1) per insertion however many entries
            // are genuinely live.
            self.sweep_at = self.map.len().saturating_mul(2).max(MIN_SWEEP_THRESHOLD);
        }
    }
}

fn deadline(now: Instant, ttl: Duration) -> Instant {
    now + ttl.min(MAX_TTL)
}

/// Microseconds since the Unix epoch (at least 1), the floor for a new fencing token.
///
/// Tokens are not only a counter: a restarted coordinator has lost its counters, and a
/// fenced resource that remembers the last token it saw would reject every write from a
/// counter that restarted at 1. Seeding from the wall clock keeps tokens increasing across
/// restarts as long as the clock does not step back further than the time between them.
fn wall_clock_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
        .max(1)
}

#[async_trait]
impl SharedState for MemoryShared {
    async fn reserve(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.holds.live_mut(key, now) {
            Some(held) if held.holder == holder => {
                held.expires = deadline(now, ttl);
                Ok(true)
            }
            Some(_) => Ok(false),
            None => {
                let held = Held {
                    holder: holder.to_owned(),
                    expires: deadline(now, ttl),
                };
                inner.holds.insert(key, held, now);
                Ok(true)
            }
        }
    }

    async fn extend(&self, key: &str, holder: &str, ttl: Duration) -> Result<bool, SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.holds.live_mut(key, now) {
            Some(held) if held.holder == holder => {
                held.expires = deadline(now, ttl);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release(&self, key: &str, holder: &str) -> Result<bool, SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.holds.live_mut(key, now) {
            Some(held) if held.holder == holder => {
                inner.holds.map.remove(key);
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn holder(&self, key: &str) -> Result<Option<String>, SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        Ok(inner
            .holds
            .live_mut(key, now)
            .map(|held| held.holder.clone()))
    }

    async fn hit(
        &self,
        key: &str,
        limit: u32,
        window: Duration,
    ) -> Result<RateDecision, SharedError> {
        let now = Instant::now();
        let window = window.min(MAX_TTL);
        let mut inner = self.lock();
        let log = inner.rates.map.entry(key.to_owned()).or_default();
        // The window is the caller's, per call; hits already counted are judged against it.
        log.window = window;
        log.slide(now);
        let counted = u32::try_from(log.hits.len()).unwrap_or(u32::MAX);
        let decision = if counted < limit {
            log.hits.push_back(now);
            RateDecision {
                allowed: true,
                count: counted + 1,
                retry_after: Duration::ZERO,
            }
        } else {
            // The caller may try again once the oldest counted hit leaves the window; with
            // nothing counted (limit 0) there is no such hit, so a whole window.
            let retry_after = log.hits.front().map_or(window, |&oldest| {
                (oldest + window).saturating_duration_since(now)
            });
            RateDecision {
                allowed: false,
                count: counted,
                retry_after: retry_after.max(Duration::from_micros(1)),
            }
        };
        inner.rates.maybe_sweep(now);
        Ok(decision)
    }

    async fn use_once(&self, id: &str, ttl: Duration) -> Result<bool, SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.used.live_mut(id, now).is_some() {
            return Ok(false);
        }
        inner.used.insert(id, deadline(now, ttl), now);
        Ok(true)
    }

    async fn lead(
        &self,
        name: &str,
        holder: &str,
        ttl: Duration,
    ) -> Result<Option<u64>, SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        match inner.leases.live_mut(name, now) {
            Some(lease) if lease.holder == holder => {
                lease.expires = deadline(now, ttl);
                Ok(Some(lease.token))
            }
            Some(_) => Ok(None),
            None => {
                let floor = wall_clock_micros();
                let token = match inner.fences.get(name) {
                    Some(&last) => last.saturating_add(1).max(floor),
                    None => floor,
                };
                inner.fences.insert(name.to_owned(), token);
                let lease = Lease {
                    holder: holder.to_owned(),
                    token,
                    expires: deadline(now, ttl),
                };
                inner.leases.insert(name, lease, now);
                Ok(Some(token))
            }
        }
    }

    async fn resign(&self, name: &str, holder: &str) -> Result<(), SharedError> {
        let now = Instant::now();
        let mut inner = self.lock();
        if inner
            .leases
            .live_mut(name, now)
            .is_some_and(|lease| lease.holder == holder)
        {
            inner.leases.map.remove(name);
        }
        Ok(())
    }

    async fn ping(&self) -> Result<(), SharedError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Deterministic expiry and memory-bound checks on paused time; the behaviour shared
    //! with Redis is covered by `tests/shared_state.rs`.

    use super::*;
    use tokio::time::advance;

    #[tokio::test(start_paused = true)]
    async fn reservation_expires_exactly_at_ttl() {
        let s = MemoryShared::new();
        assert!(s.reserve("k", "a", Duration::from_secs(10)).await.unwrap());
        advance(Duration::from_millis(9_999)).await;
        assert_eq!(s.holder("k").await.unwrap().as_deref(), Some("a"));
        assert!(!s.reserve("k", "b", Duration::from_secs(10)).await.unwrap());
        advance(Duration::from_millis(1)).await;
        assert_eq!(s.holder("k").await.unwrap(), None);
        assert!(!s.extend("k", "a", Duration::from_secs(10)).await.unwrap());
        assert!(s.reserve("k", "b", Duration::from_secs(10)).await.unwrap());
    }

    #[tokio::test(start_paused = true)]
    async fn hit_window_slides() {
        let s = MemoryShared::new();
        let w = Duration::from_secs(10);
        assert_eq!(s.hit("k", 2, w).await.unwrap().count, 1);
        advance(Duration::from_secs(4)).await;
        assert_eq!(s.hit("k", 2, w).await.unwrap().count, 2);
        let refused = s.hit("k", 2, w).await.unwrap();
        assert_eq!(
            refused,
            RateDecision {
                allowed: false,
                count: 2,
                retry_after: Duration::from_secs(6),
            }
        );
        advance(Duration::from_secs(6)).await;
        // The first hit left the window; the second is still in it.
        assert_eq!(
            s.hit("k", 2, w).await.unwrap(),
            RateDecision {
                allowed: true,
                count: 2,
                retry_after: Duration::ZERO,
            }
        );
        let refused = s.hit("k", 2, w).await.unwrap();
        assert_eq!(refused.retry_after, Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn limit_zero_refuses_for_a_window() {
        let s = MemoryShared::new();
        let d = s.hit("k", 0, Duration::from_secs(3)).await.unwrap();
        assert_eq!(
            d,
            RateDecision {
                allowed: false,
                count: 0,
                retry_after: Duration::from_secs(3),
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn lease_token_grows_and_survives_expiry() {
        let s = MemoryShared::new();
        let ttl = Duration::from_secs(5);
        let t1 = s.lead("tick", "a", ttl).await.unwrap().unwrap();
        advance(Duration::from_secs(4)).await;
        assert_eq!(s.lead("tick", "a", ttl).await.unwrap(), Some(t1));
        advance(Duration::from_secs(5)).await;
        let t2 = s.lead("tick", "b", ttl).await.unwrap().unwrap();
        assert!(t2 > t1, "{t2} > {t1}");
        assert_eq!(s.lead("tick", "a", ttl).await.unwrap(), None);
        s.resign("tick", "b").await.unwrap();
        let t3 = s.lead("tick", "a", ttl).await.unwrap().unwrap();
        assert!(t3 > t2, "{t3} > {t2}");
    }

    #[tokio::test(start_paused = true)]
    async fn expired_entries_are_swept() {
        let s = MemoryShared::new();
        let ttl = Duration::from_secs(1);
        // Far more short-lived entries than the threshold, with time moving on so that
        // earlier ones are expired by the time the map is swept.
        for round in 0..20 {
            for i in 0..MIN_SWEEP_THRESHOLD {
                let key = format!("{round}-{i}");
                assert!(s.use_once(&key, ttl).await.unwrap());
                assert!(s.reserve(&key, "a", ttl).await.unwrap());
                assert!(s.hit(&key, 1, ttl).await.unwrap().allowed);
            }
            advance(Duration::from_secs(2)).await;
        }
        let inner = s.lock();
        // Live entries never exceed one round, so no map may exceed
        // max(threshold, 2 × one round) + 1.
        let bound = 2 * MIN_SWEEP_THRESHOLD + 1;
        assert!(inner.used.map.len() <= bound, "{}", inner.used.map.len());
        assert!(inner.holds.map.len() <= bound, "{}", inner.holds.map.len());
        assert!(inner.rates.map.len() <= bound, "{}", inner.rates.map.len());
    }

    #[tokio::test(start_paused = true)]
    async fn huge_ttl_does_not_overflow() {
        let s = MemoryShared::new();
        assert!(s.reserve("k", "a", Duration::MAX).await.unwrap());
        assert!(s.use_once("id", Duration::MAX).await.unwrap());
        assert!(s.hit("r", 1, Duration::MAX).await.unwrap().allowed);
        assert!(s.lead("l", "a", Duration::MAX).await.unwrap().is_some());
        advance(Duration::from_secs(365 * 24 * 60 * 60)).await;
        assert_eq!(s.holder("k").await.unwrap().as_deref(), Some("a"));
        assert!(!s.use_once("id", Duration::MAX).await.unwrap());
    }
}
