/*
 * at_clock.h - timestamps.  One monotonic clock read per timestamp (vDSO,
 * no system call); Unix time is derived by adding an offset that the
 * exporter thread re-measures at every wake-up, so durations are exact and
 * span times follow wall-clock adjustments within one schedule delay.
 */
#ifndef AT_CLOCK_H
#define AT_CLOCK_H

#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

extern _Atomic int64_t at_clock_offset_ns; /* realtime - monotonic */

static inline uint64_t at_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline uint64_t at_unix_from_mono(uint64_t mono)
{
	return mono + (uint64_t)atomic_load_explicit(&at_clock_offset_ns,
						     memory_order_relaxed);
}

/* Measure the offset again. */
void at_clock_sync(void);

#endif
