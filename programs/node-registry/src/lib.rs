//! NodeRegistry: compute-node operators stake CYXWIZ to take jobs.
//!
//! Stakes sit in one program-owned vault; each node's share is its `NodeAccount::stake`.
//! Stakes are locked for 30 days after registration and for 7 days after each job is
//! accepted or finished, can be withdrawn only after a 14-day cooldown, and are slashed
//! (80 % to the insurance pool, 20 % burned) on timeouts, invalid proofs, repeated
//! failures and fraud. JobEscrow drives job locks and outcomes through CPIs signed by its
//! `escrow-authority` PDA; the Dispute/DAO program slashes for fraud through its
//! `dispute-authority` PDA; both addresses are derived from the program ids, never set by
//! an admin.
#![allow(unexpected_cfgs)]

use anchor_lang::prelude::*;

pub mod constants;
pub mod error;
pub mod events;
pub mod instructions;
pub mod state;

pub use error::RegistryError;
pub use instructions::*;
pub use state::*;

declare_id!(cyxwiz_common::ids::NODE_REGISTRY);

#[program]
pub mod node_registry {
    use super::*;

    // ── admin / governance ────────────────────────────────────────────────
    pub fn initialize(ctx: Context<Initialize>, params: RegistryParams) -> Result<()> {
        ctx.accounts.handle(params, &ctx.bumps)
    }
    pub fn update_params(ctx: Context<UpdateConfig>, params: RegistryParams) -> Result<()> {
        ctx.accounts.update_params(params)
    }
    pub fn set_admin(ctx: Context<UpdateConfig>, new_admin: Pubkey) -> Result<()> {
        ctx.accounts.set_admin(new_admin)
    }
    pub fn set_insurance_vault(ctx: Context<SetInsuranceVault>) -> Result<()> {
        ctx.accounts.handle()
    }
    pub fn set_paused(ctx: Context<SetPaused>, paused: bool) -> Result<()> {
        ctx.accounts.handle(paused)
    }
    pub fn slash(ctx: Context<Slash>, reason: SlashReason) -> Result<()> {
        ctx.accounts.handle(reason)
    }

    // ── node operator ─────────────────────────────────────────────────────
    pub fn register_node(
        ctx: Context<RegisterNode>,
        node_id: [u8; 32],
        stake: u64,
        capabilities: Capabilities,
    ) -> Result<()> {
        ctx.accounts
            .handle(node_id, stake, capabilities, &ctx.bumps)
    }
    pub fn stake_more(ctx: Context<StakeMore>, amount: u64) -> Result<()> {
        ctx.accounts.handle(amount)
    }
    pub fn update_heartbeat(ctx: Context<NodeOwnerAction>) -> Result<()> {
        ctx.accounts.heartbeat()
    }
    pub fn update_capabilities(
        ctx: Context<NodeOwnerAction>,
        capabilities: Capabilities,
    ) -> Result<()> {
        ctx.accounts.update_capabilities(capabilities)
    }
    pub fn request_unstake(ctx: Context<NodeOwnerAction>) -> Result<()> {
        ctx.accounts.request_unstake()
    }
    pub fn cancel_unstake(ctx: Context<NodeOwnerAction>) -> Result<()> {
        ctx.accounts.cancel_unstake()
    }
    pub fn withdraw_stake(ctx: Context<WithdrawStake>) -> Result<()> {
        ctx.accounts.handle()
    }

    // ── JobEscrow (CPI, signed by its escrow-authority PDA) ──────────────
    pub fn lock_for_job(ctx: Context<LockForJob>, job_amount: u64) -> Result<()> {
        ctx.accounts.handle(job_amount)
    }
    pub fn record_outcome(
        ctx: Context<RecordOutcome>,
        job_amount: u64,
        outcome: JobOutcome,
    ) -> Result<()> {
        ctx.accounts.handle(job_amount, outcome)
    }

    // ── Dispute/DAO (CPI, signed by its dispute-authority PDA) ───────────
    pub fn slash_for_dispute(
        ctx: Context<SlashForDispute>,
        to_user_bps: u16,
        repay: u64,
    ) -> Result<()> {
        ctx.accounts.handle(to_user_bps, repay)
    }
}
