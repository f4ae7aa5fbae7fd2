/* bench/interop_write.c - `interop_write OUT.gguf TOKENIZER`: the random
 * model of Qwen2.5-0.5B's shape that the benches time (bench/qwen_shape.h,
 * the same seed and weights) as an f32 GGUF with the tokenizer at TOKENIZER
 * (a tokenizer.json), written by the project's own writer
 * (ik_lm_model_write_gguf), so that `make bench-interop` runs ikada and
 * llama.cpp on one file. Exits 1 with the message on failure. */
#include <stdio.h>
#include <stdlib.h>

#include "base/diag.h"
#include "bench/qwen_shape.h"
#include "lm/gguf.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/tokenizer.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: interop_write OUT.gguf TOKENIZER\n");
        return 2;
    }
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_tok *t;
    if (ik_tok_load(&t, argv[2], &d)) {
        ik_diag_print(&d);
        return 1;
    }
    struct ik_lm_model *m = ik_bench_qwen_shape();
    /* No chat template: a base model, and llama.cpp is fed token ids anyway. */
    struct ik_lm_gguf_opts o = {IK_GGML_F32, -1, "Qwen2.5-0.5B shape (random)"};
    int rc = ik_lm_model_write_gguf(m, t, &o, argv[1], &d);
    if (rc)
        ik_diag_print(&d);
    ik_lm_model_free(m);
    ik_tok_free(t);
    return rc ? 1 : 0;
}
