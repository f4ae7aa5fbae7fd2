/* lm/model_gguf_write.c - an ik_lm_model and its tokenizer as a GGUF base
 * model (model_gguf.h): the checks of what llama.cpp would load differently,
 * the hyperparameters, the tokenizer metadata, and the tensors, q/k rows
 * permuted for the llama architecture by a fill function as they stream out
 * (no copy of the weights is made). */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/chat_template.h"
#include "lm/gguf.h"
#include "lm/gguf_write.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/model_gguf_int.h"
#include "lm/tokenizer.h"

const char *ik_lm_gguf_arch(int arch)
{
    return arch == IK_LM_QWEN2        ? "qwen2"
           : arch == IK_LM_QWEN3      ? "qwen3"
           : arch == IK_LM_NEMOTRON_H ? "nemotron_h"
                                      : "llama";
}

int ik_lm_gguf_permutes_qk(int arch)
{
    return arch == IK_LM_LLAMA || arch == IK_LM_MISTRAL || arch == IK_LM_NEMOTRON_H;
}

size_t ik_lm_gguf_qk_src_row(size_t r, int hd)
{
    size_t h = (size_t)hd, head = r / h, i = r % h;
    return head * h + (i % 2) * (h / 2) + i / 2;
}

/* Each as its model's tokenizer_config.json has it (chat_template.h). */
static const char chatml_jinja[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}"
    "{% endif %}";
