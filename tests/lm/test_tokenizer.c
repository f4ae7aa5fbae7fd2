/* tests/lm/test_tokenizer.c - the tokenizers against every golden
 * tokenization stored with the project data: tok512 (SentencePiece BPE,
 * stories260K), LLM-jp v3 (SentencePiece unigram) and Qwen3 (tokenizer.json
 * byte-level BPE); encode, decode and special tokens. The two large
 * tokenizer files are read from ../shared/data and their tests skip, saying
 * so, when that folder is absent. */
#include <criterion/criterion.h>
#include <errno.h>
#include <float.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/tokenizer.h"
#include "tests/lm/lm_test.h"

static struct ik_tok *load_tok(const char *path)
{
    struct ik_tok *t = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, path, &d), 0, "%s", ik_diag_message(&d));
    return t;
}

static struct ik_tok *shared_tok(const char *rel)
{
    char *p = lmt_shared(rel);
    if (p == NULL)
        cr_skip_test("../shared/data/%s is absent (large file, not copied into the tree)", rel);
    struct ik_tok *t = load_tok(p);
    free(p);
    return t;
}

/* Encodes text and compares with want (n ids); then decodes back to text. */
static void check(const struct ik_tok *t, const char *text, const int *want, size_t n, int parse_special)
{
    int *ids = NULL;
    size_t got = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(t, text, strlen(text), parse_special, &ids, &got, &d), 0, "%s",
                 ik_diag_message(&d));
    struct ik_buf b = IK_BUF_INIT;
    for (size_t i = 0; i < got; i++)
        ik_buf_printf(&b, "%d ", ids[i]);
    cr_assert_eq(got, n, "'%s': %zu ids (%s), expected %zu", text, got, b.data ? b.data : "", n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], want[i], "'%s': id %zu is %d, expected %d (got %s)", text, i, ids[i], want[i], b.data);
    ik_buf_reset(&b);
    cr_assert_eq(ik_tok_decode(t, ids, got, 0, &b, &d), 0);
    cr_assert_str_eq(b.data ? b.data : "", text);
    ik_buf_free(&b);
    free(ids);
}

static void check_json(const struct ik_tok *t, json_t *examples)
{
    const char *text;
    json_t *e;
    int n_checked = 0;
    json_object_foreach(examples, text, e) {
        json_t *arr = json_is_array(e) ? e : json_object_get(e, "ids");
        if (!json_is_array(arr))
            continue; /* "note" */
        size_t n = json_array_size(arr);
        int *want = ik_xmalloc(n * sizeof *want + 1);
        for (size_t i = 0; i < n; i++)
            want[i] = (int)json_integer_value(json_array_get(arr, i));
        check(t, text, want, n, 0);
        json_t *pieces = json_object_get(e, "pieces");
        for (size_t i = 0; i < json_array_size(pieces); i++)
            cr_assert_str_eq(ik_tok_piece(t, want[i]), json_string_value(json_array_get(pieces, i)));
        free(want);
        n_checked++;
    }
    cr_assert(n_checked >= 2);
}

/* The golden tokenizations of stories260K, for tok512.model and tok512.bin. */
static void tok512_golden(const char *rel)
{
    char *p = lmt_path(rel);
    struct ik_tok *t = load_tok(p);
    cr_assert_eq(ik_tok_kind(t), IK_TOK_SPM_BPE);
    cr_assert_eq(ik_tok_vocab_size(t), 512);
    cr_assert_eq(ik_tok_bos(t), 1);
    cr_assert_eq(ik_tok_eos(t), 2);
    char *gp = lmt_path("tests/data/lm/stories260K_golden_reference.json");
    json_t *g = lmt_json(gp);
    check_json(t, json_object_get(g, "tokenizer_examples"));
    /* The teacher-forced text encodes to the reference's tokens after BOS. */
    json_t *tf = json_object_get(g, "teacher_forced");
    json_t *tw = json_object_get(tf, "tokens_with_bos");
    size_t n = json_array_size(tw) - 1;
    int *want = ik_xmalloc(n * sizeof *want);
    for (size_t i = 0; i < n; i++)
        want[i] = (int)json_integer_value(json_array_get(tw, i + 1));
    check(t, json_string_value(json_object_get(tf, "text")), want, n, 0);
    free(want);
    /* The greedy tokens decode to the reference's text. */
    json_t *gr = json_object_get(g, "greedy_from_bos");
    json_t *toks = json_object_get(gr, "tokens");
    int ids[64];
    for (int i = 0; i < 64; i++)
        ids[i] = (int)json_integer_value(json_array_get(toks, (size_t)i));
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_decode(t, ids, 64, 1, &b, &d), 0);
    cr_assert_str_eq(b.data, json_string_value(json_object_get(gr, "text")));
    ik_buf_free(&b);
    json_decref(g);
    free(gp);
    ik_tok_free(t);
    free(p);
}

