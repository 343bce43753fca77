//! The job channel's gRPC service (see `proto/cyxwiz/node/v1/node.proto`).
//!
//! `SendJob` admits a job in one of two ways: the coordinator's single-use credential
//! (redeemed with `VerifyToken`), or, when the engine works without a coordinator, a
//! header signed by the escrow's user and checked against the escrow on chain
//! ([`Node::admit_direct`], decision 150). Either way the job then proceeds the same.
//!
//! Every refusal is a status code with a message that says what was wrong; nothing an
//! engine sends can panic the node, and a failed upload leaves no job and no files.

use std::{pin::Pin, sync::Arc, time::Duration};

use cyxwiz_audit::{Challenge, StoredCheckpoint, build_probe, build_reveal};
use cyxwiz_chain::Pubkey;
use cyxwiz_channel::{
    auth::bearer,
    methods, sha256,
    v1::{self, job_channel_server::JobChannel, send_job_request::Part as Msg},
};
use tokio::sync::mpsc;
use tokio_stream::{Stream, wrappers::ReceiverStream};
use tonic::{Request, Response, Status, Streaming};

use crate::{
    job::JobHandle,
    node::{MAX_SKEW_MS, Node, Uploaded},
    store::{JobDir, Manifest, Phase, disk_usage},
};

/// Largest audit challenge accepted (a few hashes and numbers as JSON).
const MAX_CHALLENGE_BYTES: usize = 4 * 1024;

/// Longest a `TrainingComplete` call waits server-side.
const MAX_COMPLETE_WAIT: Duration = Duration::from_secs(3_600);

#[derive(Debug, Clone)]
pub struct ChannelService {
    pub node: Arc<Node>,
}

type Stream_<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

fn job_id(bytes: &[u8]) -> Result<[u8; 16], Status> {
    bytes
        .try_into()
        .map_err(|_| Status::invalid_argument("job_id must be 16 bytes"))
}

fn part_name(part: i32) -> &'static str {
    match v1::Part::try_from(part) {
        Ok(v1::Part::Module) => "module",
        Ok(v1::Part::Dataset) => "dataset",
        _ => "unknown part",
    }
}

impl ChannelService {
    /// Checks the engine wallet's signature on a call about `job_id` and returns the job.
    fn authorize<M: prost::Message>(
        &self,
        request: &Request<M>,
        method: &str,
        job_id_bytes: &[u8],
    ) -> Result<Arc<JobHandle>, Status> {
        let caller = cyxwiz_proto::auth::verify(
            request.metadata(),
            method,
            request.get_ref(),
            cyxwiz_proto::auth::now_ms(),
            MAX_SKEW_MS,
        )
        .map_err(|e| Status::unauthenticated(e.to_string()))?;
        let id = job_id(job_id_bytes)?;
        let job = self
            .node
            .job(&id)
            .ok_or_else(|| Status::not_found(format!("no job {} on this node", hex::encode(id))))?;
        if job.engine != caller.wallet {
            return Err(Status::permission_denied(
                "the job belongs to another wallet",
            ));
        }
        if !self.node.use_nonce(caller.nonce) {
            return Err(Status::unauthenticated(
                "replayed request (nonce already used)",
            ));
        }
        Ok(job)
    }

    /// Redeems the coordinator's credential for job `id`: the engine wallet and the
    /// job's configuration.
    async fn redeem(
        &self,
        token: &str,
        id: &[u8; 16],
    ) -> Result<(Pubkey, cyxwiz_proto::v1::JobConfig), Status> {
        let grant = self.node.verify_token(token).await?;
        if grant.job_id.as_slice() != id.as_slice() {
            return Err(Status::permission_denied(
                "the credential was issued for another job",
            ));
        }
        if grant.tls_fingerprint.as_slice() != self.node.fingerprint.as_slice() {
            return Err(Status::permission_denied(
                "the credential was issued for another TLS key than this node's",
            ));
        }
        let engine: Pubkey = grant
            .engine_wallet
            .parse()
            .map_err(|_| Status::internal("the coordinator named a malformed engine wallet"))?;
        let config = grant
            .config
            .ok_or_else(|| Status::internal("the coordinator sent no job configuration"))?;
        Ok((engine, config))
    }

