/* tests/cuda/emu/emu_runtime.cpp - the CUDA emulator's engine: kernel launches
 * run on the CPU (blocks in turn, a block's threads as coroutines meeting at
 * barriers), and the part of the CUDA runtime API the module calls (memory,
 * copies, errors, the one device). cuda_emu.h says what is modelled and what
 * is not. One launch runs at a time in the process: __shared__ variables are
 * static locals. */
#include <map>
#include <mutex>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/cuda/emu/cuda_emu.h"

/* ---- coroutines: one stack per thread of a block ---- */

#if defined(__x86_64__)
/* Saves the callee-saved registers on the current stack, stores its pointer
 * in *from and continues on to (the System V ABI: everything else is the
 * caller's to save; the FPU's control words are left alone, as no kernel
 * changes them). */
extern "C" void ik_emu_switch(void **from, void *to);
__asm__(".pushsection .text\n"
        ".p2align 4\n"
        ".hidden ik_emu_switch\n"
        ".globl ik_emu_switch\n"
        ".type ik_emu_switch,@function\n"
        "ik_emu_switch:\n"
        "  pushq %rbp\n  pushq %rbx\n  pushq %r12\n  pushq %r13\n  pushq %r14\n  pushq %r15\n"
        "  movq %rsp, (%rdi)\n"
        "  movq %rsi, %rsp\n"
        "  popq %r15\n  popq %r14\n  popq %r13\n  popq %r12\n  popq %rbx\n  popq %rbp\n"
        "  ret\n"
        ".size ik_emu_switch, .-ik_emu_switch\n"
        ".popsection\n");
#else
#error "the CUDA emulator switches stacks on x86-64 only"
#endif

