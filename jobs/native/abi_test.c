/*
 * abi_test.c - native checks of the ABI v1 error paths (docs/job-abi.md):
 * call-order errors, cyx_alloc limits, every cyx_init validation code, and
 * cyx_set_weights.  Linked with common.c and one kernel, like run.c.
 * usage: abi_test GOOD.cyxd [UNSUPPORTED.cyxd]   (second file must give CYX_E_CLASSES)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../src/cyx.h"

static int fails;
void report_metric(int32_t key, double value) { (void)key; (void)value; }

#define EXPECT(call, want) do { long long got_ = (long long)(call); if (got_ != (long long)(want)) { \
    fprintf(stderr, "FAIL line %d: %s = %lld, want %lld\n", __LINE__, #call, got_, (long long)(want)); fails++; } } while (0)

static unsigned char *load(const char *path, int32_t *len) {
    FILE *fh = fopen(path, "rb");
    if (!fh) { perror(path); exit(2); }
    fseek(fh, 0, SEEK_END); *len = (int32_t)ftell(fh); fseek(fh, 0, SEEK_SET);
    unsigned char *b = malloc((size_t)*len);
    if (fread(b, 1, (size_t)*len, fh) != (size_t)*len) exit(2);
    fclose(fh);
    return b;
}
static void put32(unsigned char *p, uint32_t v) { for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i)); }

int main(int argc, char **argv) {
    if (argc < 2) return 2;
    int32_t len;
    unsigned char *good = load(argv[1], &len);
    uint32_t n, f;
    memcpy(&n, good + 8, 4); memcpy(&f, good + 12, 4);
    unsigned char *buf = (unsigned char *)cyx_alloc(len);
    cyx_ptr p = (cyx_ptr)buf;
#define RESET() memcpy(buf, good, (size_t)len)

    EXPECT(cyx_abi_version(), 1);
    EXPECT(cyx_train_epoch(0), CYX_E_STATE);
    EXPECT(cyx_evaluate(), CYX_E_STATE);
    EXPECT(cyx_weights_len(), 0);
    EXPECT(cyx_weights_ptr(), 0);
    EXPECT(cyx_set_weights(p, 4), CYX_E_STATE);
    EXPECT(cyx_alloc(0), 0);
    EXPECT(cyx_alloc(-5), 0);
    EXPECT(cyx_alloc(0x7FFFFFFF), 0);
    EXPECT(cyx_alloc(1) % 16, 0);

    RESET(); buf[0] = 'X';                 EXPECT(cyx_init(p, len, 1), CYX_E_MAGIC);
    RESET(); put32(buf + 4, 2);            EXPECT(cyx_init(p, len, 1), CYX_E_VERSION);
    RESET();                               EXPECT(cyx_init(p, len - 1, 1), CYX_E_SIZE);
    RESET();                               EXPECT(cyx_init(p, 19, 1), CYX_E_SIZE);
    RESET();                               EXPECT(cyx_init(0, len, 1), CYX_E_SIZE);
    RESET();                               EXPECT(cyx_init(p, -1, 1), CYX_E_SIZE);
    RESET(); put32(buf + 8, n + 1);        EXPECT(cyx_init(p, len, 1), CYX_E_SIZE);
    RESET(); put32(buf + 8, 1); put32(buf + 12, 1);  EXPECT(cyx_init(p, 28, 1), CYX_E_SIZE);
    RESET(); put32(buf + 12, 0);           EXPECT(cyx_init(p, len, 1), CYX_E_SIZE);
    RESET(); put32(buf + 8, 0x40000000u); put32(buf + 12, 0x40000000u); EXPECT(cyx_init(p, len, 1), CYX_E_SIZE);
    RESET(); put32(buf + 8, 0xFFFFFFFFu); put32(buf + 12, 0xFFFFFFFFu); EXPECT(cyx_init(p, len, 1), CYX_E_SIZE);
    RESET(); put32(buf + 16, 65);          EXPECT(cyx_init(p, len, 1), CYX_E_CLASSES);
    RESET(); put32(buf + 16, 1);           EXPECT(cyx_init(p, len, 1), CYX_E_CLASSES);
    uint32_t c; memcpy(&c, good + 16, 4);
    unsigned char *labels = buf + 20 + 4 * (size_t)n * f;
    RESET(); put32(labels + 4 * (n - 1), c); EXPECT(cyx_init(p, len, 1), CYX_E_LABEL);
    float nan = NAN;
    RESET(); memcpy(buf + 20 + 4 * 7, &nan, 4); EXPECT(cyx_init(p, len, 1), CYX_E_VALUE);
    if (argc > 2) {
        int32_t len2;
        unsigned char *other = load(argv[2], &len2);
        unsigned char *b2 = (unsigned char *)cyx_alloc(len2);
        memcpy(b2, other, (size_t)len2);
        EXPECT(cyx_init((cyx_ptr)b2, len2, 1), CYX_E_CLASSES);
    }

    RESET(); EXPECT(cyx_init(p, len, 7), 0);
    EXPECT(cyx_init(p, len, 7), CYX_E_STATE);
    EXPECT(cyx_train_epoch(-1), CYX_E_ARG);
    int32_t wl = cyx_weights_len();
    float *w = (float *)cyx_weights_ptr();
    EXPECT(wl > 0 && w != NULL, 1);
    EXPECT(cyx_train_epoch(0), 0);
    EXPECT(cyx_evaluate(), 0);
    float *copy = malloc((size_t)wl), *bad = malloc((size_t)wl);
    memcpy(copy, w, (size_t)wl);
    memcpy(bad, w, (size_t)wl);
    bad[wl / 8] = INFINITY;
    EXPECT(cyx_set_weights((cyx_ptr)bad, wl), CYX_E_VALUE);
    EXPECT(memcmp(copy, w, (size_t)wl), 0);          /* rejected call leaves the model untouched */
    EXPECT(cyx_set_weights((cyx_ptr)copy, wl - 4), CYX_E_ARG);
    EXPECT(cyx_set_weights((cyx_ptr)copy, wl + 4), CYX_E_ARG);
    EXPECT(cyx_set_weights((cyx_ptr)w, wl), 0);      /* in place: no-op */
    EXPECT(memcmp(copy, w, (size_t)wl), 0);
    for (int i = 0; i < wl / 4; i++) bad[i] = 0.25f;
    EXPECT(cyx_set_weights((cyx_ptr)bad, wl), 0);
    EXPECT(w[0] == 0.25f && w[wl / 4 - 1] == 0.25f, 1);

    if (fails) { fprintf(stderr, "abi_test %s: %d failure(s)\n", argv[1], fails); return 1; }
    printf("abi_test %s: all error-path checks passed\n", argv[1]);
    return 0;
}
