/* nodes/gguf_export.c - the `gguf-export` node type: a trained lora.adapter
 * -> the files llama.cpp and Ollama load: an adapter GGUF, with `base: true`
 * a base-model GGUF with its tokenizer, an Ollama Modelfile, the PEFT
 * adapter again (as an artifact: `ikada cache export` writes its folder),
 * and a report with the `ollama create` and `llama-cli --lora` lines.
 *
 * A thin adapter over lm/: lora_gguf.c writes the adapter GGUF,
 * model_gguf.c the base, modelfile.c the Modelfile. Every file is written in
 * the node's scratch folder, then streamed into the cache
 * (ik_node_output_file), and copied under `export_to` when that is set (a
 * folder, relative to the graph file's). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/buf.h"
#include "base/error.h"
#include "base/file.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "engine/node.h"
#include "lm/chat_template.h"
#include "lm/gguf.h"
#include "lm/lora.h"
#include "lm/lora_gguf.h"
#include "lm/model.h"
#include "lm/model_gguf.h"
#include "lm/modelfile.h"
#include "lm/tokenizer.h"
#include "nodes/train/adapter_artifact.h"

static const struct ik_port_spec export_inputs[] = {
    {"adapter", "lora.adapter", false, "the adapter (train's adapter output)"},
    {"model", "*", true, "the base model (file: source), needed for base: true"},
    {"tokenizer", "*", true, "the base's tokenizer file, for a llama2.c .bin model"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec export_outputs[] = {
    {"adapter", "file", false, "the LoRA adapter GGUF (llama-cli --lora, Ollama ADAPTER)"},
    {"base", "file", false, "the base model GGUF with its tokenizer and chat template"},
    {"modelfile", "file", false, "the Ollama Modelfile: FROM, ADAPTER, TEMPLATE, stops"},
    {"peft", "lora.adapter", false, "the adapter again: `ikada cache export` writes its PEFT folder"},
    {"report", "gguf.report", false, "the files and the ollama / llama-cli command lines"},
    {NULL, NULL, false, NULL},
};

static const struct ik_output_when export_when[] = {{"base", "base"}, {NULL, NULL}};

static const struct ik_param_spec export_params[] = {
    {"outtype", IK_PARAM_STRING, "f16", "adapter tensors: f32, f16 or bf16", NULL},
    {"base", IK_PARAM_BOOL, "false", "also write the base model as a GGUF", NULL},
    {"base_outtype", IK_PARAM_STRING, "f16", "base matrices: f32, f16 or bf16", NULL},
    {"name", IK_PARAM_STRING, "ikada-lora", "file name stem and Ollama model name", NULL},
    {"ollama_from", IK_PARAM_STRING, "", "the Modelfile's FROM without base: an Ollama model name", NULL},
    {"export_to", IK_PARAM_STRING, "", "a folder (relative to the graph file) for copies", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

struct job {
    struct ik_node_ctx *ctx;
    struct ik_lora *a;
    struct ik_lm_config base_cfg;
    struct ik_lora_artifact_info info;
    uint32_t outtype, base_outtype;
    const char *name, *ollama_from;
    const char *export_to; /* the param as written ("" when unset) */
    char *export_dir;      /* absolute, or NULL */
    char *adapter_file;    /* file names, in the scratch folder and export_to */
    char *base_file;
};

static void job_free(struct job *j)
{
    ik_lora_free(j->a);
    free(j->export_dir);
    free(j->adapter_file);
    free(j->base_file);
}

static int outtype_by_name(const char *param, const char *name, uint32_t *out, struct ik_diag *d)
{
    static const struct { const char *name; uint32_t type; } types[] = {
        {"f32", IK_GGML_F32}, {"f16", IK_GGML_F16}, {"bf16", IK_GGML_BF16}};
    for (size_t i = 0; i < 3; i++)
        if (strcmp(name, types[i].name) == 0) {
            *out = types[i].type;
            return 0;
        }
    return ik_diag_set(d, IK_EVALIDATE, "param %s is '%s', expected f32, f16 or bf16", param, name);
}

/* A file name stem: what Ollama accepts as a model name and a file system as a
 * name ([A-Za-z0-9._-], not starting with '.'). */
