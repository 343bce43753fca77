//! Initialisation of the programs' configs, as instructions. Admin is any address (a
//! multisig in production); only the deployer key may sign initialisation.

use anchor_lang::{
    InstructionData, ToAccountMetas, prelude::Pubkey, solana_program::system_program,
};
use cyxwiz_common::seeds;

use crate::Instruction;

/// PDA of NodeRegistry's config.
pub fn registry_config() -> Pubkey {
    Pubkey::find_program_address(&[seeds::REGISTRY_CONFIG], &node_registry::ID).0
}

/// PDA of NodeRegistry's stake vault.
pub fn stake_vault() -> Pubkey {
    Pubkey::find_program_address(&[seeds::STAKE_VAULT], &node_registry::ID).0
}

/// PDA of JobEscrow's config.
pub fn escrow_config() -> Pubkey {
    Pubkey::find_program_address(&[seeds::ESCROW_CONFIG], &job_escrow::ID).0
}

/// `node_registry::initialize`.
pub fn initialize_registry(
    deployer: &Pubkey,
    admin: &Pubkey,
    stake_mint: &Pubkey,
    insurance_vault: &Pubkey,
    token_program: &Pubkey,
    params: node_registry::RegistryParams,
) -> Instruction {
    Instruction {
        program_id: node_registry::ID,
        accounts: node_registry::accounts::Initialize {
            deployer: *deployer,
            admin: *admin,
            config: registry_config(),
            stake_mint: *stake_mint,
            stake_vault: stake_vault(),
            insurance_vault: *insurance_vault,
            token_program: *token_program,
            system_program: system_program::ID,
        }
        .to_account_metas(None),
        data: node_registry::instruction::Initialize { params }.data(),
    }
}

/// Treasury accounts that receive the platform fee.
#[derive(Debug, Clone, Copy)]
pub struct TreasuryAccounts {
    pub staking: Pubkey,
    pub development: Pubkey,
    pub liquidity: Pubkey,
}

/// `job_escrow::initialize`.
pub fn initialize_escrow(
    deployer: &Pubkey,
    admin: &Pubkey,
    coordinator: &Pubkey,
    mint: &Pubkey,
    treasury: TreasuryAccounts,
    token_program: &Pubkey,
    params: job_escrow::EscrowParams,
) -> Instruction {
    Instruction {
        program_id: job_escrow::ID,
        accounts: job_escrow::accounts::Initialize {
            deployer: *deployer,
            config: escrow_config(),
            mint: *mint,
            staking_treasury: treasury.staking,
            development_treasury: treasury.development,
            liquidity_treasury: treasury.liquidity,
            token_program: *token_program,
            system_program: system_program::ID,
        }
        .to_account_metas(None),
        data: job_escrow::instruction::Initialize {
            admin: *admin,
            coordinator: *coordinator,
            params,
        }
        .data(),
    }
}
