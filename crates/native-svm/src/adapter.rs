//! Runs a natively compiled Anchor program as a LiteSVM builtin.
//!
//! Adapted from `solana-program-test` 4.2.2 (`invoke_builtin_function` and its
//! `SyscallStubs`), with the fixes that make it correct for Anchor 1.2.2 programs:
//!
//! * **Stubs in both `solana-sysvar` generations.** Anchor 1.2.2 performs CPIs and sysvar
//!   reads through the host stubs of `solana-sysvar` 3.x; the agave 4.2.2 runtime only
//!   knows 4.x. Without a 3.x stub, `Rent::get` fails and a CPI token transfer "succeeds"
//!   through the default stub while moving nothing. One stub type implements both traits.
//! * **Events reach the logs.** `sol_log_data` is written as `Program data: <base64>`,
//!   exactly as the SBF runtime does, so event decoders work unchanged.
//! * **Program logs reach the logs.** `msg!` (and with it Anchor's `Instruction: X` and
//!   `AnchorError …` lines) goes through `solana_msg::sol_log`, which upstream prints to
//!   stdout on the host. The workspace patches `solana-msg` with a host hook
//!   (`patches/README.md`); the adapter installs one that writes `Program log: <msg>` into
//!   the invocation's log collector, as the `sol_log_` syscall does, so failed
//!   transactions carry the program's error lines and nothing reaches stdout.
//! * **Thread-local invoke context.** The stubs are process-global, the context is not:
//!   every test thread runs its own SVM, so tests run in parallel. It is cleared when the
//!   invocation returns.
//! * **Entry lifetime wrapper.** Anchor's `entry` wants one `'info` lifetime for the
//!   account slice and the accounts; [`invoke_native_entry`] provides exactly that.
//!
//! Compute units cannot be measured natively: a builtin is charged a flat 1 CU plus the
//! sysvar costs below, so CU budgets are stated from the syscall cost model instead, and
//! the runtime writes no `Program <id> consumed N of M compute units` line for a builtin.
#![allow(unsafe_code)]

use std::{
    cell::RefCell,
    collections::{HashMap, HashSet},
    mem::transmute,
    panic::AssertUnwindSafe,
    ptr,
    sync::{Arc, Once},
};

use base64::{Engine, prelude::BASE64_STANDARD};
use solana_account_info::AccountInfo;
use solana_clock::Clock;
use solana_epoch_rewards::EpochRewards;
use solana_epoch_schedule::EpochSchedule;
use solana_instruction::{
    Instruction,
    error::{InstructionError, UNSUPPORTED_SYSVAR},
};
use solana_program_entrypoint::{SUCCESS, deserialize};
use solana_program_error::{ProgramError, ProgramResult};
use solana_program_runtime::{
    invoke_context::InvokeContext, serialization::serialize_parameters, sysvar_cache::SysvarCache,
};
use solana_pubkey::Pubkey;
use solana_rent::Rent;
use solana_svm_log_collector::ic_msg;
use solana_svm_timings::ExecuteTimings;
use solana_sysvar_id::SysvarId;
use solana_sysvar_v4::last_restart_slot::LastRestartSlot;
use solana_transaction_context::IndexOfAccount;

/// The entry point every Anchor program generates (`my_program::entry`), with the single
/// `'info` lifetime Anchor requires.
pub type AnchorEntry =
    for<'info> fn(&'info Pubkey, &'info [AccountInfo<'info>], &'info [u8]) -> ProgramResult;

thread_local! {
    static INVOKE_CONTEXT: RefCell<Option<usize>> = const { RefCell::new(None) };
}

/// Marks this thread as running a builtin invocation until dropped, then restores the
/// previous mark. Clearing it matters: the stubs and the log hook must never reach a
/// context that has gone (a program function called directly by a host test, after a
/// transaction finished on the same thread).
struct InvocationGuard {
    previous: Option<usize>,
}

