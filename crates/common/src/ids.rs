//! Program ids, chosen per cluster by Cargo feature (`devnet`, `mainnet`; neither means
//! localnet). Programs take their `declare_id!` from here and off-chain code derives PDAs
//! from the same constants, so an id lives in exactly one place.

use anchor_lang::prelude::Pubkey;

#[cfg(all(feature = "devnet", feature = "mainnet"))]
compile_error!("enable at most one of the `devnet` and `mainnet` features");

/// Localnet ids: the public halves of the keypairs in `deploy/keys/localnet/`.
#[cfg(not(any(feature = "devnet", feature = "mainnet")))]
mod cluster {
    use super::Pubkey;
    pub const JOB_ESCROW: Pubkey =
        Pubkey::from_str_const("XJh8BwWdjY1eYaibbY23dna3eNn8ztEELqbUnNB42P1");
    pub const NODE_REGISTRY: Pubkey =
        Pubkey::from_str_const("Aiq2bAhoUjMgiUZydtgZjDCwzWSBjfrc76redtMpuUwj");
    pub const REPUTATION: Pubkey =
        Pubkey::from_str_const("DGVFCuxMRezHJECEohGmcqc3u1U7LeN4PduGzMA1Y1SA");
    pub const DISPUTE_DAO: Pubkey =
        Pubkey::from_str_const("DtVq8CggcWnjw4EYYgenSD4CMR4qxmyKzNtiaB8T3LUT");
    pub const DEPLOYER: Pubkey =
        Pubkey::from_str_const("5XZkWSWCchqqbrUJ3YBUNA4hiLAXF7VbsUpuLRTWchDZ");
}

/// Devnet and mainnet ids are the deployer's program keypairs, which never live in the
/// repository; until a deployment exists they equal the localnet ids so both builds stay
/// consistent. `deploy/README.md` says where to replace them.
#[cfg(any(feature = "devnet", feature = "mainnet"))]
mod cluster {
    use super::Pubkey;
    pub const JOB_ESCROW: Pubkey =
        Pubkey::from_str_const("XJh8BwWdjY1eYaibbY23dna3eNn8ztEELqbUnNB42P1");
    pub const NODE_REGISTRY: Pubkey =
        Pubkey::from_str_const("Aiq2bAhoUjMgiUZydtgZjDCwzWSBjfrc76redtMpuUwj");
    pub const REPUTATION: Pubkey =
        Pubkey::from_str_const("DGVFCuxMRezHJECEohGmcqc3u1U7LeN4PduGzMA1Y1SA");
    pub const DISPUTE_DAO: Pubkey =
        Pubkey::from_str_const("DtVq8CggcWnjw4EYYgenSD4CMR4qxmyKzNtiaB8T3LUT");
    pub const DEPLOYER: Pubkey =
        Pubkey::from_str_const("5XZkWSWCchqqbrUJ3YBUNA4hiLAXF7VbsUpuLRTWchDZ");
}

/// The key allowed to run each program's one-time `initialize`. Initialisation sets the
/// admin; without this gate anyone could initialise a freshly deployed program first and
/// make themselves admin. For localnet it is `deploy/keys/localnet/deployer-keypair.json`.
pub use cluster::DEPLOYER;
pub use cluster::{DISPUTE_DAO, JOB_ESCROW, NODE_REGISTRY, REPUTATION};

use crate::seeds;

/// JobEscrow's CPI-signing PDA, as NodeRegistry expects it.
pub fn escrow_authority() -> Pubkey {
    Pubkey::find_program_address(&[seeds::ESCROW_AUTHORITY], &JOB_ESCROW).0
}

/// Dispute/DAO's verdict-signing PDA.
pub fn dispute_authority() -> Pubkey {
    Pubkey::find_program_address(&[seeds::DISPUTE_AUTHORITY], &DISPUTE_DAO).0
}

/// Dispute/DAO's governance-execution PDA.
pub fn governance_authority() -> Pubkey {
    Pubkey::find_program_address(&[seeds::GOVERNANCE_AUTHORITY], &DISPUTE_DAO).0
}
