/* lm/safetensors.h - reading (mmap) and writing safetensors files.
 *
 * Format (huggingface/safetensors): u64 LE header length N, N bytes of JSON
 * {"name": {"dtype","shape","data_offsets":[begin,end]}, "__metadata__": {...}},
 * then the data buffer; offsets are relative to the buffer start. The reader
 * checks what the reference implementation checks (offsets inside the buffer,
 * end-begin == prod(shape)*element size computed without wrapping, no overlap,
 * no bytes after the last tensor) so a truncated or damaged file is reported
 * with its byte offset and the tensor name, never read past.
 * A set opens one file, or a folder holding `model.safetensors` or the sharded
 * `model.safetensors.index.json` plus its shards. Files stay mapped until
 * ik_st_close. Errors: -errno for I/O, IK_EPARSE for a malformed header,
 * IK_ECORRUPT for offsets that do not fit, IK_ENOTFOUND for a missing tensor,
 * IK_EVALIDATE for a shape or dtype the caller did not expect. */
#ifndef IK_LM_SAFETENSORS_H
#define IK_LM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;

#define IK_ST_MAX_DIMS 8

enum ik_st_dtype {
    IK_ST_F32,
    IK_ST_F16,
    IK_ST_BF16,
    IK_ST_OTHER, /* any other dtype: listed, but ik_st_read_f32 refuses it */
};

struct ik_st_tensor {
    const char *name;     /* read-only; valid until ik_st_close */
    const char *file;     /* read-only: the path of the file holding it */
    const char *dtype_name; /* read-only: "F32", "BF16", ... */
    int dtype;            /* read-only: enum ik_st_dtype */
    int ndim;             /* read-only */
    int64_t shape[IK_ST_MAX_DIMS];
    const void *data;     /* read-only: mapped bytes, little-endian */
    size_t nbytes;        /* read-only */
    size_t offset;        /* read-only: absolute byte offset of data in file */
};

struct ik_st;

/* Opens a .safetensors file or a model folder (see above). On success *out
 * owns the mappings; free with ik_st_close. */
int ik_st_open(struct ik_st **out, const char *path, struct ik_diag *d);
void ik_st_close(struct ik_st *st);

/* Number of tensors and the i-th one, sorted by name. Cannot fail. */
size_t ik_st_count(const struct ik_st *st);
const struct ik_st_tensor *ik_st_at(const struct ik_st *st, size_t i);
/* The tensor called name, or NULL. */
const struct ik_st_tensor *ik_st_find(const struct ik_st *st, const char *name);

/* Finds tensor `name` and checks that its shape is exactly shape[0..ndim)
 * and its dtype F32, F16 or BF16: the checks of ik_st_read_f32, for a
 * caller that reads the tensor later (ik_st_tensor_to_bf16_rows). Fails as
 * ik_st_read_f32. */
int ik_st_expect(const struct ik_st *st, const char *name, int ndim, const int64_t *shape,
                 const struct ik_st_tensor **out, struct ik_diag *d);

/* Writes tensor t (one ik_st_expect accepted) as BF16 rows of cols
 * elements (its element count / cols rows), row r at dst + r * ld (ld >=
 * cols), the ld - cols after each row zeroed. BF16 is copied bit for bit,
 * F32 and F16 rounded to nearest even: the bits ik_f32_to_bf16 gives the
 * fp32 that ik_st_read_f32 reads. Cannot fail. */
void ik_st_tensor_to_bf16_rows(const struct ik_st_tensor *t, uint16_t *dst, size_t cols, size_t ld);

/* Copies tensor `name` into dst as fp32 (converting F16/BF16), after checking
 * that its shape is exactly shape[0..ndim). IK_ENOTFOUND (with a hint naming a
 * similar tensor), IK_EVALIDATE for a wrong shape or an unsupported dtype. */
int ik_st_read_f32(const struct ik_st *st, const char *name, float *dst, int ndim,
                   const int64_t *shape, struct ik_diag *d);

/* One tensor to write. data holds prod(shape) elements of dtype, little-endian. */
struct ik_st_wtensor {
    const char *name;
    int dtype; /* IK_ST_F32, IK_ST_F16 or IK_ST_BF16 */
    int ndim;
    int64_t shape[IK_ST_MAX_DIMS];
    const void *data;
};

/* Writes n tensors to path (through a temporary file, fsynced, then renamed),
 * with the header padded to a multiple of 8 bytes as the reference writer
 * does. Returns 0 or -errno. */
int ik_st_write(const char *path, const struct ik_st_wtensor *t, size_t n, struct ik_diag *d);

/* fp16 / bf16 <-> fp32 conversions, exact for every finite input. */
float ik_f16_to_f32(uint16_t h);
float ik_bf16_to_f32(uint16_t h);
uint16_t ik_f32_to_bf16(float f); /* round to nearest even */
uint16_t ik_f32_to_f16(float f);  /* round to nearest even */

#endif
