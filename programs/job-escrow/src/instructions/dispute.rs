//! Dispute hooks for the Dispute/DAO program, both signed by its `dispute-authority` PDA:
//! `freeze_for_dispute` stops every settlement path while a dispute is open, and
//! `resolve_dispute` settles the frozen escrow by the verdict.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};
use node_registry::JobOutcome;

use super::shared::*;
use crate::{
    error::EscrowError,
    events::{DisputeSettled, EscrowFrozen},
    state::{DisputeResolution, Escrow, EscrowConfig, EscrowState, Settlement},
};

#[derive(Accounts)]
pub struct FreezeForDispute<'info> {
    #[account(address = config.dispute_authority @ EscrowError::NotDisputeAuthority)]
    pub dispute_authority: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(mut, seeds = [seeds::ESCROW, escrow.job_id.as_ref()], bump = escrow.bump)]
    pub escrow: Account<'info, Escrow>,
}

impl FreezeForDispute<'_> {
    /// A job in progress, or a completed job within its challenge window (fraud found
    /// after payment: the node's stake is still locked). Before acceptance the user can
    /// cancel; other settled escrows have nothing left to decide.
    pub fn handle(&mut self) -> Result<()> {
        let escrow = &mut self.escrow;
        if escrow.state == EscrowState::Completed {
            escrow.check_challengeable(Clock::get()?.unix_timestamp)?;
            escrow.challenged = true;
        } else {
            require!(
                escrow.state == EscrowState::InProgress,
                EscrowError::InvalidState
            );
        }
        escrow.state = EscrowState::Disputed;
        emit_event!(EscrowFrozen {
            job_id: escrow.job_id
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct ResolveDispute<'info> {
    /// Checked against `treasury.config` in the handler (the config lives in `treasury`).
    pub dispute_authority: Signer<'info>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        constraint = registry.node.owner == escrow.node @ EscrowError::WrongNode,
    )]
    pub escrow: Account<'info, Escrow>,
    #[account(mut, seeds = [seeds::ESCROW_VAULT, escrow.key().as_ref()], bump = escrow.vault_bump)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = escrow.mint @ EscrowError::WrongMint)]
    pub mint: InterfaceAccount<'info, Mint>,
    #[account(mut)]
    pub user_token: InterfaceAccount<'info, TokenAccount>,
    #[account(mut)]
    pub node_token: InterfaceAccount<'info, TokenAccount>,
    pub treasury: Treasury<'info>,
    pub registry: RegistryHooks<'info>,
    pub reputation: ReputationView<'info>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl ResolveDispute<'_> {
    pub fn handle(&mut self, resolution: DisputeResolution) -> Result<()> {
        let config: &EscrowConfig = &self.treasury.config;
        require_keys_eq!(
            self.dispute_authority.key(),
            config.dispute_authority,
            EscrowError::NotDisputeAuthority
        );
        let now = Clock::get()?.unix_timestamp;
        let escrow = &self.escrow;
        require!(
            escrow.state == EscrowState::Disputed,
            EscrowError::InvalidState
        );
        check_token_account(&self.user_token, &escrow.mint, &escrow.user)?;
        check_token_account(&self.node_token, &escrow.mint, &escrow.node)?;

        let params = config.params;
        let authority_bump = config.authority_bump;
        let nothing = Settlement {
            to_user: 0,
            to_node: 0,
            fee: 0,
        };
        let (settlement, outcome, state): (Settlement, JobOutcome, EscrowState) = match resolution {
            // A paid job disputed in its challenge window: the vault is empty. Fraud: the
            // node's stake repays the user (Dispute/DAO's `slash_for_dispute`); otherwise
            // the payment stands. Either way the job's stake hold ends now.
            DisputeResolution::UserFavor if escrow.challenged => {
                (nothing, JobOutcome::DisputeLost, EscrowState::Refunded)
            }
            DisputeResolution::NodeFavor | DisputeResolution::NoDecision if escrow.challenged => {
                (nothing, JobOutcome::Completed, EscrowState::Completed)
            }
            DisputeResolution::UserFavor => (
                Settlement {
                    to_user: escrow.amount,
                    to_node: 0,
                    fee: 0,
                },
                JobOutcome::DisputeLost,
                EscrowState::Refunded,
            ),
            DisputeResolution::NodeFavor => {
                let fee_bps = self.reputation.fee_bps(&escrow.node, &params)?;
                (
                    escrow.settle_completed(fee_bps)?,
                    JobOutcome::Completed,
                    EscrowState::Completed,
                )
            }
            DisputeResolution::NoDecision => (
                escrow.settle_by_progress()?,
                JobOutcome::StoppedByUser,
                EscrowState::Refunded,
            ),
        };
        let parts = params.fee_split.split(settlement.fee)?;
        let payer = VaultPayer {
            escrow: &self.escrow,
            vault: &self.vault,
            mint: &self.mint,
            token_program: &self.token_program,
        };
        payer.pay(&self.user_token, settlement.to_user)?;
        payer.pay(&self.node_token, settlement.to_node)?;
        payer.pay_fee(&self.treasury, parts)?;
        self.registry.record_outcome(
            &self.mint,
            &self.token_program,
            self.escrow.amount,
            outcome,
            authority_bump,
        )?;

        let escrow = &mut self.escrow;
        escrow.finish(state, now);
        // NodeRegistry was told the job ended; a paid job is not challengeable again
        // (its dispute account exists).
        escrow.stake_released = true;
        emit_event!(DisputeSettled {
            job_id: escrow.job_id,
            resolution,
            to_user: settlement.to_user,
            to_node: settlement.to_node,
            platform_fee: settlement.fee,
        });
        Ok(())
    }
}