static const char llama3_jinja[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant"
    "<|end_header_id|>\\n\\n' }}{% endif %}";
static const char llama2_jinja[] =
    "{% if messages[0]['role'] == 'system' %}{% set loop_messages = messages[1:] %}{% set "
    "system_message = messages[0]['content'] %}{% else %}{% set loop_messages = messages %}{% set "
    "system_message = false %}{% endif %}{% for message in loop_messages %}{% if (message['role'] == "
    "'user') != (loop.index0 % 2 == 0) %}{{ raise_exception('Conversation roles must alternate "
    "user/assistant/user/assistant/...') }}{% endif %}{% if loop.index0 == 0 and system_message != "
    "false %}{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + "
    "message['content'] %}{% else %}{% set content = message['content'] %}{% endif %}{% if "
    "message['role'] == 'user' %}{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}{% elif "
    "message['role'] == 'assistant' %}{{ ' '  + content.strip() + ' ' + eos_token }}{% endif %}"
    "{% endfor %}";

const char *ik_lm_gguf_chat_jinja(int tmpl)
{
    return tmpl == IK_CHAT_CHATML   ? chatml_jinja
           : tmpl == IK_CHAT_LLAMA3 ? llama3_jinja
           : tmpl == IK_CHAT_LLAMA2 ? llama2_jinja
                                    : NULL;
}

static bool has(const char *s, size_t len, const char *what)
{
    size_t n = strlen(what);
    for (size_t i = 0; n <= len && i <= len - n; i++)
        if (memcmp(s + i, what, n) == 0)
            return true;
    return false;
}

int ik_lm_gguf_chat_detect(const char *s, size_t len, int *tmpl)
{
    if (has(s, len, "<|start_header_id|>") && has(s, len, "<|eot_id|>"))
        return *tmpl = IK_CHAT_LLAMA3, 0;
    if (has(s, len, "<|im_start|>") && has(s, len, "<|im_end|>"))
        return *tmpl = IK_CHAT_CHATML, 0;
    if (has(s, len, "[INST]") && has(s, len, "<<SYS>>"))
        return *tmpl = IK_CHAT_LLAMA2, 0;
    return 1;
}

/* ---- checks ---- */

static int refuse(struct ik_diag *d, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int refuse(struct ik_diag *d, const char *path, const char *fmt, ...)
{
    struct ik_buf msg = IK_BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    ik_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    int rc = ik_diag_set(d, IK_EVALIDATE, "cannot write %s as GGUF: %s", path, msg.data);
    ik_buf_free(&msg);
    return rc;
}

static int check(const struct ik_lm_model *m, const struct ik_tok *t,
                 const struct ik_lm_gguf_opts *o, const char *path, struct ik_diag *d)
{
    const struct ik_lm_config *c = &m->cfg;
    if (o->type != IK_GGML_F32 && o->type != IK_GGML_F16 && o->type != IK_GGML_BF16)
        return refuse(d, path, "ggml type %" PRIu32 " is not F32 (0), F16 (1) or BF16 (30)",
                      o->type);
    if (c->arch == IK_LM_QWEN3 && (c->qkv_bias || c->o_bias))
        return refuse(d, path, "llama.cpp's qwen3 architecture has no attention biases "
                      "(attention_bias is true)");
    if (ik_tok_vocab_size(t) > c->V)
        return refuse(d, path, "the tokenizer has %d pieces, more than the model's vocab_size %d",
                      ik_tok_vocab_size(t), c->V);
    if (ik_tok_kind(t) == IK_TOK_SPM_UNIGRAM)
        return refuse(d, path, "a SentencePiece unigram tokenizer has no GGUF vocabulary that "
                      "llama.cpp encodes the same way (its \"llama\" tokenizer is BPE)");
    if (ik_tok_kind(t) == IK_TOK_BYTE_BPE && ik_tok_gguf_pre(t) == NULL)
        return refuse(d, path, "the byte-level BPE pre-tokenizer is none that llama.cpp names "
                      "(the regex and normalizer of Qwen2/3, Llama 3 or GPT-2)");
    return 0;
}

/* ---- metadata ---- */

static void key(char *buf, size_t n, const char *arch, const char *name)
{
    snprintf(buf, n, "%s.%s", arch, name);
}

static void write_hparams(struct ik_gguf_writer *w, const struct ik_lm_model *m,
                          const struct ik_lm_gguf_opts *o)
{
    const struct ik_lm_config *c = &m->cfg;
    const char *a = ik_lm_gguf_arch(c->arch);
    char k[96];
    ik_gguf_w_str(w, "general.architecture", a);
    ik_gguf_w_str(w, "general.type", "model");
    if (o->name)
        ik_gguf_w_str(w, "general.name", o->name);
    /* llama_ftype: ALL_F32 0, MOSTLY_F16 1, MOSTLY_BF16 32 */
    ik_gguf_w_u32(w, "general.file_type", o->type == IK_GGML_F32 ? 0 : o->type == IK_GGML_F16 ? 1 : 32);
    if (c->arch == IK_LM_NEMOTRON_H) {
        ik_lm_gguf_nemotron_h_hparams(w, c);
        return;
    }
#define U32(name, v) (key(k, sizeof k, a, name), ik_gguf_w_u32(w, k, (uint32_t)(v)))
#define F32(name, v) (key(k, sizeof k, a, name), ik_gguf_w_f32(w, k, (v)))
    U32("vocab_size", c->V);
    U32("context_length", c->max_seq);
    U32("embedding_length", c->D);
    U32("block_count", c->L);
    U32("feed_forward_length", c->F);
    U32("attention.head_count", c->H);
    U32("attention.head_count_kv", c->K);
    if (c->head_dim * c->H != c->D) {
        U32("attention.key_length", c->head_dim);
        U32("attention.value_length", c->head_dim);
    }
    U32("rope.dimension_count", c->head_dim);
    F32("rope.freq_base", c->rope_theta);
    F32("attention.layer_norm_rms_epsilon", c->norm_eps);
#undef U32
#undef F32
    if (c->rope_factor > 0) {
        ik_gguf_w_f32(w, "ikada.rope.llama3.factor", c->rope_factor);
        ik_gguf_w_f32(w, "ikada.rope.llama3.low_freq_factor", c->rope_low_freq_factor);
        ik_gguf_w_f32(w, "ikada.rope.llama3.high_freq_factor", c->rope_high_freq_factor);
        ik_gguf_w_u32(w, "ikada.rope.llama3.original_context_length",
                      (uint32_t)c->rope_original_max_seq);
    }
}

/* The model's vocabulary: t's pieces, then "[PAD<id>]" up to V (also for an
 * id byte-level BPE has no piece for: llama.cpp wants every token unique). */
struct vocab_arrays {
    const char **s;
    size_t *len;
    int32_t *type;
    float *score;
    struct ik_buf pads;
    size_t *pad_off; /* (V) offset into pads, or SIZE_MAX */
};

static void build_vocab(const struct ik_tok *t, int V, struct vocab_arrays *va)
{
    size_t n = (size_t)V;
    va->s = ik_xmalloc(n * sizeof *va->s);
    va->len = ik_xmalloc(n * sizeof *va->len);
    va->type = ik_xmalloc(n * sizeof *va->type);
    va->score = ik_xmalloc(n * sizeof *va->score);
    va->pad_off = ik_xmalloc(n * sizeof *va->pad_off);
    va->pads = (struct ik_buf)IK_BUF_INIT;
    int nt = ik_tok_vocab_size(t);
    for (int i = 0; i < V; i++) {
        int ty = i < nt ? ik_tok_piece_type(t, i) : IK_TOK_UNUSED;
        size_t l = i < nt ? ik_tok_piece_len(t, i) : 0;
        va->pad_off[i] = SIZE_MAX;
        va->type[i] = ty;
        va->score[i] = i < nt ? ik_tok_score(t, i) : -1000.0f;
        if (i >= nt || (ty == IK_TOK_UNUSED && l == 0)) {
            va->pad_off[i] = va->pads.len;
            ik_buf_printf(&va->pads, "[PAD%d]", i);
            va->len[i] = va->pads.len - va->pad_off[i];
        } else {
            va->s[i] = ik_tok_piece(t, i);
            va->len[i] = l;
        }
    }
    for (int i = 0; i < V; i++) /* pads moved while growing: point at them now */
        if (va->pad_off[i] != SIZE_MAX)
            va->s[i] = va->pads.data + va->pad_off[i];
}

static void free_vocab(struct vocab_arrays *va)
{
    free(va->s);
    free(va->len);
    free(va->type);
    free(va->score);
    free(va->pad_off);
    ik_buf_free(&va->pads);
}

/* tokenizer.ggml.merges: "left right" in rank order. */
static void write_merges(struct ik_gguf_writer *w, const struct ik_tok *t)
{
    size_t n = (size_t)ik_tok_n_merges(t);
    struct ik_buf all = IK_BUF_INIT;
    size_t *off = ik_xmalloc((n + 1) * sizeof *off);
    for (size_t i = 0; i < n; i++) {
        int a, b;
        ik_tok_merge(t, (int)i, &a, &b);
        off[i] = all.len;
        ik_buf_append(&all, ik_tok_piece(t, a), ik_tok_piece_len(t, a));
        ik_buf_putc(&all, ' ');
        ik_buf_append(&all, ik_tok_piece(t, b), ik_tok_piece_len(t, b));
    }
    off[n] = all.len;
    const char **s = ik_xmalloc((n + 1) * sizeof *s);
    size_t *len = ik_xmalloc((n + 1) * sizeof *len);
    for (size_t i = 0; i < n; i++) {
        s[i] = all.data + off[i];
        len[i] = off[i + 1] - off[i];
    }
    ik_gguf_w_arr_str(w, "tokenizer.ggml.merges", s, len, n);
    free(s);
    free(len);
    free(off);
    ik_buf_free(&all);
}

static void write_tokenizer(struct ik_gguf_writer *w, const struct ik_lm_model *m,
                            const struct ik_tok *t, const struct ik_lm_gguf_opts *o)
{
    const struct ik_lm_config *c = &m->cfg;
    bool spm = ik_tok_kind(t) != IK_TOK_BYTE_BPE;
    ik_gguf_w_str(w, "tokenizer.ggml.model", spm ? "llama" : "gpt2");
    if (!spm)
        ik_gguf_w_str(w, "tokenizer.ggml.pre", ik_tok_gguf_pre(t));
    struct vocab_arrays va;
    build_vocab(t, c->V, &va);
    ik_gguf_w_arr_str(w, "tokenizer.ggml.tokens", va.s, va.len, (size_t)c->V);
    if (spm)
        ik_gguf_w_arr_f32(w, "tokenizer.ggml.scores", va.score, (size_t)c->V);
    ik_gguf_w_arr_i32(w, "tokenizer.ggml.token_type", va.type, (size_t)c->V);
    free_vocab(&va);
    if (!spm)
        write_merges(w, t);
    int bos = ik_tok_bos(t) >= 0 ? ik_tok_bos(t) : c->bos_id;
    int eos = c->n_eos > 0 && c->eos_id[0] >= 0 ? c->eos_id[0] : ik_tok_eos(t);
    if (bos >= 0 && bos < c->V)
        ik_gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)bos);
    if (eos >= 0 && eos < c->V)
        ik_gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)eos);
    if (ik_tok_unk(t) >= 0)
        ik_gguf_w_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)ik_tok_unk(t));
    ik_gguf_w_bool(w, "tokenizer.ggml.add_bos_token", ik_tok_bos(t) >= 0);
    ik_gguf_w_bool(w, "tokenizer.ggml.add_eos_token", false);
    if (spm) {
        ik_gguf_w_bool(w, "tokenizer.ggml.add_space_prefix", ik_tok_add_space_prefix(t));
        ik_gguf_w_bool(w, "tokenizer.ggml.remove_extra_whitespaces",
                       ik_tok_remove_extra_spaces(t));
    }
    const char *jinja = o->chat_template >= 0 ? ik_lm_gguf_chat_jinja(o->chat_template) : NULL;
    if (jinja)
        ik_gguf_w_str(w, "tokenizer.chat_template", jinja);
}

