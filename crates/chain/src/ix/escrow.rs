//! JobEscrow instructions: initialisation and admin settings, then a job's life —
//! `create_escrow` (user) → `assign_node` (coordinator; or `assign_node_by_user`, the
//! user's fallback) → `accept_job` →
//! `anchor_checkpoint`* → `complete_payment` or `submit_proof` (node) → `rate_node` (user)
//! → `release_stake` after the challenge window → `close_escrow` (anyone) — and its other endings: `cancel` (user), `refund` (user, node
//! or coordinator), `timeout_refund` / `timeout_refund_with_slash` (anyone).
//!
//! Jobs are named by their 16-byte id; the escrow, its vault and every NodeRegistry and
//! ReputationManager account the program reads are derived from it and from the wallets.

use anchor_lang::{prelude::Pubkey, solana_program::system_program};
use job_escrow::{EscrowParams, accounts as acc, instruction as data, verifier::PROOF_LEN};

use super::build;
use crate::{Addresses, Instruction, Treasury, pda};

/// `initialize`: creates the config; signed by the deployer key. The treasuries come from
/// `addresses.treasury`.
pub fn initialize(
    deployer: &Pubkey,
    admin: &Pubkey,
    coordinator: &Pubkey,
    addresses: &Addresses,
    params: EscrowParams,
) -> Instruction {
    build(
        job_escrow::ID,
        acc::Initialize {
            deployer: *deployer,
            config: pda::escrow_config(),
            mint: addresses.mint,
            staking_treasury: addresses.treasury.staking,
            development_treasury: addresses.treasury.development,
            liquidity_treasury: addresses.treasury.liquidity,
            token_program: addresses.token_program,
            system_program: system_program::ID,
        },
        data::Initialize {
            admin: *admin,
            coordinator: *coordinator,
            params,
        },
    )
}

fn update_config(authority: &Pubkey) -> acc::UpdateConfig {
    acc::UpdateConfig {
        authority: *authority,
        config: pda::escrow_config(),
    }
}

/// `update_params`: signed by the admin (or the DAO's governance PDA, by CPI).
pub fn update_params(authority: &Pubkey, params: EscrowParams) -> Instruction {
    build(
        job_escrow::ID,
        update_config(authority),
        data::UpdateParams { params },
    )
}

/// `set_admin`: signed by the admin (or governance).
pub fn set_admin(authority: &Pubkey, new_admin: Pubkey) -> Instruction {
    build(
        job_escrow::ID,
        update_config(authority),
        data::SetAdmin { new_admin },
    )
}

/// `set_coordinator`: signed by the admin (or governance).
pub fn set_coordinator(authority: &Pubkey, coordinator: Pubkey) -> Instruction {
    build(
        job_escrow::ID,
        update_config(authority),
        data::SetCoordinator { coordinator },
    )
}

/// `set_treasury`: replaces the three fee treasuries; signed by the admin (or governance).
pub fn set_treasury(authority: &Pubkey, treasury: &Treasury) -> Instruction {
    build(
        job_escrow::ID,
        acc::SetTreasury {
            authority: *authority,
            config: pda::escrow_config(),
            staking_treasury: treasury.staking,
            development_treasury: treasury.development,
            liquidity_treasury: treasury.liquidity,
        },
        data::SetTreasury {},
    )
}

/// `set_paused`: signed by the admin.
pub fn set_paused(admin: &Pubkey, paused: bool) -> Instruction {
    build(
        job_escrow::ID,
        acc::SetPaused {
            admin: *admin,
            config: pda::escrow_config(),
        },
        data::SetPaused { paused },
    )
}

/// The configured treasury accounts (JobEscrow checks them against its config).
fn treasury(addresses: &Addresses) -> acc::Treasury {
    acc::Treasury {
        staking: addresses.treasury.staking,
        development: addresses.treasury.development,
        liquidity: addresses.treasury.liquidity,
        config: pda::escrow_config(),
    }
}

