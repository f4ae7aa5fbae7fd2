/* engine/display.h - what a run prints while it runs (stderr).
 *
 * On a TTY (and TERM not "dumb") the running nodes get one live line each,
 * redrawn in place: name, bar, done/total, rate, counters, ETA. Otherwise
 * (pipes, CI logs) each event is one plain line and progress is printed at most
 * every 10 s per node (ninja's line_printer). NO_COLOR turns colour off.
 *
 * A live line is cut to the terminal's width (by display columns, so CJK
 * names count double): a line that wrapped would leave the cursor arithmetic
 * of the redraw one row short per wrap and flood the screen. Every write
 * first returns to column 0, so whatever the terminal echoed on the cursor's
 * row (the "^C" of an interrupt) is overwritten, not prefixed to the text. */
#ifndef IK_ENGINE_DISPLAY_H
#define IK_ENGINE_DISPLAY_H

#include <stdbool.h>
#include <stdint.h>

struct ik_display_line {
    const char *name;
    uint64_t done, total;
    const char *unit;
    double elapsed_s;
    const char *counters; /* preformatted "loss 1.23  usd 0.41", may be NULL */
};

struct ik_display {
    bool live;
    bool color;
    int drawn; /* private: live lines currently on screen */
    int cols;  /* private: the terminal's width at the last redraw */
};

void ik_display_init(struct ik_display *disp, bool live);
/* Prints one event line above the live block. */
void ik_display_event(struct ik_display *disp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Redraws the live block (live mode only). */
void ik_display_live(struct ik_display *disp, const struct ik_display_line *lines, int n);
/* The columns a live line may take on a terminal cols wide: one less, since
 * a line filling the last column makes some terminals wrap early. Exposed for
 * the tests. */
int ik_display_max_cols(int cols);
/* Erases the live block. */
void ik_display_clear(struct ik_display *disp);

#endif
