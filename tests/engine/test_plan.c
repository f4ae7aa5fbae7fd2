/* tests/engine/test_plan.c - the planner, stepped by hand against a real
 * temporary cache (no processes): selection of targets, cache hits and
 * misses, the reasons `ikada status` prints, and missing source files. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cache/cas.h"
#include "base/file.h"
#include "cache/refs.h"
#include "base/error.h"
#include "nodes/registry.h"
#include "engine/plan.h"
#include "tests/common/tmpcache.h"

static struct ik_srcmemo *memo;

/* The cache of tc_setup, its source memo, and T.dir/rows.txt. */
static void setup(void)
{
    tc_setup();
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_srcmemo_open(T.c, &memo, &d), 0);
    char *src = NULL;
    cr_assert_gt(asprintf(&src, "%s/rows.txt", T.dir), 0);
    FILE *f = fopen(src, "w");
    fputs("one\ntwo\n", f);
    fclose(f);
    free(src);
}

static void teardown(void)
{
    ik_srcmemo_close(memo);
    tc_teardown();
}

TestSuite(plan, .init = setup, .fini = teardown);

static struct ik_graph *load(const char *yaml)
{
    char *path = NULL;
    cr_assert_gt(asprintf(&path, "%s/g.yaml", T.dir), 0);
    struct ik_graph *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_graph_load_string(ik_node_types, path, yaml, strlen(yaml), &g, &d);
    cr_assert_eq(rc, 0, "%s", ik_diag_message(&d));
    free(path);
    return g;
}

static const char chain[] =
    "nodes:\n"
    "  a:\n    type: command\n    in: {rows: {file: rows.txt}}\n"
    "    params: {cmd: 'cp $IKADA_IN_rows $IKADA_OUT_o', outputs: {o: o.txt}}\n"
    "  b:\n    type: command\n    in: {x: a.o}\n    params: {cmd: 'cp', outputs: {o: o.txt}}\n"
    "  c:\n    type: command\n    params: {cmd: 'true', outputs: {o: o.txt}}\n";

Test(plan, target_selects_its_producers_only)
{
    struct ik_graph *g = load(chain);
    bool sel[3];
    char *targets[] = {"b"};
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_plan_select(g, targets, 1, sel, &d), 0);
    cr_assert(sel[0] && sel[1] && !sel[2]);
    char *bad[] = {"bb"};
    cr_assert_eq(ik_plan_select(g, bad, 1, sel, &d), IK_EUSAGE);
    cr_assert(strstr(ik_diag_message(&d), "did you mean 'b'") != NULL, "%s", ik_diag_message(&d));
    ik_diag_free(&d);
    ik_graph_free(g);
}

/* Stores a fake result for node i so that it counts as done. */
static void fake_run(struct ik_plan *p, size_t i, const char *content)
{
    struct ik_action *a = calloc(1, sizeof *a);
    a->key = p->entries[i].key;
    a->type = strdup("command");
    a->version = 1;
    a->node = strdup(p->graph->nodes[i].name);
    a->n_outputs = 1;
    a->outputs = calloc(1, sizeof *a->outputs);
    a->outputs[0].port = strdup("o");
    a->outputs[0].kind = strdup("file");
    a->outputs[0].size = strlen(content);
    struct ik_diag d = IK_DIAG_INIT;
    struct ik_hash spec;
    cr_assert_eq(ik_cas_put(T.c, content, strlen(content), &a->outputs[0].hash, &d), 0);
    cr_assert_eq(ik_cas_put(T.c, p->entries[i].spec, p->entries[i].spec_len, &spec, &d), 0);
    cr_assert_eq(ik_action_put(T.c, a, &d), 0);
    cr_assert_eq(ik_ref_set(T.c, ik_plan_graph_id(p), p->graph->nodes[i].name, &a->key, &d), 0);
    ik_plan_set_action(p, i, a);
}

Test(plan, stale_then_cached_then_blocked_downstream)
{
    struct ik_graph *g = load(chain);
    struct ik_plan p;
    ik_plan_init(&p, g, T.c, memo);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(p.entries[0].state, IK_PLAN_STALE);
    cr_assert_str_eq(p.entries[0].reason, "never run");
    cr_assert_eq(p.entries[1].state, IK_PLAN_BLOCKED);
    cr_assert_str_eq(p.entries[1].reason, "upstream 'a' will run first");
    cr_assert(p.entries[1].never_run);
    fake_run(&p, 0, "one\ntwo\n");
    cr_assert_eq(ik_plan_resolve(&p, 1, false, &d), 0);
    cr_assert_eq(p.entries[1].state, IK_PLAN_STALE);
    fake_run(&p, 1, "one\ntwo\n");
    ik_plan_close(&p);

    /* A fresh plan over the same cache: everything that ran is cached. */
    ik_plan_init(&p, g, T.c, memo);
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0);
    cr_assert_eq(p.entries[0].state, IK_PLAN_CACHED);
    cr_assert_eq(p.entries[1].state, IK_PLAN_CACHED);
    cr_assert_eq(p.entries[2].state, IK_PLAN_STALE);
    bool forced[3] = {true, false, false};
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, forced, &d), 0);
    cr_assert_eq(p.entries[0].state, IK_PLAN_STALE);
    cr_assert_str_eq(p.entries[0].reason, "forced (--force)");
    ik_plan_close(&p);
    ik_graph_free(g);
}

