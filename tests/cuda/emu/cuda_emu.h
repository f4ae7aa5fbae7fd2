/* tests/cuda/emu/cuda_emu.h - the CUDA C that each kernels/cuda/<op>.cu is
 * written in, for the host's C++ compiler: the CUDA emulator's contract with the
 * module's sources. Each .cu is compiled by g++ with this header included
 * first (-include) after tests/cuda/emu/to_host.pl has rewritten the two
 * pieces of syntax a C++ compiler cannot take (a <<<grid, block>>> launch and
 * an extern __shared__ array); nothing in kernels/cuda/ knows of it.
 *
 * What it models (tests/cuda/emu/emu_runtime.cpp runs it):
 * - A launch runs its blocks one after another on the calling thread, in
 *   order or, on odd launches, in reverse.
 * - A block's threads are coroutines. One warp at a time runs until it
 *   waits at __syncthreads() or returns; its shuffles open as its 32 lanes
 *   meet. Warps and lanes run first to last or last to first, alternating
 *   by block and launch. So no warp sees another's work before a barrier,
 *   and a missing barrier shows whichever thread a GPU would run first.
 * - A barrier opens only when every thread it waits for is at the same one
 *   (the same call and count). Divergent barriers, a barrier after some
 *   threads returned, or a shuffle in a warp with lanes gone or elsewhere
 *   fail the launch and name the kernel, where a GPU would hang or be
 *   undefined. The fault surfaces at the next call that waits, and the
 *   context is lost.
 * - __shared__ arrays are the kernel's static locals (one block runs at a
 *   time), filled with 0xff bytes (NaN) as each block declares them; the
 *   dynamic array is a buffer filled so per block, whose end (the launch's
 *   size rounded up to 16 bytes) is a guard page: an access past it dies of
 *   SIGSEGV with a line naming the kernel (as does a stack overflow).
 * - Device memory is host memory, handed out filled with NaN bytes. A
 *   pointer a kernel is launched with that is not device memory faults, as
 *   its first access would.
 *
 * Atomics (atomicAdd on int) are exact, as one thread runs at a time; which
 * block comes last varies with the block order above.
 *
 * What it does not model: timing, races between threads but for the orders
 * above, nvcc's contraction of a * b + c into an FMA (the emulator's
 * objects are compiled with -ffp-contract=off: __fmul_rn and the like are
 * what the plain operators give), the exact results of the device's
 * expf/logf (the host libm's, within an ulp or two of them), accesses of
 * dynamic shared memory within the 15 bytes of rounding past the launch's
 * size or before its start, and a thread's stack past 128 KiB (a guard page
 * makes that a crash, not a silent overwrite). */
#ifndef IK_TESTS_CUDA_EMU_CUDA_EMU_H
#define IK_TESTS_CUDA_EMU_CUDA_EMU_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <functional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <cuda_runtime.h>
#include <cuda_bf16.h>

/* The execution-space qualifiers mean nothing on the host; the CUDA headers
 * made them attributes g++ would warn about. */
#undef __host__
#undef __device__
#undef __global__
#undef __shared__
#undef __launch_bounds__
#define __host__
#define __device__
#define __global__
#define __shared__ static
#define __launch_bounds__(...)

namespace ik_emu {

/* The emulated thread now running: its index in the block, its block's
 * index, the launch's shape (one launch runs at a time). */
extern const uint3 *thread_idx;
extern uint3 block_idx;
extern dim3 block_dim, grid_dim;

/* Block barrier and warp exchange (emu_runtime.cpp). shfl_xor returns the
 * bits lane (lane ^ lane_mask) passed. */
void syncthreads(const char *file, int line);
uint64_t shfl_xor(unsigned mask, uint64_t bits, int lane_mask, int width, const char *file, int line);
/* The warp's tensor-core product mma.sync.m16n8k16.row.col.f32.bf16.bf16.f32
 * (the PTX ISA's fragment layout: kernels/cuda/mma.h): d += a b, met by
 * the 32 lanes as a shuffle is, each lane's d computed from every lane's a
 * and b, products exact, sums in fp32 in order of k. */
void mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const char *file, int line);
/* Fails the launch: an access of BYTES at p that a GPU would refuse as
 * misaligned (kernels/cuda/mma.h's word loads call it). */
void misaligned(const void *p, int bytes, const char *file, int line);
/* The block's dynamic shared memory (the launch's third argument). */
void *dynamic_shared();
/* A static __shared__ array, filled with 0xff bytes the first time a
 * block's thread declares it (SERIAL: the array's own note of the block it
 * last filled it for); to_host.pl puts the call after each declaration. */
void shared_fresh(void *p, size_t bytes, unsigned long *serial);

/* Runs body as every thread of every block of the launch; the kernel's name
 * is for errors. Sets the runtime's last error as a real launch would. */
void run(const char *kernel, dim3 grid, dim3 block, size_t shared_bytes,
         const std::function<void()> &body);
/* True when [p, p + bytes) lies in one device allocation (emu_cublas.cpp
 * checks its operands' extents with it). */
