/* nodes/cot/batch.c - answers a batch of items: cache first, then HTTP (through
 * http.h) within the budget, citation check, reminder retries, on_invalid.
 *
 * Resumability: an item's request is fully determined by its prompt and its
 * earlier replies, so a re-run rebuilds the same request keys, finds every
 * stored response and sends only the missing ones. Responses are written on
 * libuv's thread pool the moment they arrive (fsync would otherwise stall
 * the loop); uv_run does not return before those writes are done. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <uv.h>

#include "base/error.h"
#include "base/xmalloc.h"
#include "nodes/cot/cot.h"

const char *const ik_cot_failure_names[IK_COT_F_N] = {
    "network", "timeout", "http_408", "http_409", "http_429",
    "http_5xx", "http_529", "bad_body", "http_4xx"};

struct pending {
    struct ik_http_req req;
    size_t item;
    struct ik_hash key;
    struct ik_buf body;
    double reservation;
};

struct batch {
    struct ik_cot_config *cfg;
    struct ik_cot_item *items;
    size_t n;
    struct ik_cot_stats *st;
    struct curl_slist *headers;
    size_t *queue; /* items waiting for a request (first or reminder) */
    size_t q_head, q_len, q_cap;
    bool stop;     /* no new requests: a fatal error or on_invalid fail */
    int rc;        /* first failure that ends the run */
    struct ik_diag *d;
    size_t n_failed; /* items whose request failed after every retry */
    char *first_failure;
    int write_rc;
    char *write_error;
};

struct write_job {
    uv_work_t w;
    struct batch *b;
    struct ik_hash key;
    char *body;
    size_t len;
    int rc;
    struct ik_diag d;
};

static void enqueue(struct batch *b, size_t item)
{
    if (b->q_head > 0 && b->q_head == b->q_len) {
        b->q_head = b->q_len = 0;
    }
    b->queue = ik_xgrow(b->queue, &b->q_cap, b->q_len + 1, sizeof *b->queue);
    b->queue[b->q_len++] = item;
}

/* Reminders go first, so that a sample finishes (and its memory goes) soon
 * after it started, whatever the queue holds. */
static void push_front(struct batch *b, size_t item)
{
    if (b->q_head == 0) {
        b->queue = ik_xgrow(b->queue, &b->q_cap, b->q_len + 1, sizeof *b->queue);
        memmove(b->queue + 1, b->queue, b->q_len * sizeof *b->queue);
        b->q_len++;
        b->q_head = 1;
    }
    b->queue[--b->q_head] = item;
}

static void progress(struct batch *b)
{
    if (b->cfg->progress)
        b->cfg->progress(b->cfg->progress_arg, b->st);
}

/* Sets the run's failure once (the first one is the cause; later ones are
 * consequences). The message is redacted. */
static void fail(struct batch *b, int code, char *msg)
{
    ik_cot_redact(msg, b->cfg->api_key);
    if (b->rc == 0) {
        b->rc = ik_diag_set(b->d, code, "%s", msg);
    }
    free(msg);
    b->stop = true;
}

static void finish_item(struct batch *b, struct ik_cot_item *it)
{
    it->done = true;
    b->st->done++;
}

/* An answer arrived (from the cache or the API). */
static void handle_answer(struct batch *b, size_t idx, const char *text, bool can_retry)
{
    struct ik_cot_config *cfg = b->cfg;
    struct ik_cot_item *it = &b->items[idx];
    const struct ik_cot_doc *doc = &it->docs[it->oracle - 1];
    enum ik_cite c = ik_cot_cite_check(text, strlen(text), cfg->doc_label, it->oracle, doc->text,
                                       doc->len, cfg->min_quote_chars);
    if (c == IK_CITE_OK) {
        it->answer = ik_xstrdup(text);
        it->valid = true;
        finish_item(b, it);
        return;
    }
    b->st->invalid_answers++;
    b->st->invalid_by_cause[c]++;
    it->cause = c;
    if (can_retry && it->n_replies < cfg->validate_retries) {
        it->replies = ik_xrealloc(it->replies, (size_t)(it->n_replies + 1) * sizeof *it->replies);
        it->replies[it->n_replies++] = ik_xstrdup(text);
        push_front(b, idx);
        return;
    }
    b->st->invalid_samples++;
    switch (cfg->on_invalid) {
    case IK_COT_DROP:
        it->dropped = true;
        b->st->dropped++;
        break;
    case IK_COT_KEEP:
        it->answer = ik_xstrdup(text);
        b->st->kept_invalid++;
        break;
    case IK_COT_FAIL:
        fail(b, IK_EVALIDATE,
             ik_xasprintf("sample %zu (question '%s'): the answer's citation is invalid (%s) "
                          "after %d reminder(s); on_invalid is fail",
                          idx + 1, it->question, ik_cite_names[c], it->n_replies));
        break;
    }
    finish_item(b, it);
}

