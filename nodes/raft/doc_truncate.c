/* nodes/raft/doc_truncate.c - finding the reference documents of a RAFT
 * user message and shortening them, longest first, until the sample fits
 * (doc_truncate.h). The cut is estimated from token counts, so a sample is
 * re-encoded a few times, never once per character. */
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "nodes/raft/doc_truncate.h"

/* The first "\n\n<label><i>:\n" in [from, end), or NULL; *mlen its length. */
static const char *find_marker(const char *from, const char *end, const char *label, size_t i,
                               size_t *mlen)
{
    char *m = ik_xasprintf("\n\n%s%zu:\n", label, i);
    *mlen = strlen(m);
    const char *p = memmem(from, (size_t)(end - from), m, *mlen);
    free(m);
    return p;
}

size_t ik_raft_docs_split(struct ik_raft_docs *s, const char *text, size_t len,
                            const char *doc_label, const char *question_label)
{
    *s = (struct ik_raft_docs){text, len, 0, NULL, NULL};
    const char *end = text + len, *qpos = NULL;
    char *q = ik_xasprintf("\n\n%s: ", question_label);
    size_t ql = strlen(q);
    for (const char *p = text; (p = memmem(p, (size_t)(end - p), q, ql)) != NULL; p++)
        qpos = p;
    free(q);
    size_t mlen, cap = 0;
    const char *cur = qpos ? find_marker(text, qpos, doc_label, 1, &mlen) : NULL;
    while (cur != NULL) {
        const char *body = cur + mlen;
        size_t next_mlen;
        const char *next = find_marker(body, qpos, doc_label, s->n + 2, &next_mlen);
        size_t c = cap;
        s->begin = ik_xgrow(s->begin, &c, s->n + 1, sizeof *s->begin);
        s->end = ik_xgrow(s->end, &cap, s->n + 1, sizeof *s->end);
        s->begin[s->n] = (size_t)(body - text);
        s->end[s->n] = (size_t)((next ? next : qpos) - text);
        s->n++;
        cur = next;
        mlen = next_mlen;
    }
    return s->n;
}

void ik_raft_docs_free(struct ik_raft_docs *s)
{
    free(s->begin);
    free(s->end);
    s->begin = s->end = NULL;
    s->n = 0;
}

/* Bytes kept with every document cut to at most level bytes. */
static size_t kept_at(const struct ik_raft_docs *s, size_t level)
{
    size_t sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t l = s->end[i] - s->begin[i];
        sum += l < level ? l : level;
    }
    return sum;
}

void ik_raft_docs_cap(const struct ik_raft_docs *s, size_t keep_bytes, size_t *keep)
{
    size_t lo = 0, hi = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->end[i] - s->begin[i] > hi)
            hi = s->end[i] - s->begin[i];
    /* The highest level that keeps at most keep_bytes: kept_at grows with it. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo + 1) / 2;
        if (kept_at(s, mid) <= keep_bytes)
            lo = mid;
        else
            hi = mid - 1;
    }
    for (size_t i = 0; i < s->n; i++) {
        const char *doc = s->text + s->begin[i];
        size_t l = s->end[i] - s->begin[i], k = l < lo ? l : lo;
        while (k > 0 && k < l && ik_utf8_is_cont((unsigned char)doc[k]))
            k--;
        keep[i] = k;
    }
}

void ik_raft_docs_render(const struct ik_raft_docs *s, const size_t *keep, struct ik_buf *out)
{
    size_t pos = 0;
    for (size_t i = 0; i < s->n; i++) {
        ik_buf_append(out, s->text + pos, s->begin[i] + keep[i] - pos);
        pos = s->end[i];
    }
    ik_buf_append(out, s->text + pos, s->len - pos);
}

/* Renders the documents cut to keep and encodes the sample: *n tokens. */
static int try_keep(const struct ik_raft_docs *s, const size_t *keep, struct ik_buf *b,
                    ik_raft_docs_encode_fn encode, void *arg, int *n, struct ik_diag *d)
{
    ik_buf_reset(b);
    ik_raft_docs_render(s, keep, b);
    ik_buf_putc(b, '\0');
    return encode(arg, b->data, b->len - 1, n, d);
}

int ik_raft_docs_fit(const struct ik_raft_docs *s, int n_full, int max_length,
                       ik_raft_docs_encode_fn encode, void *arg, int *n_empty, struct ik_diag *d)
{
    size_t *keep = ik_xcalloc(s->n ? s->n : 1, sizeof *keep);
    struct ik_buf b = IK_BUF_INIT;
    int n = 0;
    int rc = try_keep(s, keep, &b, encode, arg, &n, d);
    *n_empty = n;
    if (rc == 0 && n > max_length)
        rc = 1;
    /* What the documents take: bytes, and tokens as the sample's length with
     * and without them. Cut to the share of bytes that the free tokens allow,
     * then, while too long, scale the kept bytes down by the same ratio; each
     * round also drops at least 1/64 of them, so the loop ends quickly even
     * where tokens and bytes are far from proportional. */
    size_t total = kept_at(s, (size_t)-1);
    size_t kb = rc == 0 && n_full > n ? (size_t)((double)total * (max_length - n) / (n_full - n)) : 0;
    while (rc == 0 && kb > 0) {
        int m;
        ik_raft_docs_cap(s, kb, keep);
        if ((rc = try_keep(s, keep, &b, encode, arg, &m, d)) != 0 || m <= max_length)
            break;
        size_t next = (size_t)((double)kb * (max_length - n) / (m - n));
        size_t step = 1 + kb / 64; /* <= kb */
        kb = next < kb - step ? next : kb - step;
        if (kb == 0) { /* every document emptied, which fits: encode it again as the result */
            memset(keep, 0, s->n * sizeof *keep);
            rc = try_keep(s, keep, &b, encode, arg, &m, d);
        }
    }
    ik_buf_free(&b);
    free(keep);
    return rc;
}
