/* cli/report_svg.h - the pieces of the HTML report that are XML: escaping
 * text, and line charts as inline SVG (axes with ticks and numbers, the axis
 * labels, a legend, each series a polyline with a dot per point, so that one
 * point still shows). No script, no external file: the SVG reads as it is. */
#ifndef IK_CLI_REPORT_SVG_H
#define IK_CLI_REPORT_SVG_H

#include "base/buf.h"
#include "cli/report_model.h"

/* Appends s with & < > " ' escaped, for text and attribute values alike. */
void ik_report_escape(struct ik_buf *out, const char *s);

/* Appends one <svg> element drawing c; a chart without points says so. */
void ik_report_svg_chart(const struct ik_rchart *c, struct ik_buf *out);

#endif
