/* tests/cli/test_cache_cli.c - the `ikada cache` verbs, run in-process against a
 * temporary cache populated through the cache API (cas, action, refs). */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/action.h"
#include "cache/artifact.h"
#include "cache/cas.h"
#include "cache/lock.h"
#include "base/file.h"
#include "base/mpjson.h"
#include "cache/refs.h"
#include "base/buf.h"
#include "cli/cli.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "tests/common/tmpcache.h"

static struct ik_hash rows_a, rows_b, file_h, log_h, key_sample, key_filter, key_notes;

static const char *const recs_a[] = {"{\"id\":1,\"q\":\"Où est la gare ?\",\"tags\":[\"fr\"]}",
                                     "{\"id\":2,\"q\":\"What is 2+2?\",\"tags\":[\"math\",\"en\"]}",
                                     "{\"id\":3,\"q\":\"Say \\\"hi\\\"\\n\",\"tags\":[]}"};
static const char *const recs_b[] = {"{\"id\":1,\"q\":\"Où est la gare ?\",\"tags\":[\"fr\"]}",
                                     "{\"id\":2,\"q\":\"What is 3+3?\",\"tags\":[\"math\",\"en\"]}",
                                     "{\"id\":3,\"q\":\"Say \\\"hi\\\"\\n\",\"tags\":[]}",
                                     "{\"id\":4,\"q\":\"new\",\"tags\":[]}"};

static void put(const void *data, size_t len, struct ik_hash *h)
{
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_put(T.c, data, len, h, &d), 0, "%s", ik_diag_message(&d));
}

static void put_records(const char *const *recs, size_t n, struct ik_hash *h)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_artifact_begin(&w, "faq.rows", 1, 1);
    msgpack_pack_map(&w.pk, 1);
    ik_mp_pack_str(&w.pk, "source");
    ik_mp_pack_str(&w.pk, "faq.jsonl");
    ik_mp_pack_str(&w.pk, "records");
    msgpack_pack_array(&w.pk, n);
    for (size_t i = 0; i < n; i++) {
        json_error_t err;
        json_t *j = json_loads(recs[i], 0, &err);
        cr_assert_not_null(j, "%s", err.text);
        ik_json_to_msgpack(j, &w.pk);
        json_decref(j);
    }
    ik_artifact_end(&w);
    put(w.sb.data, w.sb.size, h);
    ik_mp_writer_free(&w);
}

/* Records an action of `node` with one output (and optionally a log). */
static void put_action(const char *node, const char *port, const struct ik_hash *out,
                       const char *kind, const struct ik_hash *log, int64_t started_ms,
                       struct ik_hash *key)
{
    put(node, strlen(node), key); /* a stand-in spec object; its hash is the key */
    uint64_t size;
    cr_assert_eq(ik_cas_stat(T.c, out, &size), 0);
    struct ik_action_output o = {(char *)port, *out, size, (char *)kind};
    struct ik_action_counter ctr = {(char *)"items", 3};
    struct ik_action a = {*key, (char *)node, 1, (char *)node, &o, 1, log != NULL,
                          log ? *log : *out, started_ms, 1500, &ctr, 1, {0, 0, 0}};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_action_put(T.c, &a, &d), 0, "%s", ik_diag_message(&d));
}

static void ref(const char *graph, const char *node, const struct ik_hash *key)
{
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_ref_set(T.c, graph, node, key, &d), 0, "%s", ik_diag_message(&d));
}

/* A cache named by IKADA_CACHE (tc_setup_env) holding two row sets, a file,
 * a log, three actions and refs of two graphs. */
static void setup(void)
{
    tc_setup_env();
    put_records(recs_a, 3, &rows_a);
    put_records(recs_b, 4, &rows_b);
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_artifact_pack_file(&w, "notes.txt", "hello\nworld\n", 12);
    put(w.sb.data, w.sb.size, &file_h);
    ik_mp_writer_free(&w);
    put("step 1 done\n", 12, &log_h);
    int64_t now = 1700000000000;
    put_action("sample", "rows", &rows_a, "faq.rows", &log_h, now, &key_sample);
    put_action("filter", "rows", &rows_b, "faq.rows", NULL, now + 10000, &key_filter);
    put_action("notes", "file", &file_h, "file", NULL, now + 20000, &key_notes);
    ref("demo", "sample", &key_sample);
    ref("demo", "filter", &key_filter);
    ref("demo", "notes", &key_notes);
    ref("other", "filter", &key_sample); /* another result under the same name */
}

TestSuite(query_cli, .init = setup, .fini = tc_teardown);

static char *out_text, *err_text;

