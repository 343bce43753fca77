//! `stake_more`: top up a node's stake (to qualify for larger jobs).

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::StakeChanged,
    instructions::deposit_stake,
    state::{NodeAccount, NodeStatus, RegistryConfig},
};

#[derive(Accounts)]
pub struct StakeMore<'info> {
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

impl StakeMore<'_> {
    pub fn handle(&mut self, amount: u64) -> Result<()> {
        require!(!self.config.paused, RegistryError::Paused);
        require!(amount > 0, RegistryError::ZeroAmount);
        require!(
            self.node.status != NodeStatus::Banned,
            RegistryError::NodeBanned
        );
        require!(!self.node.is_unstaking(), RegistryError::NodeUnstaking);
        deposit_stake(
            &self.token_program.to_account_info(),
            self.owner_token.to_account_info(),
            self.stake_mint.to_account_info(),
            self.stake_vault.to_account_info(),
            self.owner.to_account_info(),
            amount,
            self.stake_mint.decimals,
        )?;
        self.node.stake = self
            .node
            .stake
            .checked_add(amount)
            .ok_or(RegistryError::Overflow)?;
        self.config.total_staked = self
            .config
            .total_staked
            .checked_add(amount)
            .ok_or(RegistryError::Overflow)?;
        emit_event!(StakeChanged {
            node: self.node.key(),
            stake: self.node.stake,
            delta: i64::try_from(amount).map_err(|_| RegistryError::Overflow)?,
        });
        Ok(())
    }
}
