/* bench/gen_bench.c - `make bench` figures of generation and scoring in the
 * CPU language-model core (issue 12's targets), on the example model
 * (stories260K-hf) and on a random model of Qwen2.5-0.5B's shape:
 *   - generated tokens/s of 8 prompts greedy one at a time (batch 1) and as a
 *     continuous batch of 8, alternating, twice each, and the ratio;
 *   - multiple-choice scoring, questions/s: 5 continuations after a shared
 *     question, by ik_lm_score_continuations (the question run once) and by
 *     5 ik_lm_score calls on the whole texts, and the ratio;
 *   - the peak RSS against the model's weight bytes (the target: <= 1.2x).
 * Both sides of every ratio run in this process, interleaved, so the ratios
 * hold on a loaded machine where the absolute figures do not.
 * Environment: GEN_BENCH_NEW (tokens per prompt on the Qwen shape, default
 * 8), IKADA_THREADS as for ikada. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bench/bench_common.h"
#include "bench/qwen_shape.h"
#include "kernels/cpu/blas_core.h"
#include "lm/generate.h"
#include "lm/model.h"

enum { NPROMPT = 8, BATCH = 8, NCONT = 5, CONT_LEN = 4, QUESTION = 48, REPS = 2 };

/* A token sequence that depends only on (i, j) and the vocabulary. */
static int tok_at(int i, int j, int V) { return 1 + (int)(((unsigned)i * 7919u + (unsigned)j * 104729u) % (unsigned)(V - 1)); }

/* Tokens per second of generating max_new tokens from each of the prompts
 * with `batch` sequences at once. */
static double gen_rate(struct ik_lm_state *s, const int *const *prompts, const int *lens, int max_new,
                       int batch, int *total)
{
    struct ik_diag d = IK_DIAG_INIT;
    int *outs[NPROMPT], counts[NPROMPT];
    for (int i = 0; i < NPROMPT; i++)
        outs[i] = malloc(sizeof(int) * (size_t)max_new);
    struct ik_lm_gen_opts o = {max_new, 0.0f, 1.0f, 0, 0, NULL, 0};
    double t0 = ik_clock_monotonic_s();
    if (ik_lm_generate_batched(s, NULL, prompts, lens, NPROMPT, &o, batch, outs, counts, NULL, &d))
        ik_bench_die(&d);
    double t = ik_clock_monotonic_s() - t0;
    *total = 0;
    for (int i = 0; i < NPROMPT; i++) {
        *total += counts[i];
        free(outs[i]);
    }
    return *total / t;
}

/* Questions per second of scoring NCONT continuations after a question,
 * shared-prefix (ik_lm_score_continuations) or whole texts (ik_lm_score). */
static double score_rate(struct ik_lm_state *s, int shared, int questions)
{
    struct ik_diag d = IK_DIAG_INIT;
    int V = ik_lm_state_config(s)->V, q[QUESTION], c[NCONT][CONT_LEN], whole[QUESTION + CONT_LEN];
    int lens[NCONT];
    const int *conts[NCONT];
    float lp[NCONT][CONT_LEN], *lps[NCONT], ref[QUESTION + CONT_LEN];
    double t0 = ik_clock_monotonic_s();
    for (int k = 0; k < questions; k++) {
        for (int j = 0; j < QUESTION; j++)
            q[j] = tok_at(k, j, V);
        for (int i = 0; i < NCONT; i++) {
            for (int j = 0; j < CONT_LEN; j++)
                c[i][j] = tok_at(100 + k * NCONT + i, j, V);
            conts[i] = c[i];
            lens[i] = CONT_LEN;
            lps[i] = lp[i];
        }
        if (shared) {
            if (ik_lm_score_continuations(s, q, QUESTION, conts, lens, NCONT, lps, &d))
                ik_bench_die(&d);
            continue;
        }
        for (int i = 0; i < NCONT; i++) {
            memcpy(whole, q, sizeof q);
            memcpy(whole + QUESTION, c[i], sizeof c[i]);
            if (ik_lm_score(s, whole, QUESTION + CONT_LEN, ref, &d))
                ik_bench_die(&d);
        }
    }
    return questions / (ik_clock_monotonic_s() - t0);
}

