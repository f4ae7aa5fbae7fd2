/* tests/cache/test_refs.c - refs/<stem>-<h>.mp: set, get, overwrite, list, sets,
 * graph identities, format-1 files. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cache/refs.h"
#include "base/error.h"
#include "base/mp.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_refs, .init = tc_setup, .fini = tc_teardown);

static struct ik_hash key_of(const char *s)
{
    struct ik_hash h;
    ik_hash_bytes(s, strlen(s), &h);
    return h;
}

/* The path of the one refs file whose name starts with stem + '-' (caller frees). */
static char *refs_file(const char *stem)
{
    char *dir = ik_xasprintf("%s/refs", T.c->root);
    DIR *d = opendir(dir);
    cr_assert_not_null(d);
    char *found = NULL;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (strncmp(e->d_name, stem, strlen(stem)) == 0 && e->d_name[strlen(stem)] == '-') {
            cr_assert_null(found, "two refs files for %s", stem);
            found = ik_xasprintf("%s/%s", dir, e->d_name);
        }
    closedir(d);
    free(dir);
    cr_assert_not_null(found, "no refs file for %s", stem);
    return found;
}

/* Writes a's action record (setting a->stamp), as a run does. */
static void put_record(struct ik_action *a)
{
    struct ik_diag d = IK_DIAG_INIT;
    a->type = "t";
    a->node = "n";
    cr_assert_eq(ik_action_put(T.c, a, &d), 0, "%s", ik_diag_message(&d));
}

Test(cache_refs, set_get_overwrite)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k1 = key_of("one"), k2 = key_of("two"), got;
    cr_assert_eq(ik_ref_get(T.c, "n3", "cot", &got, &d), -ENOENT);
    cr_assert_eq(ik_ref_set(T.c, "n3", "cot", &k1, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_ref_get(T.c, "n3", "cot", &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &k1));
    cr_assert_eq(ik_ref_set(T.c, "n3", "cot", &k2, &d), 0);
    cr_assert_eq(ik_ref_get(T.c, "n3", "cot", &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &k2));
    cr_assert_eq(ik_ref_get(T.c, "n3", "train", &got, &d), -ENOENT);
    cr_assert_eq(ik_ref_get(T.c, "other", "cot", &got, &d), -ENOENT);
}

Test(cache_refs, list_is_sorted)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k = key_of("k");
    const char *pairs[][2] = {{"n3", "train"}, {"b", "x"}, {"n3", "cot"}, {"a", "z"}};
    for (int i = 0; i < 4; i++)
        cr_assert_eq(ik_ref_set(T.c, pairs[i][0], pairs[i][1], &k, &d), 0);
    struct ik_ref *refs = NULL;
    size_t n = 0;
    cr_assert_eq(ik_ref_list(T.c, 0, &refs, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 4);
    const char *want[][2] = {{"a", "z"}, {"b", "x"}, {"n3", "cot"}, {"n3", "train"}};
    for (size_t i = 0; i < n; i++) {
        cr_assert_str_eq(refs[i].graph, want[i][0]);
        cr_assert_str_eq(refs[i].node, want[i][1]);
        cr_assert(ik_hash_equal(&refs[i].key, &k));
        cr_assert_gt(refs[i].updated_ms, 1600000000000);
    }
    ik_refs_free(refs, n);
}

Test(cache_refs, empty_list_and_bad_names)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_ref *refs = NULL;
    size_t n = 7;
    cr_assert_eq(ik_ref_list(T.c, 0, &refs, &n, &d), 0);
    cr_assert_eq(n, 0);
    ik_refs_free(refs, n);
    struct ik_hash k = key_of("k");
    cr_assert_eq(ik_ref_set(T.c, "../escape", "x", &k, &d), -EINVAL);
    cr_assert_eq(ik_ref_set(T.c, "g", "", &k, &d), -EINVAL);
    ik_diag_free(&d);
}

