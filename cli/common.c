/* cli/common.c - shared subcommand helpers (cli/common.h). */
#include "base/error.h"

#include "cli/cli.h"
#include "cli/common.h"
#include "nodes/registry.h"

int ik_cli_load_graph(const char *path, struct ik_graph **g)
{
    return ik_cli_load_graph_sets(path, NULL, 0, g);
}

int ik_cli_load_graph_sets(const char *path, char *const *sets, size_t n_sets, struct ik_graph **g)
{
    struct ik_diag d = IK_DIAG_INIT;
    const struct ik_graph_opts opts = {(const char *const *)sets, n_sets};
    if (ik_graph_load_opts(ik_node_types, path, &opts, g, &d) < 0) {
        ik_diag_print(&d);
        ik_diag_free(&d);
        return IK_EXIT_USAGE;
    }
    return 0;
}

int ik_cli_open_cache(bool create, struct ik_cache **c)
{
    struct ik_diag d = IK_DIAG_INIT;
    if (ik_cache_open(create, c, &d) < 0) {
        ik_diag_print(&d);
        ik_diag_free(&d);
        return IK_EXIT_USAGE;
    }
    return 0;
}

int ik_cli_exit_status(int rc)
{
    if (rc == 0)
        return IK_EXIT_OK;
    if (rc == IK_ECANCELED)
        return IK_EXIT_INTERRUPTED;
    return rc == IK_EUSAGE ? IK_EXIT_USAGE : IK_EXIT_FAILED;
}
