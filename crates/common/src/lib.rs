//! Shared pieces of the CyxWiz on-chain programs: program ids per cluster, PDA seed
//! prefixes, token-unit constants, basis-point math and the `emit_event!` macro.
//!
//! Everything here compiles for SBF (no host-only code outside
//! `cfg(not(target_os = "solana"))`), so programs and off-chain crates share one source
//! of truth for addresses and seeds.
#![forbid(unsafe_code)]

pub mod bps;
pub mod ids;
pub mod seeds;
pub mod units;

/// Host-side plumbing for [`emit_event!`]; not part of the public API.
#[doc(hidden)]
#[cfg(not(target_os = "solana"))]
pub mod __host {
    pub use solana_sysvar_v3::program_stubs::sol_log_data;
}

/// Emits an Anchor event.
///
/// On SBF this is exactly `anchor_lang::prelude::emit!`. Anchor's `emit!` is a no-op when
/// compiled for the host, which would make natively tested programs silent; here the
/// event is routed through the `sol_log_data` syscall stub instead, which the native SVM
/// harness records as a `Program data: <base64>` log line, as the real runtime does.
#[macro_export]
macro_rules! emit_event {
    ($event:expr) => {{
        #[cfg(target_os = "solana")]
        {
            anchor_lang::prelude::emit!($event);
        }
        #[cfg(not(target_os = "solana"))]
        {
            let data = anchor_lang::Event::data(&$event);
            $crate::__host::sol_log_data(&[&data]);
        }
    }};
}
