/* engine/display.c - live progress lines on a TTY, plain lines elsewhere. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/display.h"

void ik_display_init(struct ik_display *disp, bool live)
{
    disp->live = live;
    disp->color = live && getenv("NO_COLOR") == NULL;
    disp->drawn = 0;
}

void ik_display_clear(struct ik_display *disp)
{
    if (disp->live && disp->drawn > 0)
        fprintf(stderr, "\x1b[%dA\x1b[J", disp->drawn);
    disp->drawn = 0;
}

void ik_display_event(struct ik_display *disp, const char *fmt, ...)
{
    ik_display_clear(disp);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

static void format_eta(char *out, size_t n, const struct ik_display_line *l)
{
    out[0] = '\0';
    if (l->total == 0 || l->done == 0 || l->done >= l->total)
        return;
    double left = l->elapsed_s * (double)(l->total - l->done) / (double)l->done;
    snprintf(out, n, " ETA %dm%02ds", (int)left / 60, (int)left % 60);
}

void ik_display_live(struct ik_display *disp, const struct ik_display_line *lines, int n)
{
    if (!disp->live)
        return;
    ik_display_clear(disp);
    for (int i = 0; i < n; i++) {
        const struct ik_display_line *l = &lines[i];
        if (l->total == 0 && l->done == 0) { /* a node that reports no progress */
            fprintf(stderr, "%s%-16s%s running %.1f s  %s\x1b[K\n", disp->color ? "\x1b[1m" : "",
                    l->name, disp->color ? "\x1b[0m" : "", l->elapsed_s, l->counters ? l->counters : "");
            continue;
        }
        char bar[23] = "[                    ]", eta[32];
        if (l->total > 0) {
            int fill = (int)(20.0 * (double)l->done / (double)l->total);
            for (int k = 0; k < fill && k < 20; k++)
                bar[1 + k] = '#';
        }
        format_eta(eta, sizeof eta, l);
        double rate = l->elapsed_s > 0 ? (double)l->done / l->elapsed_s : 0;
        fprintf(stderr, "%s%-16s%s %s %llu/%llu %s %.1f/s%s  %s\x1b[K\n",
                disp->color ? "\x1b[1m" : "", l->name, disp->color ? "\x1b[0m" : "", bar,
                (unsigned long long)l->done, (unsigned long long)l->total, l->unit ? l->unit : "",
                rate, eta, l->counters ? l->counters : "");
    }
    disp->drawn = n;
    fflush(stderr);
}
