/* nodes/train/report.c - the train.report artifact (report.h). */
#include "base/mp.h"
#include "cache/artifact.h"
#include "nodes/train/loop.h"
#include "nodes/train/report.h"

static void kv_f(struct ik_mp_writer *w, const char *k, double v)
{
    ik_mp_pack_str(&w->pk, k);
    msgpack_pack_double(&w->pk, v);
}

static void kv_i(struct ik_mp_writer *w, const char *k, int64_t v)
{
    ik_mp_pack_str(&w->pk, k);
    msgpack_pack_int64(&w->pk, v);
}

static void pack_row(struct ik_mp_writer *w, const struct ik_train_row *r)
{
    ik_mp_map_begin(w, 8);
    ik_mp_pack_str(&w->pk, "type");
    ik_mp_pack_str(&w->pk, r->valid ? "valid" : "train");
    kv_i(w, "step", r->step);
    kv_f(w, "epoch", r->epoch);
    kv_f(w, "loss", r->loss);
    kv_f(w, "accuracy", r->accuracy);
    kv_f(w, "lr", r->lr);
    kv_f(w, "grad_norm", r->grad_norm);
    kv_f(w, "tokens_per_s", r->tokens_per_s);
    ik_mp_map_end(w);
}

static void pack_totals(struct ik_mp_writer *w, const struct ik_train_state *st,
                        const struct ik_train_totals *t)
{
    ik_mp_map_begin(w, 20);
    kv_i(w, "steps", st->step);
    kv_i(w, "samples", (int64_t)st->samples);
    kv_i(w, "input_samples", (int64_t)t->input_samples);
    kv_i(w, "kept", (int64_t)t->kept);
    kv_i(w, "truncated", (int64_t)t->truncated);
    kv_i(w, "dropped", (int64_t)t->dropped);
    kv_i(w, "valid_samples", (int64_t)t->valid_samples);
    kv_i(w, "tokens", (int64_t)st->tokens);
    kv_i(w, "target_tokens", (int64_t)st->targets);
    kv_i(w, "max_length", t->max_length);
    kv_f(w, "wall_s", st->seconds);
    kv_f(w, "tokens_per_s", st->seconds > 0 ? (double)st->tokens / st->seconds : 0);
    kv_f(w, "peak_rss_mib", (double)t->peak_rss / (1 << 20));
    kv_f(w, "memory_estimate_mib", (double)t->memory_estimate / (1 << 20));
    ik_mp_pack_str(&w->pk, "activation_checkpointing");
    if (t->activation_checkpointing)
        msgpack_pack_true(&w->pk);
    else
        msgpack_pack_false(&w->pk);
    ik_mp_pack_str(&w->pk, "device");
    ik_mp_pack_str(&w->pk, t->device);
    kv_i(w, "threads", t->threads);
    ik_mp_pack_str(&w->pk, "coverage");
    ik_mp_pack_str(&w->pk, t->coverage);
    kv_i(w, "covered_params", (int64_t)t->covered_params);
    kv_f(w, "covered_share", t->total_params ? (double)t->covered_params / (double)t->total_params : 0);
    ik_mp_map_end(w);
}

void ik_train_report_pack(struct ik_mp_writer *w, const struct ik_train_state *st,
                          const struct ik_train_totals *t)
{
    ik_artifact_begin(w, "train.report", 1, 2);
    ik_mp_map_begin(w, 3);
    ik_mp_pack_str(&w->pk, "device");
    ik_mp_pack_str(&w->pk, t->device);
    kv_i(w, "threads", t->threads);
    kv_i(w, "resumed_at", st->resumed_at);
    ik_mp_map_end(w);
    ik_mp_pack_str(&w->pk, "records");
    ik_mp_array_begin(w, st->n_rows);
    for (size_t i = 0; i < st->n_rows; i++)
        pack_row(w, &st->rows[i]);
    ik_mp_array_end(w);
    ik_mp_pack_str(&w->pk, "totals");
    pack_totals(w, st, t);
    ik_artifact_end(w);
}
