/* bench/lm_bench.c - `make bench` figures of the CPU language-model core:
 * tokens/s of a LoRA training step (forward + backward) and of greedy
 * generation, on stories260K and on a random model of Qwen2.5-0.5B's shape
 * (config.json written here), the GEMM GFLOP/s a training step achieves as
 * a ratio of OpenBLAS sgemm measured in the same run, the memory activation
 * checkpointing saves and what it costs, and the peak RSS. */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "base/diag.h"
#include "lm/config.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/train.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

static void die(struct ik_diag *d)
{
    ik_diag_print(d);
    exit(1);
}

/* OpenBLAS's own sgemm at a training-step shape (M tokens, the MLP's F x D). */
static double sgemm_gflops(int M, int N, int K)
{
    float *a = calloc((size_t)M * K, 4), *b = calloc((size_t)N * K, 4), *c = calloc((size_t)M * N, 4);
    for (size_t i = 0; i < (size_t)M * K; i++)
        a[i] = (float)(i % 7) * 0.1f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        b[i] = (float)(i % 5) * 0.1f;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
    int reps = 0;
    double t0 = now(), t;
    do {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, a, K, b, K, 0, c, N);
        reps++;
    } while ((t = now() - t0) < 1.0);
    free(a), free(b), free(c);
    return 2.0 * M * N * K * reps / t * 1e-9;
}

/* Seconds of one warm training step (and its GEMM flops) with trainer options opts. */
static double step_time(struct ik_lm_model *m, struct ik_lora *a, int seq, int opts, int steps,
                        double *flops, size_t *bytes)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_train *tr;
    if (ik_lm_train_new_opts(&tr, m, a, seq, opts, &d))
        die(&d);
    int *tok = malloc(sizeof(int) * (size_t)seq);
    for (int i = 0; i < seq; i++)
        tok[i] = (i * 7919 + 13) % m->cfg.V;
    double loss, t = 0;
    *flops = 0;
    for (int s = 0; s <= steps; s++) {
        ik_lora_zero_grad(a);
        double t0 = now();
        if (ik_lm_train_step(tr, tok, NULL, seq, IK_LM_BACKWARD, 0, 1.0f, &loss, NULL, &d))
            die(&d);
        if (s > 0 || steps == 0) { /* the first step warms caches and threads */
            t += now() - t0;
            *flops += ik_lm_train_gemm_flops(tr);
        }
    }
    *bytes = ik_lm_train_bytes(tr);
    ik_lm_train_free(tr);
    free(tok);
    return t;
}

static void bench_model(const char *name, struct ik_lm_model *m, int seq, int steps, int gen,
                        double peak, int ckpt)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora_config lc = {8, 16.0f, 0.0f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    if (ik_lora_new(&a, &m->cfg, &lc, 1, &d))
        die(&d);
    double flops;
    size_t bytes;
    double t = step_time(m, a, seq, 0, steps, &flops, &bytes);
    int n_steps = steps > 0 ? steps : 1;
    double gf = flops / t * 1e-9;
    printf("lm_bench: %s: training step (LoRA r=8 on q,k,v,o,gate,up,down), seq %d: %.0f tokens/s "
           "(%.2f s/step), GEMM %.1f GFLOP/s = %.0f%% of sgemm; activations %.0f MiB\n", name, seq,
           (double)seq * n_steps / t, t / n_steps, gf, 100.0 * gf / peak, bytes / 1048576.0);
    if (ckpt) {
        size_t cbytes;
        double ct = step_time(m, a, seq, IK_LM_TRAIN_CHECKPOINT, 1, &flops, &cbytes);
        printf("lm_bench: %s: with activation checkpointing: %.2f s/step (%+.0f%%), activations "
               "%.0f MiB (%.0f MiB saved)\n", name, ct, 100.0 * (ct - t / n_steps) / (t / n_steps),
               cbytes / 1048576.0, ((double)bytes - (double)cbytes) / 1048576.0);
    }

    struct ik_lm_state *st;
    if (ik_lm_state_new(&st, m, 1 + gen, 64, &d))
        die(&d);
    int *out = malloc(sizeof(int) * (size_t)gen), bos = 1;
    struct ik_lm_gen_opts o = {gen, 0.0f, 1.0f, 0, 0, NULL, 0};
    double t0 = now();
    int k = ik_lm_generate(st, NULL, &bos, 1, &o, out, NULL, &d);
    if (k < 0)
        die(&d);
    printf("lm_bench: %s: greedy generation: %.1f tokens/s (%d tokens)\n", name, k / (now() - t0), k);
    ik_lm_state_free(st);
    free(out);
    ik_lora_free(a);
}

int main(void)
{
    struct ik_diag d = IK_DIAG_INIT;
    double peak = sgemm_gflops(512, 4864, 896);
    printf("lm_bench: OpenBLAS sgemm 512x4864x896: %.1f GFLOP/s\n", peak);

    struct ik_lm_model *m;
    if (ik_lm_model_load(&m, IK_BENCH_SRCDIR "/examples/models/stories260K/stories260K.bin", &d))
        die(&d);
    bench_model("stories260K", m, 512, 5, 256, peak, 0);
    ik_lm_model_free(m);

    /* Qwen2.5-0.5B's shape (its config.json's fields), random weights. */
    char dir[] = "/tmp/ikada-lm-bench-XXXXXX";
    if (mkdtemp(dir) == NULL)
        return perror("mkdtemp"), 1;
    char path[64];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 896, \"intermediate_size\": 4864,"
          " \"num_hidden_layers\": 24, \"num_attention_heads\": 14, \"num_key_value_heads\": 2,"
          " \"vocab_size\": 151936, \"max_position_embeddings\": 32768, \"rms_norm_eps\": 1e-06,"
          " \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"hidden_act\": \"silu\","
          " \"bos_token_id\": 151643, \"eos_token_id\": 151645, \"use_sliding_window\": false}", f);
    fclose(f);
    struct ik_lm_config c;
    int rc = ik_lm_config_load(&c, path, &d);
    unlink(path);
    rmdir(dir);
    if (rc || ik_lm_model_new(&m, &c, &d))
        die(&d);
    unsigned s = 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->embed[i] = ((float)(s >> 9) / 8388608.0f - 1.0f) * 0.02f;
    }
    for (int l = 0; l < c.L; l++)
        for (int i = 0; i < c.D; i++)
            m->layers[l].attn_norm[i] = m->layers[l].ffn_norm[i] = 1.0f;
    const char *seq_env = getenv("LM_BENCH_SEQ");
    int seq = seq_env ? (int)strtol(seq_env, NULL, 10) : 512;
    bench_model("Qwen2.5-0.5B shape (random)", m, seq, 2, 16, peak, 1);
    ik_lm_model_free(m);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("lm_bench: peak RSS %.0f MiB\n", ru.ru_maxrss / 1024.0);
    return 0;
}
