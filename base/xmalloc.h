/* base/xmalloc.h - allocation that cannot fail (tmux xmalloc.c, redis zmalloc.c).
 *
 * Small host allocations go through these: on exhaustion they print the size
 * that failed and abort, since no caller could recover meaningfully. Large,
 * size-driven allocations (tensors, file buffers) use malloc and report
 * -ENOMEM to the user instead. */
#ifndef IK_BASE_XMALLOC_H
#define IK_BASE_XMALLOC_H

#include <stddef.h>

void *ik_xmalloc(size_t size);
void *ik_xcalloc(size_t n, size_t size);
void *ik_xrealloc(void *ptr, size_t size);
/* Grows an array of n items of item_size to at least need items, doubling;
 * updates *cap. Returns the (possibly moved) array. */
void *ik_xgrow(void *ptr, size_t *cap, size_t need, size_t item_size);
char *ik_xstrdup(const char *s);
char *ik_xstrndup(const char *s, size_t n);
/* Formatted allocation; the caller frees. */
char *ik_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
