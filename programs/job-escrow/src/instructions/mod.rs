//! One module per instruction (accounts struct + handler), plus the shared money movers.

pub mod accept_job;
pub mod admin;
pub mod anchor_checkpoint;
pub mod assign_node;
pub mod assign_node_by_user;
pub mod cancel;
pub mod close_escrow;
pub mod complete_payment;
pub mod create_escrow;
pub mod dispute;
pub mod initialize;
pub mod rate_node;
pub mod refund;
pub mod release_stake;
pub mod shared;
pub mod submit_proof;
pub mod timeout_refund;

pub use accept_job::*;
pub use admin::*;
pub use anchor_checkpoint::*;
pub use assign_node::*;
pub use assign_node_by_user::*;
pub use cancel::*;
pub use close_escrow::*;
pub use complete_payment::*;
pub use create_escrow::*;
pub use dispute::*;
pub use initialize::*;
pub use rate_node::*;
pub use refund::*;
pub use release_stake::*;
pub use shared::*;
pub use submit_proof::*;
pub use timeout_refund::*;
