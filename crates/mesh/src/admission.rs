//! Admission of announcements: the checks a receiver runs before a record enters its
//! table of known nodes, with every drop counted by reason.
//!
//! Order of checks, cheapest first so junk costs little: size, strict decode and
//! signature ([`crate::record`]), freshness (stale past its TTL, or issued further in
//! the future than the clock skew allows), replay (sequence not newer than the one
//! held), per-node update rate, then either the stake oracle (compute, storage,
//! validator, or any node claiming a tier) or the relay rate limit (unstaked relays are
//! admitted but share a token bucket, so a Sybil swarm of free relay ids cannot flood
//! the table). The stake answer is checked again against the record when it arrives,
//! because the oracle is asynchronous and a newer record may have been admitted since.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use serde::Serialize;

use crate::{
    identity::NodeId,
    oracle::{StakeStatus, Standing},
    record::{RecordError, SignedAnnouncement},
};

/// Why an announcement was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropReason {
    Oversized,
    Malformed,
    /// Forged: the signature does not verify for the announced node id.
    BadSignature,
    /// Older than its TTL.
    Stale,
    /// Issued further in the future than the allowed clock skew.
    FromFuture,
    /// Sequence number not newer than the record already held.
    Replayed,
    /// The record was fetched under another node's key.
    KeyMismatch,
    Unregistered,
    Suspended,
    Banned,
    Unstaking,
    /// Claims a higher stake tier than the chain gives it.
    WrongTier,
    OracleUnavailable,
    RateLimited,
    /// Too many stake checks in flight.
    Overloaded,
    /// The node said GOODBYE; its records up to that point are not taken back.
    Departed,
}

impl DropReason {
    pub fn from_record_error(e: &RecordError) -> Self {
        match e {
            RecordError::Oversized { .. } => DropReason::Oversized,
            RecordError::BadSignature | RecordError::WrongSigner => DropReason::BadSignature,
            _ => DropReason::Malformed,
        }
    }
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        f.write_str(&s)
    }
}

/// Drops counted by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DropCounts {
    pub oversized: u64,
    pub malformed: u64,
    pub bad_signature: u64,
    pub stale: u64,
    pub from_future: u64,
    pub replayed: u64,
    pub key_mismatch: u64,
    pub unregistered: u64,
    pub suspended: u64,
    pub banned: u64,
    pub unstaking: u64,
    pub wrong_tier: u64,
    pub oracle_unavailable: u64,
    pub rate_limited: u64,
    pub overloaded: u64,
    pub departed: u64,
}

impl DropCounts {
    fn slot(&mut self, r: DropReason) -> &mut u64 {
        match r {
            DropReason::Oversized => &mut self.oversized,
            DropReason::Malformed => &mut self.malformed,
            DropReason::BadSignature => &mut self.bad_signature,
            DropReason::Stale => &mut self.stale,
            DropReason::FromFuture => &mut self.from_future,
            DropReason::Replayed => &mut self.replayed,
            DropReason::KeyMismatch => &mut self.key_mismatch,
            DropReason::Unregistered => &mut self.unregistered,
            DropReason::Suspended => &mut self.suspended,
            DropReason::Banned => &mut self.banned,
            DropReason::Unstaking => &mut self.unstaking,
            DropReason::WrongTier => &mut self.wrong_tier,
            DropReason::OracleUnavailable => &mut self.oracle_unavailable,
            DropReason::RateLimited => &mut self.rate_limited,
            DropReason::Overloaded => &mut self.overloaded,
            DropReason::Departed => &mut self.departed,
        }
    }

    pub fn bump(&mut self, r: DropReason) {
        *self.slot(r) += 1;
    }

    pub fn get(&self, r: DropReason) -> u64 {
        let mut c = self.clone();
        *c.slot(r)
    }

    pub fn total(&self) -> u64 {
        let v = serde_json::to_value(self).unwrap_or_default();
        v.as_object()
            .map(|m| m.values().filter_map(|x| x.as_u64()).sum())
            .unwrap_or(0)
    }
}