impl InvocationGuard {
    fn enter(context: &mut InvokeContext) -> Self {
        let addr = ptr::from_mut(context).expose_provenance();
        let previous = INVOKE_CONTEXT.with(|slot| slot.replace(Some(addr)));
        InvocationGuard { previous }
    }
}

impl Drop for InvocationGuard {
    fn drop(&mut self) {
        INVOKE_CONTEXT.with(|slot| {
            slot.replace(self.previous);
        });
    }
}

/// The invoke context of the instruction running on this thread, if one is.
fn try_invoke_context<'a, 'b>() -> Option<&'a mut InvokeContext<'b, 'b>> {
    let addr = INVOKE_CONTEXT.with(|slot| *slot.borrow())?;
    // SAFETY: the address was stored from a live `&mut InvokeContext` by an
    // `InvocationGuard` on this thread, which is dropped (clearing it) before that
    // invocation returns; program code, the only caller, runs synchronously inside it.
    Some(unsafe { &mut *ptr::with_exposed_provenance_mut(addr) })
}

/// The invoke context of the instruction running on this thread.
///
/// # Panics
/// If called outside a builtin invocation: the stubs are only reachable from program
/// code, which only runs inside one.
fn get_invoke_context<'a, 'b>() -> &'a mut InvokeContext<'b, 'b> {
    match try_invoke_context() {
        Some(context) => context,
        None => panic!("native program code ran outside of an SVM invocation"),
    }
}

/// The `solana_msg` host hook (`patches/solana-msg`): every `msg!`/`sol_log` of a
/// native program, Anchor's own lines included, becomes `Program log: <message>` in the
/// running invocation's log collector, exactly what the SBF `sol_log_` syscall records.
/// Outside an invocation it declines, and `solana_msg` prints as upstream does.
fn capture_program_log(message: &str) -> bool {
    match try_invoke_context() {
        Some(invoke_context) => {
            ic_msg!(invoke_context, "Program log: {}", message);
            true
        }
        None => false,
    }
}

/// Runs one native program invocation: serialises the instruction's accounts in the SBF
/// ABI, calls the program's entry, and commits its account changes back, as the SBF
/// loader would.
pub fn invoke_native_entry(
    entry: AnchorEntry,
    invoke_context: &mut InvokeContext,
) -> Result<u64, Box<dyn std::error::Error>> {
    install_syscall_stubs();
    let _invocation = InvocationGuard::enter(invoke_context);

    let transaction_context = &invoke_context.transaction_context;
    let instruction_context = transaction_context.get_current_instruction_context()?;
    let instruction_account_indices = 0..instruction_context.get_number_of_instruction_accounts();

    invoke_context.compute_meter.consume_checked(1)?;

    // The runtime itself logs `invoke`, `success` and `failed` for every program (and for
    // CPIs), so the adapter logs none of them.

    let deduplicated_indices: HashSet<IndexOfAccount> = instruction_account_indices.collect();
    let direct_account_pointers = invoke_context
        .get_feature_set()
        .direct_account_pointers_in_program_input;

    let (mut parameter_bytes, _regions, _account_lengths, _instruction_data_offset) =
        serialize_parameters(&instruction_context, false, false, direct_account_pointers)?;

    // SAFETY: `parameter_bytes` was just produced by `serialize_parameters` in the layout
    // `deserialize` expects, and it outlives every reference `deserialize` hands out
    // (they are all dropped before `parameter_bytes` at the end of this function).
    let (program_id_ref, account_infos, input) =
        unsafe { deserialize(&mut parameter_bytes.as_slice_mut()[0] as *mut u8) };

    match std::panic::catch_unwind(AssertUnwindSafe(|| {
        call_entry(entry, program_id_ref, &account_infos, input)
    })) {
        Ok(Ok(())) => {}
        Ok(Err(program_error)) => {
            return Err(Box::new(InstructionError::from(u64::from(program_error))));
        }
        Err(_panic) => return Err(Box::new(InstructionError::ProgramFailedToComplete)),
    }

    let account_info_map: HashMap<_, _> = account_infos.into_iter().map(|a| (a.key, a)).collect();

    // Re-fetch: a CPI made by the program re-set the thread's context pointer.
    let transaction_context = &invoke_context.transaction_context;
    let instruction_context = transaction_context.get_current_instruction_context()?;

    for i in deduplicated_indices {
        let mut borrowed = instruction_context.try_borrow_instruction_account(i)?;
        if borrowed.is_writable()
            && let Some(info) = account_info_map.get(borrowed.get_key())
        {
            if borrowed.get_lamports() != info.lamports() {
                borrowed.set_lamports(info.lamports())?;
            }
            if borrowed.can_data_be_resized(info.data_len()).is_ok() {
                borrowed.set_data_from_slice(&info.data.borrow())?;
            }
            if borrowed.get_owner() != info.owner {
                borrowed.set_owner(info.owner.as_ref())?;
            }
        }
    }
    Ok(0)
}

