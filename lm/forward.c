/* lm/forward.c - the CPU forward pass with a KV cache (and, for NemotronH's
 * Mamba layers, a recurrent state), greedy decoding and teacher-forced
 * scoring (see model.h). Each chunk of tokens goes through the layers as
 * whole matrices, so the projections are sgemm calls; the attention reads
 * the cache, which holds K and V after RoPE (none for NemotronH). A batched
 * step is the same pass over one row per sequence: the rows share the
 * projections and each attends to its own cache and scans from its own
 * state. The Mamba-2 mixer is lm/forward_mamba.c. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "kernels/dispatch.h"
#include "lm/forward_int.h"
#include "lm/lora.h"
#include "lm/model.h"

/* The scratch widths of the Mamba layers (0 without any). */
struct ssm_sizes {
    size_t in_dim, conv, nh, inner, conv_st, ssm_st;
};

static struct ssm_sizes ssm_sizes(const struct ik_lm_config *c)
{
    struct ssm_sizes z = {0, 0, 0, 0, 0, 0};
    if (ik_lm_config_count_blocks(c, IK_LM_BLOCK_MAMBA) == 0)
        return z;
    z.in_dim = (size_t)ik_lm_ssm_in_dim(c);
    z.conv = (size_t)ik_lm_ssm_conv_dim(c);
    z.nh = (size_t)c->ssm.heads;
    z.inner = (size_t)ik_lm_ssm_inner(c);
    z.conv_st = (size_t)(c->ssm.conv_kernel - 1) * z.conv;
    z.ssm_st = z.nh * (size_t)c->ssm.head_dim * (size_t)c->ssm.state;
    return z;
}

/* The layers that keep a KV cache (Llama-family decoders, NemotronH attention). */
static int kv_layers(const struct ik_lm_config *c)
{
    return ik_lm_config_count_blocks(c, IK_LM_BLOCK_DECODER) +
           ik_lm_config_count_blocks(c, IK_LM_BLOCK_ATTN);
}

/* A state with a cache of S positions (0: none, a batch's scratch: its rows'
 * caches and recurrent states are their sequences'), chunk scratch of C rows
 * and room for the logits of n_logits rows. */
static int state_alloc(struct ik_lm_state **out, const struct ik_lm_model *m, int S, int C,
                       int n_logits, struct ik_diag *d)
{
    int rc = ik_lm_model_check_in_memory(m, "the CPU forward", d);
    if (rc != 0)
        return rc;
    const struct ik_lm_config *c = &m->cfg;
    struct ik_lm_state *s = ik_xcalloc(1, sizeof *s);
    s->m = m;
    s->S = S;
    s->C = C;
    s->mark_pos = -1;
    size_t Sz = (size_t)S, Cz = (size_t)C, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd, nkv = (size_t)kv_layers(c);
    struct ssm_sizes z = ssm_sizes(c);
    size_t nssm = S > 0 ? (size_t)ik_lm_config_count_blocks(c, IK_LM_BLOCK_MAMBA) : 0;
    int Q = c->ssm.chunk < C ? c->ssm.chunk : C;
    size_t ssd = z.nh && C > 1 ? ik_ssm_chunked_scratch(c->ssm.heads, c->ssm.head_dim, Q) : 0;
    size_t sizes[] = {nkv * Sz * kw, nkv * Sz * kw, nssm * z.conv_st, nssm * z.ssm_st, Cz * c->D,
                      Cz * c->D, Cz * qw, Cz * kw, Cz * kw, Cz * qw, Cz * c->D, Cz * c->F, Cz * c->F,
                      Cz * z.in_dim, Cz * z.conv, Cz * z.nh, Cz * z.inner, z.nh, ssd,
                      (Cz < IK_ATT_ROWS ? Cz : IK_ATT_ROWS) * Sz, (size_t)n_logits * c->V};
    float **ptrs[] = {&s->kc, &s->vc, &s->conv_st, &s->ssm_st, &s->x, &s->xn, &s->q, &s->k, &s->v,
                      &s->att, &s->proj, &s->gate, &s->up, &s->zxbcdt, &s->xbc, &s->dt, &s->yssm,
                      &s->A, &s->ssd, &s->scores, &s->logits};
    _Static_assert(sizeof sizes / sizeof sizes[0] == sizeof ptrs / sizeof ptrs[0], "one size per buffer");
    size_t total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        total += sizes[i];
    s->mem = malloc(total * sizeof(float));
    if (s->mem == NULL) {
        free(s);
        return ik_diag_set(d, -ENOMEM, "inference state for %d positions needs %.2f GiB, which could "
                           "not be allocated", S, (double)total * sizeof(float) / (1 << 30));
    }
    total = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        *ptrs[i] = sizes[i] ? s->mem + total : NULL;
        total += sizes[i];
    }
    /* The recurrent block: conv_st then ssm_st, adjacent (conv_st is a valid
     * pointer even when a kernel of 1 tap leaves it empty). A sequence's
     * recurrence starts from zeros (HF's and llama.cpp's initial states). */
    s->n_rec = nssm * (z.conv_st + z.ssm_st);
    if (s->n_rec) {
        s->rec = s->mem + sizes[0] + sizes[1]; /* after kc and vc */
        s->conv_st = s->rec;
        memset(s->rec, 0, s->n_rec * sizeof(float));
    }
    s->posv = ik_xmalloc(Cz * sizeof *s->posv);
    *out = s;
    return 0;
}