static char *slurp(const char *path)
{
    char *data;
    size_t len;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_read_file(path, &data, &len, &d), 0, "%s", ik_diag_message(&d));
    return data;
}

/* Runs `ikada cache ARGS...` (NULL-terminated) capturing stdout and stderr
 * into out_text and err_text; returns the exit status. */
static int cli(const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)"cache";
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    char *op = ik_xasprintf("%s/stdout", T.dir), *ep = ik_xasprintf("%s/stderr", T.dir);
    fflush(stdout);
    fflush(stderr);
    int save_out = dup(1), save_err = dup(2);
    int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644), fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fo, 1);
    dup2(fe, 2);
    int rc = ik_cli_cache(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(save_out, 1);
    dup2(save_err, 2);
    close(fo), close(fe), close(save_out), close(save_err);
    free(out_text);
    free(err_text);
    out_text = slurp(op);
    err_text = slurp(ep);
    free(op);
    free(ep);
    return rc;
}

static void hex(const struct ik_hash *h, char out[65]) { ik_hash_to_hex(h, out); }

#define HAS(s, sub) cr_expect(strstr((s), (sub)) != NULL, "missing [%s] in:\n%s", (sub), (s))
#define LACKS(s, sub) cr_expect(strstr((s), (sub)) == NULL, "unexpected [%s] in:\n%s", (sub), (s))

Test(query_cli, ls_lists_artifacts_newest_first)
{
    char a[65], b[65], f[65], l[65];
    hex(&rows_a, a), hex(&rows_b, b), hex(&file_h, f), hex(&log_h, l);
    cr_assert_eq(cli("ls", NULL), 0, "%s", err_text);
    char *pa = strstr(out_text, (a[12] = 0, a)), *pb = strstr(out_text, (b[12] = 0, b)),
         *pf = strstr(out_text, (f[12] = 0, f));
    cr_assert(pa && pb && pf, "%s", out_text);
    cr_expect(pf < pb && pb < pa, "not newest first:\n%s", out_text);
    HAS(out_text, "sample.rows");
    HAS(out_text, "notes.file");
    LACKS(out_text, (l[12] = 0, l)); /* the log is no action's output */
    cr_assert_eq(cli("ls", "--kind", "file", NULL), 0);
    HAS(out_text, f);
    LACKS(out_text, a);
    cr_assert_eq(cli("ls", "--all", NULL), 0);
    HAS(out_text, l);
    HAS(out_text, "sample.log");
    HAS(out_text, "spec");
    cr_assert_eq(cli("ls", "--json", NULL), 0);
    json_error_t err;
    json_t *j = json_loads(out_text, 0, &err);
    cr_assert_not_null(j, "%s\n%s", err.text, out_text);
    cr_expect_eq(json_array_size(j), 3);
    cr_expect_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "kind")), "file");
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(j, 2), "producer"), "node")),
                     "sample");
    json_decref(j);
}

Test(query_cli, show_records_file_log_and_action)
{
    char a[65];
    hex(&rows_a, a);
    cr_assert_eq(cli("show", "sample.rows", NULL), 0, "%s", err_text);
    HAS(out_text, a);
    HAS(out_text, "kind     faq.rows\n");
    HAS(out_text, "meta     {\"source\":\"faq.jsonl\"}\n");
    HAS(out_text, "producer sample.rows");
    HAS(out_text, "records  3 (showing 3)\n[0] {\n  \"id\": 1,\n  \"q\": \"Où est la gare ?\"");
    cr_assert_eq(cli("show", "demo:sample.rows", "--limit", "1", NULL), 0);
    HAS(out_text, "records  3 (showing 1)");
    LACKS(out_text, "[1]");
    cr_assert_eq(cli("show", "notes.file", NULL), 0);
    HAS(out_text, "file     notes.txt, 12 B, text\n--- all 2 lines ---\nhello\nworld\n");
    cr_assert_eq(cli("show", "sample.log", NULL), 0);
    cr_expect_str_eq(out_text, "step 1 done\n");
    cr_assert_eq(cli("show", "sample", NULL), 0);
    HAS(out_text, "node     sample\n");
    HAS(out_text, "  rows           ");
    HAS(out_text, "  items          3.0\n");
    HAS(out_text, "step 1 done\n");
    /* A hex prefix names the same object as the name. */
    char prefix[9];
    memcpy(prefix, a, 8), prefix[8] = '\0';
    cr_assert_eq(cli("show", prefix, "--json", NULL), 0, "%s", err_text);
    json_error_t err;
    json_t *j = json_loads(out_text, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    cr_expect_str_eq(json_string_value(json_object_get(j, "hash")), a);
    cr_expect_eq(json_integer_value(json_object_get(j, "records_total")), 3);
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "producer"), "port")), "rows");
    json_decref(j);
}

