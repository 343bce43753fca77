//! A job dispute: evidence, the token-holder vote, the provisional verdict, an optional
//! appeal and the executed outcome.

use anchor_lang::prelude::*;

use crate::{constants::MAX_EVIDENCE, error::DaoError};

/// What the opener claims (content and details live off-chain, under the evidence hashes).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum Claim {
    /// The node did not do the work it reports.
    WorkNotDone,
    /// The delivered model is wrong or not what was trained.
    WrongResult,
    /// The node misused the job's data or resources.
    Misconduct,
    /// The node says it is being denied payment for work it did.
    PaymentWithheld,
    Other,
}

/// A side in a dispute vote (spec: USER_FAVOR / NODE_FAVOR).
#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum Side {
    UserFavor,
    NodeFavor,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum Verdict {
    UserFavor,
    NodeFavor,
    /// No quorum or a tie.
    NoDecision,
}

#[derive(AnchorSerialize, AnchorDeserialize, Clone, Copy, Debug, PartialEq, Eq, InitSpace)]
pub enum DisputeState {
    /// Evidence window, then voting (by time).
    Open,
    /// Tallied; executable after the appeal deadline.
    Decided,
    /// The verdict was executed on-chain.
    Executed,
}

#[account]
#[derive(InitSpace, Debug)]
pub struct Dispute {
    pub job_id: [u8; 16],
    pub escrow: Pubkey,
    pub user: Pubkey,
    pub node: Pubkey,
    pub opener: Pubkey,
    pub claim: Claim,
    pub state: DisputeState,
    /// 0: first vote; 1: appeal re-vote (final).
    pub round: u8,
    pub opened_at: i64,
    pub evidence_end: i64,
    pub voting_end: i64,
    /// Votes needed in the current round.
    pub quorum: u64,
    pub votes_user: u64,
    pub votes_node: u64,
    pub voters: u32,
    /// The current verdict (provisional until executed).
    pub verdict: Verdict,
    /// The first round's verdict when appealed.
    pub appealed_verdict: Verdict,
    pub appeal_deadline: i64,
    pub appellant: Pubkey,
    pub appeal_deposit: u64,
    pub executed_at: i64,
    pub user_evidence: [[u8; 32]; MAX_EVIDENCE],
    pub user_evidence_count: u8,
    pub node_evidence: [[u8; 32]; MAX_EVIDENCE],
    pub node_evidence_count: u8,
    pub bump: u8,
    /// The job's payment when the dispute concerns a completed (paid) job: a verdict for
    /// the user repays it from the node's slashed stake. 0 for a running job.
    pub repay_from_stake: u64,
}

impl Dispute {
    pub fn is_party(&self, key: &Pubkey) -> bool {
        *key == self.user || *key == self.node
    }

    /// Attaches an evidence hash for `party` (the user or the node).
    pub fn add_evidence(&mut self, party: &Pubkey, hash: [u8; 32]) -> Result<u8> {
        let (list, count) = if *party == self.user {
            (&mut self.user_evidence, &mut self.user_evidence_count)
        } else if *party == self.node {
            (&mut self.node_evidence, &mut self.node_evidence_count)
        } else {
            return err!(DaoError::NotParty);
        };
        let i = usize::from(*count);
        require!(i < MAX_EVIDENCE, DaoError::EvidenceFull);
        list[i] = hash;
        *count += 1;
        Ok(*count)
    }

    /// The vote's outcome: a side with quorum and a strict majority, else no decision.
    pub fn count(&self) -> Verdict {
        let total = u128::from(self.votes_user) + u128::from(self.votes_node);
        if total < u128::from(self.quorum) || self.votes_user == self.votes_node {
            Verdict::NoDecision
        } else if self.votes_user > self.votes_node {
            Verdict::UserFavor
        } else {
            Verdict::NodeFavor
        }
    }

    /// Who lost a verdict and may appeal it.
    pub fn loser(&self) -> Option<Pubkey> {
        match self.verdict {
            Verdict::UserFavor => Some(self.node),
            Verdict::NodeFavor => Some(self.user),
            Verdict::NoDecision => None,
        }
    }
}

impl Side {
    pub fn wins(self, verdict: Verdict) -> bool {
        matches!(
            (self, verdict),
            (Side::UserFavor, Verdict::UserFavor) | (Side::NodeFavor, Verdict::NodeFavor)
        )
    }
}
