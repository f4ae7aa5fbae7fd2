/* tests/lm/test_train_cuda.c - lm/train_cuda.c, the CUDA training step,
 * against lm/train.c's, on every machine: the step drives the CPU stand-in
 * of the CUDA module's table (tests/cuda/cpu_ops.c: host memory, the CPU
 * reference kernels, BF16 rounding where the device rounds). So these tests
 * check the step's order of calls, shapes, strides, buffer reuse, dropout
 * keys and gradient bookkeeping; the device kernels themselves are checked
 * against the same references by tests/cuda/test_cuda_kernels.c where there
 * is a GPU. Both trainers run several optimizer steps (plain SGD on the
 * host, as the node's optimizer does over the adapter) of a random
 * Qwen3-shaped model (GQA, q/k norm, tied embeddings) and a Llama-shaped one
 * (qkv bias, untied lm_head, a sliding window): losses agree within 1e-2
 * relative at every step (the base weights are BF16 on the device), and the
 * first step's gradients within 3 % of their largest. With IKADA_CUDA_REAL=1
 * (`make check-cuda`) the same tests drive the real module on a GPU, for 20
 * steps. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/prng.h"
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

/* An adapter on every target, A and B moved by noise so every path carries gradient. */
static struct ik_lora *adapter(const struct ik_lm_model *m, float dropout)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora *a;
    struct ik_lora_config lc = {4, 8.0f, dropout, (1u << IK_LORA_NT) - 1};
    cr_assert_eq(ik_lora_new(&a, &m->cfg, &lc, 3, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng r;
    ik_prng_seed(&r, 5);
    for (size_t i = 0; i < a->n_params; i++)
        a->params[i] += (float)(ik_prng_double(&r) - 0.5) * 0.2f;
    return a;
}

static void sgd(struct ik_lora *a, float lr)
{
    for (size_t i = 0; i < a->n_params; i++)
        a->params[i] -= lr * a->grads[i];
}

static void compare_devices(struct ik_lm_config c)
{
    char *dir = tc_tmpdir();
    struct ik_lm_model *m = load(&c, dir);
    struct ik_lora *ac = adapter(m, 0.1f), *ag = adapter(m, 0.1f);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_train *cpu;
    struct ik_lm_train_cuda *gpu;
    cr_assert_eq(ik_lm_train_new(&cpu, m, ac, NTOK, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_lm_train_cuda_new(&gpu, ops_under_test(), m, ag, NTOK, &d), 0, "%s",
                 ik_diag_message(&d));
    int tok[NTOK];
    unsigned char sel[NTOK];
    for (int i = 0; i < NTOK; i++) {
        tok[i] = (i * 13 + 5) % c.V;
        sel[i] = i % 5 != 2;
    }
    int steps = real_device() ? 20 : 5; /* the 20 on a GPU; 5 keep make check quick */
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
        if (s == 0) {
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
            cr_assert(err <= 0.03 * gmax, "gradient %zu: %.6g on the CPU, %.6g on the device (largest %.3g)",
                      worst, (double)ac->grads[worst], (double)ag->grads[worst], gmax);
        }
        sgd(ac, 0.05f);
        sgd(ag, 0.05f);
    }
    /* A loss-only step (no backward) leaves the gradients alone. */
    double l0;
    ik_lora_zero_grad(ag);
    cr_assert_eq(ik_lm_train_cuda_step(gpu, tok, NULL, NTOK, 0, 1, 1.0f, &l0, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    for (size_t i = 0; i < ag->n_params; i++)
        cr_assert_eq(ag->grads[i], 0.0f);
    cr_assert_gt(ik_lm_train_cuda_gemm_flops(gpu), 0.0);
    ik_lm_train_free(cpu);
    ik_lm_train_cuda_free(gpu);
    ik_lora_free(ac);
    ik_lora_free(ag);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}

Test(lm_train_cuda, qwen3_shape_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN3, 32, 48, 3, 8, 60);
    c.tie_embeddings = 1;
    compare_devices(c);
}

Test(lm_train_cuda, llama_shape_with_window_matches_the_cpu)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_QWEN2, 32, 48, 3, 8, 60);
    c.tie_embeddings = 0;
    c.sliding_window = 7;
    compare_devices(c);
}

/* The estimate is what the trainer allocates, and a NemotronH model is refused, naming it. */
Test(lm_train_cuda, estimate_and_refusal)
{
    char *dir = tc_tmpdir();
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 32, 48, 2, 8, 60);
    struct ik_lm_model *m = load(&c, dir);
    struct ik_lora *a = adapter(m, 0.0f);
    size_t est = ik_lm_train_cuda_estimate_bytes(m, a, NTOK);
    cr_assert_gt(est, (size_t)c.V * c.D * 2);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
    dir = tc_tmpdir();
    c = lmt_nemotron_cfg("M*-", 24, 40, 50);
    lmt_write_random_nemotron(dir, &c, IK_ST_F32, 3, 0.3f);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lm_train_cuda *tr;
    cr_assert_eq(ik_lm_train_cuda_new(&tr, ik_test_cpu_cuda_ops(), m, NULL, NTOK, &d), IK_ENOTBUILT);
    cr_assert(strstr(ik_diag_message(&d), "NemotronH") != NULL, "%s", ik_diag_message(&d));
    ik_lm_model_free(m);
    tc_rmtree(dir);
}
