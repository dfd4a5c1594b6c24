/* Unit tests of timestamps (at_clock.h): Unix time from the monotonic
 * clock and the offset, and a span's times (generous bounds only: the
 * tests never depend on how fast the machine is). */
#include <criterion/criterion.h>
#include <time.h>

#include "at_clock.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

#define SECOND 1000000000ull

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * SECOND + (uint64_t)ts.tv_nsec;
}

static void drain_ring(void)
{
	struct at_thread *t = at_thread_get();

	while (at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
}

static void setup(void)
{
	ut_core_setup();
	drain_ring();
}

TestSuite(clock, .init = setup);

Test(clock, unix_time_from_the_monotonic_clock)
{
	uint64_t before, derived, after;

	at_clock_sync();
	before = realtime_ns();
	derived = at_unix_from_mono(at_mono_ns());
	after = realtime_ns();
	cr_assert_geq(derived + SECOND, before);
	cr_assert_leq(derived, after + SECOND);
}

/* The Unix end time of a span started and ended now (its start not
 * after its end). */
static uint64_t span_end_unix(void)
{
	struct at_span s;
	const struct at_span_hdr *r;
	uint64_t end;

	at_span_start(&s, "s", 1, AT_KIND_INTERNAL);
	at_span_end(&s);
	r = at_ring_peek(&at_thread_get()->ring);
	cr_assert_not_null(r);
	cr_assert_leq(r->start_unix_ns, r->end_unix_ns);
	end = r->end_unix_ns;
	at_ring_pop(&at_thread_get()->ring);
	return end;
}

/* A wall clock that moved (here: an offset that is off by an hour) shows
 * in the spans that end after the next at_clock_sync, not before; the
 * duration comes from the monotonic clock either way. */
Test(clock, a_stepped_wall_clock_shows_after_the_next_sync)
{
	const uint64_t hour = 3600 * SECOND;
	uint64_t end;

	at_clock_sync();
	atomic_store(&at_clock_offset_ns,
		     atomic_load(&at_clock_offset_ns) - (int64_t)hour);
	end = span_end_unix();
	cr_assert_leq(end + hour - SECOND, realtime_ns(), "old offset");

	at_clock_sync();
	end = span_end_unix();
	cr_assert_geq(end + SECOND, realtime_ns(), "offset measured again");
	cr_assert_leq(end, realtime_ns() + SECOND);
}
