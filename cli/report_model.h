/* cli/report_model.h - what `ikada report` shows, apart from how it is shown.
 *
 * cli/report.c fills a struct ik_report from a graph's refs and artifacts
 * (cli/report_sections.c reads each artifact kind); one renderer per format
 * (report_html.c, report_md.c, report_json.c) writes it. A report is a list of
 * sections, one per reported node, each with its provenance (node, type, key,
 * when the action ran, whether it is the current result of the graph), tables
 * of typed cells, line charts and notes; then the nodes that have no result.
 *
 * Cells keep their values typed so that JSON carries numbers and the text
 * formats choose the digits: a number cell holds the value and how many
 * decimals to print it with. A NONE cell is a figure that does not exist
 * (printed "—", JSON null). */
#ifndef IK_CLI_REPORT_MODEL_H
#define IK_CLI_REPORT_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum ik_rcell_kind { IK_RCELL_NONE, IK_RCELL_INT, IK_RCELL_NUM, IK_RCELL_STR };

struct ik_rcell {
    enum ik_rcell_kind kind;
    int64_t i;
    double x;
    int digits; /* IK_RCELL_NUM: decimals in the text formats */
    char *s;    /* IK_RCELL_STR, owned */
};

/* A table: n_cols column names, then rows of n_cols cells, row-major. The
 * first column names the row. */
struct ik_rtable {
    char *caption;
    char **cols;
    size_t n_cols;
    size_t ref_from; /* columns from here on hold the reference's figures; 0: none */
    struct ik_rcell *cells;
    size_t n_rows, cap_;
};

struct ik_rseries {
    char *name;
    double *x, *y;
    size_t n, x_cap_, y_cap_;
};

/* A line chart of series against a shared x axis. */
struct ik_rchart {
    char *title, *x_label, *y_label;
    struct ik_rseries *series;
    size_t n_series;
};

struct ik_rsection {
    char *id;    /* unique in the report: "eval-eval" (type, node) */
    char *title; /* "Evaluation" */
    char *node, *type, *kind;
    char key[65];     /* the action key, hex */
    int64_t ran_ms;   /* when the action started (unix ms) */
    int64_t took_ms;  /* how long it ran */
    char *stale;      /* NULL: the graph's current result; else why it is not */
    struct ik_rtable *tables;
    size_t n_tables;
    struct ik_rchart *charts;
    size_t n_charts;
    char **notes;
    size_t n_notes;
};

/* A node the report has nothing for, and why. */
struct ik_rmissing {
    char *node, *type, *why;
};

struct ik_report {
    char *graph;    /* the path given */
    char *graph_id; /* its identity in the cache */
    int64_t made_ms;
    struct ik_rsection *sections;
    size_t n_sections, cap_;
    struct ik_rmissing *missing;
    size_t n_missing, missing_cap_;
};

void ik_report_free(struct ik_report *r);

/* Adds an empty section (its fields zero) and returns it. */
struct ik_rsection *ik_report_section(struct ik_report *r, const char *type, const char *node,
                                      const char *title);
void ik_report_missing(struct ik_report *r, const char *node, const char *type, const char *why);
void ik_rsection_note(struct ik_rsection *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A new table of the NULL-terminated column names. */
struct ik_rtable *ik_rsection_table(struct ik_rsection *s, const char *caption,
                                    const char *const *cols);
/* A new row of n_cols NONE cells; fill them with the setters. */
struct ik_rcell *ik_rtable_row(struct ik_rtable *t);
void ik_rcell_int(struct ik_rcell *c, int64_t v);
void ik_rcell_num(struct ik_rcell *c, double v, int digits);
void ik_rcell_str(struct ik_rcell *c, const char *s);
/* The row's label cell and the rest in one call: a row "label" whose other
 * cells are left NONE. */
struct ik_rcell *ik_rtable_labeled(struct ik_rtable *t, const char *label);

struct ik_rchart *ik_rsection_chart(struct ik_rsection *s, const char *title, const char *x_label,
                                    const char *y_label);
struct ik_rseries *ik_rchart_series(struct ik_rchart *c, const char *name);
void ik_rseries_add(struct ik_rseries *s, double x, double y);

/* The cell's text in the text formats ("0.5646", "47", "—"). */
void ik_rcell_text(const struct ik_rcell *c, struct ik_buf *out);
/* "2025-01-31 14:05:09 UTC". */
void ik_report_time(int64_t ms, char out[32]);

/* The renderers: the whole document into out. */
void ik_report_html(const struct ik_report *r, struct ik_buf *out);
void ik_report_md(const struct ik_report *r, struct ik_buf *out);
void ik_report_json(const struct ik_report *r, struct ik_buf *out);

#endif
