//! Program initialisation as instructions, in the shapes the deploy plan and the program
//! tests use. The builders themselves live in the chain SDK (`cyxwiz_chain::ix`), the one
//! place instructions are built; this module only adapts argument shapes.

use anchor_lang::prelude::Pubkey;
use cyxwiz_chain::{Addresses, Treasury, ix};

use crate::Instruction;

pub use cyxwiz_chain::pda::{
    dao_appeal_vault, dao_config, dao_deposit_vault, dao_treasury, escrow_config, node_reputation,
    registry_config, reputation_config, stake_vault, user_reputation,
};

/// Treasury accounts that receive the platform fee.
pub type TreasuryAccounts = Treasury;

fn addresses(mint: &Pubkey, token_program: &Pubkey) -> Addresses {
    Addresses {
        mint: *mint,
        token_program: *token_program,
        treasury: Treasury {
            staking: Pubkey::default(),
            development: Pubkey::default(),
            liquidity: Pubkey::default(),
        },
        insurance_vault: Pubkey::default(),
    }
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
    let a = Addresses {
        insurance_vault: *insurance_vault,
        ..addresses(stake_mint, token_program)
    };
    ix::registry::initialize(deployer, admin, &a, params)
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
    let a = Addresses {
        treasury,
        ..addresses(mint, token_program)
    };
    ix::escrow::initialize(deployer, admin, coordinator, &a, params)
}

/// `reputation_manager::initialize`. `updater` is the coordinator's batch key.
pub fn initialize_reputation(
    deployer: &Pubkey,
    admin: &Pubkey,
    updater: &Pubkey,
    params: reputation_manager::ReputationParams,
) -> Instruction {
    ix::reputation::initialize(deployer, admin, updater, params)
}

/// `reputation_manager::init_node_reputation` for the registered node of `owner`.
pub fn init_node_reputation(payer: &Pubkey, owner: &Pubkey) -> Instruction {
    ix::reputation::init_node_reputation(payer, owner)
}

/// `dispute_dao::initialize`: the DAO config and its three vaults.
pub fn initialize_dao(
    deployer: &Pubkey,
    admin: &Pubkey,
    mint: &Pubkey,
    token_program: &Pubkey,
    params: dispute_dao::DaoParams,
) -> Instruction {
    ix::dao::initialize(deployer, admin, &addresses(mint, token_program), params)
}
