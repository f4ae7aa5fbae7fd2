/* nodes/eval/model_http.c - the ollama and openai backends: the cot node's
 * HTTP engine (nodes/cot/http.h: bounded concurrency, rpm, retries with
 * backoff honouring retry-after) with its providers' request bodies,
 * headers and reply parsers (think blocks removed). Each answer is stored
 * through ik__eval_job_done the moment its response arrives, so a killed run
 * sends no request twice. The API key is read from the environment at open
 * and lives only in the request headers; every message that leaves is
 * redacted. A failure after every retry names the item and the server's
 * message; the transfers already in flight finish first, so their answers
 * are kept too. */
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "nodes/cot/cot.h"
#include "nodes/cot/http.h"
#include "nodes/eval/model_int.h"

struct http_model {
    const struct ik_cot_provider *provider;
    char *url;
    char *key; /* NULL: none; a secret */
    struct curl_slist *headers;
};

static int http_open(struct ik_eval_model *m, struct ik_diag *d)
{
    const struct ik_cot_provider *p =
        m->spec.backend == IK_EVAL_OLLAMA ? &ik_cot_provider_ollama : &ik_cot_provider_openai;
    const char *base = m->spec.base_url && *m->spec.base_url ? m->spec.base_url
                                                             : p->default_base_url;
    if (strncmp(base, "http://", 7) != 0 && strncmp(base, "https://", 8) != 0)
        return ik_diag_set(d, IK_EVALIDATE, "base_url '%s' is not an http:// or https:// URL",
                           base);
    const char *env = m->spec.api_key_env;
    const char *key = NULL;
    if (env && *env) {
        key = getenv(env);
        if (key == NULL || *key == '\0') {
            ik_diag_set(d, IK_EVALIDATE, "api_key_env names %s, which is not set", env);
            ik_diag_hint(d, "export %s=... before `ikada run`; the key is never stored", env);
            return IK_EVALIDATE;
        }
    }
    struct http_model *h = ik_xcalloc(1, sizeof *h);
    h->provider = p;
    size_t n = strlen(base);
    h->url = ik_xasprintf("%.*s%s", (int)(n > 0 && base[n - 1] == '/' ? n - 1 : n), base, p->path);
    h->key = key ? ik_xstrdup(key) : NULL;
    h->headers = p->headers(h->key);
    m->impl = h;
    m->identity = ik_xstrdup(m->spec.server_model);
    return 0;
}

static void http_close(struct ik_eval_model *m)
{
    struct http_model *h = m->impl;
    if (h == NULL)
        return;
    curl_slist_free_all(h->headers);
    if (h->key) {
        memset(h->key, 0, strlen(h->key));
        free(h->key);
    }
    free(h->url);
    free(h);
}

/* ---- one generate call ---- */

struct run {
    struct ik_eval_job *job;
    struct http_model *h;
    size_t next;       /* next todo entry to send */
    bool stopping;
    int rc;            /* the first failure */
    struct ik_diag *d;
};

struct req {
    struct ik_http_req r;
    size_t item;       /* index into the call's prompts */
    struct ik_buf body;
};

static void fail(struct run *run, struct ik_http *h, int code, char *msg)
{
    ik_cot_redact(msg, run->h->key);
    if (run->rc == 0)
        run->rc = ik_diag_set(run->d, code, "%s", msg);
    free(msg);
    run->stopping = true;
    ik_http_stop(h, false); /* the answers in flight still arrive and are kept */
}

static struct ik_http_req *next_req(void *arg)
{
    struct run *run = arg;
    struct ik_eval_job *job = run->job;
    if (run->stopping || run->next == job->n_todo)
        return NULL;
    size_t i = job->todo[run->next++];
    const struct ik_eval_prompt *p = &job->prompts[i];
    struct ik_cot_msg *msgs = ik_xcalloc(p->n_msgs ? p->n_msgs : 1, sizeof *msgs);
    for (size_t k = 0; k < p->n_msgs; k++)
        msgs[k] = (struct ik_cot_msg){p->msgs[k].role, p->msgs[k].content, p->msgs[k].len};
    const struct ik_eval_model_spec *s = &job->m->spec;
    struct ik_cot_sampling smp = {s->server_model, s->max_new_tokens, s->temperature};
    struct req *q = ik_xcalloc(1, sizeof *q);
    q->item = i;
    run->h->provider->body(&smp, msgs, p->n_msgs, &q->body);
    free(msgs);
    q->r.url = run->h->url;
    q->r.headers = run->h->headers;
    q->r.body = q->body.data;
    q->r.body_len = q->body.len;
    q->r.user = q;
    return &q->r;
}

static void req_free(struct req *q)
{
    ik_buf_free(&q->body);
    free(q);
}

