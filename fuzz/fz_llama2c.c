/* fuzz/fz_llama2c.c - a llama2.c "v0" checkpoint (lm/llama2c.c) as
 * ik_lm_model_load reads a regular file: the 7-int header sizes the weight
 * arena, the rest fills it. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *path;
    if (path == NULL)
        path = fz_path("model.bin");
    fz_write(path, data, size);
    struct ik_lm_model *m = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_model_load(&m, path, &d) == 0)
        ik_lm_model_free(m);
    fz_diag_done(&d);
    return 0;
}
