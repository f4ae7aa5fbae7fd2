/* tests/train/test_loop.c - the train node's optimizer loop (nodes/train/
 * loop.h) and schedules: accumulation normalised by the target tokens of the
 * whole step, batch x accumulation splits that agree bit for bit, a stop and
 * resume through checkpoint bytes that agrees bit for bit with a run without
 * one, clipping, the schedules' shape, validation rows, and descent. Models
 * are small random Hugging Face folders (tests/lm/lm_test.h). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "base/mp.h"
#include "base/prng.h"
#include "base/xmalloc.h"
#include "lm/lora.h"
#include "lm/model.h"
#include "lm/safetensors.h"
#include "lm/train.h"
#include "nodes/train/checkpoint.h"
#include "nodes/train/dataset.h"
#include "nodes/train/loop.h"
#include "nodes/train/schedule.h"
#include "tests/lm/lm_test.h"

enum { N_EX = 8, MAX_LEN = 24 };

struct fixture {
    struct ik_lm_model *m;
    struct ik_train_dataset ds;
};

/* A random model of arch (Llama, or NemotronH with every mixer) and N_EX
 * examples of different lengths and target counts. */
static void setup_arch(struct fixture *f, int arch)
{
    char *dir = tc_tmpdir();
    if (arch == IK_LM_NEMOTRON_H) {
        struct ik_lm_config c = lmt_nemotron_cfg("M-M*-M", 16, 32, 40);
        lmt_write_random_nemotron(dir, &c, IK_ST_F32, 11, 0.4f);
    } else {
        struct ik_lm_config c = lmt_cfg(arch, 16, 32, 2, 4, 40);
        lmt_write_random_model(dir, &c, NULL, IK_ST_F32, 11, 0.4f);
    }
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_model_load(&f->m, dir, &d), 0, "%s", ik_diag_message(&d));
    free(dir);
    memset(&f->ds, 0, sizeof f->ds);
    f->ds.ex = ik_xcalloc(N_EX, sizeof *f->ds.ex);
    f->ds.n = f->ds.n_samples = N_EX;
    struct ik_prng r;
    ik_prng_seed(&r, 3);
    for (int i = 0; i < N_EX; i++) {
        struct ik_train_example *ex = &f->ds.ex[i];
        ex->n = 8 + 2 * i;
        ex->ids = ik_xmalloc((size_t)ex->n * sizeof *ex->ids);
        ex->mask = ik_xcalloc((size_t)ex->n, 1);
        ex->index = (size_t)i;
        for (int t = 0; t < ex->n; t++) {
            /* a learnable pattern: mostly t mod 7, some noise */
            ex->ids[t] = ik_prng_below(&r, 5) ? (t * 3 + i) % 7 : (int)ik_prng_below(&r, 40);
            ex->mask[t] = t >= ex->n / (2 + i % 3); /* targets: a tail of varying length */
            ex->n_target += ex->mask[t];
        }
    }
}

static void setup(struct fixture *f) { setup_arch(f, IK_LM_LLAMA); }

static void teardown(struct fixture *f)
{
    f->ds.n = N_EX; /* every example setup made, whatever a test narrowed the set to */
    ik_train_dataset_free(&f->ds);
    ik_lm_model_free(f->m);
}

static struct ik_train_hparams hparams(void)
{
    struct ik_train_hparams hp = {0};
    hp.lr = 1e-2;
    hp.scheduler = IK_SCHED_COSINE;
    hp.warmup_ratio = 0.1;
    hp.weight_decay = 0.01;
    hp.max_grad_norm = 1.0;
    hp.batch_size = 1;
    hp.grad_accum = 4;
    hp.epochs = 3;
    hp.seed = 7;
    hp.shuffle = true;
    hp.dropout = true;
    hp.log_every = 2;
    return hp;
}

static struct ik_lora *new_adapter(const struct ik_lm_model *m)
{
    struct ik_lora_config lc = {4, 8.0f, 0.1f, (1u << IK_LORA_NT) - 1};
    struct ik_lora *a;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lora_new(&a, &m->cfg, &lc, 5, &d), 0);
    return a;
}

/* Trains a fresh adapter with hp and hooks; returns it (and its state). */
static struct ik_lora *train(const struct fixture *f, const struct ik_train_hparams *hp,
                             const struct ik_train_hooks *hooks, struct ik_train_state *st,
                             int expect_rc)
{
    struct ik_lora *a = new_adapter(f->m);
    struct ik_lm_train *tr;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_train_new(&tr, f->m, a, MAX_LEN, &d), 0);
    ik_train_state_init(st, a);
    cr_assert_eq(ik_train_run(tr, a, &f->ds, NULL, hp, st, hooks, &d), expect_rc, "%s",
                 ik_diag_message(&d));
    ik_diag_free(&d);
    ik_lm_train_free(tr);
    return a;
}

