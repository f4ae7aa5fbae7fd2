/* tests/cache/test_cas.c - the object store: round trips, idempotence,
 * read-only objects, size checks, verification and quarantine (on disk and of
 * a verified map), injected
 * write faults, prefix resolution. */
#include <errno.h>
#include <pthread.h>

#include "cache/action.h"
#include "cache/cas.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_cas, .init = tc_setup, .fini = tc_teardown);

static struct ik_hash put(const char *s)
{
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put(T.c, s, strlen(s), &h, &d), 0, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    return h;
}

static int tmp_entries(void)
{
    char *tmp = ik_cache_path(T.c, "tmp");
    int n = tc_count_entries(tmp);
    free(tmp);
    return n;
}

Test(cache_cas, put_map_stat_round_trip)
{
    struct ik_hash h = put("hello, cache");
    struct ik_hash want;
    ik_hash_bytes("hello, cache", 12, &want);
    cr_assert(ik_hash_equal(&h, &want));
    uint64_t size = 0;
    cr_assert_eq(ik_cas_stat(T.c, &h, &size), 0);
    cr_assert_eq(size, 12);
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_map(T.c, &h, 12, &b, &d), 0);
    cr_assert_eq(b.len, 12);
    cr_assert_eq(memcmp(b.data, "hello, cache", 12), 0);
    ik_blob_release(&b);
    /* The layout is objects/ab/<remaining 62 digits>. */
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&h, hex);
    char *want_path = ik_xasprintf("%s/objects/%.2s/%s", T.c->root, hex, hex + 2);
    char *path = ik_cas_object_path(T.c, &h);
    cr_assert_str_eq(path, want_path);
    free(path);
    free(want_path);
    cr_assert_eq(tmp_entries(), 0, "no temporary file is left behind");
}

Test(cache_cas, empty_object)
{
    struct ik_hash h = put("");
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_map(T.c, &h, 0, &b, &d), 0);
    cr_assert_eq(b.len, 0);
    cr_assert_not_null(b.data);
    ik_blob_release(&b);
}

Test(cache_cas, missing_object)
{
    struct ik_hash h;
    ik_hash_bytes("never stored", 12, &h);
    uint64_t size;
    cr_assert_eq(ik_cas_stat(T.c, &h, &size), -ENOENT);
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_map(T.c, &h, UINT64_MAX, &b, &d), -ENOENT);
    ik_diag_free(&d);
}

Test(cache_cas, put_is_idempotent)
{
    struct ik_hash h = put("same bytes");
    char *path = ik_cas_object_path(T.c, &h);
    struct stat a, b;
    cr_assert_eq(stat(path, &a), 0);
    struct ik_hash h2 = put("same bytes");
    cr_assert(ik_hash_equal(&h, &h2));
    cr_assert_eq(stat(path, &b), 0);
    /* The second put did not rewrite the object (same inode, same mtime). */
    cr_assert_eq(a.st_ino, b.st_ino);
    cr_assert_eq(a.st_mtim.tv_sec, b.st_mtim.tv_sec);
    cr_assert_eq(a.st_mtim.tv_nsec, b.st_mtim.tv_nsec);
    free(path);
}

Test(cache_cas, objects_are_read_only)
{
    struct ik_hash h = put("immutable");
    char *path = ik_cas_object_path(T.c, &h);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0444);
    free(path);
}

Test(cache_cas, open_without_create_reads_and_writes_nothing)
{
    struct ik_hash h = put("read me");
    struct ik_cache *ro = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cache_open_at(T.c->root, false, &ro, &d), 0, "%s", ik_diag_message(&d));
    struct ik_blob b;
    cr_assert_eq(ik_cas_map(ro, &h, 7, &b, &d), 0);
    cr_assert_eq(memcmp(b.data, "read me", 7), 0);
    ik_blob_release(&b);
    ik_cache_close(ro);
    /* A reader never creates a cache that is not there. */
    char *none = ik_xasprintf("%s/elsewhere", T.dir);
    cr_assert_eq(ik_cache_open_at(none, false, &ro, &d), IK_ENOTFOUND);
    cr_assert(!tc_exists(none));
    free(none);
    ik_diag_free(&d);
}

Test(cache_cas, size_mismatch_is_corrupt)
{
    struct ik_hash h = put("twelve bytes");
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_map(T.c, &h, 13, &b, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "size 12 bytes, expected 13"), "%s", d.text);
    ik_diag_free(&d);
}

/* Rewrites an object in place with one byte flipped (tests run as any user,
 * so make it writable first). */
