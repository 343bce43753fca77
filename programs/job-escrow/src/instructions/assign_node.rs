//! `assign_node`: the coordinator commits a node to a funded escrow. The node's standing
//! is checked here, on-chain, against NodeRegistry: registered, not banned or suspended,
//! not unstaking, recently alive, and staking at least the minimum for the job's size.
//! Its reputation tier must allow the job's size (ReputationManager).
//! A compromised coordinator therefore cannot hand a job to an unqualified node.
//!
//! [`commit_node`] holds those checks; `assign_node_by_user` (the fallback when the
//! coordinator has not assigned in time) runs exactly the same function.

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
    /// Also re-assigns an escrow whose node never accepted (the coordinator re-matches),
    /// unless the user made the assignment.
    pub fn handle(&mut self) -> Result<()> {
        require!(!self.escrow.assigned_by_user, EscrowError::AssignedByUser);
        commit_node(
            &self.config,
            &mut self.escrow,
            &self.registry_config,
            &self.node,
            &self.reputation,
            false,
        )
    }
}

/// Checks that the program runs, that the escrow is open and unaccepted and has not
/// timed out, that `node` is eligible in NodeRegistry for the job's size and that its
/// reputation tier allows that size; then assigns it and emits `NodeAssigned`.
pub fn commit_node(
    config: &EscrowConfig,
    escrow: &mut Escrow,
    registry_config: &RegistryConfig,
    node: &NodeAccount,
    reputation: &ReputationView,
    by_user: bool,
) -> Result<()> {
    require!(!config.paused, EscrowError::Paused);
    let now = Clock::get()?.unix_timestamp;
    require!(
        matches!(escrow.state, EscrowState::Locked | EscrowState::Assigned),
        EscrowError::InvalidState
    );
    require!(!escrow.has_timed_out(now), EscrowError::TimedOut);
    node.check_eligible(now, &registry_config.params, escrow.amount)?;
    reputation.check_job_size(&node.owner, escrow.amount)?;
    escrow.assign(node.owner, now, by_user);
    emit_event!(NodeAssigned {
        job_id: escrow.job_id,
        node: escrow.node
    });
    Ok(())
}
