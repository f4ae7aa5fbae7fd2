/* base/clock.h - the one place the clocks are read: monotonic for durations,
 * wall clock (CLOCK_REALTIME, since the epoch) for timestamps that are stored,
 * shown or compared with file times. Cannot fail. */
#ifndef IK_BASE_CLOCK_H
#define IK_BASE_CLOCK_H

#include <stdint.h>

int64_t ik_clock_monotonic_ms(void);
/* Monotonic seconds with nanosecond resolution, for rates (tokens/s). */
double ik_clock_monotonic_s(void);
int64_t ik_clock_wall_ms(void);
/* The wall clock in nanoseconds, for comparing with st_mtim. */
int64_t ik_clock_wall_ns(void);

#endif