/// Tunables of admission.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
#[serde(default)]
pub struct AdmissionConfig {
    /// How far in the future `issued_at` may be (clocks differ).
    #[serde(with = "crate::config::secs")]
    pub max_clock_skew: Duration,
    /// A node's record is replaced at most this often.
    #[serde(with = "crate::config::secs")]
    pub min_update_interval: Duration,
    /// Unstaked relay records admitted per minute, all relays together…
    pub relay_per_minute: u32,
    /// …with bursts up to this many.
    pub relay_burst: u32,
    /// Most nodes held in the known table.
    pub max_known: usize,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            max_clock_skew: Duration::from_secs(60),
            min_update_interval: Duration::from_secs(5),
            relay_per_minute: 60,
            relay_burst: 20,
            max_known: 4_096,
        }
    }
}

/// A token bucket refilled continuously.
#[derive(Debug)]
struct TokenBucket {
    tokens: f64,
    burst: f64,
    per_sec: f64,
    last: Instant,
}

impl TokenBucket {
    fn new(per_minute: u32, burst: u32, now: Instant) -> Self {
        TokenBucket {
            tokens: f64::from(burst),
            burst: f64::from(burst),
            per_sec: f64::from(per_minute) / 60.0,
            last: now,
        }
    }

    fn take(&mut self, now: Instant) -> bool {
        let dt = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.per_sec).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// A node the receiver has admitted.
#[derive(Debug, Clone)]
pub struct KnownNode {
    pub signed: SignedAnnouncement,
    pub bytes: Vec<u8>,
    pub accepted_at: Instant,
    /// The oracle's answer, for nodes that needed one.
    pub stake: Option<StakeStatus>,
}

/// What the synchronous checks decided.
#[derive(Debug)]
pub enum Precheck {
    /// Exactly the record already held: nothing to do, nothing to count.
    Duplicate,
    /// Passed; ask the oracle before admitting.
    NeedsStake(SignedAnnouncement),
    /// An unstaked relay that passed its rate limit: admit now.
    Admit(SignedAnnouncement),
}

/// The receiver's admission state.
#[derive(Debug)]
pub struct Admission {
    cfg: AdmissionConfig,
    known: HashMap<NodeId, KnownNode>,
    /// Nodes that said GOODBYE, with the last sequence seen (bounded like `known`).
    departed: HashMap<NodeId, u64>,
    relay_bucket: TokenBucket,
    drops: DropCounts,
    accepted: u64,
}

impl Admission {
    pub fn new(cfg: AdmissionConfig, now: Instant) -> Self {
        Admission {
            relay_bucket: TokenBucket::new(cfg.relay_per_minute, cfg.relay_burst, now),
            cfg,
            known: HashMap::new(),
            departed: HashMap::new(),
            drops: DropCounts::default(),
            accepted: 0,
        }
    }

    /// Counts a drop decided elsewhere (oracle failures, overload).
    pub fn count_drop(&mut self, r: DropReason) {
        self.drops.bump(r);
    }

    pub fn drops(&self) -> &DropCounts {
        &self.drops
    }

    pub fn accepted(&self) -> u64 {
        self.accepted
    }

    pub fn known(&self) -> &HashMap<NodeId, KnownNode> {
        &self.known
    }

    pub fn get(&self, node: &NodeId) -> Option<&KnownNode> {
        self.known.get(node)
    }

    /// The synchronous checks. `expected` is the node id the record was looked up
    /// under, if any. Drops are counted here.
    pub fn precheck(
        &mut self,
        bytes: &[u8],
        expected: Option<&NodeId>,
        now_unix: u64,
        now: Instant,
    ) -> Result<Precheck, DropReason> {
        let r = self.precheck_inner(bytes, expected, now_unix, now);
        if let Err(reason) = r {
            self.drops.bump(reason);
        }
        r
    }

    fn precheck_inner(
        &mut self,
        bytes: &[u8],
        expected: Option<&NodeId>,
        now_unix: u64,
        now: Instant,
    ) -> Result<Precheck, DropReason> {
        let signed =
            SignedAnnouncement::decode(bytes).map_err(|e| DropReason::from_record_error(&e))?;
        let a = &signed.announcement;
        if expected.is_some_and(|e| *e != a.node_id) {
            return Err(DropReason::KeyMismatch);
        }
        if now_unix >= a.expires_at() {
            return Err(DropReason::Stale);
        }
        if a.issued_at > now_unix.saturating_add(self.cfg.max_clock_skew.as_secs()) {
            return Err(DropReason::FromFuture);
        }
        if self.departed.get(&a.node_id).is_some_and(|s| a.seq <= *s) {
            return Err(DropReason::Departed);
        }
        if let Some(k) = self.known.get(&a.node_id) {
            if k.bytes == bytes {
                return Ok(Precheck::Duplicate);
            }
            if a.seq <= k.signed.announcement.seq {
                return Err(DropReason::Replayed);
            }
            if now.saturating_duration_since(k.accepted_at) < self.cfg.min_update_interval {
                return Err(DropReason::RateLimited);
            }
        }
        if a.node_type.requires_stake() || a.tier.is_some() {
            return Ok(Precheck::NeedsStake(signed));
        }
        if !self.relay_bucket.take(now) {
            return Err(DropReason::RateLimited);
        }
        Ok(Precheck::Admit(signed))
    }

