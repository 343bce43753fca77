//! A session with the node running a job, over TLS pinned to the node's key.
//!
//! `SendJob` presents the coordinator's single-use JWT, or, for a job the engine assigned
//! on chain itself, a header signed by the escrow's user ([`NodeSession::upload_direct`]);
//! every other call is signed by the engine wallet, so a session opened later from the
//! journal (endpoint + fingerprint) follows, controls and collects the job without any
//! token.

use std::{pin::Pin, sync::Arc, time::Duration};

use cyxwiz_chain::Pubkey;
use cyxwiz_channel::{
    limits::MAX_MESSAGE_BYTES,
    methods,
    v1::{
        Completion, Control, ControlRequest, JobProgress, JobRef, Phase, SendJobRequest,
        SendJobResponse, TrainingMetrics, UploadHeader, job_channel_client::JobChannelClient,
    },
};
use cyxwiz_proto::auth::sign_now;
use solana_keypair::Keypair;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::transport::Channel;

use crate::{
    Error, JobId, Result,
    download::{Downloaded, WeightsAssembler},
    upload::{UploadOptions, chunk_count, direct_header, messages_after},
};

/// Bounds of a session.
#[derive(Debug, Clone, Copy)]
pub struct SessionOptions {
    pub connect_timeout: Duration,
    /// One unary call.
    pub call_timeout: Duration,
    /// A whole upload.
    pub upload_timeout: Duration,
    /// Reopening a broken metrics stream: attempts and the pause between them.
    pub reconnect_attempts: u32,
    pub reconnect_interval: Duration,
    /// The largest weights blob accepted.
    pub max_weights_bytes: u64,
}

impl Default for SessionOptions {
    fn default() -> Self {
        SessionOptions {
            connect_timeout: Duration::from_secs(10),
            call_timeout: Duration::from_secs(30),
            upload_timeout: Duration::from_secs(900),
            reconnect_attempts: 60,
            reconnect_interval: Duration::from_secs(1),
            max_weights_bytes: crate::download::MAX_WEIGHTS_BYTES,
        }
    }
}

impl SessionOptions {
    /// The options the configuration describes.
    pub fn from_config(c: &crate::EngineConfig) -> SessionOptions {
        let e = &c.engine;
        SessionOptions {
            connect_timeout: Duration::from_millis(e.connect_timeout_ms.max(1)),
            call_timeout: Duration::from_millis(e.call_timeout_ms.max(1)),
            upload_timeout: Duration::from_secs(e.upload_timeout_secs.max(1)),
            reconnect_attempts: e.reconnect_attempts,
            reconnect_interval: Duration::from_millis(e.reconnect_interval_ms),
            max_weights_bytes: e.max_weights_bytes,
        }
    }
}

/// Whether a phase is final (the metrics stream ends after it).
pub fn is_final(phase: Phase) -> bool {
    matches!(phase, Phase::Completed | Phase::Failed | Phase::Stopped)
}

/// The phase of a metrics message.
pub fn phase_of(m: &TrainingMetrics) -> Phase {
    m.progress
        .as_ref()
        .and_then(|p| Phase::try_from(p.phase).ok())
        .unwrap_or(Phase::Unspecified)
}

/// Whether a failed call is worth retrying on a fresh connection (the node restarting,
/// the network dropping), rather than a refusal.
pub fn is_transient(code: tonic::Code) -> bool {
    use tonic::Code::*;
    matches!(
        code,
        Unavailable | Unknown | Cancelled | Internal | DeadlineExceeded | Aborted
    )
}