    async fn next_chunk(
        &self,
        stream: &mut Streaming<v1::SendJobRequest>,
        idle: Duration,
    ) -> Result<Option<v1::SendJobRequest>, Status> {
        match tokio::time::timeout(idle, stream.message()).await {
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no upload message for {}s: upload abandoned",
                idle.as_secs()
            ))),
            Ok(Err(s)) => Err(Status::aborted(format!(
                "upload interrupted: {}",
                s.message()
            ))),
            Ok(Ok(m)) => Ok(m),
        }
    }
}

/// What an upload has received so far.
struct Received {
    module: Vec<u8>,
    dataset: Vec<u8>,
    module_size: u64,
    dataset_size: u64,
    max_chunk: u64,
}

impl Received {
    fn apply(&mut self, c: v1::Chunk) -> Result<(), Status> {
        let name = part_name(c.part);
        let (buf, declared) = match v1::Part::try_from(c.part) {
            Ok(v1::Part::Module) => {
                if !self.dataset.is_empty() {
                    return Err(Status::invalid_argument(
                        "module chunks must all come before the dataset's",
                    ));
                }
                (&mut self.module, self.module_size)
            }
            Ok(v1::Part::Dataset) => (&mut self.dataset, self.dataset_size),
            _ => {
                return Err(Status::invalid_argument(
                    "chunk part must be MODULE or DATASET",
                ));
            }
        };
        if c.data.is_empty() || c.data.len() as u64 > self.max_chunk {
            return Err(Status::invalid_argument(format!(
                "{name} chunk of {} bytes: chunks must be 1..={} bytes",
                c.data.len(),
                self.max_chunk
            )));
        }
        if c.offset != buf.len() as u64 {
            return Err(Status::invalid_argument(format!(
                "{name} chunk at offset {} but {} bytes were received",
                c.offset,
                buf.len()
            )));
        }
        if sha256(&c.data).as_slice() != c.sha256.as_slice() {
            return Err(Status::data_loss(format!(
                "{name} chunk at offset {} fails its checksum",
                c.offset
            )));
        }
        if buf.len() as u64 + c.data.len() as u64 > declared {
            return Err(Status::invalid_argument(format!(
                "more {name} bytes than the {declared} the job was submitted with"
            )));
        }
        buf.extend_from_slice(&c.data);
        Ok(())
    }
}

