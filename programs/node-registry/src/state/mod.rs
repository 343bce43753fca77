//! Account types of NodeRegistry; the rules live on them so handlers stay thin.

pub mod config;
pub mod node;

pub use config::*;
pub use node::*;
