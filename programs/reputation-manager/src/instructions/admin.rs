//! Admin and governance: parameters, admin rotation, the coordinator's updater key.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::ReputationError,
    events::ReputationParamsUpdated,
    state::{ReputationConfig, ReputationParams},
};

#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    #[account(constraint = config.is_admin_or_governance(&authority.key()) @ ReputationError::NotAdminOrGovernance)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [seeds::REPUTATION_CONFIG], bump = config.bump)]
    pub config: Account<'info, ReputationConfig>,
}

impl UpdateConfig<'_> {
    pub fn update_params(&mut self, params: ReputationParams) -> Result<()> {
        params.validate()?;
        self.config.params = params;
        emit_event!(ReputationParamsUpdated {
            by: self.authority.key(),
            params
        });
        Ok(())
    }

    pub fn set_admin(&mut self, admin: Pubkey) -> Result<()> {
        require!(admin != Pubkey::default(), ReputationError::InvalidParams);
        self.config.admin = admin;
        Ok(())
    }

    pub fn set_updater(&mut self, updater: Pubkey) -> Result<()> {
        require!(updater != Pubkey::default(), ReputationError::InvalidParams);
        self.config.updater = updater;
        Ok(())
    }
}
