/* lm/model.h - a Llama-family or NemotronH decoder held in fp32, and its CPU forward.
 *
 * Weights live in one arena (llm.c's malloc_and_point_parameters): one
 * allocation whose size ik_lm_model_new computes from the config, with every
 * tensor a pointer into it, so freeing and copying stay trivial. Files are
 * converted to fp32 on load (F16/BF16 widened; llama2.c's adjacent-pair RoPE
 * rows permuted into the HF rotate_half layout, so one RoPE kernel serves
 * both). A model is read-only once loaded and may be shared by several states;
 * a state (KV cache and scratch) belongs to one thread. Errors: those of the
 * loaders (config.h, safetensors.h), IK_EVALIDATE for a missing/misshapen
 * tensor or a sequence that does not fit, IK_ECORRUPT for a truncated file,
 * -ENOMEM when the arena or cache cannot be allocated. */
#ifndef IK_LM_MODEL_H
#define IK_LM_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "lm/config.h"

struct ik_diag;

/* One layer. A Llama-family layer (block IK_LM_BLOCK_DECODER) has every
 * attention and MLP tensor; a NemotronH layer has attn_norm (its one norm)
 * and the tensors of its mixer only, the others NULL: attention wq..wo, MLP
 * w_up and w_down (no gate, no ffn_norm), Mamba-2 the ssm_* ones. With nh
 * heads of P channels, d_inner = nh*P, G groups of N states, conv_dim =
 * d_inner + 2*G*N and Kc conv taps (config.h's ik_lm_ssm_*): */
struct ik_lm_layer {
    int block;              /* enum ik_lm_block */
    int slot;               /* its index among the layers that keep the same kind of
                             * cache: KV slot (attention), recurrent slot (Mamba) */
    float *attn_norm;       /* (D) */
    float *wq, *bq;         /* (H*hd, D), (H*hd) or NULL */
    float *wk, *bk;         /* (K*hd, D), (K*hd) or NULL */
    float *wv, *bv;         /* (K*hd, D), (K*hd) or NULL */
    float *wo, *bo;         /* (D, H*hd), (D) or NULL */
    float *q_norm, *k_norm; /* (hd) each, Qwen3 only, else NULL */
    float *ffn_norm;        /* (D) */
    float *w_gate, *w_up;   /* (F, D) each */
    float *w_down;          /* (D, F) */
    float *ssm_in;          /* (2*d_inner + 2*G*N + nh, D) in_proj: z | xBC | dt */
    float *conv_w;          /* (conv_dim, Kc) depthwise causal conv1d taps */
    float *conv_b;          /* (conv_dim), or NULL without use_conv_bias */
    float *dt_bias;         /* (nh) */
    float *A_log;           /* (nh): A = -exp(A_log) */
    float *ssm_D;           /* (nh) skip connection */
    float *ssm_norm;        /* (d_inner) gated RMSNorm, per group of d_inner/G */
    float *ssm_out;         /* (D, d_inner) out_proj */
};

struct ik_lm_model {
    struct ik_lm_config cfg;   /* read-only */
    float *embed;              /* (V, D) */
    float *final_norm;         /* (D) */
    float *lm_head;            /* (V, D); == embed when tied */
    struct ik_lm_layer *layers; /* (L) */
    float *inv_freq;           /* (hd/2) RoPE frequencies, scaling applied */
    float *arena;              /* private: the one allocation */
    size_t n_params;           /* read-only: the model's parameters (excluding inv_freq); in a
                                * model loaded in full, the arena's floats from embed on */
    struct ik_lm_stream *stream; /* private: where a streamed model's big tensors are, or NULL */
};

/* The most fp32 weight bytes a model may need (1 TiB, 2^38 parameters: a
 * 70B model needs 280 GB): a config beyond is refused before any allocation,
 * so no size product of a file can wrap or ask for an absurd arena. */
#define IK_LM_MAX_WEIGHT_BYTES ((size_t)1 << 40)

/* Checks that a model of this shape can be laid out: positive sizes, at most
 * IK_LM_MAX_LAYERS layers and IK_LM_MAX_WEIGHT_BYTES of weights, every
 * product counted without wrapping. IK_EVALIDATE naming `file` (the config's
 * source, or NULL) and the sizes otherwise. */
int ik_lm_model_check_size(const struct ik_lm_config *cfg, const char *file, struct ik_diag *d);

/* A model of this shape with zeroed weights (for loaders and tests). Fails as
 * ik_lm_model_check_size does (without a file name), or with -ENOMEM (with
 * the size in the message) when the arena cannot be had. */
int ik_lm_model_new(struct ik_lm_model **out, const struct ik_lm_config *cfg, struct ik_diag *d);

