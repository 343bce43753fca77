//! Dispute/DAO errors, codes 9000–9099.

use anchor_lang::prelude::*;

#[error_code(offset = 9000)]
pub enum DaoError {
    // ── authority ──
    #[msg("Signer is neither the admin nor the governance authority")]
    NotAdminOrGovernance,
    #[msg("Signer is not the deployer allowed to initialise the program")]
    NotDeployer,
    #[msg("Only the job's user or node may do this")]
    NotParty,
    #[msg("Only the losing party may appeal")]
    NotLoser,
    #[msg("Signer does not own this voter account")]
    NotVoterOwner,
    #[msg("A party to the dispute cannot vote on it")]
    PartyCannotVote,
    // ── accounts ──
    #[msg("Token account or mint does not match the DAO's mint")]
    WrongMint,
    #[msg("Token account does not belong to the expected party")]
    WrongTokenOwner,
    #[msg("Account does not match the dispute or proposal")]
    WrongAccount,
    #[msg("Target program or config does not match the proposal")]
    WrongTarget,
    #[msg("A dispute for this job already exists")]
    DisputeExists,
    #[msg("This voter already voted in this round")]
    AlreadyVoted,
    // ── input ──
    #[msg("Parameters are out of range")]
    InvalidParams,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    #[msg("Amount exceeds the deposit")]
    InsufficientDeposit,
    #[msg("Voting weight is below the minimum")]
    NoVotingWeight,
    #[msg("Deposit is below the proposal threshold")]
    BelowProposalThreshold,
    #[msg("No more evidence can be attached for this party")]
    EvidenceFull,
    // ── timing and state ──
    #[msg("Deposit is locked by votes on open disputes or proposals")]
    DepositLocked,
    #[msg("The evidence window is closed")]
    EvidenceWindowClosed,
    #[msg("Voting has not started yet")]
    VotingNotStarted,
    #[msg("Voting has ended")]
    VotingEnded,
    #[msg("Voting has not ended yet")]
    VotingNotEnded,
    #[msg("Dispute is not in a state that allows this")]
    InvalidDisputeState,
    #[msg("The appeal window is still open")]
    AppealWindowOpen,
    #[msg("The appeal window has closed")]
    AppealWindowClosed,
    #[msg("This verdict cannot be appealed")]
    NotAppealable,
    #[msg("The treasury cannot pay this reward now")]
    TreasuryEmpty,
    #[msg("Proposal is not in a state that allows this")]
    InvalidProposalState,
    #[msg("The proposal did not pass")]
    ProposalRejected,
    #[msg("The proposal's timelock has not expired")]
    TimelockActive,
    #[msg("The proposal's execution window has passed")]
    ProposalExpired,
    #[msg("Arithmetic overflow")]
    Overflow,
    // ── added later (codes are never renumbered) ──
    #[msg("Only the job's user may dispute a job that was already paid")]
    OnlyUserAfterPayment,
}
