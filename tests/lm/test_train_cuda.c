/* tests/lm/test_train_cuda.c - lm/train_cuda.c, the CUDA training step,
 * against lm/train.c's, on every machine: the step drives the CPU stand-in
 * of the CUDA module's table (tests/cuda/cpu_ops.c: host memory, the CPU
 * reference kernels, BF16 rounding where the device rounds). So these tests
 * check the step's order of calls, shapes, strides, buffer reuse, dropout
 * keys, recomputation and gradient bookkeeping; the device kernels
 * themselves are checked against the same references by
 * tests/cuda/test_cuda_kernels.c where there is a GPU. Both trainers run
 * several AdamW steps (on the host, the node's optimizer) of random models
 * of Qwen3 shape (GQA, q/k norm, tied embeddings), Qwen2 shape (qkv bias,
 * untied lm_head, a sliding window) and Llama-3 shape (rope scaling,
 * untied, the device checkpointing), with dropout and a loss mask, the base
 * weights rounded to BF16 as the device holds them: losses agree within
 * 1e-2 relative at every step (the device also rounds each frozen GEMM's
 * input to BF16), the first step's gradients within 4 % of their largest
 * (GRAD_TOL),
 * and the adapters' moves within ADAPTER_TOL of each other. The device's
 * checkpointed step gives the bits of its full one. Two of the shapes run
 * again with cuDNN's attention (IKADA_CUDA_ATTENTION=cudnn) and with the
 * module's flash attention (=flash) under the same tolerances. With IKADA_CUDA_REAL=1
 * (`make check-cuda`) the same tests drive the real module on a GPU, for 20
 * steps. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/prng.h"
#include "kernels/dispatch.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda_module.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "lm/train_cuda.h"
#include "tests/cuda/cpu_ops.h"
#include "tests/lm/lm_test.h"

enum { NTOK = 40 };

/* AdamW's rate here, and how far apart the two adapters may end: Adam moves
 * every parameter by about the rate each step whatever its gradient's size,
 * so a gradient near zero whose sign differs between the devices (BF16 base
 * weights) parts single parameters by up to 2 * LR a step. What must agree
 * is the update as a whole: the L2 distance of the two adapters' moves
 * from their common start, relative to the CPU's move.
 * The rate is 1e-3 (a LoRA run's is 1e-4 to 2e-4; the loss here still falls
 * from 4.5 to 3.3 in 20 steps): at 1e-2 these small random models overfit
 * the one sequence so fast that the two trajectories part chaotically, and
 * the losses of step 12 to 19 differ by over 1 % on the stand-in and on the
 * CUDA emulator alike (seen before the rate was lowered; at 1e-3 the largest
 * difference in 20 steps is 1.0e-3 on the stand-in, and the adapters' moves
 * end 0.013-0.015 apart on the emulator). */
#define LR 0.001f
#define ADAPTER_TOL 0.1

/* The table under test: the stand-in, or with IKADA_CUDA_REAL=1 (`make
 * check-cuda` on a GPU machine) the real module on device 0, which must
 * then load. */
static int real_device(void)
{
    const char *e = getenv("IKADA_CUDA_REAL");
    return e != NULL && strcmp(e, "1") == 0;
}