    /// Judges the oracle's answer against the record's claims (no side effects).
    pub fn judge_stake(
        signed: &SignedAnnouncement,
        status: &StakeStatus,
    ) -> Result<(), DropReason> {
        match status {
            StakeStatus::Unregistered => Err(DropReason::Unregistered),
            StakeStatus::Registered { standing, tier, .. } => {
                match standing {
                    Standing::Active => {}
                    Standing::Suspended => return Err(DropReason::Suspended),
                    Standing::Banned => return Err(DropReason::Banned),
                    Standing::Unstaking => return Err(DropReason::Unstaking),
                }
                match (signed.announcement.tier, tier) {
                    (Some(claimed), Some(actual)) if claimed <= *actual => Ok(()),
                    (None, _) => Ok(()),
                    _ => Err(DropReason::WrongTier),
                }
            }
        }
    }

    /// Admits a record that passed every check (counting the drop if it no longer does:
    /// a newer record may have been admitted while the oracle answered). Returns true if
    /// the node was not known before.
    pub fn admit(
        &mut self,
        signed: SignedAnnouncement,
        stake: Option<StakeStatus>,
        now: Instant,
    ) -> Result<bool, DropReason> {
        let id = signed.announcement.node_id;
        if let Some(k) = self.known.get(&id)
            && signed.announcement.seq <= k.signed.announcement.seq
        {
            if k.signed == signed {
                return Ok(false);
            }
            self.drops.bump(DropReason::Replayed);
            return Err(DropReason::Replayed);
        }
        let is_new = !self.known.contains_key(&id);
        if is_new && self.known.len() >= self.cfg.max_known {
            // Full: evict the record that expires first.
            if let Some(victim) = self
                .known
                .iter()
                .min_by_key(|(_, k)| k.signed.announcement.expires_at())
                .map(|(k, _)| *k)
            {
                self.known.remove(&victim);
            }
        }
        let bytes = signed.encode();
        self.known.insert(
            id,
            KnownNode {
                signed,
                bytes,
                accepted_at: now,
                stake,
            },
        );
        self.accepted += 1;
        Ok(is_new)
    }

    /// Forgets a node that said GOODBYE. Copies of its current record still in the DHT
    /// or in gossip are refused afterwards; a newer record (it came back) is admitted.
    pub fn depart(&mut self, node: &NodeId) -> Option<KnownNode> {
        let gone = self.known.remove(node);
        let seq = gone.as_ref().map_or(0, |k| k.signed.announcement.seq);
        if self.departed.len() >= self.cfg.max_known {
            self.departed.clear();
        }
        self.departed.insert(*node, seq);
        gone
    }

    /// Removes records past their TTL; returns the ids removed.
    pub fn prune(&mut self, now_unix: u64) -> Vec<NodeId> {
        let gone: Vec<NodeId> = self
            .known
            .iter()
            .filter(|(_, k)| now_unix >= k.signed.announcement.expires_at())
            .map(|(id, _)| *id)
            .collect();
        for id in &gone {
            self.known.remove(id);
        }
        gone
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        identity::NodeKey,
        record::{Announcement, NodeType, OnionKeys},
    };

    const NOW: u64 = 1_800_000_000;

    fn ann(key: &NodeKey, node_type: NodeType, tier: Option<u8>, seq: u64) -> Vec<u8> {
        Announcement {
            node_id: key.node_id(),
            node_type,
            tier,
            capabilities: vec!["wasm".into()],
            region: String::new(),
            onion: OnionKeys::default(),
            addresses: vec![],
            issued_at: NOW,
            ttl_secs: 600,
            seq,
        }
        .sign(key)
        .unwrap()
        .encode()
    }

