/* tests/engine/test_graph_errors.c - every graph error, pinned: each case is
 * tests/graphs/bad/<case>.yaml with its exact message in <case>.err (the path
 * as passed here, relative to the source tree, as `ikada run` from there would
 * print it). yaml-* cases are IK_EPARSE, the rest IK_EVALIDATE; typed-* cases
 * use the test node types (graph_test_types.c), the rest the registry. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/error.h"
#include "nodes/registry.h"
#include "engine/graph.h"
#include "engine/graph_int.h"
#include "tests/common/tmpcache.h"
#include "tests/engine/graph_test_types.h"

#define BAD_DIR "tests/graphs/bad"

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Case names (file names without .yaml), sorted; the caller frees. */
static char **list_cases(size_t *n)
{
    DIR *dir = opendir(BAD_DIR);
    cr_assert_not_null(dir, "cannot open %s/%s", ik_test_srcdir(), BAD_DIR);
    char **v = NULL;
    size_t len = 0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= 5 || strcmp(e->d_name + l - 5, ".yaml") != 0)
            continue;
        v = realloc(v, (len + 1) * sizeof *v);
        v[len++] = strndup(e->d_name, l - 5);
    }
    closedir(dir);
    qsort(v, len, sizeof *v, cmp_names);
    *n = len;
    return v;
}

/* Loads one case; returns 1 when text and code match, else 0 with a report. */
static int check_case(const char *name)
{
    char *yaml = NULL, *errf = NULL;
    cr_assert(asprintf(&yaml, BAD_DIR "/%s.yaml", name) > 0);
    cr_assert(asprintf(&errf, BAD_DIR "/%s.err", name) > 0);
    size_t want_len = 0;
    char *want = ik_test_slurp(errf, &want_len);
    if (want == NULL) {
        cr_expect_fail("%s: no %s", name, errf);
        free(yaml);
        free(errf);
        return 0;
    }
    while (want_len > 0 && want[want_len - 1] == '\n')
        want[--want_len] = '\0';

    struct ik_graph *g = (struct ik_graph *)&check_case; /* must stay untouched */
    struct ik_diag d = IK_DIAG_INIT;
    int rc;
    if (strncmp(name, "typed-", 6) == 0) {
        size_t len = 0;
        char *text = ik_test_slurp(yaml, &len);
        cr_assert_not_null(text);
        rc = ik_graph_load_string(ik_test_types, yaml, text, len, &g, &d);
        free(text);
    } else {
        rc = ik_graph_load(ik_node_types, yaml, &g, &d);
    }
    int want_rc = strncmp(name, "yaml-", 5) == 0 ? IK_EPARSE : IK_EVALIDATE;
    int ok = 1;
    if (rc != want_rc || d.code != want_rc) {
        cr_expect_fail("%s: got %s (diag %s), expected %s", name, ik_err_name(rc),
                       ik_err_name(d.code), ik_err_name(want_rc));
        ok = 0;
    }
    if (d.text == NULL || strcmp(d.text, want) != 0) {
        cr_expect_fail("%s: message differs\n--- expected\n%s\n--- got\n%s", name, want,
                       d.text ? d.text : "(none)");
        ok = 0;
    }
    cr_expect_eq(g, (struct ik_graph *)&check_case, "%s: *out was written", name);
    if (rc == 0 && g != (struct ik_graph *)&check_case)
        ik_graph_free(g);
    ik_diag_free(&d);
    free(want);
    free(yaml);
    free(errf);
    return ok;
}

Test(graph_errors, every_bad_case)
{
    cr_assert_eq(chdir(ik_test_srcdir()), 0);
    size_t n = 0;
    char **cases = list_cases(&n);
    /* The error classes that must each have a case: a deleted file fails here. */
    static const char *const required[] = {"yaml-malformed",
                                           "yaml-tab-indent",
                                           "yaml-too-deep",
                                           "empty",
                                           "not-a-mapping",
                                           "nodes-missing",
                                           "nodes-empty",
                                           "unknown-type",
                                           "unknown-param",
                                           "typed-wrong-param-int",
                                           "wrong-param-type",
                                           "missing-param",
                                           "typed-unknown-input-port",
                                           "typed-missing-input",
                                           "missing-node-ref",
                                           "missing-port-ref",
                                           "duplicate-node",
                                           "cycle",
                                           "bad-node-name",
                                           "unknown-node-key",
                                           "bad-resources",
                                           NULL};
    for (size_t r = 0; required[r]; r++)
        cr_expect_not_null(bsearch(&required[r], cases, n, sizeof *cases, cmp_names),
                           "missing case %s", required[r]);
    size_t passed = 0;
    for (size_t i = 0; i < n; i++) {
        passed += (size_t)check_case(cases[i]);
        free(cases[i]);
    }
    free(cases);
    cr_expect_eq(passed, n, "%zu of %zu cases passed", passed, n);
}

