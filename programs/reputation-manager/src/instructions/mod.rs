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
