//! The node: its keys, its clients (chain and coordinator), its jobs, and everything it
//! does on chain for them: accept, anchor, complete with a proof, refund.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use cyxwiz_chain::{
    Addresses, ChainError, Pubkey,
    client::{AppliedFuture, ChainClient, Outcome as SendOutcome},
    ix, pda,
    state::{Escrow, EscrowState},
};
use cyxwiz_channel::v1::UploadHeader;
use cyxwiz_circuits::Groth16Prover;
use cyxwiz_poc::{Prover, Statement};
use cyxwiz_proto::{auth::sign_now, methods, v1 as cv1};
use cyxwiz_sandbox::{JobModule, Sandbox};
use solana_keypair::Keypair;
use solana_signer::Signer;
use tokio::sync::{Semaphore, mpsc};
use tonic::transport::Channel;

use crate::{
    config::Config,
    job::{self, Event, JobHandle, LoopConfig, Outcome, Trained},
    store::{AnchorRecord, JobDir, Phase, job_dirs},
};

type CoordinatorClient = cv1::node_service_client::NodeServiceClient<Channel>;

/// Single-use nonces of wallet-signed channel calls, remembered for as long as a
/// signature stays fresh. Bounded: when full, the oldest are forgotten first, and a
/// forgotten nonce is also past its freshness window by then (see `MAX_NONCES`).
#[derive(Debug, Default)]
pub struct NonceCache {
    seen: HashMap<[u8; 16], i64>,
}

/// How long reports skip the coordinator after it failed to answer one.
const REPORT_PAUSE: Duration = Duration::from_secs(30);

/// Whether a failed coordinator call means it is unreachable (rather than a refusal).
fn coordinator_down(s: &tonic::Status) -> bool {
    matches!(
        s.code(),
        tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
    )
}

/// Enough for 2,000 signed calls a second over the two-minute window.
const MAX_NONCES: usize = 250_000;
/// How far a signed call's timestamp may be from the node's clock.
pub const MAX_SKEW_MS: i64 = 60_000;

impl NonceCache {
    /// Records `nonce`; false if it was seen within the window (a replay).
    pub fn use_once(&mut self, nonce: [u8; 16], now_ms: i64) -> bool {
        if self.seen.len() >= MAX_NONCES {
            self.seen.retain(|_, t| now_ms - *t <= 2 * MAX_SKEW_MS);
            if self.seen.len() >= MAX_NONCES {
                return false;
            }
        }
        match self.seen.get(&nonce) {
            Some(t) if now_ms - *t <= 2 * MAX_SKEW_MS => false,
            _ => {
                self.seen.insert(nonce, now_ms);
                true
            }
        }
    }
}

/// Misbehaviour a test can switch on in an in-process node, to check that the other
/// parties catch it. Not reachable from configuration, flags or the environment.
#[derive(Debug, Default)]
pub struct Faults {
    /// Serve downloaded weights with one bit flipped after the digest was taken (each
    /// chunk's checksum still matches the altered bytes, as a dishonest node would make it).
    pub tamper_weights: AtomicBool,
    /// From this epoch on (1-based; 0 = never) jobs starting afterwards skip training and
    /// commit the previous weights again: a lazy node that audits must catch.
    pub skip_training_from: std::sync::atomic::AtomicU32,
}

/// What a finished upload hands over to start a job.
pub struct Uploaded {
    pub module: JobModule,
    pub dataset: Arc<Vec<u8>>,
}

