/* cli/lm.c - `ikada lm tokenize|generate|score`: the language-model core
 * (lm/) from the command line, for people checking a model and for the
 * tests. Plain output is for reading; --json output is one JSON object. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "cli/cli.h"
#include "base/diag.h"
#include "base/xmalloc.h"
#include "lm/generate.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/tokenizer.h"

static const char usage_text[] =
    "usage: ikada lm tokenize --model PATH [--tokenizer FILE] [--special] [--json] TEXT\n"
    "       ikada lm generate --model PATH [--tokenizer FILE] [--adapter DIR] [--max-tokens N]\n"
    "                         [--temperature T] [--top-p P] [--seed S] [--stop STR]... [--json]\n"
    "                         PROMPT...\n"
    "       ikada lm score    --model PATH [--tokenizer FILE] [--adapter DIR] [--json] TEXT\n"
    "\n"
    "PATH is a Hugging Face folder (config.json + safetensors) or a llama2.c .bin file.\n"
    "The tokenizer is FILE, else tokenizer.json, tokenizer.model or the one *.model\n"
    "file beside the model. generate and score prepend the tokenizer's BOS when it has\n"
    "one. generate is greedy unless --temperature > 0 (then top-p sampling seeded\n"
    "by --seed; prompt i uses seed + i), and stops at EOS or after a --stop string\n"
    "(cut from the text). --adapter adds a PEFT LoRA folder. --special parses\n"
    "special tokens (<s>, <|im_start|>) written in TEXT; generate and score always do.\n";

struct opts {
    const char *model, *tokenizer, *text, *adapter;
    int json, special, max_tokens;
    float temperature, top_p;
    unsigned long long seed;
    const char **stop;
    int n_stop;
    char **texts; /* generate: every PROMPT */
    int n_texts;
};

static int usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "ikada: error: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n%s", usage_text);
    return IK_EXIT_USAGE;
}

static int fail(struct ik_diag *d)
{
    ik_diag_print(d);
    ik_diag_free(d);
    return IK_EXIT_USAGE;
}

/* The tokenizer file for the model at path (the caller frees), or NULL. */
static char *find_tokenizer(const char *model)
{
    struct stat sb;
    char *dir = ik_xstrdup(model);
    if (stat(model, &sb) == 0 && !S_ISDIR(sb.st_mode)) {
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
        else {
            free(dir);
            dir = ik_xstrdup(".");
        }
    }
    static const char *const names[] = {"tokenizer.json", "tokenizer.model", NULL};
    char *found = NULL;
    for (int i = 0; names[i] && !found; i++) {
        char *p = ik_xasprintf("%s/%s", dir, names[i]);
        if (access(p, R_OK) == 0)
            found = p;
        else
            free(p);
    }
    /* llama2.c folders ship e.g. tok512.model: take the only *.model file. */
    DIR *dh = found ? NULL : opendir(dir);
    struct dirent *e;
    int count = 0;
    while (dh && (e = readdir(dh)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l > 6 && strcmp(e->d_name + l - 6, ".model") == 0 && count++ == 0)
            found = ik_xasprintf("%s/%s", dir, e->d_name);
    }
    if (dh)
        closedir(dh);
    if (count > 1) {
        free(found);
        found = NULL;
    }
    free(dir);
    return found;
}

static int load_tokenizer(const struct opts *o, struct ik_tok **t)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct stat sb;
    if (o->tokenizer == NULL && stat(o->model, &sb) != 0) {
        ik_diag_set(&d, -errno, "cannot open model '%s': %s", o->model, strerror(errno));
        return fail(&d);
    }
    char *path = o->tokenizer ? ik_xstrdup(o->tokenizer) : find_tokenizer(o->model);
    if (path == NULL) {
        fprintf(stderr, "ikada: error: no tokenizer.json, tokenizer.model or single *.model file beside "
                        "'%s'\nhint: name one with --tokenizer FILE\n", o->model);
        return IK_EXIT_USAGE;
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
    if (o->adapter && ik_lora_load(a, &(*m)->cfg, o->adapter, &d) != 0) {
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
            rc = usage_error("%s", "the prompt is empty and the tokenizer has no BOS to start from");
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
        rc = usage_error("%s", "scoring needs at least two tokens (BOS and one more)");
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

int ik_cli_lm(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? IK_EXIT_USAGE : IK_EXIT_OK;
    }
    const char *verb = argv[1];
    if (strcmp(verb, "tokenize") != 0 && strcmp(verb, "generate") != 0 && strcmp(verb, "score") != 0)
        return usage_error("unknown lm command '%s'", verb);
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'}, {"tokenizer", required_argument, NULL, 't'},
        {"max-tokens", required_argument, NULL, 'n'}, {"json", no_argument, NULL, 'j'},
        {"special", no_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
        {"adapter", required_argument, NULL, 'a'}, {"temperature", required_argument, NULL, 'T'},
        {"top-p", required_argument, NULL, 'p'}, {"seed", required_argument, NULL, 'S'},
        {"stop", required_argument, NULL, 'x'}, {NULL, 0, NULL, 0},
    };
    struct opts o = {NULL, NULL, NULL, NULL, 0, 0, 64, 0.0f, 1.0f, 0, NULL, 0, NULL, 0};
    const char *stops[16];
    o.stop = stops;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
        char *end;
        switch (c) {
        case 'm': o.model = optarg; break;
        case 't': o.tokenizer = optarg; break;
        case 'j': o.json = 1; break;
        case 's': o.special = 1; break;
        case 'h': fputs(usage_text, stdout); return IK_EXIT_OK;
        case 'n':
            o.max_tokens = (int)strtol(optarg, &end, 10);
            if (*end || o.max_tokens < 1 || o.max_tokens > 1 << 20)
                return usage_error("--max-tokens: expected a positive integer, got '%s'", optarg);
            break;
        case 'a': o.adapter = optarg; break;
        case 'T':
            o.temperature = strtof(optarg, &end);
            if (*end || !(o.temperature >= 0 && o.temperature <= 100))
                return usage_error("--temperature: expected a number in [0, 100], got '%s'", optarg);
            break;
        case 'p':
            o.top_p = strtof(optarg, &end);
            if (*end || !(o.top_p > 0 && o.top_p <= 1))
                return usage_error("--top-p: expected a number in (0, 1], got '%s'", optarg);
            break;
        case 'S':
            o.seed = strtoull(optarg, &end, 10);
            if (*end || *optarg == '-' || *optarg == '\0')
                return usage_error("--seed: expected a non-negative integer, got '%s'", optarg);
            break;
        case 'x':
            if (o.n_stop == 16)
                return usage_error("%s", "--stop: at most 16 stop strings");
            if (*optarg == '\0')
                return usage_error("%s", "--stop: expected a non-empty string");
            stops[o.n_stop++] = optarg;
            break;
        default:
            return usage_error("unknown or incomplete option '%s'", argv[optind]);
        }
    }
    if (o.model == NULL)
        return usage_error("%s", "--model PATH is required");
    int gen = strcmp(verb, "generate") == 0;
    if (gen ? optind + 1 > argc - 1 : optind + 1 != argc - 1)
        return usage_error("%s", gen ? "expected at least one PROMPT argument"
                                     : "expected exactly one TEXT argument");
    o.text = argv[optind + 1];
    o.texts = argv + optind + 1;
    o.n_texts = argc - 1 - optind;
    if (strcmp(verb, "tokenize") == 0)
        return cmd_tokenize(&o);
    return strcmp(verb, "generate") == 0 ? cmd_generate(&o) : cmd_score(&o);
}
