/* nodes/eval/model_int.h - internal to nodes/eval/model*.c (and their tests
 * and fuzz target): the model behind the opaque struct ik_eval_model, the
 * table each backend fills (one file per backend: model_engine.c,
 * model_http.c, model_predictions.c), the answer cache, and the predictions
 * reader.
 *
 * The dispatcher (model.c) owns what every backend shares: it looks each
 * prompt up in the answer cache first, hands the backend only the prompts
 * without a cached answer (a job), and the backend calls ik__eval_job_done
 * for each answer the moment it has it, which stores it in the kv store,
 * reports progress and checks whether the node was asked to stop. */
#ifndef IK_NODES_EVAL_MODEL_INT_H
#define IK_NODES_EVAL_MODEL_INT_H

#include "base/hash.h"
#include "nodes/eval/model.h"

struct ik_eval_backend_ops;

struct ik_eval_model {
    struct ik_eval_model_spec spec;  /* a copy; its strings are the caller's spec's */
    const struct ik_eval_backend_ops *ops;
    struct ik_node_ctx *node;
    /* What names the model in the cache key, set by the backend's open:
     * engine "<model hash>+<adapter hash or ->" and its template and
     * context; HTTP the server's model name. Owned. */
    char *identity;
    void *impl;                      /* the backend's state */
};

/* The prompts of one generate call that still need an answer. */
struct ik_eval_job {
    struct ik_eval_model *m;
    const struct ik_eval_prompt *prompts; /* all n of the call */
    struct ik_eval_answer *answers;       /* all n of the call */
    const size_t *todo;                   /* indices into prompts, in order */
    size_t n_todo;
    const struct ik_hash *keys;           /* (n) cache keys; NULL when not cached */
    /* progress */
    size_t done, total;
    int64_t tokens;
    ik_eval_progress_fn progress;
    void *progress_arg;
};

/* Records that answers[i] (filled by the backend) is final: stores it in the
 * cache (when the backend caches), counts it and reports progress. 0,
 * IK_ECANCELED when the node was asked to stop, or the store's -errno with d
 * filled. Callable from the run's thread only. */
int ik__eval_job_done(struct ik_eval_job *job, size_t i, struct ik_diag *d);

struct ik_eval_backend_ops {
    const char *name;       /* "engine", "ollama", "openai", "predictions" */
    bool cached;            /* answers go through the kv answer cache */
    int n_info;             /* entries pack_info adds to the info map */
    int (*open)(struct ik_eval_model *m, struct ik_diag *d);
    void (*close)(struct ik_eval_model *m);
    /* Answers job->todo, calling ik__eval_job_done after each answer; on
     * failure answers already done stay done (the caller frees them). */
    int (*generate)(struct ik_eval_job *job, struct ik_diag *d);
    /* NULL: the backend cannot score. */
    int (*loglik)(struct ik_eval_model *m, const struct ik_eval_prompt *prompt,
                  const char *const *continuations, size_t n_cont, double *ll, int *n_tokens,
                  struct ik_diag *d);
    void (*pack_info)(const struct ik_eval_model *m, msgpack_packer *pk);
};

extern const struct ik_eval_backend_ops ik__eval_engine_ops, ik__eval_ollama_ops,
    ik__eval_openai_ops, ik__eval_predictions_ops;

/* "engine", "ollama", ... */
const char *ik__eval_backend_name(enum ik_eval_backend b);

/* Packs key (a string) and the hex of an input port's content hash, or nil
 * when port is NULL or has no hash. */
void ik__eval_pack_port_hash(const struct ik_eval_model *m, msgpack_packer *pk, const char *key,
                             const char *port);

/* --- model_cache.c: the answer cache --------------------------------------- */

/* The answer's key: SHA-256 of a canonical msgpack of backend, identity,
 * messages and the generation params (the seed only when temperature > 0,
 * and then the prompt's own seed, spec seed + index). Never the URL or key. */
void ik__eval_answer_key(const struct ik_eval_model *m, const struct ik_eval_prompt *p,
                         struct ik_hash *out);
/* 0 with *a filled (from_cache set), -ENOENT when there is none (also for a
 * value this version cannot read, which the next put replaces), or the
 * store's code with d filled. */
int ik__eval_answer_get(struct ik_node_ctx *node, const struct ik_hash *key,
                        struct ik_eval_answer *a, struct ik_diag *d);
int ik__eval_answer_put(struct ik_node_ctx *node, const struct ik_hash *key,
                        const struct ik_eval_answer *a, struct ik_diag *d);

/* --- model_predictions.c: the JSON Lines reader ------------------------------ */

struct ik_eval_pred {
    char *question;  /* owned, or NULL */
    int64_t index;   /* -1 when the line has none */
    char *answer;    /* owned, <think>…</think> removed and trimmed */
    long line;       /* 1-based line of the file */
};

struct ik_eval_preds {
    struct ik_eval_pred *v;
    size_t n;
};

/* Reads data[0..len) of the file called name: one JSON object per line
 * (blank lines skipped) with a string "answer" (else "prediction", else
 * "response") and a string "question" and/or an integer "index" >= 0.
 * IK_EPARSE / IK_EVALIDATE as "<name>:<line>: error: ..." otherwise. *out
 * is set (free with ik__eval_preds_free) only on success. */
int ik__eval_preds_parse(const char *name, const char *data, size_t len,
                         struct ik_eval_preds *out, struct ik_diag *d);
void ik__eval_preds_free(struct ik_eval_preds *p);

/* match[i] (n) receives the line of preds matched to prompts[i]: the first
 * line not yet taken whose question equals prompts[i].question, else the
 * first one not yet taken whose index equals prompts[i].index. IK_EVALIDATE
 * naming the first item without one (its index and question) and the file. */
int ik__eval_preds_match(const struct ik_eval_preds *preds, const char *name,
                         const struct ik_eval_prompt *prompts, size_t n, size_t *match,
                         struct ik_diag *d);

#endif
