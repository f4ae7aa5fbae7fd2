/* cli/report_svg.c - inline SVG line charts (report_svg.h). */
#include <math.h>
#include <stdbool.h>

#include "cli/report_svg.h"

/* The drawing area inside the picture, in SVG units. */
enum { W = 640, H = 300, LEFT = 64, RIGHT = 120, TOP = 16, BOTTOM = 48 };

static const char *const colors[] = {"#1f6fb2", "#d9661f", "#2d8a3e", "#8e44ad"};

void ik_report_escape(struct ik_buf *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': ik_buf_puts(out, "&amp;"); break;
        case '<': ik_buf_puts(out, "&lt;"); break;
        case '>': ik_buf_puts(out, "&gt;"); break;
        case '"': ik_buf_puts(out, "&quot;"); break;
        case '\'': ik_buf_puts(out, "&#39;"); break;
        default: ik_buf_putc(out, *s); break;
        }
    }
}

struct range {
    double lo, hi;
};

/* A tick step of 1, 2 or 5 times a power of ten giving about five ticks. */
static double tick_step(struct range r)
{
    double raw = (r.hi - r.lo) / 5, p = pow(10, floor(log10(raw)));
    double m = raw / p;
    return (m < 1.5 ? 1 : m < 3.5 ? 2 : m < 7.5 ? 5 : 10) * p;
}

/* The range of the values, widened to whole ticks; a single value gets room
 * around it. */
static struct range axis_range(const double *v[], const size_t *n, size_t k)
{
    struct range r = {INFINITY, -INFINITY};
    for (size_t s = 0; s < k; s++)
        for (size_t i = 0; i < n[s]; i++) {
            r.lo = fmin(r.lo, v[s][i]);
            r.hi = fmax(r.hi, v[s][i]);
        }
    if (r.hi - r.lo < 1e-12 * fmax(1, fabs(r.hi))) {
        double pad = r.hi == 0 ? 1 : fabs(r.hi) / 2;
        r.lo -= pad;
        r.hi += pad;
    }
    double step = tick_step(r);
    r.lo = floor(r.lo / step) * step;
    r.hi = ceil(r.hi / step) * step;
    return r;
}

static double px(struct range r, double v, double from, double to)
{
    return from + (v - r.lo) / (r.hi - r.lo) * (to - from);
}

/* Ticks, numbers and grid lines of one axis. */
static void axis(struct ik_buf *out, struct range r, bool is_x)
{
    double step = tick_step(r);
    int decimals = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
    for (double v = r.lo; v <= r.hi + step / 1e6; v += step) {
        if (is_x) {
            double x = px(r, v, LEFT, W - RIGHT);
            ik_buf_printf(out, "<line class=\"tick\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\"/>"
                               "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\">%.*f</text>\n",
                          x, H - BOTTOM, x, H - BOTTOM + 5, x, H - BOTTOM + 18, decimals, v);
        } else {
            double y = px(r, v, H - BOTTOM, TOP);
            ik_buf_printf(out, "<line class=\"grid\" x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\"/>"
                               "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.*f</text>\n",
                          LEFT - 5, y, W - RIGHT, y, LEFT - 8, y + 4, decimals, v);
        }
    }
}

static void series(struct ik_buf *out, const struct ik_rseries *s, const char *color,
                   struct range rx, struct range ry)
{
    ik_buf_printf(out, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
    for (size_t i = 0; i < s->n; i++)
        ik_buf_printf(out, "%s%.1f,%.1f", i ? " " : "", px(rx, s->x[i], LEFT, W - RIGHT),
                      px(ry, s->y[i], H - BOTTOM, TOP));
    ik_buf_puts(out, "\"/>\n");
    for (size_t i = 0; i < s->n; i++)
        ik_buf_printf(out, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                      px(rx, s->x[i], LEFT, W - RIGHT), px(ry, s->y[i], H - BOTTOM, TOP), color);
    ik_buf_putc(out, '\n');
}

void ik_report_svg_chart(const struct ik_rchart *c, struct ik_buf *out)
{
    const double *xs[8], *ys[8];
    size_t ns[8], k = 0, points = 0;
    for (size_t s = 0; s < c->n_series && k < 8; s++, k++) {
        xs[k] = c->series[s].x;
        ys[k] = c->series[s].y;
        points += ns[k] = c->series[s].n;
    }
    ik_buf_printf(out, "<svg class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 %d %d\" "
                       "width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
                  W, H, W, H);
    ik_report_escape(out, c->title);
    ik_buf_puts(out, "\">\n<title>");
    ik_report_escape(out, c->title);
    ik_buf_puts(out, "</title>\n");
    if (points == 0) {
        ik_buf_printf(out, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\">no points</text></svg>\n",
                      W / 2, H / 2);
        return;
    }
    struct range rx = axis_range(xs, ns, k), ry = axis_range(ys, ns, k);
    axis(out, rx, true);
    axis(out, ry, false);
    ik_buf_printf(out, "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>"
                       "<line class=\"axis\" x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\"/>\n",
                  LEFT, H - BOTTOM, W - RIGHT, H - BOTTOM, LEFT, TOP, LEFT, H - BOTTOM);
    ik_buf_printf(out, "<text class=\"label\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">",
                  (LEFT + W - RIGHT) / 2, H - 8);
    ik_report_escape(out, c->x_label);
    ik_buf_printf(out, "</text>\n<text class=\"label\" x=\"14\" y=\"%d\" text-anchor=\"middle\" "
                       "transform=\"rotate(-90 14 %d)\">",
                  (TOP + H - BOTTOM) / 2, (TOP + H - BOTTOM) / 2);
    ik_report_escape(out, c->y_label);
    ik_buf_puts(out, "</text>\n");
    for (size_t s = 0, shown = 0; s < k; s++) {
        if (ns[s] == 0)
            continue;
        const char *color = colors[s % 4];
        series(out, &c->series[s], color, rx, ry);
        int y = TOP + 10 + 18 * (int)shown++;
        ik_buf_printf(out, "<rect x=\"%d\" y=\"%d\" width=\"12\" height=\"4\" fill=\"%s\"/>"
                           "<text x=\"%d\" y=\"%d\">",
                      W - RIGHT + 12, y - 4, color, W - RIGHT + 30, y);
        ik_report_escape(out, c->series[s].name);
        ik_buf_puts(out, "</text>\n");
    }
    ik_buf_puts(out, "</svg>\n");
}
