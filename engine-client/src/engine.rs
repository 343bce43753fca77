//! The engine: a wallet, a chain client and a coordinator, and every step of a job.

use std::{sync::Arc, time::Duration, time::Instant};

use cyxwiz_chain::{Addresses, Pubkey, client::ChainClient, ix, pda, state::EscrowState};
use cyxwiz_channel::v1::{Completion, Phase, SendJobResponse, TrainingMetrics};
use cyxwiz_proto::{
    auth::sign_now,
    methods,
    v1::{self, engine_service_client::EngineServiceClient},
};
use serde::Serialize;
use solana_keypair::Keypair;
use solana_signer::Signer;
use tokio::sync::OnceCell;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Endpoint};

use crate::{
    EngineConfig, Error, JobId, JobSpec, Result,
    download::Downloaded,
    journal::{JobRecord, JobStage, Journal},
    node::{NodeSession, SessionOptions, is_final, phase_of},
};

/// The coordinator's quote: a reserved node and its price.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Quote {
    #[serde(serialize_with = "hex_16")]
    pub job_id: JobId,
    pub node_owner: String,
    pub node_endpoint: String,
    /// Base units.
    pub price: u64,
    pub breakdown: Breakdown,
    /// Unix ms: the reservation lapses then without an escrow.
    pub escrow_deadline: i64,
    pub escrow_address: String,
    pub mint: String,
    pub epochs: u32,
}

fn hex_16<S: serde::Serializer>(id: &JobId, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(id))
}

fn hex_32<S: serde::Serializer>(b: &[u8; 32], s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&hex::encode(b))
}

/// How the price was made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Breakdown {
    pub hourly_rate: u64,
    pub duration_multiplier_bps: u32,
    pub priority_multiplier_bps: u32,
    pub tier_adjustment_bps: i32,
    pub total: u64,
}

impl Quote {
    fn from_wire(r: v1::NodeAssignmentReady) -> Result<Quote> {
        let b = r.breakdown.unwrap_or_default();
        Ok(Quote {
            job_id: crate::job_id_from_bytes(&r.job_id)?,
            node_owner: r.node_owner,
            node_endpoint: r.node_endpoint,
            price: r.price,
            breakdown: Breakdown {
                hourly_rate: b.hourly_rate,
                duration_multiplier_bps: b.duration_multiplier_bps,
                priority_multiplier_bps: b.priority_multiplier_bps,
                tier_adjustment_bps: b.tier_adjustment_bps,
                total: b.total,
            },
            escrow_deadline: r.escrow_deadline,
            escrow_address: r.escrow_address,
            mint: r.mint,
            epochs: r.epochs,
        })
    }
}

/// What the coordinator hands out once the escrow is verified: a single-use token for
/// the node and the node's pinned TLS key.
#[derive(Clone, Serialize)]
pub struct Credential {
    #[serde(skip)]
    pub token: String,
    pub endpoint: String,
    #[serde(serialize_with = "hex_32")]
    pub fingerprint: [u8; 32],
    pub node_owner: String,
    /// Unix ms.
    pub expires_at: i64,
    pub assign_signature: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("token", &"<redacted>")
            .field("endpoint", &self.endpoint)
            .field("fingerprint", &hex::encode(self.fingerprint))
            .field("node_owner", &self.node_owner)
            .field("expires_at", &self.expires_at)
            .field("assign_signature", &self.assign_signature)
            .finish()
    }
}