/// The entry lifetime wrapper: Anchor's `entry` wants `&'info [AccountInfo<'info>]`,
/// while the deserialised accounts borrow the input buffer for longer than the slice.
fn call_entry<'a, 'b>(
    entry: AnchorEntry,
    program_id: &'b Pubkey,
    accounts: &'b [AccountInfo<'a>],
    data: &'b [u8],
) -> ProgramResult {
    // SAFETY: shortens the accounts' lifetime `'a` to the slice's `'b` (`'a: 'b` holds
    // because the slice borrows the accounts). `AccountInfo` is invariant only because of
    // its `RefCell<&mut [u8]>`; the entry returns before `'b` ends, so it cannot keep a
    // reference that outlives the real data.
    let accounts: &'b [AccountInfo<'b>] =
        unsafe { transmute::<&'b [AccountInfo<'a>], &'b [AccountInfo<'b>]>(accounts) };
    entry(program_id, accounts, data)
}

/// Builds the `BuiltinFunctionRegisterer` LiteSVM's `add_builtin` takes for an Anchor
/// program's `entry` function: `svm.add_builtin(id, native_program!(my_program::entry))`.
#[macro_export]
macro_rules! native_program {
    ($entry:path) => {{
        struct NativeEntry;
        impl $crate::__private::BuiltinFunctionDefinition<$crate::__private::InvokeContext<'_, '_>>
            for NativeEntry
        {
            type Error = Box<dyn std::error::Error>;
            fn rust(
                _: &mut $crate::__private::InvokeContext<'_, '_>,
                _: u64,
                _: u64,
                _: u64,
                _: u64,
                _: u64,
            ) -> Result<u64, Box<dyn std::error::Error>> {
                unreachable!("builtins are entered through `vm`")
            }
            fn vm(
                mut vm: $crate::__private::EncryptedHostAddressToEbpfVm<
                    $crate::__private::InvokeContext<'_, '_>,
                >,
                _: u64,
                _: u64,
                _: u64,
                _: u64,
                _: u64,
            ) {
                // SAFETY: the runtime hands each builtin call exactly one VM handle.
                #[allow(unsafe_code)]
                unsafe {
                    vm.with_vm(|vm| {
                        vm.program_result =
                            $crate::adapter::invoke_native_entry($entry, vm.context())
                                .map_err($crate::__private::EbpfError::SyscallError)
                                .into();
                    });
                }
            }
        }
        <NativeEntry as $crate::__private::BuiltinFunctionDefinition<_>>::register
    }};
}

/// Installs the stubs once per process, in both `solana-sysvar` generations, and the
/// `solana_msg` log hook.
pub fn install_syscall_stubs() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        solana_sysvar_v3::program_stubs::set_syscall_stubs(Box::new(SyscallStubs));
        solana_sysvar_v4::program_stubs::set_syscall_stubs(Box::new(SyscallStubs));
        solana_msg::host::set_log_hook(Some(capture_program_log));
    });
}

