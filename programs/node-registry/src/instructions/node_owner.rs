//! Operator actions that touch only the node account: heartbeat, capabilities,
//! requesting and cancelling an unstake.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::UnstakeRequested,
    state::{Capabilities, NodeAccount, NodeStatus, RegistryConfig},
};

#[derive(Accounts)]
pub struct NodeOwnerAction<'info> {
    pub owner: Signer<'info>,
    #[account(seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    #[account(
        mut,
        seeds = [seeds::NODE, owner.key().as_ref()],
        bump = node.bump,
        has_one = owner @ RegistryError::NotNodeOwner,
    )]
    pub node: Account<'info, NodeAccount>,
}

impl NodeOwnerAction<'_> {
    pub fn heartbeat(&mut self) -> Result<()> {
        require!(
            self.node.status != NodeStatus::Banned,
            RegistryError::NodeBanned
        );
        self.node.last_heartbeat = Clock::get()?.unix_timestamp;
        Ok(())
    }

    pub fn update_capabilities(&mut self, capabilities: Capabilities) -> Result<()> {
        require!(
            self.node.status != NodeStatus::Banned,
            RegistryError::NodeBanned
        );
        self.node.capabilities = capabilities;
        Ok(())
    }

    /// Starts the cooldown. Allowed once the lock has expired, with no active job, and
    /// (for a suspended node) once the suspension is over; a banned node may always
    /// recover what is left of its stake this way.
    pub fn request_unstake(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let node = &mut self.node;
        require!(!node.is_unstaking(), RegistryError::NodeUnstaking);
        require!(node.active_jobs == 0, RegistryError::HasActiveJobs);
        require!(now >= node.locked_until, RegistryError::StakeLocked);
        if node.status == NodeStatus::Suspended {
            require!(now >= node.suspended_until, RegistryError::NodeSuspended);
        }
        node.unstake_requested_at = now;
        let withdrawable_at = now
            .checked_add(self.config.params.unstake_cooldown_secs)
            .ok_or(RegistryError::Overflow)?;
        emit_event!(UnstakeRequested {
            node: node.key(),
            withdrawable_at
        });
        Ok(())
    }

    pub fn cancel_unstake(&mut self) -> Result<()> {
        require!(self.node.is_unstaking(), RegistryError::NotUnstaking);
        self.node.unstake_requested_at = 0;
        Ok(())
    }
}
