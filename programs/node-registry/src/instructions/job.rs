//! Job lifecycle hooks JobEscrow calls by CPI, signed by its `escrow-authority` PDA:
//! `lock_for_job` when a node accepts a job, `record_outcome` when the job ends.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::{JobLocked, JobReleased, NodeSuspended},
    instructions::{SlashAccounts, apply_slash},
    state::{JobOutcome, NodeAccount, RegistryConfig, SlashReason},
};

#[derive(Accounts)]
pub struct LockForJob<'info> {
    #[account(address = config.escrow_authority @ RegistryError::NotEscrowAuthority)]
    pub escrow_authority: Signer<'info>,
    #[account(seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    #[account(mut, seeds = [seeds::NODE, node.owner.as_ref()], bump = node.bump)]
    pub node: Account<'info, NodeAccount>,
}

impl LockForJob<'_> {
    /// Re-checks eligibility at acceptance (the node may have been slashed or suspended
    /// since assignment), then counts the job and extends the lock.
    pub fn handle(&mut self, job_amount: u64) -> Result<()> {
        require!(!self.config.paused, RegistryError::Paused);
        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;
        let node = &mut self.node;
        node.check_eligible(now, &params, job_amount)?;
        node.active_jobs = node
            .active_jobs
            .checked_add(1)
            .ok_or(RegistryError::Overflow)?;
        node.extend_lock(now, &params)?;
        emit_event!(JobLocked {
            node: node.key(),
            active_jobs: node.active_jobs,
            locked_until: node.locked_until
        });
        Ok(())
    }
}

#[derive(Accounts)]
pub struct RecordOutcome<'info> {
    #[account(address = config.escrow_authority @ RegistryError::NotEscrowAuthority)]
    pub escrow_authority: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    #[account(mut, seeds = [seeds::NODE, node.owner.as_ref()], bump = node.bump)]
    pub node: Account<'info, NodeAccount>,
    #[account(mut, address = config.stake_vault @ RegistryError::WrongVault)]
    pub stake_vault: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = config.insurance_vault @ RegistryError::WrongVault)]
    pub insurance_vault: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = config.stake_mint @ RegistryError::WrongMint)]
    pub stake_mint: InterfaceAccount<'info, Mint>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl RecordOutcome<'_> {
    /// Releases the job's hold and applies the outcome's consequences: counters, the
    /// timeout or invalid-proof slash, and the repeated-failure slash with suspension.
    /// Never blocked by the pause: releasing a job must always be possible.
    pub fn handle(&mut self, job_amount: u64, outcome: JobOutcome) -> Result<()> {
        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;
        let node_key = self.node.key();
        let accounts = SlashAccounts {
            config: &self.config,
            stake_vault: self.stake_vault.to_account_info(),
            insurance_vault: self.insurance_vault.to_account_info(),
            stake_mint: self.stake_mint.to_account_info(),
            token_program: self.token_program.to_account_info(),
            decimals: self.stake_mint.decimals,
        };
        let mut config = (*self.config).clone();
        let node = &mut self.node;

        node.active_jobs = node
            .active_jobs
            .checked_sub(1)
            .ok_or(RegistryError::NoActiveJob)?;
        node.extend_lock(now, &params)?;
        if outcome.is_failure() {
            node.jobs_failed = node
                .jobs_failed
                .checked_add(1)
                .ok_or(RegistryError::Overflow)?;
        } else {
            node.jobs_completed = node
                .jobs_completed
                .checked_add(1)
                .ok_or(RegistryError::Overflow)?;
        }

        let direct = match outcome {
            JobOutcome::TimedOut => Some((
                SlashReason::Timeout,
                params.tier_for(job_amount).failure_slash_bps,
            )),
            JobOutcome::InvalidProof => {
                Some((SlashReason::InvalidProof, params.invalid_proof_slash_bps))
            }
            _ => None,
        };
        if let Some((reason, rate)) = direct
            && node.stake > 0
        {
            apply_slash(node_key, node, &mut config, &accounts, reason, rate)?;
        }
        if outcome.counts_as_repeated_failure() && node.record_failure(now, &params) {
            if node.stake > 0 {
                apply_slash(
                    node_key,
                    node,
                    &mut config,
                    &accounts,
                    SlashReason::RepeatedFailures,
                    params.repeated_failure_slash_bps,
                )?;
            }
            node.suspend(now, &params)?;
            emit_event!(NodeSuspended {
                node: node_key,
                until: node.suspended_until
            });
        }
        self.config.total_staked = config.total_staked;
        emit_event!(JobReleased {
            node: node_key,
            outcome,
            active_jobs: self.node.active_jobs,
            locked_until: self.node.locked_until,
        });
        Ok(())
    }
}
