//! Jobs without the coordinator (issue 16; decisions 150 and 151).
//!
//! When the coordinator cannot be reached (or `[engine] discovery = "mesh"`), the engine
//! does what the coordinator would:
//!
//! 1. **Price**: the seed's list price for the job's hardware, duration and priority at
//!    the dearest tier adjustment (Bronze, +20 %), so any node's quote would be lower or
//!    equal; refused if above the user's `max_price` ([`list_price`]).
//! 2. **Find**: join the mesh as a client (an ephemeral key, never announced), ask the
//!    DHT for compute nodes with `[engine] capability` at the stake tier the price needs
//!    ([`Engine::discover`]). The mesh already verified each announcement's signature and
//!    the node's stake; the engine then applies `assign_node`'s own checks on chain
//!    ([`Engine::node_eligibility`]) and opens the node's job channel (pinned to the TLS
//!    key the signed announcement names) to see it answers. Candidates are ranked by
//!    region, reputation score and stake, ties in random order.
//! 3. **Escrow**: only once a candidate exists is the escrow funded (so an empty mesh
//!    costs nothing), under a job id the engine draws itself.
//! 4. **Assign**: wait until the chain's `user_assign_after_secs` window has passed since
//!    the escrow's creation, re-check the best candidate, `assign_node_by_user`; a node
//!    the program refuses passes the turn to the next candidate.
//! 5. **Upload** with a header signed by the wallet that owns the escrow
//!    ([`crate::NodeSession::upload_direct`]); the node checks the escrow on chain and
//!    accepts. From there the job runs exactly as with a coordinator.
//!
//! Funds are never stranded: any failure after funding comes back as
//! [`Error::Fallback`] (or [`Error::NoCandidates`] with `funded` set) saying where the
//! money is and how to get it back (`cyxwiz cancel`, or `timeout_refund` after the
//! escrow's timeout returns all of it).

use std::{
    net::IpAddr,
    sync::Arc,
    time::{Duration, Instant},
};

use cyxwiz_chain::{
    Pubkey,
    client::AppliedFuture,
    ix, pda,
    state::{
        Escrow, EscrowConfig, EscrowState, NodeAccount, NodeReputation, RegistryConfig,
        ReputationConfig,
    },
};
use cyxwiz_channel::discovery::ChannelContact;
use cyxwiz_mesh::{Mesh, MeshConfig, NodeKey, NodeRecord, chain_oracle::RegistryOracle};
use libp2p::{Multiaddr, multiaddr::Protocol};
use rand::seq::SliceRandom;
use solana_signer::Signer;

use crate::{
    Engine, Error, Event, JobId, JobSpec, NodeSession, Observer, Result, SessionOptions,
    engine::{Breakdown, Quote},
};

/// A node found on the mesh that passed the chain's checks and answered.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The operator wallet: the mesh node id, NodeRegistry's key and the escrow's node.
    pub owner: Pubkey,
    /// `https://host:port` of its job channel.
    pub endpoint: String,
    /// Its TLS key's fingerprint, from its signed announcement.
    pub fingerprint: [u8; 32],
    pub region: String,
    /// Base units staked.
    pub stake: u64,
    /// ReputationManager score.
    pub score: u16,
}

/// What the chain's programs say about assigning jobs now.
struct Terms {
    escrow: EscrowConfig,
    registry: RegistryConfig,
    reputation: ReputationConfig,
}

// ── price ────────────────────────────────────────────────────────────────────

/// Basis points.
const BPS: u128 = 10_000;
const MB_PER_GB: u128 = 1_024;
const SECS_PER_HOUR: u128 = 3_600;
const ONE: u128 = cyxwiz_common::units::ONE_CYXWIZ as u128;
/// The seed's tier adjustment for Bronze, the dearest tier (+20 %).
const DEAREST_TIER_BPS: u128 = BPS + 2_000;