Test(lm_tokenizer, tok512_golden) { tok512_golden("examples/models/stories260K/tok512.model"); }

/* llama2.c's export of the same vocabulary: the same golden results, the same
 * piece for every id (' ' restored to U+2581, BOS/EOS unwrapped). */
Test(lm_tokenizer, tok512_bin_like_model)
{
    tok512_golden("examples/models/stories260K/tok512.bin");
    char *pm = lmt_path("examples/models/stories260K/tok512.model");
    char *pb = lmt_path("examples/models/stories260K/tok512.bin");
    struct ik_tok *tm = load_tok(pm), *tb = load_tok(pb);
    for (int i = 0; i < 512; i++) {
        cr_assert_str_eq(ik_tok_piece(tb, i), ik_tok_piece(tm, i), "piece %d", i);
        cr_assert_eq(ik_tok_is_special(tb, i), ik_tok_is_special(tm, i), "piece %d", i);
    }
    /* Byte fallback and a special token parsed in the text, as the .model does. */
    const char *text = "<s>Tom saw a \xe2\x98\x83 and said \"hi!\"";
    int *a, *b;
    size_t na, nb;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(tm, text, strlen(text), 1, &a, &na, &d), 0);
    cr_assert_eq(ik_tok_encode(tb, text, strlen(text), 1, &b, &nb, &d), 0);
    cr_assert_eq(na, nb);
    cr_assert_eq(memcmp(a, b, na * sizeof *a), 0);
    cr_assert_eq(a[0], 1);
    free(a), free(b);
    ik_tok_free(tm), ik_tok_free(tb);

    /* A truncated file names the piece and the offset. */
    size_t len;
    char *data = lmt_read(pb, &len);
    char *dir = tc_tmpdir(), *cut = ik_xasprintf("%s/cut.bin", dir);
    lmt_write(cut, data, 4 + 8 + 5 + 8 + 3); /* <unk>, then 3 bytes of "\n<s>\n" */
    struct ik_tok *t;
    cr_assert_eq(ik_tok_load(&t, cut, &d), IK_EPARSE);
    char *want = ik_xasprintf("%s: error: offset 21: piece 1 has length 5, expected at most 7 and "
                              "within the file's 28 bytes", cut);
    cr_assert_str_eq(ik_diag_message(&d), want);
    ik_diag_free(&d);
    free(want), free(cut), free(data), free(pm), free(pb);
    tc_rmtree(dir);
}

