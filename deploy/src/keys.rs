//! Keypairs in the Solana CLI's JSON format; see `cyxwiz_chain::keys`.

pub use cyxwiz_chain::keys::{keypair_from_json, localnet_deployer, read_keypair, write_keypair};
