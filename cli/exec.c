/* cli/exec.c - `ikada exec KEY [--node NAME] [--file|--glob PORT=PATH]...`: run one
 * node in this process (the command the scheduler spawns; engine/exec.h).
 *
 * Only the command line is here: the node host is engine/exec.c. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xmalloc.h"
#include "cli/cli.h"
#include "engine/exec.h"
#include "engine/progress.h"
#include "nodes/registry.h"

#define EXEC_USAGE "usage: ikada exec KEY [--node NAME] [--file|--glob PORT=PATH]..."

/* Fills req from argv; the ports of --file point into argv except their
 * names, which are copied (the caller frees them with free_files). */
static int parse_args(int argc, char **argv, struct ik_exec_request *req, struct ik_diag *d)
{
    if (argc < 2 || ik_hash_from_hex(argv[1], &req->key) != 0)
        return ik_diag_set(d, IK_EUSAGE, EXEC_USAGE);
    struct ik_exec_file *files = NULL;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--node") == 0 && i + 1 < argc) {
            req->name = argv[++i];
        } else if ((strcmp(argv[i], "--file") == 0 || strcmp(argv[i], "--glob") == 0) &&
                   i + 1 < argc) {
            bool glob = argv[i][2] == 'g';
            char *eq = strchr(argv[++i], '=');
            if (eq == NULL)
                return ik_diag_set(d, IK_EUSAGE, "exec: --%s expects PORT=PATH, got '%s'",
                                   glob ? "glob" : "file", argv[i]);
            files = ik_xrealloc(files, (req->n_files + 1) * sizeof *files);
            files[req->n_files].port = ik_xstrndup(argv[i], (size_t)(eq - argv[i]));
            files[req->n_files].path = eq + 1;
            files[req->n_files].glob = glob;
            req->n_files++;
            req->files = files;
        } else {
            return ik_diag_set(d, IK_EUSAGE, "exec: unknown argument '%s'", argv[i]);
        }
    }
    return 0;
}

static void free_files(struct ik_exec_request *req)
{
    for (size_t i = 0; i < req->n_files; i++)
        free((char *)req->files[i].port);
    free((void *)req->files);
}

/* Under a cluster executor fd 3 is no pipe to the scheduler: IKADA_PROGRESS_FILE
 * names the file on the shared cache it reads the frames from instead. */
static int progress_file(struct ik_diag *d)
{
    const char *path = getenv("IKADA_PROGRESS_FILE");
    if (path == NULL || path[0] == '\0')
        return 0;
    int rc = ik_progress_to_file(path);
    if (rc < 0)
        return ik_diag_set(d, rc, "exec: cannot write progress frames to %s "
                           "(IKADA_PROGRESS_FILE): %s", path, strerror(-rc));
    return 0;
}

int ik_cli_exec(int argc, char **argv)
{
    /* A node must not outlive the run that owns it: before anything else. */
    ik_exec_die_with_scheduler();
    struct ik_exec_request req = {.types = ik_node_types};
    struct ik_diag d = IK_DIAG_INIT;
    int rc = progress_file(&d);
    if (rc == 0)
        rc = parse_args(argc, argv, &req, &d);
    if (rc == 0)
        rc = ik_exec_node(&req);
    else
        ik_exec_report_failure(&d);
    free_files(&req);
    ik_diag_free(&d);
    /* Not ik_cli_exit_status: 130 means "the run was interrupted" to whoever
     * reads ikada's statuses, and a node's own IK_ECANCELED is just a failure. */
    return rc == 0 ? IK_EXIT_OK : (rc == IK_EUSAGE ? IK_EXIT_USAGE : IK_EXIT_FAILED);
}