pub struct Node {
    pub cfg: Config,
    pub wallet: Arc<Keypair>,
    pub fingerprint: [u8; 32],
    pub chain: ChainClient,
    pub addresses: Addresses,
    pub token_account: Option<Pubkey>,
    pub sandbox: Arc<Sandbox>,
    coordinator: CoordinatorClient,
    jobs: Mutex<HashMap<[u8; 16], Arc<JobHandle>>>,
    uploading: Mutex<HashSet<[u8; 16]>>,
    slots: Arc<Semaphore>,
    nonces: Mutex<NonceCache>,
    /// Until when progress and completion reports skip the coordinator after one failed:
    /// it is down, and payment does not need it (see [`Node::report_progress`]).
    reports_paused_until: Mutex<Option<tokio::time::Instant>>,
    prover: Option<Arc<dyn Prover>>,
    shutting_down: AtomicBool,
    tasks: Mutex<Vec<tokio::task::JoinHandle<()>>>,
    #[doc(hidden)]
    pub faults: Faults,
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("owner", &self.wallet.pubkey())
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Node {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: Config,
        wallet: Arc<Keypair>,
        fingerprint: [u8; 32],
        chain: ChainClient,
        addresses: Addresses,
        token_account: Option<Pubkey>,
        sandbox: Arc<Sandbox>,
        coordinator: Channel,
    ) -> Node {
        let prover: Option<Arc<dyn Prover>> = match cfg.jobs.prover.as_str() {
            "groth16" if cfg.jobs.proving_keys_dir.as_os_str().is_empty() => Some(dev_prover()),
            "groth16" => Some(Arc::new(Groth16Prover::from_dir(
                cfg.jobs.proving_keys_dir.clone(),
            ))),
            _ => None,
        };
        let capacity = cfg.node.capacity as usize;
        Node {
            coordinator: CoordinatorClient::new(coordinator)
                .max_decoding_message_size(4 * 1024 * 1024),
            cfg,
            wallet,
            fingerprint,
            chain,
            addresses,
            token_account,
            sandbox,
            jobs: Mutex::new(HashMap::new()),
            uploading: Mutex::new(HashSet::new()),
            slots: Arc::new(Semaphore::new(capacity)),
            nonces: Mutex::new(NonceCache::default()),
            reports_paused_until: Mutex::new(None),
            prover,
            shutting_down: AtomicBool::new(false),
            tasks: Mutex::new(Vec::new()),
            faults: Faults::default(),
        }
    }

    pub fn owner(&self) -> Pubkey {
        self.wallet.pubkey()
    }

    /// The capability tokens that tell engines on the mesh where this node's job channel
    /// is (decision 151): the advertised port and the TLS key's fingerprint. The node's
    /// mesh announcement carries them beside its other capabilities.
    pub fn channel_capabilities(&self) -> Vec<String> {
        // `node.advertise` is `https://host:port`; the listen port when it names none.
        let port = self
            .cfg
            .node
            .advertise
            .rsplit_once(':')
            .and_then(|(_, p)| p.trim_end_matches('/').parse::<u16>().ok())
            .unwrap_or(self.cfg.node.listen.port());
        cyxwiz_channel::discovery::ChannelContact {
            port,
            fingerprint: self.fingerprint,
        }
        .capabilities()
    }

    pub fn coordinator(&self) -> CoordinatorClient {
        self.coordinator.clone()
    }

    pub fn job(&self, id: &[u8; 16]) -> Option<Arc<JobHandle>> {
        lock(&self.jobs).get(id).cloned()
    }

    pub fn jobs(&self) -> Vec<Arc<JobHandle>> {
        lock(&self.jobs).values().cloned().collect()
    }

    /// Jobs holding or waiting for a compute slot.
    pub fn active_jobs(&self) -> usize {
        lock(&self.jobs)
            .values()
            .filter(|j| j.phase().is_active())
            .count()
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    pub fn use_nonce(&self, nonce: [u8; 16]) -> bool {
        lock(&self.nonces).use_once(nonce, cyxwiz_proto::auth::now_ms())
    }

    /// Claims the right to receive an upload for `id`; false if one is in progress or
    /// the node is full.
    pub fn begin_upload(&self, id: [u8; 16]) -> Result<UploadGuard<'_>, tonic::Status> {
        if self.is_shutting_down() {
            return Err(tonic::Status::unavailable("the node is shutting down"));
        }
        if let Some(j) = self.job(&id) {
            return Err(tonic::Status::already_exists(format!(
                "job {} is already on this node ({:?})",
                hex::encode(id),
                j.phase()
            )));
        }
        let mut up = lock(&self.uploading);
        if up.contains(&id) {
            return Err(tonic::Status::already_exists(
                "an upload for this job is already in progress",
            ));
        }
        if self.active_jobs() + up.len() >= self.cfg.node.capacity as usize {
            return Err(tonic::Status::resource_exhausted(format!(
                "the node is at capacity ({} jobs)",
                self.cfg.node.capacity
            )));
        }
        up.insert(id);
        Ok(UploadGuard { node: self, id })
    }