Test(lm_tokenizer, tok512_whitespace_and_special)
{
    char *p = lmt_path("examples/models/stories260K/tok512.model");
    struct ik_tok *t = load_tok(p);
    int *ids;
    size_t n;
    struct ik_diag d = IK_DIAG_INIT;
    /* remove_extra_whitespaces: leading, trailing and repeated spaces vanish. */
    int *ref;
    size_t nref;
    cr_assert_eq(ik_tok_encode(t, "Once upon", 9, 0, &ref, &nref, &d), 0);
    cr_assert_eq(ik_tok_encode(t, "  Once   upon ", 14, 0, &ids, &n, &d), 0);
    cr_assert_eq(n, nref);
    cr_assert_eq(memcmp(ids, ref, n * sizeof *ids), 0);
    free(ids);
    free(ref);
    /* "<s>" is plain text unless special tokens are parsed. */
    cr_assert_eq(ik_tok_encode(t, "<s>Once", 7, 0, &ids, &n, &d), 0);
    cr_assert(n > 2 && ids[0] != 1);
    free(ids);
    cr_assert_eq(ik_tok_encode(t, "<s>Once", 7, 1, &ids, &n, &d), 0);
    cr_assert_eq(n, 4);
    cr_assert_eq(ids[0], 1);
    cr_assert_eq(ids[1], ik_tok_find(t, "O")); /* no dummy prefix after a special token */
    free(ids);
    cr_assert_eq(ik_tok_find(t, "<0x41>"), 0x41 + 3);
    cr_assert(ik_tok_is_special(t, 2));
    struct ik_buf b = IK_BUF_INIT;
    int bad = 512;
    cr_assert_eq(ik_tok_decode(t, &bad, 1, 0, &b, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: token id 512 at index 0 is outside the vocabulary [0, 512)");
    ik_diag_free(&d);
    ik_buf_free(&b);
    ik_tok_free(t);
    free(p);
}

Test(lm_tokenizer, llm_jp_v3_unigram_golden)
{
    struct ik_tok *t = shared_tok("tokenizers/llm-jp-tokenizer-v3/llm-jp-tokenizer-100k.ver3.0b1.model");
    cr_assert_eq(ik_tok_kind(t), IK_TOK_SPM_UNIGRAM);
    cr_assert_eq(ik_tok_vocab_size(t), 99574);
    char *gp = lmt_path("tests/data/lm/llm-jp-v3_golden_tokenization.json");
    json_t *g = lmt_json(gp);
    check_json(t, json_object_get(g, "examples"));
    /* A character with no piece (private use U+E000) falls back to its UTF-8
     * bytes; <0x00> is id 8. */
    check(t, "\xee\x80\x80", (int[]){279, 8 + 0xee, 8 + 0x80, 8 + 0x80}, 4, 0);
    /* Two segmentations that tie in float (○○+○ and ○+○○, -33.66096 both):
     * sentencepiece keeps the first one found; summing in double picked the
     * other (found by make check-interop on a real FAQ answer). */
    check(t, "今回「○○○」", (int[]){46265, 29584, 54923, 31274, 29582}, 5, 0);
    json_decref(g);
    free(gp);
    ik_tok_free(t);
}

Test(lm_tokenizer, qwen3_bpe_golden)
{
    struct ik_tok *t = shared_tok("tokenizers/qwen3/tokenizer.json");
    cr_assert_eq(ik_tok_kind(t), IK_TOK_BYTE_BPE);
    cr_assert_eq(ik_tok_vocab_size(t), 151669);
    cr_assert_eq(ik_tok_bos(t), -1, "Qwen3 prepends no BOS (its '<s>' is an ordinary token)");
    char *gp = lmt_path("tests/data/lm/qwen3_golden_tokenization.json");
    json_t *g = lmt_json(gp);
    check_json(t, json_object_get(g, "examples"));
    json_decref(g);
    free(gp);
    /* Special tokens: ids from tokenizer.json's added_tokens; matched only on request. */
    int im_start = ik_tok_find(t, "<|im_start|>"), im_end = ik_tok_find(t, "<|im_end|>");
    cr_assert_eq(im_start, 151644);
    cr_assert_eq(im_end, 151645);
    cr_assert_eq(ik_tok_eos(t), 151643);
    const char *chat = "<|im_start|>user\nOnce upon a time<|im_end|>\n";
    int *ids;
    size_t n;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(t, chat, strlen(chat), 1, &ids, &n, &d), 0);
    int want[] = {im_start, 872, 198, 12522, 5193, 264, 882, im_end, 198};
    cr_assert_eq(n, 9);
    for (int i = 0; i < 9; i++)
        cr_assert_eq(ids[i], want[i], "id %d: %d", i, ids[i]);
    struct ik_buf b = IK_BUF_INIT;
    cr_assert_eq(ik_tok_decode(t, ids, n, 0, &b, &d), 0);
    cr_assert_str_eq(b.data, chat);
    ik_buf_reset(&b);
    cr_assert_eq(ik_tok_decode(t, ids, n, 1, &b, &d), 0);
    cr_assert_str_eq(b.data, "user\nOnce upon a time\n");
    ik_buf_free(&b);
    free(ids);
    cr_assert_eq(ik_tok_encode(t, chat, strlen(chat), 0, &ids, &n, &d), 0);
    for (size_t i = 0; i < n; i++)
        cr_assert(ids[i] != im_start && ids[i] != im_end, "user text forged a special token");
    free(ids);
    /* Invalid UTF-8 is refused with the offset (before NFC could hide it). */
    cr_assert_eq(ik_tok_encode(t, "ab\xff", 3, 0, &ids, &n, &d), IK_EVALIDATE);
    cr_assert_str_eq(ik_diag_message(&d), "error: text is not valid UTF-8 at byte 2");
    ik_diag_free(&d);
    ik_tok_free(t);
}

/* A hand-written tokenizer.json: both merges encodings, the rank order, and
 * the refusal of what is not implemented. */
Test(lm_tokenizer, bpe_small_json)
{
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/tokenizer.json", dir);
    const char *j =
        "{\"version\": \"1.0\", \"added_tokens\": [{\"id\": 9, \"content\": \"<|x|>\", \"special\": true}],"
        " \"normalizer\": null, \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false,"
        " \"use_regex\": true}, \"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"b\": 1, \"c\": 2,"
        " \"ab\": 3, \"bc\": 4, \"abc\": 5, \"\\u0120\": 6, \"\\u0120a\": 7}, \"merges\": [\"b c\", [\"a\", \"b\"],"
        " \"a bc\", \"\\u0120 a\"]}}";
    lmt_write(p, j, strlen(j));
    struct ik_tok *t = load_tok(p);
    check(t, "abc", (int[]){2 + 3}, 1, 0);       /* b c first (rank 0), then a bc */
    check(t, "ab ab", (int[]){3, 6, 3}, 3, 0);   /* " ab": a b (rank 1) beats Ġ a (rank 3) */
    check(t, "<|x|>ab", (int[]){9, 3}, 2, 1);
    ik_tok_free(t);
    const char *bad = "{\"model\": {\"type\": \"WordPiece\", \"vocab\": {}}}";
    lmt_write(p, bad, strlen(bad));
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_load(&t, p, &d), IK_EVALIDATE);
    char *want = ik_xasprintf("%s: error: model type 'WordPiece' is not supported (only BPE)", p);
    cr_assert_str_eq(ik_diag_message(&d), want);
    free(want);
    ik_diag_free(&d);
    free(p);
    tc_rmtree(dir);
}