namespace ik_emu {

/* Plain globals, not thread_local: one launch runs at a time. */
const uint3 *thread_idx;
uint3 block_idx;
dim3 block_dim, grid_dim;

namespace {

enum { STACK_BYTES = 128 << 10, MAX_THREADS = 1024, MAX_SHARED = 48 << 10 };

enum thread_wait { RUNNABLE, AT_SYNCTHREADS, AT_SHUFFLE, DONE };

struct thread_state {
    uint3 idx;
    int linear, lane, warp;
    thread_wait wait;
    unsigned shuffles; /* how many this thread has made: the slot parity */
    unsigned barriers; /* how many __syncthreads it has passed */
    const char *file;  /* where it waits (with line), to match the others' */
    int line;
    void *sp; /* saved stack pointer while switched out */
    char *stack_top;
};

/* One block's run. */
struct block_run {
    const std::function<void()> *body;
    thread_state threads[MAX_THREADS];
    int n;
    void *scheduler_sp;
    thread_state *cur;
    /* Each lane's value in a warp exchange, two slots (by parity) so that one
     * barrier per shuffle suffices: a lane writes slot p of shuffle k only
     * once every lane has read shuffle k - 2's. */
    uint64_t slot[2][MAX_THREADS];
    /* Each lane's operands of a tensor-core product (a 4, b 2, c 4 words),
     * by the same parity as slot: mma_bf16_16816. */
    uint32_t mma_slot[2][MAX_THREADS][10];
    const char *failure; /* why the block cannot go on */
    /* The launch's dynamic shared memory: its last bytes end where a guard
     * page begins (guarded_shared), so reading past the size the launch
     * gave faults, as the GPU's bounds check would. */
    unsigned char *shared_end;
    unsigned char *shared;
};

block_run *run_state; /* the block now running (the launch lock held) */
const char *running_kernel; /* its kernel, for a fault's message */
const unsigned char *shared_guard; /* the page after the dynamic shared memory */
const char *stacks_low; /* the threads' stacks' mapping (make_stacks) */
unsigned long launches;
unsigned long block_serial; /* blocks run so far, for shared_fresh */
std::mutex launch_lock;

void yield_to_scheduler(thread_wait w, const char *file = NULL, int line = 0)
{
    block_run *b = run_state;
    thread_state *t = b->cur;
    t->wait = w;
    t->file = file;
    t->line = line;
    ik_emu_switch(&t->sp, b->scheduler_sp);
}

/* Where each coroutine starts (it never returns: its stack has nothing to
 * return to). */
void thread_entry()
{
    block_run *b = run_state;
    (*b->body)();
    yield_to_scheduler(DONE);
    abort();
}

void prepare(thread_state *t)
{
    /* The stack as ik_emu_switch leaves one: six registers, then the address
     * its ret goes to; entered with rsp = 8 mod 16, as after a call. */
    uintptr_t top = (uintptr_t)t->stack_top & ~(uintptr_t)15;
    uint64_t *sp = (uint64_t *)(top - 64);
    memset(sp, 0, 64);
    sp[6] = (uint64_t)(uintptr_t)thread_entry;
    t->sp = sp;
}

bool same_site(const thread_state *a, const thread_state *b)
{
    return a->line == b->line && strcmp(a->file, b->file) == 0;
}

/* Runs warp w's lanes (in ORDER) until none can go on alone: each lane to
 * its next wait; a shuffle every lane of the warp waits at opens at once.
 * False, with b->failure said, when the warp can never get past where it
 * stands. */
bool run_warp(block_run *b, int w, bool reverse)
{
    int w0 = w * 32, end = w0 + 32 < b->n ? w0 + 32 : b->n;
    for (;;) {
        for (int k = 0; k < end - w0; k++) {
            thread_state *t = &b->threads[reverse ? end - 1 - k : w0 + k];
            if (t->wait == RUNNABLE) {
                b->cur = t;
                thread_idx = &t->idx;
                ik_emu_switch(&b->scheduler_sp, t->sp);
            }
        }
        if (b->failure != NULL)
            return false;
        int at_shuffle = 0;
        for (int i = w0; i < end; i++)
            at_shuffle += b->threads[i].wait == AT_SHUFFLE;
        if (at_shuffle == 0)
            return true; /* at __syncthreads or returned: the block decides */
        if (end - w0 < 32) {
            b->failure = "a full-warp shuffle in a warp the block does not fill";
            return false;
        }
        for (int i = w0; i < end; i++) {
            const thread_state *t = &b->threads[i], *t0 = &b->threads[w0];
            if (t->wait == DONE) {
                b->failure = "a full-warp shuffle while lanes of the warp have returned";
                return false;
            }
            if (t->wait != AT_SHUFFLE || !same_site(t, t0) || t->shuffles != t0->shuffles) {
                b->failure = "lanes of a warp wait at different places (a shuffle beside "
                             "__syncthreads or another shuffle, under divergent control flow): "
                             "the warp would hang or exchange the wrong values";
                return false;
            }
        }
        for (int i = w0; i < end; i++)
            b->threads[i].wait = RUNNABLE;
    }
}

/* Opens __syncthreads when every thread of the block waits at the same one
 * (CUDA leaves a barrier that only part of the block reaches undefined);
 * 1 opened, 0 all done, -1 with b->failure said. */
int open_block_barrier(block_run *b)
{
    int done = 0;
    for (int i = 0; i < b->n; i++)
        done += b->threads[i].wait == DONE;
    if (done == b->n)
        return 0;
    if (done > 0) {
        b->failure = "__syncthreads reached by part of the block only (the other threads returned)";
        return -1;
    }
    const thread_state *t0 = &b->threads[0];
    for (int i = 0; i < b->n; i++) {
        const thread_state *t = &b->threads[i];
        if (!same_site(t, t0) || t->barriers != t0->barriers) {
            b->failure = "threads wait at different __syncthreads (under divergent control flow): "
                         "the block would hang";
            return -1;
        }
    }
    for (int i = 0; i < b->n; i++) {
        b->threads[i].wait = RUNNABLE;
        b->threads[i].barriers++;
    }
    return 1;
}

/* Runs one block to its end; 0, or -1 with b->failure said. One warp at a
 * time runs until it waits at __syncthreads or returns (its shuffles open
 * as its lanes meet), warps and lanes first to last or, when REVERSE, last
 * to first: so no warp sees another's work before a barrier says so, and a
 * missing barrier shows whichever thread a GPU would run first. */
int run_block(block_run *b, bool reverse)
{
    for (int i = 0; i < b->n; i++) {
        b->threads[i].wait = RUNNABLE;
        b->threads[i].shuffles = 0;
        b->threads[i].barriers = 0;
        prepare(&b->threads[i]);
    }
    int warps = (b->n + 31) / 32;
    for (;;) {
        for (int k = 0; k < warps; k++)
            if (!run_warp(b, reverse ? warps - 1 - k : k, reverse))
                return -1;
        int opened = open_block_barrier(b);
        if (opened <= 0)
            return opened;
    }
}

/* The threads' stacks, one mapping. Each stack's top is moved down by a
 * different number of cache lines: tops a power of two apart would share
 * the caches' sets, and every switch would miss. */
void make_stacks(thread_state *threads)
{
    size_t bytes = (size_t)STACK_BYTES * MAX_THREADS;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        perror("ikada CUDA emulator: mmap of the threads' stacks");
        abort();
    }
    stacks_low = (const char *)p;
    /* The lowest page of each is a guard: a thread that overflows its
     * stack faults there instead of overwriting its neighbour's. */
    for (int i = 0; i < MAX_THREADS; i++) {
        threads[i].stack_top = (char *)p + (size_t)STACK_BYTES * (i + 1) - (size_t)(i % 61) * 64;
        if (mprotect((char *)p + (size_t)STACK_BYTES * i, 4096, PROT_NONE) != 0) {
            perror("ikada CUDA emulator: mprotect of a stack's guard page");
            abort();
        }
    }
}

/* MAX_SHARED bytes followed by a page no one may touch; returns the end. */
unsigned char *guarded_shared(void)
{
    size_t bytes = MAX_SHARED + 4096;
    void *p = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect((char *)p + MAX_SHARED, 4096, PROT_NONE) != 0) {
        perror("ikada CUDA emulator: mmap of the shared memory's guard page");
        abort();
    }
    return (unsigned char *)p + MAX_SHARED;
}

