/* fuzz/fz_model.c - a Hugging Face model folder as ik_lm_model_load reads
 * it: part 1 of the input is config.json, part 2 model.safetensors. The
 * config decides the weight arena, the safetensors fill it, so this is where
 * a size product that wraps or a plausibility limit that is missing shows. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const files[] = {"config.json", "model.safetensors"};
    const char *dir = fz_folder("hf", files, 2, data, size);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_model_load(&m, dir, &d) == 0)
        ik_lm_model_free(m);
    fz_diag_done(&d);
    return 0;
}
