/*
 * at_pool.c - lock-free fixed-size object pools (see at_pool.h).
 *
 * Growing: one thread at a time (the `growing` flag, taken with a CAS)
 * maps a chunk and pushes its objects; a thread that finds the list empty
 * while another grows it retries a bounded number of times (the grower
 * pushes its objects within microseconds), then fails its allocation (the
 * caller passes its call through untraced): nothing ever blocks.
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

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* 0: grown; -1: another thread is growing; -2: full or no memory. */
static int grow(struct at_pool *p)
{
	int expected = 0;
	uint32_t n;
	uint8_t *mem;
	_Atomic uint32_t *links;
	size_t bytes;

	if (!atomic_compare_exchange_strong(&p->growing, &expected, 1))
		return -1;
	n = atomic_load(&p->n_chunks);
	if (n >= p->max_chunks || n >= AT_POOL_MAX_CHUNKS)
		goto fail;
	bytes = slot_size(p) * AT_POOL_CHUNK +
		AT_POOL_CHUNK * sizeof(uint32_t);
	mem = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED)
		goto fail;
	links = (_Atomic uint32_t *)(void *)(mem + slot_size(p) * AT_POOL_CHUNK);
	for (uint32_t i = 0; i < AT_POOL_CHUNK; i++)
		*(uint32_t *)(void *)(mem + i * slot_size(p)) =
			n * AT_POOL_CHUNK + i;
	atomic_store_explicit(&p->links[n], links, memory_order_release);
	atomic_store_explicit(&p->chunks[n], mem, memory_order_release);
	atomic_store(&p->n_chunks, n + 1);
	for (uint32_t i = AT_POOL_CHUNK; i > 0; i--)
		push(p, n * AT_POOL_CHUNK + i - 1);
	atomic_store(&p->growing, 0);
	return 0;
fail:
	atomic_store(&p->growing, 0);
	return -2;
}

void *at_pool_get(struct at_pool *p)
{
	for (int tries = 0; tries < 4096; tries++) {
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
		int g = grow(p);
		if (g == -2)
			return NULL;
		if (g == -1)
			cpu_relax(); /* another thread is growing */
	}
	return NULL;
}

void at_pool_put(struct at_pool *p, void *obj)
{
	push(p, *(uint32_t *)(void *)((uint8_t *)obj - HDR));
}

size_t at_pool_capacity(struct at_pool *p)
{
	return (size_t)atomic_load(&p->n_chunks) * AT_POOL_CHUNK;
}
