//! `complete_payment`: the node proves the work and is paid: 90 % to the node (92 % for a
//! Diamond-tier node), the platform fee split across the treasury accounts and burned as
//! configured. Only within the training-time bound: 0.5×–2× the escrow's estimate from
//! acceptance, with the configured margin. The job then stays active in NodeRegistry (its
//! stake cannot be unstaked) for the challenge window, during which the user may dispute
//! the paid job; `release_stake` ends it. An invalid proof fails the transaction, so
//! nothing changes; `submit_proof` is the same payment with a binding verdict (an invalid
//! proof is recorded and slashed there).

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use super::shared::*;
use crate::{
    error::EscrowError,
    events::PaymentReleased,
    state::{Escrow, EscrowConfig, EscrowState},
    verifier::{self, PROOF_LEN, ProofStatement},
};

#[derive(Accounts)]
pub struct CompletePayment<'info> {
    pub node_owner: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        constraint = escrow.node == node_owner.key() @ EscrowError::NotAssignedNode,
        constraint = registry.node.owner == escrow.node @ EscrowError::WrongNode,
    )]
    pub escrow: Account<'info, Escrow>,
    #[account(mut, seeds = [seeds::ESCROW_VAULT, escrow.key().as_ref()], bump = escrow.vault_bump)]
    pub vault: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = escrow.mint @ EscrowError::WrongMint)]
    pub mint: InterfaceAccount<'info, Mint>,
    #[account(mut)]
    pub node_token: InterfaceAccount<'info, TokenAccount>,
    pub treasury: Treasury<'info>,
    pub registry: RegistryHooks<'info>,
    pub reputation: ReputationView<'info>,
    pub token_program: Interface<'info, TokenInterface>,
}

/// What the node claims on completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Claimed {
    pub final_weights_hash: [u8; 32],
    pub merkle_root: [u8; 32],
    pub epochs: u32,
}

impl CompletePayment<'_> {
    pub fn handle(&mut self, proof: &[u8; PROOF_LEN], claimed: Claimed) -> Result<()> {
        let (now, statement) = self.statement(claimed)?;
        verifier::verify(&statement, proof)?;
        self.settle(now, claimed)
    }

    /// Every check but the proof's; returns the time and the statement the proof must
    /// attest.
    pub fn statement(&self, claimed: Claimed) -> Result<(i64, ProofStatement)> {
        require!(!self.config.paused, EscrowError::Paused);
        let now = Clock::get()?.unix_timestamp;
        let escrow = &self.escrow;
        require!(
            escrow.state == EscrowState::InProgress,
            EscrowError::InvalidState
        );
        require!(!escrow.has_timed_out(now), EscrowError::TimedOut);
        escrow.check_duration(now, self.config.params.duration_margin_secs)?;
        require!(
            claimed.epochs >= escrow.epochs_required && claimed.epochs >= escrow.epochs_done,
            EscrowError::NotEnoughEpochs
        );
        // With no epochs beyond the last anchor, the final root must be the anchored one.
        if claimed.epochs == escrow.epochs_done {
            require!(
                claimed.merkle_root == escrow.merkle_root,
                EscrowError::RootMismatch
            );
        }
        check_token_account(&self.node_token, &escrow.mint, &escrow.node)?;
        // The proof also shows the anchored root is a prefix of the proven chain, so a
        // node cannot complete with a history other than the one it anchored.
        Ok((
            now,
            ProofStatement {
                job_id: escrow.job_id,
                merkle_root: claimed.merkle_root,
                final_weights_hash: claimed.final_weights_hash,
                epochs: claimed.epochs,
                anchored_root: escrow.merkle_root,
                anchored_epochs: escrow.epochs_done,
            },
        ))
    }

    /// Pays a verified completion: the node, the fee treasuries and the burn.
    pub fn settle(&mut self, now: i64, claimed: Claimed) -> Result<()> {
        let escrow = &self.escrow;
        let params = self.config.params;
        let fee_bps = self.reputation.fee_bps(&escrow.node, &params)?;
        let settlement = escrow.settle_completed(fee_bps)?;
        let parts = params.fee_split.split(settlement.fee)?;
        let payer = VaultPayer {
            escrow: &self.escrow,
            vault: &self.vault,
            mint: &self.mint,
            token_program: &self.token_program,
        };
        payer.pay(&self.node_token, settlement.to_node)?;
        payer.pay_fee(&self.treasury, parts)?;

        // NodeRegistry is not told yet: the job stays active there, which keeps the whole
        // stake from being unstaked, until `release_stake` after the challenge window.
        let challenge_until = now
            .checked_add(params.challenge_window_secs)
            .ok_or(EscrowError::Overflow)?;
        let escrow = &mut self.escrow;
        escrow.challenge_until = challenge_until;
        escrow.epochs_done = claimed.epochs;
        escrow.merkle_root = claimed.merkle_root;
        escrow.final_weights_hash = claimed.final_weights_hash;
        escrow.finish(EscrowState::Completed, now);
        emit_event!(PaymentReleased {
            job_id: escrow.job_id,
            node: escrow.node,
            node_amount: settlement.to_node,
            platform_fee: settlement.fee,
            burned: parts.burn,
            final_weights_hash: claimed.final_weights_hash,
            merkle_root: claimed.merkle_root,
        });
        Ok(())
    }
}
