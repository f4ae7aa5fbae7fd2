/* cache/remote_http.c - the remote cache over HTTP (cache/remote.h): blocking
 * libcurl easy requests on one reused handle (keep-alive), objects streamed
 * to and from files, downloads hashed as they arrive. An s3:// remote is the
 * same protocol on a bucket's URL, each request signed (cache/remote_s3.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "cache/cache_int.h"
#include "cache/cas.h"
#include "cache/remote.h"
#include "cache/remote_s3.h"
#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/xmalloc.h"

/* Short enough that a dead server costs a run seconds, not minutes; a slow
 * but live transfer of a large object is not cut (the speed floor is what
 * ends a stalled one). */
#define CONNECT_TIMEOUT_S 5L
#define STALL_SECONDS 30L
/* Records are small; a bigger answer to /ac/ is not one. */
#define RECORD_MAX_BYTES (16u << 20)
/* Enough of an error answer to find S3's <Code>. */
#define ERROR_BODY_MAX 4096u

struct ik_remote {
    char *base;    /* URL without a trailing '/', credentials included */
    char *name;    /* base without credentials, for messages */
    CURL *easy;
    struct curl_slist *headers;
    struct ik_s3 *s3; /* an s3:// remote's signing, or NULL */
    char *down;    /* why the remote is down, or NULL */
};

/* Strips "user:pass@" from a URL for messages. */
static char *public_name(const char *url)
{
    const char *scheme_end = strstr(url, "://");
    const char *host = scheme_end ? scheme_end + 3 : url;
    const char *at = strchr(host, '@'), *slash = strchr(host, '/');
    if (at == NULL || (slash != NULL && slash < at))
        return ik_xstrdup(url);
    return ik_xasprintf("%.*s%s", (int)(host - url), url, at + 1);
}

static int auth_header(const char *spec, const char *setting, struct curl_slist **headers,
                       struct ik_diag *d)
{
    if (strncmp(spec, "auth=", 5) != 0 || spec[5] == '\0')
        return ik_diag_set(d, IK_EUSAGE, "remote '%s': unknown option '%s' (expected auth=VAR, "
                                         "VAR naming an environment variable that holds a "
                                         "request header)", setting, spec);
    const char *value = getenv(spec + 5);
    if (value == NULL || strchr(value, ':') == NULL)
        return ik_diag_set(d, IK_EUSAGE, "remote '%s': environment variable %s %s (expected "
                                         "one header, e.g. \"Authorization: Bearer TOKEN\")",
                           setting, spec + 5, value == NULL ? "is not set" : "holds no 'Name:'");
    *headers = curl_slist_append(*headers, value);
    return 0;
}

/* "auth=VAR" options after the URL. */
static int parse_options(const char *rest, const char *setting, struct curl_slist **headers,
                         struct ik_diag *d)
{
    while (*rest != '\0') {
        while (*rest == ' ' || *rest == '\t')
            rest++;
        size_t len = strcspn(rest, " \t");
        if (len == 0)
            break;
        char *opt = ik_xstrndup(rest, len);
        int rc = auth_header(opt, setting, headers, d);
        free(opt);
        if (rc < 0)
            return rc;
        rest += len;
    }
    return 0;
}

int ik_remote_open(const char *setting, struct ik_remote **out, struct ik_diag *d)
{
    *out = NULL;
    size_t url_len = strcspn(setting, " \t");
    bool s3 = strncmp(setting, "s3://", 5) == 0;
    if (!s3 && strncmp(setting, "http://", 7) != 0 && strncmp(setting, "https://", 8) != 0)
        return ik_diag_set(d, IK_EUSAGE, "remote '%s': expected an http:// or https:// URL "
                                         "(the Bazel HTTP cache layout) or s3://BUCKET/PREFIX",
                           setting);
    struct curl_slist *headers = NULL;
    int rc = parse_options(setting + url_len, setting, &headers, d);
    struct ik_s3 *signer = NULL;
    char *base = NULL;
    if (rc == 0 && s3)
        rc = ik_s3_open(setting, url_len, &signer, &base, d);
    if (rc == 0 && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        rc = ik_diag_set(d, IK_EHTTP, "remote '%s': libcurl could not start", setting);
    if (rc < 0) {
        curl_slist_free_all(headers);
        ik_s3_free(signer);
        free(base);
        return rc;
    }
    struct ik_remote *r = ik_xcalloc(1, sizeof *r);
    while (url_len > 0 && setting[url_len - 1] == '/')
        url_len--;
    r->base = s3 ? base : ik_xstrndup(setting, url_len);
    /* Messages name the bucket as the user wrote it, not the endpoint. */
    r->name = s3 ? ik_xstrndup(setting, url_len) : public_name(r->base);
    r->headers = headers;
    r->s3 = signer;
    r->easy = curl_easy_init();
    *out = r;
    return 0;
}

void ik_remote_close(struct ik_remote *r)
{
    if (r == NULL)
        return;
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->headers);
    ik_s3_free(r->s3);
    free(r->base);
    free(r->name);
    free(r->down);
    free(r);
}

