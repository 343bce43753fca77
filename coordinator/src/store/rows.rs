//! Records read from and written to the database.

use crate::types::{Hardware, JobConfig, JobId, JobState};

/// A node's standing on chain, as last read by the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChainNode {
    pub stake: u64,
    pub status: ChainStatus,
    /// NodeRegistry's `last_heartbeat` (Unix seconds, chain clock).
    pub heartbeat_secs: i64,
    /// ReputationManager score 0–1000 and tier index (0 Bronze … 3 Diamond).
    pub reputation: u16,
    pub tier: u8,
    pub synced_at: i64,
}

/// What NodeRegistry says about a node, reduced to what matching needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChainStatus {
    Active,
    Suspended,
    Banned,
    Unstaking,
    /// No NodeRegistry account (closed or never registered).
    Missing,
}

impl ChainStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ChainStatus::Active => "active",
            ChainStatus::Suspended => "suspended",
            ChainStatus::Banned => "banned",
            ChainStatus::Unstaking => "unstaking",
            ChainStatus::Missing => "missing",
        }
    }

    pub fn parse(s: &str) -> Option<ChainStatus> {
        [
            ChainStatus::Active,
            ChainStatus::Suspended,
            ChainStatus::Banned,
            ChainStatus::Unstaking,
            ChainStatus::Missing,
        ]
        .into_iter()
        .find(|c| c.as_str() == s)
    }
}

/// A registered node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRecord {
    /// The operator's wallet (NodeRegistry node owner), base58.
    pub owner: String,
    pub endpoint: String,
    pub tls_fingerprint: [u8; 32],
    pub hardware: Hardware,
    pub capacity: u32,
    pub region: String,
    /// The node's ask relative to the list price (10 000 = list).
    pub price_bps: u32,
    pub registered_at: i64,
    /// Last off-chain heartbeat (ms).
    pub last_heartbeat: i64,
    pub running_jobs: u32,
    pub heartbeats: i64,
    pub chain: ChainNode,
    pub rating_sum: i64,
    pub rating_count: i64,
}

/// A job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRecord {
    pub id: JobId,
    pub engine_wallet: String,
    pub config: JobConfig,
    pub price: u64,
    pub state: JobState,
    pub node_owner: Option<String>,
    pub reserved_until: i64,
    pub escrow_signature: Option<String>,
    pub user_token: Option<String>,
    pub assign_signature: Option<String>,
    pub escrow_timeout_secs: Option<i64>,
    pub epochs_reported: u32,
    pub last_checkpoint: Option<[u8; 32]>,
    pub epochs_anchored: u32,
    pub merkle_root: Option<[u8; 32]>,
    pub final_weights: Option<[u8; 32]>,
    pub detail: String,
    pub rating: Option<u32>,
    pub rematches: u32,
    pub created_at: i64,
    pub updated_at: i64,
    pub accepted_at: Option<i64>,
    pub finished_at: Option<i64>,
}

impl JobRecord {
    /// A job just matched: reserved on `node` until `reserved_until`, nothing else known.
    pub fn reserved(
        id: JobId,
        engine_wallet: String,
        config: JobConfig,
        price: u64,
        node: String,
        reserved_until: i64,
        now: i64,
    ) -> JobRecord {
        JobRecord {
            id,
            engine_wallet,
            config,
            price,
            state: JobState::Reserved,
            node_owner: Some(node),
            reserved_until,
            escrow_signature: None,
            user_token: None,
            assign_signature: None,
            escrow_timeout_secs: None,
            epochs_reported: 0,
            last_checkpoint: None,
            epochs_anchored: 0,
            merkle_root: None,
            final_weights: None,
            detail: String::new(),
            rating: None,
            rematches: 0,
            created_at: now,
            updated_at: now,
            accepted_at: None,
            finished_at: None,
        }
    }
}

