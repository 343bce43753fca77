//! Typed instruction builders: one `pub fn` per instruction a transaction signed by a
//! user, node operator, admin, coordinator or voter can carry, for each program:
//!
//! * [`registry`]: NodeRegistry (operators' stakes, admin settings, admin slashes);
//! * [`escrow`]: JobEscrow (a job's payment from creation to close);
//! * [`reputation`]: ReputationManager (account creation, the coordinator's batches);
//! * [`dao`]: Dispute/DAO (deposits, disputes, parameter proposals).
//!
//! Every builder derives the program-derived addresses itself ([`crate::pda`]) and takes
//! [`crate::Addresses`] when it needs the mint, the token program, the fee treasuries or
//! the insurance vault; the rest (signers, token accounts, arguments) are parameters, using
//! the programs' own argument types.
//!
//! # Instructions without a builder
//!
//! These are signed by another program's PDA, so no transaction can carry them directly;
//! they run only as CPIs from the instruction named:
//!
//! | Instruction | Signer | Reached by |
//! |---|---|---|
//! | NodeRegistry `lock_for_job` | JobEscrow `escrow-authority` | [`escrow::accept_job`] |
//! | NodeRegistry `record_outcome` | JobEscrow `escrow-authority` | [`escrow::release_stake`], [`escrow::submit_proof`] (invalid proof), [`escrow::refund`], [`escrow::timeout_refund_with_slash`], and `resolve_dispute` (so [`dao::finalize`]) |
//! | NodeRegistry `slash_for_dispute` | Dispute/DAO `dispute-authority` | [`dao::finalize`] (verdict for the user) |
//! | JobEscrow `freeze_for_dispute` | Dispute/DAO `dispute-authority` | [`dao::create_dispute`] |
//! | JobEscrow `resolve_dispute` | Dispute/DAO `dispute-authority` | [`dao::finalize`] |
//! | ReputationManager `record_rating` | JobEscrow `escrow-authority` | [`escrow::rate_node`] |
//! | ReputationManager `record_invalid_proof` | JobEscrow `escrow-authority` | [`escrow::submit_proof`] (invalid proof) |
//! | ReputationManager `apply_verdict` | Dispute/DAO `dispute-authority` | [`dao::finalize`] (a verdict either way) |
//!
//! NodeRegistry `slash` has a builder ([`registry::slash`]) for its admin signer; the
//! Dispute/DAO program may also sign it (for fraud) but currently reaches the node through
//! `slash_for_dispute` instead. The `update_params` instructions are also reached by
//! [`dao::execute_proposal`], signed by the `governance-authority` PDA.

use anchor_lang::{InstructionData, ToAccountMetas, prelude::Pubkey};

use crate::Instruction;

pub mod dao;
pub mod escrow;
pub mod registry;
pub mod reputation;

/// An instruction of `program_id` from Anchor's generated accounts and data structs.
fn build(
    program_id: Pubkey,
    accounts: impl ToAccountMetas,
    data: impl InstructionData,
) -> Instruction {
    Instruction {
        program_id,
        accounts: accounts.to_account_metas(None),
        data: data.data(),
    }
}
