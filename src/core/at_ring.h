/*
 * at_ring.h - a single-producer single-consumer byte ring of span records.
 *
 * The producer is the thread that owns the ring (it ends spans); the
 * consumer is the exporter thread.  Each side writes only its own
 * counters, on its own cache line, and keeps a cached copy of the other
 * side's, refreshed only when the cached view says the ring is full (or,
 * for the consumer, empty): the common push is a bounds check, a memcpy
 * and a release store.
 *
 * Records are 8-byte aligned, start with a uint32 size, and never wrap: a
 * record that does not fit before the end of the buffer is preceded by a
 * padding marker that fills the rest of the buffer.  Besides its bytes, the
 * ring bounds the number of records queued (max_records).
 *
 * Resident memory.  A ring that is drained as fast as it fills would still
 * walk its whole buffer, touching every page.  With a soft size (below
 * cap), a producer that is past it looks at the consumer's position on
 * each push: as soon as the ring is empty, it pads to the end and goes
 * back to the start, as if the buffer ended there.  In the steady state
 * (the consumer woken at the wake mark, a quarter of the buffer) only a
 * little more than the first max(soft, wake mark) bytes are ever touched
 * (a thread with fewer spans than that between two exporter cycles stays
 * within `soft`); a backlog (a slow collector) still
 * has the whole buffer, since going back happens only when it is empty.
 * Going back writes no padding: the producer publishes the jump (from
 * where, to where) and the consumer follows it, so the bytes skipped are
 * free at once for both - even while the consumer is starved and has not
 * come by yet (padding there would hold the rest of the buffer until it
 * had, leaving a starved consumer's producer about `soft` bytes).
 */
#ifndef AT_RING_H
#define AT_RING_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "at_compat.h"

#define AT_RING_PAD 0xffffffffu

struct at_ring {
	/* constant after init */
	uint8_t *buf;
	uint64_t cap; /* power of two, multiple of 8 */
	uint64_t max_records;
	uint64_t soft; /* go back to the start past this (<= cap) */

	/* producer side */
	_Alignas(AT_CACHELINE) _Atomic uint64_t head; /* bytes produced */
	_Atomic uint64_t pushed;                       /* records produced */
	uint64_t cached_tail;
	uint64_t cached_popped;
	uint64_t pending; /* bytes the reserved record advances head by */
	int jumping;      /* the reserved record goes back to the start */
	/* The last go-back to the start (absolute byte counts): a consumer
	 * whose tail is at jump_from continues at jump_to.  Written before
	 * the release store of head that publishes the first record after
	 * it; at most one is outstanding (going back needs an empty ring). */
	_Atomic uint64_t jump_from, jump_to;

	/* consumer side */
	_Alignas(AT_CACHELINE) _Atomic uint64_t tail; /* bytes consumed */
	_Atomic uint64_t popped;                       /* records consumed */
};

void at_ring_init(struct at_ring *r, void *buf, uint64_t cap,
		  uint64_t max_records);
/* Set the soft size (a multiple of 8 up to cap; cap by default). */
void at_ring_set_soft(struct at_ring *r, uint64_t soft);

/* Producer: bytes queued beyond which the consumer should be woken: a
 * quarter of the buffer, so that a busy thread wakes it once per many
 * records (each wake is a futex call here and a cycle, an HTTP request,
 * there) and still has three quarters for a burst. */
static inline uint64_t at_ring_wake_mark(const struct at_ring *r)
{
	return r->cap / 4;
}

void *at_ring_reserve_slow(struct at_ring *r, uint32_t size);
void at_ring_commit_jump(struct at_ring *r, uint32_t size);

/* The consumer's position as far as free space goes: a tail still at
 * the last jump's start is at its end (the bytes in between hold
 * nothing). */
static inline uint64_t at_ring_free_from(const struct at_ring *r,
					 uint64_t tail)
{
	return tail == atomic_load_explicit(&r->jump_from,
					    memory_order_relaxed)
		       ? atomic_load_explicit(&r->jump_to,
					      memory_order_relaxed)
		       : tail;
}

