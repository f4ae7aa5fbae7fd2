/* cli/lm.c - `ikada lm tokenize|generate|score`: the language-model core
 * (lm/) from the command line, for people checking a model and for the
 * tests. Plain output is for reading; --json output is one JSON object. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "cli/opt.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/xmalloc.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model.h"
#include "lm/tokenizer.h"

/* The usage (after "usage: ikada "), which is also all that --help says. */
static const char lm_usage[] =
    "lm tokenize --model PATH [--tokenizer FILE] [--special] [--json] TEXT\n"
    "       ikada lm generate --model PATH [--tokenizer FILE] [--adapter A] [--max-tokens N]\n"
    "                         [--temperature T] [--top-p P] [--seed S] [--stop STR]... [--json]\n"
    "                         PROMPT...\n"
    "       ikada lm score    --model PATH [--tokenizer FILE] [--adapter A] [--json] TEXT\n"
    "\n"
    "PATH is a Hugging Face folder (config.json + safetensors), a GGUF file (.gguf:\n"
    "llama, qwen2, qwen3, nemotron_h; its own tokenizer) or a llama2.c .bin file.\n"
    "The tokenizer is FILE, else tokenizer.json, tokenizer.model or the one *.model\n"
    "file beside the model. generate and score prepend the tokenizer's BOS when it has\n"
    "one. generate is greedy unless --temperature > 0 (then top-p sampling seeded\n"
    "by --seed; prompt i uses seed + i), and stops at EOS or after a --stop string\n"
    "(cut from the text). --adapter adds a LoRA adapter: a PEFT folder, or a GGUF\n"
    "file (llama.cpp's adapter format, chosen by the .gguf extension). --special\n"
    "parses special tokens (<s>, <|im_start|>) written in TEXT; generate and score\n"
    "always do.";

struct opts {
    const char *model, *tokenizer, *text, *adapter;
    bool json, special;
    int max_tokens;
    float temperature, top_p;
    unsigned long long seed;
    const char *stop[16];
    int n_stop;
    const char **texts; /* generate: every PROMPT */
    int n_texts;
};

static int fail(struct ik_diag *d)
{
    ik_diag_print(d);
    ik_diag_free(d);
    return IK_EXIT_USAGE;
}

static int load_tokenizer(const struct opts *o, struct ik_tok **t)
{
    struct ik_diag d = IK_DIAG_INIT;
    char *path = NULL;
    if (o->tokenizer)
        path = ik_xstrdup(o->tokenizer);
    else if (ik_tok_find_for_model(o->model, &path, &d) != 0) {
        if (d.code == IK_ENOTFOUND || d.code == IK_EVALIDATE)
            ik_diag_hint(&d, "name one with --tokenizer FILE");
        return fail(&d);
    }
    int rc = ik_tok_load(t, path, &d);
    free(path);
    return rc ? fail(&d) : 0;
}

static int encode(const struct ik_tok *t, const char *text, int special, int add_bos, int **ids, size_t *n)
{
    struct ik_diag d = IK_DIAG_INIT;
    int *v;
    size_t nv;
    if (ik_tok_encode(t, text, strlen(text), special, &v, &nv, &d) != 0)
        return fail(&d);
    int bos = add_bos ? ik_tok_bos(t) : -1;
    *ids = ik_xmalloc((nv + 1) * sizeof **ids);
    *n = 0;
    if (bos >= 0)
        (*ids)[(*n)++] = bos;
    memcpy(*ids + *n, v, nv * sizeof *v);
    *n += nv;
    free(v);
    return 0;
}

static json_t *id_array(const int *ids, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static void print_json(json_t *j)
{
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    printf("%s\n", s);
    free(s);
    json_decref(j);
}

/* Decoded text of one token, for per-token listings. */
static char *token_text(const struct ik_tok *t, int id)
{
    struct ik_buf b = IK_BUF_INIT;
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_tok_decode(t, &id, 1, 0, &b, &d) != 0)
        ik_diag_free(&d);
    return ik_buf_steal(&b);
}