/* ---- tensors ---- */

static void fill_perm(void *ctx, uint64_t first, size_t n, float *dst)
{
    const struct ik_lm_gguf_perm *p = ctx;
    while (n > 0) {
        size_t row = (size_t)(first / p->in), col = (size_t)(first % p->in);
        size_t take = p->in - col < n ? p->in - col : n;
        memcpy(dst, p->src + ik_lm_gguf_qk_src_row(row, p->hd) * p->in + col, take * sizeof *dst);
        dst += take;
        first += take;
        n -= take;
    }
}

void ik_lm_gguf_put(struct ik_gguf_writer *w, const char *name, uint32_t type, const float *src,
                    size_t out, size_t in, struct ik_lm_gguf_perm *p, int hd)
{
    uint64_t dims[2] = {in ? in : out, out};
    uint32_t nd = in ? 2 : 1;
    type = in ? type : IK_GGML_F32;
    if (p) {
        *p = (struct ik_lm_gguf_perm){src, in ? in : 1, hd};
        ik_gguf_w_tensor_fn(w, name, type, nd, dims, fill_perm, p);
    } else {
        ik_gguf_w_tensor(w, name, type, nd, dims, src);
    }
}

static void write_layer(struct ik_gguf_writer *w, const struct ik_lm_model *m, int l,
                        uint32_t type, struct ik_lm_gguf_perm *perms)
{
    const struct ik_lm_config *c = &m->cfg;
    const struct ik_lm_layer *y = &m->layers[l];
    size_t D = (size_t)c->D, F = (size_t)c->F, hd = (size_t)c->head_dim;
    size_t qw = (size_t)c->H * hd, kw = (size_t)c->K * hd;
    bool perm = ik_lm_gguf_permutes_qk(c->arch);
    char n[64];
#define T(suffix, src, out, in, p)                                                                 \
    (snprintf(n, sizeof n, "blk.%d.%s", l, suffix), ik_lm_gguf_put(w, n, type, src, out, in, p, c->head_dim))
    T("attn_norm.weight", y->attn_norm, D, 0, NULL);
    T("attn_q.weight", y->wq, qw, D, perm ? &perms[0] : NULL);
    T("attn_k.weight", y->wk, kw, D, perm ? &perms[1] : NULL);
    T("attn_v.weight", y->wv, kw, D, NULL);
    T("attn_output.weight", y->wo, D, qw, NULL);
    if (y->bq) {
        T("attn_q.bias", y->bq, qw, 0, perm ? &perms[2] : NULL);
        T("attn_k.bias", y->bk, kw, 0, perm ? &perms[3] : NULL);
        T("attn_v.bias", y->bv, kw, 0, NULL);
    }
    if (y->bo)
        T("attn_output.bias", y->bo, D, 0, NULL);
    if (y->q_norm) {
        T("attn_q_norm.weight", y->q_norm, hd, 0, NULL);
        T("attn_k_norm.weight", y->k_norm, hd, 0, NULL);
    }
    T("ffn_norm.weight", y->ffn_norm, D, 0, NULL);
    T("ffn_gate.weight", y->w_gate, F, D, NULL);
    T("ffn_up.weight", y->w_up, F, D, NULL);
    T("ffn_down.weight", y->w_down, D, F, NULL);
#undef T
}

