//! One module per instruction: its accounts struct and handler.

pub mod admin;
pub mod initialize;
pub mod job;
pub mod node_owner;
pub mod register_node;
pub mod slash;
pub mod stake_more;
pub mod withdraw_stake;

pub use admin::*;
pub use initialize::*;
pub use job::*;
pub use node_owner::*;
pub use register_node::*;
pub use slash::*;
pub use stake_more::*;
pub use withdraw_stake::*;

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{self, Burn, TransferChecked};
use cyxwiz_common::{emit_event, seeds};

use crate::{
    error::RegistryError,
    events::NodeSlashed,
    state::{NodeAccount, RegistryConfig, SlashReason, SlashSplit},
};

/// Accounts needed to move slashed stake out of the vault.
pub struct SlashAccounts<'a, 'info> {
    pub config: &'a Account<'info, RegistryConfig>,
    pub stake_vault: AccountInfo<'info>,
    pub insurance_vault: AccountInfo<'info>,
    pub stake_mint: AccountInfo<'info>,
    pub token_program: AccountInfo<'info>,
    pub decimals: u8,
}

impl SlashAccounts<'_, '_> {
    /// Moves a slash out of the vault: insurance share to the insurance pool, the rest
    /// burned. Both signed by the config PDA, the vault's authority.
    pub fn execute(&self, split: SlashSplit) -> Result<()> {
        pay_from_vault(
            self.config,
            &self.token_program,
            &self.stake_vault,
            &self.stake_mint,
            self.insurance_vault.clone(),
            split.insurance,
            self.decimals,
        )?;
        if split.burned > 0 {
            let bump = [self.config.bump];
            let signer: &[&[&[u8]]] = &[&[seeds::REGISTRY_CONFIG, &bump]];
            token_interface::burn(
                CpiContext::new_with_signer(
                    self.token_program.key(),
                    Burn {
                        mint: self.stake_mint.clone(),
                        from: self.stake_vault.clone(),
                        authority: self.config.to_account_info(),
                    },
                    signer,
                ),
                split.burned,
            )?;
        }
        Ok(())
    }
}

/// Transfers `amount` (no-op for 0) out of the stake vault, signed by the config PDA that
/// owns it.
pub fn pay_from_vault<'info>(
    config: &Account<'info, RegistryConfig>,
    token_program: &AccountInfo<'info>,
    stake_vault: &AccountInfo<'info>,
    stake_mint: &AccountInfo<'info>,
    to: AccountInfo<'info>,
    amount: u64,
    decimals: u8,
) -> Result<()> {
    if amount == 0 {
        return Ok(());
    }
    let bump = [config.bump];
    let signer: &[&[&[u8]]] = &[&[seeds::REGISTRY_CONFIG, &bump]];
    token_interface::transfer_checked(
        CpiContext::new_with_signer(
            token_program.key(),
            TransferChecked {
                from: stake_vault.clone(),
                mint: stake_mint.clone(),
                to,
                authority: config.to_account_info(),
            },
            signer,
        ),
        amount,
        decimals,
    )
}

/// Slashes `node` at `rate_bps`, moves the tokens and emits the event. Returns the split.
pub fn apply_slash(
    node_key: Pubkey,
    node: &mut NodeAccount,
    config: &mut RegistryConfig,
    accounts: &SlashAccounts<'_, '_>,
    reason: SlashReason,
    rate_bps: u16,
) -> Result<SlashSplit> {
    let split = node.slash(rate_bps, &config.params)?;
    config.total_staked = config
        .total_staked
        .checked_sub(split.total)
        .ok_or(RegistryError::Overflow)?;
    accounts.execute(split)?;
    emit_event!(NodeSlashed {
        node: node_key,
        reason,
        amount: split.total,
        to_insurance: split.insurance,
        burned: split.burned,
        remaining_stake: node.stake,
    });
    Ok(split)
}

/// Moves `amount` from a user's token account into the stake vault.
pub fn deposit_stake<'info>(
    token_program: &AccountInfo<'info>,
    from: AccountInfo<'info>,
    mint: AccountInfo<'info>,
    vault: AccountInfo<'info>,
    owner: AccountInfo<'info>,
    amount: u64,
    decimals: u8,
) -> Result<()> {
    token_interface::transfer_checked(
        CpiContext::new(
            token_program.key(),
            TransferChecked {
                from,
                mint,
                to: vault,
                authority: owner,
            },
        ),
        amount,
        decimals,
    )
}