int ik_lm_state_new(struct ik_lm_state **out, const struct ik_lm_model *m, int max_seq,
                    int max_chunk, struct ik_diag *d)
{
    if (max_seq <= 0 || max_chunk <= 0)
        return ik_diag_set(d, IK_EVALIDATE, "state needs max_seq > 0 and max_chunk > 0");
    return state_alloc(out, m, max_seq, max_chunk < max_seq ? max_chunk : max_seq, 1, d);
}

void ik_lm_state_free(struct ik_lm_state *s)
{
    if (s == NULL)
        return;
    free(s->mem);
    free(s->mark);
    free(s->posv);
    free(s->lh);
    free(s);
}

void ik_lm_state_reset(struct ik_lm_state *s)
{
    s->pos = 0;
    s->mark_pos = -1;
    if (s->n_rec)
        memset(s->rec, 0, s->n_rec * sizeof(float));
}

int ik_lm_state_mark(struct ik_lm_state *s, struct ik_diag *d)
{
    size_t n = s->n_rec;
    if (n && s->mark == NULL && (s->mark = malloc(n * sizeof(float))) == NULL)
        return ik_diag_set(d, -ENOMEM, "the copy of a recurrent state (%.1f MiB) could not be "
                           "allocated", (double)n * sizeof(float) / (1 << 20));
    if (n)
        memcpy(s->mark, s->rec, n * sizeof(float));
    s->mark_pos = s->pos;
    return 0;
}

int ik_lm_state_truncate(struct ik_lm_state *s, int pos, struct ik_diag *d)
{
    if (pos < 0 || pos > s->pos)
        return ik_diag_set(d, IK_EVALIDATE, "cannot truncate to position %d: %d positions are cached",
                           pos, s->pos);
    size_t n = s->n_rec;
    if (n && pos != s->pos) {
        if (pos != s->mark_pos)
            return ik_diag_set(d, IK_EVALIDATE, "cannot truncate to position %d: the Mamba layers' "
                               "recurrent state cannot be rewound, only restored to the mark (%s%d)",
                               pos, s->mark_pos < 0 ? "none; " : "position ",
                               s->mark_pos < 0 ? 0 : s->mark_pos);
        memcpy(s->rec, s->mark, n * sizeof(float));
    }
    s->pos = pos;
    return 0;
}

const struct ik_lm_model *ik_lm_state_model(const struct ik_lm_state *s) { return s->m; }

const struct ik_lora *ik_lm_state_adapter(const struct ik_lm_state *s) { return s->ad; }

int ik_lm_state_pos(const struct ik_lm_state *s) { return s->pos; }

