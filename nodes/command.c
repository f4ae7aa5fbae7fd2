/* nodes/command.c - the `command` node type: run a shell command as a node.
 *
 * The escape hatch of Snakemake's `shell:` and DVC's `cmd:`. Each input is
 * materialised as a file (a folder for a folder source, a `tree` artifact or
 * a glob) whose path is in $IKADA_IN_<port>; each output port declared in
 * `outputs:` (port -> file name) gets a path in $IKADA_OUT_<port> inside a
 * scratch folder, and what is found there after the command exits 0 is
 * stored: a file as a `file` artifact, a folder as a `tree` artifact (a name
 * ending in '/' is a folder made beforehand, and must stay one). The command
 * runs in a scratch working directory of its own, with $IKADA_ROOT the graph
 * file's folder for scripts that read paths relative to it (not part of the
 * key: declared inputs are what makes a rerun); stdout and stderr go to the
 * node's log. The shell and
 * what it starts end with the node, at a timeout too (command_shell.h). Artifacts
 * that hold records reach the command as msgpack, or as JSON Lines / JSON
 * with `in_format`, so ordinary text tools can read them. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/error.h"
#include "cache/artifact.h"
#include "base/file.h"
#include "base/mpjson.h"
#include "base/pyjson.h"
#include "base/buf.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "engine/node.h"
#include "nodes/command_shell.h"

static const struct ik_port_spec command_outputs[] = {{NULL, NULL, false, NULL}};
static const struct ik_port_spec command_inputs[] = {{NULL, NULL, false, NULL}};

static const struct ik_param_spec command_params[] = {
    {"cmd", IK_PARAM_STRING, NULL, "shell command; inputs in $IKADA_IN_<port>, outputs to $IKADA_OUT_<port>", NULL},
    {"outputs", IK_PARAM_MAP, "{}", "output port -> file or folder name the command writes ('name/': a folder)", NULL},
    {"env", IK_PARAM_MAP, "{}", "extra environment variables (part of the key)", NULL},
    {"shell", IK_PARAM_STRING, "/bin/sh", "shell that runs cmd with -c", NULL},
    {"timeout_s", IK_PARAM_INT, "0", "kill the command after this many seconds (0 = never)", IK_MIN(0)},
    {"in_format", IK_PARAM_STRING, "msgpack", "how artifact inputs are written: msgpack, jsonl (records) or json", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

static int command_run(struct ik_node_ctx *ctx, struct ik_diag *d);

const struct ik_node_type ik_node_command = {
    .name = "command",
    .version = 1,
    .summary = "run a shell command on input files; collect declared output files",
    .inputs = command_inputs,
    .outputs = command_outputs,
    .params = command_params,
    .any_inputs = true,
    .any_inputs_help = "each input as a file or folder in $IKADA_IN_<port>",
    .outputs_from_param = "outputs",
    .cpu = 1,
    .gpu = 0,
    .gpu_falls_back_to_cpu = false,
    .run = command_run,
};

/* Writes an artifact input as JSON Lines (one record a line) or as one JSON
 * document into scratch/in/<port>.<format>; *path is the new file. */
static int convert_input(struct ik_node_ctx *ctx, const char *port, const msgpack_object *root,
                         const char *format, char **path, struct ik_diag *d)
{
    struct ik_buf text = IK_BUF_INIT;
    if (strcmp(format, "json") == 0) {
        ik_mpjson_write(&text, root, 0, NULL);
        ik_buf_putc(&text, '\n');
    } else {
        const msgpack_object *records = ik_artifact_records(root);
        if (records == NULL || records->type != MSGPACK_OBJECT_ARRAY)
            return ik_diag_set(d, IK_EVALIDATE,
                               "input '%s': in_format jsonl needs an artifact with records", port);
        for (uint32_t i = 0; i < records->via.array.size; i++) {
            ik_pyjson_append(&text, &records->via.array.ptr[i]);
            ik_buf_putc(&text, '\n');
        }
    }
    char *dir = ik_xasprintf("%s/in", ik_node_scratch_dir(ctx));
    int rc = ik_mkdirs(dir, d);
    *path = ik_xasprintf("%s/%s.%s", dir, port, format);
    if (rc == 0)
        rc = ik_write_atomic(dir, *path, text.data ? text.data : "", text.len, 0644, d);
    free(dir);
    ik_buf_free(&text);
    return rc;
}

/* The path of input `port` in the format the command asked for. */
static int input_file(struct ik_node_ctx *ctx, const char *port, const char *format, char **path,
                      struct ik_diag *d)
{
    const char *raw;
    int rc = ik_node_input_path(ctx, port, &raw, d);
    if (rc < 0)
        return rc;
    const msgpack_object *root = NULL;
    size_t kind_len = 0;
    const char *kind = NULL;
    if (strcmp(format, "msgpack") != 0) {
        struct ik_diag ignore = IK_DIAG_INIT; /* file: sources are passed as they are */
        if (ik_node_input_object(ctx, port, &root, &ignore) == 0)
            kind = ik_artifact_kind(root, &kind_len);
        ik_diag_free(&ignore);
    }
    bool as_is = kind && kind_len == 4 &&
                 (memcmp(kind, "file", 4) == 0 || memcmp(kind, "tree", 4) == 0);
    if (root == NULL || as_is) {
        *path = ik_xstrdup(raw);
        return 0;
    }
    return convert_input(ctx, port, root, format, path, d);
}

