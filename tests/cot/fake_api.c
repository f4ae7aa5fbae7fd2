/* tests/cot/fake_api.c - a fake LLM API for the cot tests and bench: one
 * libuv loop on 127.0.0.1 (port 0, printed as "port N"), speaking the
 * Anthropic (/v1/messages), OpenAI (/v1/chat/completions) and Ollama
 * (/api/chat) shapes, with scripted faults, latency and per-body counts.
 *
 * usage: fake_api [--latency-ms N] [--script a,b,...] [--default ACTION]
 *                 [--answer cite|wrongnum|badquote|noquote|fixonretry] [--think]
 *                 [--stall-after N] [--usage-out N] [--counts FILE] [--timeout-s N]
 * ACTION: ok, 429 (retry-after-ms: 50), 429s (retry-after: 1), 500, 529, 401, 400,
 * 403, trunc (200, JSON cut short), nonjson (200, HTML), drop (close, no answer),
 * stall (never answer). The script is applied to requests in arrival order, then
 * --default (ok). --stall-after N stalls every request after N answers.
 * Counts: "<answered> <received> <sha256 of body>" per distinct body, written
 * to FILE on SIGTERM/SIGINT, on GET /_counts and when --timeout-s (default 60)
 * expires, after which the server exits by itself. */
#include <signal.h>
#include <stdbool.h>
#include <strings.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/sha.h>
#include <uv.h>

struct body_count {
    unsigned char sha[32];
    unsigned answered, received;
};

static struct {
    long latency_ms;
    char **script;
    size_t n_script, next_script;
    const char *def;
    const char *answer;
    bool think;
    long stall_after;
    long usage_out;
    const char *counts_path;
    struct body_count *counts;
    size_t n_counts;
    unsigned long answered_total, scheduled;
} S = {0, NULL, 0, 0, "ok", "cite", false, -1, 100, NULL, NULL, 0, 0, 0};

static uv_loop_t *loop;

struct conn {
    uv_tcp_t tcp;
    char *buf;
    size_t len, cap;
    bool busy, closing;
};

struct reply {
    uv_timer_t timer;
    struct conn *c;
    char *data;
    size_t len;
    bool drop;
    size_t count_index;
};

static void write_counts(void)
{
    if (S.counts_path == NULL)
        return;
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", S.counts_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL)
        return;
    for (size_t i = 0; i < S.n_counts; i++) {
        fprintf(f, "%u %u ", S.counts[i].answered, S.counts[i].received);
        for (int k = 0; k < 32; k++)
            fprintf(f, "%02x", S.counts[i].sha[k]);
        fputc('\n', f);
    }
    fclose(f);
    rename(tmp, S.counts_path);
}

static size_t count_body(const char *body, size_t len)
{
    unsigned char sha[32];
    SHA256((const unsigned char *)body, len, sha);
    for (size_t i = 0; i < S.n_counts; i++)
        if (memcmp(S.counts[i].sha, sha, 32) == 0) {
            S.counts[i].received++;
            return i;
        }
    S.counts = realloc(S.counts, (S.n_counts + 1) * sizeof *S.counts);
    memcpy(S.counts[S.n_counts].sha, sha, 32);
    S.counts[S.n_counts].answered = 0;
    S.counts[S.n_counts].received = 1;
    return S.n_counts++;
}

static void on_closed(uv_handle_t *h)
{
    struct conn *c = h->data;
    free(c->buf);
    free(c);
}

