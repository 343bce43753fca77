//! A job's files on the node's disk, so that a restarted node resumes instead of
//! restarting and can still serve results and checkpoints afterwards.
//!
//! ```text
//! <data_dir>/jobs/<job hex>/manifest.json   what the job is and where it stands
//!                          /module.wasm     the uploaded module
//!                          /dataset.bin     the uploaded dataset
//!                          /chain.bin       one 104-byte record per epoch:
//!                                           weights digest, metrics digest, t_E, H_E
//!                          /ckpt/<E>.bin    epoch E's weights and metrics
//! <data_dir>/uploads/                       uploads in progress (discarded on failure)
//! ```
//!
//! Epoch E's checkpoint file is written (then renamed into place) before its chain
//! record is appended, so every record on disk has its weights. A torn last record
//! (crash mid-append) is cut off on load; every record is re-verified against the hash
//! chain, and the last checkpoint's weights against its record, before a job resumes.
//! Files are synced when progress is anchored, not every epoch: a killed process loses
//! nothing (the page cache survives it) and a power cut loses at most the epochs since
//! the last anchor, which the node simply trains again.

use std::{
    io::{Read, Write},
    path::{Path, PathBuf},
};

use cyxwiz_poc::{CheckpointChain, Digest};
use serde::{Deserialize, Serialize};

pub const RECORD_LEN: usize = 32 + 32 + 8 + 32;
const CKPT_MAGIC: &[u8; 4] = b"CYXC";
const CKPT_VERSION: u32 = 1;
/// Bounds what a checkpoint file may claim (a corrupt length must not allocate wildly).
const MAX_CKPT_WEIGHTS: u64 = 1 << 30;
const MAX_CKPT_METRICS: u32 = 64;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Poc(#[from] cyxwiz_poc::PocError),
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Where a job stands, as persisted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Queued,
    Running,
    Paused,
    /// Trained; the proof and the payment are not settled yet.
    Completing,
    Completed,
    Failed,
    Stopped,
}

impl Phase {
    /// No more training or settlement will happen.
    pub fn is_final(self) -> bool {
        matches!(self, Phase::Completed | Phase::Failed | Phase::Stopped)
    }

    /// Occupies a compute slot.
    pub fn is_active(self) -> bool {
        matches!(self, Phase::Queued | Phase::Running | Phase::Paused)
    }

