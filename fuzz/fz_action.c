/* fuzz/fz_action.c - an action record (cache/action.h) as ik_action_get
 * reads it from actions/, then what the scheduler and `cache show` ask of it. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "cache/action.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ik_hash key;
    static char *path;
    struct ik_cache *c = fz_cache();
    struct ik_diag d = IK_DIAG_INIT;
    if (path == NULL) {
        ik_hash_from_hex(FZ_KEY_HEX, &key);
        struct ik_action a = {.key = key, .type = "command", .node = "n"};
        if (ik_action_put(c, &a, &d) != 0)
            abort();
        path = fz_cache_file("actions");
    }
    if (!fz_mp_plausible(data, size))
        return 0;
    uint8_t *sealed = fz_reseal(data, size);
    fz_write(path, sealed, size);
    free(sealed);
    struct ik_action *a = NULL;
    if (ik_action_get(c, &key, &a, &d) == 0) {
        ik_action_outputs_present(c, a);
        for (size_t i = 0; i < a->n_outputs; i++)
            if (a->outputs[i].port)
                ik_action_output(a, a->outputs[i].port);
        ik_action_free(a);
    }
    fz_diag_done(&d);
    return 0;
}
