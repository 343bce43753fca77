//! `register_node`: an operator stakes at least the minimum and opens its node account.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    constants::MAX_FAILURE_WINDOW,
    error::RegistryError,
    events::NodeRegistered,
    instructions::deposit_stake,
    state::{Capabilities, NodeAccount, NodeStatus, RegistryConfig},
};

#[derive(Accounts)]
pub struct RegisterNode<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    #[account(
        init,
        payer = owner,
        space = 8 + NodeAccount::INIT_SPACE,
        seeds = [seeds::NODE, owner.key().as_ref()],
        bump,
    )]
    pub node: Account<'info, NodeAccount>,
    #[account(
        mut,
        token::mint = stake_mint,
        token::authority = owner,
        token::token_program = token_program,
    )]
    pub owner_token: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = config.stake_vault @ RegistryError::WrongVault)]
    pub stake_vault: InterfaceAccount<'info, TokenAccount>,
    #[account(address = config.stake_mint @ RegistryError::WrongMint)]
    pub stake_mint: InterfaceAccount<'info, Mint>,
    pub token_program: Interface<'info, TokenInterface>,
    pub system_program: Program<'info, System>,
}

impl RegisterNode<'_> {
    pub fn handle(
        &mut self,
        node_id: [u8; 32],
        stake: u64,
        capabilities: Capabilities,
        bumps: &RegisterNodeBumps,
    ) -> Result<()> {
        require!(!self.config.paused, RegistryError::Paused);
        require!(node_id != [0; 32], RegistryError::InvalidNodeId);
        let params = self.config.params;
        require!(
            stake >= params.min_registration_stake(),
            RegistryError::InsufficientStake
        );
        let now = Clock::get()?.unix_timestamp;
        let locked_until = now
            .checked_add(params.min_lock_secs)
            .ok_or(RegistryError::Overflow)?;

        deposit_stake(
            &self.token_program.to_account_info(),
            self.owner_token.to_account_info(),
            self.stake_mint.to_account_info(),
            self.stake_vault.to_account_info(),
            self.owner.to_account_info(),
            stake,
            self.stake_mint.decimals,
        )?;

        self.node.set_inner(NodeAccount {
            owner: self.owner.key(),
            node_id,
            capabilities,
            stake,
            status: NodeStatus::Active,
            registered_at: now,
            last_heartbeat: now,
            locked_until,
            suspended_until: 0,
            unstake_requested_at: 0,
            active_jobs: 0,
            jobs_completed: 0,
            jobs_failed: 0,
            total_slashed: 0,
            recent_failures: [0; MAX_FAILURE_WINDOW],
            bump: bumps.node,
        });
        let config = &mut self.config;
        config.total_staked = config
            .total_staked
            .checked_add(stake)
            .ok_or(RegistryError::Overflow)?;
        config.node_count = config
            .node_count
            .checked_add(1)
            .ok_or(RegistryError::Overflow)?;
        emit_event!(NodeRegistered {
            node: self.node.key(),
            owner: self.owner.key(),
            node_id,
            stake,
            locked_until,
        });
        Ok(())
    }
}