static const struct ik_cuda_ops *ops_under_test(void)
{
    if (!real_device())
        return ik_test_cpu_cuda_ops();
    const struct ik_cuda_ops *o = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cuda_module_open(&o, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_gt(o->device_count(), 0, "IKADA_CUDA_REAL=1 but no device: %s", o->last_error());
    cr_assert_eq(o->set_device(0), 0, "%s", o->last_error());
    return o;
}

static struct ik_lm_model *load(const struct ik_lm_config *c, const char *dir)
{
    lmt_write_random_model(dir, c, NULL, IK_ST_F32, 21, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

/* An adapter on the targets (IK_LORA_ALL: every one), A and B moved by
 * noise so every path carries gradient. */
static struct ik_lora *adapter_on(const struct ik_lm_model *m, float dropout, unsigned targets)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora *a;
    struct ik_lora_config lc = {4, 8.0f, dropout, targets};
    cr_assert_eq(ik_lora_new(&a, &m->cfg, &lc, 3, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng r;
    ik_prng_seed(&r, 5);
    for (size_t i = 0; i < a->n_params; i++)
        a->params[i] += (float)(ik_prng_double(&r) - 0.5) * 0.2f;
    return a;
}

static struct ik_lora *adapter(const struct ik_lm_model *m, float dropout)
{
    return adapter_on(m, dropout, IK_LORA_ALL);
}

/* One AdamW step as the node's loop takes it (betas 0.9, 0.999, eps 1e-8). */
static void adamw(struct ik_lora *a, float *m, float *v, int t)
{
    ik_adamw(a->params, a->grads, m, v, a->n_params, LR, 0.9f, 0.999f, 1e-8f, 0.0f, t);
}

/* The first step's gradients: every one within GRAD_TOL of the largest. The
 * device rounds each frozen GEMM's operand to BF16 (2^-9 relative) and
 * keeps the MLP's gate and up in BF16, the fused attentions round q, k, v
 * and dout to BF16, and the LoRA branch's fp32 GEMMs take TF32 products
 * (2^-11); on these small random models that puts the worst gradient 0.013
 * to 0.033 of the largest apart (--verbose
 * prints it; the flash attention on the Qwen2 shape with a window the
 * farthest), where a wrong stride, mask or key gives errors of the order of
 * the gradients themselves. */
#define GRAD_TOL 0.04
/* NemotronH's: its in_proj rows of the scan's x channels carry the
 * rounding through the conv, the scan's decay exp(dt A) and dt's softplus;
 * on the random model of nemotron_h_matches_the_cpu one such row (the x of
 * the head with the fastest decay, A = -8) is 0.038 of the largest apart
 * on the stand-in, 0.031 on the CUDA emulator, every other row under 0.01,
 * and the adapters after 20 steps 0.01 apart. */
#define GRAD_TOL_NEMOTRON_H 0.06

static void expect_close_grads(const struct ik_lora *ac, const struct ik_lora *ag, double tol)
{
    double gmax = 0, err = 0;
    size_t worst = 0;
    for (size_t i = 0; i < ac->n_params; i++)
        gmax = fmax(gmax, fabs(ac->grads[i]));
    for (size_t i = 0; i < ac->n_params; i++) {
        double e = fabs((double)ac->grads[i] - ag->grads[i]);
        if (e > err)
            err = e, worst = i;
    }
    cr_assert_gt(gmax, 0.0);
    cr_log_info("first gradients: the worst %.3g of the largest apart", err / gmax);
    cr_assert(err <= tol * gmax, "gradient %zu: %.6g on the CPU, %.6g on the device (largest %.3g)",
              worst, (double)ac->grads[worst], (double)ag->grads[worst], gmax);
}

static void expect_close_adapters(const struct ik_lora *ac, const struct ik_lora *ag,
                                  const float *start, int steps)
{
    double diff = 0, move = 0;
    for (size_t i = 0; i < ac->n_params; i++) {
        double dc = (double)ac->params[i] - start[i], dg = (double)ag->params[i] - start[i];
        diff += (dc - dg) * (dc - dg);
        move += dc * dc;
    }
    double rel = sqrt(diff) / sqrt(move);
    cr_log_info("adapters after %d steps: moves %.3g apart relative to the CPU's", steps, rel);
    cr_assert_gt(move, 0.0);
    cr_assert(rel <= ADAPTER_TOL, "after %d steps the adapters' moves differ by %.3g of the CPU's "
              "(bound %.3g)", steps, rel, ADAPTER_TOL);
}

/* The base weights as the device holds them: a real checkpoint is BF16
 * already, and a random fp32 one must be too for the CPU to train the same
 * model (some gradients of these small random models move by 5 % of the
 * largest when the weights are rounded). */
static void round_to_bf16(struct ik_lm_model *m)
{
    for (size_t i = 0; i < m->n_params; i++)
        m->arena[i] = ik_bf16_to_f32(ik_f32_to_bf16(m->arena[i]));
}

static void fill_sequence(int *tok, unsigned char *sel, int V)
{
    for (int i = 0; i < NTOK; i++) {
        tok[i] = (i * 13 + 5) % V;
        sel[i] = i % 5 != 2;
    }
}

/* The CPU trainer and the device's (gpu_opts: IK_LM_TRAIN_* of the latter)
 * side by side over the model of config c (extra: more config.json fields). */
static void compare_devices_on(struct ik_lm_config c, const char *extra, int gpu_opts,
                               unsigned targets)
{
    char *dir = tc_tmpdir();
    if (c.arch == IK_LM_NEMOTRON_H)
        lmt_write_random_nemotron(dir, &c, IK_ST_F32, 21, 0.3f);
    else
        lmt_write_random_model(dir, &c, extra, IK_ST_F32, 21, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    round_to_bf16(m);
    struct ik_lora *ac = adapter_on(m, 0.1f, targets), *ag = adapter_on(m, 0.1f, targets);
    struct ik_lm_train *cpu;
    struct ik_lm_train_cuda *gpu;
    cr_assert_eq(ik_lm_train_new(&cpu, m, ac, NTOK, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_train_cuda_new(&gpu, ops_under_test(), m, ag, NTOK, gpu_opts, &d), 0, "%s",
                 ik_diag_message(&d));
    int tok[NTOK];
    unsigned char sel[NTOK];
    fill_sequence(tok, sel, c.V);
    float *mc = calloc(ac->n_params, sizeof(float)), *vc = calloc(ac->n_params, sizeof(float));
    float *mg = calloc(ag->n_params, sizeof(float)), *vg = calloc(ag->n_params, sizeof(float));
    float *start = malloc(ac->n_params * sizeof(float));
    memcpy(start, ac->params, ac->n_params * sizeof(float));
    /* The 20 on a GPU; 5 keep make check quick (and on the CUDA
     * emulator, tests/cuda/test_cuda_emu.sh, IKADA_TEST_TRAIN_STEPS=5). */
    const char *st = getenv("IKADA_TEST_TRAIN_STEPS");
    int steps = st != NULL && atoi(st) > 0 ? atoi(st) : real_device() ? 20 : 5;
    for (int s = 0; s < steps; s++) {
        double lc, lg;
        int nc, ng;
        ik_lora_zero_grad(ac);
        ik_lora_zero_grad(ag);
        int flags = IK_LM_BACKWARD | IK_LM_DROPOUT;
        cr_assert_eq(ik_lm_train_step(cpu, tok, sel, NTOK, flags, 40 + s, 1.0f, &lc, &nc, &d), 0, "%s",
                     ik_diag_message(&d));
        cr_assert_eq(ik_lm_train_cuda_step(gpu, tok, sel, NTOK, flags, 40 + s, 1.0f, &lg, &ng, &d), 0,
                     "%s", ik_diag_message(&d));
        cr_assert_eq(nc, ng);
        cr_assert(fabs(lc - lg) <= 1e-2 * fabs(lc), "step %d: loss %.6f on the CPU, %.6f on the device",
                  s, lc, lg);
        if (s == 0)
            expect_close_grads(ac, ag, c.arch == IK_LM_NEMOTRON_H ? GRAD_TOL_NEMOTRON_H : GRAD_TOL);
        adamw(ac, mc, vc, s + 1);
        adamw(ag, mg, vg, s + 1);
    }
    expect_close_adapters(ac, ag, start, steps);
    /* A loss-only step (no backward) leaves the gradients alone. */
    double l0;
    ik_lora_zero_grad(ag);
    cr_assert_eq(ik_lm_train_cuda_step(gpu, tok, NULL, NTOK, 0, 1, 1.0f, &l0, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    for (size_t i = 0; i < ag->n_params; i++)
        cr_assert_eq(ag->grads[i], 0.0f);
    cr_assert_gt(ik_lm_train_cuda_gemm_flops(gpu), 0.0);
    free(start);
    free(mc);
    free(vc);
    free(mg);
    free(vg);
    ik_lm_train_free(cpu);
    ik_lm_train_cuda_free(gpu);
    ik_lora_free(ac);
    ik_lora_free(ag);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

static void compare_devices(struct ik_lm_config c, const char *extra, int gpu_opts)
{
    compare_devices_on(c, extra, gpu_opts, IK_LORA_ALL);
}

Test(lm_train_cuda, qwen3_shape_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 3, 8, 60);
    c.tie_embeddings = 1;
    compare_devices(c, NULL, 0);
}

Test(lm_train_cuda, qwen2_shape_with_window_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 48, 3, 8, 60);
    c.tie_embeddings = 0;
    c.sliding_window = 7;
    compare_devices(c, NULL, 0);
}

/* An adapter on q, v and down only: the frozen gate and up projections'
 * gradients exist only in BF16 (the device writes no fp32 copy), the
 * frozen k and o ones pass through, and the adapted down's input gradient
 * meets SwiGLU's backward. */
Test(lm_train_cuda, partial_adapter_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 3, 8, 60);
    c.tie_embeddings = 1;
    compare_devices_on(c, NULL, 0, 1u << IK_LORA_Q | 1u << IK_LORA_V | 1u << IK_LORA_DOWN);
}

/* A model wider than its heads (D 64 > H x head_dim 32) with a small
 * vocabulary and FFN: the widened o weight (D x (32 + rp)) is then the
 * largest tensor the host stages for upload (a staging buffer sized without
 * it overran here, as valgrind and ASan see). */
Test(lm_train_cuda, wide_model_with_narrow_heads_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 64, 16, 2, 8, 20);
    c.tie_embeddings = 0;
    compare_devices(c, NULL, 0);
}

/* Llama-3's rope scaling (original length 16: some of head_dim 8's four
 * frequencies are scaled, some kept, one interpolated), untied, and the device checkpointing its activations. */
Test(lm_train_cuda, llama3_shape_checkpointed_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 32, 48, 3, 8, 60);
    c.tie_embeddings = 0;
    compare_devices(c, "\"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 8.0, "
                       "\"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, "
                       "\"original_max_position_embeddings\": 16}",
                    IK_LM_TRAIN_CHECKPOINT);
}
/* The same comparisons with cuDNN's attention (IKADA_CUDA_ATTENTION=cudnn,
 * set for the test alone): on the stand-in the references on BF16-rounded
 * q, k, v and dout with the results rounded to BF16, whose 2^-9 stays
 * within the tolerances above; on a GPU (IKADA_CUDA_REAL=1) cuDNN itself. A
 * sliding window with GQA, and q/k norm with checkpointing, where each
 * layer's softmax statistics are recomputed before its backward. */
/* NemotronH (lm/train_cuda_mamba.c): Mamba-2, attention and relu^2 MLP
 * layers, the adapter on every target, in_proj and out_proj included; full,
 * and checkpointed (whose shared activations hold every block kind's). */
Test(lm_train_cuda, nemotron_h_matches_the_cpu)
{
    compare_devices(lmt_nemotron_cfg("M*-M-", 32, 48, 60), NULL, 0);
}

Test(lm_train_cuda, nemotron_h_checkpointed_matches_the_cpu)
{
    compare_devices(lmt_nemotron_cfg("-M*M", 32, 48, 60), NULL, IK_LM_TRAIN_CHECKPOINT);
}

static void use_cudnn(void) { setenv("IKADA_CUDA_ATTENTION", "cudnn", 1); }
static void use_own(void) { unsetenv("IKADA_CUDA_ATTENTION"); }

Test(lm_train_cuda, cudnn_attention_qwen2_window_matches_the_cpu, .init = use_cudnn,
     .fini = use_own)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 48, 3, 8, 60);
    c.tie_embeddings = 0;
    c.sliding_window = 7;
    compare_devices(c, NULL, 0);
}

Test(lm_train_cuda, cudnn_attention_qwen3_checkpointed_matches_the_cpu, .init = use_cudnn,
     .fini = use_own)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 3, 8, 60);
    c.tie_embeddings = 1;
    compare_devices(c, NULL, IK_LM_TRAIN_CHECKPOINT);
}

