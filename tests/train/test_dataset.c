/* tests/train/test_dataset.c - the train node's examples (nodes/train/dataset.h):
 * exact ids and masks for loss_on assistant and all, the BOS rule per
 * template and tokenizer, each truncate mode with its counts, and every
 * error with its exact text. Expected ids are computed by encoding the
 * template's pieces directly, as the chat encoder is specified to. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/tokenizer.h"
#include "nodes/raft/raft_prompt.h"
#include "nodes/train/dataset.h"
#include "tests/train/helpers.h"

static struct ik_train_data_opts opts(int tmpl, int loss_on, int truncate, int max_length)
{
    return (struct ik_train_data_opts){.chat_template = tmpl, .loss_on = loss_on, .truncate = truncate,
                                       .max_length = max_length, .vocab = 512, .what = "input samples"};
}

/* Builds the records (stolen) into ds; returns the code, d keeps the message. */
static int build(json_t *records, const struct ik_tok *t, const struct ik_train_data_opts *o,
                 struct ik_train_dataset *ds, struct ik_diag *d)
{
    struct tq_value v;
    const msgpack_object *root = tt_artifact(&v, records);
    int rc = ik_train_dataset_build(ds, root, t, o, d);
    tq_value_free(&v);
    return rc;
}

/* Builds and expects the failure message want; ds must be left empty. */
static void build_fails(json_t *records, const struct ik_tok *t, const struct ik_train_data_opts *o,
                        const char *want)
{
    struct ik_train_dataset ds;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(build(records, t, o, &ds, &d), IK_EVALIDATE, "no failure, want %s", want);
    cr_assert_str_eq(ik_diag_message(&d), want);
    cr_assert(ds.n == 0 && ds.ex == NULL && ds.n_tokens == 0, "a failed build left examples");
    ik_diag_free(&d);
}

/* Builds one record that must be kept, into ds. */
static void build_ok(json_t *records, const struct ik_tok *t, const struct ik_train_data_opts *o,
                     struct ik_train_dataset *ds)
{
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(build(records, t, o, ds, &d), 0, "%s", ik_diag_message(&d));
}

/* Appends the ids of s to want with mask value m. */
static void expect(const struct ik_tok *t, const char *s, int m, int *want, unsigned char *wmask, int *n)
{
    size_t k;
    int *ids = tt_encode(t, s, &k);
    for (size_t i = 0; i < k; i++, (*n)++)
        want[*n] = ids[i], wmask[*n] = (unsigned char)m;
    free(ids);
}

static void assert_example(const struct ik_train_example *ex, const int *want, const unsigned char *wmask,
                           int n)
{
    cr_assert_eq(ex->n, n);
    int targets = 0;
    for (int i = 0; i < n; i++) {
        cr_assert_eq(ex->ids[i], want[i], "ids[%d] = %d, want %d", i, ex->ids[i], want[i]);
        cr_assert_eq(ex->mask[i], wmask[i], "mask[%d] = %d, want %d", i, ex->mask[i], wmask[i]);
        targets += wmask[i];
    }
    cr_assert_eq(ex->n_target, targets);
}

/* Plain template over tok512: BOS, then "Be brief.\nHi\n" outside the loss
 * and "Yo\n" inside it (assistant), or every position but the first (all). */
Test(train_dataset, masks_plain_assistant_and_all)
{
    struct ik_tok *t = tt_tok512();
    int want[128], n = 0;
    unsigned char wmask[128];
    want[n] = ik_tok_bos(t), wmask[n++] = 0;
    expect(t, "Be brief.\nHi\n", 0, want, wmask, &n);
    expect(t, "Yo\n", 1, want, wmask, &n);
    for (int loss = 0; loss < 2; loss++) {
        struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, loss, IK_TRAIN_TRUNC_FAIL, 256);
        struct ik_train_dataset ds;
        build_ok(json_pack("[o]", tt_rec(tt_msg("system", "Be brief."), tt_msg("user", "Hi"),
                                         tt_msg("assistant", "Yo"), NULL)), t, &o, &ds);
        if (loss == IK_TRAIN_LOSS_ALL)
            memset(wmask + 1, 1, (size_t)n - 1);
        cr_assert_eq(ds.n, 1);
        assert_example(&ds.ex[0], want, wmask, n);
        cr_assert(ds.n_samples == 1 && ds.n_dropped == 0 && ds.n_truncated == 0 && ds.ex[0].index == 0);
        cr_assert(ds.n_tokens == (uint64_t)n && ds.n_target == (uint64_t)ds.ex[0].n_target);
        ik_train_dataset_free(&ds);
    }
    ik_tok_free(t);
}

