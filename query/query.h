/* query/query.h - field paths and the --where language of `ikada cache query`.
 *
 * A path names a value inside a record: `a.b.c`, `messages[2].content`,
 * `messages[-1].role` (a negative index counts from the end), `meta["odd key"]`.
 * A path segment is a name of letters, digits, `_`, `$` and `-` (after a dot
 * it may start with a digit); other keys use the quoted form.
 *
 * Expressions (--where), lowest precedence first:
 *     or  <  and  <  comparison (== != < > <= >= contains)  <  not
 * so `not a == b` is `(not a) == b`, as `!a == b` is in C; use parentheses.
 * Comparisons do not chain. Operands: a path, a number, a "double" or 'single'
 * quoted string (backslash escapes \" \' \\ \n \t), true, false, null, or a
 * parenthesised expression. A missing field equals null. == and != compare
 * numbers by value (64-bit integers exactly), strings by bytes, arrays and maps
 * deeply (map key order ignored); < > <= >= hold only between two numbers or
 * two strings. `a contains b` is a substring test on strings, an element test
 * on arrays and a key test on maps. A value standing alone (a bare path) is
 * true unless it is missing, null, false, 0, "" or an empty array or map.
 * Parentheses and `not` nest at most 100 deep, and one expression holds at
 * most 10000 `and`/`or` (so parsing, evaluating and freeing stay in bounded
 * stack); beyond is a parse error at the column reached.
 *
 * Parse errors are IK_EUSAGE with d as
 *     error: --where: column 17: expected a value after '=='
 * followed by the expression and a caret; columns count code points from 1.
 * Parsed paths and queries own their strings; evaluation borrows the record
 * and never allocates. */
#ifndef IK_QUERY_QUERY_H
#define IK_QUERY_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#include <msgpack.h>

#include "base/diag.h"

struct ik_qpath;  /* opaque: one parsed path */
struct ik_query;  /* opaque: one parsed --where expression */
struct ik_qselect {
    struct ik_qpath **paths; /* read-only */
    size_t n;                /* read-only */
};

/* Parses the whole of text as one path; `what` names the option in messages
 * ("--select"). Returns 0 and a new *out (ik_qpath_free) or IK_EUSAGE. */
int ik_qpath_parse(const char *text, const char *what, struct ik_qpath **out, struct ik_diag *d);
/* The value at p inside root, or NULL when any step is missing (a key absent,
 * an index out of range, a step into a non-container). Cannot fail. */
const msgpack_object *ik_qpath_get(const struct ik_qpath *p, const msgpack_object *root);
/* The path as the user wrote it (trimmed). Valid until ik_qpath_free. */
const char *ik_qpath_text(const struct ik_qpath *p);
/* Accepts NULL. */
void ik_qpath_free(struct ik_qpath *p);

/* Parses a comma-separated list of paths ("a,b.c, d[0]"). IK_EUSAGE on an
 * empty list or a bad path (messages name `what` and the column). */
int ik_qselect_parse(const char *text, const char *what, struct ik_qselect **out,
                     struct ik_diag *d);
/* Accepts NULL. */
void ik_qselect_free(struct ik_qselect *s);

/* Parses an expression; `what` names the option in messages ("--where").
 * Returns 0 and a new *out (ik_query_free) or IK_EUSAGE. */
int ik_query_parse(const char *text, const char *what, struct ik_query **out, struct ik_diag *d);
/* True if record satisfies q. Cannot fail. */
bool ik_query_match(const struct ik_query *q, const msgpack_object *record);
/* Accepts NULL. */
void ik_query_free(struct ik_query *q);

/* Deep equality as == uses it (NULL stands for a missing value and equals
 * nil). Cannot fail. */
bool ik_query_equal(const msgpack_object *a, const msgpack_object *b);

#endif
