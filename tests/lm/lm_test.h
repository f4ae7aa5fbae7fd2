/* tests/lm/lm_test.h - helpers shared by the tests of lm/: paths to the
 * example models and reference data, small JSON and file utilities, a small
 * model shape (lmt_cfg), a writer of random Hugging Face model folders (so
 * that the loader is exercised by every model test), and random adapters. Temporary folders are
 * tests/common/tmpcache.h's tc_tmpdir and tc_rmtree. */
#ifndef IK_TESTS_LM_TEST_H
#define IK_TESTS_LM_TEST_H

#include <jansson.h>
#include <stddef.h>

#include "lm/config.h"
#include "lm/lora.h"
#include "tests/common/tmpcache.h"

/* "<srcdir>/<rel>", freshly allocated. */
char *lmt_path(const char *rel);
/* "<srcdir>/../shared/data/<rel>" when that file exists, else NULL. */
char *lmt_shared(const char *rel);
/* Parses a JSON file or fails the test. */
json_t *lmt_json(const char *path);
/* Writes len bytes to path or fails the test. */
void lmt_write(const char *path, const void *data, size_t len);
/* Reads a whole file (NUL-terminated) or fails the test; *len gets its size. */
char *lmt_read(const char *path, size_t *len);

/* Writes config.json and model.safetensors for a random model of shape cfg
 * into dir (weights uniform in [-scale, scale] from seed; norms near 1).
 * `extra` is appended inside config.json's object (e.g. "\"rope_scaling\": ..."),
 * or NULL. `dtype` is IK_ST_F32, IK_ST_F16 or IK_ST_BF16. */
void lmt_write_random_model(const char *dir, const struct ik_lm_config *cfg, const char *extra,
                            int dtype, unsigned seed, float scale);

/* A small model shape of arch with the given sizes: H = 4 heads over K = 2
 * KV heads, max_seq 64, norm_eps 1e-6, rope_theta 10000, and the qkv bias of
 * Qwen2 and the q/k norm of Qwen3; everything else 0. */
struct ik_lm_config lmt_cfg(int arch, int D, int F, int L, int head_dim, int V);

/* A small NemotronH shape with one layer per letter of pattern ("M" Mamba-2,
 * "*" attention, "-" MLP): attention H = 4 heads of 8 over K = 2, Mamba-2 8
 * heads of 4 in 2 groups, state 16, conv kernel 4 with bias, chunk 8;
 * norm_eps 1e-5, max_seq 64, untied embeddings. */
struct ik_lm_config lmt_nemotron_cfg(const char *pattern, int D, int F, int V);

/* Writes config.json and model.safetensors of a random NemotronH model of
 * shape cfg (backbone.* names; weights uniform in [-scale, scale] from seed,
 * norms and D near 1, A_log = log(1..nh), dt_bias as transformers draws it). */
void lmt_write_random_nemotron(const char *dir, const struct ik_lm_config *cfg, int dtype,
                               unsigned seed, float scale);

/* A LoRA adapter of shape lc for model shape c, or fails the test: A as
 * PEFT draws it (ik_lora_new, seed 7), B uniform in [-b_scale, b_scale]
 * (seed 11) rather than PEFT's zeros, so that every value matters. */
struct ik_lora *lmt_random_adapter(const struct ik_lm_config *c, const struct ik_lora_config *lc,
                                   float b_scale);

/* Runs `ikada lm score --json --model MODEL --adapter ADAPTER TEXT` ($IKADA_BIN)
 * and returns its log-probs (*n of them; the caller frees), or fails the test. */
double *lmt_cli_score(const char *model, const char *adapter, const char *text, size_t *n);

/* The architectures[] name of an arch. */
const char *lmt_arch_class(int arch);

#endif