    fn cfg() -> AdmissionConfig {
        AdmissionConfig {
            min_update_interval: Duration::ZERO,
            relay_burst: 2,
            relay_per_minute: 1,
            ..AdmissionConfig::default()
        }
    }

    #[test]
    fn replays_stale_and_future_records_are_dropped_and_counted() {
        let t = Instant::now();
        let mut adm = Admission::new(cfg(), t);
        let key = NodeKey::generate();
        let Precheck::Admit(s) = adm
            .precheck(&ann(&key, NodeType::Relay, None, 5), None, NOW, t)
            .unwrap()
        else {
            panic!("relay admitted without stake");
        };
        assert!(adm.admit(s, None, t).unwrap());
        let again = adm.precheck(&ann(&key, NodeType::Relay, None, 5), None, NOW, t);
        assert!(matches!(again, Ok(Precheck::Duplicate)));
        assert_eq!(
            adm.precheck(&ann(&key, NodeType::Relay, None, 4), None, NOW, t)
                .unwrap_err(),
            DropReason::Replayed
        );
        assert_eq!(
            adm.precheck(&ann(&key, NodeType::Relay, None, 9), None, NOW + 600, t)
                .unwrap_err(),
            DropReason::Stale
        );
        assert_eq!(
            adm.precheck(&ann(&key, NodeType::Relay, None, 9), None, NOW - 61, t)
                .unwrap_err(),
            DropReason::FromFuture
        );
        let other = NodeKey::generate().node_id();
        assert_eq!(
            adm.precheck(&ann(&key, NodeType::Relay, None, 9), Some(&other), NOW, t)
                .unwrap_err(),
            DropReason::KeyMismatch
        );
        let d = adm.drops();
        assert_eq!(
            (d.replayed, d.stale, d.from_future, d.key_mismatch),
            (1, 1, 1, 1)
        );
        assert_eq!(d.total(), 4);
        assert_eq!(adm.prune(NOW + 600), vec![key.node_id()]);
    }

    #[test]
    fn unstaked_relays_share_a_rate_limit() {
        let t = Instant::now();
        let mut adm = Admission::new(cfg(), t);
        for _ in 0..2 {
            let k = NodeKey::generate();
            assert!(matches!(
                adm.precheck(&ann(&k, NodeType::Relay, None, 1), None, NOW, t),
                Ok(Precheck::Admit(_))
            ));
        }
        let k = NodeKey::generate();
        assert_eq!(
            adm.precheck(&ann(&k, NodeType::Relay, None, 1), None, NOW, t)
                .unwrap_err(),
            DropReason::RateLimited
        );
        // One token a minute comes back.
        let later = t + Duration::from_secs(61);
        assert!(matches!(
            adm.precheck(&ann(&k, NodeType::Relay, None, 1), None, NOW, later),
            Ok(Precheck::Admit(_))
        ));
        // Staked types go to the oracle, not the bucket.
        assert!(matches!(
            adm.precheck(&ann(&k, NodeType::Compute, Some(0), 2), None, NOW, later),
            Ok(Precheck::NeedsStake(_))
        ));
    }

    #[test]
    fn stake_judgement_follows_the_registry() {
        let key = NodeKey::generate();
        let s = SignedAnnouncement::decode(&ann(&key, NodeType::Compute, Some(1), 1)).unwrap();
        let reg = |standing, tier| StakeStatus::Registered {
            standing,
            stake: 1,
            tier,
        };
        assert_eq!(
            Admission::judge_stake(&s, &reg(Standing::Active, Some(1))),
            Ok(())
        );
        assert_eq!(
            Admission::judge_stake(&s, &reg(Standing::Active, Some(3))),
            Ok(())
        );
        assert_eq!(
            Admission::judge_stake(&s, &reg(Standing::Active, Some(0))),
            Err(DropReason::WrongTier)
        );
        assert_eq!(
            Admission::judge_stake(&s, &reg(Standing::Active, None)),
            Err(DropReason::WrongTier)
        );
        assert_eq!(
            Admission::judge_stake(&s, &reg(Standing::Suspended, Some(1))),
            Err(DropReason::Suspended)
        );
        assert_eq!(
            Admission::judge_stake(&s, &reg(Standing::Banned, Some(1))),
            Err(DropReason::Banned)
        );
        assert_eq!(
            Admission::judge_stake(&s, &StakeStatus::Unregistered),
            Err(DropReason::Unregistered)
        );
    }
}
