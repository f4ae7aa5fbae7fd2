/* nodes/eval/model_engine.c - the engine backend: the LM core in process.
 * Open loads the base model (an HF folder or GGUF on a port), its tokenizer
 * (lm_input.h, as train finds it), the chat template (auto or a name) and
 * an adapter (a lora.adapter artifact from train, or an adapter GGUF).
 * Generate renders each prompt up to the assistant's turn, shortens its
 * documents when it does not fit max_context - max_new_tokens (the way
 * train's truncate: documents does), and decodes in groups of spec->batch
 * with ik_lm_generate_batch, stopping at EOS or the template's end-of-turn
 * marker. Loglik scores continuations with ik_lm_score. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "engine/node.h"
#include "lm/chat_template.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model.h"
#include "lm/tokenizer.h"
#include "nodes/cot/cot.h"
#include "nodes/eval/model_int.h"
#include "nodes/lm_input.h"
#include "nodes/raft/doc_truncate.h"
#include "nodes/train/adapter_artifact.h"

#define PREFILL_CHUNK 128

struct engine {
    struct ik_lm_model *lm;
    struct ik_tok *tok;
    struct ik_lora *adapter;
    struct ik_lm_state *st;
    int tmpl;
    int context;          /* prompt + answer tokens at most */
    const char *end_turn; /* the template's end-of-turn marker, or NULL */
    int end_turn_id;      /* its token, or -1 */
    char tok_hash[IK_HASH_HEX_LEN + 1];
};

/* ---- open ---- */

static const char *end_of_turn(int tmpl)
{
    switch (tmpl) {
    case IK_CHAT_CHATML: return "<|im_end|>";
    case IK_CHAT_LLAMA3: return "<|eot_id|>";
    default: return NULL; /* llama2 ends with </s>, an EOS; plain has no marker */
    }
}

static bool is_kind(const msgpack_object *root, const char *kind)
{
    size_t n = 0;
    const char *k = ik_artifact_kind(root, &n);
    return k && n == strlen(kind) && memcmp(k, kind, n) == 0;
}

/* A lora.adapter artifact, else (a file: source or a file artifact) an
 * adapter GGUF. */
static int load_adapter(struct engine *e, struct ik_eval_model *m, struct ik_diag *d)
{
    const char *port = m->spec.adapter_port;
    const msgpack_object *root = NULL;
    struct ik_diag od = IK_DIAG_INIT;
    int rc = ik_node_input_object(m->node, port, &root, &od);
    ik_diag_free(&od);
    if (rc == 0 && is_kind(root, "lora.adapter")) {
        char *what = ik_xasprintf("input %s", port);
        rc = ik_lora_artifact_read(root, what, &e->adapter, NULL, NULL, d);
        free(what);
        return rc;
    }
    if (rc == 0 && !is_kind(root, "file"))
        return ik_diag_set(d, IK_EVALIDATE, "input %s: expected a lora.adapter artifact (train) "
                           "or an adapter GGUF file", port);
    const char *path;
    rc = ik_node_input_path(m->node, port, &path, d);
    return rc ? rc : ik_lora_load_gguf(&e->adapter, &e->lm->cfg, path, d);
}

static int pick_template(struct engine *e, const char *spec_tmpl, const char *model_path,
                         struct ik_diag *d)
{
    if (strcmp(spec_tmpl, "auto") == 0)
        return ik_chat_template_auto(model_path, &e->tmpl, d);
    return ik_chat_template_by_name(spec_tmpl, &e->tmpl, d);
}

static int set_identity(struct ik_eval_model *m, struct engine *e, struct ik_diag *d)
{
    struct ik_hash h;
    char model_hex[IK_HASH_HEX_LEN + 1], adapter_hex[IK_HASH_HEX_LEN + 1] = "-";
    int rc = ik_node_input_hash(m->node, m->spec.model_port, &h, d);
    if (rc != 0)
        return rc;
    ik_hash_to_hex(&h, model_hex);
    if (m->spec.adapter_port) {
        if ((rc = ik_node_input_hash(m->node, m->spec.adapter_port, &h, d)) != 0)
            return rc;
        ik_hash_to_hex(&h, adapter_hex);
    }
    m->identity = ik_xasprintf("%s+%s tokenizer %s template %s context %d%s", model_hex,
                               adapter_hex, e->tok_hash, ik_chat_template_name(e->tmpl),
                               e->context, m->spec.overflow_left ? " overflow left" : "");
    return 0;
}

