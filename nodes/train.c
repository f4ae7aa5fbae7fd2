/* nodes/train.c - the `train` node type: LoRA fine-tuning of a Llama-family
 * model on chat samples -> lora.adapter + train.report.
 *
 * A thin adapter over nodes/train/: params and inputs are read here, the
 * examples are built by dataset.c, the optimizer loop is loop.c, its state
 * is saved by checkpoint.c into the cache's checkpoints (kv) under this
 * node's key, so a killed or stopped run resumes where it was; the outputs
 * are packed by adapter_artifact.c and report.c. `device: cuda` loads the
 * CUDA module (kernels/cuda_module.h) and trains through lm/train_cuda.c;
 * `auto` (the default) does so when the module sees a device, else trains
 * on the CPU and says why. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/mp.h"
#include "base/xmalloc.h"
#include "cache/artifact.h"
#include "kernels/cuda/cuda_ops.h"
#include "kernels/cuda_module.h"
#include "cache/kv.h"
#include "engine/node.h"
#include "lm/chat_template.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/tokenizer.h"
#include "nodes/lm_input.h"
#include "lm/train.h"
#include "lm/train_cuda.h"
#include "query/preview.h"
#include "nodes/train/adapter_artifact.h"
#include "nodes/train/checkpoint.h"
#include "nodes/train/coverage.h"
#include "nodes/train/dataset.h"
#include "nodes/train/loop.h"
#include "base/sysmem.h"
#include "nodes/train/report.h"
#include "nodes/train/schedule.h"

static const struct ik_port_spec train_inputs[] = {
    {"samples", "*", false, "samples with messages: sft.samples (cot) or raft.samples (distract)"},
    {"model", "*", false, "a Hugging Face folder or a llama2.c .bin (a file: source)"},
    {"valid", "*", true, "samples for a validation loss (distract's test split works)"},
    {"tokenizer", "*", true, "tokenizer file (file: source); needed for a llama2.c .bin"},
    {NULL, NULL, false, NULL},
};

static const struct ik_port_spec train_outputs[] = {
    {"adapter", "lora.adapter", false, "the LoRA adapter (PEFT names), base and template recorded"},
    {"report", "train.report", false, "loss/accuracy rows, validation rows, totals"},
    {NULL, NULL, false, NULL},
};

static const struct ik_param_spec train_params[] = {
    {"rank", IK_PARAM_INT, "16", "LoRA rank r", IK_MIN(1)},
    {"alpha", IK_PARAM_FLOAT, "32", "LoRA alpha (scale alpha / r)", IK_MIN(0)},
    {"dropout", IK_PARAM_FLOAT, "0.05", "LoRA dropout on the adapted projections' input", IK_RANGE(0, 1)},
    {"targets", IK_PARAM_STRING, "q,k,v,o,gate,up,down", "adapted projections, or all", NULL},
    {"lr", IK_PARAM_FLOAT, "2e-4", "peak learning rate (AdamW)", IK_MIN(0)},
    {"scheduler", IK_PARAM_STRING, "cosine", "cosine, linear or constant (HF semantics)", NULL},
    {"warmup_ratio", IK_PARAM_FLOAT, "0.03", "share of the steps spent warming up", IK_RANGE(0, 1)},
    {"weight_decay", IK_PARAM_FLOAT, "0.01", "AdamW decoupled weight decay", IK_MIN(0)},
    {"max_grad_norm", IK_PARAM_FLOAT, "0.3", "gradient clipping norm (0: none)", IK_MIN(0)},
    {"batch_size", IK_PARAM_INT, "1", "sequences per micro-batch", IK_MIN(1)},
    {"grad_accum", IK_PARAM_INT, "8", "micro-batches per optimizer step", IK_MIN(1)},
    {"epochs", IK_PARAM_INT, "1", "passes over the samples (when max_steps is 0)", IK_MIN(1)},
    {"max_steps", IK_PARAM_INT, "0", "optimizer steps; 0: the epochs decide", IK_MIN(0)},
    {"max_length", IK_PARAM_INT, "4096", "longest sequence in tokens (capped at the model's)", IK_MIN(1)},
    {"seed", IK_PARAM_INT, "42", "adapter init, data order and dropout", NULL},
    {"shuffle", IK_PARAM_BOOL, "true", "shuffle the samples every epoch", NULL},
    {"loss_on", IK_PARAM_STRING, "assistant", "assistant (turns only) or all (the reference)", NULL},
    {"truncate", IK_PARAM_STRING, "documents", "too long: documents, end, drop or fail", NULL},
    {"chat_template", IK_PARAM_STRING, "auto", "auto, chatml, llama3, llama2 or plain", NULL},
    {"doc_label", IK_PARAM_STRING, "参考文書", "document label of the user turns (truncate: documents)", NULL},
    {"question_label", IK_PARAM_STRING, "質問", "question label of the user turns", NULL},
    {"activation_checkpointing", IK_PARAM_STRING, "auto", "auto, on or off", NULL},
    {"log_every", IK_PARAM_INT, "10", "optimizer steps per report row", IK_MIN(1)},
    {"eval_every", IK_PARAM_INT, "0", "steps per validation row (0: at the end)", IK_MIN(0)},
    {"checkpoint_every", IK_PARAM_INT, "50", "steps per checkpoint (0: only when stopped)", IK_MIN(0)},
    {"device", IK_PARAM_STRING, "auto", "auto (a GPU when there is one), cpu or cuda", NULL},
    {NULL, 0, NULL, NULL, NULL},
};

/* Everything one run holds; released by job_free. */
struct job {
    struct ik_node_ctx *ctx;
    const char *model_path;
    struct ik_lm_model *m;
    struct ik_tok *tok;
    struct ik_lora *a;
    struct ik_lm_train *tr;
    struct ik_train_dataset ds, valid;
    struct ik_train_hparams hp;
    struct ik_lora_config lc;
    struct ik_train_data_opts data;
    struct ik_train_state st;
    struct ik_train_totals totals;
    struct ik_lora_artifact_info info;
    struct ik_train_coverage cov;
    int ckpt_opts;
    const struct ik_cuda_ops *cuda; /* device: cuda (or auto that chose it), else NULL */
    bool auto_device;               /* device: auto */
    char device[160]; /* the report's: "cpu", "cuda (NAME)" or "cuda (NAME), cuDNN attention" */
    char unit[32];
};