int ik_lm_state_capacity(const struct ik_lm_state *s) { return s->S; }

int ik_lm_state_chunk(const struct ik_lm_state *s) { return s->C; }

const struct ik_lm_config *ik_lm_state_config(const struct ik_lm_state *s) { return &s->m->cfg; }

const float *ik_lm_state_logits(const struct ik_lm_state *s) { return s->logits; }

/* Sets a as s's adapter with a bottleneck scratch of s->C rows. */
static void use_adapter(struct ik_lm_state *s, const struct ik_lora *a)
{
    free(s->lh);
    s->lh = a ? ik_xmalloc((size_t)s->C * a->cfg.r * sizeof *s->lh) : NULL;
    s->lh_r = a ? a->cfg.r : 0;
    s->ad = a;
}

int ik_lm_state_set_adapter(struct ik_lm_state *s, const struct ik_lora *a, struct ik_diag *d)
{
    if (a && a->L != s->m->cfg.L)
        return ik_diag_set(d, IK_EVALIDATE, "the adapter has %d layers but the model %d", a->L,
                           s->m->cfg.L);
    const struct ik_lm_config *c = &s->m->cfg;
    if (a && a->arch != c->arch)
        return ik_diag_set(d, IK_EVALIDATE, "the adapter was made for a %s model, this one is %s",
                           ik_lm_arch_name(a->arch), ik_lm_arch_name(c->arch));
    if (a && (a->mod[IK_LORA_Q].in != c->D || a->mod[IK_LORA_Q].out != c->H * c->head_dim ||
              a->mod[IK_LORA_K].out != c->K * c->head_dim || a->mod[IK_LORA_GATE].out != c->F))
        return ik_diag_set(d, IK_EVALIDATE, "the adapter was made for another model shape "
                           "(q_proj %d -> %d, gate_proj -> %d; the model has %d -> %d, -> %d)",
                           a->mod[IK_LORA_Q].in, a->mod[IK_LORA_Q].out, a->mod[IK_LORA_GATE].out, c->D,
                           c->H * c->head_dim, c->F);
    for (int i = 0; a && i < a->L * IK_LORA_NT; i++)
        if (a->mod[i].A && !ik_lora_has_module(c, i / IK_LORA_NT, i % IK_LORA_NT))
            return ik_diag_set(d, IK_EVALIDATE, "the adapter has %s on layer %d, which this model's "
                               "layer does not have", ik_lora_target_name(i % IK_LORA_NT), i / IK_LORA_NT);
    if (a && a->mod[IK_LORA_IN].out != ik_lm_ssm_in_dim(c))
        return ik_diag_set(d, IK_EVALIDATE, "the adapter was made for another model shape (in_proj "
                           "-> %d; the model has -> %d)", a->mod[IK_LORA_IN].out, ik_lm_ssm_in_dim(c));
    use_adapter(s, a);
    return 0;
}

void ik_lm_proj(struct ik_lm_state *s, int l, int t, float *out, const float *x, const float *w,
                const float *b, int T, int In, int Out)
{
    ik_matmul_fwd(out, x, w, b, T, In, Out);
    const struct ik_lora_module *md = s->ad ? &s->ad->mod[l * IK_LORA_NT + t] : NULL;
    if (md && md->A)
        ik_lora_fwd(out, s->lh, x, md->A, md->B, s->ad->scale, T, In, Out, s->ad->cfg.r);
}

static void add_into(float *x, const float *y, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x[i] += y[i];
}

/* Layer l's attention on w's scratch: w->xn (T, D) in, w->proj (T, D) out;
 * each sequence's rows append their K and V to its cache (slot y->slot)
 * and attend to it. */