#[tonic::async_trait]
impl JobChannel for ChannelService {
    async fn send_job(
        &self,
        request: Request<Streaming<v1::SendJobRequest>>,
    ) -> Result<Response<v1::SendJobResponse>, Status> {
        let node = &self.node;
        let cfg = &node.cfg.jobs;
        let token = bearer(request.metadata()).map(str::to_string);
        // The direct path's signature covers the header, which is only read below.
        let metadata = token.is_none().then(|| request.metadata().clone());
        let mut stream = request.into_inner();
        let idle = Duration::from_secs(cfg.upload_idle_secs);
        let header = match self.next_chunk(&mut stream, idle).await? {
            Some(v1::SendJobRequest {
                part: Some(Msg::Header(h)),
            }) => h,
            _ => {
                return Err(Status::invalid_argument(
                    "the first SendJob message must be the upload header",
                ));
            }
        };
        let id = job_id(&header.job_id)?;
        let (engine, config) = match (token, metadata) {
            (Some(token), _) => self.redeem(&token, &id).await?,
            // Without a coordinator: the escrow's user signed the header (decision 150).
            (None, Some(metadata)) if header.direct.is_some() => {
                node.admit_direct(&metadata, &header).await?
            }
            _ => {
                return Err(Status::unauthenticated(
                    "SendJob needs the coordinator's credential (authorization: Bearer <jwt>) \
                     or a direct-job header signed by the escrow's user",
                ));
            }
        };
        if config.epochs == 0 {
            return Err(Status::invalid_argument("the job has no epochs"));
        }
        if config.module_size > cfg.max_module_bytes || config.dataset_size > cfg.max_dataset_bytes
        {
            return Err(Status::resource_exhausted(format!(
                "this node takes modules up to {} bytes and datasets up to {} bytes",
                cfg.max_module_bytes, cfg.max_dataset_bytes
            )));
        }
        let data_dir = &node.cfg.storage.data_dir;
        let limit = node.cfg.storage.max_storage_gb.saturating_mul(1 << 30);
        if disk_usage(data_dir) + config.module_size + config.dataset_size > limit {
            return Err(Status::resource_exhausted("the node's storage is full"));
        }
        let _claim = node.begin_upload(id)?;

        let mut got = Received {
            module: Vec::with_capacity(config.module_size as usize),
            dataset: Vec::with_capacity(config.dataset_size as usize),
            module_size: config.module_size,
            dataset_size: config.dataset_size,
            max_chunk: cfg.max_chunk_bytes,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(cfg.upload_timeout_secs);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return Err(Status::deadline_exceeded(format!(
                    "the upload took longer than {}s",
                    cfg.upload_timeout_secs
                )));
            }
            match self.next_chunk(&mut stream, idle.min(left)).await? {
                None => break,
                Some(v1::SendJobRequest {
                    part: Some(Msg::Chunk(c)),
                }) => got.apply(c)?,
                Some(_) => {
                    return Err(Status::invalid_argument(
                        "only chunks may follow the upload header",
                    ));
                }
            }
        }
        if got.module.len() as u64 != config.module_size
            || got.dataset.len() as u64 != config.dataset_size
        {
            return Err(Status::invalid_argument(format!(
                "upload ended early: module {}/{} bytes, dataset {}/{} bytes",
                got.module.len(),
                config.module_size,
                got.dataset.len(),
                config.dataset_size
            )));
        }
        if sha256(&got.module).as_slice() != config.module_hash.as_slice() {
            return Err(Status::data_loss(
                "the module does not match the hash the job was submitted with",
            ));
        }
        if sha256(&got.dataset).as_slice() != config.dataset_hash.as_slice() {
            return Err(Status::data_loss(
                "the dataset does not match the hash the job was submitted with",
            ));
        }

        // Check the module and the data before committing stake to the job.
        let module = node
            .sandbox
            .load(&got.module)
            .map_err(|e| Status::invalid_argument(format!("module rejected: {e}")))?;
        let dataset = Arc::new(std::mem::take(&mut got.dataset));
        {
            let (sandbox, module, dataset) =
                (node.sandbox.clone(), module.clone(), dataset.clone());
            let seed = header.seed;
            tokio::task::spawn_blocking(move || -> Result<(), String> {
                let mut job = sandbox.instantiate(&module).map_err(|e| e.to_string())?;
                job.init(&dataset, seed).map_err(|e| e.to_string())?;
                Ok(())
            })
            .await
            .map_err(|e| Status::internal(e.to_string()))?
            .map_err(|e| Status::invalid_argument(format!("module rejected the dataset: {e}")))?;
        }