static void job_free(struct job *j)
{
    ik_train_state_free(&j->st);
    ik_lm_train_free(j->tr);
    ik_lora_free(j->a);
    ik_train_dataset_free(&j->ds);
    ik_train_dataset_free(&j->valid);
    ik_tok_free(j->tok);
    ik_lm_model_free(j->m);
}

/* ---- params ---- */

static int positive(struct ik_node_ctx *ctx, const char *name, int min, int *out, struct ik_diag *d)
{
    int64_t v;
    int rc = ik_node_param_int_in(ctx, name, min, INT32_MAX, &v, d);
    *out = rc == 0 ? (int)v : 0;
    return rc;
}

static int unit_interval(struct ik_node_ctx *ctx, const char *name, double *out, struct ik_diag *d)
{
    *out = ik_node_param_float(ctx, name);
    if (!(*out >= 0 && *out < 1))
        return ik_diag_set(d, IK_EVALIDATE, "param %s is %g, expected a value in [0, 1)", name, *out);
    return 0;
}

static int read_hparams(struct job *j, struct ik_diag *d)
{
    struct ik_node_ctx *ctx = j->ctx;
    struct ik_train_hparams *hp = &j->hp;
    int max_steps = 0, rc;
    hp->lr = ik_node_param_float(ctx, "lr");
    hp->weight_decay = ik_node_param_float(ctx, "weight_decay");
    hp->max_grad_norm = ik_node_param_float(ctx, "max_grad_norm");
    hp->seed = (uint64_t)ik_node_param_int(ctx, "seed");
    hp->shuffle = ik_node_param_bool(ctx, "shuffle");
    if (!(hp->lr > 0) || !(hp->weight_decay >= 0) || !(hp->max_grad_norm >= 0))
        return ik_diag_set(d, IK_EVALIDATE, "params lr (%g) must be > 0, weight_decay (%g) and "
                           "max_grad_norm (%g) >= 0", hp->lr, hp->weight_decay, hp->max_grad_norm);
    if ((rc = unit_interval(ctx, "warmup_ratio", &hp->warmup_ratio, d)) ||
        (rc = ik_train_scheduler_by_name(ik_node_param_str(ctx, "scheduler"), &hp->scheduler, d)) ||
        (rc = positive(ctx, "batch_size", 1, &hp->batch_size, d)) ||
        (rc = positive(ctx, "grad_accum", 1, &hp->grad_accum, d)) ||
        (rc = positive(ctx, "epochs", 1, &hp->epochs, d)) ||
        (rc = positive(ctx, "max_steps", 0, &max_steps, d)) ||
        (rc = positive(ctx, "log_every", 1, &hp->log_every, d)) ||
        (rc = positive(ctx, "eval_every", 0, &hp->eval_every, d)) ||
        (rc = positive(ctx, "checkpoint_every", 0, &hp->checkpoint_every, d)))
        return rc;
    hp->max_steps = max_steps;
    return 0;
}

