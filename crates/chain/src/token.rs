//! SPL Token (and Token-2022) instructions the off-chain components need around the
//! CYXWIZ mint: token accounts, checked transfers, and SOL transfers. Works for either
//! token program through `Addresses::token_program`.

use anchor_lang::{prelude::Pubkey, solana_program::system_instruction};
use spl_token_2022_interface::instruction as token_ix;

use crate::{Addresses, ChainError, Instruction};

/// Bytes of a token account without extensions.
pub const ACCOUNT_LEN: usize = 165;

fn err(e: anchor_lang::prelude::ProgramError) -> ChainError {
    ChainError::Signing(format!("token instruction: {e}"))
}

/// A SOL transfer.
pub fn transfer_lamports(from: &Pubkey, to: &Pubkey, lamports: u64) -> Instruction {
    system_instruction::transfer(from, to, lamports)
}

/// Creates the token account `account` (a new keypair that must sign) for `owner` on
/// `mint` of `token_program`, rent paid by `payer`.
pub fn create_token_account(
    payer: &Pubkey,
    account: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
    owner: &Pubkey,
    rent: u64,
) -> Result<Vec<Instruction>, ChainError> {
    Ok(vec![
        system_instruction::create_account(payer, account, rent, ACCOUNT_LEN as u64, token_program),
        token_ix::initialize_account3(token_program, account, mint, owner).map_err(err)?,
    ])
}

/// A checked transfer of `amount` CYXWIZ base units from `from` (owned by `authority`).
pub fn transfer(
    addresses: &Addresses,
    from: &Pubkey,
    to: &Pubkey,
    authority: &Pubkey,
    amount: u64,
) -> Result<Instruction, ChainError> {
    token_ix::transfer_checked(
        &addresses.token_program,
        from,
        &addresses.mint,
        to,
        authority,
        &[],
        amount,
        cyxwiz_common::units::DECIMALS,
    )
    .map_err(err)
}