Test(cache_refs, corrupt_ref_is_reported)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k = key_of("k"), got;
    cr_assert_eq(ik_ref_set(T.c, "g", "n", &k, &d), 0);
    char *path = refs_file("g");
    free(tc_write(path, "junk", 4));
    cr_assert_eq(ik_ref_get(T.c, "g", "n", &got, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, strrchr(path, '/')), "%s", d.text);
    cr_assert_not_null(strstr(d.text, ".mp: corrupt refs"), "%s", d.text);
    free(path);
    ik_diag_free(&d);
}

Test(cache_refs, refset_saves_only_when_changed)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k1 = key_of("one"), k2 = key_of("two");
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, "big", &rs, &d), 0);
    for (int i = 0; i < 1000; i++) {
        char name[16];
        snprintf(name, sizeof name, "n%d", i);
        ik_refset_set(rs, name, &k1);
    }
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0, "%s", ik_diag_message(&d));
    char *path = refs_file("big");
    struct stat before, after;
    cr_assert_eq(stat(path, &before), 0);
    ik_refset_set(rs, "n7", &k1); /* same key: nothing to write */
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0);
    cr_assert_eq(stat(path, &after), 0);
    cr_assert_eq(before.st_ino, after.st_ino, "an unchanged set was rewritten");
    ik_refset_set(rs, "n7", &k2);
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0);
    cr_assert_eq(stat(path, &after), 0);
    cr_assert_neq(before.st_ino, after.st_ino);
    ik_refset_free(rs);
    free(path);
    struct ik_hash got;
    cr_assert_eq(ik_ref_get(T.c, "big", "n7", &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &k2));
    cr_assert_eq(ik_ref_get(T.c, "big", "n999", &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &k1));
}

Test(cache_refs, refset_remembers_outputs_of_its_key)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k1 = key_of("one"), k2 = key_of("two");
    struct ik_action a = {0};
    struct ik_action_output out = {.port = "o", .hash = key_of("bytes"), .size = 5, .kind = "file"};
    a.key = k1;
    a.outputs = &out;
    a.n_outputs = 1;
    put_record(&a);
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, "g", &rs, &d), 0);
    ik_refset_set(rs, "n", &k1);
    ik_refset_set_outputs(rs, "n", &a);
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0, "%s", ik_diag_message(&d));
    ik_refset_free(rs);

    cr_assert_eq(ik_refset_load(T.c, "g", &rs, &d), 0, "%s", ik_diag_message(&d));
    struct ik_action *got = ik_refset_action(rs, T.c, "n", &k1);
    cr_assert_not_null(got);
    cr_assert_eq(got->n_outputs, 1);
    cr_assert_str_eq(got->outputs[0].port, "o");
    cr_assert_str_eq(got->outputs[0].kind, "file");
    cr_assert_eq(got->outputs[0].size, 5);
    cr_assert(ik_hash_equal(&got->outputs[0].hash, &out.hash));
    ik_action_free(got);
    cr_assert_null(ik_refset_action(rs, T.c, "n", &k2), "outputs are only for the ref's own key");
    ik_refset_set(rs, "n", &k2); /* a new key forgets the old key's outputs */
    cr_assert_null(ik_refset_action(rs, T.c, "n", &k2));
    ik_refset_free(rs);
}

