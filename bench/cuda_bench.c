/* bench/cuda_bench.c - `make bench-cuda`: the CUDA training step
 * (lm/train_cuda.c) on random models of Qwen2.5-0.5B, Qwen2.5-1.5B and
 * Llama-3-8B shape (their config.json's sizes) at 4096 tokens, batch 1 x
 * accumulation 8, LoRA rank 16 on every projection: tokens/s, MFU, the
 * device memory, and in the same run cuBLASLt's BF16 GEMM rate at each
 * model's largest projection (the practical ceiling of the step's GEMMs).
 *
 * MFU counts model FLOPs per token: 4N for the frozen-base LoRA step (the
 * forward, and the backward to the inputs only), 6N with activation
 * checkpointing (one more forward), N the weights the GEMMs read (the
 * layers' projections and the lm_head; the head is never recomputed), plus
 * causal attention 2 T hd H per token and layer forward, twice that
 * backward; divided by the device's dense BF16 peak: 989 TFLOP/s (H100 and
 * H200), or $IKADA_GPU_PEAK_TFLOPS. The optimizer step (clipping and AdamW
 * on the device, the adapter's new values copied back) is inside the
 * timing. The 8B model trains with activation checkpointing (its full
 * activations at 4096 tokens are ~46 GB; the target is <= 30 GB in all).
 *
 * Each shape runs with the module's cuBLAS attention, then with its flash
 * kernels and, where the module has cuDNN's fused attention for it, with
 * that (IKADA_CUDA_ATTENTION, which the bench sets itself): the rows are the
 * measurement that decides which is the default. The targets are judged on
 * the fastest. The 1.5B shape runs once more with the train node's default
 * LoRA dropout (0.05): the other rows have none. That run then prints the
 * module's breakdown of one more step by kernel and library call
 * (->profile_set), where the step's time goes. 
 *
 * The weights are drawn on the device (IK_LM_TRAIN_CUDA_RANDOM_BASE), so no
 * 8B model is ever built on the host. Without a device it exits 77 saying
 * why. `--attention own,flash` (any of own, flash, cudnn) times only those.
 * `--shapes tiny` runs a small model instead, so that tests can run
 * the program against the CPU stand-in of the module
 * (tests/cuda/test_cuda_bench.sh); `--estimate` prints each full shape's
 * device arena as the trainer computes it, on any machine.
 *
 * Last, NemotronH-9B's shape (the reference experiment's model: 27 Mamba-2,
 * 25 relu^2 MLP and 4 attention layers, lm/train_cuda_mamba.c) with
 * activation checkpointing and LoRA on every projection, in_proj and
 * out_proj included: not one of the targets, so not judged; the
 * module's breakdown follows its own-attention row. Its
 * Mamba-2 weights but the projections stay zero (the conv, A, D, dt_bias;
 * the timing does not depend on their values). */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "bench/bench_common.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda_module.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/train.h"
#include "lm/train_cuda.h"

enum { ACCUM = 8 };

struct shape {
    const char *name;
    int arch, D, F, L, H, K, hd, V, tied, qkv_bias;
    float theta;
    int seq;
    int ckpt;   /* IK_LM_TRAIN_CHECKPOINT or 0 */
    int judged; /* one of the targets: >= 40 % MFU */
    /* NemotronH: the layers' pattern (L is its length) and the Mamba-2
     * mixer's heads, head width, groups and states; NULL otherwise */
    const char *pattern;
    int ssm_heads, ssm_hd, ssm_groups, ssm_state;
};

/* NVIDIA-Nemotron-Nano-9B-v2's hybrid_override_pattern (../shared/notes/nemotron-h.md). */
#define NEMOTRON_9B_PATTERN "M-M-M-MM-M-M-M*-M-M-M*-M-M-M-M*-M-M-M-M*-M-MM-M-M-M-M-M-"