static void attention(struct ik_lm_state *w, struct ik_lm_state *const *seq, const int *len,
                      int nseq, int l, int T)
{
    const struct ik_lm_model *m = w->m;
    const struct ik_lm_config *c = &m->cfg;
    const struct ik_lm_layer *y = &m->layers[l];
    int D = c->D, hd = c->head_dim, qw = c->H * hd, kw = c->K * hd;
    ik_lm_proj(w, l, IK_LORA_Q, w->q, w->xn, y->wq, y->bq, T, D, qw);
    ik_lm_proj(w, l, IK_LORA_K, w->k, w->xn, y->wk, y->bk, T, D, kw);
    ik_lm_proj(w, l, IK_LORA_V, w->v, w->xn, y->wv, y->bv, T, D, kw);
    if (y->q_norm) {
        ik_rmsnorm_fwd(w->q, NULL, w->q, y->q_norm, T * c->H, hd, c->norm_eps);
        ik_rmsnorm_fwd(w->k, NULL, w->k, y->k_norm, T * c->K, hd, c->norm_eps);
    }
    if (!c->no_rope) {
        ik_rope_fwd(w->q, w->posv, m->inv_freq, T, c->H, hd);
        ik_rope_fwd(w->k, w->posv, m->inv_freq, T, c->K, hd);
    }
    for (int i = 0, t = 0; i < nseq; t += len[i++]) {
        struct ik_lm_state *s = seq[i];
        size_t base = (size_t)y->slot * s->S * kw, at = base + (size_t)s->pos * kw;
        size_t rows = (size_t)len[i] * kw;
        memcpy(s->kc + at, w->k + (size_t)t * kw, rows * sizeof(float));
        memcpy(s->vc + at, w->v + (size_t)t * kw, rows * sizeof(float));
        ik_attention_fwd(w->att + (size_t)t * qw, w->q + (size_t)t * qw, s->kc + base, s->vc + base,
                         len[i], s->pos, c->H, c->K, hd, c->sliding_window, s->scores);
    }
    ik_lm_proj(w, l, IK_LORA_O, w->proj, w->att, y->wo, y->bo, T, qw, D);
}

/* The MLP of layer l: SwiGLU (Llama family) or up -> relu^2 -> down
 * (NemotronH, no gate). w->xn in, w->proj out. */
static void mlp(struct ik_lm_state *w, int l, int T)
{
    const struct ik_lm_config *c = &w->m->cfg;
    const struct ik_lm_layer *y = &w->m->layers[l];
    int D = c->D, F = c->F;
    if (y->w_gate) {
        ik_lm_proj(w, l, IK_LORA_GATE, w->gate, w->xn, y->w_gate, NULL, T, D, F);
        ik_lm_proj(w, l, IK_LORA_UP, w->up, w->xn, y->w_up, NULL, T, D, F);
        ik_swiglu_fwd(w->gate, w->gate, w->up, T, F);
    } else {
        ik_lm_proj(w, l, IK_LORA_UP, w->gate, w->xn, y->w_up, NULL, T, D, F);
        ik_relu2_fwd(w->gate, w->gate, (size_t)T * F);
    }
    ik_lm_proj(w, l, IK_LORA_DOWN, w->proj, w->gate, y->w_down, NULL, T, F, D);
}

/* Runs T <= w->C rows through the network on w's scratch (w->ad the
 * adapter): seq[i] (i < nseq) owns the next len[i] rows, its tokens at its
 * positions seq[i]->pos.. and its own cache and recurrent state, and the
 * rows of all sequences share every projection (one GEMM of T rows).
 * logits: (T,V) for every row, or NULL: then only each sequence's last row
 * is projected, into w->logits (nseq, V) when w is not the sequence itself.
 * Either way each sequence's last logits end in seq[i]->logits, and its
 * position advances. A Llama-family layer is norm, attention, residual,
 * norm, MLP, residual; a NemotronH layer norm, its one mixer, residual. */
