//! The coordinator's domain types: job ids, job states, hardware and job configuration,
//! converted from and to the wire types with validation.

use std::fmt;

use cyxwiz_proto::v1;

/// A job id: 16 random bytes chosen by the coordinator at submission (the JobEscrow PDA
/// seed). Shown as 32 lowercase hex characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobId(pub [u8; 16]);

impl JobId {
    pub fn random() -> JobId {
        JobId(*uuid::Uuid::new_v4().as_bytes())
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<JobId> {
        bytes.try_into().ok().map(JobId)
    }

    pub fn parse_hex(s: &str) -> Option<JobId> {
        hex::decode(s).ok().and_then(|b| JobId::from_bytes(&b))
    }

    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JobId({})", self.hex())
    }
}

/// Where a job is in its life. `Confirming` is internal: one replica has claimed the
/// escrow confirmation and is committing the node on chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    Reserved,
    Confirming,
    Assigned,
    Running,
    Completed,
    Refunded,
    Cancelled,
    TimedOut,
    Expired,
    Disputed,
}

impl JobState {
    pub const ALL: [JobState; 10] = [
        JobState::Reserved,
        JobState::Confirming,
        JobState::Assigned,
        JobState::Running,
        JobState::Completed,
        JobState::Refunded,
        JobState::Cancelled,
        JobState::TimedOut,
        JobState::Expired,
        JobState::Disputed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Reserved => "reserved",
            JobState::Confirming => "confirming",
            JobState::Assigned => "assigned",
            JobState::Running => "running",
            JobState::Completed => "completed",
            JobState::Refunded => "refunded",
            JobState::Cancelled => "cancelled",
            JobState::TimedOut => "timed_out",
            JobState::Expired => "expired",
            JobState::Disputed => "disputed",
        }
    }

    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The job is over: nothing will change it again.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobState::Completed
                | JobState::Refunded
                | JobState::Cancelled
                | JobState::TimedOut
                | JobState::Expired
        )
    }

    /// The job holds a node slot.
    pub fn holds_node(self) -> bool {
        matches!(
            self,
            JobState::Reserved | JobState::Confirming | JobState::Assigned | JobState::Running
        )
    }

    pub fn to_wire(self) -> v1::JobState {
        match self {
            JobState::Reserved | JobState::Confirming => v1::JobState::Reserved,
            JobState::Assigned => v1::JobState::Assigned,
            JobState::Running => v1::JobState::Running,
            JobState::Completed => v1::JobState::Completed,
            JobState::Refunded => v1::JobState::Refunded,
            JobState::Cancelled => v1::JobState::Cancelled,
            JobState::TimedOut => v1::JobState::TimedOut,
            JobState::Expired => v1::JobState::Expired,
            JobState::Disputed => v1::JobState::Disputed,
        }
    }
}

/// ReputationManager's tier names, by tier index (0 Bronze … 3 Diamond).
pub const TIER_NAMES: [&str; 4] = ["bronze", "silver", "gold", "diamond"];

/// The name of tier index `tier` (unknown indexes read as the lowest tier).
pub fn tier_name(tier: u8) -> &'static str {
    TIER_NAMES
        .get(usize::from(tier))
        .copied()
        .unwrap_or(TIER_NAMES[0])
}

/// Job priority (pricing multiplier).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    Low,
    Normal,
    High,
    Critical,
}

impl Priority {
    pub fn from_wire(p: i32) -> Option<Priority> {
        match v1::Priority::try_from(p).ok()? {
            v1::Priority::Unspecified | v1::Priority::Normal => Some(Priority::Normal),
            v1::Priority::Low => Some(Priority::Low),
            v1::Priority::High => Some(Priority::High),
            v1::Priority::Critical => Some(Priority::Critical),
        }
    }

    pub fn code(self) -> i64 {
        match self {
            Priority::Low => 1,
            Priority::Normal => 2,
            Priority::High => 3,
            Priority::Critical => 4,
        }
    }

    pub fn from_code(code: i64) -> Option<Priority> {
        match code {
            1 => Some(Priority::Low),
            2 => Some(Priority::Normal),
            3 => Some(Priority::High),
            4 => Some(Priority::Critical),
            _ => None,
        }
    }
}

/// A node's hardware, or a job's minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hardware {
    pub cpu_cores: u32,
    pub ram_mb: u32,
    pub gpu_count: u32,
    /// Per GPU.
    pub vram_mb: u32,
    pub datacenter_gpu: bool,
}

impl Hardware {
    /// Whether a node with `self` can run a job needing `need`.
    pub fn satisfies(&self, need: &Hardware) -> bool {
        self.cpu_cores >= need.cpu_cores
            && self.ram_mb >= need.ram_mb
            && self.gpu_count >= need.gpu_count
            && (need.gpu_count == 0 || self.vram_mb >= need.vram_mb)
            && (!need.datacenter_gpu || self.datacenter_gpu)
    }
}

