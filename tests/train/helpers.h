/* tests/train/helpers.h - fixtures of the train tests: the bundled tok512
 * SentencePiece tokenizer, a hand-written byte-level tokenizer.json with the
 * chat templates' special tokens, and samples built as JSON (jansson) and
 * turned into the msgpack artifact the builder reads. Everything is static
 * so each test file gets its own copy. */
#ifndef IK_TESTS_TRAIN_HELPERS_H
#define IK_TESTS_TRAIN_HELPERS_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/xmalloc.h"
#include "lm/tokenizer.h"
#include "tests/common/mpvalue.h"
#include "tests/common/tmpcache.h"

static inline char *tt_path(const char *rel) { return ik_xasprintf("%s/%s", IK_TEST_SRCDIR, rel); }

static inline void tt_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f, "%s: %s", path, strerror(errno));
    cr_assert_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    cr_assert_eq(fclose(f), 0);
}

static inline struct ik_tok *tt_load(const char *path)
{
    struct ik_tok *t;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, path, &d), 0, "%s", ik_diag_message(&d));
    return t;
}

/* examples/models/stories260K/tok512.model: 512 pieces, BOS 1, byte fallback. */
static inline struct ik_tok *tt_tok512(void)
{
    char *p = tt_path("examples/models/stories260K/tok512.model");
    struct ik_tok *t = tt_load(p);
    free(p);
    return t;
}

/* The special tokens of the hand-written tokenizer.json, in id order after
 * the 96 byte-level pieces. */
enum { TT_BOT = 96, TT_SHI, TT_EHI, TT_EOT, TT_IMS, TT_IME };

/* A byte-level BPE tokenizer.json without merges: one id per printable ASCII
 * byte (0..93), "Ġ" (space, 94), "Ċ" (newline, 95), then the special tokens.
 * with_bos: Llama 3's TemplateProcessing, so <|begin_of_text|> is its BOS;
 * else a ByteLevel post-processor and no BOS (Qwen). */
static inline struct ik_tok *tt_tok_json(int with_bos)
{
    json_t *vocab = json_object();
    for (int c = 0x21; c <= 0x7e; c++) {
        char s[2] = {(char)c, 0};
        json_object_set_new(vocab, s, json_integer(c - 0x21));
    }
    json_object_set_new(vocab, "\xc4\xa0", json_integer(94));
    json_object_set_new(vocab, "\xc4\x8a", json_integer(95));
    static const char *const special[] = {"<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>",
                                          "<|eot_id|>", "<|im_start|>", "<|im_end|>"};
    json_t *added = json_array();
    for (int i = 0; i < 6; i++)
        json_array_append_new(added, json_pack("{s:i, s:s, s:b}", "id", TT_BOT + i, "content", special[i],
                                               "special", 1));
    json_t *post = with_bos ? json_pack("{s:s, s:[{s:{s:s, s:i}}, {s:{s:s, s:i}}]}", "type",
                                        "TemplateProcessing", "single", "SpecialToken", "id",
                                        "<|begin_of_text|>", "type_id", 0, "Sequence", "id", "A",
                                        "type_id", 0)
                            : json_pack("{s:s}", "type", "ByteLevel");
    json_t *j = json_pack("{s:s, s:o, s:n, s:{s:s, s:b, s:b}, s:o, s:{s:s, s:o, s:[]}}", "version", "1.0",
                          "added_tokens", added, "normalizer", "pre_tokenizer", "type", "ByteLevel",
                          "add_prefix_space", 0, "use_regex", 1, "post_processor", post, "model", "type",
                          "BPE", "vocab", vocab, "merges");
    cr_assert_not_null(j);
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/tokenizer.json", dir);
    cr_assert_eq(json_dump_file(j, p, 0), 0);
    json_decref(j);
    struct ik_tok *t = tt_load(p);
    free(p);
    tc_rmtree(dir);
    return t;
}

/* Encodes s (special tokens parsed, no BOS) as the chat encoder does. */
static inline int *tt_encode(const struct ik_tok *t, const char *s, size_t *n)
{
    int *ids;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(t, s, strlen(s), 1, &ids, n, &d), 0, "%s", ik_diag_message(&d));
    return ids;
}

static inline json_t *tt_msg(const char *role, const char *content)
{
    return json_pack("{s:s, s:s}", "role", role, "content", content);
}

/* A record with these messages (a NULL-terminated list of tt_msg). */
static inline json_t *tt_rec(json_t *first, ...)
{
    json_t *msgs = json_array();
    va_list ap;
    va_start(ap, first);
    for (json_t *m = first; m; m = va_arg(ap, json_t *))
        json_array_append_new(msgs, m);
    va_end(ap);
    return json_pack("{s:o}", "messages", msgs);
}

/* The raft.samples artifact with these records (a JSON array, stolen), as
 * msgpack in v. */
static inline const msgpack_object *tt_artifact(struct tq_value *v, json_t *records)
{
    json_t *root = json_pack("{s:s, s:i, s:{}, s:o}", "kind", "raft.samples", "schema", 1, "meta",
                             "records", records);
    char *text = json_dumps(root, JSON_COMPACT);
    const msgpack_object *o = tq_value(v, text);
    free(text);
    json_decref(root);
    return o;
}

#endif
