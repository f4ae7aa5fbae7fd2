/* bench/nemotron_bench.c - `make bench` figures of NemotronH in the CPU LM
 * core (issue 17):
 *   - the Mamba-2 selective scan on one layer of NVIDIA-Nemotron-Nano-9B-v2's
 *     shape (128 heads of 80, 8 groups, state 128, chunk 128): tokens/s of the
 *     one-step form (ik_cpu_ssm_scan_fwd) and of the chunked SSD form
 *     (ik_cpu_ssm_chunked_fwd) over runs of T rows, and the ratio, the two
 *     alternating in this process so that the ratio holds on a loaded machine
 *     where the absolute figures do not (the crossover is where
 *     lm/forward_mamba.c switches to the chunked form);
 *   - scoring tokens/s of a random small NemotronH (shape printed);
 *   - one layer each of the 9B shape (a Mamba, an MLP, an attention layer)
 *     scoring NEMO_BENCH_LAYER_T tokens (default 512; the 2048 by
 *     setting it), tokens/s, and for the Mamba layer the scan's share of it.
 * Environment: NEMO_BENCH_MAXT (the longest scan run, default 1024),
 * NEMO_BENCH_LAYER_T, IKADA_THREADS as for ikada. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/diag.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/kernels.h"
#include "lm/config.h"
#include "lm/model.h"

enum { NH = 128, P = 80, G = 8, N = 128, Q = 128 };

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static long env_long(const char *name, long dflt, long lo, long hi)
{
    const char *e = getenv(name);
    long v = e ? strtol(e, NULL, 10) : dflt;
    return v < lo ? lo : v > hi ? hi : v;
}

static void die(struct ik_diag *d)
{
    ik_diag_print(d);
    exit(1);
}

static float *randv(size_t n, unsigned *s, float lo, float hi)
{
    float *v = malloc(n * sizeof *v);
    if (v == NULL) {
        fprintf(stderr, "nemotron_bench: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        v[i] = lo + (hi - lo) * (float)((*s >> 8) & 0xffffff) / 16777216.0f;
    }
    return v;
}

/* The scan's two forms by run length, from T = 1 to maxT. */
static void scan_forms(int maxT)
{
    int ld = NH * P + 2 * G * N;
    unsigned seed = 1;
    float *xbc = randv((size_t)maxT * ld, &seed, -1, 1), *dt = randv((size_t)maxT * NH, &seed, 0.001f, 0.1f);
    float *A = randv(NH, &seed, -8, -0.5f), *Dk = randv(NH, &seed, 0.5f, 1.5f);
    float *y = malloc(sizeof(float) * (size_t)maxT * NH * P);
    float *st = calloc((size_t)NH * P * N, sizeof(float));
    float *scr = malloc(sizeof(float) * ik_cpu_ssm_chunked_scratch(NH, P, Q));
    if (y == NULL || st == NULL || scr == NULL)
        exit(1);
    const float *x = xbc, *B = xbc + NH * P, *C = B + G * N;
    printf("Mamba-2 scan, one layer of Nemotron-Nano-9B-v2's shape (heads %d x %d, groups %d, state "
           "%d, chunk %d)\n", NH, P, G, N, Q);
    printf("%6s %16s %16s %8s\n", "rows", "one-step tok/s", "chunked tok/s", "ratio");
    for (int T = 1; T <= maxT; T *= 4) {
        double best[2] = {1e30, 1e30};
        for (int rep = 0; rep < 3; rep++)
            for (int form = 0; form < 2; form++) {
                memset(st, 0, sizeof(float) * (size_t)NH * P * N);
                double t0 = now();
                if (form == 0)
                    ik_cpu_ssm_scan_fwd(y, st, x, B, C, ld, dt, A, Dk, T, NH, P, G, N);
                else
                    ik_cpu_ssm_chunked_fwd(y, st, x, B, C, ld, dt, A, Dk, T, NH, P, G, N, Q, scr);
                double t = now() - t0;
                best[form] = t < best[form] ? t : best[form];
            }
        printf("%6d %16.0f %16.0f %8.2f\n", T, T / best[0], T / best[1], best[0] / best[1]);
        if (T < maxT && T * 4 > maxT)
            T = maxT / 4; /* end on maxT itself */
    }
    free(xbc), free(dt), free(A), free(Dk), free(y), free(st), free(scr);
}

/* A NemotronH config of pattern with the 9B shape's widths unless small. */
static struct ik_lm_config shape(const char *pattern, int small)
{
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = IK_LM_NEMOTRON_H;
    c.L = (int)strlen(pattern);
    for (int l = 0; l < c.L; l++)
        c.block[l] = pattern[l] == 'M' ? IK_LM_BLOCK_MAMBA : pattern[l] == '*' ? IK_LM_BLOCK_ATTN
                                                                            : IK_LM_BLOCK_MLP;
    c.D = small ? 512 : 4480;
    c.F = small ? 1536 : 15680;
    c.H = small ? 8 : 40;
    c.K = small ? 2 : 8;
    c.head_dim = small ? 64 : 128;
    c.V = small ? 8192 : 256;
    c.max_seq = 4096;
    c.norm_eps = 1e-5f;
    c.no_rope = 1;
    c.ssm = (struct ik_lm_ssm_config){small ? 16 : 128, small ? 64 : 80, small ? 2 : 8,
                                      small ? 64 : 128, 4, small ? 64 : 128, 1};
    return c;
}

