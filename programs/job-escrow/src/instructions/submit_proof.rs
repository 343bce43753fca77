//! `submit_proof`: the node's binding submission of its proof of compute. The checks and,
//! for a valid proof, the payment are `complete_payment`'s. An invalid proof is a verdict
//! too, and the instruction *succeeds* with it so that the verdict can be recorded (a
//! failing transaction changes nothing, which is why `complete_payment` cannot do this):
//! the user is refunded in full (no work was proven), NodeRegistry slashes the
//! invalid-proof rate (25 %) and counts a failure, ReputationManager takes the seed's
//! −100 points, and the escrow ends `Refunded`.
//!
//! Only the assigned node can make this submission (it signs), so nobody can have a node
//! slashed with a proof the node never sent.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::TokenAccount;
use cyxwiz_common::{emit_event, seeds};
use node_registry::JobOutcome;
use reputation_manager::program::ReputationManager;

use super::{complete_payment::*, shared::*};
use crate::{
    error::EscrowError, events::ProofRejected, state::EscrowState, verifier, verifier::PROOF_LEN,
};

#[derive(Accounts)]
pub struct SubmitProof<'info> {
    pub payment: CompletePayment<'info>,
    /// Receives the refund when the proof is invalid.
    #[account(mut)]
    pub user_token: Box<InterfaceAccount<'info, TokenAccount>>,
    /// CHECK: the node's reputation record (`payment.reputation.node_reputation`, which is
    /// read-only there), written by ReputationManager when the proof is invalid.
    #[account(
        mut,
        address = payment.reputation.node_reputation.key() @ EscrowError::WrongReputation,
    )]
    pub node_reputation: UncheckedAccount<'info>,
    pub reputation_program: Program<'info, ReputationManager>,
}

impl SubmitProof<'_> {
    pub fn handle(&mut self, proof: &[u8; PROOF_LEN], claimed: Claimed) -> Result<()> {
        let (now, statement) = self.payment.statement(claimed)?;
        let e = &self.payment.escrow;
        check_token_account(&self.user_token, &e.mint, &e.user)?;
        if verifier::is_valid(&statement, proof)? {
            self.payment.settle(now, claimed)
        } else {
            self.reject(now)
        }
    }

    /// Records an invalid proof: full refund, slash and failure, −100 reputation.
    fn reject(&mut self, now: i64) -> Result<()> {
        let p = &self.payment;
        let amount = p.escrow.amount;
        VaultPayer {
            escrow: &p.escrow,
            vault: &p.vault,
            mint: &p.mint,
            token_program: &p.token_program,
        }
        .pay(&self.user_token, amount)?;
        let authority_bump = p.config.authority_bump;
        p.registry.record_outcome(
            &p.mint,
            &p.token_program,
            amount,
            JobOutcome::InvalidProof,
            authority_bump,
        )?;
        let bump = [authority_bump];
        let signer: &[&[&[u8]]] = &[&[seeds::ESCROW_AUTHORITY, &bump]];
        reputation_manager::cpi::record_invalid_proof(CpiContext::new_with_signer(
            reputation_manager::ID,
            reputation_manager::cpi::accounts::RecordInvalidProof {
                escrow_authority: p.registry.escrow_authority.to_account_info(),
                config: p.reputation.reputation_config.to_account_info(),
                reputation: self.node_reputation.to_account_info(),
            },
            signer,
        ))?;
        let escrow = &mut self.payment.escrow;
        escrow.finish(EscrowState::Refunded, now);
        emit_event!(ProofRejected {
            job_id: escrow.job_id,
            node: escrow.node,
            refund_amount: amount,
        });
        Ok(())
    }
}
