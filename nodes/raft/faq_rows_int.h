/* nodes/raft/faq_rows_int.h - internals shared by faq_rows.c and faq_rows_csv.c:
 * the per-format field views and the one row checker every format uses. */
#ifndef IK_NODES_RAFT_FAQ_ROWS_INT_H
#define IK_NODES_RAFT_FAQ_ROWS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/diag.h"
#include "nodes/raft/faq_rows.h"

enum vkind { V_MISSING, V_NULL, V_STR, V_NUM, V_BOOL, V_ARRAY, V_OBJECT, V_BIN, V_OTHER };

/* One field of one row, as any format sees it. */
struct val {
    enum vkind k;
    const char *s; /* V_STR: borrowed bytes */
    size_t len;
};

struct reader {
    const char *name; /* the file, for messages */
    bool line_form;   /* "FILE:N:" (lines) rather than "FILE: row N:" */
    bool check_utf8;  /* jansson validates JSON; other formats are checked here */
    const struct ik_faq_fields *f;
    struct ik_faq_rows *out;
    struct ik_diag *d;
};

static inline bool has_name(const char *s) { return s != NULL && s[0] != '\0'; }

/* Sets d to "<where row>: <fmt>" and returns IK_EPARSE. */
int ik__faq_row_err(struct reader *r, long row, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Checks vals (question, answer, group, url) and appends the row; keys lists
 * the row's field names for the missing-field hint. 0 or IK_EPARSE. */
int ik__faq_take_row(struct reader *r, long row, const struct val vals[4], const char *keys);
/* The column name of role i (0 question, 1 answer, 2 group, 3 url). */
const char *ik__faq_role_name(const struct ik_faq_fields *f, int i);
/* Parses CSV text (faq_rows_csv.c). */
int ik__faq_parse_csv(struct reader *r, const char *data, size_t len);

#endif
