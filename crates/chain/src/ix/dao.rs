//! Dispute/DAO instructions: initialisation and admin settings; governance deposits
//! (`create_voter`, `deposit`, `withdraw`); disputes (`create_dispute` by a party →
//! `submit_evidence` → `cast_vote` by voters → `tally` → `appeal` by the loser →
//! `finalize` → `claim_vote_reward`); parameter proposals (`propose` → `vote_proposal` →
//! `execute_proposal` → `close_proposal_vote`).
//!
//! `tally`, `finalize` and `execute_proposal` have no signer of their own: anyone may
//! send them, the fee payer signing the transaction.

use anchor_lang::{prelude::Pubkey, solana_program::system_program};
use dispute_dao::{Claim, DaoParams, ParamChange, Side, accounts as acc, instruction as data};

use super::build;
use crate::{Addresses, Instruction, pda};

/// `initialize`: creates the config and its three vaults (deposits, treasury, appeals);
/// signed by the deployer key.
pub fn initialize(
    deployer: &Pubkey,
    admin: &Pubkey,
    addresses: &Addresses,
    params: DaoParams,
) -> Instruction {
    build(
        dispute_dao::ID,
        acc::Initialize {
            deployer: *deployer,
            config: pda::dao_config(),
            mint: addresses.mint,
            deposit_vault: pda::dao_deposit_vault(),
            treasury: pda::dao_treasury(),
            appeal_vault: pda::dao_appeal_vault(),
            token_program: addresses.token_program,
            system_program: system_program::ID,
        },
        data::Initialize {
            admin: *admin,
            params,
        },
    )
}

fn update_config(authority: &Pubkey) -> acc::UpdateConfig {
    acc::UpdateConfig {
        authority: *authority,
        config: pda::dao_config(),
    }
}

/// `update_params`: signed by the admin (DAO parameters also change by proposal, see
/// [`execute_proposal`]).
pub fn update_params(authority: &Pubkey, params: DaoParams) -> Instruction {
    build(
        dispute_dao::ID,
        update_config(authority),
        data::UpdateParams { params },
    )
}

/// `set_admin`: signed by the admin.
pub fn set_admin(authority: &Pubkey, admin: Pubkey) -> Instruction {
    build(
        dispute_dao::ID,
        update_config(authority),
        data::SetAdmin { admin },
    )
}

// ── governance deposits ───────────────────────────────────────────────────

/// `create_voter`: opens `wallet`'s voter account; signed by the wallet (pays the rent).
pub fn create_voter(wallet: &Pubkey) -> Instruction {
    build(
        dispute_dao::ID,
        acc::CreateVoter {
            wallet: *wallet,
            voter: pda::voter(wallet),
            system_program: system_program::ID,
        },
        data::CreateVoter {},
    )
}

fn move_deposit(addresses: &Addresses, wallet: &Pubkey, wallet_token: &Pubkey) -> acc::MoveDeposit {
    acc::MoveDeposit {
        wallet: *wallet,
        config: pda::dao_config(),
        voter: pda::voter(wallet),
        wallet_token: *wallet_token,
        deposit_vault: pda::dao_deposit_vault(),
        mint: addresses.mint,
        token_program: addresses.token_program,
    }
}

/// `deposit`: moves `amount` from `wallet_token` into the deposit vault (voting weight);
/// signed by the wallet.
pub fn deposit(
    addresses: &Addresses,
    wallet: &Pubkey,
    wallet_token: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        dispute_dao::ID,
        move_deposit(addresses, wallet, wallet_token),
        data::Deposit { amount },
    )
}

/// `withdraw`: returns `amount` of an unlocked deposit to `wallet_token` (owned by the
/// wallet); signed by the wallet.
pub fn withdraw(
    addresses: &Addresses,
    wallet: &Pubkey,
    wallet_token: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        dispute_dao::ID,
        move_deposit(addresses, wallet, wallet_token),
        data::Withdraw { amount },
    )
}

// ── disputes ──────────────────────────────────────────────────────────────

