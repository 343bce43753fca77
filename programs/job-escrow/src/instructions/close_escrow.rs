//! `close_escrow`: once an escrow is finished (a completed one with its stake released)
//! and its grace period (ratings, disputes) has passed, anyone may close it; the vault's and the escrow's rent go back to the
//! user, who paid them.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{self, CloseAccount, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::EscrowError,
    events::EscrowClosed,
    state::{Escrow, EscrowConfig},
};

#[derive(Accounts)]
pub struct CloseEscrow<'info> {
    pub caller: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        has_one = user @ EscrowError::NotJobUser,
        close = user,
    )]
    pub escrow: Account<'info, Escrow>,
    #[account(mut, seeds = [seeds::ESCROW_VAULT, escrow.key().as_ref()], bump = escrow.vault_bump)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    /// CHECK: must equal `escrow.user` (checked by `has_one`); receives the rent.
    #[account(mut)]
    pub user: UncheckedAccount<'info>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl CloseEscrow<'_> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let escrow = &self.escrow;
        escrow.check_closable(now, self.config.params.close_grace_secs)?;
        // Terminal settlement always empties the vault; a non-empty vault would mean
        // someone sent tokens to it afterwards, and closing would fail in the token program.
        let bump = [escrow.bump];
        let signer: &[&[&[u8]]] = &[&[seeds::ESCROW, &escrow.job_id, &bump]];
        token_interface::close_account(CpiContext::new_with_signer(
            self.token_program.key(),
            CloseAccount {
                account: self.vault.to_account_info(),
                destination: self.user.to_account_info(),
                authority: self.escrow.to_account_info(),
            },
            signer,
        ))?;
        emit_event!(EscrowClosed {
            job_id: self.escrow.job_id,
            rent_to: self.user.key()
        });
        Ok(())
    }
}
