/* nodes/train/coverage.c - the adapter's coverage (coverage.h). Projections
 * of one mixer are listed together when they have the same counts ("q,k,v,o
 * 4/4"), each on its own otherwise ("q 4/4, k 0/4, ..."). */
#include <stdio.h>
#include <string.h>

#include "lm/lora.h"
#include "lm/model.h"
#include "nodes/train/coverage.h"

/* The kinds in report order, each a run of targets of one mixer. */
static const int kinds[][4] = {
    {IK_LORA_IN, -1}, {IK_LORA_OUT, -1},
    {IK_LORA_Q, IK_LORA_K, IK_LORA_V, IK_LORA_O}, {IK_LORA_GATE, IK_LORA_UP, IK_LORA_DOWN, -1},
};

static const char *short_name(int t)
{
    static const char *const names[IK_LORA_NT] = {"q", "k", "v", "o", "gate", "up", "down",
                                                   "in_proj", "out_proj"};
    return names[t];
}

/* Layers that have target t (*have) and of those the adapted ones (*done). */
static void count(const struct ik_lm_model *m, const struct ik_lora *a, int t, int *have, int *done)
{
    *have = *done = 0;
    for (int l = 0; l < m->cfg.L; l++) {
        if (!ik_lora_has_module(&m->cfg, l, t))
            continue;
        ++*have;
        *done += a->mod[l * IK_LORA_NT + t].A != NULL;
    }
}

static void append(char *buf, size_t n, const char *fmt, const char *name, int done, int have)
{
    size_t len = strlen(buf);
    snprintf(buf + len, n - len, fmt, len ? ", " : "", name, done, have);
}

void ik_train_coverage_of(const struct ik_lm_model *m, const struct ik_lora *a,
                          struct ik_train_coverage *cov)
{
    cov->text[0] = '\0';
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        /* The members the family has (no gate in NemotronH, no in_proj in Llama). */
        int t[4], have[4], done[4], n = 0, same = 1;
        char names[64] = "";
        for (int i = 0; i < 4 && kinds[k][i] >= 0; i++) {
            count(m, a, kinds[k][i], &have[n], &done[n]);
            if (have[n] == 0)
                continue;
            t[n] = kinds[k][i];
            same &= have[n] == have[0] && done[n] == done[0];
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", n ? "," : "",
                     short_name(t[n]));
            n++;
        }
        if (n > 0 && same)
            append(cov->text, sizeof cov->text, "%s%s %d/%d", names, done[0], have[0]);
        else
            for (int i = 0; i < n; i++)
                append(cov->text, sizeof cov->text, "%s%s %d/%d", short_name(t[i]), done[i], have[i]);
    }
    cov->covered = 0;
    for (int i = 0; i < a->L * IK_LORA_NT; i++)
        if (a->mod[i].A)
            cov->covered += (uint64_t)a->mod[i].in * (uint64_t)a->mod[i].out;
    cov->total = m->n_params;
}