const char *ik_remote_down_reason(const struct ik_remote *r) { return r->down; }

const char *ik_remote_name(const struct ik_remote *r) { return r->name; }

/* Where a response body goes: memory (records), a temp file being hashed
 * (objects), or nowhere (the answer to a PUT). An error answer's first bytes
 * go to `error` instead, for S3's <Code>. */
struct sink {
    struct ik_buf *mem;
    int fd;
    struct ik_hasher *hasher;
    uint64_t bytes;
    int write_err;
    CURL *easy;
    int answer; /* 0: not seen yet, 1: a 2xx body, 2: an error's */
    struct ik_buf error;
};

#define SINK_MEM(buf) {(buf), -1, NULL, 0, 0, NULL, 0, IK_BUF_INIT}
#define SINK_FILE(fd, hasher) {NULL, (fd), (hasher), 0, 0, NULL, 0, IK_BUF_INIT}
#define SINK_NONE {NULL, -1, NULL, 0, 0, NULL, 0, IK_BUF_INIT}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    struct sink *s = arg;
    size_t len = size * n;
    if (s->answer == 0) {
        long status = 0;
        curl_easy_getinfo(s->easy, CURLINFO_RESPONSE_CODE, &status);
        s->answer = status >= 200 && status <= 299 ? 1 : 2;
    }
    if (s->answer == 2) {
        if (s->error.len < ERROR_BODY_MAX)
            ik_buf_append(&s->error, data, len < ERROR_BODY_MAX ? len : ERROR_BODY_MAX);
        return len;
    }
    s->bytes += len;
    if (s->mem != NULL) {
        if (s->mem->len + len > RECORD_MAX_BYTES)
            return 0;
        ik_buf_append(s->mem, data, len);
        return len;
    }
    if (s->hasher == NULL)
        return len;
    ik_hasher_update(s->hasher, data, len);
    s->write_err = ik__write_all(s->fd, data, len);
    return s->write_err == 0 ? len : 0;
}

static size_t on_upload(char *buf, size_t size, size_t n, void *arg)
{
    return fread(buf, size, n, arg);
}

/* Marks the remote down (first reason kept) and returns IK_EHTTP. */
static int go_down(struct ik_remote *r, const char *path, const char *why)
{
    if (r->down == NULL)
        r->down = ik_xasprintf("%s/%s: %s", r->name, path, why);
    return IK_EHTTP;
}

/* S3's error code (<Code>NoSuchKey</Code>) from an error answer, or "". */
static void s3_error_code(const struct ik_buf *body, char *out, size_t size)
{
    const char *open = body->data ? strstr(body->data, "<Code>") : NULL;
    const char *close = open ? strstr(open, "</Code>") : NULL;
    size_t len = close ? (size_t)(close - open - 6) : 0;
    snprintf(out, size, "%.*s", (int)(len < size ? len : size - 1), open ? open + 6 : "");
}

/* An answer that is neither 2xx nor a miss takes the remote down. S3 answers
 * 404 for a missing bucket too (NoSuchBucket): only NoSuchKey is a miss. */
static int judge_status(struct ik_remote *r, const char *path, long status,
                        const struct sink *sink)
{
    char code[64] = "";
    if (r->s3 != NULL)
        s3_error_code(&sink->error, code, sizeof code);
    bool miss = status == 404 && (code[0] == '\0' || strcmp(code, "NoSuchKey") == 0);
    if (miss || (status >= 200 && status <= 299))
        return 0;
    char why[128];
    snprintf(why, sizeof why, "HTTP %ld%s%s%s", status, code[0] ? " " : "", code,
             status == 401 || status == 403 ? " (check the credentials)" : "");
    return go_down(r, path, why);
}

