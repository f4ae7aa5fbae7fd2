/* bench/ssm_bench.c - `make bench` figures of the Mamba-2 selective scan
 * (issue 17): tokens/s of the one-step scan (ik_cpu_ssm_scan_fwd) and of the
 * chunked SSD form (ik_cpu_ssm_chunked_fwd) on one Mamba layer of
 * NVIDIA-Nemotron-Nano-9B-v2's shape (128 heads of 80, 8 groups, state 128,
 * chunk 128), over runs of T rows from one state, and the ratio; the two
 * forms alternate in this process, so the ratio holds on a loaded machine
 * where the absolute figures do not. The crossover is where lm/forward_mamba.c
 * switches a sequence's run of rows to the chunked form. Environment:
 * SSM_BENCH_MAXT (the longest run, default 1024), IKADA_THREADS as for ikada. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "bench/bench_common.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/kernels.h"

enum { NH = 128, P = 80, G = 8, N = 128, Q = 128 };

int main(int argc, char **argv)
{
    ik_cpu_blas_fix_core("ssm_bench", argv);
    (void)argc;
    const char *e = getenv("SSM_BENCH_MAXT");
    long v = e ? strtol(e, NULL, 10) : 1024;
    int maxT = v < 1 ? 1 : v > 65536 ? 65536 : (int)v;
    int ld = NH * P + 2 * G * N;
    unsigned seed = 1;
    float *xbc = ik_bench_uniform((size_t)maxT * ld, &seed, -1, 1), *dt = ik_bench_uniform((size_t)maxT * NH, &seed, 0.001f, 0.1f);
    float *A = ik_bench_uniform(NH, &seed, -8, -0.5f), *Dk = ik_bench_uniform(NH, &seed, 0.5f, 1.5f);
    float *y = malloc(sizeof(float) * (size_t)maxT * NH * P);
    float *st = calloc((size_t)NH * P * N, sizeof(float));
    float *scr = malloc(sizeof(float) * ik_cpu_ssm_chunked_scratch(NH, P, Q));
    if (y == NULL || st == NULL || scr == NULL)
        return 1;
    const float *x = xbc, *B = xbc + NH * P, *C = B + G * N;
    printf("Mamba-2 scan, one layer of Nemotron-Nano-9B-v2's shape (heads %d x %d, groups %d, state "
           "%d, chunk %d)\n", NH, P, G, N, Q);
    printf("%6s %16s %16s %8s\n", "rows", "one-step tok/s", "chunked tok/s", "ratio");
    for (int T = 1; T <= maxT; T *= 4) {
        double best[2] = {1e30, 1e30};
        for (int rep = 0; rep < 3; rep++)
            for (int form = 0; form < 2; form++) {
                memset(st, 0, sizeof(float) * (size_t)NH * P * N);
                double t0 = ik_clock_monotonic_s();
                if (form == 0)
                    ik_cpu_ssm_scan_fwd(y, st, x, B, C, ld, dt, A, Dk, T, NH, P, G, N);
                else
                    ik_cpu_ssm_chunked_fwd(y, st, x, B, C, ld, dt, A, Dk, T, NH, P, G, N, Q, scr);
                double t = ik_clock_monotonic_s() - t0;
                best[form] = t < best[form] ? t : best[form];
            }
        printf("%6d %16.0f %16.0f %8.2f\n", T, T / best[0], T / best[1], best[0] / best[1]);
        if (T < maxT && T * 4 > maxT)
            T = maxT / 4; /* end on maxT itself */
    }
    free(xbc), free(dt), free(A), free(Dk), free(y), free(st), free(scr);
    return 0;
}