fn get_sysvar<T: Clone>(sysvar: Result<Arc<T>, InstructionError>, var_addr: *mut u8) -> u64 {
    let invoke_context = get_invoke_context();
    let cost = invoke_context.get_execution_cost().sysvar_base_cost + size_of::<T>() as u64;
    if invoke_context.compute_meter.consume_checked(cost).is_err() {
        panic!("exceeded compute budget");
    }
    match sysvar {
        // SAFETY: the caller passes a pointer to a `T`-sized, `T`-aligned buffer (the
        // sysvar getters of both solana-sysvar generations allocate the same struct).
        Ok(value) => unsafe {
            ptr::write(var_addr.cast::<T>(), T::clone(&value));
            SUCCESS
        },
        Err(_) => UNSUPPORTED_SYSVAR,
    }
}

fn fetch_and_write_sysvar<T: serde::Serialize>(
    var_addr: *mut u8,
    offset: u64,
    length: u64,
    fetch: impl FnOnce(&SysvarCache) -> Result<Arc<T>, InstructionError>,
) -> u64 {
    let invoke_context = get_invoke_context();
    let cost = *invoke_context.get_execution_cost();
    let id_cost = 32_u64.checked_div(cost.cpi_bytes_per_unit).unwrap_or(0);
    let buf_cost = length.checked_div(cost.cpi_bytes_per_unit).unwrap_or(0);
    let total = cost
        .sysvar_base_cost
        .saturating_add(id_cost)
        .saturating_add(buf_cost.max(cost.mem_op_base_cost));
    if invoke_context.compute_meter.consume_checked(total).is_err() {
        panic!("exceeded compute budget");
    }
    let Ok(sysvar) = fetch(get_invoke_context().environment_config.sysvar_cache()) else {
        return UNSUPPORTED_SYSVAR;
    };
    let Ok(serialized) = bincode::serialize(&*sysvar) else {
        return UNSUPPORTED_SYSVAR;
    };
    let Some(end) = offset.checked_add(length) else {
        return UNSUPPORTED_SYSVAR;
    };
    if end > serialized.len() as u64 {
        return UNSUPPORTED_SYSVAR;
    }
    // SAFETY: the caller guarantees `var_addr` points to at least `length` writable bytes;
    // the source range was bounds-checked above.
    unsafe {
        ptr::copy_nonoverlapping(
            serialized[offset as usize..].as_ptr(),
            var_addr,
            length as usize,
        )
    };
    SUCCESS
}

struct SyscallStubs;

impl SyscallStubs {
    fn log(&self, message: &str) {
        // `program_stubs::sol_log` callers (solana-program 2.x style code) land in the
        // same place as `msg!`.
        if !capture_program_log(message) {
            panic!("native program code ran outside of an SVM invocation");
        }
    }

    fn log_data(&self, fields: &[&[u8]]) {
        let invoke_context = get_invoke_context();
        let encoded: Vec<String> = fields.iter().map(|f| BASE64_STANDARD.encode(f)).collect();
        ic_msg!(invoke_context, "Program data: {}", encoded.join(" "));
    }

