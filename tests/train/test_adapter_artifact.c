/* tests/train/test_adapter_artifact.c - the lora.adapter artifact
 * (nodes/train/adapter_artifact.c): pack -> read round trips on random
 * adapters of each architecture variant that changes the tensors (Llama with
 * GQA, Qwen2 with q/k/v biases and tied embeddings, a tied Llama with Llama-3
 * RoPE scaling), byte-identical packing, the PEFT folder written from a read
 * adapter, and every refusal with its message: the artifact is unpacked, its
 * tree edited in place (kind, schema, fields, tensors), and read again. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/prng.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "lm/chat_template.h"
#include "lm/lora.h"
#include "nodes/train/adapter_artifact.h"
#include "tests/common/tmpcache.h"
#include "tests/lm/lm_test.h"

#define WHAT "adapter 1a2b3c4d5e6f"

/* ---- fixtures ---- */

static struct ik_lm_config small_cfg(int arch)
{
    struct ik_lm_config c;
    memset(&c, 0, sizeof c);
    c.arch = arch;
    c.D = 16, c.F = 24, c.L = 2, c.H = 4, c.K = 2, c.head_dim = 4, c.V = 40, c.max_seq = 64;
    c.norm_eps = 1e-5f, c.rope_theta = 10000.0f, c.bos_id = 1, c.n_eos = 1, c.eos_id[0] = 2;
    if (arch == IK_LM_QWEN2) {
        c.qkv_bias = 1, c.tie_embeddings = 1, c.rope_theta = 1000000.0f, c.norm_eps = 1e-6f;
        c.bos_id = -1, c.n_eos = 2, c.eos_id[0] = 38, c.eos_id[1] = 39;
    }
    return c;
}

/* A tied Llama with Llama-3 RoPE scaling and an odd head count. */
static struct ik_lm_config tied_cfg(void)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    c.tie_embeddings = 1, c.H = 3, c.K = 1, c.head_dim = 6, c.L = 3;
    c.rope_factor = 8, c.rope_low_freq_factor = 1, c.rope_high_freq_factor = 4;
    c.rope_original_max_seq = 32, c.rope_theta = 500000.0f;
    return c;
}

/* A new adapter whose A and B are both random (B = 0 would hide a swap). */
static struct ik_lora *random_adapter(const struct ik_lm_config *mc, const char *targets, int r,
                                      uint64_t seed)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_lora_config lc = {r, 2.0f * (float)r, 0.05f, 0};
    cr_assert_eq(ik_lora_parse_targets(targets, &lc.targets, &d), 0);
    struct ik_lora *a = NULL;
    cr_assert_eq(ik_lora_new(&a, mc, &lc, seed, &d), 0, "%s", ik_diag_message(&d));
    struct ik_prng p;
    ik_prng_seed(&p, seed + 1);
    for (size_t i = 0; i < a->n_params; i++)
        a->params[i] += (float)(ik_prng_double(&p) - 0.5);
    return a;
}

