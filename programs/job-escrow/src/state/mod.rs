//! Account types of JobEscrow; the payment math lives on them.

pub mod config;
pub mod escrow;

pub use config::*;
pub use escrow::*;