/* "HTTP 429: <the server's message>" or the network error. */
static char *describe(const struct ik_http_resp *r)
{
    if (r->cls == IK_HTTP_NETWORK || r->cls == IK_HTTP_TIMEOUT)
        return ik_xstrdup(r->error);
    struct ik_buf m = IK_BUF_INIT;
    ik_buf_printf(&m, "HTTP %ld: ", r->status);
    ik_cot_api_error(r->body, r->body_len, &m);
    return ik_buf_steal(&m);
}

static void store(struct run *run, struct ik_http *h, size_t i, struct ik_cot_reply *reply)
{
    struct ik_eval_answer *a = &run->job->answers[i];
    a->text = reply->text;
    reply->text = NULL;
    a->prompt_tokens = reply->in_tokens;
    a->new_tokens = reply->out_tokens;
    a->hit_max_tokens = reply->truncated;
    struct ik_diag sd = IK_DIAG_INIT;
    int rc = ik__eval_job_done(run->job, i, &sd);
    if (rc != 0)
        fail(run, h, rc, ik_xstrdup(ik_diag_message(&sd)));
    ik_diag_free(&sd);
}

static enum ik_http_verdict done_req(void *arg, struct ik_http_req *r,
                                     const struct ik_http_resp *resp)
{
    struct run *run = arg;
    struct req *q = r->user;
    struct ik_http *h = ik_http_of(r);
    const char *name = run->job->m->spec.name;
    size_t index = run->job->prompts[q->item].index;
    if (resp->cls == IK_HTTP_OK) {
        struct ik_cot_reply reply = {0};
        struct ik_buf why = IK_BUF_INIT;
        if (run->h->provider->parse(resp->body, resp->body_len, &reply, &why) == 0) {
            store(run, h, q->item, &reply);
        } else if (resp->retries_left > 0 && !run->stopping) {
            ik_buf_free(&why);
            return IK_HTTP_RETRY;
        } else {
            fail(run, h, IK_EHTTP, ik_xasprintf("model %s: item %zu: the reply is not an answer: "
                                                "%s", name, index, why.data ? why.data : ""));
        }
        ik_cot_reply_free(&reply);
        ik_buf_free(&why);
    } else {
        char *what = describe(resp);
        int retried = run->job->m->spec.max_retries - resp->retries_left;
        fail(run, h, IK_EHTTP,
             resp->cls == IK_HTTP_FATAL
                 ? ik_xasprintf("model %s: item %zu: %s", name, index, what)
                 : ik_xasprintf("model %s: item %zu: %s (after %d retries)", name, index, what,
                                retried));
        free(what);
    }
    req_free(q);
    return IK_HTTP_DONE;
}

static void retrying_req(void *arg, struct ik_http_req *r, const struct ik_http_resp *resp,
                         double delay_s)
{
    (void)arg, (void)r, (void)resp, (void)delay_s;
}

static void cancelled_req(void *arg, struct ik_http_req *r)
{
    (void)arg;
    req_free(r->user);
}

static int http_generate(struct ik_eval_job *job, struct ik_diag *d)
{
    const struct ik_eval_model_spec *s = &job->m->spec;
    struct ik_http_opts o = {
        .concurrency = s->concurrency, .rpm = s->rpm, .timeout_ms = (long)(s->timeout_s * 1000),
        .max_retries = s->max_retries, .backoff_s = 0.5, .backoff_max_s = 8,
        .seed = s->seed, .max_body_bytes = 8u << 20,
    };
    struct ik_http_cbs cb = {next_req, done_req, retrying_req, cancelled_req};
    struct run run = {.job = job, .h = job->m->impl, .d = d};
    int rc = ik_http_run(&o, &cb, &run, d);
    if (rc == 0 && run.rc != 0) {
        rc = run.rc;
        if (rc == IK_EHTTP)
            ik_diag_hint(d, "run again: the %zu answers received so far are kept and will not "
                         "be asked again", job->done);
    }
    return rc;
}

static void http_info(const struct ik_eval_model *m, msgpack_packer *pk)
{
    const struct http_model *h = m->impl;
    ik_mp_pack_str(pk, "server_model");
    ik_mp_pack_str(pk, m->spec.server_model);
    ik_mp_pack_str(pk, "url");
    ik_mp_pack_str(pk, h->url);
}

const struct ik_eval_backend_ops ik__eval_ollama_ops = {
    .name = "ollama", .cached = true, .n_info = 2, .open = http_open, .close = http_close,
    .generate = http_generate, .loglik = NULL, .pack_info = http_info,
};

const struct ik_eval_backend_ops ik__eval_openai_ops = {
    .name = "openai", .cached = true, .n_info = 2, .open = http_open, .close = http_close,
    .generate = http_generate, .loglik = NULL, .pack_info = http_info,
};