/* chatml over a tokenizer without BOS: the assistant span is "ok<|im_end|>",
 * the newline after it is outside. */
Test(train_dataset, masks_chatml_exact)
{
    struct ik_tok *t = tt_tok_json(0);
    int want[128], n = 0;
    unsigned char wmask[128];
    expect(t, "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", 0, want, wmask, &n);
    expect(t, "ok<|im_end|>", 1, want, wmask, &n);
    expect(t, "\n", 0, want, wmask, &n);
    cr_assert_eq(want[0], TT_IMS);
    struct ik_train_data_opts o = opts(IK_CHAT_CHATML, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 256);
    struct ik_train_dataset ds;
    build_ok(json_pack("[o]", tt_rec(tt_msg("user", "hi"), tt_msg("assistant", "ok"), NULL)), t, &o, &ds);
    assert_example(&ds.ex[0], want, wmask, n);
    cr_assert_eq(ds.ex[0].n_target, 3); /* o, k, <|im_end|> */
    ik_train_dataset_free(&ds);
    ik_tok_free(t);
}

/* The first two ids of the one example of user "hi" / assistant "ok". */
static void first_ids(const struct ik_tok *t, int tmpl, int out[2])
{
    struct ik_train_data_opts o = opts(tmpl, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 256);
    struct ik_train_dataset ds;
    build_ok(json_pack("[o]", tt_rec(tt_msg("user", "hi"), tt_msg("assistant", "ok"), NULL)), t, &o, &ds);
    out[0] = ds.ex[0].ids[0];
    out[1] = ds.ex[0].ids[1];
    ik_train_dataset_free(&ds);
}

/* BOS is prepended when the tokenizer has one and the rendering does not
 * already start with it. */
Test(train_dataset, bos_rule)
{
    int f[2];
    struct ik_tok *t = tt_tok512();
    first_ids(t, IK_CHAT_PLAIN, f);
    cr_assert(f[0] == 1 && f[1] != 1, "plain over tok512: %d %d", f[0], f[1]);
    first_ids(t, IK_CHAT_LLAMA2, f); /* the template's "<s>" is the BOS */
    cr_assert(f[0] == 1 && f[1] != 1, "llama2 over tok512: %d %d", f[0], f[1]);
    ik_tok_free(t);
    t = tt_tok_json(1);
    cr_assert_eq(ik_tok_bos(t), TT_BOT);
    first_ids(t, IK_CHAT_LLAMA3, f); /* writes <|begin_of_text|> itself */
    cr_assert(f[0] == TT_BOT && f[1] == TT_SHI, "llama3: %d %d", f[0], f[1]);
    first_ids(t, IK_CHAT_CHATML, f);
    cr_assert(f[0] == TT_BOT && f[1] == TT_IMS, "chatml with a BOS tokenizer: %d %d", f[0], f[1]);
    ik_tok_free(t);
    t = tt_tok_json(0);
    first_ids(t, IK_CHAT_CHATML, f);
    cr_assert_eq(f[0], TT_IMS, "chatml without BOS: %d", f[0]);
    ik_tok_free(t);
}

static const char long_text[] = "Once upon a time there was a little dog. He liked to run in the park. ";

/* A record whose user turn is long (k copies of long_text) and whose answer
 * comes last. */
