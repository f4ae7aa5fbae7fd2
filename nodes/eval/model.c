/* nodes/eval/model.c - the `models` entries and the one door to every
 * backend: the spec parser (a table of keys: which backend each belongs to,
 * its type and bounds), then open/close/generate/loglik dispatched through
 * the backend's table (model_int.h), with the answer cache in front of
 * generate so no backend repeats that logic. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/assert.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "lm/model.h"
#include "nodes/eval/model_int.h"

enum { B_ENGINE = 1 << IK_EVAL_ENGINE, B_OLLAMA = 1 << IK_EVAL_OLLAMA,
       B_OPENAI = 1 << IK_EVAL_OPENAI, B_PRED = 1 << IK_EVAL_PREDICTIONS,
       B_HTTP = B_OLLAMA | B_OPENAI, B_GEN = B_ENGINE | B_HTTP };

static const char *const backend_names[] = {"engine", "ollama", "openai", "predictions", NULL};

const char *ik__eval_backend_name(enum ik_eval_backend b) { return backend_names[b]; }

/* ---- the keys of an entry ---- */

enum key_type { K_STR, K_PORT, K_INT, K_U64, K_NUM };

struct key {
    const char *name;
    unsigned backends;
    enum key_type type;
    size_t offset;   /* into struct ik_eval_model_spec */
    double min, max; /* K_INT, K_U64, K_NUM */
    bool required;
};

#define AT(f) offsetof(struct ik_eval_model_spec, f)
static const struct key keys[] = {
    {"model", B_ENGINE, K_PORT, AT(model_port), 0, 0, true},
    {"model", B_HTTP, K_STR, AT(server_model), 0, 0, true},
    {"adapter", B_ENGINE, K_PORT, AT(adapter_port), 0, 0, false},
    {"tokenizer", B_ENGINE, K_PORT, AT(tokenizer_port), 0, 0, false},
    {"chat_template", B_ENGINE, K_STR, AT(chat_template), 0, 0, false},
    {"batch", B_ENGINE, K_INT, AT(batch), 1, IK_LM_MAX_BATCH, false},
    {"max_context", B_ENGINE, K_INT, AT(max_context), 0, 1 << 24, false},
    {"overflow", B_ENGINE, K_STR, AT(overflow_), 0, 0, false},
    {"base_url", B_HTTP, K_STR, AT(base_url), 0, 0, false},
    {"api_key_env", B_HTTP, K_STR, AT(api_key_env), 0, 0, false},
    {"concurrency", B_HTTP, K_INT, AT(concurrency), 1, 1024, false},
    {"rpm", B_HTTP, K_NUM, AT(rpm), 0, 1e9, false},
    {"timeout_s", B_HTTP, K_NUM, AT(timeout_s), 0.001, 86400, false},
    {"max_retries", B_HTTP, K_INT, AT(max_retries), 0, 100, false},
    {"predictions", B_PRED, K_PORT, AT(predictions_port), 0, 0, true},
    {"temperature", B_GEN, K_NUM, AT(temperature), 0, 100, false},
    {"max_new_tokens", B_GEN, K_INT, AT(max_new_tokens), 1, 1 << 20, false},
    {"seed", B_GEN, K_U64, AT(seed), 0, 9007199254740992.0, false},
};
#define N_KEYS (sizeof keys / sizeof keys[0])

static void set_defaults(struct ik_eval_model_spec *s)
{
    s->chat_template = "auto";
    s->overflow_ = "fail";
    s->batch = 8;
    s->base_url = "";
    s->concurrency = 4;
    s->timeout_s = 300;
    s->max_retries = 5;
    s->temperature = 0.1;
    s->max_new_tokens = 512;
}

/* What the entry is called in messages: "param models[1] (raft)". */
struct where {
    const char *what, *name;
    struct ik_diag *d;
};

static int bad(const struct where *w, const char *fmt, const char *a, const char *b)
{
    char *msg = ik_xasprintf(fmt, a, b);
    if (w->name)
        ik_diag_set(w->d, IK_EVALIDATE, "param %s (%s): %s", w->what, w->name, msg);
    else
        ik_diag_set(w->d, IK_EVALIDATE, "param %s: %s", w->what, msg);
    free(msg);
    return IK_EVALIDATE;
}

static char *take_str(char **arena, const msgpack_object *o)
{
    char *s = *arena;
    memcpy(s, o->via.str.ptr, o->via.str.size);
    s[o->via.str.size] = '\0';
    *arena += o->via.str.size + 1;
    return s;
}

static const char *type_word(enum key_type t)
{
    switch (t) {
    case K_STR: return "a string";
    case K_PORT: return "the name of an input port";
    case K_INT: case K_U64: return "an integer";
    default: return "a number";
    }
}

