/* lm/lora.h - LoRA adapters on the projections of a Llama-family or
 * NemotronH model, as PEFT defines them, and their PEFT folder format.
 *
 * The targets of a Llama-family layer are q, k, v, o, gate, up, down; a
 * NemotronH layer has those of its mixer only: q, k, v, o (attention), up,
 * down (MLP), in_proj, out_proj (Mamba-2). A module exists where its layer
 * has the projection (ik_lora_has_module); "all" means every target the
 * model's family has.
 *
 * A module on projection W (Out,In) adds scale * B @ A @ dropout(x) to W x,
 * with A: (r, In), B: (Out, r), scale = alpha / r. New adapters are
 * initialised as PEFT's default: A kaiming-uniform with a = sqrt(5), i.e.
 * uniform in [-1/sqrt(In), 1/sqrt(In)] (drawn from base/prng.h, layer by
 * layer, target by target, row-major), B zeros, so a new adapter changes
 * nothing. Parameters, gradients and the AdamW moments are flat arrays of the
 * same layout (llm.c style), so the optimizer is one call over them. The base
 * model is never modified (ik_lora_merge writes into a model the caller owns,
 * for checks and export). Errors: IK_EVALIDATE for a bad config, the
 * safetensors errors for adapter files, IK_EPARSE for a malformed JSON file. */
#ifndef IK_LM_LORA_H
#define IK_LM_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "lm/config.h"

struct ik_diag;
struct ik_lm_model;

enum ik_lora_target {
    IK_LORA_Q, IK_LORA_K, IK_LORA_V, IK_LORA_O, IK_LORA_GATE, IK_LORA_UP, IK_LORA_DOWN,
    IK_LORA_IN, IK_LORA_OUT, /* NemotronH Mamba-2 in_proj, out_proj */
    IK_LORA_NT /* number of targets */
};

/* Every target: what "all" parses to, narrowed to the model's family by
 * ik_lora_new (so a list naming all nine targets also means "all"; a PEFT
 * folder's list is held to the family's targets instead). */
#define IK_LORA_ALL ((1u << IK_LORA_NT) - 1)

struct ik_lora_config {
    int r;            /* rank >= 1 */
    float alpha;      /* scale = alpha / r */
    float dropout;    /* in [0, 1): on the module's input, training only */
    unsigned targets; /* bit (1u << enum ik_lora_target) per adapted projection; != 0.
                       * IK_LORA_ALL: every target of the model's family (the adapter's
                       * cfg then holds that set) */
};

struct ik_lora_module {
    float *A, *B;   /* (r, In), (Out, r); NULL when the target is not adapted */
    float *dA, *dB; /* gradients, same shapes */
    int in, out;
};

struct ik_lora {
    struct ik_lora_config cfg; /* read-only */
    float scale;               /* read-only: alpha / r */
    int L;                     /* read-only: layers of the model */
    int arch;                  /* read-only: the model's enum ik_lm_arch (tensor names) */
    struct ik_lora_module *mod; /* (L * IK_LORA_NT): mod[l * IK_LORA_NT + target] */
    float *params, *grads;      /* (n_params) each; every A and B, dA and dB point inside */
    size_t n_params;
};

/* The PEFT module name of a target: "q_proj", ..., "down_proj", "in_proj",
 * "out_proj". Static storage. */
const char *ik_lora_target_name(int target);

/* The targets a model of shape mc can have (bits as ik_lora_config.targets). */
unsigned ik_lora_family_targets(const struct ik_lm_config *mc);

/* Whether layer l of a model of shape mc has target t's projection. */
int ik_lora_has_module(const struct ik_lm_config *mc, int layer, int target);

/* (In, Out) of target's projection in a model of shape mc: the module's A
 * is (r, In), its B (Out, r). Cannot fail (mc's sizes are the caller's to check). */
void ik_lora_target_dims(const struct ik_lm_config *mc, int target, int *in, int *out);

/* The PEFT name of the lora_A (ab 'A') or lora_B ('B') tensor of module
 * (layer, target) of a model of family arch, as the adapter files name it:
 * base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight, ...
 * mlp.down_proj.lora_B.weight; NemotronH:
 * base_model.model.model.layers.N.mixer.in_proj.lora_A.weight (the names of
 * Hugging Face's NemotronH modules). The caller frees. */
char *ik_lora_tensor_name(int arch, int layer, int target, char ab);

/* Parses a comma-separated list of targets, each "q" or "q_proj" (k, v, o,
 * gate, up, down, in, out likewise), or "all" (IK_LORA_ALL). IK_EVALIDATE
 * naming the bad entry. */
int ik_lora_parse_targets(const char *list, unsigned *targets, struct ik_diag *d);

/* A new adapter for a model of shape mc, initialised as PEFT does from seed.
 * IK_EVALIDATE for a target the model's family lacks (in_proj on a Llama). */
int ik_lora_new(struct ik_lora **out, const struct ik_lm_config *mc, const struct ik_lora_config *lc,
                uint64_t seed, struct ik_diag *d);
void ik_lora_free(struct ik_lora *a);

/* Sets every gradient to zero (they accumulate, see kernels.h). */
void ik_lora_zero_grad(struct ik_lora *a);

/* PEFT's dropout on the input of module (layer, target) at one step: out =
 * x * keep / (1 - p), keep drawn by ik_dropout (kernels/dispatch.h: one
 * counter-based draw per element, on the thread pool) from a key that
 * base/prng.h derives from seed, layer and target, so the backward pass can
 * redraw the same mask. x, out: (N, In); out may equal x. p == 0 copies. */
void ik_lora_dropout(float *out, const float *x, int N, int In, float p, uint64_t seed, int layer,
                     int target);
/* The key of ik_dropout that ik_lora_dropout uses for (seed, layer, target):
 * what another device's dropout takes to draw the same mask. */
uint64_t ik_lora_dropout_key(uint64_t seed, int layer, int target);

/* W += scale * B @ A for every module, into m (whose shape must be the adapter's). */
void ik_lora_merge(const struct ik_lora *a, struct ik_lm_model *m);

/* Writes dir/adapter_config.json and dir/adapter_model.safetensors (F32, PEFT
 * names base_model.model.model.layers.N.self_attn.q_proj.lora_A.weight);
 * creates dir if needed. base_model (or NULL) goes to base_model_name_or_path. */
int ik_lora_save(const struct ik_lora *a, const char *dir, const char *base_model, struct ik_diag *d);

/* Reads a PEFT LoRA folder for a model of shape mc. Refused with the file and
 * field named: another peft_type, use_rslora, bias other than "none",
 * fan_in_fan_out, layers_to_transform, an unknown target module, a missing,
 * misshapen or unexpected tensor. */
int ik_lora_load(struct ik_lora **out, const struct ik_lm_config *mc, const char *dir,
                 struct ik_diag *d);

#endif
