//! Account and parameter types.

pub mod config;
pub mod dispute;
pub mod governance;

pub use config::*;
pub use dispute::*;
pub use governance::*;
