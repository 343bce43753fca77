//! The sandbox against hand-written modules: the ABI plumbing works, and every way a
//! module can misbehave — loop, memory bomb, trap, wrong ABI, wrong version, metric
//! flood — fails that job with a typed reason while other jobs carry on.

use std::time::Duration;

use cyxwiz_sandbox::{JobError, Limits, Sandbox, metric};

/// A module implementing ABI v1 whose "training" sums the dataset bytes into the one
/// weight, scaled by the epoch, and reports it. `train` replaces the body of
/// `cyx_train_epoch`; `extra` adds items to the module.
fn module(version: i32, train: &str, extra: &str) -> String {
    format!(
        r#"(module
  (import "cyx" "report_metric" (func $report (param i32 f64)))
  {extra}
  (memory (export "memory") 2)
  (global $heap (mut i32) (i32.const 1024))
  (global $data (mut i32) (i32.const 0))
  (global $len (mut i32) (i32.const 0))
  (func (export "cyx_abi_version") (result i32) (i32.const {version}))
  (func (export "cyx_alloc") (param $n i32) (result i32)
    (local $p i32)
    (local.set $p (global.get $heap))
    (global.set $heap (i32.add (global.get $heap) (local.get $n)))
    (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
      (then (return (i32.const 0))))
    (local.get $p))
  (func (export "cyx_init") (param $p i32) (param $n i32) (param $seed i64) (result i32)
    (global.set $data (local.get $p))
    (global.set $len (local.get $n))
    (f64.store (i32.const 0) (f64.convert_i64_s (local.get $seed)))
    (i32.const 0))
  (func (export "cyx_train_epoch") (param $epoch i32) (result i32)
    (local $i i32) (local $sum f64)
    {train}
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (global.get $len)))
      (local.set $sum (f64.add (local.get $sum)
        (f64.convert_i32_u (i32.load8_u (i32.add (global.get $data) (local.get $i))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))
    (f64.store (i32.const 0) (f64.add (f64.load (i32.const 0))
      (f64.mul (local.get $sum) (f64.convert_i32_s (local.get $epoch)))))
    (call $report (i32.const 0) (f64.load (i32.const 0)))
    (call $report (i32.const 4) (f64.convert_i32_u (global.get $len)))
    (i32.const 0))
  (func (export "cyx_evaluate") (result i32)
    (call $report (i32.const 3) (f64.const 0.5))
    (i32.const 0))
  (func (export "cyx_weights_ptr") (result i32) (i32.const 0))
  (func (export "cyx_weights_len") (result i32) (i32.const 8))
  (func (export "cyx_set_weights") (param $p i32) (param $n i32) (result i32)
    (if (i32.ne (local.get $n) (i32.const 8)) (then (return (i32.const -3))))
    (f64.store (i32.const 0) (f64.load (local.get $p)))
    (i32.const 0))
)"#
    )
}

fn good() -> String {
    module(1, "", "")
}

fn sandbox(limits: Limits) -> Sandbox {
    Sandbox::new(limits).unwrap()
}

#[test]
fn a_well_formed_job_trains_reports_and_round_trips_its_weights() {
    let sb = sandbox(Limits::default());
    let m = sb.load(good().as_bytes()).unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1, 2, 3, 4], 10).unwrap();
    let r = job.train_epoch(1).unwrap();
    assert_eq!(r.metric(metric::TRAIN_LOSS), Some(20.0)); // seed 10 + sum 10 × epoch 1
    assert_eq!(r.metric(metric::SAMPLES), Some(4.0));
    assert!(r.fuel > 0);
    let r2 = job.train_epoch(2).unwrap();
    assert_eq!(r2.metric(metric::TRAIN_LOSS), Some(40.0));
    assert_eq!(
        job.evaluate().unwrap().metric(metric::TEST_ACCURACY),
        Some(0.5)
    );
    let w = job.weights().unwrap();
    assert_eq!(w, 40.0f64.to_le_bytes());
    // A new instance resumes from the saved weights.
    let mut resumed = sb.instantiate(&m).unwrap();
    resumed.init(&[1, 2, 3, 4], 10).unwrap();
    resumed.set_weights(&w).unwrap();
    assert_eq!(
        resumed.train_epoch(3).unwrap().metric(metric::TRAIN_LOSS),
        Some(70.0)
    );
    assert_eq!(
        resumed.set_weights(&[0; 3]),
        Err(JobError::Kernel {
            call: "cyx_set_weights",
            code: -3
        })
    );
}

