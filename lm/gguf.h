/* lm/gguf.h - reading GGUF containers (llama.cpp, Ollama) from a buffer.
 *
 * Format (ggml docs/gguf.md, versions 2 and 3; all integers little-endian):
 *   u32 magic "GGUF" (0x46554747), u32 version, u64 tensor count T,
 *   u64 key/value count K;
 *   K key/value pairs: string key, u32 value type, value;
 *   T tensor infos: string name, u32 n_dims, u64 dims[n_dims] (innermost
 *   first), u32 ggml type, u64 offset into the data section;
 *   padding to `general.alignment` (u32, default 32), then the data section.
 * A string is a u64 byte length and that many bytes, not NUL-terminated. A
 * value is a scalar of the type's size (u8 i8 u16 i16 u32 i32 f32 bool u64
 * i64 f64), a string, or an array: u32 element type, u64 count, elements
 * (arrays of strings and of arrays included).
 *
 * Two levels:
 *   struct ik_gguf_rd is a bounds-checked cursor over the bytes: every read
 *     past the end (or of an unknown type) sets a sticky `bad` flag, returns
 *     0 / NULL and leaves the offset where the failure happened, so a caller
 *     can read a run of fields and check once, and report that offset.
 *   ik_gguf_open indexes the whole header (keys, value offsets, tensor
 *     infos) after checking that every value and tensor lies inside the
 *     buffer; ik_gguf_find and the typed getters then read values by key.
 * The buffer is borrowed: keys, strings and tensor data point into it and
 * stay valid while it does. Errors: IK_EPARSE for what is not GGUF v2/v3,
 * IK_ECORRUPT for truncated or malformed contents (with the byte offset),
 * IK_ENOTFOUND for a missing key, IK_EVALIDATE for a value of another type. */
#ifndef IK_LM_GGUF_H
#define IK_LM_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_diag;

#define IK_GGUF_MAGIC 0x46554747u   /* "GGUF" read as a little-endian u32 */
#define IK_GGUF_ALIGNMENT 32        /* when general.alignment is absent */
#define IK_GGUF_MAX_DIMS 4          /* GGML_MAX_DIMS */

/* Value types, numbered as in the file. */
enum ik_gguf_type {
    IK_GGUF_U8,
    IK_GGUF_I8,
    IK_GGUF_U16,
    IK_GGUF_I16,
    IK_GGUF_U32,
    IK_GGUF_I32,
    IK_GGUF_F32,
    IK_GGUF_BOOL,
    IK_GGUF_STR,
    IK_GGUF_ARR,
    IK_GGUF_U64,
    IK_GGUF_I64,
    IK_GGUF_F64,
};

/* The ggml tensor types whose sizes ik_gguf_open checks (ggml.h numbering);
 * tensors of other types are listed with nbytes 0 and only their start is
 * checked. */
enum { IK_GGML_F32 = 0, IK_GGML_F16 = 1, IK_GGML_Q8_0 = 8, IK_GGML_BF16 = 30 };

/* ---- the cursor ---- */

struct ik_gguf_rd {
    const unsigned char *p; /* the whole buffer */
    size_t off, size;       /* read position and buffer size */
    int bad;                /* sticky: a read went past the end or met an unknown type */
};

/* Byte size of a scalar value type; 0 for strings, arrays and unknown types. */
size_t ik_gguf_scalar_size(uint32_t type);
/* The next n (1..8) bytes as a little-endian unsigned integer. */
uint64_t ik_gguf_rd_uint(struct ik_gguf_rd *r, size_t n);
/* The next string: its bytes (inside the buffer) and *len; NULL when bad. */
const char *ik_gguf_rd_str(struct ik_gguf_rd *r, size_t *len);
/* Skips one value of the given type, arrays (of arrays, up to 16 deep)
 * included; deeper nesting is bad, like an unknown type. */
void ik_gguf_rd_skip(struct ik_gguf_rd *r, uint32_t type);
/* True if the key k of kl bytes is name. */
bool ik_gguf_key_is(const char *k, size_t kl, const char *name);

/* The fixed header, read from offset 0 of r (leaves r at the first key). */
struct ik_gguf_header {
    uint32_t version;
    uint64_t n_tensors, n_kv;
};
/* IK_EPARSE "<name>: error: offset 0: not a GGUF v2/v3 file" when the magic
 * or version is wrong or the header is cut short. */