/* BOS comes from the post-processor, as in HF tokenizers: Llama 3's
 * TemplateProcessing (inside a Sequence) prepends its special token; a vocabulary
 * that merely contains "<s>" (Qwen3's ByteLevel post-processor) prepends none. */
Test(lm_tokenizer, bpe_bos_from_post_processor)
{
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/tokenizer.json", dir);
    const char *model = "\"model\": {\"type\": \"BPE\", \"vocab\": {\"a\": 0, \"<s>\": 1}, \"merges\": []},"
                        " \"added_tokens\": [{\"id\": 2, \"content\": \"<|begin_of_text|>\", \"special\": true}],"
                        " \"pre_tokenizer\": {\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"use_regex\": true}";
    char *j = ik_xasprintf("{%s, \"post_processor\": {\"type\": \"ByteLevel\"}}", model);
    lmt_write(p, j, strlen(j));
    struct ik_tok *t = load_tok(p);
    cr_assert_eq(ik_tok_bos(t), -1, "a ByteLevel post-processor adds no BOS");
    ik_tok_free(t);
    free(j);
    j = ik_xasprintf("{%s, \"post_processor\": {\"type\": \"Sequence\", \"processors\": ["
                     "{\"type\": \"ByteLevel\"}, {\"type\": \"TemplateProcessing\", \"single\": ["
                     "{\"SpecialToken\": {\"id\": \"<|begin_of_text|>\", \"type_id\": 0}},"
                     " {\"Sequence\": {\"id\": \"A\", \"type_id\": 0}}]}]}}", model);
    lmt_write(p, j, strlen(j));
    t = load_tok(p);
    cr_assert_eq(ik_tok_bos(t), 2);
    ik_tok_free(t);
    free(j);
    free(p);
    tc_rmtree(dir);
}

