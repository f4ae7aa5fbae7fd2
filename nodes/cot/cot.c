/* nodes/cot/cot.c - the `cot` node type: raft.samples -> sft.samples whose
 * oracle samples carry a cited chain-of-thought answer, and a cot.report.
 *
 * A thin adapter: it checks params, reads the samples into items (documents
 * recovered from the user message), reads the API key from the environment
 * variable the graph names, runs batch.c and packs the artifacts. Refusal
 * samples pass through unchanged. Output order is input order, whatever
 * order the answers arrive in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "cache/artifact.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "nodes/cot/cot.h"
#include "engine/node.h"

static const struct ik_port_spec cot_inputs[] = {
    {"samples", "raft.samples", false, "RAFT samples (distract's train split)"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec cot_outputs[] = {
    {"sft", "sft.samples", false, "samples whose oracle answers are cited CoT answers"},
    {"report", "cot.report", false, "requests, retries, failures by cause, tokens, cost, citations"},
    {NULL, NULL, false, NULL},
};

#define PRICES_DEFAULT                                                                        \
    "{claude-haiku-4-5: {input: 1.0, output: 5.0}, claude-sonnet-4-5: {input: 3.0, output: 15.0}, " \
    "claude-opus-4-1: {input: 15.0, output: 75.0}, gpt-4o-mini: {input: 0.15, output: 0.6}, "   \
    "gpt-4o: {input: 2.5, output: 10.0}, gpt-4.1-mini: {input: 0.4, output: 1.6}, "            \
    "gpt-4.1: {input: 2.0, output: 8.0}}"

/* Param defaults are YAML flow text: the prompts are quoted with their
 * newlines escaped, which ik_cot_prompt_default mirrors (a test checks). */
#define PROMPT_DEFAULT                                                                             \
    "\"以下の質問に対して、参考文書を根拠にした回答を作成してください。正解は参考文書{oracle}に" \
    "含まれています。\\n\\n質問: {question}\\n\\n{documents}\\n\\n回答の要件:\\n1. まず、参考文書" \
    "{oracle}から回答の根拠となる箇所を「」で囲んで、一字一句変えずに引用してください。\\n2. " \
    "次に、その引用に基づいて1〜2文で推論してください。\\n3. 最後に、簡潔な回答を述べてくださ" \
    "い。\\n\\n例: 参考文書{oracle}に「○○」と記載されています。これは△△を意味しており、□□と考" \
    "えられます。したがって、回答は××です。\\n\\n自然な日本語で回答を生成してください。\""
#define REMINDER_DEFAULT                                                                           \
    "\"引用が確認できませんでした。参考文書{oracle}の本文から、根拠となる箇所を「」で囲んで一字" \
    "一句そのまま引用し、「参考文書{oracle}」と明記したうえで、1〜2文の推論と簡潔な回答をもう一" \
    "度書いてください。\""

