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
#include "base/mp.h"

/* Starts an artifact map of 3 + n_payload entries: writes kind and schema and
 * the key "meta"; the caller then packs the meta value, then n_payload
 * key/value pairs, then ik_artifact_end, which checks that count like any
 * ik_mp_map_end (a miscount names the line of the ik_artifact_begin). */
#define ik_artifact_begin(w, kind, schema, n_payload) \
    ik__artifact_begin((w), (kind), (schema), (n_payload), __FILE__, __LINE__)
#define ik_artifact_end(w) ik_mp_map_end(w)
void ik__artifact_begin(struct ik_mp_writer *w, const char *kind, int schema, size_t n_payload,
                        const char *file, int line);

/* Packs a complete file artifact holding `len` bytes named `name`. */
void ik_artifact_pack_file(struct ik_mp_writer *w, const char *name, const void *data,
                           size_t len);

/* Packs one tensor map {dtype, shape: [int], data: bin}. dtype is "f32",
 * "f16", "bf16" or "i32"; data holds nbytes bytes, row-major, little-endian.
 * Cannot fail (the writer's buffer grows). */
void ik_artifact_pack_tensor(struct ik_mp_writer *w, const char *dtype, const int64_t *shape,
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