/// NodeRegistry accounts for the `record_outcome` CPI on `node_owner`'s node.
fn registry_hooks(addresses: &Addresses, node_owner: &Pubkey) -> acc::RegistryHooks {
    acc::RegistryHooks {
        escrow_authority: pda::escrow_authority(),
        registry_config: pda::registry_config(),
        node: pda::node(node_owner),
        stake_vault: pda::stake_vault(),
        insurance_vault: addresses.insurance_vault,
        registry_program: node_registry::ID,
    }
}

/// ReputationManager accounts JobEscrow reads for `node_owner` (tier caps and fees).
fn reputation_view(node_owner: &Pubkey) -> acc::ReputationView {
    acc::ReputationView {
        reputation_config: pda::reputation_config(),
        node_reputation: pda::node_reputation(node_owner),
    }
}

/// `create_escrow`: locks `amount` from `user_token` for job `job_id`; signed by the user
/// (who pays the rent). `timeout_secs` 0 takes the default timeout; `estimated_secs` is the
/// user's training-time estimate (1 s up to the timeout), which bounds completion at
/// 0.5×–2× of it from acceptance.
pub fn create_escrow(
    addresses: &Addresses,
    user: &Pubkey,
    user_token: &Pubkey,
    job_id: [u8; 16],
    amount: u64,
    epochs_required: u32,
    timeout_secs: i64,
    estimated_secs: u32,
) -> Instruction {
    let escrow = pda::escrow(&job_id);
    build(
        job_escrow::ID,
        acc::CreateEscrow {
            user: *user,
            config: pda::escrow_config(),
            escrow,
            vault: pda::escrow_vault(&escrow),
            user_token: *user_token,
            mint: addresses.mint,
            token_program: addresses.token_program,
            system_program: system_program::ID,
        },
        data::CreateEscrow {
            job_id,
            amount,
            epochs_required,
            timeout_secs,
            estimated_secs,
        },
    )
}

/// `cancel`: before acceptance, the user takes the job back; signed by the user.
/// `node_token` (the assigned node's token account, which receives the cancellation fee)
/// is required once a node is assigned, `None` before.
pub fn cancel(
    addresses: &Addresses,
    user: &Pubkey,
    job_id: [u8; 16],
    user_token: &Pubkey,
    node_token: Option<Pubkey>,
) -> Instruction {
    let escrow = pda::escrow(&job_id);
    build(
        job_escrow::ID,
        acc::Cancel {
            user: *user,
            config: pda::escrow_config(),
            escrow,
            vault: pda::escrow_vault(&escrow),
            mint: addresses.mint,
            user_token: *user_token,
            node_token,
            treasury: treasury(addresses),
            token_program: addresses.token_program,
        },
        data::Cancel {},
    )
}

/// `assign_node`: the job goes to `node_owner`'s node; signed by the coordinator.
pub fn assign_node(coordinator: &Pubkey, job_id: [u8; 16], node_owner: &Pubkey) -> Instruction {
    build(
        job_escrow::ID,
        acc::AssignNode {
            coordinator: *coordinator,
            config: pda::escrow_config(),
            escrow: pda::escrow(&job_id),
            registry_config: pda::registry_config(),
            node: pda::node(node_owner),
            reputation: reputation_view(node_owner),
        },
        data::AssignNode {},
    )
}

/// `assign_node_by_user`: the fallback when the coordinator has not assigned the escrow
/// within `user_assign_after_secs` of its creation; the job goes to `node_owner`'s node
/// after the same checks `assign_node` makes. Signed by the escrow's user.
pub fn assign_node_by_user(user: &Pubkey, job_id: [u8; 16], node_owner: &Pubkey) -> Instruction {
    build(
        job_escrow::ID,
        acc::AssignNodeByUser {
            user: *user,
            config: pda::escrow_config(),
            escrow: pda::escrow(&job_id),
            registry_config: pda::registry_config(),
            node: pda::node(node_owner),
            reputation: reputation_view(node_owner),
        },
        data::AssignNodeByUser {},
    )
}

