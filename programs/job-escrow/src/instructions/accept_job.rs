//! `accept_job`: the assigned node takes the job; NodeRegistry re-checks it and extends
//! its stake lock (CPI signed by our `escrow-authority` PDA).

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};
use node_registry::{NodeAccount, RegistryConfig, program::NodeRegistry};

use super::shared::*;
use crate::{
    error::EscrowError,
    events::JobAccepted,
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
pub struct AcceptJob<'info> {
    pub node_owner: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        constraint = escrow.node == node_owner.key() @ EscrowError::NotAssignedNode,
    )]
    pub escrow: Account<'info, Escrow>,
    /// CHECK: this program's PDA; it only signs CPIs into NodeRegistry.
    #[account(seeds = [seeds::ESCROW_AUTHORITY], bump = config.authority_bump)]
    pub escrow_authority: UncheckedAccount<'info>,
    #[account(
        seeds = [seeds::REGISTRY_CONFIG],
        bump = registry_config.bump,
        seeds::program = node_registry::ID,
    )]
    pub registry_config: Account<'info, RegistryConfig>,
    #[account(
        mut,
        seeds = [seeds::NODE, node_owner.key().as_ref()],
        bump = node.bump,
        seeds::program = node_registry::ID,
    )]
    pub node: Account<'info, NodeAccount>,
    pub registry_program: Program<'info, NodeRegistry>,
    pub reputation: ReputationView<'info>,
}

impl AcceptJob<'_> {
    pub fn handle(&mut self) -> Result<()> {
        require!(!self.config.paused, EscrowError::Paused);
        let now = Clock::get()?.unix_timestamp;
        require!(
            self.escrow.state == EscrowState::Assigned,
            EscrowError::InvalidState
        );
        require!(!self.escrow.has_timed_out(now), EscrowError::TimedOut);
        // The tier may have dropped since assignment.
        self.reputation
            .check_job_size(&self.escrow.node, self.escrow.amount)?;

        let bump = [self.config.authority_bump];
        let signer: &[&[&[u8]]] = &[&[seeds::ESCROW_AUTHORITY, &bump]];
        node_registry::cpi::lock_for_job(
            CpiContext::new_with_signer(
                node_registry::ID,
                node_registry::cpi::accounts::LockForJob {
                    escrow_authority: self.escrow_authority.to_account_info(),
                    config: self.registry_config.to_account_info(),
                    node: self.node.to_account_info(),
                },
                signer,
            ),
            self.escrow.amount,
        )?;

        let escrow = &mut self.escrow;
        escrow.state = EscrowState::InProgress;
        escrow.accepted_at = now;
        emit_event!(JobAccepted {
            job_id: escrow.job_id,
            node: escrow.node
        });
        Ok(())
    }
}
