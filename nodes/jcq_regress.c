/* nodes/jcq_regress.c - the `jcq-regress` node type: JCommonsenseQA accuracy
 * of a baseline and a candidate model -> jcq.report, and a failure when the
 * candidate fell more than max_drop_pp points.
 *
 * A thin adapter: params and inputs are read here; the questions are read by
 * nodes/eval/jcq_items.c, asked through the model interface by jcq_ask.c,
 * compared by jcq_compare.c and packed by jcq_report.c. Ports: `questions`
 * plus the input ports the entries of `models` name (any_inputs, as
 * evaluate has them).
 *
 * A failed node's outputs are orphans to the engine (engine/node.h): no
 * action record, so `ikada cache show NODE.report` cannot find them and gc
 * would remove them. A regression is exactly when the report matters, so
 * the report of a failing run is also kept in the node's kv namespace under
 * the node's key (which keeps its object from gc) and the failure message
 * names its hash, which `ikada cache show` and `cache query` take. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hash.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "nodes/eval/jcq_ask.h"
#include "nodes/eval/jcq_compare.h"
#include "nodes/eval/jcq_items.h"
#include "nodes/eval/jcq_report.h"
#include "nodes/eval/model.h"

#define JCQ_KV_NS "jcq"

static const struct ik_port_spec jcq_inputs[] = {
    {"questions", "*", false,
     "JCommonsenseQA JSON Lines: q_id, question, choice0..4, label (examples/jcommonsenseqa)"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec jcq_outputs[] = {
    {"report", "jcq.report", false, "both accuracies, the drop, flipped questions, McNemar"},
    {NULL, NULL, false, NULL},
};

static const struct ik_param_spec jcq_params[] = {
    {"models", IK_PARAM_LIST, NULL,
     "two entries {name, backend, ...}: the baseline, then the candidate (docs/eval-models.md)", NULL},
    {"method", IK_PARAM_STRING, "generate", "generate (the reference prompt) or loglik", NULL},
    {"limit", IK_PARAM_INT, "0", "ask only the first N questions (0 = all)", IK_MIN(0)},
    {"max_drop_pp", IK_PARAM_FLOAT, "1.0", "fail when the candidate is more points below", NULL},
    {"loglik_gate", IK_PARAM_STRING, "norm", "loglik: the choice that is gated, norm or sum", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

struct jcq_params {
    enum ik_jcq_method method;
    const char *gate; /* "reply", "norm" or "sum" */
    size_t limit;
    double max_drop_pp;
};

static int read_params(struct ik_node_ctx *ctx, struct jcq_params *p, struct ik_diag *d)
{
    const char *method = ik_node_param_str(ctx, "method");
    if (strcmp(method, "generate") == 0)
        p->method = IK_JCQ_GENERATE;
    else if (strcmp(method, "loglik") == 0)
        p->method = IK_JCQ_LOGLIK;
    else
        return ik_diag_set(d, IK_EVALIDATE, "param method is '%s', expected generate or loglik",
                           method);
    const char *gate = ik_node_param_str(ctx, "loglik_gate");
    if (strcmp(gate, "norm") != 0 && strcmp(gate, "sum") != 0)
        return ik_diag_set(d, IK_EVALIDATE, "param loglik_gate is '%s', expected norm or sum",
                           gate);
    p->gate = p->method == IK_JCQ_GENERATE ? "reply" : gate;
    int64_t limit; /* 0: all */
    int rc = ik_node_param_int_in(ctx, "limit", 0, INT64_MAX, &limit, d);
    if (rc < 0)
        return rc;
    p->limit = (size_t)limit;
    p->max_drop_pp = ik_node_param_float(ctx, "max_drop_pp");
    if (!isfinite(p->max_drop_pp) || p->max_drop_pp < 0)
        return ik_diag_set(d, IK_EVALIDATE, "param max_drop_pp is %g, expected 0 or more points",
                           p->max_drop_pp);
    return 0;
}

static bool names_port(const struct ik_eval_model_spec *s, const char *port)
{
    const char *ports[4] = {s->model_port, s->adapter_port, s->tokenizer_port,
                            s->predictions_port};
    for (int k = 0; k < 4; k++)
        if (ports[k] != NULL && strcmp(ports[k], port) == 0)
            return true;
    return false;
}

/* Exactly two model entries; every input but `questions` belongs to one.
 * spec[] is zeroed first; free both with ik_eval_model_spec_free either way. */