/* ---- a fault inside a kernel: say which, then die of it ---- */


void write_text(const char *s) { (void)!write(2, s, strlen(s)); }

/* A kernel's bad access is a SIGSEGV (the guard pages, a wild pointer): the
 * message names the kernel and what the address was; the signal then kills
 * the process as it would have (SA_RESETHAND). */
void on_segv(int sig, siginfo_t *info, void *ctx)
{
    (void)ctx;
    const char *k = running_kernel;
    const char *a = (const char *)info->si_addr;
    if (k != NULL) {
        write_text("ikada CUDA emulator: kernel ");
        write_text(k);
        if (shared_guard != NULL && a >= (const char *)shared_guard && a < (const char *)shared_guard + 4096)
            write_text(": an access past the end of its dynamic shared memory (the size its launch gave)\n");
        else if (stacks_low != NULL && a >= stacks_low && a < stacks_low + (size_t)STACK_BYTES * MAX_THREADS &&
                 (size_t)(a - stacks_low) % STACK_BYTES < 4096)
            write_text(": a thread overflowed its stack (local arrays too large)\n");
        else
            write_text(": a bad memory access (a pointer that is not the kernel's to use)\n");
    }
    raise(sig);
}

/* Once per thread that launches: an alternate stack (the fault may be a
 * stack overflow) and the handler. */
void catch_faults(void)
{
    static thread_local bool done;
    if (done)
        return;
    done = true;
    /* Page-aligned (mmap): AddressSanitizer unpoisons an alternate stack
     * by its shadow granules and checks the alignment. */
    size_t bytes = 64 << 10;
    void *alt = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (alt == MAP_FAILED)
        return; /* a fault is then reported without the kernel's name */
    stack_t ss = {};
    ss.ss_sp = alt;
    ss.ss_size = bytes;
    sigaltstack(&ss, NULL);
    struct sigaction sa = {};
    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESETHAND;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
}

/* ---- the runtime's state ---- */