static bool same_values(const struct ik_lora *x, const struct ik_lora *y)
{
    return x->n_params == y->n_params &&
           memcmp(x->params, y->params, x->n_params * sizeof(float)) == 0;
}

Test(train_loop, batch_times_accumulation_splits_agree)
{
    struct fixture f;
    setup(&f);
    struct ik_train_hparams hp = hparams();
    hp.grad_accum = 8, hp.batch_size = 1;
    struct ik_train_state s1, s2, s3;
    struct ik_lora *a1 = train(&f, &hp, NULL, &s1, 0);
    hp.grad_accum = 1, hp.batch_size = 8;
    struct ik_lora *a2 = train(&f, &hp, NULL, &s2, 0);
    hp.grad_accum = 2, hp.batch_size = 4;
    struct ik_lora *a3 = train(&f, &hp, NULL, &s3, 0);
    cr_assert_eq(s1.step, 3);
    cr_assert(same_values(a1, a2) && same_values(a1, a3));
    cr_assert_eq(s1.n_rows, s2.n_rows);
    for (size_t i = 0; i < s1.n_rows; i++)
        cr_assert_eq(s1.rows[i].loss, s2.rows[i].loss);
    ik_lora_free(a1), ik_lora_free(a2), ik_lora_free(a3);
    ik_train_state_free(&s1), ik_train_state_free(&s2), ik_train_state_free(&s3);
    teardown(&f);
}

/* One step over two examples: its gradient is the token-weighted mean of the
 * examples' own mean-loss gradients (not their plain mean, which would give a
 * short example's tokens more weight: the bug of transformers #34191). */
Test(train_loop, accumulation_normalised_by_target_tokens)
{
    struct fixture f;
    setup(&f);
    struct ik_train_hparams hp = hparams();
    hp.batch_size = 1, hp.grad_accum = 2, hp.max_steps = 1, hp.shuffle = false;
    hp.dropout = false, hp.max_grad_norm = 0;
    f.ds.n = 2; /* examples 0 and 1 only */
    struct ik_train_state st;
    struct ik_lora *a = new_adapter(f.m);
    struct ik_prng r;
    ik_prng_seed(&r, 9);
    for (size_t i = 0; i < a->n_params; i++) /* B != 0: every path carries gradient */
        a->params[i] = (float)(ik_prng_double(&r) - 0.5) * 0.2f;
    struct ik_lm_train *tr;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_train_new(&tr, f.m, a, MAX_LEN, &d), 0);
    /* each example's mean-loss gradient at the starting values */
    float *g[2];
    int nt[2];
    for (int e = 0; e < 2; e++) {
        ik_lora_zero_grad(a);
        double loss;
        const struct ik_train_example *ex = &f.ds.ex[e];
        cr_assert_eq(ik_lm_train_step(tr, ex->ids, ex->mask, ex->n, IK_LM_BACKWARD, 0, 1.0f, &loss,
                                      &nt[e], &d), 0);
        g[e] = ik_xmalloc(a->n_params * sizeof(float));
        memcpy(g[e], a->grads, a->n_params * sizeof(float));
    }
    cr_assert_neq(nt[0], nt[1]);
    ik_train_state_init(&st, a);
    cr_assert_eq(ik_train_run(tr, a, &f.ds, NULL, &hp, &st, NULL, &d), 0, "%s", ik_diag_message(&d));
    double w0 = (double)nt[0] / (nt[0] + nt[1]), w1 = (double)nt[1] / (nt[0] + nt[1]);
    double err = 0, scale = 0;
    for (size_t i = 0; i < a->n_params; i++) {
        double want = w0 * g[0][i] + w1 * g[1][i];
        err = fmax(err, fabs(a->grads[i] - want));
        scale = fmax(scale, fabs(want));
    }
    cr_assert_gt(scale, 1e-4);
    cr_assert_lt(err, 1e-5 * scale + 1e-7, "max error %g of %g", err, scale);
    /* ... and not the plain mean */
    double plain = 0;
    for (size_t i = 0; i < a->n_params; i++)
        plain = fmax(plain, fabs(a->grads[i] - 0.5 * (g[0][i] + g[1][i])));
    cr_assert_gt(plain, 100 * err + 1e-6);
    free(g[0]), free(g[1]);
    ik_lm_train_free(tr);
    ik_lora_free(a);
    ik_train_state_free(&st);
    teardown(&f);
}