static struct ik_lora_artifact_info test_info(void)
{
    struct ik_lora_artifact_info in;
    memset(&in, 0, sizeof in);
    memset(in.base_hash, 'a', 64);
    memcpy(in.tokenizer_hash, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789ABCDEF", 64);
    in.chat_template = IK_CHAT_LLAMA3;
    in.steps = 1234567890123;
    return in;
}

/* The packed bytes of a (the caller frees). */
static char *pack(const struct ik_lora *a, const struct ik_lm_config *mc, size_t *len)
{
    struct ik_lora_artifact_info in = test_info();
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_lora_artifact_pack(&w, a, mc, &in);
    return ik_mp_writer_steal(&w, len);
}

/* An unpacked artifact to read, or to edit and read. */
struct art {
    char *bytes;
    size_t len;
    msgpack_unpacked u;
    struct ik_lora *a;
    struct ik_lm_config mc;
    struct ik_diag d;
};

static void art_make(struct art *t, const struct ik_lm_config *mc, const char *targets, int r)
{
    t->mc = *mc;
    t->a = random_adapter(mc, targets, r, 7);
    t->bytes = pack(t->a, mc, &t->len);
    msgpack_unpacked_init(&t->u);
    t->d = (struct ik_diag)IK_DIAG_INIT;
    cr_assert_eq(ik_artifact_unpack(t->bytes, t->len, &t->u, WHAT, &t->d), 0);
}

static void art_free(struct art *t)
{
    msgpack_unpacked_destroy(&t->u);
    free(t->bytes);
    ik_lora_free(t->a);
    ik_diag_free(&t->d);
}

/* The value of key in map o, editable (the tree belongs to the test). */
static msgpack_object *get(msgpack_object *o, const char *key)
{
    msgpack_object *v = (msgpack_object *)ik_mp_get(o, key);
    cr_assert_not_null(v, "no field '%s'", key);
    return v;
}

static msgpack_object_kv *entry(msgpack_object *map, const char *key)
{
    for (uint32_t i = 0; i < map->via.map.size; i++)
        if (ik_mp_str_eq(&map->via.map.ptr[i].key, key))
            return &map->via.map.ptr[i];
    cr_assert_fail("no entry '%s'", key);
    return NULL;
}

static void set_str(msgpack_object *o, const char *s)
{
    o->type = MSGPACK_OBJECT_STR;
    o->via.str.ptr = s;
    o->via.str.size = (uint32_t)strlen(s);
}

static void set_int(msgpack_object *o, int64_t v)
{
    o->type = v < 0 ? MSGPACK_OBJECT_NEGATIVE_INTEGER : MSGPACK_OBJECT_POSITIVE_INTEGER;
    o->via.i64 = v;
}

/* Reads t's (edited) tree; expects failure with code and a message equal to want. */
static void expect_refused(struct art *t, int code, const char *want)
{
    struct ik_lora *a = (struct ik_lora *)0x1;
    struct ik_lm_config mc;
    ik_diag_free(&t->d);
    int rc = ik_lora_artifact_read(&t->u.data, WHAT, &a, &mc, NULL, &t->d);
    cr_assert_eq(rc, code, "rc %d (%s), expected %d", rc, ik_diag_message(&t->d), code);
    cr_assert_eq(a, (struct ik_lora *)0x1, "the output was touched on failure");
    cr_assert_str_eq(ik_diag_message(&t->d), want);
}

static const char *const Q0A = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight";

/* ---- round trips ---- */

static void round_trip(const struct ik_lm_config *mc, const char *targets, int r)
{
    struct art t;
    art_make(&t, mc, targets, r);
    struct ik_lora *b = NULL;
    struct ik_lm_config got;
    struct ik_lora_artifact_info info, want = test_info();
    int rc = ik_lora_artifact_read(&t.u.data, WHAT, &b, &got, &info, &t.d);
    cr_assert_eq(rc, 0, "%s", ik_diag_message(&t.d));
    cr_assert_eq(memcmp(&got, mc, sizeof got), 0, "the base config changed on the way");
    cr_assert_eq(memcmp(&info, &want, sizeof info), 0, "the info changed on the way");
    cr_assert_eq(b->cfg.r, r);
    cr_assert_eq(b->cfg.targets, t.a->cfg.targets);
    cr_assert_eq(memcmp(&b->cfg.alpha, &t.a->cfg.alpha, sizeof(float)), 0);
    cr_assert_eq(memcmp(&b->cfg.dropout, &t.a->cfg.dropout, sizeof(float)), 0);
    cr_assert_eq(b->L, mc->L);
    cr_assert_eq(b->n_params, t.a->n_params);
    cr_assert_eq(memcmp(b->params, t.a->params, b->n_params * sizeof(float)), 0,
                 "values are not bit-equal");
    /* Packing is deterministic, and what was read packs to the same bytes. */
    size_t len2, len3;
    char *again = pack(t.a, mc, &len2), *repack = pack(b, &got, &len3);
    cr_assert(len2 == t.len && memcmp(again, t.bytes, t.len) == 0, "packing twice differs");
    cr_assert(len3 == t.len && memcmp(repack, t.bytes, t.len) == 0, "read then packed differs");
    free(again);
    free(repack);
    ik_lora_free(b);
    art_free(&t);
}

Test(train_adapter_artifact, round_trip_llama_gqa)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    round_trip(&c, "all", 4);
}

