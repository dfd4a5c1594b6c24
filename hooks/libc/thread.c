/*
 * hooks/libc/thread.c - pthread_create(3): a new thread starts under its
 * creator's active span (at_span_active(): the top of the creator's
 * context stack, else the request it works for), so the work a request
 * handler hands to a thread of its own - a client call, a query - is that
 * request's.
 *
 * DESIGN
 *
 * The start routine is wrapped: the hook takes a trampoline from a static
 * pool (TRAMPS slots, claimed with a compare-and-swap; no malloc, no lock),
 * fills it with the program's routine, its argument and a reference to the
 * active span, and creates the thread on tramp_main, which copies them
 * out, frees the slot, makes the span the request the thread works for
 * (at_context_resume: only if it is still open) and calls the program's
 * routine with its argument, returning what it returns.  Nothing is
 * wrapped - the call goes through untouched - when the creator has no
 * active span (a pool created at startup: its workers do not inherit a
 * request), when its runtime registered a bridge (Node.js, Python: their
 * pools grow on first use, inside whatever request is current, and the
 * runtime says whose work a task is), or when the pool is empty.
 *
 * The inherited request ends like any other: when its response is
 * complete the new thread finds it ended (its later spans are roots), and
 * a request it reads, or a reply to something sent for another request,
 * replaces it.
 *
 * Limits: a native pool that creates a worker lazily while a request is
 * open gives that worker the request until it ends; a task the worker
 * runs for another request in the meantime, without reading anything,
 * goes under the first one.  The thread's start routine, as a debugger
 * shows it, is tramp_main.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>

#include "at_compat.h"
#include "at_context.h"
#include "at_init.h"
#include "at_real.h"
#include "at_span.h"
#include "at_thread.h"

#define TRAMPS 256

struct tramp {
	_Atomic int busy;
	void *(*fn)(void *);
	void *arg;
	struct at_ctx_entry ref;
};

static struct tramp tramps[TRAMPS];
static _Atomic unsigned tramp_next;

static struct tramp *tramp_get(void)
{
	unsigned start = atomic_fetch_add_explicit(&tramp_next, 1,
						   memory_order_relaxed);

	for (unsigned i = 0; i < TRAMPS; i++) {
		struct tramp *t = &tramps[(start + i) % TRAMPS];
		int free_ = 0;

		if (atomic_load_explicit(&t->busy, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&t->busy, &free_, 1))
			return t;
	}
	return NULL;
}

static void *tramp_main(void *p)
{
	struct tramp *t = p;
	void *(*fn)(void *) = t->fn;
	void *arg = t->arg;
	struct at_ctx_entry ref = t->ref;

	atomic_store_explicit(&t->busy, 0, memory_order_release);
	if (at_hook_enter()) {
		int err = errno;
		at_context_resume(&ref);
		at_hook_leave();
		errno = err;
	}
	return fn(arg);
}

AT_EXPORT int pthread_create(pthread_t *th, const pthread_attr_t *attr,
			     void *(*fn)(void *), void *arg)
{
	struct at_thread *self;
	struct at_span *s;
	struct tramp *t;
	int rc;

	if (!at_hook_enter())
		return AT_REAL(pthread_create)(th, attr, fn, arg);
	self = at_self;
	s = self && !self->bridge ? at_span_active() : NULL;
	t = s ? tramp_get() : NULL;
	if (t) {
		t->fn = fn;
		t->arg = arg;
		at_context_ref(&t->ref, s);
	}
	at_hook_leave();
	if (!t)
		return AT_REAL(pthread_create)(th, attr, fn, arg);
	rc = AT_REAL(pthread_create)(th, attr, tramp_main, t);
	if (rc != 0)
		atomic_store_explicit(&t->busy, 0, memory_order_release);
	return rc;
}
