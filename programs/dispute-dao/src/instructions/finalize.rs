//! `finalize`: executes a decided dispute once it can no longer be appealed, entirely by
//! CPI signed by the `dispute-authority` PDA:
//! - user wins: JobEscrow refunds the user in full; NodeRegistry slashes the node's stake
//!   at the fraud rate (half to the user, half to the DAO treasury) and bans it; for a job
//!   already paid (disputed in its challenge window) the slash first repays the user the
//!   job's payment (at least that much is slashed, up to the whole stake);
//!   ReputationManager takes 200 points from the node;
//! - node wins: JobEscrow pays the node as on completion (platform fee included);
//!   ReputationManager gives the node 5 points and takes 10 from the user;
//! - no decision: JobEscrow settles by anchored progress; nobody is penalised.
//!
//! An appeal deposit is returned if the appeal overturned the verdict, else forfeited to
//! the treasury.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};
use job_escrow::{DisputeResolution, program::JobEscrow};
use node_registry::program::NodeRegistry;
use reputation_manager::{VerdictEffect, program::ReputationManager};

use super::pay_from_vault;
use crate::{
    error::DaoError,
    events::DisputeExecuted,
    state::{DaoConfig, Dispute, DisputeState, Verdict},
};

#[derive(Accounts)]
pub struct Finalize<'info> {
    #[account(seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(mut, seeds = [seeds::DISPUTE, dispute.job_id.as_ref()], bump = dispute.bump)]
    pub dispute: Box<Account<'info, Dispute>>,
    /// CHECK: this program's verdict PDA; signs every CPI below.
    #[account(seeds = [seeds::DISPUTE_AUTHORITY], bump = config.dispute_authority_bump)]
    pub dispute_authority: UncheckedAccount<'info>,
    // ── JobEscrow settlement (validated by JobEscrow) ──
    /// CHECK: must be the disputed escrow; JobEscrow checks the rest.
    #[account(mut, address = dispute.escrow @ DaoError::WrongAccount)]
    pub escrow: UncheckedAccount<'info>,
    /// CHECK: JobEscrow checks it is the escrow's vault.
    #[account(mut)]
    pub vault: UncheckedAccount<'info>,
    #[account(mut, address = config.mint @ DaoError::WrongMint)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    #[account(
        mut,
        constraint = user_token.owner == dispute.user @ DaoError::WrongTokenOwner,
        constraint = user_token.mint == config.mint @ DaoError::WrongMint,
    )]
    pub user_token: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(
        mut,
        constraint = node_token.owner == dispute.node @ DaoError::WrongTokenOwner,
        constraint = node_token.mint == config.mint @ DaoError::WrongMint,
    )]
    pub node_token: Box<InterfaceAccount<'info, TokenAccount>>,
    /// CHECK: JobEscrow checks it against its config.
    #[account(mut)]
    pub staking_treasury: UncheckedAccount<'info>,
    /// CHECK: JobEscrow checks it against its config.
    #[account(mut)]
    pub development_treasury: UncheckedAccount<'info>,
    /// CHECK: JobEscrow checks it against its config.
    #[account(mut)]
    pub liquidity_treasury: UncheckedAccount<'info>,
    /// CHECK: JobEscrow checks its address.
    pub escrow_config: UncheckedAccount<'info>,
    /// CHECK: JobEscrow checks its address.
    pub escrow_authority: UncheckedAccount<'info>,
    // ── NodeRegistry (validated by NodeRegistry) ──
    /// CHECK: NodeRegistry checks its address.
    #[account(mut)]
    pub registry_config: UncheckedAccount<'info>,
    /// CHECK: NodeRegistry checks it is the escrow's node.
    #[account(mut)]
    pub node: UncheckedAccount<'info>,
    /// CHECK: NodeRegistry checks it against its config.
    #[account(mut)]
    pub stake_vault: UncheckedAccount<'info>,
    /// CHECK: NodeRegistry checks it against its config.
    #[account(mut)]
    pub insurance_vault: UncheckedAccount<'info>,
    // ── ReputationManager (validated by ReputationManager) ──
    /// CHECK: ReputationManager checks its address.
    pub reputation_config: UncheckedAccount<'info>,
    /// CHECK: ReputationManager checks its address; JobEscrow checks its owner.
    #[account(mut)]
    pub node_reputation: UncheckedAccount<'info>,
    /// CHECK: ReputationManager checks its address.
    #[account(mut)]
    pub user_reputation: UncheckedAccount<'info>,
    // ── DAO vaults ──
    #[account(mut, address = config.treasury @ DaoError::WrongAccount)]
    pub dao_treasury: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(mut, address = config.appeal_vault @ DaoError::WrongAccount)]
    pub appeal_vault: Box<InterfaceAccount<'info, TokenAccount>>,
    pub token_program: Interface<'info, TokenInterface>,
    pub escrow_program: Program<'info, JobEscrow>,
    pub registry_program: Program<'info, NodeRegistry>,
    pub reputation_program: Program<'info, ReputationManager>,
}