std::mutex state_lock;
std::map<uintptr_t, size_t> allocations; /* device memory: base -> bytes */
size_t allocated;
thread_local cudaError_t last_error = cudaSuccess;
cudaError_t sticky = cudaSuccess; /* a failed kernel: the context is lost */

size_t memory_limit()
{
    static const size_t bytes = [] {
        const char *e = getenv("IKADA_CUDA_EMU_MEMORY_MIB");
        return (size_t)(e != NULL && atol(e) > 0 ? atol(e) : 8192) << 20;
    }();
    return bytes;
}

cudaError_t set_error(cudaError_t e)
{
    if (e != cudaSuccess)
        last_error = e;
    return e;
}

/* An execution fault: the context is lost. As on a GPU, the launch itself
 * reported success; the next call that waits (or any later one) returns it. */
void kernel_failed(const char *kernel, const uint3 &block, const char *why,
                   cudaError_t e = cudaErrorLaunchFailure)
{
    fprintf(stderr, "ikada CUDA emulator: kernel %s, block (%u, %u, %u): %s\n", kernel, block.x,
            block.y, block.z, why);
    std::lock_guard<std::mutex> g(state_lock);
    sticky = e;
}

} /* namespace */

bool in_device_memory(const void *p, size_t bytes)
{
    std::lock_guard<std::mutex> g(state_lock);
    uintptr_t u = (uintptr_t)p;
    auto it = allocations.upper_bound(u);
    if (it == allocations.begin())
        return false;
    --it;
    return u >= it->first && u + bytes <= it->first + it->second && u + bytes >= u;
}

/* A GPU would fault on the first access, and lose the context. */
bool device_pointer_arg(const char *kernel, int index, const void *p)
{
    if (in_device_memory(p, 0))
        return true;
    char why[96];
    snprintf(why, sizeof why, "argument %d (%p) is not device memory", index + 1, p);
    kernel_failed(kernel, uint3{0, 0, 0}, why, cudaErrorIllegalAddress);
    return false;
}

void syncthreads(const char *file, int line) { yield_to_scheduler(AT_SYNCTHREADS, file, line); }

uint64_t shfl_xor(unsigned mask, uint64_t bits, int lane_mask, int width, const char *file, int line)
{
    block_run *b = run_state;
    thread_state *t = b->cur;
    if (mask != 0xffffffffu || width != 32) {
        b->failure = "a shuffle with a partial mask or width (the emulator has only full warps)";
        yield_to_scheduler(AT_SHUFFLE, file, line); /* the scheduler sees the failure */
    }
    /* shuffles counts before the wait, so the lanes' counts match there */
    unsigned parity = t->shuffles & 1u;
    b->slot[parity][t->linear] = bits;
    yield_to_scheduler(AT_SHUFFLE, file, line);
    t->shuffles++;
    int from = t->warp * 32 + ((t->lane ^ lane_mask) & 31);
    return b->slot[parity][from];
}

/* A BF16 value's float: its 16 bits are the float's high half. */
static float bf16_bits_float(uint32_t word, int high)
{
    uint32_t u = (high ? word >> 16 : word & 0xffffu) << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The PTX ISA's layout of m16n8k16 (g = lane / 4, q = lane % 4): A (16x16,
 * row-major) word w of lane (g, q) holds row g + 8 (w & 1), columns
 * 2q + 8 (w >> 1) and one more (low half first); B (16x8, k by n) word w
 * holds column g, rows 2q + 8 w and one more; C and D hold row g + 8 (i >> 1),
 * column 2q + (i & 1) in element i. */
