//! The coordinator's behaviour behind the gRPC and REST edges: matching and reservation,
//! escrow confirmation, credentials, node registration and reports.
//!
//! Every operation is safe with several replicas on one database and one shared state:
//! a node slot is held first in shared state (fast path) and then by a partial unique
//! index in the database (authoritative); state changes are compare-and-set.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use cyxwiz_chain::{Pubkey, pda, state::ReputationConfig};
use cyxwiz_proto::{auth::now_ms, v1};
use tokio::sync::{RwLock, Semaphore};

use crate::{
    config::Config,
    error::AppError,
    gateway::{EscrowExpectation, Gateway, VerifyError},
    jwt::Jwt,
    scheduler::{self, Candidate, ChainRules, Policy},
    shared::SharedState,
    store::{ChainStatus, Confirmation, JobRecord, NodeRecord, Store, StoreError},
    types::{Hardware, JobConfig, JobId, JobState},
};

/// How often nodes are asked to heartbeat (a quarter of the health window).
pub fn heartbeat_interval_ms(cfg: &Config) -> i64 {
    (cfg.matching.health_window_secs as i64 * 1_000 / 4).max(1_000)
}

/// The replicas' shared key for a node slot's reservation.
pub fn slot_key(owner: &str, slot: u32) -> String {
    format!("slot:{owner}:{slot}")
}

/// The node set as this replica last loaded it (shared by all requests; slots this
/// replica reserves since are marked in place).
#[derive(Debug, Default)]
struct NodeCache {
    candidates: Arc<Vec<Candidate>>,
    loaded: Option<Instant>,
}

/// The chain clock, estimated from one reading and this machine's monotonic clock (the
/// scheduler needs it per request; an RPC per request would be too slow).
#[derive(Debug, Clone, Copy)]
struct ChainClock {
    chain_secs: i64,
    at: Instant,
}

/// The coordinator. Shared by all handlers of one replica.
pub struct Coordinator {
    pub cfg: Config,
    pub store: Store,
    pub shared: Arc<dyn SharedState>,
    pub gateway: Gateway,
    pub jwt: Jwt,
    pub replica_id: String,
    policy: Policy,
    rules: RwLock<(ChainRules, ReputationConfig)>,
    cache: Mutex<NodeCache>,
    reload: tokio::sync::Mutex<()>,
    clock: Mutex<ChainClock>,
    watch_slots: Arc<Semaphore>,
    node_refresh: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator")
            .field("replica_id", &self.replica_id)
            .field("store", &self.store.backend())
            .finish()
    }
}

impl Coordinator {
    /// Builds the coordinator and reads the chain's rules (fails if the chain is not
    /// reachable or not deployed).
    pub async fn new(
        cfg: Config,
        store: Store,
        shared: Arc<dyn SharedState>,
        gateway: Gateway,
        jwt: Jwt,
    ) -> Result<Coordinator, AppError> {
        let rules = gateway
            .rules()
            .await
            .map_err(|e| AppError::Unavailable(format!("cannot read the programs' rules: {e}")))?;
        let chain_secs = gateway
            .chain_time()
            .await
            .map_err(|e| AppError::Unavailable(format!("cannot read the chain clock: {e}")))?;
        let policy = Policy {
            weights: cfg.matching.weights,
            health_window_ms: cfg.matching.health_window_secs as i64 * 1_000,
            chain_heartbeat_margin_secs: cfg.api.reservation_secs as i64,
            top_k: cfg.matching.top_k,
            max_candidates: cfg.matching.max_candidates,
            prices: cfg.matching.prices,
        };
        Ok(Coordinator {
            watch_slots: Arc::new(Semaphore::new(cfg.api.max_watchers)),
            node_refresh: std::sync::atomic::AtomicBool::new(false),
            replica_id: format!("replica-{}", uuid::Uuid::new_v4().simple()),
            cfg,
            store,
            shared,
            gateway,
            jwt,
            policy,
            rules: RwLock::new(rules),
            cache: Mutex::new(NodeCache::default()),
            reload: tokio::sync::Mutex::new(()),
            clock: Mutex::new(ChainClock {
                chain_secs,
                at: Instant::now(),
            }),
        })
    }

