/* tests/cuda/test_cuda_kernels.c - every kernel of the CUDA module
 * (kernels/cuda/cuda_ops.h) against its CPU reference (kernels/kernels.h) on
 * the same random inputs.
 *
 * The module is dlopen()ed from IK_CUDA_MODULE_PATH (the build folder's
 * kernels/cuda/libikada-cuda.so), or from $IKADA_CUDA_MODULE; this program
 * links no CUDA library. First the checks that need no device (the ABI
 * handshake, a refused argument's text, and, where there is no device, the
 * text of a failed CUDA call). Then, with no device, it prints one line
 * saying why and how many kernel checks it skips and exits 77 (automake's
 * SKIP), or 1 under IKADA_REQUIRE_GPU=1 (`make check-cuda`); with one, each
 * check prints its largest error and passes when, for every element,
 * |gpu - cpu| <= atol + rtol * |cpu| (llm.c's validate_result form). The
 * checks live one file per kernel source, tests/cuda/check_<kernel>.c (their
 * helpers: kernel_check.h); each one's tolerances, and why, are in the
 * comment above it. This file holds their table, the device-less checks
 * and main. `test_cuda_kernels gemm attention` runs only the checks named
 * (as the table and the output name them).
 * Exit status: 0 all passed, 1 a failure, 77 skipped. */
#include <dlfcn.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/cuda/kernel_check.h"

#ifndef IK_CUDA_MODULE_PATH
#error "IK_CUDA_MODULE_PATH: the build defines it (tests/cuda/Makefile.inc)"
#endif

static const struct check {
    const char *name;
    int (*run)(void);
} checks[] = {
    {"rmsnorm_fwd", check_rmsnorm_fwd},   {"rmsnorm_bwd", check_rmsnorm_bwd},
    {"swiglu_fwd", check_swiglu_fwd},     {"swiglu_bwd", check_swiglu_bwd},
    {"rope_fwd/bwd", check_rope},         {"softmax_xent_fwd_bwd", check_softmax_xent},
    {"dropout", check_dropout},           {"adamw", check_adamw},
    {"gemm", check_gemm},                 {"attention", check_attention},
    {"add/bias_add", check_add},          {"embed_rows_bf16", check_embed},
    {"argmax_rows", check_argmax},        {"fill_uniform_bf16", check_fill},
    {"clip_grad_norm", check_clip},       {"add_rmsnorm_fwd", check_add_rmsnorm_fwd},
    {"softmax_xent_argmax", check_softmax_xent_argmax}, {"loss_sums", check_loss_sums},
    {"qk_norm_rope_fwd/bwd", check_qk_norm_rope}, {"swiglu_bwd_bf16", check_swiglu_bwd_bf16},
    {"swiglu_fwd/bwd of BF16", check_swiglu_of_bf16}, {"lora_*_dropout", check_lora_dropout},
    {"profile_set/report", check_profile},
    {"ssm_scan_fwd/bwd", check_ssm_scan},
    {"relu2_fwd/bwd", check_relu2},       {"softplus_bias_fwd/bwd", check_softplus},
    {"conv1d_silu_fwd/bwd", check_conv1d}, {"rmsnorm_gated_fwd/bwd", check_rmsnorm_gated},
    /* Last: its inline PTX is the riskiest on a first GPU run, and a fault
     * there loses the context for every check after it. */
    {"flash_fwd/bwd", check_attention_flash},
};
enum { N_CHECKS = sizeof checks / sizeof checks[0] };

/* ---- the checks that need no device ---- */