void mma_bf16_16816(float d[4], const uint32_t a[4], const uint32_t b[2], const char *file, int line)
{
    block_run *bl = run_state;
    thread_state *t = bl->cur;
    unsigned parity = t->shuffles & 1u;
    uint32_t *mine = bl->mma_slot[parity][t->linear];
    memcpy(mine, a, 4 * sizeof *a);
    memcpy(mine + 4, b, 2 * sizeof *b);
    memcpy(mine + 6, d, 4 * sizeof *d);
    yield_to_scheduler(AT_SHUFFLE, file, line);
    t->shuffles++;
    const uint32_t(*warp)[10] = &bl->mma_slot[parity][t->warp * 32];
    int g = t->lane >> 2, q = t->lane & 3;
    for (int i = 0; i < 4; i++) {
        int row = g + 8 * (i >> 1), col = 2 * q + (i & 1);
        float s;
        memcpy(&s, &mine[6 + i], sizeof s);
        for (int k = 0; k < 16; k++) {
            int a_lane = (row % 8) * 4 + (k % 8) / 2, a_word = (row >= 8) + 2 * (k >= 8);
            int b_lane = col * 4 + (k % 8) / 2, b_word = k >= 8;
            s += bf16_bits_float(warp[a_lane][a_word], k & 1) *
                 bf16_bits_float(warp[b_lane][4 + b_word], k & 1);
        }
        d[i] = s;
    }
}

/* A GPU faults on a misaligned access (and loses the context): the block
 * stops here. */
void misaligned(const void *p, int bytes, const char *file, int line)
{
    static char why[200];
    snprintf(why, sizeof why, "a %d-byte access at %p, which is not %d-byte aligned (%s:%d)", bytes,
             p, bytes, file, line);
    run_state->failure = why;
    yield_to_scheduler(AT_SHUFFLE, file, line); /* the scheduler sees the failure */
}

void *dynamic_shared() { return run_state->shared; }

void shared_fresh(void *p, size_t bytes, unsigned long *serial)
{
    if (*serial != block_serial) {
        memset(p, 0xff, bytes);
        *serial = block_serial;
    }
}

/* Kernels may be handed the variable's address: it counts as device memory. */
cudaError_t symbol_address(void **p, const void *symbol, size_t bytes)
{
    *p = (void *)symbol;
    std::lock_guard<std::mutex> g(state_lock);
    allocations.emplace((uintptr_t)symbol, bytes);
    return sticky != cudaSuccess ? set_error(sticky) : cudaSuccess;
}

void run(const char *kernel, dim3 grid, dim3 block, size_t shared_bytes,
         const std::function<void()> &body)
{
    {
        std::lock_guard<std::mutex> g(state_lock);
        if (sticky != cudaSuccess) {
            set_error(sticky);
            return;
        }
    }
    uint64_t threads = (uint64_t)block.x * block.y * block.z;
    if (grid.x == 0 || grid.y == 0 || grid.z == 0 || threads == 0 || threads > MAX_THREADS ||
        block.z > 64 || grid.y > 65535 || grid.z > 65535) {
        fprintf(stderr, "ikada CUDA emulator: kernel %s: grid (%u, %u, %u), block (%u, %u, %u)\n",
                kernel, grid.x, grid.y, grid.z, block.x, block.y, block.z);
        set_error(cudaErrorInvalidConfiguration);
        return;
    }
    if (shared_bytes > MAX_SHARED) {
        fprintf(stderr, "ikada CUDA emulator: kernel %s: %zu bytes of dynamic shared memory\n",
                kernel, shared_bytes);
        set_error(cudaErrorInvalidValue);
        return;
    }
    std::lock_guard<std::mutex> g(launch_lock);
    static block_run *b = [] {
        block_run *r = new block_run();
        make_stacks(r->threads);
        r->shared_end = guarded_shared();
        shared_guard = r->shared_end;
        return r;
    }();
    catch_faults();
    running_kernel = kernel;
    b->body = &body;
    /* The array's start keeps the 16-byte alignment a GPU gives it. */
    b->shared = b->shared_end - ((shared_bytes + 15) & ~(size_t)15);
    b->n = (int)threads;
    b->failure = NULL;
    for (int i = 0; i < b->n; i++) {
        thread_state *t = &b->threads[i];
        t->idx = uint3{(unsigned)i % block.x, (unsigned)i / block.x % block.y,
                       (unsigned)i / (block.x * block.y)};
        t->linear = i;
        t->lane = i & 31;
        t->warp = i >> 5;
    }
    launches++; /* the threads' order alternates by launch and by block */
    run_state = b;
    grid_dim = grid;
    block_dim = block;
    /* Blocks in order, or on odd launches in reverse: a block that reads
     * what another block of the same launch writes shows either way. */
    uint64_t blocks = (uint64_t)grid.x * grid.y * grid.z;
    for (uint64_t k = 0; k < blocks; k++) {
        uint64_t i = launches & 1 ? blocks - 1 - k : k;
        block_idx = uint3{(unsigned)(i % grid.x), (unsigned)(i / grid.x % grid.y),
                          (unsigned)(i / ((uint64_t)grid.x * grid.y))};
        block_serial++;
        /* Shared memory holds garbage at a block's start (the static arrays
         * get theirs as the kernel declares them: shared_fresh). */
        memset(b->shared, 0xff, (size_t)(b->shared_end - b->shared));
        if (run_block(b, ((launches + i) & 1) != 0) != 0) {
            kernel_failed(kernel, block_idx, b->failure);
            run_state = NULL;
            running_kernel = NULL;
            return;
        }
    }
    run_state = NULL;
    running_kernel = NULL;
}

} /* namespace ik_emu */

