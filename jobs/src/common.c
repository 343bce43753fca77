/*
 * common.c - ABI v1 plumbing shared by all example kernels: arena allocator,
 * CYXD parsing/validation, the fixed train/test split, PRNG, per-epoch order,
 * metric reporting, weights export/import, and libm-free exp/log.
 * See docs/job-abi.md for the normative description.
 */
#include "cyx.h"

/* ---------------------------------------------------------------- arena -- */
static _Alignas(16) unsigned char g_arena[CYX_ARENA_BYTES];
static size_t g_arena_used;

void *cyx_arena_alloc(size_t len) {
    size_t start = (g_arena_used + 15u) & ~(size_t)15u;
    if (len > CYX_ARENA_BYTES || start > CYX_ARENA_BYTES - len) return NULL;
    g_arena_used = start + len;
    unsigned char *p = g_arena + start;
    for (size_t i = 0; i < len; i++) p[i] = 0;
    return p;
}

/* ------------------------------------------------------------------ PRNG -- */
uint64_t cyx_splitmix64(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

float cyx_uniform01(uint64_t *state) {
    return (float)(uint32_t)(cyx_splitmix64(state) >> 40) * (1.0f / 16777216.0f);
}

void cyx_shuffle(uint32_t *a, uint32_t n, uint64_t state) {
    for (uint32_t i = n; i > 1; i--) {
        uint32_t j = (uint32_t)(cyx_splitmix64(&state) % (uint64_t)i); /* j in [0, i-1] */
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

/* ------------------------------------------------------------------ math -- */
typedef union { float f; uint32_t u; } f32bits;

int cyx_isfinite(float x) {
    f32bits b = {x};
    return (b.u & 0x7F800000u) != 0x7F800000u;
}

float cyx_sqrtf(float x) { return __builtin_sqrtf(x); }

/* exp(x) in binary32, max error ~2 ulp on [-87, 88] (see tools/mathcheck.c). */
float cyx_expf(float x) {
    if (x != x) return x;
    if (x > 88.5f) { f32bits inf = {.u = 0x7F800000u}; return inf.f; }
    if (x < -87.0f) return 0.0f;
    float kf = x * 1.44269504088896341f;
    int32_t k = (int32_t)(kf >= 0.0f ? kf + 0.5f : kf - 0.5f); /* round half away */
    float fk = (float)k;
    /* Cody-Waite: ln2 = LN2_HI + LN2_LO, LN2_HI has 9 trailing zero bits so fk*LN2_HI is exact */
    float r = (x - fk * 6.93145751953125e-1f) - fk * 1.42860682030941723e-6f;
    /* Taylor polynomial of degree 7 on |r| <= 0.35 (truncation < 6e-9 relative) */
    float p = 1.0f / 5040.0f;
    p = p * r + 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    /* scale by 2^k in two steps so k = 128 and k = -126 (subnormal results) stay exact */
    int32_t k1 = k / 2, k2 = k - k1;
    f32bits s1 = {.u = (uint32_t)(k1 + 127) << 23};
    f32bits s2 = {.u = (uint32_t)(k2 + 127) << 23};
    return (p * s1.f) * s2.f;
}

/* natural log in binary32, max error ~2 ulp; log(0) = -inf, log(x<0) = NaN. */
float cyx_logf(float x) {
    f32bits b = {x};
    if (x != x) return x;
    if (x < 0.0f) { f32bits nan = {.u = 0x7FC00000u}; return nan.f; }
    if (x == 0.0f) { f32bits ninf = {.u = 0xFF800000u}; return ninf.f; }
    if (b.u == 0x7F800000u) return x;
    int32_t e = 0;
    if (b.u < 0x00800000u) { /* subnormal: scale by 2^24 */
        b.f = x * 16777216.0f;
        e = -24;
    }
    e += (int32_t)(b.u >> 23) - 127;
    b.u = (b.u & 0x007FFFFFu) | 0x3F800000u; /* m in [1, 2) */
    float m = b.f;
    if (m > 1.41421356f) { m = m * 0.5f; e += 1; }
    float s = (m - 1.0f) / (m + 1.0f); /* |s| <= 0.1716 */
    float s2 = s * s;
    float q = 1.0f / 11.0f;
    q = q * s2 + 1.0f / 9.0f;
    q = q * s2 + 1.0f / 7.0f;
    q = q * s2 + 1.0f / 5.0f;
    q = q * s2 + 1.0f / 3.0f;
    float logm = 2.0f * s + 2.0f * s * (s2 * q);
    float fe = (float)e;
    return fe * 6.93145751953125e-1f + (fe * 1.42860682030941723e-6f + logm);
}

/* --------------------------------------------------------------- state --- */
static int g_ready;
static cyx_dataset g_ds;
static float *g_w;
static uint32_t g_nw;
static uint32_t *g_order;
static uint64_t g_seed;

static uint32_t rd_u32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Is [ptr, ptr+len) inside the module's linear memory (wasm) / non-null (native)? */
static int range_ok(cyx_ptr ptr, int32_t len) {
    if (ptr == 0 || len < 0) return 0;
#if defined(__wasm__)
    uint64_t mem = (uint64_t)__builtin_wasm_memory_size(0) * 65536u;
    if ((uint64_t)ptr + (uint64_t)(uint32_t)len > mem) return 0;
#endif
    return 1;
}

static void report_stats(const cyx_stats *st, int32_t loss_key, int32_t acc_key) {
    double n = st->count ? (double)st->count : 1.0;
    report_metric(loss_key, st->loss_sum / n);
    report_metric(acc_key, (double)st->correct / n);
}

/* ---------------------------------------------------------------- exports -- */
int32_t cyx_abi_version(void) { return CYX_ABI_VERSION; }

cyx_ptr cyx_alloc(int32_t len) {
    if (len <= 0) return 0;
    void *p = cyx_arena_alloc((size_t)len);
    return (cyx_ptr)p;
}

int32_t cyx_init(cyx_ptr data_ptr, int32_t data_len, int64_t seed) {
    if (g_ready) return CYX_E_STATE;
    if (!range_ok(data_ptr, data_len) || data_len < 20) return CYX_E_SIZE;
    const unsigned char *d = (const unsigned char *)data_ptr;
    if (d[0] != 'C' || d[1] != 'Y' || d[2] != 'X' || d[3] != 'D') return CYX_E_MAGIC;
    if (rd_u32(d + 4) != 1) return CYX_E_VERSION;
    uint32_t n = rd_u32(d + 8), f = rd_u32(d + 12), c = rd_u32(d + 16);
    if (n < 2 || f == 0) return CYX_E_SIZE;
    /* exact length check in 64-bit: n, f < 2^32 so n*f < 2^64, and the sum cannot wrap */
    uint64_t cells = (uint64_t)n * (uint64_t)f;
    if (cells > 0x3FFFFFFFull) return CYX_E_SIZE;
    uint64_t want = 20ull + 4ull * cells + 4ull * (uint64_t)n;
    if (want != (uint64_t)(uint32_t)data_len) return CYX_E_SIZE;
    if (c < 2 || c > CYX_MAX_CLASSES) return CYX_E_CLASSES;

    int64_t np = kernel_param_count(f, c);
    if (np < 0) return (int32_t)np;
    if (np == 0 || np > (int64_t)(CYX_ARENA_BYTES / 4)) return CYX_E_UNSUPPORTED;

    size_t mark = g_arena_used;
    int32_t rc = CYX_E_NOMEM;
    cyx_dataset ds;
    ds.n_samples = n; ds.n_features = f; ds.n_classes = c;
    ds.n_train = (uint32_t)(((uint64_t)n * 4u) / 5u);
    ds.n_test = n - ds.n_train;
    ds.x = cyx_arena_alloc((size_t)cells * 4u);
    ds.y = cyx_arena_alloc((size_t)n * 4u);
    ds.train_idx = cyx_arena_alloc((size_t)n * 4u); /* holds all n; test_idx points inside */
    float *w = cyx_arena_alloc((size_t)np * 4u);
    uint32_t *order = cyx_arena_alloc((size_t)ds.n_train * 4u);
    if (!ds.x || !ds.y || !ds.train_idx || !w || !order) goto fail;
    ds.test_idx = ds.train_idx + ds.n_train;

    const unsigned char *px = d + 20;
    for (uint64_t i = 0; i < cells; i++) {
        f32bits b = {.u = rd_u32(px + 4 * i)};
        if (!cyx_isfinite(b.f)) { rc = CYX_E_VALUE; goto fail; }
        ds.x[i] = b.f;
    }
    const unsigned char *py = px + 4 * cells;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t y = rd_u32(py + 4 * (uint64_t)i);
        if (y >= c) { rc = CYX_E_LABEL; goto fail; }
        ds.y[i] = y;
    }
    /* fixed split: seeded Fisher-Yates over 0..n-1 with CYX_SPLIT_SEED, first 80% train */
    for (uint32_t i = 0; i < n; i++) ds.train_idx[i] = i;
    cyx_shuffle(ds.train_idx, n, CYX_SPLIT_SEED);

    rc = kernel_normalise(&ds);
    if (rc < 0) goto fail;
    rc = kernel_setup(&ds);
    if (rc < 0) goto fail;
    kernel_init_weights(w, (uint32_t)np, (uint64_t)seed);

    g_ds = ds;
    g_w = w;
    g_nw = (uint32_t)np;
    g_order = order;
    g_seed = (uint64_t)seed;
    g_ready = 1;
    return CYX_OK;
fail:
    g_arena_used = mark;
    return rc;
}

int32_t cyx_train_epoch(int32_t epoch) {
    if (!g_ready) return CYX_E_STATE;
    if (epoch < 0) return CYX_E_ARG;
    /* order depends only on (seed, epoch): resuming from a checkpoint is bit-exact */
    for (uint32_t i = 0; i < g_ds.n_train; i++) g_order[i] = g_ds.train_idx[i];
    uint64_t st = g_seed ^ ((uint64_t)(uint32_t)epoch + 1u) * 0xD1B54A32D192ED03ull;
    cyx_shuffle(g_order, g_ds.n_train, st);
    cyx_stats s = {0.0, 0, 0};
    int32_t rc = kernel_train(&g_ds, g_w, g_order, g_ds.n_train, epoch, &s);
    if (rc < 0) return rc;
    int finite = (s.loss_sum == s.loss_sum) && s.loss_sum < 1e300;
    for (uint32_t i = 0; i < g_nw && finite; i++) finite = cyx_isfinite(g_w[i]);
    report_stats(&s, CYX_M_TRAIN_LOSS, CYX_M_TRAIN_ACC);
    report_metric(CYX_M_SAMPLES, (double)s.count);
    return finite ? CYX_OK : CYX_E_DIVERGED;
}

int32_t cyx_evaluate(void) {
    if (!g_ready) return CYX_E_STATE;
    cyx_stats s = {0.0, 0, 0};
    kernel_eval(&g_ds, g_w, g_ds.test_idx, g_ds.n_test, &s);
    report_stats(&s, CYX_M_TEST_LOSS, CYX_M_TEST_ACC);
    return CYX_OK;
}

cyx_ptr cyx_weights_ptr(void) { return g_ready ? (cyx_ptr)g_w : 0; }

int32_t cyx_weights_len(void) { return g_ready ? (int32_t)(g_nw * 4u) : 0; }

int32_t cyx_set_weights(cyx_ptr ptr, int32_t len) {
    if (!g_ready) return CYX_E_STATE;
    if (len != (int32_t)(g_nw * 4u)) return CYX_E_ARG;
    if (!range_ok(ptr, len)) return CYX_E_SIZE;
    const unsigned char *p = (const unsigned char *)ptr;
    for (uint32_t i = 0; i < g_nw; i++) {
        f32bits b = {.u = rd_u32(p + 4 * i)};
        if (!cyx_isfinite(b.f)) return CYX_E_VALUE;
    }
    /* validated first, copied second: a rejected call leaves the model untouched.
       The copy direction makes overlapping ranges (e.g. ptr == cyx_weights_ptr()) safe. */
    if ((uintptr_t)p >= (uintptr_t)g_w) {
        for (uint32_t i = 0; i < g_nw; i++) { f32bits b = {.u = rd_u32(p + 4 * i)}; g_w[i] = b.f; }
    } else {
        for (uint32_t i = g_nw; i-- > 0;) { f32bits b = {.u = rd_u32(p + 4 * i)}; g_w[i] = b.f; }
    }
    return CYX_OK;
}

