/* nodes/cot/http.c - libcurl multi_socket on a private libuv loop: bounded
 * concurrency, an rpm gate, retries with backoff (see http.h).
 *
 * libcurl is never called from inside its own socket or timer callbacks
 * (performance.md §6.2): those only arm uv handles; the uv callbacks then
 * call curl_multi_socket_action. Poll errors map to CURL_CSELECT_ERR, the
 * timer keeps the engine in its data, and a poll handle is always stopped
 * before it is closed. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>
#include <uv.h>

#include "base/error.h"
#include "base/xmalloc.h"
#include "nodes/cot/http.h"

#define MAX_RETRY_AFTER_MS 60000L

struct sock_ctx {
    uv_poll_t poll;
    curl_socket_t fd;
    struct ik_http *h;
    struct sock_ctx *prev, *next;
};

struct ik_http {
    uv_loop_t loop;
    uv_timer_t curl_timer; /* libcurl's timeout */
    uv_timer_t pump_timer; /* rpm gate, 429 pause, retries waiting */
    CURLM *multi;
    const struct ik_http_opts *o;
    const struct ik_http_cbs *cb;
    void *arg;
    struct ik_http_req **active; /* o->concurrency slots */
    int n_active;
    struct ik_http_req *waiting; /* retries, sorted by due_ms_ */
    uint64_t next_send_ms, pause_until_ms;
    bool stopping, in_pump;
    uint64_t rng;
    struct sock_ctx *socks;
};

struct ik_http *ik_http_of(const struct ik_http_req *req) { return req->h_; }

uv_loop_t *ik_http_loop(struct ik_http *h) { return &h->loop; }

static double rand01(struct ik_http *h)
{
    /* splitmix64: jitter needs no more than this */
    uint64_t z = (h->rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 9007199254740992.0;
}

static double backoff_s(struct ik_http *h, int attempt)
{
    double d = h->o->backoff_s * pow(2.0, attempt);
    if (d > h->o->backoff_max_s)
        d = h->o->backoff_max_s;
    return d * (1.0 - 0.25 * rand01(h)); /* (0.75, 1] */
}

long ik_http_parse_retry_after(const char *value, int64_t now_unix_s)
{
    while (*value == ' ' || *value == '\t')
        value++;
    char *end = NULL;
    errno = 0;
    double v = strtod(value, &end);
    if (end != value && errno == 0) {
        while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
            end++;
        if (*end == '\0' && v >= 0 && v < 1e7)
            return (long)(v * 1000.0);
    }
    time_t t = curl_getdate(value, NULL);
    if (t == (time_t)-1)
        return -1;
    int64_t delta = (int64_t)t - now_unix_s;
    return delta < 0 ? 0 : (long)(delta * 1000);
}

static size_t on_body(char *ptr, size_t size, size_t n, void *userdata)
{
    struct ik_http_req *r = userdata;
    size_t len = size * n;
    if (r->resp_len_ + len > r->h_->o->max_body_bytes)
        return 0; /* libcurl fails the transfer with CURLE_WRITE_ERROR */
    if (r->resp_len_ + len + 1 > r->resp_cap_) {
        r->resp_cap_ = (r->resp_len_ + len + 1) * 2;
        r->resp_ = ik_xrealloc(r->resp_, r->resp_cap_);
    }
    memcpy(r->resp_ + r->resp_len_, ptr, len);
    r->resp_len_ += len;
    r->resp_[r->resp_len_] = '\0';
    return len;
}

static size_t on_header(char *ptr, size_t size, size_t n, void *userdata)
{
    struct ik_http_req *r = userdata;
    size_t len = size * n;
    char line[128];
    if (len >= sizeof line)
        return len;
    memcpy(line, ptr, len);
    line[len] = '\0';
    if (strncmp(line, "HTTP/", 5) == 0) {
        r->retry_after_s_ = -1; /* a new response (after 100 or a redirect) */
    } else if (strncasecmp(line, "retry-after-ms:", 15) == 0) {
        char *end = NULL;
        double ms = strtod(line + 15, &end);
        if (end != line + 15 && ms >= 0)
            r->retry_after_s_ = ms / 1000.0;
    } else if (strncasecmp(line, "retry-after:", 12) == 0 && r->retry_after_s_ < 0) {
        long ms = ik_http_parse_retry_after(line + 12, (int64_t)time(NULL));
        if (ms >= 0)
            r->retry_after_s_ = (double)ms / 1000.0;
    }
    return len;
}

static void pump(struct ik_http *h);

static int start(struct ik_http *h, struct ik_http_req *r)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        return -ENOMEM;
    r->h_ = h;
    r->easy_ = e;
    r->resp_len_ = 0;
    if (r->resp_)
        r->resp_[0] = '\0';
    r->retry_after_s_ = -1;
    r->errbuf_[0] = '\0';
    long connect_ms = h->o->timeout_ms < 30000 ? h->o->timeout_ms : 30000;
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->headers);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_PRIVATE, r);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->o->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf_);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        r->easy_ = NULL;
        return -ENOMEM;
    }
    for (int i = 0; i < h->o->concurrency; i++)
        if (h->active[i] == NULL) {
            h->active[i] = r;
            break;
        }
    h->n_active++;
    return 0;
}

