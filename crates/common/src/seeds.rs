//! PDA seed prefixes. Every prefix is distinct across all programs so that an address
//! derived for one purpose can never be confused with another, even if two programs
//! were ever merged or one program's id were passed where another's was expected.

/// `[REGISTRY_CONFIG]` under NodeRegistry: the registry's parameters and the authority
/// over the shared stake vault.
pub const REGISTRY_CONFIG: &[u8] = b"registry-config";
/// `[STAKE_VAULT]` under NodeRegistry: the token account holding every node's stake.
pub const STAKE_VAULT: &[u8] = b"stake-vault";
/// `[NODE, owner]` under NodeRegistry: one node account per operator wallet.
pub const NODE: &[u8] = b"node";

/// `[ESCROW_CONFIG]` under JobEscrow: fees, windows, treasury accounts, pause flag.
pub const ESCROW_CONFIG: &[u8] = b"escrow-config";
/// `[ESCROW, job_id]` under JobEscrow: one escrow per job id.
pub const ESCROW: &[u8] = b"escrow";
/// `[ESCROW_VAULT, escrow]` under JobEscrow: the job's token vault, owned by the escrow PDA.
pub const ESCROW_VAULT: &[u8] = b"escrow-vault";
/// `[ESCROW_AUTHORITY]` under JobEscrow: the PDA that signs JobEscrow's CPIs into
/// NodeRegistry (stake lock, release, timeout slash). NodeRegistry accepts those calls
/// only from this address.
pub const ESCROW_AUTHORITY: &[u8] = b"escrow-authority";

/// `[DISPUTE_AUTHORITY]` under Dispute/DAO: the PDA whose signature freezes, resolves and
/// slashes on a verdict.
pub const DISPUTE_AUTHORITY: &[u8] = b"dispute-authority";
/// `[GOVERNANCE_AUTHORITY]` under Dispute/DAO: the PDA that executes passed parameter
/// proposals against the other programs' configs.
pub const GOVERNANCE_AUTHORITY: &[u8] = b"governance-authority";

/// `[REPUTATION_CONFIG]` under ReputationManager: parameters, authorities and the window of
/// applied batch ids.
pub const REPUTATION_CONFIG: &[u8] = b"reputation-config";
/// `[NODE_REPUTATION, owner]` under ReputationManager: one score account per node wallet.
pub const NODE_REPUTATION: &[u8] = b"node-reputation";
/// `[USER_REPUTATION, wallet]` under ReputationManager: a job submitter's dispute record.
pub const USER_REPUTATION: &[u8] = b"user-reputation";

/// `[DAO_CONFIG]` under Dispute/DAO: parameters, counters and vault addresses.
pub const DAO_CONFIG: &[u8] = b"dao-config";
/// `[DEPOSIT_VAULT]` under Dispute/DAO: token account holding every voter's deposit.
pub const DEPOSIT_VAULT: &[u8] = b"dao-deposit-vault";
/// `[DAO_TREASURY]` under Dispute/DAO: the DAO treasury (voter rewards, slashed shares).
pub const DAO_TREASURY: &[u8] = b"dao-treasury";
/// `[APPEAL_VAULT]` under Dispute/DAO: appeal deposits held until the appeal is decided.
pub const APPEAL_VAULT: &[u8] = b"dao-appeal-vault";
/// `[VOTER, wallet]` under Dispute/DAO: one governance deposit per wallet.
pub const VOTER: &[u8] = b"voter";
/// `[DISPUTE, job_id]` under Dispute/DAO: at most one dispute per job.
pub const DISPUTE: &[u8] = b"dispute";
/// `[PROPOSAL, id (u64 LE)]` under Dispute/DAO: a parameter-change proposal.
pub const PROPOSAL: &[u8] = b"proposal";
/// `[VOTE, subject, round, voter]` under Dispute/DAO: one vote per voter, subject and round.
pub const VOTE: &[u8] = b"vote";
