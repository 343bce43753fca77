//! Governance deposits: 1 deposited token = 1 vote. A deposit stays locked until every
//! vote it was used in has ended, so tokens cannot vote, move to another wallet and vote
//! again on the same question.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{self, Mint, TokenAccount, TokenInterface, TransferChecked};
use cyxwiz_common::{emit_event, seeds};

use super::pay_from_vault;
use crate::{
    error::DaoError,
    events::{Deposited, Withdrawn},
    state::{DaoConfig, Voter},
};

#[derive(Accounts)]
pub struct CreateVoter<'info> {
    #[account(mut)]
    pub wallet: Signer<'info>,
    #[account(
        init,
        payer = wallet,
        space = 8 + Voter::INIT_SPACE,
        seeds = [seeds::VOTER, wallet.key().as_ref()],
        bump,
    )]
    pub voter: Account<'info, Voter>,
    pub system_program: Program<'info, System>,
}

impl CreateVoter<'_> {
    pub fn handle(&mut self, bump: u8) -> Result<()> {
        self.voter.set_inner(Voter {
            wallet: self.wallet.key(),
            deposited: 0,
            locked_until: 0,
            bump,
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct MoveDeposit<'info> {
    pub wallet: Signer<'info>,
    #[account(mut, seeds = [seeds::DAO_CONFIG], bump = config.bump)]
    pub config: Box<Account<'info, DaoConfig>>,
    #[account(
        mut,
        seeds = [seeds::VOTER, wallet.key().as_ref()],
        bump = voter.bump,
    )]
    pub voter: Account<'info, Voter>,
    #[account(mut, constraint = wallet_token.mint == config.mint @ DaoError::WrongMint)]
    pub wallet_token: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(mut, address = config.deposit_vault @ DaoError::WrongAccount)]
    pub deposit_vault: Box<InterfaceAccount<'info, TokenAccount>>,
    #[account(address = config.mint @ DaoError::WrongMint)]
    pub mint: Box<InterfaceAccount<'info, Mint>>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl MoveDeposit<'_> {
    pub fn deposit(&mut self, amount: u64) -> Result<()> {
        require!(amount > 0, DaoError::ZeroAmount);
        token_interface::transfer_checked(
            CpiContext::new(
                self.token_program.key(),
                TransferChecked {
                    from: self.wallet_token.to_account_info(),
                    mint: self.mint.to_account_info(),
                    to: self.deposit_vault.to_account_info(),
                    authority: self.wallet.to_account_info(),
                },
            ),
            amount,
            self.mint.decimals,
        )?;
        let voter = &mut self.voter;
        voter.deposited = voter
            .deposited
            .checked_add(amount)
            .ok_or(DaoError::Overflow)?;
        self.config.total_deposited = self
            .config
            .total_deposited
            .checked_add(amount)
            .ok_or(DaoError::Overflow)?;
        emit_event!(Deposited {
            wallet: voter.wallet,
            amount,
            total: voter.deposited
        });
        Ok(())
    }

    pub fn withdraw(&mut self, amount: u64) -> Result<()> {
        require!(amount > 0, DaoError::ZeroAmount);
        let now = Clock::get()?.unix_timestamp;
        require!(now >= self.voter.locked_until, DaoError::DepositLocked);
        require!(
            amount <= self.voter.deposited,
            DaoError::InsufficientDeposit
        );
        require_keys_eq!(
            self.wallet_token.owner,
            self.wallet.key(),
            DaoError::WrongTokenOwner
        );
        pay_from_vault(
            &self.config,
            self.token_program.to_account_info(),
            self.deposit_vault.to_account_info(),
            self.mint.to_account_info(),
            self.wallet_token.to_account_info(),
            amount,
            self.mint.decimals,
        )?;
        let voter = &mut self.voter;
        voter.deposited -= amount;
        self.config.total_deposited = self
            .config
            .total_deposited
            .checked_sub(amount)
            .ok_or(DaoError::Overflow)?;
        emit_event!(Withdrawn {
            wallet: voter.wallet,
            amount,
            total: voter.deposited
        });
        Ok(())
    }
}
