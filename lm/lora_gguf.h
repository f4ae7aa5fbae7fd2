/* lm/lora_gguf.h - LoRA adapters as llama.cpp's adapter GGUF (what
 * convert_lora_to_gguf.py writes and `llama-cli --lora`, Ollama's ADAPTER
 * and llama.cpp's src/llama-adapter.cpp read).
 *
 * The file (GGUF v3, lm/gguf_write.h):
 *   general.architecture  the base's llama.cpp architecture (ik_lm_gguf_arch,
 *                         lm/model_gguf.h): "llama" for Llama and Mistral
 *                         (llama.cpp converts both as llama), "qwen2", "qwen3",
 *                         "nemotron_h"
 *   general.type = "adapter", adapter.type = "lora"
 *   adapter.lora.alpha    f32 (llama.cpp scales by alpha / rank; it aborts on
 *                         an f64 and silently uses scale 1 when it is absent)
 *   general.file_type     0 (F32), 1 (F16) or 32 (BF16), as the converter
 *   tensors, layer by layer, in the order q k v o gate up down in out, a then b:
 *     blk.N.attn_q.weight.lora_a  dims [In, r]   (PEFT lora_A (r, In))
 *     blk.N.attn_q.weight.lora_b  dims [r, Out]  (PEFT lora_B (Out, r))
 *   with attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down likewise,
 *   and NemotronH's Mamba-2 in_proj / out_proj as ssm_in / ssm_out (a
 *   NemotronH layer has only its mixer's: ssm_in, ssm_out in a Mamba-2
 *   layer, attn_* in an attention layer, ffn_up, ffn_down in an MLP layer).
 *   For the llama and nemotron_h architectures the rows of attn_q's and
 *   attn_k's lora_b are permuted as llama.cpp's converter permutes the base
 *   q/k weights
 *   (LlamaModel.permute: within each head, HF's rotate_half row order
 *   [x0..x(d/2-1), y0..] becomes ggml's interleaved [x0, y0, x1, y1, ...];
 *   heads = H for q, K for k), since the GGUF base's q/k rows are in that
 *   order (nemotron_h has no RoPE, but its converter permutes them as llama's
 *   does); qwen2 and qwen3 keep HF's order, as their converter does.
 *
 * Reading enforces every rule of llama.cpp's loader as an error naming the
 * file and the key or tensor, and also refuses what ikada cannot apply
 * exactly: general.type, general.architecture (against the base), adapter.type
 * and adapter.lora.alpha (present, f32, positive and finite) as above;
 * adapter.alora.invocation_tokens (activated LoRA); a tensor name without the
 * .lora_a/.lora_b suffix (names ending in _norm.weight are skipped, as
 * llama.cpp skips them), one that is not a projection above of a layer of
 * the base (for NemotronH: of that layer's mixer), a duplicate, a lora_a
 * without its lora_b or the reverse, dims that do not fit the base (lora_a ne[0] = In, lora_b ne[1] = Out, lora_a
 * ne[1] = lora_b ne[0] = the rank, no third dim), ranks that differ between
 * modules (one rank for the adapter: struct ik_lora), and tensor types other
 * than F32, F16, BF16 and Q8_0 (dequantised). A projection present in some
 * layers only is read with zeros elsewhere, which changes nothing there, as
 * in llama.cpp. The lora_b permutation is undone. Errors: those of
 * lm/gguf.h's reader (IK_EPARSE, IK_ECORRUPT), IK_EVALIDATE for the rules
 * above, IK_ENOTFOUND for a missing key, -errno for the file. */
#ifndef IK_LM_LORA_GGUF_H
#define IK_LM_LORA_GGUF_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_lm_config;
struct ik_lora;

/* Writes adapter a (for a base of shape base) to path, its tensors stored as
 * outtype (IK_GGML_F32, IK_GGML_F16 or IK_GGML_BF16, lm/gguf.h; converted with
 * round to nearest even). IK_EVALIDATE for another outtype or an adapter whose
 * shape is not the base's; the writer's errors otherwise. */
int ik_lora_write_gguf(const struct ik_lora *a, const struct ik_lm_config *base, uint32_t outtype,
                       const char *path, struct ik_diag *d);

/* Reads the adapter GGUF in data[0..size) (name names it in messages) for a
 * base of shape mc into a new adapter (*out, ik_lora_free; dropout 0). *out
 * is set only on success. */
int ik_lora_parse_gguf(struct ik_lora **out, const struct ik_lm_config *mc, const void *data,
                       size_t size, const char *name, struct ik_diag *d);

/* Reads the adapter GGUF file at path (ik_lora_parse_gguf). */
int ik_lora_load_gguf(struct ik_lora **out, const struct ik_lm_config *mc, const char *path,
                      struct ik_diag *d);

#endif