    pub fn to_wire(self) -> cyxwiz_channel::v1::Phase {
        use cyxwiz_channel::v1::Phase as W;
        match self {
            Phase::Queued => W::Queued,
            Phase::Running => W::Running,
            Phase::Paused => W::Paused,
            Phase::Completing => W::Completing,
            Phase::Completed => W::Completed,
            Phase::Failed => W::Failed,
            Phase::Stopped => W::Stopped,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AnchorRecord {
    pub epoch: u32,
    pub root: String,
    pub signature: String,
}

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub job_id: String,
    pub engine_wallet: String,
    pub epochs: u32,
    pub seed: i64,
    pub module_hash: String,
    pub dataset_hash: String,
    pub phase: Phase,
    #[serde(default)]
    pub detail: String,
    #[serde(default)]
    pub accept_signature: String,
    #[serde(default)]
    pub anchors: Vec<AnchorRecord>,
    #[serde(default)]
    pub payment_signature: String,
    #[serde(default)]
    pub refund_signature: String,
    /// `release_stake` after the challenge window (or `"released elsewhere"` when
    /// someone else sent it first): the job's hold on the stake is over.
    #[serde(default)]
    pub stake_release: String,
    #[serde(default)]
    pub final_weights_hash: String,
    #[serde(default)]
    pub merkle_root: String,
    #[serde(default)]
    pub epochs_done: u32,
    #[serde(default)]
    pub test_accuracy: f64,
    #[serde(default)]
    pub test_loss: f64,
    #[serde(default)]
    pub train_ms: u64,
    /// Wall time of the last proof of compute.
    #[serde(default)]
    pub prove_ms: u64,
    #[serde(default)]
    pub resumed_from: u32,
    pub created_at_ms: i64,
}

impl Manifest {
    /// A queued job's manifest: what it is, nothing done yet, created now.
    pub fn new(
        job_id: &[u8; 16],
        engine_wallet: impl Into<String>,
        epochs: u32,
        seed: i64,
        module_hash: &[u8],
        dataset_hash: &[u8],
    ) -> Manifest {
        Manifest {
            job_id: hex::encode(job_id),
            engine_wallet: engine_wallet.into(),
            epochs,
            seed,
            module_hash: hex::encode(module_hash),
            dataset_hash: hex::encode(dataset_hash),
            phase: Phase::Queued,
            detail: String::new(),
            accept_signature: String::new(),
            anchors: Vec::new(),
            payment_signature: String::new(),
            refund_signature: String::new(),
            stake_release: String::new(),
            final_weights_hash: String::new(),
            merkle_root: String::new(),
            epochs_done: 0,
            test_accuracy: 0.0,
            test_loss: 0.0,
            train_ms: 0,
            prove_ms: 0,
            resumed_from: 0,
            created_at_ms: cyxwiz_proto::auth::now_ms(),
        }
    }

    pub fn epochs_anchored(&self) -> u32 {
        self.anchors.iter().map(|a| a.epoch).max().unwrap_or(0)
    }
}

/// One epoch's commitment inputs and result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Record {
    pub weights: Digest,
    pub metrics: Digest,
    pub timestamp: i64,
    pub hash: Digest,
}

impl Record {
    fn encode(&self) -> [u8; RECORD_LEN] {
        let mut out = [0u8; RECORD_LEN];
        out[..32].copy_from_slice(&self.weights);
        out[32..64].copy_from_slice(&self.metrics);
        out[64..72].copy_from_slice(&self.timestamp.to_le_bytes());
        out[72..].copy_from_slice(&self.hash);
        out
    }

    fn decode(b: &[u8]) -> Record {
        let d = |r: std::ops::Range<usize>| -> Digest { b[r].try_into().unwrap_or([0; 32]) };
        Record {
            weights: d(0..32),
            metrics: d(32..64),
            timestamp: i64::from_le_bytes(b[64..72].try_into().unwrap_or([0; 8])),
            hash: d(72..104),
        }
    }
}

/// A saved epoch: the weights and metrics it ended with.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub epoch: u32,
    pub timestamp: i64,
    pub metrics: Vec<(i32, f64)>,
    pub weights: Vec<u8>,
}

/// The verified state a job resumes from.
#[derive(Debug)]
pub struct Restored {
    pub chain: CheckpointChain,
    pub records: Vec<Record>,
    pub last: Option<Checkpoint>,
}

/// One job's directory.
#[derive(Debug, Clone)]
pub struct JobDir {
    pub dir: PathBuf,
}

impl JobDir {
    pub fn new(data_dir: &Path, job_id: &[u8; 16]) -> JobDir {
        JobDir {
            dir: data_dir.join("jobs").join(hex::encode(job_id)),
        }
    }

    pub fn module_path(&self) -> PathBuf {
        self.dir.join("module.wasm")
    }

    pub fn dataset_path(&self) -> PathBuf {
        self.dir.join("dataset.bin")
    }

    fn manifest_path(&self) -> PathBuf {
        self.dir.join("manifest.json")
    }

    fn chain_path(&self) -> PathBuf {
        self.dir.join("chain.bin")
    }

    fn ckpt_path(&self, epoch: u32) -> PathBuf {
        self.dir.join("ckpt").join(format!("{epoch:06}.bin"))
    }

    /// Creates the directory with the uploaded files and the first manifest.
    pub fn create(
        &self,
        module: &[u8],
        dataset: &[u8],
        manifest: &Manifest,
    ) -> Result<(), StoreError> {
        std::fs::create_dir_all(self.dir.join("ckpt")).map_err(io(&self.dir))?;
        write_atomic(&self.module_path(), module)?;
        write_atomic(&self.dataset_path(), dataset)?;
        self.save_manifest(manifest)?;
        Ok(())
    }