/* Loads a model from a Hugging Face folder (config.json + safetensors), a
 * GGUF file (a name ending in .gguf) or a llama2.c .bin checkpoint (any
 * other regular file). */
int ik_lm_model_load(struct ik_lm_model **out, const char *path, struct ik_diag *d);

/* How ik_lm_model_load_opts loads. IK_LM_LOAD_ALL reads every tensor into
 * the fp32 arena (ik_lm_model_load). IK_LM_LOAD_STREAM (a Hugging Face
 * folder; a GGUF or llama2.c file loads in full) reads every tensor but the
 * big ones: the layers' projections (the LoRA targets) and the embedding
 * and head tables are found and checked as at a full load, then left in
 * the mapped files, their pointers NULL, for a consumer that holds them
 * elsewhere in BF16 and reads them one at a time with
 * ik_lm_model_read_bf16 (the CUDA trainer): an 8B model then needs a few MB
 * of host memory instead of 32 GB. A model with m->stream runs on no CPU
 * path (ik_lm_state_new and the CPU trainer refuse it: IK_EVALIDATE). */
enum { IK_LM_LOAD_ALL, IK_LM_LOAD_STREAM };
int ik_lm_model_load_opts(struct ik_lm_model **out, const char *path, int how, struct ik_diag *d);

/* A streamed model's big tensor as BF16 rows: layer l's projection t (enum
 * ik_lora_target: q, k, v, o, gate, up, down, in, out), or with l
 * IK_LM_TABLES the embedding (t IK_LM_TABLE_EMBED) or the untied lm_head
 * (IK_LM_TABLE_HEAD): its (Out, In) rows at dst, ld >= In apart, the rest
 * of each row zeroed, with the bits ik_f32_to_bf16 gives the fp32 a full
 * load holds (ik_st_tensor_to_bf16_rows). IK_EVALIDATE for a tensor the
 * model does not stream or an ld below In. */
enum { IK_LM_TABLES = -1, IK_LM_TABLE_EMBED = 0, IK_LM_TABLE_HEAD = 1 };
int ik_lm_model_read_bf16(const struct ik_lm_model *m, int l, int t, uint16_t *dst, size_t ld,
                          struct ik_diag *d);

/* 0 for a model whose every tensor is in its arena; IK_EVALIDATE, saying
 * that `who` (the CPU forward, the CPU trainer) cannot run it, for a
 * streamed one. */
int ik_lm_model_check_in_memory(const struct ik_lm_model *m, const char *who, struct ik_diag *d);

/* The three loaders behind ik_lm_model_load. The GGUF one (model_gguf_read.c)
 * reads the llama, qwen2, qwen3 and nemotron_h architectures with F32, F16, BF16 and Q8_0
 * tensors (lm/model_gguf.h has the layout); it refuses another architecture,
 * a LoRA adapter GGUF, a missing key or tensor, a misshapen tensor and
 * another tensor type with IK_EVALIDATE (IK_ENOTFOUND for a missing key),
 * naming the file and the key or tensor, before allocating the weights. */
int ik_lm_model_load_hf(struct ik_lm_model **out, const char *dir, struct ik_diag *d);
int ik_lm_model_load_gguf(struct ik_lm_model **out, const char *path, struct ik_diag *d);
int ik_lm_model_load_llama2c(struct ik_lm_model **out, const char *path, struct ik_diag *d);

void ik_lm_model_free(struct ik_lm_model *m);

/* Inference state: KV cache for up to max_seq positions (for the attention
 * layers), the conv and SSM state of each Mamba layer, scratch for chunks of
 * up to max_chunk tokens. */
struct ik_lm_state;

int ik_lm_state_new(struct ik_lm_state **out, const struct ik_lm_model *m, int max_seq,
                    int max_chunk, struct ik_diag *d);
void ik_lm_state_free(struct ik_lm_state *s);
/* Runs every later forward with LoRA adapter a (NULL: none) added to the
 * projections, without dropout. a is borrowed and must outlive its use; its
 * shape must be the model's (IK_EVALIDATE otherwise). */
struct ik_lora;
int ik_lm_state_set_adapter(struct ik_lm_state *s, const struct ik_lora *a, struct ik_diag *d);
/* Forgets the cached positions and the recurrent state (a new sequence
 * starts at position 0). */
void ik_lm_state_reset(struct ik_lm_state *s);
/* Remembers the Mamba layers' recurrent state (every conv and SSM state) at
 * the current position, so that ik_lm_state_truncate can return there; one
 * mark at a time, the last one standing. A model without Mamba layers
 * copies nothing. -ENOMEM when the copy cannot be allocated. */
