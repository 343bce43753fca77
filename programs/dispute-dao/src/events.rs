//! Events Dispute/DAO emits for indexers, voters and the coordinator.

use anchor_lang::prelude::*;

use crate::state::{Claim, DaoParams, ParamChange, Side, Verdict, VoteChoice};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DaoInitialized {
    pub admin: Pubkey,
    pub mint: Pubkey,
    pub params: DaoParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DaoParamsUpdated {
    pub by: Pubkey,
    pub params: DaoParams,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct Deposited {
    pub wallet: Pubkey,
    pub amount: u64,
    pub total: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct Withdrawn {
    pub wallet: Pubkey,
    pub amount: u64,
    pub total: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeCreated {
    pub job_id: [u8; 16],
    pub opener: Pubkey,
    pub claim: Claim,
    pub evidence_hash: [u8; 32],
    pub evidence_end: i64,
    pub voting_end: i64,
    pub quorum: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceSubmitted {
    pub job_id: [u8; 16],
    pub party: Pubkey,
    pub hash: [u8; 32],
    pub index: u8,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct VoteCast {
    pub subject: Pubkey,
    pub voter: Pubkey,
    pub choice: VoteChoice,
    pub weight: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeTallied {
    pub job_id: [u8; 16],
    pub round: u8,
    pub votes_user: u64,
    pub votes_node: u64,
    pub quorum: u64,
    pub verdict: Verdict,
    pub appeal_deadline: i64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeAppealed {
    pub job_id: [u8; 16],
    pub appellant: Pubkey,
    pub deposit: u64,
    pub evidence_hash: [u8; 32],
    pub voting_end: i64,
    pub quorum: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct DisputeExecuted {
    pub job_id: [u8; 16],
    pub verdict: Verdict,
    pub appeal_deposit_returned: bool,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct RewardClaimed {
    pub subject: Pubkey,
    pub voter: Pubkey,
    pub side: Side,
    pub reward: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalCreated {
    pub id: u64,
    pub proposer: Pubkey,
    pub change: ParamChange,
    pub voting_end: i64,
    pub quorum: u64,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub struct ProposalExecuted {
    pub id: u64,
    pub change: ParamChange,
}