/// The wallet's signature on a direct upload's header, as request metadata
/// (`cyxwiz_proto::auth`, method `SendJob`).
fn sign_header(
    header: &UploadHeader,
    wallet: &Keypair,
    timestamp_ms: i64,
    nonce: [u8; 16],
) -> tonic::metadata::MetadataMap {
    use cyxwiz_proto::auth::{NONCE, SIGNATURE, TIMESTAMP, WALLET, signing_message};
    use prost::Message;
    use solana_signer::Signer;
    let message = signing_message(
        methods::SEND_JOB,
        timestamp_ms,
        &nonce,
        &header.encode_to_vec(),
    );
    let signature = wallet.sign_message(&message);
    let mut md = tonic::metadata::MetadataMap::new();
    for (key, value) in [
        (WALLET, wallet.pubkey().to_string()),
        (TIMESTAMP, timestamp_ms.to_string()),
        (NONCE, hex::encode(nonce)),
        (SIGNATURE, signature.to_string()),
    ] {
        // Base58, decimal and hex are always valid ASCII metadata.
        if let Ok(v) = value.parse() {
            md.insert(key, v);
        }
    }
    md
}

/// A stream of training metrics.
pub type MetricsStream = Pin<Box<dyn Stream<Item = Result<TrainingMetrics>> + Send>>;

/// A connection to one node.
#[derive(Clone)]
pub struct NodeSession {
    endpoint: String,
    fingerprint: [u8; 32],
    wallet: Arc<Keypair>,
    client: JobChannelClient<Channel>,
    options: SessionOptions,
}

impl std::fmt::Debug for NodeSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NodeSession")
            .field("endpoint", &self.endpoint)
            .field("fingerprint", &hex::encode(self.fingerprint))
            .finish_non_exhaustive()
    }
}

async fn open(
    endpoint: &str,
    fingerprint: [u8; 32],
    timeout: Duration,
) -> Result<JobChannelClient<Channel>> {
    let channel = cyxwiz_channel::tls::connect_pinned(endpoint, fingerprint, timeout).await?;
    Ok(JobChannelClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES))
}

fn job_ref(job_id: &JobId) -> JobRef {
    JobRef {
        job_id: job_id.to_vec(),
    }
}

impl NodeSession {
    /// Connects to the node at `endpoint` (`https://host:port`), accepting only the TLS
    /// key whose SHA-256 is `fingerprint`.
    pub async fn connect(
        endpoint: &str,
        fingerprint: [u8; 32],
        wallet: Arc<Keypair>,
        options: SessionOptions,
    ) -> Result<NodeSession> {
        let client = open(endpoint, fingerprint, options.connect_timeout).await?;
        Ok(NodeSession {
            endpoint: endpoint.to_string(),
            fingerprint,
            wallet,
            client,
            options,
        })
    }

    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    /// Opens a fresh connection (after the node restarted).
    pub async fn reconnect(&mut self) -> Result<()> {
        self.client = open(
            &self.endpoint,
            self.fingerprint,
            self.options.connect_timeout,
        )
        .await?;
        Ok(())
    }

