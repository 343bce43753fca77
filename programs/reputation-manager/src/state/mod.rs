//! Account and parameter types.

pub mod config;
pub mod reputation;

pub use config::*;
pub use reputation::*;
