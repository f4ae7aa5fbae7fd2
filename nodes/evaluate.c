/* nodes/evaluate.c - the `evaluate` node type: RAG answers of two or more
 * models on the same samples -> eval.report (the reference's F1, EM and
 * refusal metrics per model, and how the second model differs from the
 * first).
 *
 * A thin adapter: params and inputs are read here; the cases come from
 * nodes/eval/cases.c, the answers from a model backend (nodes/eval/model.h:
 * engine, ollama, openai or a predictions file, each model named by an entry
 * of the `models` param whose ports are this node's other inputs), the
 * scores from metrics.c, the comparison from compare.c, the artifact from
 * report.c. Answers are kept in the node's kv store as they arrive, so a
 * killed evaluation resumes without asking anything twice; that is also why
 * the node needs no graceful stop (a SIGTERM ends it at once: a server's
 * reply may take minutes, and nothing is lost but the requests in flight). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "nodes/eval/cases.h"
#include "nodes/eval/compare.h"
#include "nodes/eval/metrics.h"
#include "nodes/eval/model.h"
#include "nodes/eval/report.h"

static const struct ik_port_spec evaluate_inputs[] = {
    {"samples", "raft.samples", false, "the questions: distract's test or unseen split"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec evaluate_outputs[] = {
    {"report", "eval.report", false, "metrics per model, the comparison, every item's answers"},
    {NULL, NULL, false, NULL},
};

static const struct ik_param_spec evaluate_params[] = {
    {"models", IK_PARAM_LIST, NULL, "the models: [{name, backend, ...}], see docs/evaluate.md", NULL},
    {"mode", IK_PARAM_STRING, "answer", "answer, or refusal (the oracle removed from every prompt)", NULL},
    {"refusal_keywords", IK_PARAM_LIST,
     "[回答できません, 情報が含まれていません, 情報は見つかりません, 該当する記述は見つかりません, "
     "回答するための十分な情報]",
     "a reply containing one of these is a refusal", NULL},
    {"limit", IK_PARAM_INT, "0", "evaluate the first N samples only (0: all)", IK_MIN(0)},
    {"top", IK_PARAM_INT, "10", "largest per-item F1 gains and losses listed", IK_MIN(0)},
    {"bootstrap_resamples", IK_PARAM_INT, "10000", "paired bootstrap resamples of the F1 delta", IK_MIN(0)},
    {"bootstrap_seed", IK_PARAM_INT, "42", "the bootstrap's PRNG seed", NULL},
    {"confidence", IK_PARAM_FLOAT, "0.95", "level of the F1 delta's interval", IK_RANGE(0, 1)},
    {"doc_label", IK_PARAM_STRING, "参考文書", "document label of the user messages", NULL},
    {"question_label", IK_PARAM_STRING, "質問", "question label of the user messages", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

/* Everything one run holds; released by job_free. */
struct job {
    struct ik_node_ctx *ctx;
    struct ik_eval_cases_opts copts;
    struct ik_eval_cases cases;
    struct ik_eval_refusal kw;
    const char **kw_v;
    struct ik_eval_compare_opts cmp_opts;
    struct ik_eval_model_spec *specs;
    struct ik_eval_result *results;
    size_t n_models;
    size_t done, total; /* answers, over every model */
    double start_s;
};

static void job_free(struct job *j)
{
    for (size_t m = 0; m < j->n_models; m++) {
        struct ik_eval_result *r = &j->results[m];
        for (size_t i = 0; r->answers && i < j->cases.n; i++)
            ik_eval_answer_free(&r->answers[i]);
        free(r->answers);
        free(r->scores);
        ik_eval_model_close(r->model);
    }
    free(j->results);
    for (size_t m = 0; m < j->n_models; m++)
        ik_eval_model_spec_free(&j->specs[m]);
    free(j->specs);
    free(j->kw_v);
    ik_eval_cases_free(&j->cases);
}

/* ---- params ---- */

static int int_param(struct ik_node_ctx *ctx, const char *name, int64_t min, size_t *out,
                     struct ik_diag *d)
{
    int64_t v;
    int rc = ik_node_param_int_in(ctx, name, min, INT32_MAX, &v, d);
    *out = rc == 0 ? (size_t)v : 0;
    return rc;
}

