//! The sandbox a node trains a job in.
//!
//! A job is a WebAssembly module implementing the CyxWiz job ABI (version 1, specified
//! in `docs/job-abi.md`): it gets its dataset through its own linear memory, trains one
//! epoch per call, reports metrics through one host import, and exposes its weights as
//! bytes. The module has no ambient authority: its only import is `cyx.report_metric`,
//! there is no WASI, no clock, no file or network access.
//!
//! Every run is bounded and deterministic:
//! - **fuel** (wasmtime's instruction metering) caps the work of each call and is itself
//!   a deterministic cost measure, identical on every node;
//! - **memory** is capped by a resource limiter; growing past it traps the job;
//! - **wall time** is capped by epoch interruption (a ticker thread advances the engine
//!   epoch);
//! - **floats** are bit-identical across machines: NaNs are canonicalised (scalar and
//!   vector results alike); 128-bit SIMD is on, since every one of its float operations
//!   is lane-wise IEEE-754 with one defined result, while relaxed SIMD (whose results
//!   may differ by CPU) and threads are off.
//!
//! Same module + same data + same seed ⇒ the same weights, bit for bit. That is what
//! makes re-execution a proof tool.
//!
//! A module that traps, loops, exhausts memory or violates the ABI fails with a typed
//! [`JobError`] and never harms the host or other jobs (each job has its own store).
#![forbid(unsafe_code)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    thread::JoinHandle,
    time::Duration,
};

use wasmtime::{
    Caller, Config, Engine, ExternType, Instance, Linker, Memory, Module, ResourceLimiter, Store,
    Trap, TypedFunc, ValType,
};

/// The job ABI version this sandbox implements.
pub const ABI_VERSION: i32 = 1;

/// Metric keys of `cyx.report_metric` (ABI v1).
pub mod metric {
    pub const TRAIN_LOSS: i32 = 0;
    pub const TRAIN_ACCURACY: i32 = 1;
    pub const TEST_LOSS: i32 = 2;
    pub const TEST_ACCURACY: i32 = 3;
    pub const SAMPLES: i32 = 4;
    /// Keys above this are refused (a module cannot flood the host with metrics).
    pub const MAX_KEY: i32 = 15;
}

/// Most metric reports one call may make.
const MAX_REPORTS_PER_CALL: usize = 1_024;

/// Bounds on one job.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest module accepted (bytes).
    pub max_module_bytes: usize,
    /// Largest linear memory (bytes).
    pub max_memory_bytes: usize,
    /// Fuel for `init` and for each `train_epoch` / `evaluate` call.
    pub fuel_per_call: u64,
    /// Longest wall time of one call.
    pub max_call_time: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_module_bytes: 16 * 1024 * 1024,
            max_memory_bytes: 256 * 1024 * 1024,
            fuel_per_call: 50_000_000_000,
            max_call_time: Duration::from_secs(300),
        }
    }
}

/// Why a job failed. The message is safe to show to the job's owner.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    #[error("module too large: {size} bytes (limit {limit})")]
    ModuleTooLarge { size: usize, limit: usize },
    #[error("module is not valid WebAssembly: {0}")]
    InvalidModule(String),
    #[error("module violates the job ABI: {0}")]
    Abi(String),
    #[error("module targets job ABI version {found}, this node runs version {expected}")]
    AbiVersion { found: i32, expected: i32 },
    #[error("job ran out of fuel ({limit} per call): it does too much work or loops")]
    OutOfFuel { limit: u64 },
    #[error("job exceeded its wall-time limit of {0:?}")]
    Timeout(Duration),
    #[error("job exceeded its memory limit of {limit} bytes")]
    MemoryLimit { limit: usize },
    #[error("job trapped: {0}")]
    Trap(String),
    #[error("job returned error code {code} from {call}")]
    Kernel { call: &'static str, code: i32 },
    #[error("dataset too large for the job's memory ({0} bytes)")]
    DataTooLarge(usize),
    #[error("sandbox error: {0}")]
    Host(String),
}

/// The engine shared by all jobs of a node, and the ticker that enforces wall time.
pub struct Sandbox {
    engine: Engine,
    limits: Limits,
    stop: Arc<AtomicBool>,
    ticker: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("limits", &self.limits)
            .finish()
    }
}

/// Wall time is measured in ticks of this length.
const TICK: Duration = Duration::from_millis(10);

