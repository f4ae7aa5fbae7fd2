/* nodes/train/schedule.c - learning-rate schedules (schedule.h). */
#include <math.h>
#include <string.h>

#include "base/diag.h"
#include "base/error.h"
#include "nodes/train/schedule.h"

int ik_train_scheduler_by_name(const char *name, int *out, struct ik_diag *d)
{
    static const char *const names[] = {"cosine", "linear", "constant"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = i;
            return 0;
        }
    return ik_diag_set(d, IK_EVALIDATE, "param scheduler is '%s', expected cosine, linear or constant",
                       name);
}

int64_t ik_train_warmup_steps(double warmup_ratio, int64_t total)
{
    return warmup_ratio > 0 ? (int64_t)ceil(warmup_ratio * (double)total) : 0;
}

double ik_train_lr_at(int scheduler, double lr, double warmup_ratio, int64_t k, int64_t total)
{
    int64_t w = ik_train_warmup_steps(warmup_ratio, total);
    if (k < w)
        return lr * (double)k / (double)w;
    double rest = (double)(total - w > 1 ? total - w : 1);
    switch (scheduler) {
    case IK_SCHED_COSINE:
        return lr * 0.5 * (1.0 + cos(M_PI * (double)(k - w) / rest));
    case IK_SCHED_LINEAR: {
        double f = (double)(total - k) / rest;
        return lr * (f > 0 ? f : 0);
    }
    default:
        return lr;
    }
}