static json_t *long_rec(int k, const char *answer)
{
    struct ik_buf b = IK_BUF_INIT;
    for (int i = 0; i < k; i++)
        ik_buf_puts(&b, long_text);
    ik_buf_putc(&b, '\0');
    json_t *r = tt_rec(tt_msg("user", b.data), tt_msg("assistant", answer), NULL);
    ik_buf_free(&b);
    return r;
}

static int length_of(const struct ik_tok *t, json_t *rec)
{
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 100000);
    struct ik_train_dataset ds;
    build_ok(json_pack("[o]", rec), t, &o, &ds);
    int n = ds.ex[0].n;
    ik_train_dataset_free(&ds);
    return n;
}

Test(train_dataset, truncate_fail_names_record_and_length)
{
    struct ik_tok *t = tt_tok512();
    int n = length_of(t, long_rec(3, "Yes."));
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, n - 1);
    char *want = ik_xasprintf("error: input samples: record 2: %d tokens, longer than max_length %d\n"
                              "hint: set truncate to documents, end or drop to shorten such samples or "
                              "leave them out", n, n - 1);
    build_fails(json_pack("[o, o]", tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Yo"), NULL),
                          long_rec(3, "Yes.")), t, &o, want);
    free(want);
    ik_tok_free(t);
}

Test(train_dataset, truncate_drop_counts)
{
    struct ik_tok *t = tt_tok512();
    int n = length_of(t, long_rec(3, "Yes."));
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_DROP, n - 1);
    struct ik_train_dataset ds;
    build_ok(json_pack("[o, o, o]", tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Yo"), NULL),
                       long_rec(3, "Yes."), tt_rec(tt_msg("user", "A"), tt_msg("assistant", "B"), NULL)),
             t, &o, &ds);
    cr_assert(ds.n == 2 && ds.n_samples == 3 && ds.n_dropped == 1 && ds.n_truncated == 0);
    cr_assert(ds.ex[0].index == 0 && ds.ex[1].index == 2);
    cr_assert_eq(ds.n_tokens, (uint64_t)(ds.ex[0].n + ds.ex[1].n));
    ik_train_dataset_free(&ds);
    ik_tok_free(t);
}