impl Sandbox {
    pub fn new(limits: Limits) -> Result<Sandbox, JobError> {
        // Threads are compiled out (wasmtime's `threads` feature is off).
        let mut config = Config::new();
        config
            .consume_fuel(true)
            .epoch_interruption(true)
            .cranelift_nan_canonicalization(true)
            .wasm_simd(true)
            .wasm_relaxed_simd(false)
            .wasm_multi_memory(false)
            .wasm_memory64(false);
        let engine = Engine::new(&config).map_err(|e| JobError::Host(e.to_string()))?;
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = {
            let (engine, stop) = (engine.clone(), stop.clone());
            std::thread::Builder::new()
                .name("cyxwiz-sandbox-ticker".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| JobError::Host(e.to_string()))?
        };
        Ok(Sandbox {
            engine,
            limits,
            stop,
            ticker: Some(ticker),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Compiles `wasm` and checks it implements the job ABI exactly.
    pub fn load(&self, wasm: &[u8]) -> Result<JobModule, JobError> {
        if wasm.len() > self.limits.max_module_bytes {
            return Err(JobError::ModuleTooLarge {
                size: wasm.len(),
                limit: self.limits.max_module_bytes,
            });
        }
        let module =
            Module::new(&self.engine, wasm).map_err(|e| JobError::InvalidModule(e.to_string()))?;
        check_abi(&module)?;
        Ok(JobModule { module })
    }

    /// A fresh instance of `module` (its own store, memory and fuel).
    pub fn instantiate(&self, module: &JobModule) -> Result<Job, JobError> {
        let mut store = Store::new(
            &self.engine,
            HostState {
                limiter: Limiter {
                    max_memory: self.limits.max_memory_bytes,
                    exceeded: false,
                },
                reports: Vec::new(),
            },
        );
        store.limiter(|s| &mut s.limiter);
        let mut linker = Linker::new(&self.engine);
        linker
            .func_wrap(
                "cyx",
                "report_metric",
                |mut caller: Caller<'_, HostState>, key: i32, value: f64| -> wasmtime::Result<()> {
                    let state = caller.data_mut();
                    if !(0..=metric::MAX_KEY).contains(&key) {
                        return Err(wasmtime::Error::msg(format!("unknown metric key {key}")));
                    }
                    if state.reports.len() >= MAX_REPORTS_PER_CALL {
                        return Err(wasmtime::Error::msg("too many metric reports in one call"));
                    }
                    state.reports.push((key, value));
                    Ok(())
                },
            )
            .map_err(|e| JobError::Host(e.to_string()))?;
        let mut job = Job {
            store,
            instance: None,
            limits: self.limits,
        };
        job.arm()?;
        let instance = linker
            .instantiate(&mut job.store, &module.module)
            .map_err(|e| job.classify(e))?;
        job.instance = Some(instance);
        let version = job.call0("cyx_abi_version")?;
        if version != ABI_VERSION {
            return Err(JobError::AbiVersion {
                found: version,
                expected: ABI_VERSION,
            });
        }
        Ok(job)
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.ticker.take() {
            let _ = t.join();
        }
    }
}

/// A compiled module that passed the ABI check.
#[derive(Clone)]
pub struct JobModule {
    module: Module,
}

impl std::fmt::Debug for JobModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("JobModule")
    }
}

