/* cache/remote_s3.c - an S3 bucket as the remote cache (cache/remote_s3.h):
 * its URL from s3://bucket/prefix and the environment, and libcurl's SigV4
 * (CURLOPT_AWS_SIGV4, libcurl 7.75+) for every request. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xmalloc.h"
#include "cache/remote_s3.h"

#define DEFAULT_REGION "us-east-1"
/* The SHA-256 of no bytes: the payload hash of a GET. */
#define EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct ik_s3 {
    char *key_id, *secret;
    char *token_header; /* "x-amz-security-token: ..." or NULL */
    char *sigv4;        /* "aws:amz:<region>:s3" */
};

/* The first of two environment variables that is set and not empty. */
static const char *env_either(const char *first, const char *second)
{
    const char *v = getenv(first);
    if (v == NULL || *v == '\0')
        v = getenv(second);
    return v != NULL && *v != '\0' ? v : NULL;
}

/* S3's rule, loosely: 3 to 63 of [a-z0-9.-]. */
static bool bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') || b[i] == '.' ||
              b[i] == '-'))
            return false;
    return true;
}

static char *bucket_url(const char *bucket, size_t bucket_len, const char *prefix,
                        size_t prefix_len, const char *region)
{
    const char *endpoint = env_either("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL");
    const char *sep = prefix_len > 0 ? "/" : "";
    if (endpoint == NULL)
        return ik_xasprintf("https://%.*s.s3.%s.amazonaws.com%s%.*s", (int)bucket_len, bucket,
                            region, sep, (int)prefix_len, prefix);
    size_t elen = strlen(endpoint);
    while (elen > 0 && endpoint[elen - 1] == '/')
        elen--;
    return ik_xasprintf("%.*s/%.*s%s%.*s", (int)elen, endpoint, (int)bucket_len, bucket, sep,
                        (int)prefix_len, prefix);
}

int ik_s3_open(const char *setting, size_t url_len, struct ik_s3 **out, char **base,
               struct ik_diag *d)
{
    *out = NULL;
    const char *bucket = setting + 5; /* after "s3://" */
    size_t bucket_len = strcspn(bucket, "/ \t");
    if (bucket_len > url_len - 5)
        bucket_len = url_len - 5;
    if (!bucket_ok(bucket, bucket_len))
        return ik_diag_set(d, IK_EUSAGE, "remote '%s': expected s3://BUCKET[/PREFIX] with a "
                                         "bucket name of 3 to 63 of a-z 0-9 . -", setting);
    const char *key_id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (key_id == NULL || *key_id == '\0' || secret == NULL || *secret == '\0')
        return ik_diag_set(d, IK_EUSAGE, "remote '%s': %s is not set (an S3 remote signs its "
                                         "requests with AWS_ACCESS_KEY_ID and "
                                         "AWS_SECRET_ACCESS_KEY)", setting,
                           key_id == NULL || *key_id == '\0' ? "AWS_ACCESS_KEY_ID"
                                                             : "AWS_SECRET_ACCESS_KEY");
    const char *prefix = bucket + bucket_len;
    size_t prefix_len = (size_t)(setting + url_len - prefix);
    while (prefix_len > 0 && *prefix == '/')
        prefix++, prefix_len--;
    while (prefix_len > 0 && prefix[prefix_len - 1] == '/')
        prefix_len--;
    const char *region = env_either("AWS_REGION", "AWS_DEFAULT_REGION");
    region = region ? region : DEFAULT_REGION;
    struct ik_s3 *s = ik_xcalloc(1, sizeof *s);
    s->key_id = ik_xstrdup(key_id);
    s->secret = ik_xstrdup(secret);
    const char *token = getenv("AWS_SESSION_TOKEN");
    if (token != NULL && *token != '\0')
        s->token_header = ik_xasprintf("x-amz-security-token: %s", token);
    s->sigv4 = ik_xasprintf("aws:amz:%s:s3", region);
    *base = bucket_url(bucket, bucket_len, prefix, prefix_len, region);
    *out = s;
    return 0;
}

/* Secrets do not outlive the remote in freed memory. */
static void free_secret(char *s)
{
    if (s == NULL)
        return;
    volatile char *p = s;
    while (*p)
        *p++ = '\0';
    free(s);
}

void ik_s3_free(struct ik_s3 *s)
{
    if (s == NULL)
        return;
    free_secret(s->key_id);
    free_secret(s->secret);
    free_secret(s->token_header);
    free(s->sigv4);
    free(s);
}

void ik_s3_sign(const struct ik_s3 *s, CURL *e, struct curl_slist **headers,
                const char *payload_sha256_hex)
{
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, s->sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, s->key_id);
    curl_easy_setopt(e, CURLOPT_PASSWORD, s->secret);
    if (s->token_header != NULL)
        *headers = curl_slist_append(*headers, s->token_header);
    /* S3 wants the header on every request, and libcurl 7.88 does not add
     * it: it signs the header's value as the payload's hash. */
    char h[40 + 64];
    snprintf(h, sizeof h, "x-amz-content-sha256: %s",
             payload_sha256_hex ? payload_sha256_hex : EMPTY_SHA256);
    *headers = curl_slist_append(*headers, h);
}
