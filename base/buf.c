/* base/buf.c - growable byte buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xmalloc.h"

static void reserve(struct ik_buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap *= 2;
    b->data = ik_xrealloc(b->data, cap);
    b->cap = cap;
}

void ik_buf_append(struct ik_buf *b, const void *data, size_t len)
{
    reserve(b, len);
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void ik_buf_puts(struct ik_buf *b, const char *s) { ik_buf_append(b, s, strlen(s)); }

void ik_buf_putc(struct ik_buf *b, char c) { ik_buf_append(b, &c, 1); }

void ik_buf_vprintf(struct ik_buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(NULL, 0, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return;
    reserve(b, (size_t)n);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
}

void ik_buf_printf(struct ik_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void ik_buf_reset(struct ik_buf *b)
{
    b->len = 0;
    if (b->data)
        b->data[0] = '\0';
}

char *ik_buf_steal(struct ik_buf *b)
{
    char *s = b->data ? b->data : ik_xstrdup("");
    b->data = NULL;
    b->len = b->cap = 0;
    return s;
}

void ik_buf_free(struct ik_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