/* ---- the CUDA runtime API, as much as kernels/cuda/ calls ---- */

using namespace ik_emu;

static cudaError_t returned(cudaError_t e)
{
    std::lock_guard<std::mutex> g(state_lock);
    if (sticky != cudaSuccess)
        return set_error(sticky);
    return set_error(e);
}

extern "C" {

cudaError_t cudaGetLastError(void)
{
    std::lock_guard<std::mutex> g(state_lock);
    cudaError_t e = last_error;
    last_error = sticky;
    return e;
}

const char *cudaGetErrorString(cudaError_t e)
{
    switch (e) {
    case cudaSuccess: return "no error";
    case cudaErrorInvalidValue: return "invalid argument";
    case cudaErrorMemoryAllocation: return "out of memory";
    case cudaErrorInvalidConfiguration: return "invalid configuration argument";
    case cudaErrorLaunchFailure: return "unspecified launch failure";
    case cudaErrorIllegalAddress: return "an illegal memory access was encountered";
    case cudaErrorInvalidDevice: return "invalid device ordinal";
    case cudaErrorInvalidMemcpyDirection: return "invalid copy direction for memcpy";
    default: return "unrecognized error code";
    }
}

cudaError_t cudaGetDeviceCount(int *n)
{
    *n = 1;
    return returned(cudaSuccess);
}

cudaError_t cudaSetDevice(int device) { return returned(device == 0 ? cudaSuccess : cudaErrorInvalidDevice); }

cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int device)
{
    if (device != 0)
        return returned(cudaErrorInvalidDevice);
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "ikada CUDA emulator (CPU)");
    p->major = 9;
    p->minor = 0;
    p->totalGlobalMem = memory_limit();
    p->sharedMemPerBlock = MAX_SHARED;
    p->warpSize = 32;
    p->maxThreadsPerBlock = MAX_THREADS;
    p->multiProcessorCount = 1;
    return returned(cudaSuccess);
}

cudaError_t cudaMemGetInfo(size_t *free_bytes, size_t *total_bytes)
{
    std::lock_guard<std::mutex> g(state_lock);
    *total_bytes = memory_limit();
    *free_bytes = memory_limit() - allocated;
    return set_error(sticky);
}

/* Device memory is handed out full of 0xff bytes (NaN as fp32 and BF16), so
 * a kernel that reads what nothing wrote gives NaN, not a lucky zero. */
cudaError_t cudaMalloc(void **p, size_t bytes)
{
    *p = NULL;
    size_t rounded = (bytes + 255) & ~(size_t)255;
    {
        std::lock_guard<std::mutex> g(state_lock);
        if (sticky != cudaSuccess)
            return set_error(sticky);
        if (rounded > memory_limit() - allocated)
            return set_error(cudaErrorMemoryAllocation);
    }
    /* Exactly the bytes asked for (the accounting counts the device's 256-byte
     * granules): under AddressSanitizer a kernel reading past the end is
     * caught, where a GPU would read the granule's padding. */
    void *q = NULL;
    if (posix_memalign(&q, 256, bytes == 0 ? 1 : bytes) != 0)
        return set_error(cudaErrorMemoryAllocation);
    memset(q, 0xff, bytes);
    std::lock_guard<std::mutex> g(state_lock);
    allocations[(uintptr_t)q] = bytes;
    allocated += rounded;
    *p = q;
    return cudaSuccess;
}