    fn invoke_signed(
        &self,
        instruction: &Instruction,
        account_infos: &[AccountInfo],
        signers_seeds: &[&[&[u8]]],
    ) -> ProgramResult {
        let invoke_context = get_invoke_context();
        let caller = invoke_context
            .transaction_context
            .get_current_instruction_context()
            .and_then(|ctx| ctx.get_program_key().copied())
            .map_err(|_| ProgramError::InvalidInstructionData)?;

        let mut signers = Vec::with_capacity(signers_seeds.len());
        for seeds in signers_seeds {
            signers.push(
                Pubkey::create_program_address(seeds, &caller)
                    .map_err(|_| ProgramError::InvalidSeeds)?,
            );
        }

        invoke_context
            .prepare_next_cpi_instruction(instruction.clone(), &signers)
            .map_err(program_error)?;

        // Push the caller's AccountInfo edits into the runtime before the callee runs.
        let transaction_context = &invoke_context.transaction_context;
        let instruction_context = transaction_context
            .get_current_instruction_context()
            .map_err(program_error)?;
        let next_instruction_context = transaction_context
            .get_next_instruction_context()
            .map_err(program_error)?;
        let mut writable = Vec::new();
        for instruction_account in next_instruction_context.instruction_accounts().iter() {
            let key = transaction_context
                .get_key_of_account_at_index(instruction_account.index_in_transaction)
                .map_err(program_error)?;
            let info_index = account_infos
                .iter()
                .position(|info| info.unsigned_key() == key)
                .ok_or(ProgramError::NotEnoughAccountKeys)?;
            let info = &account_infos[info_index];
            let index_in_caller = instruction_context
                .get_index_of_account_in_instruction(instruction_account.index_in_transaction)
                .map_err(program_error)?;
            let mut borrowed = instruction_context
                .try_borrow_instruction_account(index_in_caller)
                .map_err(program_error)?;
            if borrowed.get_lamports() != info.lamports() {
                borrowed
                    .set_lamports(info.lamports())
                    .map_err(program_error)?;
            }
            let data = info.try_borrow_data()?;
            match borrowed.can_data_be_resized(data.len()) {
                Ok(()) => borrowed.set_data_from_slice(&data).map_err(program_error)?,
                Err(err) if borrowed.get_data() != *data => return Err(program_error(err)),
                Err(_) => {}
            }
            if borrowed.get_owner() != info.owner {
                borrowed
                    .set_owner(info.owner.as_ref())
                    .map_err(program_error)?;
            }
            if instruction_account.is_writable() {
                writable.push((instruction_account.index_in_transaction, info_index));
            }
        }

        let mut units = 0;
        invoke_context
            .process_instruction(&mut units, &mut ExecuteTimings::default())
            .map_err(program_error)?;

        // Pull the callee's effects back into the caller's AccountInfos.
        let transaction_context = &invoke_context.transaction_context;
        let instruction_context = transaction_context
            .get_current_instruction_context()
            .map_err(program_error)?;
        for (index_in_transaction, info_index) in writable {
            let index_in_caller = instruction_context
                .get_index_of_account_in_instruction(index_in_transaction)
                .map_err(program_error)?;
            let borrowed = instruction_context
                .try_borrow_instruction_account(index_in_caller)
                .map_err(program_error)?;
            let info = &account_infos[info_index];
            **info.try_borrow_mut_lamports()? = borrowed.get_lamports();
            if info.owner != borrowed.get_owner() {
                // SAFETY: as in solana-program-test: the runtime already validated the
                // owner change (only the System Program assigns), and the AccountInfo
                // owner field points into the serialized input buffer we own.
                #[allow(clippy::transmute_ptr_to_ptr)]
                #[allow(mutable_transmutes)]
                let owner = unsafe { transmute::<&Pubkey, &mut Pubkey>(info.owner) };
                *owner = *borrowed.get_owner();
            }
            let new_data = borrowed.get_data();
            if info.data_len() != new_data.len() {
                info.resize(new_data.len())?;
            }
            info.try_borrow_mut_data()?.clone_from_slice(new_data);
        }
        Ok(())
    }

    fn get_return_data(&self) -> Option<(Pubkey, Vec<u8>)> {
        let (program_id, data) = get_invoke_context().transaction_context.get_return_data();
        Some((*program_id, data.to_vec()))
    }

    fn set_return_data(&self, data: &[u8]) {
        let invoke_context = get_invoke_context();
        let transaction_context = &mut invoke_context.transaction_context;
        let Ok(caller) = transaction_context
            .get_current_instruction_context()
            .and_then(|ctx| ctx.get_program_key().copied())
        else {
            return;
        };
        // The only failure is data over the 1 KiB limit; the SBF runtime aborts the
        // program there, which the panic below reproduces (caught as a program failure).
        if let Err(err) = transaction_context.set_return_data(caller, data.to_vec()) {
            panic!("sol_set_return_data: {err}");
        }
    }

    fn stack_height(&self) -> u64 {
        get_invoke_context().get_stack_height() as u64
    }