/* "end" keeps a prefix; when no target remains in it the sample is dropped. */
Test(train_dataset, truncate_end_keeps_prefix_or_drops)
{
    struct ik_tok *t = tt_tok512();
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 100000);
    struct ik_train_dataset full, ds;
    build_ok(json_pack("[o]", long_rec(3, "Yes, he did.")), t, &o, &full);
    const struct ik_train_example *f = &full.ex[0];
    int p0 = 0;
    while (!f->mask[p0])
        p0++;
    cr_assert(f->n_target > 2 && p0 > 10);
    o.truncate = IK_TRAIN_TRUNC_END;
    o.max_length = p0 + 2;
    build_ok(json_pack("[o, o]", long_rec(3, "Yes, he did."),
                       tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Yo"), NULL)), t, &o, &ds);
    cr_assert(ds.n == 2 && ds.n_truncated == 1 && ds.n_dropped == 0);
    cr_assert(ds.ex[0].truncated && !ds.ex[1].truncated);
    cr_assert(ds.ex[0].n == p0 + 2 && ds.ex[0].n_target == 2);
    cr_assert(memcmp(ds.ex[0].ids, f->ids, (size_t)(p0 + 2) * sizeof *f->ids) == 0);
    cr_assert(memcmp(ds.ex[0].mask, f->mask, (size_t)(p0 + 2)) == 0);
    cr_assert_eq(ds.n_target, (uint64_t)(2 + ds.ex[1].n_target));
    ik_train_dataset_free(&ds);
    o.max_length = p0; /* every target cut off */
    build_ok(json_pack("[o, o]", long_rec(3, "Yes, he did."),
                       tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Yo"), NULL)), t, &o, &ds);
    cr_assert(ds.n == 1 && ds.n_dropped == 1 && ds.n_truncated == 0 && ds.ex[0].index == 1);
    ik_train_dataset_free(&ds);
    ik_train_dataset_free(&full);
    ik_tok_free(t);
}

/* A RAFT record: system, the user turn rendered by raft_prompt.c over docs,
 * the answer. */
static json_t *raft_rec(const char *const *docs, size_t n_docs, const char *question, const char *answer)
{
    struct ik_raft_doc d[8];
    for (size_t i = 0; i < n_docs; i++)
        d[i] = (struct ik_raft_doc){docs[i], strlen(docs[i])};
    struct ik_buf b = IK_BUF_INIT;
    ik_raft_render_user(&b, &ik_raft_prompt_default, d, n_docs, question, strlen(question));
    ik_buf_putc(&b, '\0');
    json_t *r = tt_rec(tt_msg("system", "Answer from the documents."), tt_msg("user", b.data),
                       tt_msg("assistant", answer), NULL);
    ik_buf_free(&b);
    return r;
}

static char *decode(const struct ik_tok *t, const struct ik_train_example *ex)
{
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_decode(t, ex->ids, (size_t)ex->n, 1, &b, &d), 0, "%s", ik_diag_message(&d));
    ik_buf_putc(&b, '\0');
    return ik_buf_steal(&b);
}

/* "documents": the longest document is cut first, from its end; the short
 * one, the question, the system message and the answer survive whole. */
Test(train_dataset, truncate_documents_cuts_longest_first)
{
    struct ik_tok *t = tt_tok512();
    char long_doc[1024] = "";
    for (int i = 0; i < 5; i++)
        strcat(long_doc, long_text);
    const char *docs[] = {"The cat sat on the mat.", long_doc};
    int n = length_of(t, raft_rec(docs, 2, "Where did the dog run?", "In the park."));
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_DOCUMENTS,
                                       n - 30);
    struct ik_train_dataset ds;
    build_ok(json_pack("[o, o]", raft_rec(docs, 2, "Where did the dog run?", "In the park."),
                       tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Yo"), NULL)), t, &o, &ds);
    cr_assert(ds.n == 2 && ds.n_truncated == 1 && ds.n_dropped == 0);
    const struct ik_train_example *ex = &ds.ex[0];
    cr_assert(ex->truncated && ex->n <= n - 30, "n %d, max_length %d", ex->n, n - 30);
    cr_assert(ex->n >= n - 60, "cut far more than needed: %d of %d tokens", ex->n, n);
    char *text = decode(t, ex);
    cr_assert(strstr(text, "The cat sat on the mat.") != NULL, "%s", text);
    cr_assert(strstr(text, "\n\n質問: Where did the dog run?") != NULL, "%s", text);
    cr_assert(strstr(text, "In the park.") != NULL, "%s", text);
    cr_assert(strstr(text, "Answer from the documents.") != NULL, "%s", text);
    cr_assert(strstr(text, "参考文書2:\nOnce upon a time there was a little dog.") != NULL, "%s", text);
    cr_assert(strstr(text, long_doc) == NULL, "the long document was not cut");
    /* The answer's tokens, and so its targets, are those of the full sample. */
    struct ik_train_data_opts big = o;
    big.max_length = 100000;
    struct ik_train_dataset full;
    build_ok(json_pack("[o]", raft_rec(docs, 2, "Where did the dog run?", "In the park.")), t, &big, &full);
    cr_assert_eq(ex->n_target, full.ex[0].n_target);
    cr_assert(memcmp(ex->ids + ex->n - ex->n_target, full.ex[0].ids + n - ex->n_target,
                     (size_t)ex->n_target * sizeof *ex->ids) == 0);
    ik_train_dataset_free(&full);
    free(text);
    ik_train_dataset_free(&ds);
    ik_tok_free(t);
}

/* Japanese documents (tok512 falls back to bytes, 3 tokens a character) are
 * cut between characters: the kept text is valid UTF-8. */
Test(train_dataset, truncate_documents_utf8_boundaries)
{
    struct ik_tok *t = tt_tok512();
    const char *docs[] = {"所得税の確定申告は毎年二月十六日から三月十五日までです。", "短い。"};
    int n = length_of(t, raft_rec(docs, 2, "期限は？", "三月十五日です。"));
    for (int cut = 1; cut <= 40; cut += 13) {
        struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ALL, IK_TRAIN_TRUNC_DOCUMENTS, n - cut);
        struct ik_train_dataset ds;
        build_ok(json_pack("[o]", raft_rec(docs, 2, "期限は？", "三月十五日です。")), t, &o, &ds);
        cr_assert(ds.ex[0].n <= n - cut && ds.ex[0].truncated);
        char *text = decode(t, &ds.ex[0]);
        cr_assert(ik_utf8_valid(text, strlen(text)), "cut inside a character: %s", text);
        cr_assert(strstr(text, "参考文書2:\n短い。\n\n質問: 期限は？") != NULL, "%s", text);
        cr_assert(strstr(text, "三月十五日です。\n") != NULL, "%s", text);
        cr_assert(strstr(text, "参考文書1:\n所得税") != NULL, "%s", text);
        free(text);
        ik_train_dataset_free(&ds);
    }
    ik_tok_free(t);
}

Test(train_dataset, truncate_documents_cannot_fit)
{
    struct ik_tok *t = tt_tok512();
    const char *docs[] = {long_text, "The cat sat."}, *empty[] = {"", ""};
    int n = length_of(t, raft_rec(docs, 2, "Where did the dog run?", "In the park."));
    int n_empty = length_of(t, raft_rec(empty, 2, "Where did the dog run?", "In the park."));
    cr_assert(n_empty < n);
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_DOCUMENTS,
                                       n_empty - 1);
    char *want = ik_xasprintf("error: input samples: record 1: %d tokens with every reference document "
                              "emptied (%d in full), longer than max_length %d\nhint: raise max_length, "
                              "or set truncate to end or drop", n_empty, n, n_empty - 1);
    build_fails(json_pack("[o]", raft_rec(docs, 2, "Where did the dog run?", "In the park.")), t, &o, want);
    free(want);
    /* Exactly n_empty tokens fit: every document emptied. */
    o.max_length = n_empty;
    struct ik_train_dataset ds;
    build_ok(json_pack("[o]", raft_rec(docs, 2, "Where did the dog run?", "In the park.")), t, &o, &ds);
    cr_assert(ds.ex[0].n == n_empty && ds.ex[0].truncated);
    ik_train_dataset_free(&ds);
    /* No documents in the layout. */
    n = length_of(t, long_rec(3, "Yes."));
    o.max_length = n - 1;
    want = ik_xasprintf("error: input samples: record 1: %d tokens, longer than max_length %d, and no user "
                        "turn holds reference documents to shorten (\"参考文書1:\" ... \"質問: \")\n"
                        "hint: raise max_length, or set truncate to end or drop", n, n - 1);
    build_fails(json_pack("[o]", long_rec(3, "Yes.")), t, &o, want);
    free(want);
    ik_tok_free(t);
}

/* Labels other than raft_prompt.h's defaults, as distract's params set them:
 * found only when the options name them. */
Test(train_dataset, truncate_documents_own_labels)
{
    struct ik_tok *t = tt_tok512();
    struct ik_buf u = IK_BUF_INIT;
    struct ik_raft_prompt p = {"Read these.", "Doc ", "Q"};
    struct ik_raft_doc d[2] = {{long_text, strlen(long_text)}, {"Short.", 6}};
    ik_raft_render_user(&u, &p, d, 2, "Why?", 4);
    ik_buf_putc(&u, '\0');
    int n = length_of(t, tt_rec(tt_msg("user", u.data), tt_msg("assistant", "Because."), NULL));
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_DOCUMENTS, n - 5);
    char *want = ik_xasprintf("error: input samples: record 1: %d tokens, longer than max_length %d, and no "
                              "user turn holds reference documents to shorten (\"参考文書1:\" ... \"質問: \")\n"
                              "hint: raise max_length, or set truncate to end or drop", n, n - 5);
    build_fails(json_pack("[o]", tt_rec(tt_msg("user", u.data), tt_msg("assistant", "Because."), NULL)), t, &o,
                want);
    free(want);
    o.doc_label = "Doc ";
    o.question_label = "Q";
    struct ik_train_dataset ds;
    build_ok(json_pack("[o]", tt_rec(tt_msg("user", u.data), tt_msg("assistant", "Because."), NULL)), t, &o,
             &ds);
    cr_assert(ds.ex[0].n <= n - 5 && ds.ex[0].truncated);
    char *text = decode(t, &ds.ex[0]);
    cr_assert(strstr(text, "Read these.\n\nDoc 1:\nOnce upon") != NULL, "%s", text);
    cr_assert(strstr(text, "\n\nDoc 2:\nShort.\n\nQ: Why?") != NULL, "%s", text);
    cr_assert(strstr(text, long_text) == NULL, "%s", text);
    free(text);
    ik_train_dataset_free(&ds);
    ik_buf_free(&u);
    ik_tok_free(t);
}

