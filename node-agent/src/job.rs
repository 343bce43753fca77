//! One job on the node: its shared state ([`JobHandle`]), and the training loop that
//! runs it in the sandbox, commits every epoch and saves a checkpoint per epoch.
//!
//! The loop runs on a blocking thread (wasm calls are synchronous and CPU-bound) and
//! talks to the async side through a bounded channel of [`Event`]s: progress reports and
//! anchors are sent by the settlement task without ever stalling training.

use std::{
    sync::{Condvar, Mutex, MutexGuard},
    time::Instant,
};

use cyxwiz_chain::Pubkey;
use cyxwiz_channel::v1;
use cyxwiz_poc::{CheckpointChain, Digest, Witness};
use cyxwiz_sandbox::{JobError, JobModule, Sandbox, metric};
use tokio::sync::{mpsc, watch};

use crate::store::{Checkpoint, JobDir, Manifest, Phase, Record, StoreError};

/// What the engine asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Turn {
    Go,
    Stop,
    /// The node is shutting down: leave the job resumable.
    Shutdown,
}

#[derive(Debug, Default)]
struct Ctl {
    paused: bool,
    /// Pause once this many epochs are done (0: not armed).
    pause_at: u32,
    stop: bool,
    shutdown: bool,
}

/// A job's state shared by the training thread, the settlement task and the gRPC
/// handlers.
pub struct JobHandle {
    pub id: [u8; 16],
    pub engine: Pubkey,
    pub dir: JobDir,
    manifest: Mutex<Manifest>,
    latest: watch::Sender<v1::TrainingMetrics>,
    ctl: Mutex<Ctl>,
    cv: Condvar,
}

impl std::fmt::Debug for JobHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobHandle")
            .field("id", &hex::encode(self.id))
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking holder cannot leave these structures half-updated in a way that
    // matters more than losing the node; keep serving.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl JobHandle {
    pub fn new(id: [u8; 16], engine: Pubkey, dir: JobDir, manifest: Manifest) -> JobHandle {
        let (latest, _) = watch::channel(v1::TrainingMetrics::default());
        let h = JobHandle {
            id,
            engine,
            dir,
            manifest: Mutex::new(manifest),
            latest,
            ctl: Mutex::new(Ctl::default()),
            cv: Condvar::new(),
        };
        let progress = h.progress();
        h.latest.send_modify(|m| m.progress = Some(progress));
        h
    }

    pub fn manifest(&self) -> Manifest {
        lock(&self.manifest).clone()
    }

    pub fn phase(&self) -> Phase {
        lock(&self.manifest).phase
    }

    /// Changes the manifest; persists it when `persist`; republishes the progress.
    pub fn update(&self, persist: bool, f: impl FnOnce(&mut Manifest)) {
        let snapshot = {
            let mut m = lock(&self.manifest);
            f(&mut m);
            m.clone()
        };
        if persist && let Err(e) = self.dir.save_manifest(&snapshot) {
            tracing::error!(job = %hex::encode(self.id), error = %e, "saving the manifest");
        }
        let progress = progress_of(&self.id, &snapshot);
        self.latest.send_modify(|m| m.progress = Some(progress));
    }

    pub fn set_phase(&self, phase: Phase, detail: impl Into<String>) {
        let detail = detail.into();
        self.update(true, |m| {
            m.phase = phase;
            if !detail.is_empty() {
                m.detail = detail;
            }
        });
        if phase.is_final() {
            // Wake a paused loop so it can observe the end.
            self.cv.notify_all();
        }
    }

    pub fn progress(&self) -> v1::JobProgress {
        progress_of(&self.id, &lock(&self.manifest))
    }

    pub fn subscribe(&self) -> watch::Receiver<v1::TrainingMetrics> {
        self.latest.subscribe()
    }

    pub fn publish(&self, metrics: v1::TrainingMetrics) {
        self.latest.send_replace(metrics);
    }

    pub fn pause(&self) {
        lock(&self.ctl).paused = true;
    }

    /// Pauses the job once `epochs` epochs are done (at once if they already are): lets a
    /// user hold training at a chosen checkpoint, e.g. to audit what was anchored.
    pub fn pause_at(&self, epochs: u32) {
        lock(&self.ctl).pause_at = epochs.max(1);
    }

    pub fn resume(&self) {
        lock(&self.ctl).paused = false;
        self.cv.notify_all();
    }

    pub fn stop(&self) {
        lock(&self.ctl).stop = true;
        self.cv.notify_all();
    }

    pub fn shutdown(&self) {
        lock(&self.ctl).shutdown = true;
        self.cv.notify_all();
    }

    pub fn stop_requested(&self) -> bool {
        let c = lock(&self.ctl);
        c.stop || c.shutdown
    }

    /// Blocks while the job is paused; says whether to train the next epoch (`done`
    /// epochs are done so far).
    fn wait_turn(&self, done: u32) -> Turn {
        let mut c = lock(&self.ctl);
        if c.pause_at != 0 && done >= c.pause_at {
            c.pause_at = 0;
            c.paused = true;
        }
        let mut announced = false;
        loop {
            if c.shutdown {
                return Turn::Shutdown;
            }
            if c.stop {
                return Turn::Stop;
            }
            if !c.paused {
                if announced {
                    drop(c);
                    self.set_phase(Phase::Running, "");
                }
                return Turn::Go;
            }
            if !announced {
                announced = true;
                drop(c);
                self.set_phase(Phase::Paused, "");
                c = lock(&self.ctl);
                continue;
            }
            c = self.cv.wait(c).unwrap_or_else(|e| e.into_inner());
        }
    }
}

