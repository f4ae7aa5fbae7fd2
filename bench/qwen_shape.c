/* bench/qwen_shape.c - the random model of Qwen2.5-0.5B's shape that
 * lm_bench and gen_bench time (qwen_shape.h). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/diag.h"
#include "bench/bench_common.h"
#include "bench/qwen_shape.h"
#include "lm/config.h"
#include "lm/model.h"

/* A model of Qwen2.5-0.5B's shape (its config.json's fields) with weights
 * uniform in [-0.02, 0.02) and unit norms. Zero-mean weights matter: with
 * same-signed ones the residual stream grows to ~1e5, the gradients shrink
 * to subnormal floats and the backward GEMMs slow down several-fold. */
struct ik_lm_model *ik_bench_qwen_shape(void)
{
    struct ik_diag d = IK_DIAG_INIT;
    char dir[] = "/tmp/ikada-lm-bench-XXXXXX";
    char path[64];
    if (mkdtemp(dir) == NULL) {
        perror("bench: mkdtemp");
        exit(1);
    }
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        exit(1);
    }
    fputs("{\"architectures\": [\"Qwen2ForCausalLM\"], \"hidden_size\": 896, \"intermediate_size\": 4864,"
          " \"num_hidden_layers\": 24, \"num_attention_heads\": 14, \"num_key_value_heads\": 2,"
          " \"vocab_size\": 151936, \"max_position_embeddings\": 32768, \"rms_norm_eps\": 1e-06,"
          " \"rope_theta\": 1000000.0, \"tie_word_embeddings\": true, \"hidden_act\": \"silu\","
          " \"bos_token_id\": 151643, \"eos_token_id\": 151645, \"use_sliding_window\": false}", f);
    fclose(f);
    struct ik_lm_config c;
    struct ik_lm_model *m;
    int rc = ik_lm_config_load(&c, path, &d);
    unlink(path);
    rmdir(dir);
    if (rc || ik_lm_model_new(&m, &c, &d))
        ik_bench_die(&d);
    unsigned s = 1;
    for (size_t i = 0; i < m->n_params; i++) {
        s = s * 1664525u + 1013904223u;
        m->embed[i] = ((float)(s >> 8) / 8388608.0f - 1.0f) * 0.02f; /* 24 bits: [-1, 1) */
    }
    for (int i = 0; i < c.D; i++) {
        for (int l = 0; l < c.L; l++)
            m->layers[l].attn_norm[i] = m->layers[l].ffn_norm[i] = 1.0f;
        m->final_norm[i] = 1.0f;
    }
    return m;
}

