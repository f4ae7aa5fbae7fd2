/* tests/cache/test_remote_s3.c - where an s3:// remote's requests go, from the
 * setting and the environment (tests/cli/test_remote_s3.sh covers the
 * path-style URLs against moto; the AWS form has no local server). */
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "base/error.h"
#include "cache/remote_s3.h"

static void clear_env(void)
{
    const char *vars[] = {"AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "AWS_REGION",
                          "AWS_DEFAULT_REGION", "AWS_SESSION_TOKEN"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
}

TestSuite(remote_s3, .init = clear_env);

/* The base URL of setting, or NULL with *msg the error's text. */
static char *base_of(const char *setting, char **msg)
{
    struct ik_s3 *s = NULL;
    char *base = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_s3_open(setting, strcspn(setting, " "), &s, &base, &d);
    *msg = rc < 0 ? strdup(ik_diag_message(&d)) : NULL;
    cr_assert(rc == 0 || rc == IK_EUSAGE);
    ik_diag_free(&d);
    ik_s3_free(s);
    return base;
}

static void expect_base(const char *setting, const char *want)
{
    char *msg, *got = base_of(setting, &msg);
    cr_assert_not_null(got, "%s: %s", setting, msg);
    cr_expect_str_eq(got, want, "%s", setting);
    free(got);
}

static void expect_error(const char *setting, const char *part)
{
    char *msg, *got = base_of(setting, &msg);
    cr_assert_null(got, "%s was accepted as %s", setting, got);
    cr_expect(strstr(msg, part) != NULL, "%s: '%s' lacks '%s'", setting, msg, part);
    free(msg);
}

Test(remote_s3, aws_urls_are_virtual_hosted_in_the_region)
{
    expect_base("s3://my-bucket/team/ci/", "https://my-bucket.s3.us-east-1.amazonaws.com/team/ci");
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    expect_base("s3://my-bucket", "https://my-bucket.s3.eu-west-1.amazonaws.com");
    setenv("AWS_REGION", "ap-northeast-1", 1); /* AWS_REGION wins */
    expect_base("s3://my-bucket//p auth=X", "https://my-bucket.s3.ap-northeast-1.amazonaws.com/p");
}

Test(remote_s3, a_custom_endpoint_is_path_style)
{
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000/", 1);
    expect_base("s3://cache/ikada", "http://127.0.0.1:9000/cache/ikada");
    setenv("AWS_ENDPOINT_URL_S3", "https://minio.example", 1); /* the S3 one wins */
    expect_base("s3://cache", "https://minio.example/cache");
}

Test(remote_s3, bad_buckets_and_missing_credentials_are_usage_errors)
{
    expect_error("s3://", "expected s3://BUCKET[/PREFIX]");
    expect_error("s3://Upper_Case/x", "expected s3://BUCKET[/PREFIX]");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    expect_error("s3://cache", "AWS_SECRET_ACCESS_KEY is not set");
    setenv("AWS_ACCESS_KEY_ID", "", 1);
    expect_error("s3://cache", "AWS_ACCESS_KEY_ID is not set");
}
