/*
 * at_thread.h - per-thread state: the context stack, the id generator, the
 * ring of finished spans and the thread's counters.
 *
 * Allocated with one mmap() on a thread's first span (not malloc: that first
 * span may come from a hook running in a signal handler or inside the
 * host's allocator), reached through one initial-exec TLS pointer, and
 * linked into a global registry that the exporter walks.  Registration is a
 * lock-free push at the head; only the exporter unlinks (after the thread
 * exited and its ring is drained), so producers never contend.
 *
 * Thread exit: a pthread key destructor marks the state exited and clears
 * the TLS pointer; the exporter drains and unmaps it.  Fork: the child keeps
 * only the forking thread's state, with its ring emptied (those spans
 * belong to the parent, which exports them) and its generator reseeded.
 */
#ifndef AT_THREAD_H
#define AT_THREAD_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>

#include "at_compat.h"
#include "at_id.h"
#include "at_ring.h"
#include "at_span_rec.h"

#define AT_STACK_DEPTH 16
/* Each thread's ring: room for OTEL_BSP_MAX_QUEUE_SIZE records of
 * AT_THREAD_RING_PER_SPAN bytes (a typical span record is 200-400), as a
 * power of two within [MIN, MAX]; pages are touched only as used, and in
 * the steady state only the first AT_THREAD_RING_SOFT bytes (at_ring.h). */
#define AT_THREAD_RING_PER_SPAN 128u
#define AT_THREAD_RING_MIN (64u * 1024u)
#define AT_THREAD_RING_MAX (256u * 1024u * 1024u)
#define AT_THREAD_RING_SOFT (32u * 1024u)

/*
 * At most this many thread states exist at once: live threads', and those
 * of exited threads whose spans still wait for the exporter (it frees them
 * once drained).  Beyond it a thread gets no state: it is not traced (its
 * hooks pass through) until states are freed.  Without the bound, a
 * service that starts a thread per connection would keep one state per
 * finished connection for as long as the collector is slow or away.
 */
#define AT_THREAD_MAX_STATES 4096

struct at_span;


struct at_thread_stats {
	_Atomic uint64_t started;      /* spans started (sampled or not) */
	_Atomic uint64_t sampled;      /* spans started recording */
	_Atomic uint64_t dropped_full; /* ended, but the ring was full */
	_Atomic uint64_t dropped_depth;/* context stack overflow */
};

struct at_thread {
	struct at_rng rng;
	uint32_t depth;
	uint32_t pad_;
	struct at_ctx_entry stack[AT_STACK_DEPTH];
	/* The request this thread works for when nothing is on the stack:
	 * set when it reads a request, or the reply to something sent for
	 * one (at_span.h, "Context"). */
	struct at_ctx_entry ambient;
	/* A runtime bridge's slot (at_span.h): when set, it says which
	 * request the thread's runtime is running code for. */
	const volatile int32_t *bridge;
	struct at_thread_stats stats;

	/* registry (exporter) */
	struct at_thread *next;
	_Atomic int exited;
	pid_t tid;

	struct at_ring ring; /* buffer follows the struct in the mapping */
};

extern AT_TLS struct at_thread *at_self;
/* Threads refused a state by AT_THREAD_MAX_STATES (once per thread). */
extern _Atomic uint64_t at_thread_refused;

/* The calling thread's state, created on first use; NULL if it cannot be
 * (AT_THREAD_MAX_STATES reached, or mapping failed). */
struct at_thread *at_thread_create(void);

static inline struct at_thread *at_thread_get(void)
{
	struct at_thread *t = at_self;
	if (AT_LIKELY(t != NULL))
		return t;
	return at_thread_create();
}

/* Head of the registry (exporter). */
struct at_thread *at_thread_registry(void);

/*
 * Exporter: unlink and unmap every exited thread whose ring is empty,
 * adding its counters to *acc.  Must only be called by the exporter.
 */
void at_thread_reap(struct at_thread_stats *acc);

/* Sum of every registered thread's counters plus acc. */
void at_thread_stats_sum(const struct at_thread_stats *acc,
			 uint64_t out[4]);

/* Fork child: keep only the calling thread's state (emptied, reseeded). */
void at_thread_after_fork_child(void);

#endif
