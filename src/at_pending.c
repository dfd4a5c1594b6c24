/*
 * at_pending.c - the pool of pending spans (see at_pending.h).
 *
 * The pool is one anonymous mapping, made by the first claim with a CAS on
 * the pool pointer (a losing thread unmaps its own copy).  Lookups scan the
 * slots' fd words: 64 loads, done only while something is pending.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "at_pending.h"

enum { SLOT_FREE = 0, SLOT_FILLING, SLOT_READY, SLOT_TAKEN };

struct slot {
	_Atomic int state;
	_Atomic int fd;
	struct at_span span;
};

_Atomic int at_pending_count;
static struct slot *_Atomic pool;

static struct slot *get_pool(void)
{
	struct slot *p = atomic_load_explicit(&pool, memory_order_acquire);
	struct slot *expected = NULL;
	size_t size = sizeof(struct slot) * AT_PENDING_SLOTS;

	if (p)
		return p;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (!atomic_compare_exchange_strong(&pool, &expected, p)) {
		munmap(p, size);
		return expected;
	}
	return p;
}

static struct slot *slot_of(struct at_span *s)
{
	return (struct slot *)(void *)((char *)s - offsetof(struct slot, span));
}

struct at_span *at_pending_claim(void)
{
	struct slot *p = get_pool();

	if (!p)
		return NULL;
	for (int i = 0; i < AT_PENDING_SLOTS; i++) {
		int expected = SLOT_FREE;
		if (atomic_load_explicit(&p[i].state, memory_order_relaxed) ==
			    SLOT_FREE &&
		    atomic_compare_exchange_strong(&p[i].state, &expected,
						   SLOT_FILLING)) {
			atomic_store(&p[i].fd, -1);
			return &p[i].span;
		}
	}
	return NULL;
}

void at_pending_publish(struct at_span *s, int fd)
{
	struct slot *sl = slot_of(s);

	atomic_store(&sl->fd, fd);
	atomic_fetch_add(&at_pending_count, 1);
	atomic_store_explicit(&sl->state, SLOT_READY, memory_order_release);
}

void at_pending_release(struct at_span *s)
{
	atomic_store_explicit(&slot_of(s)->state, SLOT_FREE,
			      memory_order_release);
}

struct at_span *at_pending_take(int fd)
{
	struct slot *p = atomic_load_explicit(&pool, memory_order_acquire);

	if (!p || fd < 0)
		return NULL;
	for (int i = 0; i < AT_PENDING_SLOTS; i++) {
		int expected = SLOT_READY;
		if (atomic_load_explicit(&p[i].fd, memory_order_relaxed) != fd ||
		    atomic_load_explicit(&p[i].state, memory_order_relaxed) !=
			    SLOT_READY)
			continue;
		if (atomic_compare_exchange_strong(&p[i].state, &expected,
						   SLOT_TAKEN)) {
			if (atomic_load(&p[i].fd) != fd) {
				/* Re-published under another fd meanwhile. */
				atomic_store(&p[i].state, SLOT_READY);
				continue;
			}
			atomic_fetch_sub(&at_pending_count, 1);
			return &p[i].span;
		}
	}
	return NULL;
}

void at_pending_after_fork_child(void)
{
	struct slot *p = atomic_load(&pool);

	if (p)
		for (int i = 0; i < AT_PENDING_SLOTS; i++)
			atomic_store(&p[i].state, SLOT_FREE);
	atomic_store(&at_pending_count, 0);
}
