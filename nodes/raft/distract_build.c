/* nodes/raft/distract_build.c - RAFT samples from FAQ splits: distractor draws,
 * oracle placement, refusals, and their packing (contract in
 * distract_build.h). */
#include <stdlib.h>
#include <string.h>

#include "cache/artifact.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "nodes/raft/distract_build.h"
#include "base/prng.h"
#include "base/strset.h"

const char *const ik_raft_split_names[IK_RAFT_SPLITS] = {"train", "test", "unseen"};

void ik_distract_params_default(struct ik_distract_params *p)
{
    p->n_distractors = 4;
    p->oracle_p = 0.8;
    p->seed = 42;
    p->system_prompt = ik_raft_system_prompt;
    p->prompt = ik_raft_prompt_default;
    p->refusals = ik_raft_refusals;
    p->n_refusals = IK_RAFT_N_REFUSALS;
    p->source = "JaGovFaqs-22k";
    p->group_key = "copyright";
}

/* --- the distractor pool --------------------------------------------------- */

struct pool_entry {
    const struct ik_faq_row *row;
    uint32_t gid;
};

struct pool {
    struct pool_entry *e;
    size_t n;
    struct ik_strset gids; /* group name -> gid */
    size_t *members;       /* per gid, contiguous; a permutation kept across draws */
    size_t *gstart, *gsize;
    size_t *all; /* a permutation of 0..n-1 kept across draws */
};

static void pool_build(struct pool *pl, const struct ik_faq_rows *a, const struct ik_faq_rows *b)
{
    memset(pl, 0, sizeof *pl);
    const struct ik_faq_rows *sets[2] = {a, b};
    size_t cap = a->n + b->n + 1;
    pl->e = ik_xmalloc(cap * sizeof *pl->e);
    pl->all = ik_xmalloc(cap * sizeof *pl->all);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < sets[k]->n; i++) {
            const char *g = ik_faq_rows_group(sets[k], i);
            size_t gid = pl->gids.n;
            ik_strset_put(&pl->gids, g, strlen(g), gid, &gid);
            pl->all[pl->n] = pl->n;
            pl->e[pl->n++] = (struct pool_entry){&sets[k]->v[i], (uint32_t)gid};
        }
    size_t G = pl->gids.n;
    pl->gstart = ik_xcalloc(G + 1, sizeof *pl->gstart);
    pl->gsize = ik_xcalloc(G + 1, sizeof *pl->gsize);
    pl->members = ik_xmalloc(cap * sizeof *pl->members);
    for (size_t i = 0; i < pl->n; i++)
        pl->gsize[pl->e[i].gid]++;
    for (size_t g = 1; g <= G; g++)
        pl->gstart[g] = pl->gstart[g - 1] + pl->gsize[g - 1];
    size_t *fill = ik_xcalloc(G + 1, sizeof *fill);
    for (size_t i = 0; i < pl->n; i++) {
        uint32_t g = pl->e[i].gid;
        pl->members[pl->gstart[g] + fill[g]++] = i;
    }
    free(fill);
}

static void pool_free(struct pool *pl)
{
    free(pl->e);
    free(pl->all);
    free(pl->members);
    free(pl->gstart);
    free(pl->gsize);
    ik_strset_free(&pl->gids);
}

static bool same(const char *a, size_t an, const char *b, size_t bn)
{
    return an == bn && (a == b || memcmp(a, b, an) == 0);
}

/* May pool row e be a distractor for rec, given the docs drawn so far? */
static bool usable(const struct pool_entry *e, const struct ik_faq_row *rec,
                   const struct ik_raft_doc *docs, size_t got)
{
    const struct ik_faq_row *r = e->row;
    if (same(r->question, r->question_len, rec->question, rec->question_len) ||
        same(r->answer, r->answer_len, rec->answer, rec->answer_len))
        return false;
    for (size_t i = 0; i < got; i++)
        if (same(r->answer, r->answer_len, docs[i].text, docs[i].len))
            return false;
    return true;
}

/* One step of a partial Fisher-Yates over perm[i..n): returns the element
 * moved to perm[i]. */
static size_t fy_step(struct ik_prng *rng, size_t *perm, size_t i, size_t n)
{
    size_t j = i + (size_t)ik_prng_below(rng, n - i);
    size_t t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
    return perm[i];
}

/* Draws up to k distractors for rec (of group `group`) into docs; returns how
 * many, and in *other how many came from other groups. */
