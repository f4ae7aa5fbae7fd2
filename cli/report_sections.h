/* cli/report_sections.h - which node types `ikada report` shows, and how each
 * one's artifact becomes a section.
 *
 * One row per node type: the artifact kind the report reads among the node's
 * outputs (found by kind, not by port name), the section's title and the
 * function that turns the unpacked artifact into tables, charts and notes. A
 * graph's node of a type not listed here (command, ...) is not reported. The
 * readers take fields the artifact lacks as absent figures ("—"), so an older
 * artifact still gives a section. */
#ifndef IK_CLI_REPORT_SECTIONS_H
#define IK_CLI_REPORT_SECTIONS_H

#include <msgpack.h>

#include "cli/report_model.h"

struct ik_report_kind {
    const char *type;  /* node type: "evaluate" */
    const char *kind;  /* the artifact read: "eval.report" */
    const char *title; /* "Evaluation" */
    void (*fill)(struct ik_rsection *s, const msgpack_object *root);
};

/* In the order of a pipeline; ends with {NULL}. */
extern const struct ik_report_kind ik_report_kinds[];

/* The row for a node type, or NULL. */
const struct ik_report_kind *ik_report_kind_of(const char *type);

#endif
