/* base/mpjson.h - msgpack <-> JSON, and a streaming JSON writer.
 *
 * Every `ikada cache` verb prints msgpack values through ik_jsonw_mp, so one
 * set of rules holds everywhere: nil->null, bools, 64-bit integers exact,
 * floats in their shortest round-trip form (non-finite -> null, since JSON has
 * no NaN), strings kept as UTF-8 (only quotes, backslash and control characters
 * are escaped; invalid UTF-8 bytes become U+FFFD), bin -> {"$bin": base64,
 * "size": N}, ext -> {"$ext": type, "$bin": base64, "size": N}, and map keys
 * that are not strings -> their compact JSON text used as the key (within which
 * a further non-string key is written as "…", so the text stays linear). Map keys
 * keep their stored order. The reverse direction (ik_json_to_msgpack) turns a
 * {"$bin", "size"} object back into bin, so a record survives the round trip.
 * Nothing here touches the disk; everything allocates with ik_xmalloc, so only
 * the JSON-text parser can fail (IK_EPARSE). */
#ifndef IK_BASE_MPJSON_H
#define IK_BASE_MPJSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <msgpack.h>

#include "base/diag.h"

struct ik_buf;

/* Limits for previews; all zero (or a NULL pointer) means exact output. */
struct ik_mpjson_opts {
    size_t max_str;   /* strings longer than this many code points end in "…" */
    size_t max_bin;   /* bin payloads encode at most this many bytes ("size" stays true) */
    size_t max_items; /* arrays show this many items, then "… N more" */
};

/* A JSON writer into an ik_buf. Fields are private. indent 0 writes compact
 * JSON with no spaces ({"a":1,"b":[2]}); indent > 0 pretty-prints. Nesting is
 * limited to IK_JSONW_MAX_DEPTH (deeper values are written compactly). */
#define IK_JSONW_MAX_DEPTH 64
struct ik_jsonw {
    struct ik_buf *out;
    int indent;
    int depth;
    bool after_key;
    bool first[IK_JSONW_MAX_DEPTH + 1];
};

void ik_jsonw_init(struct ik_jsonw *w, struct ik_buf *out, int indent);
void ik_jsonw_begin_object(struct ik_jsonw *w);
void ik_jsonw_end_object(struct ik_jsonw *w);
void ik_jsonw_begin_array(struct ik_jsonw *w);
void ik_jsonw_end_array(struct ik_jsonw *w);
/* Writes an object key; the next value call writes its value. */
void ik_jsonw_key(struct ik_jsonw *w, const char *key);
void ik_jsonw_keyn(struct ik_jsonw *w, const char *key, size_t len);
void ik_jsonw_str(struct ik_jsonw *w, const char *s);
/* A string of n bytes, cut after max_chars code points with "…" (0 = whole). */
void ik_jsonw_strn(struct ik_jsonw *w, const char *s, size_t n, size_t max_chars);
void ik_jsonw_int(struct ik_jsonw *w, int64_t v);
void ik_jsonw_uint(struct ik_jsonw *w, uint64_t v);
void ik_jsonw_double(struct ik_jsonw *w, double v);
void ik_jsonw_bool(struct ik_jsonw *w, bool v);
void ik_jsonw_null(struct ik_jsonw *w);
/* Writes a msgpack value by the rules above; opts may be NULL. */
void ik_jsonw_mp(struct ik_jsonw *w, const msgpack_object *o, const struct ik_mpjson_opts *opts);

/* Appends the compact (indent 0) or pretty JSON of o to out. Cannot fail. */
void ik_mpjson_write(struct ik_buf *out, const msgpack_object *o, int indent,
                     const struct ik_mpjson_opts *opts);

/* Appends a JSON string literal (with quotes) of n bytes to out, cut after
 * max_chars code points (0 = whole). Cannot fail. */
void ik_mpjson_write_string(struct ik_buf *out, const char *s, size_t n, size_t max_chars);

/* Appends the shortest decimal form of v that reads back as the same double
 * (as float when is_f32), always with a '.' or an exponent; "null" when v is
 * not finite. Cannot fail. */
void ik_mpjson_write_double(struct ik_buf *out, double v, bool is_f32);

/* Appends standard base64 (with padding) of n bytes. Cannot fail. */
void ik_base64_encode(struct ik_buf *out, const void *data, size_t n);
/* Decodes standard base64 into a new buffer (the caller frees): 0, or
 * IK_EPARSE when s is not valid base64. */
int ik_base64_decode(const char *s, size_t n, unsigned char **data, size_t *len);

/* Packs a jansson value as msgpack, keeping object key order; integers as
 * int64, reals as float64, {"$bin": base64, "size": N} as bin. Returns 0, or
 * -EINVAL when j is NULL. */
int ik_json_to_msgpack(json_t *j, msgpack_packer *pk);

/* Parses JSON text (one value) and packs it with ik_json_to_msgpack. On a
 * syntax error returns IK_EPARSE with d as "<what>:<line>:<col>: error: ...". */
int ik_json_text_to_msgpack(const char *text, size_t len, msgpack_packer *pk, const char *what,
                            struct ik_diag *d);

#endif