int ik_gguf_read_header(struct ik_gguf_rd *r, const char *name, struct ik_gguf_header *h,
                        struct ik_diag *d);

/* ---- the index ---- */

struct ik_gguf_kv {
    const char *key;    /* read-only: in the buffer, key_len bytes, no NUL */
    size_t key_len;
    uint32_t type;      /* enum ik_gguf_type */
    size_t off;         /* offset of the value (for an array: of its element type) */
    uint32_t elem_type; /* arrays: the elements' type */
    uint64_t n;         /* arrays: the element count */
    size_t elems_off;   /* arrays: offset of the first element */
};

struct ik_gguf_tensor {
    const char *name;   /* read-only: in the buffer, name_len bytes, no NUL */
    size_t name_len;
    uint32_t n_dims;
    uint64_t dims[IK_GGUF_MAX_DIMS]; /* innermost first; unused ones are 1 */
    uint32_t type;      /* ggml type */
    uint64_t offset;    /* relative to the data section, a multiple of the alignment */
    const void *data;   /* read-only: in the buffer */
    size_t nbytes;      /* 0 for a type whose size is not known here */
};

struct ik_gguf {
    const unsigned char *data; /* read-only: the borrowed buffer */
    size_t size;
    const char *name;          /* for messages (a path) */
    uint32_t version;
    size_t n_kv;
    struct ik_gguf_kv *kv;     /* in file order */
    size_t n_tensors;
    struct ik_gguf_tensor *tensors; /* in file order */
    uint32_t alignment;
    size_t data_off;           /* start of the data section */
};

/* Indexes the GGUF file in data[0..size) (name names it in messages). On
 * success g borrows the buffer; release with ik_gguf_close. IK_EPARSE when it
 * is not GGUF v2/v3, IK_ECORRUPT "offset N: ..." for a truncated or malformed
 * key/value or tensor info, a bad alignment, or tensor data outside the
 * buffer or not aligned. */
int ik_gguf_open(struct ik_gguf *g, const void *data, size_t size, const char *name,
                 struct ik_diag *d);
void ik_gguf_close(struct ik_gguf *g);

/* The first pair whose key is `key`, or NULL. */
const struct ik_gguf_kv *ik_gguf_find(const struct ik_gguf *g, const char *key);
/* The tensor called name, or NULL. */
const struct ik_gguf_tensor *ik_gguf_find_tensor(const struct ik_gguf *g, const char *name);

/* Typed getters. Each returns 0, IK_ENOTFOUND "key '<key>' is missing" or
 * IK_EVALIDATE "key '<key>' has type <t>, expected <t>" (messages located at
 * the file). ik_gguf_get_uint accepts any unsigned or non-negative signed
 * integer type, ik_gguf_get_int any integer type that fits an int64_t. */
int ik_gguf_get_uint(const struct ik_gguf *g, const char *key, uint64_t *v, struct ik_diag *d);
int ik_gguf_get_int(const struct ik_gguf *g, const char *key, int64_t *v, struct ik_diag *d);
int ik_gguf_get_f32(const struct ik_gguf *g, const char *key, float *v, struct ik_diag *d);
int ik_gguf_get_bool(const struct ik_gguf *g, const char *key, bool *v, struct ik_diag *d);
int ik_gguf_get_str(const struct ik_gguf *g, const char *key, const char **s, size_t *len,
                    struct ik_diag *d);
/* An array of elem_type: *n elements, *elems a cursor at the first (read
 * them with ik_gguf_rd_uint / ik_gguf_rd_str; open has checked they fit). */
int ik_gguf_get_arr(const struct ik_gguf *g, const char *key, uint32_t elem_type,
                    struct ik_gguf_rd *elems, uint64_t *n, struct ik_diag *d);

/* IK_EVALIDATE with the message located at the file (g->name): for readers
 * of a GGUF's contents that refuse what they find in it. */
int ik_gguf_invalid(const struct ik_gguf *g, struct ik_diag *d, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "u32", "string", "array", ...; "unknown" past the list. */
const char *ik_gguf_type_name(uint32_t type);

#endif