/// The seed's list price ("Pricing Model", seed 002) of `spec` at the dearest tier
/// adjustment and the list ask: what the coordinator would quote for any node at most.
/// Resources per hour: CPU-only 0.5, consumer GPU 2, datacenter GPU 10 (per GPU), RAM
/// 0.1 per GB, VRAM 0.5 per GB per GPU; duration multipliers 1.0/0.9/0.8/0.7 for < 1 h,
/// ≤ 6 h, ≤ 24 h, longer; priority 0.8/1.0/1.5/2.0. The coordinator's `PriceList`
/// defaults are the reference; an end-to-end test checks the two agree.
pub fn list_price(spec: &JobSpec) -> u64 {
    let hw = &spec.hardware;
    let compute = if hw.gpu_count == 0 {
        ONE / 2
    } else {
        let per_gpu = if hw.datacenter_gpu { 10 * ONE } else { 2 * ONE };
        per_gpu * u128::from(hw.gpu_count)
    };
    let ram = ONE / 10 * u128::from(hw.ram_mb) / MB_PER_GB;
    let vram = ONE / 2 * u128::from(hw.vram_mb) * u128::from(hw.gpu_count) / MB_PER_GB;
    let hourly = compute + ram + vram;
    let secs = spec.estimated_secs;
    let duration: u128 = match secs {
        s if s < 3_600 => 10_000,
        s if s <= 6 * 3_600 => 9_000,
        s if s <= 24 * 3_600 => 8_000,
        _ => 7_000,
    };
    let priority: u128 = match spec.priority {
        cyxwiz_proto::v1::Priority::Low => 8_000,
        cyxwiz_proto::v1::Priority::High => 15_000,
        cyxwiz_proto::v1::Priority::Critical => 20_000,
        _ => 10_000,
    };
    let numerator = hourly * u128::from(secs) * duration * priority * DEAREST_TIER_BPS * BPS;
    let total = numerator
        .div_ceil(SECS_PER_HOUR * BPS * BPS * BPS * BPS)
        .max(1);
    u64::try_from(total).unwrap_or(u64::MAX)
}

// ── where a node's channel is ────────────────────────────────────────────────

/// The job channel endpoint for a node announcing `addresses` and `port`: the host of
/// its best direct address (public IPv4, public IPv6, private, loopback; relayed
/// addresses cannot carry the channel).
pub fn channel_endpoint(addresses: &[Multiaddr], port: u16) -> Option<String> {
    let rank = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) if v4.is_loopback() => 3,
        IpAddr::V4(v4) if v4.is_private() || v4.is_link_local() => 2,
        IpAddr::V4(_) => 0,
        IpAddr::V6(v6) if v6.is_loopback() => 3,
        IpAddr::V6(_) => 1,
    };
    addresses
        .iter()
        .filter(|a| !a.iter().any(|p| matches!(p, Protocol::P2pCircuit)))
        .filter_map(|a| {
            a.iter().find_map(|p| match p {
                Protocol::Ip4(ip) if !ip.is_unspecified() => Some(IpAddr::V4(ip)),
                Protocol::Ip6(ip) if !ip.is_unspecified() => Some(IpAddr::V6(ip)),
                _ => None,
            })
        })
        .min_by_key(rank)
        .map(|ip| match ip {
            IpAddr::V4(v4) => format!("https://{v4}:{port}"),
            IpAddr::V6(v6) => format!("https://[{v6}]:{port}"),
        })
}

/// The name of a program error (`HeartbeatStale`), or its text.
fn program_error(e: anchor_lang::error::Error) -> String {
    match e {
        anchor_lang::error::Error::AnchorError(a) => a.error_name.clone(),
        other => other.to_string(),
    }
}

/// Orders candidates best first: the requested region, then reputation, then stake;
/// equals keep the random order they came in (so engines do not all pick one node).
fn rank(candidates: &mut [Candidate], region: &str) {
    candidates.shuffle(&mut rand::thread_rng());
    candidates.sort_by_key(|c| {
        (
            !(region.is_empty() || c.region == region),
            std::cmp::Reverse(c.score),
            std::cmp::Reverse(c.stake),
        )
    });
}

impl Engine {
    async fn terms(&self) -> Result<Terms> {
        let chain = self.chain();
        Ok(Terms {
            escrow: chain.account(&pda::escrow_config()).await?,
            registry: chain.account(&pda::registry_config()).await?,
            reputation: chain.account(&pda::reputation_config()).await?,
        })
    }

