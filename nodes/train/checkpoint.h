/* nodes/train/checkpoint.h - a training run's resumable state as bytes.
 *
 * A checkpoint is one msgpack map (format 1):
 *   {format: 1, step: int, samples, tokens, targets: int, seconds: float,
 *    win: [nll: float, targets, correct, tokens: int, seconds: float],
 *    cursor: {epoch: int, batch: int} (where step `step` starts: informative,
 *            the loop derives it from step, loop.h),
 *    rows: [[valid: bool, step: int, epoch, loss, accuracy, lr, grad_norm,
 *            tokens_per_s: float]],
 *    n_params: int, params: bin, m: bin, v: bin (n_params little-endian
 *            float32 each: the adapter's A/B values, then AdamW's moments)}
 * The node stores it under its key in the checkpoints namespace
 * (IK_KV_CHECKPOINTS, cache/kv.h), written atomically, and removes it once
 * its outputs are stored. Decoding trusts nothing: every field is checked
 * against the adapter it is loaded into. */
#ifndef IK_NODES_TRAIN_CHECKPOINT_H
#define IK_NODES_TRAIN_CHECKPOINT_H

#include <stddef.h>

struct ik_diag;
struct ik_lora;
struct ik_mp_writer;
struct ik_train_state;

/* Packs st and a's values; epoch and batch are the cursor of step st->step. */
void ik_train_checkpoint_pack(struct ik_mp_writer *w, const struct ik_train_state *st,
                              const struct ik_lora *a, long long epoch, long long batch);

/* Restores st (freshly ik_train_state_init'ed for a) and a's values from len
 * bytes. IK_ECORRUPT naming the field when the bytes are not a checkpoint
 * for this adapter (its shape changed: that is another key, so this means
 * damage). */
int ik_train_checkpoint_load(const void *data, size_t len, struct ik_train_state *st,
                             struct ik_lora *a, struct ik_diag *d);

#endif
