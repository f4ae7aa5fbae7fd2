/* bench/interop_gen.c - `interop_gen MODEL N_NEW ID,ID,...`: ikada's side of
 * `make bench-interop` (bench/interop_bench.py; bench/interop_llamacpp.py is
 * llama.cpp's). Loads MODEL with ik_lm_model_load, runs the prompt (the given
 * token ids) through the network in one chunk, then decodes N_NEW tokens
 * greedily one at a time: the first from the prompt's logits, each next one
 * after a forward of the one before (N_NEW - 1 one-token forwards, as
 * ik_lm_generate_greedy does). Prints one JSON object: the seconds of the
 * load, of the prompt and of the decoding (timed apart), the tokens, the 5
 * most probable after the prompt (not timed), the peak RSS of this process
 * (getrusage) and the weights' bytes. Threads: IKADA_THREADS as for ikada. Exits 1 with the message on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bench/bench_common.h"
#include "kernels/cpu/blas_core.h"
#include "lm/generate.h"
#include "lm/model.h"

/* The comma-separated ids of s into ids (room for max); returns their count,
 * or -1 (with a message) for anything but a list of integers. */
static int parse_ids(const char *s, int *ids, int max)
{
    int n = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || (*end && *end != ',') || n == max) {
            fprintf(stderr, "interop_gen: prompt '%s': item %d is not an integer (or more than %d ids)\n",
                    s, n + 1, max);
            return -1;
        }
        ids[n++] = (int)v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* The ids of the 5 largest logits, largest first (ties: the lower id first). */
static void top5(const float *logits, int V, int *top)
{
    int n = 0;
    for (int i = 0; i < V; i++) {
        int at = n < 5 ? n++ : 5;
        while (at > 0 && logits[i] > logits[top[at - 1]]) {
            if (at < 5)
                top[at] = top[at - 1];
            at--;
        }
        if (at < 5)
            top[at] = i;
    }
}

int main(int argc, char **argv)
{
    ik_cpu_blas_fix_core("interop_gen", argv);
    enum { MAX_PROMPT = 4096 };
    static int prompt[MAX_PROMPT];
    int n_new = argc == 4 ? (int)strtol(argv[2], NULL, 10) : 0;
    int n_prompt = argc == 4 ? parse_ids(argv[3], prompt, MAX_PROMPT) : -1;
    if (n_new < 2 || n_prompt < 1) {
        fprintf(stderr, "usage: interop_gen MODEL N_NEW ID,ID,... (N_NEW >= 2, at least one id)\n");
        return 2;
    }
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m;
    double t0 = ik_clock_monotonic_s();
    if (ik_lm_model_load(&m, argv[1], &d))
        ik_bench_die(&d);
    double t_load = ik_clock_monotonic_s() - t0;
    struct ik_lm_state *s;
    if (ik_lm_state_new(&s, m, n_prompt + n_new, n_prompt, &d))
        ik_bench_die(&d);
    int V = m->cfg.V, *out = malloc(sizeof(int) * (size_t)n_new), *idx = malloc(sizeof(int) * (size_t)V);
    float *prob = malloc(sizeof(float) * (size_t)V);
    if (!out || !idx || !prob) {
        fprintf(stderr, "interop_gen: out of memory\n");
        return 1;
    }
    t0 = ik_clock_monotonic_s();
    if (ik_lm_forward(s, prompt, n_prompt, NULL, &d))
        ik_bench_die(&d);
    double t_prompt = ik_clock_monotonic_s() - t0;
    int top[5];
    top5(ik_lm_state_logits(s), V, top);
    t0 = ik_clock_monotonic_s();
    for (int i = 0; i < n_new; i++) {
        out[i] = ik_lm_sample(ik_lm_state_logits(s), V, 0.0f, 1.0f, NULL, prob, idx); /* argmax */
        if (i + 1 < n_new && ik_lm_forward(s, &out[i], 1, NULL, &d))
            ik_bench_die(&d);
    }
    double t_decode = ik_clock_monotonic_s() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("{\"load_s\": %.6f, \"prompt_tokens\": %d, \"prompt_s\": %.6f, \"decode_forwards\": %d, "
           "\"decode_s\": %.6f, \"peak_rss_bytes\": %.0f, \"weights_bytes\": %.0f, \"tokens\": [",
           t_load, n_prompt, t_prompt, n_new - 1, t_decode, ru.ru_maxrss * 1024.0,
           (double)m->n_params * sizeof(float));
    for (int i = 0; i < n_new; i++)
        printf("%s%d", i ? ", " : "", out[i]);
    printf("], \"top5\": [%d, %d, %d, %d, %d]}\n", top[0], top[1], top[2], top[3], top[4]);
    free(out);
    free(idx);
    free(prob);
    ik_lm_state_free(s);
    ik_lm_model_free(m);
    return 0;
}
