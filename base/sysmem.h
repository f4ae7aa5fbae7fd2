/* base/sysmem.h - what the machine can give: memory, cores, and what this
 * process took. A training run checks memory before its first step (so it
 * fails at once with the figures instead of being killed by the OOM killer
 * an hour in), and the scheduler starts no node whose `resources: mem` would
 * overcommit it. */
#ifndef IK_BASE_SYSMEM_H
#define IK_BASE_SYSMEM_H

#include <stdint.h>

/* The bytes this process may still allocate: /proc/meminfo's MemAvailable,
 * lowered to the cgroup's room (memory.max - memory.current, cgroup v2) when
 * that is smaller, and to IKADA_MEMORY_LIMIT (bytes) when that is set and
 * smaller (a share of a machine others use too). 0 when none can be read
 * (then nothing is refused). */
uint64_t ik_mem_available(void);

/* Peak resident set size of this process, in bytes (getrusage). */
uint64_t ik_peak_rss(void);

/* Online CPU cores, at least 1. */
int ik_cores(void);

#endif
