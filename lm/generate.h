/* lm/generate.h - text generation on the CPU: greedy or temperature /
 * top-p sampling from a seeded PRNG (base/prng.h), stopping at EOS, at a
 * token budget or after a stop string, for one prompt or several.
 *
 * Sampling follows Hugging Face's order: logits / temperature, softmax, then
 * top-p keeps the most probable tokens (ties broken by lower id) whose
 * cumulative probability first reaches top_p (at least one), renormalised;
 * one draw u = ik_prng_double() picks the token whose cumulative interval
 * holds u. temperature 0 is greedy (argmax, no draw). Several prompts decode
 * as a continuous batch: up to B sequences, each with its own KV cache, step
 * together through one forward (ik_lm_forward_batch: the projections read
 * every weight once per step for all of them, where one sequence at a time
 * reads them once per token); a sequence that ends gives its slot to the
 * next prompt. Prompt i draws from seed + i, and a row's logits have the
 * same bits in a batch as alone (model.h), so each result does not depend on
 * B or on the other prompts. */
#ifndef IK_LM_GENERATE_H
#define IK_LM_GENERATE_H

#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_lm_state;
struct ik_tok;

struct ik_lm_gen_opts {
    int max_new;       /* >= 1 */
    float temperature; /* 0 = greedy; else > 0 */
    float top_p;       /* in (0, 1]; 1 = no truncation */
    uint64_t seed;
    int stop_at_eos;   /* stop after an EOS id of the model's config */
    const char *const *stop; /* n_stop stop strings (may be NULL when n_stop == 0) */
    int n_stop;
};

/* Picks the next token from logits (V) as described above. prob: (V) and
 * idx: (V) scratch. Draws once from r unless temperature is 0. */
struct ik_prng;
int ik_lm_sample(const float *logits, int V, float temperature, float top_p, struct ik_prng *r,
                 float *prob, int *idx);

/* Generates from one prompt (n_prompt >= 1 tokens): resets s, and writes up
 * to o->max_new tokens to out. Stops after an EOS (when asked) or after the
 * token whose text completes a stop string (tok decodes the generated tokens;
 * tok may be NULL when n_stop is 0); *stopped (optional) receives the index of
 * that stop string, or -1. Returns the number of tokens or a negative code. */
int ik_lm_generate(struct ik_lm_state *s, const struct ik_tok *tok, const int *prompt, int n_prompt,
                   const struct ik_lm_gen_opts *o, int *out, int *stopped, struct ik_diag *d);

/* Several prompts: prompts[i] of lens[i] tokens; outs[i] (o->max_new each)
 * and counts[i] receive each result; stopped (n, optional) as above. Prompt i
 * samples with seed o->seed + i. Stops at the first failure (its message
 * prefixed "prompt <i>: "). Runs ik_lm_generate_batched with batch
 * IK_LM_GEN_BATCH. */
enum { IK_LM_GEN_BATCH = 8 };
int ik_lm_generate_batch(struct ik_lm_state *s, const struct ik_tok *tok, const int *const *prompts,
                         const int *lens, int n, const struct ik_lm_gen_opts *o, int **outs,
                         int *counts, int *stopped, struct ik_diag *d);

/* As ik_lm_generate_batch, with up to `batch` (1 to IK_LM_MAX_BATCH of
 * model.h) sequences decoding at once: s serves the first, and batch - 1
 * more states of s's capacity, chunk and adapter are made for the call (each
 * holds a KV cache of that capacity). Results equal ik_lm_generate on each
 * prompt with seed o->seed + i, token for token. */
int ik_lm_generate_batched(struct ik_lm_state *s, const struct ik_tok *tok, const int *const *prompts,
                           const int *lens, int n, const struct ik_lm_gen_opts *o, int batch,
                           int **outs, int *counts, int *stopped, struct ik_diag *d);

/* The length of text up to (excluding) the earliest occurrence of any stop
 * string, or len when none occurs. */
size_t ik_lm_stop_trim(const char *text, size_t len, const char *const *stop, int n_stop);

#endif
