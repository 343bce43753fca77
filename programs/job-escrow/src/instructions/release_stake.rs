//! `release_stake`: once a completed job's challenge window has closed without a dispute,
//! anyone may tell NodeRegistry the job is over (`JobOutcome::Completed`: the job's hold
//! on the node's stake ends, the completion is counted). Until then the job counted as
//! active there, so the node could not unstake.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenInterface};
use cyxwiz_common::{emit_event, seeds};
use node_registry::JobOutcome;

use super::shared::*;
use crate::{
    error::EscrowError,
    events::StakeReleased,
    state::{Escrow, EscrowConfig},
};

#[derive(Accounts)]
pub struct ReleaseStake<'info> {
    pub caller: Signer<'info>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
    #[account(
        mut,
        seeds = [seeds::ESCROW, escrow.job_id.as_ref()],
        bump = escrow.bump,
        constraint = registry.node.owner == escrow.node @ EscrowError::WrongNode,
    )]
    pub escrow: Account<'info, Escrow>,
    #[account(mut, address = escrow.mint @ EscrowError::WrongMint)]
    pub mint: InterfaceAccount<'info, Mint>,
    pub registry: RegistryHooks<'info>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl ReleaseStake<'_> {
    pub fn handle(&mut self) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        self.escrow.check_releasable(now)?;
        self.registry.record_outcome(
            &self.mint,
            &self.token_program,
            self.escrow.amount,
            JobOutcome::Completed,
            self.config.authority_bump,
        )?;
        let escrow = &mut self.escrow;
        escrow.stake_released = true;
        emit_event!(StakeReleased {
            job_id: escrow.job_id,
            node: escrow.node
        });
        Ok(())
    }
}