Test(plan, reasons_name_the_param_and_the_input)
{
    struct ik_graph *g = load(chain);
    struct ik_plan p;
    ik_plan_init(&p, g, T.c, memo);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0);
    fake_run(&p, 0, "one\ntwo\n");
    cr_assert_eq(ik_plan_resolve(&p, 1, false, &d), 0);
    fake_run(&p, 1, "x");
    ik_plan_close(&p);
    ik_graph_free(g);

    /* Change b's command and the source file a reads. */
    char *edited = strdup(chain);
    char *at = strstr(edited, "cmd: 'cp',");
    memcpy(at, "cmd: 'mv',", 10);
    g = load(edited);
    free(edited);
    char *src = NULL;
    cr_assert_gt(asprintf(&src, "%s/rows.txt", T.dir), 0);
    FILE *f = fopen(src, "a");
    fputs("three and more\n", f);
    fclose(f);
    free(src);
    ik_plan_init(&p, g, T.c, memo);
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0);
    cr_assert_eq(p.entries[0].state, IK_PLAN_STALE);
    cr_assert_str_eq(p.entries[0].reason, "input 'rows' changed (file rows.txt)");
    fake_run(&p, 0, "one\ntwo\n"); /* identical output: early cutoff for b's input */
    cr_assert_eq(ik_plan_resolve(&p, 1, false, &d), 0);
    cr_assert_eq(p.entries[1].state, IK_PLAN_STALE);
    cr_assert_str_eq(p.entries[1].reason, "param 'cmd' changed: \"cp\" -> \"mv\"");
    ik_plan_close(&p);
    ik_graph_free(g);
}

Test(plan, missing_source_file_is_reported_at_its_line)
{
    struct ik_graph *g = load("nodes:\n  a:\n    type: command\n    in: {rows: {file: nope.txt}}\n"
                              "    params: {cmd: 'true'}\n");
    struct ik_plan p;
    ik_plan_init(&p, g, T.c, memo);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_plan_check_sources(&p, NULL, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "g.yaml:4:") != NULL, "%s", ik_diag_message(&d));
    cr_assert(strstr(ik_diag_message(&d), "cannot read 'nope.txt'") != NULL);
    ik_diag_free(&d);
    ik_plan_close(&p);
    ik_graph_free(g);
}

Test(plan, a_record_without_a_declared_output_is_a_miss)
{
    /* A damaged (or unsealed, older) record that lacks a port the graph
     * declares must not feed the consumers: "producer has no output" would
     * fail every later run. */
    struct ik_graph *g = load(chain);
    struct ik_plan p;
    ik_plan_init(&p, g, T.c, memo);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0);
    fake_run(&p, 0, "one\ntwo\n");
    struct ik_action *a = NULL;
    cr_assert_eq(ik_action_get(T.c, &p.entries[0].key, &a, &d), 0);
    free(a->outputs[0].port);
    a->outputs[0].port = strdup("p"); /* "o" damaged */
    cr_assert_eq(ik_action_put(T.c, a, &d), 0);
    ik_action_free(a);
    ik_plan_close(&p);
    ik_plan_init(&p, g, T.c, memo);
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(p.entries[0].state, IK_PLAN_STALE);
    cr_assert_str_eq(p.entries[0].reason, "its action record lacks output 'o'");
    cr_assert_eq(p.entries[1].state, IK_PLAN_BLOCKED);
    ik_plan_close(&p);
    ik_graph_free(g);
}

Test(plan, corrupt_refs_are_rebuilt_not_fatal)
{
    struct ik_graph *g = load(chain);
    struct ik_plan p;
    ik_plan_init(&p, g, T.c, memo);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0);
    fake_run(&p, 0, "one\ntwo\n");
    char *id = strdup(ik_plan_graph_id(&p));
    cr_assert_str_eq(id, "g.yaml", "named relative to the folder holding the cache");
    struct ik_refset *rs = NULL;
    cr_assert_eq(ik_refset_load(T.c, id, &rs, &d), 0);
    ik_refset_free(rs);
    ik_plan_close(&p);
    /* Damage the refs file: the plan still finds a by key, and the set it
     * gets is marked for rewriting. */
    char *dir = ik_xasprintf("%s/refs", T.c->root);
    DIR *dd = opendir(dir);
    struct dirent *e;
    char *file = NULL;
    while ((e = readdir(dd)) != NULL)
        if (strncmp(e->d_name, "g-", 2) == 0)
            file = ik_xasprintf("%s/%s", dir, e->d_name);
    closedir(dd);
    cr_assert_not_null(file);
    free(tc_write(file, "\x84junk", 5));
    ik_plan_init(&p, g, T.c, memo);
    cr_assert_eq(ik_plan_resolve_all(&p, NULL, NULL, &d), 0, "%s", ik_diag_message(&d));
    cr_assert_eq(p.entries[0].state, IK_PLAN_CACHED);
    cr_assert_not_null(p.refs, "no refs to rebuild");
    ik_refset_set(p.refs, "a", &p.entries[0].key);
    cr_assert_eq(ik_refset_save(T.c, p.refs, &d), 0, "%s", ik_diag_message(&d));
    ik_plan_close(&p);
    cr_assert_eq(ik_refset_load(T.c, id, &rs, &d), 0, "the refs were not rewritten: %s",
                 ik_diag_message(&d));
    cr_assert_not_null(ik_refset_get(rs, "a"));
    ik_refset_free(rs);
    free(file);
    free(dir);
    free(id);
    ik_graph_free(g);
}
