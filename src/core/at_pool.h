/*
 * at_pool.h - fixed-size objects for state that outlives a hook call
 * (connections, their spans, head buffers), without malloc and without
 * locks.
 *
 * Objects come from anonymous mappings of AT_POOL_CHUNK objects, made on
 * demand and never unmapped, so a stale pointer (a context-stack entry for
 * a span ended on another thread) always points at mapped memory.  Free
 * objects form a lock-free stack of indices whose head carries a tag that
 * changes on every update, so a pop that raced with others fails its CAS
 * instead of corrupting the list (no ABA).  A pool is bounded
 * (max_objects): when it is exhausted, allocation fails and the caller
 * passes the call through untraced.
 */
#ifndef AT_POOL_H
#define AT_POOL_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "at_testing.h"

#define AT_POOL_CHUNK 64
#define AT_POOL_MAX_CHUNKS 4096

struct at_pool {
	size_t obj_size;                 /* multiple of 16 */
	uint32_t max_chunks;
	_Atomic uint64_t free_head;      /* tag << 32 | (index + 1), 0: empty */
	_Atomic uint32_t n_chunks;       /* chunk indices reserved */
	uint8_t *_Atomic chunks[AT_POOL_MAX_CHUNKS];
	_Atomic uint32_t *_Atomic links[AT_POOL_MAX_CHUNKS];
};

/* A zero-initialised static pool of objects of obj_size bytes, at most
 * max_objects of them. */
#define AT_POOL_INIT(size, max_objects)                                     \
	{ .obj_size = ((size) + 15) & ~(size_t)15,                          \
	  .max_chunks = ((max_objects) + AT_POOL_CHUNK - 1) / AT_POOL_CHUNK }

/* An object (contents undefined), or NULL if the pool is exhausted. */
void *at_pool_get(struct at_pool *p);
/* Give an object back. */
void at_pool_put(struct at_pool *p, void *obj);
/* Objects mapped so far. */
AT_TESTING size_t at_pool_capacity(struct at_pool *p);

#endif