static const struct ik_param_spec cot_params[] = {
    {"provider", IK_PARAM_STRING, "anthropic", "anthropic, openai, ollama or extractive (offline)", NULL},
    {"model", IK_PARAM_STRING, "\"\"",
     "model name; \"\" = claude-haiku-4-5-20251001 (anthropic), gpt-4o-mini (openai)", NULL},
    {"base_url", IK_PARAM_STRING, "\"\"", "API root; \"\" = the provider's public endpoint", NULL},
    {"api_key_env", IK_PARAM_STRING, "\"\"",
     "NAME of the environment variable holding the key; \"\" = ANTHROPIC_API_KEY / OPENAI_API_KEY", NULL},
    {"max_tokens", IK_PARAM_INT, "512", "longest answer, in tokens", IK_MIN(1)},
    {"temperature", IK_PARAM_FLOAT, "-1", "sampling temperature; -1 = the API's default", IK_MIN(-1)},
    {"prompt", IK_PARAM_STRING, PROMPT_DEFAULT,
     "CoT request; {oracle} {question} {documents} are filled in", NULL},
    {"reminder", IK_PARAM_STRING, REMINDER_DEFAULT, "sent after an invalid citation; {oracle}", NULL},
    {"doc_label", IK_PARAM_STRING, "参考文書", "document label of the samples' user messages", NULL},
    {"question_label", IK_PARAM_STRING, "質問", "question label of the samples' user messages", NULL},
    {"concurrency", IK_PARAM_INT, "8", "requests in flight", IK_RANGE(1, 1024)},
    {"rpm", IK_PARAM_FLOAT, "0", "requests per minute; 0 = no limit", IK_MIN(0)},
    {"timeout_s", IK_PARAM_FLOAT, "120", "seconds per request", IK_MIN(0)},
    {"retries", IK_PARAM_INT, "6", "retries per request (408, 409, 429, 5xx, 529, network)", IK_MIN(0)},
    {"backoff_s", IK_PARAM_FLOAT, "0.5", "first retry delay; doubles each retry, with jitter", IK_MIN(0)},
    {"backoff_max_s", IK_PARAM_FLOAT, "8", "longest retry delay (retry-after is honoured to 60 s)", IK_MIN(0)},
    {"max_usd", IK_PARAM_FLOAT, "10", "spend cap over all answers used; 0 = no cap", IK_MIN(0)},
    {"prices", IK_PARAM_MAP, PRICES_DEFAULT, "USD per million tokens: {model: {input, output}}", NULL},
    {"validate_retries", IK_PARAM_INT, "2", "reminders after an invalid citation", IK_MIN(0)},
    {"on_invalid", IK_PARAM_STRING, "drop", "still invalid after the reminders: drop, keep or fail", NULL},
    {"min_quote_chars", IK_PARAM_INT, "5", "shortest quote that counts, in code points", IK_MIN(0)},
    {NULL, 0, NULL, NULL, NULL},
};

struct adapter {
    struct ik_node_ctx *ctx;
    uint64_t last_counter_ms;
};

static void on_progress(void *arg, const struct ik_cot_stats *st)
{
    struct adapter *a = arg;
    ik_node_progress(a->ctx, st->done, st->samples, "samples");
    uint64_t now = (uint64_t)uv_hrtime() / 1000000u;
    if (now - a->last_counter_ms < 250 && st->done != st->samples)
        return;
    a->last_counter_ms = now;
    double secs = (double)(now - st->start_ms) / 1000.0;
    ik_node_counter(a->ctx, "in_flight", (double)st->in_flight);
    ik_node_counter(a->ctx, "req_s", secs > 0 ? (double)st->requests / secs : 0);
    ik_node_counter(a->ctx, "usd", st->usd);
}

/* Reads one record into an item; row is 1-based for messages. */
static int read_item(const msgpack_object *rec, size_t row, const char *doc_label,
                     const char *question_label, struct ik_cot_item *it, char **question,
                     struct ik_diag *d)
{
    const msgpack_object *msgs = ik_mp_get(rec, "messages");
    const msgpack_object *meta = ik_mp_get(rec, "metadata");
    if (msgs == NULL || msgs->type != MSGPACK_OBJECT_ARRAY || meta == NULL)
        return ik_diag_set(d, IK_EPARSE, "input samples: record %zu: expected messages and metadata",
                           row);
    const msgpack_object *ho = ik_mp_get(meta, "has_oracle");
    it->has_oracle = ho && ho->type == MSGPACK_OBJECT_BOOLEAN && ho->via.boolean;
    if (!it->has_oracle)
        return 0;
    const msgpack_object *user = NULL;
    for (uint32_t i = 0; i < msgs->via.array.size; i++)
        if (ik_mp_str_eq(ik_mp_get(&msgs->via.array.ptr[i], "role"), "user"))
            user = ik_mp_get(&msgs->via.array.ptr[i], "content");
    double pos = 0;
    *question = ik_mp_strdup(ik_mp_get(meta, "question"));
    if (user == NULL || user->type != MSGPACK_OBJECT_STR || *question == NULL ||
        !ik_mp_number(ik_mp_get(meta, "oracle_position"), &pos))
        return ik_diag_set(d, IK_EPARSE,
                           "input samples: record %zu: a sample with the oracle needs a user "
                           "message, metadata.question and metadata.oracle_position",
                           row);
    it->question = *question;
    it->n_docs = ik_cot_split_docs(user->via.str.ptr, user->via.str.size, doc_label,
                                   question_label, it->docs, IK_COT_MAX_DOCS);
    it->oracle = (int)pos;
    if (it->oracle < 1 || (size_t)it->oracle > it->n_docs)
        return ik_diag_set(d, IK_EPARSE,
                           "input samples: record %zu: oracle_position is %d but the user message "
                           "has %zu '%s<n>:' documents",
                           row, it->oracle, it->n_docs, doc_label);
    return 0;
}