/* The same two with the module's flash attention (IKADA_CUDA_ATTENTION=
 * flash): on the stand-in the references on BF16-rounded q, k, v and dout;
 * on the emulator and a GPU the flash kernels, whose BF16 probabilities stay
 * within the tolerances above. */
static void use_flash(void) { setenv("IKADA_CUDA_ATTENTION", "flash", 1); }

Test(lm_train_cuda, flash_attention_qwen2_window_matches_the_cpu, .init = use_flash,
     .fini = use_own)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 48, 3, 8, 60);
    c.tie_embeddings = 0;
    c.sliding_window = 7;
    compare_devices(c, NULL, 0);
}

Test(lm_train_cuda, flash_attention_qwen3_checkpointed_matches_the_cpu, .init = use_flash,
     .fini = use_own)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 3, 8, 60);
    c.tie_embeddings = 1;
    compare_devices(c, NULL, IK_LM_TRAIN_CHECKPOINT);
}

/* Checkpointing recomputes each layer with the same calls on the same
 * inputs: the loss and gradients are the full step's, bit for bit (on the
 * stand-in; cuBLAS keeps its algorithm per shape, so on the device too).
 * With the cuBLAS attention whatever IKADA_CUDA_ATTENTION the suite runs
 * under (cuDNN's would not repeat its bits). */