static const struct shape full_shapes[] = {
    {"Qwen2.5-0.5B", IK_LM_QWEN2, 896, 4864, 24, 14, 2, 64, 151936, 1, 1, 1e6f, 4096, 0, 0, NULL, 0, 0, 0, 0},
    {"Qwen2.5-1.5B", IK_LM_QWEN2, 1536, 8960, 28, 12, 2, 128, 151936, 1, 1, 1e6f, 4096, 0, 1, NULL, 0, 0, 0, 0},
    {"Llama-3-8B", IK_LM_LLAMA, 4096, 14336, 32, 32, 8, 128, 128256, 0, 0, 5e5f, 4096,
     IK_LM_TRAIN_CHECKPOINT, 1, NULL, 0, 0, 0, 0},
    {"Nemotron-H-9B", IK_LM_NEMOTRON_H, 4480, 15680, 56, 40, 8, 128, 131072, 0, 0, 0.0f, 4096,
     IK_LM_TRAIN_CHECKPOINT, 0, NEMOTRON_9B_PATTERN, 128, 80, 8, 128},
};
static const struct shape tiny_shapes[] = {
    {"tiny (smoke test)", IK_LM_QWEN2, 64, 128, 2, 4, 2, 16, 300, 1, 1, 1e4f, 64, 0, 0, NULL, 0, 0, 0, 0},
    {"tiny checkpointed", IK_LM_LLAMA, 64, 128, 2, 4, 2, 16, 300, 0, 0, 1e4f, 64,
     IK_LM_TRAIN_CHECKPOINT, 0, NULL, 0, 0, 0, 0},
    {"tiny NemotronH", IK_LM_NEMOTRON_H, 64, 128, 4, 4, 2, 16, 300, 0, 0, 0.0f, 64,
     IK_LM_TRAIN_CHECKPOINT, 0, "M*-M", 8, 8, 2, 16},
};

static const struct ik_cuda_ops *ops;

static void check(int rc, const char *what)
{
    if (rc != 0) {
        fprintf(stderr, "cuda_bench: %s: %s\n", what, ops->last_error());
        exit(1);
    }
}

static struct ik_lm_config config_of(const struct shape *s)
{
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = s->arch;
    c.D = s->D, c.F = s->F, c.L = s->L, c.H = s->H, c.K = s->K, c.head_dim = s->hd, c.V = s->V;
    c.max_seq = s->seq;
    c.norm_eps = 1e-6f;
    c.rope_theta = s->theta;
    c.tie_embeddings = s->tied;
    c.qkv_bias = s->qkv_bias;
    c.bos_id = -1;
    if (s->pattern) {
        c.L = (int)strlen(s->pattern);
        c.norm_eps = 1e-5f;
        c.no_rope = 1;
        c.ssm = (struct ik_lm_ssm_config){.heads = s->ssm_heads, .head_dim = s->ssm_hd,
                                          .groups = s->ssm_groups, .state = s->ssm_state,
                                          .conv_kernel = 4, .chunk = 128, .conv_bias = 1};
        for (int l = 0; l < c.L; l++)
            c.block[l] = s->pattern[l] == 'M' ? IK_LM_BLOCK_MAMBA
                       : s->pattern[l] == '*' ? IK_LM_BLOCK_ATTN : IK_LM_BLOCK_MLP;
    }
    return c;
}

/* The full model's and adapter's shapes for s, without a device: the model
 * from ik_lm_model_new costs address space only (nothing is written). */
static void model_of(const struct shape *s, float dropout, struct ik_lm_model **m, struct ik_lora **a)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_config c = config_of(s);
    if (ik_lm_model_new(m, &c, &d) != 0)
        ik_bench_die(&d);
    struct ik_lora_config lc = {16, 32.0f, dropout, (1u << IK_LORA_NT) - 1};
    if (ik_lora_new(a, &c, &lc, 7, &d) != 0)
        ik_bench_die(&d);
}

/* Weights the GEMMs read once per token forward: every layer's projections
 * (whichever its block has) and the head. */
static double gemm_weights(const struct ik_lm_config *c, double *head)
{
    double layers = 0;
    for (int l = 0; l < c->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            int in, out;
            ik_lora_target_dims(c, t, &in, &out);
            layers += ik_lora_has_module(c, l, t) ? (double)in * out : 0.0;
        }
    *head = (double)c->V * c->D;
    return layers;
}

/* The layers with attention: all of a decoder's, NemotronH's '*' ones. */
static int attention_layers(const struct ik_lm_config *c)
{
    int n = 0;
    for (int l = 0; l < c->L; l++)
        n += c->arch != IK_LM_NEMOTRON_H || ik_lm_config_block(c, l) == IK_LM_BLOCK_ATTN;
    return n;
}

/* The model FLOPs of one sequence of T tokens (see the top of the file;
 * NemotronH's scan, conv and norms are not counted: the projections' are
 * over 99 % of its FLOPs). */
