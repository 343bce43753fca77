//! Admin and governance over the DAO's own parameters.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::DaoError,
    events::DaoParamsUpdated,
    state::{DaoConfig, DaoParams},
};

#[derive(Accounts)]
pub struct UpdateConfig<'info> {
    #[account(constraint = config.is_admin_or_governance(&authority.key()) @ DaoError::NotAdminOrGovernance)]
    pub authority: Signer<'info>,
    #[account(mut, seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
}

impl UpdateConfig<'_> {
    pub fn update_params(&mut self, params: DaoParams) -> Result<()> {
        params.validate()?;
        self.config.params = params;
        emit_event!(DaoParamsUpdated {
            by: self.authority.key(),
            params
        });
        Ok(())
    }

    pub fn set_admin(&mut self, admin: Pubkey) -> Result<()> {
        require!(admin != Pubkey::default(), DaoError::InvalidParams);
        self.config.admin = admin;
        Ok(())
    }
}