    /// Whether `owner`'s node may be assigned a job paying `amount` now, by the checks
    /// `assign_node` makes on chain (NodeRegistry standing, heartbeat, stake for the
    /// job's size; the ReputationManager tier cap). `Ok(Err(reason))` is a refusal;
    /// `Err` is a chain that could not be read.
    pub async fn node_eligibility(
        &self,
        owner: &Pubkey,
        amount: u64,
    ) -> Result<std::result::Result<(u64, u16), String>> {
        let terms = self.terms().await?;
        self.eligibility(&terms, owner, amount).await
    }

    async fn eligibility(
        &self,
        terms: &Terms,
        owner: &Pubkey,
        amount: u64,
    ) -> Result<std::result::Result<(u64, u16), String>> {
        let chain = self.chain();
        let Some(node) = chain.try_account::<NodeAccount>(&pda::node(owner)).await? else {
            return Ok(Err("not registered in NodeRegistry".into()));
        };
        let now = chain.unix_time().await?;
        if let Err(e) = node.check_eligible(now, &terms.registry.params, amount) {
            return Ok(Err(program_error(e)));
        }
        let Some(rep) = chain
            .try_account::<NodeReputation>(&pda::node_reputation(owner))
            .await?
        else {
            return Ok(Err("no ReputationManager account".into()));
        };
        let params = &terms.reputation.params;
        let tier = params.tier_for(rep.score);
        let cap = params.tier_max_job_amount[tier.index()];
        if amount > cap {
            return Ok(Err(format!(
                "reputation tier {tier:?} takes jobs up to {cap} base units"
            )));
        }
        Ok(Ok((node.stake, rep.score)))
    }

    /// The NodeRegistry stake tier (the mesh's tier index) a job paying `amount` needs.
    fn stake_tier_for(terms: &Terms, amount: u64) -> u8 {
        terms
            .registry
            .params
            .stake_tiers
            .iter()
            .position(|t| amount <= t.max_job_amount)
            .unwrap_or(terms.registry.params.stake_tiers.len() - 1) as u8
    }

    /// Joins the mesh as a client, asks the DHT for compute nodes offering `capability`
    /// at stake tier `min_tier` or higher, and leaves. Bounded by
    /// `[engine] discovery_timeout_secs`; an empty answer is asked again (provider
    /// records spread through the DHT) until then.
    pub async fn find_on_mesh(&self, capability: &str, min_tier: u8) -> Result<Vec<NodeRecord>> {
        let net = &self.config().network;
        let mut bootstrap = Vec::new();
        for a in &net.bootstrap {
            bootstrap.push(a.parse::<Multiaddr>().map_err(|e| {
                Error::Config(format!("[network] bootstrap {a:?} is not a multiaddr: {e}"))
            })?);
        }
        if bootstrap.is_empty() && !net.mdns {
            return Err(Error::Config(
                "[network] has no bootstrap peers and mdns is off: the engine cannot join the mesh"
                    .into(),
            ));
        }
        // A client: it dials out and never listens, announces or relays.
        let cfg = MeshConfig {
            listen: Vec::new(),
            bootstrap,
            mdns: net.mdns,
            private_networks: net.private_networks,
            reachable: false,
            query_timeout: Duration::from_secs(net.query_timeout.max(1)),
            ..MeshConfig::default()
        };
        let oracle = Arc::new(RegistryOracle::new(self.chain().clone()));
        let (mesh, events) = Mesh::spawn(NodeKey::generate(), cfg, oracle)
            .await
            .map_err(|e| Error::Mesh(e.to_string()))?;
        let timeout = Duration::from_secs(self.config().engine.discovery_timeout_secs);
        let found = search(&mesh, capability, min_tier, timeout).await;
        let _ = tokio::time::timeout(Duration::from_secs(3), mesh.shutdown()).await;
        drop(events);
        found
    }

