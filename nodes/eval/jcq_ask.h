/* nodes/eval/jcq_ask.h - one model's choices on JCommonsenseQA questions,
 * through the model interface of model.h (any backend).
 *
 *   generate  the reference prompt (jcq.h) as the only user message, no
 *             system message; the choice is ik_jcq_parse_answer of the
 *             reply (-1 when it names none)
 *   loglik    no generation: the question as the only user message, then
 *             the log-likelihood of each choice as the assistant's reply
 *             (ik_eval_model_loglik, engine backend only). Two choices are
 *             made: by the raw sum (the most likely string) and by the sum
 *             divided by the choice's length in code points (lm-eval's
 *             acc_norm, which divides by characters). Characters, not
 *             tokens, so that two models with different tokenizers are
 *             normalised alike. Ties go to the lower choice number.
 * Every answer a backend gives is kept by the backend (model.h), so a
 * killed run asks nothing twice. */
#ifndef IK_NODES_EVAL_JCQ_ASK_H
#define IK_NODES_EVAL_JCQ_ASK_H

#include <stddef.h>

#include "nodes/eval/model.h"

struct ik_diag;
struct ik_jcq_items;

enum ik_jcq_method { IK_JCQ_GENERATE, IK_JCQ_LOGLIK };

struct ik_jcq_answers {
    size_t n;
    int *pred;      /* generate: the parsed choice, -1 unparseable */
    char **reply;   /* generate: the reply texts (owned) */
    int *pred_sum;  /* loglik: argmax of the summed log-likelihood */
    int *pred_norm; /* loglik: argmax of the sum over the choice's code points */
};

/* Asks m the first n questions of items by `method` into *out (zeroed
 * first; free with ik_jcq_answers_free, also after a failure). progress
 * is called with (done, n) after each question. Fails with the model's
 * error (d naming the question for loglik). */
int ik_jcq_ask(struct ik_eval_model *m, const struct ik_jcq_items *items, size_t n,
               enum ik_jcq_method method, struct ik_jcq_answers *out,
               ik_eval_progress_fn progress, void *progress_arg, struct ik_diag *d);

void ik_jcq_answers_free(struct ik_jcq_answers *a);

/* The choice with the highest score[0..IK_JCQ_N_CHOICES), the lowest index
 * on ties; NaN never wins. */
int ik_jcq_argmax(const double *score);

#endif