static int read_keywords(struct job *j, struct ik_diag *d)
{
    const msgpack_object *l = ik_node_param(j->ctx, "refusal_keywords");
    uint32_t n = l->via.array.size;
    j->kw_v = ik_xcalloc(n ? n : 1, sizeof *j->kw_v);
    for (uint32_t i = 0; i < n; i++) {
        const msgpack_object *k = &l->via.array.ptr[i];
        if (k->type != MSGPACK_OBJECT_STR || k->via.str.size == 0)
            return ik_diag_set(d, IK_EVALIDATE, "param refusal_keywords[%u]: expected a non-empty "
                               "string (an empty one would match every reply)", i);
        /* msgpack strings are not NUL-terminated: keep a copy per run. */
        j->kw_v[i] = ik_mp_strdup(k);
    }
    j->kw = (struct ik_eval_refusal){j->kw_v, n};
    return 0;
}

static int read_params(struct job *j, struct ik_diag *d)
{
    struct ik_node_ctx *ctx = j->ctx;
    size_t seed = 0;
    int rc;
    j->copts.what = "input samples";
    j->copts.doc_label = ik_node_param_str(ctx, "doc_label");
    j->copts.question_label = ik_node_param_str(ctx, "question_label");
    if ((rc = ik_eval_mode_by_name(ik_node_param_str(ctx, "mode"), &j->copts.mode, d)) ||
        (rc = int_param(ctx, "limit", 0, &j->copts.limit, d)) ||
        (rc = int_param(ctx, "top", 0, &j->cmp_opts.top, d)) ||
        (rc = int_param(ctx, "bootstrap_resamples", 1, &j->cmp_opts.resamples, d)) ||
        (rc = int_param(ctx, "bootstrap_seed", 0, &seed, d)) || (rc = read_keywords(j, d)))
        return rc;
    j->cmp_opts.seed = seed;
    j->cmp_opts.level = ik_node_param_float(ctx, "confidence");
    if (!(j->cmp_opts.level > 0 && j->cmp_opts.level < 1))
        return ik_diag_set(d, IK_EVALIDATE, "param confidence is %g, expected a value inside "
                           "(0, 1), e.g. 0.95", j->cmp_opts.level);
    return 0;
}

/* A model name becomes a key of every record's answers map, so it must be a
 * plain query path segment, and unique. */
