/* nodes/eval/cases.c - evaluation cases from samples records (cases.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "nodes/cot/cot.h"
#include "nodes/eval/cases.h"

int ik_eval_mode_by_name(const char *name, enum ik_eval_mode *out, struct ik_diag *d)
{
    if (strcmp(name, "answer") == 0)
        *out = IK_EVAL_MODE_ANSWER;
    else if (strcmp(name, "refusal") == 0)
        *out = IK_EVAL_MODE_REFUSAL;
    else
        return ik_diag_set(d, IK_EVALIDATE, "param mode is '%s', expected answer or refusal", name);
    return 0;
}

bool ik_eval_drop_document(const char *user, size_t len, const char *doc_label,
                           const char *question_label, int drop, struct ik_buf *out)
{
    struct ik_cot_doc docs[IK_COT_MAX_DOCS];
    size_t n = ik_cot_split_docs(user, len, doc_label, question_label, docs, IK_COT_MAX_DOCS);
    if (drop < 1 || (size_t)drop > n)
        return false;
    /* docs[0] starts right after "\n\n<label>1:\n"; the intro ends before it. */
    int first_marker = snprintf(NULL, 0, "\n\n%s1:\n", doc_label);
    ik_buf_append(out, user, (size_t)(docs[0].text - user) - (size_t)first_marker);
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if ((int)i + 1 == drop)
            continue;
        ik_buf_printf(out, "\n\n%s%d:\n", doc_label, ++k);
        ik_buf_append(out, docs[i].text, docs[i].len);
    }
    const char *tail = docs[n - 1].text + docs[n - 1].len; /* "\n\n<question_label>: …" */
    ik_buf_append(out, tail, (size_t)(user + len - tail));
    return true;
}

static int field_error(const struct ik_eval_cases_opts *o, size_t row, const char *what,
                       struct ik_diag *d)
{
    return ik_diag_set(d, IK_EVALIDATE, "%s: record %zu: %s", o->what, row, what);
}

/* The system/user messages before the first assistant turn. */
static int read_prompt(struct ik_eval_case *c, const msgpack_object *msgs,
                       const struct ik_eval_cases_opts *o, size_t row, const char **user,
                       size_t *user_len, struct ik_diag *d)
{
    if (msgs == NULL || msgs->type != MSGPACK_OBJECT_ARRAY)
        return field_error(o, row, "expected messages, an array of {role, content} maps", d);
    for (uint32_t i = 0; i < msgs->via.array.size; i++) {
        const msgpack_object *m = &msgs->via.array.ptr[i];
        const msgpack_object *role = ik_mp_get(m, "role"), *content = ik_mp_get(m, "content");
        if (role == NULL || role->type != MSGPACK_OBJECT_STR || content == NULL ||
            content->type != MSGPACK_OBJECT_STR)
            return ik_diag_set(d, IK_EVALIDATE, "%s: record %zu: message %u: expected a map with "
                               "string role and content", o->what, row, i + 1);
        if (ik_mp_str_eq(role, "assistant"))
            break;
        if (c->n_msgs == sizeof c->msgs / sizeof c->msgs[0])
            return field_error(o, row, "more than 4 messages before the assistant's turn", d);
        bool is_user = ik_mp_str_eq(role, "user");
        struct ik_eval_msg *em = &c->msgs[c->n_msgs++];
        em->role = is_user ? "user" : ik_mp_str_eq(role, "system") ? "system" : "assistant";
        if (!is_user && !ik_mp_str_eq(role, "system"))
            return ik_diag_set(d, IK_EVALIDATE, "%s: record %zu: message %u: role '%.*s', "
                               "expected system, user or assistant", o->what, row, i + 1,
                               (int)role->via.str.size, role->via.str.ptr);
        em->content = content->via.str.ptr;
        em->len = content->via.str.size;
        if (is_user && *user == NULL) {
            *user = em->content;
            *user_len = em->len;
        }
    }
    if (*user == NULL)
        return field_error(o, row, "no user message before the assistant's turn", d);
    return 0;
}

static char *meta_str(const msgpack_object *meta, const char *key)
{
    const msgpack_object *v = meta ? ik_mp_get(meta, key) : NULL;
    return v && v->type == MSGPACK_OBJECT_STR ? ik_mp_strdup(v) : NULL;
}