static void close_conn(struct conn *c)
{
    if (!c->closing) {
        c->closing = true;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
}

static void on_written(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void send_bytes(struct conn *c, char *data, size_t len)
{
    if (c->closing) {
        free(data);
        return;
    }
    uv_write_t *w = malloc(sizeof *w);
    w->data = data;
    uv_buf_t b = uv_buf_init(data, (unsigned)len);
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_written);
}

/* The oracle number and its document from the CoT prompt. */
static int oracle_of(const char *prompt, const char **doc, size_t *doc_len)
{
    const char *p = strstr(prompt, "正解は参考文書");
    if (p == NULL)
        return 0;
    int n = (int)strtol(p + strlen("正解は参考文書"), NULL, 10);
    char mark[64], next[64];
    snprintf(mark, sizeof mark, "参考文書%d:\n", n);
    snprintf(next, sizeof next, "\n\n参考文書%d:\n", n + 1);
    const char *d = strstr(prompt, mark);
    if (d == NULL)
        return 0;
    d += strlen(mark);
    const char *e = strstr(d, next);
    if (e == NULL)
        e = strstr(d, "\n\n回答の要件");
    if (e == NULL)
        e = d + strlen(d);
    *doc = d;
    *doc_len = (size_t)(e - d);
    return n;
}

/* A cited answer in the form the prompt asks for. */
static char *make_answer(const char *prompt, size_t n_messages)
{
    const char *doc = NULL;
    size_t doc_len = 0;
    int n = oracle_of(prompt, &doc, &doc_len);
    char quote[512] = "";
    size_t q = 0, cps = 0;
    for (size_t i = 0; doc && i < doc_len && cps < 30;) {
        unsigned char ch = (unsigned char)doc[i];
        size_t w = ch < 0x80 ? 1 : ch < 0xE0 ? 2 : ch < 0xF0 ? 3 : 4;
        if (strncmp(doc + i, "。", 3) == 0 || strncmp(doc + i, "「", 3) == 0 ||
            strncmp(doc + i, "」", 3) == 0)
            break;
        if (ch != '\n' && ch != ' ') { /* whitespace is not compared */
            memcpy(quote + q, doc + i, w);
            q += w;
            cps++;
        }
        i += w;
    }
    quote[q] = '\0';
    const char *mode = S.answer;
    if (strcmp(mode, "fixonretry") == 0)
        mode = n_messages >= 3 ? "cite" : "badquote";
    int num = strcmp(mode, "wrongnum") == 0 ? n % 5 + 1 : n;
    const char *qt = strcmp(mode, "badquote") == 0 ? "この文章はどの文書にも書かれていません" : quote;
    char *out = NULL;
    int rc;
    if (strcmp(mode, "noquote") == 0)
        rc = asprintf(&out, "%s参考文書%dによれば、要件を満たせば認められます。したがって、回答ははいです。",
                 S.think ? "<think>考え中です。</think>\n" : "", num);
    else
        rc = asprintf(&out,
                 "%s参考文書%dに「%s」と記載されています。これは質問に直接答える記述です。"
                 "したがって、回答は記載のとおりです。",
                 S.think ? "<think>まず文書を読みます。</think>\n" : "", num, qt);
    return rc < 0 ? strdup("") : out;
}

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    default: return "Overloaded";
    }
}

static char *error_body(const char *path, int status, const char *msg)
{
    json_t *j;
    if (strcmp(path, "/v1/messages") == 0)
        j = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type",
                      status == 401 ? "authentication_error" : status == 429 ? "rate_limit_error"
                                                                             : "api_error",
                      "message", msg);
    else if (strcmp(path, "/api/chat") == 0)
        j = json_pack("{s:s}", "error", msg);
    else
        j = json_pack("{s:{s:s, s:s}}", "error", "message", msg, "type", "error");
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static char *ok_body(const char *path, const char *model, const char *text, long in, long out)
{
    json_t *j;
    if (strcmp(path, "/v1/messages") == 0)
        j = json_pack("{s:s, s:s, s:s, s:[{s:s, s:s}], s:s, s:s, s:{s:i, s:i}}", "id", "msg_fake",
                      "type", "message", "role", "assistant", "content", "type", "text", "text",
                      text, "model", model, "stop_reason", "end_turn", "usage", "input_tokens",
                      (int)in, "output_tokens", (int)out);
    else if (strcmp(path, "/api/chat") == 0)
        j = json_pack("{s:s, s:{s:s, s:s}, s:b, s:s, s:i, s:i}", "model", model, "message", "role",
                      "assistant", "content", text, "done", 1, "done_reason", "stop",
                      "prompt_eval_count", (int)in, "eval_count", (int)out);
    else
        j = json_pack("{s:s, s:s, s:s, s:[{s:i, s:{s:s, s:s}, s:s}], s:{s:i, s:i, s:i}}", "id",
                      "chatcmpl-fake", "object", "chat.completion", "model", model, "choices",
                      "index", 0, "message", "role", "assistant", "content", text,
                      "finish_reason", "stop", "usage", "prompt_tokens", (int)in,
                      "completion_tokens", (int)out, "total_tokens", (int)(in + out));
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

static void on_reply_closed(uv_handle_t *h) { free(h->data); }

static void reply_now(uv_timer_t *t)
{
    struct reply *r = t->data;
    struct conn *c = r->c;
    if (r->drop) {
        if (r->data)
            send_bytes(c, r->data, r->len);
        close_conn(c);
    } else {
        send_bytes(c, r->data, r->len);
        if (r->count_index != (size_t)-1) {
            S.counts[r->count_index].answered++;
            S.answered_total++;
        }
        c->busy = false;
    }
    uv_close((uv_handle_t *)&r->timer, on_reply_closed);
}

static void queue_reply(struct conn *c, int status, const char *extra, const char *body,
                        size_t body_len, bool drop, size_t count_index)
{
    struct reply *r = calloc(1, sizeof *r);
    r->c = c;
    r->drop = drop;
    r->count_index = count_index;
    if (!drop) {
        size_t cap = body_len + 512;
        r->data = malloc(cap);
        int h = snprintf(r->data, cap,
                         "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n%s"
                         "Content-Length: %zu\r\nrequest-id: req_fake\r\n\r\n",
                         status, reason(status), extra, body_len);
        memcpy(r->data + h, body, body_len);
        r->len = (size_t)h + body_len;
    }
    uv_timer_init(loop, &r->timer);
    r->timer.data = r;
    uv_timer_start(&r->timer, reply_now, (uint64_t)S.latency_ms, 0);
}

static const char *header(const char *head, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p + 2, "\r\n")) {
        if (strncasecmp(p + 2, name, n) == 0 && p[2 + n] == ':') {
            const char *v = p + 3 + n;
            while (*v == ' ')
                v++;
            size_t k = strcspn(v, "\r\n");
            if (k >= cap)
                k = cap - 1;
            memcpy(out, v, k);
            out[k] = '\0';
            return out;
        }
    }
    return NULL;
}

