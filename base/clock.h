/* base/clock.h - time in milliseconds: monotonic for durations, wall clock
 * for timestamps that are stored or shown. Cannot fail. */
#ifndef IK_BASE_CLOCK_H
#define IK_BASE_CLOCK_H

#include <stdint.h>

int64_t ik_clock_monotonic_ms(void);
int64_t ik_clock_wall_ms(void);

#endif
