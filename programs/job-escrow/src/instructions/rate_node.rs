//! `rate_node`: the user of a completed job rates its node, 1–5 stars, once per job. The
//! escrow remembers that it was rated; the rating goes to ReputationManager by CPI signed
//! by our `escrow-authority` PDA, which is the only caller it accepts for ratings.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};
use reputation_manager::{NodeReputation, ReputationConfig, program::ReputationManager};

use crate::{
    error::EscrowError,
    events::NodeRatedByUser,
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
pub struct RateNode<'info> {
    pub user: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        constraint = escrow.user == user.key() @ EscrowError::NotJobUser,
    )]
    pub escrow: Account<'info, Escrow>,
    /// CHECK: this program's PDA; it only signs CPIs.
    #[account(seeds = [seeds::ESCROW_AUTHORITY], bump = config.authority_bump)]
    pub escrow_authority: UncheckedAccount<'info>,
    #[account(
        seeds = [seeds::REPUTATION_CONFIG],
        bump = reputation_config.bump,
        seeds::program = reputation_manager::ID,
    )]
    pub reputation_config: Account<'info, ReputationConfig>,
    #[account(
        mut,
        seeds = [seeds::NODE_REPUTATION, escrow.node.as_ref()],
        bump = node_reputation.bump,
        seeds::program = reputation_manager::ID,
    )]
    pub node_reputation: Account<'info, NodeReputation>,
    pub reputation_program: Program<'info, ReputationManager>,
}

impl RateNode<'_> {
    pub fn handle(&mut self, stars: u8) -> Result<()> {
        require!(
            self.escrow.state == EscrowState::Completed,
            EscrowError::InvalidState
        );
        require!(!self.escrow.rated, EscrowError::AlreadyRated);
        let bump = [self.config.authority_bump];
        let signer: &[&[&[u8]]] = &[&[seeds::ESCROW_AUTHORITY, &bump]];
        reputation_manager::cpi::record_rating(
            CpiContext::new_with_signer(
                reputation_manager::ID,
                reputation_manager::cpi::accounts::RecordRating {
                    escrow_authority: self.escrow_authority.to_account_info(),
                    config: self.reputation_config.to_account_info(),
                    reputation: self.node_reputation.to_account_info(),
                },
                signer,
            ),
            stars,
        )?;
        let escrow = &mut self.escrow;
        escrow.rated = true;
        emit_event!(NodeRatedByUser {
            job_id: escrow.job_id,
            node: escrow.node,
            stars
        });
        Ok(())
    }
}