static size_t draw(struct pool *pl, struct ik_prng *rng, const struct ik_faq_row *rec,
                   const char *group, size_t k, struct ik_raft_doc *docs, size_t *other)
{
    size_t got = 0, gid = 0;
    bool has = ik_strset_get(&pl->gids, group, strlen(group), &gid);
    if (has) {
        size_t *m = pl->members + pl->gstart[gid], sz = pl->gsize[gid];
        for (size_t i = 0; i < sz && got < k; i++) {
            const struct pool_entry *e = &pl->e[fy_step(rng, m, i, sz)];
            if (usable(e, rec, docs, got))
                docs[got++] = (struct ik_raft_doc){e->row->answer, e->row->answer_len};
        }
    }
    *other = 0;
    for (size_t i = 0; i < pl->n && got < k; i++) {
        const struct pool_entry *e = &pl->e[fy_step(rng, pl->all, i, pl->n)];
        if (has && e->gid == gid)
            continue; /* the whole group was already tried */
        if (usable(e, rec, docs, got)) {
            docs[got++] = (struct ik_raft_doc){e->row->answer, e->row->answer_len};
            (*other)++;
        }
    }
    return got;
}

static void shuffle_docs(struct ik_prng *rng, struct ik_raft_doc *docs, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)ik_prng_below(rng, i);
        struct ik_raft_doc t = docs[i - 1];
        docs[i - 1] = docs[j];
        docs[j] = t;
    }
}

/* --- building ---------------------------------------------------------------- */

struct build {
    const struct ik_distract_params *p;
    struct ik_diag *d;
};

static int make(struct build *bd, struct pool *pl, struct ik_prng *rng, struct ik_raft_sample *s,
                const struct ik_faq_rows *set, size_t row, int split, bool oracle, bool is_extra)
{
    const struct ik_distract_params *p = bd->p;
    const struct ik_faq_row *rec = &set->v[row];
    size_t k = oracle ? p->n_distractors : p->n_distractors + 1;
    memset(s, 0, sizeof *s);
    s->set = set;
    s->row = row;
    s->is_extra = is_extra;
    s->refusal = -1;
    size_t got = draw(pl, rng, rec, ik_faq_rows_group(set, row), k, s->docs, &s->from_other);
    if (got < k) {
        ik_diag_set(bd->d, IK_EVALIDATE,
                    "distract: %s row %zu (question \"%s\"): only %zu distinct distractor answers "
                    "in the pool, %zu needed",
                    is_extra ? "extra" : ik_raft_split_names[split], row + 1, rec->question, got, k);
        ik_diag_hint(bd->d, "lower distractors, or give sample more rows");
        return IK_EVALIDATE;
    }
    shuffle_docs(rng, s->docs, k);
    s->n_docs = k;
    if (oracle) {
        size_t slot = (size_t)ik_prng_below(rng, k + 1);
        memmove(s->docs + slot + 1, s->docs + slot, (k - slot) * sizeof *s->docs);
        s->docs[slot] = (struct ik_raft_doc){rec->answer, rec->answer_len};
        s->n_docs = k + 1;
        s->oracle_pos = (int)slot + 1;
    } else {
        s->refusal = (int)ik_prng_below(rng, p->n_refusals);
    }
    return 0;
}

static void count(struct ik_raft_stats *st, const struct ik_raft_sample *s)
{
    st->samples++;
    if (s->oracle_pos > 0) {
        st->with_oracle++;
        st->positions[s->oracle_pos]++;
    } else {
        st->without_oracle++;
        st->refusals[s->refusal]++;
    }
    if (s->is_extra)
        st->extra++;
    if (s->from_other > 0)
        st->topped_up_samples++;
    st->other_group_docs += s->from_other;
}