/* A record with a system and a user turn, and metadata.expected_answer
 * when answer is not NULL (distract's test split). */
static json_t *test_rec(const char *answer)
{
    json_t *r = tt_rec(tt_msg("system", "Be brief."), tt_msg("user", "Hi"), NULL);
    if (answer)
        json_object_set_new(r, "metadata", json_pack("{s:s, s:i}", "expected_answer", answer,
                                                     "oracle_position", 1));
    return r;
}

Test(train_dataset, use_expected_answer)
{
    struct ik_tok *t = tt_tok512();
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 256);
    struct ik_train_dataset ds, want;
    build_ok(json_pack("[o]", tt_rec(tt_msg("system", "Be brief."), tt_msg("user", "Hi"),
                                     tt_msg("assistant", "Hello there."), NULL)), t, &o, &want);
    build_fails(json_pack("[o]", test_rec("Hello there.")), t, &o,
                "error: input samples: record 1: no assistant turn (expected a message with role "
                "\"assistant\")");
    o.use_expected_answer = 1;
    build_ok(json_pack("[o]", test_rec("Hello there.")), t, &o, &ds);
    assert_example(&ds.ex[0], want.ex[0].ids, want.ex[0].mask, want.ex[0].n);
    ik_train_dataset_free(&ds);
    /* An assistant turn, when there is one, wins over expected_answer. */
    json_t *r = tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Hello there."), NULL);
    json_object_set_new(r, "metadata", json_pack("{s:s}", "expected_answer", "Something else."));
    json_t *r2 = tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Hello there."), NULL);
    build_ok(json_pack("[o, o]", r, r2), t, &o, &ds);
    assert_example(&ds.ex[0], ds.ex[1].ids, ds.ex[1].mask, ds.ex[1].n);
    ik_train_dataset_free(&ds);
    build_fails(json_pack("[o, o]", test_rec("Hello there."), test_rec(NULL)), t, &o,
                "error: input samples: record 2: no assistant turn (expected a message with role "
                "\"assistant\", or a string metadata.expected_answer to stand in)");
    ik_train_dataset_free(&want);
    ik_tok_free(t);
}

