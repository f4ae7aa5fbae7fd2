/* lm/model_gguf.h - base models as GGUF files, both ways: what llama.cpp's
 * convert_hf_to_gguf.py writes for Llama/Mistral, Qwen2, Qwen3 and NemotronH, so that
 * llama.cpp and Ollama load our exports and we load theirs.
 *
 * The file (GGUF v3, lm/gguf_write.h): general.architecture "llama" (Mistral
 * too, as the converter writes it), "qwen2" or "qwen3" (NemotronH: below); the hyperparameters
 * llama.cpp reads under that prefix (context_length, embedding_length,
 * block_count, feed_forward_length, attention.head_count(_kv),
 * attention.key_length/value_length when head_dim != D/H,
 * attention.layer_norm_rms_epsilon, rope.freq_base, rope.dimension_count,
 * vocab_size); Llama-3 RoPE scaling as the converter gives it, the tensor
 * rope_freqs.weight (hd/2 divisors of the frequencies), plus our own keys
 * ikada.rope.llama3.{factor, low_freq_factor, high_freq_factor,
 * original_context_length}, which llama.cpp ignores, so the config reads
 * back exactly; the tokenizer (tokenizer.ggml.*, see ik_lm_model_write_gguf)
 * and tokenizer.chat_template.
 * Tensors (dims innermost first, so an (out, in) matrix is {in, out}):
 * token_embd, output_norm, output (absent when tied), and per layer
 * blk.N.attn_norm, attn_q, attn_k, attn_v, attn_output (+ .bias where the
 * model has them), attn_q_norm / attn_k_norm (Qwen3), ffn_norm, ffn_gate,
 * ffn_up, ffn_down, each "<name>.weight" / "<name>.bias". Matrices are of
 * the requested type; vectors (norms, biases, rope_freqs) are always F32, as
 * the converter writes them.
 * RoPE layout: our weights hold Hugging Face's rotate_half layout, which
 * qwen2/qwen3 (NEOX rope) use as is; llama.cpp's llama architecture rotates
 * adjacent pairs, so the converter permutes the rows of q and k (weights and
 * biases) within each head: GGUF row 2j+s is HF row s*hd/2+j (s = 0, 1;
 * j < hd/2). The writer applies it, the reader undoes it.
 *
 * NemotronH (general.architecture "nemotron_h", model_gguf_nemotron_h.c), as
 * llama.cpp's conversion/nemotron.py writes it and src/models/nemotron-h.cpp
 * loads it: nemotron_h.{vocab_size, context_length, embedding_length,
 * block_count, attention.head_count (one number), attention.key_length,
 * value_length, layer_norm_epsilon and layer_norm_rms_epsilon}; per layer
 * (i32 arrays) attention.head_count_kv = K on attention layers and
 * feed_forward_length = F on MLP layers, 0 elsewhere: llama.cpp takes a
 * layer with both 0 for Mamba-2, one with only feed_forward_length 0 for
 * attention, the others for the MLP; ssm.{conv_kernel, inner_size = d_inner,
 * state_size, time_step_rank = the Mamba heads, group_count}; no RoPE keys;
 * our ikada.ssm.chunk_size (the SSD chunk, which llama.cpp ignores).
 * Reading a file without an attention (MLP) layer takes K = H (F = 1),
 * unused. Tensors: token_embd, output_norm, output, and per layer
 * blk.N.attn_norm.weight (every layer's one norm), then its mixer's:
 * attention attn_q, attn_k (rows permuted as for llama: the converter does,
 * and though without RoPE it changes nothing, a LoRA lora_b must match),
 * attn_v, attn_output; MLP ffn_up, ffn_down; Mamba-2 ssm_in.weight {D,
 * in_dim}, ssm_conv1d.weight {Kc, conv_dim} (HF's (conv_dim, 1, Kc)
 * squeezed) and .bias {conv_dim} (zeros for a model without one: llama.cpp
 * always adds it), ssm_dt.bias {nh}, ssm_a {1, nh} holding A = -exp(A_log)
 * (the reader takes log(-A) back), ssm_d {1, nh}, ssm_norm.weight {d_inner/G,
 * G} (the gated RMSNorm per group), ssm_out.weight {d_inner, D}. ssm_in,
 * ssm_out and the attention/MLP matrices are of the requested type; the
 * conv, A, D and the norms F32, as the converter writes them. The
 * vocabulary is padded to the model's V (token_embd's rows), not to a
 * multiple of 8 as the converter pads it: llama.cpp refuses a token list
 * longer than token_embd, and padding the embedding would change the
 * logits' softmax. */
