/* engine/display.c - live progress lines on a TTY, plain lines elsewhere. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "engine/display.h"

/* Without a size from the terminal (or COLUMNS), the classic width. */
#define DEFAULT_COLS 80

static int terminal_cols(void)
{
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    const char *env = getenv("COLUMNS");
    long cols = env ? strtol(env, NULL, 10) : 0;
    return cols > 0 && cols < 10000 ? (int)cols : DEFAULT_COLS;
}

void ik_display_init(struct ik_display *disp, bool live)
{
    disp->live = live;
    disp->color = live && getenv("NO_COLOR") == NULL;
    disp->drawn = 0;
    disp->cols = live ? terminal_cols() : 0;
}

int ik_display_max_cols(int cols)
{
    return cols > 1 ? cols - 1 : 1;
}

void ik_display_clear(struct ik_display *disp)
{
    if (!disp->live)
        return;
    /* Column 0 first, then up over the block (if any) and erase to the end. */
    if (disp->drawn > 0)
        fprintf(stderr, "\r\x1b[%dA\x1b[J", disp->drawn);
    else
        fputs("\r\x1b[K", stderr);
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

/* What follows the name on a live line: the bar and figures, or the time. */
static void format_rest(struct ik_buf *b, const struct ik_display_line *l)
{
    const char *counters = l->counters ? l->counters : "";
    if (l->total == 0 && l->done == 0) { /* a node that reports no progress */
        ik_buf_printf(b, " running %.1f s  %s", l->elapsed_s, counters);
        return;
    }
    char bar[23] = "[                    ]", eta[32];
    if (l->total > 0) {
        int fill = (int)(20.0 * (double)l->done / (double)l->total);
        for (int k = 0; k < fill && k < 20; k++)
            bar[1 + k] = '#';
    }
    format_eta(eta, sizeof eta, l);
    double rate = l->elapsed_s > 0 ? (double)l->done / l->elapsed_s : 0;
    ik_buf_printf(b, " %s %llu/%llu %s %.1f/s%s  %s", bar, (unsigned long long)l->done,
                  (unsigned long long)l->total, l->unit ? l->unit : "", rate, eta, counters);
}

/* One live line: the name padded to 16 columns (bold), the rest, all cut to
 * the terminal's width. */
static void draw_line(const struct ik_display *disp, const struct ik_display_line *l)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, l->name);
    for (size_t w = ik_utf8_width(l->name, strlen(l->name)); w < 16; w++)
        ik_buf_puts(&b, " ");
    size_t name_len = b.len;
    format_rest(&b, l);
    size_t keep = ik_utf8_cut_width(b.data, b.len, (size_t)ik_display_max_cols(disp->cols));
    size_t bold = keep < name_len ? keep : name_len;
    fprintf(stderr, "%s%.*s%s%.*s\x1b[K\n", disp->color ? "\x1b[1m" : "", (int)bold, b.data,
            disp->color ? "\x1b[0m" : "", (int)(keep - bold), b.data + bold);
    ik_buf_free(&b);
}

void ik_display_live(struct ik_display *disp, const struct ik_display_line *lines, int n)
{
    if (!disp->live)
        return;
    ik_display_clear(disp);
    disp->cols = terminal_cols(); /* the window may have been resized */
    for (int i = 0; i < n; i++)
        draw_line(disp, &lines[i]);
    disp->drawn = n;
    fflush(stderr);
}