static double model_flops(const struct ik_lm_config *c, int T, int ckpt)
{
    double head, layers = gemm_weights(c, &head);
    double attn_fwd = 2.0 * T * c->head_dim * c->H * attention_layers(c); /* per token, causal */
    double passes = ckpt ? 3.0 : 2.0; /* forwards' worth of the layers */
    return (double)T * (2.0 * passes * layers + 4.0 * head + (passes + 1.0) * attn_fwd);
}

/* cuBLASLt's rate at the model's largest projection, M = T rows: BF16 in,
 * fp32 out, as the step's frozen GEMMs. TFLOP/s. */
static double gemm_ceiling(const struct ik_lm_config *c, int T)
{
    int N = c->F, K = c->D, reps = 10;
    uint16_t *a, *b;
    float *out;
    check(ops->alloc((void **)&a, (size_t)T * K * 2), "alloc");
    check(ops->alloc((void **)&b, (size_t)N * K * 2), "alloc");
    check(ops->alloc((void **)&out, (size_t)T * N * 4), "alloc");
    check(ops->fill_uniform_bf16(a, (size_t)T * K, -1, 1, 1), "fill_uniform_bf16");
    check(ops->fill_uniform_bf16(b, (size_t)N * K, -1, 1, 2), "fill_uniform_bf16");
    check(ops->gemm(0, 1, T, N, K, 1.0f, a, K, b, K, 0.0f, out, N, IK_CUDA_BF16, IK_CUDA_F32), "gemm");
    check(ops->synchronize(), "synchronize");
    double t0 = ik_clock_monotonic_s();
    for (int i = 0; i < reps; i++)
        check(ops->gemm(0, 1, T, N, K, 1.0f, a, K, b, K, 0.0f, out, N, IK_CUDA_BF16, IK_CUDA_F32),
              "gemm");
    check(ops->synchronize(), "synchronize");
    double dt = ik_clock_monotonic_s() - t0;
    check(ops->free(a), "free");
    check(ops->free(b), "free");
    check(ops->free(out), "free");
    return 2.0 * T * N * K * reps / dt / 1e12;
}

struct result {
    double tok_s, mfu, ceiling, used_gib, arena_gib, loss;
};

/* One optimizer step of accum sequences, as the node's loop takes it:
 * gradients accumulated on the device, clipped and AdamW there. */
static double optimizer_step(struct ik_lm_train_cuda *tr, float *m, float *v, const int *tok, int T,
                             int t, int flags, int accum, double *loss)
{
    struct ik_diag d = IK_DIAG_INIT;
    double t0 = ik_clock_monotonic_s(), sum = 0, norm;
    if (ik_lm_train_cuda_zero_grad(tr, &d) != 0)
        ik_bench_die(&d);
    for (int i = 0; i < accum; i++) {
        double l;
        if (ik_lm_train_cuda_step(tr, tok, NULL, T, flags, (uint64_t)i, 1.0f / accum, &l,
                                  NULL, &d) != 0)
            ik_bench_die(&d);
        sum += l;
    }
    struct ik_lm_adamw opt = {1e-4, 0.9f, 0.999f, 1e-8f, 0.0f, 1.0, t};
    if (ik_lm_train_cuda_optimizer_step(tr, &opt, m, v, &norm, &d) != 0)
        ik_bench_die(&d);
    *loss = sum / accum;
    return ik_clock_monotonic_s() - t0;
}

static void print_row(const struct shape *s, const char *attn, const struct result *r)
{
    printf("%-18s %5d %5s %6s %10.0f %5.1f%% %12.1f %10.2f %10.2f %8.4f\n", s->name, s->seq,
           s->ckpt ? "on" : "off", attn, r->tok_s, 100 * r->mfu, r->ceiling, r->used_gib,
           r->arena_gib, r->loss);
    fflush(stdout);
}

/* Whether the module has cuDNN's attention for s's heads at its length;
 * when not, one line says why. */
static int sdpa_available(const struct shape *s)
{
    if (ops->size < offsetof(struct ik_cuda_ops, sdpa_bwd) + sizeof ops->sdpa_bwd) {
        printf("  %s: no cuDNN attention row: the module predates it\n", s->name);
        return 0;
    }
    if (ops->sdpa_available(s->seq, s->H, s->K, s->hd, 0))
        return 1;
    printf("  %s: no cuDNN attention row: %s\n", s->name, ops->last_error());
    return 0;
}

/* Whether the module has its flash attention for s's heads; when not, one
 * line says why. */