int ik_distract_build(const struct ik_faq_rows *train, const struct ik_faq_rows *test,
                      const struct ik_faq_rows *unseen, const struct ik_faq_rows *extra,
                      const struct ik_distract_params *p, struct ik_distract_result *out,
                      struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    if (p->n_distractors >= IK_DISTRACT_MAX_DOCS)
        return ik_diag_set(d, IK_EVALIDATE, "distract: distractors is %zu, at most %d allowed",
                           p->n_distractors, IK_DISTRACT_MAX_DOCS - 1);
    if (!(p->oracle_p >= 0.0 && p->oracle_p <= 1.0))
        return ik_diag_set(d, IK_EVALIDATE, "distract: oracle_p is %g, expected 0..1", p->oracle_p);
    if (p->n_refusals < 1 || p->n_refusals > IK_DISTRACT_MAX_REFUSALS)
        return ik_diag_set(d, IK_EVALIDATE, "distract: refusals has %zu answers, expected 1..%d",
                           p->n_refusals, IK_DISTRACT_MAX_REFUSALS);
    struct build bd = {p, d};
    struct pool tp, ep;
    pool_build(&tp, train, extra);
    pool_build(&ep, train, test);
    int rc = 0;

    struct ik_prng rng;
    ik_prng_seed(&rng, p->seed);
    size_t m = train->n + extra->n;
    struct ik_raft_sample *tmp = ik_xmalloc((m ? m : 1) * sizeof *tmp);
    for (size_t i = 0; i < train->n && rc == 0; i++) {
        bool oracle = ik_prng_double(&rng) < p->oracle_p;
        rc = make(&bd, &tp, &rng, &tmp[i], train, i, IK_RAFT_TRAIN, oracle, false);
    }
    for (size_t i = 0; i < extra->n && rc == 0; i++)
        rc = make(&bd, &tp, &rng, &tmp[train->n + i], extra, i, IK_RAFT_TRAIN, false, true);
    if (rc == 0) {
        size_t *perm = ik_xmalloc((m ? m : 1) * sizeof *perm);
        for (size_t i = 0; i < m; i++)
            perm[i] = i;
        ik_prng_shuffle(&rng, perm, m);
        out->samples[IK_RAFT_TRAIN] = ik_xmalloc((m ? m : 1) * sizeof *tmp);
        for (size_t i = 0; i < m; i++)
            out->samples[IK_RAFT_TRAIN][i] = tmp[perm[i]];
        out->n[IK_RAFT_TRAIN] = m;
        free(perm);
    }
    free(tmp);

    ik_prng_seed(&rng, p->seed ^ IK_DISTRACT_EVAL_STREAM);
    const struct ik_faq_rows *evals[2] = {test, unseen};
    for (int k = 0; k < 2 && rc == 0; k++) {
        int split = IK_RAFT_TEST + k;
        const struct ik_faq_rows *set = evals[k];
        out->samples[split] = ik_xmalloc((set->n ? set->n : 1) * sizeof **out->samples);
        for (size_t i = 0; i < set->n && rc == 0; i++)
            rc = make(&bd, &ep, &rng, &out->samples[split][i], set, i, split, true, false);
        out->n[split] = set->n;
    }
    pool_free(&tp);
    pool_free(&ep);
    if (rc < 0) {
        ik_distract_result_free(out);
        return rc;
    }
    for (int s = 0; s < IK_RAFT_SPLITS; s++)
        for (size_t i = 0; i < out->n[s]; i++)
            count(&out->stats[s], &out->samples[s][i]);
    return 0;
}

void ik_distract_result_free(struct ik_distract_result *res)
{
    for (int s = 0; s < IK_RAFT_SPLITS; s++)
        free(res->samples[s]);
    memset(res, 0, sizeof *res);
}

/* --- packing ------------------------------------------------------------------- */

static void pack_msg(struct ik_mp_writer *w, const char *role, const char *content, size_t len)
{
    ik_mp_map_begin(w, 2);
    ik_mp_pack_str(&w->pk, "role");
    ik_mp_pack_str(&w->pk, role);
    ik_mp_pack_str(&w->pk, "content");
    ik_mp_pack_strn(&w->pk, content, len);
    ik_mp_map_end(w);
}

void ik_distract_pack_record(struct ik_mp_writer *w, const struct ik_raft_sample *s, int split,
                             const struct ik_distract_params *p)
{
    msgpack_packer *pk = &w->pk;
    const struct ik_faq_row *rec = &s->set->v[s->row];
    const char *group = ik_faq_rows_group(s->set, s->row);
    bool train = split == IK_RAFT_TRAIN;
    struct ik_buf user = IK_BUF_INIT;
    ik_raft_render_user(&user, &p->prompt, s->docs, s->n_docs, rec->question, rec->question_len);

    ik_mp_map_begin(w, 2);
    ik_mp_pack_str(pk, "messages");
    ik_mp_array_begin(w, train ? 3 : 2);
    pack_msg(w, "system", p->system_prompt, strlen(p->system_prompt));
    pack_msg(w, "user", user.data, user.len);
    if (train) {
        if (s->oracle_pos > 0)
            pack_msg(w, "assistant", rec->answer, rec->answer_len);
        else
            pack_msg(w, "assistant", p->refusals[s->refusal], strlen(p->refusals[s->refusal]));
    }
    ik_mp_array_end(w);
    ik_buf_free(&user);

    ik_mp_pack_str(pk, "metadata");
    size_t n = train ? 4 + (s->oracle_pos > 0 ? 2 : 0) + (s->is_extra ? 1 : 0) : 5;
    ik_mp_map_begin(w, n);
    ik_mp_pack_str(pk, "source");
    ik_mp_pack_str(pk, p->source);
    ik_mp_pack_str(pk, p->group_key);
    ik_mp_pack_str(pk, group);
    if (train) {
        ik_mp_pack_str(pk, "has_oracle");
        if (s->oracle_pos > 0)
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
    }
    ik_mp_pack_str(pk, "question");
    ik_mp_pack_strn(pk, rec->question, rec->question_len);
    if (!train || s->oracle_pos > 0) {
        /* The reference writes expected_answer before oracle_position in its
         * test files; train records keep the same order. */
        ik_mp_pack_str(pk, "expected_answer");
        ik_mp_pack_strn(pk, rec->answer, rec->answer_len);
        ik_mp_pack_str(pk, "oracle_position");
        msgpack_pack_int(pk, s->oracle_pos);
    }
    if (train && s->is_extra) {
        ik_mp_pack_str(pk, "is_extra_unanswerable");
        msgpack_pack_true(pk);
    }
    ik_mp_map_end(w);
    ik_mp_map_end(w);
}