fn progress_of(id: &[u8; 16], m: &Manifest) -> v1::JobProgress {
    v1::JobProgress {
        job_id: id.to_vec(),
        phase: m.phase.to_wire() as i32,
        epoch: m.epochs_done,
        epochs: m.epochs,
        epochs_anchored: m.epochs_anchored(),
        checkpoint_hash: Vec::new(),
        merkle_root: hex::decode(&m.merkle_root).unwrap_or_default(),
        detail: m.detail.clone(),
        resumed_from: m.resumed_from,
    }
}

/// Sent from the training thread to the settlement task, in epoch order.
#[derive(Debug, Clone)]
pub enum Event {
    /// Report `hash` (H_epoch) to the coordinator.
    Progress { epoch: u32, hash: Digest },
    /// Anchor the Merkle root of the first `epoch` checkpoints on chain.
    Anchor { epoch: u32, root: Digest },
}

/// How training ended.
#[derive(Debug)]
pub enum Outcome {
    /// All epochs done.
    Trained(Trained),
    /// The engine stopped the job after `epochs` epochs.
    Stopped { epochs: u32, root: Option<Digest> },
    /// The node is shutting down; the job resumes on the next start.
    Interrupted,
    /// The module failed (its fault: trap, fuel, memory, ABI, kernel error) after
    /// `epochs` epochs.
    ModuleFailed {
        reason: String,
        epochs: u32,
        root: Option<Digest>,
    },
    /// The node could not go on (disk, corrupt state).
    NodeFailed(String),
}

#[derive(Debug)]
pub struct Trained {
    pub epochs: u32,
    pub root: Digest,
    pub final_weights: Digest,
    pub witness: Witness,
    pub test_accuracy: f64,
    pub test_loss: f64,
    pub train_ms: u64,
}

/// Knobs of the training loop.
#[derive(Debug, Clone, Copy)]
pub struct LoopConfig {
    pub progress_every: u32,
    pub anchor_every: u32,
    /// Test fault ([`crate::node::Faults::skip_training_from`]): from this epoch on
    /// (1-based; 0 = never) the loop does not train and commits the previous weights and
    /// metrics again, as a node claiming work it did not do would.
    pub skip_training_from: u32,
}

fn now_ms() -> i64 {
    cyxwiz_proto::auth::now_ms()
}

enum Stop {
    Module(JobError),
    Store(StoreError),
    Commit(cyxwiz_poc::PocError),
}

impl From<JobError> for Stop {
    fn from(e: JobError) -> Self {
        Stop::Module(e)
    }
}
impl From<StoreError> for Stop {
    fn from(e: StoreError) -> Self {
        Stop::Store(e)
    }
}
impl From<cyxwiz_poc::PocError> for Stop {
    fn from(e: cyxwiz_poc::PocError) -> Self {
        Stop::Commit(e)
    }
}

/// Trains `handle`'s job to the end (or until stopped), resuming from its checkpoints.
/// Runs on a blocking thread.
pub fn train(
    sandbox: &Sandbox,
    module: &JobModule,
    dataset: &[u8],
    handle: &JobHandle,
    cfg: LoopConfig,
    events: &mpsc::Sender<Event>,
) -> Outcome {
    let mut chain = CheckpointChain::new(handle.id);
    let mut records: Vec<Record> = Vec::new();
    let result = train_inner(
        sandbox,
        module,
        dataset,
        handle,
        cfg,
        events,
        &mut chain,
        &mut records,
    );
    let done = records.len() as u32;
    match result {
        Ok(outcome) => outcome,
        Err(Stop::Module(e)) => Outcome::ModuleFailed {
            reason: e.to_string(),
            epochs: done,
            root: chain.root(),
        },
        Err(Stop::Store(e)) => Outcome::NodeFailed(format!("checkpoint storage: {e}")),
        Err(Stop::Commit(e)) => Outcome::NodeFailed(format!("commitment: {e}")),
    }
}