impl<'info> Finalize<'info> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        require!(
            self.dispute.state == DisputeState::Decided,
            DaoError::InvalidDisputeState
        );
        require!(
            now >= self.dispute.appeal_deadline,
            DaoError::AppealWindowOpen
        );
        // The user-reputation account must be the dispute user's (ReputationManager checks
        // the PDA, not which wallet it is for).
        let (expected_user_rep, _) = Pubkey::find_program_address(
            &[seeds::USER_REPUTATION, self.dispute.user.as_ref()],
            &reputation_manager::ID,
        );
        require_keys_eq!(
            self.user_reputation.key(),
            expected_user_rep,
            DaoError::WrongAccount
        );

        let verdict = self.dispute.verdict;
        let resolution = match verdict {
            Verdict::UserFavor => DisputeResolution::UserFavor,
            Verdict::NodeFavor => DisputeResolution::NodeFavor,
            Verdict::NoDecision => DisputeResolution::NoDecision,
        };
        self.resolve_escrow(resolution)?;
        match verdict {
            Verdict::UserFavor => {
                self.slash_node()?;
                self.apply_reputation(VerdictEffect::NodeLost)?;
            }
            Verdict::NodeFavor => self.apply_reputation(VerdictEffect::NodeWon)?,
            Verdict::NoDecision => {}
        }
        let returned = self.settle_appeal_deposit()?;

        let dispute = &mut self.dispute;
        dispute.state = DisputeState::Executed;
        dispute.executed_at = now;
        emit_event!(DisputeExecuted {
            job_id: dispute.job_id,
            verdict,
            appeal_deposit_returned: returned,
        });
        Ok(())
    }

    fn signer_seeds(&self) -> [u8; 1] {
        [self.config.dispute_authority_bump]
    }

    fn resolve_escrow(&self, resolution: DisputeResolution) -> Result<()> {
        let bump = self.signer_seeds();
        let signer: &[&[&[u8]]] = &[&[seeds::DISPUTE_AUTHORITY, &bump]];
        use job_escrow::cpi::accounts as ea;
        job_escrow::cpi::resolve_dispute(
            CpiContext::new_with_signer(
                job_escrow::ID,
                ea::ResolveDispute {
                    dispute_authority: self.dispute_authority.to_account_info(),
                    escrow: self.escrow.to_account_info(),
                    vault: self.vault.to_account_info(),
                    mint: self.mint.to_account_info(),
                    user_token: self.user_token.to_account_info(),
                    node_token: self.node_token.to_account_info(),
                    treasury: ea::Treasury {
                        staking: self.staking_treasury.to_account_info(),
                        development: self.development_treasury.to_account_info(),
                        liquidity: self.liquidity_treasury.to_account_info(),
                        config: self.escrow_config.to_account_info(),
                    },
                    registry: ea::RegistryHooks {
                        escrow_authority: self.escrow_authority.to_account_info(),
                        registry_config: self.registry_config.to_account_info(),
                        node: self.node.to_account_info(),
                        stake_vault: self.stake_vault.to_account_info(),
                        insurance_vault: self.insurance_vault.to_account_info(),
                        registry_program: self.registry_program.to_account_info(),
                    },
                    reputation: ea::ReputationView {
                        reputation_config: self.reputation_config.to_account_info(),
                        node_reputation: self.node_reputation.to_account_info(),
                    },
                    token_program: self.token_program.to_account_info(),
                },
                signer,
            ),
            resolution,
        )
    }

    fn slash_node(&self) -> Result<()> {
        let bump = self.signer_seeds();
        let signer: &[&[&[u8]]] = &[&[seeds::DISPUTE_AUTHORITY, &bump]];
        node_registry::cpi::slash_for_dispute(
            CpiContext::new_with_signer(
                node_registry::ID,
                node_registry::cpi::accounts::SlashForDispute {
                    dispute_authority: self.dispute_authority.to_account_info(),
                    config: self.registry_config.to_account_info(),
                    node: self.node.to_account_info(),
                    stake_vault: self.stake_vault.to_account_info(),
                    stake_mint: self.mint.to_account_info(),
                    user_token: self.user_token.to_account_info(),
                    dao_treasury: self.dao_treasury.to_account_info(),
                    token_program: self.token_program.to_account_info(),
                },
                signer,
            ),
            self.config.params.slash_to_user_bps,
            self.dispute.repay_from_stake,
        )
    }

    fn apply_reputation(&self, effect: VerdictEffect) -> Result<()> {
        let bump = self.signer_seeds();
        let signer: &[&[&[u8]]] = &[&[seeds::DISPUTE_AUTHORITY, &bump]];
        reputation_manager::cpi::apply_verdict(
            CpiContext::new_with_signer(
                reputation_manager::ID,
                reputation_manager::cpi::accounts::ApplyVerdict {
                    dispute_authority: self.dispute_authority.to_account_info(),
                    config: self.reputation_config.to_account_info(),
                    node_reputation: self.node_reputation.to_account_info(),
                    user_reputation: self.user_reputation.to_account_info(),
                },
                signer,
            ),
            effect,
        )
    }

    /// Returns true if the deposit went back to the appellant.
    fn settle_appeal_deposit(&self) -> Result<bool> {
        let dispute = &self.dispute;
        if dispute.appeal_deposit == 0 {
            return Ok(false);
        }
        let overturned = dispute.verdict != dispute.appealed_verdict;
        let to = if !overturned {
            self.dao_treasury.to_account_info()
        } else if dispute.appellant == dispute.user {
            self.user_token.to_account_info()
        } else {
            self.node_token.to_account_info()
        };
        pay_from_vault(
            &self.config,
            self.token_program.to_account_info(),
            self.appeal_vault.to_account_info(),
            self.mint.to_account_info(),
            to,
            dispute.appeal_deposit,
            self.mint.decimals,
        )?;
        Ok(overturned)
    }
}