/* The params that made an artifact. oracle_p only where it can change the
 * bytes (the train split, the report): the test and unseen sets come from
 * their own stream and always hold the oracle, so they stay byte-identical
 * when oracle_p changes, and what reads only them is not re-run. */
static void pack_meta(struct ik_mp_writer *w, const struct ik_distract_params *p,
                      const char *split, bool with_oracle_p)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, (split ? 1 : 0) + (with_oracle_p ? 1 : 0) + 2);
    if (split) {
        ik_mp_pack_str(pk, "split");
        ik_mp_pack_str(pk, split);
    }
    ik_mp_pack_str(pk, "seed");
    msgpack_pack_uint64(pk, p->seed);
    if (with_oracle_p) {
        ik_mp_pack_str(pk, "oracle_p");
        msgpack_pack_double(pk, p->oracle_p);
    }
    ik_mp_pack_str(pk, "distractors");
    msgpack_pack_uint64(pk, p->n_distractors);
    ik_mp_map_end(w);
}

void ik_distract_pack_samples(struct ik_mp_writer *w, const struct ik_distract_result *res,
                              int split, const struct ik_distract_params *p)
{
    ik_artifact_begin(w, "raft.samples", 1, 1);
    pack_meta(w, p, ik_raft_split_names[split], split == IK_RAFT_TRAIN);
    ik_mp_pack_str(&w->pk, "records");
    ik_mp_array_begin(w, res->n[split]);
    for (size_t i = 0; i < res->n[split]; i++)
        ik_distract_pack_record(w, &res->samples[split][i], split, p);
    ik_mp_array_end(w);
    ik_artifact_end(w);
}

static void pack_u(msgpack_packer *pk, const char *key, size_t v)
{
    ik_mp_pack_str(pk, key);
    msgpack_pack_uint64(pk, v);
}

void ik_distract_pack_report(struct ik_mp_writer *w, const struct ik_distract_result *res,
                             const struct ik_distract_params *p)
{
    msgpack_packer *pk = &w->pk;
    ik_artifact_begin(w, "distract.report", 1, 2);
    pack_meta(w, p, NULL, true);
    ik_mp_pack_str(pk, "splits");
    ik_mp_map_begin(w, IK_RAFT_SPLITS);
    for (int s = 0; s < IK_RAFT_SPLITS; s++) {
        const struct ik_raft_stats *st = &res->stats[s];
        ik_mp_pack_str(pk, ik_raft_split_names[s]);
        ik_mp_map_begin(w, 8);
        pack_u(pk, "samples", st->samples);
        pack_u(pk, "with_oracle", st->with_oracle);
        pack_u(pk, "without_oracle", st->without_oracle);
        pack_u(pk, "extra_refusals", st->extra);
        pack_u(pk, "topped_up_samples", st->topped_up_samples);
        pack_u(pk, "other_group_distractors", st->other_group_docs);
        ik_mp_pack_str(pk, "oracle_positions");
        ik_mp_array_begin(w, p->n_distractors + 1);
        for (size_t k = 1; k <= p->n_distractors + 1; k++)
            msgpack_pack_uint64(pk, st->positions[k]);
        ik_mp_array_end(w);
        ik_mp_pack_str(pk, "refusals");
        ik_mp_array_begin(w, p->n_refusals);
        for (size_t k = 0; k < p->n_refusals; k++)
            msgpack_pack_uint64(pk, st->refusals[k]);
        ik_mp_array_end(w);
        ik_mp_map_end(w);
    }
    ik_mp_map_end(w);
    ik_mp_pack_str(pk, "records");
    ik_mp_array_begin(w, IK_RAFT_SPLITS);
    for (int s = 0; s < IK_RAFT_SPLITS; s++) {
        const struct ik_raft_stats *st = &res->stats[s];
        ik_mp_map_begin(w, 6);
        ik_mp_pack_str(pk, "split");
        ik_mp_pack_str(pk, ik_raft_split_names[s]);
        pack_u(pk, "samples", st->samples);
        pack_u(pk, "with_oracle", st->with_oracle);
        pack_u(pk, "without_oracle", st->without_oracle);
        pack_u(pk, "topped_up_samples", st->topped_up_samples);
        pack_u(pk, "other_group_distractors", st->other_group_docs);
        ik_mp_map_end(w);
    }
    ik_mp_array_end(w);
    ik_artifact_end(w);
}
