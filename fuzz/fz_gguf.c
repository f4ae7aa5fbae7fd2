/* fuzz/fz_gguf.c - a GGUF file (lm/gguf.h): indexed with ik_gguf_open,
 * every key read back through every typed getter (arrays element by
 * element), every tensor's bytes touched; then the same file loaded as a
 * GGUF vocabulary (lm/tokenizer_gguf.c). Part 2 of the input, if any, is the
 * text the tokenizer encodes. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "base/diag.h"
#include "fuzz/fuzz_util.h"
#include "lm/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Where the tensor bytes go, so the reads cannot be optimised away. */
static volatile unsigned sink;

static void read_key(const struct ik_gguf *g, const struct ik_gguf_kv *kv)
{
    char *key = fz_strndup(kv->key, kv->key_len);
    struct ik_diag d = IK_DIAG_INIT;
    uint64_t u;
    int64_t i;
    float f;
    bool b;
    const char *s;
    size_t n;
    ik_gguf_get_uint(g, key, &u, &d);
    fz_diag_done(&d);
    ik_gguf_get_int(g, key, &i, &d);
    fz_diag_done(&d);
    ik_gguf_get_f32(g, key, &f, &d);
    fz_diag_done(&d);
    ik_gguf_get_bool(g, key, &b, &d);
    fz_diag_done(&d);
    ik_gguf_get_str(g, key, &s, &n, &d);
    fz_diag_done(&d);
    struct ik_gguf_rd r;
    uint64_t count;
    if (kv->type == IK_GGUF_ARR &&
        ik_gguf_get_arr(g, key, kv->elem_type, &r, &count, &d) == 0) {
        size_t w = ik_gguf_scalar_size(kv->elem_type);
        for (uint64_t k = 0; k < count && k < 4096 && !r.bad; k++)
            if (kv->elem_type == IK_GGUF_STR)
                ik_gguf_rd_str(&r, &n);
            else if (w)
                ik_gguf_rd_uint(&r, w);
            else
                ik_gguf_rd_skip(&r, kv->elem_type);
    }
    fz_diag_done(&d);
    ik_gguf_get_arr(g, key, IK_GGUF_I32, &r, &count, &d); /* the wrong element type */
    fz_diag_done(&d);
    free(key);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fz_part part[2];
    fz_split(data, size, part, 2);
    struct ik_gguf g;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_gguf_open(&g, part[0].p, part[0].n, "fuzz.gguf", &d) == 0) {
        for (size_t i = 0; i < g.n_kv; i++)
            read_key(&g, &g.kv[i]);
        unsigned sum = 0;
        for (size_t i = 0; i < g.n_tensors; i++) {
            const struct ik_gguf_tensor *t = &g.tensors[i];
            char *name = fz_strndup(t->name, t->name_len);
            ik_gguf_find_tensor(&g, name);
            free(name);
            if (t->nbytes) {
                const uint8_t *p = t->data;
                sum += p[0] + p[t->nbytes - 1];
            }
        }
        sink = sum;
        ik_gguf_find(&g, "general.alignment");
        ik_gguf_close(&g);
    }
    fz_diag_done(&d);
    fz_tokenizer_input("vocab.gguf", data, size);
    return 0;
}
