/* fuzz/fz_ggufmodel.c - a GGUF base model as ik_lm_model_load reads a .gguf
 * file (lm/model_gguf_read.c: the config from the metadata, every tensor
 * checked, then widened and un-permuted); when it loads and is small, a
 * forward of two tokens; then the file as the tokenizer of that model
 * (ik_tok_find_for_model gives the file itself; lm/tokenizer_gguf.c, llama
 * and gpt2 vocabularies). Part 2 of the input, if any, is the text the
 * tokenizer encodes. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/model.h"
#include "lm/tokenizer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Forwards only models this small: the point is the loader, not the matmuls. */
#define MAX_PARAMS (1u << 20)

static void forward(const struct ik_lm_model *m)
{
    if (m->n_params > MAX_PARAMS)
        return;
    struct ik_lm_state *s;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_state_new(&s, m, 4, 2, &d) == 0) {
        int tok[2] = {0, m->cfg.V - 1};
        ik_lm_forward(s, tok, 2, NULL, &d);
        ik_lm_state_free(s);
    }
    fz_diag_done(&d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_part part[2];
    fz_split(data, size, part, 2);
    char *path = fz_write_rel("model.gguf", part[0].p, part[0].n);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_model_load(&m, path, &d) == 0) {
        forward(m);
        ik_lm_model_free(m);
    }
    fz_diag_done(&d);
    char *tok = NULL;
    if (ik_tok_find_for_model(path, &tok, &d) == 0)
        fz_tokenizer_input("model.gguf", data, size);
    fz_diag_done(&d);
    free(tok);
    free(path);
    return 0;
}