static void unslot(struct ik_http *h, struct ik_http_req *r)
{
    for (int i = 0; i < h->o->concurrency; i++)
        if (h->active[i] == r)
            h->active[i] = NULL;
    h->n_active--;
    curl_multi_remove_handle(h->multi, r->easy_);
    curl_easy_cleanup(r->easy_);
    r->easy_ = NULL;
}

static void schedule(struct ik_http *h, struct ik_http_req *r, double delay_s)
{
    r->attempt++;
    uv_update_time(&h->loop);
    r->due_ms_ = uv_now(&h->loop) + (uint64_t)(delay_s * 1000.0);
    struct ik_http_req **p = &h->waiting;
    while (*p && (*p)->due_ms_ <= r->due_ms_)
        p = &(*p)->next_;
    r->next_ = *p;
    *p = r;
}

static void give_back(struct ik_http *h, struct ik_http_req *r)
{
    free(r->resp_);
    r->resp_ = NULL;
    r->resp_len_ = r->resp_cap_ = 0;
    h->cb->cancelled(h->arg, r);
}

static void cancel_waiting(struct ik_http *h)
{
    while (h->waiting) {
        struct ik_http_req *r = h->waiting;
        h->waiting = r->next_;
        give_back(h, r);
    }
}

void ik_http_stop(struct ik_http *h, bool abort)
{
    h->stopping = true;
    uv_timer_stop(&h->pump_timer);
    cancel_waiting(h);
    if (!abort)
        return;
    for (int i = 0; i < h->o->concurrency; i++) {
        struct ik_http_req *r = h->active[i];
        if (r) {
            unslot(h, r);
            give_back(h, r);
        }
    }
}

