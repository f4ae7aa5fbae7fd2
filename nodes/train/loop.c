/* nodes/train/loop.c - the optimizer loop (loop.h). */
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/diag.h"
#include "base/error.h"
#include "base/prng.h"
#include "base/xmalloc.h"
#include "lm/lora.h"
#include "lm/train.h"
#include "nodes/train/dataset.h"
#include "nodes/train/loop.h"
#include "nodes/train/schedule.h"

#define ADAM_B1 0.9f
#define ADAM_B2 0.999f
#define ADAM_EPS 1e-8f

void ik_train_state_init(struct ik_train_state *st, const struct ik_lora *a)
{
    memset(st, 0, sizeof *st);
    st->m = ik_xcalloc(a->n_params ? a->n_params : 1, sizeof *st->m);
    st->v = ik_xcalloc(a->n_params ? a->n_params : 1, sizeof *st->v);
}

void ik_train_state_free(struct ik_train_state *st)
{
    free(st->m);
    free(st->v);
    free(st->rows);
    memset(st, 0, sizeof *st);
}

static int64_t steps_per_epoch(const struct ik_train_hparams *hp, size_t n)
{
    size_t per_step = (size_t)hp->batch_size * (size_t)hp->grad_accum;
    return (int64_t)((n + per_step - 1) / per_step);
}

int64_t ik_train_total_steps(const struct ik_train_hparams *hp, size_t n)
{
    return hp->max_steps > 0 ? hp->max_steps : (int64_t)hp->epochs * steps_per_epoch(hp, n);
}

/* The dropout seed of example i of optimizer step k. */
static uint64_t dropout_seed(uint64_t seed, int64_t k, size_t i)
{
    struct ik_prng r;
    ik_prng_seed(&r, seed ^ ((uint64_t)k * 0x9E3779B97F4A7C15u) ^ ((uint64_t)i * 0xBF58476D1CE4E5B9u));
    return ik_prng_next(&r);
}

/* The order of epoch e's examples. */
static void epoch_order(size_t *order, size_t n, const struct ik_train_hparams *hp, int64_t e)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    if (hp->shuffle) {
        struct ik_prng r;
        ik_prng_seed(&r, hp->seed + (uint64_t)e + 1);
        ik_prng_shuffle(&r, order, n);
    }
}

static void push_row(struct ik_train_state *st, const struct ik_train_row *row)
{
    st->rows = ik_xgrow(st->rows, &st->rows_cap, st->n_rows + 1, sizeof *st->rows);
    st->rows[st->n_rows++] = *row;
}

/* Loss and accuracy of the validation examples, no dropout, no gradients. */
static int validate(struct ik_lm_train *tr, const struct ik_train_dataset *valid,
                    struct ik_train_row *row, struct ik_diag *d)
{
    double nll = 0;
    uint64_t targets = 0, correct = 0;
    for (size_t i = 0; i < valid->n; i++) {
        const struct ik_train_example *ex = &valid->ex[i];
        double loss;
        int nt;
        int rc = ik_lm_train_step(tr, ex->ids, ex->mask, ex->n, 0, 0, 1.0f, &loss, &nt, d);
        if (rc != 0) {
            ik_diag_prefix(d, "input valid: record %zu: ", ex->index + 1);
            return rc;
        }
        nll += loss * nt;
        targets += (uint64_t)nt;
        correct += (uint64_t)ik_lm_train_n_correct(tr);
    }
    row->valid = true;
    row->loss = targets ? nll / (double)targets : 0;
    row->accuracy = targets ? (double)correct / (double)targets : 0;
    return 0;
}

/* Closes the log window into a training row. */
static void log_row(struct ik_train_state *st, double epoch, double lr, double grad_norm)
{
    struct ik_train_row row = {0};
    row.step = st->step;
    row.epoch = epoch;
    row.loss = st->win_targets ? st->win_nll / (double)st->win_targets : 0;
    row.accuracy = st->win_targets ? (double)st->win_correct / (double)st->win_targets : 0;
    row.lr = lr;
    row.grad_norm = grad_norm;
    row.tokens_per_s = st->win_seconds > 0 ? (double)st->win_tokens / st->win_seconds : 0;
    push_row(st, &row);
    st->win_nll = 0;
    st->win_targets = st->win_correct = st->win_tokens = 0;
    st->win_seconds = 0;
}

/* A checkpoint through the save hook, the moments first brought back from
 * where the trainer keeps them. */
static int save(struct ik_lm_train *tr, const struct ik_lora *a, struct ik_train_state *st,
                const struct ik_train_hooks *hooks, struct ik_diag *d)
{
    if (hooks == NULL || hooks->save == NULL)
        return 0;
    int rc = ik_lm_train_sync_moments(tr, st->m, st->v, d);
    return rc ? rc : hooks->save(hooks->arg, st, a, d);
}

struct step_sums {
    double nll;
    uint64_t targets, correct, tokens, samples;
};

/* Forward and backward of the step's examples order[lo..hi), gradients
 * accumulated where the trainer keeps them. 1 when stopped before the end
 * (gradients then incomplete), 0 when done, or an error. */