/// `accept_job`: the assigned node starts the job (its stake lock is extended by CPI);
/// signed by the node operator.
pub fn accept_job(node_owner: &Pubkey, job_id: [u8; 16]) -> Instruction {
    build(
        job_escrow::ID,
        acc::AcceptJob {
            node_owner: *node_owner,
            config: pda::escrow_config(),
            escrow: pda::escrow(&job_id),
            escrow_authority: pda::escrow_authority(),
            registry_config: pda::registry_config(),
            node: pda::node(node_owner),
            registry_program: node_registry::ID,
            reputation: reputation_view(node_owner),
        },
        data::AcceptJob {},
    )
}

/// `anchor_checkpoint`: records progress `epoch` with its Merkle root; signed by the node
/// operator.
pub fn anchor_checkpoint(
    node_owner: &Pubkey,
    job_id: [u8; 16],
    epoch: u32,
    merkle_root: [u8; 32],
) -> Instruction {
    build(
        job_escrow::ID,
        acc::AnchorCheckpoint {
            node_owner: *node_owner,
            escrow: pda::escrow(&job_id),
        },
        data::AnchorCheckpoint { epoch, merkle_root },
    )
}

fn payment_accounts(
    addresses: &Addresses,
    node_owner: &Pubkey,
    job_id: [u8; 16],
    node_token: &Pubkey,
) -> acc::CompletePayment {
    let escrow = pda::escrow(&job_id);
    acc::CompletePayment {
        node_owner: *node_owner,
        config: pda::escrow_config(),
        escrow,
        vault: pda::escrow_vault(&escrow),
        mint: addresses.mint,
        node_token: *node_token,
        treasury: treasury(addresses),
        registry: registry_hooks(addresses, node_owner),
        reputation: reputation_view(node_owner),
        token_program: addresses.token_program,
    }
}

/// `complete_payment`: pays the node (to `node_token`) and the fee treasuries against a
/// proof of the job; signed by the node operator.
pub fn complete_payment(
    addresses: &Addresses,
    node_owner: &Pubkey,
    job_id: [u8; 16],
    node_token: &Pubkey,
    proof: [u8; PROOF_LEN],
    final_weights_hash: [u8; 32],
    merkle_root: [u8; 32],
    epochs: u32,
) -> Instruction {
    build(
        job_escrow::ID,
        payment_accounts(addresses, node_owner, job_id, node_token),
        data::CompletePayment {
            proof,
            final_weights_hash,
            merkle_root,
            epochs,
        },
    )
}

/// `submit_proof`: as [`complete_payment`], but an invalid proof is a recorded verdict
/// instead of a failed transaction: `user_token` (the job's user's account) is refunded in
/// full, the node is slashed at the invalid-proof rate and loses 100 reputation points.
/// Signed by the node operator.
pub fn submit_proof(
    addresses: &Addresses,
    node_owner: &Pubkey,
    job_id: [u8; 16],
    node_token: &Pubkey,
    user_token: &Pubkey,
    proof: [u8; PROOF_LEN],
    final_weights_hash: [u8; 32],
    merkle_root: [u8; 32],
    epochs: u32,
) -> Instruction {
    build(
        job_escrow::ID,
        acc::SubmitProof {
            payment: payment_accounts(addresses, node_owner, job_id, node_token),
            user_token: *user_token,
            node_reputation: pda::node_reputation(node_owner),
            reputation_program: reputation_manager::ID,
        },
        data::SubmitProof {
            proof,
            final_weights_hash,
            merkle_root,
            epochs,
        },
    )
}

/// `refund`: ends an accepted job early, splitting the payment by anchored progress
/// between `user_token` and `node_token`; signed by the user, the node or the coordinator
/// (`caller`).
pub fn refund(
    addresses: &Addresses,
    caller: &Pubkey,
    job_id: [u8; 16],
    node_owner: &Pubkey,
    user_token: &Pubkey,
    node_token: &Pubkey,
) -> Instruction {
    let escrow = pda::escrow(&job_id);
    build(
        job_escrow::ID,
        acc::Refund {
            caller: *caller,
            config: pda::escrow_config(),
            escrow,
            vault: pda::escrow_vault(&escrow),
            mint: addresses.mint,
            user_token: *user_token,
            node_token: *node_token,
            registry: registry_hooks(addresses, node_owner),
            token_program: addresses.token_program,
        },
        data::Refund {},
    )
}