static int read_models(struct ik_node_ctx *ctx, const struct jcq_params *p,
                       struct ik_eval_model_spec spec[2], struct ik_diag *d)
{
    memset(spec, 0, 2 * sizeof *spec);
    const msgpack_object *list = ik_node_param(ctx, "models");
    if (list->type != MSGPACK_OBJECT_ARRAY || list->via.array.size != 2)
        return ik_diag_set(d, IK_EVALIDATE,
                           "param models has %u entries, expected 2: the baseline, then the "
                           "candidate",
                           list->type == MSGPACK_OBJECT_ARRAY ? list->via.array.size : 0);
    for (int k = 0; k < 2; k++) {
        char what[16];
        snprintf(what, sizeof what, "models[%d]", k);
        int rc = ik_eval_model_spec_parse(&spec[k], &list->via.array.ptr[k], what, ctx, d);
        if (rc < 0)
            return rc;
        /* Before any model is loaded: the first one may take minutes. */
        if (p->method == IK_JCQ_LOGLIK && spec[k].backend != IK_EVAL_ENGINE)
            return ik_diag_set(d, IK_EVALIDATE,
                               "%s ('%s'): method loglik scores the choices in process and needs "
                               "backend engine",
                               what, spec[k].name);
    }
    for (size_t i = 0; i < ik_node_input_count(ctx); i++) {
        const char *port = ik_node_input_port(ctx, i);
        if (strcmp(port, "questions") != 0 && !names_port(&spec[0], port) &&
            !names_port(&spec[1], port))
            return ik_diag_set(d, IK_EVALIDATE,
                               "input '%s' is not 'questions' and no entry of models names it "
                               "as its model, adapter, tokenizer or predictions port",
                               port);
    }
    return 0;
}

struct progress {
    struct ik_node_ctx *ctx;
    size_t offset, total;
};

static void on_progress(void *arg, size_t done, size_t total, int64_t tokens)
{
    (void)total;
    (void)tokens;
    struct progress *p = arg;
    ik_node_progress(p->ctx, p->offset + done, p->total, "questions");
}

/* One model: open, ask, pack its info, close (one model in memory at a time). */
static int run_model(struct ik_node_ctx *ctx, const struct ik_eval_model_spec *spec,
                     const struct ik_jcq_items *items, size_t n, const struct jcq_params *p,
                     struct progress *pr, struct ik_jcq_answers *ans, struct ik_mp_writer *info,
                     struct ik_diag *d)
{
    struct ik_eval_model *m = NULL;
    int rc = ik_eval_model_open(&m, spec, ctx, d);
    if (rc < 0)
        return rc;
    rc = ik_jcq_ask(m, items, n, p->method, ans, on_progress, pr, d);
    if (rc == 0) /* the backends' messages name the model already */
        ik_eval_model_pack_info(m, &info->pk);
    ik_eval_model_close(m);
    return rc;
}

static const int *gated(const struct ik_jcq_answers *a, const struct jcq_params *p)
{
    if (p->method == IK_JCQ_GENERATE)
        return a->pred;
    return strcmp(p->gate, "sum") == 0 ? a->pred_sum : a->pred_norm;
}

static void print_summary(const struct ik_eval_model_spec spec[2], const struct ik_jcq_compare *c)
{
    fprintf(stderr,
            "jcq-regress: %s %.2f %% (%zu/%zu), %s %.2f %% (%zu/%zu), %+.2f points, "
            "unparseable %zu and %zu, lost %zu, gained %zu, McNemar p %.4g: %s\n",
            spec[0].name, 100 * c->baseline.accuracy, c->baseline.correct, c->baseline.n,
            spec[1].name, 100 * c->candidate.accuracy, c->candidate.correct, c->candidate.n,
            c->delta_pp, c->baseline.unparseable, c->candidate.unparseable, c->n_lost,
            c->n_gained, c->p_value, c->passed ? "passed" : "FAILED");
}

/* Stores the report; on a regression also keeps it (see the top) and fails. */
static int finish(struct ik_node_ctx *ctx, const struct ik_eval_model_spec spec[2],
                  const struct ik_jcq_compare *c, const struct ik_mp_writer *w, struct ik_diag *d)
{
    int rc = ik_node_output(ctx, "report", w->sb.data, w->sb.size, d);
    if (rc < 0)
        return rc;
    ik_node_counter(ctx, "baseline_acc", c->baseline.accuracy);
    ik_node_counter(ctx, "candidate_acc", c->candidate.accuracy);
    ik_node_counter(ctx, "delta_pp", c->delta_pp);
    if (c->passed)
        return ik_node_kv_del(ctx, JCQ_KV_NS, ik_node_key(ctx), d);
    if ((rc = ik_node_kv_put(ctx, JCQ_KV_NS, ik_node_key(ctx), w->sb.data, w->sb.size, d)) < 0)
        return rc;
    struct ik_hash h;
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_bytes(w->sb.data, w->sb.size, &h);
    ik_hash_to_hex(&h, hex);
    ik_diag_set(d, IK_ENODE,
                "JCQ regression: candidate '%s' %.2f %% (%zu/%zu) is %.2f points below baseline "
                "'%s' %.2f %% (%zu/%zu), more than max_drop_pp %g",
                spec[1].name, 100 * c->candidate.accuracy, c->candidate.correct, c->candidate.n,
                -c->delta_pp, spec[0].name, 100 * c->baseline.accuracy, c->baseline.correct,
                c->baseline.n, c->max_drop_pp);
    ik_diag_hint(d, "the report is kept: ikada cache show %.12s (ikada cache query %.12s lists "
                    "the %zu lost and %zu gained questions)",
                 hex, hex, c->n_lost, c->n_gained);
    return IK_ENODE;
}

