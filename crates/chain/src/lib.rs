//! The CyxWiz chain SDK: the one place off-chain code (coordinator, node-agent,
//! engine-client, deploy, localnet) builds instructions and reads program state.
//!
//! * [`pda`]: every program-derived address.
//! * [`ix`]: a typed builder for every instruction a transaction can carry.
//! * [`state`]: account decoding with discriminator checks.
//! * [`events`]: program events decoded from transaction logs.
//! * [`error`]: typed errors that carry the program's error name.
//! * [`keys`]: keypairs in the Solana CLI's JSON format.
//! * [`token`]: token accounts and transfers on the CYXWIZ mint.
//! * `client` / `pubsub` (feature `rpc`): an RPC client with blockhash refresh, retries,
//!   confirmation and idempotent steps; event subscription with reconnect.
#![forbid(unsafe_code)]

pub mod error;
pub mod events;
pub mod ix;
pub mod keys;
pub mod pda;
pub mod state;
pub mod token;

#[cfg(feature = "rpc")]
pub mod client;
#[cfg(feature = "rpc")]
pub mod pubsub;

pub use anchor_lang::prelude::Pubkey;
pub use anchor_lang::solana_program::instruction::{AccountMeta, Instruction};
pub use cyxwiz_common::ids;
pub use error::{ChainError, ProgramErrorName};

/// Addresses fixed at deployment that many instructions need: the CYXWIZ mint and its
/// token program, the fee treasuries and the insurance vault. [`client::ChainClient`]
/// reads them from the on-chain configs (`load_addresses`); a deploy plan knows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Addresses {
    pub mint: Pubkey,
    pub token_program: Pubkey,
    pub treasury: Treasury,
    /// NodeRegistry's insurance vault (receives the insurance share of slashes).
    pub insurance_vault: Pubkey,
}

/// The three token accounts that receive the platform fee.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Treasury {
    pub staking: Pubkey,
    pub development: Pubkey,
    pub liquidity: Pubkey,
}