int ik_lm_state_mark(struct ik_lm_state *s, struct ik_diag *d);
/* Forgets the cached positions from pos on: the next forward continues at
 * pos, so several continuations of one prefix reuse its cache.
 * ik_lm_state_logits is not restored. A KV cache can be cut anywhere (0 <=
 * pos <= the current count); a recurrent state cannot be rewound, so with
 * Mamba layers pos must be the current count or the position of the mark,
 * whose state is then restored. Otherwise IK_EVALIDATE and nothing changes. */
int ik_lm_state_truncate(struct ik_lm_state *s, int pos, struct ik_diag *d);
/* The model and the adapter (or NULL) s runs with. */
const struct ik_lm_model *ik_lm_state_model(const struct ik_lm_state *s);
const struct ik_lora *ik_lm_state_adapter(const struct ik_lm_state *s);
/* Number of positions in the cache. */
int ik_lm_state_pos(const struct ik_lm_state *s);
/* The cache's capacity (max_seq), the chunk (max_chunk, at most max_seq)
 * and the model's config. */
int ik_lm_state_capacity(const struct ik_lm_state *s);
int ik_lm_state_chunk(const struct ik_lm_state *s);
const struct ik_lm_config *ik_lm_state_config(const struct ik_lm_state *s);

/* Appends n tokens to the sequence and runs them through the network, in
 * chunks of max_chunk. logits: (n, V) receives every position's logits, or
 * NULL; either way ik_lm_state_logits then gives the last position's. Fails
 * (IK_EVALIDATE, state unchanged) on a token outside [0,V) or when the cache
 * would overflow. */
int ik_lm_forward(struct ik_lm_state *s, const int *tokens, int n, float *logits, struct ik_diag *d);
/* The last position's logits: (V), valid until the next forward. */
const float *ik_lm_state_logits(const struct ik_lm_state *s);

/* Batched decoding: one step of n sequences, each its own state (its own KV
 * cache; all of the batch's model and with the same adapter), one token each
 * at its own next position, run as one forward: every projection is a GEMM
 * of n rows (kernels' gemv for up to IK_LM_MAX_BATCH rows, where a row gets
 * the bits it gets alone, so this equals n calls of ik_lm_forward with one
 * token, bit for bit, on CPUs with FMA), attention per sequence against its
 * own cache. Afterwards ik_lm_state_logits(seqs[i]) is sequence i's next-token
 * logits. The batch holds the scratch of its rows (no cache) and the (rows,
 * V) logits; it belongs to one thread. Fails (IK_EVALIDATE, nothing changed)
 * for n outside [1, rows], a sequence whose cache is full, a token outside
 * [0,V), a state given twice, or states of another model or adapter. */
enum { IK_LM_MAX_BATCH = 16 };
struct ik_lm_batch;
int ik_lm_batch_new(struct ik_lm_batch **out, const struct ik_lm_model *m, int rows,
                    struct ik_diag *d);
void ik_lm_batch_free(struct ik_lm_batch *b);
int ik_lm_batch_rows(const struct ik_lm_batch *b);
int ik_lm_forward_batch(struct ik_lm_batch *b, struct ik_lm_state *const *seqs, const int *tokens,
                        int n, struct ik_diag *d);

/* Greedy decoding: resets s, feeds prompt (n_prompt >= 1 tokens), then picks
 * the argmax up to max_new times, stopping after an EOS of the config when
 * stop_at_eos. out: (max_new) receives the new tokens; returns their count
 * (>= 0) or a negative code. */
int ik_lm_generate_greedy(struct ik_lm_state *s, const int *prompt, int n_prompt, int max_new,
                          int stop_at_eos, int *out, struct ik_diag *d);

/* Teacher-forced scoring: resets s, runs tokens (n >= 2) and writes
 * logprob[i] = log p(tokens[i+1] | tokens[0..i]) for i < n-1. logprob: (n-1). */
int ik_lm_score(struct ik_lm_state *s, const int *tokens, int n, float *logprob, struct ik_diag *d);

/* Several continuations of one prefix, as for a multiple-choice question:
 * resets s, runs prefix (n_prefix >= 1 tokens) once, then for each
 * continuation i (lens[i] >= 1 tokens) truncates the cache back to the prefix
 * and writes logprob[i][j] = log p(conts[i][j] | prefix, conts[i][0..j)),
 * j < lens[i]. These are ik_lm_score's numbers on prefix + conts[i] (its
 * entries from n_prefix - 1 on) up to fp32 rounding: the tokens are cut into
 * other chunks, so the projections may sum in another order (a test holds
 * them within 1e-5). Fails as ik_lm_forward, the message prefixed
 * "continuation <i>: ". */
int ik_lm_score_continuations(struct ik_lm_state *s, const int *prefix, int n_prefix,
                              const int *const *conts, const int *lens, int n, float **logprob,
                              struct ik_diag *d);

#endif
