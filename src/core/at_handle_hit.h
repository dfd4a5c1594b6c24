/*
 * at_handle_hit.h - a thread's memory of the last handle (a TLS handle,
 * a libpq connection) it looked up, in front of a family kit handle map
 * (at_family.h).
 *
 * A keep-alive request makes two lookups of its handle (a write, a read),
 * a libpq statement four: a hit is three compares on a line the thread
 * owns, where the map costs about 75 instructions and two or three cold
 * lines.  A hit is trusted only while no handle of its map was forgotten
 * since it was taken: each map has a generation (gen), bumped before a
 * state is dropped, so a handle freed and another made at the same
 * address never finds the old state, on any thread.  The handle a hit is
 * for is in use by the asking thread (one thread per handle), so it
 * cannot be forgotten during the call; a forget that raced with the
 * lookup voids the hit (the generation is read before the lookup).  A
 * program that frees handles often only takes the map's path more often.
 */
#ifndef AT_HANDLE_HIT_H
#define AT_HANDLE_HIT_H

#include <stdatomic.h>
#include <stddef.h>

#include "at_compat.h"

struct at_handle_hit {
	const void *handle;
	void *state;
	unsigned gen; /* the map's generation when it was found */
};

/* The state h remembers for handle, or NULL (ask the map). */
static inline void *at_handle_hit_find(const struct at_handle_hit *h,
				    _Atomic unsigned *gen, const void *handle)
{
	if (AT_LIKELY(h->handle == handle && h->state &&
		      h->gen == atomic_load_explicit(gen,
						     memory_order_relaxed)))
		return h->state;
	return NULL;
}

/* The map's generation, read before a lookup whose result goes to
 * at_handle_hit_take. */
static inline unsigned at_handle_hit_gen(_Atomic unsigned *gen)
{
	return atomic_load_explicit(gen, memory_order_relaxed);
}

/* Remember what a lookup that began at generation g found (not NULL). */
static inline void at_handle_hit_take(struct at_handle_hit *h, const void *handle,
				   void *state, unsigned g)
{
	*h = (struct at_handle_hit){ handle, state, g };
}

/* A state of the map is about to be dropped: every thread's hit is void. */
static inline void at_handle_hit_void(struct at_handle_hit *h, _Atomic unsigned *gen)
{
	atomic_fetch_add_explicit(gen, 1, memory_order_relaxed);
	h->state = NULL;
}

#endif
