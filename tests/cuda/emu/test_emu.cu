/* tests/cuda/emu/test_emu.cu - the CUDA emulator's own checks: that it runs
 * CUDA C as a GPU would where the module's kernels rely on it (thread and
 * block indices, barriers, warp shuffles, shared memory), and that it fails
 * what a GPU would hang on or get wrong instead of passing it. Built only
 * for the emulator (tests/cuda/emu/emu_module.mk); run by
 * tests/cuda/test_cuda_emu.sh. A failed launch loses the context, as on a
 * GPU: each check that expects one runs in a child process.
 * Exit status: 0 all passed, 1 a failure. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cuda_runtime.h>

#include "kernels/cuda/mma.h"

static int failures;

static void expect(int ok, const char *what)
{
    printf("  %-66s %s\n", what, ok ? "ok" : "FAIL");
    failures += !ok;
}

__device__ float warp_sum(float v)
{
    for (int o = 16; o > 0; o >>= 1)
        v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

/* out[block] = the sum of (block's linear thread index + 1) over the block,
 * by warp shuffles and one shared array, over a 2-D grid of 2-D blocks. */
__global__ void block_sum_kernel(float *out)
{
    __shared__ float partial[32];
    int t = threadIdx.y * blockDim.x + threadIdx.x, n = blockDim.x * blockDim.y;
    float v = warp_sum((float)(t + 1));
    if (t % 32 == 0)
        partial[t / 32] = v;
    __syncthreads();
    if (t == 0) {
        float s = 0.0f;
        for (int w = 0; w < n / 32; w++)
            s += partial[w];
        out[blockIdx.y * gridDim.x + blockIdx.x] = s;
    }
}

/* Thread 0 writes before the barrier; every thread reads after it. */
__global__ void barrier_order_kernel(int *out)
{
    __shared__ int value;
    if (threadIdx.x == 0)
        value = 7 + (int)blockIdx.x;
    __syncthreads();
    out[blockIdx.x * blockDim.x + threadIdx.x] = value;
}

/* Half the block waits at __syncthreads, the other half at a shuffle. */
__global__ void divergent_barrier_kernel(float *out)
{
    if (threadIdx.x < 32)
        __syncthreads();
    else
        out[threadIdx.x] = warp_sum(1.0f);
}

/* __syncthreads after half the block returned. */
__global__ void barrier_after_return_kernel(float *out)
{
    if (threadIdx.x >= 32)
        return;
    __syncthreads();
    out[threadIdx.x] = 1.0f;
}

/* A full-warp shuffle after some of the warp's lanes returned. */
__global__ void shuffle_after_return_kernel(float *out)
{
    if (threadIdx.x >= 16)
        return;
    out[threadIdx.x] = warp_sum(1.0f);
}

/* Half a warp at __syncthreads, the other half at a shuffle. */
__global__ void split_warp_kernel(float *out)
{
    if (threadIdx.x < 16)
        __syncthreads();
    else
        out[threadIdx.x] = warp_sum(1.0f);
}

/* Two warps at two different __syncthreads. */
__global__ void two_barriers_kernel(float *out)
{
    if (threadIdx.x < 32)
        __syncthreads();
    else
        __syncthreads();
    out[threadIdx.x] = 1.0f;
}

/* Reads a shared value nothing wrote. */
__global__ void unset_shared_kernel(float *out)
{
    __shared__ float acc;
    __syncthreads();
    if (threadIdx.x == 0)
        out[blockIdx.x] = acc;
}

/* Thread 32 (warp 1) writes flag with no barrier before the others read it:
 * what each reads depends on which warp runs first. */
__global__ void racy_kernel(int *out)
{
    __shared__ int flag;
    if (threadIdx.x == 0)
        flag = 1;
    __syncthreads();
    if (threadIdx.x == 32)
        flag = 2;
    out[threadIdx.x] = flag;
}