    // ── coordinator ──────────────────────────────────────────────────────

    pub async fn verify_token(
        &self,
        token: &str,
    ) -> Result<cv1::VerifyTokenResponse, tonic::Status> {
        let req = sign_now(
            methods::VERIFY_TOKEN,
            cv1::VerifyTokenRequest {
                token: token.to_string(),
            },
            &self.wallet,
        );
        match self.coordinator().verify_token(req).await {
            Ok(r) => Ok(r.into_inner()),
            Err(s) => Err(match s.code() {
                tonic::Code::Unauthenticated
                | tonic::Code::PermissionDenied
                | tonic::Code::NotFound
                | tonic::Code::InvalidArgument => {
                    tonic::Status::new(s.code(), format!("credential refused: {}", s.message()))
                }
                _ => tonic::Status::unavailable(format!(
                    "cannot verify the credential with the coordinator: {}",
                    s.message()
                )),
            }),
        }
    }

    /// Admits a job uploaded without a coordinator credential (decision 150): the
    /// header must be signed by the escrow's user (`cyxwiz_proto::auth` over the header,
    /// method `SendJob`, fresh timestamp, single-use nonce) and name this node, and the
    /// escrow on chain must be assigned to this node, `Assigned` (or `InProgress` with
    /// this node, a retried upload), funded and not timed out. Returns the engine wallet
    /// and the job's configuration as the coordinator's `VerifyToken` would. Every
    /// refusal happens before anything is stored or started.
    pub async fn admit_direct(
        &self,
        metadata: &tonic::metadata::MetadataMap,
        header: &UploadHeader,
    ) -> Result<(Pubkey, cv1::JobConfig), tonic::Status> {
        use tonic::Status;
        let direct = header
            .direct
            .as_ref()
            .ok_or_else(|| Status::invalid_argument("the upload header has no direct job"))?;
        let caller = cyxwiz_proto::auth::verify(
            metadata,
            cyxwiz_channel::methods::SEND_JOB,
            header,
            cyxwiz_proto::auth::now_ms(),
            MAX_SKEW_MS,
        )
        .map_err(|e| Status::unauthenticated(format!("direct job: {e}")))?;
        let id: [u8; 16] = header
            .job_id
            .as_slice()
            .try_into()
            .map_err(|_| Status::invalid_argument("job_id must be 16 bytes"))?;
        let owner = self.owner();
        if direct.node.as_slice() != owner.as_ref() {
            let named = <[u8; 32]>::try_from(direct.node.as_slice())
                .map(|b| Pubkey::new_from_array(b).to_string())
                .unwrap_or_else(|_| format!("{} bytes", direct.node.len()));
            return Err(Status::permission_denied(format!(
                "the upload is signed for node {named}; this node is {owner}"
            )));
        }
        if direct.module_hash.len() != 32 || direct.dataset_hash.len() != 32 {
            return Err(Status::invalid_argument(
                "module_hash and dataset_hash must be 32-byte SHA-256 digests",
            ));
        }
        // Replays are refused before any chain read, so they cost nothing.
        if !self.use_nonce(caller.nonce) {
            return Err(Status::unauthenticated(
                "replayed request (nonce already used)",
            ));
        }
        let unavailable = |e: ChainError| Status::unavailable(format!("reading the chain: {e}"));
        let escrow = self
            .escrow(&id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| {
                Status::not_found(format!("no escrow on chain for job {}", hex::encode(id)))
            })?;
        if escrow.user != caller.wallet {
            return Err(Status::permission_denied(format!(
                "the upload is signed by {}, but the escrow belongs to {}",
                caller.wallet, escrow.user
            )));
        }
        if escrow.node == Pubkey::default() {
            return Err(Status::failed_precondition(format!(
                "the escrow is {:?}: no node is assigned yet (assign_node_by_user first)",
                escrow.state
            )));
        }
        if escrow.node != owner {
            return Err(Status::permission_denied(format!(
                "the escrow is assigned to another node ({})",
                escrow.node
            )));
        }
        if !matches!(
            escrow.state,
            EscrowState::Assigned | EscrowState::InProgress
        ) {
            return Err(Status::failed_precondition(format!(
                "the escrow is {:?}: only an assigned escrow can start a job",
                escrow.state
            )));
        }
        let now = self.chain.unix_time().await.map_err(unavailable)?;
        if now >= escrow.timeout_at {
            return Err(Status::failed_precondition(format!(
                "the escrow timed out at {} (chain time {now})",
                escrow.timeout_at
            )));
        }
        let vault = pda::escrow_vault(&pda::escrow(&id));
        let held = self
            .chain
            .token_balance(&vault)
            .await
            .map_err(unavailable)?;
        if held < escrow.amount {
            return Err(Status::failed_precondition(format!(
                "the escrow's vault holds {held} of its {} base units",
                escrow.amount
            )));
        }
        Ok((
            caller.wallet,
            cv1::JobConfig {
                module_hash: direct.module_hash.clone(),
                module_size: direct.module_size,
                dataset_hash: direct.dataset_hash.clone(),
                dataset_size: direct.dataset_size,
                epochs: escrow.epochs_required,
                ..cv1::JobConfig::default()
            },
        ))
    }