static json_t *ok_rec(void) { return tt_rec(tt_msg("user", "Hi"), tt_msg("assistant", "Yo"), NULL); }

Test(train_dataset, errors)
{
    struct ik_tok *t = tt_tok512();
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 256);
    build_fails(json_array(), t, &o,
                "error: input samples: no records (expected an artifact with a non-empty `records` array "
                "of samples)");
    struct tq_value v;
    struct ik_train_dataset ds;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_train_dataset_build(&ds, tq_value(&v, "{\"kind\": \"raft.samples\"}"), t, &o, &d),
                 IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "input samples: no records") != NULL, "%s", ik_diag_message(&d));
    tq_value_free(&v);
    ik_diag_free(&d);
    build_fails(json_pack("[o, {s:{}}]", ok_rec(), "metadata"), t, &o,
                "error: input samples: record 2: no `messages` (expected an array of {role, content} maps)");
    build_fails(json_pack("[{s:[o, {s:s}]}]", "messages", tt_msg("user", "Hi"), "role", "assistant"), t, &o,
                "error: input samples: record 1: message 2: expected a map with string `role` and `content`");
    build_fails(json_pack("[o]", tt_rec(tt_msg("user", "Hi"), tt_msg("bot", "Yo"), NULL)), t, &o,
                "error: input samples: record 1: message 2: unknown role 'bot': expected system, user or "
                "assistant");
    json_t *recs = json_array();
    for (int i = 0; i < 11; i++)
        json_array_append_new(recs, ok_rec());
    json_array_append_new(recs, tt_rec(tt_msg("user", "Hi"), NULL));
    build_fails(recs, t, &o, "error: input samples: record 12: no assistant turn (expected a message with "
                             "role \"assistant\")");
    /* A vocabulary smaller than the tokenizer's: the first id past it is named. */
    size_t k;
    int *ids = tt_encode(t, "Hi\n", &k), bad = -1;
    for (size_t i = 0; i < k && bad < 0; i++)
        bad = ids[i] >= 300 ? ids[i] : -1;
    free(ids);
    cr_assert(bad >= 300, "the test needs an id >= 300 in \"Hi\\n\"");
    o.vocab = 300;
    char *want = ik_xasprintf("error: input samples: record 1: token id %d is outside the model's "
                              "vocabulary of 300\nhint: the tokenizer has 512 tokens: is it the model's own?",
                              bad);
    build_fails(json_pack("[o]", ok_rec()), t, &o, want);
    free(want);
    o.vocab = 512;
    o.max_length = 1;
    build_fails(json_pack("[o]", ok_rec()), t, &o, "error: input samples: max_length is 1, expected at least 2");
    o.max_length = 256;
    /* Llama 2 needs alternating turns: its message, under the record's. */
    o.chat_template = IK_CHAT_LLAMA2;
    build_fails(json_pack("[o]", tt_rec(tt_msg("assistant", "Yo"), NULL)), t, &o,
                "error: input samples: record 1: message 0: the llama2 template needs roles to alternate "
                "user/assistant/..., got 'assistant' where 'user' belongs");
    ik_tok_free(t);
}