static void flip_byte(const struct ik_hash *h, long at)
{
    char *path = ik_cas_object_path(T.c, h);
    cr_assert_eq(chmod(path, 0644), 0);
    int fd = open(path, O_RDWR);
    cr_assert(fd >= 0);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, at), 1);
    c ^= 0x20;
    cr_assert_eq(pwrite(fd, &c, 1, at), 1);
    close(fd);
    free(path);
}

Test(cache_cas, verify_detects_and_quarantines)
{
    struct ik_hash good = put("good object");
    struct ik_hash bad = put("bad object");
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_verify(T.c, &good, true, &d), 0);
    flip_byte(&bad, 0);
    cr_assert_eq(ik_cas_verify(T.c, &bad, false, &d), IK_ECORRUPT);
    cr_assert_eq(ik_cas_stat(T.c, &bad, NULL), 0, "no quarantine when not asked");
    cr_assert_eq(ik_cas_verify(T.c, &bad, true, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "is corrupt"), "%s", d.text);
    cr_assert_eq(ik_cas_stat(T.c, &bad, NULL), -ENOENT, "moved out of objects/");
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&bad, hex);
    char *q = ik_xasprintf("%s/quarantine/%s", T.c->root, hex);
    cr_assert(tc_exists(q));
    free(q);
    /* A fresh put of the right bytes repairs the store. */
    struct ik_hash again = put("bad object");
    cr_assert(ik_hash_equal(&again, &bad));
    cr_assert_eq(ik_cas_verify(T.c, &bad, true, &d), 0);
    ik_diag_free(&d);
}

Test(cache_cas, verified_map_checks_the_bytes_and_quarantines)
{
    struct ik_hash good = put("good object");
    struct ik_hash bad = put("bad object");
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_map_verified(T.c, &good, 11, &b, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(memcmp(b.data, "good object", 11), 0);
    ik_blob_release(&b);
    /* The right bytes under a wrong expected size: the record is wrong, not the
     * object, which stays. */
    cr_assert_eq(ik_cas_map_verified(T.c, &good, 12, &b, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "size 11 bytes, expected 12"), "%s", d.text);
    cr_assert_eq(ik_cas_stat(T.c, &good, NULL), 0);
    flip_byte(&bad, 3);
    cr_assert_eq(ik_cas_map_verified(T.c, &bad, 10, &b, &d), IK_ECORRUPT);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&bad, hex);
    char *want = ik_xasprintf("object %s is corrupt", hex);
    cr_assert_not_null(strstr(d.text, want), "%s", d.text);
    cr_assert_not_null(strstr(d.text, "moved to"), "%s", d.text);
    free(want);
    cr_assert_null(b.data, "nothing stays mapped");
    cr_assert_eq(ik_cas_stat(T.c, &bad, NULL), -ENOENT, "moved out of objects/");
    char *q = ik_xasprintf("%s/quarantine/%s", T.c->root, hex);
    cr_assert(tc_exists(q));
    free(q);
    /* Missing now: the usual not-in-the-cache failure. */
    cr_assert_eq(ik_cas_map_verified(T.c, &bad, UINT64_MAX, &b, &d), -ENOENT);
    /* The empty object verifies too. */
    struct ik_hash empty;
    cr_assert_eq(ik_cas_put(T.c, "", 0, &empty, &d), 0);
    cr_assert_eq(ik_cas_map_verified(T.c, &empty, 0, &b, &d), 0);
    cr_assert_eq(b.len, 0);
    ik_blob_release(&b);
    ik_diag_free(&d);
}

Test(cache_cas, enospc_leaves_nothing_behind)
{
    cr_assert_eq(chdir(T.dir), 0); /* so the message shows .ikada/… */
    char data[100];
    memset(data, 'z', sizeof data);
    struct ik_hash want;
    ik_hash_bytes(data, sizeof data, &want);
    ik_file_set_fault(ENOSPC, 10);
    struct ik_hash h;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_cas_put(T.c, data, sizeof data, &h, &d);
    ik_file_set_fault(0, 0);
    cr_assert_eq(rc, -ENOSPC);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&want, hex);
    char *msg = ik_xasprintf("error: cannot write .ikada/objects/%.2s/%s: No space left on device",
                             hex, hex + 2);
    cr_assert_str_eq(d.text, msg);
    free(msg);
    cr_assert_eq(ik_cas_stat(T.c, &want, NULL), -ENOENT, "no object");
    cr_assert_eq(tmp_entries(), 0, "no temporary file");
    /* With the fault gone the same put succeeds. */
    cr_assert_eq(ik_cas_put(T.c, data, sizeof data, &h, &d), 0);
    ik_diag_free(&d);
}