Test(cache_refs, refset_outputs_follow_a_replaced_record)
{
    /* Another graph sharing the key re-ran it with --force: the record file
     * changed, so the outputs copied from the old one are not served. */
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k = key_of("one");
    struct ik_action_output o1 = {.port = "o", .hash = key_of("old"), .size = 3, .kind = "file"};
    struct ik_action_output o2 = {.port = "o", .hash = key_of("new"), .size = 4, .kind = "file"};
    struct ik_action a = {.key = k, .outputs = &o1, .n_outputs = 1};
    put_record(&a);
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, "g", &rs, &d), 0);
    ik_refset_set(rs, "n", &k);
    ik_refset_set_outputs(rs, "n", &a);
    struct ik_action *got = ik_refset_action(rs, T.c, "n", &k);
    cr_assert_not_null(got);
    ik_action_free(got);
    struct ik_action b = {.key = k, .outputs = &o2, .n_outputs = 1};
    put_record(&b);
    cr_assert_null(ik_refset_action(rs, T.c, "n", &k), "outputs of a replaced record were served");
    ik_refset_set_outputs(rs, "n", &b);
    got = ik_refset_action(rs, T.c, "n", &k);
    cr_assert_not_null(got);
    cr_assert(ik_hash_equal(&got->outputs[0].hash, &o2.hash));
    ik_action_free(got);
    ik_refset_free(rs);
}

Test(cache_refs, refset_follows_new_outputs_of_the_same_key)
{
    /* --force re-runs a node under the same key; when its outputs change, the
     * ref must name the new ones, not keep those recorded before. */
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k = key_of("one");
    struct ik_action_output o1 = {.port = "o", .hash = key_of("old"), .size = 3, .kind = "file"};
    struct ik_action_output o2 = {.port = "o", .hash = key_of("new"), .size = 4, .kind = "file"};
    struct ik_action a = {.key = k, .outputs = &o1, .n_outputs = 1};
    put_record(&a);
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, "g", &rs, &d), 0);
    ik_refset_set(rs, "n", &k);
    ik_refset_set_outputs(rs, "n", &a);
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0, "%s", ik_diag_message(&d));
    a.outputs = &o2;
    put_record(&a);
    ik_refset_set(rs, "n", &k);
    ik_refset_set_outputs(rs, "n", &a);
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0, "%s", ik_diag_message(&d));
    ik_refset_free(rs);
    cr_assert_eq(ik_refset_load(T.c, "g", &rs, &d), 0, "%s", ik_diag_message(&d));
    struct ik_action *got = ik_refset_action(rs, T.c, "n", &k);
    cr_assert_not_null(got);
    cr_assert_eq(got->n_outputs, 1);
    cr_assert(ik_hash_equal(&got->outputs[0].hash, &o2.hash), "the ref kept the old outputs");
    cr_assert_eq(got->outputs[0].size, 4);
    ik_action_free(got);
    ik_refset_free(rs);
}