    pub fn remove(&self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    pub fn save_manifest(&self, manifest: &Manifest) -> Result<(), StoreError> {
        let path = self.manifest_path();
        let json = serde_json::to_vec_pretty(manifest).map_err(|e| StoreError::Corrupt {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        write_atomic(&path, &json)
    }

    pub fn load_manifest(&self) -> Result<Manifest, StoreError> {
        let path = self.manifest_path();
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt {
            path,
            reason: e.to_string(),
        })
    }

    /// Saves epoch `checkpoint.epoch` and appends its chain record, in that order.
    pub fn save_epoch(&self, checkpoint: &Checkpoint, record: &Record) -> Result<(), StoreError> {
        let path = self.ckpt_path(checkpoint.epoch);
        let mut bytes = Vec::with_capacity(32 + checkpoint.weights.len());
        bytes.extend_from_slice(CKPT_MAGIC);
        bytes.extend_from_slice(&CKPT_VERSION.to_le_bytes());
        bytes.extend_from_slice(&checkpoint.epoch.to_le_bytes());
        bytes.extend_from_slice(&checkpoint.timestamp.to_le_bytes());
        bytes.extend_from_slice(&(checkpoint.metrics.len() as u32).to_le_bytes());
        for (k, v) in &checkpoint.metrics {
            bytes.extend_from_slice(&k.to_le_bytes());
            bytes.extend_from_slice(&v.to_bits().to_le_bytes());
        }
        bytes.extend_from_slice(&(checkpoint.weights.len() as u64).to_le_bytes());
        bytes.extend_from_slice(&checkpoint.weights);
        write_atomic_nosync(&path, &bytes)?;

        let chain = self.chain_path();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&chain)
            .map_err(io(&chain))?;
        f.write_all(&record.encode()).map_err(io(&chain))?;
        Ok(())
    }

    /// Makes everything written so far durable (called when progress is anchored).
    pub fn sync(&self) -> Result<(), StoreError> {
        let chain = self.chain_path();
        if chain.exists() {
            std::fs::File::open(&chain)
                .and_then(|f| f.sync_all())
                .map_err(io(&chain))?;
        }
        sync_dir(&self.dir.join("ckpt"));
        sync_dir(&self.dir);
        Ok(())
    }

    pub fn load_checkpoint(&self, epoch: u32) -> Result<Checkpoint, StoreError> {
        let path = self.ckpt_path(epoch);
        let mut f = std::fs::File::open(&path).map_err(io(&path))?;
        let corrupt = |reason: &str| StoreError::Corrupt {
            path: path.clone(),
            reason: reason.to_string(),
        };
        let mut head = [0u8; 24];
        f.read_exact(&mut head)
            .map_err(|_| corrupt("truncated header"))?;
        if &head[..4] != CKPT_MAGIC || head[4..8] != CKPT_VERSION.to_le_bytes() {
            return Err(corrupt("not a version-1 checkpoint"));
        }
        let stored_epoch = u32::from_le_bytes(head[8..12].try_into().unwrap_or([0; 4]));
        if stored_epoch != epoch {
            return Err(corrupt("holds another epoch"));
        }
        let timestamp = i64::from_le_bytes(head[12..20].try_into().unwrap_or([0; 8]));
        let n = u32::from_le_bytes(head[20..24].try_into().unwrap_or([0; 4]));
        if n > MAX_CKPT_METRICS {
            return Err(corrupt("too many metrics"));
        }
        let mut metrics = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let mut m = [0u8; 12];
            f.read_exact(&mut m)
                .map_err(|_| corrupt("truncated metrics"))?;
            metrics.push((
                i32::from_le_bytes(m[..4].try_into().unwrap_or([0; 4])),
                f64::from_bits(u64::from_le_bytes(m[4..].try_into().unwrap_or([0; 8]))),
            ));
        }
        let mut len = [0u8; 8];
        f.read_exact(&mut len)
            .map_err(|_| corrupt("truncated weights length"))?;
        let len = u64::from_le_bytes(len);
        if len > MAX_CKPT_WEIGHTS {
            return Err(corrupt("weights length out of range"));
        }
        let mut weights = vec![0u8; len as usize];
        f.read_exact(&mut weights)
            .map_err(|_| corrupt("truncated weights"))?;
        Ok(Checkpoint {
            epoch,
            timestamp,
            metrics,
            weights,
        })
    }