static int read_lora_config(struct job *j, struct ik_diag *d)
{
    struct ik_node_ctx *ctx = j->ctx;
    double dropout;
    int rc;
    if ((rc = positive(ctx, "rank", 1, &j->lc.r, d)) ||
        (rc = unit_interval(ctx, "dropout", &dropout, d)) ||
        (rc = ik_lora_parse_targets(ik_node_param_str(ctx, "targets"), &j->lc.targets, d)))
        return rc;
    j->lc.alpha = (float)ik_node_param_float(ctx, "alpha");
    j->lc.dropout = (float)dropout;
    if (!(j->lc.alpha > 0))
        return ik_diag_set(d, IK_EVALIDATE, "param alpha is %g, expected > 0", j->lc.alpha);
    j->hp.dropout = dropout > 0;
    return 0;
}

static int read_data_opts(struct job *j, struct ik_diag *d)
{
    struct ik_node_ctx *ctx = j->ctx;
    int rc;
    if ((rc = positive(ctx, "max_length", 2, &j->data.max_length, d)) ||
        (rc = ik_train_loss_on_by_name(ik_node_param_str(ctx, "loss_on"), &j->data.loss_on, d)) ||
        (rc = ik_train_truncate_by_name(ik_node_param_str(ctx, "truncate"), &j->data.truncate, d)))
        return rc;
    j->data.doc_label = ik_node_param_str(ctx, "doc_label");
    j->data.question_label = ik_node_param_str(ctx, "question_label");
    const char *tmpl = ik_node_param_str(ctx, "chat_template");
    if (strcmp(tmpl, "auto") == 0)
        return ik_chat_template_auto(j->model_path, &j->data.chat_template, d);
    return ik_chat_template_by_name(tmpl, &j->data.chat_template, d);
}

/* Why device: auto chose the CPU (printed once the choice is final). */
static void auto_chose_cpu(struct job *j, const char *why)
{
    j->cuda = NULL;
    snprintf(j->device, sizeof j->device, "cpu");
    printf("device auto: training on the CPU (%s)\n", why);
    fflush(stdout);
}

/* Takes device 0 of those the scheduler left visible, naming it in j->device,
 * and cuDNN's or the flash attention when IKADA_CUDA_ATTENTION asks for one:
 * the variable is not in the key, so the report says which attention made
 * the adapter (lm/train_cuda.c refuses any other value before the first
 * step). */
static int take_device(struct job *j, struct ik_diag *d)
{
    char name[128];
    if (j->cuda->set_device(0) != 0 || j->cuda->device_name(0, name, sizeof name) != 0)
        return ik_diag_set(d, IK_ECUDA, "CUDA device 0: %s", j->cuda->last_error());
    const char *att = getenv("IKADA_CUDA_ATTENTION");
    const char *which = att == NULL ? "" : strcmp(att, "cudnn") == 0 ? ", cuDNN attention"
                      : strcmp(att, "flash") == 0 ? ", flash attention" : "";
    snprintf(j->device, sizeof j->device, "cuda (%s)%s", name, which);
    return 0;
}

