/*
 * at_clock.c - the realtime/monotonic offset (see at_clock.h).
 *
 * The offset is measured as realtime minus the midpoint of two monotonic
 * reads around it, the best estimate one read of each clock allows.
 */
#include <stdatomic.h>

#include "at_clock.h"

_Atomic int64_t at_clock_offset_ns;

void at_clock_sync(void)
{
	struct timespec rt;
	uint64_t m1, m2, real;

	m1 = at_mono_ns();
	clock_gettime(CLOCK_REALTIME, &rt);
	m2 = at_mono_ns();
	real = (uint64_t)rt.tv_sec * 1000000000u + (uint64_t)rt.tv_nsec;
	atomic_store_explicit(&at_clock_offset_ns,
			      (int64_t)(real - (m1 + (m2 - m1) / 2)),
			      memory_order_relaxed);
}
