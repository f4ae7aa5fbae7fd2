/* base/mp.h - small helpers over msgpack-c objects, used by every module.
 *
 * msgpack strings are not NUL-terminated; these helpers compare and copy them
 * safely. Canonical packing (used for keys) sorts map keys bytewise and writes
 * every float as float64, so the same value always packs to the same bytes. */
#ifndef IK_BASE_MP_H
#define IK_BASE_MP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

/* Value of `key` in a map object, or NULL (also when obj is not a map). */
const msgpack_object *ik_mp_get(const msgpack_object *obj, const char *key);
/* True if obj is a string equal to s. */
bool ik_mp_str_eq(const msgpack_object *obj, const char *s);
/* A NUL-terminated copy of a string or bin object (the caller frees), or NULL. */
char *ik_mp_strdup(const msgpack_object *obj);
/* Numeric value of an int or float object; false if it is neither. */
bool ik_mp_number(const msgpack_object *obj, double *out);

void ik_mp_pack_str(msgpack_packer *pk, const char *s);
void ik_mp_pack_strn(msgpack_packer *pk, const char *s, size_t n);
void ik_mp_pack_bin(msgpack_packer *pk, const void *data, size_t n);

/* Packs obj canonically (see above). */
void ik_mp_pack_canonical(msgpack_packer *pk, const msgpack_object *obj);

#endif
