/* nodes/train/schedule.h - the learning-rate schedules of the train node, as
 * Hugging Face transformers' get_scheduler defines them, so a run here and a
 * TRL run with the same params step with the same learning rates.
 *
 * With W = ceil(warmup_ratio * total) warm-up steps, optimizer step k
 * (0-based; step k uses the rate after k scheduler steps, as HF's Trainer
 * does, so the first step of a warm-up has rate 0) gets lr * f(k):
 *   k < W:     f = k / W
 *   cosine:    f = 0.5 * (1 + cos(pi * (k - W) / max(1, total - W)))
 *   linear:    f = max(0, (total - k) / max(1, total - W))
 *   constant:  f = 1 (HF's constant_with_warmup; without warm-up, constant)
 * Nothing here can fail but the name lookup. */
#ifndef IK_NODES_TRAIN_SCHEDULE_H
#define IK_NODES_TRAIN_SCHEDULE_H

#include <stdint.h>

struct ik_diag;

enum ik_train_scheduler { IK_SCHED_COSINE, IK_SCHED_LINEAR, IK_SCHED_CONSTANT };

/* "cosine", "linear" or "constant"; IK_EVALIDATE listing them otherwise. */
int ik_train_scheduler_by_name(const char *name, int *out, struct ik_diag *d);

/* The warm-up steps W of a run of `total` optimizer steps. */
int64_t ik_train_warmup_steps(double warmup_ratio, int64_t total);

/* The learning rate of optimizer step k (0-based) of `total`. */
double ik_train_lr_at(int scheduler, double lr, double warmup_ratio, int64_t k, int64_t total);

#endif
