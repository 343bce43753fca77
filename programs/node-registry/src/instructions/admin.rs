//! Admin and governance: parameters, admin rotation, insurance pool, emergency pause.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::TokenAccount;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::RegistryParamsUpdated,
    state::{RegistryConfig, RegistryParams},
};

/// Parameter changes: the admin, or the DAO's governance PDA after a passed proposal.
#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    #[account(constraint = config.is_admin_or_governance(&authority.key()) @ RegistryError::NotAdminOrGovernance)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
}

impl UpdateConfig<'_> {
    pub fn update_params(&mut self, params: RegistryParams) -> Result<()> {
        params.validate()?;
        self.config.params = params;
        emit_event!(RegistryParamsUpdated {
            by: self.authority.key(),
            params
        });
        Ok(())
    }

    pub fn set_admin(&mut self, new_admin: Pubkey) -> Result<()> {
        require!(new_admin != Pubkey::default(), RegistryError::InvalidParams);
        self.config.admin = new_admin;
        Ok(())
    }
}

#[derive(Accounts)]
pub struct SetInsuranceVault<'info> {
    #[account(constraint = config.is_admin_or_governance(&authority.key()) @ RegistryError::NotAdminOrGovernance)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    /// Never the stake vault itself: slashed stake would stay in the vault while leaving
    /// `total_staked`, and every slash and job release would fail on a duplicate account.
    #[account(
        token::mint = config.stake_mint,
        constraint = insurance_vault.key() != config.stake_vault @ RegistryError::WrongVault,
    )]
    pub insurance_vault: InterfaceAccount<'info, TokenAccount>,
}

impl SetInsuranceVault<'_> {
    pub fn handle(&mut self) -> Result<()> {
        self.config.insurance_vault = self.insurance_vault.key();
        Ok(())
    }
}

/// Emergency pause: the admin alone (it must be fast). Pausing stops new registrations,
/// stake top-ups and new job locks; it never stops withdrawals, job releases or slashes.
#[derive(Accounts)]
pub struct SetPaused<'info> {
    #[account(address = config.admin @ RegistryError::NotAdmin)]
    pub admin: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
}

impl SetPaused<'_> {
    pub fn handle(&mut self, paused: bool) -> Result<()> {
        self.config.paused = paused;
        Ok(())
    }
}
