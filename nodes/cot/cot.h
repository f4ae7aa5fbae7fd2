/* nodes/cot/cot.h - the pieces of the `cot` node type (cited chain-of-thought
 * answers from an LLM API), shared by the files of nodes/cot/ and its tests.
 *
 * Flow: cot.c reads params and the raft.samples input into items; batch.c
 * answers every item that has an oracle (cache first, else an HTTP request
 * through http.h with a provider's body/headers/parser), checks each answer's
 * citation (citation.c), asks again with a reminder when it is invalid, and
 * keeps the spend under max_usd (budget.c). Responses are stored the moment
 * they arrive (response_cache.c), so a killed run resumes without paying
 * twice. The API key lives only in memory (config.api_key and the request
 * headers); every text that leaves the node goes through ik_cot_redact.
 * Single-threaded: everything runs on the node's own libuv loop, except the
 * cache writes, which run on libuv's thread pool. */
#ifndef IK_NODES_COT_COT_H
#define IK_NODES_COT_COT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "base/hash.h"
#include "base/buf.h"
#include "base/diag.h"
#include "nodes/cot/http.h"

#define IK_COT_MAX_DOCS 64

struct ik_node_ctx; /* engine/node.h: the response cache goes through its ik_node_kv_* */

/* --- prompt.c -------------------------------------------------------------- */

extern const char ik_cot_prompt_default[];   /* placeholders {oracle} {question} {documents} */
extern const char ik_cot_reminder_default[]; /* placeholder {oracle} */

struct ik_cot_doc {
    const char *text; /* borrowed */
    size_t len;
};

/* Splits a RAFT user message (nodes/raft/raft_prompt.h layout) into its documents
 * "<label>1:\n…" .. "<label>n:\n…" ending before "\n\n<question_label>: ".
 * Returns the number of documents found (0 when the layout does not match). */
size_t ik_cot_split_docs(const char *user, size_t len, const char *doc_label,
                         const char *question_label, struct ik_cot_doc *docs, size_t max_docs);

/* Renders tmpl, replacing {oracle}, {question} and {documents} (the documents
 * as "<label>i:\n<doc>" joined by blank lines, then stripped). Unknown
 * {words} are copied as they are. Cannot fail. */
void ik_cot_render(struct ik_buf *out, const char *tmpl, int oracle, const char *question,
                   const struct ik_cot_doc *docs, size_t n_docs, const char *doc_label);

/* --- citation.c ------------------------------------------------------------ */

enum ik_cite {
    IK_CITE_OK,
    IK_CITE_NO_DOCUMENT,    /* names no <label>N at all */
    IK_CITE_WRONG_DOCUMENT, /* names other documents, never the oracle's number */
    IK_CITE_NO_QUOTE,       /* no 「…」 of at least min_quote_chars code points */
    IK_CITE_QUOTE_NOT_FOUND,/* quotes, but none appears in the oracle document */
    IK_CITE_N
};
/* "ok", "no_document", "wrong_document", "no_quote", "quote_not_in_document". */
extern const char *const ik_cite_names[IK_CITE_N];

/* Checks that answer names "<doc_label><oracle>" (ASCII or full-width
 * digits, not followed by another digit) and has at least one 「…」 quote of
 * at least min_quote_chars code points whose text, after deleting all
 * whitespace (ASCII and U+3000) from both, appears in the oracle document;
 * "…" or "..." inside a quote splits it into parts that must appear in
 * order. Cannot fail. */
enum ik_cite ik_cot_cite_check(const char *answer, size_t len, const char *doc_label, int oracle,
                               const char *doc, size_t doc_len, int min_quote_chars);

/* --- provider_*.c ------------------------------------------------------------ */

struct ik_cot_msg {
    const char *role; /* "user" | "assistant" */
    const char *content;
    size_t len;
};

struct ik_cot_sampling {
    const char *model;
    int64_t max_tokens;
    double temperature; /* < 0: not sent (the API's default) */
};

struct ik_cot_reply {
    char *text; /* owned: the answer, <think>…</think> removed, trimmed */
    int64_t in_tokens, out_tokens;
    bool truncated; /* stopped at max_tokens */
};

