/* cache/artifact.h - the envelope every artifact shares, and common payloads.
 *
 * An artifact is one msgpack map:
 *   {kind: str, schema: int, meta: map, <payload fields…>}
 * Conventions every node follows so generic tools work on any artifact:
 *   - records: a `records` array of maps (rows, samples); `ikada cache query`
 *     filters and selects inside it.
 *   - files:   kind "file", meta {name: str}, `data` bin: a file captured as is
 *     (command outputs, logs are separate raw objects).
 *   - tensors: maps {dtype: "f32"|"f16"|"bf16"|"i32", shape: [int], data: bin}.
 * Readers accept fields they do not know (forward compatible); `schema` is
 * bumped when a field changes meaning. */
#ifndef IK_CACHE_ARTIFACT_H
#define IK_CACHE_ARTIFACT_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "base/diag.h"

/* Starts an artifact map of 3 + n_payload entries: writes kind and schema and
 * the key "meta"; the caller then packs the meta value, then n_payload
 * key/value pairs. */
void ik_artifact_begin(msgpack_packer *pk, const char *kind, int schema, size_t n_payload);

/* Packs a complete file artifact holding `len` bytes named `name`. */
void ik_artifact_pack_file(msgpack_packer *pk, const char *name, const void *data, size_t len);

/* Packs one tensor map {dtype, shape: [int], data: bin}. dtype is "f32",
 * "f16", "bf16" or "i32"; data holds nbytes bytes, row-major, little-endian.
 * Cannot fail (the packer's buffer grows). */
void ik_artifact_pack_tensor(msgpack_packer *pk, const char *dtype, const int64_t *shape,
                             size_t ndim, const void *data, size_t nbytes);

/* Unpacks bytes into `result` (msgpack_unpacked_init'ed by the caller, who
 * destroys it) and checks the envelope. Fails with IK_EPARSE naming `what`
 * (e.g. the object's hash) when the bytes are not one msgpack map with a
 * string `kind`. */
int ik_artifact_unpack(const void *data, size_t len, msgpack_unpacked *result, const char *what,
                       struct ik_diag *d);

/* The kind of an unpacked artifact, or NULL if it has none. Not NUL-terminated:
 * *len is set. */
const char *ik_artifact_kind(const msgpack_object *root, size_t *len);

/* The records array of an artifact, or NULL. */
const msgpack_object *ik_artifact_records(const msgpack_object *root);

#endif
