//! Governance deposits, votes and parameter proposals.

use anchor_lang::prelude::*;
use job_escrow::EscrowParams;
use node_registry::RegistryParams;
use reputation_manager::ReputationParams;

use crate::state::{DaoParams, Side};

/// A wallet's governance deposit: 1 token = 1 vote. Locked until the end of every vote it
/// was used in, so the same tokens cannot vote twice on one question from two wallets.
#[account]
#[derive(InitSpace, Debug)]
pub struct Voter {
    pub wallet: Pubkey,
    pub deposited: u64,
    pub locked_until: i64,
    pub bump: u8,
}

/// What a vote was cast on.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum VoteChoice {
    Dispute(Side),
    Proposal { approve: bool },
}

/// One voter's vote on one dispute round or proposal; closed when the reward is claimed
/// or the proposal is over, returning its rent.
#[account]
#[derive(InitSpace, Debug)]
pub struct VoteRecord {
    pub voter: Pubkey,
    /// The dispute or proposal account.
    pub subject: Pubkey,
    pub round: u8,
    pub choice: VoteChoice,
    pub weight: u64,
    pub bump: u8,
}

/// A parameter change: the full new parameter set of one program.
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum ParamChange {
    Escrow(EscrowParams),
    Registry(RegistryParams),
    Reputation(ReputationParams),
    Dao(DaoParams),
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum ProposalState {
    Voting,
    Executed,
}

#[account]
#[derive(InitSpace, Debug)]
pub struct Proposal {
    pub id: u64,
    pub proposer: Pubkey,
    pub change: ParamChange,
    /// Hash of the off-chain description (rationale, discussion link).
    pub description_hash: [u8; 32],
    pub state: ProposalState,
    pub created_at: i64,
    pub voting_end: i64,
    pub quorum: u64,
    pub votes_for: u64,
    pub votes_against: u64,
    pub executed_at: i64,
    pub bump: u8,
}

impl Proposal {
    pub fn passed(&self) -> bool {
        let total = u128::from(self.votes_for) + u128::from(self.votes_against);
        total >= u128::from(self.quorum) && self.votes_for > self.votes_against
    }
}