/* device: auto: the GPU when the CUDA module loads and sees a device (the
 * type asks the scheduler for one, which leaves none visible where there is
 * none), else the CPU, saying why; the model may still send it back to the
 * CPU (auto_fits_device). */
static int read_device_auto(struct job *j, struct ik_diag *d)
{
    j->auto_device = true;
    struct ik_diag why = IK_DIAG_INIT;
    if (ik_cuda_module_open(&j->cuda, &why) != 0) {
        auto_chose_cpu(j, ik_diag_message(&why));
        ik_diag_free(&why);
        return 0;
    }
    ik_diag_free(&why);
    if (j->cuda->device_count() == 0) {
        char text[600];
        snprintf(text, sizeof text, "no CUDA device: %s", j->cuda->last_error());
        auto_chose_cpu(j, text);
        return 0;
    }
    return take_device(j, d);
}

/* device: cpu runs here; cuda on the first CUDA device the scheduler left
 * visible, through the CUDA module; auto as read_device_auto. */
static int read_device(struct job *j, struct ik_diag *d)
{
    const char *dev = ik_node_param_str(j->ctx, "device");
    snprintf(j->device, sizeof j->device, "cpu");
    j->totals.device = j->device;
    if (strcmp(dev, "cpu") == 0)
        return 0;
    if (strcmp(dev, "auto") == 0)
        return read_device_auto(j, d);
    if (strcmp(dev, "cuda") != 0)
        return ik_diag_set(d, IK_EVALIDATE, "param device is '%s', expected auto, cpu or cuda", dev);
    int rc = ik_cuda_module_open(&j->cuda, d);
    if (rc) {
        char why[1400];
        snprintf(why, sizeof why, "%s", ik_diag_message(d));
        ik_diag_set(d, rc, "param device is cuda, but there is %s", why);
        ik_diag_hint(d, "use device: cpu or auto");
        return rc;
    }
    if (j->cuda->device_count() == 0) {
        ik_diag_set(d, IK_ECUDA, "param device is cuda, but no CUDA device is usable: %s",
                    j->cuda->last_error());
        ik_diag_hint(d, "use device: cpu or auto, or give the node a GPU (resources: {gpu: 1})");
        return IK_ECUDA;
    }
    return take_device(j, d);
}

/* device: auto with a device, once the model is known: a model the CUDA
 * trainer does not take goes to the CPU (device: cuda fails on it, saying
 * why), loaded again in full when it was loaded streamed for the device. */
static int auto_fits_device(struct job *j, struct ik_diag *d)
{
    char why[128];
    if (!j->auto_device || !j->cuda || !ik_lm_train_cuda_unsupported(&j->m->cfg, why, sizeof why))
        return 0;
    auto_chose_cpu(j, why);
    if (j->m->stream == NULL)
        return 0;
    ik_lm_model_free(j->m);
    j->m = NULL;
    return ik_lm_model_load(&j->m, j->model_path, d);
}

/* ---- inputs ---- */

static int load_tokenizer(struct job *j, struct ik_diag *d)
{
    return ik_node_load_tokenizer(j->ctx, "tokenizer", j->model_path, &j->tok,
                                  j->info.tokenizer_hash, d);
}

/* The examples of one samples input. */
static int load_examples(struct job *j, const char *port, struct ik_train_dataset *ds,
                         struct ik_diag *d)
{
    const msgpack_object *root;
    int rc = ik_node_input_object(j->ctx, port, &root, d);
    if (rc != 0)
        return rc;
    size_t klen = 0;
    const char *kind = ik_artifact_kind(root, &klen);
    bool sft = klen == 11 && memcmp(kind, "sft.samples", 11) == 0;
    bool raft = klen == 12 && memcmp(kind, "raft.samples", 12) == 0;
    if (!sft && !raft)
        return ik_diag_set(d, IK_EVALIDATE, "input %s: expected sft.samples (cot) or raft.samples "
                           "(distract), got %.*s", port, (int)klen, kind ? kind : "no kind");
    struct ik_train_data_opts o = j->data;
    o.use_expected_answer = strcmp(port, "valid") == 0;
    o.what = strcmp(port, "valid") == 0 ? "input valid" : "input samples";
    return ik_train_dataset_build(ds, root, j->tok, &o, d);
}

