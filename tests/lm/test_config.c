/* tests/lm/test_config.c - config.json parsing: each architecture's defaults
 * and flags, Llama-3 RoPE scaling, and the refusals with their messages;
 * NemotronH's layer kinds (hybrid_override_pattern or layers_block_type),
 * Mamba-2 sizes, the model layout and LoRA modules they give. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "lm/config.h"
#include "lm/lora.h"
#include "lm/model.h"

#define BASE "\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, " \
             "\"num_attention_heads\": 8, \"vocab_size\": 100"

static struct ik_lm_config parse_ok(const char *json)
{
    struct ik_lm_config c;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_lm_config_parse(&c, json, strlen(json), "config.json", &d);
    cr_assert_eq(rc, 0, "%s", ik_diag_message(&d));
    return c;
}

static void parse_fails(const char *json, int code, const char *msg)
{
    struct ik_lm_config c;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_config_parse(&c, json, strlen(json), "config.json", &d), code);
    cr_assert_str_eq(ik_diag_message(&d), msg);
    ik_diag_free(&d);
}

Test(lm_config, llama_defaults)
{
    struct ik_lm_config c = parse_ok("{\"architectures\": [\"LlamaForCausalLM\"], " BASE "}");
    cr_assert_eq(c.arch, IK_LM_LLAMA);
    cr_assert_eq(c.K, 8);
    cr_assert_eq(c.head_dim, 8);
    cr_assert_eq(c.tie_embeddings, 0);
    cr_assert_eq(c.qkv_bias + c.o_bias + c.qk_norm + c.sliding_window, 0);
    cr_assert_float_eq(c.rope_theta, 10000.0f, 1e-3);
    cr_assert_float_eq(c.norm_eps, 1e-6f, 1e-12);
    cr_assert_eq(c.bos_id, -1);
    cr_assert_eq(c.n_eos, 0);
}

Test(lm_config, variants)
{
    struct ik_lm_config c = parse_ok("{\"architectures\": [\"Qwen2ForCausalLM\"], " BASE
                                     ", \"num_key_value_heads\": 2, \"tie_word_embeddings\": true,"
                                     " \"rope_theta\": 1000000.0, \"eos_token_id\": [5, 7],"
                                     " \"sliding_window\": 32768, \"use_sliding_window\": false}");
    cr_assert_eq(c.arch, IK_LM_QWEN2);
    cr_assert_eq(c.K, 2);
    cr_assert_eq(c.qkv_bias, 1);
    cr_assert_eq(c.o_bias, 0);
    cr_assert_eq(c.sliding_window, 0);
    cr_assert_eq(c.tie_embeddings, 1);
    cr_assert_eq(c.n_eos, 2);
    cr_assert_eq(c.eos_id[1], 7);
    cr_assert_float_eq(c.rope_theta, 1e6f, 1);

    c = parse_ok("{\"architectures\": [\"Qwen3ForCausalLM\"], " BASE ", \"head_dim\": 16, "
                 "\"attention_bias\": false}");
    cr_assert_eq(c.qk_norm, 1);
    cr_assert_eq(c.qkv_bias, 0);
    cr_assert_eq(c.head_dim, 16);

    c = parse_ok("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"attention_bias\": true}");
    cr_assert_eq(c.qkv_bias, 1);
    cr_assert_eq(c.o_bias, 1);

    c = parse_ok("{\"architectures\": [\"MistralForCausalLM\"], " BASE ", \"sliding_window\": 4096,"
                 " \"head_dim\": null}");
    cr_assert_eq(c.arch, IK_LM_MISTRAL);
    cr_assert_eq(c.sliding_window, 4096);
    cr_assert_eq(c.head_dim, 8);
}

/* Llama 3.1's published frequencies, recomputed here by the transformers
 * formula in double: high frequencies kept, low ones divided by the factor. */
Test(lm_config, llama3_rope_scaling)
{
    struct ik_lm_config c = parse_ok(
        "{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 4096, \"intermediate_size\": 14336,"
        " \"num_hidden_layers\": 1, \"num_attention_heads\": 32, \"num_key_value_heads\": 8,"
        " \"vocab_size\": 128256, \"rope_theta\": 500000.0, \"rope_scaling\": {\"factor\": 8.0,"
        " \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192,"
        " \"rope_type\": \"llama3\"}}");
    cr_assert_float_eq(c.rope_factor, 8.0f, 1e-6);
    float f[64];
    ik_lm_config_inv_freq(&c, f);
    double base0 = 1.0, base63 = pow(500000.0, -126.0 / 128);
    cr_assert_float_eq(f[0], base0, 1e-7);           /* wavelength 2pi < 2048: unchanged */
    cr_assert_float_eq(f[63], base63 / 8, 1e-12);     /* wavelength > 8192: divided by 8 */
    /* A middle band entry is blended between the two. */
    int j = 0;
    for (j = 0; j < 64; j++) {
        double fr = pow(500000.0, -2.0 * j / 128), wl = 2 * M_PI / fr;
        if (wl >= 2048 && wl <= 8192) {
            double s = (8192 / wl - 1) / 3;
            cr_assert_float_eq(f[j], (1 - s) * fr / 8 + s * fr, 1e-6 * fr);
            break;
        }
    }
    cr_assert(j < 64, "no entry in the blended band");
}

