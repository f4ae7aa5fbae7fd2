/* base/pyjson.h - msgpack objects as JSON text exactly as Python's
 * json.dumps(obj, ensure_ascii=False) writes it, so exported JSONL files are
 * byte-identical to the reference's and drop into HF datasets / TRL as is.
 *
 * Layout: separators ", " and ": "; map keys in stored order; strings with
 * \" \\ \n \r \t \b \f escaped, other bytes below 0x20 as \u00xx (lowercase
 * hex), everything else (DEL, all non-ASCII UTF-8) raw; nil -> null,
 * booleans -> true/false; integers in decimal; floats as Python's repr (the
 * shortest text that reads back the same double, fixed notation for
 * exponents -4..15 with ".0" on integral values, else d.ddde+XX; NaN and
 * Infinity as Python writes them). Non-string map keys are written as their
 * JSON text in quotes (a non-string key within that text as "…", so the
 * output stays linear); bin is written as a string of its bytes; ext as null.
 * Nothing here can fail. */
#ifndef IK_BASE_PYJSON_H
#define IK_BASE_PYJSON_H

#include <msgpack.h>

struct ik_buf;

/* Appends the JSON text of `obj` (no newline) to b. */
void ik_pyjson_append(struct ik_buf *b, const msgpack_object *obj);
/* Appends a JSON string literal of s[0..n). */
void ik_pyjson_append_str(struct ik_buf *b, const char *s, size_t n);
/* Appends Python's repr of a double. */
void ik_pyjson_append_double(struct ik_buf *b, double v);

#endif