Test(train_adapter_artifact, round_trip_qwen2_bias_tied)
{
    struct ik_lm_config c = small_cfg(IK_LM_QWEN2);
    round_trip(&c, "q,k,v,o", 8);
}

Test(train_adapter_artifact, round_trip_tied_llama3_rope)
{
    struct ik_lm_config c = tied_cfg();
    round_trip(&c, "v_proj,down", 3);
}

Test(train_adapter_artifact, round_trip_qwen3_mistral)
{
    struct ik_lm_config c = small_cfg(IK_LM_QWEN3);
    c.qk_norm = 1;
    round_trip(&c, "gate,up,down", 1);
    c = small_cfg(IK_LM_MISTRAL);
    c.sliding_window = 16, c.n_eos = 0, c.eos_id[0] = 0;
    round_trip(&c, "q", 2);
}

/* NemotronH: the layers' mixers and the Mamba-2 sizes travel in base_config,
 * and a layer has its mixer's modules only; a blocks string of another
 * length or letter is refused. */
Test(train_adapter_artifact, round_trip_nemotron_h)
{
    struct ik_lm_config c = lmt_nemotron_cfg("M-M*-", 16, 24, 40);
    round_trip(&c, "all", 4);
    c.ssm.conv_bias = 0;
    round_trip(&c, "in,out,q", 2);

    struct art t;
    art_make(&t, &c, "all", 2);
    msgpack_object *bc = get(&t.u.data, "base_config");
    set_str(get(bc, "blocks"), "M-M*");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'base_config.blocks': 4 letters for L = 5 "
                   "layers (at most 512)");
    set_str(get(bc, "blocks"), "M-MEE");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'base_config.blocks': letter 3 is 'E', "
                   "expected M, * or -");
    art_free(&t);
}

/* The layout of the header: the meta, the base config, tensors in layout
 * order with the names PEFT uses. */
Test(train_adapter_artifact, layout)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,down", 2);
    msgpack_object *root = &t.u.data;
    cr_assert(ik_mp_str_eq(get(root, "kind"), "lora.adapter"));
    cr_assert_eq(get(root, "schema")->via.u64, 1);
    msgpack_object *meta = get(root, "meta");
    cr_assert_eq(meta->via.map.size, 9);
    cr_assert(ik_mp_str_eq(get(meta, "base_architecture"), "llama"));
    cr_assert(ik_mp_str_eq(get(meta, "chat_template"), "llama3"));
    cr_assert_eq(get(meta, "alpha")->type, MSGPACK_OBJECT_FLOAT32);
    msgpack_object *tg = get(meta, "targets");
    cr_assert_eq(tg->via.array.size, 2);
    cr_assert(ik_mp_str_eq(&tg->via.array.ptr[0], "q_proj"));
    cr_assert(ik_mp_str_eq(&tg->via.array.ptr[1], "down_proj"));
    cr_assert_eq(get(root, "base_config")->via.map.size, 22);
    msgpack_object *tens = get(root, "tensors");
    static const char *const names[] = {
        "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight",
        "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight",
        "base_model.model.model.layers.0.mlp.down_proj.lora_A.weight",
        "base_model.model.model.layers.0.mlp.down_proj.lora_B.weight",
        "base_model.model.model.layers.1.self_attn.q_proj.lora_A.weight",
        "base_model.model.model.layers.1.self_attn.q_proj.lora_B.weight",
        "base_model.model.model.layers.1.mlp.down_proj.lora_A.weight",
        "base_model.model.model.layers.1.mlp.down_proj.lora_B.weight",
    };
    cr_assert_eq(tens->via.map.size, 8);
    for (int i = 0; i < 8; i++)
        cr_assert(ik_mp_str_eq(&tens->via.map.ptr[i].key, names[i]), "tensor %d", i);
    /* down_proj's A is (r, F), its B (D, r). */
    msgpack_object *sh = get(&tens->via.map.ptr[2].val, "shape");
    cr_assert_eq(sh->via.array.ptr[0].via.u64, 2);
    cr_assert_eq(sh->via.array.ptr[1].via.u64, 24);
    sh = get(&tens->via.map.ptr[3].val, "shape");
    cr_assert_eq(sh->via.array.ptr[0].via.u64, 16);
    cr_assert_eq(sh->via.array.ptr[1].via.u64, 2);
    art_free(&t);
}