/* llama.cpp's test vectors for the Llama-2 SentencePiece vocabulary (32,000
 * pieces, read from GGUF metadata): every input of .gguf.inp (separated by
 * __ggml_vocab_test__ lines) must give the ids on the same line of .gguf.out. */
Test(lm_tokenizer, llama_spm_gguf_vectors)
{
    char *gg = lmt_shared("tokenizers/ggml-vocab-llama-spm/ggml-vocab-llama-spm.gguf");
    if (gg == NULL)
        cr_skip_test("../shared/data/tokenizers/ggml-vocab-llama-spm is absent");
    struct ik_tok *t = load_tok(gg);
    cr_assert_eq(ik_tok_vocab_size(t), 32000);
    char *ip = ik_xasprintf("%s.inp", gg), *op = ik_xasprintf("%s.out", gg);
    char *inp = lmt_read(ip, NULL), *outp = lmt_read(op, NULL);
    const char *sep = "\n__ggml_vocab_test__\n";
    char *in = inp, *line = outp;
    int cases = 0;
    while (*in && *line) {
        char *end = strstr(in, sep);
        cr_assert_not_null(end);
        *end = '\0';
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        int want[512];
        size_t n = 0;
        for (char *p = line; *p;) {
            char *e;
            long v = strtol(p, &e, 10);
            if (e == p)
                break;
            want[n++] = (int)v;
            p = e;
        }
        check(t, in, want, n, 0);
        cases++;
        in = end + strlen(sep);
        line = nl ? nl + 1 : line + strlen(line);
    }
    cr_assert_eq(cases, 46);
    free(inp), free(outp), free(ip), free(op), free(gg);
    ik_tok_free(t);
}

/* Encodes text and checks that it decodes to want (the NFC form). */
static void nfc_round_trip(const struct ik_tok *t, const char *text, const char *want)
{
    int *ids, *ids2;
    size_t n, n2;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(t, text, strlen(text), 0, &ids, &n, &d), 0, "%s", ik_diag_message(&d));
    struct ik_buf b = IK_BUF_INIT;
    cr_assert_eq(ik_tok_decode(t, ids, n, 0, &b, &d), 0);
    cr_assert_str_eq(b.data, want, "'%s' decoded to '%s', expected '%s'", text, b.data, want);
    /* ...and gives the ids of its NFC form. */
    cr_assert_eq(ik_tok_encode(t, want, strlen(want), 0, &ids2, &n2, &d), 0);
    cr_assert_eq(n, n2, "'%s': %zu ids, its NFC form %zu", text, n, n2);
    cr_assert_eq(memcmp(ids, ids2, n * sizeof *ids), 0, "'%s': other ids than its NFC form", text);
    ik_buf_free(&b);
    free(ids), free(ids2);
}

/* Qwen3's normalizer is NFC: text that NFC changes is tokenized as its NFC
 * form, and what only NFKC would change (half-width katakana) is kept. */
Test(lm_tokenizer, qwen3_nfc_normalizer)
{
    struct ik_tok *t = shared_tok("tokenizers/qwen3/tokenizer.json");
    nfc_round_trip(t, "cafe\xcc\x81 au lait", "caf\xc3\xa9 au lait");       /* e + U+0301 -> é */
    nfc_round_trip(t, "\xe3\x82\xab\xe3\x82\x99\xe3\x83\xa0", "\xe3\x82\xac\xe3\x83\xa0"); /* カ+゙ム -> ガム */
    nfc_round_trip(t, "\xe1\x84\x80\xe1\x85\xa1", "\xea\xb0\x80");             /* jamo ᄀ+ᅡ -> 가 */
    nfc_round_trip(t, "5 \xe2\x84\xab", "5 \xc3\x85");                          /* Angstrom sign -> Å */
    /* Half-width ｶ with a combining voiced mark, and ｶﾞ: NFC composes neither. */
    nfc_round_trip(t, "\xef\xbd\xb6\xe3\x82\x99", "\xef\xbd\xb6\xe3\x82\x99");
    nfc_round_trip(t, "\xef\xbd\xb6\xef\xbe\x9e", "\xef\xbd\xb6\xef\xbe\x9e");
    /* The decomposed form really is other bytes: without NFC its ids would differ. */
    int *a, *b;
    size_t na, nb;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(t, "\xc3\xa9", 2, 0, &a, &na, &d), 0);
    cr_assert_eq(ik_tok_encode(t, "\xef\xbd\xb6\xef\xbe\x9e", 6, 0, &b, &nb, &d), 0);
    cr_assert(na != nb || memcmp(a, b, na * sizeof *a) != 0);
    free(a), free(b);
    ik_tok_free(t);
}