fn timeout_accounts(
    addresses: &Addresses,
    caller: &Pubkey,
    job_id: [u8; 16],
    user_token: &Pubkey,
) -> acc::TimeoutRefund {
    let escrow = pda::escrow(&job_id);
    acc::TimeoutRefund {
        caller: *caller,
        config: pda::escrow_config(),
        escrow,
        vault: pda::escrow_vault(&escrow),
        mint: addresses.mint,
        user_token: *user_token,
        token_program: addresses.token_program,
    }
}

/// `timeout_refund`: after the timeout, refunds a job no node accepted (Locked or
/// Assigned) to `user_token`; signed by anyone (`caller`).
pub fn timeout_refund(
    addresses: &Addresses,
    caller: &Pubkey,
    job_id: [u8; 16],
    user_token: &Pubkey,
) -> Instruction {
    build(
        job_escrow::ID,
        timeout_accounts(addresses, caller, job_id, user_token),
        data::TimeoutRefund {},
    )
}

/// `timeout_refund_with_slash`: after the timeout, refunds an accepted job to
/// `user_token` and slashes `node_owner`'s node; signed by anyone (`caller`).
pub fn timeout_refund_with_slash(
    addresses: &Addresses,
    caller: &Pubkey,
    job_id: [u8; 16],
    node_owner: &Pubkey,
    user_token: &Pubkey,
) -> Instruction {
    build(
        job_escrow::ID,
        acc::TimeoutRefundWithSlash {
            refund: timeout_accounts(addresses, caller, job_id, user_token),
            registry: registry_hooks(addresses, node_owner),
        },
        data::TimeoutRefundWithSlash {},
    )
}

/// `close_escrow`: after the grace period, closes a finished escrow and its vault, the
/// rent going back to the job's `user`; signed by anyone (`caller`).
pub fn close_escrow(
    addresses: &Addresses,
    caller: &Pubkey,
    job_id: [u8; 16],
    user: &Pubkey,
) -> Instruction {
    let escrow = pda::escrow(&job_id);
    build(
        job_escrow::ID,
        acc::CloseEscrow {
            caller: *caller,
            config: pda::escrow_config(),
            escrow,
            vault: pda::escrow_vault(&escrow),
            user: *user,
            token_program: addresses.token_program,
        },
        data::CloseEscrow {},
    )
}

/// `release_stake`: after a completed job's challenge window, ends the job's hold on
/// `node_owner`'s stake in NodeRegistry; signed by anyone (`caller`).
pub fn release_stake(
    addresses: &Addresses,
    caller: &Pubkey,
    job_id: [u8; 16],
    node_owner: &Pubkey,
) -> Instruction {
    build(
        job_escrow::ID,
        acc::ReleaseStake {
            caller: *caller,
            config: pda::escrow_config(),
            escrow: pda::escrow(&job_id),
            mint: addresses.mint,
            registry: registry_hooks(addresses, node_owner),
            token_program: addresses.token_program,
        },
        data::ReleaseStake {},
    )
}

/// `rate_node`: the user rates the completed job's node (1–5 stars, once); signed by the
/// user.
pub fn rate_node(user: &Pubkey, job_id: [u8; 16], node_owner: &Pubkey, stars: u8) -> Instruction {
    build(
        job_escrow::ID,
        acc::RateNode {
            user: *user,
            config: pda::escrow_config(),
            escrow: pda::escrow(&job_id),
            escrow_authority: pda::escrow_authority(),
            reputation_config: pda::reputation_config(),
            node_reputation: pda::node_reputation(node_owner),
            reputation_program: reputation_manager::ID,
        },
        data::RateNode { stars },
    )
}