static void forward_rows(struct ik_lm_state *w, struct ik_lm_state *const *seq, const int *len,
                         int nseq, const int *tokens, int T, float *logits)
{
    const struct ik_lm_model *m = w->m;
    const struct ik_lm_config *c = &m->cfg;
    int D = c->D;
    size_t TD = (size_t)T * D;
    for (int i = 0, t = 0; i < nseq; i++)
        for (int j = 0; j < len[i]; j++, t++) {
            memcpy(w->x + (size_t)t * D, m->embed + (size_t)tokens[t] * D, (size_t)D * sizeof(float));
            w->posv[t] = seq[i]->pos + j;
        }
    for (int l = 0; l < c->L; l++) {
        const struct ik_lm_layer *y = &m->layers[l];
        ik_rmsnorm_fwd(w->xn, NULL, w->x, y->attn_norm, T, D, c->norm_eps);
        switch (y->block) {
        case IK_LM_BLOCK_DECODER:
            attention(w, seq, len, nseq, l, T);
            add_into(w->x, w->proj, TD);
            ik_rmsnorm_fwd(w->xn, NULL, w->x, y->ffn_norm, T, D, c->norm_eps);
            mlp(w, l, T);
            break;
        case IK_LM_BLOCK_ATTN:
            attention(w, seq, len, nseq, l, T);
            break;
        case IK_LM_BLOCK_MLP:
            mlp(w, l, T);
            break;
        default:
            ik_lm_mamba_mixer(w, seq, len, nseq, l, T);
            break;
        }
        add_into(w->x, w->proj, TD);
    }
    size_t V = (size_t)c->V;
    if (logits) {
        ik_rmsnorm_fwd(w->xn, NULL, w->x, m->final_norm, T, D, c->norm_eps);
        ik_matmul_fwd(logits, w->xn, m->lm_head, NULL, T, D, c->V);
        for (int i = 0, t = 0; i < nseq; i++) {
            t += len[i];
            memcpy(seq[i]->logits, logits + (size_t)(t - 1) * V, V * sizeof(float));
        }
    } else {
        /* Only each sequence's last row's logits are wanted: skip the (T,V) product. */
        for (int i = 0, t = 0; i < nseq; i++) {
            t += len[i];
            memcpy(w->proj + (size_t)i * D, w->x + (size_t)(t - 1) * D, (size_t)D * sizeof(float));
        }
        ik_rmsnorm_fwd(w->xn, NULL, w->proj, m->final_norm, nseq, D, c->norm_eps);
        ik_matmul_fwd(w->logits, w->xn, m->lm_head, NULL, nseq, D, c->V);
        for (int i = 0; i < nseq; i++)
            if (seq[i] != w)
                memcpy(seq[i]->logits, w->logits + (size_t)i * V, V * sizeof(float));
    }
    for (int i = 0; i < nseq; i++)
        seq[i]->pos += len[i];
}

int ik_lm_forward(struct ik_lm_state *s, const int *tokens, int n, float *logits, struct ik_diag *d)
{
    const struct ik_lm_config *c = &s->m->cfg;
    if (n <= 0)
        return 0;
    if (n > s->S - s->pos)
        return ik_diag_set(d, IK_EVALIDATE, "sequence of %d tokens does not fit: %d of %d positions are "
                           "in use", n, s->pos, s->S);
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->V)
            return ik_diag_set(d, IK_EVALIDATE, "token %d at position %d is outside the vocabulary "
                               "[0, %d)", tokens[i], i, c->V);
    for (int i = 0; i < n; i += s->C) {
        int T = n - i < s->C ? n - i : s->C;
        forward_rows(s, &s, &T, 1, tokens + i, T, logits ? logits + (size_t)i * c->V : NULL);
    }
    return 0;
}

/* A batch's rows take the few-row projections, which give each row its bits alone. */
_Static_assert((int)IK_LM_MAX_BATCH <= (int)IK_GEMV_ROWS, "batched steps beyond the gemv rows");

struct ik_lm_batch {
    struct ik_lm_state *w; /* scratch of B rows, no cache, (B, V) logits */
};

int ik_lm_batch_new(struct ik_lm_batch **out, const struct ik_lm_model *m, int B, struct ik_diag *d)
{
    if (B <= 0 || B > IK_LM_MAX_BATCH)
        return ik_diag_set(d, IK_EVALIDATE, "a batch has 1 to %d rows (got %d)", IK_LM_MAX_BATCH, B);
    struct ik_lm_batch *b = ik_xcalloc(1, sizeof *b);
    int rc = state_alloc(&b->w, m, 0, B, B, d);
    if (rc != 0) {
        free(b);
        return rc;
    }
    *out = b;
    return 0;
}

