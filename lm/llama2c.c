/* lm/llama2c.c - loader for karpathy/llama2.c "v0" checkpoints.
 *
 * Layout: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size
 * (negative = separate classifier), seq_len), then fp32 tensors in this order:
 * token_embedding (V,D), rms_att (L,D), wq (L,D,D), wk (L,K*hd,D), wv
 * (L,K*hd,D), wo (L,D,D), rms_ffn (L,D), w1 (L,F,D), w2 (L,D,F), w3 (L,F,D),
 * rms_final (D), freq_cis_real and _imag (seq_len, hd/2) each (unused), then
 * wcls (V,D) when not shared. llama2.c rotates adjacent pairs (x[2j], x[2j+1]);
 * the wq/wk rows are permuted on load (row 2j -> j, 2j+1 -> j+hd/2 in each
 * head) so the rotate_half RoPE gives the same result. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/model.h"

struct reader {
    const unsigned char *p;
    size_t off, size;
    const char *path;
};

/* Copies count floats of tensor `what` (layer l, or -1) into dst. */
static int take(struct reader *r, float *dst, size_t count, const char *what, int l,
                struct ik_diag *d)
{
    size_t bytes = count * sizeof(float);
    if (r->size - r->off < bytes) {
        struct ik_srcloc loc = {r->path, 0, 0};
        char layer[32] = "";
        if (l >= 0)
            snprintf(layer, sizeof layer, " of layer %d", l);
        return ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0,
                          "offset %zu: truncated file: tensor '%s'%s needs %zu bytes, %zu remain", r->off,
                          what, layer, bytes, r->size - r->off);
    }
    if (dst)
        memcpy(dst, r->p + r->off, bytes);
    r->off += bytes;
    return 0;
}

/* Reorders the rows of w (nh heads of hd rows, each of `in` floats) from
 * llama2.c's interleaved pairs to rotate_half halves. */
static void permute_rows(float *w, int nh, int hd, int in)
{
    size_t rb = (size_t)in * sizeof(float);
    float *tmp = ik_xmalloc((size_t)hd * rb);
    for (int h = 0; h < nh; h++) {
        float *head = w + (size_t)h * hd * in;
        for (int j = 0; j < hd / 2; j++) {
            memcpy(tmp + (size_t)j * in, head + (size_t)(2 * j) * in, rb);
            memcpy(tmp + (size_t)(j + hd / 2) * in, head + (size_t)(2 * j + 1) * in, rb);
        }
        memcpy(head, tmp, (size_t)hd * rb);
    }
    free(tmp);
}

static int read_body(struct reader *r, struct ik_lm_model *m, int shared, int seq, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim, kw = (size_t)c->K * hd;
    int rc = take(r, m->embed, (size_t)c->V * D, "token_embedding", -1, d);
    /* llama2.c stores each kind of tensor for all layers together. */
#define ALL_LAYERS(field, count, name)                                                             \
    for (int l = 0; rc == 0 && l < c->L; l++)                                                      \
        rc = take(r, m->layers[l].field, (count), name, l, d);
    ALL_LAYERS(attn_norm, D, "rms_att_weight")
    ALL_LAYERS(wq, D * D, "wq")
    ALL_LAYERS(wk, kw * D, "wk")
    ALL_LAYERS(wv, kw * D, "wv")
    ALL_LAYERS(wo, D * D, "wo")
    ALL_LAYERS(ffn_norm, D, "rms_ffn_weight")
    ALL_LAYERS(w_gate, F * D, "w1")
    ALL_LAYERS(w_down, D * F, "w2")
    ALL_LAYERS(w_up, F * D, "w3")
#undef ALL_LAYERS
    if (rc == 0)
        rc = take(r, m->final_norm, D, "rms_final_weight", -1, d);
    if (rc == 0)
        rc = take(r, NULL, (size_t)seq * hd / 2, "freq_cis_real", -1, d);
    if (rc == 0)
        rc = take(r, NULL, (size_t)seq * hd / 2, "freq_cis_imag", -1, d);
    if (rc == 0 && !shared)
        rc = take(r, m->lm_head, (size_t)c->V * D, "wcls", -1, d);
    if (rc == 0 && r->off != r->size) {
        struct ik_srcloc loc = {r->path, 0, 0};
        rc = ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "offset %zu: %zu bytes follow the last tensor; "
                        "the header does not describe this file", r->off, r->size - r->off);
    }
    for (int l = 0; rc == 0 && l < c->L; l++) {
        permute_rows(m->layers[l].wq, c->H, c->head_dim, c->D);
        permute_rows(m->layers[l].wk, c->K, c->head_dim, c->D);
    }
    return rc;
}

