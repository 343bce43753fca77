/*
 * logreg.c - binary logistic regression (example job "logreg", for the
 * breast-cancer data set).  ABI v1, see docs/job-abi.md.
 *
 * Model:   p(y=1|x) = sigmoid(w . x + b), x z-scored with the training rows'
 *          mean and population std (computed here, in f64, rounded to f32).
 * Params:  [w_0 .. w_{F-1}, b]  (F + 1 floats).
 * Init:    w_i, b ~ U(-0.01, 0.01) from splitmix64(seed).
 * Train:   mini-batch SGD, batch LR_BATCH, lr_e = LR0 / (1 + LR_DECAY * epoch),
 *          L2 (weight decay) LR_L2 on w only:  w -= lr_e * (g / B + L2 * w).
 * Metrics: cross-entropy with natural log; accuracy with threshold z > 0.
 */
#include "cyx.h"

#define LR0      0.05f
#define LR_DECAY 0.02f
#define LR_L2    0.001f
#define LR_BATCH 16u
#define LR_MAX_FEATURES 4096u

static float *g_grad; /* F + 1 */

int64_t kernel_param_count(uint32_t n_features, uint32_t n_classes) {
    if (n_classes != 2) return CYX_E_CLASSES;
    if (n_features > LR_MAX_FEATURES) return CYX_E_UNSUPPORTED;
    return (int64_t)n_features + 1;
}

int32_t kernel_normalise(cyx_dataset *ds) {
    uint32_t f = ds->n_features;
    for (uint32_t j = 0; j < f; j++) {
        double sum = 0.0;
        for (uint32_t t = 0; t < ds->n_train; t++) sum += (double)ds->x[(size_t)ds->train_idx[t] * f + j];
        double mean = sum / (double)ds->n_train;
        double ss = 0.0;
        for (uint32_t t = 0; t < ds->n_train; t++) {
            double d = (double)ds->x[(size_t)ds->train_idx[t] * f + j] - mean;
            ss += d * d;
        }
        double sd = __builtin_sqrt(ss / (double)ds->n_train);
        if (!(sd > 1e-12)) sd = 1.0; /* constant feature */
        for (uint32_t i = 0; i < ds->n_samples; i++) {
            float *v = &ds->x[(size_t)i * f + j];
            *v = (float)(((double)*v - mean) / sd);
        }
    }
    return CYX_OK;
}

int32_t kernel_setup(const cyx_dataset *ds) {
    g_grad = cyx_arena_alloc(((size_t)ds->n_features + 1) * 4u);
    return g_grad ? CYX_OK : CYX_E_NOMEM;
}

void kernel_init_weights(float *w, uint32_t n, uint64_t seed) {
    uint64_t st = seed;
    for (uint32_t i = 0; i < n; i++) w[i] = (cyx_uniform01(&st) * 2.0f - 1.0f) * 0.01f;
}

/* logit, loss and correctness for one row; returns dL/dz = sigmoid(z) - y */
static float forward(const float *w, const float *x, uint32_t f, uint32_t y, cyx_stats *st) {
    float z = cyx_dot(w[f], w, x, f);
    /* loss = softplus(z) - y*z = log(1 + e^-|z|) + max(z, 0) - y*z */
    float az = z < 0.0f ? -z : z;
    float e = cyx_expf(-az);
    float loss = cyx_logf(1.0f + e) + (z > 0.0f ? z : 0.0f) - (y ? z : 0.0f);
    st->loss_sum += (double)loss;
    st->correct += ((z > 0.0f) == (y == 1u));
    st->count += 1;
    float p = z >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e); /* sigmoid(z), stable */
    return p - (float)y;
}

int32_t kernel_train(const cyx_dataset *ds, float *w, const uint32_t *order, uint32_t n,
                     int32_t epoch, cyx_stats *st) {
    uint32_t f = ds->n_features;
    float lr = LR0 / (1.0f + LR_DECAY * (float)epoch);
    for (uint32_t b0 = 0; b0 < n; b0 += LR_BATCH) {
        uint32_t bn = n - b0 < LR_BATCH ? n - b0 : LR_BATCH;
        for (uint32_t j = 0; j <= f; j++) g_grad[j] = 0.0f;
        for (uint32_t k = 0; k < bn; k++) {
            uint32_t r = order[b0 + k];
            const float *x = &ds->x[(size_t)r * f];
            float dz = forward(w, x, f, ds->y[r], st);
            for (uint32_t j = 0; j < f; j++) g_grad[j] = g_grad[j] + dz * x[j];
            g_grad[f] = g_grad[f] + dz;
        }
        float inv = 1.0f / (float)bn;
        for (uint32_t j = 0; j < f; j++) w[j] = w[j] - lr * (g_grad[j] * inv + LR_L2 * w[j]);
        w[f] = w[f] - lr * (g_grad[f] * inv);
    }
    return CYX_OK;
}

void kernel_eval(const cyx_dataset *ds, const float *w, const uint32_t *idx, uint32_t n,
                 cyx_stats *st) {
    uint32_t f = ds->n_features;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t r = idx[k];
        (void)forward(w, &ds->x[(size_t)r * f], f, ds->y[r], st);
    }
}