/* Every .err has its .yaml (a renamed case must not leave a stale message). */
Test(graph_errors, no_orphan_err_files)
{
    cr_assert_eq(chdir(ik_test_srcdir()), 0);
    DIR *dir = opendir(BAD_DIR);
    cr_assert_not_null(dir);
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || strcmp(e->d_name + l - 4, ".err") != 0)
            continue;
        char *y = NULL;
        cr_assert(asprintf(&y, BAD_DIR "/%.*s.yaml", (int)(l - 4), e->d_name) > 0);
        cr_expect_eq(access(y, R_OK), 0, "%s has no .yaml", e->d_name);
        free(y);
    }
    closedir(dir);
}

Test(graph_errors, unreadable_file)
{
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load(ik_node_types, "/nonexistent-ikada/graph.yaml", &g, &d);
    cr_expect_eq(rc, -ENOENT);
    cr_expect_eq(d.code, -ENOENT);
    cr_expect_str_eq(d.text,
                     "error: cannot read /nonexistent-ikada/graph.yaml: No such file or directory");
    cr_expect_null(g);
    ik_diag_free(&d);

    char *tmpl = tc_tmpdir();
    rc = ik_graph_load(ik_node_types, tmpl, &g, &d);
    cr_expect_eq(rc, -EISDIR);
    cr_expect_null(g);
    ik_diag_free(&d);
    cr_assert_eq(rmdir(tmpl), 0);
    free(tmpl);
}

/* An anchor that contains its own alias would recurse forever. */
Test(graph_errors, self_referencing_alias)
{
    const char *text = "nodes:\n  a:\n    type: command\n    params:\n      cmd: x\n"
                       "      env: &e {k: *e}\n";
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_node_types, "g.yaml", text, strlen(text), &g, &d);
    cr_expect_eq(rc, IK_EVALIDATE);
    cr_expect(strstr(d.text, "param 'env' of node 'a' is nested too deeply") != NULL, "%s", d.text);
    cr_expect_null(g);
    ik_diag_free(&d);
}

/* Aliases of aliases: 10^6 values from a few lines. */
Test(graph_errors, alias_bomb)
{
    const char *text = "nodes:\n  a:\n    type: command\n    params:\n      cmd: x\n      env:\n"
                       "        a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\n"
                       "        b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       "        c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                       "        d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       "        e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n"
                       "        f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n";
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_node_types, "g.yaml", text, strlen(text), &g, &d);
    cr_expect_eq(rc, IK_EVALIDATE);
    cr_expect(strstr(d.text, "param 'env' of node 'a' is too large") != NULL, "%s", d.text);
    ik_diag_free(&d);
}

/* libyaml reports encoding errors as a byte offset; it becomes line:col. */
Test(graph_errors, invalid_utf8)
{
    const char *text = "nodes:\n  count:\n    type: comm\xff"
                       "and\n";
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_node_types, "g.yaml", text, strlen(text), &g, &d);
    cr_expect_eq(rc, IK_EPARSE);
    cr_expect(
        strncmp(d.text, "g.yaml:3:15: error: invalid YAML: invalid leading UTF-8 octet\n", 62) == 0,
        "%s", d.text);
    cr_expect_null(g);
    ik_diag_free(&d);
}

/* Issue 9: a graph nested 40,000 deep spent seconds inside libyaml (its
 * scanner is quadratic in the nesting) before any check of ours. The depth
 * is now refused on the event stream, at the first collection too deep. */
Test(graph_errors, deep_nesting_refused_before_the_document_is_built)
{
    enum { N = 40000 };
    const char *head = "nodes:\n  a:\n    type: command\n    params:\n      cmd: ";
    size_t hl = strlen(head), len = hl + 2 * N;
    char *text = malloc(len + 1);
    cr_assert_not_null(text);
    memcpy(text, head, hl);
    memset(text + hl, '[', N);
    memset(text + hl + N, ']', N);
    text[len] = '\0';
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int64_t t0 = ik_clock_monotonic_ms();
    int rc = ik_graph_load_string(ik_node_types, "deep.yaml", text, len, &g, &d);
    int64_t ms = ik_clock_monotonic_ms() - t0;
    cr_expect_eq(rc, IK_EPARSE);
    cr_expect_null(g);
    cr_expect(strncmp(d.text, "deep.yaml:5:108: error: invalid YAML: collections nested more than "
                              "100 levels deep\n", 83) == 0, "%s", d.text);
    cr_expect_lt(ms, 1000, "took %lld ms", (long long)ms);
    ik_diag_free(&d);
    free(text);
}