    // ── chain views ──────────────────────────────────────────────────────

    /// The chain clock now (estimated).
    pub fn chain_now(&self) -> i64 {
        let c = *self.clock.lock().unwrap_or_else(|p| p.into_inner());
        c.chain_secs + c.at.elapsed().as_secs() as i64
    }

    /// Re-reads the chain clock and the programs' rules.
    pub async fn refresh_chain(&self) -> Result<(), AppError> {
        let secs = self
            .gateway
            .chain_time()
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        *self.clock.lock().unwrap_or_else(|p| p.into_inner()) = ChainClock {
            chain_secs: secs,
            at: Instant::now(),
        };
        let rules = self
            .gateway
            .rules()
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        *self.rules.write().await = rules;
        Ok(())
    }

    pub async fn reputation_config(&self) -> ReputationConfig {
        self.rules.read().await.1.clone()
    }

    /// Re-reads every node's standing from chain into the database.
    pub async fn refresh_nodes(&self) -> Result<usize, AppError> {
        let nodes = self.store.nodes().await?;
        let owners: Vec<Pubkey> = nodes.iter().filter_map(|n| n.owner.parse().ok()).collect();
        let rep = self.reputation_config().await;
        let views = self
            .gateway
            .node_views(&owners, &rep, self.chain_now(), now_ms())
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?;
        for (owner, view) in owners.iter().zip(views) {
            self.store
                .update_node_chain(&owner.to_string(), &view)
                .await?;
        }
        Ok(owners.len())
    }