/* The messages of item's next request: the prompt, then for each earlier
 * invalid reply that reply and the reminder. msgs holds 1 + 2 * n_replies. */
static size_t build_messages(struct batch *b, struct ik_cot_item *it, struct ik_cot_msg *msgs,
                             struct ik_buf *reminder)
{
    size_t n = 0;
    msgs[n++] = (struct ik_cot_msg){"user", it->prompt, strlen(it->prompt)};
    if (it->n_replies > 0) {
        ik_buf_reset(reminder);
        ik_cot_render(reminder, b->cfg->reminder, it->oracle, it->question, it->docs,
                      it->n_docs, b->cfg->doc_label);
    }
    for (int i = 0; i < it->n_replies; i++) {
        msgs[n++] = (struct ik_cot_msg){"assistant", it->replies[i], strlen(it->replies[i])};
        msgs[n++] = (struct ik_cot_msg){"user", reminder->data, reminder->len};
    }
    return n;
}

/* Tries the response cache for item's next request: true when it was
 * answered from there. */
static bool from_cache(struct batch *b, size_t idx, const struct ik_hash *key, size_t body_len)
{
    struct ik_cot_config *cfg = b->cfg;
    if (cfg->node == NULL)
        return false;
    char *body = NULL;
    size_t len = 0;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_cot_cache_get(cfg->node, key, &body, &len, &d);
    ik_diag_free(&d);
    if (rc != 0)
        return false; /* missing or unreadable: ask again */
    struct ik_cot_reply r = {0};
    struct ik_buf why = IK_BUF_INIT;
    rc = cfg->provider->parse(body, len, &r, &why);
    ik_buf_free(&why);
    free(body);
    if (rc != 0)
        return false;
    b->st->from_cache++;
    b->st->tokens_in += r.in_tokens;
    b->st->tokens_out += r.out_tokens;
    b->st->truncated += r.truncated;
    ik_cot_budget_settle(&cfg->budget, 0, body_len, r.in_tokens, r.out_tokens, false);
    handle_answer(b, idx, r.text, true);
    ik_cot_reply_free(&r);
    return true;
}

static struct ik_http_req *next_req(void *arg)
{
    struct batch *b = arg;
    struct ik_cot_config *cfg = b->cfg;
    struct ik_buf reminder = IK_BUF_INIT;
    struct pending *p = NULL;
    while (!b->stop && b->q_head < b->q_len) {
        size_t idx = b->queue[b->q_head++];
        struct ik_cot_item *it = &b->items[idx];
        struct ik_cot_msg *msgs = ik_xcalloc(1 + 2 * (size_t)it->n_replies, sizeof *msgs);
        size_t n = build_messages(b, it, msgs, &reminder);
        struct ik_hash key;
        ik_cot_request_key(cfg->provider_name, &cfg->sampling, msgs, n, &key);
        struct ik_buf body = IK_BUF_INIT;
        cfg->provider->body(&cfg->sampling, msgs, n, &body);
        free(msgs);
        if (from_cache(b, idx, &key, body.len)) {
            ik_buf_free(&body);
            progress(b);
            continue;
        }
        double reservation = 0;
        if (!ik_cot_budget_reserve(&cfg->budget, body.len, cfg->sampling.max_tokens,
                                   &reservation)) {
            ik_buf_free(&body); /* wait for spend in flight to settle, or stop */
            push_front(b, idx);
            break;
        }
        p = ik_xcalloc(1, sizeof *p);
        p->item = idx;
        p->key = key;
        p->body = body;
        p->reservation = reservation;
        p->req.url = cfg->url;
        p->req.headers = b->headers;
        p->req.body = p->body.data;
        p->req.body_len = p->body.len;
        p->req.user = p;
        b->st->requests++;
        b->st->in_flight++;
        break;
    }
    ik_buf_free(&reminder);
    progress(b);
    return p ? &p->req : NULL;
}

static int cause_of(const struct ik_http_resp *r)
{
    switch (r->cls) {
    case IK_HTTP_NETWORK:
        return IK_COT_F_NETWORK;
    case IK_HTTP_TIMEOUT:
        return IK_COT_F_TIMEOUT;
    case IK_HTTP_OK:
        return IK_COT_F_BAD_BODY;
    case IK_HTTP_FATAL:
        return IK_COT_F_4XX;
    case IK_HTTP_RETRYABLE:
        break;
    }
    switch (r->status) {
    case 408:
        return IK_COT_F_408;
    case 409:
        return IK_COT_F_409;
    case 429:
        return IK_COT_F_429;
    case 529:
        return IK_COT_F_529;
    default:
        return IK_COT_F_5XX;
    }
}

