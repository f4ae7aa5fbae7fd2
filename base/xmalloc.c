/* base/xmalloc.c - aborting allocators; see xmalloc.h for why they abort. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"

static void out_of_memory(size_t size)
{
    fprintf(stderr, "ikada: out of memory allocating %zu bytes\n", size);
    abort();
}

void *ik_xmalloc(size_t size)
{
    void *p = malloc(size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *ik_xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (p == NULL)
        out_of_memory(n * size);
    return p;
}

void *ik_xrealloc(void *ptr, size_t size)
{
    void *p = realloc(ptr, size ? size : 1);
    if (p == NULL)
        out_of_memory(size);
    return p;
}

void *ik_xgrow(void *ptr, size_t *cap, size_t need, size_t item_size)
{
    if (need <= *cap)
        return ptr;
    size_t n = *cap ? *cap : 8;
    while (n < need)
        n *= 2;
    *cap = n;
    return ik_xrealloc(ptr, n * item_size);
}

char *ik_xstrdup(const char *s)
{
    return ik_xstrndup(s, strlen(s));
}

char *ik_xstrndup(const char *s, size_t n)
{
    char *p = ik_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *ik_xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *s = NULL;
    int n = vasprintf(&s, fmt, ap);
    va_end(ap);
    if (n < 0)
        out_of_memory(strlen(fmt));
    return s;
}