/* No target: an empty assistant turn that encodes to one token at position
 * 0 (no BOS before it), or a one-token sample with loss_on all. */
Test(train_dataset, zero_targets)
{
    struct ik_tok *t = tt_tok_json(0);
    struct ik_train_data_opts o = opts(IK_CHAT_PLAIN, IK_TRAIN_LOSS_ASSISTANT, IK_TRAIN_TRUNC_FAIL, 256);
    build_fails(json_pack("[o, o]", ok_rec(), tt_rec(tt_msg("assistant", ""), NULL)), t, &o,
                "error: input samples: record 2: no target token to take the loss on (loss_on assistant; "
                "is the assistant turn empty?)");
    o.loss_on = IK_TRAIN_LOSS_ALL;
    build_fails(json_pack("[o]", tt_rec(tt_msg("assistant", ""), NULL)), t, &o,
                "error: input samples: record 1: no target token to take the loss on (loss_on all; "
                "is the assistant turn empty?)");
    ik_tok_free(t);
}

Test(train_dataset, names)
{
    int v = -1;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert(ik_train_loss_on_by_name("all", &v, &d) == 0 && v == IK_TRAIN_LOSS_ALL);
    cr_assert(ik_train_loss_on_by_name("assistant", &v, &d) == 0 && v == IK_TRAIN_LOSS_ASSISTANT);
    const char *const tn[] = {"documents", "end", "drop", "fail"};
    for (int i = 0; i < 4; i++)
        cr_assert(ik_train_truncate_by_name(tn[i], &v, &d) == 0 && v == i);
    cr_assert_eq(ik_train_truncate_by_name("documnets", &v, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: unknown truncate 'documnets'; did you mean 'documents'? "
                                          "(expected documents, end, drop or fail)");
    cr_assert_eq(ik_train_loss_on_by_name("everything", &v, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: unknown loss_on 'everything': expected assistant or all");
    ik_diag_free(&d);
}