static int starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static int check_without_device(ik_cuda_ops_get_fn get, int have_device)
{
    int fails = 0;
    if (get(IK_CUDA_ABI + 1) != NULL) {
        printf("  ik_cuda_ops_get(IK_CUDA_ABI + 1) returned a table  FAIL\n");
        fails++;
    }
    if (ops->size != sizeof(struct ik_cuda_ops)) {
        printf("  the module's table is %zu bytes, this header's %zu  FAIL\n", ops->size,
               sizeof(struct ik_cuda_ops));
        fails++;
    }
    /* Every entry is set (a NULL is a member the table forgot). */
#define NULL_ENTRY(m) (ops->m == NULL ? printf("  the table's ->" #m " is NULL  FAIL\n"), 1 : 0)
    fails += NULL_ENTRY(last_error) + NULL_ENTRY(device_count) + NULL_ENTRY(device_name) +
             NULL_ENTRY(set_device) + NULL_ENTRY(alloc) + NULL_ENTRY(free) +
             NULL_ENTRY(memcpy_htod) + NULL_ENTRY(memcpy_dtoh) + NULL_ENTRY(memcpy_dtod) +
             NULL_ENTRY(memset) + NULL_ENTRY(synchronize) + NULL_ENTRY(rmsnorm_fwd) +
             NULL_ENTRY(rmsnorm_bwd) + NULL_ENTRY(swiglu_fwd) + NULL_ENTRY(swiglu_bwd) +
             NULL_ENTRY(rope_fwd) + NULL_ENTRY(rope_bwd) + NULL_ENTRY(softmax_xent_fwd_bwd) +
             NULL_ENTRY(dropout) + NULL_ENTRY(adamw) + NULL_ENTRY(gemm) + NULL_ENTRY(to_bf16) +
             NULL_ENTRY(from_bf16) + NULL_ENTRY(attention_scratch) + NULL_ENTRY(attention_fwd) +
             NULL_ENTRY(attention_bwd) + NULL_ENTRY(add) + NULL_ENTRY(bias_add) +
             NULL_ENTRY(embed_rows_bf16) + NULL_ENTRY(argmax_rows) + NULL_ENTRY(mem_info) +
             NULL_ENTRY(fill_uniform_bf16) + NULL_ENTRY(clip_grad_norm) +
             NULL_ENTRY(add_rmsnorm_fwd) + NULL_ENTRY(sdpa_available) + NULL_ENTRY(sdpa_scratch) +
             NULL_ENTRY(sdpa_fwd) + NULL_ENTRY(sdpa_bwd) + NULL_ENTRY(softmax_xent_argmax) +
             NULL_ENTRY(loss_sums) + NULL_ENTRY(qk_norm_rope_fwd) + NULL_ENTRY(qk_norm_rope_bwd) +
             NULL_ENTRY(swiglu_bwd_bf16) + NULL_ENTRY(to_bf16_2d) + NULL_ENTRY(dropout_add) +
             NULL_ENTRY(flash_supports) + NULL_ENTRY(flash_scratch) + NULL_ENTRY(flash_fwd) +
             NULL_ENTRY(flash_bwd) + NULL_ENTRY(swiglu_fwd_bf16) + NULL_ENTRY(swiglu_bwd_bf16_in) +
             NULL_ENTRY(lora_down_dropout) + NULL_ENTRY(lora_dA_dropout_scratch) +
             NULL_ENTRY(lora_dA_dropout) + NULL_ENTRY(lora_dx_dropout) + NULL_ENTRY(profile_set) +
             NULL_ENTRY(profile_report) + NULL_ENTRY(lora_down_swiglu_bwd) +
             NULL_ENTRY(ssm_scan_fwd) + NULL_ENTRY(ssm_scan_bwd_scratch) + NULL_ENTRY(ssm_scan_bwd) +
             NULL_ENTRY(relu2_fwd) + NULL_ENTRY(relu2_bwd) + NULL_ENTRY(softplus_bias_fwd) +
             NULL_ENTRY(softplus_bias_bwd) + NULL_ENTRY(conv1d_silu_fwd) +
             NULL_ENTRY(conv1d_silu_bwd) + NULL_ENTRY(rmsnorm_gated_fwd) +
             NULL_ENTRY(rmsnorm_gated_bwd);
#undef NULL_ENTRY
    /* A refused shape is reported before any CUDA call, naming the kernel. */
    const char *want = "rmsnorm_fwd: N = -1, C = 8 (N >= 0, C > 0)";
    if (ops->rmsnorm_fwd(NULL, NULL, NULL, NULL, -1, 8, 1e-6f) != -1 ||
        strcmp(ops->last_error(), want) != 0) {
        printf("  rmsnorm_fwd(N = -1): error \"%s\", want \"%s\"  FAIL\n", ops->last_error(), want);
        fails++;
    }
    if (ops->dropout(NULL, NULL, 4, 1.0f, 0) != -1 || !starts_with(ops->last_error(), "dropout: p = 1")) {
        printf("  dropout(p = 1): error \"%s\"  FAIL\n", ops->last_error());
        fails++;
    }
    want = "argmax_rows: N = 2, V = -1 (both >= 0)";
    if (ops->argmax_rows(NULL, NULL, 2, -1) != -1 || strcmp(ops->last_error(), want) != 0) {
        printf("  argmax_rows(V = -1): error \"%s\", want \"%s\"  FAIL\n", ops->last_error(), want);
        fails++;
    }
    /* Sizes of 0 launch nothing and succeed, device or not. */
    if (ops->swiglu_fwd(NULL, NULL, NULL, 0, 16) != 0 || ops->adamw(NULL, NULL, NULL, NULL, 0, 1, 0.9f, 0.9f, 0, 0, 1) != 0 ||
        ops->add(NULL, NULL, NULL, 0) != 0 || ops->bias_add(NULL, NULL, 0, 8) != 0 ||
        ops->embed_rows_bf16(NULL, NULL, NULL, 0, 8) != 0 || ops->argmax_rows(NULL, NULL, 0, 8) != 0) {
        printf("  a size-0 kernel call failed: %s  FAIL\n", ops->last_error());
        fails++;
    }
    /* Without a device a CUDA call fails, and its text names the call and the entry. */
    if (!have_device) {
        void *p = (void *)1;
        if (ops->alloc(&p, 256) != -1 || p != NULL ||
            !starts_with(ops->last_error(), "cudaMalloc for alloc: ")) {
            printf("  alloc without a device: error \"%s\"  FAIL\n", ops->last_error());
            fails++;
        }
    }
    printf("  module checks without a device: %s\n", fails ? "FAIL" : "ok");
    return fails;
}

