/* nodes/train/dataset.c - the train node's examples (dataset.h): each
 * record's messages rendered through the chat template and tokenized, BOS
 * and the loss mask set, the ids checked against the model's vocabulary, and
 * the sample fitted to max_length (the documents' part in doc_truncate.c). */
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/spellcheck.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "lm/chat_template.h"
#include "lm/tokenizer.h"
#include "nodes/raft/raft_prompt.h"
#include "nodes/train/dataset.h"
#include "nodes/raft/doc_truncate.h"

static const char *const loss_names[] = {"assistant", "all", NULL};
static const char *const trunc_names[] = {"documents", "end", "drop", "fail", NULL};

static int by_name(const char *const *names, const char *what, const char *list, const char *name,
                   int *out, struct ik_diag *d)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return 0;
        }
    const char *near = ik_spellcheck(name, names);
    if (near)
        return ik_diag_set(d, IK_EVALIDATE, "unknown %s '%s'; did you mean '%s'? (expected %s)", what,
                           name, near, list);
    return ik_diag_set(d, IK_EVALIDATE, "unknown %s '%s': expected %s", what, name, list);
}

int ik_train_loss_on_by_name(const char *name, int *out, struct ik_diag *d)
{
    return by_name(loss_names, "loss_on", "assistant or all", name, out, d);
}

int ik_train_truncate_by_name(const char *name, int *out, struct ik_diag *d)
{
    return by_name(trunc_names, "truncate", "documents, end, drop or fail", name, out, d);
}

/* One record being built: where it is, for messages. */
struct build {
    const struct ik_tok *t;
    const struct ik_train_data_opts *o;
    const char *what;
    size_t rec; /* index among the records, from 0 */
};

/* A record's messages, the strings owned. */
struct sample {
    struct ik_chat_msg *msgs;
    size_t n;
};

/* One encoded sample. */
struct enc {
    int *ids;
    unsigned char *mask;
    int n, n_target;
};

static void sample_free(struct sample *s)
{
    for (size_t i = 0; i < s->n; i++) {
        free((char *)s->msgs[i].role);
        free((char *)s->msgs[i].content);
    }
    free(s->msgs);
}

static void enc_free(struct enc *e)
{
    free(e->ids);
    free(e->mask);
    *e = (struct enc){0};
}

/* Sets d to "<what>: record <rec + 1>: <fmt>" and returns IK_EVALIDATE. */
static int rec_error(const struct build *b, struct ik_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rec_error(const struct build *b, struct ik_diag *d, const char *fmt, ...)
{
    struct ik_buf m = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&m, fmt, ap);
    va_end(ap);
    ik_buf_putc(&m, '\0');
    ik_diag_set(d, IK_EVALIDATE, "%s: record %zu: %s", b->what, b->rec + 1, m.data);
    ik_buf_free(&m);
    return IK_EVALIDATE;
}

static int is_role(const char *r)
{
    return strcmp(r, "system") == 0 || strcmp(r, "user") == 0 || strcmp(r, "assistant") == 0;
}

/* The record's messages; with use_expected_answer, metadata.expected_answer
 * becomes the assistant turn of a sample that has none. */
static int read_sample(const struct build *b, const msgpack_object *rec, struct sample *s,
                       struct ik_diag *d)
{
    const msgpack_object *msgs = ik_mp_get(rec, "messages");
    *s = (struct sample){0};
    if (msgs == NULL || msgs->type != MSGPACK_OBJECT_ARRAY)
        return rec_error(b, d, "no `messages` (expected an array of {role, content} maps)");
    s->msgs = ik_xcalloc(msgs->via.array.size + 1, sizeof *s->msgs);
    int asst = 0;
    for (uint32_t i = 0; i < msgs->via.array.size; i++) {
        const msgpack_object *m = &msgs->via.array.ptr[i];
        const msgpack_object *role = ik_mp_get(m, "role"), *content = ik_mp_get(m, "content");
        if (role == NULL || role->type != MSGPACK_OBJECT_STR || content == NULL ||
            content->type != MSGPACK_OBJECT_STR)
            return rec_error(b, d, "message %u: expected a map with string `role` and `content`", i + 1);
        s->msgs[s->n].role = ik_mp_strdup(role);
        s->msgs[s->n++].content = ik_mp_strdup(content);
        if (!is_role(s->msgs[i].role))
            return rec_error(b, d, "message %u: unknown role '%s': expected system, user or assistant",
                             i + 1, s->msgs[i].role);
        asst |= strcmp(s->msgs[i].role, "assistant") == 0;
    }
    if (asst)
        return 0;
    const msgpack_object *ea = ik_mp_get(ik_mp_get(rec, "metadata"), "expected_answer");
    if (!b->o->use_expected_answer)
        return rec_error(b, d, "no assistant turn (expected a message with role \"assistant\")");
    if (ea == NULL || ea->type != MSGPACK_OBJECT_STR)
        return rec_error(b, d, "no assistant turn (expected a message with role \"assistant\", or a "
                               "string metadata.expected_answer to stand in)");
    s->msgs[s->n].role = ik_xstrdup("assistant");
    s->msgs[s->n++].content = ik_mp_strdup(ea);
    return 0;
}