/* The export path: read, written as a PEFT folder, loaded back by lm/lora.c. */
Test(train_adapter_artifact, to_peft_folder)
{
    struct ik_lm_config c = small_cfg(IK_LM_QWEN2);
    struct art t;
    art_make(&t, &c, "all", 4);
    struct ik_lora *b = NULL, *l = NULL;
    struct ik_lm_config got;
    cr_assert_eq(ik_lora_artifact_read(&t.u.data, WHAT, &b, &got, NULL, &t.d), 0);
    char *dir = tc_tmpdir();
    cr_assert_eq(ik_lora_save(b, dir, NULL, &t.d), 0, "%s", ik_diag_message(&t.d));
    cr_assert_eq(ik_lora_load(&l, &got, dir, &t.d), 0, "%s", ik_diag_message(&t.d));
    cr_assert_eq(l->n_params, t.a->n_params);
    cr_assert_eq(memcmp(l->params, t.a->params, l->n_params * sizeof(float)), 0);
    cr_assert_eq(l->cfg.r, 4);
    cr_assert_float_eq(l->cfg.alpha, 8.0f, 0);
    ik_lora_free(l);
    ik_lora_free(b);
    tc_rmtree(dir);
    art_free(&t);
}

/* ---- refusals ---- */

Test(train_adapter_artifact, refuses_other_kind_and_schema)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,v", 2);
    msgpack_object *root = &t.u.data;
    set_str(get(root, "kind"), "lm.weights");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": is an artifact of kind 'lm.weights', not a "
                   "lora.adapter");
    set_str(get(root, "kind"), "lora.adapter");
    set_int(get(root, "schema"), 2);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": lora.adapter schema 2 is not supported (this "
                   "ikada reads schema 1)");
    set_str(get(root, "schema"), "1");
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'schema' is missing or not an integer");
    set_int(get(root, "schema"), 1);
    set_str(&entry(root, "tensors")->key, "tensor");
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'tensors' is missing");
    set_str(&entry(root, "tensor")->key, "tensors");
    set_int(get(root, "base_config"), 3);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'base_config': expected a map, found an "
                   "integer");
    set_int(root, 5);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": expected an artifact map, found an integer");
    art_free(&t);
}

Test(train_adapter_artifact, refuses_missing_and_mistyped_fields)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,v", 2);
    msgpack_object *meta = get(&t.u.data, "meta"), *bc = get(&t.u.data, "base_config");
    set_str(&entry(meta, "r")->key, "rank");
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'meta.r' is missing (expected an integer)");
    set_str(&entry(meta, "rank")->key, "r");
    set_str(&entry(bc, "V")->key, "vocab");
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'base_config.V' is missing (expected an "
                   "integer)");
    set_str(&entry(bc, "vocab")->key, "V");
    set_int(get(meta, "alpha"), 4);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'meta.alpha': expected a float, found an "
                   "integer");
    get(meta, "alpha")->type = MSGPACK_OBJECT_FLOAT32, get(meta, "alpha")->via.f64 = 4;
    set_int(get(bc, "qkv_bias"), 0);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'base_config.qkv_bias': expected true or "
                   "false, found an integer");
    get(bc, "qkv_bias")->type = MSGPACK_OBJECT_BOOLEAN, get(bc, "qkv_bias")->via.boolean = false;
    set_int(get(meta, "chat_template"), 1);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'meta.chat_template': expected a string, "
                   "found an integer");
    set_str(get(meta, "chat_template"), "llama3");
    /* Back to a readable artifact: the edits above are undone. */
    struct ik_lora *a = NULL;
    cr_assert_eq(ik_lora_artifact_read(&t.u.data, WHAT, &a, NULL, NULL, &t.d), 0, "%s",
                 ik_diag_message(&t.d));
    ik_lora_free(a);
    art_free(&t);
}