Test(lm_config, refusals)
{
    parse_fails("{\"architectures\": [\"LlamaForCausalLm\"], " BASE "}", IK_EVALIDATE,
                "config.json: error: unsupported architecture 'LlamaForCausalLm'; supported: "
                "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
                "NemotronHForCausalLM\n"
                "hint: did you mean 'LlamaForCausalLM'?");
    parse_fails("{\"architectures\": [\"GPT2LMHeadModel\"], " BASE "}", IK_EVALIDATE,
                "config.json: error: unsupported architecture 'GPT2LMHeadModel'; supported: "
                "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, "
                "NemotronHForCausalLM");
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rope_scaling\": "
                "{\"rope_type\": \"yarn\", \"factor\": 4.0}}", IK_EVALIDATE,
                "config.json: error: rope_scaling type 'yarn' is not supported; supported: llama3");
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"mlp_bias\": true}",
                IK_EVALIDATE, "config.json: error: mlp_bias true is not supported");
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"num_key_value_heads\": 3}",
                IK_EVALIDATE, "config.json: error: num_attention_heads must be a multiple of "
                "num_key_value_heads");
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 64}", IK_EPARSE,
                "config.json: error: missing \"intermediate_size\" (an integer)");
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"hidden_act\": \"gelu\"}",
                IK_EVALIDATE, "config.json: error: hidden_act 'gelu' is not supported; expected silu");
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"rms_norm_eps\": \"x\"}",
                IK_EPARSE, "config.json: error: \"rms_norm_eps\": expected a number");
    parse_fails("{\"architectures\": [\"Qwen2ForCausalLM\"], " BASE ", \"use_sliding_window\": true}",
                IK_EVALIDATE, "config.json: error: use_sliding_window true is not supported");
}

Test(lm_config, json_syntax_error_has_line_and_column)
{
    const char *j = "{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"hidden_size\": 64,,\n}";
    struct ik_lm_config c;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_config_parse(&c, j, strlen(j), "config.json", &d), IK_EPARSE);
    cr_assert(strncmp(ik_diag_message(&d), "config.json:3:", 14) == 0, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
}

/* Sizes beyond the plausibility limits of config.h are refused by field
 * before any allocation (issue 9: a 500-byte config.json with 2^30 layers
 * aborted on a 120 GiB calloc; tests/data/repro/config-huge-layers-abort). */