static int check_name(const struct job *j, size_t m, struct ik_diag *d)
{
    const char *name = j->specs[m].name;
    bool ok = name[0] != '\0';
    for (const char *p = name; *p; p++)
        ok &= (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_' || *p == '-';
    if (!ok)
        return ik_diag_set(d, IK_EVALIDATE, "param models[%zu]: name '%s': use letters, digits, "
                           "'_' and '-'", m, name);
    for (size_t k = 0; k < m; k++)
        if (strcmp(j->specs[k].name, name) == 0)
            return ik_diag_set(d, IK_EVALIDATE, "param models[%zu]: name '%s' is also the name "
                               "of models[%zu]", m, name, k);
    return 0;
}

static int read_models(struct job *j, struct ik_diag *d)
{
    const msgpack_object *l = ik_node_param(j->ctx, "models");
    j->n_models = l->via.array.size;
    if (j->n_models == 0)
        return ik_diag_set(d, IK_EVALIDATE, "param models is empty, expected one or more models "
                           "(two to compare them)");
    j->specs = ik_xcalloc(j->n_models, sizeof *j->specs);
    j->results = ik_xcalloc(j->n_models, sizeof *j->results);
    for (size_t m = 0; m < j->n_models; m++) {
        char what[32];
        snprintf(what, sizeof what, "models[%zu]", m);
        int rc = ik_eval_model_spec_parse(&j->specs[m], &l->via.array.ptr[m], what, j->ctx, d);
        if (rc == 0)
            rc = check_name(j, m, d);
        if (rc != 0)
            return rc;
        j->results[m].spec = &j->specs[m];
    }
    return 0;
}

static bool names_port(const struct ik_eval_model_spec *s, const char *port)
{
    const char *ports[] = {s->model_port, s->adapter_port, s->tokenizer_port, s->predictions_port};
    for (size_t k = 0; k < sizeof ports / sizeof ports[0]; k++)
        if (ports[k] && strcmp(ports[k], port) == 0)
            return true;
    return false;
}

/* Every input but samples belongs to a model: one no model names is a typo
 * (or a model left out), not something to ignore. */
static int check_inputs_used(const struct job *j, struct ik_diag *d)
{
    for (size_t i = 0; i < ik_node_input_count(j->ctx); i++) {
        const char *port = ik_node_input_port(j->ctx, i);
        bool used = strcmp(port, "samples") == 0;
        for (size_t m = 0; m < j->n_models && !used; m++)
            used = names_port(&j->specs[m], port);
        if (!used) {
            ik_diag_set(d, IK_EVALIDATE, "input '%s' is not named by any entry of param models",
                        port);
            ik_diag_hint(d, "name it in a model, e.g. {name: base, backend: engine, model: %s}",
                         port);
            return IK_EVALIDATE;
        }
    }
    return 0;
}

/* ---- answering ---- */

static void on_answer(void *arg, size_t done, size_t total, int64_t tokens)
{
    struct job *j = arg;
    (void)total;
    double secs = ik_clock_monotonic_s() - j->start_s;
    ik_node_progress(j->ctx, j->done + done, j->total, "answers");
    if (tokens > 0 && secs > 0)
        ik_node_counter(j->ctx, "tok_s", (double)tokens / secs);
}

static int answer_all(struct job *j, struct ik_eval_result *r, struct ik_diag *d)
{
    size_t n = j->cases.n;
    struct ik_eval_prompt *prompts = ik_xcalloc(n, sizeof *prompts);
    for (size_t i = 0; i < n; i++)
        ik_eval_case_prompt(&j->cases.v[i], &j->copts, &prompts[i]);
    r->answers = ik_xcalloc(n, sizeof *r->answers);
    r->scores = ik_xcalloc(n, sizeof *r->scores);
    j->start_s = ik_clock_monotonic_s();
    int rc = ik_eval_model_open(&r->model, r->spec, j->ctx, d);
    if (rc == 0)
        rc = ik_eval_model_generate(r->model, prompts, n, r->answers, on_answer, j, d);
    r->wall_s = ik_clock_monotonic_s() - j->start_s;
    free(prompts);
    if (rc != 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        const struct ik_eval_case *c = &j->cases.v[i];
        const char *text = r->answers[i].text;
        ik_eval_score(&r->scores[i], text, strlen(text), c->expected, strlen(c->expected),
                      c->unanswerable, &j->kw);
    }
    ik_eval_result_tally(r, n);
    j->done += n;
    return 0;
}

static void print_summary(const struct job *j)
{
    for (size_t m = 0; m < j->n_models; m++) {
        const struct ik_eval_result *r = &j->results[m];
        const struct ik_eval_summary *s = &r->sum;
        printf("%s: F1 %.4f, EM %.4f, F1 answered %.4f, refusals TP %zu FN %zu FP %zu TN %zu; "
               "%zu hit max_new_tokens, %zu prompts shortened, %zu answers from the cache; "
               "%.1f s\n", r->spec->name, s->f1_mean, s->em_mean, s->f1_answered, s->tp, s->fn,
               s->fp, s->tn, r->hit_max_tokens, r->prompts_shortened, r->from_cache, r->wall_s);
    }
}

static int evaluate_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    struct job j = {.ctx = ctx};
    const msgpack_object *root;
    int rc;
    if ((rc = read_params(&j, d)) || (rc = read_models(&j, d)) || (rc = check_inputs_used(&j, d)) ||
        (rc = ik_node_input_object(ctx, "samples", &root, d)) ||
        (rc = ik_eval_cases_load(&j.cases, root, &j.copts, d)))
        goto out;
    j.total = j.cases.n * j.n_models;
    for (size_t m = 0; m < j.n_models && rc == 0; m++)
        rc = answer_all(&j, &j.results[m], d);
    if (rc != 0)
        goto out;
    struct ik_eval_compare cmp;
    bool compared = j.n_models >= 2;
    if (compared && (rc = ik_eval_compare(&cmp, j.results[0].scores, j.results[1].scores,
                                          j.cases.n, &j.cmp_opts, d)) != 0)
        goto out;
    struct ik_eval_report rep = {j.copts.mode, &j.cases, j.results, j.n_models,
                                 compared ? &cmp : NULL, &j.cmp_opts, &j.kw};
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_eval_report_pack(&w, &rep);
    rc = ik_node_output(ctx, "report", w.sb.data, w.sb.size, d);
    ik_mp_writer_free(&w);
    if (compared)
        ik_eval_compare_free(&cmp);
    if (rc == 0)
        print_summary(&j);
out:
    for (size_t i = 0; j.kw_v && i < j.kw.n; i++)
        free((char *)j.kw_v[i]);
    job_free(&j);
    return rc;
}

const struct ik_node_type ik_node_evaluate = {
    .name = "evaluate",
    .version = 1,
    .summary = "answer RAG questions with two or more models; the reference's F1, EM, refusals",
    .inputs = evaluate_inputs,
    .outputs = evaluate_outputs,
    .params = evaluate_params,
    .any_inputs = true,
    .any_inputs_help = "a model's model, adapter, tokenizer or predictions, named in models",
    .cpu = IK_NODE_CPU_ALL,
    .gpu = 0,
    .needs_env = ik_eval_models_needs_env,
    .run = evaluate_run,
};
