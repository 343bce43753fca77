//! `cancel`: the user withdraws a job before any node accepted it. The cancellation fee
//! (spec: 10 %, non-refundable, against cancel spam) goes to the assigned node if one had
//! reserved capacity for the job, otherwise to the platform treasury.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use super::shared::*;
use crate::{
    error::EscrowError,
    events::EscrowCancelled,
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
pub struct Cancel<'info> {
    pub user: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        has_one = user @ EscrowError::NotJobUser,
    )]
    pub escrow: Account<'info, Escrow>,
    #[account(mut, seeds = [seeds::ESCROW_VAULT, escrow.key().as_ref()], bump = escrow.vault_bump)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = escrow.mint @ EscrowError::WrongMint)]
    pub mint: InterfaceAccount<'info, Mint>,
    #[account(mut)]
    pub user_token: InterfaceAccount<'info, TokenAccount>,
    /// Required when a node is assigned: receives the cancellation fee.
    #[account(mut)]
    pub node_token: Option<InterfaceAccount<'info, TokenAccount>>,
    pub treasury: Treasury<'info>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl Cancel<'_> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let escrow = &self.escrow;
        require!(
            matches!(escrow.state, EscrowState::Locked | EscrowState::Assigned),
            EscrowError::InvalidState
        );
        check_token_account(&self.user_token, &escrow.mint, &escrow.user)?;
        let settlement = escrow.settle_cancelled(self.config.params.cancel_fee_bps)?;
        let fee_to_node = escrow.state == EscrowState::Assigned;
        let payer = VaultPayer {
            escrow: &self.escrow,
            vault: &self.vault,
            mint: &self.mint,
            token_program: &self.token_program,
        };
        payer.pay(&self.user_token, settlement.to_user)?;
        if fee_to_node {
            let node_token = self
                .node_token
                .as_ref()
                .ok_or(EscrowError::NodeTokenRequired)?;
            check_token_account(node_token, &self.escrow.mint, &self.escrow.node)?;
            payer.pay(node_token, settlement.fee)?;
        } else {
            let parts = self.config.params.fee_split.split(settlement.fee)?;
            payer.pay_fee(&self.treasury, parts)?;
        }
        let escrow = &mut self.escrow;
        escrow.finish(EscrowState::Cancelled, now);
        emit_event!(EscrowCancelled {
            job_id: escrow.job_id,
            refund_amount: settlement.to_user,
            fee: settlement.fee,
            fee_to_node,
        });
        Ok(())
    }
}
