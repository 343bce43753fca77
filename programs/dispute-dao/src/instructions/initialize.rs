//! `initialize`: one-time creation of the DAO config and its three vaults.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, ids, seeds};

use crate::{
    error::DaoError,
    events::DaoInitialized,
    state::{DaoConfig, DaoParams},
};

#[derive(Accounts)]
pub struct Initialize<'info> {
    #[account(mut, address = ids::DEPLOYER @ DaoError::NotDeployer)]
    pub deployer: Signer<'info>,
    #[account(
        init,
        payer = deployer,
        space = 8 + DaoConfig::INIT_SPACE,
        seeds = [seeds::DAO_CONFIG],
        bump,
    )]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(mint::token_program = token_program)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    #[account(
        init,
        payer = deployer,
        seeds = [seeds::DEPOSIT_VAULT],
        bump,
        token::mint = mint,
        token::authority = config,
        token::token_program = token_program,
    )]
    pub deposit_vault: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(
        init,
        payer = deployer,
        seeds = [seeds::DAO_TREASURY],
        bump,
        token::mint = mint,
        token::authority = config,
        token::token_program = token_program,
    )]
    pub treasury: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(
        init,
        payer = deployer,
        seeds = [seeds::APPEAL_VAULT],
        bump,
        token::mint = mint,
        token::authority = config,
        token::token_program = token_program,
    )]
    pub appeal_vault: Box<InterfaceAccount<'info, TokenAccount>>,
    pub token_program: Interface<'info, TokenInterface>,
    pub system_program: Program<'info, System>,
}

impl Initialize<'_> {
    pub fn handle(&mut self, admin: Pubkey, params: DaoParams, bump: u8) -> Result<()> {
        params.validate()?;
        require!(admin != Pubkey::default(), DaoError::InvalidParams);
        let (_, dispute_authority_bump) =
            Pubkey::find_program_address(&[seeds::DISPUTE_AUTHORITY], &crate::ID);
        let (_, governance_bump) =
            Pubkey::find_program_address(&[seeds::GOVERNANCE_AUTHORITY], &crate::ID);
        self.config.set_inner(DaoConfig {
            admin,
            mint: self.mint.key(),
            deposit_vault: self.deposit_vault.key(),
            treasury: self.treasury.key(),
            appeal_vault: self.appeal_vault.key(),
            params,
            total_deposited: 0,
            proposal_count: 0,
            dispute_count: 0,
            bump,
            dispute_authority_bump,
            governance_bump,
        });
        emit_event!(DaoInitialized {
            admin,
            mint: self.mint.key(),
            params
        });
        Ok(())
    }
}