static int flash_available(const struct shape *s)
{
    if (ops->size < offsetof(struct ik_cuda_ops, flash_bwd) + sizeof ops->flash_bwd) {
        printf("  %s: no flash attention row: the module predates it\n", s->name);
        return 0;
    }
    if (ops->flash_supports(s->H, s->K, s->hd))
        return 1;
    printf("  %s: no flash attention row: head_dim %d\n", s->name, s->hd);
    return 0;
}

/* The module's breakdown of one more optimizer step of one sequence
 * (->profile_set: each call waits for the device, so the step runs slower
 * than timed above), kept for print_profile. */
enum { PROFILE_LINES = 24 };
static char profile_text[16384];

static void take_profile(struct ik_lm_train_cuda *tr, float *mo, float *vo, const int *tok, int T,
                         int flags)
{
    profile_text[0] = '\0';
    if (ops->size < offsetof(struct ik_cuda_ops, profile_report) + sizeof ops->profile_report)
        return;
    double loss;
    check(ops->profile_set(1), "profile_set");
    optimizer_step(tr, mo, vo, tok, T, 3, flags, 1, &loss);
    check(ops->profile_set(0), "profile_set");
    check(ops->profile_report(profile_text, sizeof profile_text), "profile_report");
}

/* take_profile's PROFILE_LINES largest lines, under the row they belong to. */
static void print_profile(void)
{
    if (profile_text[0] == '\0') {
        printf("  profile: empty (the module times nothing)\n");
        return;
    }
    printf("  profile of one more optimizer step of one sequence, each call waited for (largest "
           "first):\n");
    char *line = profile_text;
    for (int i = 0; i < PROFILE_LINES && line && *line; i++) {
        char *end = strchr(line, '\n');
        if (end)
            *end = '\0';
        printf("    %s\n", line);
        line = end ? end + 1 : NULL;
    }
}

/* s timed with the attention IKADA_CUDA_ATTENTION names, LoRA dropout as
 * given (0: none); with profile, then the module's breakdown of a step. */
static struct result run_shape(const struct shape *s, double peak, float dropout, int profile)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_config c = config_of(s);
    struct ik_lm_model *m;
    struct ik_lora *a;
    model_of(s, dropout, &m, &a); /* zero pages: only the norms are written */
    for (int i = 0; i < c.D; i++) {
        for (int l = 0; l < c.L; l++) {
            m->layers[l].attn_norm[i] = 1.0f;
            if (m->layers[l].ffn_norm) /* none in NemotronH */
                m->layers[l].ffn_norm[i] = 1.0f;
        }
        m->final_norm[i] = 1.0f;
    }
    for (size_t i = 0; i < a->n_params; i++) /* B != 0, so every branch carries gradient */
        a->params[i] = a->params[i] != 0.0f ? a->params[i] : 1e-3f;
    struct ik_lm_train_cuda *tr;
    if (ik_lm_train_cuda_new(&tr, ops, m, a, s->seq, s->ckpt | IK_LM_TRAIN_CUDA_RANDOM_BASE, &d) != 0)
        ik_bench_die(&d);
    int *tok = malloc((size_t)s->seq * sizeof *tok);
    unsigned seed = 11;
    for (int i = 0; i < s->seq; i++) {
        seed = seed * 1664525u + 1013904223u;
        tok[i] = (int)(seed >> 8) % c.V;
    }
    float *mo = calloc(a->n_params, sizeof *mo), *vo = calloc(a->n_params, sizeof *vo);
    struct result r = {0};
    int flags = IK_LM_BACKWARD | (dropout > 0 ? IK_LM_DROPOUT : 0);
    optimizer_step(tr, mo, vo, tok, s->seq, 1, flags, ACCUM, &r.loss); /* warm-up: plans, caches */
    double dt = optimizer_step(tr, mo, vo, tok, s->seq, 2, flags, ACCUM, &r.loss);
    size_t free_b, total_b;
    check(ops->mem_info(&free_b, &total_b), "mem_info");
    r.tok_s = (double)ACCUM * s->seq / dt;
    r.mfu = ACCUM * model_flops(&c, s->seq, s->ckpt != 0) / dt / (peak * 1e12);
    r.used_gib = (double)(total_b - free_b) / (1 << 30);
    r.arena_gib = (double)ik_lm_train_cuda_bytes(tr) / (1 << 30);
    if (profile)
        take_profile(tr, mo, vo, tok, s->seq, flags);
    free(tok);
    free(mo);
    free(vo);
    ik_lm_train_cuda_free(tr);
    ik_lora_free(a);
    r.ceiling = gemm_ceiling(&c, s->seq);
    ik_lm_model_free(m);
    return r;
}