/* The same with a hand-written tokenizer.json, so it runs without ../shared:
 * "e" + U+0301 becomes é (bytes C3 A9, byte-level "Ã©") before the merges. */
Test(lm_tokenizer, bpe_small_json_nfc)
{
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/tokenizer.json", dir);
    const char *j =
        "{\"normalizer\": {\"type\": \"NFC\"}, \"pre_tokenizer\": {\"type\": \"ByteLevel\","
        " \"add_prefix_space\": false, \"use_regex\": true}, \"model\": {\"type\": \"BPE\", \"vocab\":"
        " {\"e\": 0, \"\\u00c3\": 1, \"\\u00a9\": 2, \"\\u00c3\\u00a9\": 3},"
        " \"merges\": [\"\\u00c3 \\u00a9\"]}}";
    lmt_write(p, j, strlen(j));
    struct ik_tok *t = load_tok(p);
    check(t, "\xc3\xa9" "e", (int[]){3, 0}, 2, 0);
    nfc_round_trip(t, "e\xcc\x81" "e", "\xc3\xa9" "e");
    ik_tok_free(t);
    free(p);
    tc_rmtree(dir);
}

/* The loaders' own file messages: a missing file, an empty one, a folder. */
Test(lm_tokenizer, file_errors)
{
    static const struct {
        const char *name;
        int empty_rc;
        const char *empty_tail;
    } cases[] = {
        {"t.model", IK_EPARSE, ": empty file"},
        {"t.bin", IK_EPARSE, ": the file is empty"},
        {"t.gguf", -EIO, ""},
    };
    char *dir = tc_tmpdir();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *p = ik_xasprintf("%s/%s", dir, cases[i].name);
        struct ik_tok *t = NULL;
        struct ik_diag d = IK_DIAG_INIT;
        cr_expect_eq(ik_tok_load(&t, p, &d), -ENOENT, "%s", p);
        char *want = ik_xasprintf("error: cannot open '%s': No such file or directory", p);
        cr_expect_str_eq(ik_diag_message(&d), want);
        free(want);
        ik_diag_free(&d);
        lmt_write(p, "", 0);
        cr_expect_eq(ik_tok_load(&t, p, &d), cases[i].empty_rc, "%s", p);
        want = ik_xasprintf("error: cannot read '%s'%s", p, cases[i].empty_tail);
        cr_expect_str_eq(ik_diag_message(&d), want);
        free(want);
        ik_diag_free(&d);
        cr_assert_eq(unlink(p), 0);
        cr_assert_eq(mkdir(p, 0700), 0);
        cr_expect_eq(ik_tok_load(&t, p, &d), -EIO, "%s is a folder", p);
        want = ik_xasprintf("error: cannot read '%s'", p);
        cr_expect_str_eq(ik_diag_message(&d), want);
        free(want);
        ik_diag_free(&d);
        free(p);
    }
    tc_rmtree(dir);
}

/* Makes fresh heap blocks hold garbage (glibc's M_PERTURB), so that a read of
 * an uninitialised entry goes wrong at once instead of finding zeros. */
static void garbage_heap(void)
{
#ifdef M_PERTURB
    mallopt(M_PERTURB, 0xa5);
#endif
}

