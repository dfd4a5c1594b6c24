/*
 * at_thread.c - per-thread state and its registry (see at_thread.h).
 *
 * Memory: one anonymous mapping per tracing thread, the struct followed by
 * its ring buffer (sized from OTEL_BSP_MAX_QUEUE_SIZE).  Pages are touched
 * as the ring fills, so a thread that makes a few spans costs a few pages,
 * and a busy one whose spans the exporter keeps up with stays within the
 * ring's soft size (at_ring.h).  The registry is a singly linked
 * list: threads push themselves at the head with a CAS; only the exporter
 * removes nodes (exited and drained), so there is one writer of the `next`
 * links of existing nodes and no ABA: a node is unmapped only after it has
 * been unlinked, by the same thread that walks the list.
 *
 * The number of states is bounded (AT_THREAD_MAX_STATES): a thread
 * reserves one with a CAS on a counter before mapping it, the exporter
 * gives it back when it unmaps a state.  Only thread creation and reaping
 * touch the counter, never a span.
 *
 * Thread exit is noticed through a pthread key destructor (set when the
 * state is created).  It clears the TLS pointer first, so a hook running
 * later in the thread's teardown creates a fresh state instead of touching
 * one the exporter may free.
 */
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "at_config.h"
#include "at_thread.h"
#include "at_real.h"

AT_TLS struct at_thread *at_self;
_Atomic uint64_t at_thread_refused;

static _Atomic unsigned n_states;
static AT_TLS int refused_here;

static struct at_thread *_Atomic registry;
static pthread_key_t exit_key;
static pthread_once_t exit_key_once = PTHREAD_ONCE_INIT;
static int exit_key_ok;

/* Ring bytes for a queue of that many spans. */
static uint64_t ring_bytes(uint64_t queue_size)
{
	uint64_t want = queue_size * AT_THREAD_RING_PER_SPAN, bytes;

	for (bytes = AT_THREAD_RING_MIN;
	     bytes < want && bytes < AT_THREAD_RING_MAX; bytes *= 2)
		;
	return bytes;
}

static uint64_t queue_size(void)
{
	return at_cfg.bsp_max_queue_size ? at_cfg.bsp_max_queue_size : 2048;
}

static size_t mapping_size(void)
{
	return (sizeof(struct at_thread) + 7) / 8 * 8 +
	       (size_t)ring_bytes(queue_size());
}

static void on_thread_exit(void *arg)
{
	struct at_thread *t = arg;

	if (at_self == t)
		at_self = NULL;
	atomic_store_explicit(&t->exited, 1, memory_order_release);
}

static void make_exit_key(void)
{
	exit_key_ok = pthread_key_create(&exit_key, on_thread_exit) == 0;
}

/* Take one of the AT_THREAD_MAX_STATES: 0, or -1 if none is left. */
static int reserve_state(void)
{
	unsigned n = atomic_load_explicit(&n_states, memory_order_relaxed);

	do {
		if (n >= AT_THREAD_MAX_STATES) {
			if (!refused_here) {
				refused_here = 1;
				atomic_fetch_add(&at_thread_refused, 1);
			}
			return -1;
		}
	} while (!atomic_compare_exchange_weak(&n_states, &n, n + 1));
	return 0;
}

struct at_thread *at_thread_create(void)
{
	struct at_thread *t;
	uint8_t *mem;
	size_t off = (sizeof(struct at_thread) + 7) / 8 * 8;

	pthread_once(&exit_key_once, make_exit_key);
	if (reserve_state() != 0)
		return NULL;
	mem = mmap(NULL, mapping_size(), PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (mem == MAP_FAILED) {
		atomic_fetch_sub(&n_states, 1);
		return NULL;
	}
	t = (struct at_thread *)mem;
	at_rng_seed(&t->rng);
	t->tid = (pid_t)AT_REAL(syscall)(SYS_gettid);
	at_ring_init(&t->ring, mem + off, ring_bytes(queue_size()),
		     queue_size());
	at_ring_set_soft(&t->ring, AT_THREAD_RING_SOFT);

	if (exit_key_ok)
		pthread_setspecific(exit_key, t);
	at_self = t;

	t->next = atomic_load_explicit(&registry, memory_order_relaxed);
	while (!atomic_compare_exchange_weak_explicit(
		&registry, &t->next, t, memory_order_release,
		memory_order_relaxed))
		;
	return t;
}

struct at_thread *at_thread_registry(void)
{
	return atomic_load_explicit(&registry, memory_order_acquire);
}

static void add_stats(struct at_thread_stats *acc,
		      const struct at_thread_stats *s)
{
	atomic_fetch_add(&acc->started, atomic_load(&s->started));
	atomic_fetch_add(&acc->sampled, atomic_load(&s->sampled));
	atomic_fetch_add(&acc->dropped_full, atomic_load(&s->dropped_full));
	atomic_fetch_add(&acc->dropped_depth, atomic_load(&s->dropped_depth));
}

void at_thread_reap(struct at_thread_stats *acc)
{
	struct at_thread *prev = NULL;
	struct at_thread *t = at_thread_registry();

	while (t) {
		struct at_thread *next = t->next;

		if (!atomic_load_explicit(&t->exited, memory_order_acquire) ||
		    !at_ring_empty(&t->ring)) {
			prev = t;
			t = next;
			continue;
		}
		if (prev) {
			prev->next = next;
		} else {
			struct at_thread *expected = t;
			if (!atomic_compare_exchange_strong(&registry,
							    &expected, next)) {
				/* New threads were pushed in front: find
				 * our predecessor again. */
				prev = expected;
				while (prev->next != t)
					prev = prev->next;
				prev->next = next;
			}
		}
		add_stats(acc, &t->stats);
		munmap(t, mapping_size());
		atomic_fetch_sub(&n_states, 1);
		t = next;
	}
}

void at_thread_stats_sum(const struct at_thread_stats *acc, uint64_t out[4])
{
	out[0] = atomic_load(&acc->started);
	out[1] = atomic_load(&acc->sampled);
	out[2] = atomic_load(&acc->dropped_full);
	out[3] = atomic_load(&acc->dropped_depth);
	for (struct at_thread *t = at_thread_registry(); t; t = t->next) {
		out[0] += atomic_load(&t->stats.started);
		out[1] += atomic_load(&t->stats.sampled);
		out[2] += atomic_load(&t->stats.dropped_full);
		out[3] += atomic_load(&t->stats.dropped_depth);
	}
}

void at_thread_after_fork_child(void)
{
	struct at_thread *self = at_self;
	struct at_thread *t = atomic_load(&registry);

	/* Other threads do not exist in the child; their spans are the
	 * parent's to export. */
	while (t) {
		struct at_thread *next = t->next;
		if (t != self)
			munmap(t, mapping_size());
		t = next;
	}
	if (self) {
		self->next = NULL;
		at_ring_reset(&self->ring);
		at_rng_seed(&self->rng);
		self->tid = (pid_t)AT_REAL(syscall)(SYS_gettid);
		memset(&self->stats, 0, sizeof(self->stats));
	}
	atomic_store(&registry, self);
	atomic_store(&n_states, self ? 1 : 0);
	atomic_store(&at_thread_refused, 0);
}
