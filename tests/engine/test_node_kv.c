/* tests/engine/test_node_kv.c - the node contract's durable store
 * (ik_node_kv_get/put of engine/node.h): values of any bytes round-trip,
 * an absent key is -ENOENT without a message, a put replaces, the entry is a
 * cache/kv.h entry naming the value's CAS object, and puts from several
 * threads at once all land. */
#include <errno.h>
#include <pthread.h>

#include "cache/cas.h"
#include "cache/kv.h"
#include "engine/exec.h"
#include "engine/node.h"
#include "tests/common/tmpcache.h"

TestSuite(node_kv, .init = tc_setup, .fini = tc_teardown);

Test(node_kv, round_trip_any_bytes)
{
    struct ik_node_ctx *ctx = ik_exec_store_ctx_new(T.c);
    struct ik_hash key;
    ik_hash_bytes("k", 1, &key);
    struct ik_diag d = IK_DIAG_INIT;
    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(ik_node_kv_get(ctx, "test", &key, &got, &len, &d), -ENOENT);
    cr_assert_null(d.text);
    static const char value[] = {'a', '\0', 'b', '\n'};
    cr_assert_eq(ik_node_kv_put(ctx, "test", &key, value, sizeof value, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(ik_node_kv_get(ctx, "test", &key, &got, &len, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(len, sizeof value);
    cr_assert_eq(memcmp(got, value, len), 0);
    cr_assert_eq(got[len], '\0');
    free(got);
    /* another namespace is another store */
    cr_assert_eq(ik_node_kv_get(ctx, "other", &key, &got, &len, &d), -ENOENT);
    /* underneath: kv/test/<key> names the value's object */
    struct ik_hash obj, want;
    ik_hash_bytes(value, sizeof value, &want);
    cr_assert_eq(ik_kv_get(T.c, "test", &key, &obj, &d), 0);
    cr_assert(ik_hash_equal(&obj, &want));
    cr_assert_eq(ik_node_kv_put(ctx, "test", &key, "new", 3, &d), 0);
    cr_assert_eq(ik_node_kv_get(ctx, "test", &key, &got, &len, &d), 0);
    cr_assert_str_eq(got, "new");
    free(got);
    ik_diag_free(&d);
    ik_exec_store_ctx_free(ctx);
}

Test(node_kv, entry_without_its_object)
{
    struct ik_node_ctx *ctx = ik_exec_store_ctx_new(T.c);
    struct ik_hash key, obj;
    ik_hash_bytes("k", 1, &key);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_node_kv_put(ctx, "test", &key, "v", 1, &d), 0);
    ik_hash_bytes("v", 1, &obj);
    cr_assert_eq(ik_cas_remove(T.c, &obj), 0);
    char *got = NULL;
    size_t len = 0;
    cr_assert_eq(ik_node_kv_get(ctx, "test", &key, &got, &len, &d), -ENOENT);
    cr_assert(strstr(ik_diag_message(&d), "is not in the cache"));
    ik_diag_free(&d);
    ik_exec_store_ctx_free(ctx);
}

enum { THREADS = 4, PER_THREAD = 25 };

struct writer {
    struct ik_node_ctx *ctx;
    int id;
    int failures;
};

static void *write_some(void *arg)
{
    struct writer *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        char text[32];
        int n = snprintf(text, sizeof text, "value %d/%d", w->id, i);
        struct ik_hash key;
        ik_hash_bytes(text, (size_t)n, &key);
        struct ik_diag d = IK_DIAG_INIT;
        w->failures += ik_node_kv_put(w->ctx, "test", &key, text, (size_t)n, &d) != 0;
        ik_diag_free(&d);
    }
    return NULL;
}

Test(node_kv, puts_from_threads)
{
    struct ik_node_ctx *ctx = ik_exec_store_ctx_new(T.c);
    pthread_t th[THREADS];
    struct writer w[THREADS];
    for (int t = 0; t < THREADS; t++) {
        w[t] = (struct writer){ctx, t, 0};
        cr_assert_eq(pthread_create(&th[t], NULL, write_some, &w[t]), 0);
    }
    for (int t = 0; t < THREADS; t++) {
        pthread_join(th[t], NULL);
        cr_assert_eq(w[t].failures, 0);
    }
    for (int t = 0; t < THREADS; t++)
        for (int i = 0; i < PER_THREAD; i++) {
            char text[32];
            int n = snprintf(text, sizeof text, "value %d/%d", t, i);
            struct ik_hash key;
            ik_hash_bytes(text, (size_t)n, &key);
            struct ik_diag d = IK_DIAG_INIT;
            char *got = NULL;
            size_t len = 0;
            cr_assert_eq(ik_node_kv_get(ctx, "test", &key, &got, &len, &d), 0, "%s",
                         ik_diag_message(&d));
            cr_assert_str_eq(got, text);
            free(got);
            ik_diag_free(&d);
        }
    ik_exec_store_ctx_free(ctx);
}