/* "HTTP 429: <the API's message>" or the network error. */
static char *describe(const struct ik_http_resp *r)
{
    if (r->cls == IK_HTTP_NETWORK || r->cls == IK_HTTP_TIMEOUT)
        return ik_xstrdup(r->error);
    struct ik_buf m = IK_BUF_INIT;
    ik_buf_printf(&m, "HTTP %ld: ", r->status);
    ik_cot_api_error(r->body, r->body_len, &m);
    return ik_buf_steal(&m);
}

static void pending_free(struct batch *b, struct pending *p)
{
    b->st->in_flight--;
    ik_buf_free(&p->body);
    free(p);
}

static void write_work(uv_work_t *w)
{
    struct write_job *j = w->data;
    j->rc = ik_cot_cache_put(j->b->cfg->node, &j->key, j->body, j->len, &j->d);
}

static void write_done(uv_work_t *w, int status)
{
    struct write_job *j = w->data;
    (void)status;
    if (j->rc != 0 && j->b->write_rc == 0) {
        j->b->write_rc = j->rc;
        j->b->write_error = ik_xstrdup(ik_diag_message(&j->d));
    }
    ik_diag_free(&j->d);
    free(j->body);
    free(j);
}

static void store(struct batch *b, struct ik_http *h, const struct ik_hash *key,
                  const struct ik_http_resp *resp)
{
    struct write_job *j = ik_xcalloc(1, sizeof *j);
    j->w.data = j;
    j->b = b;
    j->key = *key;
    j->body = ik_xstrndup(resp->body, resp->body_len);
    j->len = resp->body_len;
    if (uv_queue_work(ik_http_loop(h), &j->w, write_work, write_done) != 0) {
        write_work(&j->w); /* cannot happen with a live loop; store inline */
        write_done(&j->w, 0);
    }
}

static enum ik_http_verdict on_done(void *arg, struct ik_http_req *req,
                                    const struct ik_http_resp *resp)
{
    struct batch *b = arg;
    struct ik_cot_config *cfg = b->cfg;
    struct pending *p = req->user;
    struct ik_cot_item *it = &b->items[p->item];
    if (resp->cls == IK_HTTP_OK) {
        struct ik_cot_reply r = {0};
        struct ik_buf why = IK_BUF_INIT;
        if (cfg->provider->parse(resp->body, resp->body_len, &r, &why) == 0) {
            ik_buf_free(&why);
            store(b, ik_http_of(req), &p->key, resp);
            b->st->tokens_in += r.in_tokens;
            b->st->tokens_out += r.out_tokens;
            b->st->truncated += r.truncated;
            ik_cot_budget_settle(&cfg->budget, p->reservation, p->body.len, r.in_tokens,
                                 r.out_tokens, true);
            pending_free(b, p);
            handle_answer(b, (size_t)(it - b->items), r.text, true);
            ik_cot_reply_free(&r);
            progress(b);
            return IK_HTTP_DONE;
        }
        b->st->failures[IK_COT_F_BAD_BODY]++;
        if (resp->retries_left > 0 && !b->stop) {
            b->st->retries++;
            ik_buf_free(&why);
            return IK_HTTP_RETRY;
        }
        /* Paid for, most likely, but unusable: the tokens are unknown. */
        ik_cot_budget_settle(&cfg->budget, p->reservation, 0, 0, 0, true);
        b->n_failed++;
        if (b->first_failure == NULL)
            b->first_failure = ik_xasprintf("unusable response body (%s)", why.data);
        ik_buf_free(&why);
        finish_item(b, it);
        pending_free(b, p);
        progress(b);
        return IK_HTTP_DONE;
    }
    b->st->failures[cause_of(resp)]++;
    ik_cot_budget_settle(&cfg->budget, p->reservation, 0, 0, 0, true);
    char *what = describe(resp);
    if (resp->cls == IK_HTTP_FATAL) {
        /* A request the API refuses (bad key, no permission, malformed) fails
         * the same way for every sample: stop at once. */
        fail(b, IK_EHTTP, ik_xasprintf("provider %s: %s (from %s)", cfg->provider_name, what,
                                       cfg->url));
        free(what);
        finish_item(b, it);
        struct ik_http *h = ik_http_of(req);
        pending_free(b, p); /* req lives in p */
        ik_http_stop(h, true);
        progress(b);
        return IK_HTTP_DONE;
    }
    b->n_failed++;
    if (b->first_failure == NULL)
        b->first_failure = what;
    else
        free(what);
    finish_item(b, it);
    pending_free(b, p);
    progress(b);
    return IK_HTTP_DONE;
}

