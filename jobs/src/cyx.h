/*
 * cyx.h - shared definitions for CyxWiz example training kernels (job ABI v1).
 *
 * The full ABI is specified in docs/job-abi.md.  Each kernel (logreg.c, mlp.c)
 * is compiled together with common.c into one freestanding WebAssembly module
 * (or, for the native test bench, into a native executable with run.c).
 *
 * No libc, no libm: only <stdint.h>/<stddef.h> (freestanding headers).
 * Model arithmetic is IEEE-754 binary32 (float) throughout; metric
 * accumulators are binary64.  Build with -ffp-contract=off.
 */
#ifndef CYX_H
#define CYX_H

#include <stddef.h>
#include <stdint.h>

#define CYX_ABI_VERSION 1

/* ---- error codes (returned as negative i32) ---------------------------- */
#define CYX_OK             0
#define CYX_E_STATE       -1  /* wrong call order: not initialised / already initialised */
#define CYX_E_MAGIC       -2  /* data does not start with "CYXD" */
#define CYX_E_VERSION     -3  /* CYXD version != 1 */
#define CYX_E_SIZE        -4  /* bad pointer/length, header sizes inconsistent with data_len, zero dims, overflow */
#define CYX_E_LABEL       -5  /* a label >= n_classes */
#define CYX_E_CLASSES     -6  /* n_classes outside 2..64, or not supported by this kernel */
#define CYX_E_NOMEM       -7  /* arena exhausted */
#define CYX_E_ARG         -8  /* bad argument (negative epoch, weights length mismatch, ...) */
#define CYX_E_VALUE       -9  /* non-finite value in features or in weights given to cyx_set_weights */
#define CYX_E_DIVERGED   -10  /* training produced a non-finite loss or parameter */
#define CYX_E_UNSUPPORTED -11 /* data shape not supported by this kernel (e.g. too many parameters) */

/* ---- metric keys for cyx.report_metric ---------------------------------- */
#define CYX_M_TRAIN_LOSS 0
#define CYX_M_TRAIN_ACC  1
#define CYX_M_TEST_LOSS  2
#define CYX_M_TEST_ACC   3
#define CYX_M_SAMPLES    4

#define CYX_MAX_CLASSES 64
#define CYX_SPLIT_SEED  0x5EEDull
#define CYX_ARENA_BYTES (4u << 20) /* 4 MiB static arena for cyx_alloc + kernel buffers */

/* Pointers crossing the ABI are wasm32 addresses (i32).  In the native test
 * bench they are host pointers (uintptr_t), which is the same C type on wasm32. */
typedef uintptr_t cyx_ptr;

#if defined(__wasm__)
#define CYX_EXPORT(name) __attribute__((export_name(#name), visibility("default")))
__attribute__((import_module("cyx"), import_name("report_metric")))
void report_metric(int32_t key, double value);
#else
#define CYX_EXPORT(name)
void report_metric(int32_t key, double value); /* provided by native/run.c */
#endif

/* ---- exported ABI functions (implemented in common.c) ------------------- */
CYX_EXPORT(cyx_abi_version) int32_t cyx_abi_version(void);
CYX_EXPORT(cyx_alloc)       cyx_ptr cyx_alloc(int32_t len);
CYX_EXPORT(cyx_init)        int32_t cyx_init(cyx_ptr data_ptr, int32_t data_len, int64_t seed);
CYX_EXPORT(cyx_train_epoch) int32_t cyx_train_epoch(int32_t epoch);
CYX_EXPORT(cyx_evaluate)    int32_t cyx_evaluate(void);
CYX_EXPORT(cyx_weights_ptr) cyx_ptr cyx_weights_ptr(void);
CYX_EXPORT(cyx_weights_len) int32_t cyx_weights_len(void);
CYX_EXPORT(cyx_set_weights) int32_t cyx_set_weights(cyx_ptr ptr, int32_t len);

/* ---- data set as seen by a kernel ---------------------------------------- */
typedef struct {
    uint32_t n_samples, n_features, n_classes;
    float *x;              /* n_samples * n_features, row-major, normalised in place by the kernel */
    uint32_t *y;           /* n_samples labels */
    uint32_t *train_idx;   /* n_train row indices (order fixed by the split) */
    uint32_t *test_idx;    /* n_test row indices */
    uint32_t n_train, n_test;
} cyx_dataset;

/* Per-pass statistics; the kernel fills them, common.c reports them. */
typedef struct {
    double loss_sum;   /* sum of per-sample cross-entropy losses (natural log) */
    uint32_t correct;  /* arg-max predictions equal to the label */
    uint32_t count;    /* samples visited */
} cyx_stats;

