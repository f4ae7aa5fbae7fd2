/* fuzz/fz_lora.c - a PEFT LoRA adapter folder (lm/lora.c) for a small fixed
 * model shape: part 1 of the input is adapter_config.json, part 2
 * adapter_model.safetensors. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/lora.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The shape of the seeds (fuzz/mkseeds.py): D 8, F 16, 2 layers, 2 heads of
     * 4 with 1 KV head, vocabulary 16. */
    static const struct ik_lm_config mc = {
        .arch = IK_LM_LLAMA, .D = 8, .F = 16, .L = 2, .H = 2, .K = 1, .head_dim = 4, .V = 16,
        .max_seq = 32, .norm_eps = 1e-5f, .rope_theta = 10000.0f, .bos_id = 1, .eos_id = {2},
        .n_eos = 1,
    };
    static const char *const files[] = {"adapter_config.json", "adapter_model.safetensors"};
    const char *dir = fz_folder("adapter", files, 2, data, size);
    struct ik_lora *a = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lora_load(&a, &mc, dir, &d) == 0)
        ik_lora_free(a);
    fz_diag_done(&d);
    return 0;
}