static int set_number(const struct key *k, const msgpack_object *v, struct ik_eval_model_spec *s,
                      const struct where *w)
{
    double x = 0;
    bool is_int = v->type == MSGPACK_OBJECT_POSITIVE_INTEGER ||
                  v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER;
    if ((k->type != K_NUM && !is_int) || !ik_mp_number(v, &x) || !isfinite(x))
        return bad(w, "key %s: expected %s", k->name, type_word(k->type));
    if (x < k->min || x > k->max) {
        char range[96];
        snprintf(range, sizeof range, "%g..%g", k->min, k->max);
        return bad(w, "key %s is out of range: expected %s", k->name, range);
    }
    char *field = (char *)s + k->offset;
    if (k->type == K_INT)
        *(int *)field = (int)x;
    else if (k->type == K_U64)
        *(uint64_t *)field = v->via.u64;
    else
        *(double *)field = x;
    return 0;
}

static int set_key(const struct key *k, const msgpack_object *v, struct ik_eval_model_spec *s,
                   char **arena, struct ik_node_ctx *node, const struct where *w)
{
    if (k->type != K_STR && k->type != K_PORT)
        return set_number(k, v, s, w);
    if (v->type != MSGPACK_OBJECT_STR || (k->type == K_PORT && v->via.str.size == 0))
        return bad(w, "key %s: expected %s", k->name, type_word(k->type));
    const char *str = take_str(arena, v);
    if (k->type == K_PORT && !ik_node_has_input(node, str))
        return bad(w, "key %s names input port '%s', which is not connected to the node",
                   k->name, str);
    *(const char **)((char *)s + k->offset) = str;
    return 0;
}

/* The entry of name for backend b, or NULL; *elsewhere says whether another
 * backend has it. */
static const struct key *find_key(const char *name, unsigned b, bool *elsewhere)
{
    *elsewhere = false;
    for (size_t i = 0; i < N_KEYS; i++)
        if (strcmp(keys[i].name, name) == 0) {
            if (keys[i].backends & b)
                return &keys[i];
            *elsewhere = true;
        }
    return NULL;
}

static int unknown_key(const char *name, enum ik_eval_backend be, const struct where *w)
{
    bool elsewhere;
    if (find_key(name, ~0u, &elsewhere) != NULL)
        return bad(w, "key %s does not apply to backend %s", name, backend_names[be]);
    const char *cands[N_KEYS + 3];
    size_t n = 0;
    cands[n++] = "name";
    cands[n++] = "backend";
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].backends & (1u << be))
            cands[n++] = keys[i].name;
    cands[n] = NULL;
    const char *near = ik_spellcheck(name, cands);
    if (near)
        return bad(w, "unknown key %s; did you mean %s?", name, near);
    return bad(w, "unknown key %s for backend %s (docs/eval-models.md lists the keys)", name,
               backend_names[be]);
}

static int parse_backend(const msgpack_object *v, enum ik_eval_backend *out, const struct where *w)
{
    if (v == NULL || v->type != MSGPACK_OBJECT_STR)
        return bad(w, "key backend: expected %s%s", "one of engine, ollama, openai, predictions",
                   v == NULL ? " (it is missing)" : "");
    char *name = ik_mp_strdup(v);
    for (int i = 0; backend_names[i]; i++)
        if (strcmp(name, backend_names[i]) == 0) {
            *out = (enum ik_eval_backend)i;
            free(name);
            return 0;
        }
    const char *near = ik_spellcheck(name, backend_names);
    int rc = near ? bad(w, "unknown backend '%s'; did you mean %s?", name, near)
                  : bad(w, "unknown backend '%s': expected %s", name,
                        "engine, ollama, openai or predictions");
    free(name);
    return rc;
}

static size_t string_bytes(const msgpack_object *entry)
{
    size_t n = 0;
    for (uint32_t i = 0; i < entry->via.map.size; i++)
        if (entry->via.map.ptr[i].val.type == MSGPACK_OBJECT_STR)
            n += entry->via.map.ptr[i].val.via.str.size + 1;
    return n;
}