/// A validated job configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobConfig {
    pub module_hash: [u8; 32],
    pub module_size: u64,
    pub dataset_hash: [u8; 32],
    pub dataset_size: u64,
    pub epochs: u32,
    pub hardware: Hardware,
    pub max_price: u64,
    pub priority: Priority,
    pub estimated_secs: u32,
    pub region: String,
}

/// Limits a job configuration must respect.
#[derive(Debug, Clone, Copy)]
pub struct JobLimits {
    pub max_module_bytes: u64,
    pub max_dataset_bytes: u64,
    pub max_epochs: u32,
    pub max_estimated_secs: u32,
}

impl JobConfig {
    /// Validates a wire config; the error names the offending field.
    pub fn from_wire(c: &v1::JobConfig, limits: &JobLimits) -> Result<JobConfig, String> {
        let hash = |b: &[u8], name: &str| -> Result<[u8; 32], String> {
            b.try_into()
                .map_err(|_| format!("{name} must be 32 bytes (SHA-256), got {}", b.len()))
        };
        let hw = c.hardware.unwrap_or_default();
        let config = JobConfig {
            module_hash: hash(&c.module_hash, "module_hash")?,
            module_size: c.module_size,
            dataset_hash: hash(&c.dataset_hash, "dataset_hash")?,
            dataset_size: c.dataset_size,
            epochs: c.epochs,
            hardware: Hardware {
                cpu_cores: hw.min_cpu_cores,
                ram_mb: hw.min_ram_mb,
                gpu_count: hw.gpu_count,
                vram_mb: hw.min_vram_mb,
                datacenter_gpu: hw.datacenter_gpu,
            },
            max_price: c.max_price,
            priority: Priority::from_wire(c.priority).ok_or("unknown priority")?,
            estimated_secs: c.estimated_secs,
            region: c.region.clone(),
        };
        if config.module_size == 0 || config.module_size > limits.max_module_bytes {
            return Err(format!(
                "module_size must be 1..={} bytes",
                limits.max_module_bytes
            ));
        }
        if config.dataset_size > limits.max_dataset_bytes {
            return Err(format!(
                "dataset_size must be at most {} bytes",
                limits.max_dataset_bytes
            ));
        }
        if config.epochs == 0 || config.epochs > limits.max_epochs {
            return Err(format!("epochs must be 1..={}", limits.max_epochs));
        }
        if config.estimated_secs == 0 || config.estimated_secs > limits.max_estimated_secs {
            return Err(format!(
                "estimated_secs must be 1..={}",
                limits.max_estimated_secs
            ));
        }
        if config.max_price == 0 || config.max_price > i64::MAX as u64 {
            return Err("max_price must be positive".into());
        }
        if config.region.len() > 32 || !config.region.bytes().all(|b| b.is_ascii_graphic()) {
            return Err("region must be at most 32 printable ASCII characters".into());
        }
        if config.hardware.datacenter_gpu && config.hardware.gpu_count == 0 {
            return Err("datacenter_gpu needs gpu_count ≥ 1".into());
        }
        Ok(config)
    }

    pub fn to_wire(&self) -> v1::JobConfig {
        v1::JobConfig {
            module_hash: self.module_hash.to_vec(),
            module_size: self.module_size,
            dataset_hash: self.dataset_hash.to_vec(),
            dataset_size: self.dataset_size,
            epochs: self.epochs,
            hardware: Some(v1::HardwareRequirements {
                min_cpu_cores: self.hardware.cpu_cores,
                min_ram_mb: self.hardware.ram_mb,
                gpu_count: self.hardware.gpu_count,
                min_vram_mb: self.hardware.vram_mb,
                datacenter_gpu: self.hardware.datacenter_gpu,
            }),
            max_price: self.max_price,
            priority: match self.priority {
                Priority::Low => v1::Priority::Low,
                Priority::Normal => v1::Priority::Normal,
                Priority::High => v1::Priority::High,
                Priority::Critical => v1::Priority::Critical,
            } as i32,
            estimated_secs: self.estimated_secs,
            region: self.region.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_states_round_trip_through_their_names() {
        for s in JobState::ALL {
            assert_eq!(JobState::parse(s.as_str()), Some(s));
        }
        assert_eq!(JobState::parse("bogus"), None);
    }

    #[test]
    fn hardware_matching_checks_every_dimension() {
        let node = Hardware {
            cpu_cores: 8,
            ram_mb: 16_000,
            gpu_count: 1,
            vram_mb: 8_000,
            datacenter_gpu: false,
        };
        assert!(node.satisfies(&Hardware::default()));
        assert!(node.satisfies(&Hardware {
            gpu_count: 1,
            vram_mb: 8_000,
            ..Hardware::default()
        }));
        assert!(!node.satisfies(&Hardware {
            gpu_count: 1,
            vram_mb: 8_001,
            ..Hardware::default()
        }));
        assert!(!node.satisfies(&Hardware {
            cpu_cores: 9,
            ..Hardware::default()
        }));
        assert!(!node.satisfies(&Hardware {
            gpu_count: 1,
            datacenter_gpu: true,
            ..Hardware::default()
        }));
    }
}
