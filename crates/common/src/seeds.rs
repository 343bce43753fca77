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