/* Exports $IKADA_IN_<port> for every connected input. */
static int export_inputs(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    const char *format = ik_node_param_str(ctx, "in_format");
    if (strcmp(format, "msgpack") != 0 && strcmp(format, "jsonl") != 0 && strcmp(format, "json") != 0)
        return ik_diag_set(d, IK_EVALIDATE, "param 'in_format': expected msgpack, jsonl or json, got '%s'",
                           format);
    for (size_t i = 0; i < ik_node_input_count(ctx); i++) {
        const char *port = ik_node_input_port(ctx, i);
        char *path = NULL;
        int rc = input_file(ctx, port, format, &path, d);
        if (rc == 0) {
            char *name = ik_xasprintf("IKADA_IN_%s", port);
            setenv(name, path, 1);
            free(name);
        }
        free(path);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* Whether output file name `file` names a folder ("peft/"). */
static bool names_folder(const char *file)
{
    size_t n = strlen(file);
    return n > 0 && file[n - 1] == '/';
}

/* Exports $IKADA_OUT_<port> = scratch/out/<file name>, without a folder
 * name's trailing '/' (a folder made here); file names may not leave the
 * scratch folder. */
static int export_outputs(struct ik_node_ctx *ctx, const msgpack_object *outputs, char **paths,
                          struct ik_diag *d)
{
    for (uint32_t i = 0; i < outputs->via.map.size; i++) {
        char *port = ik_mp_strdup(&outputs->via.map.ptr[i].key);
        char *file = ik_mp_strdup(&outputs->via.map.ptr[i].val);
        int rc = 0;
        if (file == NULL || file[0] == '\0' || file[0] == '/' || strstr(file, "..") != NULL)
            rc = ik_diag_set(d, IK_EVALIDATE,
                             "output '%s': expected a relative file or folder name without "
                             "'..', got '%s'", port, file ? file : "(not a string)");
        if (rc == 0) {
            bool folder = names_folder(file);
            paths[i] = ik_xasprintf("%s/out/%.*s", ik_node_scratch_dir(ctx),
                                    (int)strlen(file) - (folder ? 1 : 0), file);
            char *dir = ik_xstrdup(paths[i]);
            if (!folder)
                *strrchr(dir, '/') = '\0';
            rc = ik_mkdirs(dir, d);
            free(dir);
            char *name = ik_xasprintf("IKADA_OUT_%s", port);
            setenv(name, paths[i], 1);
            free(name);
        }
        free(port);
        free(file);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static void export_env(const msgpack_object *env)
{
    for (uint32_t i = 0; env && i < env->via.map.size; i++) {
        char *name = ik_mp_strdup(&env->via.map.ptr[i].key);
        const msgpack_object *v = &env->via.map.ptr[i].val;
        char *value = ik_mp_strdup(v);
        double num;
        if (value == NULL && ik_mp_number(v, &num))
            value = ik_xasprintf("%.17g", num);
        if (name && value)
            setenv(name, value, 1);
        free(name);
        free(value);
    }
}

/* Stores what the command left at each output path: a file, or a folder
 * (which an output named 'name/' must be). */
static int collect_outputs(struct ik_node_ctx *ctx, const msgpack_object *outputs, char **paths,
                           struct ik_diag *d)
{
    for (uint32_t i = 0; i < outputs->via.map.size; i++) {
        char *port = ik_mp_strdup(&outputs->via.map.ptr[i].key);
        char *file = ik_mp_strdup(&outputs->via.map.ptr[i].val);
        struct stat st;
        int rc = 0;
        bool exists = stat(paths[i], &st) == 0;
        if (!exists || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode)))
            rc = ik_diag_set(d, IK_ENODE,
                             "the command succeeded but did not write output '%s' ($IKADA_OUT_%s)",
                             port, port);
        else if (names_folder(file) && !S_ISDIR(st.st_mode))
            rc = ik_diag_set(d, IK_ENODE, "output '%s' is declared a folder ('%s') but the command "
                             "left a file at $IKADA_OUT_%s", port, file, port);
        if (rc == 0 && S_ISDIR(st.st_mode))
            rc = ik_node_output_tree(ctx, port, paths[i], d);
        else if (rc == 0)
            rc = ik_node_output_file(ctx, port, paths[i], d);
        free(file);
        free(port);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int command_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    const msgpack_object *outputs = ik_node_param(ctx, "outputs");
    char **paths = ik_xcalloc(outputs->via.map.size + 1, sizeof *paths);
    char *work = ik_xasprintf("%s/work", ik_node_scratch_dir(ctx));
    int rc = ik_mkdirs(work, d);
    if (rc == 0)
        rc = export_inputs(ctx, d);
    if (rc == 0)
        rc = export_outputs(ctx, outputs, paths, d);
    if (rc == 0) {
        setenv("IKADA_ROOT", ik_node_graph_dir(ctx), 1);
        export_env(ik_node_param(ctx, "env"));
        rc = ik__command_run_shell(ik_node_param_str(ctx, "shell"), ik_node_param_str(ctx, "cmd"),
                                   work, ik_node_param_int(ctx, "timeout_s"), d);
    }
    if (rc == 0)
        rc = collect_outputs(ctx, outputs, paths, d);
    for (uint32_t i = 0; i < outputs->via.map.size; i++)
        free(paths[i]);
    free(paths);
    free(work);
    return rc;
}