bool in_device_memory(const void *p, size_t bytes);
/* False (and the launch refused, naming the argument) when a non-null
 * pointer argument does not lie in device memory. */
bool device_pointer_arg(const char *kernel, int index, const void *p);

template <class T> inline bool check_arg(const char *kernel, int index, const T &a)
{
    if constexpr (std::is_pointer<T>::value)
        return a == nullptr || device_pointer_arg(kernel, index, (const void *)a);
    else
        return true;
}

/* kernel<<<grid, block, shared, stream>>>(args) is rewritten to
 * IK_EMU_LAUNCH(kernel)(grid, block, shared, stream)(args): CALL calls the
 * kernel with what it is given, so that a template kernel's arguments are
 * deduced and converted as in the launch. */
template <class Call> struct configured {
    const char *name;
    Call call;
    dim3 grid, block;
    size_t shared;
    template <class... A> void operator()(A &&...a) const
    {
        /* The arguments, copied once as the launch copies them; each thread
         * gets its own copy of the parameters from these. */
        std::tuple<std::decay_t<A>...> args(std::forward<A>(a)...);
        bool ok = true;
        int i = 0;
        std::apply([&](const auto &...x) { ((ok = check_arg(name, i++, x) && ok), ...); }, args);
        if (!ok)
            return;
        const Call &c = call;
        run(name, grid, block, shared, [&args, &c] { std::apply(c, args); });
    }
};

template <class Call> struct unconfigured {
    const char *name;
    Call call;
    configured<Call> operator()(dim3 grid, dim3 block, size_t shared = 0, cudaStream_t stream = 0) const
    {
        (void)stream; /* every launch runs at once, in order */
        return configured<Call>{name, call, grid, block, shared};
    }
};

template <class Call> unconfigured<Call> launcher(const char *name, Call call)
{
    return unconfigured<Call>{name, call};
}

/* A __device__ variable is a host global: its address is itself. */
cudaError_t symbol_address(void **p, const void *symbol, size_t bytes);

} /* namespace ik_emu */

#define IK_EMU_LAUNCH(kernel) \
    ik_emu::launcher(#kernel, [](const auto &...a) { kernel(a...); })
#define IK_EMU_DYNAMIC_SHARED(type) ((type *)ik_emu::dynamic_shared())
#define IK_EMU_SHARED_FRESH(name)                                                                  \
    do {                                                                                           \
        static unsigned long ik_emu_serial_##name;                                                 \
        ik_emu::shared_fresh(&(name), sizeof(name), &ik_emu_serial_##name);                        \
    } while (0)

#define threadIdx (*ik_emu::thread_idx)
#define blockIdx (ik_emu::block_idx)
#define blockDim (ik_emu::block_dim)
#define gridDim (ik_emu::grid_dim)
static constexpr int warpSize = 32;

/* The runtime's C++ overload (cuda_runtime.h has it for nvcc only). */
template <class T> static inline cudaError_t cudaGetSymbolAddress(void **p, const T &symbol)
{
    return ik_emu::symbol_address(p, &symbol, sizeof symbol);
}

/* The call's place (the compiler's, through the default arguments): the
 * threads a barrier opens for must all wait at the same one. */
static inline void __syncthreads(const char *file = __builtin_FILE(), int line = __builtin_LINE())
{
    ik_emu::syncthreads(file, line);
}

template <class T>
static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32,
                                const char *file = __builtin_FILE(), int line = __builtin_LINE())
{
    static_assert(sizeof(T) <= sizeof(uint64_t), "a shuffle moves at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    bits = ik_emu::shfl_xor(mask, bits, lane_mask, width, file, line);
    T r;
    memcpy(&r, &bits, sizeof r);
    return r;
}

/* One thread of a launch runs at a time (blocks in turn, threads as
 * coroutines that switch only at a barrier or a shuffle): an atomic is a
 * plain read-modify-write, a fence orders nothing more, and a load that
 * bypasses L1 is a load. */
static inline int atomicAdd(int *p, int v)
{
    int old = *p;
    *p = old + v;
    return old;
}
static inline void __threadfence(void) {}
template <class T> static inline T __ldcg(const T *p) { return *p; }

/* kernels/cuda/mma.h's product, for the emulator (mma.h holds nvcc's). */
#define IK_CUDA_EMULATOR 1
static inline void ik_mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2],
                                     const char *file = __builtin_FILE(), int line = __builtin_LINE())
{
    ik_emu::mma_bf16_16816(d, a, b, file, line);
}

/* The IEEE operations nvcc never contracts; on the host (-ffp-contract=off)
 * the plain operators are the same. */
static inline float __fadd_rn(float a, float b) { return a + b; }
static inline float __fsub_rn(float a, float b) { return a - b; }
static inline float __fmul_rn(float a, float b) { return a * b; }
static inline float __fdiv_rn(float a, float b) { return a / b; }
static inline float __fsqrt_rn(float a) { return sqrtf(a); }
static inline float __uint_as_float(unsigned u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}
static inline unsigned __float_as_uint(float f)
{
    unsigned u;
    memcpy(&u, &f, sizeof u);
    return u;
}

#endif
