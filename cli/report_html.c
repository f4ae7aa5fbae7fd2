/* cli/report_html.c - the report as one self-contained HTML page: inline CSS,
 * inline SVG charts (report_svg.h), no script, no link to anything outside. */
#include <string.h>

#include "cli/report_model.h"
#include "cli/report_svg.h"

static const char style[] =
    "body{font-family:system-ui,sans-serif;max-width:64rem;margin:2rem auto;padding:0 1rem;"
    "color:#1b1b1b;line-height:1.45}\n"
    "h1{font-size:1.6rem}h2{font-size:1.25rem;border-bottom:1px solid #ccc;padding-top:1rem}\n"
    "h3{font-size:1rem;margin-bottom:.3rem}\n"
    "table{border-collapse:collapse;margin:.4rem 0 1rem}\n"
    "th,td{border:1px solid #ccc;padding:.2rem .5rem;text-align:left;vertical-align:top}\n"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}\n"
    "th.ref,td.ref{background:#f3f0e6;color:#555;font-style:italic}\n"
    ".prov{color:#555;font-size:.9rem}.stale{color:#a04000;font-weight:bold}\n"
    "code{font-size:.9em}.chart{display:block;margin:.5rem 0 1rem;max-width:100%;height:auto}\n"
    ".chart text{font-size:11px;fill:#333}.chart .label{font-size:12px;font-weight:bold}\n"
    ".chart .axis{stroke:#333}.chart .grid{stroke:#e3e3e3}.chart .tick{stroke:#333}\n";

static void text(struct ik_buf *out, const char *tag, const char *s)
{
    ik_buf_printf(out, "<%s>", tag);
    ik_report_escape(out, s);
    ik_buf_printf(out, "</%s>\n", tag);
}

static void table(struct ik_buf *out, const struct ik_rtable *t)
{
    text(out, "h3", t->caption);
    ik_buf_puts(out, "<table>\n<tr>");
    for (size_t c = 0; c < t->n_cols; c++) {
        ik_buf_puts(out, t->ref_from && c >= t->ref_from ? "<th class=\"ref\">" : "<th>");
        ik_report_escape(out, t->cols[c]);
        ik_buf_puts(out, "</th>");
    }
    ik_buf_puts(out, "</tr>\n");
    struct ik_buf cell = IK_BUF_INIT;
    for (size_t r = 0; r < t->n_rows; r++) {
        ik_buf_puts(out, "<tr>");
        for (size_t c = 0; c < t->n_cols; c++) {
            const struct ik_rcell *x = &t->cells[r * t->n_cols + c];
            bool num = x->kind == IK_RCELL_INT || x->kind == IK_RCELL_NUM;
            bool ref = t->ref_from && c >= t->ref_from;
            ik_buf_printf(out, "<td%s>", ref ? (num ? " class=\"n ref\"" : " class=\"ref\"")
                                             : (num ? " class=\"n\"" : ""));
            ik_buf_reset(&cell);
            ik_rcell_text(x, &cell);
            ik_buf_putc(&cell, '\0');
            ik_report_escape(out, cell.data);
            ik_buf_puts(out, "</td>");
        }
        ik_buf_puts(out, "</tr>\n");
    }
    ik_buf_free(&cell);
    ik_buf_puts(out, "</table>\n");
}

static void provenance(struct ik_buf *out, const struct ik_rsection *s)
{
    char when[32];
    ik_report_time(s->ran_ms, when);
    ik_buf_puts(out, "<p class=\"prov\">From node <code>");
    ik_report_escape(out, s->node);
    ik_buf_printf(out, "</code> (%s), artifact <code>%s</code>, key <code>%.12s</code>, ran %s "
                       "(%.1f s).",
                  s->type, s->kind, s->key, when, s->took_ms / 1000.0);
    if (s->stale) {
        ik_buf_puts(out, " <span class=\"stale\">Stale: ");
        ik_report_escape(out, s->stale);
        ik_buf_puts(out, "</span>");
    }
    ik_buf_puts(out, "</p>\n");
}

static void section(struct ik_buf *out, const struct ik_rsection *s)
{
    ik_buf_printf(out, "<section id=\"%s\">\n<h2>", s->id);
    ik_report_escape(out, s->title);
    ik_buf_puts(out, " — ");
    ik_report_escape(out, s->node);
    ik_buf_puts(out, "</h2>\n");
    provenance(out, s);
    for (size_t i = 0; i < s->n_charts; i++) {
        text(out, "h3", s->charts[i].title);
        ik_report_svg_chart(&s->charts[i], out);
    }
    for (size_t i = 0; i < s->n_tables; i++)
        table(out, &s->tables[i]);
    for (size_t i = 0; i < s->n_notes; i++)
        text(out, "p", s->notes[i]);
    ik_buf_puts(out, "</section>\n");
}

static void not_run(struct ik_buf *out, const struct ik_report *r)
{
    ik_buf_puts(out, "<section id=\"not-run\">\n<h2>Not run yet</h2>\n");
    if (r->n_missing == 0) {
        ik_buf_puts(out, "<p>Every reported node has a result.</p>\n</section>\n");
        return;
    }
    ik_buf_puts(out, "<table>\n<tr><th>node</th><th>type</th><th>why</th></tr>\n");
    for (size_t i = 0; i < r->n_missing; i++) {
        ik_buf_puts(out, "<tr><td>");
        ik_report_escape(out, r->missing[i].node);
        ik_buf_puts(out, "</td><td>");
        ik_report_escape(out, r->missing[i].type);
        ik_buf_puts(out, "</td><td>");
        ik_report_escape(out, r->missing[i].why);
        ik_buf_puts(out, "</td></tr>\n");
    }
    ik_buf_puts(out, "</table>\n</section>\n");
}

void ik_report_html(const struct ik_report *r, struct ik_buf *out)
{
    char made[32];
    ik_report_time(r->made_ms, made);
    ik_buf_puts(out, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                     "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                     "<title>ikada report: ");
    ik_report_escape(out, r->graph);
    ik_buf_printf(out, "</title>\n<style>\n%s</style>\n</head>\n<body>\n<h1>ikada report: ", style);
    ik_report_escape(out, r->graph);
    ik_buf_printf(out, "</h1>\n<p class=\"prov\">Graph <code>");
    ik_report_escape(out, r->graph_id);
    ik_buf_printf(out, "</code>, made %s from the results its refs name.</p>\n<nav><ul>\n", made);
    for (size_t i = 0; i < r->n_sections; i++) {
        ik_buf_printf(out, "<li><a href=\"#%s\">", r->sections[i].id);
        ik_report_escape(out, r->sections[i].title);
        ik_buf_puts(out, " — ");
        ik_report_escape(out, r->sections[i].node);
        ik_buf_puts(out, "</a></li>\n");
    }
    ik_buf_puts(out, "<li><a href=\"#not-run\">Not run yet</a></li>\n</ul></nav>\n");
    for (size_t i = 0; i < r->n_sections; i++)
        section(out, &r->sections[i]);
    not_run(out, r);
    ik_buf_puts(out, "</body>\n</html>\n");
}
