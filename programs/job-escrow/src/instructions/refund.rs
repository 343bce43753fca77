//! `refund`: a job in progress is stopped and settled by anchored progress: the node is
//! paid `epochs_done / epochs_required` of the amount, the user gets the rest. The user
//! (stopping the job), the node (abandoning it) or the coordinator (node offline) may
//! call it; a stop by the node or the coordinator counts as a node failure.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};
use node_registry::JobOutcome;

use super::shared::*;
use crate::{
    error::EscrowError,
    events::{EscrowRefunded, RefundReason},
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
pub struct Refund<'info> {
    pub caller: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
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
    pub registry: RegistryHooks<'info>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl Refund<'_> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let escrow = &self.escrow;
        require!(
            escrow.state == EscrowState::InProgress,
            EscrowError::InvalidState
        );
        let caller = self.caller.key();
        let (reason, outcome) = if caller == escrow.user {
            (RefundReason::UserStopped, JobOutcome::StoppedByUser)
        } else if caller == escrow.node {
            (RefundReason::NodeAbandoned, JobOutcome::Failed)
        } else if caller == self.config.coordinator {
            (RefundReason::NodeOffline, JobOutcome::Failed)
        } else {
            return err!(EscrowError::NotRefundParty);
        };
        check_token_account(&self.user_token, &escrow.mint, &escrow.user)?;
        check_token_account(&self.node_token, &escrow.mint, &escrow.node)?;

        let settlement = escrow.settle_by_progress()?;
        let payer = VaultPayer {
            escrow: &self.escrow,
            vault: &self.vault,
            mint: &self.mint,
            token_program: &self.token_program,
        };
        payer.pay(&self.user_token, settlement.to_user)?;
        payer.pay(&self.node_token, settlement.to_node)?;
        self.registry.record_outcome(
            &self.mint,
            &self.token_program,
            self.escrow.amount,
            outcome,
            self.config.authority_bump,
        )?;

        let escrow = &mut self.escrow;
        escrow.finish(EscrowState::Refunded, now);
        emit_event!(EscrowRefunded {
            job_id: escrow.job_id,
            reason,
            refund_amount: settlement.to_user,
            node_amount: settlement.to_node,
            epochs_done: escrow.epochs_done,
        });
        Ok(())
    }
}