/* The base model. The CUDA trainer holds the weights in BF16 on the device
 * and reads them from a Hugging Face folder's files one tensor at a time
 * (streamed): the host then never holds the fp32 copy (32 GB for an 8B
 * model) the CPU trainer needs. */
static int load_model(struct job *j, struct ik_diag *d)
{
    int rc = ik_lm_model_load_opts(&j->m, j->model_path, j->cuda ? IK_LM_LOAD_STREAM : IK_LM_LOAD_ALL, d);
    if (rc == 0 && j->m->stream) {
        printf("base model streamed to the device: %.1f M parameters read as BF16 from its files, "
               "no fp32 copy on the host\n", (double)j->m->n_params / 1e6);
        fflush(stdout);
    }
    return rc;
}

static int load_inputs(struct job *j, struct ik_diag *d)
{
    struct ik_hash h;
    int rc;
    if ((rc = ik_node_input_path(j->ctx, "model", &j->model_path, d)) != 0 ||
        (rc = ik_node_input_hash(j->ctx, "model", &h, d)) != 0)
        return rc;
    ik_hash_to_hex(&h, j->info.base_hash);
    if ((rc = read_data_opts(j, d)) != 0 || (rc = load_model(j, d)) != 0 ||
        (rc = load_tokenizer(j, d)) != 0)
        return rc;
    j->info.chat_template = j->data.chat_template;
    j->data.vocab = j->m->cfg.V;
    if (j->data.max_length > j->m->cfg.max_seq)
        j->data.max_length = j->m->cfg.max_seq; /* positions beyond were never trained */
    if ((rc = load_examples(j, "samples", &j->ds, d)) != 0)
        return rc;
    if (j->ds.n == 0) {
        ik_diag_set(d, IK_EVALIDATE, "input samples: all %zu samples were dropped: longer than "
                    "max_length %d, or (truncate: end) without a target token within it",
                    j->ds.n_samples, j->data.max_length);
        ik_diag_hint(d, "raise max_length, or use truncate: documents, or loss_on: all");
        return IK_EVALIDATE;
    }
    if (ik_node_has_input(j->ctx, "valid"))
        rc = load_examples(j, "valid", &j->valid, d);
    return rc;
}

/* ---- memory ---- */

static int longest(const struct ik_train_dataset *ds, int n)
{
    for (size_t i = 0; i < ds->n; i++)
        n = ds->ex[i].n > n ? ds->ex[i].n : n;
    return n;
}

/* The activation_checkpointing param, checked: auto, on or off. */
static int checkpointing_mode(struct job *j, const char **mode, struct ik_diag *d)
{
    *mode = ik_node_param_str(j->ctx, "activation_checkpointing");
    if (strcmp(*mode, "auto") && strcmp(*mode, "on") && strcmp(*mode, "off"))
        return ik_diag_set(d, IK_EVALIDATE, "param activation_checkpointing is '%s', expected "
                           "auto, on or off", *mode);
    return 0;
}

/* Chooses activation checkpointing and refuses a run that cannot fit. */
static int plan_memory(struct job *j, int seq, struct ik_diag *d)
{
    const char *mode;
    int rc = checkpointing_mode(j, &mode, d);
    if (rc)
        return rc;
    uint64_t avail = ik_mem_available();
    uint64_t weights = (uint64_t)j->m->n_params * sizeof(float); /* already resident */
    uint64_t adapter = 4 * (uint64_t)j->a->n_params * sizeof(float); /* values, grads, m, v */
    uint64_t full = ik_lm_train_estimate_bytes(j->m, j->a, seq, 0);
    uint64_t ckpt = ik_lm_train_estimate_bytes(j->m, j->a, seq, IK_LM_TRAIN_CHECKPOINT);
    bool on = strcmp(mode, "on") == 0 ||
              (strcmp(mode, "auto") == 0 && avail > 0 && adapter + full > avail / 2);
    uint64_t acts = on ? ckpt : full;
    j->ckpt_opts = on ? IK_LM_TRAIN_CHECKPOINT : 0;
    j->totals.activation_checkpointing = on;
    j->totals.memory_estimate = weights + adapter + acts;
    if (avail == 0 || adapter + acts <= avail)
        return 0;
    char need[32], w[32], ad[32], ac[32], av[32];
    ik_preview_human_size(weights + adapter + acts, need);
    ik_preview_human_size(weights, w);
    ik_preview_human_size(adapter, ad);
    ik_preview_human_size(acts, ac);
    ik_preview_human_size(avail, av);
    ik_diag_set(d, -ENOMEM, "training would need %s (weights %s, adapter with gradients and AdamW "
                "moments %s, activations of %d tokens %s), but only %s more are available", need, w,
                ad, seq, ac, av);
    ik_diag_hint(d, on ? "lower max_length or rank" : "set activation_checkpointing: on, or lower "
                 "max_length or rank");
    return -ENOMEM;
}