Test(train_adapter_artifact, refuses_values_out_of_range)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,v", 2);
    msgpack_object *meta = get(&t.u.data, "meta"), *bc = get(&t.u.data, "base_config");
    set_int(get(meta, "r"), 0);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.r': 0 is out of range [1, 65536]");
    set_int(get(meta, "r"), 2);
    get(meta, "dropout")->via.f64 = 1.0;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.dropout': 1 is out of range [0, 1)");
    get(meta, "dropout")->via.f64 = NAN;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.dropout': nan is out of range [0, 1)");
    get(meta, "dropout")->via.f64 = 0;
    get(meta, "alpha")->via.f64 = 0;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.alpha': 0 is out of range (0, inf)");
    get(meta, "alpha")->via.f64 = 4;
    set_int(get(bc, "D"), (1 << 20) + 1);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'base_config.D': 1048577 is out of range "
                   "[1, 1048576]");
    set_int(get(bc, "D"), -3);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'base_config.D': -3 is out of range "
                   "[1, 1048576]");
    set_int(get(bc, "D"), 16);
    set_int(get(bc, "K"), 3);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": base_config: head_dim (4) must be even and H "
                   "(4) a multiple of K (3)");
    set_int(get(bc, "K"), 2);
    /* Each size is plausible, the whole is not (2^42 parameters). */
    set_int(get(bc, "V"), 1 << 24), set_int(get(bc, "D"), 1 << 18);
    ik_diag_free(&t.d);
    struct ik_lora *a = NULL;
    cr_assert_eq(ik_lora_artifact_read(&t.u.data, WHAT, &a, NULL, NULL, &t.d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&t.d), "error: " WHAT ": base_config: ") != NULL, "%s",
              ik_diag_message(&t.d));
    cr_assert(strstr(ik_diag_message(&t.d), "parameters") != NULL, "%s", ik_diag_message(&t.d));
    set_int(get(bc, "V"), 40), set_int(get(bc, "D"), 16);
    set_str(get(bc, "arch"), "gpt2");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'base_config.arch': unknown architecture "
                   "'gpt2': expected llama, mistral, qwen2, qwen3 or nemotron_h");
    set_str(get(bc, "arch"), "llama");
    set_str(get(meta, "base_architecture"), "qwen2");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.base_architecture': 'qwen2' is not "
                   "base_config.arch 'llama'");
    set_str(get(meta, "base_architecture"), "llama");
    set_str(get(meta, "base_hash"), "abc");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.base_hash': expected 64 hex digits, "
                   "found 'abc'");
    set_str(get(meta, "base_hash"), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    set_str(get(meta, "chat_template"), "vicuna");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.chat_template': unknown chat "
                   "template 'vicuna': expected chatml, llama3, llama2 or plain");
    msgpack_object *ct = get(meta, "chat_template");
    ct->via.str.ptr = "plain\0x", ct->via.str.size = 7;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.chat_template': the string holds a "
                   "NUL byte");
    set_str(ct, "plain");
    set_int(get(meta, "steps"), -1);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.steps': -1 is out of range [0, "
                   "9223372036854775807]");
    art_free(&t);
}

Test(train_adapter_artifact, refuses_bad_targets)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,v", 2);
    msgpack_object *tg = get(get(&t.u.data, "meta"), "targets");
    set_str(&tg->via.array.ptr[1], "qq_proj");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.targets': unknown module 'qq_proj': "
                   "expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, in_proj "
                   "or out_proj");
    /* Short names are the command line's, not the artifact's. */
    set_str(&tg->via.array.ptr[1], "v");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.targets': unknown module 'v': "
                   "expected q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj, in_proj "
                   "or out_proj");
    set_str(&tg->via.array.ptr[1], "q_proj");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.targets': 'q_proj' appears twice");
    set_int(&tg->via.array.ptr[1], 3);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'meta.targets': item 1: expected a string, "
                   "found an integer");
    set_str(&tg->via.array.ptr[1], "v_proj");
    tg->via.array.size = 0;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": field 'meta.targets': empty (expected at least "
                   "one module)");
    /* Fewer targets than the tensors: v_proj's are unexpected. */
    tg->via.array.size = 1;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": unexpected tensor 'base_model.model.model."
                   "layers.0.self_attn.v_proj.lora_A.weight': meta.targets and base_config do not "
                   "call for it");
    art_free(&t);
}

