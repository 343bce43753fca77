//! ReputationManager: each node's score (0–1000) and tier, from job outcomes the
//! coordinator batches, ratings users give completed jobs (via JobEscrow), uptime reports
//! and dispute verdicts (via Dispute/DAO). JobEscrow reads the tier to cap job sizes and to
//! give Diamond nodes the lower platform fee.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod constants;
pub mod error;
pub mod events;
pub mod instructions;
pub mod state;

pub use error::ReputationError;
pub use instructions::*;
pub use state::*;

declare_id!(cyxwiz_common::ids::REPUTATION);

#[program]
pub mod reputation_manager {
    use super::*;

    // ── admin / governance ────────────────────────────────────────────────
    pub fn initialize(
        ctx: Context<Initialize>,
        admin: Pubkey,
        updater: Pubkey,
        params: ReputationParams,
    ) -> Result<()> {
        ctx.accounts.handle(admin, updater, params, &ctx.bumps)
    }
    pub fn update_params(ctx: Context<UpdateConfig>, params: ReputationParams) -> Result<()> {
        ctx.accounts.update_params(params)
    }
    pub fn set_admin(ctx: Context<UpdateConfig>, admin: Pubkey) -> Result<()> {
        ctx.accounts.set_admin(admin)
    }
    pub fn set_updater(ctx: Context<UpdateConfig>, updater: Pubkey) -> Result<()> {
        ctx.accounts.set_updater(updater)
    }

    // ── anyone (pays the rent) ────────────────────────────────────────────
    pub fn init_node_reputation(ctx: Context<InitNodeReputation>) -> Result<()> {
        let bump = ctx.bumps.reputation;
        ctx.accounts.handle(bump)
    }
    pub fn init_user_reputation(ctx: Context<InitUserReputation>) -> Result<()> {
        let bump = ctx.bumps.reputation;
        ctx.accounts.handle(bump)
    }

    // ── coordinator (updater key) ─────────────────────────────────────────
    pub fn batch_update<'info>(
        ctx: Context<'info, BatchUpdate<'info>>,
        batch_id: u64,
        updates: Vec<ReputationUpdate>,
    ) -> Result<()> {
        instructions::apply_batch(ctx.accounts, ctx.remaining_accounts, batch_id, &updates)
    }

    // ── JobEscrow and Dispute/DAO (CPI, signed by their PDAs) ─────────────
    pub fn record_rating(ctx: Context<RecordRating>, stars: u8) -> Result<()> {
        ctx.accounts.handle(stars)
    }
    pub fn apply_verdict(ctx: Context<ApplyVerdict>, effect: VerdictEffect) -> Result<()> {
        ctx.accounts.handle(effect)
    }
    pub fn record_invalid_proof(ctx: Context<RecordInvalidProof>) -> Result<()> {
        ctx.accounts.handle()
    }
}