/* One SentencePiece piece message (ModelProto field 1) appended to b. */
static void spm_piece(struct ik_buf *b, const char *piece, float score, int type)
{
    size_t n = strlen(piece);
    unsigned char m[64];
    size_t k = 0;
    m[k++] = 0x0a; /* piece: field 1, bytes */
    m[k++] = (unsigned char)n;
    memcpy(m + k, piece, n);
    k += n;
    m[k++] = 0x15; /* score: field 2, fixed32 */
    memcpy(m + k, &score, 4);
    k += 4;
    m[k++] = 0x18; /* type: field 3, varint */
    m[k++] = (unsigned char)type;
    ik_buf_putc(b, 0x0a);
    ik_buf_putc(b, (char)k);
    ik_buf_append(b, m, k);
}

/* Issue 9 (found by libFuzzer): in a unigram model whose scores are near
 * -FLT_MAX every path sum becomes -inf, no candidate was ever "better", and
 * the walk back from the end read uninitialised entries (a wild index). As
 * sentencepiece's BestPathNode, the first candidate reaching a position is now
 * kept whatever its score: the text is still segmented, into pieces where
 * they exist and unknown characters elsewhere. Uninitialised heap bytes are
 * made garbage (M_PERTURB) so that reading one fails here at once. */
Test(lm_tokenizer, unigram_without_finite_path)
{
    garbage_heap();
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/neg.model", dir);
    struct ik_buf b = IK_BUF_INIT;
    spm_piece(&b, "<unk>", 0, 2);
    spm_piece(&b, "\xe2\x96\x81", -FLT_MAX / 2, 1); /* U+2581, the dummy prefix */
    spm_piece(&b, "a", -FLT_MAX / 2, 1);
    spm_piece(&b, "b", -FLT_MAX / 2, 1);
    lmt_write(p, b.data, b.len);
    ik_buf_free(&b);
    struct ik_tok *t = load_tok(p);
    cr_assert_eq(ik_tok_kind(t), IK_TOK_SPM_UNIGRAM);
    static const int abab[] = {1, 2, 3, 2, 3};
    check(t, "abab", abab, 5, 0);
    int *ids = NULL;
    size_t n = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_encode(t, "abxxab", 6, 0, &ids, &n, &d), 0, "%s", ik_diag_message(&d));
    static const int unk[] = {1, 2, 3, 0, 2, 3}; /* a run of unknowns is one <unk> */
    cr_assert_eq(n, 6, "%zu ids", n);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(ids[i], unk[i], "id %zu is %d, expected %d", i, ids[i], unk[i]);
    free(ids);
    ik_tok_free(t);
    free(p);
    tc_rmtree(dir);

    /* The fuzzer's 16-byte input: one piece, every character unknown. */
    p = lmt_path("tests/data/repro/tokenizer-spm-unigram-uninit/crash-min.model");
    t = load_tok(p);
    cr_assert_eq(ik_tok_encode(t, "Hello world", 11, 0, &ids, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 1, "%zu ids", n);
    cr_assert_eq(ids[0], 0);
    free(ids);
    ik_tok_free(t);
    free(p);
}

/* A byte piece is "<0xXX>" exactly; decoding one of another spelling used to
 * strtol past its end (a heap over-read for "<") and "<0x4G>" decoded as
 * byte 4. Such pieces now decode as their text and map no byte. */
Test(lm_tokenizer, malformed_byte_pieces)
{
    garbage_heap();
    char *dir = tc_tmpdir();
    char *p = ik_xasprintf("%s/bytes.model", dir);
    struct ik_buf b = IK_BUF_INIT;
    spm_piece(&b, "<unk>", 0, 2);
    spm_piece(&b, "<", -1, 6);
    spm_piece(&b, "<0x4G>", -1, 6);
    spm_piece(&b, "<0x41>", -1, 6);
    spm_piece(&b, "<0x7a>", -1, 6);
    lmt_write(p, b.data, b.len);
    ik_buf_reset(&b);
    struct ik_tok *t = load_tok(p);
    static const int ids[] = {1, 2, 3, 4};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_tok_decode(t, ids, 4, 0, &b, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(b.len, 9);
    cr_assert_str_eq(b.data, "<<0x4G>Az");
    ik_buf_free(&b);
    ik_tok_free(t);
    free(p);
    tc_rmtree(dir);
}
