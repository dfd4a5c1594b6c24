/*
 * at_context.c - which span a new span is the child of (at_context.h).
 *
 * DESIGN
 *
 * Three sources, asked in this order each time a span starts:
 *
 * 1. The context stack (per thread): spans active around a call that
 *    makes other spans inside it - a libpq connect around its TCP
 *    connect, a libcurl transfer, a process span.  Entries are
 *    references (span object + span id): a span ended elsewhere, even on
 *    another thread, is recognised and skipped.
 *
 * 2. A runtime bridge's slot, when the thread's runtime registered one
 *    (Node.js, Python: only the language knows which request an await
 *    continuation or a pool task belongs to).  The runtime writes into
 *    its own memory, with plain stores, which server connection's request
 *    it is running code for; the library reads it here - no system call,
 *    no lock.  The socket layer's resolver turns (fd, number) into the
 *    request's span if it is still open.  A slot that names no request,
 *    or one already answered, gives no parent: the span is a root of its
 *    own (counted as unparented when a request was named), never the
 *    child of another request.
 *
 * 3. The request the thread works for (its "ambient" request): set when
 *    the thread reads a request (a server span starts), and again when it
 *    reads the reply to something it sent while working for a request
 *    (the socket layer and the wire families keep, with each thing sent,
 *    the request it was sent for).  Callback-driven event loops (nginx,
 *    libevent, libuv, a hand-written epoll loop) thus keep the right
 *    request across chains of callbacks: each callback runs on the bytes
 *    that woke it.  What a loop sends from the callback that saw a
 *    socket writable (a non-blocking connect completed, bytes buffered by
 *    libevent) is the request's that was current when the connection was
 *    opened, or when the program asked EPOLLOUT for it (the socket layer
 *    keeps it with the connection: at_context_request).  It ends the
 *    moment the request's response is complete: nothing written
 *    afterwards joins it.  A thread-per-request server is the simple case
 *    of the same rule; a thread a handler creates starts working for its
 *    creator's request (hooks/libc/thread.c).
 *
 * Limits: an event loop that interleaves the continuations of several
 * requests without reading between them (Node.js, asyncio) needs its
 * bridge; without one, the rule of 3 gives the last request read.
 */
#include <stdatomic.h>
#include <string.h>

#include "at_compat.h"
#include "at_context.h"
#include "at_span_rec.h"
#include "at_thread.h"

/* Spans made roots because the request they were for had ended, or a
 * bridge named a request that is not open (reported at exit). */
_Atomic uint64_t at_context_unparented;

static _Atomic(at_request_resolver) resolver;
int at_context_bridge_fd = -1;

/* ---- references ---- */

static bool entry_live(const struct at_ctx_entry *e)
{
	const struct at_span *s = e->span;

	return s && s->h.state != AT_SPAN_FREE &&
	       memcmp(s->h.ctx.span_id, e->span_id, 8) == 0;
}

void at_context_ref(struct at_ctx_entry *ref, struct at_span *s)
{
	ref->span = s;
	if (s)
		memcpy(ref->span_id, s->h.ctx.span_id, 8);
	else
		memset(ref->span_id, 0, 8);
}

struct at_span *at_context_ref_get(const struct at_ctx_entry *ref)
{
	return entry_live(ref) ? ref->span : NULL;
}

/* ---- the stack ---- */

struct at_span *at_context_current(struct at_thread *t)
{
	while (t->depth > 0) {
		struct at_ctx_entry *e = &t->stack[t->depth - 1];
		if (AT_LIKELY(entry_live(e)))
			return e->span;
		t->depth--; /* ended elsewhere: forget it */
	}
	return NULL;
}

/* at_context_push on a full stack. */
int at_context_push_full(struct at_thread *t)
{
	atomic_store_explicit(
		&t->stats.dropped_depth,
		atomic_load_explicit(&t->stats.dropped_depth,
				     memory_order_relaxed) + 1,
		memory_order_relaxed);
	return -1;
}

