//! `initialize`: one-time creation of the reputation config.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, ids, seeds};

use crate::{
    error::ReputationError,
    events::ReputationInitialized,
    state::{ReputationConfig, ReputationParams},
};

#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut, address = ids::DEPLOYER @ ReputationError::NotDeployer)]
    pub deployer: Signer<'info>,
    #[account(
        init,
        payer = deployer,
        space = 8 + ReputationConfig::INIT_SPACE,
        seeds = [seeds::REPUTATION_CONFIG],
        bump,
    )]
    pub config: Account<'info, ReputationConfig>,
    pub system_program: Program<'info, System>,
}

impl Initialize<'_> {
    pub fn handle(
        &mut self,
        admin: Pubkey,
        updater: Pubkey,
        params: ReputationParams,
        bumps: &InitializeBumps,
    ) -> Result<()> {
        params.validate()?;
        require!(
            admin != Pubkey::default() && updater != Pubkey::default(),
            ReputationError::InvalidParams
        );
        self.config.set_inner(ReputationConfig {
            admin,
            governance: ids::governance_authority(),
            updater,
            escrow_authority: ids::escrow_authority(),
            dispute_authority: ids::dispute_authority(),
            params,
            batch_base: 0,
            batch_bitmap: [0; 4],
            batches_applied: 0,
            bump: bumps.config,
        });
        emit_event!(ReputationInitialized {
            admin,
            updater,
            params
        });
        Ok(())
    }
}
