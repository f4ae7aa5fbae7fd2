/* fuzz/fz_model.c - a Hugging Face model folder as ik_lm_model_load reads
 * it: part 1 of the input is config.json, part 2 model.safetensors. The
 * config decides the weight arena, the safetensors fill it, so this is where
 * a size product that wraps or a plausibility limit that is missing shows.
 * The same folder is loaded streamed too (IK_LM_LOAD_STREAM, the CUDA
 * trainer's way) and every streamed tensor read as BF16: the load checked
 * their shapes against the file, so each fits in the file's own bytes. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/lora.h"
#include "lm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads streamed tensor (l, t) of rows x cols into rows of cols + 1. */
static void read_one(const struct ik_lm_model *m, int l, int t, size_t rows, size_t cols)
{
    uint16_t *buf = malloc(rows * (cols + 1) * sizeof *buf + 1);
    struct ik_diag d = IK_DIAG_INIT;
    if (buf && ik_lm_model_read_bf16(m, l, t, buf, cols + 1, &d) != 0)
        abort(); /* a tensor the load accepted must read */
    free(buf);
    ik_diag_free(&d);
}

static void read_streamed(const struct ik_lm_model *m)
{
    const struct ik_lm_config *c = &m->cfg;
    for (int l = 0; l < c->L; l++)
        for (int t = 0; t < IK_LORA_NT; t++) {
            int in, out;
            ik_lora_target_dims(c, t, &in, &out);
            if (ik_lora_has_module(c, l, t))
                read_one(m, l, t, (size_t)out, (size_t)in);
        }
    read_one(m, IK_LM_TABLES, IK_LM_TABLE_EMBED, (size_t)c->V, (size_t)c->D);
    if (!c->tie_embeddings)
        read_one(m, IK_LM_TABLES, IK_LM_TABLE_HEAD, (size_t)c->V, (size_t)c->D);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const files[] = {"config.json", "model.safetensors"};
    const char *dir = fz_folder("hf", files, 2, data, size);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_model_load(&m, dir, &d) == 0)
        ik_lm_model_free(m);
    fz_diag_done(&d); /* which leaves d empty again */
    m = NULL;
    if (ik_lm_model_load_opts(&m, dir, IK_LM_LOAD_STREAM, &d) == 0) {
        read_streamed(m);
        ik_lm_model_free(m);
    }
    fz_diag_done(&d);
    return 0;
}