    /// Whether reports should skip the coordinator now (it failed recently).
    fn reports_paused(&self) -> bool {
        lock(&self.reports_paused_until).is_some_and(|t| tokio::time::Instant::now() < t)
    }

    /// After a failed report: skip the coordinator for [`REPORT_PAUSE`]. Progress and
    /// completion are on chain (anchors, `complete_payment`) and the coordinator follows
    /// them from the chain's events when it is back, so nothing is queued: a dead
    /// coordinator costs each job one bounded call (the channel's timeout), not one per
    /// report.
    fn pause_reports(&self, job: &JobHandle, what: &str, error: &str) {
        let mut until = lock(&self.reports_paused_until);
        let first = until.is_none_or(|t| tokio::time::Instant::now() >= t);
        *until = Some(tokio::time::Instant::now() + REPORT_PAUSE);
        if first {
            tracing::warn!(job = %hex::encode(job.id), %error,
                "{what} report failed; not reporting to the coordinator for {}s (the chain has the record)",
                REPORT_PAUSE.as_secs());
        }
    }

    async fn report_progress(&self, job: &JobHandle, epoch: u32, hash: [u8; 32]) {
        if self.reports_paused() {
            tracing::debug!(job = %hex::encode(job.id), epoch, "coordinator down; progress report skipped");
            return;
        }
        let req = sign_now(
            methods::REPORT_PROGRESS,
            cv1::ReportProgressRequest {
                job_id: job.id.to_vec(),
                epoch,
                checkpoint_hash: hash.to_vec(),
            },
            &self.wallet,
        );
        match self.coordinator().report_progress(req).await {
            Ok(_) => {}
            Err(s) if coordinator_down(&s) => self.pause_reports(job, "progress", s.message()),
            Err(s) => {
                tracing::warn!(job = %hex::encode(job.id), epoch, error = %s.message(), "progress report refused")
            }
        }
    }

    async fn report_completion(&self, job: &JobHandle, t: &Trained, payment: &str) {
        if self.reports_paused() {
            tracing::info!(job = %hex::encode(job.id), %payment,
                "coordinator down; completion not reported (the payment is on chain)");
            return;
        }
        let req = sign_now(
            methods::REPORT_COMPLETION,
            cv1::ReportCompletionRequest {
                job_id: job.id.to_vec(),
                final_weights_hash: t.final_weights.to_vec(),
                merkle_root: t.root.to_vec(),
                epochs: t.epochs,
                payment_signature: payment.to_string(),
            },
            &self.wallet,
        );
        match self.coordinator().report_completion(req).await {
            Ok(_) => {}
            Err(s) if coordinator_down(&s) => self.pause_reports(job, "completion", s.message()),
            Err(s) => {
                tracing::warn!(job = %hex::encode(job.id), error = %s.message(), "completion report refused")
            }
        }
    }

    // ── chain ────────────────────────────────────────────────────────────

    pub async fn escrow(&self, id: &[u8; 16]) -> Result<Option<Escrow>, ChainError> {
        self.chain.try_account::<Escrow>(&pda::escrow(id)).await
    }