int ik_lm_model_load_llama2c(struct ik_lm_model **out, const char *path, struct ik_diag *d)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return ik_diag_set(d, -errno, "cannot open '%s': %s", path, strerror(errno));
    struct stat sb;
    void *map = NULL;
    int rc = 0;
    if (fstat(fd, &sb) != 0)
        rc = ik_diag_set(d, -errno, "cannot stat '%s': %s", path, strerror(errno));
    else if (sb.st_size > 0 &&
             (map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, fd, 0)) == MAP_FAILED) {
        map = NULL;
        rc = ik_diag_set(d, -errno, "cannot map '%s': %s", path, strerror(errno));
    }
    close(fd);
    if (rc != 0)
        return rc;
    struct reader r = {map, 0, (size_t)sb.st_size, path};
    struct ik_srcloc loc = {path, 0, 0};
    int32_t h[7];
    struct ik_lm_model *m = NULL;
    if (r.size < sizeof h) {
        rc = ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "offset 0: file is %zu bytes, too short for the "
                        "28-byte llama2.c header", r.size);
        goto out;
    }
    memcpy(h, r.p, sizeof h);
    r.off = sizeof h;
    /* -INT32_MIN would overflow: leave it non-positive, hence implausible. */
    int shared = h[5] > 0, vocab = h[5] < 0 && h[5] != INT32_MIN ? -h[5] : h[5];
    if (h[0] <= 0 || h[1] <= 0 || h[2] <= 0 || h[3] <= 0 || h[4] <= 0 || vocab <= 0 || h[6] <= 0 ||
        h[0] % h[3] != 0 || (h[0] / h[3]) % 2 != 0 || h[3] % h[4] != 0 || h[0] > 1 << 20 ||
        h[1] > 1 << 22 || h[2] > 4096 || vocab > 1 << 24 || h[6] > 1 << 24) {
        rc = ik_diag_at(d, IK_ECORRUPT, &loc, NULL, 0, "offset 0: implausible llama2.c header (dim %d, "
                        "hidden_dim %d, n_layers %d, n_heads %d, n_kv_heads %d, vocab_size %d, seq_len %d)",
                        h[0], h[1], h[2], h[3], h[4], h[5], h[6]);
        ik_diag_hint(d, "only the llama2.c v0 format (no magic number) is read; export with "
                        "legacy_export");
        goto out;
    }
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = IK_LM_LLAMA;
    c.D = h[0];
    c.F = h[1];
    c.L = h[2];
    c.H = h[3];
    c.K = h[4];
    c.V = vocab;
    c.max_seq = h[6];
    c.head_dim = h[0] / h[3];
    c.norm_eps = 1e-5f; /* llama2.c's rmsnorm constant */
    c.rope_theta = 10000.0f;
    c.tie_embeddings = shared;
    c.bos_id = 1;
    c.eos_id[0] = 2;
    c.n_eos = 1;
    if ((rc = ik_lm_model_check_size(&c, path, d)) != 0 || (rc = ik_lm_model_new(&m, &c, d)) != 0)
        goto out;
    rc = read_body(&r, m, shared, h[6], d);
out:
    if (map)
        munmap(map, r.size);
    if (rc != 0) {
        ik_lm_model_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
