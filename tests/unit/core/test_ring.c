/* Unit tests of the SPSC byte ring: order, full, wrap, record bound, and a
 * producer/consumer pair on two threads (also run under ThreadSanitizer). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "at_ring.h"

struct rec {
	uint32_t size;
	uint32_t seq;
	uint8_t fill[];
};

static int push(struct at_ring *r, uint32_t size, uint32_t seq)
{
	struct rec *p = at_ring_reserve(r, size);
	if (!p)
		return -1;
	p->size = size;
	p->seq = seq;
	memset(p->fill, (int)(seq & 0xff), size - 8);
	at_ring_commit(r, size);
	return 0;
}

static int pop(struct at_ring *r, uint32_t *seq, uint32_t *size)
{
	const struct rec *p = at_ring_peek(r);
	if (!p)
		return -1;
	*seq = p->seq;
	*size = p->size;
	for (uint32_t i = 0; i < p->size - 8; i++)
		if (p->fill[i] != (uint8_t)(p->seq & 0xff))
			return -2;
	at_ring_pop(r);
	return 0;
}

Test(ring, fifo_order)
{
	static uint8_t buf[1024] __attribute__((aligned(8)));
	struct at_ring r;
	uint32_t seq = 0, size = 0;

	at_ring_init(&r, buf, sizeof(buf), 100);
	cr_assert(at_ring_empty(&r));
	for (uint32_t i = 0; i < 10; i++)
		cr_assert_eq(push(&r, 16 + 8 * (i % 3), i), 0);
	for (uint32_t i = 0; i < 10; i++) {
		cr_assert_eq(pop(&r, &seq, &size), 0);
		cr_assert_eq(seq, i);
		cr_assert_eq(size, 16 + 8 * (i % 3));
	}
	cr_assert_eq(pop(&r, &seq, &size), -1);
	cr_assert(at_ring_empty(&r));
}

Test(ring, full_drops_then_recovers)
{
	static uint8_t buf[256] __attribute__((aligned(8)));
	struct at_ring r;
	uint32_t seq = 0, size = 0, n = 0;

	at_ring_init(&r, buf, sizeof(buf), 1000);
	while (push(&r, 64, n) == 0)
		n++;
	cr_assert_eq(n, 4, "256 bytes hold four 64-byte records");
	cr_assert_null(at_ring_reserve(&r, 8), "full");
	cr_assert_eq(pop(&r, &seq, &size), 0);
	cr_assert_eq(seq, 0);
	cr_assert_eq(push(&r, 64, 99), 0, "room again after a pop");
	cr_assert_null(at_ring_reserve(&r, 200), "larger than cap / 2");
}

Test(ring, wrap_with_padding)
{
	static uint8_t buf[256] __attribute__((aligned(8)));
	struct at_ring r;
	uint32_t seq = 0, size = 0;

	at_ring_init(&r, buf, sizeof(buf), 1000);
	/* Advance to position 200, then free everything. */
	for (uint32_t i = 0; i < 5; i++)
		cr_assert_eq(push(&r, 40, i), 0);
	for (uint32_t i = 0; i < 5; i++)
		cr_assert_eq(pop(&r, &seq, &size), 0);
	/* 56 bytes left to the end: a 64-byte record must wrap. */
	cr_assert_eq(push(&r, 64, 7), 0);
	cr_assert_eq(push(&r, 64, 8), 0);
	cr_assert_eq(pop(&r, &seq, &size), 0);
	cr_assert_eq(seq, 7);
	cr_assert_eq(size, 64);
	cr_assert_eq(pop(&r, &seq, &size), 0);
	cr_assert_eq(seq, 8);
	cr_assert(at_ring_empty(&r));
	/* Many laps keep working. */
	for (uint32_t i = 0; i < 1000; i++) {
		cr_assert_eq(push(&r, 8 + 8 * (i % 13), i), 0);
		cr_assert_eq(pop(&r, &seq, &size), 0);
		cr_assert_eq(seq, i);
	}
}

Test(ring, record_count_bound)
{
	static uint8_t buf[4096] __attribute__((aligned(8)));
	struct at_ring r;
	uint32_t seq = 0, size = 0;

	at_ring_init(&r, buf, sizeof(buf), 3);
	cr_assert_eq(push(&r, 16, 0), 0);
	cr_assert_eq(push(&r, 16, 1), 0);
	cr_assert_eq(push(&r, 16, 2), 0);
	cr_assert_eq(push(&r, 16, 3), -1, "max_records reached");
	cr_assert_eq(pop(&r, &seq, &size), 0);
	cr_assert_eq(push(&r, 16, 3), 0);
}

Test(ring, reset_discards)
{
	static uint8_t buf[1024] __attribute__((aligned(8)));
	struct at_ring r;
	uint32_t seq = 0, size = 0;

	at_ring_init(&r, buf, sizeof(buf), 100);
	push(&r, 32, 1);
	push(&r, 32, 2);
	at_ring_reset(&r);
	cr_assert(at_ring_empty(&r));
	cr_assert_eq(pop(&r, &seq, &size), -1);
	cr_assert_eq(push(&r, 32, 3), 0);
	cr_assert_eq(pop(&r, &seq, &size), 0);
	cr_assert_eq(seq, 3);
}

