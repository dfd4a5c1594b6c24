/*
 * at_pool.c - lock-free fixed-size object pools (see at_pool.h).
 *
 * Growing: a thread that finds the list empty maps a chunk of its own
 * (several may do so at once) and pushes its objects, then pops; the
 * list only fails when the pool reached its bound or memory ran out, and
 * the caller then passes its call through untraced.  Nothing ever waits.
 */
#include <sys/mman.h>

#include "at_compat.h"
#include "at_pool.h"

/* Each object is preceded by a 16-byte header holding its index. */
#define HDR 16

static size_t slot_size(const struct at_pool *p)
{
	return p->obj_size + HDR;
}

static uint8_t *obj_at(struct at_pool *p, uint32_t idx)
{
	uint8_t *c = atomic_load_explicit(&p->chunks[idx / AT_POOL_CHUNK],
					  memory_order_acquire);
	return c + (size_t)(idx % AT_POOL_CHUNK) * slot_size(p) + HDR;
}

static _Atomic uint32_t *link_at(struct at_pool *p, uint32_t idx)
{
	_Atomic uint32_t *l = atomic_load_explicit(
		&p->links[idx / AT_POOL_CHUNK], memory_order_acquire);
	return &l[idx % AT_POOL_CHUNK];
}

static void push(struct at_pool *p, uint32_t idx)
{
	uint64_t head = atomic_load_explicit(&p->free_head,
					     memory_order_relaxed);
	uint64_t next;

	do {
		atomic_store_explicit(link_at(p, idx), (uint32_t)head,
				      memory_order_relaxed);
		next = ((head >> 32) + 1) << 32 | (uint64_t)(idx + 1);
	} while (!atomic_compare_exchange_weak_explicit(
		&p->free_head, &head, next, memory_order_release,
		memory_order_relaxed));
}

/*
 * Map one more chunk and push its objects.  Each caller reserves its own
 * chunk index with fetch-and-add, so several threads may grow the pool at
 * once and none waits for another.  0, or -1 (full, or no memory).
 */
static int grow(struct at_pool *p)
{
	uint32_t n = atomic_fetch_add(&p->n_chunks, 1);
	uint8_t *mem;
	_Atomic uint32_t *links;
	size_t bytes;

	if (n >= p->max_chunks || n >= AT_POOL_MAX_CHUNKS) {
		atomic_fetch_sub(&p->n_chunks, 1);
		return -1;
	}
	bytes = slot_size(p) * AT_POOL_CHUNK +
		AT_POOL_CHUNK * sizeof(uint32_t);
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		return -1; /* the index stays used, its chunk empty */
	links = (_Atomic uint32_t *)(void *)(mem + slot_size(p) * AT_POOL_CHUNK);
	for (uint32_t i = 0; i < AT_POOL_CHUNK; i++)
		*(uint32_t *)(void *)(mem + i * slot_size(p)) =
			n * AT_POOL_CHUNK + i;
	atomic_store_explicit(&p->links[n], links, memory_order_release);
	atomic_store_explicit(&p->chunks[n], mem, memory_order_release);
	for (uint32_t i = AT_POOL_CHUNK; i > 0; i--)
		push(p, n * AT_POOL_CHUNK + i - 1);
	return 0;
}

void *at_pool_get(struct at_pool *p)
{
	for (;;) {
		uint64_t head = atomic_load_explicit(&p->free_head,
						     memory_order_acquire);
		while ((uint32_t)head != 0) {
			uint32_t idx = (uint32_t)head - 1;
			uint32_t nxt = atomic_load_explicit(
				link_at(p, idx), memory_order_relaxed);
			uint64_t next = ((head >> 32) + 1) << 32 | nxt;

			if (atomic_compare_exchange_weak_explicit(
				    &p->free_head, &head, next,
				    memory_order_acquire,
				    memory_order_acquire))
				return obj_at(p, idx);
		}
		if (grow(p) != 0)
			return NULL;
	}
}

void at_pool_put(struct at_pool *p, void *obj)
{
	push(p, *(uint32_t *)(void *)((uint8_t *)obj - HDR));
}

AT_TESTING size_t at_pool_capacity(struct at_pool *p)
{
	return (size_t)atomic_load(&p->n_chunks) * AT_POOL_CHUNK;
}
