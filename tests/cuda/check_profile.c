/* tests/cuda/check_profile.c - test_cuda_kernels' check of the module's
 * timing of its own calls (profile.cu: ->profile_set, ->profile_report):
 * what it counts, by name, and that a report clears the totals. The times
 * themselves are not checked (they are the machine's). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cuda/kernel_check.h"

/* Whether report has a line for name with this many calls. */
static int has_line(const char *report, const char *name, long calls)
{
    char want[96];
    snprintf(want, sizeof want, "%ld calls", calls);
    for (const char *l = report; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, name, strlen(name)) == 0 && l[strlen(name)] == ' ') {
            const char *end = strchr(l, '\n');
            char line[256];
            size_t n = end ? (size_t)(end - l) : strlen(l);
            snprintf(line, sizeof line, "%.*s", (int)n, l);
            return strstr(line, want) != NULL;
        }
    return 0;
}

int check_profile(void)
{
    int N = 8, C = 64, fails = 0;
    float *x = rand_floats((size_t)N * C, -1, 1), *w = rand_floats((size_t)C, 0.5f, 1.5f);
    float *d_x = to_dev(x, (size_t)N * C * 4), *d_w = to_dev(w, (size_t)C * 4), *d_o, *d_r;
    CK(ops->alloc((void **)&d_o, (size_t)N * C * 4));
    CK(ops->alloc((void **)&d_r, (size_t)N * 4));
    CK(ops->rmsnorm_fwd(d_o, d_r, d_x, d_w, N, C, 1e-6f)); /* not counted: off */
    CK(ops->profile_set(1));
    CK(ops->rmsnorm_fwd(d_o, d_r, d_x, d_w, N, C, 1e-6f));
    CK(ops->rmsnorm_fwd(d_o, d_r, d_x, d_w, N, C, 1e-6f));
    CK(ops->gemm(0, 1, N, N, C, 1.0f, d_x, C, d_x, C, 0.0f, d_o, N, IK_CUDA_TF32, IK_CUDA_F32));
    CK(ops->profile_set(0));
    CK(ops->rmsnorm_fwd(d_o, d_r, d_x, d_w, N, C, 1e-6f)); /* off again */
    char report[4096];
    CK(ops->profile_report(report, sizeof report));
    if (!has_line(report, "rmsnorm_fwd", 2) || !has_line(report, "gemm (TF32 -> fp32)", 1)) {
        printf("  profile: want rmsnorm_fwd 2 calls and gemm (TF32 -> fp32) 1 call, got:\n%s  FAIL\n",
               report);
        fails++;
    } else {
        printf("  profile: rmsnorm_fwd 2 calls, gemm (TF32 -> fp32) 1 call  ok\n");
    }
    CK(ops->profile_report(report, sizeof report));
    if (report[0] != '\0') {
        printf("  profile: a second report is not empty:\n%s  FAIL\n", report);
        fails++;
    }
    CK(ops->free(d_x));
    CK(ops->free(d_w));
    CK(ops->free(d_o));
    CK(ops->free(d_r));
    free(x), free(w);
    return fails;
}