static void engine_free(struct engine *e)
{
    ik_lm_state_free(e->st);
    ik_lora_free(e->adapter);
    ik_tok_free(e->tok);
    ik_lm_model_free(e->lm);
    free(e);
}

static int engine_open(struct ik_eval_model *m, struct ik_diag *d)
{
    struct engine *e = ik_xcalloc(1, sizeof *e);
    const char *path;
    int rc = ik_node_input_path(m->node, m->spec.model_port, &path, d);
    if (rc == 0)
        rc = ik_lm_model_load(&e->lm, path, d);
    if (rc == 0)
        rc = ik_node_load_tokenizer(m->node, m->spec.tokenizer_port, path, &e->tok, e->tok_hash, d);
    if (rc == 0)
        rc = pick_template(e, m->spec.chat_template, path, d);
    if (rc == 0 && m->spec.adapter_port)
        rc = load_adapter(e, m, d);
    if (rc == 0) {
        int max_seq = e->lm->cfg.max_seq;
        e->context = m->spec.max_context > 0 && m->spec.max_context < max_seq
                         ? m->spec.max_context : max_seq;
        e->end_turn = end_of_turn(e->tmpl);
        e->end_turn_id = e->end_turn ? ik_tok_find(e->tok, e->end_turn) : -1;
    }
    if (rc == 0)
        rc = ik_lm_state_new(&e->st, e->lm, e->context, PREFILL_CHUNK, d);
    if (rc == 0 && e->adapter)
        rc = ik_lm_state_set_adapter(e->st, e->adapter, d);
    if (rc == 0)
        rc = set_identity(m, e, d);
    if (rc != 0) {
        engine_free(e);
        return rc;
    }
    m->impl = e;
    return 0;
}

static void engine_close(struct ik_eval_model *m)
{
    if (m->impl)
        engine_free(m->impl);
}

/* ---- prompts to tokens ---- */

/* The messages as the chat template takes them (NUL-terminated copies). */
struct chat {
    struct ik_chat_msg *msgs;
    size_t n;
};

static void chat_of(struct chat *c, const struct ik_eval_prompt *p)
{
    c->n = p->n_msgs;
    c->msgs = ik_xcalloc(c->n ? c->n : 1, sizeof *c->msgs);
    for (size_t i = 0; i < c->n; i++) {
        c->msgs[i].role = p->msgs[i].role;
        c->msgs[i].content = ik_xstrndup(p->msgs[i].content, p->msgs[i].len);
    }
}

static void chat_free(struct chat *c)
{
    for (size_t i = 0; i < c->n; i++)
        free((char *)c->msgs[i].content);
    free(c->msgs);
}

/* BOS (when the tokenizer has one and the template did not write it), then
 * the rendered messages up to the assistant's turn, special tokens parsed
 * as train's ik_chat_encode parses them. */
static int encode_chat(const struct engine *e, const struct chat *c, int **ids, int *n,
                       struct ik_diag *d)
{
    struct ik_buf text = IK_BUF_INIT;
    int *v = NULL;
    size_t nv = 0;
    int rc = ik_chat_render(e->tmpl, c->msgs, c->n, 1, &text, NULL, NULL, d);
    if (rc == 0)
        rc = ik_tok_encode(e->tok, text.data ? text.data : "", text.len, 1, &v, &nv, d);
    ik_buf_free(&text);
    if (rc != 0)
        return rc;
    int bos = ik_tok_bos(e->tok);
    size_t add = bos >= 0 && (nv == 0 || v[0] != bos);
    int *out = ik_xmalloc((nv + add + 1) * sizeof *out);
    if (add)
        out[0] = bos;
    if (nv)
        memcpy(out + add, v, nv * sizeof *v);
    free(v);
    *ids = out;
    *n = (int)(nv + add);
    return 0;
}

/* What ik_raft_docs_fit's encoder works on: the chat with one user turn
 * replaced, and the last encoding. */
struct fit_arg {
    const struct engine *e;
    struct chat *c;
    size_t user;
    int *ids;
    int n;
};

static int encode_with_user(void *arg, const char *user, size_t len, int *n, struct ik_diag *d)
{
    struct fit_arg *a = arg;
    (void)len;
    const char *orig = a->c->msgs[a->user].content;
    a->c->msgs[a->user].content = user;
    int *ids;
    int rc = encode_chat(a->e, a->c, &ids, n, d);
    a->c->msgs[a->user].content = orig;
    if (rc == 0) {
        free(a->ids);
        a->ids = ids;
        a->n = *n;
    }
    return rc;
}

