/* fuzz/fz_lora.c - a PEFT LoRA adapter folder (lm/lora.c) for a small fixed
 * model shape: part 1 of the input is adapter_config.json, part 2
 * adapter_model.safetensors. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "fuzz/fuzz_util.h"
#include "lm/lora.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *dir, *config, *weights;
    if (dir == NULL) {
        dir = fz_path("adapter");
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_mkdirs(dir, &d) != 0)
            abort();
        config = ik_xasprintf("%s/adapter_config.json", dir);
        weights = ik_xasprintf("%s/adapter_model.safetensors", dir);
    }
    /* The shape of the seeds (fuzz/mkseeds.py): D 8, F 16, 2 layers, 2 heads of
     * 4 with 1 KV head, vocabulary 16. */
    static const struct ik_lm_config mc = {
        .arch = IK_LM_LLAMA, .D = 8, .F = 16, .L = 2, .H = 2, .K = 1, .head_dim = 4, .V = 16,
        .max_seq = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1, .eos_id = {2},
        .n_eos = 1,
    };
    struct fz_part part[2];
    size_t np = fz_split(data, size, part, 2);
    fz_write(config, part[0].p, part[0].n);
    fz_write(weights, np == 2 ? part[1].p : NULL, np == 2 ? part[1].n : 0);
    struct ik_lora *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lora_load(&a, &mc, dir, &d) == 0)
        ik_lora_free(a);
    fz_diag_done(&d);
    return 0;
}