Test(query_cli, query_where_select_limit_count)
{
    cr_assert_eq(cli("query", "sample.rows", "--where", "id >= 2", NULL), 0, "%s", err_text);
    cr_expect_str_eq(out_text, "{\"id\":2,\"q\":\"What is 2+2?\",\"tags\":[\"math\",\"en\"]}\n"
                               "{\"id\":3,\"q\":\"Say \\\"hi\\\"\\n\",\"tags\":[]}\n");
    cr_assert_eq(cli("query", "sample.rows", "--where", "tags contains 'fr' or id == 3", "--select",
                     "id,tags[-1]", "--json", NULL), 0);
    cr_expect_str_eq(out_text, "{\"id\":1,\"tags[-1]\":\"fr\"}\n{\"id\":3,\"tags[-1]\":null}\n");
    cr_assert_eq(cli("query", "sample.rows", "--select", "id,q", NULL), 0);
    cr_expect_str_eq(out_text, "id  q\n1   Où est la gare ?\n2   What is 2+2?\n3   Say \"hi\" \n");
    cr_assert_eq(cli("query", "sample.rows", "--limit", "1", NULL), 0);
    cr_expect_str_eq(out_text, "{\"id\":1,\"q\":\"Où est la gare ?\",\"tags\":[\"fr\"]}\n");
    cr_assert_eq(cli("query", "sample.rows", "--where", "not (q contains '?')", "--count", NULL), 0);
    cr_expect_str_eq(out_text, "1\n");
    cr_assert_eq(cli("query", "sample.rows", "--where", "id ==", NULL), 2);
    cr_expect_str_eq(out_text, "");
    HAS(err_text, "--where: column 6: expected a value after '=='");
    cr_assert_eq(cli("query", "notes.file", NULL), 2);
    HAS(err_text, "'notes.file' is not a records artifact (it is kind 'file')");
}

Test(query_cli, export_formats)
{
    char *path = ik_xasprintf("%s/rows.jsonl", T.dir);
    cr_assert_eq(cli("export", "sample.rows", "-o", path, NULL), 0, "%s", err_text);
    char *text = slurp(path);
    /* Python's json.dumps layout, as the reference's JSONL files have it. */
    cr_expect_str_eq(text, "{\"id\": 1, \"q\": \"Où est la gare ?\", \"tags\": [\"fr\"]}\n"
                           "{\"id\": 2, \"q\": \"What is 2+2?\", \"tags\": [\"math\", \"en\"]}\n"
                           "{\"id\": 3, \"q\": \"Say \\\"hi\\\"\\n\", \"tags\": []}\n");
    free(text);
    /* msgpack: the object's bytes. */
    cr_assert_eq(cli("export", "sample.rows", "--format", "msgpack", "-o", path, NULL), 0);
    text = slurp(path);
    struct ik_blob b;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_cas_map(T.c, &rows_a, UINT64_MAX, &b, &d), 0);
    cr_expect(memcmp(text, b.data, b.len) == 0);
    struct stat st;
    cr_assert_eq(stat(path, &st), 0);
    cr_expect_eq((size_t)st.st_size, b.len);
    ik_blob_release(&b);
    free(text);
    /* raw of a file artifact: its payload; the default for files. */
    cr_assert_eq(cli("export", "notes.file", "-o", "-", NULL), 0);
    cr_expect_str_eq(out_text, "hello\nworld\n");
    cr_assert_eq(cli("export", "notes.file", "--format", "json", "-o", "-", NULL), 0);
    cr_expect_str_eq(out_text, "{\n  \"kind\": \"file\",\n  \"schema\": 1,\n  \"meta\": {\n    \"name\": "
                               "\"notes.txt\"\n  },\n  \"data\": {\n    \"$bin\": \"aGVsbG8Kd29ybGQK\",\n"
                               "    \"size\": 12\n  }\n}\n");
    cr_assert_eq(cli("export", "notes.file", "--format", "jsonl", "-o", path, NULL), 2);
    HAS(err_text, "is not a records artifact");
    cr_assert_eq(cli("export", "sample.rows", "--format", "yaml", "-o", "-", NULL), 2);
    HAS(err_text, "unknown --format 'yaml'");
    cr_assert_eq(cli("export", "sample.rows", NULL), 2);
    HAS(err_text, "export needs -o FILE");
    free(path);
}

