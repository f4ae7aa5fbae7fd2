/* fuzz/fz_kv.c - a kv entry (cache/kv.h: 64 hex digits and a newline) as
 * ik_kv_get and gc's ik_kv_foreach read it. */
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "cache/kv.h"
#include "fuzz/fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int each(const char *ns, const struct ik_hash *key, const struct ik_hash *value, void *arg)
{
    (void)ns, (void)key, (void)value;
    ++*(int *)arg;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ik_hash key;
    static char *path;
    struct ik_cache *c = fz_cache();
    struct ik_diag d = IK_DIAG_INIT;
    if (path == NULL) {
        ik_hash_from_hex(FZ_KEY_HEX, &key);
        if (ik_kv_put(c, "fz", &key, &key, &d) != 0)
            abort();
        path = fz_cache_file("kv");
    }
    fz_write(path, data, size);
    struct ik_hash value;
    ik_kv_get(c, "fz", &key, &value, &d);
    fz_diag_done(&d);
    int n = 0;
    ik_kv_foreach(c, each, &n);
    return 0;
}
