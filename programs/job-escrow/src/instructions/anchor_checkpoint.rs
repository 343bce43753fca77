//! `anchor_checkpoint`: the node records its progress (epochs done and the Merkle root of
//! its checkpoint hashes) on-chain. Refunds are computed from this, not from a number
//! anyone asserts later. Not blocked by the pause: progress protects the node's pay.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::EscrowError,
    events::CheckpointAnchored,
    state::{Escrow, EscrowState},
};

#[derive(Accounts)]
pub struct AnchorCheckpoint<'info> {
    pub node_owner: Signer<'info>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        constraint = escrow.node == node_owner.key() @ EscrowError::NotAssignedNode,
    )]
    pub escrow: Account<'info, Escrow>,
}

impl AnchorCheckpoint<'_> {
    pub fn handle(&mut self, epoch: u32, merkle_root: [u8; 32]) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let escrow = &mut self.escrow;
        require!(
            escrow.state == EscrowState::InProgress,
            EscrowError::InvalidState
        );
        require!(!escrow.has_timed_out(now), EscrowError::TimedOut);
        require!(
            epoch > escrow.epochs_done && epoch <= escrow.epochs_required,
            EscrowError::InvalidCheckpoint
        );
        escrow.epochs_done = epoch;
        escrow.merkle_root = merkle_root;
        escrow.last_checkpoint_at = now;
        emit_event!(CheckpointAnchored {
            job_id: escrow.job_id,
            epoch,
            epochs_required: escrow.epochs_required,
            merkle_root,
        });
        Ok(())
    }
}