Test(query_cli, diff_identical_and_different)
{
    cr_assert_eq(cli("diff", "sample.rows", "demo:sample.rows", NULL), 0);
    cr_expect_str_eq(out_text, "identical\n");
    cr_assert_eq(cli("diff", "sample.rows", "demo:filter.rows", NULL), 1, "%s", err_text);
    HAS(out_text, "records (matched by 'id'): 0 only in A, 1 only in B, 1 changed\n"
                  "  record id=2: q: \"What is 2+2?\" -> \"What is 3+3?\"\n"
                  "  only in B: id=4\n");
    /* By another field, or by position when --key names none. */
    cr_assert_eq(cli("diff", "sample.rows", "demo:filter.rows", "--key", "q", NULL), 1, "%s", err_text);
    HAS(out_text, "records (matched by 'q'): 1 only in A, 2 only in B, 0 changed\n");
    HAS(out_text, "  only in A: q=\"What is 2+2?\"\n");
    cr_assert_eq(cli("diff", "sample.rows", "demo:filter.rows", "--key", "tags", NULL), 2);
    HAS(err_text, "diff --key tags: record 0 of 'sample.rows' has no string or integer field by that name");
    cr_assert_eq(cli("diff", "sample.rows", "notes.file", "--json", NULL), 1);
    json_error_t err;
    json_t *j = json_loads(out_text, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    cr_expect(json_is_false(json_object_get(j, "identical")));
    /* kind, meta, records (only in A) and data (only in B) */
    cr_expect_eq(json_array_size(json_object_get(j, "fields")), 4, "%s", out_text);
    json_decref(j);
}

/* Flips one bit of byte 20 of an object, in place. */
static void flip(const struct ik_hash *h)
{
    char *p = ik_cas_object_path(T.c, h);
    cr_assert_eq(chmod(p, 0644), 0);
    int fd = open(p, O_RDWR);
    cr_assert_geq(fd, 0);
    unsigned char c;
    cr_assert_eq(pread(fd, &c, 1, 20), 1);
    c ^= 0x01;
    cr_assert_eq(pwrite(fd, &c, 1, 20), 1);
    close(fd);
    free(p);
}

Test(query_cli, verify_detects_a_flipped_byte)
{
    cr_assert_eq(cli("verify", NULL), 0, "%s", err_text);
    HAS(out_text, "0 corrupt");
    flip(&rows_a);
    char a[65];
    hex(&rows_a, a);
    cr_assert_eq(cli("verify", NULL), 1, "%s", err_text);
    HAS(out_text, "1 corrupt");
    HAS(out_text, a);
    HAS(out_text, "sample.rows");
    uint64_t size;
    cr_expect_eq(ik_cas_stat(T.c, &rows_a, &size), -ENOENT); /* quarantined */
}

/* Readers hash what they read: a corrupt object is refused (exit 1, naming it
 * and the REF), quarantined, and never exported or previewed. */
Test(query_cli, readers_refuse_a_corrupt_object)
{
    char a[65];
    hex(&rows_a, a);
    flip(&rows_a);
    char *dest = ik_xasprintf("%s/out.jsonl", T.dir);
    cr_assert_eq(cli("export", "sample.rows", "-o", dest, NULL), 1, "%s", out_text);
    HAS(err_text, "'sample.rows': object ");
    HAS(err_text, a);
    HAS(err_text, "is corrupt");
    cr_assert(!tc_exists(dest), "nothing exported");
    free(dest);
    uint64_t size;
    cr_expect_eq(ik_cas_stat(T.c, &rows_a, &size), -ENOENT); /* quarantined */
    cr_assert_eq(cli("show", "sample.rows", NULL), 2, "gone now: %s", err_text);
    flip(&file_h);
    cr_assert_eq(cli("show", "notes.file", NULL), 1, "%s", out_text);
    HAS(err_text, "is corrupt");
    cr_assert_eq(strlen(out_text), 0, "no preview: %s", out_text);
}

/* verify and gc need the cache alone: busy is 75, not 1 ("corrupt"). */
Test(query_cli, verify_and_gc_exit_75_when_the_cache_is_busy)
{
    struct ik_diag d = IK_DIAG_INIT;
    int lock = ik_lock_cache(T.c, false, true, &d);
    cr_assert_geq(lock, 0, "%s", ik_diag_message(&d));
    flip(&rows_a);
    cr_assert_eq(cli("verify", NULL), IK_EXIT_BUSY, "%s", err_text);
    HAS(err_text, "another ikada process is using the cache");
    cr_assert_eq(cli("gc", NULL), IK_EXIT_BUSY, "%s", err_text);
    uint64_t size;
    cr_expect_eq(ik_cas_stat(T.c, &rows_a, &size), 0, "a busy verify changes nothing");
    ik_unlock(lock);
    cr_assert_eq(cli("verify", NULL), 1, "%s", err_text);
}

Test(query_cli, gc_dry_run_then_real)
{
    struct ik_hash junk;
    put("unreferenced", 12, &junk);
    char j[65];
    hex(&junk, j);
    j[12] = '\0';
    uint64_t size;
    cr_assert_eq(cli("gc", "--dry-run", NULL), 0, "%s", err_text);
    HAS(out_text, "would remove");
    HAS(out_text, j);
    cr_expect_eq(ik_cas_stat(T.c, &junk, &size), 0);
    cr_assert_eq(cli("gc", "--json", NULL), 0, "%s", err_text);
    HAS(out_text, "\"dry_run\": false");
    cr_expect_eq(ik_cas_stat(T.c, &junk, &size), -ENOENT);
    cr_expect_eq(ik_cas_stat(T.c, &rows_a, &size), 0); /* reached from a ref */
    cr_assert_eq(cli("gc", "--keep-runs", "x", NULL), 2);
}

Test(query_cli, du_counts_parts)
{
    cr_assert_eq(cli("du", "--json", NULL), 0, "%s", err_text);
    json_error_t err;
    json_t *j = json_loads(out_text, 0, &err);
    cr_assert_not_null(j, "%s", err.text);
    /* 4 artifacts/logs + 3 spec stand-ins */
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(json_object_get(j, "parts"), "objects"), "files")), 7);
    cr_expect_eq(json_integer_value(json_object_get(json_object_get(json_object_get(j, "parts"), "actions"), "files")), 3);
    json_decref(j);
}

