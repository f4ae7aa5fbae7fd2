/* nodes/eval/jcq_ask.c - one model's JCommonsenseQA choices (jcq_ask.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/diag.h"
#include "base/utf8.h"
#include "base/xmalloc.h"
#include "nodes/eval/jcq_ask.h"
#include "nodes/eval/jcq_items.h"

int ik_jcq_argmax(const double *score)
{
    int best = -1;
    for (int j = 0; j < IK_JCQ_N_CHOICES; j++)
        if (!isnan(score[j]) && (best < 0 || score[j] > score[best]))
            best = j;
    return best < 0 ? 0 : best;
}

/* All n prompts go to the backend at once: it batches (engine) or keeps
 * `concurrency` requests in flight (HTTP). */
static int ask_generate(struct ik_eval_model *m, const struct ik_jcq_items *items, size_t n,
                        struct ik_jcq_answers *out, ik_eval_progress_fn progress, void *arg,
                        struct ik_diag *d)
{
    struct ik_buf *text = ik_xcalloc(n, sizeof *text);
    struct ik_eval_msg *msgs = ik_xcalloc(n, sizeof *msgs);
    struct ik_eval_prompt *prompts = ik_xcalloc(n, sizeof *prompts);
    struct ik_eval_answer *answers = ik_xcalloc(n, sizeof *answers);
    for (size_t i = 0; i < n; i++) {
        const struct ik_jcq_item *it = &items->v[i];
        ik_jcq_render_prompt(&text[i], it->question, (const char *const *)it->choices);
        msgs[i] = (struct ik_eval_msg){"user", text[i].data, text[i].len};
        prompts[i] = (struct ik_eval_prompt){&msgs[i], 1, it->question, i, NULL, NULL};
    }
    int rc = ik_eval_model_generate(m, prompts, n, answers, progress, arg, d);
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            out->reply[i] = answers[i].text;
            answers[i].text = NULL;
            out->pred[i] = ik_jcq_parse_answer(out->reply[i], strlen(out->reply[i]));
        }
        ik_eval_answer_free(&answers[i]);
        ik_buf_free(&text[i]);
    }
    free(answers);
    free(prompts);
    free(msgs);
    free(text);
    return rc;
}

static int ask_loglik(struct ik_eval_model *m, const struct ik_jcq_items *items, size_t n,
                      struct ik_jcq_answers *out, ik_eval_progress_fn progress, void *arg,
                      struct ik_diag *d)
{
    for (size_t i = 0; i < n; i++) {
        const struct ik_jcq_item *it = &items->v[i];
        struct ik_eval_msg msg = {"user", it->question, strlen(it->question)};
        struct ik_eval_prompt prompt = {&msg, 1, it->question, i, NULL, NULL};
        double ll[IK_JCQ_N_CHOICES], norm[IK_JCQ_N_CHOICES];
        int n_tokens[IK_JCQ_N_CHOICES];
        int rc = ik_eval_model_loglik(m, &prompt, (const char *const *)it->choices,
                                      IK_JCQ_N_CHOICES, ll, n_tokens, d);
        if (rc < 0) {
            ik_diag_prefix(d, "question q_id %lld (line %ld): ", (long long)it->q_id, it->line);
            return rc;
        }
        for (int j = 0; j < IK_JCQ_N_CHOICES; j++)
            norm[j] = ll[j] / (double)ik_utf8_count(it->choices[j], strlen(it->choices[j]));
        out->pred_sum[i] = ik_jcq_argmax(ll);
        out->pred_norm[i] = ik_jcq_argmax(norm);
        if (progress)
            progress(arg, i + 1, n, 0);
    }
    return 0;
}

int ik_jcq_ask(struct ik_eval_model *m, const struct ik_jcq_items *items, size_t n,
               enum ik_jcq_method method, struct ik_jcq_answers *out,
               ik_eval_progress_fn progress, void *progress_arg, struct ik_diag *d)
{
    memset(out, 0, sizeof *out);
    out->n = n;
    if (method == IK_JCQ_GENERATE) {
        out->pred = ik_xcalloc(n ? n : 1, sizeof *out->pred);
        out->reply = ik_xcalloc(n ? n : 1, sizeof *out->reply);
        return ask_generate(m, items, n, out, progress, progress_arg, d);
    }
    out->pred_sum = ik_xcalloc(n ? n : 1, sizeof *out->pred_sum);
    out->pred_norm = ik_xcalloc(n ? n : 1, sizeof *out->pred_norm);
    return ask_loglik(m, items, n, out, progress, progress_arg, d);
}

void ik_jcq_answers_free(struct ik_jcq_answers *a)
{
    for (size_t i = 0; a->reply && i < a->n; i++)
        free(a->reply[i]);
    free(a->reply);
    free(a->pred);
    free(a->pred_sum);
    free(a->pred_norm);
    memset(a, 0, sizeof *a);
}