/* Removes the oracle from the user message (mode refusal). */
static int rewrite_for_refusal(struct ik_eval_case *c, const char *user, size_t user_len,
                               const struct ik_eval_cases_opts *o, size_t row, struct ik_diag *d)
{
    if (c->oracle_position == 0)
        return 0; /* already without an oracle */
    struct ik_buf b = IK_BUF_INIT;
    if (!ik_eval_drop_document(user, user_len, o->doc_label, o->question_label,
                               c->oracle_position, &b)) {
        ik_buf_free(&b);
        return ik_diag_set(d, IK_EVALIDATE, "%s: record %zu: mode refusal: oracle_position is %d "
                           "but the user message has no '%s%d:' document before '%s: '", o->what,
                           row, c->oracle_position, o->doc_label, c->oracle_position,
                           o->question_label);
    }
    c->user_rewritten = ik_buf_steal(&b);
    for (size_t i = 0; i < c->n_msgs; i++)
        if (c->msgs[i].content == user) {
            c->msgs[i].content = c->user_rewritten;
            c->msgs[i].len = strlen(c->user_rewritten);
            break;
        }
    c->unanswerable = true;
    return 0;
}

static int read_case(struct ik_eval_case *c, const msgpack_object *rec, size_t index,
                     const struct ik_eval_cases_opts *o, struct ik_diag *d)
{
    size_t row = index + 1;
    const char *user = NULL;
    size_t user_len = 0;
    c->index = index;
    const msgpack_object *meta = ik_mp_get(rec, "metadata");
    int rc = read_prompt(c, ik_mp_get(rec, "messages"), o, row, &user, &user_len, d);
    if (rc != 0)
        return rc;
    if ((c->question = meta_str(meta, "question")) == NULL)
        return field_error(o, row, "expected a string metadata.question", d);
    c->expected = meta_str(meta, "expected_answer");
    if (c->expected == NULL)
        c->expected = ik_xstrdup("");
    double pos = 0;
    const msgpack_object *ho = meta ? ik_mp_get(meta, "has_oracle") : NULL;
    bool no_oracle = ho && ho->type == MSGPACK_OBJECT_BOOLEAN && !ho->via.boolean;
    if (!no_oracle && ik_mp_number(ik_mp_get(meta, "oracle_position"), &pos) && pos >= 1 &&
        pos <= IK_COT_MAX_DOCS)
        c->oracle_position = (int)pos;
    c->unanswerable = c->oracle_position == 0;
    return o->mode == IK_EVAL_MODE_REFUSAL ? rewrite_for_refusal(c, user, user_len, o, row, d) : 0;
}

int ik_eval_cases_load(struct ik_eval_cases *out, const msgpack_object *root,
                       const struct ik_eval_cases_opts *o, struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    const msgpack_object *recs = ik_artifact_records(root);
    if (recs == NULL || recs->type != MSGPACK_OBJECT_ARRAY)
        return ik_diag_set(d, IK_EVALIDATE, "%s: expected an artifact with records (raft.samples "
                           "from distract)", o->what);
    out->n_records = recs->via.array.size;
    size_t n = out->n_records;
    if (o->limit > 0 && o->limit < n)
        n = o->limit;
    out->v = ik_xcalloc(n ? n : 1, sizeof *out->v);
    for (size_t i = 0; i < n; i++) {
        int rc = read_case(&out->v[i], &recs->via.array.ptr[i], i, o, d);
        out->n = i + 1;
        if (rc != 0)
            return rc;
    }
    if (n == 0)
        return ik_diag_set(d, IK_EVALIDATE, "%s: no records to evaluate", o->what);
    return 0;
}

void ik_eval_cases_free(struct ik_eval_cases *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->v[i].question);
        free(c->v[i].expected);
        free(c->v[i].user_rewritten);
    }
    free(c->v);
    memset(c, 0, sizeof *c);
}

void ik_eval_case_prompt(const struct ik_eval_case *c, const struct ik_eval_cases_opts *o,
                         struct ik_eval_prompt *out)
{
    out->msgs = c->msgs;
    out->n_msgs = c->n_msgs;
    out->question = c->question;
    out->index = c->index;
    out->doc_label = o->doc_label;
    out->question_label = o->question_label;
}
