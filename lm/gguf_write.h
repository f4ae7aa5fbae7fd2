/* lm/gguf_write.h - writing GGUF v3 files (the format of lm/gguf.h) that
 * llama.cpp, Ollama and gguf-py read.
 *
 * Usage: collect metadata and tensor declarations in a writer, then
 * ik_gguf_writer_write streams the file to disk: header, key/values, tensor
 * infos, padding to the alignment, then each tensor's data, converted from its
 * fp32 source to the declared ggml type one tensor at a time (F32, F16, BF16:
 * round to nearest even), padded to the alignment. Nothing holds the whole
 * file in memory; the file appears atomically (temp file in the same folder,
 * fsync, rename), so a crash or a full disk never leaves a partial GGUF
 * under the final name.
 *
 * Keys are written in the order they were added; a key added twice is a
 * programming error (asserted). Tensor offsets are computed here, each a
 * multiple of the alignment, in the order tensors were added. Dims are
 * ggml's order: innermost (the row length) first, as the reader reports them.
 * Sources are borrowed until ik_gguf_writer_write returns. Errors: -errno
 * with the path named (e.g. -ENOSPC; -ENOENT when the folder is missing: it
 * is not created), IK_EVALIDATE for a tensor ggml would refuse: a type other
 * than F32, F16 or BF16, a name of 64 bytes or more, a name used twice, or
 * not 1 to 4 dims (ik_gguf_w_tensor_bytes takes any type). Nothing is
 * written then. */
#ifndef IK_LM_GGUF_WRITE_H
#define IK_LM_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_gguf_writer;

/* A writer with general.alignment = alignment (a power of two; 32 is ggml's
 * default, and then no general.alignment key is written). Cannot fail. */
struct ik_gguf_writer *ik_gguf_writer_new(uint32_t alignment);
void ik_gguf_writer_free(struct ik_gguf_writer *w);

/* Scalar metadata. */
void ik_gguf_w_u32(struct ik_gguf_writer *w, const char *key, uint32_t v);
void ik_gguf_w_i32(struct ik_gguf_writer *w, const char *key, int32_t v);
void ik_gguf_w_u64(struct ik_gguf_writer *w, const char *key, uint64_t v);
void ik_gguf_w_f32(struct ik_gguf_writer *w, const char *key, float v);
void ik_gguf_w_bool(struct ik_gguf_writer *w, const char *key, bool v);
void ik_gguf_w_str(struct ik_gguf_writer *w, const char *key, const char *s);
void ik_gguf_w_strn(struct ik_gguf_writer *w, const char *key, const char *s, size_t len);
/* Array metadata; the values are copied. */
void ik_gguf_w_arr_i32(struct ik_gguf_writer *w, const char *key, const int32_t *v, size_t n);
void ik_gguf_w_arr_f32(struct ik_gguf_writer *w, const char *key, const float *v, size_t n);
/* An array of n strings, the i-th of len[i] bytes (len NULL: NUL-terminated). */
void ik_gguf_w_arr_str(struct ik_gguf_writer *w, const char *key, const char *const *s,
                       const size_t *len, size_t n);

/* Declares a tensor of ggml type (IK_GGML_F32, _F16 or _BF16, lm/gguf.h) and
 * n_dims dims (innermost first), whose values are the fp32 array src in
 * row-major order (dims[0] fastest), borrowed. */
void ik_gguf_w_tensor(struct ik_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                      const uint64_t *dims, const float *src);

/* Like ik_gguf_w_tensor, for a source that is not one fp32 array (a row
 * permutation, a tensor produced on the fly): fill(ctx, first, n, dst) is
 * called at write time with consecutive ranges and writes the n fp32 values
 * first..first+n-1 (row-major, dims[0] fastest) to dst. It cannot fail. ctx
 * is borrowed until ik_gguf_writer_write returns. */
typedef void ik_gguf_fill_fn(void *ctx, uint64_t first, size_t n, float *dst);
void ik_gguf_w_tensor_fn(struct ik_gguf_writer *w, const char *name, uint32_t type,
                         uint32_t n_dims, const uint64_t *dims, ik_gguf_fill_fn *fill, void *ctx);

/* A tensor whose data is nbytes already encoded in the ggml type `type`
 * (any type: a quantized one copied from another file), written as given;
 * the caller answers for nbytes matching the dims. bytes is borrowed. */
void ik_gguf_w_tensor_bytes(struct ik_gguf_writer *w, const char *name, uint32_t type,
                            uint32_t n_dims, const uint64_t *dims, const void *bytes,
                            size_t nbytes);

/* Writes the file at path. */
int ik_gguf_writer_write(struct ik_gguf_writer *w, const char *path, struct ik_diag *d);

#endif