/* One request: a GET into sink, or a PUT of upload (upload_sha256_hex: its
 * hash, which S3 checks). 0 with *status the HTTP status (2xx or a miss's
 * 404); anything else takes the remote down. */
static int request(struct ik_remote *r, const char *path, FILE *upload, uint64_t upload_len,
                   const char *upload_sha256_hex, struct sink *sink, long *status)
{
    if (r->down != NULL)
        return IK_EHTTP;
    char *url = ik_xasprintf("%s/%s", r->base, path);
    char err[CURL_ERROR_SIZE] = "";
    CURL *e = r->easy;
    curl_easy_reset(e);
    struct curl_slist *headers = NULL;
    for (const struct curl_slist *h = r->headers; h != NULL; h = h->next)
        headers = curl_slist_append(headers, h->data);
    if (r->s3 != NULL)
        ik_s3_sign(r->s3, e, &headers, upload_sha256_hex);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, err);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, CONNECT_TIMEOUT_S);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, STALL_SECONDS);
    if (upload != NULL) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_READFUNCTION, on_upload);
        curl_easy_setopt(e, CURLOPT_READDATA, upload);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, (curl_off_t)upload_len);
    }
    sink->easy = e;
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, sink);
    CURLcode cc = curl_easy_perform(e);
    *status = 0;
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, status);
    int rc = 0;
    if (cc != CURLE_OK && sink->write_err == 0)
        rc = go_down(r, path, err[0] ? err : curl_easy_strerror(cc));
    else if (cc == CURLE_OK)
        rc = judge_status(r, path, *status, sink);
    curl_slist_free_all(headers);
    ik_buf_free(&sink->error);
    free(url);
    return rc;
}

/* GETs /cas/<h> into the local store if its bytes hash to h. 0, -ENOENT
 * (missing or damaged: d says which), IK_EHTTP, -errno. */
static int fetch_object(struct ik_remote *r, struct ik_cache *c, const struct ik_hash *h,
                        struct ik_diag *d)
{
    uint64_t have;
    if (ik_cas_stat(c, h, &have) == 0)
        return 0;
    char hex[IK_HASH_HEX_LEN + 1], path[8 + IK_HASH_HEX_LEN];
    ik_hash_to_hex(h, hex);
    snprintf(path, sizeof path, "cas/%s", hex);
    char *tmp_dir = ik_cache_path(c, "tmp"), *tmp = NULL, *final = NULL;
    int fd = ik_tmp_create(tmp_dir, tmp_dir, &tmp, d);
    int rc = fd < 0 ? fd : 0;
    if (rc < 0)
        goto out;
    struct sink s = SINK_FILE(fd, ik_hasher_new());
    long status;
    rc = request(r, path, NULL, 0, NULL, &s, &status);
    struct ik_hash got;
    ik_hasher_final(s.hasher, &got);
    if (rc == 0 && s.write_err != 0)
        rc = ik_diag_set(d, s.write_err, "cannot write %s: %s", ik_display_path(tmp),
                         strerror(-s.write_err));
    else if (rc == 0 && status == 404)
        rc = -ENOENT;
    else if (rc == 0 && !ik_hash_equal(&got, h)) {
        char got_hex[IK_HASH_HEX_LEN + 1];
        ik_hash_to_hex(&got, got_hex);
        rc = ik_diag_set(d, -ENOENT, "remote object %s/%s is corrupt: its %llu bytes hash to "
                                     "%s", r->name, path, (unsigned long long)s.bytes, got_hex);
    }
    if (rc != 0) {
        ik_tmp_abort(fd, tmp);
        goto out;
    }
    final = ik_cas_object_path(c, h);
    rc = ik__fanout_mkdir(c, "objects", h, d);
    if (rc == 0)
        rc = ik_tmp_commit(fd, tmp, final, 0444, d);
    else
        ik_tmp_abort(fd, tmp);
out:
    free(final);
    free(tmp);
    free(tmp_dir);
    return rc;
}

/* GETs /ac/<key> and parses it: *out the record, or -ENOENT (missing or
 * damaged: d says what), IK_EHTTP. */
