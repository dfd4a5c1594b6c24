/*
 * at_ring.c - SPSC byte ring (see at_ring.h for the design).
 *
 * Counters grow without bound (64-bit byte counts do not wrap in practice)
 * and positions are taken modulo cap.  Ordering: the producer writes the
 * record, then release-stores head; the consumer acquire-loads head before
 * reading the record, reads it, then release-stores tail; the producer
 * acquire-loads tail before reusing that space.  The record counters
 * follow the same pattern and only bound how many records may be queued.
 */
#include <string.h>

#include "at_ring.h"

void at_ring_init(struct at_ring *r, void *buf, uint64_t cap,
		  uint64_t max_records)
{
	r->buf = buf;
	r->cap = cap;
	r->max_records = max_records ? max_records : 1;
	r->soft = cap;
	r->pending = 0;
	r->jumping = 0;
	atomic_store_explicit(&r->jump_from, UINT64_MAX, memory_order_relaxed);
	atomic_store_explicit(&r->jump_to, UINT64_MAX, memory_order_relaxed);
	atomic_store_explicit(&r->head, 0, memory_order_relaxed);
	atomic_store_explicit(&r->pushed, 0, memory_order_relaxed);
	r->cached_tail = 0;
	r->cached_popped = 0;
	atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
	atomic_store_explicit(&r->popped, 0, memory_order_relaxed);
}

void at_ring_set_soft(struct at_ring *r, uint64_t soft)
{
	r->soft = soft && soft <= r->cap ? soft & ~(uint64_t)7 : r->cap;
}

/* Past the soft size with nothing queued: go back to the start (the
 * whole buffer is free, so no capacity is lost). */
static int rewind_now(struct at_ring *r, uint64_t head, uint64_t pos)
{
	if (AT_LIKELY(pos < r->soft))
		return 0;
	r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return r->cached_tail == head;
}

/* Bytes needed at position head for a record of size: the record, plus
 * the padding up to the end of the buffer if it would not fit there. */
static uint64_t needed(const struct at_ring *r, uint64_t head, uint32_t size)
{
	uint64_t pos = head & (r->cap - 1);
	uint64_t to_end = r->cap - pos;

	return size <= to_end ? size : to_end + size;
}

void *at_ring_reserve_slow(struct at_ring *r, uint32_t size)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t pushed = atomic_load_explicit(&r->pushed, memory_order_relaxed);
	uint64_t need = needed(r, head, size);
	uint64_t pos = head & (r->cap - 1);
	int jump = 0;

	if (AT_UNLIKELY(size > r->cap / 2))
		return NULL;
	if (AT_UNLIKELY(need == size && pos != 0 &&
			rewind_now(r, head, pos))) {
		need = r->cap - pos + size;
		jump = 1;
	}
	if (head + need - at_ring_free_from(r, r->cached_tail) > r->cap) {
		r->cached_tail = atomic_load_explicit(&r->tail,
						      memory_order_acquire);
		if (head + need - at_ring_free_from(r, r->cached_tail) > r->cap)
			return NULL;
	}
	if (pushed - r->cached_popped >= r->max_records) {
		r->cached_popped = atomic_load_explicit(&r->popped,
							memory_order_acquire);
		if (pushed - r->cached_popped >= r->max_records)
			return NULL;
	}
	r->pending = need;
	r->jumping = jump;
	if (jump)
		return r->buf; /* back to the start: at_ring_commit says so */
	if (need != size) {
		/* Pad to the end; the record goes at the start. */
		uint32_t pad = AT_RING_PAD;
		memcpy(r->buf + pos, &pad, sizeof(pad));
		return r->buf;
	}
	return r->buf + pos;
}

/* at_ring_commit of a record that went back to the start: published
 * with head, after this (the consumer, at head, goes on at the start). */
void at_ring_commit_jump(struct at_ring *r, uint32_t size)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);

	atomic_store_explicit(&r->jump_from, head, memory_order_relaxed);
	atomic_store_explicit(&r->jump_to, head + r->pending - size,
			      memory_order_relaxed);
	r->jumping = 0;
}

uint64_t at_ring_used_refresh(struct at_ring *r)
{
	r->cached_tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	return atomic_load_explicit(&r->head, memory_order_relaxed) -
	       at_ring_free_from(r, r->cached_tail);
}

const void *at_ring_peek_slow(struct at_ring *r)
{
	uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	uint64_t pos;
	uint32_t size;

	if (tail == head)
		return NULL;
	if (tail == atomic_load_explicit(&r->jump_from, memory_order_relaxed)) {
		/* The producer went back to the start here. */
		tail = atomic_load_explicit(&r->jump_to, memory_order_relaxed);
		atomic_store_explicit(&r->tail, tail, memory_order_release);
		if (tail == head)
			return NULL;
	}
	pos = tail & (r->cap - 1);
	memcpy(&size, r->buf + pos, sizeof(size));
	if (size == AT_RING_PAD) {
		/* Skip the padding; the record is at the start. */
		tail += r->cap - pos;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
		if (tail == head)
			return NULL;
		pos = 0;
	}
	return r->buf + pos;
}

void at_ring_reset(struct at_ring *r)
{
	uint64_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	uint64_t pushed = atomic_load_explicit(&r->pushed, memory_order_relaxed);

	atomic_store_explicit(&r->tail, head, memory_order_relaxed);
	atomic_store_explicit(&r->popped, pushed, memory_order_relaxed);
	r->cached_tail = head;
	r->cached_popped = pushed;
}
