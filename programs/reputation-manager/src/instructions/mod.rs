//! One module per instruction group: accounts structs and handlers.

pub mod admin;
pub mod batch_update;
pub mod hooks;
pub mod init_accounts;
pub mod initialize;

pub use admin::*;
pub use batch_update::*;
pub use hooks::*;
pub use init_accounts::*;
pub use initialize::*;

use cyxwiz_common::emit_event;

use crate::{
    events::TierChanged,
    state::{NodeReputation, Tier},
};

/// Emits `TierChanged` if `rep`'s tier differs from `before` (what `refresh` returned).
pub(crate) fn emit_tier_change(rep: &NodeReputation, before: Tier) {
    if before != rep.tier {
        emit_event!(TierChanged {
            owner: rep.owner,
            from: before,
            to: rep.tier,
            score: rep.score
        });
    }
}
