/* lm/config.h - the shape and variant of a decoder: the Llama family, and
 * NemotronH (Mamba-2 / attention / MLP hybrid).
 *
 * Filled from a Hugging Face config.json (LlamaForCausalLM, MistralForCausalLM,
 * Qwen2ForCausalLM, Qwen3ForCausalLM, NemotronHForCausalLM) or from a llama2.c
 * header. The Llama variants differ only in the flags below: q/k/v(/o) bias,
 * per-head q/k RMSNorm, tied embeddings, RoPE theta and Llama-3 scaling, GQA
 * and a sliding window. A NemotronH layer is one RMSNorm and one mixer, named
 * per layer by block[] (hybrid_override_pattern "M-*" or layers_block_type);
 * its attention has no RoPE (no_rope), its MLP is up -> relu^2 -> down.
 * Anything this code cannot compute exactly (another architecture, another
 * activation, another rope_scaling type, an MLP bias, a MoE block) is refused
 * with IK_EVALIDATE naming the field; a malformed file is IK_EPARSE. */
#ifndef IK_LM_CONFIG_H
#define IK_LM_CONFIG_H

#include <stddef.h>

struct ik_diag;

enum ik_lm_arch { IK_LM_LLAMA, IK_LM_MISTRAL, IK_LM_QWEN2, IK_LM_QWEN3, IK_LM_NEMOTRON_H };

/* What one layer computes. A Llama-family layer is a decoder block (norm,
 * attention, residual, norm, SwiGLU MLP, residual); a NemotronH layer is
 * x += mixer(RMSNorm(x)) with exactly one mixer. */
enum ik_lm_block {
    IK_LM_BLOCK_DECODER, /* Llama family */
    IK_LM_BLOCK_MAMBA,   /* 'M': the Mamba-2 mixer */
    IK_LM_BLOCK_ATTN,    /* '*': GQA attention, no RoPE */
    IK_LM_BLOCK_MLP,     /* '-': up -> relu^2 -> down, no gate */
};

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
/* NemotronH: the published ones have at most 118 layers, 128 Mamba heads of
 * 80, 8 groups, a state of 128 and a conv kernel of 4. These bounds keep
 * in_proj's width (2*heads*head_dim + 2*groups*state + heads) inside an int. */
#define IK_LM_MAX_HYBRID_LAYERS 512 /* num_hidden_layers of a NemotronH model */
#define IK_LM_MAX_SSM_HEADS 4096    /* mamba_num_heads */
#define IK_LM_MAX_SSM_HEAD_DIM 4096 /* mamba_head_dim */
#define IK_LM_MAX_SSM_STATE 4096    /* ssm_state_size */
#define IK_LM_MAX_CONV_KERNEL 64    /* conv_kernel */

/* The Mamba-2 mixer's sizes (NemotronH; all 0 otherwise). */
struct ik_lm_ssm_config {
    int heads;     /* mamba_num_heads (nh) */
    int head_dim;  /* mamba_head_dim (P); d_inner = nh * P */
    int groups;    /* n_groups (G), dividing nh: head h reads B, C of group h / (nh/G) */
    int state;     /* ssm_state_size (N) */
    int conv_kernel; /* conv_kernel (Kc) */
    int chunk;     /* chunk_size: the SSD form's chunk length */
    int conv_bias; /* use_conv_bias */
};

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
    int no_rope;        /* NemotronH: attention without positional rotation */
    struct ik_lm_ssm_config ssm;
    /* NemotronH: enum ik_lm_block of each of the L layers. Unused (and zero)
     * in the Llama family: read it through ik_lm_config_block. */
    unsigned char block[IK_LM_MAX_HYBRID_LAYERS];
};

/* The block of layer l (IK_LM_BLOCK_DECODER for the Llama family). */
int ik_lm_config_block(const struct ik_lm_config *c, int l);
/* The number of layers whose block is b. */
int ik_lm_config_count_blocks(const struct ik_lm_config *c, int b);

/* Mamba-2 widths: d_inner = heads * head_dim; conv_dim = d_inner + 2*G*N
 * (x | B | C, the conv's channels); in_proj's rows 2*d_inner + 2*G*N + heads
 * (z | xBC | dt). */
int ik_lm_ssm_inner(const struct ik_lm_config *c);
int ik_lm_ssm_conv_dim(const struct ik_lm_config *c);
int ik_lm_ssm_in_dim(const struct ik_lm_config *c);

/* Parses config.json text (len bytes); `file` names it in messages. */
int ik_lm_config_parse(struct ik_lm_config *c, const char *text, size_t len, const char *file,
                       struct ik_diag *d);

/* Reads and parses the file at path. */
int ik_lm_config_load(struct ik_lm_config *c, const char *path, struct ik_diag *d);

/* "llama", "mistral", "qwen2", "qwen3" or "nemotron_h". Static storage. */
const char *ik_lm_arch_name(int arch);

/* RoPE inverse frequencies, theta^(-2j/head_dim) for j < head_dim/2, with
 * Llama-3 scaling applied when configured. inv_freq: (head_dim/2). */
void ik_lm_config_inv_freq(const struct ik_lm_config *c, float *inv_freq);

#endif
