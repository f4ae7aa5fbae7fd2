/* lm/tokenizer_int.h - what tokenizer.c, tokenizer_spm.c and
 * tokenizer_bpe.c share: the tokenizer struct and each family's entry points.
 * Not for use outside lm/tokenizer*.c. */
#ifndef IK_LM_TOKENIZER_INT_H
#define IK_LM_TOKENIZER_INT_H

#include <stddef.h>

#include "base/strmap.h"
#include "lm/tokenizer.h"

#define IK_TOK_MAX_REGEX 4

/* SentencePiece piece types (sentencepiece_model.proto), which are also
 * tokenizer.h's enum ik_tok_piece_type and GGUF's token types. */
enum { SPM_NORMAL = 1, SPM_UNKNOWN = 2, SPM_CONTROL = 3, SPM_USER = 4, SPM_UNUSED = 5, SPM_BYTE = 6 };

struct ik_tok {
    int kind;
    int n;                /* vocabulary size */
    char **piece;         /* (n) NUL-terminated pieces */
    size_t *piece_len;    /* (n) */
    float *score;         /* (n) SentencePiece scores, NULL for byte-level BPE */
    unsigned char *type;  /* (n) SPM_* types; byte-level BPE: SPM_NORMAL or SPM_CONTROL */
    struct ik_strmap ids; /* piece -> id (normal and user pieces; all of them for BPE) */
    int bos, eos, unk;
    /* SentencePiece */
    int byte_fallback;
    int byte_id[256];     /* id of <0xXX>, or -1 */
    int add_dummy_prefix, remove_extra_ws, escape_ws;
    float min_score;      /* lowest normal score, for the unigram unknown penalty */
    size_t max_piece_len; /* bytes */
    /* byte-level BPE */
    struct ik_pairmap merges;
    int (*merge)[2];      /* (n_merges) the merges' left and right ids, in rank order */
    int n_merges;
    size_t merge_cap;
    /* pcre2_code *: the pre-tokenizer's splits, each (Isolated) applied to
     * the pieces of the one before, as llama.cpp's unicode_regex_split does
     * with a list of regexes; tokenizer.json gives exactly one */
    void *regex[IK_TOK_MAX_REGEX];
    int n_regex;
    char *pattern;        /* the source of a single regex, else NULL */
    int nfc;              /* the normalizer is NFC (libunistring's u8_normalize) */
    int ignore_merges;
    int *added;           /* ids of added tokens, longest content first */
    int n_added;
};

int ik__tok_spm_load(struct ik_tok *t, const char *path, struct ik_diag *d);
/* Encodes one segment (no special tokens in it); at_start: the segment opens
 * the text, so the dummy prefix applies. Appends to *ids (*n used, *cap). */
int ik__tok_spm_encode(const struct ik_tok *t, const char *text, size_t len, int at_start, int **ids,
                       size_t *n, size_t *cap);
/* After the pieces are in: clamps the special ids, computes min_score and
 * max_piece_len, and lists control/user pieces for matching in text. */
int ik__tok_spm_finish(struct ik_tok *t, const char *path, struct ik_diag *d);
/* A GGUF file's vocabulary (tokenizer.ggml.*), as SentencePiece BPE. */
int ik__tok_gguf_load(struct ik_tok *t, const char *path, struct ik_diag *d);
/* llama2.c's tokenizer.bin, as SentencePiece BPE (tokenizer_l2c.c). */
int ik__tok_l2c_load(struct ik_tok *t, const char *path, struct ik_diag *d);
int ik__tok_bpe_load(struct ik_tok *t, const char *path, struct ik_diag *d);
int ik__tok_bpe_encode(const struct ik_tok *t, const char *text, size_t len, int **ids, size_t *n,
                       size_t *cap, struct ik_diag *d);
void ik__tok_bpe_free(struct ik_tok *t);
/* Compiles pattern as t's next pre-tokenizer regex (IK_EVALIDATE naming path
 * when PCRE2 refuses it). */
int ik__tok_bpe_add_regex(struct ik_tok *t, const char *pattern, const char *path, struct ik_diag *d);
/* Records the merge (a, b) -> merged at the next rank; a pair already there
 * keeps its first, lower rank. */
void ik__tok_bpe_add_merge(struct ik_tok *t, int a, int b, int merged);
/* The GPT-2 regex of tokenizers' ByteLevel pre-tokenizer (use_regex). */
extern const char ik__tok_gpt2_pattern[];
/* Appends the bytes of a byte-level piece (inverse of the GPT-2 byte map). */
void ik__tok_bpe_piece_bytes(const char *piece, struct ik_buf *out);

/* Reads a tokenizer file whole (ik_read_file: malloc'd, NUL-terminated) with
 * the loaders' own messages: "cannot open '<path>': <reason>" (-errno),
 * "cannot read '<path>'" (-EIO), and for an empty file empty_rc with
 * "cannot read '<path>'<empty_tail>" (each loader words its own). */
int ik__tok_read_file(const char *path, unsigned char **data, size_t *len, int empty_rc,
                      const char *empty_tail, struct ik_diag *d);
/* The byte a byte piece spells: s[0..len) exactly "<0xXX>" (two hex digits)
 * gives 0..255, anything else -1 (such a piece is not treated as a byte). */
int ik__tok_byte_value(const char *s, size_t len);
/* Adds a piece to t's arrays (grows them); returns its id. */
int ik__tok_add_piece(struct ik_tok *t, const char *s, size_t len, float score, int type, size_t *cap);

#endif