/* Hooks of the resume test: stop before sequence number stop_at, keep the
 * checkpoint bytes. */
struct saver {
    int calls, stop_at;
    char *bytes;
    size_t len;
};

static int save_bytes(void *arg, const struct ik_train_state *st, const struct ik_lora *a,
                      struct ik_diag *d)
{
    (void)d;
    struct saver *s = arg;
    struct ik_mp_writer w;
    ik_mp_writer_init(&w);
    ik_train_checkpoint_pack(&w, st, a, 0, 0);
    free(s->bytes);
    s->bytes = ik_mp_writer_steal(&w, &s->len);
    return 0;
}

static bool stop_at(void *arg)
{
    struct saver *s = arg;
    return s->stop_at >= 0 && ++s->calls > s->stop_at;
}

static void stop_and_resume(int arch)
{
    struct fixture f;
    setup_arch(&f, arch);
    struct ik_train_hparams hp = hparams();
    hp.checkpoint_every = 2;
    struct ik_train_state ref_st;
    struct ik_lora *ref = train(&f, &hp, NULL, &ref_st, 0);
    for (int stop = 3; stop < 20; stop += 7) { /* mid-step, at different steps */
        struct saver s = {0, stop, NULL, 0};
        struct ik_train_hooks hooks = {&s, save_bytes, stop_at, NULL};
        struct ik_train_state st;
        struct ik_lora *a = train(&f, &hp, &hooks, &st, IK_ECANCELED);
        cr_assert_lt(st.step, ref_st.step);
        ik_train_state_free(&st);
        ik_lora_free(a);
        /* resume into fresh memory, as a new process would */
        a = new_adapter(f.m);
        memset(a->params, 0, a->n_params * sizeof(float));
        ik_train_state_init(&st, a);
        struct ik_diag d = IK_DIAG_INIT;
        cr_assert_eq(ik_train_checkpoint_load(s.bytes, s.len, &st, a, &d), 0, "%s",
                     ik_diag_message(&d));
        cr_assert_eq(st.step, stop / 4, "stopped before sequence %d of 4-sequence steps", stop);
        struct ik_lm_train *tr;
        cr_assert_eq(ik_lm_train_new(&tr, f.m, a, MAX_LEN, &d), 0);
        s.stop_at = -1;
        cr_assert_eq(ik_train_run(tr, a, &f.ds, NULL, &hp, &st, &hooks, &d), 0);
        cr_assert_eq(st.resumed_at, stop / 4);
        cr_assert(same_values(a, ref), "resumed from sequence %d", stop);
        cr_assert_eq(st.n_rows, ref_st.n_rows);
        for (size_t i = 0; i < st.n_rows; i++)
            cr_assert(st.rows[i].loss == ref_st.rows[i].loss &&
                      st.rows[i].accuracy == ref_st.rows[i].accuracy, "row %zu", i);
        cr_assert_eq(st.tokens, ref_st.tokens);
        ik_lm_train_free(tr);
        ik_train_state_free(&st);
        ik_lora_free(a);
        free(s.bytes);
    }
    /* damaged bytes are refused */
    struct ik_train_state st;
    ik_train_state_init(&st, ref);
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_train_checkpoint_load("\x81\xa1x\x01", 4, &st, ref, &d), IK_ECORRUPT);
    ik_diag_free(&d);
    ik_train_state_free(&st);
    ik_lora_free(ref);
    ik_train_state_free(&ref_st);
    teardown(&f);
}

Test(train_loop, stop_and_resume_is_bit_identical) { stop_and_resume(IK_LM_LLAMA); }

/* NemotronH: the Mamba-2 backward and the hybrid trainer keep the loop's
 * determinism (every target adapted, in_proj and out_proj included). */
Test(train_loop, nemotron_h_stop_and_resume_is_bit_identical) { stop_and_resume(IK_LM_NEMOTRON_H); }

Test(train_loop, clipping_bounds_the_gradient)
{
    struct fixture f;
    setup(&f);
    struct ik_train_hparams hp = hparams();
    hp.max_steps = 2, hp.max_grad_norm = 1e-3, hp.log_every = 1;
    struct ik_train_state st;
    struct ik_lora *a = train(&f, &hp, NULL, &st, 0);
    double sq = 0;
    for (size_t i = 0; i < a->n_params; i++)
        sq += (double)a->grads[i] * a->grads[i];
    cr_assert_lt(fabs(sqrt(sq) - 1e-3), 1e-5, "clipped norm %g", sqrt(sq));
    cr_assert_gt(st.rows[1].grad_norm, 1e-3, "the row keeps the norm before clipping");
    ik_lora_free(a);
    ik_train_state_free(&st);
    teardown(&f);
}

