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
 * in .gguf as a GGUF vocabulary (llama.cpp's SentencePiece BPE "llama"
 * tokenizer), one ending in .bin as llama2.c's tokenizer.bin (SentencePiece
 * BPE), anything else as a SentencePiece model. */
int ik_tok_load(struct ik_tok **out, const char *path, struct ik_diag *d);
void ik_tok_free(struct ik_tok *t);

/* The tokenizer file of the model at model_path (a Hugging Face folder, or a
 * model file such as llama2.c's .bin, looked up in its folder):
 * tokenizer.json, else tokenizer.model, else the one *.model file there
 * (llama2.c folders ship e.g. tok512.model). *path (the caller frees) gets
 * "<folder>/<name>". Errors: -errno when model_path cannot be opened,
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
