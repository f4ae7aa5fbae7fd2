/* tests/lm/test_adamw.c - the AdamW step against values computed by hand from
 * torch.optim.AdamW's update, gradient clipping, and a few optimizer steps of
 * LoRA training lowering the loss on a random model. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "kernels/kernels.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "tests/lm/lm_test.h"

/* lr 0.1, betas (0.9, 0.999), eps 1e-8, weight decay 0.01. Step 1, g = (0.5, -0.1):
 *   p = (1, -2) * (1 - 0.001) = (0.999, -1.998); m = (0.05, -0.01); v = (2.5e-4, 1e-5);
 *   m/(1-0.9) = g, v/(1-0.999) = g^2, so p -= 0.1 * sign(g): (0.899, -1.898).
 * Step 2, g = (0.5, 0.3): p *= 0.999 -> (0.898101, -1.896102); m = (0.095, 0.021);
 *   v = (4.9975e-4, 9.999e-5); bias corrections 0.19 and 0.001999:
 *   m^ = (0.5, 0.1105263), v^ = (0.25, 0.0500200), step 0.1 * m^ / sqrt(v^) =
 *   (0.1, 0.0494188), p = (0.798101, -1.945521). */
Test(lm_adamw, hand_computed_steps)
{
    float p[2] = {1.0f, -2.0f}, m[2] = {0}, v[2] = {0};
    float g1[2] = {0.5f, -0.1f}, g2[2] = {0.5f, 0.3f};
    ik_cpu_adamw(p, g1, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 1);
    cr_assert(fabs(p[0] - 0.899) < 1e-6 && fabs(p[1] + 1.898) < 1e-6, "%.7f %.7f", (double)p[0], (double)p[1]);
    cr_assert(fabs(m[0] - 0.05) < 1e-7 && fabs(v[1] - 1e-5) < 1e-9);
    ik_cpu_adamw(p, g2, m, v, 2, 0.1f, 0.9f, 0.999f, 1e-8f, 0.01f, 2);
    cr_assert(fabs(p[0] - 0.798101) < 2e-6 && fabs(p[1] + 1.945521) < 2e-6, "%.7f %.7f", (double)p[0],
              (double)p[1]);
}

Test(lm_adamw, clip_grad_norm)
{
    float g[2] = {3.0f, 4.0f};
    cr_assert_float_eq(ik_cpu_clip_grad_norm(g, 2, 10.0), 5.0, 1e-9);
    cr_assert_eq(g[0], 3.0f); /* under the limit: untouched */
    cr_assert_float_eq(ik_cpu_clip_grad_norm(g, 2, 1.0), 5.0, 1e-9);
    cr_assert(fabs(g[0] - 0.6) < 1e-6 && fabs(g[1] - 0.8) < 1e-6);
    cr_assert(fabs(ik_cpu_clip_grad_norm(g, 2, 0) - 1.0) < 1e-6);
}

/* Twenty AdamW steps on one masked sequence: the loss must fall clearly, and
 * only the adapter moves (the base model's bytes are unchanged). */
Test(lm_adamw, lora_training_lowers_loss)
{
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = IK_LM_LLAMA;
    c.D = 32, c.F = 48, c.L = 2, c.H = 4, c.K = 4, c.head_dim = 8, c.V = 64, c.max_seq = 64;
    c.norm_eps = 1e-5f, c.rope_theta = 10000.0f;
    char *dir = tc_tmpdir();
    lmt_write_random_model(dir, &c, NULL, IK_ST_F32, 9, 0.2f);
    struct ik_lm_model *m;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), 0);
    float *copy = malloc(m->n_params * sizeof(float));
    memcpy(copy, m->embed, m->n_params * sizeof(float));
    struct ik_lora_config lc = {4, 8.0f, 0.05f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, &c, &lc, 3, &d), 0);
    float *mo = calloc(a->n_params, sizeof(float)), *ve = calloc(a->n_params, sizeof(float));
    struct ik_lm_train *tr;
    cr_assert_eq(ik_lm_train_new(&tr, m, a, 32, &d), 0);
    int tok[24];
    unsigned char sel[24];
    for (int i = 0; i < 24; i++) {
        tok[i] = (i * 13 + 5) % c.V;
        sel[i] = i >= 8;
    }
    double first = 0, last = 0;
    for (int step = 1; step <= 20; step++) {
        ik_lora_zero_grad(a);
        double loss;
        cr_assert_eq(ik_lm_train_step(tr, tok, sel, 24, IK_LM_BACKWARD | IK_LM_DROPOUT, (uint64_t)step,
                                      1.0f, &loss, NULL, &d), 0);
        ik_cpu_clip_grad_norm(a->grads, a->n_params, 1.0);
        ik_cpu_adamw(a->params, a->grads, mo, ve, a->n_params, 1e-2f, 0.9f, 0.999f, 1e-8f, 0.0f, step);
        if (step == 1)
            first = loss;
    }
    cr_assert_eq(ik_lm_train_step(tr, tok, sel, 24, 0, 0, 1.0f, &last, NULL, &d), 0);
    cr_assert(last < 0.5 * first, "loss %.4f -> %.4f", first, last);
    cr_assert_eq(memcmp(copy, m->embed, m->n_params * sizeof(float)), 0);
    free(copy), free(mo), free(ve);
    ik_lm_train_free(tr);
    ik_lora_free(a);
    ik_lm_model_free(m);
    tc_rmtree(dir);
}
