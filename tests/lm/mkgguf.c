/* tests/lm/mkgguf.c - a test helper, not a test: writes a model (a Hugging
 * Face folder, any architecture ik_lm_model_load reads) and its tokenizer as
 * an f32 base GGUF, and optionally a PEFT adapter folder for it as an f32
 * adapter GGUF, with the writers gguf-export uses (lm/model_gguf.h,
 * lm/lora_gguf.h). For interop checks on models `train` cannot train yet
 * (tests/interop/check_nemotron.py).
 *
 *   mkgguf MODEL TOKENIZER BASE.gguf [PEFT_DIR ADAPTER.gguf] */
#include <stdio.h>

#include "base/diag.h"
#include "lm/gguf.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/tokenizer.h"

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 6) {
        fprintf(stderr, "usage: mkgguf MODEL TOKENIZER BASE.gguf [PEFT_DIR ADAPTER.gguf]\n");
        return 2;
    }
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lm_model *m = NULL;
    struct ik_tok *t = NULL;
    struct ik_lora *a = NULL;
    struct ik_lm_gguf_opts o = {IK_GGML_F32, -1, "mkgguf"};
    int rc = ik_lm_model_load(&m, argv[1], &d);
    if (rc == 0)
        rc = ik_tok_load(&t, argv[2], &d);
    if (rc == 0)
        rc = ik_lm_model_write_gguf(m, t, &o, argv[3], &d);
    if (rc == 0 && argc == 6 && (rc = ik_lora_load(&a, &m->cfg, argv[4], &d)) == 0)
        rc = ik_lora_write_gguf(a, &m->cfg, IK_GGML_F32, argv[5], &d);
    if (rc != 0)
        ik_diag_print(&d);
    ik_diag_free(&d);
    ik_lora_free(a);
    ik_tok_free(t);
    ik_lm_model_free(m);
    return rc == 0 ? 0 : 1;
}
