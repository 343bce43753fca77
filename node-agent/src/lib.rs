//! The CyxWiz node-agent: what a node operator runs to earn from compute.
//!
//! * [`config`]: `~/.cyxwiz/config.toml`, environment and flags.
//! * [`agent`]: the lifecycle: init keys, stake and register, discover and join the
//!   mesh, serve, heartbeat, shut down gracefully.
//! * [`network`]: the node on the IP mesh (`[network]`): DISCOVER, JOIN MESH, the staked
//!   announcement kept current, GOODBYE.
//! * [`admin`]: the owner-only admin socket `cyxwiz status/peers/network/stop` talk to.
//! * [`service`]: the TLS job channel engines talk to (upload, metrics, control,
//!   download).
//! * [`node`]: jobs and the chain work for them (accept, anchor, complete, refund).
//! * [`job`]: the training loop in the WASM sandbox, committing every epoch.
//! * [`store`]: job files and checkpoints on disk, verified on restore.
//! * [`logging`]: the log filter (keeps arkworks' per-constraint spans off).
#![forbid(unsafe_code)]

pub mod admin;
pub mod agent;
pub mod config;
pub mod job;
pub mod logging;
pub mod network;
pub mod node;
pub mod release;
pub mod service;
pub mod store;

pub use agent::Agent;
pub use config::Config;
