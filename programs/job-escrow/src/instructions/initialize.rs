//! `initialize`: one-time creation of the escrow config.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, ids, seeds};

use crate::{
    error::EscrowError,
    events::EscrowConfigUpdated,
    state::{EscrowConfig, EscrowParams, distinct_treasuries},
};

#[derive(Accounts)]
pub struct Initialize<'info> {
    /// Only the deployer key may initialise (see `cyxwiz_common::ids::DEPLOYER`).
    #[account(mut, address = ids::DEPLOYER @ EscrowError::NotDeployer)]
    pub deployer: Signer<'info>,
    #[account(
        init,
        payer = deployer,
        space = 8 + EscrowConfig::INIT_SPACE,
        seeds = [seeds::ESCROW_CONFIG],
        bump,
    )]
    pub config: Account<'info, EscrowConfig>,
    #[account(mint::token_program = token_program)]
    pub mint: InterfaceAccount<'info, Mint>,
    #[account(token::mint = mint, token::token_program = token_program)]
    pub staking_treasury: InterfaceAccount<'info, TokenAccount>,
    #[account(token::mint = mint, token::token_program = token_program)]
    pub development_treasury: InterfaceAccount<'info, TokenAccount>,
    #[account(token::mint = mint, token::token_program = token_program)]
    pub liquidity_treasury: InterfaceAccount<'info, TokenAccount>,
    pub token_program: Interface<'info, TokenInterface>,
    pub system_program: Program<'info, System>,
}

impl Initialize<'_> {
    pub fn handle(
        &mut self,
        admin: Pubkey,
        coordinator: Pubkey,
        params: EscrowParams,
        bumps: &InitializeBumps,
    ) -> Result<()> {
        params.validate()?;
        require!(
            admin != Pubkey::default() && coordinator != Pubkey::default(),
            EscrowError::InvalidParams
        );
        require!(
            distinct_treasuries(
                &self.staking_treasury.key(),
                &self.development_treasury.key(),
                &self.liquidity_treasury.key(),
            ),
            EscrowError::InvalidParams
        );
        let (_, authority_bump) =
            Pubkey::find_program_address(&[seeds::ESCROW_AUTHORITY], &crate::ID);
        self.config.set_inner(EscrowConfig {
            admin,
            governance: ids::governance_authority(),
            dispute_authority: ids::dispute_authority(),
            coordinator,
            mint: self.mint.key(),
            staking_treasury: self.staking_treasury.key(),
            development_treasury: self.development_treasury.key(),
            liquidity_treasury: self.liquidity_treasury.key(),
            params,
            paused: false,
            bump: bumps.config,
            authority_bump,
        });
        emit_event!(EscrowConfigUpdated {
            by: self.deployer.key(),
            params
        });
        Ok(())
    }
}
