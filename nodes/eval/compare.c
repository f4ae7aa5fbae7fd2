/* nodes/eval/compare.c - gains, losses and the F1 delta's interval (compare.h). */
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "nodes/eval/compare.h"

struct ranked {
    size_t index;
    double delta;
};

/* Largest |delta| first, then the items' own order (qsort is not stable). */
static int by_size_then_index(const void *x, const void *y)
{
    const struct ranked *a = x, *b = y;
    double da = a->delta < 0 ? -a->delta : a->delta, db = b->delta < 0 ? -b->delta : b->delta;
    if (da != db)
        return da > db ? -1 : 1;
    return (a->index > b->index) - (a->index < b->index);
}

/* The top entries of r[0..n) as indices. */
static size_t *take_top(struct ranked *r, size_t n, size_t top, size_t *n_out)
{
    qsort(r, n, sizeof *r, by_size_then_index);
    *n_out = n < top ? n : top;
    size_t *out = ik_xmalloc((*n_out ? *n_out : 1) * sizeof *out);
    for (size_t i = 0; i < *n_out; i++)
        out[i] = r[i].index;
    return out;
}

static int bootstrap_answerable(struct ik_eval_compare *out, const struct ik_eval_item *a,
                                const struct ik_eval_item *b, size_t n,
                                const struct ik_eval_compare_opts *o, struct ik_diag *d)
{
    double *fa = ik_xmalloc((n ? n : 1) * sizeof *fa), *fb = ik_xmalloc((n ? n : 1) * sizeof *fb);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (!a[i].unanswerable) {
            fa[m] = a[i].f1;
            fb[m++] = b[i].f1;
        }
    int rc = 0;
    out->ci_n = m;
    if (m > 0)
        rc = ik_paired_bootstrap(&out->ci, fa, fb, m, o->resamples, o->level, o->seed, d);
    free(fa);
    free(fb);
    return rc;
}

int ik_eval_compare(struct ik_eval_compare *out, const struct ik_eval_item *a,
                    const struct ik_eval_item *b, size_t n, const struct ik_eval_compare_opts *o,
                    struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    struct ranked *up = ik_xmalloc((n ? n : 1) * sizeof *up);
    struct ranked *down = ik_xmalloc((n ? n : 1) * sizeof *down);
    size_t n_up = 0, n_down = 0;
    for (size_t i = 0; i < n; i++) {
        double delta = b[i].f1 - a[i].f1;
        if (delta > 0)
            up[n_up++] = (struct ranked){i, delta};
        else if (delta < 0)
            down[n_down++] = (struct ranked){i, delta};
    }
    out->n_better = n_up;
    out->n_worse = n_down;
    out->n_same = n - n_up - n_down;
    out->gains = take_top(up, n_up, o->top, &out->n_gains);
    out->losses = take_top(down, n_down, o->top, &out->n_losses);
    free(up);
    free(down);
    int rc = bootstrap_answerable(out, a, b, n, o, d);
    if (rc != 0)
        ik_eval_compare_free(out);
    return rc;
}

void ik_eval_compare_free(struct ik_eval_compare *c)
{
    free(c->gains);
    free(c->losses);
    memset(c, 0, sizeof *c);
}
