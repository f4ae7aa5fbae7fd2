/* cli/failures.c - the last failure of each node's current key (failures.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xmalloc.h"
#include "cli/failures.h"

struct ik_run_failure *ik_cli_find_failures(const struct ik_plan *p, size_t n_nodes)
{
    struct ik_hash *keys = ik_xcalloc(n_nodes + 1, sizeof *keys);
    size_t *node_of = ik_xcalloc(n_nodes + 1, sizeof *node_of);
    size_t n = 0;
    for (size_t i = 0; i < n_nodes; i++)
        if (p->entries[i].state == IK_PLAN_STALE && p->entries[i].key_known) {
            node_of[n] = i;
            keys[n++] = p->entries[i].key;
        }
    struct ik_run_failure *found = NULL, *by_node = NULL;
    struct ik_diag d = IK_DIAG_INIT;
    if (n > 0) {
        found = ik_xcalloc(n, sizeof *found);
        if (ik_runlog_failures(p->cache, keys, n, found, &d) == 0) {
            by_node = ik_xcalloc(n_nodes, sizeof *by_node);
            for (size_t k = 0; k < n; k++)
                by_node[node_of[k]] = found[k];
        } else {
            fprintf(stderr, "ikada: warning: failed runs not looked up: %s\n", ik_diag_message(&d));
            ik_run_failures_free(found, n);
        }
    }
    ik_diag_free(&d);
    free(found);
    free(keys);
    free(node_of);
    return by_node;
}

void ik_cli_failures_free(struct ik_run_failure *f, size_t n_nodes)
{
    if (f)
        ik_run_failures_free(f, n_nodes);
    free(f);
}

char *ik_cli_failure_reason(const struct ik_run_failure *f)
{
    const char *msg = f->error ? f->error : "(no message)";
    if (strncmp(msg, "error: ", 7) == 0)
        msg += 7; /* as the run said it: "bad: FAILED: ..." */
    return ik_xasprintf("failed in run %s: %s", f->run_id, msg);
}