/* Renders and tokenizes msgs: BOS (dataset.h), the loss mask, the count. */
static int encode(const struct build *b, const struct ik_chat_msg *msgs, size_t n_msgs, struct enc *e,
                  struct ik_diag *d)
{
    int *ids;
    unsigned char *mask;
    size_t n;
    int rc = ik_chat_encode(b->o->chat_template, b->t, msgs, n_msgs, &ids, &mask, &n, d);
    if (rc != 0) {
        ik_diag_prefix(d, "%s: record %zu: ", b->what, b->rec + 1);
        return rc;
    }
    int bos = ik_tok_bos(b->t);
    size_t add = bos >= 0 && (n == 0 || ids[0] != bos);
    if (n + add > INT_MAX / 2) {
        free(ids), free(mask);
        return rec_error(b, d, "%zu tokens, more than this code handles", n + add);
    }
    e->n = (int)(n + add);
    e->ids = ik_xmalloc((size_t)e->n * sizeof *e->ids + 1);
    e->mask = ik_xmalloc((size_t)e->n + 1);
    if (add)
        e->ids[0] = bos, e->mask[0] = 0;
    if (n > 0) {
        memcpy(e->ids + add, ids, n * sizeof *ids);
        memcpy(e->mask + add, mask, n);
    }
    free(ids), free(mask);
    if (b->o->loss_on == IK_TRAIN_LOSS_ALL)
        memset(e->mask, 1, (size_t)e->n);
    e->n_target = 0;
    for (int i = 0; i < e->n; i++) {
        e->mask[i] = i > 0 && e->mask[i];
        e->n_target += e->mask[i];
    }
    return 0;
}

static int check_vocab(const struct build *b, const struct enc *e, struct ik_diag *d)
{
    for (int i = 0; i < e->n; i++)
        if (e->ids[i] < 0 || e->ids[i] >= b->o->vocab) {
            int rc = rec_error(b, d, "token id %d is outside the model's vocabulary of %d",
                               e->ids[i], b->o->vocab);
            ik_diag_hint(d, "the tokenizer has %d tokens: is it the model's own?",
                         ik_tok_vocab_size(b->t));
            return rc;
        }
    return 0;
}

/* What doc_truncate.c's encoder callback works on. */
struct doc_arg {
    const struct build *b;
    struct sample *s;
    size_t user; /* the message whose documents are cut */
    struct enc *e;
};

static int encode_with_user(void *arg, const char *user, size_t len, int *n, struct ik_diag *d)
{
    struct doc_arg *a = arg;
    const char *orig = a->s->msgs[a->user].content;
    struct enc next = {0};
    (void)len;
    a->s->msgs[a->user].content = user;
    int rc = encode(a->b, a->s->msgs, a->s->n, &next, d);
    a->s->msgs[a->user].content = orig;
    if (rc != 0)
        return rc;
    enc_free(a->e);
    *a->e = next;
    *n = next.n;
    return 0;
}

static void truncate_hint(struct ik_diag *d)
{
    ik_diag_hint(d, "raise max_length, or set truncate to end or drop");
}

/* truncate "documents": e (longer than max_length) becomes the sample with
 * the first user turn's documents shortened. */
static int fit_documents(const struct build *b, struct sample *s, struct enc *e, struct ik_diag *d)
{
    const struct ik_train_data_opts *o = b->o;
    const char *dl = o->doc_label ? o->doc_label : ik_raft_prompt_default.doc_label;
    const char *ql = o->question_label ? o->question_label : ik_raft_prompt_default.question_label;
    struct ik_raft_docs docs = {0};
    size_t u = 0;
    for (; u < s->n; u++) {
        const char *c = s->msgs[u].content;
        if (strcmp(s->msgs[u].role, "user") == 0 && ik_raft_docs_split(&docs, c, strlen(c), dl, ql) > 0)
            break;
        ik_raft_docs_free(&docs);
    }
    if (u == s->n) {
        int rc = rec_error(b, d, "%d tokens, longer than max_length %d, and no user turn holds "
                                 "reference documents to shorten (\"%s1:\" ... \"%s: \")",
                           e->n, o->max_length, dl, ql);
        truncate_hint(d);
        return rc;
    }
    struct doc_arg a = {b, s, u, e};
    int n_full = e->n, n_empty;
    int rc = ik_raft_docs_fit(&docs, n_full, o->max_length, encode_with_user, &a, &n_empty, d);
    ik_raft_docs_free(&docs);
    if (rc == 1) {
        rc = rec_error(b, d, "%d tokens with every reference document emptied (%d in full), longer "
                             "than max_length %d", n_empty, n_full, o->max_length);
        truncate_hint(d);
    }
    return rc == 0 ? check_vocab(b, e, d) : rc;
}