Test(lm_config, implausible_sizes_name_the_field)
{
    static const struct {
        const char *json, *msg;
    } c[] = {
        {"\"hidden_size\": 2097152, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 8, \"vocab_size\": 100",
         "\"hidden_size\": 2097152 exceeds the plausibility limit 1048576"},
        {"\"hidden_size\": 64, \"intermediate_size\": 8388608, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 8, \"vocab_size\": 100",
         "\"intermediate_size\": 8388608 exceeds the plausibility limit 4194304"},
        {"\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 4097, "
         "\"num_attention_heads\": 8, \"vocab_size\": 100",
         "\"num_hidden_layers\": 4097 exceeds the plausibility limit 4096"},
        {"\"hidden_size\": 65536, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 8192, \"vocab_size\": 100",
         "\"num_attention_heads\": 8192 exceeds the plausibility limit 4096"},
        {"\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 8, \"head_dim\": 131072, \"vocab_size\": 100",
         "\"head_dim\": 131072 exceeds the plausibility limit 65536"},
        {"\"hidden_size\": 64, \"intermediate_size\": 128, \"num_hidden_layers\": 2, "
         "\"num_attention_heads\": 8, \"vocab_size\": 16777217",
         "\"vocab_size\": 16777217 exceeds the plausibility limit 16777216"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *json = NULL, *msg = NULL;
        cr_assert(asprintf(&json, "{\"architectures\": [\"LlamaForCausalLM\"], %s}", c[i].json) > 0);
        cr_assert(asprintf(&msg, "config.json: error: %s", c[i].msg) > 0);
        parse_fails(json, IK_EVALIDATE, msg);
        free(json);
        free(msg);
    }
    parse_fails("{\"architectures\": [\"LlamaForCausalLM\"], " BASE ", \"eos_token_id\": [2, 4294967298]}",
                IK_EPARSE, "config.json: error: \"eos_token_id\": 4294967298 is not a token id");
    struct ik_lm_config cfg;
    struct ik_diag d = IK_DIAG_INIT;
    char *p = NULL;
    cr_assert(asprintf(&p, "%s/tests/data/repro/config-huge-layers-abort/config.json", IK_TEST_SRCDIR) > 0);
    cr_assert_eq(ik_lm_config_load(&cfg, p, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "config.json: error: \"num_hidden_layers\": 1073741824 "
                                          "exceeds the plausibility limit 4096") != NULL,
              "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    free(p);
}

/* ---- NemotronH ---- */

#define NEMO "\"architectures\": [\"NemotronHForCausalLM\"], \"hidden_size\": 32, " \
             "\"intermediate_size\": 40, \"num_attention_heads\": 4, \"num_key_value_heads\": 2, " \
             "\"head_dim\": 8, \"vocab_size\": 99, \"mamba_num_heads\": 8, \"mamba_head_dim\": 4, " \
             "\"n_groups\": 2, \"ssm_state_size\": 16, \"conv_kernel\": 4, \"chunk_size\": 8"

Test(lm_nemotron_config, pattern_and_defaults)
{
    struct ik_lm_config c = parse_ok("{" NEMO ", \"hybrid_override_pattern\": \"M-M*-M\"}");
    cr_assert_eq(c.arch, IK_LM_NEMOTRON_H);
    cr_assert_str_eq(ik_lm_arch_name(c.arch), "nemotron_h");
    cr_assert_eq(c.L, 6);
    static const int want[] = {IK_LM_BLOCK_MAMBA, IK_LM_BLOCK_MLP, IK_LM_BLOCK_MAMBA,
                               IK_LM_BLOCK_ATTN, IK_LM_BLOCK_MLP, IK_LM_BLOCK_MAMBA};
    for (int l = 0; l < 6; l++)
        cr_expect_eq(ik_lm_config_block(&c, l), want[l], "layer %d", l);
    cr_expect_eq(ik_lm_config_count_blocks(&c, IK_LM_BLOCK_MAMBA), 3);
    cr_expect_eq(c.ssm.heads, 8);
    cr_expect_eq(c.ssm.head_dim, 4);
    cr_expect_eq(c.ssm.groups, 2);
    cr_expect_eq(c.ssm.state, 16);
    cr_expect_eq(c.ssm.conv_kernel, 4);
    cr_expect_eq(c.ssm.chunk, 8);
    cr_expect_eq(c.ssm.conv_bias, 1);      /* use_conv_bias defaults to true */
    cr_expect_float_eq(c.norm_eps, 1e-5f, 1e-12); /* layer_norm_epsilon */
    cr_expect_eq(c.no_rope, 1);
    cr_expect_eq(c.tie_embeddings, 0);
    cr_expect_eq(c.bos_id, 1);
    cr_expect(c.n_eos == 1 && c.eos_id[0] == 2);
    cr_expect_eq(ik_lm_ssm_inner(&c), 32);
    cr_expect_eq(ik_lm_ssm_conv_dim(&c), 32 + 2 * 2 * 16);
    cr_expect_eq(ik_lm_ssm_in_dim(&c), 2 * 32 + 2 * 2 * 16 + 8);
    /* A Llama config reads every layer as a decoder block. */
    struct ik_lm_config ll = parse_ok("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": "
                                      "8, \"intermediate_size\": 8, \"num_hidden_layers\": 600, "
                                      "\"num_attention_heads\": 2, \"vocab_size\": 10}");
    cr_expect_eq(ik_lm_config_block(&ll, 599), IK_LM_BLOCK_DECODER);
    cr_expect_eq(ll.no_rope, 0);
}

Test(lm_nemotron_config, block_list)
{
    struct ik_lm_config c = parse_ok("{" NEMO ", \"num_hidden_layers\": 3, \"layers_block_type\": "
                                     "[\"attention\", \"mamba\", \"mlp\"], \"use_conv_bias\": false}");
    cr_assert_eq(c.L, 3);
    cr_expect_eq(c.block[0], IK_LM_BLOCK_ATTN);
    cr_expect_eq(c.block[1], IK_LM_BLOCK_MAMBA);
    cr_expect_eq(c.block[2], IK_LM_BLOCK_MLP);
    cr_expect_eq(c.ssm.conv_bias, 0);
}

Test(lm_nemotron_config, refusals)
{
    parse_fails("{" NEMO ", \"num_hidden_layers\": 5, \"hybrid_override_pattern\": \"M-M*-M\"}",
                IK_EVALIDATE, "config.json: error: \"hybrid_override_pattern\" has 6 layers but "
                "\"num_hidden_layers\" is 5");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M-ME\"}", IK_EVALIDATE,
                "config.json: error: \"hybrid_override_pattern\": unknown mixer 'E' at layer 3 (MoE "
                "blocks are not supported); expected M (Mamba-2), - (MLP) or * (attention)");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M+\"}", IK_EVALIDATE,
                "config.json: error: \"hybrid_override_pattern\": unknown mixer '+' at layer 1; "
                "expected M (Mamba-2), - (MLP) or * (attention)");
    parse_fails("{" NEMO ", \"layers_block_type\": [\"mamba\", \"moe\"]}", IK_EVALIDATE,
                "config.json: error: \"layers_block_type\"[1]: unknown block 'moe'; expected mamba, "
                "mlp or attention");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M-\", \"n_groups\": 3}", IK_EVALIDATE,
                "config.json: error: \"n_groups\" (3) must divide \"mamba_num_heads\" (8)");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M-\", \"mlp_hidden_act\": \"silu\"}",
                IK_EVALIDATE, "config.json: error: \"mlp_hidden_act\" 'silu' is not supported; "
                "expected relu2");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M-\", \"mamba_hidden_act\": \"gelu\"}",
                IK_EVALIDATE, "config.json: error: \"mamba_hidden_act\" 'gelu' is not supported; "
                "expected silu");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M-\", \"use_bias\": true}", IK_EVALIDATE,
                "config.json: error: \"use_bias\" true is not supported (NemotronH has no linear "
                "biases)");
    parse_fails("{" NEMO ", \"hybrid_override_pattern\": \"M-\", \"conv_kernel\": 0}", IK_EVALIDATE,
                "config.json: error: \"conv_kernel\": 0 is outside [1, 64]");
    parse_fails("{" NEMO "}", IK_EPARSE, "config.json: error: missing \"hybrid_override_pattern\" (or "
                "layers_block_type): the kind of each layer");
}