Test(query_cli, bad_refs_exit_2_with_a_message)
{
    cr_assert_eq(cli("show", "nosuch.rows", NULL), 2);
    HAS(err_text, "unknown REF 'nosuch.rows': no node named 'nosuch'");
    cr_assert_eq(cli("show", "sampel.rows", NULL), 2);
    HAS(err_text, "did you mean 'sample'?");
    cr_assert_eq(cli("show", "sample.rowz", NULL), 2);
    HAS(err_text, "node 'sample' has no port 'rowz'; did you mean 'rows'?");
    cr_assert_eq(cli("show", "filter.rows", NULL), 2);
    HAS(err_text, "'filter.rows' is ambiguous: node 'filter' exists in graphs 'demo', 'other'");
    HAS(err_text, "hint: write graph:filter.rows");
    cr_assert_eq(cli("show", "other:filter.rows", NULL), 0);
    /* One action under two graphs' names is no choice to make. */
    ref("copy", "notes", &key_notes);
    cr_assert_eq(cli("show", "notes.file", NULL), 0, "%s", err_text);
    cr_assert_eq(cli("show", "0000000000", NULL), 2);
    HAS(err_text, "unknown REF '0000000000'");
    cr_assert_eq(cli("show", NULL), 2);
    HAS(err_text, "missing argument");
}

Test(query_cli, ambiguous_prefix)
{
    /* Find two contents whose hashes share 4 hex digits (a birthday search). */
    static char bufs[4096][16];
    static struct ik_hash hs[4096];
    size_t x = 0, y = 0;
    for (size_t i = 0; i < 4096 && x == y; i++) {
        snprintf(bufs[i], sizeof bufs[i], "blob %zu", i);
        ik_hash_bytes(bufs[i], strlen(bufs[i]), &hs[i]);
        for (size_t k = 0; k < i; k++)
            if (hs[k].b[0] == hs[i].b[0] && hs[k].b[1] == hs[i].b[1]) {
                x = k, y = i;
                break;
            }
    }
    cr_assert_neq(x, y, "no collision found");
    struct ik_hash h;
    put(bufs[x], strlen(bufs[x]), &h);
    put(bufs[y], strlen(bufs[y]), &h);
    char prefix[65];
    hex(&hs[x], prefix);
    prefix[4] = '\0';
    cr_assert_eq(cli("show", prefix, NULL), 2);
    HAS(err_text, "is ambiguous");
    HAS(err_text, "give more hex digits");
}

Test(query_cli, usage_and_did_you_mean)
{
    cr_assert_eq(cli("shw", NULL), 2);
    HAS(err_text, "unknown cache verb 'shw'; did you mean 'show'?");
    cr_assert_eq(cli("--help", NULL), 0);
    HAS(out_text, "usage: ikada cache VERB");
    cr_assert_eq(cli("query", "--help", NULL), 0);
    HAS(out_text, "--where EXPR");
    cr_assert_eq(cli("ls", "--jsn", NULL), 2);
    HAS(err_text, "unknown option '--jsn'; did you mean '--json'?");
}
