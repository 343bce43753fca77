//! Account groups several instructions share, and the transfers out of a job's vault.

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{
    self, Burn, Mint, TokenAccount, TokenInterface, TransferChecked,
};
use cyxwiz_common::seeds;
use node_registry::{JobOutcome, NodeAccount, RegistryConfig, program::NodeRegistry};
use reputation_manager::{NodeReputation, ReputationConfig, Tier};

use crate::{
    error::EscrowError,
    state::{Escrow, EscrowConfig, EscrowParams, FeeParts},
};

/// The platform's fee destinations, pinned to the config.
#[derive(Accounts)]
pub struct Treasury<'info> {
    #[account(mut, address = config.staking_treasury @ EscrowError::WrongTreasury)]
    pub staking: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = config.development_treasury @ EscrowError::WrongTreasury)]
    pub development: InterfaceAccount<'info, TokenAccount>,
    #[account(mut, address = config.liquidity_treasury @ EscrowError::WrongTreasury)]
    pub liquidity: InterfaceAccount<'info, TokenAccount>,
    #[account(seeds = [seeds::ESCROW_CONFIG], bump = config.bump)]
    pub config: Account<'info, EscrowConfig>,
}

/// NodeRegistry accounts for the job-outcome CPI, signed by our `escrow-authority` PDA.
#[derive(Accounts)]
pub struct RegistryHooks<'info> {
    /// CHECK: this program's PDA; it only signs CPIs into NodeRegistry.
    #[account(seeds = [seeds::ESCROW_AUTHORITY], bump)]
    pub escrow_authority: UncheckedAccount<'info>,
    #[account(
        mut,
        seeds = [seeds::REGISTRY_CONFIG],
        bump = registry_config.bump,
        seeds::program = node_registry::ID,
    )]
    pub registry_config: Account<'info, RegistryConfig>,
    #[account(
        mut,
        seeds = [seeds::NODE, node.owner.as_ref()],
        bump = node.bump,
        seeds::program = node_registry::ID,
    )]
    pub node: Account<'info, NodeAccount>,
    /// CHECK: NodeRegistry checks it against its config.
    #[account(mut)]
    pub stake_vault: UncheckedAccount<'info>,
    /// CHECK: NodeRegistry checks it against its config.
    #[account(mut)]
    pub insurance_vault: UncheckedAccount<'info>,
    pub registry_program: Program<'info, NodeRegistry>,
}

impl<'info> RegistryHooks<'info> {
    /// Reports the job's outcome to NodeRegistry (releases the job hold; slashes on
    /// timeout or invalid proof). `stake_mint` is the escrow's mint, which must be the
    /// registry's stake mint.
    pub fn record_outcome(
        &self,
        stake_mint: &InterfaceAccount<'info, Mint>,
        token_program: &Interface<'info, TokenInterface>,
        job_amount: u64,
        outcome: JobOutcome,
        authority_bump: u8,
    ) -> Result<()> {
        require_keys_eq!(
            self.registry_config.stake_mint,
            stake_mint.key(),
            EscrowError::WrongMint
        );
        let bump = [authority_bump];
        let signer: &[&[&[u8]]] = &[&[seeds::ESCROW_AUTHORITY, &bump]];
        node_registry::cpi::record_outcome(
            CpiContext::new_with_signer(
                node_registry::ID,
                node_registry::cpi::accounts::RecordOutcome {
                    escrow_authority: self.escrow_authority.to_account_info(),
                    config: self.registry_config.to_account_info(),
                    node: self.node.to_account_info(),
                    stake_vault: self.stake_vault.to_account_info(),
                    insurance_vault: self.insurance_vault.to_account_info(),
                    stake_mint: stake_mint.to_account_info(),
                    token_program: token_program.to_account_info(),
                },
                signer,
            ),
            job_amount,
            outcome,
        )
    }
}

/// The node's reputation and the tier table, read from ReputationManager.
#[derive(Accounts)]
pub struct ReputationView<'info> {
    #[account(
        seeds = [seeds::REPUTATION_CONFIG],
        bump = reputation_config.bump,
        seeds::program = reputation_manager::ID,
    )]
    pub reputation_config: Account<'info, ReputationConfig>,
    #[account(
        seeds = [seeds::NODE_REPUTATION, node_reputation.owner.as_ref()],
        bump = node_reputation.bump,
        seeds::program = reputation_manager::ID,
    )]
    pub node_reputation: Account<'info, NodeReputation>,
}

