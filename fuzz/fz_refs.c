/* fuzz/fz_refs.c - a graph's refs file (cache/refs.h) as a run loads it
 * (ik_refset_load) and as `cache ls` / REF resolution list it (ik_ref_list),
 * then each ref looked up as the planner does. The graph is the quickstart's
 * identity, graphs/quickstart.yaml, as in the seeds. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "cache/refs.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *path;
    static const char *const graph = "graphs/quickstart.yaml";
    struct ik_cache *c = fz_cache();
    struct ik_diag d = IK_DIAG_INIT;
    if (path == NULL) {
        struct ik_hash key;
        ik_hash_from_hex(FZ_KEY_HEX, &key);
        if (ik_ref_set(c, graph, "n", &key, &d) != 0)
            abort();
        path = fz_cache_file("refs");
    }
    if (!fz_mp_plausible(data, size))
        return 0;
    uint8_t *sealed = fz_reseal(data, size);
    fz_write(path, sealed, size);
    free(sealed);
    struct ik_refset *rs = NULL;
    if (ik_refset_load(c, graph, &rs, &d) == 0) {
        struct ik_ref *refs = NULL;
        size_t n = 0;
        struct ik_diag d2 = IK_DIAG_INIT;
        if (ik_ref_list(c, IK_REF_LIST_LEGACY, &refs, &n, &d2) == 0) {
            for (size_t i = 0; i < n; i++) {
                const struct ik_hash *k = ik_refset_get(rs, refs[i].node);
                if (k)
                    ik_action_free(ik_refset_action(rs, c, refs[i].node, k));
            }
            ik_refs_free(refs, n);
        }
        fz_diag_done(&d2);
        ik_refset_free(rs);
    }
    fz_diag_done(&d);
    return 0;
}