    /// Finds nodes for a job paying `amount`: on the mesh, then through the chain's
    /// checks and a probe of each node's job channel, best first (at most
    /// `[engine] max_candidates` are checked). Each comes with its open session.
    pub async fn discover(
        &self,
        spec: &JobSpec,
        amount: u64,
    ) -> Result<Vec<(Candidate, NodeSession)>> {
        let terms = self.terms().await?;
        let min_tier = Self::stake_tier_for(&terms, amount);
        let capability = self.config().engine.capability.clone();
        let mut records = self.find_on_mesh(&capability, min_tier).await?;
        let found = records.len();
        records.shuffle(&mut rand::thread_rng());
        records.truncate(self.config().engine.max_candidates);
        let mut rejected = Vec::new();
        let mut passed = Vec::new();
        for rec in &records {
            let a = &rec.announcement;
            let owner = Pubkey::new_from_array(a.node_id.0);
            let Some(contact) = ChannelContact::from_capabilities(&a.capabilities) else {
                rejected.push(format!("{owner}: announces no job channel"));
                continue;
            };
            let Some(endpoint) = channel_endpoint(&a.addresses, contact.port) else {
                rejected.push(format!("{owner}: announces no direct IP address"));
                continue;
            };
            match self.eligibility(&terms, &owner, amount).await? {
                Ok((stake, score)) => passed.push(Candidate {
                    owner,
                    endpoint,
                    fingerprint: contact.fingerprint,
                    region: a.region.clone(),
                    stake,
                    score,
                }),
                Err(reason) => rejected.push(format!("{owner}: {reason}")),
            }
        }
        rank(&mut passed, &spec.region);
        let mut out = Vec::new();
        let options = SessionOptions {
            // A probe, not a job: a node slower than this to answer is passed over.
            connect_timeout: self
                .session_options()
                .connect_timeout
                .min(Duration::from_secs(5)),
            ..self.session_options()
        };
        for c in passed {
            match NodeSession::connect(&c.endpoint, c.fingerprint, self.wallet_arc(), options).await
            {
                Ok(session) => out.push((c, session)),
                Err(e) => rejected.push(format!(
                    "{}: does not answer at {}: {e}",
                    c.owner, c.endpoint
                )),
            }
        }
        if out.is_empty() {
            return Err(Error::NoCandidates {
                capability,
                min_tier,
                found,
                rejected,
                funded: String::new(),
            });
        }
        for r in &rejected {
            tracing::info!(candidate = %r, "candidate passed over");
        }
        Ok(out)
    }

    /// Where a funded escrow's money is and how to get it back, for error messages.
    pub async fn escrow_remedy(&self, job_id: &JobId) -> (String, String) {
        let job = hex::encode(job_id);
        match self.escrow(job_id).await {
            Ok(Some(e)) => {
                let state = crate::engine::escrow_state_name(&e.state);
                let remedy = match e.state {
                    EscrowState::Locked => format!(
                        "no node is assigned; `cyxwiz cancel {job}` returns 90 % now (the cancellation fee goes to the treasury), or `timeout_refund` returns all of it after the escrow's timeout (unix {})",
                        e.timeout_at
                    ),
                    EscrowState::Assigned => format!(
                        "node {} never accepted; `cyxwiz cancel {job}` returns 90 % now (the fee goes to that node), or `timeout_refund` returns all of it after the escrow's timeout (unix {})",
                        e.node, e.timeout_at
                    ),
                    EscrowState::InProgress => format!(
                        "the node accepted; follow it with `cyxwiz status {job}`, or `cyxwiz refund {job}` settles it by anchored progress"
                    ),
                    _ => "nothing to recover".into(),
                };
                (state, remedy)
            }
            Ok(None) => ("gone".into(), "no escrow exists for this job".into()),
            Err(e) => (
                "unknown".into(),
                format!("the chain could not be read ({e}); check with `cyxwiz status {job}`"),
            ),
        }
    }

    /// The error for a coordinator-less run that failed after funding `job_id`.
    pub(crate) async fn fallback_error(&self, job_id: &JobId, reason: &Error) -> Error {
        let (state, remedy) = self.escrow_remedy(job_id).await;
        Error::Fallback {
            job: hex::encode(job_id),
            state,
            reason: reason.to_string(),
            remedy,
        }
    }