#define SPSC_N 200000

/*
 * With a soft size, a producer whose records are consumed between bursts
 * never writes further past soft than one burst, in FIFO order; with a backlog
 * larger than soft it still uses the whole buffer, and nothing is lost or
 * reordered either way.
 */
Test(ring, soft_size_keeps_a_drained_ring_at_its_start)
{
	static uint8_t buf[64 * 1024] __attribute__((aligned(4096)));
	struct at_ring r;
	uint32_t seq = 0, size = 0, next = 0, expect = 0;
	uintptr_t highest = 0;

	at_ring_init(&r, buf, sizeof(buf), 100000);
	at_ring_set_soft(&r, 8 * 1024);
	for (int round = 0; round < 2000; round++) {
		/* A few records, then the consumer drains them. */
		for (int k = 0; k < 1 + round % 7; k++) {
			uint32_t sz = 8 + 8 * ((next * 7) % 60);
			uint8_t *p = at_ring_reserve(&r, sz);
			cr_assert_not_null(p);
			if ((uintptr_t)(p - buf) + sz > highest)
				highest = (uintptr_t)(p - buf) + sz;
			((struct rec *)(void *)p)->size = sz;
			((struct rec *)(void *)p)->seq = next;
			memset(((struct rec *)(void *)p)->fill, (int)(next & 0xff),
			       sz - 8);
			at_ring_commit(&r, sz);
			next++;
		}
		while (pop(&r, &seq, &size) == 0)
			cr_assert_eq(seq, expect++, "order");
	}
	cr_assert_eq(expect, next);
	cr_assert_leq(highest, 8 * 1024 + 7 * 480,
		      "a drained ring stays near its start: %lu",
		      (unsigned long)highest);

	/* A backlog beyond the soft size: the whole buffer is available. */
	uint32_t queued = 0;
	while (push(&r, 64, next + queued) == 0)
		queued++;
	cr_assert_geq(queued * 64, 64 * 1024 - 8 * 1024 - 480, "only %u records fit", queued);
	for (uint32_t i = 0; i < queued; i++) {
		cr_assert_eq(pop(&r, &seq, &size), 0);
		cr_assert_eq(seq, next + i);
	}
	cr_assert(at_ring_empty(&r));
}

/*
 * Going back to the start frees the bytes it skips at once: a producer
 * whose consumer drained the ring and then starved (a busy machine, the
 * exporter not scheduled) still has the whole buffer, not just what lies
 * before the point where it went back.
 */
Test(ring, going_back_to_the_start_keeps_the_whole_buffer)
{
	static uint8_t buf[64 * 1024] __attribute__((aligned(4096)));
	struct at_ring r;
	uint32_t seq = 0, size = 0, next = 0, queued = 0;

	at_ring_init(&r, buf, sizeof(buf), 100000);
	at_ring_set_soft(&r, 8 * 1024);
	/* Past the soft size, then drained: the next push goes back. */
	while ((next + 1) * 64 <= 9 * 1024)
		cr_assert_eq(push(&r, 64, next++), 0);
	while (pop(&r, &seq, &size) == 0)
		;
	cr_assert(at_ring_empty(&r));
	/* The consumer does not come by: everything fits all the same. */
	while (push(&r, 64, next + queued) == 0)
		queued++;
	cr_assert_eq(queued * 64, sizeof(buf), "only %u records fit", queued);
	for (uint32_t i = 0; i < queued; i++) {
		cr_assert_eq(pop(&r, &seq, &size), 0);
		cr_assert_eq(seq, next + i, "order");
	}
	cr_assert(at_ring_empty(&r));
	/* And again, from the start: records keep their order across it. */
	for (int round = 0; round < 3; round++) {
		uint32_t first = next + queued;
		queued = 0;
		while (push(&r, 64, first + queued) == 0)
			queued++;
		cr_assert_geq(queued * 64, sizeof(buf) - 8 * 1024);
		for (uint32_t i = 0; i < queued; i++) {
			cr_assert_eq(pop(&r, &seq, &size), 0);
			cr_assert_eq(seq, first + i);
		}
		next = first;
	}
}

static struct at_ring spsc;

static void *producer(void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < SPSC_N;) {
		if (push(&spsc, 8 + 8 * (i % 17), i) == 0)
			i++;
		else
			sched_yield();
	}
	return NULL;
}

Test(concurrency, ring_spsc_two_threads, .timeout = 60)
{
	static uint8_t buf[4096] __attribute__((aligned(8)));
	pthread_t th;
	uint32_t expect = 0, seq, size;

	at_ring_init(&spsc, buf, sizeof(buf), 50);
	at_ring_set_soft(&spsc, 1024); /* the rewind raced by the consumer */
	pthread_create(&th, NULL, producer, NULL);
	while (expect < SPSC_N) {
		int rc = pop(&spsc, &seq, &size);
		if (rc == -1) {
			sched_yield();
			continue;
		}
		cr_assert_eq(rc, 0, "record content torn");
		cr_assert_eq(seq, expect, "order");
		cr_assert_eq(size, 8 + 8 * (expect % 17));
		expect++;
	}
	pthread_join(th, NULL);
	cr_assert(at_ring_empty(&spsc));
}
