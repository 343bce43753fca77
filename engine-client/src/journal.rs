//! The local job journal: `<jobs_dir>/<job_hex>/job.json`, rewritten (atomically) as a
//! job advances, so `cyxwiz jobs`, `status` and `result` work from a later session. The
//! journal holds the node's endpoint and TLS fingerprint: with them and the wallet, an
//! engine reaches its job without the coordinator.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Error, JobId, Result};

/// How far a job got, as this engine saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStage {
    /// The coordinator reserved a node and quoted.
    Quoted,
    /// The escrow is funded on chain.
    Funded,
    /// The coordinator committed the node and issued a credential.
    Confirmed,
    /// The module and dataset are on the node.
    Uploaded,
    /// Training finished and the node settled on chain.
    Completed,
    /// The weights were downloaded and matched the on-chain hash.
    Verified,
    /// The job ended without a result.
    Failed,
    /// The user cancelled.
    Cancelled,
}

impl JobStage {
    pub fn as_str(&self) -> &'static str {
        match self {
            JobStage::Quoted => "quoted",
            JobStage::Funded => "funded",
            JobStage::Confirmed => "confirmed",
            JobStage::Uploaded => "uploaded",
            JobStage::Completed => "completed",
            JobStage::Verified => "verified",
            JobStage::Failed => "failed",
            JobStage::Cancelled => "cancelled",
        }
    }
}

/// One job's record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// 32 hex digits.
    pub job_id: String,
    pub node_owner: String,
    #[serde(default)]
    pub endpoint: String,
    /// Hex of the node's TLS key fingerprint ("" until confirmed).
    #[serde(default)]
    pub fingerprint: String,
    #[serde(default)]
    pub escrow_tx: Option<String>,
    pub price: u64,
    pub epochs: u32,
    #[serde(default)]
    pub seed: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    #[serde(default)]
    pub updated_at: i64,
    pub state: JobStage,
    #[serde(default)]
    pub module_hash: String,
    #[serde(default)]
    pub dataset_hash: String,
    #[serde(default)]
    pub accept_tx: Option<String>,
    #[serde(default)]
    pub payment_tx: Option<String>,
    /// The user's progress refund of a job that failed or was stopped.
    #[serde(default)]
    pub refund_tx: Option<String>,
    #[serde(default)]
    pub final_weights_hash: Option<String>,
    #[serde(default)]
    pub test_accuracy: Option<f64>,
    #[serde(default)]
    pub weights_path: Option<PathBuf>,
    #[serde(default)]
    pub detail: Option<String>,
}

impl JobRecord {
    /// A fresh record.
    pub fn new(job_id: &JobId, node_owner: &str, price: u64, epochs: u32) -> JobRecord {
        let now = cyxwiz_proto::auth::now_ms();
        JobRecord {
            job_id: hex::encode(job_id),
            node_owner: node_owner.to_string(),
            endpoint: String::new(),
            fingerprint: String::new(),
            escrow_tx: None,
            price,
            epochs,
            seed: 0,
            created_at: now,
            updated_at: now,
            state: JobStage::Quoted,
            module_hash: String::new(),
            dataset_hash: String::new(),
            accept_tx: None,
            payment_tx: None,
            refund_tx: None,
            final_weights_hash: None,
            test_accuracy: None,
            weights_path: None,
            detail: None,
        }
    }

    /// The job id as bytes.
    pub fn id(&self) -> Result<JobId> {
        crate::parse_job_id(&self.job_id)
    }

    /// The node's TLS fingerprint, once known.
    pub fn fingerprint_bytes(&self) -> Option<[u8; 32]> {
        hex::decode(&self.fingerprint).ok()?.try_into().ok()
    }
}

/// The journal directory.
#[derive(Debug, Clone)]
pub struct Journal {
    dir: PathBuf,
}

