/* nodes/train/adapter_artifact.h - the `lora.adapter` artifact: a trained
 * LoRA adapter with everything needed to use it again without guessing.
 *
 * Layout (cache/artifact.h envelope, schema 1):
 *   {kind: "lora.adapter", schema: 1,
 *    meta: {r: int, alpha: float, dropout: float, targets: [str] (PEFT module
 *           names, "q_proj"…, in enum ik_lora_target order),
 *           base_architecture: str (ik_lm_arch_name), base_hash: str (64 hex,
 *           the content hash of the model source), tokenizer_hash: str (64
 *           hex), chat_template: str (ik_chat_template_name), steps: int},
 *    base_config: {arch, D, F, L, H, K, head_dim, V, max_seq, norm_eps,
 *           rope_theta, rope_factor, rope_low_freq_factor,
 *           rope_high_freq_factor, rope_original_max_seq, tie_embeddings,
 *           qkv_bias, o_bias, qk_norm, sliding_window, bos_id, eos_ids: [int]}
 *           (struct ik_lm_config field by field; arch as its name),
 *    tensors: {PEFT name: tensor map (f32, cache/artifact.h)} in the adapter's
 *           layout order: layer by layer, target by target, A then B; names
 *           as lm/lora.c writes them (base_model.model.model.layers.N.
 *           self_attn.q_proj.lora_A.weight, …mlp.gate_proj.lora_B.weight)}
 * Floats (alpha, dropout, norm_eps, rope_*) are packed as float32, the
 * precision they have in memory, so they read back bit for bit; the four
 * flags (tie_embeddings, qkv_bias, o_bias, qk_norm) as booleans.
 * The bytes depend only on the adapter's values and this metadata, so equal
 * training gives byte-identical artifacts. `ikada cache export` turns one into
 * a PEFT folder (cli/cache_query.c). */
#ifndef IK_NODES_TRAIN_ADAPTER_ARTIFACT_H
#define IK_NODES_TRAIN_ADAPTER_ARTIFACT_H

#include <stdint.h>

#include <msgpack.h>

#include "lm/config.h"

struct ik_diag;
struct ik_lora;
struct ik_mp_writer;

struct ik_lora_artifact_info {
    char base_hash[65];      /* hex, NUL-terminated */
    char tokenizer_hash[65];
    int chat_template;       /* enum ik_chat_template */
    int64_t steps;           /* optimizer steps trained */
};

/* Packs a complete artifact (cannot fail: the writer grows). */
void ik_lora_artifact_pack(struct ik_mp_writer *w, const struct ik_lora *a,
                           const struct ik_lm_config *base, const struct ik_lora_artifact_info *info);

/* Reads an unpacked artifact back: a new adapter (ik_lora_free) with its
 * values, the base's config and the info (base and info may be NULL). The
 * message names `what` (e.g. "adapter 1a2b3c4d5e6f") and the field or tensor:
 * IK_EPARSE for a missing field or one of the wrong msgpack type, IK_EVALIDATE
 * for another kind or schema, a value out of range (the base config as
 * lm/config.c bounds a config.json, ik_lm_model_check_size), an unknown
 * target, and a missing, misshapen (dtype, shape, byte count) or unexpected
 * tensor; -ENOMEM if the adapter cannot be allocated. Fields it does not know
 * are ignored (cache/artifact.h), tensors it does not expect are not. Every
 * size is checked against the tensor data the artifact holds before anything
 * is allocated. The outputs are set only on success. */
int ik_lora_artifact_read(const msgpack_object *root, const char *what, struct ik_lora **out,
                          struct ik_lm_config *base, struct ik_lora_artifact_info *info,
                          struct ik_diag *d);

#endif