    /// The node set, reloaded from the database when older than the refresh period (by
    /// one request at a time; the others use the current snapshot meanwhile).
    async fn candidates(&self) -> Result<Arc<Vec<Candidate>>, AppError> {
        let period = Duration::from_millis(self.cfg.matching.cache_refresh_ms);
        let (snapshot, fresh) = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            (
                cache.candidates.clone(),
                cache.loaded.is_some_and(|t| t.elapsed() < period),
            )
        };
        if fresh {
            return Ok(snapshot);
        }
        let Ok(_reloading) = self.reload.try_lock() else {
            // Another request is reloading: use what we have unless we have nothing.
            if !snapshot.is_empty() {
                return Ok(snapshot);
            }
            let _wait = self.reload.lock().await;
            return Ok(self
                .cache
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .candidates
                .clone());
        };
        let nodes = self.store.nodes().await?;
        let mut busy: std::collections::HashMap<String, Vec<u32>> =
            std::collections::HashMap::new();
        for (owner, slot) in self.store.active_slots().await? {
            busy.entry(owner).or_default().push(slot);
        }
        let candidates: Arc<Vec<Candidate>> = Arc::new(
            nodes
                .into_iter()
                .map(|node| {
                    let slots = busy.remove(&node.owner).unwrap_or_default();
                    Candidate::new(node, &slots)
                })
                .collect(),
        );
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache.candidates = candidates.clone();
        cache.loaded = Some(Instant::now());
        Ok(candidates)
    }

    /// Asks the leader to re-read node standing from chain soon.
    pub fn schedule_node_refresh(&self) {
        self.node_refresh
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// Whether a node refresh was asked for (and clears the request).
    pub fn take_node_refresh(&self) -> bool {
        self.node_refresh
            .swap(false, std::sync::atomic::Ordering::Relaxed)
    }

    /// The scheduler's inputs, for re-matching.
    pub(crate) async fn match_inputs(&self) -> Result<(Arc<Vec<Candidate>>, ChainRules), AppError> {
        Ok((self.candidates().await?, self.rules.read().await.0.clone()))
    }

    pub(crate) fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Forgets the cached node set (after registrations, in tests).
    pub fn invalidate_cache(&self) {
        self.cache.lock().unwrap_or_else(|p| p.into_inner()).loaded = None;
    }

    // ── engine side ──────────────────────────────────────────────────────

    /// Authenticated-caller checks common to every call: per-wallet request rate and
    /// nonce single use.
    pub async fn admit(&self, wallet: &Pubkey, nonce: &[u8; 16]) -> Result<(), AppError> {
        let skew = Duration::from_secs(self.cfg.api.max_clock_skew_secs * 2 + 1);
        if !self
            .shared
            .use_once(&format!("nonce:{wallet}:{}", hex::encode(nonce)), skew)
            .await?
        {
            tracing::warn!(%wallet, "replayed request nonce");
            return Err(AppError::Unauthenticated(
                "request replayed (nonce already used)".into(),
            ));
        }
        let d = self
            .shared
            .hit(
                &format!("req:{wallet}"),
                self.cfg.api.requests_per_wallet_per_minute,
                Duration::from_secs(60),
            )
            .await?;
        if !d.allowed {
            return Err(AppError::RateLimited {
                message: format!(
                    "too many requests from this wallet (limit {} per minute)",
                    self.cfg.api.requests_per_wallet_per_minute
                ),
                retry_after_secs: d.retry_after.as_secs().max(1),
            });
        }
        Ok(())
    }

    /// Phase 1, steps 2–5: validates the job, matches and reserves a node, quotes.
    pub async fn submit_job(
        &self,
        engine: &Pubkey,
        wire: &v1::JobConfig,
    ) -> Result<v1::NodeAssignmentReady, AppError> {
        let config = JobConfig::from_wire(wire, &self.cfg.limits.job_limits())
            .map_err(AppError::InvalidArgument)?;
        let limit = self.cfg.api.jobs_per_wallet_per_day;
        let d = self
            .shared
            .hit(
                &format!("jobs:{engine}"),
                limit,
                Duration::from_secs(86_400),
            )
            .await?;
        if !d.allowed {
            return Err(AppError::RateLimited {
                message: format!("job limit reached: {limit} jobs per wallet per day"),
                retry_after_secs: d.retry_after.as_secs().max(1),
            });
        }
        let candidates = self.candidates().await?;
        let choices = {
            let rules = self.rules.read().await;
            scheduler::choose(
                &self.policy,
                &rules.0,
                &config,
                &candidates,
                now_ms(),
                self.chain_now(),
                &mut rand::thread_rng(),
            )
        };
        let choices = choices.map_err(|why| {
            if why.busy > 0 {
                AppError::ResourceExhausted(why.to_string())
            } else {
                AppError::FailedPrecondition(why.to_string())
            }
        })?;
        let id = JobId::random();
        let now = now_ms();
        let reservation = self.cfg.reservation();
        for choice in &choices {
            let cand = &candidates[choice.index];
            let node = &cand.node;
            // Each slot is claimed in this replica's snapshot first (atomic), then in
            // shared state, then in the database; losing any stage moves to the next slot.
            while let Some(slot) = cand.claim_slot() {
                let key = slot_key(&node.owner, slot);
                if !self.shared.reserve(&key, &id.hex(), reservation).await? {
                    continue;
                }
                let job = JobRecord::reserved(
                    id,
                    engine.to_string(),
                    config.clone(),
                    choice.quote.total,
                    node.owner.clone(),
                    now + reservation.as_millis() as i64,
                    now,
                );
                match self.store.create_reserved_job(&job, slot).await {
                    Ok(()) => {}
                    Err(StoreError::Conflict(_)) => {
                        // Another replica holds the slot in the database (e.g. its shared
                        // hold expired): the database wins.
                        let _ = self.shared.release(&key, &id.hex()).await;
                        continue;
                    }
                    Err(e) => {
                        let _ = self.shared.release(&key, &id.hex()).await;
                        return Err(e.into());
                    }
                }
                metrics::counter!("cyxwiz_jobs_submitted_total").increment(1);
                let q = choice.quote;
                return Ok(v1::NodeAssignmentReady {
                    job_id: id.0.to_vec(),
                    node_owner: node.owner.clone(),
                    node_endpoint: node.endpoint.clone(),
                    price: q.total,
                    breakdown: Some(v1::PriceBreakdown {
                        hourly_rate: q.hourly_rate,
                        duration_multiplier_bps: q.duration_bps,
                        priority_multiplier_bps: q.priority_bps,
                        tier_adjustment_bps: q.tier_adjust_bps,
                        total: q.total,
                    }),
                    escrow_deadline: job.reserved_until,
                    escrow_address: pda::escrow(&id.0).to_string(),
                    mint: self.gateway.addresses().mint.to_string(),
                    epochs: config.epochs,
                });
            }
        }
        Err(AppError::Aborted(
            "every matching node was taken by concurrent submissions; retry".into(),
        ))
    }

    async fn owned_job(&self, caller: &Pubkey, id: &[u8]) -> Result<JobRecord, AppError> {
        let id = JobId::from_bytes(id)
            .ok_or_else(|| AppError::InvalidArgument("job_id must be 16 bytes".into()))?;
        let job = self
            .store
            .job(&id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
        if job.engine_wallet != caller.to_string() {
            return Err(AppError::PermissionDenied(
                "the job belongs to another wallet".into(),
            ));
        }
        Ok(job)
    }

    /// Phase 1, steps 9–13: verifies the escrow, commits the node on chain, issues the
    /// credential. For a job already assigned (or running), issues a fresh credential.
    pub async fn confirm_escrow(
        &self,
        engine: &Pubkey,
        job_id: &[u8],
        tx_signature: &str,
    ) -> Result<v1::StartJobResponse, AppError> {
        let job = self.owned_job(engine, job_id).await?;
        let expired = || {
            AppError::FailedPrecondition(format!(
                "the reservation expired at {} ms; the node was released. Submit the job again \
                 (an escrow already funded can be cancelled on chain, or is refunded at its timeout)",
                job.reserved_until
            ))
        };
        match job.state {
            JobState::Reserved => {}
            JobState::Expired => return Err(expired()),
            JobState::Assigned | JobState::Running => return self.credential(&job, None).await,
            JobState::Confirming => {
                return Err(AppError::Aborted(
                    "the escrow of this job is being confirmed; retry shortly".into(),
                ));
            }
            other => {
                return Err(AppError::FailedPrecondition(format!(
                    "job is {}, it cannot be confirmed",
                    other.as_str()
                )));
            }
        }
        if tx_signature.is_empty() || tx_signature.len() > 100 {
            return Err(AppError::InvalidArgument(
                "tx_signature must be a base58 signature".into(),
            ));
        }
        if now_ms() > job.reserved_until {
            return Err(expired());
        }
        if !self
            .store
            .transition(&job.id, &[JobState::Reserved], JobState::Confirming, "")
            .await?
        {
            return Err(AppError::Aborted(
                "the job changed state concurrently; retry".into(),
            ));
        }
        match self.confirm_claimed(engine, &job, tx_signature).await {
            Ok(resp) => Ok(resp),
            Err(e) => {
                // Nothing was committed: the job goes back to waiting for its escrow.
                let _ = self
                    .store
                    .transition(&job.id, &[JobState::Confirming], JobState::Reserved, "")
                    .await;
                Err(e)
            }
        }
    }

    async fn confirm_claimed(
        &self,
        engine: &Pubkey,
        job: &JobRecord,
        tx_signature: &str,
    ) -> Result<v1::StartJobResponse, AppError> {
        let node_owner = job.node_owner.clone().unwrap_or_default();
        let node: Pubkey = node_owner
            .parse()
            .map_err(|_| AppError::Internal(format!("job {} has a bad node", job.id)))?;
        let expect = EscrowExpectation {
            job: job.id,
            user: *engine,
            amount: job.price,
            epochs: job.config.epochs,
            min_timeout_at: self.chain_now() + i64::from(job.config.estimated_secs),
            node,
        };
        let verified = match self.gateway.verify_escrow(&expect, tx_signature).await {
            Ok(v) => v,
            Err(VerifyError::Rejected(r)) => {
                tracing::info!(job = %job.id, reason = %r, "escrow rejected");
                metrics::counter!("cyxwiz_escrows_rejected_total").increment(1);
                return Err(AppError::FailedPrecondition(r.to_string()));
            }
            Err(VerifyError::Chain(e)) => {
                return Err(AppError::Unavailable(format!(
                    "cannot verify the escrow: {e}"
                )));
            }
        };
        let assign_signature = match self.gateway.assign(&job.id, &node).await {
            Ok(sig) => sig.unwrap_or_default(),
            Err(e) if e.program_error_name().is_some() => {
                return Err(AppError::FailedPrecondition(format!(
                    "the reserved node can no longer take the job ({}); submit again",
                    e.program_error_name().unwrap_or_default()
                )));
            }
            Err(e) => {
                return Err(AppError::Unavailable(format!(
                    "cannot commit the node on chain: {e}"
                )));
            }
        };
        let confirmation = Confirmation {
            escrow_signature: tx_signature.to_string(),
            user_token: String::new(),
            escrow_timeout_secs: verified.timeout_at,
            assign_signature: assign_signature.clone(),
        };
        if !self.store.confirm_assigned(&job.id, &confirmation).await? {
            return Err(AppError::Aborted(
                "the job changed state concurrently; retry".into(),
            ));
        }
        // Keep the fast-path hold for as long as the escrow can run.
        let hold = Duration::from_secs(
            (verified.timeout_at - self.chain_now()).clamp(60, 30 * 86_400) as u64,
        );
        if let Some((owner, slot)) = self.store.job_slot(&job.id).await? {
            let _ = self
                .shared
                .extend(&slot_key(&owner, slot), &job.id.hex(), hold)
                .await;
        }
        metrics::counter!("cyxwiz_escrows_confirmed_total").increment(1);
        let mut job = job.clone();
        job.state = JobState::Assigned;
        self.credential(&job, Some(assign_signature)).await
    }

    async fn credential(
        &self,
        job: &JobRecord,
        assign_signature: Option<String>,
    ) -> Result<v1::StartJobResponse, AppError> {
        let owner = job.node_owner.clone().unwrap_or_default();
        let node =
            self.store.node(&owner).await?.ok_or_else(|| {
                AppError::Internal(format!("job {} names an unknown node", job.id))
            })?;
        let (token, claims) = self.jwt.issue(
            &job.engine_wallet,
            &job.id.hex(),
            &owner,
            &node.tls_fingerprint,
            now_ms() / 1_000,
        );
        metrics::counter!("cyxwiz_tokens_issued_total").increment(1);
        Ok(v1::StartJobResponse {
            auth_token: token,
            node_endpoint: node.endpoint,
            node_tls_fingerprint: node.tls_fingerprint.to_vec(),
            token_expires_at: claims.exp * 1_000,
            node_owner: owner,
            assign_signature: assign_signature
                .or_else(|| job.assign_signature.clone())
                .unwrap_or_default(),
        })
    }

    pub async fn job_status(&self, caller: &Pubkey, id: &[u8]) -> Result<v1::JobStatus, AppError> {
        let job = self.owned_job(caller, id).await?;
        self.status_of(&job).await
    }

    pub async fn status_of(&self, job: &JobRecord) -> Result<v1::JobStatus, AppError> {
        let endpoint = match &job.node_owner {
            Some(o) => self
                .store
                .node(o)
                .await?
                .map(|n| n.endpoint)
                .unwrap_or_default(),
            None => String::new(),
        };
        Ok(v1::JobStatus {
            job_id: job.id.0.to_vec(),
            state: job.state.to_wire() as i32,
            node_owner: job.node_owner.clone().unwrap_or_default(),
            node_endpoint: endpoint,
            price: job.price,
            epochs_required: job.config.epochs,
            epochs_reported: job.epochs_reported,
            epochs_anchored: job.epochs_anchored,
            last_checkpoint_hash: job.last_checkpoint.map(|h| h.to_vec()).unwrap_or_default(),
            final_weights_hash: job.final_weights.map(|h| h.to_vec()).unwrap_or_default(),
            created_at: job.created_at,
            updated_at: job.updated_at,
            escrow_address: pda::escrow(&job.id.0).to_string(),
            detail: job.detail.clone(),
        })
    }

    /// Loads an owned job (WatchJob re-reads it on every poll).
    pub async fn watched_job(&self, caller: &Pubkey, id: &[u8]) -> Result<JobRecord, AppError> {
        self.owned_job(caller, id).await
    }

    /// Before an escrow exists, releases the node at once. With an escrow the user
    /// cancels on chain (only the user's signature can move escrowed funds).
    pub async fn cancel_job(&self, caller: &Pubkey, id: &[u8]) -> Result<v1::JobStatus, AppError> {
        let job = self.owned_job(caller, id).await?;
        match job.state {
            JobState::Reserved => {
                if self
                    .store
                    .transition(
                        &job.id,
                        &[JobState::Reserved],
                        JobState::Cancelled,
                        "cancelled by the user",
                    )
                    .await?
                {
                    self.release_hold(&job).await;
                }
            }
            s if s.is_terminal() => {}
            _ => {
                return Err(AppError::FailedPrecondition(
                    "the escrow is funded: cancel it on chain (JobEscrow.cancel, signed by your \
                     wallet); the coordinator follows the event"
                        .into(),
                ));
            }
        }
        let job = self.owned_job(caller, id).await?;
        self.status_of(&job).await
    }

    /// Releases a job's shared hold on its node slot.
    pub async fn release_hold(&self, job: &JobRecord) {
        if let Ok(Some((owner, slot))) = self.store.job_slot(&job.id).await {
            let _ = self
                .shared
                .release(&slot_key(&owner, slot), &job.id.hex())
                .await;
        }
        self.invalidate_cache();
    }

    pub async fn rate_node(
        &self,
        caller: &Pubkey,
        id: &[u8],
        stars: u32,
    ) -> Result<v1::RateNodeResponse, AppError> {
        if !(1..=5).contains(&stars) {
            return Err(AppError::InvalidArgument("stars must be 1 to 5".into()));
        }
        let job = self.owned_job(caller, id).await?;
        if job.state != JobState::Completed {
            return Err(AppError::FailedPrecondition(
                "only a completed job can be rated".into(),
            ));
        }
        let node = job.node_owner.clone().unwrap_or_default();
        if !self.store.set_rating(&job.id, &node, stars).await? {
            return Err(AppError::AlreadyExists("this job was already rated".into()));
        }
        Ok(v1::RateNodeResponse {
            node_owner: node,
            stars,
        })
    }

    // ── node side ────────────────────────────────────────────────────────

    /// Ties the caller's NodeRegistry account to an endpoint and capabilities.
    pub async fn register_node(
        &self,
        owner: &Pubkey,
        req: &v1::RegisterNodeRequest,
    ) -> Result<v1::RegisterNodeResponse, AppError> {
        let endpoint = req.endpoint.trim();
        if !(endpoint.starts_with("https://") || endpoint.starts_with("http://"))
            || endpoint.len() > 256
        {
            return Err(AppError::InvalidArgument(
                "endpoint must be an http(s) URL of at most 256 bytes".into(),
            ));
        }
        let tls: [u8; 32] = req.tls_fingerprint.as_slice().try_into().map_err(|_| {
            AppError::InvalidArgument("tls_fingerprint must be 32 bytes (SHA-256)".into())
        })?;
        if req.region.len() > 32 {
            return Err(AppError::InvalidArgument(
                "region must be at most 32 bytes".into(),
            ));
        }
        let price_bps = if req.price_bps == 0 {
            10_000
        } else {
            req.price_bps
        };
        if !(5_000..=20_000).contains(&price_bps) {
            return Err(AppError::InvalidArgument(
                "price_bps must be 5000..=20000".into(),
            ));
        }
        let capacity = req.capacity.clamp(1, 64);
        let caps = req.capabilities.unwrap_or_default();
        let rep = self.reputation_config().await;
        let now = now_ms();
        let view = self
            .gateway
            .node_views(&[*owner], &rep, self.chain_now(), now)
            .await
            .map_err(|e| AppError::Unavailable(format!("cannot read the node's stake: {e}")))?
            .pop()
            .ok_or_else(|| AppError::Internal("no node view".into()))?;
        match view.status {
            ChainStatus::Missing => {
                return Err(AppError::FailedPrecondition(
                    "this wallet has no NodeRegistry account: register and stake on chain first"
                        .into(),
                ));
            }
            ChainStatus::Banned => {
                return Err(AppError::PermissionDenied(
                    "this node is banned on chain".into(),
                ));
            }
            _ => {}
        }
        self.gateway
            .ensure_node_reputation(owner)
            .await
            .map_err(|e| {
                AppError::Unavailable(format!("cannot create the reputation account: {e}"))
            })?;
        let record = NodeRecord {
            owner: owner.to_string(),
            endpoint: endpoint.to_string(),
            tls_fingerprint: tls,
            hardware: Hardware {
                cpu_cores: caps.cpu_cores,
                ram_mb: caps.ram_mb,
                gpu_count: caps.gpu_count,
                vram_mb: caps.gpu_vram_mb,
                datacenter_gpu: caps.datacenter_gpu,
            },
            capacity,
            region: req.region.clone(),
            price_bps,
            registered_at: now,
            last_heartbeat: now,
            running_jobs: 0,
            heartbeats: 0,
            chain: view,
            rating_sum: 0,
            rating_count: 0,
        };
        self.store.upsert_node(&record).await?;
        self.invalidate_cache();
        let tier = crate::types::tier_name(view.tier);
        Ok(v1::RegisterNodeResponse {
            stake: view.stake,
            reputation: u32::from(view.reputation),
            tier: tier.into(),
            heartbeat_interval_ms: heartbeat_interval_ms(&self.cfg),
        })
    }

    pub async fn heartbeat(
        &self,
        owner: &Pubkey,
        running: u32,
    ) -> Result<v1::HeartbeatResponse, AppError> {
        if !self
            .store
            .heartbeat(&owner.to_string(), now_ms(), running)
            .await?
        {
            return Err(AppError::NotFound(
                "unknown node: call RegisterNode first".into(),
            ));
        }
        let pending = self.assignments_of(owner).await?.len() as u32;
        Ok(v1::HeartbeatResponse {
            next_heartbeat_ms: heartbeat_interval_ms(&self.cfg),
            pending_assignments: pending,
        })
    }

    async fn assignments_of(&self, owner: &Pubkey) -> Result<Vec<JobRecord>, AppError> {
        Ok(self
            .store
            .jobs_of_node(&owner.to_string(), &[JobState::Assigned, JobState::Running])
            .await?)
    }

    pub async fn poll_assignments(
        &self,
        owner: &Pubkey,
    ) -> Result<v1::PollAssignmentsResponse, AppError> {
        let jobs = self.assignments_of(owner).await?;
        Ok(v1::PollAssignmentsResponse {
            assignments: jobs
                .iter()
                .map(|j| v1::Assignment {
                    job_id: j.id.0.to_vec(),
                    engine_wallet: j.engine_wallet.clone(),
                    config: Some(j.config.to_wire()),
                    state: j.state.to_wire() as i32,
                    price: j.price,
                    assigned_at: j.updated_at,
                    escrow_address: pda::escrow(&j.id.0).to_string(),
                })
                .collect(),
        })
    }

    /// The node checks an engine's credential; it is used up by this call.
    pub async fn verify_token(
        &self,
        node: &Pubkey,
        token: &str,
    ) -> Result<v1::VerifyTokenResponse, AppError> {
        let claims = self.jwt.verify(token, now_ms() / 1_000).map_err(|e| {
            tracing::warn!(%node, reason = %e, "credential refused");
            metrics::counter!("cyxwiz_tokens_refused_total").increment(1);
            AppError::Unauthenticated(e.to_string())
        })?;
        if claims.node != node.to_string() {
            tracing::warn!(%node, "credential presented by another node");
            return Err(AppError::PermissionDenied(
                "the credential was issued for another node".into(),
            ));
        }
        let ttl = Duration::from_secs((claims.exp - now_ms() / 1_000).max(1) as u64 + 60);
        if !self
            .shared
            .use_once(&format!("jti:{}", claims.jti), ttl)
            .await?
        {
            tracing::warn!(%node, job = %claims.job, "replayed credential");
            metrics::counter!("cyxwiz_tokens_refused_total").increment(1);
            return Err(AppError::Unauthenticated("credential already used".into()));
        }
        let id = JobId::parse_hex(&claims.job)
            .ok_or_else(|| AppError::Unauthenticated("credential names a malformed job".into()))?;
        let job = self
            .store
            .job(&id)
            .await?
            .ok_or_else(|| AppError::NotFound("the credential's job does not exist".into()))?;
        if job.node_owner.as_deref() != Some(claims.node.as_str()) || !job.state.holds_node() {
            return Err(AppError::PermissionDenied(
                "the job is no longer assigned to this node".into(),
            ));
        }
        Ok(v1::VerifyTokenResponse {
            job_id: id.0.to_vec(),
            engine_wallet: claims.sub,
            tls_fingerprint: hex::decode(&claims.tls).unwrap_or_default(),
            expires_at: claims.exp * 1_000,
            config: Some(job.config.to_wire()),
        })
    }

    async fn node_job(&self, node: &Pubkey, id: &[u8]) -> Result<JobRecord, AppError> {
        let id = JobId::from_bytes(id)
            .ok_or_else(|| AppError::InvalidArgument("job_id must be 16 bytes".into()))?;
        let job = self
            .store
            .job(&id)
            .await?
            .ok_or_else(|| AppError::NotFound(format!("no job {id}")))?;
        if job.node_owner.as_deref() != Some(node.to_string().as_str()) {
            return Err(AppError::PermissionDenied(
                "the job is not assigned to this node".into(),
            ));
        }
        Ok(job)
    }

    pub async fn report_progress(
        &self,
        node: &Pubkey,
        req: &v1::ReportProgressRequest,
    ) -> Result<v1::ReportProgressResponse, AppError> {
        let job = self.node_job(node, &req.job_id).await?;
        if !matches!(job.state, JobState::Assigned | JobState::Running) {
            return Err(AppError::FailedPrecondition(format!(
                "job is {}, not running",
                job.state.as_str()
            )));
        }
        let hash: [u8; 32] =
            req.checkpoint_hash.as_slice().try_into().map_err(|_| {
                AppError::InvalidArgument("checkpoint_hash must be 32 bytes".into())
            })?;
        if req.epoch == 0 || req.epoch > job.config.epochs {
            return Err(AppError::InvalidArgument(format!(
                "epoch must be 1..={}",
                job.config.epochs
            )));
        }
        let reported = self
            .store
            .record_progress(&job.id, req.epoch, &hash)
            .await?;
        Ok(v1::ReportProgressResponse {
            epochs_reported: reported,
        })
    }

    pub async fn report_completion(
        &self,
        node: &Pubkey,
        req: &v1::ReportCompletionRequest,
    ) -> Result<v1::ReportCompletionResponse, AppError> {
        let job = self.node_job(node, &req.job_id).await?;
        let weights: [u8; 32] =
            req.final_weights_hash.as_slice().try_into().map_err(|_| {
                AppError::InvalidArgument("final_weights_hash must be 32 bytes".into())
            })?;
        let root: [u8; 32] = req
            .merkle_root
            .as_slice()
            .try_into()
            .map_err(|_| AppError::InvalidArgument("merkle_root must be 32 bytes".into()))?;
        self.store.record_final(&job.id, &weights, &root).await?;
        // The payment itself is an on-chain fact: the job completes when the
        // PaymentReleased event (or reconciliation) says so.
        let job = self.node_job(node, &req.job_id).await?;
        Ok(v1::ReportCompletionResponse {
            state: job.state.to_wire() as i32,
        })
    }
}

impl Coordinator {
    /// A slot for one `WatchJob` stream (bounded per replica).
    pub fn watchers_permit(&self) -> Result<tokio::sync::OwnedSemaphorePermit, AppError> {
        self.watch_slots
            .clone()
            .try_acquire_owned()
            .map_err(|_| AppError::ResourceExhausted("too many watchers".into()))
    }
}
