/* tests/cot/test_kv.c - kv entries (cache/kv.h) are durable, readable back,
 * listed, rejected when corrupt, and keep their objects through gc; the
 * response cache round-trips and its key ignores everything but the request. */
#include <errno.h>
#include <fcntl.h>

#include "cache/cas.h"
#include "cache/gc.h"
#include "cache/kv.h"
#include "base/error.h"
#include "engine/exec.h"
#include "tests/common/tmpcache.h"
#include "nodes/cot/cot.h"

TestSuite(cot_kv, .init = tc_setup, .fini = tc_teardown);

static int count_cb(const char *ns, const struct ik_hash *k, const struct ik_hash *v, void *arg)
{
    (void)k;
    (void)v;
    cr_assert_str_eq(ns, "cot");
    (*(int *)arg)++;
    return 0;
}

Test(cot_kv, put_get_foreach)
{
    struct ik_hash k, v, got;
    ik_hash_bytes("key", 3, &k);
    ik_hash_bytes("value", 5, &v);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_kv_get(T.c, "cot", &k, &got, &d), -ENOENT);
    cr_assert_eq(ik_kv_put(T.c, "cot", &k, &v, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_kv_get(T.c, "cot", &k, &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &v));
    cr_assert_eq(ik_kv_put(T.c, "cot", &k, &v, &d), 0); /* replacing is fine */
    int n = 0;
    cr_assert_eq(ik_kv_foreach(T.c, count_cb, &n), 0);
    cr_assert_eq(n, 1);
    ik_diag_free(&d);
}

Test(cot_kv, corrupt_entry_is_reported)
{
    struct ik_hash k, got;
    ik_hash_bytes("key", 3, &k);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&k, hex);
    char *dir = ik_xasprintf("%s/kv/cot/%.2s", T.c->root, hex);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_mkdirs(dir, &d), 0);
    char *path = ik_xasprintf("%s/%s", dir, hex + 2); /* ab/ + 62 digits */
    FILE *f = fopen(path, "w");
    fputs("not a hash", f);
    fclose(f);
    cr_assert_eq(ik_kv_get(T.c, "cot", &k, &got, &d), IK_ECORRUPT);
    cr_assert(strstr(ik_diag_message(&d), "expected a 64-digit object hash"));
    ik_diag_free(&d);
    free(dir);
    free(path);
}

Test(cot_kv, gc_keeps_paid_responses)
{
    struct ik_hash key, kept, loose;
    struct ik_diag d = IK_DIAG_INIT;
    ik_hash_bytes("request", 7, &key);
    struct ik_node_ctx *node = ik_exec_store_ctx_new(T.c);
    cr_assert_eq(ik_cot_cache_put(node, &key, "{\"paid\":1}", 10, &d), 0);
    cr_assert_eq(ik_kv_get(T.c, IK_COT_KV_NS, &key, &kept, &d), 0);
    cr_assert_eq(ik_cas_put(T.c, "garbage", 7, &loose, &d), 0);
    struct ik_gc_report rep;
    cr_assert_eq(ik_gc(T.c, 0, false, &rep, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(rep.objects_removed, 1);
    cr_assert(ik_hash_equal(&rep.removed[0].hash, &loose));
    ik_gc_report_free(&rep);
    cr_assert_eq(ik_cas_stat(T.c, &kept, NULL), 0);
    cr_assert_eq(ik_cas_stat(T.c, &loose, NULL), -ENOENT);
    char *body = NULL;
    size_t len = 0;
    cr_assert_eq(ik_cot_cache_get(node, &key, &body, &len, &d), 0);
    cr_assert_str_eq(body, "{\"paid\":1}");
    free(body);
    ik_exec_store_ctx_free(node);
    ik_diag_free(&d);
}

Test(cot_kv, request_key_covers_the_request_only)
{
    struct ik_cot_msg m[1] = {{"user", "hello", 5}};
    struct ik_cot_sampling s = {"model-a", 512, -1};
    struct ik_hash a, b;
    ik_cot_request_key("anthropic", &s, m, 1, &a);
    ik_cot_request_key("anthropic", &s, m, 1, &b);
    cr_assert(ik_hash_equal(&a, &b));
    s.max_tokens = 256;
    ik_cot_request_key("anthropic", &s, m, 1, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    s.max_tokens = 512;
    ik_cot_request_key("openai", &s, m, 1, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    s.temperature = 0.3;
    ik_cot_request_key("anthropic", &s, m, 1, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
    s.temperature = -1;
    m[0].len = 4;
    ik_cot_request_key("anthropic", &s, m, 1, &b);
    cr_assert_not(ik_hash_equal(&a, &b));
}