struct ik_cot_provider {
    const char *name;
    const char *default_base_url;
    const char *default_model;   /* "" = the graph must name one */
    const char *default_key_env; /* "" = no key by default */
    bool key_required;
    const char *path;            /* appended to base_url */
    /* The JSON request body. Cannot fail. */
    void (*body)(const struct ik_cot_sampling *s, const struct ik_cot_msg *m, size_t n,
                 struct ik_buf *out);
    /* Request headers (content-type and, when key is not NULL, the key). */
    struct curl_slist *(*headers)(const char *key);
    /* Parses a 2xx body: 0 and *out (free with ik_cot_reply_free), or
     * IK_EPARSE with why filled ("not JSON at offset 12", "no content"). */
    int (*parse)(const char *body, size_t len, struct ik_cot_reply *out, struct ik_buf *why);
};

extern const struct ik_cot_provider ik_cot_provider_anthropic, ik_cot_provider_openai,
    ik_cot_provider_ollama;
/* The HTTP provider called name, or NULL (also for "extractive"). */
const struct ik_cot_provider *ik_cot_provider_find(const char *name);

/* reply.c: helpers the providers share. */
void ik_cot_reply_free(struct ik_cot_reply *r);
/* Removes every <think>…</think> (and an unclosed leading <think>…) and trims
 * whitespace; returns an owned copy. */
char *ik_cot_clean_text(const char *s, size_t len);
/* The API's own error message from an error body ({"error":{"message"}},
 * {"error":"…"}, {"message"}), or the body's first 200 bytes when it is not
 * JSON; appended to out. */
void ik_cot_api_error(const char *body, size_t len, struct ik_buf *out);
/* The messages as a JSON array [{role, content}]. */
struct json_t *ik_cot_messages_json(const struct ik_cot_msg *m, size_t n);
/* Appends root as compact JSON (UTF-8 kept) and releases root. */
void ik_cot_json_dump(struct json_t *root, struct ik_buf *out);
/* content-type: application/json and an empty Expect (no 100-continue). */
struct curl_slist *ik_cot_json_headers(void);
/* Appends "name: value" and wipes the temporary line (value is a secret). */
struct curl_slist *ik_cot_header_secret(struct curl_slist *h, const char *name, const char *value);
/* JSON headers plus "Authorization: Bearer <key>" when key is not NULL
 * (OpenAI-compatible servers, Ollama behind a proxy). */
struct curl_slist *ik_cot_bearer_headers(const char *key);
/* Parses a response body; NULL with "not JSON at offset N: …" in why. */
struct json_t *ik_cot_parse_body(const char *text, size_t len, struct ik_buf *why);
/* Replaces every occurrence of secret (when non-empty) in s by "***", in
 * place; returns s. */
char *ik_cot_redact(char *s, const char *secret);

/* provider_extractive.c: the offline answer for one sample: the oracle's
 * sentence sharing most characters with the question (at least
 * min_quote_chars code points when any is), quoted, one sentence of
 * reasoning, the answer. Owned result. */
char *ik_cot_extractive_answer(const char *question, const char *doc, size_t doc_len,
                               int oracle, const char *doc_label, int min_quote_chars);

/* --- response_cache.c ---------------------------------------------------------- */

#define IK_COT_KV_NS "cot"

/* The request key: SHA-256 of a canonical msgpack of provider, model,
 * messages and sampling params. base_url and the key are not part of it. */
void ik_cot_request_key(const char *provider, const struct ik_cot_sampling *s,
                        const struct ik_cot_msg *m, size_t n, struct ik_hash *out);
/* Through the node's store (ik_node_kv_get/put of engine/node.h, namespace
 * IK_COT_KV_NS); like those, callable from any thread.
 * get: 0 and the stored body (owned, NUL-terminated) or -ENOENT; other
 * failures -errno / IK_ECORRUPT with d filled. */
int ik_cot_cache_get(struct ik_node_ctx *node, const struct ik_hash *key, char **body, size_t *len,
                     struct ik_diag *d);
/* Stores body durably under key before returning. 0 or -errno. */
int ik_cot_cache_put(struct ik_node_ctx *node, const struct ik_hash *key, const char *body,
                     size_t len, struct ik_diag *d);

/* --- budget.c ------------------------------------------------------------------- */

struct ik_cot_price {
    double in_usd_per_mtok, out_usd_per_mtok;
};

/* Finds model in a prices map {model: {input: usd/Mtok, output: usd/Mtok}}:
 * an exact name, else the longest key that is a prefix of model. 0, or
 * IK_ENOTFOUND, or IK_EVALIDATE (an entry without numbers) with d filled. */
