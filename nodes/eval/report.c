/* nodes/eval/report.c - packs eval.report (report.h). */
#include <string.h>

#include "cache/artifact.h"
#include "nodes/eval/report.h"

static void kv_f(msgpack_packer *pk, const char *k, double v)
{
    ik_mp_pack_str(pk, k);
    msgpack_pack_double(pk, v);
}

static void kv_i(msgpack_packer *pk, const char *k, int64_t v)
{
    ik_mp_pack_str(pk, k);
    msgpack_pack_int64(pk, v);
}

static void kv_b(msgpack_packer *pk, const char *k, bool v)
{
    ik_mp_pack_str(pk, k);
    if (v)
        msgpack_pack_true(pk);
    else
        msgpack_pack_false(pk);
}

static void kv_s(msgpack_packer *pk, const char *k, const char *v)
{
    ik_mp_pack_str(pk, k);
    ik_mp_pack_str(pk, v);
}

void ik_eval_result_tally(struct ik_eval_result *r, size_t n)
{
    r->hit_max_tokens = r->prompts_shortened = r->from_cache = 0;
    r->new_tokens = 0;
    for (size_t i = 0; i < n; i++) {
        r->hit_max_tokens += r->answers[i].hit_max_tokens;
        r->prompts_shortened += r->answers[i].prompt_shortened;
        r->from_cache += r->answers[i].from_cache;
        r->new_tokens += r->answers[i].new_tokens;
    }
    ik_eval_summarize(&r->sum, r->scores, n);
}

static const char *backend_name(enum ik_eval_backend b)
{
    switch (b) {
    case IK_EVAL_ENGINE: return "engine";
    case IK_EVAL_OLLAMA: return "ollama";
    case IK_EVAL_OPENAI: return "openai";
    case IK_EVAL_PREDICTIONS: return "predictions";
    }
    return "?";
}

static void pack_meta(struct ik_mp_writer *w, const struct ik_eval_report *r)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, 5);
    kv_s(pk, "mode", r->mode == IK_EVAL_MODE_REFUSAL ? "refusal" : "answer");
    kv_i(pk, "input_records", (int64_t)r->cases->n_records);
    kv_i(pk, "cases", (int64_t)r->cases->n);
    ik_mp_pack_str(pk, "keywords");
    ik_mp_array_begin(w, r->keywords->n);
    for (size_t i = 0; i < r->keywords->n; i++)
        ik_mp_pack_str(pk, r->keywords->keywords[i]);
    ik_mp_array_end(w);
    ik_mp_pack_str(pk, "models");
    ik_mp_array_begin(w, r->n_results);
    for (size_t i = 0; i < r->n_results; i++)
        ik_eval_model_pack_info(r->results[i].model, pk);
    ik_mp_array_end(w);
    ik_mp_map_end(w);
}

static void pack_model(struct ik_mp_writer *w, const struct ik_eval_result *m)
{
    msgpack_packer *pk = &w->pk;
    const struct ik_eval_summary *s = &m->sum;
    ik_mp_map_begin(w, 21);
    kv_s(pk, "name", m->spec->name);
    kv_s(pk, "backend", backend_name(m->spec->backend));
    kv_i(pk, "n", (int64_t)s->n);
    kv_i(pk, "n_answerable", (int64_t)s->n_answerable);
    kv_i(pk, "n_unanswerable", (int64_t)s->n_unanswerable);
    kv_i(pk, "tp", (int64_t)s->tp);
    kv_i(pk, "fn", (int64_t)s->fn);
    kv_i(pk, "fp", (int64_t)s->fp);
    kv_i(pk, "tn", (int64_t)s->tn);
    kv_f(pk, "em", s->em_mean);
    kv_f(pk, "f1", s->f1_mean);
    kv_f(pk, "f1_multiset", s->f1_multiset_mean);
    kv_f(pk, "f1_answered", s->f1_answered);
    kv_f(pk, "f1_multiset_answered", s->f1_multiset_answered);
    kv_f(pk, "refusal_precision", s->refusal_precision);
    kv_f(pk, "refusal_recall", s->refusal_recall);
    kv_i(pk, "hit_max_tokens", (int64_t)m->hit_max_tokens);
    kv_i(pk, "prompts_shortened", (int64_t)m->prompts_shortened);
    kv_i(pk, "from_cache", (int64_t)m->from_cache);
    kv_i(pk, "new_tokens", m->new_tokens);
    kv_f(pk, "wall_s", m->wall_s);
    ik_mp_map_end(w);
}

static void pack_deltas(struct ik_mp_writer *w, const struct ik_eval_summary *a,
                        const struct ik_eval_summary *b)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, 10);
    kv_f(pk, "em", b->em_mean - a->em_mean);
    kv_f(pk, "f1", b->f1_mean - a->f1_mean);
    kv_f(pk, "f1_multiset", b->f1_multiset_mean - a->f1_multiset_mean);
    kv_f(pk, "f1_answered", b->f1_answered - a->f1_answered);
    kv_f(pk, "refusal_precision", b->refusal_precision - a->refusal_precision);
    kv_f(pk, "refusal_recall", b->refusal_recall - a->refusal_recall);
    kv_i(pk, "fp", (int64_t)b->fp - (int64_t)a->fp);
    kv_i(pk, "tn", (int64_t)b->tn - (int64_t)a->tn);
    kv_i(pk, "tp", (int64_t)b->tp - (int64_t)a->tp);
    kv_i(pk, "fn", (int64_t)b->fn - (int64_t)a->fn);
    ik_mp_map_end(w);
}

