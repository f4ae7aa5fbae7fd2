/* base/diag.c - formatting of user-facing failures (see diag.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"

void ik_diag_free(struct ik_diag *d)
{
    free(d->text);
    d->text = NULL;
    d->code = 0;
}

static int store(struct ik_diag *d, int code, struct ik_buf *b)
{
    free(d->text);
    d->text = ik_buf_steal(b);
    d->code = code;
    return code;
}

int ik_diag_set(struct ik_diag *d, int code, const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, "error: ");
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return store(d, code, &b);
}

/* Appends the source line `line` (1-based) of text and a caret under col. */
static void append_excerpt(struct ik_buf *b, const char *text, size_t len, int line, int col)
{
    const char *p = text, *end = text + len;
    for (int i = 1; i < line && p < end; i++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL)
            return;
        p = nl + 1;
    }
    const char *eol = memchr(p, '\n', (size_t)(end - p));
    size_t n = eol ? (size_t)(eol - p) : (size_t)(end - p);
    ik_buf_puts(b, "\n    ");
    ik_buf_append(b, p, n);
    ik_buf_puts(b, "\n    ");
    /* Keep tabs so the caret lines up under a tab-indented line. */
    for (int i = 1; i < col && (size_t)(i - 1) < n; i++)
        ik_buf_putc(b, p[i - 1] == '\t' ? '\t' : ' ');
    ik_buf_putc(b, '^');
}

int ik_diag_at(struct ik_diag *d, int code, const struct ik_srcloc *loc, const char *text,
               size_t text_len, const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    if (loc && loc->file)
        ik_buf_printf(&b, "%s:", loc->file);
    if (loc && loc->line > 0)
        ik_buf_printf(&b, "%d:", loc->line);
    if (loc && loc->line > 0 && loc->col > 0)
        ik_buf_printf(&b, "%d:", loc->col);
    ik_buf_puts(&b, b.len ? " error: " : "error: ");
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    if (text && loc && loc->line > 0)
        append_excerpt(&b, text, text_len, loc->line, loc->col);
    return store(d, code, &b);
}

int ik_diag_row(struct ik_diag *d, int code, const char *file, long row, const char *fmt, ...)
{
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_printf(&b, "%s:%ld: error: ", file, row);
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return store(d, code, &b);
}

void ik_diag_hint(struct ik_diag *d, const char *fmt, ...)
{
    if (d->text == NULL)
        return;
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_puts(&b, d->text);
    ik_buf_puts(&b, "\nhint: ");
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    store(d, d->code, &b);
}

void ik_diag_append(struct ik_diag *d, const struct ik_diag *more)
{
    if (more->text == NULL && more->code == 0)
        return;
    struct ik_buf b = IK_BUF_INIT;
    if (d->text != NULL) {
        ik_buf_puts(&b, d->text);
        ik_buf_putc(&b, '\n');
    }
    ik_buf_puts(&b, ik_diag_message(more));
    store(d, d->code != 0 ? d->code : more->code, &b);
}

void ik_diag_prefix(struct ik_diag *d, const char *fmt, ...)
{
    if (d->text == NULL)
        return;
    const char *at = strstr(d->text, "error: ");
    size_t head = at ? (size_t)(at - d->text) + strlen("error: ") : 0;
    struct ik_buf b = IK_BUF_INIT;
    ik_buf_append(&b, d->text, head);
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    ik_buf_puts(&b, d->text + head);
    store(d, d->code, &b);
}

const char *ik_diag_message(const struct ik_diag *d)
{
    return d->text ? d->text : ik_strerror(d->code);
}

void ik_diag_print(const struct ik_diag *d)
{
    const char *msg = ik_diag_message(d);
    if (strncmp(msg, "error: ", 7) == 0)
        fprintf(stderr, "ikada: %s\n", msg);
    else
        fprintf(stderr, "%s\n", msg);
}
