/* nodes/eval/model.h - the models evaluate and jcq-regress put questions
 * to: one interface over four backends, so the nodes never know where an
 * answer came from.
 *
 *   engine       in process with the LM core (lm/): a base model (an HF
 *                folder or a GGUF file on an input port), optionally with a
 *                LoRA adapter (a lora.adapter artifact from train, or an
 *                adapter GGUF, on another port); batched greedy decoding
 *                (lm/generate.h), the model's chat template
 *   ollama       POST /api/chat        } through nodes/cot/http.h: bounded
 *   openai       POST /v1/chat/...     } concurrency, retries, rpm
 *   predictions  a JSON Lines file of answers produced elsewhere, on an
 *                input port: one object per line with "answer" (or
 *                "prediction" / "response") and "question" or "index"
 *                (0-based), matched to the items by question first, else by
 *                index
 *
 * Resumable: every answer the engine or a server gives is stored the moment
 * it exists in the node's kv store (namespace IK_EVAL_KV_NS), under a hash of
 * the backend, the model's identity (the input hashes of its model and
 * adapter ports for engine; the server's model name for HTTP), the messages
 * and the generation params; a killed evaluation asks nothing twice. The
 * server's base_url and API key are not part of that hash, and the key is
 * never stored or printed.
 *
 * Prompt shortening (engine only, where the context is known): a prompt
 * whose rendered tokens plus max_new_tokens exceed the model's context has
 * the reference documents of its user message shortened, longest first, as
 * train's `truncate: documents` does (the question is never cut); the answer
 * records that it was. Servers shorten nothing.
 *
 * Threads: one model at a time belongs to one thread; the engine backend
 * uses the kernel pool underneath. */
#ifndef IK_NODES_EVAL_MODEL_H
#define IK_NODES_EVAL_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

struct ik_diag;
struct ik_node_ctx;

#define IK_EVAL_KV_NS "eval"

enum ik_eval_backend {
    IK_EVAL_ENGINE,
    IK_EVAL_OLLAMA,
    IK_EVAL_OPENAI,
    IK_EVAL_PREDICTIONS,
};

/* One entry of a node's `models` param, parsed (ik_eval_model_spec_parse).
 * Strings are NUL-terminated copies the spec owns (the param's msgpack
 * strings are not terminated): free with ik_eval_model_spec_free, after the
 * model opened from it is closed. Unset strings are NULL. */
struct ik_eval_model_spec {
    const char *name;               /* "base", "raft": names the model in reports */
    enum ik_eval_backend backend;
    /* engine */
    const char *model_port;         /* input port with the base model */
    const char *adapter_port;       /* input port with the adapter, or NULL */
    const char *tokenizer_port;     /* input port with a tokenizer file, or NULL:
                                       the model's own (a llama2.c .bin needs one) */
    const char *chat_template;      /* "auto" or a built-in name (lm/chat_template.h) */
    int batch;                      /* sequences decoded together, >= 1 */
    int max_context;                /* 0: the model's own */
    bool overflow_left;             /* a prompt too long even with its documents emptied:
                                       keep its last tokens (overflow: left) instead of
                                       failing (overflow: fail) */
    /* ollama, openai */
    const char *server_model;       /* the server's name for the model */
    const char *base_url;           /* "" = the provider's default */
    const char *api_key_env;        /* NULL or "" = no key */
    int concurrency;
    double rpm;
    double timeout_s;
    int max_retries;
    /* predictions */
    const char *predictions_port;   /* input port with the JSONL file */
    /* generation, every backend but predictions */
    double temperature;             /* 0 = greedy */
    int max_new_tokens;
    uint64_t seed;                  /* prompt i samples with seed + its index */
    const char *overflow_;          /* private: the overflow key as written */
    char *strings_;                 /* private: the copies */
};

