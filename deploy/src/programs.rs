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

/// PDA of ReputationManager's config.
pub fn reputation_config() -> Pubkey {
    Pubkey::find_program_address(&[seeds::REPUTATION_CONFIG], &reputation_manager::ID).0
}

/// PDA of a node's reputation account.
pub fn node_reputation(owner: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[seeds::NODE_REPUTATION, owner.as_ref()],
        &reputation_manager::ID,
    )
    .0
}

/// PDA of a job submitter's reputation account.
pub fn user_reputation(wallet: &Pubkey) -> Pubkey {
    Pubkey::find_program_address(
        &[seeds::USER_REPUTATION, wallet.as_ref()],
        &reputation_manager::ID,
    )
    .0
}

/// `reputation_manager::initialize`. `updater` is the coordinator's batch key.
pub fn initialize_reputation(
    deployer: &Pubkey,
    admin: &Pubkey,
    updater: &Pubkey,
    params: reputation_manager::ReputationParams,
) -> Instruction {
    Instruction {
        program_id: reputation_manager::ID,
        accounts: reputation_manager::accounts::Initialize {
            deployer: *deployer,
            config: reputation_config(),
            system_program: system_program::ID,
        }
        .to_account_metas(None),
        data: reputation_manager::instruction::Initialize {
            admin: *admin,
            updater: *updater,
            params,
        }
        .data(),
    }
}

/// `reputation_manager::init_node_reputation` for the registered node of `owner`.
pub fn init_node_reputation(payer: &Pubkey, owner: &Pubkey) -> Instruction {
    Instruction {
        program_id: reputation_manager::ID,
        accounts: reputation_manager::accounts::InitNodeReputation {
            payer: *payer,
            node: Pubkey::find_program_address(&[seeds::NODE, owner.as_ref()], &node_registry::ID)
                .0,
            reputation: node_reputation(owner),
            system_program: system_program::ID,
        }
        .to_account_metas(None),
        data: reputation_manager::instruction::InitNodeReputation {}.data(),
    }
}

/// Dispute/DAO PDAs: config, deposit vault, treasury, appeal vault.
pub fn dao_config() -> Pubkey {
    Pubkey::find_program_address(&[seeds::DAO_CONFIG], &dispute_dao::ID).0
}
pub fn dao_deposit_vault() -> Pubkey {
    Pubkey::find_program_address(&[seeds::DEPOSIT_VAULT], &dispute_dao::ID).0
}
pub fn dao_treasury() -> Pubkey {
    Pubkey::find_program_address(&[seeds::DAO_TREASURY], &dispute_dao::ID).0
}
pub fn dao_appeal_vault() -> Pubkey {
    Pubkey::find_program_address(&[seeds::APPEAL_VAULT], &dispute_dao::ID).0
}

/// `dispute_dao::initialize`: the DAO config and its three vaults.
pub fn initialize_dao(
    deployer: &Pubkey,
    admin: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
    params: dispute_dao::DaoParams,
) -> Instruction {
    Instruction {
        program_id: dispute_dao::ID,
        accounts: dispute_dao::accounts::Initialize {
            deployer: *deployer,
            config: dao_config(),
            mint: *mint,
            deposit_vault: dao_deposit_vault(),
            treasury: dao_treasury(),
            appeal_vault: dao_appeal_vault(),
            token_program: *token_program,
            system_program: system_program::ID,
        }
        .to_account_metas(None),
        data: dispute_dao::instruction::Initialize {
            admin: *admin,
            params,
        }
        .data(),
    }
}
