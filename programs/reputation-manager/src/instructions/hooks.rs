//! Calls from the other programs, each signed by that program's PDA: JobEscrow records a
//! user's rating of a completed job (once per job, enforced by the escrow) and an invalid
//! proof its node submitted (once per job: the escrow ends with it), Dispute/DAO applies
//! a verdict.

use anchor_lang::prelude::*;
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::ReputationError,
    events::{InvalidProofRecorded, NodeRated, VerdictApplied},
    instructions::emit_tier_change,
    state::{NodeReputation, ReputationConfig, UpdateKind, UserReputation, VerdictEffect},
};

#[derive(Accounts)]
pub struct RecordRating<'info> {
    #[account(address = config.escrow_authority @ ReputationError::NotEscrowAuthority)]
    pub escrow_authority: Signer<'info>,
    #[account(seeds = [seeds::REPUTATION_CONFIG], bump = config.bump)]
    pub config: Account<'info, ReputationConfig>,
    #[account(mut, seeds = [seeds::NODE_REPUTATION, reputation.owner.as_ref()], bump = reputation.bump)]
    pub reputation: Account<'info, NodeReputation>,
}

impl RecordRating<'_> {
    pub fn handle(&mut self, stars: u8) -> Result<()> {
        let params = self.config.params;
        let now = Clock::get()?.unix_timestamp;
        let rep = &mut self.reputation;
        rep.rate(stars, &params)?;
        let before = rep.refresh(&params, now);
        emit_tier_change(rep, before);
        emit_event!(NodeRated {
            owner: rep.owner,
            stars,
            score: rep.score
        });
        Ok(())
    }
}

/// The same accounts as [`RecordRating`]: JobEscrow's PDA, the config, the node's record.
#[derive(Accounts)]
pub struct RecordInvalidProof<'info> {
    #[account(address = config.escrow_authority @ ReputationError::NotEscrowAuthority)]
    pub escrow_authority: Signer<'info>,
    #[account(seeds = [seeds::REPUTATION_CONFIG], bump = config.bump)]
    pub config: Account<'info, ReputationConfig>,
    #[account(mut, seeds = [seeds::NODE_REPUTATION, reputation.owner.as_ref()], bump = reputation.bump)]
    pub reputation: Account<'info, NodeReputation>,
}

impl RecordInvalidProof<'_> {
    /// The node's proof was rejected on chain: the seed's −100 points and a failed proof
    /// in the proof-validity component, exactly as a coordinator-reported invalid proof.
    pub fn handle(&mut self) -> Result<()> {
        let params = self.config.params;
        let now = Clock::get()?.unix_timestamp;
        let rep = &mut self.reputation;
        rep.apply(UpdateKind::InvalidProof, &params, now)?;
        let before = rep.refresh(&params, now);
        emit_tier_change(rep, before);
        emit_event!(InvalidProofRecorded {
            owner: rep.owner,
            points: rep.points,
            score: rep.score
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct ApplyVerdict<'info> {
    #[account(address = config.dispute_authority @ ReputationError::NotDisputeAuthority)]
    pub dispute_authority: Signer<'info>,
    #[account(seeds = [seeds::REPUTATION_CONFIG], bump = config.bump)]
    pub config: Account<'info, ReputationConfig>,
    #[account(mut, seeds = [seeds::NODE_REPUTATION, node_reputation.owner.as_ref()], bump = node_reputation.bump)]
    pub node_reputation: Account<'info, NodeReputation>,
    #[account(mut, seeds = [seeds::USER_REPUTATION, user_reputation.wallet.as_ref()], bump = user_reputation.bump)]
    pub user_reputation: Account<'info, UserReputation>,
}

impl ApplyVerdict<'_> {
    pub fn handle(&mut self, effect: VerdictEffect) -> Result<()> {
        let params = self.config.params;
        let now = Clock::get()?.unix_timestamp;
        let node = &mut self.node_reputation;
        node.apply_verdict(effect, &params);
        let before = node.refresh(&params, now);
        emit_tier_change(node, before);
        let user = &mut self.user_reputation;
        match effect {
            VerdictEffect::NodeLost => {
                user.disputes_won = user.disputes_won.saturating_add(1);
            }
            VerdictEffect::NodeWon => {
                user.disputes_lost = user.disputes_lost.saturating_add(1);
                user.score = user.score.saturating_sub(params.points.user_dispute_lost);
            }
        }
        emit_event!(VerdictApplied {
            node: self.node_reputation.owner,
            user: self.user_reputation.wallet,
            effect,
            node_score: self.node_reputation.score,
            user_score: self.user_reputation.score,
        });
        Ok(())
    }
}
