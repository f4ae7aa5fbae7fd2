/* nodes/cot/http.h - many HTTP POSTs at once: libcurl's multi_socket interface
 * driven by a libuv loop (curl docs/examples/multi-uv.c, with the fixes of
 * ../shared/notes/performance.md §6.2).
 *
 * The caller supplies requests on demand (`next`) and gets each final
 * response (`done`). In between this module enforces the concurrency bound
 * and the requests-per-minute limit, and retries with exponential backoff and
 * jitter (min(backoff_s * 2^n, backoff_max_s) x (0.75, 1]) on network
 * errors, timeouts, 408, 409, 429 and 5xx (529 included), honouring
 * retry-after-ms / retry-after (seconds or an HTTP date, up to 60 s); a 429
 * or 529 also pauses every new send for that delay, since rate limits are
 * per account. Everything runs on one thread, inside ik_http_run. Request
 * headers (which may hold an API key) are never logged or copied. */
#ifndef IK_NODES_COT_HTTP_H
#define IK_NODES_COT_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/diag.h"

struct curl_slist;
struct ik_http;

struct ik_http_opts {
    int concurrency;        /* >= 1 requests in flight */
    double rpm;             /* sends per minute; 0 = no limit */
    long timeout_ms;        /* whole request */
    int max_retries;        /* retries per request after the first attempt */
    double backoff_s, backoff_max_s;
    uint64_t seed;          /* jitter */
    size_t max_body_bytes;  /* a longer response fails as a network error */
};

/* A request. The caller fills url, headers, body and user; http owns the
 * struct from `next` until it hands it back in `done`. */
struct ik_http_req {
    const char *url;            /* borrowed, must outlive the request */
    struct curl_slist *headers; /* borrowed */
    char *body;                 /* owned by the caller's user data */
    size_t body_len;
    void *user;
    int attempt;                /* read-only: 0 for the first send */
    /* private */
    struct ik_http *h_;
    void *easy_;
    char *resp_;
    size_t resp_len_, resp_cap_;
    double retry_after_s_;
    struct ik_http_req *next_;
    uint64_t due_ms_;
    char errbuf_[256];
};

enum ik_http_class {
    IK_HTTP_OK,        /* 2xx */
    IK_HTTP_NETWORK,   /* connection, DNS, reset, oversized body */
    IK_HTTP_TIMEOUT,
    IK_HTTP_RETRYABLE, /* 408, 409, 429, 5xx */
    IK_HTTP_FATAL,     /* any other status: 400, 401, 403, 404, … */
};

struct ik_http_resp {
    enum ik_http_class cls;
    long status;        /* 0 without an HTTP answer */
    const char *body;   /* valid during the callback; NUL-terminated */
    size_t body_len;
    const char *error;  /* libcurl's message for NETWORK/TIMEOUT, else "" */
    int retries_left;   /* retries this request may still make */
};

enum ik_http_verdict { IK_HTTP_DONE, IK_HTTP_RETRY };

struct ik_http_cbs {
    /* A slot is free: return the next request, or NULL when there is none
     * now (asked again after the next completion). */
    struct ik_http_req *(*next)(void *arg);
    /* Final response of req: 2xx, a FATAL status, or a retryable failure
     * with retries_left == 0. Returning RETRY (when retries_left > 0) sends
     * it again after a backoff (for a 2xx whose body is unusable). The
     * callback owns req again unless it returns RETRY. */
    enum ik_http_verdict (*done)(void *arg, struct ik_http_req *req,
                                 const struct ik_http_resp *resp);
    /* A failed attempt that will be retried after delay_s (statistics). */
    void (*retrying)(void *arg, struct ik_http_req *req, const struct ik_http_resp *resp,
                     double delay_s);
    /* A request dropped by ik_http_stop(h, true); the caller owns it again. */
    void (*cancelled)(void *arg, struct ik_http_req *req);
};

/* Runs until `next` has nothing more and nothing is in flight, or until
 * ik_http_stop. Returns 0, or -errno / IK_EHTTP when libuv or libcurl cannot
 * be set up (d filled). */
int ik_http_run(const struct ik_http_opts *o, const struct ik_http_cbs *cb, void *arg,
                struct ik_diag *d);

/* The engine a request belongs to (valid inside the callbacks). */
struct ik_http *ik_http_of(const struct ik_http_req *req);
/* The libuv loop the engine runs on (for uv_queue_work from a callback). */
struct uv_loop_s *ik_http_loop(struct ik_http *h);
/* From inside a callback: no new sends. With abort, the transfers in flight
 * and the retries waiting are cancelled at once and each is handed to
 * `cancelled`; without, the transfers in flight run to their end and only the
 * retries waiting are cancelled. */
void ik_http_stop(struct ik_http *h, bool abort);

/* Milliseconds of a Retry-After value (delta seconds or an HTTP date), or -1
 * when it cannot be read. Exposed for tests. */
long ik_http_parse_retry_after(const char *value, int64_t now_unix_s);

#endif