impl ReputationView<'_> {
    fn tier_of(&self, node: &Pubkey) -> Result<Tier> {
        require_keys_eq!(
            self.node_reputation.owner,
            *node,
            EscrowError::WrongReputation
        );
        Ok(self
            .reputation_config
            .params
            .tier_for(self.node_reputation.score))
    }

    /// Requires `node`'s tier to allow a job paying `amount` (spec: Bronze < 10, Silver
    /// < 50, Gold < 200 tokens, Diamond any).
    pub fn check_job_size(&self, node: &Pubkey, amount: u64) -> Result<()> {
        let tier = self.tier_of(node)?;
        require!(
            amount <= self.reputation_config.params.tier_max_job_amount[tier.index()],
            EscrowError::TierTooLow
        );
        Ok(())
    }

    /// The platform fee for `node`: the Diamond rate for Diamond nodes.
    pub fn fee_bps(&self, node: &Pubkey, params: &EscrowParams) -> Result<u16> {
        Ok(if self.tier_of(node)? == Tier::Diamond {
            params.diamond_fee_bps
        } else {
            params.fee_bps
        })
    }
}

/// Moves tokens out of one job's vault, signed by the escrow PDA that owns it.
pub struct VaultPayer<'a, 'info> {
    pub escrow: &'a Account<'info, Escrow>,
    pub vault: &'a InterfaceAccount<'info, TokenAccount>,
    pub mint: &'a InterfaceAccount<'info, Mint>,
    pub token_program: &'a Interface<'info, TokenInterface>,
}

impl<'info> VaultPayer<'_, 'info> {
    fn with_signer<R>(&self, f: impl FnOnce(&[&[&[u8]]]) -> R) -> R {
        let bump = [self.escrow.bump];
        let seeds: &[&[u8]] = &[seeds::ESCROW, &self.escrow.job_id, &bump];
        f(&[seeds])
    }

    /// Transfers `amount` to `to` (no-op for 0).
    pub fn pay(&self, to: &InterfaceAccount<'info, TokenAccount>, amount: u64) -> Result<()> {
        if amount == 0 {
            return Ok(());
        }
        self.with_signer(|signer| {
            token_interface::transfer_checked(
                CpiContext::new_with_signer(
                    self.token_program.key(),
                    TransferChecked {
                        from: self.vault.to_account_info(),
                        mint: self.mint.to_account_info(),
                        to: to.to_account_info(),
                        authority: self.escrow.to_account_info(),
                    },
                    signer,
                ),
                amount,
                self.mint.decimals,
            )
        })
    }

    /// Burns `amount` from the vault (no-op for 0).
    pub fn burn(&self, amount: u64) -> Result<()> {
        if amount == 0 {
            return Ok(());
        }
        self.with_signer(|signer| {
            token_interface::burn(
                CpiContext::new_with_signer(
                    self.token_program.key(),
                    Burn {
                        mint: self.mint.to_account_info(),
                        from: self.vault.to_account_info(),
                        authority: self.escrow.to_account_info(),
                    },
                    signer,
                ),
                amount,
            )
        })
    }

    /// Pays a platform fee out to the treasury accounts and burns the burn share.
    pub fn pay_fee(&self, treasury: &Treasury<'info>, parts: FeeParts) -> Result<()> {
        self.pay(&treasury.staking, parts.staking)?;
        self.pay(&treasury.development, parts.development)?;
        self.pay(&treasury.liquidity, parts.liquidity)?;
        self.burn(parts.burn)
    }
}

/// Requires a token account to hold `mint` and belong to `owner`.
pub fn check_token_account(
    account: &InterfaceAccount<'_, TokenAccount>,
    mint: &Pubkey,
    owner: &Pubkey,
) -> Result<()> {
    require_keys_eq!(account.mint, *mint, EscrowError::WrongMint);
    require_keys_eq!(account.owner, *owner, EscrowError::WrongTokenOwner);
    Ok(())
}