/// What happened during [`Engine::run`], for progress displays.
#[derive(Debug)]
pub enum Event<'a> {
    Quoted(&'a Quote),
    EscrowLocked {
        signature: &'a str,
    },
    Confirmed(&'a Credential),
    Uploading {
        sent: u64,
        total: u64,
    },
    Uploaded(&'a SendJobResponse),
    Metrics(&'a TrainingMetrics),
    Completed(&'a Completion),
    Downloaded {
        bytes: u64,
    },
    Verified {
        digest: &'a [u8; 32],
        path: &'a std::path::Path,
    },
    /// The coordinator could not be reached; the engine goes on without it.
    CoordinatorUnreachable {
        reason: &'a str,
    },
    /// Searching the mesh for compute nodes (no coordinator).
    Discovering {
        capability: &'a str,
    },
    /// Nodes that passed the chain's checks and answered, best first.
    Candidates(&'a [crate::direct::Candidate]),
    /// The escrow is funded; the chain lets the user assign it in `secs` seconds.
    WaitingToAssign {
        secs: u64,
    },
    /// The user assigned the node on chain (`assign_node_by_user`).
    AssignedByUser {
        node: &'a crate::direct::Candidate,
        signature: &'a str,
    },
}

/// Watches [`Engine::run`].
pub trait Observer {
    fn event(&mut self, event: Event<'_>);
    /// Asked after the quote, before any money moves. `false` declines (the
    /// reservation is released).
    fn approve(&mut self, _quote: &Quote) -> bool {
        true
    }
}

/// An observer that ignores everything and approves every quote.
#[derive(Debug, Default)]
pub struct Silent;

impl Observer for Silent {
    fn event(&mut self, _event: Event<'_>) {}
}

/// Milliseconds spent in each phase of [`Engine::run`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Timings {
    pub submit_ms: u64,
    pub escrow_ms: u64,
    pub upload_ms: u64,
    pub training_ms: u64,
    pub settlement_ms: u64,
    /// Of the settlement: the node's proving time (as it reported it).
    pub prove_ms: u64,
    pub download_ms: u64,
    pub total_ms: u64,
}

/// The transactions of a job.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Signatures {
    pub escrow: String,
    pub assign: String,
    pub accept: String,
    pub payment: String,
    pub anchors: Vec<String>,
}

/// The outcome of [`Engine::run`].
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    #[serde(serialize_with = "hex_16")]
    pub job_id: JobId,
    pub node: String,
    pub price: u64,
    pub epochs: u32,
    pub test_accuracy: f64,
    pub test_loss: f64,
    #[serde(serialize_with = "hex_32")]
    pub final_weights_hash: [u8; 32],
    pub weights_path: std::path::PathBuf,
    pub weights_bytes: u64,
    pub payment_signature: String,
    pub signatures: Signatures,
    pub timings: Timings,
    /// Epochs the node restored from checkpoints after a restart (0 if none).
    pub resumed_from: u32,
}

/// The wallet's funds.
#[derive(Debug, Clone, Serialize)]
pub struct Balance {
    pub wallet: String,
    pub lamports: u64,
    /// Base units over every CYXWIZ token account of the wallet.
    pub tokens: u64,
    pub token_accounts: Vec<TokenAccountBalance>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TokenAccountBalance {
    pub address: String,
    pub amount: u64,
}

/// The outcome of [`Engine::rate`].
#[derive(Debug, Clone, Serialize)]
pub struct RateOutcome {
    pub signature: String,
    pub stars: u8,
    /// Set when the on-chain rating landed but the coordinator did not take it.
    pub coordinator_error: Option<String>,
}

/// The outcome of [`Engine::cancel`].
#[derive(Debug, Clone, Serialize)]
pub struct CancelOutcome {
    /// The on-chain `cancel` transaction, when the escrow was funded.
    pub signature: Option<String>,
    /// The coordinator's view afterwards (a state name), when it answered.
    pub coordinator_state: Option<String>,
    pub coordinator_error: Option<String>,
}

/// A job's state once the node accepted it, handed to the shared end of both runs.
struct Run {
    job_id: JobId,
    price: u64,
    epochs: u32,
    record: JobRecord,
    sigs: Signatures,
    timings: Timings,
    started: Instant,
}

/// A job submitter.
pub struct Engine {
    wallet: Arc<Keypair>,
    chain: ChainClient,
    config: EngineConfig,
    journal: Journal,
    addresses: OnceCell<Addresses>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("wallet", &self.wallet.pubkey())
            .field("rpc", &self.config.chain.rpc_url)
            .field("coordinator", &self.config.coordinator.url)
            .finish()
    }
}

fn elapsed_ms(t: Instant) -> u64 {
    t.elapsed().as_millis() as u64
}

fn phase_name(p: Phase) -> String {
    p.as_str_name()
        .trim_start_matches("PHASE_")
        .to_ascii_lowercase()
}

/// The name of a coordinator job state (`running`, `completed`, …).
pub fn job_state_name(state: i32) -> String {
    v1::JobState::try_from(state)
        .map(|s| {
            s.as_str_name()
                .trim_start_matches("JOB_STATE_")
                .to_ascii_lowercase()
        })
        .unwrap_or_else(|_| format!("unknown({state})"))
}

/// The name of an escrow state.
pub fn escrow_state_name(state: &EscrowState) -> String {
    format!("{state:?}")
}

impl Engine {
    /// An engine with the wallet named by the configuration.
    pub fn new(config: EngineConfig) -> Result<Engine> {
        let wallet = cyxwiz_chain::keys::read_keypair(&config.engine.keypair)?;
        Self::with_wallet(config, wallet)
    }

    /// An engine with the given wallet.
    pub fn with_wallet(config: EngineConfig, wallet: Keypair) -> Result<Engine> {
        config.validate()?;
        let chain = ChainClient::new(
            &config.chain.rpc_url,
            wallet.insecure_clone(),
            config.commitment()?,
        )?;
        Ok(Engine {
            wallet: Arc::new(wallet),
            chain,
            journal: Journal::new(config.engine.jobs_dir.clone()),
            config,
            addresses: OnceCell::new(),
        })
    }

    pub fn wallet(&self) -> &Keypair {
        &self.wallet
    }

    pub(crate) fn wallet_arc(&self) -> Arc<Keypair> {
        self.wallet.clone()
    }

    pub fn chain(&self) -> &ChainClient {
        &self.chain
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn journal(&self) -> &Journal {
        &self.journal
    }

    /// The deployment's addresses (read from chain once).
    pub async fn addresses(&self) -> Result<&Addresses> {
        self.addresses
            .get_or_try_init(|| async { self.chain.load_addresses().await.map_err(Error::from) })
            .await
    }

    async fn coordinator(&self) -> Result<EngineServiceClient<Channel>> {
        let url = &self.config.coordinator.url;
        let unreachable = |reason: String| Error::CoordinatorUnreachable {
            url: url.clone(),
            reason,
        };
        let endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| unreachable(e.to_string()))?
            .connect_timeout(self.config.coordinator_timeout());
        let channel = endpoint
            .connect()
            .await
            .map_err(|e| unreachable(e.to_string()))?;
        Ok(EngineServiceClient::new(channel))
    }

    async fn coordinator_call<T>(
        &self,
        call: &'static str,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.config.coordinator_timeout(), fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) => Err(Error::coordinator(call, s)),
            Err(_) => Err(Error::Timeout {
                what: format!("{}{call}", crate::error::COORDINATOR_TIMEOUT_PREFIX),
                secs: self.config.coordinator_timeout().as_secs(),
            }),
        }
    }

    // ── steps ────────────────────────────────────────────────────────────

    /// Asks the coordinator for a node and a price. Nothing is paid yet.
    pub async fn submit(&self, spec: &JobSpec) -> Result<Quote> {
        spec.validate()?;
        let mut c = self.coordinator().await?;
        let req = sign_now(
            methods::SUBMIT_JOB,
            v1::SubmitJobRequest {
                config: Some(spec.job_config()),
            },
            &self.wallet,
        );
        let quote = Quote::from_wire(
            self.coordinator_call("SubmitJob", c.submit_job(req))
                .await?,
        )?;
        if quote.price > spec.max_price {
            return Err(Error::OverBudget {
                price: quote.price,
                max: spec.max_price,
            });
        }
        Ok(quote)
    }

    /// [`Engine::submit`], retried while the coordinator is unreachable, up to
    /// `[engine] coordinator_attempts` calls (1 s, 2 s, … apart).
    pub async fn submit_retrying(&self, spec: &JobSpec) -> Result<Quote> {
        let attempts = self.config.engine.coordinator_attempts.max(1);
        let mut attempt = 1;
        loop {
            match self.submit(spec).await {
                Err(e) if e.is_coordinator_outage() && attempt < attempts => {
                    tracing::info!(error = %e, attempt, "coordinator unreachable; retrying");
                    tokio::time::sleep(Duration::from_secs(u64::from(attempt))).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// The CYXWIZ token account escrows are paid from: the configured one, else the
    /// wallet's account with the largest balance.
    pub async fn token_account(&self) -> Result<Pubkey> {
        if let Some(a) = &self.config.engine.token_account {
            return a.parse().map_err(|_| {
                Error::Config(format!("[engine] token_account {a:?} is not an address"))
            });
        }
        let mint = self.addresses().await?.mint;
        self.chain
            .token_accounts(&self.wallet.pubkey(), &mint)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoTokenAccount(self.wallet.pubkey().to_string()))
    }

    /// Locks the quoted price in the job's escrow; returns the transaction signature.
    pub async fn fund_escrow(&self, quote: &Quote, spec: &JobSpec) -> Result<String> {
        let addresses = *self.addresses().await?;
        if quote.mint != addresses.mint.to_string() {
            return Err(Error::MintMismatch {
                quoted: quote.mint.clone(),
                chain: addresses.mint.to_string(),
            });
        }
        if quote.price > spec.max_price {
            return Err(Error::OverBudget {
                price: quote.price,
                max: spec.max_price,
            });
        }
        let epochs = if quote.epochs > 0 {
            quote.epochs
        } else {
            spec.epochs
        };
        self.create_escrow(quote.job_id, quote.price, epochs, spec)
            .await
    }

    /// Locks `price` in a new escrow for `job_id` (`create_escrow`, with the spec's
    /// timeout and estimate) after checking the balance; returns the transaction.
    pub async fn create_escrow(
        &self,
        job_id: JobId,
        price: u64,
        epochs: u32,
        spec: &JobSpec,
    ) -> Result<String> {
        let addresses = *self.addresses().await?;
        let token = self.token_account().await?;
        let have = self.chain.token_balance(&token).await?;
        if have < price {
            return Err(Error::InsufficientTokens {
                account: token.to_string(),
                need: price,
                have,
            });
        }
        let sent = self
            .chain
            .send(
                &[ix::escrow::create_escrow(
                    &addresses,
                    &self.wallet.pubkey(),
                    &token,
                    job_id,
                    price,
                    epochs,
                    spec.timeout_secs,
                    spec.estimated_secs,
                )],
                &[],
            )
            .await?;
        Ok(sent.signature.to_string())
    }

    /// Has the coordinator verify the escrow and commit the node; returns the node
    /// credential. Calling it again for an assigned or running job issues a fresh one.
    pub async fn confirm(&self, job_id: &JobId, tx_signature: &str) -> Result<Credential> {
        let mut c = self.coordinator().await?;
        let req = sign_now(
            methods::CONFIRM_ESCROW,
            v1::ConfirmEscrowRequest {
                job_id: job_id.to_vec(),
                tx_signature: tx_signature.to_string(),
            },
            &self.wallet,
        );
        let r = self
            .coordinator_call("ConfirmEscrow", c.confirm_escrow(req))
            .await?;
        let fingerprint: [u8; 32] = r.node_tls_fingerprint.as_slice().try_into().map_err(|_| {
            Error::Invalid(format!(
                "the coordinator sent a TLS fingerprint of {} bytes",
                r.node_tls_fingerprint.len()
            ))
        })?;
        Ok(Credential {
            token: r.auth_token,
            endpoint: r.node_endpoint,
            fingerprint,
            node_owner: r.node_owner,
            expires_at: r.token_expires_at,
            assign_signature: r.assign_signature,
        })
    }

    /// The session options the configuration describes.
    pub fn session_options(&self) -> SessionOptions {
        SessionOptions::from_config(&self.config)
    }

    /// Opens a pinned TLS session with the credential's node.
    pub async fn connect(&self, credential: &Credential) -> Result<NodeSession> {
        self.connect_to(&credential.endpoint, credential.fingerprint)
            .await
    }

    /// Opens a pinned TLS session with the node at `endpoint` (e.g. from the journal).
    pub async fn connect_to(&self, endpoint: &str, fingerprint: [u8; 32]) -> Result<NodeSession> {
        NodeSession::connect(
            endpoint,
            fingerprint,
            self.wallet.clone(),
            self.session_options(),
        )
        .await
    }

    /// Opens a session with the node of a job in the journal.
    pub async fn connect_journaled(&self, job_id: &JobId) -> Result<NodeSession> {
        let record = self.journal.load(job_id)?;
        let fp = record.fingerprint_bytes().ok_or_else(|| {
            Error::Invalid(format!(
                "job {} never reached a node (no TLS fingerprint in the journal)",
                record.job_id
            ))
        })?;
        self.connect_to(&record.endpoint, fp).await
    }

    /// The job's escrow on chain.
    pub async fn escrow(&self, job_id: &JobId) -> Result<Option<cyxwiz_chain::state::Escrow>> {
        Ok(self.chain.try_account(&pda::escrow(job_id)).await?)
    }

    /// The `final_weights_hash` the node committed on chain for `job_id`.
    pub async fn final_weights_hash(&self, job_id: &JobId) -> Result<[u8; 32]> {
        let escrow = self
            .escrow(job_id)
            .await?
            .ok_or_else(|| Error::NotSettled {
                job: hex::encode(job_id),
                state: "no escrow".into(),
            })?;
        if escrow.final_weights_hash == [0; 32] {
            return Err(Error::NotSettled {
                job: hex::encode(job_id),
                state: escrow_state_name(&escrow.state),
            });
        }
        Ok(escrow.final_weights_hash)
    }

    /// Checks `weights` against the hash committed on chain; returns the digest.
    /// A mismatch is [`Error::WeightsTampered`].
    pub async fn verify_weights(&self, job_id: &JobId, weights: &[u8]) -> Result<[u8; 32]> {
        let expected = self.final_weights_hash(job_id).await?;
        let got = cyxwiz_poc::weights_digest(weights);
        if got != expected {
            return Err(Error::WeightsTampered { expected, got });
        }
        Ok(got)
    }

    /// Checks a download against the chain and the node's claim, waiting a bounded
    /// time for the settlement to become visible at this engine's commitment.
    pub async fn verify_download(&self, job_id: &JobId, d: &Downloaded) -> Result<[u8; 32]> {
        let mut tries = 0;
        let expected = loop {
            match self.final_weights_hash(job_id).await {
                Ok(h) => break h,
                Err(Error::NotSettled { .. }) if tries < 20 => {
                    tries += 1;
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        };
        d.verify(&expected)
    }

    /// Downloads, verifies and saves the weights of a completed job (to `out`, or to
    /// `<jobs_dir>/<job>/weights.bin`). Nothing is written unless they verify.
    pub async fn collect(
        &self,
        session: &NodeSession,
        job_id: &JobId,
        out: Option<&std::path::Path>,
    ) -> Result<(Downloaded, [u8; 32], std::path::PathBuf)> {
        let d = session.download(job_id).await?;
        let digest = self.verify_download(job_id, &d).await?;
        let path = out
            .map(|p| p.to_path_buf())
            .unwrap_or_else(|| self.journal.weights_path(job_id));
        Journal::write_file(&path, &d.weights)?;
        if let Ok(mut r) = self.journal.load(job_id) {
            r.state = JobStage::Verified;
            r.final_weights_hash = Some(hex::encode(digest));
            r.weights_path = Some(path.clone());
            self.journal.save(&mut r)?;
        }
        Ok((d, digest, path))
    }

    /// The coordinator's view of a job.
    pub async fn status(&self, job_id: &JobId) -> Result<v1::JobStatus> {
        let mut c = self.coordinator().await?;
        let req = sign_now(
            methods::GET_JOB_STATUS,
            v1::JobRef {
                job_id: job_id.to_vec(),
            },
            &self.wallet,
        );
        self.coordinator_call("GetJobStatus", c.get_job_status(req))
            .await
    }

    /// Cancels a job: on chain if its escrow is funded and not yet accepted (the
    /// user gets the refund minus the cancellation fee), and with the coordinator (which
    /// releases a reservation, or follows the on-chain event).
    pub async fn cancel(&self, job_id: &JobId) -> Result<CancelOutcome> {
        let mut signature = None;
        if let Some(escrow) = self.escrow(job_id).await? {
            match escrow.state {
                EscrowState::Locked | EscrowState::Assigned => {
                    let addresses = *self.addresses().await?;
                    let user_token = self.token_account().await?;
                    let node_token = if escrow.state == EscrowState::Assigned {
                        Some(
                            self.chain
                                .token_accounts(&escrow.node, &addresses.mint)
                                .await?
                                .into_iter()
                                .next()
                                .ok_or_else(|| Error::NoTokenAccount(escrow.node.to_string()))?,
                        )
                    } else {
                        None
                    };
                    let sent = self
                        .chain
                        .send(
                            &[ix::escrow::cancel(
                                &addresses,
                                &self.wallet.pubkey(),
                                *job_id,
                                &user_token,
                                node_token,
                            )],
                            &[],
                        )
                        .await?;
                    signature = Some(sent.signature.to_string());
                }
                other => {
                    if !matches!(
                        other,
                        EscrowState::Cancelled | EscrowState::Refunded | EscrowState::TimedOut
                    ) {
                        return Err(Error::Invalid(format!(
                            "job {} cannot be cancelled: its escrow is {} (stop it on the node instead)",
                            hex::encode(job_id),
                            escrow_state_name(&other)
                        )));
                    }
                }
            }
        }
        let coordinator = async {
            let mut c = self.coordinator().await?;
            let req = sign_now(
                methods::CANCEL_JOB,
                v1::JobRef {
                    job_id: job_id.to_vec(),
                },
                &self.wallet,
            );
            self.coordinator_call("CancelJob", c.cancel_job(req)).await
        };
        let (coordinator_state, coordinator_error) = match coordinator.await {
            Ok(s) => (Some(job_state_name(s.state)), None),
            // After an on-chain cancel the coordinator follows the event on its own.
            Err(e) if signature.is_some() => (None, Some(e.to_string())),
            Err(e) => return Err(e),
        };
        if let Ok(mut r) = self.journal.load(job_id) {
            r.state = JobStage::Cancelled;
            self.journal.save(&mut r)?;
        }
        Ok(CancelOutcome {
            signature,
            coordinator_state,
            coordinator_error,
        })
    }

    /// Ends a job in progress as the user and settles its escrow by anchored progress:
    /// the node is paid for the epochs anchored on chain, the rest comes back. This is
    /// how a failed or stopped job is closed without penalising anyone (a refund the node
    /// signs counts against it). `None` when the escrow is no longer in progress (already
    /// settled by someone else).
    pub async fn refund(&self, job_id: &JobId) -> Result<Option<String>> {
        let Some(escrow) = self.escrow(job_id).await? else {
            return Ok(None);
        };
        if escrow.state != EscrowState::InProgress {
            return Ok(None);
        }
        let addresses = *self.addresses().await?;
        let user_token = self.token_account().await?;
        let node_token = self
            .chain
            .token_accounts(&escrow.node, &addresses.mint)
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| Error::NoTokenAccount(escrow.node.to_string()))?;
        let sent = self
            .chain
            .send(
                &[ix::escrow::refund(
                    &addresses,
                    &self.wallet.pubkey(),
                    *job_id,
                    &escrow.node,
                    &user_token,
                    &node_token,
                )],
                &[],
            )
            .await;
        match sent {
            Ok(s) => {
                let signature = s.signature.to_string();
                if let Ok(mut r) = self.journal.load(job_id) {
                    r.refund_tx = Some(signature.clone());
                    r.state = JobStage::Failed;
                    self.journal.save(&mut r)?;
                }
                Ok(Some(signature))
            }
            Err(e) => {
                // The node may have settled it between our read and our send.
                match self.escrow(job_id).await? {
                    Some(x) if x.state == EscrowState::InProgress => Err(e.into()),
                    _ => Ok(None),
                }
            }
        }
    }

    /// Rates a completed job's node (1–5 stars): on chain, then with the coordinator.
    pub async fn rate(
        &self,
        job_id: &JobId,
        node_owner: &Pubkey,
        stars: u8,
    ) -> Result<RateOutcome> {
        if !(1..=5).contains(&stars) {
            return Err(Error::Invalid(format!("stars must be 1..=5, not {stars}")));
        }
        let sent = self
            .chain
            .send(
                &[ix::escrow::rate_node(
                    &self.wallet.pubkey(),
                    *job_id,
                    node_owner,
                    stars,
                )],
                &[],
            )
            .await?;
        let coordinator = async {
            let mut c = self.coordinator().await?;
            let req = sign_now(
                methods::RATE_NODE,
                v1::RateNodeRequest {
                    job_id: job_id.to_vec(),
                    stars: stars as u32,
                },
                &self.wallet,
            );
            self.coordinator_call("RateNode", c.rate_node(req)).await
        };
        let coordinator_error = coordinator.await.err().map(|e| e.to_string());
        Ok(RateOutcome {
            signature: sent.signature.to_string(),
            stars,
            coordinator_error,
        })
    }

    /// SOL and CYXWIZ held by the wallet.
    pub async fn balance(&self) -> Result<Balance> {
        let owner = self.wallet.pubkey();
        let lamports = self.chain.balance(&owner).await?;
        let mint = self.addresses().await?.mint;
        let mut accounts = Vec::new();
        let mut tokens = 0u64;
        for a in self.chain.token_accounts(&owner, &mint).await? {
            let amount = self.chain.token_balance(&a).await?;
            tokens = tokens.saturating_add(amount);
            accounts.push(TokenAccountBalance {
                address: a.to_string(),
                amount,
            });
        }
        Ok(Balance {
            wallet: owner.to_string(),
            lamports,
            tokens,
            token_accounts: accounts,
        })
    }

    // ── everything at once ───────────────────────────────────────────────

    /// Runs a job end to end: submit, approve, escrow, confirm, upload, follow, settle,
    /// download, verify, save. The journal is updated at every step.
    ///
    /// With `[engine] discovery = "auto"` (the default) a coordinator that cannot be
    /// reached (after `coordinator_attempts` calls) hands over to
    /// [`Engine::run_direct`]: nodes from the mesh and the user's own assignment on
    /// chain. `"mesh"` goes there at once; `"coordinator"` never does.
    pub async fn run(&self, spec: &JobSpec, observer: &mut dyn Observer) -> Result<RunReport> {
        use crate::config::Discovery;
        let discovery = self.config.engine.discovery;
        if discovery == Discovery::Mesh {
            return self.run_direct(spec, observer).await;
        }
        let started = Instant::now();
        let mut timings = Timings::default();
        let mut sigs = Signatures::default();

        // Submit.
        let t = Instant::now();
        let quote = match self.submit_retrying(spec).await {
            Ok(q) => q,
            Err(e) if discovery == Discovery::Auto && e.is_coordinator_outage() => {
                observer.event(Event::CoordinatorUnreachable {
                    reason: &e.to_string(),
                });
                return self.run_direct(spec, observer).await;
            }
            Err(e) => return Err(e),
        };
        timings.submit_ms = elapsed_ms(t);
        let job_id = quote.job_id;
        let mut record = JobRecord::new(&job_id, &quote.node_owner, quote.price, quote.epochs);
        record.seed = spec.seed;
        record.endpoint = quote.node_endpoint.clone();
        record.module_hash = hex::encode(spec.module_hash());
        record.dataset_hash = hex::encode(spec.dataset_hash());
        self.journal.save(&mut record)?;
        observer.event(Event::Quoted(&quote));
        if !observer.approve(&quote) {
            let _ = self.cancel(&job_id).await;
            return Err(Error::Declined);
        }

        // Escrow.
        let t = Instant::now();
        let escrow_tx = match self.fund_escrow(&quote, spec).await {
            Ok(s) => s,
            Err(e) => {
                // Release the reservation; the escrow did not land.
                let _ = self.cancel(&job_id).await;
                return Err(self.fail(&mut record, e));
            }
        };
        sigs.escrow = escrow_tx.clone();
        record.escrow_tx = Some(escrow_tx.clone());
        record.state = JobStage::Funded;
        self.journal.save(&mut record)?;
        observer.event(Event::EscrowLocked {
            signature: &escrow_tx,
        });
        let mut credential = match self.confirm(&job_id, &escrow_tx).await {
            Ok(c) => c,
            // The coordinator went down after quoting: the escrow is funded and nobody
            // assigned it, so the user's own assignment is the way on (decision 151).
            Err(e) if discovery == Discovery::Auto && e.is_coordinator_outage() => {
                observer.event(Event::CoordinatorUnreachable {
                    reason: &e.to_string(),
                });
                let found = match self.discover(spec, quote.price).await {
                    Ok(found) => found,
                    Err(e) => {
                        let e = self.fallback_error(&job_id, &e).await;
                        return Err(self.fail(&mut record, e));
                    }
                };
                let candidates: Vec<_> = found.iter().map(|(c, _)| c.clone()).collect();
                observer.event(Event::Candidates(&candidates));
                let run = Run {
                    job_id,
                    price: quote.price,
                    epochs: quote.epochs,
                    record,
                    sigs,
                    timings,
                    started,
                };
                return self
                    .direct_after_funding(spec, run, t, found, observer)
                    .await;
            }
            Err(e) => return Err(self.fail(&mut record, e)),
        };
        timings.escrow_ms = elapsed_ms(t);
        sigs.assign = credential.assign_signature.clone();
        record.endpoint = credential.endpoint.clone();
        record.fingerprint = hex::encode(credential.fingerprint);
        record.node_owner = credential.node_owner.clone();
        record.state = JobStage::Confirmed;
        self.journal.save(&mut record)?;
        observer.event(Event::Confirmed(&credential));

        // Upload, retrying a transient failure a few times with a fresh token.
        let t = Instant::now();
        let mut session = self
            .connect(&credential)
            .await
            .map_err(|e| self.fail(&mut record, e))?;
        let mut attempt = 0;
        let uploaded = loop {
            let r = session
                .upload(
                    &credential.token,
                    &job_id,
                    spec.seed,
                    &spec.module,
                    &spec.dataset,
                    |sent, total| observer.event(Event::Uploading { sent, total }),
                )
                .await;
            match r {
                Ok(r) => break r,
                Err(e) if attempt < 3 && upload_may_retry(&e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "upload failed; retrying with a fresh token");
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                    credential = self
                        .confirm(&job_id, &escrow_tx)
                        .await
                        .map_err(|e| self.fail(&mut record, e))?;
                    session = self
                        .connect(&credential)
                        .await
                        .map_err(|e| self.fail(&mut record, e))?;
                }
                Err(e) => return Err(self.fail(&mut record, e)),
            }
        };
        timings.upload_ms = elapsed_ms(t);
        self.finish_run(
            session,
            uploaded,
            Run {
                job_id,
                price: quote.price,
                epochs: quote.epochs,
                record,
                sigs,
                timings,
                started,
            },
            observer,
        )
        .await
    }

    /// Runs a job without the coordinator (decisions 150 and 151; see
    /// [`crate::direct`]): price from the list, nodes from the mesh checked on chain,
    /// the escrow funded only once a node is found, the user's assignment once the
    /// chain's window has passed, the upload signed by the wallet. Then as
    /// [`Engine::run`]. A failure after funding says where the money is and how to get
    /// it back ([`Error::Fallback`]).
    pub async fn run_direct(
        &self,
        spec: &JobSpec,
        observer: &mut dyn Observer,
    ) -> Result<RunReport> {
        spec.validate()?;
        let started = Instant::now();
        let mut timings = Timings::default();
        let mut sigs = Signatures::default();

        // Price and find: nothing is paid yet.
        let t = Instant::now();
        let job_id: JobId = rand::random();
        let quote = self.direct_quote(spec, job_id).await?;
        self.assign_window().await?;
        observer.event(Event::Discovering {
            capability: &self.config.engine.capability,
        });
        let found = self.discover(spec, quote.price).await?;
        let candidates: Vec<_> = found.iter().map(|(c, _)| c.clone()).collect();
        observer.event(Event::Candidates(&candidates));
        timings.submit_ms = elapsed_ms(t);
        let mut record = JobRecord::new(&job_id, "", quote.price, quote.epochs);
        record.seed = spec.seed;
        record.module_hash = hex::encode(spec.module_hash());
        record.dataset_hash = hex::encode(spec.dataset_hash());
        self.journal.save(&mut record)?;
        observer.event(Event::Quoted(&quote));
        if !observer.approve(&quote) {
            return Err(Error::Declined);
        }

        // Escrow, then the user's assignment once the chain allows it.
        let t = Instant::now();
        let escrow_tx = self
            .create_escrow(job_id, quote.price, quote.epochs, spec)
            .await
            .map_err(|e| self.fail(&mut record, e))?;
        sigs.escrow = escrow_tx.clone();
        record.escrow_tx = Some(escrow_tx.clone());
        record.state = JobStage::Funded;
        self.journal.save(&mut record)?;
        observer.event(Event::EscrowLocked {
            signature: &escrow_tx,
        });
        let run = Run {
            job_id,
            price: quote.price,
            epochs: quote.epochs,
            record,
            sigs,
            timings,
            started,
        };
        self.direct_after_funding(spec, run, t, found, observer)
            .await
    }

    /// The coordinator-less path from a funded, unassigned escrow on: the user's
    /// assignment of the best of `found` once the chain allows it, the signed upload,
    /// then the job followed to its report. `t` is when the escrow step began.
    async fn direct_after_funding(
        &self,
        spec: &JobSpec,
        run: Run,
        t: Instant,
        found: Vec<(crate::direct::Candidate, NodeSession)>,
        observer: &mut dyn Observer,
    ) -> Result<RunReport> {
        let Run {
            job_id,
            price,
            epochs,
            mut record,
            mut sigs,
            mut timings,
            started,
        } = run;
        let (node, mut session, assign_tx) =
            match self.assign_by_user(&job_id, price, found, observer).await {
                Ok(x) => x,
                Err(e @ Error::NoCandidates { .. }) => return Err(self.fail(&mut record, e)),
                Err(e) => {
                    let e = self.fallback_error(&job_id, &e).await;
                    return Err(self.fail(&mut record, e));
                }
            };
        timings.escrow_ms = elapsed_ms(t);
        sigs.assign = assign_tx.clone();
        record.node_owner = node.owner.to_string();
        record.endpoint = node.endpoint.clone();
        record.fingerprint = hex::encode(node.fingerprint);
        record.state = JobStage::Confirmed;
        self.journal.save(&mut record)?;
        observer.event(Event::AssignedByUser {
            node: &node,
            signature: &assign_tx,
        });

        // Upload, retrying a transient failure a few times on a fresh connection (each
        // attempt is signed afresh: new timestamp, new nonce).
        let t = Instant::now();
        let mut attempt = 0;
        let uploaded = loop {
            let r = session
                .upload_direct(
                    &node.owner,
                    &job_id,
                    spec.seed,
                    &spec.module,
                    &spec.dataset,
                    |sent, total| observer.event(Event::Uploading { sent, total }),
                )
                .await;
            match r {
                Ok(r) => break r,
                Err(e) if attempt < 3 && upload_may_retry(&e) => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "direct upload failed; retrying");
                    tokio::time::sleep(Duration::from_secs(attempt)).await;
                    if let Err(e) = session.reconnect().await {
                        tracing::warn!(error = %e, "reconnecting to the node failed");
                    }
                }
                Err(e) => {
                    let e = self.fallback_error(&job_id, &e).await;
                    return Err(self.fail(&mut record, e));
                }
            }
        };
        timings.upload_ms = elapsed_ms(t);
        self.finish_run(
            session,
            uploaded,
            Run {
                job_id,
                price,
                epochs,
                record,
                sigs,
                timings,
                started,
            },
            observer,
        )
        .await
    }

    /// Follows an accepted job to its report: records the accepted upload, then metrics
    /// until final, settlement on chain, download verified against the chain. Shared by
    /// both ways of starting a job.
    async fn finish_run(
        &self,
        session: NodeSession,
        uploaded: SendJobResponse,
        run: Run,
        observer: &mut dyn Observer,
    ) -> Result<RunReport> {
        let Run {
            job_id,
            price,
            epochs,
            mut record,
            mut sigs,
            mut timings,
            started,
        } = run;
        sigs.accept = uploaded.accept_signature.clone();
        record.accept_tx = Some(uploaded.accept_signature.clone());
        record.state = JobStage::Uploaded;
        self.journal.save(&mut record)?;
        observer.event(Event::Uploaded(&uploaded));
        // Training: follow the metrics until the job is final.
        let t = Instant::now();
        let mut training_done: Option<Instant> = None;
        let mut last: Option<TrainingMetrics> = None;
        let mut metrics = session.metrics(&job_id);
        while let Some(m) = metrics.next().await {
            let m = m.map_err(|e| self.fail(&mut record, e))?;
            let phase = phase_of(&m);
            if training_done.is_none() && (phase == Phase::Completing || is_final(phase)) {
                training_done = Some(Instant::now());
            }
            observer.event(Event::Metrics(&m));
            let done = is_final(phase);
            last = Some(m);
            if done {
                break;
            }
        }
        let training_end = training_done.unwrap_or_else(Instant::now);
        timings.training_ms = training_end.duration_since(t).as_millis() as u64;
        if let Some(m) = &last {
            let phase = phase_of(m);
            if phase == Phase::Failed || phase == Phase::Stopped {
                let mut detail = m
                    .progress
                    .as_ref()
                    .map(|p| p.detail.clone())
                    .unwrap_or_default();
                // Close the escrow as the user while the node waits for us to (its own
                // refund would count against it): progress is paid, the rest returns.
                match self.refund(&job_id).await {
                    Ok(Some(sig)) => {
                        record.refund_tx = Some(sig.clone());
                        detail.push_str(&format!("; escrow refunded by progress (tx {sig})"));
                    }
                    Ok(None) => {}
                    Err(e) => detail.push_str(&format!("; refund failed: {e}")),
                }
                return Err(self.fail(
                    &mut record,
                    Error::JobFailed {
                        job: hex::encode(job_id),
                        phase: phase_name(phase),
                        detail,
                    },
                ));
            }
        }

        // Settlement: the node proves and gets paid on chain.
        let wait = Duration::from_secs(self.config.engine.settle_timeout_secs.max(1));
        let completion = session
            .training_complete(&job_id, wait)
            .await
            .map_err(|e| self.fail(&mut record, e))?;
        timings.settlement_ms = training_end.elapsed().as_millis() as u64;
        timings.prove_ms = completion.prove_ms;
        let progress = completion.progress.clone().unwrap_or_default();
        let phase = Phase::try_from(progress.phase).unwrap_or(Phase::Unspecified);
        if phase != Phase::Completed {
            return Err(self.fail(
                &mut record,
                Error::JobFailed {
                    job: hex::encode(job_id),
                    phase: phase_name(phase),
                    detail: progress.detail.clone(),
                },
            ));
        }
        sigs.payment = completion.payment_signature.clone();
        sigs.anchors = completion.anchor_signatures.clone();
        record.payment_tx = Some(completion.payment_signature.clone());
        record.test_accuracy = Some(completion.test_accuracy);
        record.state = JobStage::Completed;
        self.journal.save(&mut record)?;
        observer.event(Event::Completed(&completion));

        // Download and verify against the chain; only verified weights are saved.
        let t = Instant::now();
        let downloaded = session
            .download(&job_id)
            .await
            .map_err(|e| self.fail(&mut record, e))?;
        observer.event(Event::Downloaded {
            bytes: downloaded.weights.len() as u64,
        });
        let digest = self
            .verify_download(&job_id, &downloaded)
            .await
            .map_err(|e| self.fail(&mut record, e))?;
        let path = self.journal.weights_path(&job_id);
        Journal::write_file(&path, &downloaded.weights)?;
        timings.download_ms = elapsed_ms(t);
        record.final_weights_hash = Some(hex::encode(digest));
        record.weights_path = Some(path.clone());
        record.state = JobStage::Verified;
        self.journal.save(&mut record)?;
        observer.event(Event::Verified {
            digest: &digest,
            path: &path,
        });
        timings.total_ms = elapsed_ms(started);

        Ok(RunReport {
            job_id,
            node: record.node_owner.clone(),
            price,
            epochs: progress.epochs.max(epochs),
            test_accuracy: completion.test_accuracy,
            test_loss: completion.test_loss,
            final_weights_hash: digest,
            weights_path: path,
            weights_bytes: downloaded.weights.len() as u64,
            payment_signature: completion.payment_signature.clone(),
            signatures: sigs,
            timings,
            resumed_from: progress.resumed_from,
        })
    }

    /// Records a failure in the journal (best effort) and passes the error on.
    pub(crate) fn fail(&self, record: &mut JobRecord, e: Error) -> Error {
        // A weights mismatch or a failed job is final; a lost connection is not.
        if matches!(
            e,
            Error::WeightsTampered { .. }
                | Error::NodeDigestMismatch { .. }
                | Error::JobFailed { .. }
        ) {
            record.state = JobStage::Failed;
        }
        record.detail = Some(e.to_string());
        let _ = self.journal.save(record);
        e
    }
}

/// An upload failure worth another attempt: a transient gRPC status, a TLS failure or a
/// timeout (both upload paths retry the same ones).
fn upload_may_retry(e: &Error) -> bool {
    e.grpc_code().is_some_and(crate::node::is_transient)
        || matches!(e, Error::Tls(_) | Error::Timeout { .. })
}
