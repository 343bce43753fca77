//! Deploy-time setup of CyxWiz, written once and used everywhere: by the deploy scripts
//! against a real cluster, by the embedded localnet, and by the program tests.
//!
//! Every step is a batch of instructions plus the keypairs that must sign it; the caller
//! chooses the transport (LiteSVM in tests, RPC on a cluster). That keeps one code path
//! for "how CyxWiz is initialised", exercised by every test run.
#![forbid(unsafe_code)]

pub mod idl;
pub mod keys;
pub mod network;
pub mod programs;
#[cfg(feature = "rpc")]
pub mod rpc;
pub mod token;

use anchor_lang::prelude::Pubkey;
use solana_keypair::Keypair;

pub use anchor_lang::solana_program::instruction::Instruction;

/// One transaction's worth of setup: instructions and the extra signers they need
/// (besides the fee payer).
#[derive(Debug)]
pub struct Step {
    pub label: &'static str,
    pub instructions: Vec<Instruction>,
    pub signers: Vec<Keypair>,
}

/// Errors building a setup plan.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("token instruction: {0}")]
    Token(String),
    #[error("keypair file {path}: {reason}")]
    Keypair { path: String, reason: String },
    #[error("distribution shares sum to {0} bps, not 10000")]
    BadDistribution(u32),
    #[error(transparent)]
    Chain(Box<cyxwiz_chain::ChainError>),
}

impl From<cyxwiz_chain::ChainError> for DeployError {
    fn from(e: cyxwiz_chain::ChainError) -> Self {
        DeployError::Chain(Box::new(e))
    }
}

/// Addresses a completed setup produced.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub mint: Pubkey,
    pub token_program: Pubkey,
    /// `(allocation name, owner, token account, amount)` for each distribution bucket.
    pub distribution: Vec<(&'static str, Pubkey, Pubkey, u64)>,
}
