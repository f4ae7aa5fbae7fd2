/* kernels/cuda/module.cu - the module's one export, ik_cuda_ops_get, with the
 * table it returns (cuda_ops.h): device queries, memory, and the error text
 * every entry leaves when it fails. The error text is per thread, like the
 * CUDA runtime's own error state; the kernels live in kernels/cuda/<op>.cu. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_util.h"

static thread_local char err_text[512];
/* The last kernel this thread launched, named when a later wait fails. */
static thread_local const char *last_kernel;

int ik_cuda__fail(const char *call, const char *what, cudaError_t err)
{
    if (last_kernel != NULL && last_kernel != what)
        snprintf(err_text, sizeof err_text, "%s for %s (after kernel %s): %s", call, what,
                 last_kernel, cudaGetErrorString(err));
    else
        snprintf(err_text, sizeof err_text, "%s for %s: %s", call, what, cudaGetErrorString(err));
    /* A launch error is not sticky: clear it so the next call starts clean.
     * (An execution error is sticky: the context stays unusable.) */
    cudaGetLastError();
    return -1;
}

int ik_cuda__bad_arg(const char *what, const char *fmt, ...)
{
    int n = snprintf(err_text, sizeof err_text, "%s: ", what);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err_text + n, sizeof err_text - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static bool sync_mode(void)
{
    static const bool on = [] {
        const char *e = getenv("IKADA_CUDA_SYNC");
        return e != NULL && strcmp(e, "1") == 0;
    }();
    return on;
}

int ik_cuda__launched(const char *kernel)
{
    cudaError_t e = cudaGetLastError();
    last_kernel = kernel;
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaLaunchKernel", kernel, e);
    if (sync_mode() && (e = cudaDeviceSynchronize()) != cudaSuccess)
        return ik_cuda__fail("cudaDeviceSynchronize", kernel, e);
    ik_cuda__profile_mark(kernel);
    return 0;
}

int ik_cuda__queued(const char *what)
{
    (void)cudaGetLastError();
    last_kernel = what;
    cudaError_t e;
    if (sync_mode() && (e = cudaDeviceSynchronize()) != cudaSuccess)
        return ik_cuda__fail("cudaDeviceSynchronize", what, e);
    ik_cuda__profile_mark(what);
    return 0;
}

static const char *last_error(void) { return err_text; }

static int device_count(void)
{
    int n = 0;
    cudaError_t e = cudaGetDeviceCount(&n);
    if (e != cudaSuccess) {
        ik_cuda__fail("cudaGetDeviceCount", "device_count", e);
        return 0;
    }
    if (n == 0)
        snprintf(err_text, sizeof err_text, "cudaGetDeviceCount for device_count: 0 devices");
    return n;
}

static int device_name(int device, char *buf, size_t cap)
{
    cudaDeviceProp p;
    cudaError_t e = cudaGetDeviceProperties(&p, device);
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaGetDeviceProperties", "device_name", e);
    snprintf(buf, cap, "%s (sm_%d%d, %zu MiB)", p.name, p.major, p.minor,
             p.totalGlobalMem >> 20);
    return 0;
}

static int set_device(int device)
{
    cudaError_t e = cudaSetDevice(device);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaSetDevice", "set_device", e);
}

static int dev_alloc(void **p, size_t bytes)
{
    *p = NULL;
    if (bytes == 0)
        return 0;
    cudaError_t e = cudaMalloc(p, bytes);
    if (e != cudaSuccess) {
        *p = NULL;
        ik_cuda__fail("cudaMalloc", "alloc", e);
        size_t n = strlen(err_text);
        snprintf(err_text + n, sizeof err_text - n, " (%zu bytes)", bytes);
        return -1;
    }
    return 0;
}

static int dev_free(void *p)
{
    cudaError_t e = cudaFree(p);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaFree", "free", e);
}

static int copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind, const char *what)
{
    if (bytes == 0)
        return 0;
    cudaError_t e = cudaMemcpy(dst, src, bytes, kind);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaMemcpy", what, e);
}

static int memcpy_htod(void *dst, const void *src, size_t bytes)
{
    return copy(dst, src, bytes, cudaMemcpyHostToDevice, "memcpy_htod");
}