/* The trainer's device bytes (ik_lm_train_cuda_estimate_bytes) for s with
 * the first L layers of its pattern (NemotronH), or L layers. */
static size_t estimate_of(const struct shape *s, int L, const char *pattern)
{
    struct shape one = *s;
    one.L = L;
    one.pattern = pattern;
    struct ik_lm_model *m;
    struct ik_lora *a;
    model_of(&one, 0.0f, &m, &a);
    size_t bytes = ik_lm_train_cuda_estimate_bytes(m, a, s->seq, s->ckpt);
    ik_lora_free(a);
    ik_lm_model_free(m);
    return bytes;
}

/* The trainer's device bytes for s with the attention the environment
 * names, from models of the shape with 1 and 2 layers: the arena grows by
 * the same bytes for each layer past the first (each layer's weights, and
 * its activations or, checkpointed, its input), so the full count is exact
 * without laying out the full fp32 model on the host (the 8B one would need
 * 32 GB of memory). NemotronH's layers come in three kinds: from a model of
 * one of each ("M-*", as its pattern's first layer a Mamba one) and each
 * kind's growth. */
static size_t arena_bytes(const struct shape *s)
{
    if (s->pattern == NULL) {
        size_t one = estimate_of(s, 1, NULL), two = estimate_of(s, 2, NULL);
        return two + (size_t)(s->L - 2) * (two - one);
    }
    static const char kinds[] = "M-*";
    size_t base = estimate_of(s, 3, "M-*"), total = base;
    for (int k = 0; k < 3; k++) {
        char more[5] = {'M', '-', '*', kinds[k], 0};
        size_t grow = estimate_of(s, 4, more) - base;
        int n = 0;
        for (const char *p = s->pattern; *p; p++)
            n += *p == kinds[k];
        total += (size_t)(n - 1) * grow;
    }
    return total;
}

/* --estimate: the trainer's device arena for each full shape with each
 * attention (weights, adapter with its gradients and moments, activations,
 * scratch), computed on the host. A run adds the CUDA context, cuBLASLt's
 * 32 MiB workspace and cuDNN's. */
static int estimate(void)
{
    printf("%-18s %5s %5s %14s %16s %16s\n", "model", "seq", "ckpt", "own attn GB", "flash attn GB",
           "cuDNN attn GB");
    for (size_t i = 0; i < sizeof full_shapes / sizeof *full_shapes; i++) {
        const struct shape *s = &full_shapes[i];
        size_t own = arena_bytes(s);
        setenv("IKADA_CUDA_ATTENTION", "flash", 1);
        size_t flash = arena_bytes(s);
        setenv("IKADA_CUDA_ATTENTION", "cudnn", 1);
        size_t dnn = arena_bytes(s);
        unsetenv("IKADA_CUDA_ATTENTION");
        printf("%-18s %5d %5s %14.2f %16.2f %16.2f\n", s->name, s->seq, s->ckpt ? "on" : "off",
               own / 1e9, flash / 1e9, dnn / 1e9);
    }
    return 0;
}

/* Which attentions to time: --attention own,flash,cudnn (any of them), all
 * by default. On a first GPU run each goes in a process of its own
 * (.ci/device-run.sh), so that a fault in one, which loses the CUDA
 * context, leaves the others' rows. */
enum { ATT_OWN = 1, ATT_FLASH = 2, ATT_CUDNN = 4 };

static int parse_attentions(const char *list)
{
    int set = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
        set |= strcmp(t, "own") == 0 ? ATT_OWN : strcmp(t, "flash") == 0 ? ATT_FLASH
               : strcmp(t, "cudnn") == 0 ? ATT_CUDNN : -1000;
    return set > 0 ? set : -1;
}

/* One row: s with IKADA_CUDA_ATTENTION = env (NULL: unset); *best keeps the
 * fastest row so far. */
static void timed_row(const struct shape *s, double peak, const char *env, const char *label,
                      struct result *best)
{
    if (env)
        setenv("IKADA_CUDA_ATTENTION", env, 1);
    /* NemotronH's own-attention row with its breakdown: where its scan's time goes. */
    int profile = s->pattern != NULL && env == NULL;
    struct result r = run_shape(s, peak, 0.0f, profile);
    unsetenv("IKADA_CUDA_ATTENTION");
    print_row(s, label, &r);
    if (profile)
        print_profile();
    if (r.mfu > best->mfu)
        *best = r;
}

