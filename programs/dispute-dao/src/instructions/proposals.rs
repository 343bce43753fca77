//! Parameter governance: `propose` (a depositor holding at least 1 % of the supply),
//! `vote_proposal` (depositors, for the voting period), `execute_proposal` (anyone, after
//! the timelock and within the execution window; CPI signed by the governance PDA into the
//! target program's `update_params`), `close_proposal_vote` (returns a vote's rent).

use anchor_lang::prelude::*;
use anchor_spl::token_interface::Mint;
use cyxwiz_common::{emit_event, seeds};

use super::pda::Ballot;
use crate::{
    error::DaoError,
    events::{ProposalCreated, ProposalExecuted},
    state::{
        DaoConfig, DaoParams, ParamChange, Proposal, ProposalState, VoteChoice, VoteRecord, Voter,
    },
};

#[derive(Accounts)]
pub struct Propose<'info> {
    #[account(mut)]
    pub proposer: Signer<'info>,
    #[account(mut, seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(mut, seeds = [seeds::VOTER, proposer.key().as_ref()], bump = voter.bump)]
    pub voter: Account<'info, Voter>,
    #[account(address = config.mint @ DaoError::WrongMint)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    #[account(
        init,
        payer = proposer,
        space = 8 + Proposal::INIT_SPACE,
        seeds = [seeds::PROPOSAL, config.proposal_count.to_le_bytes().as_ref()],
        bump,
    )]
    pub proposal: Box<Account<'info, Proposal>>,
    pub system_program: Program<'info, System>,
}

impl Propose<'_> {
    pub fn handle(
        &mut self,
        change: ParamChange,
        description_hash: [u8; 32],
        bump: u8,
    ) -> Result<()> {
        let params = self.config.params;
        // Invalid parameters would only fail at execution, after two weeks: refuse now,
        // with the target program's own error.
        match &change {
            ParamChange::Escrow(p) => p.validate()?,
            ParamChange::Registry(p) => p.validate()?,
            ParamChange::Reputation(p) => p.validate()?,
            ParamChange::Dao(p) => p.validate()?,
        }
        let supply = self.mint.supply;
        let threshold = DaoParams::of_supply(supply, params.proposal_threshold_bps)?;
        require!(
            self.voter.deposited >= threshold,
            DaoError::BelowProposalThreshold
        );
        let now = Clock::get()?.unix_timestamp;
        let voting_end = now
            .checked_add(params.proposal_voting_secs)
            .ok_or(DaoError::Overflow)?;
        let quorum = DaoParams::of_supply(supply, params.proposal_quorum_bps)?;
        let id = self.config.proposal_count;
        self.proposal.set_inner(Proposal {
            id,
            proposer: self.proposer.key(),
            change,
            description_hash,
            state: ProposalState::Voting,
            created_at: now,
            voting_end,
            quorum,
            votes_for: 0,
            votes_against: 0,
            executed_at: 0,
            bump,
        });
        // The proposer's deposit backs the proposal until its vote ends.
        self.voter.locked_until = self.voter.locked_until.max(voting_end);
        self.config.proposal_count = id.checked_add(1).ok_or(DaoError::Overflow)?;
        emit_event!(ProposalCreated {
            id,
            proposer: self.proposer.key(),
            change,
            voting_end,
            quorum
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct VoteProposal<'info> {
    #[account(mut)]
    pub wallet: Signer<'info>,
    #[account(mut, seeds = [seeds::VOTER, wallet.key().as_ref()], bump = voter.bump)]
    pub voter: Account<'info, Voter>,
    #[account(mut, seeds = [seeds::PROPOSAL, proposal.id.to_le_bytes().as_ref()], bump = proposal.bump)]
    pub proposal: Box<Account<'info, Proposal>>,
    /// CHECK: created here; `[VOTE, proposal, 0, wallet]`.
    #[account(
        mut,
        seeds = [seeds::VOTE, proposal.key().as_ref(), &[0], wallet.key().as_ref()],
        bump,
    )]
    pub vote_record: UncheckedAccount<'info>,
    pub system_program: Program<'info, System>,
}

impl VoteProposal<'_> {
    pub fn handle(&mut self, approve: bool, bump: u8) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let proposal = &mut self.proposal;
        require!(
            proposal.state == ProposalState::Voting,
            DaoError::InvalidProposalState
        );
        require!(now < proposal.voting_end, DaoError::VotingEnded);
        let weight = Ballot {
            wallet: &self.wallet.to_account_info(),
            voter: &mut self.voter,
            vote_record: &self.vote_record.to_account_info(),
            system_program: &self.system_program.to_account_info(),
        }
        .cast(
            proposal.key(),
            0,
            VoteChoice::Proposal { approve },
            proposal.voting_end,
            bump,
        )?;
        if approve {
            proposal.votes_for = proposal
                .votes_for
                .checked_add(weight)
                .ok_or(DaoError::Overflow)?;
        } else {
            proposal.votes_against = proposal
                .votes_against
                .checked_add(weight)
                .ok_or(DaoError::Overflow)?;
        }
        Ok(())
    }
}

