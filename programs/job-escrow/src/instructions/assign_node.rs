//! `assign_node`: the coordinator commits a node to a funded escrow. The node's standing
//! is checked here, on-chain, against NodeRegistry: registered, not banned or suspended,
//! not unstaking, recently alive, and staking at least the minimum for the job's size.
//! Its reputation tier must allow the job's size (ReputationManager).
//! A compromised coordinator therefore cannot hand a job to an unqualified node.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};
use node_registry::{NodeAccount, RegistryConfig};

use super::shared::*;
use crate::{
    error::EscrowError,
    events::NodeAssigned,
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
pub struct AssignNode<'info> {
    #[account(address = config.coordinator @ EscrowError::NotCoordinator)]
    pub coordinator: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(mut, seeds = [seeds::ESCROW, escrow.job_id.as_ref()], bump = escrow.bump)]
    pub escrow: Account<'info, Escrow>,
    #[account(
        seeds = [seeds::REGISTRY_CONFIG],
        bump = registry_config.bump,
        seeds::program = node_registry::ID,
    )]
    pub registry_config: Account<'info, RegistryConfig>,
    #[account(
        seeds = [seeds::NODE, node.owner.as_ref()],
        bump = node.bump,
        seeds::program = node_registry::ID,
    )]
    pub node: Account<'info, NodeAccount>,
    pub reputation: ReputationView<'info>,
}

impl AssignNode<'_> {
    /// Also re-assigns an escrow whose node never accepted (the coordinator re-matches).
    pub fn handle(&mut self) -> Result<()> {
        require!(!self.config.paused, EscrowError::Paused);
        let now = Clock::get()?.unix_timestamp;
        let escrow = &mut self.escrow;
        require!(
            matches!(escrow.state, EscrowState::Locked | EscrowState::Assigned),
            EscrowError::InvalidState
        );
        require!(!escrow.has_timed_out(now), EscrowError::TimedOut);
        self.node
            .check_eligible(now, &self.registry_config.params, escrow.amount)?;
        self.reputation
            .check_job_size(&self.node.owner, escrow.amount)?;
        escrow.node = self.node.owner;
        escrow.state = EscrowState::Assigned;
        escrow.assigned_at = now;
        emit_event!(NodeAssigned {
            job_id: escrow.job_id,
            node: escrow.node
        });
        Ok(())
    }
}