    pub(crate) fn escrow_check(
        id: [u8; 16],
        done: impl Fn(&Escrow) -> bool + Send + Sync + Clone + 'static,
    ) -> impl Fn(ChainClient) -> AppliedFuture + Sync {
        move |client: ChainClient| {
            let done = done.clone();
            Box::pin(async move {
                Ok(client
                    .try_account::<Escrow>(&pda::escrow(&id))
                    .await?
                    .is_some_and(|e| done(&e)))
            }) as AppliedFuture
        }
    }

    /// `accept_job`: the node commits to the job (and its stake lock is extended).
    pub async fn accept(&self, id: [u8; 16]) -> Result<String, ChainError> {
        let owner = self.owner();
        let applied = Self::escrow_check(id, move |e| {
            e.node == owner && e.state != EscrowState::Assigned && e.accepted_at != 0
        });
        let out = self
            .chain
            .send_idempotent(&[ix::escrow::accept_job(&owner, id)], &[], &applied)
            .await?;
        Ok(signature_of(&out))
    }

    async fn anchor(&self, job: &JobHandle, epoch: u32, root: [u8; 32]) {
        if let Err(e) = job.dir.sync() {
            tracing::warn!(job = %hex::encode(job.id), error = %e, "syncing checkpoints");
        }
        let applied = Self::escrow_check(job.id, move |e| e.epochs_done >= epoch);
        let ixs = [ix::escrow::anchor_checkpoint(
            &self.owner(),
            job.id,
            epoch,
            root,
        )];
        for attempt in 1..=3u32 {
            match self.chain.send_idempotent(&ixs, &[], &applied).await {
                Ok(out) => {
                    let signature = signature_of(&out);
                    tracing::info!(job = %hex::encode(job.id), epoch, %signature, "checkpoint anchored");
                    job.update(true, |m| {
                        m.anchors.push(AnchorRecord {
                            epoch,
                            root: hex::encode(root),
                            signature,
                        })
                    });
                    return;
                }
                Err(e) if attempt < 3 && e.is_transient() => {
                    tokio::time::sleep(Duration::from_secs(attempt as u64)).await;
                }
                Err(e) => {
                    // Not fatal: the next anchor (or the completion) covers these epochs.
                    tracing::warn!(job = %hex::encode(job.id), epoch, error = %e, "anchoring failed");
                    return;
                }
            }
        }
    }

    fn node_token(&self) -> Result<Pubkey, String> {
        self.token_account.ok_or_else(|| {
            "node.token_account is not configured: the node has nowhere to be paid".to_string()
        })
    }

    async fn complete(&self, job: &JobHandle, t: &Trained) {
        job.update(true, |m| {
            m.phase = Phase::Completing;
            m.final_weights_hash = hex::encode(t.final_weights);
            m.merkle_root = hex::encode(t.root);
            m.epochs_done = t.epochs;
            m.test_accuracy = t.test_accuracy;
            m.test_loss = t.test_loss;
            m.train_ms = t.train_ms;
        });
        match self.settle_payment(job, t).await {
            Ok(signature) => {
                tracing::info!(job = %hex::encode(job.id), %signature, "paid");
                job.update(true, |m| {
                    m.payment_signature = signature.clone();
                    m.phase = Phase::Completed;
                });
                self.report_completion(job, t, &signature).await;
            }
            Err(reason) => {
                tracing::error!(job = %hex::encode(job.id), %reason, "settlement failed");
                // Stays Completing with the reason: retried at the next start.
                job.update(true, |m| m.detail = format!("settlement failed: {reason}"));
            }
        }
    }

