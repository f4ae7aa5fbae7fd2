/* cli/report_model.c - building and freeing a report's content (report_model.h). */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xmalloc.h"
#include "cli/report_model.h"

static void free_table(struct ik_rtable *t)
{
    for (size_t i = 0; i < t->n_rows * t->n_cols; i++)
        free(t->cells[i].s);
    for (size_t i = 0; i < t->n_cols; i++)
        free(t->cols[i]);
    free(t->cols);
    free(t->cells);
    free(t->caption);
}

static void free_chart(struct ik_rchart *c)
{
    for (size_t i = 0; i < c->n_series; i++) {
        free(c->series[i].name);
        free(c->series[i].x);
        free(c->series[i].y);
    }
    free(c->series);
    free(c->title);
    free(c->x_label);
    free(c->y_label);
}

static void free_section(struct ik_rsection *s)
{
    for (size_t i = 0; i < s->n_tables; i++)
        free_table(&s->tables[i]);
    for (size_t i = 0; i < s->n_charts; i++)
        free_chart(&s->charts[i]);
    for (size_t i = 0; i < s->n_notes; i++)
        free(s->notes[i]);
    free(s->tables);
    free(s->charts);
    free(s->notes);
    free(s->id);
    free(s->title);
    free(s->node);
    free(s->type);
    free(s->kind);
    free(s->stale);
}

void ik_report_free(struct ik_report *r)
{
    for (size_t i = 0; i < r->n_sections; i++)
        free_section(&r->sections[i]);
    for (size_t i = 0; i < r->n_missing; i++) {
        free(r->missing[i].node);
        free(r->missing[i].type);
        free(r->missing[i].why);
    }
    free(r->sections);
    free(r->missing);
    free(r->graph);
    free(r->graph_id);
    memset(r, 0, sizeof *r);
}

struct ik_rsection *ik_report_section(struct ik_report *r, const char *type, const char *node,
                                      const char *title)
{
    r->sections = ik_xgrow(r->sections, &r->cap_, r->n_sections + 1, sizeof *r->sections);
    struct ik_rsection *s = &r->sections[r->n_sections++];
    memset(s, 0, sizeof *s);
    s->id = ik_xasprintf("%s-%s", type, node);
    /* An id is an HTML anchor: keep it to letters, digits, '-' and '_'. */
    for (char *p = s->id; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '-' || *p == '_'))
            *p = '_';
    s->type = ik_xstrdup(type);
    s->node = ik_xstrdup(node);
    s->title = ik_xstrdup(title);
    return s;
}

void ik_report_missing(struct ik_report *r, const char *node, const char *type, const char *why)
{
    r->missing = ik_xgrow(r->missing, &r->missing_cap_, r->n_missing + 1, sizeof *r->missing);
    struct ik_rmissing *m = &r->missing[r->n_missing++];
    m->node = ik_xstrdup(node);
    m->type = ik_xstrdup(type);
    m->why = ik_xstrdup(why);
}

void ik_rsection_note(struct ik_rsection *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    s->notes = ik_xrealloc(s->notes, (s->n_notes + 1) * sizeof *s->notes);
    s->notes[s->n_notes++] = ik_buf_steal(&b);
}

struct ik_rtable *ik_rsection_table(struct ik_rsection *s, const char *caption,
                                    const char *const *cols)
{
    s->tables = ik_xrealloc(s->tables, (s->n_tables + 1) * sizeof *s->tables);
    struct ik_rtable *t = &s->tables[s->n_tables++];
    memset(t, 0, sizeof *t);
    t->caption = ik_xstrdup(caption);
    while (cols[t->n_cols])
        t->n_cols++;
    t->cols = ik_xcalloc(t->n_cols, sizeof *t->cols);
    for (size_t i = 0; i < t->n_cols; i++)
        t->cols[i] = ik_xstrdup(cols[i]);
    return t;
}

struct ik_rcell *ik_rtable_row(struct ik_rtable *t)
{
    t->cells = ik_xgrow(t->cells, &t->cap_, (t->n_rows + 1) * t->n_cols, sizeof *t->cells);
    struct ik_rcell *row = &t->cells[t->n_rows++ * t->n_cols];
    memset(row, 0, t->n_cols * sizeof *row);
    return row;
}

void ik_rcell_int(struct ik_rcell *c, int64_t v)
{
    c->kind = IK_RCELL_INT;
    c->i = v;
}

void ik_rcell_num(struct ik_rcell *c, double v, int digits)
{
    c->kind = IK_RCELL_NUM;
    c->x = v;
    c->digits = digits;
}

void ik_rcell_str(struct ik_rcell *c, const char *s)
{
    free(c->s);
    c->kind = s ? IK_RCELL_STR : IK_RCELL_NONE;
    c->s = s ? ik_xstrdup(s) : NULL;
}

struct ik_rcell *ik_rtable_labeled(struct ik_rtable *t, const char *label)
{
    struct ik_rcell *row = ik_rtable_row(t);
    ik_rcell_str(&row[0], label);
    return row;
}

struct ik_rchart *ik_rsection_chart(struct ik_rsection *s, const char *title, const char *x_label,
                                    const char *y_label)
{
    s->charts = ik_xrealloc(s->charts, (s->n_charts + 1) * sizeof *s->charts);
    struct ik_rchart *c = &s->charts[s->n_charts++];
    memset(c, 0, sizeof *c);
    c->title = ik_xstrdup(title);
    c->x_label = ik_xstrdup(x_label);
    c->y_label = ik_xstrdup(y_label);
    return c;
}

struct ik_rseries *ik_rchart_series(struct ik_rchart *c, const char *name)
{
    c->series = ik_xrealloc(c->series, (c->n_series + 1) * sizeof *c->series);
    struct ik_rseries *s = &c->series[c->n_series++];
    memset(s, 0, sizeof *s);
    s->name = ik_xstrdup(name);
    return s;
}

void ik_rseries_add(struct ik_rseries *s, double x, double y)
{
    s->x = ik_xgrow(s->x, &s->x_cap_, s->n + 1, sizeof *s->x);
    s->y = ik_xgrow(s->y, &s->y_cap_, s->n + 1, sizeof *s->y);
    s->x[s->n] = x;
    s->y[s->n++] = y;
}

void ik_rcell_text(const struct ik_rcell *c, struct ik_buf *out)
{
    switch (c->kind) {
    case IK_RCELL_INT: ik_buf_printf(out, "%lld", (long long)c->i); break;
    case IK_RCELL_NUM: ik_buf_printf(out, "%.*f", c->digits, c->x); break;
    case IK_RCELL_STR: ik_buf_puts(out, c->s); break;
    default: ik_buf_puts(out, "—"); break;
    }
}

void ik_report_time(int64_t ms, char out[32])
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%d %H:%M:%S UTC", &tm);
}
