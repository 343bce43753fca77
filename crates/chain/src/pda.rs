//! Every program-derived address of the four programs, in one place. Seeds come from
//! `cyxwiz_common::seeds`, the same constants the programs use, so a client and a
//! program can never disagree on an address.

use anchor_lang::prelude::Pubkey;
use cyxwiz_common::{ids, seeds};

fn pda(seeds: &[&[u8]], program: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(seeds, program).0
}

// ── NodeRegistry ──────────────────────────────────────────────────────────

/// NodeRegistry's config.
pub fn registry_config() -> Pubkey {
    pda(&[seeds::REGISTRY_CONFIG], &ids::NODE_REGISTRY)
}

/// The token account that holds every node's stake.
pub fn stake_vault() -> Pubkey {
    pda(&[seeds::STAKE_VAULT], &ids::NODE_REGISTRY)
}

/// The node account of the operator wallet `owner`.
pub fn node(owner: &Pubkey) -> Pubkey {
    pda(&[seeds::NODE, owner.as_ref()], &ids::NODE_REGISTRY)
}

// ── JobEscrow ─────────────────────────────────────────────────────────────

/// JobEscrow's config.
pub fn escrow_config() -> Pubkey {
    pda(&[seeds::ESCROW_CONFIG], &ids::JOB_ESCROW)
}

/// The escrow of job `job_id`.
pub fn escrow(job_id: &[u8; 16]) -> Pubkey {
    pda(&[seeds::ESCROW, job_id], &ids::JOB_ESCROW)
}

/// The token vault of the escrow account `escrow`.
pub fn escrow_vault(escrow: &Pubkey) -> Pubkey {
    pda(&[seeds::ESCROW_VAULT, escrow.as_ref()], &ids::JOB_ESCROW)
}

/// JobEscrow's signing PDA for CPIs into NodeRegistry and ReputationManager.
pub fn escrow_authority() -> Pubkey {
    ids::escrow_authority()
}

// ── ReputationManager ─────────────────────────────────────────────────────

/// ReputationManager's config.
pub fn reputation_config() -> Pubkey {
    pda(&[seeds::REPUTATION_CONFIG], &ids::REPUTATION)
}

/// The reputation account of the node operated by `owner`.
pub fn node_reputation(owner: &Pubkey) -> Pubkey {
    pda(&[seeds::NODE_REPUTATION, owner.as_ref()], &ids::REPUTATION)
}

/// The standing of job submitter `wallet`.
pub fn user_reputation(wallet: &Pubkey) -> Pubkey {
    pda(&[seeds::USER_REPUTATION, wallet.as_ref()], &ids::REPUTATION)
}

// ── Dispute/DAO ───────────────────────────────────────────────────────────

/// Dispute/DAO's config.
pub fn dao_config() -> Pubkey {
    pda(&[seeds::DAO_CONFIG], &ids::DISPUTE_DAO)
}

/// Where voters' deposits are held.
pub fn dao_deposit_vault() -> Pubkey {
    pda(&[seeds::DEPOSIT_VAULT], &ids::DISPUTE_DAO)
}

/// The DAO treasury (slash shares in, voter rewards out).
pub fn dao_treasury() -> Pubkey {
    pda(&[seeds::DAO_TREASURY], &ids::DISPUTE_DAO)
}

/// Where appeal deposits are held until the appeal is decided.
pub fn dao_appeal_vault() -> Pubkey {
    pda(&[seeds::APPEAL_VAULT], &ids::DISPUTE_DAO)
}

/// Dispute/DAO's signing PDA for verdicts (freeze, resolve, slash, reputation).
pub fn dispute_authority() -> Pubkey {
    ids::dispute_authority()
}

/// Dispute/DAO's signing PDA for executed parameter proposals.
pub fn governance_authority() -> Pubkey {
    ids::governance_authority()
}

/// The voter account (deposit and locks) of `wallet`.
pub fn voter(wallet: &Pubkey) -> Pubkey {
    pda(&[seeds::VOTER, wallet.as_ref()], &ids::DISPUTE_DAO)
}

/// The dispute over job `job_id`.
pub fn dispute(job_id: &[u8; 16]) -> Pubkey {
    pda(&[seeds::DISPUTE, job_id], &ids::DISPUTE_DAO)
}

/// Parameter proposal number `id`.
pub fn proposal(id: u64) -> Pubkey {
    pda(&[seeds::PROPOSAL, &id.to_le_bytes()], &ids::DISPUTE_DAO)
}

/// `wallet`'s ballot on a dispute (in `round`: 0 first vote, 1 appeal).
pub fn dispute_vote(dispute: &Pubkey, round: u8, wallet: &Pubkey) -> Pubkey {
    pda(
        &[seeds::VOTE, dispute.as_ref(), &[round], wallet.as_ref()],
        &ids::DISPUTE_DAO,
    )
}

/// `wallet`'s ballot on a proposal.
pub fn proposal_vote(proposal: &Pubkey, wallet: &Pubkey) -> Pubkey {
    pda(
        &[seeds::VOTE, proposal.as_ref(), &[0], wallet.as_ref()],
        &ids::DISPUTE_DAO,
    )
}

/// The Clock sysvar (not a PDA, but an address every client reads).
pub fn clock_sysvar() -> Pubkey {
    Pubkey::from_str_const("SysvarC1ock11111111111111111111111111111111")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pdas_are_under_their_programs_and_distinct() {
        let owner = Pubkey::new_unique();
        let all = [
            registry_config(),
            stake_vault(),
            node(&owner),
            escrow_config(),
            escrow(&[1; 16]),
            escrow(&[2; 16]),
            reputation_config(),
            node_reputation(&owner),
            user_reputation(&owner),
            dao_config(),
            dao_deposit_vault(),
            dao_treasury(),
            dao_appeal_vault(),
            voter(&owner),
            dispute(&[1; 16]),
            proposal(0),
            proposal(1),
        ];
        let unique: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(unique.len(), all.len());
        assert!(all.iter().all(|k| !k.is_on_curve()));
    }
}