    /// The offer for `spec` without a coordinator: the list price ([`list_price`]), as a
    /// [`Quote`] with no node yet.
    pub async fn direct_quote(&self, spec: &JobSpec, job_id: JobId) -> Result<Quote> {
        let price = list_price(spec);
        if price > spec.max_price {
            return Err(Error::OverBudget {
                price,
                max: spec.max_price,
            });
        }
        let mint = self.addresses().await?.mint;
        Ok(Quote {
            job_id,
            node_owner: String::new(),
            node_endpoint: String::new(),
            price,
            breakdown: Breakdown {
                total: price,
                ..Breakdown::default()
            },
            escrow_deadline: 0,
            escrow_address: pda::escrow(&job_id).to_string(),
            mint: mint.to_string(),
            epochs: spec.epochs,
        })
    }

    /// Checks, before anything is paid, that the chain's assignment window fits the
    /// engine's patience; returns the window in seconds.
    pub async fn assign_window(&self) -> Result<i64> {
        let cfg: EscrowConfig = self.chain().account(&pda::escrow_config()).await?;
        let window = cfg.params.user_assign_after_secs;
        let max = self.config().engine.max_assign_wait_secs;
        if window > i64::try_from(max).unwrap_or(i64::MAX) {
            return Err(Error::AssignWindowTooLong { window, max });
        }
        if cfg.paused {
            return Err(Error::Invalid(
                "JobEscrow is paused: no escrow can be assigned now (nothing was paid)".into(),
            ));
        }
        Ok(window)
    }

    /// Waits for the escrow's `user_assign_after_secs` window, then assigns the first
    /// candidate that still passes the checks (`assign_node_by_user`). Returns it, its
    /// session and the transaction (empty if an earlier attempt had landed).
    pub async fn assign_by_user(
        &self,
        job_id: &JobId,
        amount: u64,
        candidates: Vec<(Candidate, NodeSession)>,
        observer: &mut dyn Observer,
    ) -> Result<(Candidate, NodeSession, String)> {
        let chain = self.chain();
        let escrow: Escrow = chain.account(&pda::escrow(job_id)).await?;
        let terms = self.terms().await?;
        let from = escrow
            .created_at
            .saturating_add(terms.escrow.params.user_assign_after_secs);
        // Bounded by the window itself (checked against max_assign_wait_secs before the
        // escrow was funded), with a minute's slack for the cluster clock.
        let give_up = Instant::now()
            + Duration::from_secs(self.config().engine.max_assign_wait_secs.saturating_add(60));
        let mut told = None::<Instant>;
        loop {
            let now = chain.unix_time().await?;
            if now >= from {
                break;
            }
            let left = u64::try_from(from - now).unwrap_or(0);
            if told.is_none_or(|t| t.elapsed() >= Duration::from_secs(30)) {
                observer.event(Event::WaitingToAssign { secs: left });
                told = Some(Instant::now());
            }
            if Instant::now() > give_up {
                return Err(Error::Timeout {
                    what: "waiting for the chain's user assignment window".into(),
                    secs: self.config().engine.max_assign_wait_secs,
                });
            }
            tokio::time::sleep(Duration::from_secs(left.clamp(1, 5))).await;
        }
        let user = self.wallet().pubkey();
        let mut rejected = Vec::new();
        let total = candidates.len();
        for (c, session) in candidates {
            if let Err(reason) = self.eligibility(&terms, &c.owner, amount).await? {
                rejected.push(format!("{}: {reason}", c.owner));
                continue;
            }
            let (id, node) = (*job_id, c.owner);
            let applied = move |client: cyxwiz_chain::client::ChainClient| {
                Box::pin(async move {
                    Ok(client
                        .try_account::<Escrow>(&pda::escrow(&id))
                        .await?
                        .is_some_and(|e| e.node == node && e.state != EscrowState::Locked))
                }) as AppliedFuture
            };
            let sent = chain
                .send_idempotent(
                    &[ix::escrow::assign_node_by_user(&user, *job_id, &c.owner)],
                    &[],
                    &applied,
                )
                .await;
            match sent {
                Ok(out) => {
                    let signature = out
                        .sent()
                        .map(|s| s.signature.to_string())
                        .unwrap_or_default();
                    return Ok((c, session, signature));
                }
                Err(e) => {
                    tracing::warn!(node = %c.owner, error = %e, "assign_node_by_user refused; trying the next candidate");
                    rejected.push(format!("{}: {e}", c.owner));
                }
            }
        }
        let (_, remedy) = self.escrow_remedy(job_id).await;
        Err(Error::NoCandidates {
            capability: self.config().engine.capability.clone(),
            min_tier: Self::stake_tier_for(&terms, amount),
            found: total,
            rejected,
            funded: format!("the escrow is funded: {remedy}"),
        })
    }
}

