/*
 * at_context.h - which span a new span is the child of: the thread's
 * context stack, the request the thread works for, and the runtime
 * bridges.  at_context.c has the design.
 */
#ifndef AT_CONTEXT_H
#define AT_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <string.h>

#include "at_compat.h"
#include "at_span_rec.h"
#include "at_thread.h"

/* ---- the context stack (spans active around a call: libpq, libcurl,
 * a process span) ---- */

/* The active span, or NULL.  Entries for spans that were ended (possibly
 * by another thread) are skipped and popped. */
struct at_span *at_context_current(struct at_thread *t);

int at_context_push_full(struct at_thread *t);
void at_context_remove_below(struct at_thread *t, struct at_span *s);

/* Push s: 0, or -1 if the stack is full (counted). */
static inline int at_context_push(struct at_thread *t, struct at_span *s)
{
	struct at_ctx_entry *e;

	if (AT_UNLIKELY(t->depth >= AT_STACK_DEPTH))
		return at_context_push_full(t);
	e = &t->stack[t->depth++];
	e->span = s;
	memcpy(e->span_id, s->h.ctx.span_id, 8);
	return 0;
}

/* Remove s wherever it is on the calling thread's stack (inline: on
 * top, where a span that ends on the thread that started it is). */
static inline void at_context_remove(struct at_thread *t, struct at_span *s)
{
	uint32_t d = t->depth;

	if (AT_LIKELY(d > 0 && t->stack[d - 1].span == s &&
		      memcmp(t->stack[d - 1].span_id, s->h.ctx.span_id, 8) ==
			      0))
		t->depth = d - 1;
	else
		at_context_remove_below(t, s);
}

/* ---- references ---- */

void at_context_ref(struct at_ctx_entry *ref, struct at_span *s);
/* The span ref names if it is still started (not ended), else NULL. */
struct at_span *at_context_ref_get(const struct at_ctx_entry *ref);

/* ---- the request the calling thread works for ---- */

/* The thread read request s (a server span): it works for s now. */
void at_context_enter_request(struct at_span *s);
/* A reply arrived for something sent while the thread worked for ref:
 * it works for that request again (nothing if ref is empty or ended). */
void at_context_resume(const struct at_ctx_entry *ref);
/* s's response is complete: no thread works for it any more (the calling
 * thread forgets it now; others find it ended). */
void at_context_leave_request(struct at_span *s);

/* The request the calling thread works for now (the one its bridge
 * names, else its ambient request) into *ref, if it is open; else *ref
 * is zeroed.  Nothing is counted or changed. */
void at_context_request(struct at_ctx_entry *ref);

/*
 * The parent a span started now on t gets: the top of the context stack;
 * else, when the thread's runtime registered a bridge, the request the
 * bridge names; else the request the thread works for.  NULL: none (a
 * root, or the process's TRACEPARENT).  If req is not NULL it is set to
 * the request when the parent is one (to resume it at the reply), else
 * zeroed.
 */
struct at_span *at_context_parent_lookup(struct at_thread *t,
					 struct at_ctx_entry *req);
static inline struct at_span *at_context_parent(struct at_thread *t,
						struct at_ctx_entry *req)
{
	/* Inline: a thread with nothing to look at (a root span). */
	if (t->depth == 0 && !t->bridge && !t->ambient.span) {
		if (req)
			memset(req, 0, sizeof(*req));
		return NULL;
	}
	return at_context_parent_lookup(t, req);
}

/* Spans made roots because the request they were for had ended, or a
 * bridge named one that is not open. */
extern _Atomic uint64_t at_context_unparented;

/* The same span, looked up without changing or counting anything
 * (whether a span is active: the exec and DNS hooks; vfork-safe). */
struct at_span *at_context_active(const struct at_thread *t);

/* ---- runtime bridges ---- */

/*
 * A bridge's slot: four int32 the runtime writes with plain stores, read
 * by the thread that registered it: [0], [1] the registration magic,
 * [2] the file descriptor + 1 of the server connection whose request the
 * runtime runs code for (0: none), [3] that request's number on its
 * connection (1 for the first; 0: the oldest still open).
 */
#define AT_BRIDGE_SLOT_BYTES 16
#define AT_BRIDGE_MAGIC "ATBRIDGE"

/* The request of connection fd numbered seq (0: the oldest open), if it
 * is still open; registered by the socket layer. */
typedef struct at_span *(*at_request_resolver)(int fd, uint32_t seq);
void at_context_set_resolver(at_request_resolver fn);

/* The calling thread's runtime registered slot (NULL: unregister). */
void at_context_bridge_register(const volatile int32_t *slot);
/* The channel's descriptor (-1: none): a write of AT_BRIDGE_SLOT_BYTES
 * starting with AT_BRIDGE_MAGIC to it registers the buffer as the
 * writer's slot. */
extern int at_context_bridge_fd;

#endif
