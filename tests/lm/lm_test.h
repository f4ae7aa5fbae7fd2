/* tests/lm/lm_test.h - helpers shared by the tests of lm/: paths to the
 * example models and reference data, temporary folders, small JSON and file
 * utilities, and a writer of random Hugging Face model folders (so that the
 * loader is exercised by every model test). */
#ifndef IK_TESTS_LM_TEST_H
#define IK_TESTS_LM_TEST_H

#include <jansson.h>
#include <stddef.h>

#include "lm/config.h"

/* "<srcdir>/<rel>", freshly allocated. */
char *lmt_path(const char *rel);
/* "<srcdir>/../shared/data/<rel>" when that file exists, else NULL. */
char *lmt_shared(const char *rel);
/* Parses a JSON file or fails the test. */
json_t *lmt_json(const char *path);
/* A new folder under /tmp (mkdtemp); lmt_rmtree removes it and its files. */
char *lmt_tmpdir(void);
void lmt_rmtree(char *dir);
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

/* The architectures[] name of an arch. */
const char *lmt_arch_class(int arch);

#endif
