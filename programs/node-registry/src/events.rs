//! Events NodeRegistry emits (as `Program data:` logs) for indexers and the coordinator.

use anchor_lang::prelude::*;

use crate::state::{JobOutcome, RegistryParams, SlashReason};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryInitialized {
    pub admin: Pubkey,
    pub stake_mint: Pubkey,
    pub params: RegistryParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct RegistryParamsUpdated {
    pub by: Pubkey,
    pub params: RegistryParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRegistered {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub node_id: [u8; 32],
    pub stake: u64,
    pub locked_until: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct StakeChanged {
    pub node: Pubkey,
    pub stake: u64,
    pub delta: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct UnstakeRequested {
    pub node: Pubkey,
    pub withdrawable_at: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct StakeWithdrawn {
    pub node: Pubkey,
    pub owner: Pubkey,
    pub amount: u64,
    pub closed: bool,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSlashed {
    pub node: Pubkey,
    pub reason: SlashReason,
    pub amount: u64,
    pub to_insurance: u64,
    pub burned: u64,
    pub remaining_stake: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeSuspended {
    pub node: Pubkey,
    pub until: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeBanned {
    pub node: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct JobLocked {
    pub node: Pubkey,
    pub active_jobs: u32,
    pub locked_until: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct JobReleased {
    pub node: Pubkey,
    pub outcome: JobOutcome,
    pub active_jobs: u32,
    pub locked_until: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeSlashed {
    pub node: Pubkey,
    pub amount: u64,
    pub to_user: u64,
    pub to_treasury: u64,
    pub remaining_stake: u64,
}
