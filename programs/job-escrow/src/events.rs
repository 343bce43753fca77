//! Events JobEscrow emits (as `Program data:` logs) for the coordinator's chain gateway.

use anchor_lang::prelude::*;

use crate::state::{DisputeResolution, EscrowParams};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowConfigUpdated {
    pub by: Pubkey,
    pub params: EscrowParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowCreated {
    pub job_id: [u8; 16],
    pub escrow: Pubkey,
    pub user: Pubkey,
    pub amount: u64,
    pub epochs_required: u32,
    pub timeout_at: i64,
    pub estimated_secs: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeAssigned {
    pub job_id: [u8; 16],
    pub node: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct JobAccepted {
    pub job_id: [u8; 16],
    pub node: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct CheckpointAnchored {
    pub job_id: [u8; 16],
    pub epoch: u32,
    pub epochs_required: u32,
    pub merkle_root: [u8; 32],
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentReleased {
    pub job_id: [u8; 16],
    pub node: Pubkey,
    pub node_amount: u64,
    pub platform_fee: u64,
    pub burned: u64,
    pub final_weights_hash: [u8; 32],
    pub merkle_root: [u8; 32],
}

/// `submit_proof` judged the node's proof invalid: the user was refunded in full and the
/// node slashed (NodeRegistry's `NodeSlashed`) and penalised (ReputationManager).
#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct ProofRejected {
    pub job_id: [u8; 16],
    pub node: Pubkey,
    pub refund_amount: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowCancelled {
    pub job_id: [u8; 16],
    pub refund_amount: u64,
    pub fee: u64,
    pub fee_to_node: bool,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefundReason {
    /// The user stopped the job.
    UserStopped,
    /// The node gave up.
    NodeAbandoned,
    /// The coordinator reported the node offline.
    NodeOffline,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowRefunded {
    pub job_id: [u8; 16],
    pub reason: RefundReason,
    pub refund_amount: u64,
    pub node_amount: u64,
    pub epochs_done: u32,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct TimeoutRefunded {
    pub job_id: [u8; 16],
    pub amount: u64,
    pub node_slashed: bool,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowFrozen {
    pub job_id: [u8; 16],
}

/// A completed job's challenge window closed without a dispute; its stake hold ended.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct StakeReleased {
    pub job_id: [u8; 16],
    pub node: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EscrowClosed {
    pub job_id: [u8; 16],
    pub rent_to: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeSettled {
    pub job_id: [u8; 16],
    pub resolution: DisputeResolution,
    pub to_user: u64,
    pub to_node: u64,
    pub platform_fee: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRatedByUser {
    pub job_id: [u8; 16],
    pub node: Pubkey,
    pub stars: u8,
}