/* Parses one element of a `models` list param: a map with `name` and
 * `backend` and that backend's keys (docs/eval-models.md lists them, with
 * their defaults). what names the param in messages ("models[2]").
 * IK_EVALIDATE with d naming the entry and the key for a missing or
 * ill-typed key, an unknown backend or key (with a did-you-mean), a port
 * that is not connected to the node. *out is set only on success. */
int ik_eval_model_spec_parse(struct ik_eval_model_spec *out, const msgpack_object *entry,
                             const char *what, struct ik_node_ctx *node, struct ik_diag *d);
void ik_eval_model_spec_free(struct ik_eval_model_spec *s);

/* The needs_env of evaluate and jcq-regress (engine/node.h): the variable
 * each entry of params' `models` list names in api_key_env. */
void ik_eval_models_needs_env(const msgpack_object *params,
                              void (*need)(void *arg, const char *name, const char *why),
                              void *arg);

/* A chat message of a prompt (borrowed). */
struct ik_eval_msg {
    const char *role; /* "system", "user", "assistant" */
    const char *content;
    size_t len;
};

/* One question. question and index are what the predictions backend matches
 * on; doc_label and question_label find the documents of a RAFT user message
 * for shortening (NULL: never shorten). */
struct ik_eval_prompt {
    const struct ik_eval_msg *msgs;
    size_t n_msgs;
    const char *question;
    size_t index;
    const char *doc_label, *question_label;
};

struct ik_eval_answer {
    char *text;             /* owned, NUL-terminated; <think>…</think> removed */
    bool hit_max_tokens;    /* generation stopped at max_new_tokens */
    bool prompt_shortened;  /* documents were shortened to fit the context */
    bool from_cache;        /* answered by an earlier, interrupted run */
    int64_t prompt_tokens;  /* 0 when the backend does not say */
    int64_t new_tokens;
};

struct ik_eval_model;

/* Opens the model (loads weights and adapter for engine, reads and indexes
 * the file for predictions, checks the URL and key variable for HTTP).
 * IK_EVALIDATE / the loaders' codes with d naming the model by its name.
 * spec (and its strings) must outlive the model. */
int ik_eval_model_open(struct ik_eval_model **out, const struct ik_eval_model_spec *spec,
                       struct ik_node_ctx *node, struct ik_diag *d);
void ik_eval_model_close(struct ik_eval_model *m);

/* Called after every answer: done of total, tokens generated so far (0 when
 * unknown). */
typedef void (*ik_eval_progress_fn)(void *arg, size_t done, size_t total, int64_t tokens);

/* Answers prompts[0..n) into answers[0..n) (free each with
 * ik_eval_answer_free). The order of work is the backend's; results are in
 * prompt order. Fails with the first error that stops the run (an HTTP
 * failure after every retry, a prompt that cannot be shortened enough, a
 * predictions file without an answer for some item, naming it), IK_ECANCELED
 * when the node is asked to stop; answers already given are stored and kept
 * for the next run either way. */
int ik_eval_model_generate(struct ik_eval_model *m, const struct ik_eval_prompt *prompts, size_t n,
                           struct ik_eval_answer *answers, ik_eval_progress_fn progress,
                           void *progress_arg, struct ik_diag *d);

/* Log-likelihood scoring (engine only; IK_EVALIDATE naming the backend
 * otherwise): for the prompt rendered through the chat template up to the
 * assistant's turn, ll[j] = sum of log p over the tokens of
 * continuations[j] (j < n_cont), n_tokens[j] their count. */
int ik_eval_model_loglik(struct ik_eval_model *m, const struct ik_eval_prompt *prompt,
                         const char *const *continuations, size_t n_cont, double *ll,
                         int *n_tokens, struct ik_diag *d);

void ik_eval_answer_free(struct ik_eval_answer *a);

/* What the model is, for reports: {name, backend, and the backend's
 * identity: model/adapter hashes, server model and URL (never the key),
 * file hash}. Packs one msgpack map. */
void ik_eval_model_pack_info(const struct ik_eval_model *m, msgpack_packer *pk);

#endif
