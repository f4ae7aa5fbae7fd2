/* nodes/raft/doc_truncate.h - the reference documents of a RAFT user
 * message and their shortening: train's truncate "documents"
 * (nodes/train/dataset.h) and the engine backend of evaluate and
 * jcq-regress (nodes/eval/model_engine.c), which shorten a prompt alike.
 *
 * The layout is nodes/raft/raft_prompt.h's:
 *   <intro>\n\n<label>1:\n<doc1>\n\n<label>2:\n<doc2>…\n\n<question_label>: <q>
 * A document runs from the end of its marker "\n\n<label><i>:\n" to the next
 * marker, or to the question marker "\n\n<question_label>: " (the last one in
 * the text, since documents may hold anything), so its block's closing "\n"
 * stays outside it. Only document bytes are ever cut, from their ends and at
 * UTF-8 character boundaries: the intro, the labels and the question are
 * kept byte for byte. */
#ifndef IK_NODES_RAFT_DOC_TRUNCATE_H
#define IK_NODES_RAFT_DOC_TRUNCATE_H

#include <stddef.h>

struct ik_buf;
struct ik_diag;

struct ik_raft_docs {
    const char *text;    /* the user message, borrowed */
    size_t len;
    size_t n;            /* documents found */
    size_t *begin, *end; /* (n) byte range of each document in text */
};

/* Finds the documents of text[0..len) with these labels; returns their
 * number, 0 when the text is not in the layout. Free with
 * ik_raft_docs_free (also after 0). Cannot fail. */
size_t ik_raft_docs_split(struct ik_raft_docs *s, const char *text, size_t len,
                            const char *doc_label, const char *question_label);
void ik_raft_docs_free(struct ik_raft_docs *s);

/* keep[i] (n entries) receives how many leading bytes of document i to
 * keep so that at most keep_bytes are kept in all, the longest documents cut
 * first (each to a common level, as water fills), every cut moved back to a
 * character boundary. Cannot fail. */
void ik_raft_docs_cap(const struct ik_raft_docs *s, size_t keep_bytes, size_t *keep);

/* Appends the text with document i cut to keep[i] bytes. Cannot fail. */
void ik_raft_docs_render(const struct ik_raft_docs *s, const size_t *keep, struct ik_buf *out);

/* Encodes the sample with its user message replaced by user (NUL-terminated,
 * len bytes), keeping the result in arg in place of the previous one, and
 * sets *n to its length in tokens. 0 or a negative code with d set. */
typedef int (*ik_raft_docs_encode_fn)(void *arg, const char *user, size_t len, int *n,
                                   struct ik_diag *d);

/* Shortens the documents of a sample of n_full tokens (> max_length) until it
 * fits: first every document emptied (its length goes to *n_empty), then a cut
 * estimated from the tokens the documents take, re-encoded and re-estimated
 * until the sample fits. Returns 0 with the fitted sample the last one
 * encoded, 1 when even the emptied documents leave more than max_length
 * tokens, or the encoder's negative code. */
int ik_raft_docs_fit(const struct ik_raft_docs *s, int n_full, int max_length,
                       ik_raft_docs_encode_fn encode, void *arg, int *n_empty, struct ik_diag *d);

#endif
