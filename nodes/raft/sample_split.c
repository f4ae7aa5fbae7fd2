/* nodes/raft/sample_split.c - length filter and train/test/unseen/extra splits of
 * FAQ rows (the algorithm and its draw order are in sample_split.h). */
#include <stdlib.h>
#include <string.h>

#include "cache/artifact.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/spellcheck.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "base/prng.h"
#include "nodes/raft/sample_split.h"
#include "base/strset.h"

const char *const ik_split_names[IK_SPLIT_COUNT] = {"train", "test", "unseen", "extra"};

/* The params that size each split, for messages. */
static const char *const size_params[IK_SPLIT_COUNT] = {"train", "test", "unseen",
                                                        "unanswerable_extra"};

void ik_sample_result_free(struct ik_sample_result *res)
{
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        free(res->idx[s]);
    free(res->note);
    memset(res, 0, sizeof *res);
}

static int no_target(const char *name, const struct ik_faq_rows *rows,
                     const struct ik_sample_params *p, struct ik_diag *d)
{
    for (size_t g = 0; g < rows->n_groups; g++)
        if (strcmp(rows->groups[g], p->ministry) == 0) {
            ik_diag_set(d, IK_EVALIDATE,
                        "%s: no row of %s \"%s\" has an answer of %zu-%zu code points", name,
                        p->group_field, p->ministry, p->min_chars, p->max_chars);
            ik_diag_hint(d, "lower min_chars or raise max_chars");
            return IK_EVALIDATE;
        }
    ik_diag_set(d, IK_EVALIDATE, "%s: no row has %s \"%s\"", name, p->group_field, p->ministry);
    const char **cands = ik_xcalloc(rows->n_groups + 1, sizeof *cands);
    for (size_t g = 0; g < rows->n_groups; g++)
        cands[g] = rows->groups[g];
    const char *near = ik_spellcheck(p->ministry, cands);
    if (near != NULL) {
        ik_diag_hint(d, "did you mean \"%s\"?", near);
    } else if (rows->n_groups > 0) {
        /* Name the largest groups: the likely targets. */
        size_t *count = ik_xcalloc(rows->n_groups, sizeof *count);
        for (size_t i = 0; i < rows->n; i++)
            count[rows->v[i].group]++;
        struct ik_buf b = IK_BUF_INIT;
        for (int k = 0; k < 3; k++) {
            size_t best = rows->n_groups;
            for (size_t g = 0; g < rows->n_groups; g++)
                if (count[g] > 0 && (best == rows->n_groups || count[g] > count[best]))
                    best = g;
            if (best == rows->n_groups)
                break;
            ik_buf_printf(&b, "%s\"%s\" (%zu rows)", k ? ", " : "", rows->groups[best], count[best]);
            count[best] = 0;
        }
        ik_diag_hint(d, "the largest groups are %s", b.data);
        ik_buf_free(&b);
        free(count);
    }
    free(cands);
    return IK_EVALIDATE;
}

/* Checks (or, with allow_short, shrinks) the requested sizes against U usable
 * target questions and O usable other questions. */
static int fit_sizes(const char *name, const struct ik_sample_params *p, size_t U, size_t O,
                     struct ik_sample_result *out, struct ik_diag *d)
{
    static const int order[] = {IK_SPLIT_TRAIN, IK_SPLIT_TEST, IK_SPLIT_EXTRA};
    size_t used = 0;
    struct ik_buf note = IK_BUF_INIT;
    for (int k = 0; k < 3; k++) {
        int s = order[k];
        size_t want = p->n[s], room = U - used;
        if (want > room) {
            if (!p->allow_short) {
                struct ik_buf need = IK_BUF_INIT;
                for (int j = 0; j <= k; j++)
                    ik_buf_printf(&need, "%s%s %zu", j ? " + " : "", size_params[order[j]],
                                  p->n[order[j]]);
                ik_diag_set(d, IK_EVALIDATE,
                            "%s: too few rows: %s \"%s\" has %zu usable rows (distinct questions, "
                            "answers of %zu-%zu code points) but the splits ask for %zu (%s)",
                            name, p->group_field, p->ministry, U, p->min_chars, p->max_chars,
                            used + want, need.data);
                ik_diag_hint(d, "lower %s to at most %zu, or set allow_short: true", size_params[s],
                             room);
                ik_buf_free(&need);
                ik_buf_free(&note);
                return IK_EVALIDATE;
            }
            ik_buf_printf(&note, "%s%s %zu -> %zu", note.len ? ", " : "", size_params[s], want, room);
            want = room;
        }
        out->n[s] = want;
        used += want;
    }
    out->n[IK_SPLIT_UNSEEN] = p->n[IK_SPLIT_UNSEEN];
    if (p->n[IK_SPLIT_UNSEEN] > O) {
        if (!p->allow_short) {
            ik_diag_set(d, IK_EVALIDATE,
                        "%s: too few rows: the groups other than \"%s\" have %zu usable rows "
                        "(distinct questions, answers of %zu-%zu code points) but unseen needs %zu",
                        name, p->ministry, O, p->min_chars, p->max_chars, p->n[IK_SPLIT_UNSEEN]);
            ik_diag_hint(d, "lower unseen to at most %zu, or set allow_short: true", O);
            ik_buf_free(&note);
            return IK_EVALIDATE;
        }
        ik_buf_printf(&note, "%sunseen %zu -> %zu", note.len ? ", " : "", p->n[IK_SPLIT_UNSEEN], O);
        out->n[IK_SPLIT_UNSEEN] = O;
    }
    if (note.len) {
        out->shortened = true;
        out->note = ik_xasprintf("allow_short: too few rows, shrunk %s", note.data);
    }
    ik_buf_free(&note);
    return 0;
}

