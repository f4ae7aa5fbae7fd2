/* fuzz/fz_srcmemo.c - the source-hash memo (cache/srcmemo.h) as a run loads
 * it (torn-tail repair included), then one lookup of a file through it. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "cache/srcmemo.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *path, *src;
    struct ik_cache *c = fz_cache();
    if (path == NULL) {
        path = ik_cache_path(c, "srcmemo");
        src = fz_write_rel("src.txt", "hello\n", 6);
    }
    if (!fz_mp_plausible(data, size))
        return 0;
    fz_write(path, data, size);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_srcmemo *m = NULL;
    if (ik_srcmemo_open(c, &m, &d) == 0) {
        struct ik_hash h;
        uint64_t n;
        ik_srcmemo_hash(m, src, &h, &n, &d);
        ik_srcmemo_close(m);
    }
    fz_diag_done(&d);
    return 0;
}