/* A model of c with weights uniform in [-0.02, 0.02), unit norms, the
 * Mamba parameters as transformers initialises them (A_log = log(1..nh),
 * dt_bias of dt about 0.01, D = 1). */
static struct ik_lm_model *random_model(const struct ik_lm_config *c)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m;
    if (ik_lm_model_new(&m, c, &d))
        die(&d);
    unsigned s = 7;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->embed[i] = ((float)(s >> 8) / 8388608.0f - 1.0f) * 0.02f;
    }
    for (int i = 0; i < c->D; i++)
        m->final_norm[i] = 1.0f;
    for (int l = 0; l < c->L; l++) {
        struct ik_lm_layer *y = &m->layers[l];
        for (int i = 0; i < c->D; i++)
            y->attn_norm[i] = 1.0f;
        if (y->block != IK_LM_BLOCK_MAMBA)
            continue;
        for (int h = 0; h < c->ssm.heads; h++) {
            y->A_log[h] = logf(1.0f + h);
            y->dt_bias[h] = -4.6f; /* softplus^-1(0.01) */
            y->ssm_D[h] = 1.0f;
        }
        for (int i = 0; i < ik_lm_ssm_inner(c); i++)
            y->ssm_norm[i] = 1.0f;
    }
    return m;
}

/* Seconds of the best of reps forwards of T tokens (one chunk). */
static double forward_time(const struct ik_lm_model *m, int T, int reps)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_state *s;
    if (ik_lm_state_new(&s, m, T, T, &d))
        die(&d);
    int *tok = malloc(sizeof(int) * (size_t)T);
    for (int i = 0; i < T; i++)
        tok[i] = 1 + (int)(((unsigned)i * 104729u) % (unsigned)(m->cfg.V - 1));
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        ik_lm_state_reset(s);
        double t0 = now();
        if (ik_lm_forward(s, tok, T, NULL, &d))
            die(&d);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    free(tok);
    ik_lm_state_free(s);
    return best;
}

/* Seconds of the chunked scan alone over T rows of the 9B shape. */
static double scan_time(int T)
{
    int ld = NH * P + 2 * G * N;
    unsigned seed = 3;
    float *xbc = randv((size_t)T * ld, &seed, -1, 1), *dt = randv((size_t)T * NH, &seed, 0.001f, 0.1f);
    float *A = randv(NH, &seed, -8, -0.5f), *Dk = randv(NH, &seed, 0.5f, 1.5f);
    float *y = malloc(sizeof(float) * (size_t)T * NH * P), *st = calloc((size_t)NH * P * N, sizeof(float));
    float *scr = malloc(sizeof(float) * ik_cpu_ssm_chunked_scratch(NH, P, Q));
    if (y == NULL || st == NULL || scr == NULL)
        exit(1);
    double best = 1e30;
    for (int r = 0; r < 2; r++) {
        double t0 = now();
        ik_cpu_ssm_chunked_fwd(y, st, xbc, xbc + NH * P, xbc + NH * P + G * N, ld, dt, A, Dk, T, NH, P,
                               G, N, Q, scr);
        double t = now() - t0;
        best = t < best ? t : best;
    }
    free(xbc), free(dt), free(A), free(Dk), free(y), free(st), free(scr);
    return best;
}

int main(int argc, char **argv)
{
    ik_cpu_blas_fix_core("nemotron_bench", argv);
    (void)argc;
    scan_forms((int)env_long("NEMO_BENCH_MAXT", 1024, 1, 65536));

    const char *pat = "M-M*-M-M-";
    struct ik_lm_config c = shape(pat, 1);
    struct ik_lm_model *m = random_model(&c);
    int T = 512;
    double t = forward_time(m, T, 3);
    printf("scoring, a random NemotronH of pattern %s (D %d, MLP %d, attention %d heads of %d over "
           "%d, Mamba %d heads of %d in %d groups, state %d, chunk %d, V %d; %.1fM parameters), %d "
           "tokens: %.0f tok/s\n", pat, c.D, c.F, c.H, c.head_dim, c.K, c.ssm.heads, c.ssm.head_dim,
           c.ssm.groups, c.ssm.state, c.ssm.chunk, c.V, m->n_params / 1e6, T, T / t);
    ik_lm_model_free(m);

    T = (int)env_long("NEMO_BENCH_LAYER_T", 512, 1, 4096);
    printf("one layer of the 9B shape (D 4480), %d tokens:\n", T);
    static const char *const kinds[] = {"M", "-", "*"};
    static const char *const names[] = {"Mamba-2", "MLP", "attention"};
    for (int k = 0; k < 3; k++) {
        c = shape(kinds[k], 0);
        m = random_model(&c);
        t = forward_time(m, T, 2);
        printf("  %-9s %8.0f tok/s", names[k], T / t);
        if (k == 0)
            printf("  (the scan %.0f%% of it)", 100 * scan_time(T) / t);
        printf("\n");
        ik_lm_model_free(m);
    }
    return 0;
}