static int cmd_tokenize(const struct opts *o)
{
    struct ik_tok *t = NULL;
    int rc = load_tokenizer(o, &t);
    int *ids = NULL;
    size_t n = 0;
    if (rc == 0)
        rc = encode(t, o->text, o->special, 0, &ids, &n);
    if (rc == 0 && o->json) {
        json_t *pieces = json_array();
        for (size_t i = 0; i < n; i++)
            json_array_append_new(pieces, json_string(ik_tok_piece(t, ids[i])));
        print_json(json_pack("{s:o, s:o}", "ids", id_array(ids, n), "pieces", pieces));
    } else if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            printf("%s%d", i ? " " : "", ids[i]);
        printf("\n");
    }
    free(ids);
    ik_tok_free(t);
    return rc;
}

/* An adapter GGUF (by its .gguf extension) or a PEFT folder. */
static int load_adapter(const char *path, const struct ik_lm_config *mc, struct ik_lora **a,
                        struct ik_diag *d)
{
    size_t n = strlen(path);
    if (n > 5 && strcmp(path + n - 5, ".gguf") == 0)
        return ik_lora_load_gguf(a, mc, path, d);
    return ik_lora_load(a, mc, path, d);
}

static int load_all(const struct opts *o, struct ik_tok **t, struct ik_lm_model **m, struct ik_lora **a)
{
    struct ik_diag d = IK_DIAG_INIT;
    *m = NULL;
    *a = NULL;
    int rc = load_tokenizer(o, t);
    if (rc != 0)
        return rc;
    if (ik_lm_model_load(m, o->model, &d) != 0) {
        ik_tok_free(*t);
        return fail(&d);
    }
    if (ik_tok_vocab_size(*t) > (*m)->cfg.V) {
        fprintf(stderr, "ikada: error: the tokenizer has %d tokens but the model only %d\n",
                ik_tok_vocab_size(*t), (*m)->cfg.V);
        ik_lm_model_free(*m);
        ik_tok_free(*t);
        return IK_EXIT_USAGE;
    }
    if (o->adapter && load_adapter(o->adapter, &(*m)->cfg, a, &d) != 0) {
        ik_lm_model_free(*m);
        ik_tok_free(*t);
        return fail(&d);
    }
    return 0;
}

/* A state for n positions with the adapter (if any) attached. */
static int new_state(struct ik_lm_state **s, struct ik_lm_model *m, const struct ik_lora *a, int n,
                     int chunk)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_lm_state_new(s, m, n, chunk, &d) != 0)
        return fail(&d);
    if (ik_lm_state_set_adapter(*s, a, &d) != 0) {
        ik_lm_state_free(*s);
        *s = NULL;
        return fail(&d);
    }
    return 0;
}

