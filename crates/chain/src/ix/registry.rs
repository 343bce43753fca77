//! NodeRegistry instructions: initialisation and admin settings, an admin slash, and the
//! node operator's stake lifecycle (register → top up / heartbeat / capabilities →
//! request unstake → withdraw after the cooldown).

use anchor_lang::{prelude::Pubkey, solana_program::system_program};
use node_registry::{
    Capabilities, RegistryParams, SlashReason, accounts as acc, instruction as data,
};

use super::build;
use crate::{Addresses, Instruction, pda};

/// `initialize`: creates the config and the stake vault; signed by the deployer key.
pub fn initialize(
    deployer: &Pubkey,
    admin: &Pubkey,
    addresses: &Addresses,
    params: RegistryParams,
) -> Instruction {
    build(
        node_registry::ID,
        acc::Initialize {
            deployer: *deployer,
            admin: *admin,
            config: pda::registry_config(),
            stake_mint: addresses.mint,
            stake_vault: pda::stake_vault(),
            insurance_vault: addresses.insurance_vault,
            token_program: addresses.token_program,
            system_program: system_program::ID,
        },
        data::Initialize { params },
    )
}

fn update_config(authority: &Pubkey) -> acc::UpdateConfig {
    acc::UpdateConfig {
        authority: *authority,
        config: pda::registry_config(),
    }
}

/// `update_params`: signed by the admin (or the DAO's governance PDA, by CPI).
pub fn update_params(authority: &Pubkey, params: RegistryParams) -> Instruction {
    build(
        node_registry::ID,
        update_config(authority),
        data::UpdateParams { params },
    )
}

/// `set_admin`: signed by the admin (or governance).
pub fn set_admin(authority: &Pubkey, new_admin: Pubkey) -> Instruction {
    build(
        node_registry::ID,
        update_config(authority),
        data::SetAdmin { new_admin },
    )
}

/// `set_insurance_vault`: signed by the admin (or governance).
pub fn set_insurance_vault(authority: &Pubkey, insurance_vault: &Pubkey) -> Instruction {
    build(
        node_registry::ID,
        acc::SetInsuranceVault {
            authority: *authority,
            config: pda::registry_config(),
            insurance_vault: *insurance_vault,
        },
        data::SetInsuranceVault {},
    )
}

/// `set_paused`: signed by the admin.
pub fn set_paused(admin: &Pubkey, paused: bool) -> Instruction {
    build(
        node_registry::ID,
        acc::SetPaused {
            admin: *admin,
            config: pda::registry_config(),
        },
        data::SetPaused { paused },
    )
}

/// `slash`: a slash outside the job flow, signed by the admin. The insurance vault is
/// `addresses.insurance_vault` (it must be the one configured).
pub fn slash(
    addresses: &Addresses,
    admin: &Pubkey,
    node_owner: &Pubkey,
    reason: SlashReason,
) -> Instruction {
    build(
        node_registry::ID,
        acc::Slash {
            authority: *admin,
            config: pda::registry_config(),
            node: pda::node(node_owner),
            stake_vault: pda::stake_vault(),
            insurance_vault: addresses.insurance_vault,
            stake_mint: addresses.mint,
            token_program: addresses.token_program,
        },
        data::Slash { reason },
    )
}

/// `register_node`: stakes `stake` from `owner_token` and opens the node account; signed
/// by the operator wallet `owner` (which pays the rent).
pub fn register_node(
    addresses: &Addresses,
    owner: &Pubkey,
    owner_token: &Pubkey,
    node_id: [u8; 32],
    stake: u64,
    capabilities: Capabilities,
) -> Instruction {
    build(
        node_registry::ID,
        acc::RegisterNode {
            owner: *owner,
            config: pda::registry_config(),
            node: pda::node(owner),
            owner_token: *owner_token,
            stake_vault: pda::stake_vault(),
            stake_mint: addresses.mint,
            token_program: addresses.token_program,
            system_program: system_program::ID,
        },
        data::RegisterNode {
            node_id,
            stake,
            capabilities,
        },
    )
}

/// `stake_more`: tops the stake up from `owner_token`; signed by the operator.
pub fn stake_more(
    addresses: &Addresses,
    owner: &Pubkey,
    owner_token: &Pubkey,
    amount: u64,
) -> Instruction {
    build(
        node_registry::ID,
        acc::StakeMore {
            owner: *owner,
            config: pda::registry_config(),
            node: pda::node(owner),
            owner_token: *owner_token,
            stake_vault: pda::stake_vault(),
            stake_mint: addresses.mint,
            token_program: addresses.token_program,
        },
        data::StakeMore { amount },
    )
}

fn node_owner_action(owner: &Pubkey) -> acc::NodeOwnerAction {
    acc::NodeOwnerAction {
        owner: *owner,
        config: pda::registry_config(),
        node: pda::node(owner),
    }
}

/// `update_heartbeat`: signed by the operator.
pub fn update_heartbeat(owner: &Pubkey) -> Instruction {
    build(
        node_registry::ID,
        node_owner_action(owner),
        data::UpdateHeartbeat {},
    )
}

/// `update_capabilities`: signed by the operator.
pub fn update_capabilities(owner: &Pubkey, capabilities: Capabilities) -> Instruction {
    build(
        node_registry::ID,
        node_owner_action(owner),
        data::UpdateCapabilities { capabilities },
    )
}

/// `request_unstake`: starts the cooldown; signed by the operator.
pub fn request_unstake(owner: &Pubkey) -> Instruction {
    build(
        node_registry::ID,
        node_owner_action(owner),
        data::RequestUnstake {},
    )
}

/// `cancel_unstake`: signed by the operator.
pub fn cancel_unstake(owner: &Pubkey) -> Instruction {
    build(
        node_registry::ID,
        node_owner_action(owner),
        data::CancelUnstake {},
    )
}

/// `withdraw_stake`: after the cooldown, the whole stake to `owner_token` (the node
/// account is closed unless banned); signed by the operator.
pub fn withdraw_stake(addresses: &Addresses, owner: &Pubkey, owner_token: &Pubkey) -> Instruction {
    build(
        node_registry::ID,
        acc::WithdrawStake {
            owner: *owner,
            config: pda::registry_config(),
            node: pda::node(owner),
            owner_token: *owner_token,
            stake_vault: pda::stake_vault(),
            stake_mint: addresses.mint,
            token_program: addresses.token_program,
        },
        data::WithdrawStake {},
    )
}
