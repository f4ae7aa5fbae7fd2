/* tests/common/mpvalue.c - see mpvalue.h. */
#include <criterion/criterion.h>
#include <string.h>

#include "base/mpjson.h"
#include "base/buf.h"
#include "tests/common/mpvalue.h"

const msgpack_object *tq_value(struct tq_value *v, const char *json)
{
    msgpack_sbuffer_init(&v->sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &v->sb, msgpack_sbuffer_write);
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_json_text_to_msgpack(json, strlen(json), &pk, "test", &d);
    cr_assert_eq(rc, 0, "bad test JSON %s: %s", json, ik_diag_message(&d));
    msgpack_unpacked_init(&v->u);
    size_t off = 0;
    cr_assert_eq(msgpack_unpack_next(&v->u, v->sb.data, v->sb.size, &off), MSGPACK_UNPACK_SUCCESS);
    return &v->u.data;
}

void tq_value_free(struct tq_value *v)
{
    msgpack_unpacked_destroy(&v->u);
    msgpack_sbuffer_destroy(&v->sb);
}

char *tq_json(const msgpack_object *o)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_mpjson_write(&b, o, 0, NULL);
    return ik_buf_steal(&b);
}
