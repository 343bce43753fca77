/*
 * mlp.c - one-hidden-layer perceptron (example job "mlp", for the digits
 * data set).  ABI v1, see docs/job-abi.md.
 *
 * Model:   h = relu(W1 x + b1)  (H = MLP_HIDDEN units),  z = W2 h + b2,
 *          p = softmax(z) over n_classes.
 * Input:   x scaled by 1 / max|x| over the training rows (one scalar; for the
 *          digits data the maximum is 16, so this is exactly x / 16).
 * Params:  [W1 (H x F, row-major), b1 (H), W2 (C x H, row-major), b2 (C)].
 * Init:    W1 ~ U(-a1, a1), a1 = sqrt(6 / F)        (He-uniform),
 *          W2 ~ U(-a2, a2), a2 = sqrt(6 / (H + C))  (Glorot-uniform),
 *          b1 = b2 = 0; uniforms drawn in parameter order from splitmix64(seed).
 * Train:   mini-batch SGD (no momentum, so the weights are the whole state),
 *          batch MLP_BATCH, lr_e = MLP_LR0 / (1 + MLP_DECAY * epoch),
 *          L2 MLP_L2 on W1, W2 only:  w -= lr_e * (g / B + L2 * w).
 * Metrics: softmax cross-entropy (natural log), arg-max accuracy
 *          (ties -> lowest class index).
 */
#include "cyx.h"

#define MLP_HIDDEN 64u
#define MLP_BATCH  16u
#define MLP_LR0    0.1f
#define MLP_DECAY  0.02f
#define MLP_L2     0.0001f
#define MLP_MAX_FEATURES 4096u

static uint32_t F, H, C;
static float *g_grad;          /* same layout as the parameters */
static float *g_h, *g_dh, *g_z; /* H, H, C scratch */

int64_t kernel_param_count(uint32_t n_features, uint32_t n_classes) {
    if (n_features > MLP_MAX_FEATURES) return CYX_E_UNSUPPORTED;
    return (int64_t)MLP_HIDDEN * n_features + MLP_HIDDEN + (int64_t)n_classes * MLP_HIDDEN + n_classes;
}

int32_t kernel_normalise(cyx_dataset *ds) {
    uint32_t f = ds->n_features;
    float mx = 0.0f;
    for (uint32_t t = 0; t < ds->n_train; t++) {
        const float *x = &ds->x[(size_t)ds->train_idx[t] * f];
        for (uint32_t j = 0; j < f; j++) {
            float a = x[j] < 0.0f ? -x[j] : x[j];
            if (a > mx) mx = a;
        }
    }
    if (!(mx > 0.0f)) mx = 1.0f;
    size_t cells = (size_t)ds->n_samples * f;
    for (size_t i = 0; i < cells; i++) ds->x[i] = ds->x[i] / mx;
    return CYX_OK;
}

int32_t kernel_setup(const cyx_dataset *ds) {
    F = ds->n_features;
    H = MLP_HIDDEN;
    C = ds->n_classes;
    size_t np = (size_t)H * F + H + (size_t)C * H + C;
    g_grad = cyx_arena_alloc(np * 4u);
    g_h = cyx_arena_alloc((size_t)H * 4u);
    g_dh = cyx_arena_alloc((size_t)H * 4u);
    g_z = cyx_arena_alloc((size_t)C * 4u);
    return (g_grad && g_h && g_dh && g_z) ? CYX_OK : CYX_E_NOMEM;
}

void kernel_init_weights(float *w, uint32_t n, uint64_t seed) {
    uint64_t st = seed;
    float a1 = (float)__builtin_sqrt(6.0 / (double)F);
    float a2 = (float)__builtin_sqrt(6.0 / (double)(H + C));
    float *W1 = w, *b1 = W1 + (size_t)H * F, *W2 = b1 + H, *b2 = W2 + (size_t)C * H;
    for (size_t i = 0; i < (size_t)H * F; i++) W1[i] = (cyx_uniform01(&st) * 2.0f - 1.0f) * a1;
    for (uint32_t i = 0; i < H; i++) b1[i] = 0.0f;
    for (size_t i = 0; i < (size_t)C * H; i++) W2[i] = (cyx_uniform01(&st) * 2.0f - 1.0f) * a2;
    for (uint32_t i = 0; i < C; i++) b2[i] = 0.0f;
    (void)n;
}

/* Forward one row; fills g_h, g_z (turned into probabilities); returns the class
 * probabilities in g_z and updates the stats. */
