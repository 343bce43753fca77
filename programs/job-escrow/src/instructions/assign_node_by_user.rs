//! `assign_node_by_user`: the fallback when the coordinator is unreachable. Once an
//! escrow has waited `params.user_assign_after_secs` since creation without any
//! assignment, its user may commit a node found by other means (the mesh's DHT). The node
//! must pass exactly the checks `assign_node` makes ([`commit_node`]); the coordinator can
//! no longer re-match the escrow afterwards.

use anchor_lang::prelude::*;
use cyxwiz_common::seeds;
use node_registry::{NodeAccount, RegistryConfig};

use super::{assign_node::commit_node, shared::*};
use crate::{
    error::EscrowError,
    state::{Escrow, EscrowConfig},
};

#[derive(Accounts)]
pub struct AssignNodeByUser<'info> {
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

impl AssignNodeByUser<'_> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        self.escrow
            .check_user_may_assign(now, self.config.params.user_assign_after_secs)?;
        commit_node(
            &self.config,
            &mut self.escrow,
            &self.registry_config,
            &self.node,
            &self.reputation,
            true,
        )
    }
}
