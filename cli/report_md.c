/* cli/report_md.c - the report as Markdown, for a terminal or a pull-request
 * comment: pipe tables, and each chart as one line per series (its points,
 * first and last value, lowest and highest). */
#include <stdbool.h>
#include <string.h>

#include "cli/report_model.h"

/* s with | and newlines made safe inside a table cell. */
static void cell_text(struct ik_buf *out, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            ik_buf_puts(out, "\\|");
        else
            ik_buf_putc(out, *s == '\n' ? ' ' : *s);
    }
}

/* A column of numbers (and absent figures) is right-aligned. */
static bool numeric_column(const struct ik_rtable *t, size_t c)
{
    size_t numbers = 0;
    for (size_t r = 0; r < t->n_rows; r++) {
        enum ik_rcell_kind k = t->cells[r * t->n_cols + c].kind;
        if (k == IK_RCELL_STR)
            return false;
        numbers += k != IK_RCELL_NONE;
    }
    return numbers > 0;
}

static void table(struct ik_buf *out, const struct ik_rtable *t)
{
    ik_buf_printf(out, "**%s**\n\n|", t->caption);
    for (size_t c = 0; c < t->n_cols; c++) {
        ik_buf_putc(out, ' ');
        cell_text(out, t->cols[c]);
        ik_buf_puts(out, " |");
    }
    ik_buf_puts(out, "\n|");
    for (size_t c = 0; c < t->n_cols; c++)
        ik_buf_puts(out, numeric_column(t, c) ? "--:|" : "---|");
    ik_buf_putc(out, '\n');
    struct ik_buf x = IK_BUF_INIT;
    for (size_t r = 0; r < t->n_rows; r++) {
        ik_buf_putc(out, '|');
        for (size_t c = 0; c < t->n_cols; c++) {
            ik_buf_reset(&x);
            ik_rcell_text(&t->cells[r * t->n_cols + c], &x);
            ik_buf_putc(&x, '\0');
            ik_buf_putc(out, ' ');
            cell_text(out, x.data);
            ik_buf_puts(out, " |");
        }
        ik_buf_putc(out, '\n');
    }
    ik_buf_free(&x);
    ik_buf_putc(out, '\n');
}

static void chart(struct ik_buf *out, const struct ik_rchart *c)
{
    ik_buf_printf(out, "**%s** (%s against %s)\n\n", c->title, c->y_label, c->x_label);
    for (size_t i = 0; i < c->n_series; i++) {
        const struct ik_rseries *s = &c->series[i];
        if (s->n == 0) {
            ik_buf_printf(out, "- %s: no points\n", s->name);
            continue;
        }
        double lo = s->y[0], hi = s->y[0];
        for (size_t k = 1; k < s->n; k++) {
            lo = s->y[k] < lo ? s->y[k] : lo;
            hi = s->y[k] > hi ? s->y[k] : hi;
        }
        ik_buf_printf(out, "- %s: %zu point%s, %s %g → %g: %.4f → %.4f (lowest %.4f, highest %.4f)\n",
                      s->name, s->n, s->n == 1 ? "" : "s", c->x_label, s->x[0], s->x[s->n - 1], s->y[0], s->y[s->n - 1],
                      lo, hi);
    }
    ik_buf_putc(out, '\n');
}

static void section(struct ik_buf *out, const struct ik_rsection *s)
{
    char when[32];
    ik_report_time(s->ran_ms, when);
    ik_buf_printf(out, "## %s — %s\n\n_From node `%s` (%s), artifact `%s`, key `%.12s`, ran %s "
                       "(%.1f s)._",
                  s->title, s->node, s->node, s->type, s->kind, s->key, when, s->took_ms / 1000.0);
    if (s->stale)
        ik_buf_printf(out, " **Stale: %s**", s->stale);
    ik_buf_puts(out, "\n\n");
    for (size_t i = 0; i < s->n_charts; i++)
        chart(out, &s->charts[i]);
    for (size_t i = 0; i < s->n_tables; i++)
        table(out, &s->tables[i]);
    for (size_t i = 0; i < s->n_notes; i++)
        ik_buf_printf(out, "%s\n\n", s->notes[i]);
}

void ik_report_md(const struct ik_report *r, struct ik_buf *out)
{
    char made[32];
    ik_report_time(r->made_ms, made);
    ik_buf_printf(out, "# ikada report: %s\n\nGraph `%s`, made %s from the results its refs name.\n\n",
                  r->graph, r->graph_id, made);
    for (size_t i = 0; i < r->n_sections; i++)
        section(out, &r->sections[i]);
    ik_buf_puts(out, "## Not run yet\n\n");
    if (r->n_missing == 0)
        ik_buf_puts(out, "Every reported node has a result.\n");
    for (size_t i = 0; i < r->n_missing; i++)
        ik_buf_printf(out, "- `%s` (%s): %s\n", r->missing[i].node, r->missing[i].type,
                      r->missing[i].why);
}