/* D (16x8) = C + A (16x16) B (16x8), all row-major floats (A and B BF16
 * values), through one tensor-core product: each lane takes its fragments
 * as kernels/cuda/mma.h lays them out. */
__global__ void mma_kernel(float *D, const float *A, const float *B, const float *C)
{
    int g = threadIdx.x >> 2, q = threadIdx.x & 3;
    uint32_t a[4], b[2];
    for (int w = 0; w < 4; w++) {
        const float *row = A + (g + 8 * (w & 1)) * 16 + 2 * q + 8 * (w >> 1);
        a[w] = ik_bf16x2(row[0], row[1]);
    }
    for (int w = 0; w < 2; w++)
        b[w] = ik_bf16x2(B[(2 * q + 8 * w) * 8 + g], B[(2 * q + 8 * w + 1) * 8 + g]);
    float d[4];
    for (int i = 0; i < 4; i++)
        d[i] = C[(g + 8 * (i >> 1)) * 8 + 2 * q + (i & 1)];
    ik_mma_bf16_16816(d, a, b);
    for (int i = 0; i < 4; i++)
        D[(g + 8 * (i >> 1)) * 8 + 2 * q + (i & 1)] = d[i];
}

/* A 32-bit word of BF16 pairs read at an odd BF16 index: misaligned. */
__global__ void misaligned_word_kernel(float *out)
{
    __shared__ __nv_bfloat16 pairs[64];
    pairs[threadIdx.x] = __float2bfloat16_rn(1.0f);
    pairs[threadIdx.x + 32] = __float2bfloat16_rn(2.0f);
    __syncthreads();
    out[threadIdx.x] = (float)ik_bf16_word(pairs + 1 + 2 * (threadIdx.x % 16));
}

/* Reads dynamic shared memory at index i (thread 0; the launch gives n floats). */
__global__ void shared_read_kernel(float *out, int i)
{
    extern __shared__ float dyn[];
    if (threadIdx.x == 0)
        out[0] = dyn[i];
}

__global__ void copy_kernel(float *out, const float *in, int n)
{
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n)
        out[i] = in[i];
}

static void check_indices_and_shuffles(void)
{
    float *d, h[6];
    cudaMalloc((void **)&d, sizeof h);
    block_sum_kernel<<<dim3(3, 2), dim3(32, 8)>>>(d);
    cudaError_t e = cudaDeviceSynchronize();
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    int ok = e == cudaSuccess;
    for (int i = 0; i < 6; i++)
        ok &= h[i] == 256.0f * 257.0f / 2.0f;
    expect(ok, "block sums over a 3x2 grid of 32x8 blocks (shuffles, shared, barrier)");
    block_sum_kernel<<<1, 1024>>>(d);
    cudaMemcpy(h, d, sizeof(float), cudaMemcpyDeviceToHost);
    expect(cudaDeviceSynchronize() == cudaSuccess && h[0] == 1024.0f * 1025.0f / 2.0f,
           "a block of 1024 threads");
    cudaFree(d);
}

static void check_barrier_order(void)
{
    int *d, h[4 * 64];
    cudaMalloc((void **)&d, sizeof h);
    barrier_order_kernel<<<4, 64>>>(d);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    int ok = cudaDeviceSynchronize() == cudaSuccess;
    for (int i = 0; i < 4 * 64; i++)
        ok &= h[i] == 7 + i / 64;
    expect(ok, "a shared write before __syncthreads is seen by every thread after it");
    cudaFree(d);
}

/* A static __shared__ array starts each block as garbage (NaN here), not
 * as the zero a C static would be, nor the last block's values; and a race
 * between warps shows, as the emulator alternates which runs first. */
