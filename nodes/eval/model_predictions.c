/* nodes/eval/model_predictions.c - the predictions backend: answers
 * produced elsewhere, one JSON object per line, so any system's outputs are
 * scored by the same code. The file is read and checked whole at open (a
 * bad line fails before anything is scored); generate matches each item to
 * a line (by question, else by index) and fails naming the first item the
 * file has no answer for. Nothing is cached: the file is the answer. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/file.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "nodes/cot/cot.h"
#include "nodes/eval/model_int.h"

static const char *const answer_fields[] = {"answer", "prediction", "response"};

/* ---- the reader ---- */

static int read_object(const char *name, long line, json_t *obj, struct ik_eval_pred *out,
                       struct ik_diag *d)
{
    if (!json_is_object(obj))
        return ik_diag_row(d, IK_EPARSE, name, line, "expected a JSON object");
    json_t *ans = NULL;
    for (size_t i = 0; i < 3 && ans == NULL; i++)
        ans = json_object_get(obj, answer_fields[i]);
    if (!json_is_string(ans))
        return ik_diag_row(d, IK_EVALIDATE, name, line, "%s: expected a string \"answer\" (or "
                           "\"prediction\" or \"response\")", ans ? "not a string" : "no answer");
    json_t *q = json_object_get(obj, "question");
    json_t *ix = json_object_get(obj, "index");
    if (q != NULL && !json_is_string(q))
        return ik_diag_row(d, IK_EVALIDATE, name, line, "\"question\" is not a string");
    if (ix != NULL && (!json_is_integer(ix) || json_integer_value(ix) < 0))
        return ik_diag_row(d, IK_EVALIDATE, name, line, "\"index\" is not an integer >= 0");
    if (q == NULL && ix == NULL)
        return ik_diag_row(d, IK_EVALIDATE, name, line, "neither \"question\" nor \"index\": "
                           "the line cannot be matched to an item");
    out->question = q ? ik_xstrndup(json_string_value(q), json_string_length(q)) : NULL;
    out->index = ix ? (int64_t)json_integer_value(ix) : -1;
    out->answer = ik_cot_clean_text(json_string_value(ans), json_string_length(ans));
    out->line = line;
    return 0;
}

static int read_line(const char *name, long line, const char *p, size_t n,
                     struct ik_eval_preds *out, size_t *cap, struct ik_diag *d)
{
    json_error_t err;
    json_t *obj = json_loadb(p, n, 0, &err);
    if (obj == NULL)
        return ik_diag_row(d, IK_EPARSE, name, line, "not valid JSON: %s (column %d)", err.text,
                           err.column);
    if (out->n == *cap) {
        *cap = *cap ? 2 * *cap : 64;
        out->v = ik_xrealloc(out->v, *cap * sizeof *out->v);
    }
    int rc = read_object(name, line, obj, &out->v[out->n], d);
    if (rc == 0)
        out->n++;
    json_decref(obj);
    return rc;
}

int ik__eval_preds_parse(const char *name, const char *data, size_t len,
                         struct ik_eval_preds *out, struct ik_diag *d)
{
    struct ik_eval_preds p = {0};
    size_t cap = 0;
    long line = 0;
    int rc = 0;
    const char *at = data, *end = data + len;
    while (at < end && rc == 0) {
        line++;
        const char *nl = memchr(at, '\n', (size_t)(end - at));
        size_t n = (size_t)((nl ? nl : end) - at);
        if (n > 0 && at[n - 1] == '\r')
            n--;
        size_t k = 0;
        while (k < n && (at[k] == ' ' || at[k] == '\t'))
            k++;
        if (k < n)
            rc = read_line(name, line, at, n, &p, &cap, d);
        at = nl ? nl + 1 : end;
    }
    if (rc != 0) {
        ik__eval_preds_free(&p);
        return rc;
    }
    *out = p;
    return 0;
}