/* The variable is read lazily, once per process (each Criterion test is its
 * own process), so it must be set before the fixture writes VERSION. */
static void fault_env_setup(void)
{
    /* The fixture's VERSION file ("ikada-cache 1\n") takes 14 bytes of the budget. */
    setenv("IKADA_FAULT_WRITE", "ENOSPC:4110", 1);
    tc_setup();
}

TestSuite(cache_fault_env, .init = fault_env_setup, .fini = tc_teardown);

Test(cache_fault_env, enospc_in_put_file)
{
    size_t len = 10000;
    char *data = malloc(len);
    memset(data, 'q', len);
    char *src = tc_write("src.bin", data, len);
    struct ik_hash h;
    uint64_t size;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put_file(T.c, src, &h, &size, &d), -ENOSPC);
    cr_assert_not_null(strstr(d.text, "No space left on device"), "%s", d.text);
    struct ik_hash want;
    ik_hash_bytes(data, len, &want);
    cr_assert_eq(ik_cas_stat(T.c, &want, NULL), -ENOENT);
    cr_assert_eq(tmp_entries(), 0);
    ik_diag_free(&d);
    free(src);
    free(data);
}

Test(cache_cas, put_file_streams_and_matches_put)
{
    size_t len = (2u << 20) + 3;
    unsigned char *data = malloc(len);
    for (size_t i = 0; i < len; i++)
        data[i] = (unsigned char)(i % 251);
    char *src = tc_write("model.bin", data, len);
    struct ik_hash h, want;
    uint64_t size = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put_file(T.c, src, &h, &size, &d), 0, "%s", ik_diag_message(&d));
    ik_hash_bytes(data, len, &want);
    cr_assert(ik_hash_equal(&h, &want));
    cr_assert_eq(size, len);
    struct ik_blob b;
    cr_assert_eq(ik_cas_map(T.c, &h, len, &b, &d), 0);
    cr_assert_eq(memcmp(b.data, data, len), 0);
    ik_blob_release(&b);
    /* Storing it again is a no-op and leaves no temporary file. */
    cr_assert_eq(ik_cas_put_file(T.c, src, &h, &size, &d), 0);
    cr_assert_eq(tmp_entries(), 0);
    free(src);
    free(data);
}

/* A header and a file stream into one object: the file's `file` artifact
 * without holding the file (engine/exec_ctx.c's ik_node_output_file). */
Test(cache_cas, put_file_prefixed_is_header_then_file)
{
    size_t len = (1u << 20) + 5;
    unsigned char *data = malloc(len + 7);
    memcpy(data, "header:", 7);
    for (size_t i = 0; i < len; i++)
        data[7 + i] = (unsigned char)(i % 253);
    char *src = tc_write("big.gguf", data + 7, len);
    struct ik_hash h, want;
    uint64_t size = 0;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put_file_prefixed(T.c, "header:", 7, src, &h, &size, &d), 0, "%s",
                 ik_diag_message(&d));
    ik_hash_bytes(data, len + 7, &want);
    cr_assert(ik_hash_equal(&h, &want));
    cr_assert_eq(size, len + 7);
    struct ik_blob b;
    cr_assert_eq(ik_cas_map(T.c, &h, len + 7, &b, &d), 0);
    cr_assert_eq(memcmp(b.data, data, len + 7), 0);
    ik_blob_release(&b);
    cr_assert_eq(tmp_entries(), 0);
    free(src);
    free(data);
}

static int count_cb(const struct ik_hash *h, uint64_t size, int64_t mtime_s, void *arg)
{
    (void)h;
    (void)mtime_s;
    *(uint64_t *)arg += size;
    return 0;
}

Test(cache_cas, foreach_and_remove)
{
    struct ik_hash a = put("aaaa");
    put("bbbbbb");
    uint64_t total = 0;
    cr_assert_eq(ik_cas_foreach(T.c, count_cb, &total), 0);
    cr_assert_eq(total, 10);
    cr_assert_eq(ik_cas_remove(T.c, &a), 0);
    total = 0;
    ik_cas_foreach(T.c, count_cb, &total);
    cr_assert_eq(total, 6);
    cr_assert_eq(ik_cas_remove(T.c, &a), -ENOENT);
}

struct put_job {
    int id;
    int failures;
};

static void *put_thread(void *arg)
{
    struct put_job *j = arg;
    for (int i = 0; i < 40; i++) {
        char buf[64];
        int n = snprintf(buf, sizeof buf, "thread %d object %d", j->id, i % 20);
        struct ik_hash h;
        struct ik_diag d = IK_DIAG_INIT;
        if (ik_cas_put(T.c, buf, (size_t)n, &h, &d) != 0)
            j->failures++;
        ik_diag_free(&d);
    }
    return NULL;
}

