/* cli/report_json.c - the report as JSON, for scripts:
 *   {graph, graph_id, made_ms,
 *    sections: [{id, title, node, type, kind, key, ran_ms, took_ms, stale,
 *                tables: [{caption, columns, reference_columns,
 *                          rows: [{<column>: value}]}],
 *                charts: [{title, x_label, y_label, series: [{name, points: [[x, y]]}]}],
 *                notes: [str]}],
 *    not_run: [{node, type, why}]}
 * Values keep their type: numbers are numbers at full precision, an absent
 * figure is null. */
#include "base/mpjson.h"
#include "cli/report_model.h"

static void key_str(struct ik_jsonw *w, const char *k, const char *v)
{
    ik_jsonw_key(w, k);
    if (v)
        ik_jsonw_str(w, v);
    else
        ik_jsonw_null(w);
}

static void cell(struct ik_jsonw *w, const struct ik_rcell *c)
{
    switch (c->kind) {
    case IK_RCELL_INT: ik_jsonw_int(w, c->i); break;
    case IK_RCELL_NUM: ik_jsonw_double(w, c->x); break;
    case IK_RCELL_STR: ik_jsonw_str(w, c->s); break;
    default: ik_jsonw_null(w); break;
    }
}

static void table(struct ik_jsonw *w, const struct ik_rtable *t)
{
    ik_jsonw_begin_object(w);
    key_str(w, "caption", t->caption);
    ik_jsonw_key(w, "columns");
    ik_jsonw_begin_array(w);
    for (size_t c = 0; c < t->n_cols; c++)
        ik_jsonw_str(w, t->cols[c]);
    ik_jsonw_end_array(w);
    ik_jsonw_key(w, "reference_columns");
    ik_jsonw_begin_array(w);
    for (size_t c = t->ref_from ? t->ref_from : t->n_cols; c < t->n_cols; c++)
        ik_jsonw_str(w, t->cols[c]);
    ik_jsonw_end_array(w);
    ik_jsonw_key(w, "rows");
    ik_jsonw_begin_array(w);
    for (size_t r = 0; r < t->n_rows; r++) {
        ik_jsonw_begin_object(w);
        for (size_t c = 0; c < t->n_cols; c++) {
            ik_jsonw_key(w, t->cols[c]);
            cell(w, &t->cells[r * t->n_cols + c]);
        }
        ik_jsonw_end_object(w);
    }
    ik_jsonw_end_array(w);
    ik_jsonw_end_object(w);
}

static void chart(struct ik_jsonw *w, const struct ik_rchart *c)
{
    ik_jsonw_begin_object(w);
    key_str(w, "title", c->title);
    key_str(w, "x_label", c->x_label);
    key_str(w, "y_label", c->y_label);
    ik_jsonw_key(w, "series");
    ik_jsonw_begin_array(w);
    for (size_t i = 0; i < c->n_series; i++) {
        ik_jsonw_begin_object(w);
        key_str(w, "name", c->series[i].name);
        ik_jsonw_key(w, "points");
        ik_jsonw_begin_array(w);
        for (size_t k = 0; k < c->series[i].n; k++) {
            ik_jsonw_begin_array(w);
            ik_jsonw_double(w, c->series[i].x[k]);
            ik_jsonw_double(w, c->series[i].y[k]);
            ik_jsonw_end_array(w);
        }
        ik_jsonw_end_array(w);
        ik_jsonw_end_object(w);
    }
    ik_jsonw_end_array(w);
    ik_jsonw_end_object(w);
}

static void section(struct ik_jsonw *w, const struct ik_rsection *s)
{
    ik_jsonw_begin_object(w);
    key_str(w, "id", s->id);
    key_str(w, "title", s->title);
    key_str(w, "node", s->node);
    key_str(w, "type", s->type);
    key_str(w, "kind", s->kind);
    key_str(w, "key", s->key);
    ik_jsonw_key(w, "ran_ms");
    ik_jsonw_int(w, s->ran_ms);
    ik_jsonw_key(w, "took_ms");
    ik_jsonw_int(w, s->took_ms);
    key_str(w, "stale", s->stale);
    ik_jsonw_key(w, "tables");
    ik_jsonw_begin_array(w);
    for (size_t i = 0; i < s->n_tables; i++)
        table(w, &s->tables[i]);
    ik_jsonw_end_array(w);
    ik_jsonw_key(w, "charts");
    ik_jsonw_begin_array(w);
    for (size_t i = 0; i < s->n_charts; i++)
        chart(w, &s->charts[i]);
    ik_jsonw_end_array(w);
    ik_jsonw_key(w, "notes");
    ik_jsonw_begin_array(w);
    for (size_t i = 0; i < s->n_notes; i++)
        ik_jsonw_str(w, s->notes[i]);
    ik_jsonw_end_array(w);
    ik_jsonw_end_object(w);
}

void ik_report_json(const struct ik_report *r, struct ik_buf *out)
{
    struct ik_jsonw w;
    ik_jsonw_init(&w, out, 2);
    ik_jsonw_begin_object(&w);
    key_str(&w, "graph", r->graph);
    key_str(&w, "graph_id", r->graph_id);
    ik_jsonw_key(&w, "made_ms");
    ik_jsonw_int(&w, r->made_ms);
    ik_jsonw_key(&w, "sections");
    ik_jsonw_begin_array(&w);
    for (size_t i = 0; i < r->n_sections; i++)
        section(&w, &r->sections[i]);
    ik_jsonw_end_array(&w);
    ik_jsonw_key(&w, "not_run");
    ik_jsonw_begin_array(&w);
    for (size_t i = 0; i < r->n_missing; i++) {
        ik_jsonw_begin_object(&w);
        key_str(&w, "node", r->missing[i].node);
        key_str(&w, "type", r->missing[i].type);
        key_str(&w, "why", r->missing[i].why);
        ik_jsonw_end_object(&w);
    }
    ik_jsonw_end_array(&w);
    ik_jsonw_end_object(&w);
    ik_buf_putc(out, '\n');
}
