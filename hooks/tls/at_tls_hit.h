/*
 * at_tls_hit.h - a thread's memory of the last TLS session it looked up,
 * in front of a family kit handle map (at_family.h).
 *
 * A keep-alive request makes two lookups of its session (a write, a
 * read): a hit is three compares on a line the thread owns, where the map
 * costs about 75 instructions and two or three cold lines.  A hit is
 * trusted only while no session of its map was forgotten since it was
 * taken: each map has a generation (gen), bumped before a state is
 * dropped, so a session freed and another made at the same address never
 * finds the old state, on any thread.  The session a hit is for is in use
 * by the asking thread (one thread per session), so it cannot be
 * forgotten during the call; a forget that raced with the lookup voids
 * the hit (the generation is read before the lookup).  A program that
 * frees sessions often only takes the map's path more often.
 */
#ifndef AT_TLS_HIT_H
#define AT_TLS_HIT_H

#include <stdatomic.h>
#include <stddef.h>

#include "at_compat.h"

struct at_tls_hit {
	const void *session;
	void *state;
	unsigned gen; /* the map's generation when it was found */
};

/* The state h remembers for session, or NULL (ask the map). */
static inline void *at_tls_hit_find(const struct at_tls_hit *h,
				    _Atomic unsigned *gen, const void *session)
{
	if (AT_LIKELY(h->session == session && h->state &&
		      h->gen == atomic_load_explicit(gen,
						     memory_order_relaxed)))
		return h->state;
	return NULL;
}

/* The map's generation, read before a lookup whose result goes to
 * at_tls_hit_take. */
static inline unsigned at_tls_hit_gen(_Atomic unsigned *gen)
{
	return atomic_load_explicit(gen, memory_order_relaxed);
}

/* Remember what a lookup that began at generation g found (not NULL). */
static inline void at_tls_hit_take(struct at_tls_hit *h, const void *session,
				   void *state, unsigned g)
{
	*h = (struct at_tls_hit){ session, state, g };
}

/* A state of the map is about to be dropped: every thread's hit is void. */
static inline void at_tls_hit_void(struct at_tls_hit *h, _Atomic unsigned *gen)
{
	atomic_fetch_add_explicit(gen, 1, memory_order_relaxed);
	h->state = NULL;
}

#endif
