//! `freeze_for_dispute`: the Dispute/DAO program freezes an escrow while a dispute is
//! open; no settlement path accepts a `Disputed` escrow, so funds stay in the vault until
//! the verdict is executed.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::EscrowError,
    events::EscrowFrozen,
    state::{Escrow, EscrowConfig, EscrowState},
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
    pub fn handle(&mut self) -> Result<()> {
        let escrow = &mut self.escrow;
        require!(
            escrow.state == EscrowState::InProgress,
            EscrowError::InvalidState
        );
        escrow.state = EscrowState::Disputed;
        emit_event!(EscrowFrozen {
            job_id: escrow.job_id
        });
        Ok(())
    }
}
