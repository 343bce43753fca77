//! ReputationManager errors, codes 8000–8099.

use anchor_lang::prelude::*;

#[error_code(offset = 8000)]
pub enum ReputationError {
    // ── authority ──
    #[msg("Signer is neither the admin nor the governance authority")]
    NotAdminOrGovernance,
    #[msg("Signer is not the deployer allowed to initialise the program")]
    NotDeployer,
    #[msg("Signer is not the reputation updater (the coordinator's batch key)")]
    NotUpdater,
    #[msg("Caller is not the JobEscrow authority")]
    NotEscrowAuthority,
    #[msg("Caller is not the Dispute/DAO verdict authority")]
    NotDisputeAuthority,
    // ── accounts ──
    #[msg("Account is not a node reputation account of this program")]
    WrongReputationAccount,
    #[msg("Reputation account does not belong to the expected wallet")]
    WrongOwner,
    #[msg("A batch account is not writable")]
    AccountNotWritable,
    #[msg("A batch account appears more than once")]
    DuplicateAccount,
    // ── input ──
    #[msg("Parameters are out of range")]
    InvalidParams,
    #[msg("Batch is empty or larger than the configured maximum")]
    InvalidBatchSize,
    #[msg("Update refers to a missing batch account")]
    BadAccountIndex,
    #[msg("Update values are out of range")]
    InvalidUpdate,
    #[msg("Rating must be 1 to 5 stars")]
    InvalidRating,
    // ── state ──
    #[msg("This batch id was already applied")]
    BatchAlreadyApplied,
    #[msg("This batch id is older than the replay window")]
    BatchTooOld,
    #[msg("Arithmetic overflow")]
    Overflow,
}