    /// The chain records on disk, verified from the genesis of `job_id`, and the last
    /// epoch's checkpoint. Records past the first inconsistency (or whose checkpoint is
    /// missing or does not match) are dropped: those epochs are trained again.
    pub fn restore(&self, job_id: [u8; 16]) -> Result<Restored, StoreError> {
        let (records, bytes_len) = self.verified_records(job_id)?;
        let mut records = records;
        // The newest epoch whose weights are intact is where training resumes.
        while let Some(r) = records.last() {
            let epoch = records.len() as u32;
            match self.load_checkpoint(epoch) {
                Ok(c) if cyxwiz_poc::weights_digest(&c.weights) == r.weights => {
                    let kept = records.len();
                    if kept * RECORD_LEN != bytes_len {
                        self.truncate_chain(kept)?;
                    }
                    return Ok(Restored {
                        chain: CheckpointChain::from_hashes(
                            job_id,
                            records.iter().map(|r| r.hash).collect(),
                        )?,
                        records,
                        last: Some(c),
                    });
                }
                _ => {
                    records.pop();
                }
            }
        }
        self.truncate_chain(0)?;
        Ok(Restored {
            chain: CheckpointChain::new(job_id),
            records,
            last: None,
        })
    }

    /// The chain records on disk up to the first one that does not follow from the
    /// previous (a torn or damaged tail), and the file's length. Reads only, so it is
    /// safe while the job is still appending.
    fn verified_records(&self, job_id: [u8; 16]) -> Result<(Vec<Record>, usize), StoreError> {
        let path = self.chain_path();
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(io(&path)(e)),
        };
        let mut records = Vec::with_capacity(bytes.len() / RECORD_LEN);
        let mut chain = CheckpointChain::new(job_id);
        for raw in bytes.chunks_exact(RECORD_LEN) {
            let r = Record::decode(raw);
            match chain.push(&r.weights, &r.metrics, r.timestamp) {
                Ok(h) if h == r.hash => records.push(r),
                _ => break,
            }
        }
        Ok((records, bytes.len()))
    }

    /// The job's committed checkpoint chain as it stands on disk (read-only; see
    /// [`verified_records`](Self::verified_records)): what audits open against.
    pub fn committed_chain(&self, job_id: [u8; 16]) -> Result<CheckpointChain, StoreError> {
        let (records, _) = self.verified_records(job_id)?;
        Ok(CheckpointChain::from_hashes(
            job_id,
            records.iter().map(|r| r.hash).collect(),
        )?)
    }

    fn truncate_chain(&self, records: usize) -> Result<(), StoreError> {
        let path = self.chain_path();
        if !path.exists() {
            return Ok(());
        }
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        f.set_len((records * RECORD_LEN) as u64).map_err(io(&path))
    }
}

/// Writes through a temporary file and a rename, then syncs: readers never see a torn
/// file and the content survives a power cut.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::File::create(&tmp).map_err(io(&tmp))?;
    f.write_all(bytes).map_err(io(&tmp))?;
    f.sync_all().map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn write_atomic_nosync(path: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}

/// The job directories under `data_dir`.
pub fn job_dirs(data_dir: &Path) -> Vec<(JobDir, [u8; 16])> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("jobs")) else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let id: [u8; 16] = hex::decode(&name).ok()?.try_into().ok()?;
            Some((JobDir { dir: e.path() }, id))
        })
        .collect()
}