    fn sysvar(
        &self,
        sysvar_id_addr: *const u8,
        var_addr: *mut u8,
        offset: u64,
        length: u64,
    ) -> u64 {
        // SAFETY: the program passes the address of a 32-byte sysvar id.
        let id = unsafe { &*(sysvar_id_addr.cast::<Pubkey>()) };
        match *id {
            id if id == Clock::id() => {
                fetch_and_write_sysvar::<Clock>(var_addr, offset, length, SysvarCache::get_clock)
            }
            id if id == EpochRewards::id() => fetch_and_write_sysvar::<EpochRewards>(
                var_addr,
                offset,
                length,
                SysvarCache::get_epoch_rewards,
            ),
            id if id == EpochSchedule::id() => fetch_and_write_sysvar::<EpochSchedule>(
                var_addr,
                offset,
                length,
                SysvarCache::get_epoch_schedule,
            ),
            id if id == LastRestartSlot::id() => fetch_and_write_sysvar::<LastRestartSlot>(
                var_addr,
                offset,
                length,
                SysvarCache::get_last_restart_slot,
            ),
            id if id == Rent::id() => {
                fetch_and_write_sysvar::<Rent>(var_addr, offset, length, SysvarCache::get_rent)
            }
            _ => UNSUPPORTED_SYSVAR,
        }
    }
}

fn program_error(err: InstructionError) -> ProgramError {
    ProgramError::try_from(err).unwrap_or(ProgramError::InvalidAccountData)
}

/// One stub type, two trait generations: the method bodies are identical, only the
/// trait paths differ.
macro_rules! impl_stubs {
    ($stubs:path) => {
        impl $stubs for SyscallStubs {
            fn sol_log(&self, message: &str) {
                self.log(message)
            }
            fn sol_log_data(&self, fields: &[&[u8]]) {
                self.log_data(fields)
            }
            fn sol_invoke_signed(
                &self,
                instruction: &Instruction,
                account_infos: &[AccountInfo],
                signers_seeds: &[&[&[u8]]],
            ) -> ProgramResult {
                self.invoke_signed(instruction, account_infos, signers_seeds)
            }
            fn sol_get_clock_sysvar(&self, var_addr: *mut u8) -> u64 {
                get_sysvar(
                    get_invoke_context()
                        .environment_config
                        .sysvar_cache()
                        .get_clock(),
                    var_addr,
                )
            }
            fn sol_get_epoch_schedule_sysvar(&self, var_addr: *mut u8) -> u64 {
                get_sysvar(
                    get_invoke_context()
                        .environment_config
                        .sysvar_cache()
                        .get_epoch_schedule(),
                    var_addr,
                )
            }
            fn sol_get_epoch_rewards_sysvar(&self, var_addr: *mut u8) -> u64 {
                get_sysvar(
                    get_invoke_context()
                        .environment_config
                        .sysvar_cache()
                        .get_epoch_rewards(),
                    var_addr,
                )
            }
            fn sol_get_rent_sysvar(&self, var_addr: *mut u8) -> u64 {
                get_sysvar(
                    get_invoke_context()
                        .environment_config
                        .sysvar_cache()
                        .get_rent(),
                    var_addr,
                )
            }
            fn sol_get_last_restart_slot(&self, var_addr: *mut u8) -> u64 {
                get_sysvar(
                    get_invoke_context()
                        .environment_config
                        .sysvar_cache()
                        .get_last_restart_slot(),
                    var_addr,
                )
            }
            fn sol_get_return_data(&self) -> Option<(Pubkey, Vec<u8>)> {
                self.get_return_data()
            }
            fn sol_set_return_data(&self, data: &[u8]) {
                self.set_return_data(data)
            }
            fn sol_get_stack_height(&self) -> u64 {
                self.stack_height()
            }
            fn sol_get_sysvar(
                &self,
                sysvar_id_addr: *const u8,
                var_addr: *mut u8,
                offset: u64,
                length: u64,
            ) -> u64 {
                self.sysvar(sysvar_id_addr, var_addr, offset, length)
            }
        }
    };
}

impl_stubs!(solana_sysvar_v3::program_stubs::SyscallStubs);
impl_stubs!(solana_sysvar_v4::program_stubs::SyscallStubs);