#[test]
fn the_same_module_data_and_seed_give_the_same_weights_and_fuel() {
    let sb = sandbox(Limits::default());
    let m = sb.load(good().as_bytes()).unwrap();
    let run = || {
        let mut job = sb.instantiate(&m).unwrap();
        job.init(&[9; 1000], 7).unwrap();
        let fuel: Vec<u64> = (1..=3).map(|e| job.train_epoch(e).unwrap().fuel).collect();
        (job.weights().unwrap(), fuel)
    };
    assert_eq!(run(), run());
}

#[test]
fn an_endless_loop_runs_out_of_fuel() {
    let sb = sandbox(Limits {
        fuel_per_call: 10_000_000,
        ..Limits::default()
    });
    let m = sb
        .load(module(1, "(loop $spin (br $spin))", "").as_bytes())
        .unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    assert_eq!(
        job.train_epoch(1),
        Err(JobError::OutOfFuel { limit: 10_000_000 })
    );
}

#[test]
fn an_endless_loop_with_fuel_to_spare_hits_the_wall_time_limit() {
    let sb = sandbox(Limits {
        fuel_per_call: u64::MAX / 2,
        max_call_time: Duration::from_millis(200),
        ..Limits::default()
    });
    let m = sb
        .load(module(1, "(loop $spin (br $spin))", "").as_bytes())
        .unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    let start = std::time::Instant::now();
    assert_eq!(
        job.train_epoch(1),
        Err(JobError::Timeout(Duration::from_millis(200)))
    );
    assert!(start.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_memory_bomb_hits_the_memory_limit() {
    let sb = sandbox(Limits {
        max_memory_bytes: 4 * 65_536,
        ..Limits::default()
    });
    let bomb = "(loop $grow (drop (memory.grow (i32.const 1))) (br $grow))";
    let m = sb.load(module(1, bomb, "").as_bytes()).unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    assert_eq!(
        job.train_epoch(1),
        Err(JobError::MemoryLimit { limit: 4 * 65_536 })
    );
}

#[test]
fn a_trap_fails_the_job_with_its_reason() {
    let sb = sandbox(Limits::default());
    let m = sb.load(module(1, "(unreachable)", "").as_bytes()).unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    match job.train_epoch(1) {
        Err(JobError::Trap(reason)) => assert!(reason.contains("unreachable"), "{reason}"),
        other => panic!("expected a trap, got {other:?}"),
    }
}

#[test]
fn a_kernel_error_code_is_reported_as_such() {
    let sb = sandbox(Limits::default());
    let m = sb
        .load(module(1, "(return (i32.const -7))", "").as_bytes())
        .unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    assert_eq!(
        job.train_epoch(1),
        Err(JobError::Kernel {
            call: "cyx_train_epoch",
            code: -7
        })
    );
}

#[test]
fn flooding_the_host_with_metrics_is_stopped() {
    let sb = sandbox(Limits::default());
    let flood = "(loop $again (call $report (i32.const 0) (f64.const 1)) (br $again))";
    let m = sb.load(module(1, flood, "").as_bytes()).unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    match job.train_epoch(1) {
        Err(JobError::Trap(reason)) => {
            assert!(reason.contains("too many metric reports"), "{reason}")
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    let bad_key = module(1, "(call $report (i32.const 99) (f64.const 1))", "");
    let m = sb.load(bad_key.as_bytes()).unwrap();
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 1).unwrap();
    assert!(
        matches!(job.train_epoch(1), Err(JobError::Trap(r)) if r.contains("unknown metric key"))
    );
}

#[test]
fn modules_that_break_the_abi_are_refused_at_load() {
    let sb = sandbox(Limits::default());
    // Ambient authority: any other import.
    let wasi = module(
        1,
        "",
        r#"(import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))"#,
    );
    assert!(
        matches!(sb.load(wasi.as_bytes()), Err(JobError::Abi(m)) if m.contains("wasi_snapshot_preview1.fd_write"))
    );
    // A missing export.
    let missing = good().replace(r#"(export "cyx_evaluate")"#, "");
    assert!(
        matches!(sb.load(missing.as_bytes()), Err(JobError::Abi(m)) if m.contains("cyx_evaluate"))
    );
    // A wrong signature.
    let wrong = good().replace(
        r#"(func (export "cyx_weights_len") (result i32) (i32.const 8))"#,
        r#"(func (export "cyx_weights_len") (result i64) (i64.const 8))"#,
    );
    assert!(
        matches!(sb.load(wrong.as_bytes()), Err(JobError::Abi(m)) if m.contains("cyx_weights_len"))
    );
    // Not WebAssembly at all, and too large.
    assert!(matches!(
        sb.load(b"\0asm garbage"),
        Err(JobError::InvalidModule(_))
    ));
    let tiny = sandbox(Limits {
        max_module_bytes: 10,
        ..Limits::default()
    });
    assert!(matches!(
        tiny.load(good().as_bytes()),
        Err(JobError::ModuleTooLarge { .. })
    ));
    // Another ABI version.
    let v2 = sb.load(module(2, "", "").as_bytes()).unwrap();
    assert_eq!(
        sb.instantiate(&v2).err(),
        Some(JobError::AbiVersion {
            found: 2,
            expected: 1
        })
    );
}

#[test]
fn a_failing_job_does_not_disturb_another_running_beside_it() {
    let sb = std::sync::Arc::new(sandbox(Limits {
        fuel_per_call: 50_000_000,
        ..Limits::default()
    }));
    let bad = sb
        .load(module(1, "(loop $spin (br $spin))", "").as_bytes())
        .unwrap();
    let ok = sb.load(good().as_bytes()).unwrap();
    let (sb1, sb2) = (sb.clone(), sb.clone());
    let spinning = std::thread::spawn(move || {
        let mut job = sb1.instantiate(&bad).unwrap();
        job.init(&[1], 1).unwrap();
        job.train_epoch(1)
    });
    let healthy = std::thread::spawn(move || {
        let mut job = sb2.instantiate(&ok).unwrap();
        job.init(&[5; 100], 0).unwrap();
        (1..=20)
            .map(|e| job.train_epoch(e).map(|r| r.metric(metric::TRAIN_LOSS)))
            .collect::<Vec<_>>()
    });
    assert!(matches!(
        spinning.join().unwrap(),
        Err(JobError::OutOfFuel { .. })
    ));
    let losses = healthy.join().unwrap();
    assert!(losses.iter().all(|l| l.is_ok()));
    assert_eq!(losses[19], Ok(Some(500.0 * (1..=20).sum::<u32>() as f64)));
}

#[test]
fn vector_float_results_are_nan_canonical_and_relaxed_simd_is_refused() {
    let sb = sandbox(Limits::default());
    // A signalling NaN with a payload, plus 1, in every lane: x86 would return the quieted
    // payload (0x7FE00001) and ARM another pattern; the sandbox returns the one canonical
    // NaN (0x7FC00000), so a kernel that looks at the bits still agrees everywhere.
    let simd = module(
        1,
        r#"(call $report (i32.const 5) (f64.convert_i32_u (i32x4.extract_lane 3
             (f32x4.add (v128.const i32x4 0x7fa00001 0x7fa00001 0x7fa00001 0x7fa00001)
                        (v128.const f32x4 1 1 1 1)))))
           (call $report (i32.const 6) (f64.convert_i32_u (i32x4.extract_lane 0
             (f32x4.mul (v128.const f32x4 1.5 2 3 4) (v128.const f32x4 2 0.5 1 1)))))"#,
        "",
    );
    let m = sb.load(simd.as_bytes()).expect("128-bit SIMD is allowed");
    let mut job = sb.instantiate(&m).unwrap();
    job.init(&[1], 0).unwrap();
    let r = job.train_epoch(1).unwrap();
    assert_eq!(r.metric(5), Some(f64::from(0x7FC0_0000u32)));
    assert_eq!(r.metric(6), Some(f64::from(3.0f32.to_bits())));

    // Relaxed SIMD may round or pick NaNs differently per CPU: not even loadable.
    let relaxed = module(
        1,
        r#"(drop (f32x4.relaxed_madd (v128.const f32x4 1 1 1 1) (v128.const f32x4 1 1 1 1)
                                     (v128.const f32x4 1 1 1 1)))"#,
        "",
    );
    assert!(matches!(
        sb.load(relaxed.as_bytes()),
        Err(JobError::InvalidModule(_))
    ));
}