Test(train_adapter_artifact, refuses_bad_tensors)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,v", 8);
    msgpack_object *tens = get(&t.u.data, "tensors");
    msgpack_object *q0a = get(tens, Q0A);
    /* q_proj's A is (r, D) = (8, 16). */
    msgpack_object *sh = get(q0a, "shape");
    set_int(&sh->via.array.ptr[0], 16);
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_A.weight' has shape [16,16], expected [8,16]");
    set_int(&sh->via.array.ptr[0], 8);
    sh->via.array.size = 1;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_A.weight' has shape [8], expected [8,16]");
    sh->via.array.size = 2;
    set_str(get(q0a, "dtype"), "f16");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_A.weight' has dtype 'f16', expected f32");
    set_str(get(q0a, "dtype"), "f32");
    /* A data bin cut short (or grown) by 4 bytes. */
    msgpack_object *data = get(q0a, "data");
    data->via.bin.size -= 4;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_A.weight' holds 508 bytes of data, expected 512 (f32 [8,16])");
    data->via.bin.size += 8;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_A.weight' holds 516 bytes of data, expected 512 (f32 [8,16])");
    data->via.bin.size -= 4;
    set_str(&entry(q0a, "data")->key, "bytes");
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": tensor 'base_model.model.model.layers.0.self_attn."
                   "q_proj.lora_A.weight': expected a tensor map {dtype: string, shape: array, data: "
                   "binary}");
    set_str(&entry(q0a, "bytes")->key, "data");
    /* Missing: the name taken away (it then also is unexpected, but missing comes first). */
    msgpack_object_kv *kv = entry(tens, Q0A);
    set_str(&kv->key, "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weights");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_A.weight' is missing (meta.targets and base_config.L = 2 "
                   "call for it)");
    /* Twice: the name given to another tensor too. */
    set_str(&kv->key, "base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight");
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": tensor 'base_model.model.model.layers.0."
                   "self_attn.q_proj.lora_B.weight' appears twice");
    set_str(&kv->key, Q0A);
    /* One tensor more than the config calls for. */
    uint32_t n = tens->via.map.size;
    msgpack_object_kv *more = ik_xcalloc(n + 1, sizeof *more), *old = tens->via.map.ptr;
    memcpy(more, old, n * sizeof *more);
    more[n] = old[0];
    set_str(&more[n].key, "base_model.model.model.layers.0.self_attn.k_proj.lora_A.weight");
    tens->via.map.ptr = more, tens->via.map.size = n + 1;
    expect_refused(&t, IK_EVALIDATE, "error: " WHAT ": unexpected tensor 'base_model.model.model."
                   "layers.0.self_attn.k_proj.lora_A.weight': meta.targets and base_config do not "
                   "call for it");
    set_int(&more[n].key, 7);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": field 'tensors': entry 8 is named by an integer, "
                   "not a string");
    tens->via.map.ptr = old, tens->via.map.size = n;
    free(more);
    set_int(&entry(tens, Q0A)->val, 1);
    expect_refused(&t, IK_EPARSE, "error: " WHAT ": tensor 'base_model.model.model.layers.0.self_attn."
                   "q_proj.lora_A.weight': expected a tensor map {dtype, shape, data}, found an integer");
    art_free(&t);
}

/* Cut bytes never reach the reader: the envelope refuses them. */
Test(train_adapter_artifact, truncated_bytes)
{
    struct ik_lm_config c = small_cfg(IK_LM_LLAMA);
    struct art t;
    art_make(&t, &c, "q,v", 2);
    for (size_t cut = 1; cut < t.len; cut += t.len / 37 + 1) {
        msgpack_unpacked u;
        msgpack_unpacked_init(&u);
        struct ik_diag d = IK_DIAG_INIT;
        cr_assert_eq(ik_artifact_unpack(t.bytes, t.len - cut, &u, WHAT, &d), IK_EPARSE, "cut %zu", cut);
        msgpack_unpacked_destroy(&u);
        ik_diag_free(&d);
    }
    art_free(&t);
}
