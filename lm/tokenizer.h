/* lm/tokenizer.h - text <-> token ids for the models of lm/.
 *
 * Two families behind one interface: SentencePiece `.model` files (protobuf;
 * BPE and unigram, byte fallback, the identity normalizer; tokenizer_spm.c)
 * and Hugging Face `tokenizer.json` byte-level BPE with its regex
 * pre-tokenizer (Qwen2/3, Llama 3; tokenizer_bpe.c, regex through PCRE2,
 * the NFC normalizer through libunistring).
 * A tokenizer is immutable once loaded: encode and decode may run from
 * several threads. Special tokens (SentencePiece control pieces, tokenizer.json
 * special added tokens) are matched in the text only when the caller asks,
 * so user text can never forge an <|im_end|>. Errors: -errno for I/O,
 * IK_EPARSE for a malformed file, IK_EVALIDATE for a feature this code does
 * not implement (named in the message) and for text it refuses (invalid
 * UTF-8 for byte-level BPE). */
#ifndef IK_LM_TOKENIZER_H
#define IK_LM_TOKENIZER_H

#include <stddef.h>

struct ik_buf;
struct ik_diag;
struct ik_tok;

enum ik_tok_kind { IK_TOK_SPM_BPE, IK_TOK_SPM_UNIGRAM, IK_TOK_BYTE_BPE };

/* Loads `path`: a file ending in .json is read as tokenizer.json, one ending
 * in .gguf as a GGUF vocabulary (tokenizer.ggml.*: llama.cpp's "llama"
 * SentencePiece BPE or its "gpt2" byte-level BPE, see tokenizer_gguf.c), one
 * ending in .bin as llama2.c's tokenizer.bin (SentencePiece BPE), anything
 * else as a SentencePiece model. */
int ik_tok_load(struct ik_tok **out, const char *path, struct ik_diag *d);
void ik_tok_free(struct ik_tok *t);

/* The tokenizer file of the model at model_path: a GGUF model file (a name
 * ending in .gguf) is its own tokenizer, *path = model_path; for a Hugging
 * Face folder, or another model file such as llama2.c's .bin (looked up in
 * its folder): tokenizer.json, else tokenizer.model, else the one *.model
 * file there (llama2.c folders ship e.g. tok512.model). *path (the caller
 * frees) gets "<folder>/<name>". Errors: -errno when model_path cannot be opened,
 * IK_ENOTFOUND when the folder holds none of these, IK_EVALIDATE when it holds
 * several *.model files and neither tokenizer.json nor tokenizer.model. */
int ik_tok_find_for_model(const char *model_path, char **path, struct ik_diag *d);

/* enum ik_tok_kind. */
int ik_tok_kind(const struct ik_tok *t);
int ik_tok_vocab_size(const struct ik_tok *t);
/* The special ids, or -1 when the tokenizer has none. */
int ik_tok_bos(const struct ik_tok *t);
int ik_tok_eos(const struct ik_tok *t);
/* The piece of id as stored (SentencePiece "▁Once", byte-level "ĠOnce"), or
 * NULL when id is out of range. Borrowed until ik_tok_free. */
const char *ik_tok_piece(const struct ik_tok *t, int id);
/* The id of a piece or special token spelled exactly so, or -1. */
int ik_tok_find(const struct ik_tok *t, const char *piece);
/* True for control / special ids (BOS, EOS, <|im_start|>, ...). */
int ik_tok_is_special(const struct ik_tok *t, int id);

/* ---- read access for writers of other formats (GGUF, lm/model_gguf.h) ---- */

/* Piece types, numbered as SentencePiece and GGUF's tokenizer.ggml.token_type
 * number them. Byte-level BPE pieces are NORMAL, CONTROL (special added
 * tokens), USER (other added tokens) or UNUSED (ids no piece has). */
enum ik_tok_piece_type {
    IK_TOK_NORMAL = 1,
    IK_TOK_UNKNOWN = 2,
    IK_TOK_CONTROL = 3,
    IK_TOK_USER = 4,
    IK_TOK_UNUSED = 5,
    IK_TOK_BYTE = 6,
};
/* The byte length of id's piece (ik_tok_piece), 0 when out of range. */
size_t ik_tok_piece_len(const struct ik_tok *t, int id);
/* enum ik_tok_piece_type of id, 0 when out of range. */
int ik_tok_piece_type(const struct ik_tok *t, int id);
/* The SentencePiece score of id; 0 for byte-level BPE and out of range. */
float ik_tok_score(const struct ik_tok *t, int id);
/* The unknown piece's id, or -1. */
int ik_tok_unk(const struct ik_tok *t);
/* SentencePiece: whether a space is prepended to the text (add_dummy_prefix)
 * and runs of spaces are collapsed (remove_extra_whitespaces); 0 for BPE. */
int ik_tok_add_space_prefix(const struct ik_tok *t);
int ik_tok_remove_extra_spaces(const struct ik_tok *t);
/* Byte-level BPE merges in rank order (0 for SentencePiece): the i-th joins
 * the pieces *left and *right. ik_tok_merge returns 0, or -1 when i is out
 * of range. */
int ik_tok_n_merges(const struct ik_tok *t);
int ik_tok_merge(const struct ik_tok *t, int i, int *left, int *right);
/* llama.cpp's name (GGUF tokenizer.ggml.pre) of a byte-level BPE
 * pre-tokenizer that splits and normalizes text exactly as t does: "qwen2"
 * (Qwen2/3's regex, NFC), "llama-bpe" (Llama 3's, ignore_merges) or "gpt-2"
 * (GPT-2's ByteLevel regex); NULL for any other, and for SentencePiece.
 * Static storage. */
const char *ik_tok_gguf_pre(const struct ik_tok *t);

/* Encodes len bytes of text (no BOS is added; callers prepend ik_tok_bos).
 * With parse_special, special tokens spelled in the text become their ids.
 * *ids (the caller frees) receives *n ids. On failure *ids is untouched. */
int ik_tok_encode(const struct ik_tok *t, const char *text, size_t len, int parse_special, int **ids,
                  size_t *n, struct ik_diag *d);

/* Appends the text of ids to out. Special ids are written as their text
 * unless skip_special. An id outside the vocabulary: IK_EVALIDATE. */
int ik_tok_decode(const struct ik_tok *t, const int *ids, size_t n, int skip_special,
                  struct ik_buf *out, struct ik_diag *d);

#endif
