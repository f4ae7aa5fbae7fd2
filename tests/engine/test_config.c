/* tests/engine/test_config.c - the config file (engine/config.h): where it is
 * looked for, what it gives a graph (the graph's own settings win, setting by
 * setting), and file:line errors for a bad one. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "engine/config.h"
#include "tests/engine/graph_test_types.h"

static char dir[] = "/tmp/ikada-config-XXXXXX";

static void setup(void)
{
    cr_assert_not_null(mkdtemp(dir));
    unsetenv("IKADA_CONFIG");
    setenv("XDG_CONFIG_HOME", dir, 1);
}

static void teardown(void)
{
    char *cmd = NULL;
    cr_assert(asprintf(&cmd, "rm -rf '%s'", dir) > 0);
    cr_expect_eq(system(cmd), 0);
    free(cmd);
}

TestSuite(config, .init = setup, .fini = teardown);

static char *write_config(const char *name, const char *text)
{
    char *path = NULL;
    cr_assert(asprintf(&path, "%s/%s", dir, name) > 0);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static struct ik_graph *load_config(int want, const char *message)
{
    struct ik_graph *c = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    int rc = ik_config_load(ik_test_types, &c, &d);
    cr_assert_eq(rc, want, "%s", ik_diag_message(&d));
    if (message)
        cr_expect(d.text && strstr(d.text, message), "expected '%s' in:\n%s", message, d.text);
    ik_diag_free(&d);
    return c;
}

Test(config, looked_for_under_xdg_config_home_then_ikada_config)
{
    cr_expect_null(load_config(0, NULL)); /* none there yet: no config */
    char sub[sizeof dir + 8];
    snprintf(sub, sizeof sub, "%s/ikada", dir);
    cr_assert_eq(mkdir(sub, 0700), 0);
    free(write_config("ikada/config.yaml", "remote: http://cache.example/x\n"));
    struct ik_graph *c = load_config(0, NULL);
    cr_assert_not_null(c);
    cr_expect_str_eq(c->remote, "http://cache.example/x");
    cr_expect(strstr(c->remote_loc.file, "/ikada/config.yaml") != NULL);
    cr_expect_eq(c->remote_loc.line, 1);
    ik_graph_free(c);
    char *other = write_config("other.yaml", "remote: s3://team-cache/p\n");
    setenv("IKADA_CONFIG", other, 1);
    c = load_config(0, NULL);
    cr_expect_str_eq(c->remote, "s3://team-cache/p");
    ik_graph_free(c);
    setenv("IKADA_CONFIG", "", 1); /* empty: none at all */
    cr_expect_null(load_config(0, NULL));
    free(other);
}

static const char GRAPH[] = "executor:\n"
                            "  partition: mine\n"
                            "  types: {command: {time: \"0:05:00\"}}\n"
                            "nodes:\n"
                            "  a:\n"
                            "    type: command\n"
                            "    params: {cmd: \"echo a > $IKADA_OUT_o\", outputs: {o: o.txt}}\n";

Test(config, the_graph_wins_setting_by_setting)
{
    char *path = write_config("c.yaml", "remote: http://from-config/x\n"
                                        "executor:\n"
                                        "  kind: slurm\n"
                                        "  partition: site\n"
                                        "  account: lab\n"
                                        "  types:\n"
                                        "    command: {time: \"1:00:00\", partition: gpu}\n"
                                        "    source: local\n");
    setenv("IKADA_CONFIG", path, 1);
    struct ik_graph *c = load_config(0, NULL), *g = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_graph_load_string(ik_test_types, "g.yaml", GRAPH, strlen(GRAPH), &g, &d), 0);
    ik_config_apply(g, c);
    const struct ik_graph_executor *e = &g->executor;
    cr_expect_str_eq(e->kind, "slurm");
    cr_expect_str_eq(e->all.partition, "mine");
    cr_expect_str_eq(e->all.account, "lab");
    cr_assert_eq(e->n_types, 2);
    cr_expect_str_eq(e->type_names[0], "command");
    cr_expect_str_eq(e->types[0].time, "0:05:00");
    cr_expect_str_eq(e->types[0].partition, "gpu");
    cr_expect_str_eq(e->type_names[1], "source");
    cr_expect(e->types[1].local);
    cr_expect_str_eq(g->remote, "http://from-config/x");
    cr_expect_str_eq(g->remote_loc.file, path);
    ik_graph_free(c);
    ik_graph_free(g);
    free(path);
}

static void expect_bad(const char *text, const char *message)
{
    char *path = write_config("bad.yaml", text);
    setenv("IKADA_CONFIG", path, 1);
    cr_expect_null(load_config(text[0] == '[' ? IK_EPARSE : IK_EVALIDATE, message));
    free(path);
}

Test(config, bad_files_say_where)
{
    expect_bad("remote: http://x\nremot: y\n", "bad.yaml:2:1: error: unknown key 'remot' in the "
                                               "config file; did you mean 'remote'?");
    expect_bad("remote: ftp://x\n", "bad.yaml:1:9: error: 'remote:' must be an http(s):// URL");
    expect_bad("executor:\n  kind: pbs\n", "bad.yaml:2:9: error: 'executor: kind:' must be "
                                           "slurm or local");
    expect_bad("executor:\n  types: {nosuch: local}\n", "bad.yaml:2:11: error: 'executor: "
                                                        "types:' names 'nosuch'");
    expect_bad("- a\n", "bad.yaml:1:1: error: a config file must be a mapping");
    expect_bad("[a\n", "bad.yaml:");
    setenv("IKADA_CONFIG", "/nonexistent/ikada.yaml", 1);
    cr_expect_null(load_config(-ENOENT, "cannot read /nonexistent/ikada.yaml"));
}