static int accumulate(struct ik_lm_train *tr, const struct ik_train_dataset *ds,
                      const size_t *order, size_t lo, size_t hi, int64_t k,
                      const struct ik_train_hparams *hp, const struct ik_train_hooks *hooks,
                      struct step_sums *s, struct ik_diag *d)
{
    uint64_t N = 0;
    for (size_t j = lo; j < hi; j++)
        N += (uint64_t)ds->ex[order[j]].n_target;
    int rc = ik_lm_train_zero_grad(tr, d);
    if (rc != 0)
        return rc;
    int flags = IK_LM_BACKWARD | (hp->dropout ? IK_LM_DROPOUT : 0);
    for (size_t j = lo; j < hi; j++) {
        if (hooks && hooks->stop && hooks->stop(hooks->arg))
            return 1;
        const struct ik_train_example *ex = &ds->ex[order[j]];
        double loss;
        int nt;
        float scale = (float)((double)ex->n_target / (double)N);
        rc = ik_lm_train_step(tr, ex->ids, ex->mask, ex->n, flags, dropout_seed(hp->seed, k, j - lo),
                              scale, &loss, &nt, d);
        if (rc != 0) {
            ik_diag_prefix(d, "input samples: record %zu: ", ex->index + 1);
            return rc;
        }
        s->nll += loss * nt;
        s->targets += (uint64_t)nt;
        s->correct += (uint64_t)ik_lm_train_n_correct(tr);
        s->tokens += (uint64_t)ex->n;
        s->samples++;
    }
    return 0;
}

int ik_train_run(struct ik_lm_train *tr, struct ik_lora *a, const struct ik_train_dataset *ds,
                 const struct ik_train_dataset *valid, const struct ik_train_hparams *hp,
                 struct ik_train_state *st, const struct ik_train_hooks *hooks, struct ik_diag *d)
{
    if (ds->n == 0)
        return ik_diag_set(d, IK_EVALIDATE, "no training samples");
    int64_t total = ik_train_total_steps(hp, ds->n), S = steps_per_epoch(hp, ds->n);
    size_t B = (size_t)hp->batch_size * (size_t)hp->grad_accum;
    size_t *order = ik_xmalloc(ds->n * sizeof *order);
    int64_t order_epoch = -1;
    st->resumed_at = st->step;
    int rc = 0;
    for (int64_t k = st->step; k < total && rc == 0; k++) {
        int64_t e = k / S, b = k % S;
        if (e != order_epoch)
            epoch_order(order, ds->n, hp, order_epoch = e);
        size_t lo = (size_t)b * B, hi = lo + B < ds->n ? lo + B : ds->n;
        struct step_sums s = {0};
        double t0 = ik_clock_monotonic_s();
        rc = accumulate(tr, ds, order, lo, hi, k, hp, hooks, &s, d);
        if (rc == 1) { /* stopped: the state is still that after step k - 1 */
            rc = save(tr, a, st, hooks, d);
            if (rc == 0)
                rc = ik_diag_set(d, IK_ECANCELED, "stopped at step %lld of %lld; a checkpoint "
                                 "was saved", (long long)k, (long long)total);
            break;
        }
        if (rc != 0)
            break;
        double lr = ik_train_lr_at(hp->scheduler, hp->lr, hp->warmup_ratio, k, total), norm;
        struct ik_lm_adamw opt = {lr, ADAM_B1, ADAM_B2, ADAM_EPS, (float)hp->weight_decay,
                                  hp->max_grad_norm, (int)(k + 1)};
        if ((rc = ik_lm_train_optimizer_step(tr, &opt, st->m, st->v, &norm, d)) != 0)
            break;
        double dt = ik_clock_monotonic_s() - t0;
        st->step = k + 1;
        st->samples += s.samples;
        st->tokens += s.tokens;
        st->targets += s.targets;
        st->seconds += dt;
        st->win_nll += s.nll;
        st->win_targets += s.targets;
        st->win_correct += s.correct;
        st->win_tokens += s.tokens;
        st->win_seconds += dt;
        double epoch = (double)st->step / (double)S;
        if (st->step % hp->log_every == 0 || st->step == total)
            log_row(st, epoch, lr, norm);
        if (valid && valid->n && ((hp->eval_every > 0 && st->step % hp->eval_every == 0) ||
                                  st->step == total)) {
            struct ik_train_row row = {0};
            if ((rc = validate(tr, valid, &row, d)) != 0)
                break;
            row.step = st->step;
            row.epoch = epoch;
            push_row(st, &row);
        }
        if (hooks && hooks->progress)
            hooks->progress(hooks->arg, st, total, s.targets ? s.nll / (double)s.targets : 0,
                            dt > 0 ? (double)s.tokens / dt : 0);
        if (hooks && hooks->save && hp->checkpoint_every > 0 &&
            st->step % hp->checkpoint_every == 0 && st->step < total)
            rc = save(tr, a, st, hooks, d);
    }
    free(order);
    return rc;
}