static void handle(struct conn *c, const char *head, const char *body, size_t body_len)
{
    char method[16] = "", path[256] = "";
    sscanf(head, "%15s %255s", method, path);
    if (strcmp(path, "/_counts") == 0) {
        write_counts();
        queue_reply(c, 200, "", "{}", 2, false, (size_t)-1);
        return;
    }
    size_t ci = count_body(body, body_len);
    const char *action = S.next_script < S.n_script ? S.script[S.next_script++] : S.def;
    if (S.stall_after >= 0 && (long)S.scheduled >= S.stall_after)
        action = "stall";
    if (strcmp(action, "stall") == 0)
        return; /* never answered; the connection stays busy */
    if (strcmp(action, "drop") == 0) {
        /* headers and a first byte, then the connection closes: a body cut
         * short in transit (libcurl: "transfer closed with … remaining") */
        struct reply *r = calloc(1, sizeof *r);
        r->c = c;
        r->count_index = (size_t)-1;
        r->data = strdup("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         "Content-Length: 100\r\n\r\n{");
        r->len = strlen(r->data);
        r->drop = true;
        uv_timer_init(loop, &r->timer);
        r->timer.data = r;
        uv_timer_start(&r->timer, reply_now, (uint64_t)S.latency_ms, 0);
        return;
    }
    int status = (int)strtol(action, NULL, 10);
    if (status == 401) {
        char key[256] = "", msg[400];
        if (!header(head, "x-api-key", key, sizeof key) &&
            header(head, "authorization", key, sizeof key) == NULL)
            snprintf(key, sizeof key, "(none)");
        snprintf(msg, sizeof msg, "invalid x-api-key: %s", key);
        char *b = error_body(path, 401, msg);
        queue_reply(c, 401, "", b, strlen(b), false, (size_t)-1);
        free(b);
        return;
    }
    if (status >= 400) {
        const char *extra = "";
        if (strcmp(action, "429") == 0)
            extra = "retry-after-ms: 50\r\nretry-after: 1\r\n";
        else if (strcmp(action, "429s") == 0)
            extra = "retry-after: 1\r\n";
        char *b = error_body(path, status, status == 429 ? "rate limited, slow down"
                                            : status == 529 ? "Overloaded"
                                                            : "fake failure");
        queue_reply(c, status, extra, b, strlen(b), false, (size_t)-1);
        free(b);
        return;
    }
    json_error_t err;
    json_t *req = json_loadb(body, body_len, 0, &err);
    json_t *msgs = json_object_get(req, "messages");
    const char *prompt = json_string_value(json_object_get(json_array_get(msgs, 0), "content"));
    const char *model = json_string_value(json_object_get(req, "model"));
    if (req == NULL || prompt == NULL || model == NULL) {
        char *b = error_body(path, 400, "malformed request");
        queue_reply(c, 400, "", b, strlen(b), false, (size_t)-1);
        free(b);
        json_decref(req);
        return;
    }
    char *text = make_answer(prompt, json_array_size(msgs));
    char *b = ok_body(path, model, text, (long)(body_len / 3), S.usage_out);
    if (strcmp(action, "trunc") == 0)
        b[strlen(b) / 2] = '\0';
    if (strcmp(action, "nonjson") == 0) {
        free(b);
        b = strdup("<html><body>502 Bad Gateway</body></html>");
    }
    queue_reply(c, 200, "", b, strlen(b), false, ci);
    S.scheduled++;
    free(b);
    free(text);
    json_decref(req);
}

/* Handles every complete request in the buffer (one at a time per connection). */
static void parse(struct conn *c)
{
    while (!c->busy && c->len > 0) {
        c->buf[c->len] = '\0';
        char *end = strstr(c->buf, "\r\n\r\n");
        if (end == NULL)
            return;
        size_t head_len = (size_t)(end - c->buf) + 4;
        char cl[32] = "";
        *end = '\0';
        size_t body_len = header(c->buf, "content-length", cl, sizeof cl) ? (size_t)strtoul(cl, NULL, 10) : 0;
        if (c->len < head_len + body_len) {
            *end = '\r';
            return;
        }
        char *head = strndup(c->buf, head_len);
        char *body = malloc(body_len + 1);
        memcpy(body, c->buf + head_len, body_len);
        body[body_len] = '\0';
        memmove(c->buf, c->buf + head_len + body_len, c->len - head_len - body_len);
        c->len -= head_len + body_len;
        c->busy = true;
        handle(c, head, body, body_len);
        free(head);
        free(body);
    }
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *b)
{
    struct conn *c = h->data;
    if (c->len + suggested + 1 > c->cap) {
        c->cap = c->len + suggested + 1;
        c->buf = realloc(c->buf, c->cap);
    }
    *b = uv_buf_init(c->buf + c->len, (unsigned)suggested);
}

static void on_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
    (void)b;
    struct conn *c = s->data;
    if (n < 0) {
        close_conn(c);
        return;
    }
    c->len += (size_t)n;
    parse(c);
}

static void on_connection(uv_stream_t *server, int status)
{
    if (status < 0)
        return;
    struct conn *c = calloc(1, sizeof *c);
    uv_tcp_init(loop, &c->tcp);
    c->tcp.data = c;
    if (uv_accept(server, (uv_stream_t *)&c->tcp) != 0) {
        close_conn(c);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static void on_stop(uv_timer_t *t)
{
    (void)t;
    write_counts();
    exit(0);
}

static void on_signal(uv_signal_t *s, int sig)
{
    (void)s;
    (void)sig;
    write_counts();
    exit(0);
}

int main(int argc, char **argv)
{
    long timeout_s = 60;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL && strcmp(a, "--think") != 0) {
            fprintf(stderr, "fake_api: %s needs a value\n", a);
            return 2;
        }
        if (strcmp(a, "--latency-ms") == 0)
            S.latency_ms = strtol(v, NULL, 10), i++;
        else if (strcmp(a, "--script") == 0) {
            char *s = strdup(v);
            for (char *tok; (tok = strsep(&s, ",")) != NULL;) {
                S.script = realloc(S.script, (S.n_script + 1) * sizeof *S.script);
                S.script[S.n_script++] = tok;
            }
            i++;
        } else if (strcmp(a, "--default") == 0)
            S.def = v, i++;
        else if (strcmp(a, "--answer") == 0)
            S.answer = v, i++;
        else if (strcmp(a, "--think") == 0)
            S.think = true;
        else if (strcmp(a, "--stall-after") == 0)
            S.stall_after = strtol(v, NULL, 10), i++;
        else if (strcmp(a, "--usage-out") == 0)
            S.usage_out = strtol(v, NULL, 10), i++;
        else if (strcmp(a, "--counts") == 0)
            S.counts_path = v, i++;
        else if (strcmp(a, "--timeout-s") == 0)
            timeout_s = strtol(v, NULL, 10), i++;
        else {
            fprintf(stderr, "fake_api: unknown option %s\n", a);
            return 2;
        }
    }
    signal(SIGPIPE, SIG_IGN);
    loop = uv_default_loop();
    uv_tcp_t server;
    uv_tcp_init(loop, &server);
    struct sockaddr_in addr;
    uv_ip4_addr("127.0.0.1", 0, &addr);
    if (uv_tcp_bind(&server, (const struct sockaddr *)&addr, 0) != 0 ||
        uv_listen((uv_stream_t *)&server, 512, on_connection) != 0) {
        fprintf(stderr, "fake_api: cannot listen on 127.0.0.1\n");
        return 1;
    }
    struct sockaddr_storage bound;
    int blen = sizeof bound;
    uv_tcp_getsockname(&server, (struct sockaddr *)&bound, &blen);
    printf("port %d\n", ntohs(((struct sockaddr_in *)&bound)->sin_port));
    fflush(stdout);
    uv_timer_t stop;
    uv_timer_init(loop, &stop);
    uv_timer_start(&stop, on_stop, (uint64_t)timeout_s * 1000, 0);
    uv_signal_t sigterm, sigint;
    uv_signal_init(loop, &sigterm);
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &sigint);
    uv_signal_start(&sigint, on_signal, SIGINT);
    return uv_run(loop, UV_RUN_DEFAULT);
}