static int cmd_generate(const struct opts *o)
{
    struct ik_tok *t;
    struct ik_lm_model *m;
    struct ik_lora *a;
    int rc = load_all(o, &t, &m, &a);
    if (rc != 0)
        return rc;
    struct ik_lm_gen_opts g = {o->max_tokens, o->temperature, o->top_p, o->seed, 1, o->stop, o->n_stop};
    int *out = ik_xmalloc(((size_t)o->max_tokens + 1) * sizeof *out);
    for (int i = 0; rc == 0 && i < o->n_texts; i++) {
        int *ids = NULL;
        size_t n = 0;
        struct ik_lm_state *s = NULL;
        struct ik_diag d = IK_DIAG_INIT;
        rc = encode(t, o->texts[i], 1, 1, &ids, &n);
        if (rc == 0 && n == 0)
            rc = ik_opt_error(lm_usage, "the prompt is empty and the tokenizer has no BOS to start from");
        if (rc == 0)
            rc = new_state(&s, m, a, (int)n + o->max_tokens, 64);
        /* One prompt at a time, as ik_lm_generate_batch does: prompt i samples from seed + i. */
        g.seed = o->seed + (unsigned long long)i;
        int k = rc == 0 ? ik_lm_generate(s, t, ids, (int)n, &g, out, NULL, &d) : 0;
        if (k < 0)
            rc = fail(&d);
        if (rc == 0) {
            struct ik_buf text = IK_BUF_INIT;
            ik_tok_decode(t, out, (size_t)k, 1, &text, &d);
            size_t cut = ik_lm_stop_trim(text.data ? text.data : "", text.len, o->stop, o->n_stop);
            ik_buf_putc(&text, '\0');
            text.data[cut] = '\0';
            if (o->json)
                print_json(json_pack("{s:o, s:o, s:s}", "prompt_ids", id_array(ids, n), "ids",
                                     id_array(out, (size_t)k), "text", text.data));
            else
                printf("%s\n", text.data);
            ik_buf_free(&text);
        }
        free(ids);
        ik_lm_state_free(s);
    }
    free(out);
    ik_lora_free(a);
    ik_lm_model_free(m);
    ik_tok_free(t);
    return rc;
}

static int cmd_score(const struct opts *o)
{
    struct ik_tok *t;
    struct ik_lm_model *m;
    struct ik_lora *a;
    int rc = load_all(o, &t, &m, &a);
    if (rc != 0)
        return rc;
    int *ids = NULL;
    size_t n = 0;
    float *lp = NULL;
    struct ik_lm_state *s = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    rc = encode(t, o->text, 1, 1, &ids, &n);
    if (rc == 0 && n < 2)
        rc = ik_opt_error(lm_usage, "scoring needs at least two tokens (BOS and one more)");
    if (rc == 0)
        rc = new_state(&s, m, a, (int)n, 256);
    if (rc == 0) {
        lp = ik_xmalloc(n * sizeof *lp);
        if (ik_lm_score(s, ids, (int)n, lp, &d) != 0)
            rc = fail(&d);
    }
    if (rc == 0) {
        double sum = 0;
        for (size_t i = 0; i + 1 < n; i++)
            sum -= lp[i];
        double mean = sum / (double)(n - 1);
        if (o->json) {
            json_t *a = json_array();
            for (size_t i = 0; i + 1 < n; i++)
                json_array_append_new(a, json_real(lp[i]));
            print_json(json_pack("{s:o, s:o, s:f}", "ids", id_array(ids, n), "logprobs", a, "mean_nll", mean));
        } else {
            for (size_t i = 0; i + 1 < n; i++) {
                char *tx = token_text(t, ids[i + 1]);
                printf("%6d  %10.6f  %s\n", ids[i + 1], (double)lp[i], tx);
                free(tx);
            }
            printf("mean_nll %.6f over %zu tokens\n", mean, n - 1);
        }
    }
    free(lp);
    free(ids);
    ik_lm_state_free(s);
    ik_lora_free(a);
    ik_lm_model_free(m);
    ik_tok_free(t);
    return rc;
}

/* The option values are checked as they are read, so the first bad one is the
 * one reported. */
static int set_max_tokens(const struct ik_optspec *s, const struct ik_opt *o, const char *v)
{
    char *end;
    int n = (int)strtol(v, &end, 10);
    if (*end || n < 1 || n > 1 << 20)
        return ik_opt_error(s->usage, "--max-tokens: expected a positive integer, got '%s'", v);
    *(int *)o->dest = n;
    return 0;
}

static int set_temperature(const struct ik_optspec *s, const struct ik_opt *o, const char *v)
{
    char *end;
    float t = strtof(v, &end);
    if (*end || !(t >= 0 && t <= 100))
        return ik_opt_error(s->usage, "--temperature: expected a number in [0, 100], got '%s'", v);
    *(float *)o->dest = t;
    return 0;
}