/// `create_dispute`: freezes job `job_id`'s escrow and opens the dispute (creating the
/// user's reputation account if missing); signed by a party (`opener`: the job's user or
/// node), who pays the rent. `user` is the job's user wallet (`escrow.user`).
pub fn create_dispute(
    addresses: &Addresses,
    opener: &Pubkey,
    job_id: [u8; 16],
    user: &Pubkey,
    claim: Claim,
    evidence_hash: [u8; 32],
) -> Instruction {
    build(
        dispute_dao::ID,
        acc::CreateDispute {
            opener: *opener,
            config: pda::dao_config(),
            dispute: pda::dispute(&job_id),
            escrow: pda::escrow(&job_id),
            escrow_config: pda::escrow_config(),
            dispute_authority: pda::dispute_authority(),
            mint: addresses.mint,
            user_reputation: pda::user_reputation(user),
            user: *user,
            escrow_program: job_escrow::ID,
            reputation_program: reputation_manager::ID,
            system_program: system_program::ID,
        },
        data::CreateDispute {
            claim,
            evidence_hash,
        },
    )
}

/// `submit_evidence`: adds an evidence hash during the evidence window; signed by a party.
pub fn submit_evidence(party: &Pubkey, job_id: [u8; 16], hash: [u8; 32]) -> Instruction {
    build(
        dispute_dao::ID,
        acc::SubmitEvidence {
            party: *party,
            dispute: pda::dispute(&job_id),
        },
        data::SubmitEvidence { hash },
    )
}

/// `cast_vote`: votes the wallet's deposit on the dispute's current `round` (0, or 1 after
/// an appeal); signed by the voter wallet (pays the vote record's rent).
pub fn cast_vote(wallet: &Pubkey, job_id: [u8; 16], round: u8, side: Side) -> Instruction {
    let dispute = pda::dispute(&job_id);
    build(
        dispute_dao::ID,
        acc::CastVote {
            wallet: *wallet,
            voter: pda::voter(wallet),
            dispute,
            vote_record: pda::dispute_vote(&dispute, round, wallet),
            system_program: system_program::ID,
        },
        data::CastVote { side },
    )
}

/// `tally`: counts the votes once voting has ended; no signer (anyone's transaction).
pub fn tally(job_id: [u8; 16]) -> Instruction {
    build(
        dispute_dao::ID,
        acc::Tally {
            config: pda::dao_config(),
            dispute: pda::dispute(&job_id),
        },
        data::Tally {},
    )
}

/// `appeal`: reopens a decided dispute for one re-vote, paying the appeal deposit from
/// `appellant_token`; signed by the losing party.
pub fn appeal(
    addresses: &Addresses,
    appellant: &Pubkey,
    appellant_token: &Pubkey,
    job_id: [u8; 16],
    evidence_hash: [u8; 32],
) -> Instruction {
    build(
        dispute_dao::ID,
        acc::Appeal {
            appellant: *appellant,
            config: pda::dao_config(),
            dispute: pda::dispute(&job_id),
            appellant_token: *appellant_token,
            appeal_vault: pda::dao_appeal_vault(),
            mint: addresses.mint,
            token_program: addresses.token_program,
        },
        data::Appeal { evidence_hash },
    )
}

/// `finalize`: after the appeal deadline, executes the verdict (settles the escrow,
/// slashes the node and applies reputation by CPI, settles the appeal deposit); no signer
/// (anyone's transaction). `user` and `node_owner` are the dispute's parties;
/// `user_token` and `node_token` their token accounts of the mint.
pub fn finalize(
    addresses: &Addresses,
    job_id: [u8; 16],
    user: &Pubkey,
    node_owner: &Pubkey,
    user_token: &Pubkey,
    node_token: &Pubkey,
) -> Instruction {
    let escrow = pda::escrow(&job_id);
    build(
        dispute_dao::ID,
        acc::Finalize {
            config: pda::dao_config(),
            dispute: pda::dispute(&job_id),
            dispute_authority: pda::dispute_authority(),
            escrow,
            vault: pda::escrow_vault(&escrow),
            mint: addresses.mint,
            user_token: *user_token,
            node_token: *node_token,
            staking_treasury: addresses.treasury.staking,
            development_treasury: addresses.treasury.development,
            liquidity_treasury: addresses.treasury.liquidity,
            escrow_config: pda::escrow_config(),
            escrow_authority: pda::escrow_authority(),
            registry_config: pda::registry_config(),
            node: pda::node(node_owner),
            stake_vault: pda::stake_vault(),
            insurance_vault: addresses.insurance_vault,
            reputation_config: pda::reputation_config(),
            node_reputation: pda::node_reputation(node_owner),
            user_reputation: pda::user_reputation(user),
            dao_treasury: pda::dao_treasury(),
            appeal_vault: pda::dao_appeal_vault(),
            token_program: addresses.token_program,
            escrow_program: job_escrow::ID,
            registry_program: node_registry::ID,
            reputation_program: reputation_manager::ID,
        },
        data::Finalize {},
    )
}