/* Fits e to max_length by o->truncate: 1 kept (*truncated set), 0 dropped,
 * or a negative code. */
static int fit(const struct build *b, struct sample *s, struct enc *e, int *truncated, struct ik_diag *d)
{
    const struct ik_train_data_opts *o = b->o;
    *truncated = 0;
    if (e->n <= o->max_length)
        return 1;
    int rc;
    switch (o->truncate) {
    case IK_TRAIN_TRUNC_DROP:
        return 0;
    case IK_TRAIN_TRUNC_END:
        for (int i = o->max_length; i < e->n; i++)
            e->n_target -= e->mask[i];
        e->n = o->max_length;
        *truncated = 1;
        return e->n_target > 0;
    case IK_TRAIN_TRUNC_DOCUMENTS:
        if ((rc = fit_documents(b, s, e, d)) != 0)
            return rc;
        *truncated = 1;
        return 1;
    default:
        rc = rec_error(b, d, "%d tokens, longer than max_length %d", e->n, o->max_length);
        ik_diag_hint(d, "set truncate to documents, end or drop to shorten such samples or leave them out");
        return rc;
    }
}

/* Builds record rec: 1 with *ex filled, 0 when it is dropped, or a negative code. */
static int build_one(const struct build *b, const msgpack_object *rec, struct ik_train_example *ex,
                     struct ik_diag *d)
{
    struct sample s;
    struct enc e = {0};
    int truncated = 0;
    int rc = read_sample(b, rec, &s, d);
    if (rc == 0)
        rc = encode(b, s.msgs, s.n, &e, d);
    if (rc == 0)
        rc = check_vocab(b, &e, d);
    if (rc == 0 && e.n_target == 0)
        rc = rec_error(b, d, "no target token to take the loss on (loss_on %s; is the assistant turn "
                             "empty?)", loss_names[b->o->loss_on]);
    if (rc == 0)
        rc = fit(b, &s, &e, &truncated, d);
    sample_free(&s);
    if (rc == 1) {
        *ex = (struct ik_train_example){e.ids, e.mask, e.n, e.n_target, b->rec, truncated};
        return 1;
    }
    enc_free(&e);
    return rc;
}

int ik_train_dataset_build(struct ik_train_dataset *ds, const msgpack_object *root,
                           const struct ik_tok *t, const struct ik_train_data_opts *o,
                           struct ik_diag *d)
{
    *ds = (struct ik_train_dataset){0};
    const char *what = o->what ? o->what : "samples";
    if (o->max_length < 2)
        return ik_diag_set(d, IK_EVALIDATE, "%s: max_length is %d, expected at least 2", what,
                           o->max_length);
    const msgpack_object *recs = ik_artifact_records(root);
    if (recs == NULL || recs->via.array.size == 0)
        return ik_diag_set(d, IK_EVALIDATE, "%s: no records (expected an artifact with a non-empty "
                           "`records` array of samples)", what);
    size_t cap = 0;
    int rc = 0;
    for (uint32_t i = 0; i < recs->via.array.size && rc >= 0; i++) {
        struct build b = {t, o, what, i};
        struct ik_train_example ex;
        ds->n_samples++;
        rc = build_one(&b, &recs->via.array.ptr[i], &ex, d);
        if (rc == 0)
            ds->n_dropped++;
        if (rc != 1)
            continue;
        ds->ex = ik_xgrow(ds->ex, &cap, ds->n + 1, sizeof *ds->ex);
        ds->ex[ds->n++] = ex;
        ds->n_truncated += (size_t)ex.truncated;
        ds->n_tokens += (uint64_t)ex.n;
        ds->n_target += (uint64_t)ex.n_target;
    }
    if (rc < 0)
        ik_train_dataset_free(ds);
    return rc < 0 ? rc : 0;
}

void ik_train_dataset_free(struct ik_train_dataset *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->ex[i].ids);
        free(ds->ex[i].mask);
    }
    free(ds->ex);
    *ds = (struct ik_train_dataset){0};
}
