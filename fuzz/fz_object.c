/* fuzz/fz_object.c - a cache object's bytes as `ikada cache show` (text and
 * --json), `cache export` (--format jsonl / json / raw) and the executor's
 * artifact check render them: query/preview.c, base/mpjson.c, base/pyjson.c,
 * cache/artifact.c. */
#include <stdint.h>
#include <stdlib.h>

#include <msgpack.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/mp.h"
#include "base/mpjson.h"
#include "base/pyjson.h"
#include "cache/artifact.h"
#include "fuzz/fuzz_util.h"
#include "query/preview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!fz_mp_plausible(data, size))
        return 0;
    struct ik_buf out = IK_BUF_INIT;

    /* cache show, cache show --json */
    ik_preview_text(&out, data, size, 5);
    ik_buf_reset(&out);
    struct ik_jsonw w;
    ik_jsonw_init(&w, &out, 2);
    ik_jsonw_begin_object(&w);
    ik_preview_json(&w, data, size, 5);
    ik_jsonw_end_object(&w);
    ik_buf_reset(&out);
    ik_preview_is_text(data, size, true);

    /* cache export: the three renderings of cli/cache_query.c */
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    enum ik_object_form form = ik_preview_classify(data, size, &u);
    if (form == IK_OBJECT_ARTIFACT || form == IK_OBJECT_MSGPACK) {
        const msgpack_object *r = ik_mp_get(&u.data, "records");
        if (form == IK_OBJECT_ARTIFACT && r && r->type == MSGPACK_OBJECT_ARRAY)
            for (uint32_t i = 0; i < r->via.array.size; i++) {
                ik_pyjson_append(&out, &r->via.array.ptr[i]);
                ik_buf_putc(&out, '\n');
            }
        ik_buf_reset(&out);
        ik_mpjson_write(&out, &u.data, 2, NULL);
        ik_buf_reset(&out);
        struct ik_mpjson_opts cut = {8, 8, 4};
        ik_mpjson_write(&out, &u.data, 0, &cut);
        /* the whole value as Python writes it, whatever it is */
        ik_buf_reset(&out);
        ik_pyjson_append(&out, &u.data);
    }
    msgpack_unpacked_destroy(&u);

    /* how the executor opens an input artifact */
    msgpack_unpacked a;
    msgpack_unpacked_init(&a);
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_artifact_unpack(data, size, &a, "obj", &d) == 0) {
        size_t kl;
        ik_artifact_kind(&a.data, &kl);
        ik_artifact_records(&a.data);
    }
    fz_diag_done(&d);
    msgpack_unpacked_destroy(&a);
    ik_buf_free(&out);
    return 0;
}
