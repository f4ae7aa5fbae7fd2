/* cli/remote_setting.c - which remote cache a command uses (cli/common.h's
 * ik_cli_open_remote): the nearest level that says, command line first. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xmalloc.h"
#include "cache/remote.h"
#include "cli/cli.h"
#include "cli/common.h"
#include "engine/config.h"
#include "nodes/registry.h"

/* The setting's message, now at `loc` (a graph's or the config file's). */
static void relocate(struct ik_diag *d, const struct ik_srcloc *loc)
{
    const char *msg = ik_diag_message(d);
    msg += strncmp(msg, "error: ", 7) == 0 ? 7 : 0;
    char *text = ik_xstrdup(msg);
    int code = d->code;
    ik_diag_free(d);
    ik_diag_at(d, code, loc, NULL, 0, "'remote:': %s", text);
    free(text);
}

int ik_cli_open_remote(const char *flag, const struct ik_graph *g, struct ik_remote **out)
{
    *out = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    const char *env = getenv("IKADA_REMOTE");
    struct ik_graph *config = NULL;
    int rc = 0;
    if (flag != NULL || env != NULL) {
        const char *setting = flag != NULL ? flag : env;
        if (*setting != '\0' && (rc = ik_remote_open(setting, out, &d)) < 0)
            ik_diag_prefix(&d, flag != NULL ? "--remote: " : "IKADA_REMOTE: ");
    } else {
        if (g == NULL && (rc = ik_config_load(ik_node_types, &config, &d)) == 0)
            g = config;
        if (rc == 0 && g != NULL && g->remote != NULL &&
            (rc = ik_remote_open(g->remote, out, &d)) < 0)
            relocate(&d, &g->remote_loc);
    }
    if (rc < 0)
        ik_diag_print(&d);
    ik_diag_free(&d);
    ik_graph_free(config);
    return rc < 0 ? IK_EXIT_USAGE : 0;
}