static void pack_record(struct ik_mp_writer *w, const msgpack_object *rec, const char *answer)
{
    msgpack_packer *pk = &w->pk;
    ik_mp_map_begin(w, rec->via.map.size);
    for (uint32_t k = 0; k < rec->via.map.size; k++) {
        const msgpack_object_kv *kv = &rec->via.map.ptr[k];
        msgpack_pack_object(pk, kv->key);
        if (answer == NULL || !ik_mp_str_eq(&kv->key, "messages")) {
            msgpack_pack_object(pk, kv->val);
            continue;
        }
        const msgpack_object *m = &kv->val;
        bool has_assistant = false;
        for (uint32_t i = 0; i < m->via.array.size; i++)
            has_assistant |= ik_mp_str_eq(ik_mp_get(&m->via.array.ptr[i], "role"), "assistant");
        ik_mp_array_begin(w, m->via.array.size + (has_assistant ? 0 : 1));
        for (uint32_t i = 0; i < m->via.array.size; i++) {
            if (ik_mp_str_eq(ik_mp_get(&m->via.array.ptr[i], "role"), "assistant")) {
                ik_mp_map_begin(w, 2);
                ik_mp_pack_str(pk, "role");
                ik_mp_pack_str(pk, "assistant");
                ik_mp_pack_str(pk, "content");
                ik_mp_pack_str(pk, answer);
                ik_mp_map_end(w);
            } else {
                msgpack_pack_object(pk, m->via.array.ptr[i]);
            }
        }
        if (!has_assistant) {
            ik_mp_map_begin(w, 2);
            ik_mp_pack_str(pk, "role");
            ik_mp_pack_str(pk, "assistant");
            ik_mp_pack_str(pk, "content");
            ik_mp_pack_str(pk, answer);
            ik_mp_map_end(w);
        }
        ik_mp_array_end(w);
    }
    ik_mp_map_end(w);
}

static void pack_meta(struct ik_mp_writer *w, const struct ik_cot_config *cfg)
{
    ik_mp_map_begin(w, 2);
    ik_mp_pack_str(&w->pk, "provider");
    ik_mp_pack_str(&w->pk, cfg->provider_name);
    ik_mp_pack_str(&w->pk, "model");
    ik_mp_pack_str(&w->pk, cfg->sampling.model);
    ik_mp_map_end(w);
}

static void pack_kv_u(msgpack_packer *pk, const char *k, uint64_t v)
{
    ik_mp_pack_str(pk, k);
    msgpack_pack_uint64(pk, v);
}

