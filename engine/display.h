/* engine/display.h - what a run prints while it runs (stderr).
 *
 * On a TTY (and TERM not "dumb") the running nodes get one live line each,
 * redrawn in place: name, bar, done/total, rate, counters, ETA. Otherwise
 * (pipes, CI logs) each event is one plain line and progress is printed at most
 * every 10 s per node (ninja's line_printer). NO_COLOR turns colour off. */
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
};

void ik_display_init(struct ik_display *disp, bool live);
/* Prints one event line above the live block. */
void ik_display_event(struct ik_display *disp, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Redraws the live block (live mode only). */
void ik_display_live(struct ik_display *disp, const struct ik_display_line *lines, int n);
/* Erases the live block. */
void ik_display_clear(struct ik_display *disp);

#endif