static int check_name(const char *name, struct ik_diag *d)
{
    size_t n = strlen(name);
    bool ok = n > 0 && n <= 100 && name[0] != '.';
    for (size_t i = 0; ok && i < n; i++)
        ok = (name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
             (name[i] >= '0' && name[i] <= '9') || strchr("._-", name[i]) != NULL;
    if (!ok)
        return ik_diag_set(d, IK_EVALIDATE, "param name is '%s', expected 1 to 100 of "
                           "[A-Za-z0-9._-], not starting with '.'", name);
    return 0;
}

static const char *type_name(uint32_t t)
{
    return t == IK_GGML_F32 ? "f32" : t == IK_GGML_F16 ? "f16" : "bf16";
}

static int read_params(struct job *j, struct ik_diag *d)
{
    struct ik_node_ctx *ctx = j->ctx;
    int rc;
    j->name = ik_node_param_str(ctx, "name");
    j->ollama_from = ik_node_param_str(ctx, "ollama_from");
    if ((rc = outtype_by_name("outtype", ik_node_param_str(ctx, "outtype"), &j->outtype, d)) ||
        (rc = outtype_by_name("base_outtype", ik_node_param_str(ctx, "base_outtype"),
                              &j->base_outtype, d)) ||
        (rc = check_name(j->name, d)))
        return rc;
    const char *to = j->export_to = ik_node_param_str(ctx, "export_to");
    if (*to)
        j->export_dir = to[0] == '/' ? ik_xstrdup(to)
                                     : ik_xasprintf("%s/%s", ik_node_graph_dir(ctx), to);
    if (!ik_node_param_bool(ctx, "base") && *j->ollama_from == '\0') {
        ik_diag_set(d, IK_EVALIDATE, "the Modelfile needs a base: set base: true (and connect "
                    "the model input), or name the Ollama model the adapter was trained on in "
                    "ollama_from");
        ik_diag_hint(d, "e.g. ollama_from: qwen2.5:0.5b-instruct");
        return IK_EVALIDATE;
    }
    if (ik_node_param_bool(ctx, "base") && !ik_node_has_input(ctx, "model"))
        return ik_diag_set(d, IK_EVALIDATE, "base: true needs the model input (the base the "
                           "adapter was trained on)");
    j->adapter_file = ik_xasprintf("%s-lora-%s.gguf", j->name, type_name(j->outtype));
    j->base_file = ik_xasprintf("%s-base-%s.gguf", j->name, type_name(j->base_outtype));
    return 0;
}

static int read_adapter(struct job *j, struct ik_diag *d)
{
    const msgpack_object *root;
    int rc = ik_node_input_object(j->ctx, "adapter", &root, d);
    if (rc == 0)
        rc = ik_lora_artifact_read(root, "input adapter", &j->a, &j->base_cfg, &j->info, d);
    return rc;
}

static char *scratch_path(const struct job *j, const char *file)
{
    return ik_xasprintf("%s/%s", ik_node_scratch_dir(j->ctx), file);
}

/* Stores the scratch file as output port, and copies it under export_to. */
static int emit_file(struct job *j, const char *port, const char *file, struct ik_diag *d)
{
    char *path = scratch_path(j, file);
    int rc = ik_node_output_file(j->ctx, port, path, d);
    if (rc == 0 && j->export_dir) {
        char *dst = ik_xasprintf("%s/%s", j->export_dir, file);
        rc = ik_mkdirs(j->export_dir, d);
        if (rc == 0)
            rc = ik_copy_file_atomic(path, dst, 0644, d);
        free(dst);
    }
    free(path);
    return rc;
}

static int write_adapter_gguf(struct job *j, struct ik_diag *d)
{
    char *path = scratch_path(j, j->adapter_file);
    int rc = ik_lora_write_gguf(j->a, &j->base_cfg, j->outtype, path, d);
    free(path);
    return rc == 0 ? emit_file(j, "adapter", j->adapter_file, d) : rc;
}

/* The base must be the adapter's: same content hash as the one it was trained on. */
static int check_base(struct job *j, struct ik_diag *d)
{
    struct ik_hash h;
    char hex[IK_HASH_HEX_LEN + 1];
    int rc = ik_node_input_hash(j->ctx, "model", &h, d);
    if (rc != 0)
        return rc;
    ik_hash_to_hex(&h, hex);
    if (strcmp(hex, j->info.base_hash) != 0)
        return ik_diag_set(d, IK_EVALIDATE, "input model (content %.12s) is not the base the "
                           "adapter was trained on (%.12s)", hex, j->info.base_hash);
    return 0;
}

static int load_base_tokenizer(struct job *j, const char *model, struct ik_tok **t,
                               struct ik_diag *d)
{
    const char *path = NULL;
    char *found = NULL;
    int rc = ik_node_has_input(j->ctx, "tokenizer")
                 ? ik_node_input_path(j->ctx, "tokenizer", &path, d)
                 : ik_tok_find_for_model(model, &found, d);
    if (rc == 0)
        rc = ik_tok_load(t, found ? found : path, d);
    free(found);
    return rc;
}

static int write_base_gguf(struct job *j, struct ik_diag *d)
{
    const char *model;
    struct ik_lm_model *m = NULL;
    struct ik_tok *t = NULL;
    int rc = ik_node_input_path(j->ctx, "model", &model, d);
    if (rc == 0)
        rc = check_base(j, d);
    if (rc == 0)
        rc = ik_lm_model_load(&m, model, d);
    if (rc == 0)
        rc = load_base_tokenizer(j, model, &t, d);
    if (rc == 0) {
        struct ik_lm_gguf_opts o = {j->base_outtype, j->info.chat_template, j->name};
        char *path = scratch_path(j, j->base_file);
        rc = ik_lm_model_write_gguf(m, t, &o, path, d);
        free(path);
    }
    ik_tok_free(t);
    ik_lm_model_free(m);
    return rc == 0 ? emit_file(j, "base", j->base_file, d) : rc;
}

static int write_modelfile(struct job *j, bool base, struct ik_diag *d)
{
    char *from = base ? ik_xasprintf("./%s", j->base_file) : ik_xstrdup(j->ollama_from);
    char *adapter = ik_xasprintf("./%s", j->adapter_file);
    struct ik_modelfile mf = {from, adapter, j->info.chat_template, NULL, 0};
    struct ik_buf text = IK_BUF_INIT;
    int rc = ik_modelfile_write(&text, &mf, d);
    if (rc == 0) {
        char *path = scratch_path(j, "Modelfile");
        rc = ik_write_atomic(ik_node_scratch_dir(j->ctx), path, text.data, text.len, 0644, d);
        free(path);
    }
    ik_buf_free(&text);
    free(from);
    free(adapter);
    return rc == 0 ? emit_file(j, "modelfile", "Modelfile", d) : rc;
}

/* The lora.adapter itself again, byte for byte (one object in the store). */
static int emit_peft(struct job *j, struct ik_diag *d)
{
    const char *path;
    char *data;
    size_t len;
    int rc = ik_node_input_path(j->ctx, "adapter", &path, d);
    if (rc == 0)
        rc = ik_read_file(path, &data, &len, d);
    if (rc != 0)
        return rc;
    rc = ik_node_output(j->ctx, "peft", data, len, d);
    free(data);
    if (rc == 0 && j->export_dir) {
        char *dir = ik_xasprintf("%s/%s-peft", j->export_dir, j->name);
        rc = ik_lora_save(j->a, dir, NULL, d);
        free(dir);
    }
    return rc;
}

static void kv_str(struct ik_mp_writer *w, const char *k, const char *v)
{
    ik_mp_pack_str(&w->pk, k);
    if (v)
        ik_mp_pack_str(&w->pk, v);
    else
        msgpack_pack_nil(&w->pk);
}

/* The report holds paths as the graph gives them (relative to its folder),
 * never the absolute folder: its bytes must not depend on where the project
 * lives. */
static int emit_report(struct job *j, bool base, struct ik_diag *d)
{
    const char *dir = *j->export_to ? j->export_to : ".";
    char *ollama = ik_xasprintf("ollama create %s -f %s/Modelfile", j->name, dir);
    char *llama = base ? ik_xasprintf("llama-cli -m %s/%s --lora %s/%s", dir, j->base_file, dir,
                                      j->adapter_file)
                       : NULL;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_artifact_begin(&w, "gguf.report", 1, 2);
    ik_mp_map_begin(&w, 4);
    kv_str(&w, "name", j->name);
    kv_str(&w, "architecture", ik_lm_gguf_arch(j->base_cfg.arch));
    kv_str(&w, "chat_template", ik_chat_template_name(j->info.chat_template));
    kv_str(&w, "export_to", *j->export_to ? j->export_to : NULL);
    ik_mp_map_end(&w);
    ik_mp_pack_str(&w.pk, "files");
    ik_mp_map_begin(&w, base ? 4 : 3);
    kv_str(&w, "adapter", j->adapter_file);
    if (base)
        kv_str(&w, "base", j->base_file);
    kv_str(&w, "modelfile", "Modelfile");
    char *peft = ik_xasprintf("%s-peft", j->name);
    kv_str(&w, "peft", peft);
    ik_mp_map_end(&w);
    ik_mp_pack_str(&w.pk, "commands");
    ik_mp_map_begin(&w, 2);
    kv_str(&w, "ollama_create", ollama);
    kv_str(&w, "llama_cli", llama);
    ik_mp_map_end(&w);
    ik_artifact_end(&w);
    int rc = ik_node_output(j->ctx, "report", w.sb.data, w.sb.size, d);
    printf("%s\n%s\n", ollama, llama ? llama : "(llama-cli needs a base GGUF: set base: true)");
    ik_mp_writer_free(&w);
    free(peft);
    free(ollama);
    free(llama);
    return rc;
}

static int export_job(struct job *j, struct ik_diag *d)
{
    bool base = ik_node_param_bool(j->ctx, "base");
    int rc;
    if ((rc = read_params(j, d)) || (rc = read_adapter(j, d)) || (rc = write_adapter_gguf(j, d)))
        return rc;
    if (base && (rc = write_base_gguf(j, d)) != 0)
        return rc;
    if ((rc = write_modelfile(j, base, d)) || (rc = emit_peft(j, d)))
        return rc;
    return emit_report(j, base, d);
}

static int export_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    int rc = export_job(&j, d);
    job_free(&j);
    return rc;
}

const struct ik_node_type ik_node_gguf_export = {
    .name = "gguf-export",
    .version = 1,
    .summary = "a LoRA adapter (and its base) as GGUF files for llama.cpp and Ollama, a Modelfile",
    .inputs = export_inputs,
    .outputs = export_outputs,
    .params = export_params,
    .outputs_when = export_when,
    .cpu = 1,
    .run = export_run,
};