int ik_cot_price_find(const msgpack_object *prices, const char *model, struct ik_cot_price *out,
                      struct ik_diag *d);

struct ik_cot_budget {
    double max_usd;      /* 0 = no cap */
    struct ik_cot_price price;
    double spent_usd;    /* responses used (cached or new) */
    double new_usd;      /* responses paid for in this run */
    double reserved_usd; /* upper bounds of the requests in flight */
    double tok_per_byte; /* highest input tokens per request byte seen; 0 = none */
};

void ik_cot_budget_init(struct ik_cot_budget *b, double max_usd, const struct ik_cot_price *p);
double ik_cot_budget_cost(const struct ik_cot_budget *b, int64_t in_tokens, int64_t out_tokens);
/* Reserves the worst case of a request of body_bytes and max_tokens: true
 * and *reservation when spent + reserved + it stays within max_usd. */
bool ik_cot_budget_reserve(struct ik_cot_budget *b, size_t body_bytes, int64_t max_tokens,
                           double *reservation);
/* Releases a reservation (0 for a cached answer) and books the real cost. */
void ik_cot_budget_settle(struct ik_cot_budget *b, double reservation, size_t body_bytes,
                          int64_t in_tokens, int64_t out_tokens, bool paid_now);

/* --- batch.c -------------------------------------------------------------------- */

enum ik_cot_on_invalid { IK_COT_DROP, IK_COT_KEEP, IK_COT_FAIL };

/* Failed attempts, by cause (report "failures"). */
enum {
    IK_COT_F_NETWORK, IK_COT_F_TIMEOUT, IK_COT_F_408, IK_COT_F_409, IK_COT_F_429, IK_COT_F_5XX,
    IK_COT_F_529, IK_COT_F_BAD_BODY, IK_COT_F_4XX, IK_COT_F_N
};
extern const char *const ik_cot_failure_names[IK_COT_F_N];

struct ik_cot_item {
    bool has_oracle;
    int oracle;             /* 1-based */
    const char *question;   /* borrowed */
    struct ik_cot_doc docs[IK_COT_MAX_DOCS];
    size_t n_docs;
    /* results */
    char *answer;           /* owned: final answer; NULL = none (dropped or refusal) */
    bool done, valid, dropped;
    enum ik_cite cause;     /* of the last invalid answer */
    /* private to batch.c */
    char *prompt;
    char **replies;
    int n_replies;
    bool queued;
};

struct ik_cot_stats {
    size_t samples, with_oracle, done, from_cache, requests, retries, in_flight;
    size_t failures[IK_COT_F_N];
    size_t invalid_answers;           /* every invalid answer seen, retried or not */
    size_t invalid_by_cause[IK_CITE_N];
    size_t invalid_samples, dropped, kept_invalid, truncated;
    int64_t tokens_in, tokens_out;
    double usd, usd_new;
    uint64_t start_ms;
};

struct ik_cot_config {
    const char *provider_name;
    const struct ik_cot_provider *provider; /* NULL: extractive */
    struct ik_cot_sampling sampling;
    const char *url;     /* base_url + path */
    const char *api_key; /* NULL or the secret; never printed */
    const char *prompt, *reminder, *doc_label;
    struct ik_http_opts http;
    int validate_retries;
    enum ik_cot_on_invalid on_invalid;
    int min_quote_chars;
    struct ik_cot_budget budget;
    struct ik_node_ctx *node; /* the response cache's store; NULL: none (tests) */
    void (*progress)(void *arg, const struct ik_cot_stats *st);
    void *progress_arg;
};

/* Answers every item with an oracle; items without one are done at once.
 * Returns 0 when every item is done (answers valid, kept or dropped as
 * on_invalid says), else a negative code with d filled: IK_EHTTP (a 4xx
 * that stops the node, or requests that failed after every retry), IK_ECANCELED
 * (max_usd reached: d says what was spent), IK_EVALIDATE (on_invalid fail).
 * st is filled either way. */
int ik_cot_batch_run(struct ik_cot_config *cfg, struct ik_cot_item *items, size_t n,
                     struct ik_cot_stats *st, struct ik_diag *d);
void ik_cot_items_free(struct ik_cot_item *items, size_t n);

#endif