/// `claim_vote_reward`: after execution, closes the wallet's vote record of `round` and
/// pays the reward (if it voted with the verdict) to `wallet_token`; signed by the voter.
pub fn claim_vote_reward(
    addresses: &Addresses,
    wallet: &Pubkey,
    wallet_token: &Pubkey,
    job_id: [u8; 16],
    round: u8,
) -> Instruction {
    let dispute = pda::dispute(&job_id);
    build(
        dispute_dao::ID,
        acc::ClaimVoteReward {
            wallet: *wallet,
            config: pda::dao_config(),
            dispute,
            vote_record: pda::dispute_vote(&dispute, round, wallet),
            treasury: pda::dao_treasury(),
            wallet_token: *wallet_token,
            mint: addresses.mint,
            token_program: addresses.token_program,
        },
        data::ClaimVoteReward {},
    )
}

// ── parameter governance ──────────────────────────────────────────────────

/// `propose`: opens proposal number `proposal_id`, which must be the config's current
/// `proposal_count`; signed by a voter with enough deposit (pays the rent).
pub fn propose(
    addresses: &Addresses,
    proposer: &Pubkey,
    proposal_id: u64,
    change: ParamChange,
    description_hash: [u8; 32],
) -> Instruction {
    build(
        dispute_dao::ID,
        acc::Propose {
            proposer: *proposer,
            config: pda::dao_config(),
            voter: pda::voter(proposer),
            mint: addresses.mint,
            proposal: pda::proposal(proposal_id),
            system_program: system_program::ID,
        },
        data::Propose {
            change,
            description_hash,
        },
    )
}

/// `vote_proposal`: votes the wallet's deposit for or against proposal `proposal_id`;
/// signed by the voter (pays the vote record's rent).
pub fn vote_proposal(wallet: &Pubkey, proposal_id: u64, approve: bool) -> Instruction {
    let proposal = pda::proposal(proposal_id);
    build(
        dispute_dao::ID,
        acc::VoteProposal {
            wallet: *wallet,
            voter: pda::voter(wallet),
            proposal,
            vote_record: pda::proposal_vote(&proposal, wallet),
            system_program: system_program::ID,
        },
        data::VoteProposal { approve },
    )
}

/// The config account and program a parameter change updates.
pub fn change_target(change: &ParamChange) -> (Pubkey, Pubkey) {
    match change {
        ParamChange::Escrow(_) => (pda::escrow_config(), job_escrow::ID),
        ParamChange::Registry(_) => (pda::registry_config(), node_registry::ID),
        ParamChange::Reputation(_) => (pda::reputation_config(), reputation_manager::ID),
        ParamChange::Dao(_) => (pda::dao_config(), dispute_dao::ID),
    }
}

/// `execute_proposal`: after the timelock, applies passed proposal `proposal_id`, whose
/// `change` names the target config; no signer (anyone's transaction). The target config
/// is marked writable here: the accounts struct leaves it read-only (so a DAO-params
/// proposal may name the DAO config twice) but the update CPI writes it.
pub fn execute_proposal(proposal_id: u64, change: &ParamChange) -> Instruction {
    let (target_config, target_program) = change_target(change);
    let mut ix = build(
        dispute_dao::ID,
        acc::ExecuteProposal {
            config: pda::dao_config(),
            proposal: pda::proposal(proposal_id),
            governance_authority: pda::governance_authority(),
            target_config,
            target_program,
        },
        data::ExecuteProposal {},
    );
    for meta in ix.accounts.iter_mut().filter(|m| m.pubkey == target_config) {
        meta.is_writable = true;
    }
    ix
}

/// `close_proposal_vote`: after voting, closes the wallet's vote record on proposal
/// `proposal_id` (rent back); signed by the voter.
pub fn close_proposal_vote(wallet: &Pubkey, proposal_id: u64) -> Instruction {
    let proposal = pda::proposal(proposal_id);
    build(
        dispute_dao::ID,
        acc::CloseProposalVote {
            wallet: *wallet,
            proposal,
            vote_record: pda::proposal_vote(&proposal, wallet),
        },
        data::CloseProposalVote {},
    )
}
