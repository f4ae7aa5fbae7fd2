/* lm/config_int.h - what config.c and config_nemotron_h.c share: the typed
 * readers of config.json fields, each failing with a diag that names the
 * file and the field. Not for use outside lm/config*.c. */
#ifndef IK_LM_CONFIG_INT_H
#define IK_LM_CONFIG_INT_H

#include <jansson.h>

#include "lm/config.h"

/* Fills d with code and the message fmt (two %s: a, b) at file. Returns code. */
int ik_lm_cfg_err(struct ik_diag *d, int code, const char *file, const char *fmt, const char *a,
                  const char *b);

/* An integer field: *out = value, or dflt when absent/null (dflt < -1 = required). */
int ik_lm_cfg_int(json_t *root, const char *key, int dflt, int *out, const char *file,
                  struct ik_diag *d);
/* A number field, or dflt when absent/null. */
int ik_lm_cfg_float(json_t *root, const char *key, double dflt, float *out, const char *file,
                    struct ik_diag *d);
/* A boolean field, or dflt when absent/null. */
int ik_lm_cfg_bool(json_t *root, const char *key, int dflt, int *out, const char *file,
                   struct ik_diag *d);
/* eos_token_id: an integer, a list of them, or absent. */
int ik_lm_cfg_eos(struct ik_lm_config *c, json_t *v, const char *file, struct ik_diag *d);
/* The plausibility limits of config.h, each naming its field. */
int ik_lm_cfg_check_limits(const struct ik_lm_config *c, const char *file, struct ik_diag *d);

/* The fields of a NemotronHForCausalLM config (c->arch already set). */
int ik_lm_cfg_parse_nemotron_h(struct ik_lm_config *c, json_t *root, const char *file,
                               struct ik_diag *d);

#endif