/* ---- hooks every kernel implements --------------------------------------- */
/* Check the shape; return the number of f32 parameters (> 0) or a negative error. */
int64_t kernel_param_count(uint32_t n_features, uint32_t n_classes);
/* Normalise ds->x in place (statistics from training rows only). */
int32_t kernel_normalise(cyx_dataset *ds);
/* Initialise parameters w[0..n) from the training seed. */
void kernel_init_weights(float *w, uint32_t n, uint64_t seed);
/* Allocate any scratch buffers (from cyx_arena_alloc); 0 or negative error. */
int32_t kernel_setup(const cyx_dataset *ds);
/* One epoch of SGD over `order` (n training row indices) at epoch number `epoch`. */
int32_t kernel_train(const cyx_dataset *ds, float *w, const uint32_t *order, uint32_t n,
                     int32_t epoch, cyx_stats *st);
/* Forward pass over rows `idx` without changing w. */
void kernel_eval(const cyx_dataset *ds, const float *w, const uint32_t *idx, uint32_t n,
                 cyx_stats *st);

/* ---- helpers from common.c ------------------------------------------------ */
void *cyx_arena_alloc(size_t len);           /* 16-byte aligned, zeroed; NULL on failure */
uint64_t cyx_splitmix64(uint64_t *state);
float cyx_uniform01(uint64_t *state);        /* (next >> 40) * 2^-24, in [0, 1), exact in f32 */
void cyx_shuffle(uint32_t *a, uint32_t n, uint64_t state); /* Fisher-Yates, see docs/job-abi.md */
float cyx_expf(float x);
float cyx_logf(float x);
int cyx_isfinite(float x);
float cyx_sqrtf(float x);                    /* __builtin_sqrtf: correctly rounded (f32.sqrt) */
/* Before an element-wise loop: vectorise it and run four vectors per trip, so the
 * sandbox's per-loop fuel and interruption checks are paid a quarter as often. Changes
 * no result (each element's operations stay the same); a no-op outside clang. */
#if defined(__clang__)
#define CYX_HOT_LOOP _Pragma("clang loop vectorize(enable) interleave_count(8)")
#else
#define CYX_HOT_LOOP
#endif

/* ----------------------------------------------------------- dot product -- */
/* b + a·x in a fixed 4-lane order, the same with and without SIMD:
 *   acc[r] = sum over i ≡ r (mod 4), in increasing i, of a[i]·x[i]   (acc[r] starts at 0)
 *   result = b + ((acc[0] + acc[1]) + (acc[2] + acc[3]))
 * Every step is one binary32 multiply or add (-ffp-contract=off), so the wasm128
 * path (one f32x4 lane per residue) and the scalar path give the same bits; the
 * four independent chains are also what lets either run at vector or ILP speed
 * instead of one serial chain (docs/job-abi.md §4). Inline, so the
 * per-row call (and the sandbox's fuel bookkeeping at calls) disappears. */
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
static inline float cyx_dot(float b, const float *a, const float *x, uint32_t n) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    uint32_t i = 0;
    /* Four vectors per trip, added in order: the same sums as one vector per trip, but
     * the sandbox's per-loop fuel and interruption checks run a quarter as often. */
    for (; i + 16u <= n; i += 16u) {
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(&a[i]), wasm_v128_load(&x[i])));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(&a[i + 4u]), wasm_v128_load(&x[i + 4u])));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(&a[i + 8u]), wasm_v128_load(&x[i + 8u])));
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(&a[i + 12u]), wasm_v128_load(&x[i + 12u])));
    }
    for (; i + 4u <= n; i += 4u)
        acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_v128_load(&a[i]), wasm_v128_load(&x[i])));
    float l0 = wasm_f32x4_extract_lane(acc, 0), l1 = wasm_f32x4_extract_lane(acc, 1);
    float l2 = wasm_f32x4_extract_lane(acc, 2), l3 = wasm_f32x4_extract_lane(acc, 3);
    /* the tail: i ≡ 0, 1, 2 (mod 4) */
    if (i < n) l0 = l0 + a[i] * x[i];
    if (i + 1u < n) l1 = l1 + a[i + 1u] * x[i + 1u];
    if (i + 2u < n) l2 = l2 + a[i + 2u] * x[i + 2u];
    return b + ((l0 + l1) + (l2 + l3));
}
#else
static inline float cyx_dot(float b, const float *a, const float *x, uint32_t n) {
    float l0 = 0.0f, l1 = 0.0f, l2 = 0.0f, l3 = 0.0f;
    uint32_t i = 0;
    for (; i + 4u <= n; i += 4u) {
        l0 = l0 + a[i] * x[i];
        l1 = l1 + a[i + 1u] * x[i + 1u];
        l2 = l2 + a[i + 2u] * x[i + 2u];
        l3 = l3 + a[i + 3u] * x[i + 3u];
    }
    if (i < n) l0 = l0 + a[i] * x[i];
    if (i + 1u < n) l1 = l1 + a[i + 1u] * x[i + 1u];
    if (i + 2u < n) l2 = l2 + a[i + 2u] * x[i + 2u];
    return b + ((l0 + l1) + (l2 + l3));
}
#endif

#endif /* CYX_H */
