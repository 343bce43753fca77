//! NodeRegistry errors, codes 6000–6099 (each program has its own range so a code in a
//! transaction error names its program unambiguously).

use anchor_lang::prelude::*;

#[error_code(offset = 6000)]
pub enum RegistryError {
    // ── authority ──
    #[msg("Signer is not the registry admin")]
    NotAdmin,
    #[msg("Signer is neither the admin nor the governance authority")]
    NotAdminOrGovernance,
    #[msg("Signer is not the deployer allowed to initialise the registry")]
    NotDeployer,
    #[msg("Signer is not the node's owner")]
    NotNodeOwner,
    #[msg("Caller is not the JobEscrow authority")]
    NotEscrowAuthority,
    #[msg("Caller may not slash for this reason")]
    UnauthorizedSlasher,
    // ── parameters ──
    #[msg("Parameters are out of range")]
    InvalidParams,
    #[msg("Token account or mint does not match the registry's stake mint")]
    WrongMint,
    #[msg("Token account is not the registry's vault or insurance account")]
    WrongVault,
    #[msg("Node id must not be all zeros")]
    InvalidNodeId,
    #[msg("Amount must be greater than zero")]
    ZeroAmount,
    // ── state ──
    #[msg("Registry is paused")]
    Paused,
    #[msg("Stake is below the minimum required")]
    InsufficientStake,
    #[msg("Node is banned")]
    NodeBanned,
    #[msg("Node is suspended")]
    NodeSuspended,
    #[msg("Node is unstaking")]
    NodeUnstaking,
    #[msg("Node is not unstaking")]
    NotUnstaking,
    #[msg("Node heartbeat is too old")]
    HeartbeatStale,
    #[msg("Stake is still locked")]
    StakeLocked,
    #[msg("Unstake cooldown has not elapsed")]
    CooldownActive,
    #[msg("Node has active jobs")]
    HasActiveJobs,
    #[msg("Node has no active job to release")]
    NoActiveJob,
    #[msg("Nothing left to slash")]
    NothingToSlash,
    #[msg("Arithmetic overflow")]
    Overflow,
}