/* The reference's stratified_sample over pool[0..n_pool) (distinct rows),
 * drawing n; writes the rows to dst. */
static void stratify(struct ik_prng *rng, const struct ik_faq_rows *rows, const size_t *pool,
                     size_t n_pool, size_t n, size_t *dst)
{
    if (n == 0)
        return;
    size_t G = rows->n_groups;
    size_t *size = ik_xcalloc(G, sizeof *size), *first = ik_xcalloc(G, sizeof *first);
    for (size_t i = n_pool; i-- > 0;) {
        size[rows->v[pool[i]].group]++;
        first[rows->v[pool[i]].group] = i;
    }
    /* Members of each group in pool order, groups laid out one after another. */
    size_t *start = ik_xcalloc(G + 1, sizeof *start), *fill = ik_xcalloc(G, sizeof *fill);
    for (size_t g = 0; g < G; g++)
        start[g + 1] = start[g] + size[g];
    size_t *members = ik_xmalloc((n_pool ? n_pool : 1) * sizeof *members);
    for (size_t i = 0; i < n_pool; i++) {
        uint32_t g = rows->v[pool[i]].group;
        members[start[g] + fill[g]++] = pool[i];
    }
    /* Groups by size, largest first; ties keep first-appearance order (a
     * stable sort, as Python's sorted is), done as an insertion sort. */
    size_t *order = ik_xmalloc((G ? G : 1) * sizeof *order), n_order = 0;
    for (size_t g = 0; g < G; g++) {
        if (size[g] == 0)
            continue;
        size_t j = n_order++;
        while (j > 0 && (size[order[j - 1]] < size[g] ||
                         (size[order[j - 1]] == size[g] && first[order[j - 1]] > first[g]))) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = g;
    }
    size_t *alloc = ik_xcalloc(G, sizeof *alloc), left = n;
    for (size_t k = 0; k < n_order && left > 0; k++) {
        size_t g = order[k];
        /* floor(n*len/total) in exact integer arithmetic. */
        size_t a = (size_t)(((unsigned long long)n * size[g]) / n_pool);
        if (a < 1)
            a = 1;
        if (a > size[g])
            a = size[g];
        if (a > left)
            a = left;
        alloc[g] = a;
        left -= a;
    }
    for (size_t k = 0; k < n_order && left > 0; k++) {
        size_t g = order[k], extra = size[g] - alloc[g];
        if (extra > left)
            extra = left;
        alloc[g] += extra;
        left -= extra;
    }
    size_t m = 0;
    for (size_t k = 0; k < n_order; k++) {
        size_t g = order[k];
        ik_prng_partial_shuffle(rng, members + start[g], size[g], alloc[g]);
        memcpy(dst + m, members + start[g], alloc[g] * sizeof *dst);
        m += alloc[g];
    }
    ik_prng_shuffle(rng, dst, m);
    free(size);
    free(first);
    free(start);
    free(fill);
    free(members);
    free(order);
    free(alloc);
}

