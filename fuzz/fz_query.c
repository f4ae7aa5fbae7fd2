/* fuzz/fz_query.c - the query language of `ikada cache query` (query/query.c):
 * the first part of the input is parsed as a --where expression, a --select
 * list and one path; the second, when it is msgpack, is the record (or an
 * array of records) they are evaluated against. */
#include <stdint.h>
#include <stdlib.h>

#include <msgpack.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/mp.h"
#include "base/mpjson.h"
#include "fuzz/fuzz_util.h"
#include "query/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void eval(const struct ik_query *q, const struct ik_qselect *sel, const struct ik_qpath *p,
                 const msgpack_object *rec, struct ik_buf *out)
{
    if (q)
        ik_query_match(q, rec);
    for (size_t i = 0; sel && i < sel->n; i++) {
        const msgpack_object *v = ik_qpath_get(sel->paths[i], rec);
        if (v)
            ik_mpjson_write(out, v, 0, NULL);
        ik_query_equal(v, rec);
    }
    if (p)
        ik_qpath_get(p, rec);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_part part[2];
    size_t np = fz_split(data, size, part, 2);
    char *text = fz_strndup(part[0].p, part[0].n);
    struct ik_query *q = NULL;
    struct ik_qselect *sel = NULL;
    struct ik_qpath *p = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    ik_query_parse(text, "--where", &q, &d);
    fz_diag_done(&d);
    ik_qselect_parse(text, "--select", &sel, &d);
    fz_diag_done(&d);
    if (ik_qpath_parse(text, "--select", &p, &d) == 0)
        ik_qpath_text(p);
    fz_diag_done(&d);

    if (np == 2 && fz_mp_plausible(part[1].p, part[1].n)) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        size_t off = 0;
        struct ik_buf out = IK_BUF_INIT;
        if (msgpack_unpack_next(&u, (const char *)part[1].p, part[1].n, &off) ==
            MSGPACK_UNPACK_SUCCESS) {
            const msgpack_object *o = &u.data;
            const msgpack_object *r = ik_mp_get(o, "records"); /* an artifact */
            if (r && r->type == MSGPACK_OBJECT_ARRAY)
                o = r;
            if (o->type == MSGPACK_OBJECT_ARRAY)
                for (uint32_t i = 0; i < o->via.array.size; i++)
                    eval(q, sel, p, &o->via.array.ptr[i], &out);
            else
                eval(q, sel, p, o, &out);
        }
        ik_buf_free(&out);
        msgpack_unpacked_destroy(&u);
    }
    ik_query_free(q);
    ik_qselect_free(sel);
    ik_qpath_free(p);
    free(text);
    return 0;
}
