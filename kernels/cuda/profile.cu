/* kernels/cuda/profile.cu - where a step's device time goes (cuda_ops.h:
 * ->profile_set, ->profile_report), for a first look on a new GPU without a
 * profiler: while on, every launch and library call the module makes waits
 * for the device (ik_cuda__launched, ik_cuda__queued call
 * ik_cuda__profile_mark), and the wall time since the previous wait is added
 * to that call's name. Work then runs one call at a time, so the totals are
 * each call's own time plus its launch, and the step is slower than
 * without: a breakdown, not a benchmark. */
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <stdio.h>
#include <string.h>
#include <cuda_runtime.h>

#include "kernels/cuda/cuda_util.h"

enum { MAX_NAMES = 128 };

struct profile_entry {
    const char *name; /* a string literal of the module's, or the emulator's */
    long calls;
    double seconds;
};

static std::mutex lock;
static std::atomic<bool> on; /* read without the lock on every call */
static double last_mark;
static profile_entry entries[MAX_NAMES];
static int n_entries;

static double now_s(void)
{
    using namespace std::chrono;
    return duration<double>(steady_clock::now().time_since_epoch()).count();
}

/* The entry of name (found by address, then by text), or a new one; NULL
 * when the table is full (the time is then not counted). */
static profile_entry *entry_of(const char *name)
{
    for (int i = 0; i < n_entries; i++)
        if (entries[i].name == name || strcmp(entries[i].name, name) == 0)
            return &entries[i];
    if (n_entries == MAX_NAMES)
        return NULL;
    entries[n_entries] = profile_entry{name, 0, 0.0};
    return &entries[n_entries++];
}

void ik_cuda__profile_mark(const char *what)
{
    if (!on.load(std::memory_order_relaxed)) /* every launch comes here: no lock when off */
        return;
    std::lock_guard<std::mutex> g(lock);
    if (!on)
        return;
    cudaDeviceSynchronize(); /* an error stays the runtime's, for the next checked call */
    double t = now_s();
    if (profile_entry *e = entry_of(what)) {
        e->calls++;
        e->seconds += t - last_mark;
    }
    last_mark = t;
}

extern "C" int ik_cuda_profile_set(int enable)
{
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
        return ik_cuda__fail("cudaDeviceSynchronize", "profile_set", e);
    std::lock_guard<std::mutex> g(lock);
    on = enable != 0;
    last_mark = now_s();
    return 0;
}

extern "C" int ik_cuda_profile_report(char *buf, size_t cap)
{
    std::lock_guard<std::mutex> g(lock);
    std::sort(entries, entries + n_entries,
              [](const profile_entry &a, const profile_entry &b) { return a.seconds > b.seconds; });
    double total = 0;
    for (int i = 0; i < n_entries; i++)
        total += entries[i].seconds;
    size_t len = 0;
    if (cap > 0)
        buf[0] = '\0';
    for (int i = 0; i < n_entries && len + 1 < cap; i++) {
        int w = snprintf(buf + len, cap - len, "%-36s %8ld calls %11.3f ms %5.1f%%\n", entries[i].name,
                         entries[i].calls, entries[i].seconds * 1e3,
                         total > 0 ? 100.0 * entries[i].seconds / total : 0.0);
        if (w < 0 || (size_t)w >= cap - len)
            break;
        len += (size_t)w;
    }
    n_entries = 0;
    return 0;
}