static void pack_report(struct ik_mp_writer *w, const struct ik_cot_config *cfg,
                        const struct ik_cot_item *items, size_t n, const struct ik_cot_stats *st)
{
    msgpack_packer *pk = &w->pk;
    ik_artifact_begin(w, "cot.report", 1, 18);
    pack_meta(w, cfg);
    pack_kv_u(pk, "samples", st->samples);
    pack_kv_u(pk, "with_oracle", st->with_oracle);
    pack_kv_u(pk, "answered", st->with_oracle - st->dropped);
    pack_kv_u(pk, "from_cache", st->from_cache);
    pack_kv_u(pk, "requests", st->requests);
    pack_kv_u(pk, "retries", st->retries);
    ik_mp_pack_str(pk, "failures");
    ik_mp_map_begin(w, IK_COT_F_N);
    for (int i = 0; i < IK_COT_F_N; i++)
        pack_kv_u(pk, ik_cot_failure_names[i], st->failures[i]);
    ik_mp_map_end(w);
    pack_kv_u(pk, "tokens_in", (uint64_t)st->tokens_in);
    pack_kv_u(pk, "tokens_out", (uint64_t)st->tokens_out);
    ik_mp_pack_str(pk, "usd");
    msgpack_pack_double(pk, st->usd);
    ik_mp_pack_str(pk, "usd_this_run");
    msgpack_pack_double(pk, st->usd_new);
    pack_kv_u(pk, "truncated", st->truncated);
    pack_kv_u(pk, "invalid_citations", st->invalid_answers);
    ik_mp_pack_str(pk, "invalid_by_cause");
    ik_mp_map_begin(w, IK_CITE_N - 1);
    for (int i = 1; i < IK_CITE_N; i++)
        pack_kv_u(pk, ik_cite_names[i], st->invalid_by_cause[i]);
    ik_mp_map_end(w);
    pack_kv_u(pk, "invalid_samples", st->invalid_samples);
    pack_kv_u(pk, "dropped", st->dropped);
    pack_kv_u(pk, "kept_invalid", st->kept_invalid);
    ik_mp_pack_str(pk, "records");
    ik_mp_array_begin(w, (uint32_t)st->invalid_samples);
    for (size_t i = 0; i < n; i++) {
        const struct ik_cot_item *it = &items[i];
        if (!it->has_oracle || it->valid)
            continue;
        ik_mp_map_begin(w, 4);
        pack_kv_u(pk, "sample", i + 1);
        ik_mp_pack_str(pk, "question");
        ik_mp_pack_str(pk, it->question);
        ik_mp_pack_str(pk, "cause");
        ik_mp_pack_str(pk, ik_cite_names[it->cause]);
        ik_mp_pack_str(pk, "action");
        ik_mp_pack_str(pk, it->dropped ? "dropped" : "kept");
        ik_mp_map_end(w);
    }
    ik_mp_array_end(w);
    ik_artifact_end(w);
}

