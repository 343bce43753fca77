//! ReputationManager instructions: initialisation and admin settings, creation of node
//! and user reputation accounts (anyone pays the rent), and the coordinator's
//! `batch_update` of job outcomes and uptime reports.

use anchor_lang::{prelude::Pubkey, solana_program::system_program};
use reputation_manager::{
    ReputationParams, ReputationUpdate, accounts as acc, instruction as data,
};

use super::build;
use crate::{AccountMeta, Instruction, pda};

/// `initialize`: creates the config; signed by the deployer key. `updater` is the
/// coordinator's batch key.
pub fn initialize(
    deployer: &Pubkey,
    admin: &Pubkey,
    updater: &Pubkey,
    params: ReputationParams,
) -> Instruction {
    build(
        reputation_manager::ID,
        acc::Initialize {
            deployer: *deployer,
            config: pda::reputation_config(),
            system_program: system_program::ID,
        },
        data::Initialize {
            admin: *admin,
            updater: *updater,
            params,
        },
    )
}

fn update_config(authority: &Pubkey) -> acc::UpdateConfig {
    acc::UpdateConfig {
        authority: *authority,
        config: pda::reputation_config(),
    }
}

/// `update_params`: signed by the admin (or the DAO's governance PDA, by CPI).
pub fn update_params(authority: &Pubkey, params: ReputationParams) -> Instruction {
    build(
        reputation_manager::ID,
        update_config(authority),
        data::UpdateParams { params },
    )
}

/// `set_admin`: signed by the admin (or governance).
pub fn set_admin(authority: &Pubkey, admin: Pubkey) -> Instruction {
    build(
        reputation_manager::ID,
        update_config(authority),
        data::SetAdmin { admin },
    )
}

/// `set_updater`: replaces the coordinator's batch key; signed by the admin (or
/// governance).
pub fn set_updater(authority: &Pubkey, updater: Pubkey) -> Instruction {
    build(
        reputation_manager::ID,
        update_config(authority),
        data::SetUpdater { updater },
    )
}

/// `init_node_reputation`: opens the reputation account of `owner`'s registered node;
/// signed by `payer` (anyone).
pub fn init_node_reputation(payer: &Pubkey, owner: &Pubkey) -> Instruction {
    build(
        reputation_manager::ID,
        acc::InitNodeReputation {
            payer: *payer,
            node: pda::node(owner),
            reputation: pda::node_reputation(owner),
            system_program: system_program::ID,
        },
        data::InitNodeReputation {},
    )
}

/// `init_user_reputation`: opens the standing of job submitter `wallet`; signed by
/// `payer` (anyone).
pub fn init_user_reputation(payer: &Pubkey, wallet: &Pubkey) -> Instruction {
    build(
        reputation_manager::ID,
        acc::InitUserReputation {
            payer: *payer,
            wallet: *wallet,
            reputation: pda::user_reputation(wallet),
            system_program: system_program::ID,
        },
        data::InitUserReputation {},
    )
}

/// `batch_update`: applies `updates` to the nodes of `node_owners`; signed by the updater
/// (the coordinator's batch key). Each update's `node_index` is an index into
/// `node_owners`, whose reputation accounts are appended, in that order and writable, as
/// the remaining accounts; `node_owners` must not repeat (the program rejects duplicates)
/// and `batch_id` is applied at most once.
pub fn batch_update(
    updater: &Pubkey,
    batch_id: u64,
    node_owners: &[Pubkey],
    updates: Vec<ReputationUpdate>,
) -> Instruction {
    let mut ix = build(
        reputation_manager::ID,
        acc::BatchUpdate {
            updater: *updater,
            config: pda::reputation_config(),
        },
        data::BatchUpdate { batch_id, updates },
    );
    ix.accounts.extend(
        node_owners
            .iter()
            .map(|owner| AccountMeta::new(pda::node_reputation(owner), false)),
    );
    ix
}
