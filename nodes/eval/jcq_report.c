/* nodes/eval/jcq_report.c - the jcq.report artifact (jcq_report.h). */
#include <stdbool.h>
#include <string.h>

#include "base/mp.h"
#include "cache/artifact.h"
#include "nodes/eval/jcq_ask.h"
#include "nodes/eval/jcq_compare.h"
#include "nodes/eval/jcq_items.h"
#include "nodes/eval/jcq_report.h"

static void kv_f(struct ik_mp_writer *w, const char *k, double v)
{
    ik_mp_pack_str(&w->pk, k);
    msgpack_pack_double(&w->pk, v);
}

static void kv_i(struct ik_mp_writer *w, const char *k, int64_t v)
{
    ik_mp_pack_str(&w->pk, k);
    msgpack_pack_int64(&w->pk, v);
}

static void kv_s(struct ik_mp_writer *w, const char *k, const char *v)
{
    ik_mp_pack_str(&w->pk, k);
    ik_mp_pack_str(&w->pk, v);
}

static void kv_b(struct ik_mp_writer *w, const char *k, bool v)
{
    ik_mp_pack_str(&w->pk, k);
    if (v)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
}

static void pack_model(struct ik_mp_writer *w, const struct ik_jcq_report *r, const char *role,
                       const struct ik_jcq_report_model *m, const struct ik_jcq_tally *t)
{
    bool loglik = m->answers->pred_sum != NULL;
    ik_mp_map_begin(w, 7 + (loglik ? 4 : 0));
    kv_s(w, "role", role);
    kv_s(w, "name", m->name);
    ik_mp_pack_str(&w->pk, "info");
    if (m->info != NULL)
        msgpack_sbuffer_write(&w->sb, m->info, m->info_len);
    else
        msgpack_pack_map(&w->pk, 0);
    kv_i(w, "n", (int64_t)t->n);
    kv_i(w, "correct", (int64_t)t->correct);
    kv_f(w, "accuracy", t->accuracy);
    kv_i(w, "unparseable", (int64_t)t->unparseable);
    if (loglik) {
        struct ik_jcq_tally s = ik_jcq_tally(m->answers->pred_sum, r->label, r->n);
        struct ik_jcq_tally nt = ik_jcq_tally(m->answers->pred_norm, r->label, r->n);
        kv_i(w, "correct_sum", (int64_t)s.correct);
        kv_f(w, "accuracy_sum", s.accuracy);
        kv_i(w, "correct_norm", (int64_t)nt.correct);
        kv_f(w, "accuracy_norm", nt.accuracy);
    }
    ik_mp_map_end(w);
}

static void pack_flip(struct ik_mp_writer *w, const struct ik_jcq_report *r, size_t i,
                      const char *flip)
{
    const struct ik_jcq_item *it = &r->items->v[i];
    bool replies = r->baseline.answers->reply != NULL;
    ik_mp_map_begin(w, 6 + (replies ? 2 : 0));
    kv_s(w, "flip", flip);
    kv_i(w, "q_id", it->q_id);
    kv_s(w, "question", it->question);
    kv_i(w, "label", it->label);
    kv_i(w, "baseline_pred", r->baseline.pred[i]);
    kv_i(w, "candidate_pred", r->candidate.pred[i]);
    if (replies) {
        kv_s(w, "baseline_reply", r->baseline.answers->reply[i]);
        kv_s(w, "candidate_reply", r->candidate.answers->reply[i]);
    }
    ik_mp_map_end(w);
}

static void pack_meta(struct ik_mp_writer *w, const struct ik_jcq_report *r)
{
    ik_mp_map_begin(w, 5);
    kv_s(w, "method", r->method);
    kv_s(w, "gate", r->gate);
    kv_i(w, "n", (int64_t)r->n);
    kv_i(w, "limit", (int64_t)r->limit);
    kv_s(w, "questions", r->questions_hash);
    ik_mp_map_end(w);
}

void ik_jcq_report_pack(struct ik_mp_writer *w, const struct ik_jcq_report *r)
{
    const struct ik_jcq_compare *c = r->cmp;
    ik_artifact_begin(w, "jcq.report", 1, 8);
    pack_meta(w, r);
    ik_mp_pack_str(&w->pk, "models");
    ik_mp_array_begin(w, 2);
    pack_model(w, r, "baseline", &r->baseline, &c->baseline);
    pack_model(w, r, "candidate", &r->candidate, &c->candidate);
    ik_mp_array_end(w);
    kv_f(w, "delta_pp", c->delta_pp);
    kv_i(w, "lost", (int64_t)c->n_lost);
    kv_i(w, "gained", (int64_t)c->n_gained);
    ik_mp_pack_str(&w->pk, "mcnemar");
    ik_mp_map_begin(w, 3);
    kv_i(w, "b", (int64_t)c->n_lost);
    kv_i(w, "c", (int64_t)c->n_gained);
    kv_f(w, "p", c->p_value);
    ik_mp_map_end(w);
    kv_f(w, "max_drop_pp", c->max_drop_pp);
    kv_b(w, "passed", c->passed);
    ik_mp_pack_str(&w->pk, "records");
    ik_mp_array_begin(w, c->n_lost + c->n_gained);
    for (size_t k = 0; k < c->n_lost; k++)
        pack_flip(w, r, c->lost[k], "lost");
    for (size_t k = 0; k < c->n_gained; k++)
        pack_flip(w, r, c->gained[k], "gained");
    ik_mp_array_end(w);
    ik_artifact_end(w);
}