int main(int argc, char **argv)
{
    int tiny = 0, which = ATT_OWN | ATT_FLASH | ATT_CUDNN;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--estimate") == 0 && argc == 2)
            return estimate();
        if (strcmp(argv[i], "--shapes") == 0 && i + 1 < argc && strcmp(argv[i + 1], "tiny") == 0)
            tiny = 1, i++;
        else if (strcmp(argv[i], "--attention") == 0 && i + 1 < argc && parse_attentions(argv[i + 1]) > 0)
            which = parse_attentions(argv[++i]);
        else {
            fprintf(stderr, "usage: cuda_bench [--shapes tiny] [--attention own,flash,cudnn] | "
                    "--estimate\n");
            return 2;
        }
    }
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_cuda_module_open(&ops, &d) != 0) {
        printf("cuda_bench: skipped: %s\n", ik_diag_message(&d));
        ik_diag_free(&d);
        return 77;
    }
    if (ops->device_count() == 0) {
        printf("cuda_bench: skipped: no CUDA device: %s\n", ops->last_error());
        return 77;
    }
    char name[256];
    check(ops->set_device(0), "set_device");
    check(ops->device_name(0, name, sizeof name), "device_name");
    const char *pk = getenv("IKADA_GPU_PEAK_TFLOPS");
    double peak = pk && atof(pk) > 0 ? atof(pk) : 989.0;
    printf("CUDA training step on %s, peak %.0f TFLOP/s dense BF16; batch 1 x accumulation %d, "
           "LoRA r=16 on every projection\n", name, peak, ACCUM);
    printf("rows: no LoRA dropout, but own+do: the cuBLAS attention with dropout 0.05 (train's "
           "default)\n");
    printf("%-18s %5s %5s %6s %10s %6s %12s %10s %10s %8s\n", "model", "seq", "ckpt", "attn",
           "tokens/s", "MFU", "GEMM TFLOP/s", "device GiB", "arena GiB", "loss");
    const struct shape *sh = tiny ? tiny_shapes : full_shapes;
    int n = tiny ? (int)(sizeof tiny_shapes / sizeof *sh) : (int)(sizeof full_shapes / sizeof *sh);
    int missed = 0, unjudged = 0;
    for (int i = 0; i < n; i++) {
        struct result best = {0};
        if (which & ATT_OWN)
            timed_row(&sh[i], peak, NULL, "own", &best);
        if ((which & ATT_FLASH) && flash_available(&sh[i]))
            timed_row(&sh[i], peak, "flash", "flash", &best);
        if ((which & ATT_CUDNN) && sdpa_available(&sh[i]))
            timed_row(&sh[i], peak, "cudnn", "cudnn", &best);
        /* What the train node's default LoRA dropout (0.05) costs (docs/cuda.md),
         * and the breakdown of a step. Not judged. */
        if ((which & ATT_OWN) && i == (tiny ? 0 : 1)) {
            struct result rd = run_shape(&sh[i], peak, 0.05f, 1);
            print_row(&sh[i], "own+do", &rd);
            print_profile();
        }
        if (best.tok_s == 0) {
            /* no row ran (each failed or was unavailable): its targets are not met */
            if (!tiny && sh[i].judged) {
                printf("  target: >= 40%% MFU on %s: not judged, no row ran\n", sh[i].name);
                unjudged++;
            }
            continue;
        }
        if (!tiny && sh[i].judged && best.mfu < 0.40) {
            printf("  target: >= 40%% MFU on %s: missed\n", sh[i].name);
            missed++;
        }
        if (!tiny && strcmp(sh[i].name, "Llama-3-8B") == 0 && best.used_gib > 30.0 * 1e9 / (1 << 30)) {
            printf("  target: the 8B shape in <= 30 GB: missed (%.1f GB)\n",
                   best.used_gib * (1 << 30) / 1e9);
            missed++;
        }
    }
    if (!tiny)
        printf("targets (>= 40%% MFU on 1.5B and 8B, 8B in <= 30 GB), on the rows above: %s\n",
               missed ? "missed" : unjudged ? "not judged (a target's shape has no row)" : "met");
    return 0;
}
