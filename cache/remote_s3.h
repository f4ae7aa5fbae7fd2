/* cache/remote_s3.h - what an s3://bucket/prefix remote adds to the HTTP one
 * (remote_http.c): the bucket's URL and the SigV4 signing of each request.
 * The lookup, fetch, push and hash checks are remote_http.c's, unchanged: an
 * S3 bucket is one more server with GET and PUT.
 *
 * Everything comes from the usual AWS environment variables, read once when
 * the remote opens, never stored or printed:
 *   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY   the credentials (both needed)
 *   AWS_SESSION_TOKEN                          sent as x-amz-security-token
 *   AWS_REGION, else AWS_DEFAULT_REGION        the region (us-east-1 if neither)
 *   AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL a custom endpoint (MinIO, moto,
 *       Ceph): path-style URLs, <endpoint>/<bucket>/<prefix>/...; without one,
 *       virtual-hosted AWS URLs, https://<bucket>.s3.<region>.amazonaws.com/... */
#ifndef IK_CACHE_REMOTE_S3_H
#define IK_CACHE_REMOTE_S3_H

#include <curl/curl.h>

#include "base/diag.h"

struct ik_s3;

/* Parses url ("s3://bucket[/prefix]", url_len bytes of setting) and the
 * environment. Sets *base to the HTTP(S) URL the objects live under (no
 * trailing '/'). IK_EUSAGE with d filled when the bucket is missing or a
 * credential is not set. */
int ik_s3_open(const char *setting, size_t url_len, struct ik_s3 **out, char **base,
               struct ik_diag *d);

void ik_s3_free(struct ik_s3 *s);

/* Has libcurl sign the request on e (after curl_easy_reset) and adds the
 * S3 headers to *headers: the session token, and the payload's SHA-256
 * (payload_sha256_hex, 64 hex digits, for a PUT: S3 then refuses a body
 * damaged on the way) or NULL for a request without a body. */
void ik_s3_sign(const struct ik_s3 *s, CURL *e, struct curl_slist **headers,
                const char *payload_sha256_hex);

#endif