/* rope_freqs.weight: the divisor of each frequency, base / scaled. */
static float *rope_freqs(const struct ik_lm_model *m)
{
    const struct ik_lm_config *c = &m->cfg;
    struct ik_lm_config plain = *c;
    plain.rope_factor = 0;
    int half = c->head_dim / 2;
    float *base = ik_xmalloc((size_t)half * sizeof *base);
    ik_lm_config_inv_freq(&plain, base);
    for (int j = 0; j < half; j++)
        base[j] = (float)((double)base[j] / m->inv_freq[j]);
    return base;
}

int ik_lm_model_write_gguf(const struct ik_lm_model *m, const struct ik_tok *t,
                           const struct ik_lm_gguf_opts *o, const char *path, struct ik_diag *d)
{
    int rc = check(m, t, o, path, d);
    if (rc != 0)
        return rc;
    const struct ik_lm_config *c = &m->cfg;
    struct ik_gguf_writer *w = ik_gguf_writer_new(IK_GGUF_ALIGNMENT);
    write_hparams(w, m, o);
    write_tokenizer(w, m, t, o);
    size_t D = (size_t)c->D, V = (size_t)c->V;
    struct ik_lm_gguf_perm *perms = ik_xcalloc((size_t)c->L * 4, sizeof *perms);
    float *freqs = c->rope_factor > 0 ? rope_freqs(m) : NULL;
    ik_lm_gguf_put(w, "token_embd.weight", o->type, m->embed, V, D, NULL, 0);
    if (freqs)
        ik_lm_gguf_put(w, "rope_freqs.weight", o->type, freqs, (size_t)c->head_dim / 2, 0, NULL, 0);
    ik_lm_gguf_put(w, "output_norm.weight", o->type, m->final_norm, D, 0, NULL, 0);
    if (!c->tie_embeddings)
        ik_lm_gguf_put(w, "output.weight", o->type, m->lm_head, V, D, NULL, 0);
    for (int l = 0; l < c->L; l++)
        if (c->arch == IK_LM_NEMOTRON_H)
            ik_lm_gguf_nemotron_h_layer(w, m, l, o->type, perms + 4 * (size_t)l);
        else
            write_layer(w, m, l, o->type, perms + 4 * (size_t)l);
    rc = ik_gguf_writer_write(w, path, d);
    ik_gguf_writer_free(w);
    free(freqs);
    free(perms);
    return rc;
}