int ik_sample_split(const char *name, const struct ik_faq_rows *rows,
                    const struct ik_sample_params *p, struct ik_sample_result *out,
                    struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    memcpy(out->requested, p->n, sizeof out->requested);
    out->input_rows = rows->n;
    size_t N = rows->n;
    size_t *target = ik_xmalloc((N ? N : 1) * sizeof *target), T = 0;
    size_t *others = ik_xmalloc((N ? N : 1) * sizeof *others), O = 0;
    bool *chosen = ik_xcalloc(N ? N : 1, sizeof *chosen);
    struct ik_strset tq = IK_STRSET_INIT, oq = IK_STRSET_INIT, used = IK_STRSET_INIT;
    int rc = 0;

    for (size_t i = 0; i < N; i++) {
        const struct ik_faq_row *r = &rows->v[i];
        size_t cp = ik_utf8_count(r->answer, r->answer_len);
        if (cp < p->min_chars) {
            out->answer_too_short++;
        } else if (cp > p->max_chars) {
            out->answer_too_long++;
        } else if (strcmp(rows->groups[r->group], p->ministry) == 0) {
            target[T++] = i;
            ik_strset_put(&tq, r->question, r->question_len, i, NULL);
        } else {
            out->other_rows++;
        }
    }
    out->target_rows = T;
    out->kept_rows = T + out->other_rows;
    if (T == 0) {
        rc = no_target(name, rows, p, d);
        goto out;
    }
    /* The unseen pool: other groups' distinct questions that the target never asks. */
    for (size_t i = 0; i < N; i++) {
        const struct ik_faq_row *r = &rows->v[i];
        size_t cp = ik_utf8_count(r->answer, r->answer_len);
        if (cp < p->min_chars || cp > p->max_chars || strcmp(rows->groups[r->group], p->ministry) == 0)
            continue;
        if (ik_strset_get(&tq, r->question, r->question_len, NULL))
            out->overlaps[IK_SPLIT_UNSEEN]++;
        else if (!ik_strset_put(&oq, r->question, r->question_len, i, NULL))
            out->duplicates[IK_SPLIT_UNSEEN]++;
        else
            others[O++] = i;
    }
    if ((rc = fit_sizes(name, p, tq.n, O, out, d)) < 0)
        goto out;
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        out->idx[s] = ik_xmalloc((out->n[s] ? out->n[s] : 1) * sizeof(size_t));

    struct ik_prng rng;
    ik_prng_seed(&rng, p->seed);
    size_t *shuffled = ik_xmalloc(T * sizeof *shuffled);
    memcpy(shuffled, target, T * sizeof *shuffled);
    ik_prng_shuffle(&rng, shuffled, T);
    size_t k = 0;
    for (int s = IK_SPLIT_TRAIN; s <= IK_SPLIT_TEST; s++) {
        size_t got = 0;
        while (got < out->n[s] && k < T) {
            size_t i = shuffled[k++], prev;
            const struct ik_faq_row *r = &rows->v[i];
            if (ik_strset_put(&used, r->question, r->question_len, (size_t)s, &prev)) {
                out->idx[s][got++] = i;
                chosen[i] = true;
            } else if (prev == (size_t)s) {
                out->duplicates[s]++;
            } else {
                out->overlaps[s]++;
            }
        }
    }
    free(shuffled);
    /* The extra pool: the target's remaining distinct questions, file order. */
    struct ik_strset eq = IK_STRSET_INIT;
    size_t *pool = ik_xmalloc(T * sizeof *pool), n_pool = 0;
    for (size_t t = 0; t < T; t++) {
        size_t i = target[t];
        const struct ik_faq_row *r = &rows->v[i];
        if (ik_strset_get(&used, r->question, r->question_len, NULL)) {
            if (!chosen[i])
                out->overlaps[IK_SPLIT_EXTRA]++;
        } else if (!ik_strset_put(&eq, r->question, r->question_len, i, NULL)) {
            out->duplicates[IK_SPLIT_EXTRA]++;
        } else {
            pool[n_pool++] = i;
        }
    }
    ik_strset_free(&eq);
    ik_prng_partial_shuffle(&rng, pool, n_pool, out->n[IK_SPLIT_EXTRA]);
    memcpy(out->idx[IK_SPLIT_EXTRA], pool, out->n[IK_SPLIT_EXTRA] * sizeof *pool);
    free(pool);
    stratify(&rng, rows, others, O, out->n[IK_SPLIT_UNSEEN], out->idx[IK_SPLIT_UNSEEN]);

out:
    if (rc < 0)
        ik_sample_result_free(out);
    free(target);
    free(others);
    free(chosen);
    ik_strset_free(&tq);
    ik_strset_free(&oq);
    ik_strset_free(&used);
    return rc;
}

static void pack_meta(struct ik_mp_writer *w, const struct ik_sample_params *p, const char *split)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, split ? 4 : 3);
    if (split) {
        ik_mp_pack_str(pk, "split");
        ik_mp_pack_str(pk, split);
    }
    ik_mp_pack_str(pk, "group_field");
    ik_mp_pack_str(pk, p->group_field);
    ik_mp_pack_str(pk, "ministry");
    ik_mp_pack_str(pk, p->ministry);
    ik_mp_pack_str(pk, "seed");
    msgpack_pack_uint64(pk, p->seed);
    ik_mp_map_end(w);
}