#[allow(clippy::too_many_arguments)]
fn train_inner(
    sandbox: &Sandbox,
    module: &JobModule,
    dataset: &[u8],
    handle: &JobHandle,
    cfg: LoopConfig,
    events: &mpsc::Sender<Event>,
    chain: &mut CheckpointChain,
    records: &mut Vec<Record>,
) -> Result<Outcome, Stop> {
    let manifest = handle.manifest();
    let epochs = manifest.epochs;
    let mut job = sandbox.instantiate(module)?;
    job.init(dataset, manifest.seed)?;

    let restored = handle.dir.restore(handle.id)?;
    *chain = restored.chain;
    *records = restored.records;
    let mut last_metrics: Vec<(i32, f64)> = Vec::new();
    if let Some(c) = &restored.last {
        // The kernels shuffle per (seed, epoch), so restoring the weights is all a
        // resumed run needs to continue bit for bit.
        job.set_weights(&c.weights)?;
        last_metrics = c.metrics.clone();
    }
    let start = records.len() as u32;
    handle.update(true, |m| {
        m.resumed_from = start;
        m.epochs_done = start;
        if let Some(root) = chain.root() {
            m.merkle_root = hex::encode(root);
        }
    });
    if start > 0 {
        tracing::info!(job = %hex::encode(handle.id), from = start, "resuming from checkpoint");
    }

    let started = Instant::now();
    let mut samples_total = 0f64;
    for e in start..epochs {
        match handle.wait_turn(e) {
            Turn::Go => {}
            Turn::Stop => {
                return Ok(Outcome::Stopped {
                    epochs: records.len() as u32,
                    root: chain.root(),
                });
            }
            Turn::Shutdown => return Ok(Outcome::Interrupted),
        }
        let epoch = e + 1;
        let (weights, metrics) = if cfg.skip_training_from != 0 && epoch >= cfg.skip_training_from {
            (job.weights()?, last_metrics.clone())
        } else {
            let train = job.train_epoch(e)?;
            let eval = job.evaluate()?;
            let mut metrics = train.metrics.clone();
            metrics.extend(eval.metrics.iter().copied());
            (job.weights()?, metrics)
        };
        let wd = cyxwiz_poc::weights_digest(&weights);
        let md = cyxwiz_poc::metrics_digest(epoch, &metrics);
        let t = now_ms().max(0);
        let hash = chain.push(&wd, &md, t)?;
        let record = Record {
            weights: wd,
            metrics: md,
            timestamp: t,
            hash,
        };
        handle.dir.save_epoch(
            &Checkpoint {
                epoch,
                timestamp: t,
                metrics: metrics.clone(),
                weights,
            },
            &record,
        )?;
        records.push(record);
        let root = chain.root().unwrap_or(hash);
        handle.update(false, |m| {
            m.epochs_done = epoch;
            m.merkle_root = hex::encode(root);
        });

        let get = |k: i32| {
            metrics
                .iter()
                .rev()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| *v)
                .unwrap_or(0.0)
        };
        samples_total += get(metric::SAMPLES);
        let secs = started.elapsed().as_secs_f64().max(1e-9);
        let done_here = (epoch - start) as f64;
        let eps = done_here / secs;
        let remaining = (epochs - epoch) as f64;
        let mut progress = handle.progress();
        progress.checkpoint_hash = hash.to_vec();
        handle.publish(v1::TrainingMetrics {
            progress: Some(progress),
            train_loss: get(metric::TRAIN_LOSS),
            train_accuracy: get(metric::TRAIN_ACCURACY),
            test_loss: get(metric::TEST_LOSS),
            test_accuracy: get(metric::TEST_ACCURACY),
            epochs_per_sec: eps,
            samples_per_sec: samples_total / secs,
            eta_ms: if eps > 0.0 {
                (remaining / eps * 1_000.0) as u64
            } else {
                0
            },
            timestamp_ms: now_ms(),
        });
        last_metrics = metrics;

        if epoch % cfg.progress_every == 0 || epoch == epochs {
            // A full queue means the coordinator is slow; progress reports are advisory,
            // so drop rather than stall training.
            let _ = events.try_send(Event::Progress { epoch, hash });
        }
        if epoch % cfg.anchor_every == 0 && epoch < epochs {
            // Anchors protect the node's pay: wait for room rather than drop.
            let _ = events.blocking_send(Event::Anchor { epoch, root });
        }
    }

    let n = records.len() as u32;
    let (Some(root), Some(last)) = (chain.root(), records.last()) else {
        return Err(Stop::Commit(cyxwiz_poc::PocError::EmptyChain));
    };
    let get = |k: i32| {
        last_metrics
            .iter()
            .rev()
            .find(|(key, _)| *key == k)
            .map(|(_, v)| *v)
            .unwrap_or(0.0)
    };
    Ok(Outcome::Trained(Trained {
        epochs: n,
        root,
        final_weights: last.weights,
        witness: Witness {
            weights_digests: records.iter().map(|r| r.weights).collect(),
            metrics_digests: records.iter().map(|r| r.metrics).collect(),
            timestamps: records.iter().map(|r| r.timestamp).collect(),
            hashes: records.iter().map(|r| r.hash).collect(),
        },
        test_accuracy: get(metric::TEST_ACCURACY),
        test_loss: get(metric::TEST_LOSS),
        train_ms: started.elapsed().as_millis() as u64,
    }))
}