void ik_lm_batch_free(struct ik_lm_batch *b)
{
    if (b == NULL)
        return;
    ik_lm_state_free(b->w);
    free(b);
}

int ik_lm_batch_rows(const struct ik_lm_batch *b) { return b->w->C; }

/* Why seqs cannot step together, as a diag, or 0. */
static int check_batch(const struct ik_lm_batch *b, struct ik_lm_state *const *seqs, const int *tokens,
                       int n, struct ik_diag *d)
{
    const struct ik_lm_config *c = &b->w->m->cfg;
    if (n < 1 || n > b->w->C)
        return ik_diag_set(d, IK_EVALIDATE, "a batched step of %d sequences does not fit a batch of "
                           "%d rows", n, b->w->C);
    for (int i = 0; i < n; i++) {
        const struct ik_lm_state *s = seqs[i];
        if (s->m != b->w->m || s->ad != seqs[0]->ad)
            return ik_diag_set(d, IK_EVALIDATE, "sequence %d of the batch has another model or "
                               "adapter than sequence 0", i);
        if (s->pos >= s->S)
            return ik_diag_set(d, IK_EVALIDATE, "sequence %d of the batch is full: %d of %d positions "
                               "are in use", i, s->pos, s->S);
        if (tokens[i] < 0 || tokens[i] >= c->V)
            return ik_diag_set(d, IK_EVALIDATE, "token %d of sequence %d is outside the vocabulary "
                               "[0, %d)", tokens[i], i, c->V);
        for (int j = 0; j < i; j++)
            if (seqs[j] == s)
                return ik_diag_set(d, IK_EVALIDATE, "sequences %d and %d of the batch are the same "
                                   "state", j, i);
    }
    return 0;
}

int ik_lm_forward_batch(struct ik_lm_batch *b, struct ik_lm_state *const *seqs, const int *tokens,
                        int n, struct ik_diag *d)
{
    int rc = check_batch(b, seqs, tokens, n, d);
    if (rc != 0)
        return rc;
    const struct ik_lora *a = seqs[0]->ad;
    if (b->w->ad != a || (a && a->cfg.r != b->w->lh_r)) /* another adapter at the same address */
        use_adapter(b->w, a);
    int len[IK_LM_MAX_BATCH];
    for (int i = 0; i < n; i++)
        len[i] = 1;
    forward_rows(b->w, seqs, len, n, tokens, n, NULL);
    return 0;
}

static int argmax(const float *x, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best])
            best = i;
    return best;
}

static int is_eos(const struct ik_lm_config *c, int tok)
{
    for (int i = 0; i < c->n_eos; i++)
        if (c->eos_id[i] == tok)
            return 1;
    return 0;
}

int ik_lm_generate_greedy(struct ik_lm_state *s, const int *prompt, int n_prompt, int max_new,
                          int stop_at_eos, int *out, struct ik_diag *d)
{
    if (n_prompt < 1)
        return ik_diag_set(d, IK_EVALIDATE, "generation needs a prompt of at least one token");
    ik_lm_state_reset(s);
    int rc = ik_lm_forward(s, prompt, n_prompt, NULL, d);
    if (rc != 0)
        return rc;
    int n = 0;
    while (n < max_new) {
        int tok = argmax(s->logits, s->m->cfg.V);
        out[n++] = tok;
        if (stop_at_eos && is_eos(&s->m->cfg, tok))
            break;
        if (n == max_new || s->pos == s->S)
            break; /* the cache is full: what was generated stands */
        if ((rc = ik_lm_forward(s, &tok, 1, NULL, d)) != 0)
            return rc;
    }
    return n;
}

/* Runs tokens[0..T) after what s holds, in chunks with their (C, V) logits in
 * lg, and writes logprob[t] = log p(targets[t] | everything before). The
 * targets are checked first. */
