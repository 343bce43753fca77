//! The CYXWIZ token: a fixed supply of 1,000,000,000 with 9 decimals, minted once to the
//! spec's distribution buckets, after which the mint authority is revoked so no more can
//! ever be created. Works with classic SPL Token and Token-2022.

use anchor_lang::solana_program::program_pack::Pack;
use anchor_lang::{prelude::Pubkey, solana_program::system_instruction};
use cyxwiz_common::{bps, units};
use solana_keypair::Keypair;
use solana_signer::Signer;
use spl_token_2022_interface::{
    instruction::{self as token_ix, AuthorityType},
    state::Mint as MintState,
};

use crate::{DeployError, Deployment, Step};

/// The spec's distribution table (bps of the total supply).
pub const DISTRIBUTION: [(&str, u16); 5] = [
    ("community-rewards", 3_000),
    ("node-operator-incentives", 2_500),
    ("development-fund", 2_000),
    ("ecosystem-growth", 1_500),
    ("initial-liquidity", 1_000),
];

/// Rent-exempt minimums the plan needs; supplied by the caller from its cluster.
#[derive(Debug, Clone, Copy)]
pub struct Rent {
    pub mint: u64,
    pub token_account: u64,
}

/// Builds the token setup: create and initialise the mint, one token account per
/// distribution owner, mint each share, revoke the mint authority.
///
/// `owners` are the wallets (multisigs in production) that hold each bucket, in the
/// order of [`DISTRIBUTION`]. The supply is split exactly: the last bucket takes any
/// rounding remainder (there is none for the spec's table).
pub fn plan(
    payer: &Pubkey,
    mint_authority: &Keypair,
    owners: &[Pubkey; 5],
    token_program: &Pubkey,
    rent: Rent,
) -> Result<(Vec<Step>, Deployment), DeployError> {
    let total_bps: u32 = DISTRIBUTION.iter().map(|(_, b)| u32::from(*b)).sum();
    if total_bps != u32::from(bps::MAX_BPS) {
        return Err(DeployError::BadDistribution(total_bps));
    }
    let tok = |e: anchor_lang::prelude::ProgramError| DeployError::Token(e.to_string());
    let mint = Keypair::new();
    let mint_key = mint.pubkey();
    let authority = mint_authority.pubkey();

    let mut steps = vec![Step {
        label: "create CYXWIZ mint",
        instructions: vec![
            system_instruction::create_account(
                payer,
                &mint_key,
                rent.mint,
                MintState::LEN as u64,
                token_program,
            ),
            token_ix::initialize_mint2(token_program, &mint_key, &authority, None, units::DECIMALS)
                .map_err(tok)?,
        ],
        signers: vec![mint],
    }];

    let mut distribution = Vec::with_capacity(DISTRIBUTION.len());
    let mut minted = 0u64;
    for (i, ((name, share), owner)) in DISTRIBUTION.iter().zip(owners).enumerate() {
        let amount = if i + 1 == DISTRIBUTION.len() {
            units::TOTAL_SUPPLY - minted
        } else {
            bps::share(units::TOTAL_SUPPLY, *share)
                .ok_or(DeployError::BadDistribution(total_bps))?
        };
        minted += amount;
        let account = Keypair::new();
        let account_key = account.pubkey();
        steps.push(Step {
            label: "create and fund distribution account",
            instructions: cyxwiz_chain::token::create_token_account(
                payer,
                &account_key,
                &mint_key,
                token_program,
                owner,
                rent.token_account,
            )?
            .into_iter()
            .chain([token_ix::mint_to_checked(
                token_program,
                &mint_key,
                &account_key,
                &authority,
                &[],
                amount,
                units::DECIMALS,
            )
            .map_err(tok)?])
            .collect(),
            // The new account signs its own `create_account`.
            signers: vec![account, mint_authority.insecure_clone()],
        });
        distribution.push((*name, *owner, account_key, amount));
    }

    steps.push(Step {
        label: "revoke mint authority (fixed supply)",
        instructions: vec![
            token_ix::set_authority(
                token_program,
                &mint_key,
                None,
                AuthorityType::MintTokens,
                &authority,
                &[],
            )
            .map_err(tok)?,
        ],
        signers: vec![mint_authority.insecure_clone()],
    });

    Ok((
        steps,
        Deployment {
            mint: mint_key,
            token_program: *token_program,
            distribution,
        },
    ))
}