/*
 * Producer: reserve room for a record of size bytes (multiple of 8, at
 * most cap / 2).  Returns where to write it, or NULL if the ring is full.
 * The record becomes visible to the consumer at at_ring_commit().
 *
 * Inline, the common case: the record fits before the end of the buffer,
 * the cached consumer counters say there is room, and either it is
 * before the soft size or the consumer has not caught up (its tail,
 * read, is not head: no going back yet; a busy thread past the soft size
 * between two exporter cycles pushes there every time).  Anything else
 * is at_ring_reserve_slow, which decides everything again.
 */
static inline int at_ring_stay(struct at_ring *r, uint64_t head, uint64_t pos)
{
	if (AT_LIKELY(pos < r->soft))
		return 1;
	r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return r->cached_tail != head;
}

static inline void *at_ring_reserve(struct at_ring *r, uint32_t size)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t pushed = atomic_load_explicit(&r->pushed, memory_order_relaxed);
	uint64_t pos = head & (r->cap - 1);

	if (AT_LIKELY(at_ring_stay(r, head, pos) && size <= r->cap - pos &&
		      size <= r->cap / 2 &&
		      head + size - at_ring_free_from(r, r->cached_tail) <=
			      r->cap &&
		      pushed - r->cached_popped < r->max_records)) {
		r->pending = size;
		r->jumping = 0;
		return r->buf + pos;
	}
	return at_ring_reserve_slow(r, size);
}

static inline void at_ring_commit(struct at_ring *r, uint32_t size)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t pushed = atomic_load_explicit(&r->pushed, memory_order_relaxed);

	if (AT_UNLIKELY(r->jumping))
		at_ring_commit_jump(r, size);
	atomic_store_explicit(&r->pushed, pushed + 1, memory_order_relaxed);
	atomic_store_explicit(&r->head, head + r->pending,
			      memory_order_release);
}

/* Producer: bytes in use by the producer's (possibly stale) view. */
static inline uint64_t at_ring_used_hint(const struct at_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_relaxed) -
	       at_ring_free_from(r, r->cached_tail);
}

/* Producer: refresh the cached consumer counters; returns bytes in use. */
uint64_t at_ring_used_refresh(struct at_ring *r);

/*
 * Consumer: the next record, or NULL if empty.  The record stays valid
 * until at_ring_pop().  Inline, the common case (a record at the tail);
 * a go-back to the start or padding there is at_ring_peek_slow.
 */
const void *at_ring_peek_slow(struct at_ring *r);

static inline const void *at_ring_peek(struct at_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	const uint8_t *rec;
	uint32_t size;

	if (tail == head)
		return NULL;
	if (AT_UNLIKELY(tail == atomic_load_explicit(&r->jump_from,
						     memory_order_relaxed)))
		return at_ring_peek_slow(r);
	rec = r->buf + (tail & (r->cap - 1));
	memcpy(&size, rec, sizeof(size));
	if (AT_UNLIKELY(size == AT_RING_PAD))
		return at_ring_peek_slow(r);
	return rec;
}

static inline void at_ring_pop(struct at_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t popped = atomic_load_explicit(&r->popped, memory_order_relaxed);
	uint32_t size;

	memcpy(&size, r->buf + (tail & (r->cap - 1)), sizeof(size));
	atomic_store_explicit(&r->popped, popped + 1, memory_order_release);
	atomic_store_explicit(&r->tail, tail + size, memory_order_release);
}

/* Consumer: at_ring_pop() of rec, the record at_ring_peek() returned
 * (its size read from it, not from the buffer again). */
static inline void at_ring_pop_rec(struct at_ring *r, const void *rec)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t popped = atomic_load_explicit(&r->popped, memory_order_relaxed);
	uint32_t size;

	memcpy(&size, rec, sizeof(size));
	atomic_store_explicit(&r->popped, popped + 1, memory_order_release);
	atomic_store_explicit(&r->tail, tail + size, memory_order_release);
}

/* Consumer view: is anything queued? */
static inline int at_ring_empty(struct at_ring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) ==
	       atomic_load_explicit(&r->tail, memory_order_relaxed);
}

/* Records queued (any thread; a snapshot). */
static inline uint64_t at_ring_queued(struct at_ring *r)
{
	return atomic_load_explicit(&r->pushed, memory_order_acquire) -
	       atomic_load_explicit(&r->popped, memory_order_acquire);
}

/* Drop everything queued (fork child; no concurrent consumer). */
void at_ring_reset(struct at_ring *r);

#endif