/* at_context_remove of a span that is not on top. */
void at_context_remove_below(struct at_thread *t, struct at_span *s)
{
	uint32_t i = t->depth;

	while (i > 0) {
		i--;
		if (t->stack[i].span == s &&
		    memcmp(t->stack[i].span_id, s->h.ctx.span_id, 8) == 0) {
			memmove(&t->stack[i], &t->stack[i + 1],
				(t->depth - i - 1) * sizeof(t->stack[0]));
			t->depth--;
			return;
		}
	}
}

/* ---- the request the thread works for ---- */

void at_context_enter_request(struct at_span *s)
{
	struct at_thread *t = at_thread_get();

	if (t)
		at_context_ref(&t->ambient, s);
}

void at_context_resume(const struct at_ctx_entry *ref)
{
	struct at_thread *t;

	if (!ref->span || !(t = at_thread_get()))
		return;
	if (entry_live(ref))
		t->ambient = *ref;
	else
		memset(&t->ambient, 0, sizeof(t->ambient));
}

void at_context_leave_request(struct at_span *s)
{
	struct at_thread *t = at_self;

	if (t && t->ambient.span == s &&
	    memcmp(t->ambient.span_id, s->h.ctx.span_id, 8) == 0)
		memset(&t->ambient, 0, sizeof(t->ambient));
}

static struct at_span *unparented(bool count)
{
	if (count)
		atomic_fetch_add_explicit(&at_context_unparented, 1,
					  memory_order_relaxed);
	return NULL;
}

/* The request the bridge's slot names, or NULL. */
static struct at_span *bridge_request(const volatile int32_t *slot,
				      struct at_ctx_entry *req, bool count)
{
	int32_t fd1 = slot[2];
	uint32_t seq = (uint32_t)slot[3];
	at_request_resolver fn;
	struct at_span *s;

	if (fd1 <= 0)
		return NULL;
	fn = atomic_load_explicit(&resolver, memory_order_acquire);
	s = fn ? fn(fd1 - 1, seq) : NULL;
	if (!s)
		return unparented(count);
	if (req)
		at_context_ref(req, s);
	return s;
}

struct at_span *at_context_parent_lookup(struct at_thread *t,
					 struct at_ctx_entry *req)
{
	struct at_span *s;

	if (req)
		memset(req, 0, sizeof(*req));
	s = at_context_current(t);
	if (s)
		return s;
	if (t->bridge)
		return bridge_request(t->bridge, req, true);
	if (!t->ambient.span)
		return NULL;
	if (!entry_live(&t->ambient)) {
		memset(&t->ambient, 0, sizeof(t->ambient));
		return unparented(true);
	}
	if (req)
		*req = t->ambient;
	return t->ambient.span;
}


void at_context_request(struct at_ctx_entry *ref)
{
	struct at_thread *t = at_self;

	memset(ref, 0, sizeof(*ref));
	if (!t)
		return;
	if (t->bridge)
		bridge_request(t->bridge, ref, false);
	else if (entry_live(&t->ambient))
		*ref = t->ambient;
}

/* Read-only (safe in a vfork child, whose memory is its parent's):
 * nothing popped, cleared or counted. */
struct at_span *at_context_active(const struct at_thread *t)
{
	for (uint32_t i = t->depth; i > 0; i--)
		if (entry_live(&t->stack[i - 1]))
			return t->stack[i - 1].span;
	if (t->bridge)
		return bridge_request(t->bridge, NULL, false);
	return entry_live(&t->ambient) ? t->ambient.span : NULL;
}

/* ---- runtime bridges ---- */

void at_context_set_resolver(at_request_resolver fn)
{
	atomic_store_explicit(&resolver, fn, memory_order_release);
}

void at_context_bridge_register(const volatile int32_t *slot)
{
	struct at_thread *t = at_thread_get();

	if (t)
		t->bridge = slot;
}
