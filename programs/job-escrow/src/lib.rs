//! JobEscrow: a training job's payment, locked before work starts and released only on
//! verified completion.
//!
//! Lifecycle: `create_escrow` (user; Locked) → `assign_node` (coordinator; Assigned,
//! checked against NodeRegistry on-chain; or `assign_node_by_user`, the same checks, once
//! the coordinator has let its window pass) → `accept_job` (node; InProgress, stake lock
//! extended by CPI) → `anchor_checkpoint`* (node; progress on-chain) → one terminal state:
//! `complete_payment` (Completed: node paid, platform fee split; or `submit_proof`, which
//! also records an invalid proof: Refunded, node slashed), `cancel` (Cancelled,
//! before acceptance), `refund` (Refunded, by anchored progress), `timeout_refund`
//! (TimedOut, node slashed). `freeze_for_dispute` (Disputed) hands the escrow to the
//! Dispute/DAO program, which settles it with `resolve_dispute` — a running job, or a
//! completed one within its challenge window (the node's stake stays locked until
//! `release_stake`, and a verdict against it repays the user from the stake). `close_escrow` returns rent
//! after a grace period; `rate_node` lets the user rate a completed job once.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod constants;
pub mod error;
pub mod events;
pub mod instructions;
pub mod state;
pub mod verifier;

pub use error::EscrowError;
pub use instructions::*;
pub use state::*;

declare_id!(cyxwiz_common::ids::JOB_ESCROW);

#[program]
pub mod job_escrow {
    use super::*;

    // ── admin / governance ────────────────────────────────────────────────
    pub fn initialize(
        ctx: Context<Initialize>,
        admin: Pubkey,
        coordinator: Pubkey,
        params: EscrowParams,
    ) -> Result<()> {
        ctx.accounts.handle(admin, coordinator, params, &ctx.bumps)
    }
    pub fn update_params(ctx: Context<UpdateConfig>, params: EscrowParams) -> Result<()> {
        ctx.accounts.update_params(params)
    }
    pub fn set_admin(ctx: Context<UpdateConfig>, new_admin: Pubkey) -> Result<()> {
        ctx.accounts.set_admin(new_admin)
    }
    pub fn set_coordinator(ctx: Context<UpdateConfig>, coordinator: Pubkey) -> Result<()> {
        ctx.accounts.set_coordinator(coordinator)
    }
    pub fn set_treasury(ctx: Context<SetTreasury>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn set_paused(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
        ctx.accounts.handle(paused)
    }

    // ── user (job submitter) ──────────────────────────────────────────────
    pub fn create_escrow(
        ctx: Context<CreateEscrow>,
        job_id: [u8; 16],
        amount: u64,
        epochs_required: u32,
        timeout_secs: i64,
        estimated_secs: u32,
    ) -> Result<()> {
        ctx.accounts.handle(
            job_id,
            amount,
            epochs_required,
            timeout_secs,
            estimated_secs,
            &ctx.bumps,
        )
    }
    pub fn cancel(ctx: Context<Cancel>) -> Result<()> {
        ctx.accounts.handle()
    }
    /// Fallback when the coordinator has not assigned within `user_assign_after_secs`.
    pub fn assign_node_by_user(ctx: Context<AssignNodeByUser>) -> Result<()> {
        ctx.accounts.handle()
    }

    // ── coordinator ───────────────────────────────────────────────────────
    pub fn assign_node(ctx: Context<AssignNode>) -> Result<()> {
        ctx.accounts.handle()
    }

    // ── node ──────────────────────────────────────────────────────────────
    pub fn accept_job(ctx: Context<AcceptJob>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn anchor_checkpoint(
        ctx: Context<AnchorCheckpoint>,
        epoch: u32,
        merkle_root: [u8; 32],
    ) -> Result<()> {
        ctx.accounts.handle(epoch, merkle_root)
    }
    pub fn complete_payment(
        ctx: Context<CompletePayment>,
        proof: [u8; 256],
        final_weights_hash: [u8; 32],
        merkle_root: [u8; 32],
        epochs: u32,
    ) -> Result<()> {
        ctx.accounts.handle(
            &proof,
            Claimed {
                final_weights_hash,
                merkle_root,
                epochs,
            },
        )
    }
    /// `complete_payment` with a binding verdict: an invalid proof is recorded (full
    /// refund, invalid-proof slash, −100 reputation) instead of failing.
    pub fn submit_proof(
        ctx: Context<SubmitProof>,
        proof: [u8; 256],
        final_weights_hash: [u8; 32],
        merkle_root: [u8; 32],
        epochs: u32,
    ) -> Result<()> {
        ctx.accounts.handle(
            &proof,
            Claimed {
                final_weights_hash,
                merkle_root,
                epochs,
            },
        )
    }

    // ── user, node or coordinator ─────────────────────────────────────────
    pub fn refund(ctx: Context<Refund>) -> Result<()> {
        ctx.accounts.handle()
    }

    // ── anyone ────────────────────────────────────────────────────────────
    pub fn timeout_refund(ctx: Context<TimeoutRefund>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn timeout_refund_with_slash(ctx: Context<TimeoutRefundWithSlash>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn close_escrow(ctx: Context<CloseEscrow>) -> Result<()> {
        ctx.accounts.handle()
    }
    /// After a completed job's challenge window: the job's hold on the node's stake ends.
    pub fn release_stake(ctx: Context<ReleaseStake>) -> Result<()> {
        ctx.accounts.handle()
    }

    // ── user, after completion ────────────────────────────────────────────
    pub fn rate_node(ctx: Context<RateNode>, stars: u8) -> Result<()> {
        ctx.accounts.handle(stars)
    }

    // ── Dispute/DAO (CPI, signed by its dispute-authority PDA) ───────────
    pub fn freeze_for_dispute(ctx: Context<FreezeForDispute>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn resolve_dispute(
        ctx: Context<ResolveDispute>,
        resolution: DisputeResolution,
    ) -> Result<()> {
        ctx.accounts.handle(resolution)
    }
}