static int set_top_p(const struct ik_optspec *s, const struct ik_opt *o, const char *v)
{
    char *end;
    float p = strtof(v, &end);
    if (*end || !(p > 0 && p <= 1))
        return ik_opt_error(s->usage, "--top-p: expected a number in (0, 1], got '%s'", v);
    *(float *)o->dest = p;
    return 0;
}

static int set_seed(const struct ik_optspec *s, const struct ik_opt *o, const char *v)
{
    char *end;
    unsigned long long seed = strtoull(v, &end, 10);
    if (*end || *v == '-' || *v == '\0')
        return ik_opt_error(s->usage, "--seed: expected a non-negative integer, got '%s'", v);
    *(unsigned long long *)o->dest = seed;
    return 0;
}

static int set_stop(const struct ik_optspec *s, const struct ik_opt *o, const char *v)
{
    struct opts *p = o->dest;
    if (p->n_stop == 16)
        return ik_opt_error(s->usage, "--stop: at most 16 stop strings");
    if (*v == '\0')
        return ik_opt_error(s->usage, "--stop: expected a non-empty string");
    p->stop[p->n_stop++] = v;
    return 0;
}

int ik_cli_lm(int argc, char **argv)
{
    if (argc < 2 || ik_opt_is_help(argv[1])) {
        ik_opt_usage(argc < 2 ? stderr : stdout, lm_usage, NULL);
        return argc < 2 ? IK_EXIT_USAGE : IK_EXIT_OK;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "tokenize") != 0 && strcmp(verb, "generate") != 0 && strcmp(verb, "score") != 0)
        return ik_opt_error(lm_usage, "unknown lm command '%s'", verb);
    struct opts o = {.max_tokens = 64, .top_p = 1.0f};
    const struct ik_opt opts[] = {
        {"--model", NULL, IK_OPT_VALUE, &o.model, NULL},
        {"--tokenizer", NULL, IK_OPT_VALUE, &o.tokenizer, NULL},
        {"--max-tokens", NULL, IK_OPT_VALUE, &o.max_tokens, set_max_tokens},
        {"--json", NULL, IK_OPT_FLAG, &o.json, NULL},
        {"--special", NULL, IK_OPT_FLAG, &o.special, NULL},
        {"--adapter", NULL, IK_OPT_VALUE, &o.adapter, NULL},
        {"--temperature", NULL, IK_OPT_VALUE, &o.temperature, set_temperature},
        {"--top-p", NULL, IK_OPT_VALUE, &o.top_p, set_top_p},
        {"--seed", NULL, IK_OPT_VALUE, &o.seed, set_seed},
        {"--stop", NULL, IK_OPT_VALUE, &o, set_stop},
        {0},
    };
    o.texts = ik_xcalloc((size_t)argc, sizeof *o.texts);
    const struct ik_optspec spec = {
        .usage = lm_usage, .opts = opts, .pos = o.texts, .max_pos = (size_t)argc,
        .flags = IK_OPT_GETOPT, .bad_option = "unknown or incomplete option",
    };
    size_t n_pos = 0;
    int rc = ik_opt_parse(&spec, argc - 1, argv + 1, &n_pos);
    int gen = strcmp(verb, "generate") == 0;
    if (rc == 0 && o.model == NULL)
        rc = ik_opt_error(lm_usage, "--model PATH is required");
    else if (rc == 0 && (gen ? n_pos < 1 : n_pos != 1))
        rc = ik_opt_error(lm_usage, "%s", gen ? "expected at least one PROMPT argument"
                                              : "expected exactly one TEXT argument");
    if (rc != 0) {
        free(o.texts);
        return ik_opt_status(rc);
    }
    o.text = o.texts[0];
    o.n_texts = (int)n_pos;
    if (strcmp(verb, "tokenize") == 0)
        rc = cmd_tokenize(&o);
    else
        rc = gen ? cmd_generate(&o) : cmd_score(&o);
    free(o.texts);
    return rc;
}