/// The exports of ABI v1: name, parameter types, result types.
const EXPORTS: [(&str, &[ValKind], &[ValKind]); 8] = [
    ("cyx_abi_version", &[], &[ValKind::I32]),
    ("cyx_alloc", &[ValKind::I32], &[ValKind::I32]),
    (
        "cyx_init",
        &[ValKind::I32, ValKind::I32, ValKind::I64],
        &[ValKind::I32],
    ),
    ("cyx_train_epoch", &[ValKind::I32], &[ValKind::I32]),
    ("cyx_evaluate", &[], &[ValKind::I32]),
    ("cyx_weights_ptr", &[], &[ValKind::I32]),
    ("cyx_weights_len", &[], &[ValKind::I32]),
    (
        "cyx_set_weights",
        &[ValKind::I32, ValKind::I32],
        &[ValKind::I32],
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ValKind {
    I32,
    I64,
    F64,
}

fn kind(v: &ValType) -> Option<ValKind> {
    match v {
        ValType::I32 => Some(ValKind::I32),
        ValType::I64 => Some(ValKind::I64),
        ValType::F64 => Some(ValKind::F64),
        _ => None,
    }
}

fn check_abi(module: &Module) -> Result<(), JobError> {
    for import in module.imports() {
        let ok = import.module() == "cyx"
            && import.name() == "report_metric"
            && matches!(import.ty(), ExternType::Func(f)
                if f.params().map(|p| kind(&p)).collect::<Vec<_>>() == [Some(ValKind::I32), Some(ValKind::F64)]
                    && f.results().len() == 0);
        if !ok {
            return Err(JobError::Abi(format!(
                "imports {}.{}; the only import allowed is cyx.report_metric(i32, f64)",
                import.module(),
                import.name()
            )));
        }
    }
    let mut memory = false;
    for export in module.exports() {
        if export.name() == "memory" {
            memory = matches!(export.ty(), ExternType::Memory(_));
        }
    }
    if !memory {
        return Err(JobError::Abi(
            "does not export its linear memory as `memory`".into(),
        ));
    }
    for (name, params, results) in EXPORTS {
        let Some(ExternType::Func(f)) = module.get_export(name) else {
            return Err(JobError::Abi(format!("does not export function `{name}`")));
        };
        let p: Vec<_> = f.params().map(|v| kind(&v)).collect();
        let r: Vec<_> = f.results().map(|v| kind(&v)).collect();
        let want_p: Vec<_> = params.iter().map(|k| Some(*k)).collect();
        let want_r: Vec<_> = results.iter().map(|k| Some(*k)).collect();
        if p != want_p || r != want_r {
            return Err(JobError::Abi(format!("`{name}` has the wrong signature")));
        }
    }
    Ok(())
}

struct Limiter {
    max_memory: usize,
    exceeded: bool,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory {
            self.exceeded = true;
            return Err(wasmtime::Error::msg("memory limit"));
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 100_000)
    }
}

struct HostState {
    limiter: Limiter,
    reports: Vec<(i32, f64)>,
}

/// What one call reported and what it cost.
#[derive(Debug, Clone, PartialEq)]
pub struct CallReport {
    /// `(key, value)` in the order reported.
    pub metrics: Vec<(i32, f64)>,
    /// Fuel consumed: a deterministic measure of the work done.
    pub fuel: u64,
}

impl CallReport {
    pub fn metric(&self, key: i32) -> Option<f64> {
        self.metrics
            .iter()
            .rev()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| *v)
    }
}

/// A running job: one instance, its memory and its budget.
pub struct Job {
    store: Store<HostState>,
    instance: Option<Instance>,
    limits: Limits,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job").field("limits", &self.limits).finish()
    }
}

impl Job {
    /// Fresh fuel and wall-time budget for the next call.
    fn arm(&mut self) -> Result<(), JobError> {
        self.store
            .set_fuel(self.limits.fuel_per_call)
            .map_err(|e| JobError::Host(e.to_string()))?;
        let ticks = (self.limits.max_call_time.as_millis() / TICK.as_millis()).max(1) as u64;
        self.store.set_epoch_deadline(ticks);
        self.store.data_mut().reports.clear();
        Ok(())
    }

    fn classify(&mut self, e: wasmtime::Error) -> JobError {
        if self.store.data().limiter.exceeded {
            return JobError::MemoryLimit {
                limit: self.limits.max_memory_bytes,
            };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => JobError::OutOfFuel {
                limit: self.limits.fuel_per_call,
            },
            Some(Trap::Interrupt) => JobError::Timeout(self.limits.max_call_time),
            Some(t) => JobError::Trap(t.to_string()),
            None => JobError::Trap(format!("{e:#}")),
        }
    }

    fn func<P: wasmtime::WasmParams, R: wasmtime::WasmResults>(
        &mut self,
        name: &str,
    ) -> Result<TypedFunc<P, R>, JobError> {
        let instance = self
            .instance
            .ok_or_else(|| JobError::Host("no instance".into()))?;
        instance
            .get_typed_func::<P, R>(&mut self.store, name)
            .map_err(|e| JobError::Abi(format!("`{name}`: {e}")))
    }

    fn memory(&mut self) -> Result<Memory, JobError> {
        let instance = self
            .instance
            .ok_or_else(|| JobError::Host("no instance".into()))?;
        instance
            .get_memory(&mut self.store, "memory")
            .ok_or_else(|| JobError::Abi("no exported memory".into()))
    }

