/*
 * at_guard.h - the one reentrancy guard: a per-thread word (initial-exec
 * TLS, at_guard) that says whether the library itself runs on this thread,
 * and which hook family owns the thread's current call.
 *
 * Low 16 bits: the nest count.  Every hook that traces holds it while it
 * runs, the library's own work holds it (initialisation, the destructor,
 * an exec hook's flush), and the exporter thread holds it for life.  While
 * it is non-zero, every hook passes straight through, so the library never
 * traces itself.  at_hook_enter (at_init.h) tests these bits only: one
 * AND with an immediate, as cheap as the plain counter it replaces.
 *
 * High bits: the owner mask.  A family that traces calls of a library
 * above the sockets (libpq's PQexec, libcurl's curl_easy_perform) sets its
 * bit for the duration of the call, *without* holding the count: the
 * socket hooks underneath stay active (the TCP connect becomes a child of
 * the statement or transfer), while the library's calls to its own
 * exported functions see the bit and pass through (one statement, one
 * span).  AT_OWN_HTTP says that a family above the socket layer makes the
 * HTTP span of the bytes it moves (libcurl): the socket layer then makes
 * none.  A new family takes the next free bit here.
 *
 * The count never reaches 2^16 (a hook nests in at most a few others), so
 * it never carries into the owner bits.
 */
#ifndef AT_GUARD_H
#define AT_GUARD_H

#include <stdbool.h>
#include <stdint.h>

#include "at_compat.h"

#define AT_GUARD_COUNT_MASK 0xffffu

/* Owner bits: one per family that traces calls above the socket layer,
 * plus what such a family takes over on the thread. */
enum at_owner {
	AT_OWN_PQ = 1u << 16,
	AT_OWN_CURL = 1u << 17,
	AT_OWN_HTTP = 1u << 18, /* HTTP on the sockets is someone else's */
	AT_OWN_GNUTLS = 1u << 19,
};

extern AT_TLS uint32_t at_guard;

static inline bool at_guard_held(void)
{
	return (at_guard & AT_GUARD_COUNT_MASK) != 0;
}

static inline void at_guard_enter(void)
{
	at_guard++;
}

static inline void at_guard_leave(void)
{
	at_guard--;
}

/* Does a family own any of these bits on this thread? */
static inline bool at_owned(uint32_t owner)
{
	return (at_guard & owner) != 0;
}

#endif