/* Whether check i runs: all of them, or those named on the command line. */
static int selected(int i, int argc, char **argv)
{
    if (argc < 2)
        return 1;
    for (int a = 1; a < argc; a++)
        if (strcmp(argv[a], checks[i].name) == 0)
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = getenv("IKADA_CUDA_MODULE");
    if (path == NULL || *path == '\0')
        path = IK_CUDA_MODULE_PATH;
    const char *req = getenv("IKADA_REQUIRE_GPU");
    int require_gpu = req != NULL && strcmp(req, "1") == 0;

    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL)
        die("cannot load the CUDA module: %s", dlerror());
    ik_cuda_ops_get_fn get = (ik_cuda_ops_get_fn)dlsym(lib, IK_CUDA_OPS_SYMBOL);
    if (get == NULL)
        die("%s: no symbol %s: %s", path, IK_CUDA_OPS_SYMBOL, dlerror());
    ops = get(IK_CUDA_ABI);
    if (ops == NULL)
        die("%s: ik_cuda_ops_get(%d) refused: the module is from another build", path, IK_CUDA_ABI);
    printf("test_cuda_kernels: module %s (ABI %d)\n", path, ops->abi);

    int ndev = ops->device_count();
    char reason[512];
    snprintf(reason, sizeof reason, "%s", ops->last_error());
    int fails = check_without_device(get, ndev > 0);
    if (ndev == 0) {
        printf("test_cuda_kernels: no CUDA device (%s): %d kernel checks skipped\n", reason,
               (int)N_CHECKS);
        if (require_gpu) {
            printf("test_cuda_kernels: IKADA_REQUIRE_GPU=1: FAIL\n");
            return 1;
        }
        return fails ? 1 : 77;
    }
    char name[256];
    CK(ops->device_name(0, name, sizeof name));
    CK(ops->set_device(0));
    printf("test_cuda_kernels: device 0: %s (%d device%s)\n", name, ndev, ndev == 1 ? "" : "s");

    ik_prng_seed(&rng, 20240515);
    for (int a = 1; a < argc; a++) {
        int known = 0;
        for (int i = 0; i < N_CHECKS; i++)
            known |= strcmp(argv[a], checks[i].name) == 0;
        if (!known)
            die("no kernel check named \"%s\" (the names are those this program prints)", argv[a]);
    }
    int failed_checks = 0, ran = 0;
    for (int i = 0; i < N_CHECKS; i++) {
        if (!selected(i, argc, argv))
            continue;
        printf("%s:\n", checks[i].name);
        int f = checks[i].run();
        CK(ops->synchronize());
        failed_checks += f != 0;
        ran++;
    }
    printf("test_cuda_kernels: %d of %d kernel checks passed%s\n", ran - failed_checks, ran,
           fails ? "; module checks FAILED" : "");
    return failed_checks || fails ? 1 : 0;
}