/* Compares the two models' answers, packs the report and stores it. */
static int judge(struct ik_node_ctx *ctx, const struct jcq_params *p,
                 const struct ik_eval_model_spec spec[2], const struct ik_jcq_items *items,
                 size_t n, const struct ik_hash *qhash, const struct ik_jcq_answers ans[2],
                 const struct ik_mp_writer info[2], struct ik_diag *d)
{
    int *label = ik_xmalloc((n ? n : 1) * sizeof *label);
    for (size_t i = 0; i < n; i++)
        label[i] = items->v[i].label;
    struct ik_jcq_compare cmp;
    ik_jcq_compare(&cmp, label, gated(&ans[0], p), gated(&ans[1], p), n, p->max_drop_pp);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(qhash, hex);
    struct ik_jcq_report r = {
        p->method == IK_JCQ_GENERATE ? "generate" : "loglik", p->gate, p->limit, hex, items, label, n,
        {spec[0].name, info[0].sb.data, info[0].sb.size, &ans[0], gated(&ans[0], p)},
        {spec[1].name, info[1].sb.data, info[1].sb.size, &ans[1], gated(&ans[1], p)}, &cmp};
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_jcq_report_pack(&w, &r);
    print_summary(spec, &cmp);
    int rc = finish(ctx, spec, &cmp, &w, d);
    ik_mp_writer_free(&w);
    ik_jcq_compare_free(&cmp);
    free(label);
    return rc;
}

static int jcq_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    struct jcq_params p = {0};
    struct ik_eval_model_spec spec[2];
    int rc = read_params(ctx, &p, d);
    if (rc < 0)
        return rc;
    rc = read_models(ctx, &p, spec, d);
    const char *path;
    if (rc == 0)
        rc = ik_node_input_path(ctx, "questions", &path, d);
    struct ik_hash qhash;
    if (rc == 0)
        rc = ik_node_input_hash(ctx, "questions", &qhash, d);
    if (rc < 0) {
        ik_eval_model_spec_free(&spec[0]);
        ik_eval_model_spec_free(&spec[1]);
        return rc;
    }
    struct ik_jcq_items items = IK_JCQ_ITEMS_INIT;
    struct ik_jcq_answers ans[2] = {{0}, {0}};
    struct ik_mp_writer info[2];
    ik_mp_writer_init(&info[0]);
    ik_mp_writer_init(&info[1]);
    if ((rc = ik_jcq_items_read_file(path, NULL, &items, d)) < 0)
        goto out;
    size_t n = p.limit && p.limit < items.n ? p.limit : items.n;
    struct progress pr = {ctx, 0, 2 * n};
    for (int k = 0; k < 2 && rc == 0; k++, pr.offset += n)
        rc = run_model(ctx, &spec[k], &items, n, &p, &pr, &ans[k], &info[k], d);
    if (rc == 0)
        rc = judge(ctx, &p, spec, &items, n, &qhash, ans, info, d);
out:
    ik_mp_writer_free(&info[0]);
    ik_mp_writer_free(&info[1]);
    ik_jcq_answers_free(&ans[0]);
    ik_jcq_answers_free(&ans[1]);
    ik_jcq_items_free(&items);
    ik_eval_model_spec_free(&spec[0]);
    ik_eval_model_spec_free(&spec[1]);
    return rc;
}

const struct ik_node_type ik_node_jcq_regress = {
    .name = "jcq-regress",
    .version = 1,
    .summary = "JCommonsenseQA accuracy of two models; fails when the candidate drops too far",
    .inputs = jcq_inputs,
    .outputs = jcq_outputs,
    .params = jcq_params,
    .any_inputs = true,
    .any_inputs_help = "a model, adapter, tokenizer or predictions port named in models",
    .cpu = 1,
    /* Not graceful: every answer is stored the moment it exists (model.h),
     * so there is nothing to save, and a stop must not wait for a server. */
    .needs_env = ik_eval_models_needs_env,
    .run = jcq_run,
};