    fn call0(&mut self, name: &'static str) -> Result<i32, JobError> {
        let f = self.func::<(), i32>(name)?;
        self.arm()?;
        f.call(&mut self.store, ()).map_err(|e| self.classify(e))
    }

    fn consumed(&self) -> u64 {
        self.limits
            .fuel_per_call
            .saturating_sub(self.store.get_fuel().unwrap_or(0))
    }

    fn report(&mut self) -> CallReport {
        CallReport {
            metrics: std::mem::take(&mut self.store.data_mut().reports),
            fuel: self.consumed(),
        }
    }

    fn ok(call: &'static str, code: i32) -> Result<(), JobError> {
        if code == 0 {
            Ok(())
        } else {
            Err(JobError::Kernel { call, code })
        }
    }

    /// Copies the dataset into the job's memory and initialises the model from `seed`.
    pub fn init(&mut self, data: &[u8], seed: i64) -> Result<CallReport, JobError> {
        let len = i32::try_from(data.len()).map_err(|_| JobError::DataTooLarge(data.len()))?;
        let alloc = self.func::<i32, i32>("cyx_alloc")?;
        self.arm()?;
        let ptr = alloc
            .call(&mut self.store, len)
            .map_err(|e| self.classify(e))?;
        if ptr <= 0 {
            return Err(JobError::DataTooLarge(data.len()));
        }
        let memory = self.memory()?;
        memory
            .write(&mut self.store, ptr as usize, data)
            .map_err(|_| JobError::Abi("cyx_alloc returned memory outside the module".into()))?;
        let init = self.func::<(i32, i32, i64), i32>("cyx_init")?;
        self.arm()?;
        let code = init
            .call(&mut self.store, (ptr, len, seed))
            .map_err(|e| self.classify(e))?;
        Self::ok("cyx_init", code)?;
        Ok(self.report())
    }

    /// Trains epoch `epoch` (0-based: the host calls 0, 1, 2, … in order).
    pub fn train_epoch(&mut self, epoch: u32) -> Result<CallReport, JobError> {
        let f = self.func::<i32, i32>("cyx_train_epoch")?;
        let epoch =
            i32::try_from(epoch).map_err(|_| JobError::Host("epoch out of range".into()))?;
        self.arm()?;
        let code = f
            .call(&mut self.store, epoch)
            .map_err(|e| self.classify(e))?;
        Self::ok("cyx_train_epoch", code)?;
        Ok(self.report())
    }

    /// Measures the model on the held-out split.
    pub fn evaluate(&mut self) -> Result<CallReport, JobError> {
        let code = self.call0("cyx_evaluate")?;
        Self::ok("cyx_evaluate", code)?;
        Ok(self.report())
    }

    /// The model's parameters as the module lays them out.
    pub fn weights(&mut self) -> Result<Vec<u8>, JobError> {
        let ptr = self.call0("cyx_weights_ptr")?;
        let len = self.call0("cyx_weights_len")?;
        let (ptr, len) = (
            usize::try_from(ptr).map_err(|_| JobError::Abi("negative weights pointer".into()))?,
            usize::try_from(len).map_err(|_| JobError::Abi("negative weights length".into()))?,
        );
        let memory = self.memory()?;
        let mut out = vec![0u8; len];
        memory
            .read(&self.store, ptr, &mut out)
            .map_err(|_| JobError::Abi("weights lie outside the module's memory".into()))?;
        Ok(out)
    }

    /// Restores parameters saved by [`Job::weights`] (resuming from a checkpoint).
    pub fn set_weights(&mut self, weights: &[u8]) -> Result<(), JobError> {
        let len =
            i32::try_from(weights.len()).map_err(|_| JobError::DataTooLarge(weights.len()))?;
        let alloc = self.func::<i32, i32>("cyx_alloc")?;
        self.arm()?;
        let ptr = alloc
            .call(&mut self.store, len)
            .map_err(|e| self.classify(e))?;
        if ptr <= 0 {
            return Err(JobError::DataTooLarge(weights.len()));
        }
        let memory = self.memory()?;
        memory
            .write(&mut self.store, ptr as usize, weights)
            .map_err(|_| JobError::Abi("cyx_alloc returned memory outside the module".into()))?;
        let f = self.func::<(i32, i32), i32>("cyx_set_weights")?;
        self.arm()?;
        let code = f
            .call(&mut self.store, (ptr, len))
            .map_err(|e| self.classify(e))?;
        Self::ok("cyx_set_weights", code)
    }
}
