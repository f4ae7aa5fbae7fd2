/* base/glob.c - glob(3) with names relative to the pattern's fixed folder,
 * sorted bytewise (base/glob.h). */
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/glob.h"
#include "base/xmalloc.h"

/* Length of the pattern's fixed folder prefix, including its final '/':
 * everything before the first component that holds a wildcard. */
static size_t fixed_prefix(const char *pattern)
{
    const char *wild = strpbrk(pattern, "*?[{");
    const char *end = wild ? wild : pattern + strlen(pattern);
    while (end > pattern && end[-1] != '/')
        end--;
    return (size_t)(end - pattern);
}

/* The errno of the folder glob could not read (errfunc has no argument). */
static _Thread_local int read_errno;

/* A missing folder is no match; any other folder that cannot be read stops
 * the expansion, so a set is never silently short of files. */
static int on_read_error(const char *path, int err)
{
    (void)path;
    if (err == ENOENT || err == ENOTDIR)
        return 0;
    read_errno = err;
    return 1;
}

static int cmp_match(const void *a, const void *b)
{
    return strcmp(((const struct ik_glob_match *)a)->rel, ((const struct ik_glob_match *)b)->rel);
}

int ik_glob_expand(const char *pattern, struct ik_glob *out, struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    glob_t g;
    memset(&g, 0, sizeof g);
    read_errno = 0;
    int r = glob(pattern, GLOB_BRACE | GLOB_NOSORT, on_read_error, &g);
    if (r == GLOB_NOMATCH) {
        globfree(&g);
        return 0;
    }
    if (r != 0) {
        int e = r == GLOB_NOSPACE ? ENOMEM : read_errno ? read_errno : EIO;
        globfree(&g);
        return ik_diag_set(d, -e, "cannot expand %s: %s", pattern, strerror(e));
    }
    size_t skip = fixed_prefix(pattern);
    out->m = ik_xcalloc(g.gl_pathc ? g.gl_pathc : 1, sizeof *out->m);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        const char *p = g.gl_pathv[i];
        out->m[i].path = ik_xstrdup(p);
        out->m[i].rel = ik_xstrdup(strlen(p) > skip ? p + skip : p);
    }
    out->n = g.gl_pathc;
    globfree(&g);
    qsort(out->m, out->n, sizeof *out->m, cmp_match);
    return 0;
}

void ik_glob_free(struct ik_glob *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free(g->m[i].path);
        free(g->m[i].rel);
    }
    free(g->m);
    g->m = NULL;
    g->n = 0;
}
