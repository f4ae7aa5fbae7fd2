/* tests/train/test_coverage.c - the train report's coverage line
 * (nodes/train/coverage.h): per kind of projection, grouped when a mixer's
 * projections agree, each alone when they do not; kinds the family lacks
 * left out; the covered parameters are the adapted projections' weights. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/diag.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "nodes/train/coverage.h"
#include "tests/lm/lm_test.h"

static void check(const struct ik_lm_config *c, const char *targets, const char *want,
                  uint64_t want_covered)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m;
    cr_assert_eq(ik_lm_model_new(&m, c, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora_config lc = {2, 4.0f, 0.0f, 0};
    cr_assert_eq(ik_lora_parse_targets(targets, &lc.targets, &d), 0, "%s", ik_diag_message(&d));
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, c, &lc, 1, &d), 0, "%s", ik_diag_message(&d));
    struct ik_train_coverage cov;
    ik_train_coverage_of(m, a, &cov);
    cr_assert_str_eq(cov.text, want, "targets %s", targets);
    cr_assert_eq(cov.covered, want_covered, "targets %s: %llu covered", targets,
                 (unsigned long long)cov.covered);
    cr_assert_eq(cov.total, m->n_params);
    ik_lora_free(a);
    ik_lm_model_free(m);
}

Test(train_coverage, nemotron_h_kinds)
{
    /* D 16, F 24; Mamba in_dim 2*32 + 2*2*16 + 8 = 136, d_inner 32; attention 4x8 over 2x8. */
    struct ik_lm_config c = lmt_nemotron_cfg("M-M*-M", 16, 24, 40);
    uint64_t in = 136 * 16, out = 16 * 32, q = 32 * 16, kv = 16 * 16, mlp = 24 * 16;
    check(&c, "all", "in_proj 3/3, out_proj 3/3, q,k,v,o 1/1, up,down 2/2",
          3 * (in + out) + 2 * q + 2 * kv + 2 * 2 * mlp);
    check(&c, "in,q,k,down", "in_proj 3/3, out_proj 0/3, q 1/1, k 1/1, v 0/1, o 0/1, up 0/2, down 2/2",
          3 * in + q + kv + 2 * mlp);
}

Test(train_coverage, llama_kinds)
{
    struct ik_lm_config c = lmt_cfg(IK_LM_LLAMA, 16, 24, 2, 4, 40);
    uint64_t q = 16 * 16, kv = 8 * 16, mlp = 24 * 16;
    check(&c, "all", "q,k,v,o 2/2, gate,up,down 2/2", 2 * (2 * q + 2 * kv + 3 * mlp));
    check(&c, "q,v", "q 2/2, k 0/2, v 2/2, o 0/2, gate,up,down 0/2", 2 * (q + kv));
}
