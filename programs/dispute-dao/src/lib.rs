//! Dispute/DAO: token-holder arbitration of job disputes and parameter governance, in one
//! program because both rest on the same governance deposits (1 token = 1 vote, locked
//! while voting) and the same two PDAs the other programs trust: `dispute-authority`
//! (freezes and settles escrows, slashes for lost disputes, applies verdict reputation)
//! and `governance-authority` (updates the other programs' parameters after a passed,
//! timelocked proposal).
//!
//! Dispute: `create_dispute` → evidence window → voting window → `tally` → appeal window
//! (`appeal`: one re-vote at twice the quorum) → `finalize` (verdict executed by CPI) →
//! `claim_vote_reward`. Governance: `propose` → `vote_proposal` → timelock →
//! `execute_proposal`.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod constants;
pub mod error;
pub mod events;
pub mod instructions;
pub mod state;

pub use error::DaoError;
pub use instructions::*;
pub use state::*;

declare_id!(cyxwiz_common::ids::DISPUTE_DAO);

#[program]
pub mod dispute_dao {
    use super::*;

    // ── admin / governance ────────────────────────────────────────────────
    pub fn initialize(ctx: Context<Initialize>, admin: Pubkey, params: DaoParams) -> Result<()> {
        let bump = ctx.bumps.config;
        ctx.accounts.handle(admin, params, bump)
    }
    pub fn update_params(ctx: Context<UpdateConfig>, params: DaoParams) -> Result<()> {
        ctx.accounts.update_params(params)
    }
    pub fn set_admin(ctx: Context<UpdateConfig>, admin: Pubkey) -> Result<()> {
        ctx.accounts.set_admin(admin)
    }

    // ── governance deposits ───────────────────────────────────────────────
    pub fn create_voter(ctx: Context<CreateVoter>) -> Result<()> {
        let bump = ctx.bumps.voter;
        ctx.accounts.handle(bump)
    }
    pub fn deposit(ctx: Context<MoveDeposit>, amount: u64) -> Result<()> {
        ctx.accounts.deposit(amount)
    }
    pub fn withdraw(ctx: Context<MoveDeposit>, amount: u64) -> Result<()> {
        ctx.accounts.withdraw(amount)
    }

    // ── disputes ──────────────────────────────────────────────────────────
    pub fn create_dispute(
        ctx: Context<CreateDispute>,
        claim: Claim,
        evidence_hash: [u8; 32],
    ) -> Result<()> {
        let bump = ctx.bumps.dispute;
        ctx.accounts.handle(claim, evidence_hash, bump)
    }
    pub fn submit_evidence(ctx: Context<SubmitEvidence>, hash: [u8; 32]) -> Result<()> {
        ctx.accounts.handle(hash)
    }
    pub fn cast_vote(ctx: Context<CastVote>, side: Side) -> Result<()> {
        let bump = ctx.bumps.vote_record;
        ctx.accounts.handle(side, bump)
    }
    pub fn tally(ctx: Context<Tally>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn appeal(ctx: Context<Appeal>, evidence_hash: [u8; 32]) -> Result<()> {
        ctx.accounts.handle(evidence_hash)
    }
    pub fn finalize(ctx: Context<Finalize>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn claim_vote_reward(ctx: Context<ClaimVoteReward>) -> Result<()> {
        ctx.accounts.handle()
    }

    // ── parameter governance ──────────────────────────────────────────────
    pub fn propose(
        ctx: Context<Propose>,
        change: ParamChange,
        description_hash: [u8; 32],
    ) -> Result<()> {
        let bump = ctx.bumps.proposal;
        ctx.accounts.handle(change, description_hash, bump)
    }
    pub fn vote_proposal(ctx: Context<VoteProposal>, approve: bool) -> Result<()> {
        let bump = ctx.bumps.vote_record;
        ctx.accounts.handle(approve, bump)
    }
    pub fn execute_proposal(ctx: Context<ExecuteProposal>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn close_proposal_vote(ctx: Context<CloseProposalVote>) -> Result<()> {
        ctx.accounts.handle()
    }
}
