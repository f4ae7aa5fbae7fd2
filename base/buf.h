/* base/buf.h - a growable byte buffer, always NUL-terminated.
 *
 * Used to build messages, JSON text and file contents. The struct is public so
 * callers can embed it; fields are read-only outside buf.c. Growth uses
 * ik_xrealloc and so cannot fail. */
#ifndef IK_BASE_BUF_H
#define IK_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct ik_buf {
    char *data; /* read-only: NUL-terminated, NULL until the first append */
    size_t len; /* read-only */
    size_t cap; /* private */
};

#define IK_BUF_INIT {NULL, 0, 0}

void ik_buf_append(struct ik_buf *b, const void *data, size_t len);
void ik_buf_puts(struct ik_buf *b, const char *s);
void ik_buf_putc(struct ik_buf *b, char c);
void ik_buf_printf(struct ik_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void ik_buf_vprintf(struct ik_buf *b, const char *fmt, va_list ap);
/* Empties the buffer, keeping its storage. */
void ik_buf_reset(struct ik_buf *b);
/* Hands the bytes to the caller (who frees them) and empties the buffer. Never
 * returns NULL: an empty buffer yields "". */
char *ik_buf_steal(struct ik_buf *b);
void ik_buf_free(struct ik_buf *b);

#endif
