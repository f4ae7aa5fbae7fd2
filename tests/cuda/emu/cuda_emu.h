/* tests/cuda/emu/cuda_emu.h - the CUDA C that each kernels/cuda/<op>.cu is
 * written in, for the host's C++ compiler: the CUDA emulator's contract with the
 * module's sources. Each .cu is compiled by g++ with this header included
 * first (-include) after tests/cuda/emu/to_host.pl has rewritten the two
 * pieces of syntax a C++ compiler cannot take (a <<<grid, block>>> launch and
 * an extern __shared__ array); nothing in kernels/cuda/ knows of it.
 *
 * What it models (tests/cuda/emu/emu_runtime.cpp runs it): a launch runs its
 * blocks one after another on the calling thread, and a block's threads as
 * coroutines, each until it waits at __syncthreads() or a warp shuffle, in
 * turn, first to last or last to first (alternating by block and launch, so
 * a missing barrier shows whichever thread a GPU would run first); a
 * barrier opens when every thread it waits for has arrived, and one that can
 * never open (a barrier under divergent control flow or after some threads
 * returned, a shuffle in a warp with lanes gone) fails the launch, naming
 * the kernel, where a GPU would hang or be undefined. __shared__ variables
 * are the kernel's static locals (one block runs at a time), the dynamic
 * array a buffer filled with NaN per block. Device memory is host memory,
 * handed out filled with NaN bytes, and every pointer a kernel is launched
 * with must lie in it.
 *
 * What it does not model: timing, races between threads but for the order
 * above, nvcc's contraction of a * b + c into an FMA (the
 * emulator's objects are compiled with -ffp-contract=off: __fmul_rn and the
 * like are what the plain operators give), and the exact results of the
 * device's expf/logf (the host libm's, within an ulp or two of them). */
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
void syncthreads();
uint64_t shfl_xor(unsigned mask, uint64_t bits, int lane_mask, int width);
/* The block's dynamic shared memory (the launch's third argument). */
void *dynamic_shared();

/* Runs body as every thread of every block of the launch; the kernel's name
 * is for errors. Sets the runtime's last error as a real launch would. */
void run(const char *kernel, dim3 grid, dim3 block, size_t shared_bytes,
         const std::function<void()> &body);
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

static inline void __syncthreads(void) { ik_emu::syncthreads(); }

template <class T> static inline T __shfl_xor_sync(unsigned mask, T v, int lane_mask, int width = 32)
{
    static_assert(sizeof(T) <= sizeof(uint64_t), "a shuffle moves at most 8 bytes");
    uint64_t bits = 0;
    memcpy(&bits, &v, sizeof v);
    bits = ik_emu::shfl_xor(mask, bits, lane_mask, width);
    T r;
    memcpy(&r, &bits, sizeof r);
    return r;
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