    async fn unary<T>(
        &self,
        call: &'static str,
        fut: impl std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.options.call_timeout, fut).await {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(status)) => Err(Error::node(call, status)),
            Err(_) => Err(Error::Timeout {
                what: format!("node {call}"),
                secs: self.options.call_timeout.as_secs(),
            }),
        }
    }

    /// Uploads the module and the dataset for `job_id` with the coordinator's `token`.
    /// `progress(sent, total)` is called after each chunk with bytes handed to the
    /// transport. On success the node has accepted the job on chain.
    pub async fn upload(
        &self,
        token: &str,
        job_id: &JobId,
        seed: i64,
        module: &[u8],
        dataset: &[u8],
        progress: impl FnMut(u64, u64),
    ) -> Result<SendJobResponse> {
        self.upload_with(
            token,
            job_id,
            seed,
            module,
            dataset,
            UploadOptions::default(),
            progress,
        )
        .await
    }

    /// [`NodeSession::upload`] with test hooks.
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_with(
        &self,
        token: &str,
        job_id: &JobId,
        seed: i64,
        module: &[u8],
        dataset: &[u8],
        options: UploadOptions,
        progress: impl FnMut(u64, u64),
    ) -> Result<SendJobResponse> {
        let header = UploadHeader {
            job_id: job_id.to_vec(),
            seed,
            direct: None,
        };
        let request = cyxwiz_channel::auth::with_bearer(tonic::Request::new(()), token);
        self.send_upload(
            request.into_parts().0,
            header,
            module,
            dataset,
            options,
            progress,
        )
        .await
    }

    /// Uploads a job the engine assigned on chain itself (no coordinator, decision 150):
    /// the header names `node` (the owner the escrow is assigned to) and is signed by
    /// this session's wallet, which must be the escrow's user. On success the node has
    /// checked the escrow and accepted the job on chain.
    pub async fn upload_direct(
        &self,
        node: &Pubkey,
        job_id: &JobId,
        seed: i64,
        module: &[u8],
        dataset: &[u8],
        progress: impl FnMut(u64, u64),
    ) -> Result<SendJobResponse> {
        self.upload_direct_with(
            node,
            job_id,
            seed,
            module,
            dataset,
            UploadOptions::default(),
            progress,
        )
        .await
    }

    /// [`NodeSession::upload_direct`] with test hooks (signature time and nonce).
    #[allow(clippy::too_many_arguments)]
    pub async fn upload_direct_with(
        &self,
        node: &Pubkey,
        job_id: &JobId,
        seed: i64,
        module: &[u8],
        dataset: &[u8],
        options: UploadOptions,
        progress: impl FnMut(u64, u64),
    ) -> Result<SendJobResponse> {
        let header = direct_header(job_id, seed, &node.to_bytes(), module, dataset);
        let metadata = sign_header(
            &header,
            &self.wallet,
            options
                .signed_at_ms
                .unwrap_or_else(cyxwiz_proto::auth::now_ms),
            options.nonce.unwrap_or_else(rand::random),
        );
        self.send_upload(metadata, header, module, dataset, options, progress)
            .await
    }

    /// Runs one `SendJob` call with `metadata` (the authentication) and `header`.
    async fn send_upload(
        &self,
        metadata: tonic::metadata::MetadataMap,
        header: UploadHeader,
        module: &[u8],
        dataset: &[u8],
        options: UploadOptions,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<SendJobResponse> {
        let total = (module.len() + dataset.len()) as u64;
        let (tx, rx) = tokio::sync::mpsc::channel::<SendJobRequest>(4);
        let mut request = tonic::Request::new(ReceiverStream::new(rx));
        *request.metadata_mut() = metadata;
        let mut client = self.client.clone();
        let call = client.send_job(request);
        let n_chunks = chunk_count(module, dataset);
        let stop_after = options.stop_after_chunks;
        // Feeds the stream; returns true if it stopped on purpose (the test hook).
        let producer = async move {
            let mut sent = 0u64;
            for (i, msg) in messages_after(header, module, dataset, options).enumerate() {
                // Message 0 is the header; message i > 0 is chunk i - 1.
                if i > 0 && stop_after.is_some_and(|n| i > n) {
                    // Let what was sent reach the node, then vanish mid-stream.
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    return true;
                }
                let len = match &msg.part {
                    Some(cyxwiz_channel::v1::send_job_request::Part::Chunk(c)) => {
                        c.data.len() as u64
                    }
                    _ => 0,
                };
                if tx.send(msg).await.is_err() {
                    // The call ended (the node answered early, usually with an error).
                    return false;
                }
                if len > 0 {
                    sent += len;
                    progress(sent, total);
                }
            }
            drop(tx);
            false
        };
        let run = async {
            tokio::pin!(call);
            tokio::pin!(producer);
            let mut producer_done = false;
            loop {
                tokio::select! {
                    r = &mut call => {
                        return r.map(|r| r.into_inner()).map_err(|s| Error::node("SendJob", s));
                    }
                    stopped = &mut producer, if !producer_done => {
                        producer_done = true;
                        if stopped {
                            // Dropping the call resets the HTTP/2 stream unfinished.
                            return Err(Error::UploadAbandoned {
                                chunks: stop_after.unwrap_or(0).min(n_chunks),
                            });
                        }
                    }
                }
            }
        };
        match tokio::time::timeout(self.options.upload_timeout, run).await {
            Ok(r) => r,
            Err(_) => Err(Error::Timeout {
                what: "uploading the job to the node".into(),
                secs: self.options.upload_timeout.as_secs(),
            }),
        }
    }

    /// Live metrics until the job is final. A broken stream (node restart, network) is
    /// reopened on a fresh connection up to `reconnect_attempts` times, `reconnect_interval`
    /// apart; the count resets whenever a message arrives. Refusals (authentication, an
    /// unknown job) end the stream with the error.
    pub fn metrics(&self, job_id: &JobId) -> MetricsStream {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<TrainingMetrics>>(16);
        let mut session = self.clone();
        let job_id = *job_id;
        tokio::spawn(async move {
            let mut failures: u32 = 0;
            let mut fresh = true;
            loop {
                let mut last_error = String::new();
                if !fresh && let Err(e) = session.reconnect().await {
                    last_error = e.to_string();
                }
                fresh = false;
                if last_error.is_empty() {
                    let req = sign_now(
                        methods::STREAM_TRAINING_METRICS,
                        job_ref(&job_id),
                        &session.wallet,
                    );
                    let opened = tokio::time::timeout(
                        session.options.call_timeout,
                        session.client.stream_training_metrics(req),
                    )
                    .await;
                    match opened {
                        Ok(Ok(resp)) => {
                            let mut stream = resp.into_inner();
                            loop {
                                match stream.message().await {
                                    Ok(Some(m)) => {
                                        failures = 0;
                                        let done = is_final(phase_of(&m));
                                        if tx.send(Ok(m)).await.is_err() || done {
                                            return;
                                        }
                                    }
                                    Ok(None) => {
                                        last_error = "the stream ended before the job did".into();
                                        break;
                                    }
                                    Err(s) if is_transient(s.code()) => {
                                        last_error = s.to_string();
                                        break;
                                    }
                                    Err(s) => {
                                        let _ = tx
                                            .send(Err(Error::node("StreamTrainingMetrics", s)))
                                            .await;
                                        return;
                                    }
                                }
                            }
                        }
                        Ok(Err(s)) if is_transient(s.code()) => last_error = s.to_string(),
                        Ok(Err(s)) => {
                            let _ = tx.send(Err(Error::node("StreamTrainingMetrics", s))).await;
                            return;
                        }
                        Err(_) => last_error = "opening the stream timed out".into(),
                    }
                }
                failures += 1;
                if failures > session.options.reconnect_attempts {
                    let _ = tx
                        .send(Err(Error::Reconnect {
                            attempts: session.options.reconnect_attempts,
                            last: last_error,
                        }))
                        .await;
                    return;
                }
                tracing::debug!(attempt = failures, error = %last_error, "metrics stream broke; reconnecting");
                tokio::select! {
                    _ = tokio::time::sleep(session.options.reconnect_interval) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        Box::pin(ReceiverStream::new(rx))
    }

    /// Pauses, resumes or stops the job.
    pub async fn control(&self, job_id: &JobId, action: Control) -> Result<JobProgress> {
        self.control_at(job_id, action, 0).await
    }

    /// [`control`](Self::control) with `at_epoch`: a `Pause` takes effect once that many
    /// epochs are done (0: at the next epoch boundary).
    pub async fn control_at(
        &self,
        job_id: &JobId,
        action: Control,
        at_epoch: u32,
    ) -> Result<JobProgress> {
        let req = sign_now(
            methods::CONTROL_JOB,
            ControlRequest {
                job_id: job_id.to_vec(),
                action: action as i32,
                at_epoch,
            },
            &self.wallet,
        );
        let mut client = self.client.clone();
        self.unary("ControlJob", client.control_job(req)).await
    }

    /// The job's progress on the node.
    pub async fn get_job(&self, job_id: &JobId) -> Result<JobProgress> {
        let req = sign_now(methods::GET_JOB, job_ref(job_id), &self.wallet);
        let mut client = self.client.clone();
        self.unary("GetJob", client.get_job(req)).await
    }

    /// Asks the node to open checkpoints for an audit: a full reveal of `challenge.epoch`
    /// (and the epoch before), or with `probe` only its digests. Returns the node's JSON
    /// (a `cyxwiz_audit::Reveal` or `ProbeOpening`), checked by the caller.
    pub async fn reveal(&self, challenge: &cyxwiz_audit::Challenge, probe: bool) -> Result<String> {
        let challenge_json = serde_json::to_string(challenge)
            .map_err(|e| Error::Invalid(format!("challenge: {e}")))?;
        let req = sign_now(
            methods::REVEAL_CHECKPOINTS,
            cyxwiz_channel::v1::RevealRequest {
                job_id: challenge.job_id.to_vec(),
                challenge_json,
                probe,
            },
            &self.wallet,
        );
        let mut client = self.client.clone();
        let r = self
            .unary("RevealCheckpoints", client.reveal_checkpoints(req))
            .await?;
        Ok(r.reveal_json)
    }

    /// Waits up to `wait` for the job to be final on the node, then describes it.
    pub async fn training_complete(&self, job_id: &JobId, wait: Duration) -> Result<Completion> {
        let mut req = sign_now(methods::TRAINING_COMPLETE, job_ref(job_id), &self.wallet);
        req.set_timeout(wait);
        let mut client = self.client.clone();
        match tokio::time::timeout(wait + Duration::from_secs(5), client.training_complete(req))
            .await
        {
            Ok(Ok(r)) => Ok(r.into_inner()),
            Ok(Err(s)) if s.code() == tonic::Code::DeadlineExceeded => Err(Error::Timeout {
                what: "waiting for the node to finish the job".into(),
                secs: wait.as_secs(),
            }),
            Ok(Err(s)) => Err(Error::node("TrainingComplete", s)),
            Err(_) => Err(Error::Timeout {
                what: "waiting for the node to finish the job".into(),
                secs: wait.as_secs(),
            }),
        }
    }

    /// Downloads the final weights, checking every chunk (checksum, contiguous offsets,
    /// a bounded total). The result still has to be checked against the chain
    /// ([`crate::Engine::verify_weights`] or [`Downloaded::verify`]).
    pub async fn download(&self, job_id: &JobId) -> Result<Downloaded> {
        let req = sign_now(methods::DOWNLOAD_WEIGHTS, job_ref(job_id), &self.wallet);
        let mut client = self.client.clone();
        let mut asm = WeightsAssembler::new(self.options.max_weights_bytes);
        let call = async {
            let mut stream = client
                .download_weights(req)
                .await
                .map_err(|s| Error::node("DownloadWeights", s))?
                .into_inner();
            while let Some(chunk) = stream
                .message()
                .await
                .map_err(|s| Error::node("DownloadWeights", s))?
            {
                asm.push(chunk)?;
            }
            Ok::<(), Error>(())
        };
        // A generous bound: the call timeout per 64 MiB, at least once, at most 17 times.
        let per = self.options.call_timeout;
        let slices = (1 + self.options.max_weights_bytes / (64 << 20)).min(17) as u32;
        let bound = per * slices;
        match tokio::time::timeout(bound, call).await {
            Ok(r) => r?,
            Err(_) => {
                return Err(Error::Timeout {
                    what: "downloading the weights".into(),
                    secs: bound.as_secs(),
                });
            }
        }
        asm.finish()
    }
}
