#![no_std]
#![cfg_attr(docsrs, feature(doc_cfg))]
#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

/// We re-export the `format!` macro from `alloc` for use in the `msg!` macro
#[cfg(feature = "alloc")]
#[doc(hidden)]
pub use alloc::format;

/// Print a message to the log.
///
/// Supports simple strings as well as Rust [format strings][fs]. When passed a
/// single expression it will be passed directly to [`sol_log`]. The expression
/// must have type `&str`, and is typically used for logging static strings.
/// When passed something other than an expression, particularly
/// a sequence of expressions, the tokens will be passed through the
/// [`format!`] macro before being logged with `sol_log`.
///
/// [fs]: https://doc.rust-lang.org/alloc/fmt/
/// [`format!`]: https://doc.rust-lang.org/alloc/fmt/fn.format.html
///
/// Note that Rust's formatting machinery is relatively CPU-intensive
/// for constrained environments like the Solana VM.
///
/// # Examples
///
/// ```
/// use solana_msg::msg;
///
/// // The fast form
/// msg!("verifying multisig");
///
/// // With formatting
/// let err = "not enough signers";
/// msg!("multisig failed: {}", err);
/// ```
#[cfg(feature = "alloc")]
#[macro_export]
macro_rules! msg {
    ($msg:expr) => {
        $crate::sol_log($msg)
    };
    ($($arg:tt)*) => ($crate::sol_log(&$crate::format!($($arg)*)));
}

#[cfg(target_os = "solana")]
pub mod syscalls;

/// Print a string to the log.
#[inline]
pub fn sol_log(message: &str) {
    #[cfg(target_os = "solana")]
    unsafe {
        syscalls::sol_log_(message.as_ptr(), message.len() as u64);
    }

    #[cfg(all(not(target_os = "solana"), feature = "std"))]
    host::log(message);

    #[cfg(all(not(target_os = "solana"), not(feature = "std")))]
    core::hint::black_box(message);
}

/// Host builds only (not part of upstream solana-msg 3.1.0; see `patches/README.md` of the
/// workspace that vendors this copy): lets a host-side SVM capture what natively compiled
/// programs log.
///
/// Upstream prints every [`sol_log`] to stdout when not compiled for SBF, unlike
/// `solana-program` 2.x, which routed it through the replaceable `program_stubs`. A test
/// harness that runs programs as native builtins needs the message in the transaction's
/// log, so a hook can take it instead: [`host::set_log_hook`]. With no hook, or when the
/// hook declines a message (returns `false`, e.g. no SVM invocation is running on this
/// thread), the message is printed to stdout as upstream does.
#[cfg(all(not(target_os = "solana"), feature = "std"))]
pub mod host {
    use std::sync::RwLock;

    /// Receives every message logged on the host; returns whether it took it.
    pub type LogHook = fn(&str) -> bool;

    static LOG_HOOK: RwLock<Option<LogHook>> = RwLock::new(None);

    /// Installs (or with `None` removes) the process-wide log hook; returns the previous one.
    pub fn set_log_hook(hook: Option<LogHook>) -> Option<LogHook> {
        let mut slot = LOG_HOOK.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        core::mem::replace(&mut *slot, hook)
    }

    /// The installed hook, if any.
    pub fn log_hook() -> Option<LogHook> {
        // Only a plain `fn` pointer is ever stored, so a poisoned lock still holds a
        // valid value.
        *LOG_HOOK.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn log(message: &str) {
        // Copy the pointer out first: the hook may log again (re-entrancy) or install
        // another hook, neither of which may deadlock on this lock.
        if let Some(hook) = log_hook() {
            if hook(message) {
                return;
            }
        }
        std::println!("{message}");
    }
}
