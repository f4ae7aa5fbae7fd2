/* query/preview.h - a readable rendering of any cache object (`ikada cache show`).
 *
 * An object's bytes are one of: an artifact (a msgpack map with a string
 * `kind`, cache/artifact.h), another msgpack value (spec objects), UTF-8 text
 * (captured logs) or other bytes. The preview of an artifact shows its kind,
 * schema and meta, then by payload: for `records` the count and the first
 * `limit` records pretty-printed (strings cut at IK_PREVIEW_MAX_STR code points
 * with "…"); for a `file` artifact the first IK_PREVIEW_TEXT_LINES lines if the
 * payload is UTF-8 text, else a hex dump of IK_PREVIEW_HEX_BYTES bytes; for
 * tensors (maps of dtype, shape, bin data, anywhere in the payload) their
 * dtype and shape; other fields as cut JSON. Text objects are shown whole.
 * Nothing here fails: every byte string has some rendering. */
#ifndef IK_QUERY_PREVIEW_H
#define IK_QUERY_PREVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct ik_buf;
struct ik_jsonw;

#define IK_PREVIEW_MAX_STR 200
#define IK_PREVIEW_TEXT_LINES 40
#define IK_PREVIEW_HEX_BYTES 256

enum ik_object_form {
    IK_OBJECT_ARTIFACT, /* msgpack map with a string `kind` */
    IK_OBJECT_MSGPACK,  /* exactly one other msgpack map or array */
    IK_OBJECT_TEXT,     /* UTF-8 without NUL bytes (possibly empty) */
    IK_OBJECT_BINARY,   /* anything else */
};

/* Classifies bytes. For ARTIFACT and MSGPACK, *res (msgpack_unpacked_init'ed by
 * the caller, who destroys it) holds the value. Cannot fail. */
enum ik_object_form ik_preview_classify(const void *data, size_t len, msgpack_unpacked *res);

/* Appends the preview of an object's bytes as text; `limit` is the number of
 * records shown. Cannot fail. */
void ik_preview_text(struct ik_buf *out, const void *data, size_t len, size_t limit);

/* Writes the same preview as members of the JSON object that w is inside
 * ("kind", "schema", "meta", "records_total", "records", "file", "tensors",
 * "fields", "text", "value", "hex"); records are shown exactly. Cannot fail. */
void ik_preview_json(struct ik_jsonw *w, const void *data, size_t len, size_t limit);

/* True if data is valid UTF-8 without NUL bytes. With `prefix`, a multi-byte
 * sequence cut by the end of data is accepted (data is the start of a longer
 * payload). Cannot fail. */
bool ik_preview_is_text(const void *data, size_t len, bool prefix);

/* Appends a `hexdump -C` style dump of the first min(len, max) bytes. */
void ik_preview_hexdump(struct ik_buf *out, const void *data, size_t len, size_t max);

/* "512 B", "1.5 KiB", "2.0 GiB". Cannot fail. */
void ik_preview_human_size(uint64_t bytes, char out[32]);

/* The tensor fields of a map (dtype str, shape array of ints, data bin), or
 * false. On success *dtype (of *dtype_len bytes) and *shape point into o. */
bool ik_preview_tensor(const msgpack_object *o, const char **dtype, size_t *dtype_len,
                       const msgpack_object **shape, uint64_t *data_bytes);

#endif