Test(cache_refs, graphs_of_one_file_name_in_two_folders_are_two_graphs)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k1 = key_of("one"), k2 = key_of("two"), got;
    cr_assert_eq(ik_ref_set(T.c, "exp1/pipeline.yaml", "n", &k1, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_ref_set(T.c, "exp2/pipeline.yaml", "n", &k2, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(ik_ref_get(T.c, "exp1/pipeline.yaml", "n", &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &k1), "exp1's ref is exp2's");
    cr_assert_eq(ik_ref_get(T.c, "exp2/pipeline.yaml", "n", &got, &d), 0);
    cr_assert(ik_hash_equal(&got, &k2));
    cr_assert_eq(ik_ref_set(T.c, "/abs/x/pipeline.yml", "n", &k1, &d), 0, "%s", ik_diag_message(&d));
    struct ik_ref *refs = NULL;
    size_t n = 0;
    cr_assert_eq(ik_ref_list(T.c, 0, &refs, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 3);
    cr_assert_str_eq(refs[0].graph, "/abs/x/pipeline.yml");
    cr_assert_str_eq(refs[1].graph, "exp1/pipeline.yaml");
    cr_assert_str_eq(refs[2].graph, "exp2/pipeline.yaml");
    ik_refs_free(refs, n);
    const char *bad[] = {"", "/", "a//b", "a/./b", "../b", "a/..", "a/"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(ik_ref_set(T.c, bad[i], "n", &k1, &d), -EINVAL, "'%s' was taken", bad[i]);
    ik_diag_free(&d);
}

Test(cache_refs, graph_identity_is_the_path_below_the_cache_folder)
{
    char *sub = ik_xasprintf("%s/exp1", T.dir);
    cr_assert_eq(mkdir(sub, 0777), 0);
    char *link = ik_xasprintf("%s/link", T.dir);
    cr_assert_eq(symlink(sub, link), 0);
    char *p = ik_xasprintf("%s/pipeline.yaml", sub);
    char *id = ik_ref_graph_id(T.c, p);
    cr_assert_str_eq(id, "exp1/pipeline.yaml");
    free(id);
    free(p);
    p = ik_xasprintf("%s/pipeline.yaml", link); /* a symlinked folder is resolved */
    id = ik_ref_graph_id(T.c, p);
    cr_assert_str_eq(id, "exp1/pipeline.yaml");
    free(id);
    free(p);
    cr_assert_eq(chdir(sub), 0);
    id = ik_ref_graph_id(T.c, "pipeline.yaml"); /* relative to the working directory */
    cr_assert_str_eq(id, "exp1/pipeline.yaml");
    free(id);
    id = ik_ref_graph_id(T.c, "../top.yaml");
    cr_assert_str_eq(id, "top.yaml");
    free(id);
    char *outside = tc_tmpdir();
    char *real = realpath(outside, NULL);
    p = ik_xasprintf("%s/g.yaml", outside);
    id = ik_ref_graph_id(T.c, p);
    char *want = ik_xasprintf("%s/g.yaml", real);
    cr_assert_str_eq(id, want, "outside the project: the absolute path");
    free(want);
    free(id);
    free(p);
    free(real);
    tc_rmtree(outside);
    cr_assert_null(ik_ref_graph_id(T.c, "/no/such/folder/g.yaml"));
    free(link);
    free(sub);
}

Test(cache_refs, graph_match_forms)
{
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "exp1/pipeline.yaml"), 2);
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "exp1/pipeline"), 1);
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "pipeline"), 1);
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "pipeline.yaml"), 1);
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "line"), 0);
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "xp1/pipeline"), 0);
    cr_assert_eq(ik_ref_graph_match("exp1/pipeline.yaml", "exp2/pipeline"), 0);
    cr_assert_eq(ik_ref_graph_match("quickstart.yml", "quickstart"), 1);
    cr_assert_eq(ik_ref_graph_match("/tmp/a/g.yaml", "a/g"), 1);
    cr_assert_eq(ik_ref_graph_match("demo", "demo"), 2);
    cr_assert_eq(ik_ref_graph_match("demo", ""), 0);
}

/* Writes refs/<stem>.mp as ikada before graph identities did: {v: 1, refs}. */
static void write_format1(const char *stem, const char *node, const struct ik_hash *key)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_mp_map_begin(&w, 2);
    ik_mp_pack_str(&w.pk, "v");
    msgpack_pack_int(&w.pk, 1);
    ik_mp_pack_str(&w.pk, "refs");
    ik_mp_map_begin(&w, 1);
    ik_mp_pack_str(&w.pk, node);
    ik_mp_map_begin(&w, 2);
    char hex[IK_HASH_HEX_LEN + 1];
    ik_hash_to_hex(key, hex);
    ik_mp_pack_str(&w.pk, "key");
    ik_mp_pack_str(&w.pk, hex);
    ik_mp_pack_str(&w.pk, "updated_ms");
    msgpack_pack_int64(&w.pk, 1700000000000);
    ik_mp_map_end(&w);
    ik_mp_map_end(&w);
    ik_mp_map_end(&w);
    char *path = ik_xasprintf("%s/refs/%s.mp", T.c->root, stem);
    free(tc_write(path, w.sb.data, w.sb.size));
    free(path);
    ik_mp_writer_free(&w);
}