static void forward(const float *w, const float *x, uint32_t y, cyx_stats *st) {
    const float *W1 = w, *b1 = W1 + (size_t)H * F, *W2 = b1 + H, *b2 = W2 + (size_t)C * H;
    for (uint32_t j = 0; j < H; j++) {
        const float *row = &W1[(size_t)j * F];
        float a = cyx_dot(b1[j], row, x, F);
        g_h[j] = a > 0.0f ? a : 0.0f;
    }
    uint32_t best = 0;
    for (uint32_t k = 0; k < C; k++) {
        const float *row = &W2[(size_t)k * H];
        float a = cyx_dot(b2[k], row, g_h, H);
        g_z[k] = a;
        if (a > g_z[best]) best = k;
    }
    float zmax = g_z[best];
    float zy = g_z[y] - zmax;
    float sum = 0.0f;
    for (uint32_t k = 0; k < C; k++) {
        g_z[k] = cyx_expf(g_z[k] - zmax);
        sum = sum + g_z[k];
    }
    /* loss = log(sum_k e^{z_k - zmax}) - (z_y - zmax); sum >= 1 so the log is finite */
    float loss = cyx_logf(sum) - zy;
    float inv = 1.0f / sum;
    for (uint32_t k = 0; k < C; k++) g_z[k] = g_z[k] * inv;
    st->loss_sum += (double)loss;
    st->correct += (best == y);
    st->count += 1;
}

int32_t kernel_train(const cyx_dataset *ds, float *w, const uint32_t *order, uint32_t n,
                     int32_t epoch, cyx_stats *st) {
    size_t nw1 = (size_t)H * F, nw2 = (size_t)C * H;
    size_t np = nw1 + H + nw2 + C;
    float *W2 = w + nw1 + H;
    float *gW1 = g_grad, *gb1 = gW1 + nw1, *gW2 = gb1 + H, *gb2 = gW2 + nw2;
    float lr = MLP_LR0 / (1.0f + MLP_DECAY * (float)epoch);
    for (uint32_t b0 = 0; b0 < n; b0 += MLP_BATCH) {
        uint32_t bn = n - b0 < MLP_BATCH ? n - b0 : MLP_BATCH;
        CYX_HOT_LOOP
        for (size_t i = 0; i < np; i++) g_grad[i] = 0.0f;
        for (uint32_t s = 0; s < bn; s++) {
            uint32_t r = order[b0 + s];
            const float *x = &ds->x[(size_t)r * F];
            uint32_t y = ds->y[r];
            forward(w, x, y, st);
            /* dz = p - onehot(y) (stored in g_z) */
            g_z[y] = g_z[y] - 1.0f;
            for (uint32_t j = 0; j < H; j++) g_dh[j] = 0.0f;
            for (uint32_t k = 0; k < C; k++) {
                float dz = g_z[k];
                const float *row = &W2[(size_t)k * H];
                float *grow = &gW2[(size_t)k * H];
                CYX_HOT_LOOP
                for (uint32_t j = 0; j < H; j++) {
                    grow[j] = grow[j] + dz * g_h[j];
                    g_dh[j] = g_dh[j] + dz * row[j];
                }
                gb2[k] = gb2[k] + dz;
            }
            for (uint32_t j = 0; j < H; j++) {
                if (!(g_h[j] > 0.0f)) continue; /* relu'(a) = 0 for a <= 0 */
                float d = g_dh[j];
                float *grow = &gW1[(size_t)j * F];
                CYX_HOT_LOOP
                for (uint32_t i = 0; i < F; i++) grow[i] = grow[i] + d * x[i];
                gb1[j] = gb1[j] + d;
            }
        }
        float inv = 1.0f / (float)bn;
        float *b1 = w + nw1, *b2 = W2 + nw2;
        CYX_HOT_LOOP
        for (size_t i = 0; i < nw1; i++) w[i] = w[i] - lr * (gW1[i] * inv + MLP_L2 * w[i]);
        for (uint32_t i = 0; i < H; i++) b1[i] = b1[i] - lr * (gb1[i] * inv);
        CYX_HOT_LOOP
        for (size_t i = 0; i < nw2; i++) W2[i] = W2[i] - lr * (gW2[i] * inv + MLP_L2 * W2[i]);
        for (uint32_t i = 0; i < C; i++) b2[i] = b2[i] - lr * (gb2[i] * inv);
    }
    return CYX_OK;
}

void kernel_eval(const cyx_dataset *ds, const float *w, const uint32_t *idx, uint32_t n,
                 cyx_stats *st) {
    for (uint32_t k = 0; k < n; k++) {
        uint32_t r = idx[k];
        forward(w, &ds->x[(size_t)r * F], ds->y[r], st);
    }
}