        let dir = JobDir::new(data_dir, &id);
        let manifest = Manifest::new(
            &id,
            engine.to_string(),
            config.epochs,
            header.seed,
            &config.module_hash,
            &config.dataset_hash,
        );
        dir.create(&got.module, &dataset, &manifest)
            .map_err(|e| Status::internal(format!("storing the job: {e}")))?;
        let accept_signature = match node.accept(id).await {
            Ok(s) => s,
            Err(e) => {
                dir.remove();
                return Err(Status::failed_precondition(format!(
                    "accepting the job on chain failed: {e}"
                )));
            }
        };
        let handle = Arc::new(JobHandle::new(id, engine, dir, manifest));
        handle.update(true, |m| m.accept_signature = accept_signature.clone());
        tracing::info!(job = %hex::encode(id), %engine, %accept_signature, "job accepted");
        node.start(handle.clone(), Uploaded { module, dataset });
        Ok(Response::new(v1::SendJobResponse {
            job_id: id.to_vec(),
            accept_signature,
            progress: Some(handle.progress()),
        }))
    }

    type StreamTrainingMetricsStream = Stream_<v1::TrainingMetrics>;

    async fn stream_training_metrics(
        &self,
        request: Request<v1::JobRef>,
    ) -> Result<Response<Self::StreamTrainingMetricsStream>, Status> {
        let job = self.authorize(
            &request,
            methods::STREAM_TRAINING_METRICS,
            &request.get_ref().job_id,
        )?;
        let interval = Duration::from_millis(self.node.cfg.jobs.metrics_interval_ms);
        let mut rx = job.subscribe();
        let (tx, out) = mpsc::channel(16);
        tokio::spawn(async move {
            let mut last_sent: Option<tokio::time::Instant> = None;
            let mut last_phase = -1;
            loop {
                let m = rx.borrow_and_update().clone();
                let phase = job.phase();
                let wire = phase.to_wire() as i32;
                let due = last_sent.is_none_or(|t| t.elapsed() >= interval)
                    || wire != last_phase
                    || phase.is_final();
                if due {
                    let mut m = m;
                    if let Some(p) = m.progress.as_mut() {
                        p.phase = wire;
                    }
                    if tx.send(Ok(m)).await.is_err() {
                        return;
                    }
                    last_sent = Some(tokio::time::Instant::now());
                    last_phase = wire;
                }
                if phase.is_final() {
                    return;
                }
                let wait = last_sent
                    .map(|t| interval.saturating_sub(t.elapsed()))
                    .unwrap_or(interval);
                tokio::select! {
                    r = rx.changed() => if r.is_err() { return },
                    _ = tokio::time::sleep(if due { Duration::from_secs(3_600) } else { wait }) => {}
                    _ = tx.closed() => return,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out))))
    }

    async fn control_job(
        &self,
        request: Request<v1::ControlRequest>,
    ) -> Result<Response<v1::JobProgress>, Status> {
        let job = self.authorize(&request, methods::CONTROL_JOB, &request.get_ref().job_id)?;
        let phase = job.phase();
        if !phase.is_active() {
            return Err(Status::failed_precondition(format!(
                "the job is {phase:?}: only queued, running or paused jobs can be controlled"
            )));
        }
        match v1::Control::try_from(request.get_ref().action) {
            Ok(v1::Control::Pause) if request.get_ref().at_epoch > 0 => {
                job.pause_at(request.get_ref().at_epoch)
            }
            Ok(v1::Control::Pause) => job.pause(),
            Ok(v1::Control::Resume) => job.resume(),
            Ok(v1::Control::Stop) => job.stop(),
            _ => {
                return Err(Status::invalid_argument(
                    "action must be PAUSE, RESUME or STOP",
                ));
            }
        }
        Ok(Response::new(job.progress()))
    }

    async fn get_job(
        &self,
        request: Request<v1::JobRef>,
    ) -> Result<Response<v1::JobProgress>, Status> {
        let job = self.authorize(&request, methods::GET_JOB, &request.get_ref().job_id)?;
        Ok(Response::new(job.progress()))
    }

    type DownloadWeightsStream = Stream_<v1::WeightsChunk>;

    async fn download_weights(
        &self,
        request: Request<v1::JobRef>,
    ) -> Result<Response<Self::DownloadWeightsStream>, Status> {
        let job = self.authorize(
            &request,
            methods::DOWNLOAD_WEIGHTS,
            &request.get_ref().job_id,
        )?;
        let m = job.manifest();
        if !matches!(m.phase, Phase::Completing | Phase::Completed) {
            return Err(Status::failed_precondition(format!(
                "the job has not finished training (it is {:?})",
                m.phase
            )));
        }
        let ckpt = job
            .dir
            .load_checkpoint(m.epochs_done)
            .map_err(|e| Status::internal(format!("reading the final weights: {e}")))?;
        let mut weights = ckpt.weights;
        let digest = cyxwiz_poc::weights_digest(&weights);
        // Never serve weights other than the ones committed: a damaged disk is reported,
        // not passed on for the engine to find out.
        if !m.final_weights_hash.is_empty() && hex::encode(digest) != m.final_weights_hash {
            return Err(Status::data_loss(format!(
                "the stored final weights (epoch {}) no longer match the committed hash",
                m.epochs_done
            )));
        }
        if self
            .node
            .faults
            .tamper_weights
            .load(std::sync::atomic::Ordering::Relaxed)
            && !weights.is_empty()
        {
            weights[0] ^= 0x01;
        }
        let chunk = self.node.cfg.jobs.max_chunk_bytes as usize;
        let total = weights.len() as u64;
        let (tx, out) = mpsc::channel(4);
        tokio::spawn(async move {
            for (i, part) in weights.chunks(chunk.max(1)).enumerate() {
                let msg = v1::WeightsChunk {
                    offset: (i * chunk) as u64,
                    data: part.to_vec(),
                    sha256: sha256(part).to_vec(),
                    total_size: total,
                    weights_digest: if i == 0 { digest.to_vec() } else { Vec::new() },
                };
                if tx.send(Ok(msg)).await.is_err() {
                    return;
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(out))))
    }

    async fn training_complete(
        &self,
        request: Request<v1::JobRef>,
    ) -> Result<Response<v1::Completion>, Status> {
        let job = self.authorize(
            &request,
            methods::TRAINING_COMPLETE,
            &request.get_ref().job_id,
        )?;
        let mut rx = job.subscribe();
        let wait = async {
            // A settlement that failed is retried at the next start: report it now.
            let settled_or_failed = |job: &JobHandle| {
                job.phase().is_final()
                    || (job.phase() == Phase::Completing
                        && job.manifest().detail.starts_with("settlement failed"))
            };
            while !settled_or_failed(&job) {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        };
        if tokio::time::timeout(MAX_COMPLETE_WAIT, wait).await.is_err() {
            return Err(Status::deadline_exceeded("the job is still running"));
        }
        let m = job.manifest();
        Ok(Response::new(v1::Completion {
            progress: Some(job.progress()),
            final_weights_hash: hex::decode(&m.final_weights_hash).unwrap_or_default(),
            payment_signature: m.payment_signature.clone(),
            weights_size: 0,
            test_loss: m.test_loss,
            test_accuracy: m.test_accuracy,
            anchor_signatures: m.anchors.iter().map(|a| a.signature.clone()).collect(),
            train_ms: m.train_ms,
            prove_ms: m.prove_ms,
        }))
    }

    async fn reveal_checkpoints(
        &self,
        request: Request<v1::RevealRequest>,
    ) -> Result<Response<v1::RevealResponse>, Status> {
        let job = self.authorize(
            &request,
            methods::REVEAL_CHECKPOINTS,
            &request.get_ref().job_id,
        )?;
        let req = request.into_inner();
        if req.challenge_json.len() > MAX_CHALLENGE_BYTES {
            return Err(Status::invalid_argument("challenge too large"));
        }
        let challenge: Challenge = serde_json::from_str(&req.challenge_json)
            .map_err(|e| Status::invalid_argument(format!("challenge: {e}")))?;
        if challenge.job_id != job.id {
            return Err(Status::invalid_argument("the challenge names another job"));
        }
        let (dir, id) = (job.dir.clone(), job.id);
        // Reading and hashing checkpoints is blocking work (Poseidon over the chain).
        let json = tokio::task::spawn_blocking(move || {
            let chain = dir
                .committed_chain(id)
                .map_err(|e| Status::internal(format!("reading the checkpoint chain: {e}")))?;
            let source = |epoch: u32| {
                dir.load_checkpoint(epoch).map(|c| StoredCheckpoint {
                    weights: c.weights,
                    metrics: c.metrics,
                    timestamp: c.timestamp,
                })
            };
            let refused = |e: cyxwiz_audit::AuditError| match e {
                cyxwiz_audit::AuditError::Unavailable { .. } => Status::data_loss(e.to_string()),
                other => Status::failed_precondition(other.to_string()),
            };
            if req.probe {
                let p = build_probe(&chain, &challenge, &source).map_err(refused)?;
                serde_json::to_string(&p).map_err(|e| Status::internal(e.to_string()))
            } else {
                let r = build_reveal(&chain, &challenge, &source).map_err(refused)?;
                serde_json::to_string(&r).map_err(|e| Status::internal(e.to_string()))
            }
        })
        .await
        .map_err(|e| Status::internal(format!("reveal thread: {e}")))??;
        Ok(Response::new(v1::RevealResponse { reveal_json: json }))
    }
}