static void check_shared_and_order(void)
{
    float *d, h[3];
    cudaMalloc((void **)&d, sizeof h);
    unset_shared_kernel<<<3, 32>>>(d);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    expect(isnan(h[0]) && isnan(h[1]) && isnan(h[2]), "an unwritten static __shared__ value reads as NaN");
    cudaFree(d);
    int *di, first[64], second[64];
    cudaMalloc((void **)&di, sizeof first);
    racy_kernel<<<1, 64>>>(di);
    cudaMemcpy(first, di, sizeof first, cudaMemcpyDeviceToHost);
    racy_kernel<<<1, 64>>>(di);
    cudaMemcpy(second, di, sizeof second, cudaMemcpyDeviceToHost);
    expect(memcmp(first, second, sizeof first) != 0 && cudaDeviceSynchronize() == cudaSuccess,
           "a race between warps gives two answers over two launches");
    cudaFree(di);
}

static void check_memory(void)
{
    float *d, h[8], src[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    cudaMalloc((void **)&d, sizeof h);
    cudaMemcpy(h, d, sizeof h, cudaMemcpyDeviceToHost);
    int nan = 1;
    for (int i = 0; i < 8; i++)
        nan &= isnan(h[i]);
    expect(nan, "new device memory reads as NaN");
    expect(cudaMemcpy(d, src, sizeof src, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue,
           "a copy whose kind says the wrong way is refused");
    cudaGetLastError();
    copy_kernel<<<1, 2048>>>(d, d, 8);
    expect(cudaGetLastError() == cudaErrorInvalidConfiguration, "a block of 2048 threads is refused");
    expect(cudaDeviceSynchronize() == cudaSuccess, "refused launches leave the context usable");
    size_t free_b, total_b;
    cudaMemGetInfo(&free_b, &total_b);
    void *big;
    expect(cudaMalloc(&big, total_b + 1) == cudaErrorMemoryAllocation,
           "more than the device's memory is refused");
    cudaGetLastError();
    cudaFree(d);
}

/* Runs launch in a child: it must fail the kernel and lose the context,
 * the launch itself reporting success (the fault comes at the next wait),
 * the later calls ERR. */
static void expect_fault(void (*launch)(float *), cudaError_t err, const char *what)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        float *d;
        cudaMalloc((void **)&d, 64 * sizeof(float));
        launch(d);
        int lost = cudaGetLastError() == cudaSuccess && cudaDeviceSynchronize() == err &&
                   cudaMalloc((void **)&d, 4) == err;
        _exit(lost ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, what);
}

/* Runs launch in a child that must die of SIGSEGV, its stderr naming the
 * kernel and saying why (want). */
static void expect_segv(void (*launch)(float *), const char *want, const char *what)
{
    fflush(stdout);
    int fds[2];
    if (pipe(fds) != 0) {
        expect(0, what);
        return;
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 2);
        close(fds[0]);
        float *d;
        cudaMalloc((void **)&d, 64 * sizeof(float));
        launch(d);
        cudaDeviceSynchronize();
        _exit(0);
    }
    close(fds[1]);
    char text[512] = "";
    size_t got = 0;
    ssize_t r;
    while (got < sizeof text - 1 && (r = read(fds[0], text + got, sizeof text - 1 - got)) > 0)
        got += (size_t)r;
    text[got] = '\0';
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    expect(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV && strstr(text, want) != NULL, what);
}

static void launch_shared_in_bounds(float *d) { shared_read_kernel<<<1, 32, 64 * sizeof(float)>>>(d, 63); }
static void launch_shared_past_end(float *d) { shared_read_kernel<<<1, 32, 64 * sizeof(float)>>>(d, 64); }