#[derive(Accounts)]
pub struct ExecuteProposal<'info> {
    #[account(mut, seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(mut, seeds = [seeds::PROPOSAL, proposal.id.to_le_bytes().as_ref()], bump = proposal.bump)]
    pub proposal: Box<Account<'info, Proposal>>,
    /// CHECK: this program's governance PDA; signs the parameter update.
    #[account(seeds = [seeds::GOVERNANCE_AUTHORITY], bump = config.governance_bump)]
    pub governance_authority: UncheckedAccount<'info>,
    /// CHECK: the target program's config PDA, checked against the proposal's target.
    /// Not marked `mut` here so that a DAO-params proposal may pass the DAO config itself;
    /// the transaction still marks it writable for the CPI.
    pub target_config: UncheckedAccount<'info>,
    /// CHECK: the target program, checked against the proposal's target.
    pub target_program: UncheckedAccount<'info>,
}

impl ExecuteProposal<'_> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;
        let proposal = &self.proposal;
        require!(
            proposal.state == ProposalState::Voting,
            DaoError::InvalidProposalState
        );
        require!(now >= proposal.voting_end, DaoError::VotingNotEnded);
        require!(proposal.passed(), DaoError::ProposalRejected);
        let executable_at = proposal
            .voting_end
            .checked_add(params.timelock_secs)
            .ok_or(DaoError::Overflow)?;
        require!(now >= executable_at, DaoError::TimelockActive);
        let expires_at = executable_at
            .checked_add(params.execution_window_secs)
            .ok_or(DaoError::Overflow)?;
        require!(now < expires_at, DaoError::ProposalExpired);

        let change = proposal.change;
        let bump = [self.config.governance_bump];
        let signer: &[&[&[u8]]] = &[&[seeds::GOVERNANCE_AUTHORITY, &bump]];
        let authority = self.governance_authority.to_account_info();
        let config = self.target_config.to_account_info();
        match change {
            ParamChange::Escrow(p) => {
                self.check_target(job_escrow::ID, seeds::ESCROW_CONFIG)?;
                job_escrow::cpi::update_params(
                    CpiContext::new_with_signer(
                        job_escrow::ID,
                        job_escrow::cpi::accounts::UpdateConfig { authority, config },
                        signer,
                    ),
                    p,
                )?;
            }
            ParamChange::Registry(p) => {
                self.check_target(node_registry::ID, seeds::REGISTRY_CONFIG)?;
                node_registry::cpi::update_params(
                    CpiContext::new_with_signer(
                        node_registry::ID,
                        node_registry::cpi::accounts::UpdateConfig { authority, config },
                        signer,
                    ),
                    p,
                )?;
            }
            ParamChange::Reputation(p) => {
                self.check_target(reputation_manager::ID, seeds::REPUTATION_CONFIG)?;
                reputation_manager::cpi::update_params(
                    CpiContext::new_with_signer(
                        reputation_manager::ID,
                        reputation_manager::cpi::accounts::UpdateConfig { authority, config },
                        signer,
                    ),
                    p,
                )?;
            }
            ParamChange::Dao(p) => {
                p.validate()?;
                self.config.params = p;
            }
        }
        let proposal = &mut self.proposal;
        proposal.state = ProposalState::Executed;
        proposal.executed_at = now;
        emit_event!(ProposalExecuted {
            id: proposal.id,
            change
        });
        Ok(())
    }

    fn check_target(&self, program: Pubkey, config_seed: &[u8]) -> Result<()> {
        let (expected, _) = Pubkey::find_program_address(&[config_seed], &program);
        require_keys_eq!(self.target_program.key(), program, DaoError::WrongTarget);
        require_keys_eq!(self.target_config.key(), expected, DaoError::WrongTarget);
        Ok(())
    }
}

#[derive(Accounts)]
pub struct CloseProposalVote<'info> {
    #[account(mut)]
    pub wallet: Signer<'info>,
    #[account(seeds = [seeds::PROPOSAL, proposal.id.to_le_bytes().as_ref()], bump = proposal.bump)]
    pub proposal: Box<Account<'info, Proposal>>,
    #[account(
        mut,
        close = wallet,
        seeds = [seeds::VOTE, proposal.key().as_ref(), &[0], wallet.key().as_ref()],
        bump = vote_record.bump,
    )]
    pub vote_record: Account<'info, VoteRecord>,
}

impl CloseProposalVote<'_> {
    /// Allowed once voting has ended: the record is no longer needed.
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        require!(now >= self.proposal.voting_end, DaoError::VotingNotEnded);
        Ok(())
    }
}