/* Fills cfg from the params; *key_out holds the secret (freed by caller). */
static int configure(struct ik_node_ctx *ctx, struct ik_cot_config *cfg, char **url_out,
                     char **key_out, struct ik_diag *d)
{
    const char *prov = ik_node_param_str(ctx, "provider");
    cfg->provider_name = prov;
    cfg->provider = ik_cot_provider_find(prov);
    if (cfg->provider == NULL && strcmp(prov, "extractive") != 0)
        return ik_diag_set(d, IK_EVALIDATE,
                           "param provider is '%s', expected anthropic, openai, ollama or "
                           "extractive",
                           prov);
    const char *inv = ik_node_param_str(ctx, "on_invalid");
    if (strcmp(inv, "drop") == 0)
        cfg->on_invalid = IK_COT_DROP;
    else if (strcmp(inv, "keep") == 0)
        cfg->on_invalid = IK_COT_KEEP;
    else if (strcmp(inv, "fail") == 0)
        cfg->on_invalid = IK_COT_FAIL;
    else
        return ik_diag_set(d, IK_EVALIDATE, "param on_invalid is '%s', expected drop, keep or fail",
                           inv);
    cfg->prompt = ik_node_param_str(ctx, "prompt");
    cfg->reminder = ik_node_param_str(ctx, "reminder");
    cfg->doc_label = ik_node_param_str(ctx, "doc_label");
    cfg->validate_retries = (int)ik_node_param_int(ctx, "validate_retries");
    cfg->min_quote_chars = (int)ik_node_param_int(ctx, "min_quote_chars");
    cfg->sampling.max_tokens = ik_node_param_int(ctx, "max_tokens");
    cfg->sampling.temperature = ik_node_param_float(ctx, "temperature");
    int64_t conc;
    int rc = ik_node_param_int_in(ctx, "concurrency", 1, 1024, &conc, d);
    if (rc < 0)
        return rc;
    if (cfg->validate_retries < 0 || cfg->sampling.max_tokens < 1)
        return ik_diag_set(d, IK_EVALIDATE,
                           "params validate_retries (>= 0) and max_tokens (>= 1) are out of range");
    cfg->http.concurrency = (int)conc;
    cfg->http.rpm = ik_node_param_float(ctx, "rpm");
    cfg->http.timeout_ms = (long)(ik_node_param_float(ctx, "timeout_s") * 1000.0);
    if (cfg->http.timeout_ms < 1)
        cfg->http.timeout_ms = 1;
    cfg->http.max_retries = (int)ik_node_param_int(ctx, "retries");
    if (cfg->http.max_retries < 0)
        cfg->http.max_retries = 0;
    cfg->http.backoff_s = ik_node_param_float(ctx, "backoff_s");
    cfg->http.backoff_max_s = ik_node_param_float(ctx, "backoff_max_s");
    cfg->http.seed = (uint64_t)uv_hrtime() ^ (uint64_t)getpid();
    cfg->http.max_body_bytes = 8u << 20;
    if (cfg->provider == NULL) {
        cfg->sampling.model = "extractive";
        ik_cot_budget_init(&cfg->budget, 0, NULL);
        return 0;
    }
    const char *model = ik_node_param_str(ctx, "model");
    cfg->sampling.model = model[0] ? model : cfg->provider->default_model;
    if (cfg->sampling.model[0] == '\0')
        return ik_diag_set(d, IK_EVALIDATE, "param model is required for provider %s", prov);
    const char *base = ik_node_param_str(ctx, "base_url");
    if (base[0] == '\0')
        base = cfg->provider->default_base_url;
    size_t bl = strlen(base);
    while (bl > 0 && base[bl - 1] == '/')
        bl--;
    *url_out = ik_xasprintf("%.*s%s", (int)bl, base, cfg->provider->path);
    cfg->url = *url_out;
    const char *env = ik_node_param_str(ctx, "api_key_env");
    bool named = env[0] != '\0';
    if (!named)
        env = cfg->provider->default_key_env;
    const char *key = env[0] ? getenv(env) : NULL;
    if (key != NULL && key[0] != '\0') {
        *key_out = ik_xstrdup(key);
        cfg->api_key = *key_out;
    } else if (cfg->provider->key_required || named) {
        ik_diag_set(d, IK_EVALIDATE,
                    "the environment variable %s (param api_key_env) is not set; provider %s "
                    "needs an API key",
                    env, prov);
        ik_diag_hint(d, "export %s=... before `ikada run`; the key is never stored", env);
        return IK_EVALIDATE;
    }
    double max_usd = ik_node_param_float(ctx, "max_usd");
    struct ik_cot_price price = {0, 0};
    if (max_usd > 0) {
        struct ik_diag pd = IK_DIAG_INIT;
        int rc = ik_cot_price_find(ik_node_param(ctx, "prices"), cfg->sampling.model, &price, &pd);
        if (rc == IK_ENOTFOUND && cfg->provider == &ik_cot_provider_ollama) {
            rc = 0; /* a local model costs nothing */
        } else if (rc != 0) {
            ik_diag_set(d, rc, "%s", ik_diag_message(&pd) + 7);
            ik_diag_hint(d, "add the model to param prices (USD per million tokens), or set "
                            "max_usd: 0 for no cap");
        }
        ik_diag_free(&pd);
        if (rc != 0)
            return rc;
    }
    ik_cot_budget_init(&cfg->budget, max_usd, &price);
    return 0;
}

