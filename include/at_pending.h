/*
 * at_pending.h - spans that outlive the hook that started them, keyed by
 * file descriptor: a non-blocking connect() returns EINPROGRESS long before
 * the connection is made or refused, so its span stays open until the
 * program learns the outcome (getsockopt SO_ERROR, first I/O) or closes
 * the descriptor.
 *
 * A fixed pool of AT_PENDING_SLOTS spans, mapped on first use.  Each slot
 * moves FREE -> FILLING -> READY -> TAKEN -> FREE with compare-and-swap,
 * so a slot has exactly one owner at a time whatever the threads do.
 * at_pending_count lets the hooks skip everything with one load when
 * nothing is pending.  A full pool makes the caller end its span at once.
 */
#ifndef AT_PENDING_H
#define AT_PENDING_H

#include <stdatomic.h>

#include "at_span.h"

#define AT_PENDING_SLOTS 64

extern _Atomic int at_pending_count;

/* A free slot's span for fd, or NULL (pool full or unmappable).  The caller
 * starts the span in it and then publishes or abandons it. */
struct at_span *at_pending_claim(void);
/* Make s (from at_pending_claim, started) findable under fd. */
void at_pending_publish(struct at_span *s, int fd);
/* Give back a claimed slot whose span was ended or never started. */
void at_pending_release(struct at_span *s);

/* Take the pending span for fd, if any (the caller owns it: end it, then
 * release it, or publish it again). */
struct at_span *at_pending_take(int fd);

/* Fork child: the parent's pending spans are the parent's to end. */
void at_pending_after_fork_child(void);

static inline int at_pending_any(void)
{
	return atomic_load_explicit(&at_pending_count,
				    memory_order_relaxed) != 0;
}

#endif
