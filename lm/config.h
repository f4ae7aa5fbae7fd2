/* lm/config.h - the shape and variant of a Llama-family decoder.
 *
 * Filled from a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM) or from a llama2.c header. The variants
 * differ only in the flags below: q/k/v(/o) bias, per-head q/k RMSNorm, tied
 * embeddings, RoPE theta and Llama-3 scaling, GQA and a sliding window.
 * Anything this code cannot compute exactly (another architecture, another
 * activation, another rope_scaling type, an MLP bias) is refused with
 * IK_EVALIDATE naming the field; a malformed file is IK_EPARSE. */
#ifndef IK_LM_CONFIG_H
#define IK_LM_CONFIG_H

#include <stddef.h>

struct ik_diag;

enum ik_lm_arch { IK_LM_LLAMA, IK_LM_MISTRAL, IK_LM_QWEN2, IK_LM_QWEN3 };

#define IK_LM_MAX_EOS 4

/* Plausibility limits on config.json sizes, far above any published model
 * (the largest have ~16k hidden, ~128 layers, ~256k vocabulary): a value
 * beyond is a damaged or hostile file, refused with IK_EVALIDATE naming the
 * field before anything is allocated. They also keep every product of two
 * widths (num_attention_heads * head_dim, ...) inside an int. The weight
 * arena as a whole is bounded by IK_LM_MAX_WEIGHT_BYTES (model.h). */
#define IK_LM_MAX_HIDDEN (1 << 20)  /* hidden_size (llama2.c: dim) */
#define IK_LM_MAX_FFN (1 << 22)     /* intermediate_size (llama2.c: hidden_dim) */
#define IK_LM_MAX_LAYERS 4096       /* num_hidden_layers (llama2.c: n_layers) */
#define IK_LM_MAX_HEADS 4096        /* num_attention_heads, num_key_value_heads */
#define IK_LM_MAX_HEAD_DIM 65536    /* head_dim */
#define IK_LM_MAX_VOCAB (1 << 24)   /* vocab_size (llama2.c: vocab_size) */

struct ik_lm_config {
    int arch;        /* enum ik_lm_arch */
    int D;           /* hidden_size */
    int F;           /* intermediate_size */
    int L;           /* num_hidden_layers */
    int H;           /* num_attention_heads */
    int K;           /* num_key_value_heads (H when absent) */
    int head_dim;    /* head_dim (D/H when absent) */
    int V;           /* vocab_size */
    int max_seq;     /* max_position_embeddings */
    float norm_eps;  /* rms_norm_eps */
    float rope_theta;
    /* rope_scaling {"rope_type": "llama3", ...}; rope_factor 0 = no scaling. */
    float rope_factor, rope_low_freq_factor, rope_high_freq_factor;
    int rope_original_max_seq;
    int tie_embeddings; /* lm_head is the embedding matrix */
    int qkv_bias;       /* q_proj, k_proj, v_proj carry a bias */
    int o_bias;         /* o_proj carries a bias (Llama attention_bias) */
    int qk_norm;        /* Qwen3: RMSNorm over each head of q and k before RoPE */
    int sliding_window; /* 0 = none; else keys older than this many positions are masked */
    int bos_id;         /* -1 when absent */
    int eos_id[IK_LM_MAX_EOS];
    int n_eos;
};

/* Parses config.json text (len bytes); `file` names it in messages. */
int ik_lm_config_parse(struct ik_lm_config *c, const char *text, size_t len, const char *file,
                       struct ik_diag *d);

/* Reads and parses the file at path. */
int ik_lm_config_load(struct ik_lm_config *c, const char *path, struct ik_diag *d);

/* "llama", "mistral", "qwen2" or "qwen3". Static storage. */
const char *ik_lm_arch_name(int arch);

/* RoPE inverse frequencies, theta^(-2j/head_dim) for j < head_dim/2, with
 * Llama-3 scaling applied when configured. inv_freq: (head_dim/2). */
void ik_lm_config_inv_freq(const struct ik_lm_config *c, float *inv_freq);

#endif
