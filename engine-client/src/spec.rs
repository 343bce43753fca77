//! What a user asks for: a WASM training module, a dataset, and how to run them. The
//! coordinator only ever sees their hashes and sizes ([`JobSpec::job_config`]); the bytes
//! go to the node.

use cyxwiz_channel::sha256;
use cyxwiz_proto::v1;

use crate::{Error, Result};

/// Hardware a job needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Hardware {
    pub cpu_cores: u32,
    pub ram_mb: u32,
    pub gpu_count: u32,
    pub vram_mb: u32,
    pub datacenter_gpu: bool,
}

impl Default for Hardware {
    fn default() -> Self {
        Hardware {
            cpu_cores: 1,
            ram_mb: 512,
            gpu_count: 0,
            vram_mb: 0,
            datacenter_gpu: false,
        }
    }
}

/// A training job: the module and dataset bytes and the terms.
#[derive(Clone)]
pub struct JobSpec {
    pub module: Vec<u8>,
    pub dataset: Vec<u8>,
    pub epochs: u32,
    /// The kernel's RNG seed.
    pub seed: i64,
    /// The most the user will pay, in base units.
    pub max_price: u64,
    /// The user's estimate of the training time.
    pub estimated_secs: u32,
    pub hardware: Hardware,
    pub priority: v1::Priority,
    /// Preferred node region ("" for any).
    pub region: String,
    /// The escrow's timeout (0: the program's default).
    pub timeout_secs: i64,
}

impl std::fmt::Debug for JobSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobSpec")
            .field("module", &format_args!("{} bytes", self.module.len()))
            .field("dataset", &format_args!("{} bytes", self.dataset.len()))
            .field("epochs", &self.epochs)
            .field("seed", &self.seed)
            .field("max_price", &self.max_price)
            .field("estimated_secs", &self.estimated_secs)
            .field("hardware", &self.hardware)
            .field("priority", &self.priority)
            .field("region", &self.region)
            .field("timeout_secs", &self.timeout_secs)
            .finish()
    }
}

/// `low`, `normal`, `high` or `critical`.
pub fn parse_priority(text: &str) -> Option<v1::Priority> {
    match text.trim().to_ascii_lowercase().as_str() {
        "low" => Some(v1::Priority::Low),
        "normal" | "" => Some(v1::Priority::Normal),
        "high" => Some(v1::Priority::High),
        "critical" => Some(v1::Priority::Critical),
        _ => None,
    }
}

impl JobSpec {
    /// A job with defaults for everything but the files and epochs.
    pub fn new(module: Vec<u8>, dataset: Vec<u8>, epochs: u32, max_price: u64) -> JobSpec {
        JobSpec {
            module,
            dataset,
            epochs,
            seed: 0,
            max_price,
            estimated_secs: 600,
            hardware: Hardware::default(),
            priority: v1::Priority::Normal,
            region: String::new(),
            timeout_secs: 0,
        }
    }

    /// SHA-256 of the module.
    pub fn module_hash(&self) -> [u8; 32] {
        sha256(&self.module)
    }

    /// SHA-256 of the dataset.
    pub fn dataset_hash(&self) -> [u8; 32] {
        sha256(&self.dataset)
    }

    /// Checks what can be checked before asking anyone.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(Error::Invalid(m));
        if !self.module.starts_with(b"\0asm") {
            return bad("the module is not a WebAssembly binary (no \\0asm header)".into());
        }
        if self.module.len() as u64 > cyxwiz_channel::limits::MAX_MODULE_BYTES {
            return bad(format!(
                "the module is {} bytes; nodes take at most {}",
                self.module.len(),
                cyxwiz_channel::limits::MAX_MODULE_BYTES
            ));
        }
        if self.dataset.is_empty() {
            return bad("the dataset is empty".into());
        }
        if self.dataset.len() as u64 > cyxwiz_channel::limits::MAX_DATASET_BYTES {
            return bad(format!(
                "the dataset is {} bytes; nodes take at most {}",
                self.dataset.len(),
                cyxwiz_channel::limits::MAX_DATASET_BYTES
            ));
        }
        if self.epochs == 0 {
            return bad("epochs must be at least 1".into());
        }
        if self.max_price == 0 {
            return bad("max_price must be positive".into());
        }
        if self.estimated_secs == 0 {
            return bad("estimated_secs must be at least 1".into());
        }
        if self.timeout_secs < 0 {
            return bad("timeout_secs must not be negative".into());
        }
        if self.region.len() > 32 || !self.region.bytes().all(|b| b.is_ascii_graphic()) {
            return bad("region must be at most 32 printable ASCII characters".into());
        }
        Ok(())
    }

    /// The coordinator's view of the job: hashes and sizes, never the bytes.
    pub fn job_config(&self) -> v1::JobConfig {
        v1::JobConfig {
            module_hash: self.module_hash().to_vec(),
            module_size: self.module.len() as u64,
            dataset_hash: self.dataset_hash().to_vec(),
            dataset_size: self.dataset.len() as u64,
            epochs: self.epochs,
            hardware: Some(v1::HardwareRequirements {
                min_cpu_cores: self.hardware.cpu_cores,
                min_ram_mb: self.hardware.ram_mb,
                gpu_count: self.hardware.gpu_count,
                min_vram_mb: self.hardware.vram_mb,
                datacenter_gpu: self.hardware.datacenter_gpu,
            }),
            max_price: self.max_price,
            priority: self.priority as i32,
            estimated_secs: self.estimated_secs,
            region: self.region.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn spec() -> JobSpec {
        JobSpec::new(b"\0asm\x01\0\0\0rest".to_vec(), vec![7; 1000], 5, 10)
    }

    #[test]
    fn hashes_and_sizes_come_from_the_bytes() {
        let s = spec();
        let c = s.job_config();
        assert_eq!(c.module_hash, Sha256::digest(&s.module).to_vec());
        assert_eq!(c.dataset_hash, Sha256::digest(&s.dataset).to_vec());
        assert_eq!(c.module_size, 12);
        assert_eq!(c.dataset_size, 1000);
        assert_eq!(c.epochs, 5);
        assert_eq!(c.max_price, 10);
        assert_eq!(c.priority, v1::Priority::Normal as i32);
        let mut t = s.clone();
        t.dataset[0] ^= 1;
        assert_ne!(t.job_config().dataset_hash, c.dataset_hash);
        assert_eq!(t.job_config().module_hash, c.module_hash);
    }

    #[test]
    fn validation() {
        assert!(spec().validate().is_ok());
        let mut s = spec();
        s.module = b"not wasm".to_vec();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.epochs = 0;
        assert!(s.validate().is_err());
        let mut s = spec();
        s.dataset.clear();
        assert!(s.validate().is_err());
        let mut s = spec();
        s.max_price = 0;
        assert!(s.validate().is_err());
        assert_eq!(parse_priority("HIGH"), Some(v1::Priority::High));
        assert_eq!(parse_priority("urgent"), None);
    }
}
