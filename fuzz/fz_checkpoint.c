/* fuzz/fz_checkpoint.c - a training checkpoint (nodes/train/checkpoint.c) as
 * the train node reads it back from the cache on resume, for a small fixed
 * adapter (r 2 on q of a 1-layer model: 32 values). A checkpoint it accepts
 * must pack again to bytes that load to the same state, else it aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/mp.h"
#include "fuzz/fuzz_util.h"
#include "lm/lora.h"
#include "nodes/train/checkpoint.h"
#include "nodes/train/loop.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct ik_lora *adapter(void)
{
    static const struct ik_lm_config mc = {
        .arch = IK_LM_LLAMA, .D = 8, .F = 16, .L = 1, .H = 2, .K = 2, .head_dim = 4, .V = 16,
        .max_seq = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1, .eos_id = {2},
        .n_eos = 1,
    };
    const struct ik_lora_config lc = {2, 4.0f, 0.0f, 1u << IK_LORA_Q};
    struct ik_lora *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lora_new(&a, &mc, &lc, 1, &d) != 0)
        abort();
    return a;
}

static void same_or_abort(const struct ik_train_state *x, const struct ik_train_state *y,
                          const struct ik_lora *a, const struct ik_lora *b)
{
    size_t n = a->n_params * sizeof(float);
    if (x->step != y->step || x->n_rows != y->n_rows || x->tokens != y->tokens ||
        memcmp(a->params, b->params, n) || memcmp(x->m, y->m, n) || memcmp(x->v, y->v, n)) {
        fprintf(stderr, "fz_checkpoint: an accepted checkpoint does not load back the same\n");
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_lora *a = adapter(), *b = adapter();
    struct ik_train_state st, st2;
    ik_train_state_init(&st, a);
    ik_train_state_init(&st2, b);
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_train_checkpoint_load(data, size, &st, a, &d) == 0) {
        struct ik_mp_writer w;
        ik_mp_writer_init(&w);
        ik_train_checkpoint_pack(&w, &st, a, 0, 0);
        if (ik_train_checkpoint_load(w.sb.data, w.sb.size, &st2, b, &d) != 0)
            abort();
        same_or_abort(&st, &st2, a, b);
        ik_mp_writer_free(&w);
    }
    fz_diag_done(&d);
    ik_train_state_free(&st);
    ik_train_state_free(&st2);
    ik_lora_free(a);
    ik_lora_free(b);
    return 0;
}