static int memcpy_dtoh(void *dst, const void *src, size_t bytes)
{
    return copy(dst, src, bytes, cudaMemcpyDeviceToHost, "memcpy_dtoh");
}

static int memcpy_dtod(void *dst, const void *src, size_t bytes)
{
    return copy(dst, src, bytes, cudaMemcpyDeviceToDevice, "memcpy_dtod");
}

static int dev_memset(void *p, int byte, size_t bytes)
{
    if (bytes == 0)
        return 0;
    cudaError_t e = cudaMemset(p, byte, bytes);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaMemset", "memset", e);
}

static int synchronize(void)
{
    cudaError_t e = cudaDeviceSynchronize();
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaDeviceSynchronize", "synchronize", e);
}

static int mem_info(size_t *free_bytes, size_t *total_bytes)
{
    cudaError_t e = cudaMemGetInfo(free_bytes, total_bytes);
    return e == cudaSuccess ? 0 : ik_cuda__fail("cudaMemGetInfo", "mem_info", e);
}

static const struct ik_cuda_ops ops = {
    IK_CUDA_ABI,
    sizeof(struct ik_cuda_ops),
    last_error,
    device_count,
    device_name,
    set_device,
    dev_alloc,
    dev_free,
    memcpy_htod,
    memcpy_dtoh,
    memcpy_dtod,
    dev_memset,
    synchronize,
    ik_cuda_rmsnorm_fwd,
    ik_cuda_rmsnorm_bwd,
    ik_cuda_swiglu_fwd,
    ik_cuda_swiglu_bwd,
    ik_cuda_rope_fwd,
    ik_cuda_rope_bwd,
    ik_cuda_softmax_xent_fwd_bwd,
    ik_cuda_dropout,
    ik_cuda_adamw,
    ik_cuda_gemm,
    ik_cuda_to_bf16,
    ik_cuda_from_bf16,
    ik_cuda_attention_scratch,
    ik_cuda_attention_fwd,
    ik_cuda_attention_bwd,
    ik_cuda_add,
    ik_cuda_bias_add,
    ik_cuda_embed_rows_bf16,
    ik_cuda_argmax_rows,
    mem_info,
    ik_cuda_fill_uniform_bf16,
    ik_cuda_clip_grad_norm,
    ik_cuda_add_rmsnorm_fwd,
    ik_cuda_sdpa_available,
    ik_cuda_sdpa_scratch,
    ik_cuda_sdpa_fwd,
    ik_cuda_sdpa_bwd,
    ik_cuda_softmax_xent_argmax,
    ik_cuda_loss_sums,
    ik_cuda_qk_norm_rope_fwd,
    ik_cuda_qk_norm_rope_bwd,
    ik_cuda_swiglu_bwd_bf16,
    ik_cuda_to_bf16_2d,
    ik_cuda_dropout_add,
    ik_cuda_flash_supports,
    ik_cuda_flash_scratch,
    ik_cuda_flash_fwd,
    ik_cuda_flash_bwd,
    ik_cuda_swiglu_fwd_bf16,
    ik_cuda_swiglu_bwd_bf16_in,
    ik_cuda_lora_down_dropout,
    ik_cuda_lora_dA_dropout_scratch,
    ik_cuda_lora_dA_dropout,
    ik_cuda_lora_dx_dropout,
    ik_cuda_profile_set,
    ik_cuda_profile_report,
    ik_cuda_lora_down_swiglu_bwd,
    ik_cuda_ssm_scan_fwd,
    ik_cuda_ssm_scan_bwd_scratch,
    ik_cuda_ssm_scan_bwd,
    ik_cuda_relu2_fwd,
    ik_cuda_relu2_bwd,
    ik_cuda_softplus_bias_fwd,
    ik_cuda_softplus_bias_bwd,
    ik_cuda_conv1d_silu_fwd,
    ik_cuda_conv1d_silu_bwd,
    ik_cuda_rmsnorm_gated_fwd,
    ik_cuda_rmsnorm_gated_bwd,
};

/* The only symbol the module exports (it is built with -fvisibility=hidden). */
extern "C" __attribute__((visibility("default"))) const struct ik_cuda_ops *
ik_cuda_ops_get(int abi_version)
{
    return abi_version == IK_CUDA_ABI ? &ops : NULL;
}