static void finish(struct ik_http *h, struct ik_http_req *r, CURLcode res)
{
    long status = 0;
    curl_easy_getinfo(r->easy_, CURLINFO_RESPONSE_CODE, &status);
    unslot(h, r);
    struct ik_http_resp resp = {0};
    resp.status = status;
    resp.error = "";
    if (res != CURLE_OK) {
        resp.cls = res == CURLE_OPERATION_TIMEDOUT ? IK_HTTP_TIMEOUT : IK_HTTP_NETWORK;
        resp.error = res == CURLE_WRITE_ERROR ? "response body too large"
                     : r->errbuf_[0]          ? r->errbuf_
                                              : curl_easy_strerror(res);
        resp.status = 0;
    } else if (status >= 200 && status < 300) {
        resp.cls = IK_HTTP_OK;
    } else if (status == 408 || status == 409 || status == 429 || (status >= 500 && status < 600)) {
        resp.cls = IK_HTTP_RETRYABLE;
    } else {
        resp.cls = IK_HTTP_FATAL;
    }
    char *body = r->resp_;
    resp.body = body ? body : "";
    resp.body_len = r->resp_len_;
    r->resp_ = NULL;
    r->resp_len_ = r->resp_cap_ = 0;
    resp.retries_left = h->o->max_retries - r->attempt;
    if (resp.retries_left < 0)
        resp.retries_left = 0;
    bool transient = resp.cls == IK_HTTP_NETWORK || resp.cls == IK_HTTP_TIMEOUT ||
                     resp.cls == IK_HTTP_RETRYABLE;
    if (transient && resp.retries_left > 0 && !h->stopping) {
        double delay = r->retry_after_s_ >= 0 ? r->retry_after_s_ : backoff_s(h, r->attempt);
        if (delay * 1000.0 > MAX_RETRY_AFTER_MS)
            delay = MAX_RETRY_AFTER_MS / 1000.0;
        if (status == 429 || status == 529) {
            uv_update_time(&h->loop);
            uint64_t until = uv_now(&h->loop) + (uint64_t)(delay * 1000.0);
            if (until > h->pause_until_ms)
                h->pause_until_ms = until;
        }
        h->cb->retrying(h->arg, r, &resp, delay);
        schedule(h, r, delay);
    } else {
        int left = resp.retries_left;
        if (h->cb->done(h->arg, r, &resp) == IK_HTTP_RETRY && left > 0 && !h->stopping)
            schedule(h, r, backoff_s(h, r->attempt));
    }
    free(body);
}

static void check_done(struct ik_http *h)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        struct ik_http_req *r = NULL;
        CURLcode res = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        finish(h, r, res);
    }
}

static void on_pump_timer(uv_timer_t *t) { pump(t->data); }

static void pump(struct ik_http *h)
{
    if (h->in_pump || h->stopping)
        return;
    h->in_pump = true;
    uint64_t wake = 0;
    while (!h->stopping && h->n_active < h->o->concurrency) {
        uv_update_time(&h->loop);
        uint64_t now = uv_now(&h->loop);
        uint64_t gate = h->next_send_ms > h->pause_until_ms ? h->next_send_ms : h->pause_until_ms;
        struct ik_http_req *r = NULL;
        if (h->waiting && h->waiting->due_ms_ <= now && gate <= now) {
            r = h->waiting;
            h->waiting = r->next_;
        } else if (gate > now) {
            wake = gate;
            break;
        } else if ((r = h->cb->next(h->arg)) == NULL) {
            break;
        }
        r->h_ = h;
        if (start(h, r) != 0) {
            give_back(h, r);
            ik_http_stop(h, true);
            break;
        }
        if (h->o->rpm > 0)
            h->next_send_ms = now + (uint64_t)(60000.0 / h->o->rpm);
    }
    /* Not gated: wake for the first retry that falls due (a gate wake-up
     * re-pumps everything anyway). */
    if (!h->stopping && wake == 0 && h->waiting && h->n_active < h->o->concurrency) {
        uint64_t gate = h->next_send_ms > h->pause_until_ms ? h->next_send_ms : h->pause_until_ms;
        wake = h->waiting->due_ms_ > gate ? h->waiting->due_ms_ : gate;
    }
    if (!h->stopping && wake > 0) {
        uv_update_time(&h->loop);
        uint64_t now = uv_now(&h->loop);
        uv_timer_start(&h->pump_timer, on_pump_timer, wake > now ? wake - now : 1, 0);
    }
    h->in_pump = false;
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    struct sock_ctx *sc = p->data;
    struct ik_http *h = sc->h;
    int flags = 0;
    if (status < 0)
        flags = CURL_CSELECT_ERR;
    else {
        if (events & UV_READABLE)
            flags |= CURL_CSELECT_IN;
        if (events & UV_WRITABLE)
            flags |= CURL_CSELECT_OUT;
    }
    int running;
    curl_multi_socket_action(h->multi, sc->fd, flags, &running);
    check_done(h);
    pump(h);
}

