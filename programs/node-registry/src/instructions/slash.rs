//! `slash`: punitive slashes outside the job flow. The Dispute/DAO verdict PDA slashes
//! for fraud (and bans); the admin may slash for any reason (incident response). JobEscrow
//! slashes only through `record_outcome`.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{Mint, TokenAccount, TokenInterface};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::{DisputeSlashed, NodeBanned, NodeSuspended},
    instructions::{SlashAccounts, apply_slash, pay_from_vault},
    state::{NodeAccount, NodeStatus, RegistryConfig, SlashReason},
};

#[derive(Accounts)]
pub struct Slash<'info> {
    pub authority: Signer<'info>,
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

impl Slash<'_> {
    pub fn handle(&mut self, reason: SlashReason) -> Result<()> {
        let signer = self.authority.key();
        let allowed = signer == self.config.admin
            || (signer == self.config.dispute_authority && reason == SlashReason::Fraud);
        require!(allowed, RegistryError::UnauthorizedSlasher);

        let now = Clock::get()?.unix_timestamp;
        let params = self.config.params;
        let rate = match reason {
            // Outside a job there is no job size; the top tier's rate is the severe bound.
            SlashReason::Timeout => params.stake_tiers[3].failure_slash_bps,
            SlashReason::InvalidProof => params.invalid_proof_slash_bps,
            SlashReason::Fraud => params.fraud_slash_bps,
            SlashReason::RepeatedFailures => params.repeated_failure_slash_bps,
        };
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
        require!(node.stake > 0, RegistryError::NothingToSlash);
        apply_slash(node_key, node, &mut config, &accounts, reason, rate)?;
        match reason {
            SlashReason::Fraud => {
                node.status = NodeStatus::Banned;
                emit_event!(NodeBanned { node: node_key });
            }
            SlashReason::RepeatedFailures => {
                node.suspend(now, &params)?;
                emit_event!(NodeSuspended {
                    node: node_key,
                    until: node.suspended_until
                });
            }
            SlashReason::Timeout | SlashReason::InvalidProof => {}
        }
        self.config.total_staked = config.total_staked;
        Ok(())
    }
}

/// A dispute verdict against the node: the fraud rate of its stake is split between the
/// wronged user (`to_user_bps`) and the DAO treasury, and the node is banned. Only the
/// Dispute/DAO verdict PDA may call it.
///
/// `repay` is what the user must get back first, for fraud found after the job was paid
/// (0 for a dispute on a running job, whose escrow refunds the user): the slash is at
/// least `repay` (capped at the stake), the user receives `repay` from it and
/// `to_user_bps` of the rest.
#[derive(Accounts)]
pub struct SlashForDispute<'info> {
    #[account(address = config.dispute_authority @ RegistryError::UnauthorizedSlasher)]
    pub dispute_authority: Signer<'info>,
    #[account(mut, seeds = [seeds::REGISTRY_CONFIG], bump = config.bump)]
    pub config: Account<'info, RegistryConfig>,
    #[account(mut, seeds = [seeds::NODE, node.owner.as_ref()], bump = node.bump)]
    pub node: Account<'info, NodeAccount>,
    #[account(mut, address = config.stake_vault @ RegistryError::WrongVault)]
    pub stake_vault: InterfaceAccount<'info, TokenAccount>,
    #[account(address = config.stake_mint @ RegistryError::WrongMint)]
    pub stake_mint: InterfaceAccount<'info, Mint>,
    #[account(mut, constraint = user_token.mint == config.stake_mint @ RegistryError::WrongMint)]
    pub user_token: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, constraint = dao_treasury.mint == config.stake_mint @ RegistryError::WrongMint)]
    pub dao_treasury: InterfaceAccount<'info, TokenAccount>,
    pub token_program: Interface<'info, TokenInterface>,
}

impl SlashForDispute<'_> {
    pub fn handle(&mut self, to_user_bps: u16, repay: u64) -> Result<()> {
        require!(
            to_user_bps <= cyxwiz_common::bps::MAX_BPS,
            RegistryError::InvalidParams
        );
        let node_key = self.node.key();
        let params = self.config.params;
        let (total, to_user) = if self.node.stake > 0 {
            let split = self
                .node
                .slash_at_least(params.fraud_slash_bps, repay, &params)?;
            let repaid = repay.min(split.total);
            let share = cyxwiz_common::bps::share(split.total - repaid, to_user_bps)
                .ok_or(RegistryError::InvalidParams)?;
            (split.total, repaid + share)
        } else {
            (0, 0)
        };
        let to_treasury = total - to_user;
        self.config.total_staked = self
            .config
            .total_staked
            .checked_sub(total)
            .ok_or(RegistryError::Overflow)?;
        for (to, amount) in [
            (self.user_token.to_account_info(), to_user),
            (self.dao_treasury.to_account_info(), to_treasury),
        ] {
            pay_from_vault(
                &self.config,
                &self.token_program.to_account_info(),
                &self.stake_vault.to_account_info(),
                &self.stake_mint.to_account_info(),
                to,
                amount,
                self.stake_mint.decimals,
            )?;
        }
        self.node.status = NodeStatus::Banned;
        emit_event!(DisputeSlashed {
            node: node_key,
            amount: total,
            to_user,
            to_treasury,
            remaining_stake: self.node.stake,
        });
        emit_event!(NodeBanned { node: node_key });
        Ok(())
    }
}