Test(train_loop, schedules_have_the_hf_shape)
{
    /* 100 steps, 10 of warm-up: step 0 has rate 0, step 5 half, 10 the peak */
    for (int s = IK_SCHED_COSINE; s <= IK_SCHED_CONSTANT; s++) {
        cr_assert_eq(ik_train_lr_at(s, 1.0, 0.1, 0, 100), 0.0);
        cr_assert_float_eq(ik_train_lr_at(s, 1.0, 0.1, 5, 100), 0.5, 1e-12);
        cr_assert_float_eq(ik_train_lr_at(s, 1.0, 0.1, 10, 100), 1.0, 1e-12);
    }
    cr_assert_float_eq(ik_train_lr_at(IK_SCHED_COSINE, 1.0, 0.1, 55, 100), 0.5, 1e-12);
    cr_assert_float_eq(ik_train_lr_at(IK_SCHED_COSINE, 1.0, 0.1, 99, 100),
                       0.5 * (1 + cos(M_PI * 89.0 / 90.0)), 1e-12);
    cr_assert_float_eq(ik_train_lr_at(IK_SCHED_LINEAR, 1.0, 0.1, 55, 100), 0.5, 1e-12);
    cr_assert_float_eq(ik_train_lr_at(IK_SCHED_LINEAR, 1.0, 0.1, 99, 100), 1.0 / 90, 1e-12);
    cr_assert_eq(ik_train_lr_at(IK_SCHED_CONSTANT, 2e-4, 0.1, 99, 100), 2e-4);
    cr_assert_eq(ik_train_warmup_steps(0.03, 37), 2, "ceil, as HF");
    cr_assert_eq(ik_train_lr_at(IK_SCHED_LINEAR, 1.0, 0.0, 0, 4), 1.0, "no warm-up");
    int k;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_train_scheduler_by_name("cosine_with_restarts", &k, &d), IK_EVALIDATE);
    cr_assert(strstr(ik_diag_message(&d), "expected cosine, linear or constant"));
    ik_diag_free(&d);
}

Test(train_loop, rows_validation_and_descent)
{
    struct fixture f;
    setup(&f);
    struct ik_train_hparams hp = hparams();
    hp.epochs = 12, hp.log_every = 3, hp.eval_every = 4, hp.lr = 3e-2, hp.warmup_ratio = 0;
    hp.scheduler = IK_SCHED_CONSTANT;
    struct ik_train_dataset valid = f.ds;
    valid.n = 3;
    struct ik_lora *a = new_adapter(f.m);
    struct ik_lm_train *tr;
    struct ik_diag d = IK_DIAG_INIT;
    cr_assert_eq(ik_lm_train_new(&tr, f.m, a, MAX_LEN, &d), 0);
    struct ik_train_state st;
    ik_train_state_init(&st, a);
    cr_assert_eq(ik_train_run(tr, a, &f.ds, &valid, &hp, &st, NULL, &d), 0, "%s",
                 ik_diag_message(&d));
    cr_assert_eq(st.step, 24);
    size_t train_rows = 0, valid_rows = 0;
    for (size_t i = 0; i < st.n_rows; i++) {
        const struct ik_train_row *r = &st.rows[i];
        if (r->valid) {
            cr_assert(r->step % 4 == 0 || r->step == 24);
            valid_rows++;
        } else {
            cr_assert(r->step % 3 == 0 || r->step == 24);
            cr_assert(r->accuracy >= 0 && r->accuracy <= 1);
            train_rows++;
        }
    }
    cr_assert_eq(train_rows, 8);
    cr_assert_eq(valid_rows, 6);
    const struct ik_train_row *first = &st.rows[0], *last = &st.rows[st.n_rows - 1];
    cr_assert(last->valid);
    cr_assert_lt(st.rows[st.n_rows - 2].loss, 0.7 * first->loss, "training loss %g -> %g",
                 first->loss, st.rows[st.n_rows - 2].loss);
    cr_assert_eq(st.samples, 24 * 4);
    ik_lm_train_free(tr);
    ik_lora_free(a);
    ik_train_state_free(&st);
    teardown(&f);
}