static void check_mma(void)
{
    float A[256], B[128], C[128], D[128];
    for (int i = 0; i < 256; i++)
        A[i] = (float)((i * 7) % 13 - 6) / 4.0f; /* exact in BF16 */
    for (int i = 0; i < 128; i++) {
        B[i] = (float)((i * 5) % 11 - 5) / 8.0f;
        C[i] = (float)(i % 3);
    }
    float *d[4];
    for (int i = 0; i < 4; i++)
        cudaMalloc((void **)&d[i], 256 * sizeof(float));
    cudaMemcpy(d[1], A, sizeof A, cudaMemcpyHostToDevice);
    cudaMemcpy(d[2], B, sizeof B, cudaMemcpyHostToDevice);
    cudaMemcpy(d[3], C, sizeof C, cudaMemcpyHostToDevice);
    mma_kernel<<<1, 32>>>(d[0], d[1], d[2], d[3]);
    cudaMemcpy(D, d[0], sizeof D, cudaMemcpyDeviceToHost);
    int same = cudaDeviceSynchronize() == cudaSuccess;
    for (int r = 0; r < 16; r++)
        for (int c = 0; c < 8; c++) {
            float s = C[r * 8 + c];
            for (int k = 0; k < 16; k++)
                s += A[r * 16 + k] * B[k * 8 + c];
            same &= s == D[r * 8 + c];
        }
    expect(same, "a tensor-core product (m16n8k16, BF16) in the PTX fragment layout");
    for (int i = 0; i < 4; i++)
        cudaFree(d[i]);
}

static void check_dynamic_shared(void)
{
    float *d, h = 0.0f;
    cudaMalloc((void **)&d, sizeof(float));
    launch_shared_in_bounds(d);
    cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost);
    expect(cudaDeviceSynchronize() == cudaSuccess && isnan(h),
           "dynamic shared memory's last float reads (as NaN, unset)");
    cudaFree(d);
    expect_segv(launch_shared_past_end,
                "kernel shared_read_kernel: an access past the end of its dynamic shared memory",
                "a read one float past the dynamic shared memory faults, naming the kernel");
}

static void launch_divergent(float *d) { divergent_barrier_kernel<<<1, 64>>>(d); }
static void expect_failed_launch(void (*launch)(float *), const char *what)
{
    expect_fault(launch, cudaErrorLaunchFailure, what);
}

static float host_floats[8];
static void launch_with_host_pointer(float *d) { copy_kernel<<<1, 32>>>(d, host_floats, 8); }
static void launch_split_warp(float *d) { split_warp_kernel<<<1, 32>>>(d); }
static void launch_two_barriers(float *d) { two_barriers_kernel<<<1, 64>>>(d); }
static void launch_barrier_after_return(float *d) { barrier_after_return_kernel<<<1, 64>>>(d); }
static void launch_shuffle_after_return(float *d) { shuffle_after_return_kernel<<<1, 32>>>(d); }
static void launch_part_warp(float *d) { block_sum_kernel<<<1, dim3(16, 1)>>>(d); }
static void launch_misaligned_word(float *d) { misaligned_word_kernel<<<1, 32>>>(d); }

int main(void)
{
    printf("test_emu: the CUDA emulator's own checks\n");
    check_indices_and_shuffles();
    check_barrier_order();
    check_shared_and_order();
    check_memory();
    check_dynamic_shared();
    check_mma();
    expect_failed_launch(launch_divergent, "threads split between __syncthreads and a shuffle fail");
    expect_fault(launch_with_host_pointer, cudaErrorIllegalAddress,
                 "a host pointer as a kernel argument faults, as its first access would");
    expect_failed_launch(launch_split_warp, "half a warp at __syncthreads, half at a shuffle fails");
    expect_failed_launch(launch_two_barriers, "two warps at two different __syncthreads fail");
    expect_failed_launch(launch_barrier_after_return, "__syncthreads after half the block returned fails");
    expect_failed_launch(launch_shuffle_after_return, "a full-warp shuffle after lanes returned fails");
    expect_failed_launch(launch_part_warp, "a full-warp shuffle in a block of 16 threads fails");
    expect_failed_launch(launch_misaligned_word, "a 32-bit read of BF16 pairs at an odd index fails");
    printf("test_emu: %s\n", failures ? "FAILED" : "all passed");
    return failures ? 1 : 0;
}