    async fn settle_payment(&self, job: &JobHandle, t: &Trained) -> Result<String, String> {
        let prover = self
            .prover
            .as_ref()
            .ok_or("no prover configured (jobs.prover = none)")?;
        let statement = Statement {
            job_id: job.id,
            merkle_root: t.root,
            final_weights_hash: t.final_weights,
            epochs: t.epochs,
        };
        // The proof covers the prefix the escrow anchored: read it from the chain, the
        // only copy that counts (an anchor may have landed after a failed local update).
        let escrow = self
            .escrow(&job.id)
            .await
            .map_err(|e| format!("reading the escrow: {e}"))?
            .ok_or("the escrow no longer exists")?;
        let anchored = escrow.epochs_done;
        let (prover, witness) = (prover.clone(), t.witness.clone());
        let started = std::time::Instant::now();
        let proof = tokio::task::spawn_blocking(move || {
            prover.prove_anchored(&statement, &witness, anchored)
        })
        .await
        .map_err(|e| format!("proving thread: {e}"))?
        .map_err(|e| format!("proving: {e}"))?;
        let prove_ms = started.elapsed().as_millis() as u64;
        tracing::info!(job = %hex::encode(job.id), epochs = t.epochs, anchored, prove_ms, "proof of compute ready");
        job.update(true, |m| m.prove_ms = prove_ms);
        let token = self.node_token()?;
        let ixs = [ix::escrow::complete_payment(
            &self.addresses,
            &self.owner(),
            job.id,
            &token,
            proof,
            t.final_weights,
            t.root,
            t.epochs,
        )];
        let want = t.final_weights;
        let applied = Self::escrow_check(job.id, move |e| {
            e.state == EscrowState::Completed && e.final_weights_hash == want
        });
        let mut last = String::new();
        for attempt in 1..=3u32 {
            match self.chain.send_idempotent(&ixs, &[], &applied).await {
                Ok(out) => return Ok(signature_of(&out)),
                Err(e) if attempt < 3 && e.is_transient() => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_secs(attempt as u64)).await;
                }
                Err(e) => return Err(e.to_string()),
            }
        }
        Err(last)
    }

    /// Ends an accepted job early on chain: anchors the progress made since the last
    /// anchor (so the node is paid for it), then `refund` splits the escrow by it.
    async fn refund(
        &self,
        job: &JobHandle,
        epochs: u32,
        root: Option<[u8; 32]>,
    ) -> Result<String, String> {
        if let Some(root) = root
            && epochs > job.manifest().epochs_anchored()
            && epochs < job.manifest().epochs
        {
            self.anchor(job, epochs, root).await;
        }
        let escrow = self
            .escrow(&job.id)
            .await
            .map_err(|e| e.to_string())?
            .ok_or("the escrow no longer exists")?;
        if escrow.state != EscrowState::InProgress {
            return Ok(String::new());
        }
        let user_token = self
            .chain
            .token_accounts(&escrow.user, &self.addresses.mint)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .next()
            .ok_or("the user has no CYXWIZ token account to refund to")?;
        let ixs = [ix::escrow::refund(
            &self.addresses,
            &self.owner(),
            job.id,
            &self.owner(),
            &user_token,
            &self.node_token()?,
        )];
        let applied = Self::escrow_check(job.id, |e| e.state != EscrowState::InProgress);
        self.chain
            .send_idempotent(&ixs, &[], &applied)
            .await
            .map(|o| signature_of(&o))
            .map_err(|e| e.to_string())
    }

    /// A failed or stopped job: give the engine `grace` to settle it as the user (no
    /// penalty for the node), then refund it as the node so the escrow never runs into
    /// its timeout (which would slash the node).
    async fn settle_early(
        &self,
        job: &JobHandle,
        epochs: u32,
        root: Option<[u8; 32]>,
        grace: Duration,
    ) {
        let deadline = tokio::time::Instant::now() + grace;
        while tokio::time::Instant::now() < deadline && !self.is_shutting_down() {
            match self.escrow(&job.id).await {
                Ok(Some(e)) if e.state != EscrowState::InProgress => return,
                _ => tokio::time::sleep(Duration::from_secs(2)).await,
            }
        }
        match self.refund(job, epochs, root).await {
            Ok(sig) if !sig.is_empty() => {
                tracing::info!(job = %hex::encode(job.id), %sig, "refunded by progress");
                job.update(true, |m| m.refund_signature = sig);
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(job = %hex::encode(job.id), error = %e, "refund failed"),
        }
    }

    // ── running jobs ─────────────────────────────────────────────────────

    /// Registers `job` and starts driving it (waiting for a slot, training, settling).
    pub fn start(self: &Arc<Self>, job: Arc<JobHandle>, up: Uploaded) {
        lock(&self.jobs).insert(job.id, job.clone());
        let node = self.clone();
        let task = tokio::spawn(async move { node.drive(job, up).await });
        let mut tasks = lock(&self.tasks);
        tasks.retain(|t| !t.is_finished());
        tasks.push(task);
    }

    /// Registers a job that is already final (kept for downloads and status).
    pub fn keep(&self, job: Arc<JobHandle>) {
        lock(&self.jobs).insert(job.id, job);
    }

    async fn drive(self: Arc<Self>, job: Arc<JobHandle>, up: Uploaded) {
        let id = hex::encode(job.id);
        let permit = tokio::select! {
            p = self.slots.clone().acquire_owned() => p.ok(),
            _ = wait_until(|| job.stop_requested()) => None,
        };
        let Some(permit) = permit else {
            if self.is_shutting_down() {
                return;
            }
            job.set_phase(Phase::Stopped, "stopped before it started");
            self.settle_early(&job, 0, None, Duration::ZERO).await;
            return;
        };
        job.set_phase(Phase::Running, "");
        let (tx, mut rx) = mpsc::channel::<Event>(64);
        let settler = {
            let node = self.clone();
            let job = job.clone();
            tokio::spawn(async move {
                while let Some(ev) = rx.recv().await {
                    match ev {
                        Event::Progress { epoch, hash } => {
                            node.report_progress(&job, epoch, hash).await
                        }
                        Event::Anchor { epoch, root } => node.anchor(&job, epoch, root).await,
                    }
                }
            })
        };
        let loop_cfg = LoopConfig {
            progress_every: self.cfg.jobs.progress_every,
            anchor_every: self.cfg.jobs.anchor_every,
            skip_training_from: self.faults.skip_training_from.load(Ordering::Relaxed),
        };
        let (sandbox, j) = (self.sandbox.clone(), job.clone());
        let outcome = tokio::task::spawn_blocking(move || {
            job::train(&sandbox, &up.module, &up.dataset, &j, loop_cfg, &tx)
        })
        .await
        .unwrap_or_else(|e| Outcome::NodeFailed(format!("training thread: {e}")));
        drop(permit);
        let _ = settler.await;

        match outcome {
            Outcome::Trained(t) => {
                tracing::info!(job = %id, epochs = t.epochs, accuracy = t.test_accuracy, "trained");
                self.complete(&job, &t).await;
            }
            Outcome::Interrupted => {
                tracing::info!(job = %id, "interrupted by shutdown; resumes on the next start");
            }
            Outcome::Stopped { epochs, root } => {
                job.set_phase(
                    Phase::Stopped,
                    format!("stopped by the engine after {epochs} epochs"),
                );
                self.settle_early(&job, epochs, root, Duration::ZERO).await;
            }
            Outcome::ModuleFailed {
                reason,
                epochs,
                root,
            } => {
                tracing::warn!(job = %id, %reason, "job failed");
                job.set_phase(Phase::Failed, reason);
                let grace = Duration::from_secs(self.cfg.jobs.failed_refund_grace_secs);
                self.settle_early(&job, epochs, root, grace).await;
            }
            Outcome::NodeFailed(reason) => {
                tracing::error!(job = %id, %reason, "node failure");
                job.set_phase(Phase::Failed, format!("node failure: {reason}"));
                let m = job.manifest();
                let root = hex::decode(&m.merkle_root)
                    .ok()
                    .and_then(|r| r.try_into().ok());
                self.settle_early(&job, m.epochs_done, root, Duration::ZERO)
                    .await;
            }
        }
    }

    /// Loads the jobs on disk: finished ones are kept for downloads, unfinished ones
    /// resume if their escrow is still ours and in progress, and trained-but-unpaid ones
    /// settle again.
    pub async fn restore_jobs(self: &Arc<Self>) {
        for (dir, id) in job_dirs(&self.cfg.storage.data_dir) {
            let manifest = match dir.load_manifest() {
                Ok(m) => m,
                Err(e) => {
                    tracing::warn!(dir = %dir.dir.display(), error = %e, "skipping unreadable job");
                    continue;
                }
            };
            let Ok(engine) = manifest.engine_wallet.parse::<Pubkey>() else {
                continue;
            };
            let phase = manifest.phase;
            let handle = Arc::new(JobHandle::new(id, engine, dir.clone(), manifest));
            if phase.is_final() {
                self.keep(handle);
                continue;
            }
            let escrow = match self.escrow(&id).await {
                Ok(e) => e,
                Err(e) => {
                    tracing::warn!(job = %hex::encode(id), error = %e, "cannot read the escrow; job left for the next start");
                    continue;
                }
            };
            if let Some(e) = escrow
                .as_ref()
                .filter(|e| e.node == self.owner() && e.state == EscrowState::Completed)
            {
                // Paid before the manifest caught up (a crash right after the payment).
                let (hash, root, epochs) = (e.final_weights_hash, e.merkle_root, e.epochs_done);
                handle.update(true, |m| {
                    m.phase = Phase::Completed;
                    m.final_weights_hash = hex::encode(hash);
                    m.merkle_root = hex::encode(root);
                    m.epochs_done = epochs;
                    m.detail.clear();
                });
                self.keep(handle);
                continue;
            }
            let ours = escrow
                .as_ref()
                .is_some_and(|e| e.node == self.owner() && e.state == EscrowState::InProgress);
            if !ours {
                let state = escrow
                    .map(|e| format!("{:?}", e.state))
                    .unwrap_or("closed".into());
                handle.update(true, |m| {
                    m.phase = Phase::Failed;
                    m.detail = format!("interrupted; the escrow is now {state}");
                });
                self.keep(handle);
                continue;
            }
            match self.reload(&dir) {
                Ok(up) => {
                    tracing::info!(job = %hex::encode(id), "resuming job");
                    self.start(handle, up);
                }
                Err(reason) => {
                    handle.set_phase(Phase::Failed, format!("cannot resume: {reason}"));
                    self.keep(handle);
                }
            }
        }
    }

    fn reload(&self, dir: &JobDir) -> Result<Uploaded, String> {
        let module = std::fs::read(dir.module_path()).map_err(|e| e.to_string())?;
        let dataset = std::fs::read(dir.dataset_path()).map_err(|e| e.to_string())?;
        let module = self.sandbox.load(&module).map_err(|e| e.to_string())?;
        Ok(Uploaded {
            module,
            dataset: Arc::new(dataset),
        })
    }

    /// Begins the shutdown: no new uploads, running jobs stop at their next epoch
    /// boundary (their checkpoints are on disk), and waits up to the grace period for
    /// settlements in flight.
    pub async fn shutdown(&self, grace: Duration) {
        self.shutting_down.store(true, Ordering::SeqCst);
        for j in self.jobs() {
            j.shutdown();
        }
        let tasks: Vec<_> = std::mem::take(&mut *lock(&self.tasks));
        let all = futures_join(tasks);
        if tokio::time::timeout(grace, all).await.is_err() {
            tracing::warn!(
                "shutdown grace period over; abandoning unfinished settlements (they resume on the next start)"
            );
        }
    }
}

