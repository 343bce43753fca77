//! `create_escrow`: the user locks a job's payment in a vault owned by the escrow PDA,
//! with the job's epochs, timeout and training-time estimate.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{self, Mint, TokenAccount, TokenInterface, TransferChecked};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    constants::MAX_EPOCHS,
    error::EscrowError,
    events::EscrowCreated,
    state::{Escrow, EscrowConfig, EscrowState},
};

#[derive(Accounts)]
#[instruction(job_id: [u8; 16])]
pub struct CreateEscrow<'info> {
    #[account(mut)]
    pub user: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        init,
        payer = user,
        space = 8 + Escrow::INIT_SPACE,
        seeds = [seeds::ESCROW, job_id.as_ref()],
        bump,
    )]
    pub escrow: Account<'info, Escrow>,
    #[account(
        init,
        payer = user,
        seeds = [seeds::ESCROW_VAULT, escrow.key().as_ref()],
        bump,
        token::mint = mint,
        token::authority = escrow,
        token::token_program = token_program,
    )]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    #[account(
        mut,
        token::mint = mint,
        token::authority = user,
        token::token_program = token_program,
    )]
    pub user_token: InterfaceAccount<'info, TokenAccount>,
    #[account(address = config.mint @ EscrowError::WrongMint)]
    pub mint: InterfaceAccount<'info, Mint>,
    pub token_program: Interface<'info, TokenInterface>,
    pub system_program: Program<'info, System>,
}

impl CreateEscrow<'_> {
    pub fn handle(
        &mut self,
        job_id: [u8; 16],
        amount: u64,
        epochs_required: u32,
        timeout_secs: i64,
        estimated_secs: u32,
        bumps: &CreateEscrowBumps,
    ) -> Result<()> {
        let params = self.config.params;
        require!(!self.config.paused, EscrowError::Paused);
        require!(amount > 0, EscrowError::ZeroAmount);
        require!(
            (1..=MAX_EPOCHS).contains(&epochs_required),
            EscrowError::InvalidEpochs
        );
        let timeout = params.timeout_for(timeout_secs)?;
        params.check_estimate(estimated_secs, timeout)?;
        let now = Clock::get()?.unix_timestamp;
        let timeout_at = now.checked_add(timeout).ok_or(EscrowError::Overflow)?;

        token_interface::transfer_checked(
            CpiContext::new(
                self.token_program.key(),
                TransferChecked {
                    from: self.user_token.to_account_info(),
                    mint: self.mint.to_account_info(),
                    to: self.vault.to_account_info(),
                    authority: self.user.to_account_info(),
                },
            ),
            amount,
            self.mint.decimals,
        )?;

        self.escrow.set_inner(Escrow {
            job_id,
            user: self.user.key(),
            mint: self.mint.key(),
            amount,
            epochs_required,
            node: Pubkey::default(),
            state: EscrowState::Locked,
            created_at: now,
            timeout_at,
            assigned_at: 0,
            accepted_at: 0,
            finished_at: 0,
            epochs_done: 0,
            merkle_root: [0; 32],
            last_checkpoint_at: 0,
            final_weights_hash: [0; 32],
            rated: false,
            bump: bumps.escrow,
            vault_bump: bumps.vault,
            assigned_by_user: false,
            estimated_secs,
            challenge_until: 0,
            stake_released: false,
            challenged: false,
        });
        emit_event!(EscrowCreated {
            job_id,
            escrow: self.escrow.key(),
            user: self.user.key(),
            amount,
            epochs_required,
            timeout_at,
            estimated_secs,
        });
        Ok(())
    }
}