void ik_sample_pack_rows(struct ik_mp_writer *w, const struct ik_faq_rows *rows,
                         const struct ik_sample_result *res, int split,
                         const struct ik_sample_params *p)
{
    msgpack_packer *pk = &w->pk;
    ik_artifact_begin(w, "faq.rows", 1, 1);
    pack_meta(w, p, ik_split_names[split]);
    ik_mp_pack_str(pk, "records");
    ik_mp_array_begin(w, res->n[split]);
    for (size_t k = 0; k < res->n[split]; k++) {
        const struct ik_faq_row *r = &rows->v[res->idx[split][k]];
        ik_mp_map_begin(w, r->url ? 4 : 3);
        ik_mp_pack_str(pk, "question");
        ik_mp_pack_strn(pk, r->question, r->question_len);
        ik_mp_pack_str(pk, "answer");
        ik_mp_pack_strn(pk, r->answer, r->answer_len);
        ik_mp_pack_str(pk, "group");
        ik_mp_pack_str(pk, rows->groups[r->group]);
        if (r->url) {
            ik_mp_pack_str(pk, "url");
            ik_mp_pack_str(pk, r->url);
        }
        ik_mp_map_end(w);
    }
    ik_mp_array_end(w);
    ik_artifact_end(w);
}

static void pack_size(msgpack_packer *pk, const char *key, size_t v)
{
    ik_mp_pack_str(pk, key);
    msgpack_pack_uint64(pk, v);
}

void ik_sample_pack_summary(struct ik_mp_writer *w, const struct ik_faq_rows *rows,
                            const struct ik_sample_result *res, const struct ik_sample_params *p)
{
    msgpack_packer *pk = &w->pk;
    ik_artifact_begin(w, "sample.summary", 1, 9);
    pack_meta(w, p, NULL);
    pack_size(pk, "input_rows", res->input_rows);
    pack_size(pk, "kept_rows", res->kept_rows);
    ik_mp_pack_str(pk, "dropped");
    ik_mp_map_begin(w, 2);
    pack_size(pk, "answer_too_short", res->answer_too_short);
    pack_size(pk, "answer_too_long", res->answer_too_long);
    ik_mp_map_end(w);
    pack_size(pk, "target_rows", res->target_rows);
    pack_size(pk, "other_rows", res->other_rows);
    ik_mp_pack_str(pk, "splits");
    ik_mp_map_begin(w, IK_SPLIT_COUNT);
    for (int s = 0; s < IK_SPLIT_COUNT; s++) {
        ik_mp_pack_str(pk, ik_split_names[s]);
        ik_mp_map_begin(w, 4);
        pack_size(pk, "requested", res->requested[s]);
        pack_size(pk, "rows", res->n[s]);
        pack_size(pk, "duplicates_removed", res->duplicates[s]);
        pack_size(pk, "overlaps_removed", res->overlaps[s]);
        ik_mp_map_end(w);
    }
    ik_mp_map_end(w);
    ik_mp_pack_str(pk, "short");
    if (res->shortened)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
    ik_mp_pack_str(pk, "note");
    if (res->note)
        ik_mp_pack_str(pk, res->note);
    else
        msgpack_pack_nil(pk);
    /* records: rows per split and group, groups in first-appearance order. */
    size_t G = rows->n_groups, n_rec = 0;
    size_t *count = ik_xcalloc((G ? G : 1) * IK_SPLIT_COUNT, sizeof *count);
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        for (size_t k = 0; k < res->n[s]; k++)
            if (count[s * G + rows->v[res->idx[s][k]].group]++ == 0)
                n_rec++;
    ik_mp_pack_str(pk, "records");
    ik_mp_array_begin(w, n_rec);
    for (int s = 0; s < IK_SPLIT_COUNT; s++)
        for (size_t g = 0; g < G; g++) {
            if (count[s * G + g] == 0)
                continue;
            ik_mp_map_begin(w, 3);
            ik_mp_pack_str(pk, "split");
            ik_mp_pack_str(pk, ik_split_names[s]);
            ik_mp_pack_str(pk, "group");
            ik_mp_pack_str(pk, rows->groups[g]);
            pack_size(pk, "rows", count[s * G + g]);
            ik_mp_map_end(w);
        }
    ik_mp_array_end(w);
    ik_artifact_end(w);
    free(count);
}