/* Device memory the module keeps beside the trainer's arena: cuBLASLt's
 * workspace (32 MiB), cuBLAS's handle, the fused attention's plans and
 * workspace; the CUDA context itself is outside cudaMemGetInfo's free. */
#define DEVICE_RESERVE ((size_t)256 << 20)

/* The CUDA path's memory check: the device's free memory against the
 * weights (BF16), adapter and activations the trainer would allocate, with
 * activation checkpointing when asked for, or with auto when the full
 * activations would not fit. */
static int plan_device_memory(struct job *j, int seq, struct ik_diag *d)
{
    const char *mode;
    int rc = checkpointing_mode(j, &mode, d);
    if (rc)
        return rc;
    size_t free_b = 0, total_b = 0;
    if (j->cuda->mem_info(&free_b, &total_b) != 0)
        return ik_diag_set(d, IK_ECUDA, "%s", j->cuda->last_error());
    size_t usable = free_b > DEVICE_RESERVE ? free_b - DEVICE_RESERVE : 0;
    size_t full = ik_lm_train_cuda_estimate_bytes(j->m, j->a, seq, 0);
    bool on = strcmp(mode, "on") == 0 || (strcmp(mode, "auto") == 0 && full > usable);
    j->ckpt_opts = on ? IK_LM_TRAIN_CHECKPOINT : 0;
    size_t need = on ? ik_lm_train_cuda_estimate_bytes(j->m, j->a, seq, j->ckpt_opts) : full;
    j->totals.activation_checkpointing = on;
    j->totals.memory_estimate = need;
    if (need <= usable)
        return 0;
    char n[32], f[32], t[32];
    ik_preview_human_size(need + DEVICE_RESERVE, n);
    ik_preview_human_size(free_b, f);
    ik_preview_human_size(total_b, t);
    ik_diag_set(d, -ENOMEM, "training on %s would need %s of device memory for %d tokens%s, but "
                "only %s of its %s are free", j->device, n, seq,
                on ? " with activation checkpointing" : "", f, t);
    ik_diag_hint(d, on ? "lower max_length or rank, or use device: cpu"
                       : "set activation_checkpointing: on (or auto), or lower max_length or "
                         "rank, or use device: cpu");
    return -ENOMEM;
}

/* The trainer of the chosen device. */
static int new_trainer(struct job *j, int seq, struct ik_diag *d)
{
    int rc;
    if (j->cuda == NULL)
        return (rc = plan_memory(j, seq, d)) ? rc
                                             : ik_lm_train_new_opts(&j->tr, j->m, j->a, seq, j->ckpt_opts, d);
    if ((rc = plan_device_memory(j, seq, d)) != 0)
        return rc;
    return ik_lm_train_new_cuda(&j->tr, j->cuda, j->m, j->a, seq, j->ckpt_opts, d);
}

/* ---- checkpoints ---- */

