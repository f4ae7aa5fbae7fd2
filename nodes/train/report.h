/* nodes/train/report.h - the `train.report` artifact.
 *
 * Layout (cache/artifact.h envelope, schema 1), rows as records so that
 * `ikada cache query` and `cache export --format jsonl` work on them:
 *   {kind: "train.report", schema: 1,
 *    meta: {device: str, threads: int, resumed_at: int},
 *    records: [{type: "train"|"valid", step, epoch, loss, accuracy,
 *               lr, grad_norm, tokens_per_s}]  (training rows: every
 *               log_every steps and the last; validation rows: lr,
 *               grad_norm and tokens_per_s 0),
 *    totals: {steps, samples (sequences trained, epochs counted),
 *             input_samples, kept, truncated, dropped, valid_samples,
 *             tokens, target_tokens, max_length, wall_s, tokens_per_s,
 *             peak_rss_mib, memory_estimate_mib, activation_checkpointing,
 *             device, threads, coverage (str: adapted layers per kind of
 *             projection, nodes/train/coverage.h), covered_params (base
 *             weights inside adapted projections), covered_share (of all
 *             base parameters)}}
 * Timings (tokens_per_s, wall_s, peak_rss_mib) are measurements; every
 * other field is a function of the inputs and params. */
#ifndef IK_NODES_TRAIN_REPORT_H
#define IK_NODES_TRAIN_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_mp_writer;
struct ik_train_state;

struct ik_train_totals {
    size_t input_samples, kept, truncated, dropped, valid_samples;
    int max_length;
    uint64_t peak_rss, memory_estimate; /* bytes */
    bool activation_checkpointing;
    const char *device;
    int threads;
    const char *coverage;
    uint64_t covered_params, total_params;
};

void ik_train_report_pack(struct ik_mp_writer *w, const struct ik_train_state *st,
                          const struct ik_train_totals *t);

#endif