static void on_curl_timeout(uv_timer_t *t)
{
    struct ik_http *h = t->data;
    int running;
    curl_multi_socket_action(h->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    check_done(h);
    pump(h);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    struct ik_http *h = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&h->curl_timer);
    else /* 0 becomes 1 ms so that libcurl is never re-entered from here */
        uv_timer_start(&h->curl_timer, on_curl_timeout, timeout_ms == 0 ? 1 : (uint64_t)timeout_ms,
                       0);
    return 0;
}

static void free_sock(uv_handle_t *hd) { free(hd->data); }

static void close_sock(struct ik_http *h, struct sock_ctx *sc)
{
    uv_poll_stop(&sc->poll);
    if (sc->prev)
        sc->prev->next = sc->next;
    else
        h->socks = sc->next;
    if (sc->next)
        sc->next->prev = sc->prev;
    uv_close((uv_handle_t *)&sc->poll, free_sock);
}

static int on_socket(CURL *e, curl_socket_t s, int what, void *userp, void *socketp)
{
    (void)e;
    struct ik_http *h = userp;
    struct sock_ctx *sc = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (sc) {
            close_sock(h, sc);
            curl_multi_assign(h->multi, s, NULL);
        }
        return 0;
    }
    if (sc == NULL) {
        sc = ik_xcalloc(1, sizeof *sc);
        sc->fd = s;
        sc->h = h;
        if (uv_poll_init_socket(&h->loop, &sc->poll, s) != 0) {
            free(sc);
            return -1;
        }
        sc->poll.data = sc;
        sc->next = h->socks;
        if (h->socks)
            h->socks->prev = sc;
        h->socks = sc;
        curl_multi_assign(h->multi, s, sc);
    }
    int events = 0;
    if (what & CURL_POLL_IN)
        events |= UV_READABLE;
    if (what & CURL_POLL_OUT)
        events |= UV_WRITABLE;
    uv_poll_start(&sc->poll, events, on_poll);
    return 0;
}

int ik_http_run(const struct ik_http_opts *o, const struct ik_http_cbs *cb, void *arg,
                struct ik_diag *d)
{
    struct ik_http *h = ik_xcalloc(1, sizeof *h);
    h->o = o;
    h->cb = cb;
    h->arg = arg;
    h->rng = o->seed ^ 0x6874747062616b6fULL;
    h->active = ik_xcalloc((size_t)o->concurrency, sizeof *h->active);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        free(h->active);
        free(h);
        return ik_diag_set(d, IK_EHTTP, "libcurl cannot be initialised");
    }
    int rc = uv_loop_init(&h->loop);
    if (rc < 0) {
        curl_global_cleanup();
        free(h->active);
        free(h);
        return ik_diag_set(d, rc, "cannot start an event loop: %s", uv_strerror(rc));
    }
    uv_timer_init(&h->loop, &h->curl_timer);
    uv_timer_init(&h->loop, &h->pump_timer);
    h->curl_timer.data = h->pump_timer.data = h;
    h->multi = curl_multi_init();
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(h->multi, CURLMOPT_SOCKETDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(h->multi, CURLMOPT_TIMERDATA, h);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)o->concurrency);

    pump(h);
    uv_run(&h->loop, UV_RUN_DEFAULT);

    /* Whatever is left (only after a failed start) goes back to the caller. */
    for (int i = 0; i < o->concurrency; i++)
        if (h->active[i]) {
            struct ik_http_req *r = h->active[i];
            unslot(h, r);
            give_back(h, r);
        }
    cancel_waiting(h);
    curl_multi_cleanup(h->multi); /* may report sockets removed: closes their polls */
    while (h->socks)
        close_sock(h, h->socks);
    uv_close((uv_handle_t *)&h->curl_timer, NULL);
    uv_close((uv_handle_t *)&h->pump_timer, NULL);
    uv_run(&h->loop, UV_RUN_DEFAULT);
    uv_loop_close(&h->loop);
    curl_global_cleanup();
    free(h->active);
    free(h);
    return 0;
}