static int save_checkpoint(void *arg, const struct ik_train_state *st, const struct ik_lora *a,
                           struct ik_diag *d)
{
    struct job *j = arg;
    int64_t per_epoch = ik_train_total_steps(&(struct ik_train_hparams){
        .batch_size = j->hp.batch_size, .grad_accum = j->hp.grad_accum, .epochs = 1}, j->ds.n);
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_train_checkpoint_pack(&w, st, a, st->step / per_epoch, st->step % per_epoch);
    int rc = ik_node_kv_put(j->ctx, IK_KV_CHECKPOINTS, ik_node_key(j->ctx), w.sb.data, w.sb.size, d);
    ik_mp_writer_free(&w);
    if (rc == 0)
        printf("checkpoint at step %lld\n", (long long)st->step);
    return rc;
}

/* Resumes from this key's checkpoint, if there is one. */
static int resume(struct job *j, struct ik_diag *d)
{
    char *data = NULL;
    size_t len = 0;
    int rc = ik_node_kv_get(j->ctx, IK_KV_CHECKPOINTS, ik_node_key(j->ctx), &data, &len, d);
    if (rc == -ENOENT)
        return 0;
    if (rc == 0)
        rc = ik_train_checkpoint_load(data, len, &j->st, j->a, d);
    free(data);
    if (rc != 0)
        return rc;
    printf("resumed at step %lld\n", (long long)j->st.step);
    fflush(stdout);
    snprintf(j->unit, sizeof j->unit, "steps (resumed at step %lld)", (long long)j->st.step);
    ik_node_counter(j->ctx, "resumed_at", (double)j->st.step);
    return 0;
}

static bool stop_requested(void *arg) { return ik_node_stop_requested(((struct job *)arg)->ctx); }

static void on_step(void *arg, const struct ik_train_state *st, int64_t total, double loss,
                    double tokens_per_s)
{
    struct job *j = arg;
    ik_node_progress(j->ctx, (uint64_t)st->step, (uint64_t)total, j->unit);
    ik_node_counter(j->ctx, "loss", loss);
    ik_node_counter(j->ctx, "tok/s", tokens_per_s);
}

/* ---- outputs ---- */

static int store_outputs(struct job *j, struct ik_diag *d)
{
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    j->info.steps = j->st.step;
    ik_lora_artifact_pack(&w, j->a, &j->m->cfg, &j->info);
    int rc = ik_node_output(j->ctx, "adapter", w.sb.data, w.sb.size, d);
    ik_mp_writer_clear(&w);
    if (rc == 0) {
        j->totals.peak_rss = ik_peak_rss();
        ik_train_report_pack(&w, &j->st, &j->totals);
        rc = ik_node_output(j->ctx, "report", w.sb.data, w.sb.size, d);
    }
    ik_mp_writer_free(&w);
    return rc;
}

static int threads(void)
{
    const char *env = getenv("IKADA_THREADS");
    long n = env ? strtol(env, NULL, 10) : 0;
    return (int)(n > 0 ? n : sysconf(_SC_NPROCESSORS_ONLN));
}

static void fill_totals(struct job *j)
{
    j->totals.input_samples = j->ds.n_samples;
    j->totals.kept = j->ds.n;
    j->totals.truncated = j->ds.n_truncated;
    j->totals.dropped = j->ds.n_dropped;
    j->totals.valid_samples = j->valid.n;
    j->totals.max_length = j->data.max_length;
    j->totals.threads = threads();
    ik_train_coverage_of(j->m, j->a, &j->cov);
    j->totals.coverage = j->cov.text;
    j->totals.covered_params = j->cov.covered;
    j->totals.total_params = j->cov.total;
    printf("LoRA on %s: %.1f%% of the model's %llu parameters\n", j->cov.text,
           100.0 * (double)j->cov.covered / (double)j->cov.total, (unsigned long long)j->cov.total);
}

/* The default targets name the Llama family's projections; on a model
 * without some of them (NemotronH has no gate) the default means those it
 * has. An explicit list is taken as written (ik_lora_new refuses a missing
 * target). */
static void narrow_default_targets(struct job *j)
{
    const char *def = NULL;
    for (const struct ik_param_spec *p = train_params; p->name; p++)
        def = strcmp(p->name, "targets") == 0 ? p->default_yaml : def;
    if (def && strcmp(ik_node_param_str(j->ctx, "targets"), def) == 0)
        j->lc.targets &= ik_lora_family_targets(&j->m->cfg);
}

