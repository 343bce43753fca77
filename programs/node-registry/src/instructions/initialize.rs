//! `initialize`: one-time creation of the registry config and the stake vault.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, ids, seeds};

use crate::{
    error::RegistryError,
    events::RegistryInitialized,
    state::{RegistryConfig, RegistryParams},
};

#[derive(Accounts)]
pub struct Initialize<'info> {
    /// Only the deployer key may initialise; it names the admin (e.g. a multisig).
    #[account(mut, address = ids::DEPLOYER @ RegistryError::NotDeployer)]
    pub deployer: Signer<'info>,
    /// CHECK: any address; becomes the admin.
    pub admin: UncheckedAccount<'info>,
    #[account(
        init,
        payer = deployer,
        space = 8 + RegistryConfig::INIT_SPACE,
        seeds = [seeds::REGISTRY_CONFIG],
        bump,
    )]
    pub config: Account<'info, RegistryConfig>,
    #[account(mint::token_program = token_program)]
    pub stake_mint: InterfaceAccount<'info, Mint>,
    #[account(
        init,
        payer = deployer,
        seeds = [seeds::STAKE_VAULT],
        bump,
        token::mint = stake_mint,
        token::authority = config,
        token::token_program = token_program,
    )]
    pub stake_vault: InterfaceAccount<'info, TokenAccount>,
    #[account(token::mint = stake_mint, token::token_program = token_program)]
    pub insurance_vault: InterfaceAccount<'info, TokenAccount>,
    pub token_program: Interface<'info, TokenInterface>,
    pub system_program: Program<'info, System>,
}

impl Initialize<'_> {
    pub fn handle(&mut self, params: RegistryParams, bumps: &InitializeBumps) -> Result<()> {
        params.validate()?;
        require!(
            self.admin.key() != Pubkey::default(),
            RegistryError::InvalidParams
        );
        self.config.set_inner(RegistryConfig {
            admin: self.admin.key(),
            governance: ids::governance_authority(),
            escrow_authority: ids::escrow_authority(),
            dispute_authority: ids::dispute_authority(),
            stake_mint: self.stake_mint.key(),
            stake_vault: self.stake_vault.key(),
            insurance_vault: self.insurance_vault.key(),
            params,
            total_staked: 0,
            node_count: 0,
            paused: false,
            bump: bumps.config,
            vault_bump: bumps.stake_vault,
        });
        emit_event!(RegistryInitialized {
            admin: self.admin.key(),
            stake_mint: self.stake_mint.key(),
            params
        });
        Ok(())
    }
}