void ik__eval_preds_free(struct ik_eval_preds *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].question);
        free(p->v[i].answer);
    }
    free(p->v);
    p->v = NULL;
    p->n = 0;
}

/* ---- matching ---- */

static size_t find_line(const struct ik_eval_preds *preds, const bool *taken,
                        const struct ik_eval_prompt *p)
{
    for (size_t j = 0; p->question && j < preds->n; j++)
        if (!taken[j] && preds->v[j].question && strcmp(preds->v[j].question, p->question) == 0)
            return j;
    for (size_t j = 0; j < preds->n; j++)
        if (!taken[j] && preds->v[j].index >= 0 && (size_t)preds->v[j].index == p->index)
            return j;
    return SIZE_MAX;
}

int ik__eval_preds_match(const struct ik_eval_preds *preds, const char *name,
                         const struct ik_eval_prompt *prompts, size_t n, size_t *match,
                         struct ik_diag *d)
{
    bool *taken = ik_xcalloc(preds->n ? preds->n : 1, sizeof *taken);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        size_t j = find_line(preds, taken, &prompts[i]);
        if (j == SIZE_MAX) {
            rc = ik_diag_set(d, IK_EVALIDATE, "%s has no answer for item %zu (question \"%.80s\"): "
                             "no unused line with that question or \"index\": %zu", name,
                             prompts[i].index, prompts[i].question ? prompts[i].question : "",
                             prompts[i].index);
            ik_diag_hint(d, "a line per item: {\"question\": ..., \"answer\": ...} or "
                         "{\"index\": 0-based item number, \"answer\": ...}");
        } else {
            taken[j] = true;
            match[i] = j;
        }
    }
    free(taken);
    return rc;
}

/* ---- the backend ---- */

struct pred_model {
    struct ik_eval_preds preds;
    char *path; /* a copy: messages name it after open */
};

static int pred_open(struct ik_eval_model *m, struct ik_diag *d)
{
    const char *path;
    int rc = ik_node_input_path(m->node, m->spec.predictions_port, &path, d);
    char *data = NULL;
    size_t len = 0;
    if (rc == 0)
        rc = ik_read_file(path, &data, &len, d);
    struct pred_model *pm = ik_xcalloc(1, sizeof *pm);
    pm->path = ik_xstrdup(rc == 0 ? path : "");
    if (rc == 0)
        rc = ik__eval_preds_parse(path, data, len, &pm->preds, d);
    free(data);
    if (rc != 0) {
        free(pm->path);
        free(pm);
        return rc;
    }
    m->impl = pm;
    return 0;
}

static void pred_close(struct ik_eval_model *m)
{
    struct pred_model *pm = m->impl;
    if (pm == NULL)
        return;
    ik__eval_preds_free(&pm->preds);
    free(pm->path);
    free(pm);
}

/* The whole call is matched before any answer is given, so a file that
 * lacks one fails at once instead of after scoring part of the set. */
static int pred_generate(struct ik_eval_job *job, struct ik_diag *d)
{
    struct pred_model *pm = job->m->impl;
    size_t *match = ik_xmalloc((job->total ? job->total : 1) * sizeof *match);
    int rc = ik__eval_preds_match(&pm->preds, pm->path, job->prompts, job->total, match, d);
    for (size_t t = 0; t < job->n_todo && rc == 0; t++) {
        size_t i = job->todo[t];
        job->answers[i].text = ik_xstrdup(pm->preds.v[match[i]].answer);
        rc = ik__eval_job_done(job, i, d);
    }
    free(match);
    return rc;
}

static void pred_info(const struct ik_eval_model *m, msgpack_packer *pk)
{
    ik__eval_pack_port_hash(m, pk, "file_hash", m->spec.predictions_port);
}

const struct ik_eval_backend_ops ik__eval_predictions_ops = {
    .name = "predictions",
    .cached = false,
    .n_info = 1,
    .open = pred_open,
    .close = pred_close,
    .generate = pred_generate,
    .loglik = NULL,
    .pack_info = pred_info,
};
