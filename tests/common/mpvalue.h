/* tests/common/mpvalue.h - msgpack values written as JSON text, for tests
 * that compare objects (base/mpjson, query/, the cache CLI). */
#ifndef IK_TESTS_COMMON_MPVALUE_H
#define IK_TESTS_COMMON_MPVALUE_H

#include <msgpack.h>

/* A msgpack value built from JSON text; free with tq_value_free. */
struct tq_value {
    msgpack_sbuffer sb;
    msgpack_unpacked u;
};

/* Parses json (must be valid) into v and returns the unpacked object. */
const msgpack_object *tq_value(struct tq_value *v, const char *json);
void tq_value_free(struct tq_value *v);

/* Compact JSON of o (ik_mpjson_write); the caller frees. */
char *tq_json(const msgpack_object *o);

#endif
