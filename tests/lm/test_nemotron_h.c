/* tests/lm/test_nemotron_h.c - NemotronH (Mamba-2 hybrid) models: the
 * Hugging Face loader on random backbone.* folders. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "tests/lm/lm_test.h"

/* A random NemotronH folder of pattern, loaded back. *dir receives the folder. */
static struct ik_lm_model *write_and_load(const struct ik_lm_config *c, char **dir)
{
    *dir = tc_tmpdir();
    lmt_write_random_nemotron(*dir, c, IK_ST_F32, 7, 0.3f);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, *dir, &d), 0, "%s", ik_diag_message(&d));
    return m;
}

Test(lm_nemotron_h, loads_backbone_folder)
{
    struct ik_lm_config c = lmt_nemotron_cfg("M-M*-M", 32, 40, 50);
    char *dir;
    struct ik_lm_model *m = write_and_load(&c, &dir);
    cr_assert_eq(m->cfg.arch, IK_LM_NEMOTRON_H);
    cr_assert_eq(m->cfg.L, 6);
    const struct ik_lm_layer *y = &m->layers[2];
    cr_expect_eq(y->block, IK_LM_BLOCK_MAMBA);
    cr_expect_eq(y->slot, 1);
    cr_expect_eq(m->layers[3].slot, 0); /* the first attention layer */
    /* A_log = log(1 + h) as the helper wrote it, read back in place. */
    for (int h = 0; h < c.ssm.heads; h++)
        cr_expect_float_eq(y->A_log[h], (float)log(1.0 + h), 1e-7, "head %d", h);
    cr_expect(y->conv_w[0] != 0 && y->conv_b[0] != 0 && y->ssm_out[0] != 0);
    ik_lm_model_free(m);

    /* A folder with another tensor naming is refused by the tensor's name. */
    char *p = ik_xasprintf("%s/config.json", dir);
    size_t n;
    char *cfg = lmt_read(p, &n);
    tc_rmtree(dir);
    dir = tc_tmpdir();
    struct ik_lm_config ll = lmt_cfg(IK_LM_LLAMA, 32, 40, 6, 8, 50);
    lmt_write_random_model(dir, &ll, NULL, IK_ST_F32, 7, 0.3f);
    free(p);
    p = ik_xasprintf("%s/config.json", dir);
    lmt_write(p, cfg, n);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&m, dir, &d), IK_ENOTFOUND, "%s", ik_diag_message(&d));
    cr_expect(strstr(ik_diag_message(&d), "backbone.embeddings.weight") != NULL, "%s",
              ik_diag_message(&d));
    ik_diag_free(&d);
    free(cfg);
    free(p);
    tc_rmtree(dir);
}