static int score_run(struct ik_lm_state *s, const int *tokens, const int *targets, int T,
                     float *logprob, float *lg, int at, struct ik_diag *d)
{
    const struct ik_lm_config *c = &s->m->cfg;
    for (int t = 0; t < T; t++)
        if (targets[t] < 0 || targets[t] >= c->V)
            return ik_diag_set(d, IK_EVALIDATE, "token %d at position %d is outside the vocabulary "
                               "[0, %d)", targets[t], at + t + 1, c->V);
    for (int i = 0; i < T; i += s->C) {
        int n = T - i < s->C ? T - i : s->C;
        int rc = ik_lm_forward(s, tokens + i, n, lg, d);
        if (rc != 0)
            return rc;
        ik_softmax_xent_fwd(logprob + i, lg, targets + i, n, c->V);
        for (int t = 0; t < n; t++)
            logprob[i + t] = -logprob[i + t];
    }
    return 0;
}

/* One chunk's logits at a time keeps memory at (C, V), not (n, V). */
static float *chunk_logits(const struct ik_lm_state *s, struct ik_diag *d)
{
    float *lg = malloc((size_t)s->C * s->m->cfg.V * sizeof *lg);
    if (lg == NULL)
        ik_diag_set(d, -ENOMEM, "out of memory for (%d, %d) logits", s->C, s->m->cfg.V);
    return lg;
}

int ik_lm_score(struct ik_lm_state *s, const int *tokens, int n, float *logprob, struct ik_diag *d)
{
    if (n < 2)
        return ik_diag_set(d, IK_EVALIDATE, "scoring needs at least two tokens");
    ik_lm_state_reset(s);
    float *lg = chunk_logits(s, d);
    if (lg == NULL)
        return -ENOMEM;
    int rc = score_run(s, tokens, tokens + 1, n - 1, logprob, lg, 0, d);
    free(lg);
    return rc;
}

int ik_lm_score_continuations(struct ik_lm_state *s, const int *prefix, int n_prefix,
                              const int *const *conts, const int *lens, int n, float **logprob,
                              struct ik_diag *d)
{
    const struct ik_lm_config *c = &s->m->cfg;
    if (n_prefix < 1)
        return ik_diag_set(d, IK_EVALIDATE, "scoring continuations needs a prefix of at least one token");
    for (int i = 0; i < n; i++)
        if (lens[i] < 1)
            return ik_diag_set(d, IK_EVALIDATE, "continuation %d is empty", i);
    ik_lm_state_reset(s);
    int rc = ik_lm_forward(s, prefix, n_prefix, NULL, d);
    float *lg = rc == 0 ? chunk_logits(s, d) : NULL;
    float *last = rc == 0 ? malloc((size_t)c->V * sizeof *last) : NULL;
    if (rc == 0 && (lg == NULL || last == NULL))
        rc = ik_diag_set(d, -ENOMEM, "out of memory for (%d, %d) logits", s->C, c->V);
    if (rc == 0) {
        memcpy(last, s->logits, (size_t)c->V * sizeof *last);
        rc = ik_lm_state_mark(s, d); /* the Mamba layers' state at the prefix's end */
    }
    for (int i = 0; i < n && rc == 0; i++) {
        /* The first token from the prefix's last logits, the rest after it. */
        rc = ik_lm_state_truncate(s, n_prefix, d);
        if (rc == 0 && (conts[i][0] < 0 || conts[i][0] >= c->V)) {
            rc = ik_diag_set(d, IK_EVALIDATE, "token %d at position %d is outside the vocabulary "
                             "[0, %d)", conts[i][0], n_prefix, c->V);
        } else if (rc == 0) {
            ik_softmax_xent_fwd(logprob[i], last, conts[i], 1, c->V);
            logprob[i][0] = -logprob[i][0];
            rc = score_run(s, conts[i], conts[i] + 1, lens[i] - 1, logprob[i] + 1, lg, n_prefix, d);
        }
        if (rc != 0)
            ik_diag_prefix(d, "continuation %d: ", i);
    }
    free(lg);
    free(last);
    return rc;
}