Test(cache_refs, format1_files_are_never_a_graphs_refs_but_stay_gc_roots)
{
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash old = key_of("old"), k = key_of("new");
    write_format1("pipeline", "n", &old);
    /* Not exp1's nor exp2's: it could be either's. */
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, "exp1/pipeline.yaml", &rs, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_null(ik_refset_get(rs, "n"));
    ik_refset_free(rs);
    struct ik_ref *refs = NULL;
    size_t n = 9;
    cr_assert_eq(ik_ref_list(T.c, 0, &refs, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 0, "a format-1 ref is listed as a name");
    ik_refs_free(refs, n);
    cr_assert_eq(ik_ref_set(T.c, "exp1/pipeline.yaml", "n", &k, &d), 0);
    cr_assert_eq(ik_ref_list(T.c, IK_REF_LIST_LEGACY, &refs, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 2);
    cr_assert_str_eq(refs[0].graph, "exp1/pipeline.yaml");
    cr_assert(!refs[0].legacy);
    cr_assert_str_eq(refs[1].graph, "pipeline");
    cr_assert(refs[1].legacy);
    cr_assert(ik_hash_equal(&refs[1].key, &old));
    ik_refs_free(refs, n);

    /* Migration moves it to refs/legacy/ once; gc still sees it there. */
    ik_refs_migrate(T.c);
    char *moved = ik_xasprintf("%s/refs/legacy/pipeline.mp", T.c->root);
    char *gone = ik_xasprintf("%s/refs/pipeline.mp", T.c->root);
    cr_assert(tc_exists(moved));
    cr_assert(!tc_exists(gone));
    ik_refs_migrate(T.c);
    cr_assert(tc_exists(moved));
    cr_assert_eq(ik_ref_list(T.c, IK_REF_LIST_LEGACY, &refs, &n, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(n, 2);
    cr_assert(refs[1].legacy && ik_hash_equal(&refs[1].key, &old));
    ik_refs_free(refs, n);
    cr_assert_eq(ik_ref_list(T.c, 0, &refs, &n, &d), 0);
    cr_assert_eq(n, 1);
    ik_refs_free(refs, n);
    free(moved);
    free(gone);
}

Test(cache_refs, a_flipped_byte_is_never_believed)
{
    /* ../shared/repro/refs-port-flip-persistent-failure: a flipped port name
     * parsed fine and failed every later run. Now no flip is read as refs. */
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash k = key_of("one");
    struct ik_action_output o = {.port = "unseen", .hash = key_of("bytes"), .size = 5,
                                 .kind = "file"};
    struct ik_action a = {.key = k, .outputs = &o, .n_outputs = 1};
    put_record(&a);
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, "g.yaml", &rs, &d), 0);
    ik_refset_set(rs, "split", &k);
    ik_refset_set_outputs(rs, "split", &a);
    cr_assert_eq(ik_refset_save(T.c, rs, &d), 0);
    ik_refset_free(rs);
    char *path = refs_file("g");
    char *good = NULL;
    size_t len = 0;
    cr_assert_eq(ik_read_file(path, &good, &len, &d), 0);
    for (size_t i = 0; i < len; i++) {
        char *bad = ik_xmalloc(len);
        memcpy(bad, good, len);
        bad[i] ^= 0x04;
        unlink(path);
        free(tc_write(path, bad, len));
        free(bad);
        int rc = ik_refset_load(T.c, "g.yaml", &rs, &d);
        if (rc == 0) { /* e.g. v became 1: an older format, not used */
            cr_assert_null(ik_refset_get(rs, "split"), "a flip at byte %zu was believed", i);
            ik_refset_free(rs);
        } else {
            cr_assert_eq(rc, IK_ECORRUPT, "byte %zu", i);
            cr_assert_eq(ik_refs_check(T.c, path, &d), IK_ECORRUPT, "verify misses byte %zu", i);
        }
        ik_diag_free(&d);
    }
    free(good);
    free(path);
}
