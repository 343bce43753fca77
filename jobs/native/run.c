/*
 * run.c - native test bench for the example kernels (no wasm runtime needed).
 *
 * Compiled together with ../src/common.c and one kernel (../src/logreg.c or
 * ../src/mlp.c) by native/check.sh, with the same -ffp-contract=off flag as
 * the wasm build.  It plays the host's role of docs/job-abi.md: copies the
 * CYXD file into cyx_alloc() memory, calls cyx_init / cyx_train_epoch /
 * cyx_evaluate, receives report_metric calls, and hashes the final weights.
 *
 * usage: run FILE.cyxd EPOCHS [--seed N] [--quiet]
 *            [--save-at K OUT.bin]      write the weights after epoch K-1 (K epochs done)
 *            [--resume IN.bin K]        cyx_set_weights(IN.bin), then train epochs K..EPOCHS-1
 * Last line: "RESULT epochs=E test_acc=A test_loss=L weights_fnv1a64=HEX"
 */
#define _POSIX_C_SOURCE 199309L
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../src/cyx.h"

static double g_metric[5];
static int g_seen[5];

void report_metric(int32_t key, double value) {
    if (key < 0 || key > 4) {
        fprintf(stderr, "run: bad metric key %d\n", key);
        exit(2);
    }
    g_metric[key] = value;
    g_seen[key] = 1;
}

static uint64_t fnv1a64(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) { h ^= p[i]; h *= 0x100000001b3ull; }
    return h;
}

static unsigned char *slurp(const char *path, long *len) {
    FILE *fh = fopen(path, "rb");
    if (!fh) { perror(path); exit(2); }
    fseek(fh, 0, SEEK_END);
    *len = ftell(fh);
    fseek(fh, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)*len + 1);
    if (!buf || fread(buf, 1, (size_t)*len, fh) != (size_t)*len) { perror(path); exit(2); }
    fclose(fh);
    return buf;
}

#define CHECK(call) do { int32_t rc_ = (call); if (rc_ != 0) { \
    fprintf(stderr, "run: %s returned %d\n", #call, rc_); exit(1); } } while (0)

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s FILE.cyxd EPOCHS [--seed N] [--quiet] [--save-at K OUT] [--resume IN K]\n", argv[0]);
        return 2;
    }
    const char *file = argv[1];
    int epochs = atoi(argv[2]);
    int64_t seed = 42;
    int quiet = 0, save_at = -1, start = 0;
    const char *save_path = NULL, *resume_path = NULL;
    for (int i = 3; i < argc; i++) {
        if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoll(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--quiet")) quiet = 1;
        else if (!strcmp(argv[i], "--save-at") && i + 2 < argc) { save_at = atoi(argv[++i]); save_path = argv[++i]; }
        else if (!strcmp(argv[i], "--resume") && i + 2 < argc) { resume_path = argv[++i]; start = atoi(argv[++i]); }
        else { fprintf(stderr, "run: bad argument %s\n", argv[i]); return 2; }
    }
    if (cyx_abi_version() != 1) { fprintf(stderr, "run: ABI version %d\n", cyx_abi_version()); return 1; }

    long len;
    unsigned char *file_buf = slurp(file, &len);
    unsigned char *data = (unsigned char *)cyx_alloc((int32_t)len);
    if (!data) { fprintf(stderr, "run: cyx_alloc(%ld) failed\n", len); return 1; }
    memcpy(data, file_buf, (size_t)len);
    free(file_buf);

    /* call-order errors must be reported, not crash */
    if (cyx_train_epoch(0) != CYX_E_STATE || cyx_evaluate() != CYX_E_STATE || cyx_weights_len() != 0) {
        fprintf(stderr, "run: calls before cyx_init did not return CYX_E_STATE\n");
        return 1;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    CHECK(cyx_init((cyx_ptr)data, (int32_t)len, seed));
    if (cyx_init((cyx_ptr)data, (int32_t)len, seed) != CYX_E_STATE) { fprintf(stderr, "run: double init accepted\n"); return 1; }
    int32_t wlen = cyx_weights_len();
    unsigned char *w = (unsigned char *)cyx_weights_ptr();
    if (!quiet) printf("file=%s seed=%" PRId64 " params=%d (%d bytes)\n", file, seed, wlen / 4, wlen);

    if (resume_path) {
        long rlen;
        unsigned char *rb = slurp(resume_path, &rlen);
        unsigned char *dst = (unsigned char *)cyx_alloc((int32_t)rlen);
        if (!dst) { fprintf(stderr, "run: cyx_alloc for weights failed\n"); return 1; }
        memcpy(dst, rb, (size_t)rlen);
        free(rb);
        if (cyx_set_weights((cyx_ptr)dst, wlen - 4) != CYX_E_ARG) { fprintf(stderr, "run: bad weights length accepted\n"); return 1; }
        CHECK(cyx_set_weights((cyx_ptr)dst, (int32_t)rlen));
    }
    CHECK(cyx_evaluate());
    if (!quiet) printf("init      test_loss=%.6f test_acc=%.4f\n", g_metric[2], g_metric[3]);
    for (int e = start; e < epochs; e++) {
        memset(g_seen, 0, sizeof g_seen);
        CHECK(cyx_train_epoch(e));
        CHECK(cyx_evaluate());
        for (int k = 0; k < 5; k++)
            if (!g_seen[k]) { fprintf(stderr, "run: metric %d not reported in epoch %d\n", k, e); return 1; }
        if (!quiet)
            printf("epoch %3d train_loss=%.6f train_acc=%.4f test_loss=%.6f test_acc=%.4f samples=%.0f\n",
                   e, g_metric[0], g_metric[1], g_metric[2], g_metric[3], g_metric[4]);
        if (save_path && e + 1 == save_at) {
            FILE *fh = fopen(save_path, "wb");
            if (!fh || fwrite(w, 1, (size_t)wlen, fh) != (size_t)wlen || fclose(fh)) { perror(save_path); return 2; }
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    printf("RESULT epochs=%d test_acc=%.6f test_loss=%.6f weights_fnv1a64=%016" PRIx64 " seconds=%.3f\n",
           epochs, g_metric[3], g_metric[2], fnv1a64(w, (size_t)wlen), secs);
    return 0;
}
