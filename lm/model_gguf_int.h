/* lm/model_gguf_int.h - what model_gguf_write.c, model_gguf_read.c and
 * model_gguf_nemotron_h.c share: the writer's tensor declaration (with the
 * q/k row permutation as a fill function) and NemotronH's hyperparameters
 * and Mamba-2 tensor conversions (A = -exp(A_log), a conv bias llama.cpp
 * needs). Not for use outside lm/model_gguf*.c. */
#ifndef IK_LM_MODEL_GGUF_INT_H
#define IK_LM_MODEL_GGUF_INT_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_gguf;
struct ik_gguf_writer;
struct ik_lm_config;
struct ik_lm_model;

/* A q/k projection (weight or bias) with its rows in llama.cpp's order: the
 * fill function's context, kept by the caller until the file is written. */
struct ik_lm_gguf_perm {
    const float *src; /* (rows, in) */
    size_t in;
    int hd;
};

/* Declares "<name>" (a matrix of (out, in) when in > 0, of the matrices'
 * type; else a vector of out, F32) from src, its rows permuted through *p
 * (heads of hd rows) when p is not NULL. */
void ik_lm_gguf_put(struct ik_gguf_writer *w, const char *name, uint32_t type, const float *src,
                    size_t out, size_t in, struct ik_lm_gguf_perm *p, int hd);

/* "<arch>.<name>" as an int in [lo, hi]; absent: dflt, or an error (IK_ENOTFOUND)
 * when dflt < 0; IK_EVALIDATE naming the key when out of range. */
int ik_lm_gguf_get_int(const struct ik_gguf *g, const char *arch, const char *name, int dflt,
                       int lo, int hi, int *out, struct ik_diag *d);

/* ---- NemotronH (model_gguf_nemotron_h.c) ---- */

/* The nemotron_h.* keys: sizes, the per-layer head_count_kv and
 * feed_forward_length arrays that tell llama.cpp each layer's mixer, the
 * ssm.* keys, no RoPE. */
void ik_lm_gguf_nemotron_h_hparams(struct ik_gguf_writer *w, const struct ik_lm_config *c);

/* Layer l's tensors (its norm and its mixer's); perms: 2 slots for the
 * attention layer's q and k. */
void ik_lm_gguf_nemotron_h_layer(struct ik_gguf_writer *w, const struct ik_lm_model *m, int l,
                                 uint32_t type, struct ik_lm_gguf_perm *perms);

/* The config of a nemotron_h file (c->arch set, the rest zero) from its keys:
 * each layer's mixer from the arrays as llama.cpp decides it, the Mamba-2
 * sizes; conv_bias is the tensors' to decide. IK_EVALIDATE naming the key
 * for what this code cannot hold (per-layer sizes that differ, widths that
 * do not divide). */
int ik_lm_gguf_nemotron_h_config(const struct ik_gguf *g, struct ik_lm_config *c,
                                 struct ik_diag *d);

/* A_log = log(-A) of the n values of blk.*.ssm_a (name), in place;
 * IK_EVALIDATE naming the tensor for an A that is not negative and finite. */
int ik_lm_gguf_a_log(const struct ik_gguf *g, const char *name, float *a, size_t n,
                     struct ik_diag *d);

#endif
