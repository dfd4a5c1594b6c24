/*
 * at_clock.h - timestamps.  One monotonic clock read per timestamp (vDSO,
 * no system call); Unix time is derived by adding an offset that the
 * exporter thread re-measures at every wake-up, so durations are exact and
 * span times follow wall-clock adjustments within one schedule delay.
 *
 * A sampled span reads the clock twice (start, end: the least a duration
 * needs), an unsampled one never.  Its Unix start and end are computed
 * together at its end, from the offset of that moment (an event, from the
 * offset at the event), so a duration never mixes two offsets.  A step
 * of the wall clock (settimeofday, an NTP step) shows in the spans that
 * end after the exporter's next wake-up, at most OTEL_BSP_SCHEDULE_DELAY
 * (5 s) later, sooner when a ring fills past its wake mark; spans ending
 * before then still carry the old offset.
 *
 * The two reads are about half of a sampled span's time on a VM whose
 * clock is kvm-clock (26-30 ns each, where the span's own work is about
 * as much).  Reading the TSC directly would cost less than half of that, but a
 * kernel that chose kvm-clock (or marked the TSC unstable) did so because
 * the TSC may jump or differ between CPUs there (migration, snapshot
 * restore): durations would be wrong, so the library keeps the kernel's
 * clock.
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