static void pack_side(struct ik_mp_writer *w, const char *key, const struct ik_eval_result *m,
                      size_t i)
{
    ik_mp_pack_str(&w->pk, key);
    ik_mp_map_begin(w, 2);
    kv_s(&w->pk, "answer", m->answers[i].text);
    kv_f(&w->pk, "f1", m->scores[i].f1);
    ik_mp_map_end(w);
}

static void pack_changes(struct ik_mp_writer *w, const char *key, const size_t *idx, size_t n,
                         const struct ik_eval_report *r)
{
    const struct ik_eval_result *a = &r->results[0], *b = &r->results[1];
    ik_mp_pack_str(&w->pk, key);
    ik_mp_array_begin(w, n);
    for (size_t k = 0; k < n; k++) {
        size_t i = idx[k];
        ik_mp_map_begin(w, 5);
        kv_i(&w->pk, "index", (int64_t)r->cases->v[i].index);
        kv_s(&w->pk, "question", r->cases->v[i].question);
        kv_f(&w->pk, "delta", b->scores[i].f1 - a->scores[i].f1);
        pack_side(w, "a", a, i);
        pack_side(w, "b", b, i);
        ik_mp_map_end(w);
    }
    ik_mp_array_end(w);
}

static void pack_ci(struct ik_mp_writer *w, const struct ik_eval_compare *c,
                    const struct ik_eval_compare_opts *o)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_pack_str(pk, "f1_delta");
    if (c->ci_n == 0) {
        msgpack_pack_nil(pk);
        return;
    }
    ik_mp_map_begin(w, 7);
    kv_f(pk, "delta", c->ci.delta);
    kv_f(pk, "lo", c->ci.lo);
    kv_f(pk, "hi", c->ci.hi);
    kv_f(pk, "level", o->level);
    kv_i(pk, "resamples", (int64_t)o->resamples);
    kv_i(pk, "seed", (int64_t)o->seed);
    kv_i(pk, "n", (int64_t)c->ci_n);
    ik_mp_map_end(w);
}

static void pack_comparison(struct ik_mp_writer *w, const struct ik_eval_report *r)
{
    msgpack_packer *pk = &w->pk;
    if (r->cmp == NULL) {
        msgpack_pack_nil(pk);
        return;
    }
    const struct ik_eval_result *a = &r->results[0], *b = &r->results[1];
    ik_mp_map_begin(w, 9);
    kv_s(pk, "a", a->spec->name);
    kv_s(pk, "b", b->spec->name);
    ik_mp_pack_str(pk, "deltas");
    pack_deltas(w, &a->sum, &b->sum);
    kv_i(pk, "better", (int64_t)r->cmp->n_better);
    kv_i(pk, "worse", (int64_t)r->cmp->n_worse);
    kv_i(pk, "same", (int64_t)r->cmp->n_same);
    pack_ci(w, r->cmp, r->cmp_opts);
    pack_changes(w, "gains", r->cmp->gains, r->cmp->n_gains, r);
    pack_changes(w, "losses", r->cmp->losses, r->cmp->n_losses, r);
    ik_mp_map_end(w);
}

static void pack_answer(struct ik_mp_writer *w, const struct ik_eval_result *m, size_t i)
{
    msgpack_packer *pk = &w->pk;
    const struct ik_eval_item *s = &m->scores[i];
    ik_mp_pack_str(pk, m->spec->name);
    ik_mp_map_begin(w, 7);
    kv_s(pk, "answer", m->answers[i].text);
    kv_b(pk, "refused", s->refused);
    kv_f(pk, "em", s->em);
    kv_f(pk, "f1", s->f1);
    kv_f(pk, "f1_multiset", s->f1_multiset);
    kv_b(pk, "hit_max_tokens", m->answers[i].hit_max_tokens);
    kv_b(pk, "prompt_shortened", m->answers[i].prompt_shortened);
    ik_mp_map_end(w);
}

static void pack_records(struct ik_mp_writer *w, const struct ik_eval_report *r)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_array_begin(w, r->cases->n);
    for (size_t i = 0; i < r->cases->n; i++) {
        const struct ik_eval_case *c = &r->cases->v[i];
        ik_mp_map_begin(w, 5);
        kv_i(pk, "index", (int64_t)c->index);
        kv_s(pk, "question", c->question);
        kv_s(pk, "expected", c->expected);
        kv_b(pk, "unanswerable", c->unanswerable);
        ik_mp_pack_str(pk, "answers");
        ik_mp_map_begin(w, r->n_results);
        for (size_t m = 0; m < r->n_results; m++)
            pack_answer(w, &r->results[m], i);
        ik_mp_map_end(w);
        ik_mp_map_end(w);
    }
    ik_mp_array_end(w);
}

void ik_eval_report_pack(struct ik_mp_writer *w, const struct ik_eval_report *r)
{
    msgpack_packer *pk = &w->pk;
    ik_artifact_begin(w, "eval.report", 1, 3);
    pack_meta(w, r);
    ik_mp_pack_str(pk, "models");
    ik_mp_array_begin(w, r->n_results);
    for (size_t i = 0; i < r->n_results; i++)
        pack_model(w, &r->results[i]);
    ik_mp_array_end(w);
    ik_mp_pack_str(pk, "comparison");
    pack_comparison(w, r);
    ik_mp_pack_str(pk, "records");
    pack_records(w, r);
    ik_artifact_end(w);
}
