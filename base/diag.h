/* base/diag.h - the one place a user-facing failure is described.
 *
 * Every function that user input can reach takes `struct ik_diag *d` last. The
 * function that knows the context fills it once, in the compiler form
 *     graphs/n3.yaml:12:7: error: unknown param 'lr' for type 'train'; did you mean 'lr_max'?
 *        lr: 2e-4
 *        ^
 *     hint: ...
 * and returns the same negative code it stored. Callers may add a prefix
 * ("node 'train': "). A diag owns its text; ik_diag_free releases it. Setting a
 * diag that already holds a message replaces it, so the innermost (most
 * specific) message is kept only if callers do not overwrite: callers that
 * merely propagate a failure return the code without touching the diag. */
#ifndef IK_BASE_DIAG_H
#define IK_BASE_DIAG_H

#include <stddef.h>

/* A position in a text file, counted from 1 (libyaml's marks count from 0). */
struct ik_srcloc {
    const char *file; /* borrowed; NULL if unknown */
    int line;         /* 1-based; 0 if unknown */
    int col;          /* 1-based; 0 if unknown */
};

struct ik_diag {
    int code;   /* read-only: 0 or the negative code of the failure */
    char *text; /* read-only: NULL or the full message, without a final newline */
};

#define IK_DIAG_INIT {0, NULL}

void ik_diag_free(struct ik_diag *d);

/* "error: <fmt>" with no location. Returns code. */
int ik_diag_set(struct ik_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<file>:<line>:<col>: error: <fmt>", then, if `text` (the whole source, of
 * text_len bytes) is given, the source line and a caret under the column.
 * Returns code. */
int ik_diag_at(struct ik_diag *d, int code, const struct ik_srcloc *loc, const char *text,
               size_t text_len, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* "<file>:<row>: error: <fmt>" for line-oriented data (JSONL, CSV rows).
 * Returns code. */
int ik_diag_row(struct ik_diag *d, int code, const char *file, long row, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* Appends "\nhint: <fmt>". No-op on an empty diag. */
void ik_diag_hint(struct ik_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Inserts "<fmt>" before the message's first line's text after "error: ", or at
 * the start when there is no "error: ". No-op on an empty diag. */
void ik_diag_prefix(struct ik_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds more's message to d on lines of its own, so one report can name
 * several problems (every missing input file, every unset key). An empty d
 * takes more's code and text; d keeps its code otherwise. */
void ik_diag_append(struct ik_diag *d, const struct ik_diag *more);

/* Message text, or the generic text for the code when no message was set. */
const char *ik_diag_message(const struct ik_diag *d);

/* Prints "ikada: <message>\n" to stderr (or the message alone if it already
 * starts with a location). */
void ik_diag_print(const struct ik_diag *d);

#endif