static int parse_keys(struct ik_eval_model_spec *s, const msgpack_object *entry, char **arena,
                      struct ik_node_ctx *node, const struct where *w)
{
    unsigned b = 1u << s->backend;
    bool seen[N_KEYS] = {false};
    for (uint32_t i = 0; i < entry->via.map.size; i++) {
        const msgpack_object_kv *kv = &entry->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR)
            return bad(w, "%s%s", "keys must be strings", "");
        char *name = ik_mp_strdup(&kv->key);
        bool elsewhere;
        const struct key *k = find_key(name, b, &elsewhere);
        int rc = 0;
        if (strcmp(name, "name") != 0 && strcmp(name, "backend") != 0)
            rc = k == NULL ? unknown_key(name, s->backend, w)
                           : set_key(k, &kv->val, s, arena, node, w);
        if (k)
            seen[k - keys] = true;
        free(name);
        if (rc != 0)
            return rc;
    }
    for (size_t i = 0; i < N_KEYS; i++)
        if (keys[i].required && (keys[i].backends & b) && !seen[i])
            return bad(w, "key %s is required for backend %s", keys[i].name,
                       backend_names[s->backend]);
    return 0;
}

int ik_eval_model_spec_parse(struct ik_eval_model_spec *out, const msgpack_object *entry,
                             const char *what, struct ik_node_ctx *node, struct ik_diag *d)
{
    struct where w = {what, NULL, d};
    if (entry->type != MSGPACK_OBJECT_MAP)
        return bad(&w, "expected a map with %s%s", "name, backend and the backend's keys", "");
    const msgpack_object *name = ik_mp_get(entry, "name");
    if (name == NULL || name->type != MSGPACK_OBJECT_STR || name->via.str.size == 0)
        return bad(&w, "key name: expected a non-empty string%s%s",
                   name == NULL ? " (it is missing)" : "", "");
    struct ik_eval_model_spec s = {0};
    set_defaults(&s);
    s.strings_ = ik_xmalloc(string_bytes(entry) + 1);
    char *arena = s.strings_;
    s.name = take_str(&arena, name);
    w.name = s.name;
    int rc = parse_backend(ik_mp_get(entry, "backend"), &s.backend, &w);
    if (rc == 0)
        rc = parse_keys(&s, entry, &arena, node, &w);
    if (rc == 0 && strcmp(s.overflow_, "fail") != 0 && strcmp(s.overflow_, "left") != 0)
        rc = bad(&w, "key overflow is '%s', expected fail or left%s", s.overflow_, "");
    s.overflow_left = rc == 0 && strcmp(s.overflow_, "left") == 0;
    if (rc != 0) {
        ik_eval_model_spec_free(&s);
        return rc;
    }
    *out = s;
    return 0;
}

void ik_eval_model_spec_free(struct ik_eval_model_spec *s)
{
    free(s->strings_);
    s->strings_ = NULL;
}

/* ---- dispatch ---- */

/* One file per backend. */
static const struct ik_eval_backend_ops *const backend_ops[] = {
    [IK_EVAL_ENGINE] = &ik__eval_engine_ops,
    [IK_EVAL_OLLAMA] = &ik__eval_ollama_ops,
    [IK_EVAL_OPENAI] = &ik__eval_openai_ops,
    [IK_EVAL_PREDICTIONS] = &ik__eval_predictions_ops,
};

