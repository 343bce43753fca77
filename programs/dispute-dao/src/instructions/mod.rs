//! Instructions, grouped by lifecycle: setup, deposits, disputes, verdict execution,
//! proposals.

pub mod admin;
pub mod deposits;
pub mod disputes;
pub mod finalize;
pub mod initialize;
pub mod pda;
pub mod proposals;

pub use admin::*;
pub use deposits::*;
pub use disputes::*;
pub use finalize::*;
pub use initialize::*;
pub use proposals::*;

use anchor_lang::prelude::*;
use anchor_spl::token_interface::{self, TransferChecked};
use cyxwiz_common::seeds;

use crate::state::DaoConfig;

/// Transfers `amount` out of one of the DAO's vaults (deposits, treasury, appeals), signed
/// by the config PDA that owns all three.
pub(crate) fn pay_from_vault<'info>(
    config: &Account<'info, DaoConfig>,
    token_program: AccountInfo<'info>,
    vault: AccountInfo<'info>,
    mint: AccountInfo<'info>,
    to: AccountInfo<'info>,
    amount: u64,
    decimals: u8,
) -> Result<()> {
    let bump = [config.bump];
    let signer: &[&[&[u8]]] = &[&[seeds::DAO_CONFIG, &bump]];
    token_interface::transfer_checked(
        CpiContext::new_with_signer(
            token_program.key(),
            TransferChecked {
                from: vault,
                mint,
                to,
                authority: config.to_account_info(),
            },
            signer,
        ),
        amount,
        decimals,
    )
}