static void on_retrying(void *arg, struct ik_http_req *req, const struct ik_http_resp *resp,
                        double delay_s)
{
    struct batch *b = arg;
    (void)req;
    (void)delay_s;
    b->st->failures[cause_of(resp)]++;
    b->st->retries++;
    progress(b);
}

static void on_cancelled(void *arg, struct ik_http_req *req)
{
    struct batch *b = arg;
    struct pending *p = req->user;
    ik_cot_budget_settle(&b->cfg->budget, p->reservation, 0, 0, 0, false);
    pending_free(b, p);
}

/* The offline provider: no requests, one check, no reminders (the same
 * input would give the same answer). */
static void run_extractive(struct batch *b)
{
    for (size_t i = 0; i < b->n && !b->stop; i++) {
        struct ik_cot_item *it = &b->items[i];
        if (it->done)
            continue;
        const struct ik_cot_doc *doc = &it->docs[it->oracle - 1];
        char *text = ik_cot_extractive_answer(it->question, doc->text, doc->len, it->oracle,
                                              b->cfg->doc_label, b->cfg->min_quote_chars);
        handle_answer(b, i, text, false);
        free(text);
        progress(b);
    }
}

int ik_cot_batch_run(struct ik_cot_config *cfg, struct ik_cot_item *items, size_t n,
                     struct ik_cot_stats *st, struct ik_diag *d)
{
    struct batch b = {0};
    b.cfg = cfg;
    b.items = items;
    b.n = n;
    b.st = st;
    b.d = d;
    memset(st, 0, sizeof *st);
    st->samples = n;
    st->start_ms = (uint64_t)uv_hrtime() / 1000000u;
    for (size_t i = 0; i < n; i++) {
        struct ik_cot_item *it = &items[i];
        if (!it->has_oracle) {
            finish_item(&b, it);
            continue;
        }
        st->with_oracle++;
        struct ik_buf pr = IK_BUF_INIT;
        ik_cot_render(&pr, cfg->prompt, it->oracle, it->question, it->docs, it->n_docs,
                      cfg->doc_label);
        it->prompt = ik_buf_steal(&pr);
        enqueue(&b, i);
    }
    progress(&b);
    int rc = 0;
    if (cfg->provider == NULL) {
        run_extractive(&b);
    } else {
        b.headers = cfg->provider->headers(cfg->api_key);
        static const struct ik_http_cbs cbs = {next_req, on_done, on_retrying, on_cancelled};
        rc = ik_http_run(&cfg->http, &cbs, &b, d);
        curl_slist_free_all(b.headers);
    }
    st->usd = cfg->budget.spent_usd;
    st->usd_new = cfg->budget.new_usd;
    progress(&b);
    if (rc == 0 && b.rc != 0)
        rc = b.rc;
    if (rc == 0 && b.n_failed > 0) {
        char *m = ik_xasprintf("provider %s: %zu request(s) failed after %d retries; the first: "
                               "%s (from %s)",
                               cfg->provider_name, b.n_failed, cfg->http.max_retries,
                               b.first_failure, cfg->url);
        ik_cot_redact(m, cfg->api_key);
        rc = ik_diag_set(d, IK_EHTTP, "%s", m);
        ik_diag_hint(d, "run again: the %zu answers received so far are cached and will not be "
                        "requested again",
                     st->from_cache + st->requests - b.n_failed);
        free(m);
    }
    if (rc == 0 && b.write_rc != 0)
        rc = ik_diag_set(d, b.write_rc, "cannot store a response in the cache: %s",
                         b.write_error);
    if (rc == 0 && st->done < n) {
        rc = ik_diag_set(d, IK_ECANCELED,
                         "max_usd %.4f reached: spent $%.4f ($%.4f in this run) on %zu request(s) "
                         "and stopped before the cap; %zu of %zu samples have no answer",
                         cfg->budget.max_usd, cfg->budget.spent_usd, cfg->budget.new_usd,
                         st->requests, n - st->done, n);
        ik_diag_hint(d, "raise max_usd and run again: the answers so far are cached and will "
                        "not be paid for again");
    }
    free(b.queue);
    free(b.first_failure);
    free(b.write_error);
    return rc;
}

void ik_cot_items_free(struct ik_cot_item *items, size_t n)
{
    for (size_t i = 0; items && i < n; i++) {
        free(items[i].answer);
        free(items[i].prompt);
        for (int k = 0; k < items[i].n_replies; k++)
            free(items[i].replies[k]);
        free(items[i].replies);
    }
    free(items);
}