int ik_eval_model_open(struct ik_eval_model **out, const struct ik_eval_model_spec *spec,
                       struct ik_node_ctx *node, struct ik_diag *d)
{
    /* Every backend the spec parser accepts has its table entry. */
    IK_ASSERT((size_t)spec->backend < sizeof backend_ops / sizeof backend_ops[0] &&
              backend_ops[spec->backend] != NULL);
    const struct ik_eval_backend_ops *ops = backend_ops[spec->backend];
    struct ik_eval_model *m = ik_xcalloc(1, sizeof *m);
    m->spec = *spec;
    m->ops = ops;
    m->node = node;
    int rc = m->ops->open(m, d);
    if (rc != 0) {
        ik_diag_prefix(d, "model %s (%s): ", spec->name, m->ops->name);
        free(m->identity);
        free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void ik_eval_model_close(struct ik_eval_model *m)
{
    if (m == NULL)
        return;
    m->ops->close(m);
    free(m->identity);
    free(m);
}

static void report(struct ik_eval_job *job)
{
    if (job->progress)
        job->progress(job->progress_arg, job->done, job->total, job->tokens);
}

int ik__eval_job_done(struct ik_eval_job *job, size_t i, struct ik_diag *d)
{
    const struct ik_eval_answer *a = &job->answers[i];
    if (job->keys != NULL) {
        int rc = ik__eval_answer_put(job->m->node, &job->keys[i], a, d);
        if (rc != 0) {
            ik_diag_prefix(d, "model %s: cannot store the answer to item %zu: ",
                           job->m->spec.name, job->prompts[i].index);
            return rc;
        }
    }
    job->done++;
    job->tokens += a->new_tokens;
    report(job);
    if (ik_node_stop_requested(job->m->node))
        return ik_diag_set(d, IK_ECANCELED, "model %s: stopped after %zu of %zu answers (they "
                           "are kept for the next run)", job->m->spec.name, job->done, job->total);
    return 0;
}

/* Fills the answers the cache has; the others go to job->todo. */
static int from_cache(struct ik_eval_job *job, size_t n, struct ik_hash *keys, size_t *todo,
                      struct ik_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        if (keys == NULL) {
            todo[job->n_todo++] = i;
            continue;
        }
        ik__eval_answer_key(job->m, &job->prompts[i], &keys[i]);
        struct ik_diag gd = IK_DIAG_INIT;
        int rc = ik__eval_answer_get(job->m->node, &keys[i], &job->answers[i], &gd);
        if (rc == 0) {
            job->done++;
            job->tokens += job->answers[i].new_tokens;
            report(job);
        } else if (rc == -ENOENT) {
            todo[job->n_todo++] = i;
        } else {
            ik_diag_set(d, rc, "model %s: %s", job->m->spec.name, ik_diag_message(&gd));
            ik_diag_free(&gd);
            return rc;
        }
        ik_diag_free(&gd);
    }
    return 0;
}

int ik_eval_model_generate(struct ik_eval_model *m, const struct ik_eval_prompt *prompts, size_t n,
                           struct ik_eval_answer *answers, ik_eval_progress_fn progress,
                           void *progress_arg, struct ik_diag *d)
{
    memset(answers, 0, n * sizeof *answers);
    struct ik_hash *keys = m->ops->cached ? ik_xcalloc(n ? n : 1, sizeof *keys) : NULL;
    size_t *todo = ik_xmalloc((n ? n : 1) * sizeof *todo);
    struct ik_eval_job job = {.m = m, .prompts = prompts, .answers = answers, .todo = todo,
                              .keys = keys, .total = n, .progress = progress,
                              .progress_arg = progress_arg};
    int rc = from_cache(&job, n, keys, todo, d);
    if (rc == 0 && job.n_todo > 0)
        rc = m->ops->generate(&job, d);
    if (rc != 0)
        for (size_t i = 0; i < n; i++)
            ik_eval_answer_free(&answers[i]);
    free(keys);
    free(todo);
    return rc;
}

int ik_eval_model_loglik(struct ik_eval_model *m, const struct ik_eval_prompt *prompt,
                         const char *const *continuations, size_t n_cont, double *ll,
                         int *n_tokens, struct ik_diag *d)
{
    if (m->ops->loglik == NULL)
        return ik_diag_set(d, IK_EVALIDATE, "model %s: backend %s cannot score log-likelihoods "
                           "(method loglik needs backend engine)", m->spec.name, m->ops->name);
    return m->ops->loglik(m, prompt, continuations, n_cont, ll, n_tokens, d);
}

void ik_eval_answer_free(struct ik_eval_answer *a)
{
    free(a->text);
    memset(a, 0, sizeof *a);
}

void ik__eval_pack_port_hash(const struct ik_eval_model *m, msgpack_packer *pk, const char *key,
                             const char *port)
{
    ik_mp_pack_str(pk, key);
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    if (port != NULL && ik_node_input_hash(m->node, port, &h, &d) == 0) {
        char hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&h, hex);
        ik_mp_pack_str(pk, hex);
    } else {
        msgpack_pack_nil(pk);
    }
    ik_diag_free(&d);
}

void ik_eval_model_pack_info(const struct ik_eval_model *m, msgpack_packer *pk)
{
    msgpack_pack_map(pk, 2 + (size_t)m->ops->n_info);
    ik_mp_pack_str(pk, "name");
    ik_mp_pack_str(pk, m->spec.name);
    ik_mp_pack_str(pk, "backend");
    ik_mp_pack_str(pk, m->ops->name);
    m->ops->pack_info(m, pk);
}

void ik_eval_models_needs_env(const msgpack_object *params,
                              void (*need)(void *arg, const char *name, const char *why),
                              void *arg)
{
    const msgpack_object *l = ik_mp_get(params, "models");
    for (uint32_t i = 0; l && l->type == MSGPACK_OBJECT_ARRAY && i < l->via.array.size; i++) {
        const msgpack_object *e = &l->via.array.ptr[i];
        char *env = e->type == MSGPACK_OBJECT_MAP ? ik_mp_strdup(ik_mp_get(e, "api_key_env")) : NULL;
        if (env != NULL && env[0] != '\0') {
            char *name = ik_mp_strdup(ik_mp_get(e, "name"));
            char why[160];
            snprintf(why, sizeof why, "api_key_env of models[%u] (%s)", i, name ? name : "?");
            need(arg, env, why);
            free(name);
        }
        free(env);
    }
}