#ifndef IK_LM_MODEL_GGUF_H
#define IK_LM_MODEL_GGUF_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_gguf_writer;
struct ik_lm_model;
struct ik_tok;

struct ik_lm_gguf_opts {
    uint32_t type;     /* matrices: IK_GGML_F32, IK_GGML_F16 or IK_GGML_BF16 (lm/gguf.h) */
    int chat_template; /* enum ik_chat_template (lm/chat_template.h), or -1 for none */
    const char *name;  /* general.name, or NULL */
};

/* Writes m with its tokenizer t to path (streamed, atomically, lm/gguf_write.h).
 * The vocabulary is padded to the model's V with "[PAD<id>]" pieces of type
 * UNUSED, as the converter does. SentencePiece BPE becomes
 * tokenizer.ggml.model "llama" (tokens, scores, token_type,
 * add_space_prefix, remove_extra_whitespaces), byte-level BPE "gpt2"
 * (tokens, token_type, merges, and tokenizer.ggml.pre from ik_tok_gguf_pre);
 * both get bos/eos/unknown_token_id and add_bos_token (whether t prepends
 * BOS), eos being the config's first EOS. The chat template is written as
 * the Hugging Face Jinja text it stands for (ik_lm_gguf_chat_jinja); plain
 * has none and writes no key. A Mistral sliding window is not written
 * (llama.cpp's llama architecture has none; the logits agree up to the
 * window). Errors: IK_EVALIDATE for what llama.cpp could not load the same
 * way: a SentencePiece unigram tokenizer, a byte-level pre-tokenizer
 * llama.cpp has no name for, a tokenizer larger than the model's
 * vocabulary, attention biases on Qwen3 (llama.cpp's qwen3 has none), a type
 * other than F32/F16/BF16; then those of ik_gguf_writer_write. */
int ik_lm_model_write_gguf(const struct ik_lm_model *m, const struct ik_tok *t,
                           const struct ik_lm_gguf_opts *o, const char *path, struct ik_diag *d);

/* The general.architecture of an enum ik_lm_arch: "llama" (Llama and
 * Mistral), "qwen2", "qwen3" or "nemotron_h". */
const char *ik_lm_gguf_arch(int arch);

/* Whether llama.cpp's converter permutes the q/k rows of this architecture
 * (the llama architecture: Llama and Mistral; and nemotron_h). */
int ik_lm_gguf_permutes_qk(int arch);

/* For a permuted q or k projection of heads of hd rows: the HF row that
 * GGUF row r holds (heads are kept; within one, 2j+s <- s*hd/2+j). Also the
 * row map of a LoRA B matrix of q or k, which llama.cpp's converter permutes
 * the same way. */
size_t ik_lm_gguf_qk_src_row(size_t r, int hd);

/* The Hugging Face Jinja text of a built-in chat template (the templates of
 * lm/chat_template.h's sources: ChatML without a default system message,
 * Meta-Llama-3-Instruct's, Llama-2-chat's), or NULL for plain. Static. */
const char *ik_lm_gguf_chat_jinja(int tmpl);

/* Recognises a chat template's text as one of the built-ins, by the markers
 * ik_chat_template_detect looks for: 0 and *tmpl, or 1 when it is none. */
int ik_lm_gguf_chat_detect(const char *text, size_t len, int *tmpl);

/* The chat template of the GGUF model at path, as ik_chat_template_auto
 * decides it for a folder: the built-in its tokenizer.chat_template is,
 * plain when it has none (a base model), IK_EVALIDATE (with a hint to set
 * chat_template) when it is none of the built-ins; -errno or the container
 * reader's errors for a file that cannot be read. */
int ik_lm_gguf_chat_template(const char *path, int *tmpl, struct ik_diag *d);

#endif