Test(cache_cas, concurrent_puts_from_threads)
{
    pthread_t th[4];
    struct put_job jobs[4] = {{0, 0}, {1, 0}, {2, 0}, {3, 0}};
    for (int i = 0; i < 4; i++)
        pthread_create(&th[i], NULL, put_thread, &jobs[i]);
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        cr_assert_eq(jobs[i].failures, 0);
    }
    uint64_t n = 0;
    ik_cas_foreach(T.c, count_cb, &n);
    cr_assert_gt(n, 0);
    cr_assert_eq(tmp_entries(), 0);
}

/* Finds two short strings whose hashes share their first 4 hex digits. */
static void colliding_pair(char a[32], char b[32])
{
    static uint32_t seen[65536];
    memset(seen, 0, sizeof seen);
    for (uint32_t i = 1;; i++) {
        char s[32];
        snprintf(s, sizeof s, "candidate %u", i);
        struct ik_hash h;
        ik_hash_bytes(s, strlen(s), &h);
        uint32_t p = (uint32_t)h.b[0] << 8 | h.b[1];
        if (seen[p] != 0) {
            snprintf(a, 32, "candidate %u", seen[p]);
            snprintf(b, 32, "%s", s);
            return;
        }
        seen[p] = i;
    }
}

Test(cache_cas, resolve_prefix)
{
    char a[32], b[32];
    colliding_pair(a, b);
    struct ik_hash ha = put(a), hb = put(b);
    char hexa[IK_HASH_HEX_LEN + 1], hexb[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&ha, hexa);
    ik_hash_to_hex(&hb, hexb);
    struct ik_hash out;
    struct ik_diag d = IK_DIAG_INIT;

    /* Unique: enough digits to tell them apart (and upper case works). */
    size_t common = 4;
    while (hexa[common] == hexb[common])
        common++;
    char pre[IK_HASH_HEX_LEN + 1];
    snprintf(pre, sizeof pre, "%.*s", (int)common + 1, hexa);
    cr_assert_eq(ik_cas_resolve_prefix(T.c, pre, &out, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(ik_hash_equal(&out, &ha));
    for (char *p = pre; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 32);
    cr_assert_eq(ik_cas_resolve_prefix(T.c, pre, &out, &d), 0);
    cr_assert(ik_hash_equal(&out, &ha));

    /* Ambiguous: both are listed. */
    snprintf(pre, sizeof pre, "%.4s", hexa);
    cr_assert_eq(ik_cas_resolve_prefix(T.c, pre, &out, &d), IK_EAMBIGUOUS);
    cr_assert_not_null(strstr(d.text, hexa), "%s", d.text);
    cr_assert_not_null(strstr(d.text, hexb), "%s", d.text);
    cr_assert_not_null(strstr(d.text, "2 matches"), "%s", d.text);

    /* Not found, and too short. */
    char other[5];
    snprintf(other, sizeof other, "%04x", (unsigned)((ha.b[0] << 8 | ha.b[1]) ^ 0x8000));
    cr_assert_eq(ik_cas_resolve_prefix(T.c, other, &out, &d), IK_ENOTFOUND);
    cr_assert_eq(ik_cas_resolve_prefix(T.c, "abc", &out, &d), IK_EUSAGE);
    cr_assert_eq(ik_cas_resolve_prefix(T.c, "abcz", &out, &d), IK_EUSAGE);
    ik_diag_free(&d);
}

Test(cache_cas, resolve_prefix_finds_action_keys)
{
    /* An action record whose key has no object of that name. */
    struct ik_action a = {0};
    ik_hash_bytes("a spec that was not stored", 26, &a.key);
    a.type = "sample";
    a.node = "s";
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0, "%s", ik_diag_message(&d));
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(&a.key, hex);
    hex[8] = '\0';
    struct ik_hash out;
    cr_assert_eq(ik_cas_resolve_prefix(T.c, hex, &out, &d), 0, "%s", ik_diag_message(&d));
    cr_assert(ik_hash_equal(&out, &a.key));
    /* The spec object and the action record share a name: still one match. */
    const char *spec = "a spec that was not stored";
    struct ik_hash h;
    cr_assert_eq(ik_cas_put(T.c, spec, strlen(spec), &h, &d), 0);
    cr_assert_eq(ik_cas_resolve_prefix(T.c, hex, &out, &d), 0);
    ik_diag_free(&d);
}
