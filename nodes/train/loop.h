/* nodes/train/loop.h - the optimizer loop of the train node: batches of
 * examples, gradient accumulation, clipping, AdamW, the schedule, log and
 * validation rows, checkpoints and stopping. Pure: the node (nodes/train.c)
 * gives it a trainer, an adapter, the examples and hooks; nothing here knows
 * the cache or the engine.
 *
 * Order (fixed: it decides every bit of the result, docs/determinism.md):
 *   - an epoch has S = ceil(n / (batch_size * grad_accum)) optimizer steps;
 *     the run has max_steps, or epochs * S when max_steps is 0;
 *   - optimizer step k is batch k mod S of epoch k / S: the examples at
 *     positions [b*B, min(n, (b+1)*B)) (B = batch_size * grad_accum) of that
 *     epoch's order, which is 0..n-1, shuffled (base/prng.h ik_prng_shuffle)
 *     from the PRNG seeded by seed + epoch + 1 when shuffle is on;
 *   - each example i of the step runs forward and backward with gradient
 *     scale n_target(i) / N, N the target tokens of the whole step, so the
 *     update is that of the mean loss over the step's target tokens whatever
 *     the split into batch_size and grad_accum (on the CPU one sequence runs
 *     at a time: batch 8 x accumulation 1 and 1 x 8 are the same computation);
 *     dropout of example i of step k is drawn from seed ^ mix(k, i);
 *   - the gradients are clipped to max_grad_norm (0: not clipped), then
 *     AdamW (betas 0.9, 0.999, eps 1e-8, decoupled weight decay on every A
 *     and B) steps with the schedule's rate (schedule.h).
 * So the state after step k is a function of the state after step k-1 and k
 * alone: a checkpoint (step, adapter, moments) resumes bit-identically. */
#ifndef IK_NODES_TRAIN_LOOP_H
#define IK_NODES_TRAIN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ik_diag;
struct ik_lm_train;
struct ik_lora;
struct ik_train_dataset;

struct ik_train_hparams {
    double lr;
    int scheduler;        /* enum ik_train_scheduler */
    double warmup_ratio;
    double weight_decay;
    double max_grad_norm; /* 0: no clipping */
    int batch_size, grad_accum, epochs;
    int64_t max_steps;    /* 0: epochs decide */
    uint64_t seed;
    bool shuffle;
    bool dropout;         /* apply the adapter's dropout (training mode) */
    int log_every;        /* optimizer steps per log row (and the last step) */
    int eval_every;       /* steps per validation row; 0: only after the last step */
    int checkpoint_every; /* steps per checkpoint; 0: only when stopped */
};

/* One row of the report: a training window or a validation pass. */
struct ik_train_row {
    bool valid;           /* a validation row */
    int64_t step;         /* optimizer steps done when it was taken */
    double epoch;         /* fractional: step / S */
    double loss;          /* mean over the window's (or the set's) target tokens */
    double accuracy;      /* share of those tokens whose argmax is the label */
    double lr, grad_norm; /* of the window's last step (training rows) */
    double tokens_per_s;  /* over the window (training rows); 0 for validation */
};

/* Everything that survives a stop besides the adapter's own values. */
struct ik_train_state {
    int64_t step;        /* optimizer steps done */
    float *m, *v;        /* AdamW moments, (a->n_params) each, owned */
    struct ik_train_row *rows;
    size_t n_rows, rows_cap;
    uint64_t samples, tokens, targets; /* trained so far (sequences, all tokens, target tokens) */
    double seconds;      /* wall time spent in steps, over all attempts */
    /* the open log window (so a resumed run logs the same rows) */
    double win_nll;
    uint64_t win_targets, win_correct, win_tokens;
    double win_seconds;
    int64_t resumed_at;  /* the step this attempt started from (0: a fresh run) */
};

struct ik_train_hooks {
    void *arg;
    /* Stores the state and the adapter's values durably (a checkpoint). */
    int (*save)(void *arg, const struct ik_train_state *st, const struct ik_lora *a,
                struct ik_diag *d);
    /* Polled before every sequence: true ends the run with a checkpoint. */
    bool (*stop)(void *arg);
    /* After every optimizer step. */
    void (*progress)(void *arg, const struct ik_train_state *st, int64_t total, double loss,
                     double tokens_per_s);
};

/* A fresh state with zero moments for adapter a. */
void ik_train_state_init(struct ik_train_state *st, const struct ik_lora *a);
void ik_train_state_free(struct ik_train_state *st);

/* Optimizer steps of a run over n examples. */
int64_t ik_train_total_steps(const struct ik_train_hparams *hp, size_t n);

/* Trains a (whose values and st must be at st->step, e.g. fresh or from a
 * checkpoint) to the last step. valid (NULL: none) gets validation rows.
 * Returns 0; IK_ECANCELED after saving a checkpoint when stop said so; or the
 * trainer's / save's error. tr must have been made for a and for sequences as
 * long as the longest example. */
int ik_train_run(struct ik_lm_train *tr, struct ik_lora *a, const struct ik_train_dataset *ds,
                 const struct ik_train_dataset *valid, const struct ik_train_hparams *hp,
                 struct ik_train_state *st, const struct ik_train_hooks *hooks, struct ik_diag *d);

#endif
