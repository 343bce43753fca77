//! Admin and governance: parameters, authorities, treasury accounts, emergency pause.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::TokenAccount;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::EscrowError,
    events::EscrowConfigUpdated,
    state::{EscrowConfig, EscrowParams, distinct_treasuries},
};

#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    #[account(constraint = config.is_admin_or_governance(&authority.key()) @ EscrowError::NotAdminOrGovernance)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
}

impl UpdateConfig<'_> {
    /// New parameters apply to escrows settled afterwards; amounts already locked are
    /// never touched.
    pub fn update_params(&mut self, params: EscrowParams) -> Result<()> {
        params.validate()?;
        self.config.params = params;
        emit_event!(EscrowConfigUpdated {
            by: self.authority.key(),
            params
        });
        Ok(())
    }

    pub fn set_admin(&mut self, new_admin: Pubkey) -> Result<()> {
        require!(new_admin != Pubkey::default(), EscrowError::InvalidParams);
        self.config.admin = new_admin;
        Ok(())
    }

    pub fn set_coordinator(&mut self, coordinator: Pubkey) -> Result<()> {
        require!(coordinator != Pubkey::default(), EscrowError::InvalidParams);
        self.config.coordinator = coordinator;
        Ok(())
    }
}

#[derive(Accounts)]
pub struct SetTreasury<'info> {
    #[account(constraint = config.is_admin_or_governance(&authority.key()) @ EscrowError::NotAdminOrGovernance)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(token::mint = config.mint)]
    pub staking_treasury: InterfaceAccount<'info, TokenAccount>,
    #[account(token::mint = config.mint)]
    pub development_treasury: InterfaceAccount<'info, TokenAccount>,
    #[account(token::mint = config.mint)]
    pub liquidity_treasury: InterfaceAccount<'info, TokenAccount>,
}

impl SetTreasury<'_> {
    pub fn handle(&mut self) -> Result<()> {
        require!(
            distinct_treasuries(
                &self.staking_treasury.key(),
                &self.development_treasury.key(),
                &self.liquidity_treasury.key(),
            ),
            EscrowError::InvalidParams
        );
        self.config.staking_treasury = self.staking_treasury.key();
        self.config.development_treasury = self.development_treasury.key();
        self.config.liquidity_treasury = self.liquidity_treasury.key();
        Ok(())
    }
}

/// Emergency pause (admin only): blocks new escrows, assignments, acceptances and
/// completions. Refunds, cancellations, timeouts and closes are owed to users and are
/// never blocked.
#[derive(Accounts)]
pub struct SetPaused<'info> {
    #[account(address = config.admin @ EscrowError::NotAdmin)]
    pub admin: Signer<'info>,
    #[account(mut, seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
}

impl SetPaused<'_> {
    pub fn handle(&mut self, paused: bool) -> Result<()> {
        self.config.paused = paused;
        Ok(())
    }
}
