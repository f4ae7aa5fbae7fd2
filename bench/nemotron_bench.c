/* bench/nemotron_bench.c - `make bench` figures of NemotronH on the CPU
 * (issue 17): tokens/s of scoring (ik_lm_score) and of a LoRA training step
 * (ik_lm_train_step, forward and backward, targets: all) on a small random
 * model, then on single layers of NVIDIA-Nemotron-Nano-9B-v2's shape (D
 * 4480; one Mamba-2 layer: 128 heads of 80, 8 groups, state 128, conv 4,
 * chunk 128; one relu^2 MLP layer: F 15680; one attention layer: 40 heads
 * over 8 of 128) at length 2048, each as a one-layer model with a 256-word
 * vocabulary (so the head is negligible), and the selective scan's share of
 * the Mamba layer's time: its forward (chunked) and its backward (the
 * reverse scan with recomputed states) timed alone at the same shape.
 * Weights are uniform in [-0.02, 0.02) as bench/qwen_shape.c's, with unit
 * norms, A_log = log(1..nh), D = 1 and dt_bias giving dt near 0.02.
 * Environment: NEMOTRON_BENCH_T (the 9B layers' length, default 2048),
 * IKADA_THREADS as for ikada. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bench/bench_common.h"
#include "kernels/cpu/blas_core.h"
#include "kernels/dispatch.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/train.h"

/* A NemotronH shape: attention H heads of hd over K, Mamba-2 nh heads of P
 * in G groups of state N, one layer per letter of pattern. */
static struct ik_lm_config shape(const char *pattern, int D, int F, int H, int K, int hd, int nh,
                                 int P, int G, int N, int V, int max_seq)
{
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = IK_LM_NEMOTRON_H;
    c.D = D, c.F = F, c.L = (int)strlen(pattern), c.H = H, c.K = K, c.head_dim = hd, c.V = V;
    c.max_seq = max_seq;
    c.norm_eps = 1e-5f;
    c.no_rope = 1;
    c.bos_id = 1;
    c.ssm = (struct ik_lm_ssm_config){.heads = nh, .head_dim = P, .groups = G, .state = N,
                                      .conv_kernel = 4, .chunk = 128, .conv_bias = 1};
    for (int l = 0; l < c.L; l++)
        c.block[l] = pattern[l] == 'M' ? IK_LM_BLOCK_MAMBA : pattern[l] == '*' ? IK_LM_BLOCK_ATTN
                                                                              : IK_LM_BLOCK_MLP;
    return c;
}

static void fill(float *p, size_t n, float v)
{
    for (size_t i = 0; p && i < n; i++)
        p[i] = v;
}

static struct ik_lm_model *random_model(const struct ik_lm_config *c)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m;
    if (ik_lm_model_new(&m, c, &d))
        ik_bench_die(&d);
    unsigned s = 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->arena[i] = ((float)(s >> 8) / 8388608.0f - 1.0f) * 0.02f;
    }
    fill(m->final_norm, (size_t)c->D, 1.0f);
    int nh = c->ssm.heads;
    for (int l = 0; l < c->L; l++) {
        struct ik_lm_layer *y = &m->layers[l];
        fill(y->attn_norm, (size_t)c->D, 1.0f);
        if (y->block != IK_LM_BLOCK_MAMBA)
            continue;
        fill(y->ssm_norm, (size_t)ik_lm_ssm_inner(c), 1.0f);
        fill(y->ssm_D, (size_t)nh, 1.0f);
        fill(y->dt_bias, (size_t)nh, -4.0f); /* softplus(-4) = 0.018 */
        for (int h = 0; h < nh; h++)
            y->A_log[h] = logf((float)(h + 1));
    }
    return m;
}

struct figures {
    double score_tps, train_tps;
};

/* Tokens/s of scoring and of a training step (targets: all, rank 16) over T
 * tokens, the best of reps runs each. */
static struct figures measure(const struct ik_lm_model *m, int T, int reps)
{
    struct ik_diag d = IK_DIAG_INIT;
    int *tok = malloc((size_t)T * sizeof *tok);
    float *lp = malloc((size_t)T * sizeof *lp);
    for (int i = 0; i < T; i++)
        tok[i] = (i * 7 + 3) % m->cfg.V;
    struct ik_lm_state *s;
    if (ik_lm_state_new(&s, m, T, T, &d))
        ik_bench_die(&d);
    struct figures f = {0, 0};
    for (int r = 0; r < reps; r++) {
        double t0 = ik_clock_monotonic_s();
        if (ik_lm_score(s, tok, T, lp, &d))
            ik_bench_die(&d);
        double tps = T / (ik_clock_monotonic_s() - t0);
        f.score_tps = tps > f.score_tps ? tps : f.score_tps;
    }
    ik_lm_state_free(s);
    struct ik_lora_config lc = {16, 32.0f, 0.0f, IK_LORA_ALL};
    struct ik_lora *a;
    struct ik_lm_train *tr;
    if (ik_lora_new(&a, &m->cfg, &lc, 1, &d) || ik_lm_train_new(&tr, m, a, T, &d))
        ik_bench_die(&d);
    for (int r = 0; r < reps; r++) {
        double loss, t0 = ik_clock_monotonic_s();
        ik_lora_zero_grad(a);
        if (ik_lm_train_step(tr, tok, NULL, T, IK_LM_BACKWARD, 0, 1.0f, &loss, NULL, &d))
            ik_bench_die(&d);
        double tps = (T - 1) / (ik_clock_monotonic_s() - t0);
        f.train_tps = tps > f.train_tps ? tps : f.train_tps;
    }
    ik_lm_train_free(tr);
    ik_lora_free(a);
    free(tok), free(lp);
    return f;
}