static int get_record(struct ik_remote *r, const struct ik_hash *key, struct ik_action **out,
                      struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1], path[8 + IK_HASH_HEX_LEN];
    ik_hash_to_hex(key, hex);
    snprintf(path, sizeof path, "ac/%s", hex);
    struct ik_buf body = IK_BUF_INIT;
    struct sink s = SINK_MEM(&body);
    long status;
    int rc = request(r, path, NULL, 0, NULL, &s, &status);
    if (rc == 0 && status == 404)
        rc = -ENOENT;
    if (rc == 0) {
        char *where = ik_xasprintf("remote %s/%s", r->name, path);
        struct ik_diag pd = IK_DIAG_INIT;
        if (ik_action_parse(body.data ? body.data : "", body.len, where, key, out, &pd) != 0) {
            const char *msg = ik_diag_message(&pd);
            msg += strncmp(msg, "error: ", 7) == 0 ? 7 : 0;
            rc = ik_diag_set(d, -ENOENT, "%.*s", (int)strcspn(msg, "\n"), msg);
        }
        ik_diag_free(&pd);
        free(where);
    }
    ik_buf_free(&body);
    return rc;
}

int ik_remote_lookup(struct ik_remote *r, const struct ik_hash *key, struct ik_action **out,
                     struct ik_diag *d)
{
    *out = NULL;
    return get_record(r, key, out, d);
}

int ik_remote_fetch(struct ik_remote *r, struct ik_cache *c, const struct ik_hash *key,
                    struct ik_diag *d)
{
    struct ik_action *a = NULL;
    int rc = get_record(r, key, &a, d);
    for (size_t i = 0; rc == 0 && i < a->n_outputs; i++)
        rc = fetch_object(r, c, &a->outputs[i].hash, d);
    if (rc == 0 && a->has_log)
        rc = fetch_object(r, c, &a->log, d);
    /* The local record last: the local cache's commit point too. */
    if (rc == 0)
        rc = ik_action_put(c, a, d);
    ik_action_free(a);
    return rc;
}

/* PUTs a local file, whose SHA-256 is h, under path. */
static int put_file(struct ik_remote *r, const char *file, const struct ik_hash *h,
                    const char *path, struct ik_diag *d)
{
    FILE *f = fopen(file, "rb");
    if (f == NULL)
        return ik_diag_set(d, -errno, "cannot read %s: %s", ik_display_path(file),
                           strerror(errno));
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(h, hex);
    struct sink answer = SINK_NONE;
    long status;
    int rc = request(r, path, f, len < 0 ? 0 : (uint64_t)len, hex, &answer, &status);
    fclose(f);
    if (rc == 0 && status == 404)
        rc = go_down(r, path, "HTTP 404 on PUT (does the server accept uploads?)");
    return rc;
}

static int push_object(struct ik_remote *r, struct ik_cache *c, const struct ik_hash *h,
                       struct ik_diag *d)
{
    char hex[IK_HASH_HEX_LEN + 1], path[8 + IK_HASH_HEX_LEN];
    ik_hash_to_hex(h, hex);
    snprintf(path, sizeof path, "cas/%s", hex);
    char *file = ik_cas_object_path(c, h);
    int rc = put_file(r, file, h, path, d);
    free(file);
    return rc;
}

int ik_remote_push(struct ik_remote *r, struct ik_cache *c, const struct ik_action *a,
                   struct ik_diag *d)
{
    if (r->down != NULL)
        return IK_EHTTP;
    /* Always PUT, never "HEAD, then skip": a damaged copy on the server has
     * the right name, and only a fresh PUT repairs it. */
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < a->n_outputs; i++)
        rc = push_object(r, c, &a->outputs[i].hash, d);
    if (rc == 0 && a->has_log)
        rc = push_object(r, c, &a->log, d);
    if (rc != 0)
        return rc;
    char hex[IK_HASH_HEX_LEN + 1], path[8 + IK_HASH_HEX_LEN];
    ik_hash_to_hex(&a->key, hex);
    snprintf(path, sizeof path, "ac/%s", hex);
    char *file = ik__fanout_path(c, "actions", &a->key);
    struct ik_hash record_hash;
    uint64_t size;
    rc = ik_hash_file(file, &record_hash, &size, d);
    if (rc == 0)
        rc = put_file(r, file, &record_hash, path, d);
    free(file);
    return rc;
}