/* The arena holds each layer's own tensors only, and LoRA modules exist
 * where their layer has the projection. */
Test(lm_nemotron_config, layout_and_lora_modules)
{
    struct ik_lm_config c = parse_ok("{" NEMO ", \"hybrid_override_pattern\": \"M-*\"}");
    struct ik_lm_model *m;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_new(&m, &c, &d), 0, "%s", ik_diag_message(&d));
    size_t D = 32, inner = 32, conv = 96, nh = 8, in = 2 * 32 + 64 + 8;
    size_t mamba = D + in * D + conv * 4 + conv + 3 * nh + inner + D * inner;
    size_t mlp = D + 2 * 40 * D, attn = D + 2 * 32 * D + 2 * 16 * D;
    cr_expect_eq(m->n_params, 2 * 99 * D + D + mamba + mlp + attn);
    const struct ik_lm_layer *y = m->layers;
    cr_expect(y[0].ssm_in && y[0].conv_b && y[0].ssm_out && !y[0].wq && !y[0].w_up);
    cr_expect(y[1].w_up && y[1].w_down && !y[1].w_gate && !y[1].ffn_norm && !y[1].ssm_in);
    cr_expect(y[2].wq && y[2].wo && !y[2].w_up && !y[2].ssm_in && !y[2].bq);
    cr_expect(y[0].slot == 0 && y[2].slot == 0 && y[1].slot == 0);

    struct ik_lora_config lc = {.r = 2, .alpha = 4, .targets = IK_LORA_ALL};
    struct ik_lora *a;
    cr_assert_eq(ik_lora_new(&a, &c, &lc, 1, &d), 0, "%s", ik_diag_message(&d));
    cr_expect_eq(a->cfg.targets, ik_lora_family_targets(&c));
    for (int l = 0; l < 3; l++)
        for (int t = 0; t < IK_LORA_NT; t++)
            cr_expect_eq(a->mod[l * IK_LORA_NT + t].A != NULL, ik_lora_has_module(&c, l, t),
                         "layer %d %s", l, ik_lora_target_name(t));
    cr_expect(a->mod[IK_LORA_IN].A && a->mod[IK_LORA_OUT].A && !a->mod[IK_LORA_Q].A);
    cr_expect_eq(a->mod[IK_LORA_IN].out, (int)in);
    cr_expect_eq(a->mod[IK_LORA_OUT].in, (int)inner);
    char *name = ik_lora_tensor_name(c.arch, 0, IK_LORA_OUT, 'B');
    cr_expect_str_eq(name, "base_model.model.model.layers.0.mixer.out_proj.lora_B.weight");
    free(name);
    ik_lora_free(a);

    /* gate_proj is not a NemotronH target; in_proj is not a Llama one. */
    lc.targets = 1u << IK_LORA_GATE;
    cr_expect_eq(ik_lora_new(&a, &c, &lc, 1, &d), IK_EVALIDATE);
    cr_expect_str_eq(ik_diag_message(&d), "error: LoRA target gate_proj does not exist in a nemotron_h model");
    ik_diag_free(&d);
    ik_lm_model_free(m);
}