/// What confirming an escrow established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmation {
    pub escrow_signature: String,
    /// The token account the escrow was funded from (refunds go back there).
    pub user_token: String,
    pub escrow_timeout_secs: i64,
    pub assign_signature: String,
}

/// A settlement seen on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payment {
    pub job_id: JobId,
    /// `completed`, `refunded`, `cancelled`, `timed_out` or `dispute`.
    pub kind: String,
    pub to_node: u64,
    pub to_user: u64,
    pub fee: u64,
    pub signature: String,
}

/// A reputation event for the batcher (ReputationManager's `UpdateKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateKind {
    Completed {
        actual_secs: u32,
        estimated_secs: u32,
    },
    Failed,
    TimedOut,
    InvalidProof,
    Uptime {
        received: u32,
        expected: u32,
    },
}

impl UpdateKind {
    pub fn name(&self) -> &'static str {
        match self {
            UpdateKind::Completed { .. } => "completed",
            UpdateKind::Failed => "failed",
            UpdateKind::TimedOut => "timed_out",
            UpdateKind::InvalidProof => "invalid_proof",
            UpdateKind::Uptime { .. } => "uptime",
        }
    }

    pub(crate) fn a(&self) -> i64 {
        match *self {
            UpdateKind::Completed { actual_secs, .. } => i64::from(actual_secs),
            UpdateKind::Uptime { received, .. } => i64::from(received),
            _ => 0,
        }
    }

    pub(crate) fn b(&self) -> i64 {
        match *self {
            UpdateKind::Completed { estimated_secs, .. } => i64::from(estimated_secs),
            UpdateKind::Uptime { expected, .. } => i64::from(expected),
            _ => 0,
        }
    }

    pub(crate) fn from_parts(name: &str, a: i64, b: i64) -> Option<UpdateKind> {
        let (a, b) = (u32::try_from(a).ok()?, u32::try_from(b).ok()?);
        Some(match name {
            "completed" => UpdateKind::Completed {
                actual_secs: a,
                estimated_secs: b,
            },
            "failed" => UpdateKind::Failed,
            "timed_out" => UpdateKind::TimedOut,
            "invalid_proof" => UpdateKind::InvalidProof,
            "uptime" => UpdateKind::Uptime {
                received: a,
                expected: b,
            },
            _ => return None,
        })
    }

    /// The on-chain form.
    pub fn to_chain(self) -> reputation_manager::UpdateKind {
        use reputation_manager::UpdateKind as K;
        match self {
            UpdateKind::Completed {
                actual_secs,
                estimated_secs,
            } => K::Completed {
                actual_secs,
                estimated_secs,
            },
            UpdateKind::Failed => K::Failed,
            UpdateKind::TimedOut => K::TimedOut,
            UpdateKind::InvalidProof => K::InvalidProof,
            UpdateKind::Uptime { received, expected } => K::Uptime { received, expected },
        }
    }
}

/// A reputation update to queue. `dedup_key` names its cause (e.g. `completed:<job>`),
/// so the same cause seen twice queues one update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpdate {
    pub dedup_key: String,
    pub node_owner: String,
    pub kind: UpdateKind,
}

/// A queued update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateRow {
    pub id: i64,
    pub node_owner: String,
    pub kind: UpdateKind,
    pub batch_id: Option<i64>,
    pub created_at: i64,
}

/// A reputation batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub batch_id: u64,
    /// `pending`, `applied` or `refused`.
    pub state: String,
    pub signature: Option<String>,
    pub attempts: i64,
    pub last_error: String,
    pub created_by: String,
}

/// A chain operation's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpState {
    Pending,
    Done,
    Failed,
}

impl OpState {
    pub fn as_str(self) -> &'static str {
        match self {
            OpState::Pending => "pending",
            OpState::Done => "done",
            OpState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<OpState> {
        match s {
            "pending" => Some(OpState::Pending),
            "done" => Some(OpState::Done),
            "failed" => Some(OpState::Failed),
            _ => None,
        }
    }
}
