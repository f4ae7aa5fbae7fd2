/* nodes/command_shell.h - run the `command` node's shell, and everything it
 * starts, as one unit that ends with the node.
 *
 * The shell runs as the leader of a process group of its own: a timeout
 * kills that whole group (a compound command's `sleep`, a pipeline's members),
 * not only the shell, and whatever is left in the group when the shell exits
 * is killed too, so no process of a node outlives it. Its stdout and stderr
 * reach the node's own through pipes that this process forwards and abandons
 * once the shell is gone: a process that left the group (setsid) and still
 * holds them cannot keep the node, or the scheduler reading its log, waiting.
 * While the shell runs, SIGTERM, SIGINT and SIGHUP kill its group before
 * doing what they did before (the node host's own handler, engine/exec.c). */
#ifndef IK_NODES_COMMAND_SHELL_H
#define IK_NODES_COMMAND_SHELL_H

#include <stdint.h>

#include "base/diag.h"

/* Runs `shell -c cmd` in dir and waits at most timeout_s seconds (0 =
 * forever, measured on the monotonic clock). Returns 0 when it exited 0;
 * IK_ENODE when it timed out ("command timed out after N s"), was killed by
 * a signal or exited non-zero; -errno when it could not be started. */
int ik__command_run_shell(const char *shell, const char *cmd, const char *dir, int64_t timeout_s,
                          struct ik_diag *d);

#endif
