/* mathcheck.c - measure cyx_expf / cyx_logf against the host libm (double precision
 * reference).  Dev tool only, not part of any job.
 *   gcc -O2 -ffp-contract=off -fno-math-errno -I src tools/mathcheck.c src/common.c -lm && ./a.out */
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "cyx.h"

void report_metric(int32_t key, double value) { (void)key; (void)value; }
int64_t kernel_param_count(uint32_t f, uint32_t c) { (void)f; (void)c; return 1; }
int32_t kernel_normalise(cyx_dataset *ds) { (void)ds; return 0; }
int32_t kernel_setup(const cyx_dataset *ds) { (void)ds; return 0; }
void kernel_init_weights(float *w, uint32_t n, uint64_t s) { (void)w; (void)n; (void)s; }
int32_t kernel_train(const cyx_dataset *d, float *w, const uint32_t *o, uint32_t n, int32_t e, cyx_stats *s) {
    (void)d; (void)w; (void)o; (void)n; (void)e; (void)s; return 0; }
void kernel_eval(const cyx_dataset *d, const float *w, const uint32_t *i, uint32_t n, cyx_stats *s) {
    (void)d; (void)w; (void)i; (void)n; (void)s; }

static double ulp_err(float got, double ref) {
    float r = (float)ref;
    float next = nextafterf(fabsf(r), INFINITY);
    double ulp = (double)next - (double)fabsf(r);
    return fabs((double)got - ref) / ulp;
}

int main(void) {
    double emax = 0, lmax = 0;
    float ex = 0, lx = 0;
    for (float x = -87.0f; x <= 88.0f; x = nextafterf(x, INFINITY) + 1e-4f) {
        double e = ulp_err(cyx_expf(x), exp((double)x));
        if (e > emax) { emax = e; ex = x; }
    }
    for (uint32_t u = 0x00800000u; u < 0x7F800000u; u += 97) {
        float x; memcpy(&x, &u, 4);
        double e = ulp_err(cyx_logf(x), log((double)x));
        if (log((double)x) != 0 && e > lmax) { lmax = e; lx = x; }
    }
    printf("cyx_expf max error %.3f ulp (at %g)\n", emax, ex);
    printf("cyx_logf max error %.3f ulp (at %g)\n", lmax, lx);
    return 0;
}
