/* fuzz/fz_config.c - a Hugging Face config.json (lm/config.h), parsed as
 * the model loaders parse it, then the RoPE table it implies. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "base/xmalloc.h"
#include "fuzz/fuzz_util.h"
#include "lm/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ik_lm_config c;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_config_parse(&c, (const char *)data, size, "config.json", &d) == 0) {
        ik_lm_arch_name(c.arch);
        /* The table is head_dim/2 floats: the config check bounds head_dim;
         * a bigger table than this is left to fz_model's plausibility. */
        if (c.head_dim > 0 && c.head_dim <= (1 << 20)) {
            float *f = ik_xmalloc((size_t)c.head_dim / 2 * sizeof *f + 1);
            ik_lm_config_inv_freq(&c, f);
            free(f);
        }
    }
    fz_diag_done(&d);
    return 0;
}
