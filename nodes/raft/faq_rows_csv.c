/* nodes/raft/faq_rows_csv.c - FAQ rows from CSV (RFC 4180): a header row, quoted
 * fields with embedded newlines and doubled quotes, CRLF or LF line ends.
 * Records are named by the line they start on, so an editor finds them. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "nodes/raft/faq_rows_int.h"

struct csv_field {
    size_t off, len; /* into the record's unescaped text buffer */
};

struct csv {
    const char *p, *end;
    long line;            /* current line, from 1 */
    struct ik_buf text;   /* unescaped fields of the current record */
    struct csv_field *fields;
    size_t n_fields, cap;
};

/* Reads one record. Returns 1 with the record, 0 at the end, or IK_EPARSE.
 * *start gets the line the record starts on. Blank lines are skipped. */
static int csv_record(struct reader *r, struct csv *c, long *start)
{
    while (c->p < c->end && (*c->p == '\n' || *c->p == '\r')) {
        if (*c->p == '\n')
            c->line++;
        c->p++;
    }
    if (c->p >= c->end)
        return 0;
    *start = c->line;
    ik_buf_reset(&c->text);
    c->n_fields = 0;
    for (;;) {
        c->fields = ik_xgrow(c->fields, &c->cap, c->n_fields + 1, sizeof *c->fields);
        struct csv_field *fl = &c->fields[c->n_fields++];
        fl->off = c->text.len;
        if (c->p < c->end && *c->p == '"') {
            long qline = c->line;
            c->p++;
            for (;;) {
                if (c->p >= c->end)
                    return ik__faq_row_err(r, *start, "quoted field %zu never ends (its quote opens on line %ld)",
                                   c->n_fields, qline);
                if (*c->p == '"') {
                    if (c->p + 1 < c->end && c->p[1] == '"') {
                        ik_buf_putc(&c->text, '"');
                        c->p += 2;
                        continue;
                    }
                    c->p++;
                    break;
                }
                if (*c->p == '\n')
                    c->line++;
                ik_buf_putc(&c->text, *c->p++);
            }
            if (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                return ik__faq_row_err(r, *start,
                               "unexpected '%c' after the closing quote of field %zu; write a quote "
                               "inside a quoted field as \"\"",
                               *c->p, c->n_fields);
        } else {
            while (c->p < c->end && *c->p != ',' && *c->p != '\n' && *c->p != '\r')
                ik_buf_putc(&c->text, *c->p++);
        }
        fl->len = c->text.len - fl->off;
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        /* End of record: CRLF, LF, a lone CR, or the end of the data. */
        if (c->p < c->end && *c->p == '\r')
            c->p++;
        if (c->p < c->end && *c->p == '\n') {
            c->p++;
            c->line++;
        }
        return 1;
    }
}

int ik__faq_parse_csv(struct reader *r, const char *data, size_t len)
{
    struct csv c = {data, data + len, 1, IK_BUF_INIT, NULL, 0, 0};
    char **header = NULL;
    size_t n_header = 0;
    int col[4] = {-1, -1, -1, -1};
    long start;
    int rc = csv_record(r, &c, &start);
    if (rc == 0)
        rc = ik_diag_set(r->d, IK_EPARSE, "%s: empty CSV file: expected a header row", r->name);
    if (rc < 0)
        goto out;
    n_header = c.n_fields;
    header = ik_xcalloc(n_header, sizeof *header);
    struct ik_buf keys = IK_BUF_INIT;
    for (size_t i = 0; i < n_header; i++) {
        header[i] = ik_xstrndup(c.text.data ? c.text.data + c.fields[i].off : "", c.fields[i].len);
        ik_buf_printf(&keys, "%s\"%s\"", i ? ", " : "", header[i]);
    }
    for (int k = 0; k < 4; k++) {
        const char *name = ik__faq_role_name(r->f, k);
        for (size_t i = 0; has_name(name) && i < n_header && col[k] < 0; i++)
            if (strcmp(header[i], name) == 0)
                col[k] = (int)i;
        /* url is optional; the others must be columns. */
        if (col[k] < 0 && has_name(name) && k != 3) {
            static const char *const params[] = {"question_field", "answer_field", "group_field"};
            rc = ik_diag_row(r->d, IK_EPARSE, r->name, start, "missing column \"%s\"", name);
            ik_diag_hint(r->d, "the header has %s; set %s to the column that holds it", keys.data,
                         params[k]);
            break;
        }
    }
    ik_buf_free(&keys);
    if (rc < 0)
        goto out;
    while ((rc = csv_record(r, &c, &start)) == 1) {
        if (c.n_fields != n_header) {
            rc = ik__faq_row_err(r, start, "%zu fields, but the header has %zu", c.n_fields, n_header);
            break;
        }
        struct val vals[4];
        for (int k = 0; k < 4; k++) {
            memset(&vals[k], 0, sizeof vals[k]);
            vals[k].k = V_MISSING;
            if (col[k] >= 0) {
                vals[k].k = V_STR;
                vals[k].s = c.text.data ? c.text.data + c.fields[col[k]].off : "";
                vals[k].len = c.fields[col[k]].len;
            }
        }
        if ((rc = ik__faq_take_row(r, start, vals, "")) < 0)
            break;
    }
out:
    for (size_t i = 0; i < n_header; i++)
        free(header[i]);
    free(header);
    free(c.fields);
    ik_buf_free(&c.text);
    return rc < 0 ? rc : 0;
}
