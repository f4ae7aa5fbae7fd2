/* nodes/eval/jcq_items.h - JCommonsenseQA questions read from JSON Lines
 * (examples/jcommonsenseqa/valid.jsonl, JGLUE's own format), every bad line
 * named.
 *
 * One JSON object a line; blank lines are skipped; fields other than these
 * are ignored (forward compatible):
 *   q_id      integer, unique in the file
 *   question  non-empty string
 *   choice0 .. choice4   non-empty strings
 *   label     integer 0..4, the right choice
 * Messages (code IK_EPARSE) use the diag row form FILE:LINE:
 *   valid.jsonl:12: error: not valid JSON: <jansson's text> (column C)
 *   valid.jsonl:5: error: missing field "label"
 *   valid.jsonl:5: error: field "label" is a string, expected an integer 0-4
 *   valid.jsonl:5: error: field "label" is 7, expected an integer 0-4
 *   valid.jsonl:9: error: duplicate q_id 8939 (first on line 1)
 *   error: valid.jsonl: no questions (expected JSON Lines with q_id, ...)
 * Strings are taken as jansson decodes them (valid UTF-8, NUL refused). */
#ifndef IK_NODES_EVAL_JCQ_ITEMS_H
#define IK_NODES_EVAL_JCQ_ITEMS_H

#include <stddef.h>
#include <stdint.h>

#include "nodes/eval/jcq.h"

struct ik_diag;

struct ik_jcq_item {
    int64_t q_id;
    char *question;                    /* owned, NUL-terminated */
    char *choices[IK_JCQ_N_CHOICES];   /* owned, NUL-terminated */
    int label;                         /* 0..4 */
    long line;                         /* 1-based line of the file */
};

struct ik_jcq_items {
    struct ik_jcq_item *v; /* read-only */
    size_t n;              /* read-only */
    size_t cap;            /* private */
};

#define IK_JCQ_ITEMS_INIT {NULL, 0, 0}

/* Parses len bytes of JSON Lines named `name` (for messages) into *out
 * (initialised, empty). IK_EPARSE with d set on the first bad line (*out
 * then holds the items before it; free it either way). */
int ik_jcq_items_parse(const char *name, const char *data, size_t len, struct ik_jcq_items *out,
                       struct ik_diag *d);

/* Reads the file at path and parses it as above, naming it `name` in
 * messages (NULL: the path); -errno with d naming the path when it cannot be
 * read. */
int ik_jcq_items_read_file(const char *path, const char *name, struct ik_jcq_items *out,
                           struct ik_diag *d);

void ik_jcq_items_free(struct ik_jcq_items *items);

#endif
