/* cli/failures.h - why a node that must run failed the last time it ran
 * under the key the graph asks for now, for the commands that say so
 * (`ikada status`, `ikada report`). The run records are read once per
 * command, newest first, and only as far as settles every key
 * (cache/runlog.h's ik_runlog_failures): a report of many nodes over a long
 * history does not read the history once per node. */
#ifndef IK_CLI_FAILURES_H
#define IK_CLI_FAILURES_H

#include <stddef.h>

#include "cache/runlog.h"
#include "engine/plan.h"

/* For each of the n_nodes nodes of p that must run under a known key
 * (IK_PLAN_STALE), its failure, indexed by node (.failed false for the
 * rest); NULL when there is none to look for, so an up-to-date graph reads
 * no run record. An unreadable history costs the failures (one warning),
 * never the command. Free with ik_cli_failures_free. */
struct ik_run_failure *ik_cli_find_failures(const struct ik_plan *p, size_t n_nodes);
void ik_cli_failures_free(struct ik_run_failure *f, size_t n_nodes);

/* "failed in run ID: ERROR", a failed node's reason, as the run said it. */
char *ik_cli_failure_reason(const struct ik_run_failure *f);

#endif
