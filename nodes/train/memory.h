/* nodes/train/memory.h - how much memory a training run needs and how much
 * the machine can give it, checked before the first step so that a run that
 * cannot fit fails at once with the figures instead of being killed by the
 * OOM killer an hour in. */
#ifndef IK_NODES_TRAIN_MEMORY_H
#define IK_NODES_TRAIN_MEMORY_H

#include <stdint.h>

/* The bytes this process may still allocate: /proc/meminfo's MemAvailable,
 * lowered to the cgroup's room (memory.max - memory.current, cgroup v2) when
 * that is smaller, and to IKADA_MEMORY_LIMIT (bytes) when that is set and
 * smaller (a share of a machine others use too). 0 when none can be read
 * (then nothing is refused). */
uint64_t ik_train_memory_available(void);

/* Peak resident set size of this process, in bytes (getrusage). */
uint64_t ik_train_peak_rss(void);

#endif