static int too_long(const struct ik_eval_model *m, const struct ik_eval_prompt *p, int n,
                    int budget, const char *why, struct ik_diag *d)
{
    ik_diag_set(d, IK_EVALIDATE, "model %s: the prompt of item %zu has %d tokens, more than the "
                "%d its context leaves (%d - max_new_tokens %d), %s", m->spec.name, p->index, n,
                budget, ((const struct engine *)m->impl)->context, m->spec.max_new_tokens, why);
    ik_diag_hint(d, "lower max_new_tokens, use a model with a longer context, or set overflow: "
                 "left to keep the prompt's end");
    return IK_EVALIDATE;
}

/* overflow: left keeps the last n_keep of ids[0..n) (the question and the
 * turn's end, where the answer starts), dropping tokens from the start as
 * lm-evaluation-harness does. */
static void keep_last(int *ids, int n, int n_keep)
{
    memmove(ids, ids + (n - n_keep), (size_t)n_keep * sizeof *ids);
}

/* A prompt of *n tokens that its documents cannot bring under budget:
 * overflow: left keeps its end, overflow: fail names it. */
static int overflow(const struct ik_eval_model *m, const struct ik_eval_prompt *p, int *ids, int *n,
                    int budget, const char *why, struct ik_diag *d)
{
    if (!m->spec.overflow_left)
        return too_long(m, p, *n, budget, why, d);
    keep_last(ids, *n, budget);
    *n = budget;
    return 0;
}

/* Shortens the documents of the first user turn that has some until the
 * prompt fits budget tokens. */
static int shorten(const struct ik_eval_model *m, const struct ik_eval_prompt *p, struct chat *c,
                   int **ids, int *n, int budget, struct ik_diag *d)
{
    if (p->doc_label == NULL || p->question_label == NULL)
        return overflow(m, p, *ids, n, budget, "and it has no documents to shorten", d);
    struct ik_raft_docs docs = {0};
    size_t u = 0;
    for (; u < c->n; u++) {
        const char *s = c->msgs[u].content;
        if (strcmp(c->msgs[u].role, "user") == 0 &&
            ik_raft_docs_split(&docs, s, strlen(s), p->doc_label, p->question_label) > 0)
            break;
        ik_raft_docs_free(&docs);
    }
    if (u == c->n)
        return overflow(m, p, *ids, n, budget, "and no user turn holds reference documents", d);
    struct fit_arg a = {m->impl, c, u, NULL, 0};
    int n_empty = 0;
    int rc = ik_raft_docs_fit(&docs, *n, budget, encode_with_user, &a, &n_empty, d);
    ik_raft_docs_free(&docs);
    if (rc == 1) { /* a.ids: the prompt with its documents emptied */
        a.n = n_empty;
        rc = overflow(m, p, a.ids, &a.n, budget, "even with its documents emptied", d);
    }
    if (rc != 0) {
        free(a.ids);
        return rc;
    }
    free(*ids);
    *ids = a.ids;
    *n = a.n;
    return 0;
}

/* The prompt's tokens, shortened to leave max_new_tokens of the context. */
static int encode_prompt(const struct ik_eval_model *m, const struct ik_eval_prompt *p, int **ids,
                         int *n, bool *shortened, struct ik_diag *d)
{
    const struct engine *e = m->impl;
    struct chat c;
    chat_of(&c, p);
    int budget = e->context - m->spec.max_new_tokens;
    if (budget < 1) { /* checked here, not at open: loglik generates nothing */
        chat_free(&c);
        return ik_diag_set(d, IK_EVALIDATE, "model %s: max_new_tokens %d leaves no room for a "
                           "prompt in the model's context of %d tokens", m->spec.name,
                           m->spec.max_new_tokens, e->context);
    }
    int rc = encode_chat(e, &c, ids, n, d);
    *shortened = false;
    if (rc == 0 && *n > budget) {
        rc = shorten(m, p, &c, ids, n, budget, d);
        *shortened = rc == 0;
        if (rc != 0) {
            free(*ids);
            *ids = NULL;
        }
    }
    chat_free(&c);
    if (rc != 0 && rc != IK_EVALIDATE)
        ik_diag_prefix(d, "model %s: item %zu: ", m->spec.name, p->index);
    return rc;
}

/* ---- generation ---- */

