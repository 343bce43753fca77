//! `withdraw_stake`: after the cooldown, the whole remaining stake returns to the owner.
//! The node account is closed (rent back to the owner) unless the node is banned, in
//! which case it stays as a tombstone so the wallet cannot register again.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::StakeWithdrawn,
    instructions::pay_from_vault,
    state::{NodeAccount, NodeStatus, RegistryConfig},
};

#[derive(Accounts)]
pub struct WithdrawStake<'info> {
    #[account(mut)]
    pub owner: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    #[account(
        mut,
        seeds = [seeds::NODE, owner.key().as_ref()],
        bump = node.bump,
        has_one = owner @ RegistryError::NotNodeOwner,
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
}

impl<'info> WithdrawStake<'info> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let node = &self.node;
        require!(node.is_unstaking(), RegistryError::NotUnstaking);
        require!(node.active_jobs == 0, RegistryError::HasActiveJobs);
        let ready_at = node
            .unstake_requested_at
            .checked_add(self.config.params.unstake_cooldown_secs)
            .ok_or(RegistryError::Overflow)?;
        require!(now >= ready_at, RegistryError::CooldownActive);
        // A suspension imposed during the cooldown must be served: withdrawing closes the
        // account, and a fresh registration would otherwise dodge it.
        if node.status == NodeStatus::Suspended {
            require!(now >= node.suspended_until, RegistryError::NodeSuspended);
        }

        let amount = node.stake;
        pay_from_vault(
            &self.config,
            &self.token_program.to_account_info(),
            &self.stake_vault.to_account_info(),
            &self.stake_mint.to_account_info(),
            self.owner_token.to_account_info(),
            amount,
            self.stake_mint.decimals,
        )?;
        let config = &mut self.config;
        config.total_staked = config
            .total_staked
            .checked_sub(amount)
            .ok_or(RegistryError::Overflow)?;

        let banned = self.node.status == NodeStatus::Banned;
        if banned {
            self.node.stake = 0;
            self.node.unstake_requested_at = 0;
        } else {
            config.node_count = config.node_count.saturating_sub(1);
            self.node.close(self.owner.to_account_info())?;
        }
        emit_event!(StakeWithdrawn {
            node: self.node.key(),
            owner: self.owner.key(),
            amount,
            closed: !banned
        });
        Ok(())
    }
}
