/* nodes/command.c - the `command` node type: run a shell command as a node.
 *
 * The escape hatch of Snakemake's `shell:` and DVC's `cmd:`. Each input is
 * materialised as a file whose path is in $IKADA_IN_<port>; each output port
 * declared in `outputs:` (port -> file name) gets a path in $IKADA_OUT_<port>
 * inside a scratch folder, and the file found there after the command exits 0
 * is stored as a `file` artifact. The command runs with the scratch folder as
 * its working directory; stdout and stderr go to the node's log. */
#include "nodes/node.h"

static const struct ik_port_spec command_outputs[] = {{NULL, NULL, false, NULL}};
static const struct ik_port_spec command_inputs[] = {{NULL, NULL, false, NULL}};

static const struct ik_param_spec command_params[] = {
    {"cmd", IK_PARAM_STRING, NULL, "shell command; inputs in $IKADA_IN_<port>, outputs to $IKADA_OUT_<port>"},
    {"outputs", IK_PARAM_MAP, "{}", "output port -> file name the command writes"},
    {"env", IK_PARAM_MAP, "{}", "extra environment variables (part of the key)"},
    {"shell", IK_PARAM_STRING, "/bin/sh", "shell that runs cmd with -c"},
    {"timeout_s", IK_PARAM_INT, "0", "kill the command after this many seconds (0 = never)"},
    {NULL, 0, NULL, NULL},
};

int ik__command_run(struct ik_node_ctx *ctx, struct ik_diag *d);

const struct ik_node_type ik_node_command = {
    .name = "command",
    .version = 1,
    .summary = "run a shell command on input files; collect declared output files",
    .inputs = command_inputs,
    .outputs = command_outputs,
    .params = command_params,
    .any_inputs = true,
    .outputs_from_param = "outputs",
    .cpu = 1,
    .gpu = 0,
    .gpu_falls_back_to_cpu = false,
    .run = ik__command_run,
};