impl Journal {
    pub fn new(dir: impl Into<PathBuf>) -> Journal {
        Journal { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<dir>/<job_hex>`.
    pub fn job_dir(&self, job_id: &JobId) -> PathBuf {
        self.dir.join(hex::encode(job_id))
    }

    /// `<dir>/<job_hex>/weights.bin`.
    pub fn weights_path(&self, job_id: &JobId) -> PathBuf {
        self.job_dir(job_id).join("weights.bin")
    }

    fn record_path(&self, job_id: &JobId) -> PathBuf {
        self.job_dir(job_id).join("job.json")
    }

    /// Writes `record` (via a temporary file and a rename, so a crash never leaves half a
    /// record), stamping `updated_at`.
    pub fn save(&self, record: &mut JobRecord) -> Result<()> {
        let id = record.id()?;
        record.updated_at = cyxwiz_proto::auth::now_ms();
        let dir = self.job_dir(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let path = self.record_path(&id);
        let tmp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(record)
            .map_err(|e| Error::Invalid(format!("journal record: {e}")))?;
        std::fs::write(&tmp, text).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| Error::io(&path, e))
    }

    /// Writes `bytes` to `path` atomically.
    pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".part");
        let tmp = PathBuf::from(tmp);
        std::fs::write(&tmp, bytes).map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    }

    /// The record of `job_id`.
    pub fn load(&self, job_id: &JobId) -> Result<JobRecord> {
        let path = self.record_path(job_id);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::UnknownJob(hex::encode(job_id)));
            }
            Err(e) => return Err(Error::io(&path, e)),
        };
        serde_json::from_str(&text).map_err(|e| Error::io(&path, e))
    }

    /// Every readable record, oldest first. A missing directory is an empty journal.
    pub fn list(&self) -> Result<Vec<JobRecord>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(&self.dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries.flatten() {
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| crate::parse_job_id(n).ok())
            else {
                continue;
            };
            if let Ok(r) = self.load(&id) {
                out.push(r);
            }
        }
        out.sort_by(|a, b| {
            a.created_at
                .cmp(&b.created_at)
                .then(a.job_id.cmp(&b.job_id))
        });
        Ok(out)
    }

    /// Resolves a full job id, or a unique prefix of one in the journal.
    pub fn resolve(&self, text: &str) -> Result<JobId> {
        let text = text.trim().to_ascii_lowercase();
        if let Ok(id) = crate::parse_job_id(&text) {
            return Ok(id);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(Error::Invalid(format!("job id {text:?} is not hex")));
        }
        let matches: Vec<JobRecord> = self
            .list()?
            .into_iter()
            .filter(|r| r.job_id.starts_with(&text))
            .collect();
        match matches.as_slice() {
            [one] => one.id(),
            [] => Err(Error::UnknownJob(text)),
            _ => Err(Error::Invalid(format!(
                "job id prefix {text:?} matches {} jobs",
                matches.len()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_list_and_prefixes() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::new(dir.path().join("jobs"));
        assert!(j.list().unwrap().is_empty());
        let a: JobId = [0xab; 16];
        let b: JobId = [0xcd; 16];
        let mut ra = JobRecord::new(&a, "Node1111", 72_960_000_000, 50);
        ra.fingerprint = hex::encode([7u8; 32]);
        ra.endpoint = "https://127.0.0.1:7443".into();
        ra.escrow_tx = Some("sig".into());
        ra.test_accuracy = Some(0.98);
        j.save(&mut ra).unwrap();
        let mut rb = JobRecord::new(&b, "Node2222", 1, 1);
        rb.created_at = ra.created_at + 1;
        rb.state = JobStage::Verified;
        j.save(&mut rb).unwrap();
        let back = j.load(&a).unwrap();
        assert_eq!(back, ra);
        assert_eq!(back.fingerprint_bytes(), Some([7; 32]));
        assert_eq!(back.id().unwrap(), a);
        let all = j.list().unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!(all[0].job_id, hex::encode(a));
        assert_eq!(all[1].state, JobStage::Verified);
        assert_eq!(j.resolve("abab").unwrap(), a);
        assert_eq!(j.resolve(&hex::encode(b)).unwrap(), b);
        assert!(matches!(j.resolve("ef"), Err(Error::UnknownJob(_))));
        assert!(j.resolve("zz").is_err());
        assert!(matches!(j.load(&[1; 16]), Err(Error::UnknownJob(_))));
        // The stored file is plain JSON with the documented fields.
        let text = std::fs::read_to_string(j.job_dir(&a).join("job.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["state"], "quoted");
        assert_eq!(v["price"], 72_960_000_000u64);
        assert_eq!(v["node_owner"], "Node1111");
    }

    #[test]
    fn atomic_file_writes() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a/b/weights.bin");
        Journal::write_file(&p, b"abc").unwrap();
        Journal::write_file(&p, b"defg").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"defg");
        assert!(!dir.path().join("a/b/weights.bin.part").exists());
    }
}
