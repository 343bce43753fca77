//! Native chain test harness for the CyxWiz programs.
//!
//! No SBF toolchain exists on our build machines, so programs are compiled for the host
//! and registered in LiteSVM as builtins, while SPL Token runs from the `.so` LiteSVM
//! ships. [`adapter`] makes that faithful (CPIs really move tokens, sysvars read, events
//! logged, tests run in parallel); [`kit`] is the test helper library on top.
//!
//! ```ignore
//! let mut chain = TestChain::new(&[(my_program::ID, native_program!(my_program::entry))]);
//! ```

pub mod adapter;
pub mod kit;

pub use kit::{
    TestChain, TxError, TxOk, anchor_code, assert_anchor_err, assert_ix_err, decode_events,
};

/// Items the [`native_program!`] macro expands to; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use solana_program_runtime::invoke_context::InvokeContext;
    pub use solana_sbpf::{
        error::EbpfError, program::BuiltinFunctionDefinition, vm::EncryptedHostAddressToEbpfVm,
    };
}