/* Seconds of the scan alone at layer c's shape over T rows: the chunked
 * forward, and the backward as the trainer calls it. */
static void scan_seconds(const struct ik_lm_config *c, int T, double *fwd, double *bwd)
{
    int nh = c->ssm.heads, P = c->ssm.head_dim, G = c->ssm.groups, N = c->ssm.state;
    int ld = nh * P + 2 * G * N, Qb = (int)ceil(sqrt((double)T));
    unsigned s = 3;
    float *xbc = ik_bench_uniform((size_t)T * ld, &s, -1, 1), *dt = ik_bench_uniform((size_t)T * nh, &s, 0.001f, 0.1f);
    float *A = ik_bench_uniform((size_t)nh, &s, -8, -0.5f), *Dk = ik_bench_uniform((size_t)nh, &s, 0.5f, 1.5f);
    float *y = ik_bench_uniform((size_t)T * nh * P, &s, -1, 1), *dxbc = calloc((size_t)T * ld, sizeof(float));
    float *ddt = calloc((size_t)T * nh, sizeof(float)), *st = calloc((size_t)nh * P * N, sizeof(float));
    float *scr = malloc(sizeof(float) * ik_ssm_chunked_scratch(nh, P, c->ssm.chunk));
    float *bscr = malloc(sizeof(float) * ik_ssm_scan_bwd_scratch(T, G, P, N, Qb));
    const float *x = xbc, *B = xbc + nh * P, *C = B + G * N;
    double t0 = ik_clock_monotonic_s();
    ik_ssm_chunked_fwd(y, st, x, B, C, ld, dt, A, Dk, T, nh, P, G, N, c->ssm.chunk, scr);
    double t1 = ik_clock_monotonic_s();
    ik_ssm_scan_bwd(dxbc, dxbc + nh * P, dxbc + nh * P + G * N, ld, ddt, y, x, B, C, ld, dt, A, Dk,
                    T, nh, P, G, N, Qb, bscr);
    *fwd = t1 - t0;
    *bwd = ik_clock_monotonic_s() - t1;
    free(xbc), free(dt), free(A), free(Dk), free(y), free(dxbc), free(ddt), free(st), free(scr),
        free(bscr);
}

int main(int argc, char **argv)
{
    ik_cpu_blas_fix_core("nemotron_bench", argv);
    (void)argc;
    const char *e = getenv("NEMOTRON_BENCH_T");
    long v = e ? strtol(e, NULL, 10) : 2048;
    int T9 = v < 16 ? 16 : v > 8192 ? 8192 : (int)v;

    const char *pat = "M-M*-M-M";
    struct ik_lm_config c = shape(pat, 512, 1536, 8, 2, 64, 16, 64, 2, 64, 4096, 512);
    struct ik_lm_model *m = random_model(&c);
    struct figures f = measure(m, 512, 3);
    printf("NemotronH CPU, small random model (pattern %s, D 512, F 1536, Mamba-2 16 heads of 64 in "
           "2 groups, state 64, attention 8 heads of 64 over 2, V 4096, %.1f M parameters), 512 "
           "tokens:\n  scoring %.0f tokens/s, LoRA training step (targets: all, r 16) %.0f tokens/s\n",
           pat, m->n_params / 1e6, f.score_tps, f.train_tps);
    ik_lm_model_free(m);

    printf("Nemotron-Nano-9B-v2 single layers (D 4480), %d tokens:\n", T9);
    printf("  %-10s %14s %16s\n", "layer", "score tok/s", "train tok/s");
    const char *const kinds[] = {"M", "-", "*"}, *const names[] = {"Mamba-2", "MLP", "attention"};
    for (int k = 0; k < 3; k++) {
        c = shape(kinds[k], 4480, 15680, 40, 8, 128, 128, 80, 8, 128, 256, T9);
        m = random_model(&c);
        f = measure(m, T9, 1);
        printf("  %-10s %14.0f %16.0f\n", names[k], f.score_tps, f.train_tps);
        if (k == 0) {
            double fwd, bwd;
            scan_seconds(&c, T9, &fwd, &bwd);
            double score_s = T9 / f.score_tps, train_s = (T9 - 1) / f.train_tps;
            printf("  %-10s scan forward %.3f s (%.0f%% of scoring), scan backward %.3f s; "
                   "scan forward + backward %.0f%% of the training step\n", "", fwd,
                   100 * fwd / score_s, bwd, 100 * (fwd + bwd) / train_s);
        }
        ik_lm_model_free(m);
    }
    return 0;
}