/// Releases the upload claim when the upload ends, however it ends.
pub struct UploadGuard<'a> {
    node: &'a Node,
    id: [u8; 16],
}

impl Drop for UploadGuard<'_> {
    fn drop(&mut self) {
        lock(&self.node.uploading).remove(&self.id);
    }
}

/// One development prover per process: its proving keys (tens of MB, seconds to
/// derive per capacity) are shared by every node of a demo or test network.
fn dev_prover() -> Arc<dyn Prover> {
    static DEV: std::sync::OnceLock<Arc<Groth16Prover>> = std::sync::OnceLock::new();
    tracing::warn!(
        "jobs.proving_keys_dir is not set: proving with the INSECURE development keys, which only localnets accept"
    );
    DEV.get_or_init(|| Arc::new(Groth16Prover::insecure_dev()))
        .clone()
}

fn signature_of(out: &SendOutcome) -> String {
    out.sent()
        .map(|s| s.signature.to_string())
        .unwrap_or_default()
}

async fn wait_until(cond: impl Fn() -> bool) {
    while !cond() {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn futures_join(tasks: Vec<tokio::task::JoinHandle<()>>) {
    for t in tasks {
        let _ = t.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nonces_are_single_use_within_the_window() {
        let mut c = NonceCache::default();
        assert!(c.use_once([1; 16], 1_000));
        assert!(!c.use_once([1; 16], 1_500), "replay refused");
        assert!(c.use_once([2; 16], 1_500));
        assert!(
            c.use_once([1; 16], 1_000 + 2 * MAX_SKEW_MS + 1),
            "a nonce older than any acceptable timestamp may recur"
        );
    }
}