static bool is_eos(const struct ik_lm_config *cfg, int id)
{
    for (int i = 0; i < cfg->n_eos; i++)
        if (cfg->eos_id[i] == id)
            return true;
    return false;
}

/* The generated tokens up to the template's end-of-turn token: generation
 * stops at the config's EOS ids and at stop strings in the decoded text,
 * which skips special tokens, so a special <|im_end|> that is not an EOS of
 * the config is found here. */
static int answer_of(const struct engine *e, const struct ik_eval_model *m, const int *out,
                     int count, int stopped, struct ik_eval_answer *a, struct ik_diag *d)
{
    for (int i = 0; i < count; i++)
        if (out[i] == e->end_turn_id) {
            count = i;
            stopped = 0;
            break;
        }
    struct ik_buf text = IK_BUF_INIT;
    int rc = ik_tok_decode(e->tok, out, (size_t)count, 1, &text, d);
    if (rc == 0) {
        const char *stop[1] = {e->end_turn};
        size_t len = ik_lm_stop_trim(text.data ? text.data : "", text.len, stop,
                                     e->end_turn ? 1 : 0);
        struct ik_buf valid = IK_BUF_INIT; /* byte tokens may not form characters */
        ik_utf8_append_replacing(&valid, text.data ? text.data : "", len);
        a->text = ik_cot_clean_text(valid.data ? valid.data : "", valid.len);
        ik_buf_free(&valid);
        a->new_tokens = count;
        a->hit_max_tokens = count == m->spec.max_new_tokens && stopped < 0 &&
                            !(count > 0 && is_eos(&e->lm->cfg, out[count - 1]));
    }
    ik_buf_free(&text);
    return rc;
}

/* Items todo[0..n) decoded together, up to spec batch (at most
 * IK_LM_MAX_BATCH) at a time; they have consecutive indices, so prompt i
 * samples with spec seed + its index (generate.h: seed + i). */
static int decode_group(struct ik_eval_job *job, const size_t *todo, int n, struct ik_diag *d)
{
    struct ik_eval_model *m = job->m;
    struct engine *e = m->impl;
    int **prompts = ik_xcalloc((size_t)n, sizeof *prompts);
    int *lens = ik_xcalloc((size_t)n, sizeof *lens), *counts = ik_xcalloc((size_t)n, sizeof *counts);
    int *stopped = ik_xcalloc((size_t)n, sizeof *stopped);
    int **outs = ik_xcalloc((size_t)n, sizeof *outs);
    int rc = 0;
    for (int i = 0; i < n && rc == 0; i++) {
        struct ik_eval_answer *a = &job->answers[todo[i]];
        rc = encode_prompt(m, &job->prompts[todo[i]], &prompts[i], &lens[i], &a->prompt_shortened, d);
        a->prompt_tokens = lens[i];
        outs[i] = ik_xmalloc((size_t)m->spec.max_new_tokens * sizeof **outs);
    }
    const char *stop[1] = {e->end_turn};
    struct ik_lm_gen_opts o = {m->spec.max_new_tokens, (float)m->spec.temperature, 1.0f,
                               m->spec.seed + job->prompts[todo[0]].index, 1, stop,
                               e->end_turn ? 1 : 0};
    int batch = m->spec.batch < IK_LM_MAX_BATCH ? m->spec.batch : IK_LM_MAX_BATCH;
    if (rc == 0)
        rc = ik_lm_generate_batched(e->st, e->tok, (const int *const *)prompts, lens, n, &o,
                                    batch < n ? batch : n, outs, counts, stopped, d);
    for (int i = 0; i < n && rc == 0; i++) {
        rc = answer_of(e, m, outs[i], counts[i], stopped[i], &job->answers[todo[i]], d);
        if (rc == 0)
            rc = ik__eval_job_done(job, todo[i], d);
    }
    for (int i = 0; i < n; i++) {
        free(prompts[i]);
        free(outs[i]);
    }
    free(prompts), free(lens), free(counts), free(stopped), free(outs);
    return rc;
}

/* Items go to the decoder in groups of GROUP_BATCHES x batch consecutive
 * items: within a group a finished sequence's slot takes the next prompt
 * (continuous batching), and each group's answers are stored before the next
 * starts, so a kill loses at most one group. */
enum { GROUP_BATCHES = 4 };

