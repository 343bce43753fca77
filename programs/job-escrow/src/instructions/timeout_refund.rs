//! `timeout_refund`: after the escrow's timeout anyone may return the full amount to the
//! user, so funds are never stuck if the node or the coordinator disappears. If a node
//! had accepted the job, NodeRegistry records the timeout and slashes its stake.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};
use node_registry::JobOutcome;

use super::shared::*;
use crate::{
    error::EscrowError,
    events::TimeoutRefunded,
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
pub struct TimeoutRefund<'info> {
    pub caller: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(mut, seeds = [seeds::ESCROW, escrow.job_id.as_ref()], bump = escrow.bump)]
    pub escrow: Account<'info, Escrow>,
    #[account(mut, seeds = [seeds::ESCROW_VAULT, escrow.key().as_ref()], bump = escrow.vault_bump)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = escrow.mint @ EscrowError::WrongMint)]
    pub mint: InterfaceAccount<'info, Mint>,
    #[account(mut)]
    pub user_token: InterfaceAccount<'info, TokenAccount>,
    pub token_program: Interface<'info, TokenInterface>,
}

/// `timeout_refund_with_slash`: the same for an escrow a node had accepted; NodeRegistry
/// records the timeout and slashes the node.
#[derive(Accounts)]
pub struct TimeoutRefundWithSlash<'info> {
    pub refund: TimeoutRefund<'info>,
    pub registry: RegistryHooks<'info>,
}

impl TimeoutRefundWithSlash<'_> {
    pub fn handle(&mut self) -> Result<()> {
        require!(
            self.refund.escrow.state == EscrowState::InProgress,
            EscrowError::InvalidState
        );
        require_keys_eq!(
            self.registry.node.owner,
            self.refund.escrow.node,
            EscrowError::WrongNode
        );
        self.refund.settle()?;
        self.registry.record_outcome(
            &self.refund.mint,
            &self.refund.token_program,
            self.refund.escrow.amount,
            JobOutcome::TimedOut,
            self.refund.config.authority_bump,
        )?;
        emit_event!(TimeoutRefunded {
            job_id: self.refund.escrow.job_id,
            amount: self.refund.escrow.amount,
            node_slashed: true
        });
        Ok(())
    }
}

impl TimeoutRefund<'_> {
    /// For an escrow no node accepted (Locked or Assigned).
    pub fn handle(&mut self) -> Result<()> {
        require!(
            matches!(
                self.escrow.state,
                EscrowState::Locked | EscrowState::Assigned
            ),
            EscrowError::InvalidState
        );
        self.settle()?;
        emit_event!(TimeoutRefunded {
            job_id: self.escrow.job_id,
            amount: self.escrow.amount,
            node_slashed: false
        });
        Ok(())
    }

    /// Checks the timeout, refunds everything to the user and finishes the escrow.
    fn settle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let escrow = &self.escrow;
        require!(escrow.has_timed_out(now), EscrowError::TimeoutNotReached);
        check_token_account(&self.user_token, &escrow.mint, &escrow.user)?;
        VaultPayer {
            escrow: &self.escrow,
            vault: &self.vault,
            mint: &self.mint,
            token_program: &self.token_program,
        }
        .pay(&self.user_token, self.escrow.amount)?;
        self.escrow.finish(EscrowState::TimedOut, now);
        Ok(())
    }
}