/// Waits for a first peer, then asks for providers until some are found or `timeout`.
async fn search(
    mesh: &Mesh,
    capability: &str,
    min_tier: u8,
    timeout: Duration,
) -> Result<Vec<NodeRecord>> {
    let deadline = tokio::time::Instant::now() + timeout;
    let stopped = |e: cyxwiz_mesh::MeshError| Error::Mesh(e.to_string());
    while mesh.peers().await.map_err(stopped)?.is_empty() {
        if tokio::time::Instant::now() >= deadline {
            return Err(Error::Mesh(format!(
                "no mesh peer answered within {} s (check [network] bootstrap)",
                timeout.as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, mesh.find_compute(capability, min_tier)).await {
            Ok(Ok(found)) if !found.is_empty() => return Ok(found),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "provider search failed"),
            Err(_) => return Ok(Vec::new()),
        }
        if tokio::time::Instant::now() + Duration::from_secs(1) >= deadline {
            return Ok(Vec::new());
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(owner: u8, region: &str, score: u16, stake: u64) -> Candidate {
        Candidate {
            owner: Pubkey::new_from_array([owner; 32]),
            endpoint: String::new(),
            fingerprint: [0; 32],
            region: region.into(),
            stake,
            score,
        }
    }

    #[test]
    fn candidates_rank_by_region_then_reputation_then_stake() {
        let mut c = vec![
            cand(1, "us", 900, 10),
            cand(2, "eu", 100, 10),
            cand(3, "eu", 500, 5),
            cand(4, "eu", 500, 50),
        ];
        rank(&mut c, "eu");
        let order: Vec<u8> = c.iter().map(|c| c.owner.to_bytes()[0]).collect();
        assert_eq!(order, vec![4, 3, 2, 1]);
        rank(&mut c, "");
        assert_eq!(c[0].owner.to_bytes()[0], 1, "no region: reputation first");
    }

    #[test]
    fn the_channel_is_reached_at_the_best_direct_address() {
        let addrs: Vec<Multiaddr> = [
            "/ip4/127.0.0.1/tcp/4001",
            "/ip4/10.0.0.5/tcp/4001",
            "/ip4/203.0.113.9/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN/p2p-circuit",
            "/ip4/198.51.100.7/udp/4001/quic-v1",
        ]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
        assert_eq!(
            channel_endpoint(&addrs, 7443).as_deref(),
            Some("https://198.51.100.7:7443")
        );
        assert_eq!(
            channel_endpoint(&addrs[..2], 7443).as_deref(),
            Some("https://10.0.0.5:7443")
        );
        let v6: Multiaddr = "/ip6/2001:db8::1/tcp/4001".parse().unwrap();
        assert_eq!(
            channel_endpoint(&[v6], 9).as_deref(),
            Some("https://[2001:db8::1]:9")
        );
        let any: Multiaddr = "/ip4/0.0.0.0/tcp/4001".parse().unwrap();
        assert_eq!(channel_endpoint(&[any], 9), None);
        assert_eq!(channel_endpoint(&addrs[2..3], 9), None, "relayed only");
    }

    #[test]
    fn the_list_price_follows_the_seed() {
        let mut spec = JobSpec::new(b"\0asm".to_vec(), vec![1], 1, u64::MAX);
        // CPU-only with 512 MB: 0.5 + 0.05 per hour; one hour at normal priority,
        // duration 0.9 (1 h counts as 1–6 h), Bronze +20 %.
        spec.estimated_secs = 3_600;
        let per_hour = ONE / 2 + ONE / 20;
        let want = (per_hour * 9 * 12 / 100) as u64;
        assert_eq!(list_price(&spec), want);
        spec.priority = cyxwiz_proto::v1::Priority::Critical;
        assert_eq!(list_price(&spec), want * 2);
        // Never free.
        spec.estimated_secs = 0;
        assert_eq!(list_price(&spec), 1);
    }
}