/* IKADA_CUDA_PROFILE=1 on a GPU run: the module times each of its calls
 * (->profile_set; every call then waits for the device, so the run is
 * slower) and the node's log gets the totals when training ends: where a
 * step's time goes, without a profiler. */
static bool profile_asked(const struct job *j)
{
    const char *e = getenv("IKADA_CUDA_PROFILE");
    return j->cuda != NULL && e != NULL && strcmp(e, "1") == 0;
}

static int print_cuda_profile(struct job *j, struct ik_diag *d)
{
    static char report[16384];
    if (j->cuda->profile_set(0) != 0 || j->cuda->profile_report(report, sizeof report) != 0)
        return ik_diag_set(d, IK_ECUDA, "IKADA_CUDA_PROFILE: %s", j->cuda->last_error());
    printf("CUDA profile (IKADA_CUDA_PROFILE=1: each call waited for, so slower than a plain "
           "run), largest first:\n%s", report[0] ? report : "(empty: the module times nothing)\n");
    fflush(stdout);
    return 0;
}

static int train_job(struct job *j, struct ik_diag *d)
{
    int rc;
    if ((rc = read_device(j, d)) || (rc = read_hparams(j, d)) || (rc = read_lora_config(j, d)) ||
        (rc = load_inputs(j, d)) || (rc = auto_fits_device(j, d)))
        return rc;
    narrow_default_targets(j);
    if ((rc = ik_lora_new(&j->a, &j->m->cfg, &j->lc, j->hp.seed, d)) != 0)
        return rc;
    int seq = longest(&j->valid, longest(&j->ds, 2));
    if ((rc = new_trainer(j, seq, d)) != 0)
        return rc;
    fill_totals(j);
    ik_train_state_init(&j->st, j->a);
    snprintf(j->unit, sizeof j->unit, "steps");
    if ((rc = resume(j, d)) != 0)
        return rc;
    struct ik_train_hooks hooks = {j, save_checkpoint, stop_requested, on_step};
    bool profile = profile_asked(j);
    if (profile && j->cuda->profile_set(1) != 0)
        return ik_diag_set(d, IK_ECUDA, "IKADA_CUDA_PROFILE: %s", j->cuda->last_error());
    if ((rc = ik_train_run(j->tr, j->a, &j->ds, &j->valid, &j->hp, &j->st, &hooks, d)) != 0)
        return rc;
    if (profile && (rc = print_cuda_profile(j, d)) != 0)
        return rc;
    if ((rc = store_outputs(j, d)) != 0)
        return rc;
    /* The outputs are stored: the checkpoint has served (gc would take it). */
    return ik_node_kv_del(j->ctx, IK_KV_CHECKPOINTS, ik_node_key(j->ctx), d);
}

/* device: cpu holds no GPU (train nodes then run side by side on a GPU
 * machine), cuda needs one (Slurm is asked for it), auto takes one where
 * the run has one. */
static enum ik_gpu_need train_gpu_need(const msgpack_object *params)
{
    const msgpack_object *dev = ik_mp_get(params, "device");
    if (ik_mp_str_eq(dev, "cpu"))
        return IK_GPU_NONE;
    return ik_mp_str_eq(dev, "cuda") ? IK_GPU_NEEDED : IK_GPU_OPTIONAL;
}

static int train_run(struct ik_node_ctx *ctx, struct ik_diag *d)
{
    struct job j;
    memset(&j, 0, sizeof j);
    j.ctx = ctx;
    int rc = train_job(&j, d);
    job_free(&j);
    return rc;
}

const struct ik_node_type ik_node_train = {
    .name = "train",
    .version = 1,
    .summary = "LoRA fine-tuning on chat samples (CPU or CUDA), resumable",
    .inputs = train_inputs,
    .outputs = train_outputs,
    .params = train_params,
    .cpu = IK_NODE_CPU_ALL,
    /* One GPU where there is one (device: auto trains on it), none elsewhere. */
    .gpu = 1,
    .gpu_falls_back_to_cpu = true,
    .gpu_need = train_gpu_need,
    .stops_gracefully = true,
    .run = train_run,
};
