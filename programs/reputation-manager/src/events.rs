//! Events ReputationManager emits for indexers and the coordinator.

use anchor_lang::prelude::*;

use crate::state::{ReputationParams, Tier, VerdictEffect};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct ReputationInitialized {
    pub admin: Pubkey,
    pub updater: Pubkey,
    pub params: ReputationParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct ReputationParamsUpdated {
    pub by: Pubkey,
    pub params: ReputationParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeReputationCreated {
    pub owner: Pubkey,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct BatchApplied {
    pub batch_id: u64,
    pub updates: u16,
    pub nodes: u16,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct TierChanged {
    pub owner: Pubkey,
    pub from: Tier,
    pub to: Tier,
    pub score: u16,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct NodeRated {
    pub owner: Pubkey,
    pub stars: u8,
    pub score: u16,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidProofRecorded {
    pub owner: Pubkey,
    pub points: u16,
    pub score: u16,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictApplied {
    pub node: Pubkey,
    pub user: Pubkey,
    pub effect: VerdictEffect,
    pub node_score: u16,
    pub user_score: u16,
}
