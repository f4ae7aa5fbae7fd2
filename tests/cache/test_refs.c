/* tests/cache/test_refs.c - refs/<graph>.mp: set, get, overwrite, list, sets. */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "cache/refs.h"
#include "base/error.h"
#include "tests/common/tmpcache.h"

TestSuite(cache_refs, .init = tc_setup, .fini = tc_teardown);

static struct ik_hash key_of(const char *s)
{
    struct ik_hash h;
    ik_hash_bytes(s, strlen(s), &h);
    return h;
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
    cr_assert_eq(ik_ref_list(T.c, &refs, &n, &d), 0, "%s", ik_diag_message(&d));
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
    cr_assert_eq(ik_ref_list(T.c, &refs, &n, &d), 0);
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
    char *path = ik_xasprintf("%s/refs/g.mp", T.c->root);
    free(tc_write(path, "junk", 4));
    free(path);
    cr_assert_eq(ik_ref_get(T.c, "g", "n", &got, &d), IK_ECORRUPT);
    cr_assert_not_null(strstr(d.text, "refs/g.mp: corrupt refs"), "%s", d.text);
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
    char *path = ik_xasprintf("%s/refs/big.mp", T.c->root);
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
