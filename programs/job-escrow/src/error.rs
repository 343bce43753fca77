//! JobEscrow errors, codes 7000–7099.

use anchor_lang::prelude::*;

#[error_code(offset = 7000)]
pub enum EscrowError {
    // ── authority ──
    #[msg("Signer is not the escrow admin")]
    NotAdmin,
    #[msg("Signer is neither the admin nor the governance authority")]
    NotAdminOrGovernance,
    #[msg("Signer is not the deployer allowed to initialise the program")]
    NotDeployer,
    #[msg("Signer is not the coordinator authority")]
    NotCoordinator,
    #[msg("Signer is not the job's user")]
    NotJobUser,
    #[msg("Signer is not the node assigned to this job")]
    NotAssignedNode,
    #[msg("Signer may not request a refund for this job")]
    NotRefundParty,
    #[msg("Signer is not the dispute authority")]
    NotDisputeAuthority,
    // ── accounts ──
    #[msg("Token account or mint does not match the escrow's mint")]
    WrongMint,
    #[msg("Token account is not the configured treasury account")]
    WrongTreasury,
    #[msg("Token account does not belong to the expected party")]
    WrongTokenOwner,
    #[msg("Node account does not match the escrow's node")]
    WrongNode,
    #[msg("The assigned node's token account is required")]
    NodeTokenRequired,
    #[msg("Reputation account does not belong to the escrow's node")]
    WrongReputation,
    // ── parameters ──
    #[msg("Parameters are out of range")]
    InvalidParams,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Epochs required must be between 1 and the maximum")]
    InvalidEpochs,
    #[msg("Timeout is outside the allowed range")]
    InvalidTimeout,
    #[msg("Checkpoint epoch must advance and not exceed the epochs required")]
    InvalidCheckpoint,
    #[msg("Merkle root must match the last anchored root")]
    RootMismatch,
    #[msg("Epochs completed are fewer than required")]
    NotEnoughEpochs,
    // ── state ──
    #[msg("Program is paused")]
    Paused,
    #[msg("Escrow is not in a state that allows this")]
    InvalidState,
    #[msg("Escrow has not timed out yet")]
    TimeoutNotReached,
    #[msg("Escrow has already timed out")]
    TimedOut,
    #[msg("Escrow cannot be closed yet")]
    CloseTooEarly,
    #[msg("The node's reputation tier does not allow a job of this size")]
    TierTooLow,
    #[msg("This job was already rated")]
    AlreadyRated,
    // ── proof ──
    #[msg("Proof of compute is invalid")]
    InvalidProof,
    #[msg("No proof verifier is available in this build")]
    ProofVerifierUnavailable,
    #[msg("Arithmetic overflow")]
    Overflow,
    // ── added later (codes are never renumbered) ──
    #[msg("The coordinator's assignment window has not passed yet")]
    UserAssignTooEarly,
    #[msg("A node was already assigned to this escrow")]
    AlreadyAssigned,
    #[msg("The user assigned this escrow's node; the coordinator may not re-match it")]
    AssignedByUser,
    #[msg("The training-time estimate must be between 1 second and the timeout")]
    InvalidEstimate,
    #[msg("Completed faster than half the estimated training time")]
    TrainingTooFast,
    #[msg("Completed slower than twice the estimated training time")]
    TrainingTooSlow,
    #[msg("The completed job's challenge window is still open")]
    ChallengeWindowOpen,
    #[msg("The completed job's challenge window has closed")]
    ChallengeWindowClosed,
    #[msg("The completed job's stake lock must be released first")]
    StakeNotReleased,
}
