/* fuzz/fz_model.c - a Hugging Face model folder as ik_lm_model_load reads
 * it: part 1 of the input is config.json, part 2 model.safetensors. The
 * config decides the weight arena, the safetensors fill it, so this is where
 * a size product that wraps or a plausibility limit that is missing shows. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "base/file.h"
#include "base/xmalloc.h"
#include "fuzz/fuzz_util.h"
#include "lm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *dir, *config, *weights;
    if (dir == NULL) {
        dir = fz_path("hf");
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_mkdirs(dir, &d) != 0)
            abort();
        config = ik_xasprintf("%s/config.json", dir);
        weights = ik_xasprintf("%s/model.safetensors", dir);
    }
    struct fz_part part[2];
    size_t np = fz_split(data, size, part, 2);
    fz_write(config, part[0].p, part[0].n);
    fz_write(weights, np == 2 ? part[1].p : NULL, np == 2 ? part[1].n : 0);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_model_load(&m, dir, &d) == 0)
        ik_lm_model_free(m);
    fz_diag_done(&d);
    return 0;
}
