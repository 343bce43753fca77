//! Instructions, grouped by lifecycle: setup, deposits, disputes, verdict execution,
//! proposals.

pub mod admin;
pub mod deposits;
pub mod disputes;
pub mod finalize;
pub mod initialize;
pub mod pda;
pub mod proposals;

pub use admin::*;
pub use deposits::*;
pub use disputes::*;
pub use finalize::*;
pub use initialize::*;
pub use proposals::*;