/// Bytes used under `dir` (for the storage limit).
pub fn disk_usage(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .filter_map(|e| e.ok())
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_usage(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn epoch(dir: &JobDir, chain: &mut CheckpointChain, e: u32) -> Record {
        let weights: Vec<u8> = (0..64).map(|i| (i as u32 * e) as u8).collect();
        let metrics = vec![(0, 1.0 / e as f64), (3, 0.5 + e as f64 / 100.0)];
        let wd = cyxwiz_poc::weights_digest(&weights);
        let md = cyxwiz_poc::metrics_digest(e, &metrics);
        let t = 1_700_000_000_000 + e as i64;
        let hash = chain.push(&wd, &md, t).unwrap();
        let record = Record {
            weights: wd,
            metrics: md,
            timestamp: t,
            hash,
        };
        dir.save_epoch(
            &Checkpoint {
                epoch: e,
                timestamp: t,
                metrics,
                weights,
            },
            &record,
        )
        .unwrap();
        record
    }

    fn manifest() -> Manifest {
        Manifest {
            phase: Phase::Running,
            ..Manifest::new(&[0; 16], "x", 10, 42, &[], &[])
        }
    }

    #[test]
    fn restore_verifies_and_cuts_damage() {
        let tmp = tempfile::tempdir().unwrap();
        let id = [9u8; 16];
        let dir = JobDir::new(tmp.path(), &id);
        dir.create(b"wasm", b"data", &manifest()).unwrap();
        assert_eq!(dir.load_manifest().unwrap().phase, Phase::Running);

        let mut chain = CheckpointChain::new(id);
        let records: Vec<Record> = (1..=5).map(|e| epoch(&dir, &mut chain, e)).collect();
        let r = dir.restore(id).unwrap();
        assert_eq!(r.records, records);
        assert_eq!(r.chain.root(), chain.root());
        assert_eq!(r.last.as_ref().unwrap().epoch, 5);

        // A torn append: the partial record is dropped.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(dir.chain_path())
            .unwrap();
        f.write_all(&[1, 2, 3]).unwrap();
        assert_eq!(dir.restore(id).unwrap().records.len(), 5);

        // Epoch 5's weights damaged: resume from epoch 4, and the file is cut to match.
        let p = dir.ckpt_path(5);
        let mut bytes = std::fs::read(&p).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        std::fs::write(&p, bytes).unwrap();
        let r = dir.restore(id).unwrap();
        assert_eq!(r.records.len(), 4);
        assert_eq!(r.last.unwrap().epoch, 4);
        assert_eq!(
            std::fs::metadata(dir.chain_path()).unwrap().len(),
            4 * RECORD_LEN as u64
        );

        // A record that breaks the hash chain ends the trusted prefix.
        let mut bytes = std::fs::read(dir.chain_path()).unwrap();
        bytes[RECORD_LEN + 70] ^= 1; // epoch 2's timestamp
        std::fs::write(dir.chain_path(), bytes).unwrap();
        let r = dir.restore(id).unwrap();
        assert_eq!(r.records.len(), 1);

        // Another job's genesis does not verify at all.
        assert_eq!(dir.restore([1; 16]).unwrap().records.len(), 0);
    }

    #[test]
    fn corrupt_checkpoints_are_errors_not_panics() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = JobDir::new(tmp.path(), &[1; 16]);
        dir.create(b"m", b"d", &manifest()).unwrap();
        std::fs::write(dir.ckpt_path(1), b"CYXC").unwrap();
        assert!(matches!(
            dir.load_checkpoint(1),
            Err(StoreError::Corrupt { .. })
        ));
        let mut huge = Vec::new();
        huge.extend_from_slice(CKPT_MAGIC);
        huge.extend_from_slice(&1u32.to_le_bytes());
        huge.extend_from_slice(&1u32.to_le_bytes());
        huge.extend_from_slice(&0i64.to_le_bytes());
        huge.extend_from_slice(&0u32.to_le_bytes());
        huge.extend_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(dir.ckpt_path(1), huge).unwrap();
        let err = dir.load_checkpoint(1).unwrap_err();
        assert!(err.to_string().contains("out of range"), "{err}");
        assert!(matches!(dir.load_checkpoint(2), Err(StoreError::Io { .. })));
    }
}