static void spread(const char *what, const double *v, int n, double *mid)
{
    double lo = v[0], hi = v[0], sum = 0;
    for (int i = 0; i < n; i++) {
        lo = v[i] < lo ? v[i] : lo;
        hi = v[i] > hi ? v[i] : hi;
        sum += v[i];
    }
    *mid = sum / n;
    printf("%s %.1f (%.1f to %.1f over %d runs)", what, *mid, lo, hi, n);
}

static void bench_model(const char *name, struct ik_lm_model *m, int max_new, int questions)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_state *s;
    if (ik_lm_state_new(&s, m, 256, 64, &d))
        ik_bench_die(&d);
    int p[NPROMPT][8], lens[NPROMPT];
    const int *prompts[NPROMPT];
    for (int i = 0; i < NPROMPT; i++) {
        lens[i] = 2 + i % 5;
        for (int j = 0; j < lens[i]; j++)
            p[i][j] = tok_at(i, j, m->cfg.V);
        prompts[i] = p[i];
    }
    double one[REPS], bat[REPS], r1, rb;
    int n1 = 0, nb = 0;
    gen_rate(s, prompts, lens, 2, BATCH, &nb); /* warms the pool and the pages */
    for (int r = 0; r < REPS; r++) {
        one[r] = gen_rate(s, prompts, lens, max_new, 1, &n1);
        bat[r] = gen_rate(s, prompts, lens, max_new, BATCH, &nb);
    }
    printf("gen_bench: %s: greedy generation, %d prompts x %d tokens: one at a time", name, NPROMPT,
           max_new);
    spread("", one, REPS, &r1);
    printf(" tokens/s; batch of %d", BATCH);
    spread("", bat, REPS, &rb);
    printf(" tokens/s; batched / one at a time = %.2fx (answers/s %.2f vs %.2f)\n", rb / r1,
           rb / max_new, r1 / max_new);
    double sh[REPS], wh[REPS], rs, rw;
    for (int r = 0; r < REPS; r++) {
        sh[r] = score_rate(s, 1, questions);
        wh[r] = score_rate(s, 0, questions);
    }
    printf("gen_bench: %s: scoring %d continuations of %d tokens after a %d-token question: shared "
           "prefix", name, NCONT, CONT_LEN, QUESTION);
    spread("", sh, REPS, &rs);
    printf(" questions/s; whole texts");
    spread("", wh, REPS, &rw);
    printf(" questions/s; shared / whole = %.2fx\n", rs / rw);
    ik_lm_state_free(s);
}

static double peak_rss_bytes(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss * 1024.0;
}

int main(int argc, char **argv)
{
    (void)argc;
    ik_cpu_blas_fix_core("gen_bench", argv);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m;
    if (ik_lm_model_load(&m, IK_BENCH_SRCDIR "/examples/models/stories260K-hf", &d))
        ik_bench_die(&d);
    bench_model("stories260K-hf", m, 64, 200);
    ik_lm_model_free(m);

    /* 32 new tokens an answer (GEN_BENCH_NEW overrides): an evaluation's
     * answers run to hundreds, and each prompt is prefilled alone before it
     * joins the batch, so at 8 tokens that prefill is half the batched work
     * (measured: 2.7x there, 3.6x at 32). */
    const char *env = getenv("GEN_BENCH_NEW");
    int max_new = env ? (int)strtol(env, NULL, 10) : 32;
    double before = peak_rss_bytes();
    m = ik_bench_qwen_shape();
    double weights = (double)m->n_params * sizeof(float);
    bench_model("Qwen2.5-0.5B shape (random)", m, max_new > 0 ? max_new : 32, 3);
    double peak = peak_rss_bytes();
    printf("gen_bench: Qwen2.5-0.5B shape: peak RSS %.0f MiB = %.2fx the %.0f MiB of fp32 weights "
           "(%.0f MiB before the model)\n", peak / 1048576, peak / weights, weights / 1048576,
           before / 1048576);
    ik_lm_model_free(m);
    return 0;
}