static int engine_generate(struct ik_eval_job *job, struct ik_diag *d)
{
    int batch = job->m->spec.batch * GROUP_BATCHES;
    int rc = 0;
    for (size_t t = 0; t < job->n_todo && rc == 0;) {
        size_t n = 1;
        while (t + n < job->n_todo && n < (size_t)batch &&
               job->prompts[job->todo[t + n]].index == job->prompts[job->todo[t]].index + n)
            n++;
        rc = decode_group(job, job->todo + t, (int)n, d);
        t += n;
    }
    return rc;
}

/* ---- scoring ---- */

/* The tokens of one continuation: 0, or a code with d naming the item. */
static int encode_continuation(const struct engine *e, const struct ik_eval_model *m,
                               const struct ik_eval_prompt *p, const char *cont, int n_prompt,
                               int **ids, int *n, struct ik_diag *d)
{
    size_t nc = 0;
    int rc = ik_tok_encode(e->tok, cont, strlen(cont), 0, ids, &nc, d);
    if (rc != 0)
        return rc;
    *n = (int)nc;
    if (nc == 0)
        return ik_diag_set(d, IK_EVALIDATE, "model %s: item %zu: a continuation has no tokens",
                           m->spec.name, p->index);
    if (n_prompt + *n > e->context)
        return too_long(m, p, n_prompt + *n, e->context, "with the continuation to score", d);
    return 0;
}

/* Scores every continuation after the prompt, which runs once
 * (ik_lm_score_continuations). */
static int score_all(struct engine *e, const struct ik_eval_model *m,
                     const struct ik_eval_prompt *p, const int *prompt, int n_prompt,
                     const char *const *continuations, size_t n_cont, double *ll, int *n_tokens,
                     struct ik_diag *d)
{
    if (n_prompt < 1)
        return ik_diag_set(d, IK_EVALIDATE, "model %s: item %zu: the prompt has no tokens",
                           m->spec.name, p->index);
    int **conts = ik_xcalloc(n_cont ? n_cont : 1, sizeof *conts);
    float **lp = ik_xcalloc(n_cont ? n_cont : 1, sizeof *lp);
    int rc = 0;
    for (size_t j = 0; j < n_cont && rc == 0; j++) {
        rc = encode_continuation(e, m, p, continuations[j], n_prompt, &conts[j], &n_tokens[j], d);
        if (rc == 0)
            lp[j] = ik_xmalloc((size_t)n_tokens[j] * sizeof **lp);
    }
    if (rc == 0)
        rc = ik_lm_score_continuations(e->st, prompt, n_prompt, (const int *const *)conts,
                                       n_tokens, (int)n_cont, lp, d);
    for (size_t j = 0; j < n_cont; j++) {
        double sum = 0;
        for (int i = 0; rc == 0 && i < n_tokens[j]; i++)
            sum += lp[j][i];
        ll[j] = sum;
        free(conts[j]);
        free(lp[j]);
    }
    free(conts);
    free(lp);
    return rc;
}

static int engine_loglik(struct ik_eval_model *m, const struct ik_eval_prompt *prompt,
                         const char *const *continuations, size_t n_cont, double *ll,
                         int *n_tokens, struct ik_diag *d)
{
    struct engine *e = m->impl;
    struct chat c;
    chat_of(&c, prompt);
    int *ids = NULL, n = 0;
    int rc = encode_chat(e, &c, &ids, &n, d);
    chat_free(&c);
    if (rc == 0)
        rc = score_all(e, m, prompt, ids, n, continuations, n_cont, ll, n_tokens, d);
    free(ids);
    return rc;
}

static void engine_info(const struct ik_eval_model *m, msgpack_packer *pk)
{
    const struct engine *e = m->impl;
    ik__eval_pack_port_hash(m, pk, "model_hash", m->spec.model_port);
    ik__eval_pack_port_hash(m, pk, "adapter_hash", m->spec.adapter_port);
    ik_mp_pack_str(pk, "tokenizer_hash");
    ik_mp_pack_str(pk, e->tok_hash);
    ik_mp_pack_str(pk, "chat_template");
    ik_mp_pack_str(pk, ik_chat_template_name(e->tmpl));
    ik_mp_pack_str(pk, "context");
    msgpack_pack_int(pk, e->context);
}

const struct ik_eval_backend_ops ik__eval_engine_ops = {
    .name = "engine",
    .cached = true,
    .n_info = 5,
    .open = engine_open,
    .close = engine_close,
    .generate = engine_generate,
    .loglik = engine_loglik,
    .pack_info = engine_info,
};