cudaError_t cudaFree(void *p)
{
    if (p == NULL)
        return returned(cudaSuccess);
    {
        std::lock_guard<std::mutex> g(state_lock);
        auto it = allocations.find((uintptr_t)p);
        if (it == allocations.end())
            return set_error(cudaErrorInvalidValue);
        allocated -= (it->second + 255) & ~(size_t)255;
        allocations.erase(it);
    }
    free(p);
    return returned(cudaSuccess);
}

static cudaError_t copy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    bool d = in_device_memory(dst, bytes), s = in_device_memory(src, bytes);
    bool ok = kind == cudaMemcpyHostToDevice   ? d && !in_device_memory(src, 0)
              : kind == cudaMemcpyDeviceToHost ? s && !in_device_memory(dst, 0)
              : kind == cudaMemcpyDeviceToDevice ? d && s
              : kind == cudaMemcpyDefault ? (d || !in_device_memory(dst, 0)) && (s || !in_device_memory(src, 0))
                                          : !in_device_memory(dst, 0) && !in_device_memory(src, 0);
    if (!ok) {
        fprintf(stderr, "ikada CUDA emulator: cudaMemcpy of %zu bytes, kind %d: dst %p %s, src %p %s\n",
                bytes, (int)kind, dst, d ? "device" : "not (all) device", src,
                s ? "device" : "not (all) device");
        return returned(cudaErrorInvalidValue);
    }
    memmove(dst, src, bytes);
    return returned(cudaSuccess);
}

cudaError_t cudaMemcpy(void *dst, const void *src, size_t bytes, cudaMemcpyKind kind)
{
    return copy(dst, src, bytes, kind);
}

static cudaError_t fill(void *p, int value, size_t bytes)
{
    if (!in_device_memory(p, bytes)) {
        fprintf(stderr, "ikada CUDA emulator: cudaMemset of %zu bytes at %p: not device memory\n",
                bytes, p);
        return returned(cudaErrorInvalidValue);
    }
    memset(p, value, bytes);
    return returned(cudaSuccess);
}

cudaError_t cudaMemset(void *p, int value, size_t bytes) { return fill(p, value, bytes); }

cudaError_t cudaMemsetAsync(void *p, int value, size_t bytes, cudaStream_t stream)
{
    (void)stream;
    return fill(p, value, bytes);
}

cudaError_t cudaMemcpy2DAsync(void *dst, size_t dpitch, const void *src, size_t spitch,
                              size_t width, size_t height, cudaMemcpyKind kind, cudaStream_t stream)
{
    (void)stream;
    if (width > dpitch || width > spitch)
        return returned(cudaErrorInvalidValue);
    for (size_t r = 0; r < height; r++) {
        cudaError_t e = copy((char *)dst + r * dpitch, (const char *)src + r * spitch, width, kind);
        if (e != cudaSuccess)
            return e;
    }
    return returned(cudaSuccess);
}

cudaError_t cudaMemset2DAsync(void *p, size_t pitch, int value, size_t width, size_t height,
                              cudaStream_t stream)
{
    (void)stream;
    if (width > pitch)
        return returned(cudaErrorInvalidValue);
    for (size_t r = 0; r < height; r++) {
        cudaError_t e = fill((char *)p + r * pitch, value, width);
        if (e != cudaSuccess)
            return e;
    }
    return returned(cudaSuccess);
}

cudaError_t cudaDeviceSynchronize(void) { return returned(cudaSuccess); }

cudaError_t cudaGetSymbolAddress(void **p, const void *symbol)
{
    (void)p, (void)symbol;
    fprintf(stderr, "ikada CUDA emulator: cudaGetSymbolAddress's C form: its size is unknown\n");
    return returned(cudaErrorInvalidValue);
}

} /* extern "C" */