static int cot_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    struct ik_cot_config cfg = {0};
    char *url = NULL, *key = NULL;
    struct ik_cot_item *items = NULL;
    char **questions = NULL;
    size_t n = 0;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    struct ik_cot_stats st = {0};
    int rc = configure(ctx, &cfg, &url, &key, d);
    const msgpack_object *root = NULL, *recs = NULL;
    if (rc == 0)
        rc = ik_node_input_object(ctx, "samples", &root, d);
    if (rc == 0) {
        if (!ik_mp_str_eq(ik_mp_get(root, "kind"), "raft.samples") ||
            (recs = ik_mp_get(root, "records")) == NULL || recs->type != MSGPACK_OBJECT_ARRAY)
            rc = ik_diag_set(d, IK_EVALIDATE,
                             "input samples: expected a raft.samples artifact (from distract)");
    }
    if (rc == 0) {
        n = recs->via.array.size;
        items = ik_xcalloc(n ? n : 1, sizeof *items);
        questions = ik_xcalloc(n ? n : 1, sizeof *questions);
        for (size_t i = 0; i < n && rc == 0; i++)
            rc = read_item(&recs->via.array.ptr[i], i + 1, cfg.doc_label,
                           ik_node_param_str(ctx, "question_label"), &items[i], &questions[i], d);
    }
    if (cfg.provider != NULL)
        cfg.node = ctx; /* the response cache (response_cache.c) */
    struct adapter ad = {ctx, 0};
    cfg.progress = on_progress;
    cfg.progress_arg = &ad;
    if (rc == 0)
        rc = ik_cot_batch_run(&cfg, items, n, &st, d);
    if (rc == 0) {
        ik_artifact_begin(&w, "sft.samples", 1, 1);
        pack_meta(&w, &cfg);
        ik_mp_pack_str(&w.pk, "records");
        ik_mp_array_begin(&w, (uint32_t)(n - st.dropped));
        for (size_t i = 0; i < n; i++)
            if (!items[i].dropped)
                pack_record(&w, &recs->via.array.ptr[i], items[i].has_oracle ? items[i].answer : NULL);
        ik_mp_array_end(&w);
        ik_artifact_end(&w);
        rc = ik_node_output(ctx, "sft", w.sb.data, w.sb.size, d);
        ik_mp_writer_clear(&w);
    }
    if (rc == 0) {
        pack_report(&w, &cfg, items, n, &st);
        rc = ik_node_output(ctx, "report", w.sb.data, w.sb.size, d);
    }
    if (rc != 0 && st.requests > 0)
        fprintf(stderr, "cot: %zu request(s), %zu retries, $%.4f spent in this run\n",
                st.requests, st.retries, st.usd_new);
    ik_cot_items_free(items, n);
    for (size_t i = 0; questions && i < n; i++)
        free(questions[i]);
    free(questions);
    if (key) {
        explicit_bzero(key, strlen(key));
        free(key);
    }
    free(url);
    ik_mp_writer_free(&w);
    return rc;
}

/* The key a node that must run needs (engine/node.h needs_env): the one
 * api_key_env names, else the provider's own when it requires one. */
static void cot_needs_env(const msgpack_object *params,
                          void (*need)(void *arg, const char *name, const char *why), void *arg)
{
    char *prov = ik_mp_strdup(ik_mp_get(params, "provider"));
    char *env = ik_mp_strdup(ik_mp_get(params, "api_key_env"));
    const struct ik_cot_provider *p = prov ? ik_cot_provider_find(prov) : NULL;
    bool named = env != NULL && env[0] != '\0';
    const char *name = named ? env : p ? p->default_key_env : "";
    if (p != NULL && name[0] != '\0' && (p->key_required || named)) {
        char why[128];
        snprintf(why, sizeof why, "%s of provider %s", named ? "param api_key_env" : "the API key",
                 prov);
        need(arg, name, why);
    }
    free(prov);
    free(env);
}

const struct ik_node_type ik_node_cot = {
    .name = "cot",
    .version = 1,
    .summary = "cited chain-of-thought answers from an LLM API (or offline), resumable, budgeted",
    .inputs = cot_inputs,
    .outputs = cot_outputs,
    .params = cot_params,
    .cpu = 1,
    .needs_env = cot_needs_env,
    .run = cot_run,
};
