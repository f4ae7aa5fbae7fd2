/* fuzz/fz_loragguf.c - a LoRA adapter GGUF (lm/lora_gguf.c) as `ikada lm
 * --adapter X.gguf` reads it, for a small fixed Llama shape (q/k rows
 * permuted) and the same shape as Qwen2 (not permuted): the input is the
 * file. An adapter it accepts must write back (F32) and read again to the
 * same values, else the harness aborts: the writer and the reader agree on
 * names, dims and the permutation. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/gguf.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void round_trip(const struct ik_lora *a, const struct ik_lm_config *mc)
{
    char *path = fz_path("rt.gguf");
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora *b = NULL;
    if (ik_lora_write_gguf(a, mc, IK_GGML_F32, path, &d) != 0 ||
        ik_lora_load_gguf(&b, mc, path, &d) != 0) {
        fprintf(stderr, "fz_loragguf: an accepted adapter does not write and read back: %s\n",
                ik_diag_message(&d));
        abort();
    }
    if (b->n_params != a->n_params || b->cfg.r != a->cfg.r || b->cfg.targets != a->cfg.targets ||
        memcmp(&b->cfg.alpha, &a->cfg.alpha, sizeof a->cfg.alpha) ||
        memcmp(b->params, a->params, a->n_params * sizeof(float))) {
        fprintf(stderr, "fz_loragguf: an accepted adapter reads back changed\n");
        abort();
    }
    ik_lora_free(b);
    ik_diag_free(&d);
    free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The shape of the seeds (fuzz/mkseeds.py, fz_lora's): D 8, F 16, 2 layers,
     * 2 heads of 4 with 1 KV head, vocabulary 16. */
    static const struct ik_lm_config shapes[] = {
        {.arch = IK_LM_LLAMA, .D = 8, .F = 16, .L = 2, .H = 2, .K = 1, .head_dim = 4, .V = 16,
         .max_seq = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1, .eos_id = {2},
         .n_eos = 1},
        {.arch = IK_LM_QWEN2, .D = 8, .F = 16, .L = 2, .H = 2, .K = 1, .head_dim = 4, .V = 16,
         .max_seq = 32, .norm_eps = 1e-6f, .rope_theta = 10000.0f, .qkv_bias = 1, .bos_id = -1,
         .eos_id = {2}, .n_eos = 1},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        struct ik_lora *a = NULL;
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_lora_parse_gguf(&a, &shapes[i], data, size, "adapter.gguf", &d) == 0) {
            round_trip(a, &shapes[i]);
            ik_lora_free(a);
        }
        fz_diag_done(&d);
    }
    return 0;
}