static void expect_checkpointed_bits(void);

Test(lm_train_cuda, checkpointed_step_gives_the_full_steps_bits, .init = use_own)
{
    expect_checkpointed_bits();
}

/* The flash kernels sum in a fixed order: with them too (not with cuDNN's,
 * whose dq accumulates in no fixed order). */
Test(lm_train_cuda, flash_checkpointed_step_gives_the_full_steps_bits, .init = use_flash,
     .fini = use_own)
{
    expect_checkpointed_bits();
}

static void expect_checkpointed_bits(void)
{
    char *dir = tc_tmpdir();
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 3, 8, 60);
    struct ik_lm_model *m = load(&c, dir);
    struct ik_lora *af = adapter(m, 0.1f), *ak = adapter(m, 0.1f);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_train_cuda *full, *ckpt;
    cr_assert_eq(ik_lm_train_cuda_new(&full, ops_under_test(), m, af, NTOK, 0, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(ik_lm_train_cuda_new(&ckpt, ops_under_test(), m, ak, NTOK, IK_LM_TRAIN_CHECKPOINT, &d),
                 0, "%s", ik_diag_message(&d));
    cr_assert_lt(ik_lm_train_cuda_bytes(ckpt), ik_lm_train_cuda_bytes(full));
    cr_assert_eq(ik_lm_train_cuda_estimate_bytes(m, ak, NTOK, IK_LM_TRAIN_CHECKPOINT),
                 ik_lm_train_cuda_bytes(ckpt));
    int tok[NTOK];
    unsigned char sel[NTOK];
    fill_sequence(tok, sel, c.V);
    double lf, lk;
    int flags = IK_LM_BACKWARD | IK_LM_DROPOUT;
    ik_lora_zero_grad(af);
    ik_lora_zero_grad(ak);
    cr_assert_eq(ik_lm_train_cuda_step(full, tok, sel, NTOK, flags, 9, 1.0f, &lf, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(ik_lm_train_cuda_step(ckpt, tok, sel, NTOK, flags, 9, 1.0f, &lk, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(lf, lk, "loss %.9g in full, %.9g checkpointed", lf, lk);
    for (size_t i = 0; i < af->n_params; i++)
        cr_assert_eq(af->grads[i], ak->grads[i], "gradient %zu: %.9g in full, %.9g checkpointed", i,
                     (double)af->grads[i], (double)ak->grads[i]);
    ik_lm_train_cuda_free(full);
    ik_lm_train_cuda_free(ckpt);
    ik_lora_free(af);
    ik_lora_free(ak);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

/* The optimizer on the device (gradients accumulated there, clipped, AdamW
 * with moments kept there) against the same trainer with the host's
 * optimizer: two micro-steps per optimizer step, clipping active. Only the
 * order of the gradients' sums differs (added on the device, not on the
 * host; the norm's sum in another order): within 1e-5 of the largest. */
Test(lm_train_cuda, device_optimizer_matches_the_hosts)
{
    char *dir = tc_tmpdir();
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 2, 8, 60);
    struct ik_lm_model *m = load(&c, dir);
    struct ik_lora *ah = adapter(m, 0.1f), *ad = adapter(m, 0.1f);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_train_cuda *host, *dev;
    cr_assert_eq(ik_lm_train_cuda_new(&host, ops_under_test(), m, ah, NTOK, 0, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(ik_lm_train_cuda_new(&dev, ops_under_test(), m, ad, NTOK, 0, &d), 0, "%s",
                 ik_diag_message(&d));
    size_t n = ah->n_params;
    float *mh = calloc(n, sizeof(float)), *vh = calloc(n, sizeof(float));
    float *md = calloc(n, sizeof(float)), *vd = calloc(n, sizeof(float));
    int tok[NTOK];
    unsigned char sel[NTOK];
    fill_sequence(tok, sel, c.V);
    int flags = IK_LM_BACKWARD | IK_LM_DROPOUT;
    for (int t = 1; t <= 3; t++) {
        struct ik_lm_adamw opt = {LR, 0.9f, 0.999f, 1e-8f, 0.01f, 0.05, t};
        double l, nh, nd;
        ik_lora_zero_grad(ah);
        cr_assert_eq(ik_lm_train_cuda_zero_grad(dev, &d), 0, "%s", ik_diag_message(&d));
        for (int k = 0; k < 2; k++) {
            cr_assert_eq(ik_lm_train_cuda_step(host, tok, sel, NTOK, flags, 10 * t + k, 0.5f, &l, NULL, &d),
                         0, "%s", ik_diag_message(&d));
            cr_assert_eq(ik_lm_train_cuda_step(dev, tok, sel, NTOK, flags, 10 * t + k, 0.5f, &l, NULL, &d),
                         0, "%s", ik_diag_message(&d));
        }
        nh = ik_clip_grad_norm(ah->grads, n, opt.max_grad_norm);
        ik_adamw(ah->params, ah->grads, mh, vh, n, LR, 0.9f, 0.999f, 1e-8f, 0.01f, t);
        cr_assert_eq(ik_lm_train_cuda_optimizer_step(dev, &opt, md, vd, &nd, &d), 0, "%s",
                     ik_diag_message(&d));
        cr_assert_gt(nh, opt.max_grad_norm, "the test means to clip: norm %g", nh);
        cr_assert(fabs(nh - nd) <= 1e-5 * nh, "step %d: grad norm %.9g on the host, %.9g on the device",
                  t, nh, nd);
    }
    /* A loss-only step right after the device's optimizer step (a
     * validation row, before the next zero_grad) reads the updated adapter,
     * the BF16 copies of B inside the widened weights included. */
    double lh, ld;
    cr_assert_eq(ik_lm_train_cuda_step(host, tok, NULL, NTOK, 0, 1, 1.0f, &lh, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(ik_lm_train_cuda_step(dev, tok, NULL, NTOK, 0, 1, 1.0f, &ld, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert(fabs(lh - ld) <= 1e-5 * lh, "after the optimizer step: loss %.9g with the host's "
              "adapter, %.9g with the device's", lh, ld);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(md[i], 0.0f, "the host's moments were read once, not written before a sync");
    cr_assert_eq(ik_lm_train_cuda_sync_moments(dev, md, vd, &d), 0, "%s", ik_diag_message(&d));
    double pmax = 0, perr = 0, mmax = 0, merr = 0;
    for (size_t i = 0; i < n; i++) {
        pmax = fmax(pmax, fabs(ah->params[i]));
        perr = fmax(perr, fabs((double)ah->params[i] - ad->params[i]));
        mmax = fmax(mmax, fabs(mh[i]));
        merr = fmax(merr, fabs((double)mh[i] - md[i]));
    }
    cr_assert(perr <= 1e-5 * pmax, "adapters %.3g apart (largest %.3g)", perr, pmax);
    cr_assert(merr <= 1e-5 * mmax, "first moments %.3g apart (largest %.3g)", merr, mmax);
    free(mh), free(vh), free(md), free(vd);
    ik_lm_train_cuda_free(host);
    ik_lm_train_cuda_free(dev);
    ik_lora_free(ah);
    ik_lora_free(ad);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

/* The estimate (the trainer's copy of the module's scratch formulas) is
 * what the trainer allocates with the module's own figures: for a
 * Llama-shaped model and a NemotronH one, full and checkpointed; a
 * NemotronH with more states than the device's scan takes is refused. */
/* The estimate (the module's scratch by kernels/cuda/scratch.h's and
 * attention_chunks.h's formulas, no module asked) is the allocation (the
 * module's own figures), with each attention the table has for the model
 * (cuDNN's where it loads), full and checkpointed. */
static void expect_estimate_with(struct ik_lm_model *m, const struct ik_lora *a);

static void expect_estimate(struct ik_lm_model *m, const struct ik_lora *a)
{
    const struct ik_lm_config *g = &m->cfg;
    const char *att[3] = {"own", "flash", "cudnn"};
    for (int i = 0; i < 3; i++) {
        if (i == 2 && !ops_under_test()->sdpa_available(NTOK, g->H, g->K, g->head_dim, g->sliding_window))
            continue;
        setenv("IKADA_CUDA_ATTENTION", att[i], 1);
        expect_estimate_with(m, a);
    }
    unsetenv("IKADA_CUDA_ATTENTION");
}

static void expect_estimate_with(struct ik_lm_model *m, const struct ik_lora *a)
{
    for (int opts = 0; opts <= IK_LM_TRAIN_CHECKPOINT; opts += IK_LM_TRAIN_CHECKPOINT) {
        struct ik_diag d = IK_DIAG_INIT;
        struct ik_lm_train_cuda *tr;
        size_t est = ik_lm_train_cuda_estimate_bytes(m, a, NTOK, opts);
        cr_assert_gt(est, (size_t)m->cfg.V * m->cfg.D * 2);
        cr_assert_eq(ik_lm_train_cuda_new(&tr, ops_under_test(), m, (struct ik_lora *)a, NTOK, opts,
                                          &d), 0, "%s", ik_diag_message(&d));
        cr_assert_eq(ik_lm_train_cuda_bytes(tr), est, "attention %s, opts %d: allocated %zu, "
                     "estimated %zu", getenv("IKADA_CUDA_ATTENTION"), opts, ik_lm_train_cuda_bytes(tr), est);
        ik_lm_train_cuda_free(tr);
    }
}

Test(lm_train_cuda, estimate_is_what_it_allocates, .init = use_own)
{
    char *dir = tc_tmpdir();
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 32, 48, 2, 8, 60);
    struct ik_lm_model *m = load(&c, dir);
    struct ik_lora *a = adapter(m, 0.1f);
    expect_estimate(m, a);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
    dir = tc_tmpdir();
    c = lmt_nemotron_cfg("M*-", 24, 40, 50);
    lmt_write_random_nemotron(dir, &c, IK_ST_F32, 3, 0.3f);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    a = adapter(m, 0.1f);
    expect_estimate(m, a);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
    /* Past 128 states the scan's backward keeps a state every 2 steps, not 8. */
    dir = tc_tmpdir();
    c.ssm.state = 160;
    lmt_write_random_nemotron(dir, &c, IK_ST_F32, 3, 0.3f);
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    a = adapter(m, 0.1f);
    expect_estimate(m, a);
    /* More states than the device's scan takes: refused, saying so, before any allocation. */
    m->cfg.ssm.state = 320;
    struct ik_lm_train_cuda *tr;
    cr_assert_eq(ik_lm_train_cuda_new(&tr, ik_test_cpu_cuda_ops(), m, a, NTOK, 0, &d), IK_ENOTBUILT);
    cr_assert(strstr(ik_diag_message(&d), "at most 256 states") != NULL, "%s", ik_diag_message(&d));
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

/* The node loads the base streamed for the device (IK_LM_LOAD_STREAM: the
 * projections and tables read from the file as BF16, never held in fp32 on
 * the host): the trainer then gets the bits a model loaded in full gives it,
 * and so does the step. From a BF16 file (the common case: copied as they
 * are) and an F16 one (widened and rounded as the fp32 path rounds). */
static void expect_streamed_bits(struct ik_lm_config c, int dtype)
{
    char *dir = tc_tmpdir();
    if (c.arch == IK_LM_NEMOTRON_H)
        lmt_write_random_nemotron(dir, &c, dtype, 21, 0.3f);
    else
        lmt_write_random_model(dir, &c, NULL, dtype, 21, 0.3f);
    struct ik_lm_model *m[2] = {NULL, NULL};
    struct ik_lora *a[2];
    struct ik_lm_train_cuda *tr[2];
    double loss[2];
    int tok[NTOK];
    unsigned char sel[NTOK];
    fill_sequence(tok, sel, c.V);
    struct ik_diag d = IK_DIAG_INIT;
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(ik_lm_model_load_opts(&m[i], dir, i ? IK_LM_LOAD_STREAM : IK_LM_LOAD_ALL, &d), 0,
                     "%s", ik_diag_message(&d));
        a[i] = adapter(m[i], 0.1f);
        cr_assert_eq(ik_lm_train_cuda_new(&tr[i], ops_under_test(), m[i], a[i], NTOK, 0, &d), 0, "%s",
                     ik_diag_message(&d));
        ik_lora_zero_grad(a[i]);
        cr_assert_eq(ik_lm_train_cuda_step(tr[i], tok, sel, NTOK, IK_LM_BACKWARD | IK_LM_DROPOUT, 9, 1.0f,
                                           &loss[i], NULL, &d),
                     0, "%s", ik_diag_message(&d));
    }
    cr_assert_not_null(m[1]->stream);
    cr_assert_eq(loss[0], loss[1], "loss %.9g loaded in full, %.9g streamed", loss[0], loss[1]);
    for (size_t i = 0; i < a[0]->n_params; i++)
        cr_assert_eq(a[0]->grads[i], a[1]->grads[i], "gradient %zu: %.9g loaded in full, %.9g streamed",
                     i, (double)a[0]->grads[i], (double)a[1]->grads[i]);
    for (int i = 0; i < 2; i++) {
        ik_lm_train_cuda_free(tr[i]);
        ik_lora_free(a[i]);
        ik_lm_model_free(m[i]);
    }
    tc_rmtree(dir);
}

Test(lm_train_cuda, streamed_qwen2_untied_trains_the_full_loads_bits, .init = use_own)
{
    expect_streamed_bits(lmt_cfg(IK_LM_QWEN2, 32, 48, 2, 8, 60), IK_ST_BF16);
}

Test(lm_train_cuda, streamed_qwen3_tied_trains_the_full_loads_bits, .init = use_own)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 2, 8, 60);
    c.tie_embeddings = 1;
    expect_streamed_bits(c, IK_ST_F16);
}

Test(lm_train_cuda, streamed_nemotron_h_trains_the_full_loads_bits, .init = use_own)
{
    expect_streamed_bits(lmt_nemotron_cfg("M*-", 32, 48, 60), IK_ST_BF16);
}

/* ---- guards (IK_LM_TRAIN_CUDA_GUARD) ---- */

/* A table whose embedding kernel also writes the float after its output
 * (x_in of layer 0, NTOK rows of D: the trainer's max_seq is NTOK), as a
 * kernel with an off-by-one would. */
static struct ik_cuda_ops overrunning;
static int overrun_D;

static int embed_rows_overrun(float *out, const uint16_t *table, const int *tokens, int T, int D)
{
    int rc = ops_under_test()->embed_rows_bf16(out, table, tokens, T, D);
    float one = 1.0f;
    return rc ? rc : overrunning.memcpy_htod(out + (size_t)NTOK * overrun_D, &one, sizeof one);
}

/* Guards change no result: a guarded step gives the unguarded one's bits;
 * and a kernel writing past its buffer fails the step, naming the buffer. */
Test(lm_train_cuda, guards_change_nothing_and_catch_an_overrun, .init = use_own)
{
    unsetenv("IKADA_CUDA_GUARD"); /* the opts say which trainer is guarded */
    char *dir = tc_tmpdir();
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 48, 2, 8, 60);
    struct ik_lm_model *m = load(&c, dir);
    int tok[NTOK];
    unsigned char sel[NTOK];
    fill_sequence(tok, sel, c.V);
    overrunning = *ops_under_test();
    overrunning.embed_rows_bf16 = embed_rows_overrun;
    overrun_D = c.D;
    const struct ik_cuda_ops *table[3] = {ops_under_test(), ops_under_test(), &overrunning};
    int opts[3] = {0, IK_LM_TRAIN_CUDA_GUARD, IK_LM_TRAIN_CUDA_GUARD};
    double loss[3];
    struct ik_lora *a[3];
    struct ik_diag d = IK_DIAG_INIT;
    int rc[3];
    for (int i = 0; i < 3; i++) {
        struct ik_lm_train_cuda *tr;
        a[i] = adapter(m, 0.1f);
        cr_assert_eq(ik_lm_train_cuda_new(&tr, table[i], m, a[i], NTOK, opts[i], &d), 0, "%s",
                     ik_diag_message(&d));
        if (i == 1)
            cr_assert_gt(ik_lm_train_cuda_bytes(tr), ik_lm_train_cuda_estimate_bytes(m, a[i], NTOK, 0));
        cr_assert_eq(ik_lm_train_cuda_estimate_bytes(m, a[i], NTOK, opts[i]), ik_lm_train_cuda_bytes(tr));
        ik_lora_zero_grad(a[i]);
        rc[i] = ik_lm_train_cuda_step(tr, tok, sel, NTOK, IK_LM_BACKWARD | IK_LM_DROPOUT, 9, 1.0f,
                                      &loss[i], NULL, &d);
        ik_lm_train_cuda_free(tr);
    }
    cr_assert_eq(rc[0], 0);
    cr_assert_eq(rc[1], 0);
    cr_assert_eq(loss[0], loss[1], "loss %.9g unguarded, %.9g guarded", loss[0], loss[1]);
    for (size_t i = 0; i < a[0]->n_params; i++)
        cr_assert_eq(a[0]->grads[i], a[1]->grads[i], "gradient %zu: %.9g unguarded, %.9g guarded", i,
                     (double)a[0]->grads[i], (double)a[1]->grads[i]);
    cr_assert_eq(rc[2], IK_ECUDA);
    cr_assert(strstr(ik_diag_message(&d), "CUDA training: a kernel wrote past the end of the device "
                                          "buffer taken at ") != NULL, "%s", ik_diag_message(&d));
    cr_assert(strstr(ik_diag_message(&d), "train_cuda.c:") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    for (int i = 0; i < 3; i++)
        ik_lora_free(a[i]);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}
