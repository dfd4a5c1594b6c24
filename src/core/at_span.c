/*
 * at_span.c - span lifecycle, attributes and the hand-off to the ring.
 *
 * This is the hot path of the library: everything here runs on the host's
 * threads, inside hooks.  It must not allocate, lock or make system calls
 * (the monotonic clock is a vDSO read), and it must cost well under 100 ns
 * for a sampled span and a few ns for an unsampled one.  Hence:
 *  - parent, ids and sampling come from thread-local state only;
 *  - an unsampled span is ids + one context-stack slot, nothing else;
 *  - attributes are fixed slots with static keys, strings go to an arena
 *    inside the span, and ending copies only the used bytes;
 *  - a full ring drops the span and counts it; it never waits.
 */
#include <stdatomic.h>
#include <string.h>

#include "at_baggage.h"
#include "at_clock.h"
#include "at_config.h"
#include "at_context.h"
#include "at_errno.h"
#include "at_sampler.h"
#include "at_span.h"
#include "at_thread.h"
#include "at_utf8.h"

_Static_assert(sizeof(struct at_span_hdr) % 8 == 0, "record header size");
_Static_assert(sizeof(struct at_attr) % 8 == 0, "attribute size");
_Static_assert(sizeof(struct at_event) % 8 == 0, "event size");
_Static_assert(offsetof(struct at_span, attrs) == sizeof(struct at_span_hdr),
	       "the attributes follow the header");

static struct at_span_context env_parent;
static int env_parent_valid;
static char env_tracestate[AT_TRACESTATE_MAX + 1];
static size_t env_tracestate_len;
static struct at_baggage_ref env_baggage;

void at_span_set_env_baggage(const char *bag, size_t len)
{
	env_baggage = at_baggage_set_env(bag, len);
}

static void inherit_baggage(struct at_span *s, struct at_baggage_ref ref)
{
	s->h.baggage_slot = ref.slot;
	s->h.baggage_gen = ref.gen;
	s->h.baggage_owner = 0;
}

struct at_baggage_ref at_span_baggage(const struct at_span *s)
{
	struct at_baggage_ref ref = { s->h.baggage_slot, s->h.baggage_gen };

	return ref;
}

/* AUTOTRACE_BAGGAGE_ATTRIBUTES: the named entries of the span's baggage
 * as attributes (only when configured and the span has baggage). */
static AT_COLD void baggage_attrs(struct at_span *s)
{
	const char *k = at_cfg.baggage_attrs;

	for (int i = 0; i < at_cfg.n_baggage_attrs; i++) {
		char v[256];
		int n = at_baggage_value(at_span_baggage(s), k, v, sizeof(v));

		if (n >= 0)
			at_span_set_str(s, k, v, (size_t)n);
		k += strlen(k) + 1;
	}
}

static inline void maybe_baggage_attrs(struct at_span *s)
{
	if (AT_UNLIKELY(at_cfg.n_baggage_attrs && s->h.baggage_slot &&
			s->h.state == AT_SPAN_RECORDING))
		baggage_attrs(s);
}

void at_span_own_baggage(struct at_span *s, struct at_baggage_ref ref)
{
	if (s->h.state == AT_SPAN_FREE) {
		at_baggage_release(ref);
		return;
	}
	if (s->h.baggage_owner)
		at_baggage_release(at_span_baggage(s));
	inherit_baggage(s, ref);
	s->h.baggage_owner = ref.slot != 0;
	maybe_baggage_attrs(s);
}

void at_span_set_env_parent(const struct at_span_context *ctx,
			    const char *tracestate, size_t len)
{
	if (!ctx) {
		env_parent_valid = 0;
		return;
	}
	env_parent = *ctx;
	if (len > AT_TRACESTATE_MAX || !tracestate)
		len = 0;
	if (len)
		memcpy(env_tracestate, tracestate, len);
	env_tracestate_len = len;
	env_parent_valid = 1;
}

static inline void count(_Atomic uint64_t *c)
{
	atomic_store_explicit(
		c, atomic_load_explicit(c, memory_order_relaxed) + 1,
		memory_order_relaxed);
}

/* Copy a string into the arena, truncated to the value length limit and
 * to the room left (at a UTF-8 boundary). */
static inline void arena_put(struct at_span *s, const char *v, size_t len,
			     size_t limit, struct at_str *out)
{
	size_t used = s->h.arena_used;
	size_t room = AT_SPAN_ARENA - used;

	if (limit < room)
		room = limit;
	if (AT_UNLIKELY(len > room))
		len = at_utf8_cut(v, len, room);
	at_span_copy_short(s->arena + used, v, len);
	out->off = (uint16_t)used;
	out->len = (uint16_t)len;
	s->h.arena_used = (uint16_t)(used + len);
}

/* Inline into its two callers: a call with ten arguments cost more than
 * half of what an unsampled span does. */
static inline __attribute__((always_inline)) bool
start_common(struct at_thread *t, struct at_span *s,
			 const char *name, size_t name_len,
			 enum at_span_kind kind,
			 const struct at_span_context *parent, int remote,
			 const char *ts, size_t ts_len, bool activate)
{
	struct at_span_hdr *h = &s->h;
	int sampled;

	if (parent) {
		memcpy(h->ctx.trace_id, parent->trace_id, 16);
		memcpy(h->parent_span_id, parent->span_id, 8);
		h->ctx.flags = parent->flags & AT_FLAG_RANDOM;
		h->has_parent = 1;
		h->parent_is_remote = (uint8_t)remote;
	} else {
		h->ctx.flags = AT_FLAG_RANDOM;
		h->has_parent = 0;
		h->parent_is_remote = 0;
	}
	at_id_make(&t->rng, !parent, h->ctx.trace_id, h->ctx.span_id);
	sampled = at_sampler_decide(&at_cfg.sampler, h->ctx.trace_id,
				    h->has_parent,
				    parent && (parent->flags & AT_FLAG_SAMPLED));
	count(&t->stats.started);

	h->arena_used = 0;
	h->tracestate.off = 0;
	h->tracestate.len = 0;
	if (AT_UNLIKELY(ts_len != 0))
		arena_put(s, ts, ts_len, AT_TRACESTATE_MAX, &h->tracestate);

	h->end_unix_ns = 0;
	if (sampled) {
		count(&t->stats.sampled);
		h->ctx.flags |= AT_FLAG_SAMPLED;
		h->state = AT_SPAN_RECORDING;
		h->kind = (uint8_t)kind;
		h->status_code = AT_STATUS_UNSET;
		h->n_attrs = 0;
		s->key_bits = 0;
		h->n_events = 0;
		h->n_ev_attrs = 0;
		h->dropped_attrs = 0;
		h->dropped_events = 0;
		h->status_message.off = 0;
		h->status_message.len = 0;
		arena_put(s, name, name_len, AT_SPAN_NAME_MAX, &h->name);
		h->start_mono_ns = at_mono_ns();
	} else {
		h->state = AT_SPAN_PROPAGATING;
	}
	h->on_stack = activate && at_context_push(t, s) == 0;
	maybe_baggage_attrs(s);
	return true;
}

static bool start_child(struct at_span *s, const char *name, size_t name_len,
			enum at_span_kind kind, bool activate,
			struct at_ctx_entry *req)
{
	struct at_thread *t = at_thread_get();
	const struct at_span_context *parent = NULL;
	const char *ts = NULL;
	size_t ts_len = 0;
	int remote = 0;
	struct at_span *cur;

	if (AT_UNLIKELY(!t)) {
		s->h.state = AT_SPAN_FREE;
		return false;
	}
	cur = at_context_parent(t, req);
	if (cur) {
		parent = &cur->h.ctx;
		ts = at_span_tracestate(cur, &ts_len);
		inherit_baggage(s, at_span_baggage(cur));
	} else {
		inherit_baggage(s, env_baggage);
		if (env_parent_valid) {
			parent = &env_parent;
			remote = 1;
			ts = env_tracestate;
			ts_len = env_tracestate_len;
		}
	}
	return start_common(t, s, name, name_len, kind, parent, remote, ts,
			    ts_len, activate);
}

bool at_span_start(struct at_span *s, const char *name, size_t name_len,
		   enum at_span_kind kind)
{
	return start_child(s, name, name_len, kind, true, NULL);
}

bool at_span_start_detached(struct at_span *s, const char *name,
			    size_t name_len, enum at_span_kind kind)
{
	return start_child(s, name, name_len, kind, false, NULL);
}

bool at_span_start_for(struct at_span *s, const char *name, size_t name_len,
		       enum at_span_kind kind, struct at_ctx_entry *req)
{
	return start_child(s, name, name_len, kind, false, req);
}

bool at_span_start_with_parent(struct at_span *s, const char *name,
			       size_t name_len, enum at_span_kind kind,
			       const struct at_span_context *parent,
			       const char *tracestate, size_t tracestate_len,
			       bool activate)
{
	struct at_thread *t = at_thread_get();

	if (AT_UNLIKELY(!t)) {
		s->h.state = AT_SPAN_FREE;
		return false;
	}
	if (!parent)
		tracestate_len = 0;
	/* A request's own context: its baggage, if any, comes with it
	 * (at_span_own_baggage), not from the environment. */
	inherit_baggage(s, (struct at_baggage_ref){ 0, 0 });
	return start_common(t, s, name, name_len, kind, parent, 1,
			    tracestate, tracestate_len, activate);
}

static inline size_t record_size(const struct at_span_hdr *h)
{
	size_t n = sizeof(*h) + h->n_attrs * sizeof(struct at_attr) +
		   h->n_events * sizeof(struct at_event) +
		   h->n_ev_attrs * sizeof(struct at_attr) + h->arena_used;

	return (n + 7) & ~(size_t)7;
}

size_t at_span_record_size(const struct at_span *s)
{
	return record_size(&s->h);
}

/* The record of s, size bytes (record_size), at dst: the parts that are
 * empty (usually the events) cost a test, not a call. */
static inline void serialize(const struct at_span *s, void *dst, size_t size)
{
	const struct at_span_hdr *h = &s->h;
	uint8_t *p = dst;
	size_t n;

	/* The header and the attributes in one copy (they are adjacent).
	 * The size is hidden from the compiler, which would otherwise copy
	 * it with `rep movsq` (a multiple of 8: one step per 8 bytes, 31 for
	 * a span of 6 attributes) instead of memcpy()'s few vector moves. */
	n = sizeof(*h) + h->n_attrs * sizeof(struct at_attr);
	__asm__("" : "+r"(n));
	memcpy(p, h, n);
	((struct at_span_hdr *)dst)->rec_size = (uint32_t)size;
	p += n;
	if (AT_UNLIKELY(h->n_events | h->n_ev_attrs)) {
		n = h->n_events * sizeof(struct at_event);
		memcpy(p, s->events, n);
		p += n;
		n = h->n_ev_attrs * sizeof(struct at_attr);
		memcpy(p, s->ev_attrs, n);
		p += n;
	}
	memcpy(p, s->arena, h->arena_used);
}

void at_span_serialize(const struct at_span *s, void *dst)
{
	serialize(s, dst, record_size(&s->h));
}

struct at_span_drops at_span_drops;
static const struct at_span_consumer *_Atomic consumer;
static _Atomic int consumer_idle; /* start it on the next span */

void at_span_consumer_set(const struct at_span_consumer *c)
{
	atomic_store(&consumer, c);
	atomic_store(&consumer_idle, c != NULL);
}

static AT_COLD void consumer_start(void)
{
	const struct at_span_consumer *c;

	if (atomic_exchange(&consumer_idle, 0) && (c = atomic_load(&consumer)))
		c->start();
}

static inline void consumer_ensure_started(void)
{
	if (AT_UNLIKELY(atomic_load_explicit(&consumer_idle,
					     memory_order_relaxed)))
		consumer_start();
}

static AT_COLD void consumer_wake(void)
{
	const struct at_span_consumer *c = atomic_load(&consumer);

	if (c)
		c->wake();
}

/* Records queued that wake the exporter: one export batch
 * (OTEL_BSP_MAX_EXPORT_BATCH_SIZE, as the spec's batch processor
 * exports), at most half the ring's records. */
static inline uint64_t wake_records(const struct at_ring *r)
{
	uint64_t batch = at_cfg.bsp_max_export_batch;

	return batch && batch < r->max_records / 2 ? batch : r->max_records / 2;
}

static void enqueue(struct at_thread *t, struct at_span *s)
{
	struct at_ring *r = &t->ring;
	uint32_t size;
	void *dst;

	if (AT_UNLIKELY(at_cfg.exporter == AT_EXPORTER_NONE)) {
		atomic_fetch_add_explicit(&at_span_drops.disabled, 1,
					  memory_order_relaxed);
		return;
	}
	size = (uint32_t)record_size(&s->h);
	dst = at_ring_reserve(r, size);
	if (AT_UNLIKELY(!dst)) {
		count(&t->stats.dropped_full);
		consumer_ensure_started();
		consumer_wake();
		return;
	}
	serialize(s, dst, size);
	at_ring_commit(r, size);

	consumer_ensure_started();
	/* Past the wake mark or a batch's worth of records: wake the
	 * exporter. */
	if (AT_UNLIKELY(at_ring_used_hint(r) > at_ring_wake_mark(r) ||
			atomic_load_explicit(&r->pushed, memory_order_relaxed) -
					r->cached_popped >=
				wake_records(r))) {
		r->cached_popped = atomic_load_explicit(&r->popped,
							memory_order_acquire);
		if (at_ring_used_refresh(r) > at_ring_wake_mark(r) ||
		    atomic_load_explicit(&r->pushed, memory_order_relaxed) -
				    r->cached_popped >=
			    wake_records(r))
			consumer_wake();
	}
}

/* The span's wall times, its end at monotonic time end. */
static inline void set_end_time(struct at_span *s, uint64_t end)
{
	s->h.start_unix_ns = at_unix_from_mono(s->h.start_mono_ns);
	s->h.end_unix_ns = s->h.start_unix_ns + (end - s->h.start_mono_ns);
}

/* Take the end time (once) and deactivate. */
static inline __attribute__((always_inline)) void
stop(struct at_span *s, struct at_thread *t)
{
	if (s->h.on_stack && t)
		at_context_remove(t, s);
	s->h.on_stack = 0;
	if (s->h.state == AT_SPAN_RECORDING && s->h.end_unix_ns == 0)
		set_end_time(s, at_mono_ns());
}

void at_span_end(struct at_span *s)
{
	struct at_thread *t;

	if (s->h.state == AT_SPAN_FREE)
		return;
	t = at_thread_get();
	stop(s, t);
	if (s->h.state == AT_SPAN_RECORDING) {
		if (t)
			enqueue(t, s);
		else
			atomic_fetch_add_explicit(&at_span_drops.nomem, 1,
						  memory_order_relaxed);
	}
	if (AT_UNLIKELY(s->h.baggage_owner)) {
		at_baggage_release(at_span_baggage(s));
		s->h.baggage_owner = 0;
	}
	s->h.end_unix_ns = 0;
	s->h.state = AT_SPAN_FREE;
}

void at_span_end_at(struct at_span *s, uint64_t mono_ns)
{
	if (s->h.state == AT_SPAN_RECORDING && s->h.end_unix_ns == 0)
		set_end_time(s, mono_ns < s->h.start_mono_ns ? s->h.start_mono_ns
							     : mono_ns);
	at_span_end(s);
}

void at_span_stop(struct at_span *s)
{
	if (s->h.state != AT_SPAN_FREE)
		stop(s, at_thread_get());
}

void at_span_adopt(struct at_span *s, const struct at_span *parent)
{
	if (s->h.state == AT_SPAN_FREE || parent->h.state == AT_SPAN_FREE)
		return;
	memcpy(s->h.ctx.trace_id, parent->h.ctx.trace_id, 16);
	memcpy(s->h.parent_span_id, parent->h.ctx.span_id, 8);
	s->h.ctx.flags = parent->h.ctx.flags;
	s->h.has_parent = 1;
	s->h.parent_is_remote = 0;
	if (!s->h.baggage_owner)
		inherit_baggage(s, at_span_baggage(parent));
	/* Sampling follows the parent: an unsampled parent drops the child;
	 * a child that was not recording cannot start now. */
	if (!(parent->h.ctx.flags & AT_FLAG_SAMPLED))
		s->h.state = AT_SPAN_PROPAGATING;
}

void at_span_backdate(struct at_span *s, uint64_t mono_ns)
{
	if (at_span_recording(s) && mono_ns < s->h.start_mono_ns)
		s->h.start_mono_ns = mono_ns;
}

void at_span_start_at(struct at_span *s, const struct at_span *other)
{
	if (other->h.state == AT_SPAN_RECORDING)
		at_span_backdate(s, other->h.start_mono_ns);
}

void at_span_set_name(struct at_span *s, const char *name, size_t len)
{
	if (!at_span_recording(s))
		return;
	arena_put(s, name, len, AT_SPAN_NAME_MAX, &s->h.name);
}

static inline uint32_t attr_limit(void)
{
	uint32_t l = at_cfg.attr_count_limit;
	return l < AT_SPAN_MAX_ATTRS ? l : AT_SPAN_MAX_ATTRS;
}

/* The slot for key: its existing one, or a new one; NULL if over the
 * limit (counted).  Keys are static strings compared by address: the
 * linker merges identical string literals, and the hooks name each key in
 * one place (a strcmp per attribute pair cost ~10% of a span).  The slots
 * are searched only when a key with the same bit was set before (with 6
 * keys, rarely: 6/64 per key). */
static inline struct at_attr *attr_slot(struct at_span *s, const char *key)
{
	struct at_span_hdr *h = &s->h;
	uint64_t bit = at_span_key_bit(key);
	struct at_attr *a;

	if (AT_UNLIKELY(s->key_bits & bit)) {
		for (unsigned i = 0; i < h->n_attrs; i++) {
			a = &s->attrs[i];
			if (a->key == key)
				return a;
		}
	}
	if (AT_UNLIKELY(h->n_attrs >= attr_limit())) {
		h->dropped_attrs++;
		return NULL;
	}
	s->key_bits |= bit;
	a = &s->attrs[h->n_attrs++];
	a->key = key;
	return a;
}

/* at_span_set_str() and at_span_set_int() when their inline path
 * (at_span.h) does not apply. */
void at_span_set_str_slow(struct at_span *s, const char *key, const char *val,
			  size_t len)
{
	struct at_attr *a;

	if (!at_span_recording(s) || !(a = attr_slot(s, key)))
		return;
	a->type = AT_ATTR_STRING;
	arena_put(s, val, len, at_cfg.attr_value_len_limit, &a->v.s);
}

void at_span_set_int_slow(struct at_span *s, const char *key, int64_t val)
{
	struct at_attr *a;

	if (!at_span_recording(s) || !(a = attr_slot(s, key)))
		return;
	a->type = AT_ATTR_INT;
	a->v.i = val;
}

void at_span_set_double(struct at_span *s, const char *key, double val)
{
	struct at_attr *a;

	if (!at_span_recording(s) || !(a = attr_slot(s, key)))
		return;
	a->type = AT_ATTR_DOUBLE;
	a->v.d = val;
}

/* at_span_set_bool() when its inline path (at_span.h) does not apply. */
void at_span_set_bool_slow(struct at_span *s, const char *key, bool val)
{
	struct at_attr *a;

	if (!at_span_recording(s) || !(a = attr_slot(s, key)))
		return;
	a->type = AT_ATTR_BOOL;
	a->v.b = val ? 1 : 0;
}

/* ---- attribute blocks (at_span.h) ---- */

static struct at_attr *block_slot(struct at_span_block *b, const char *key)
{
	uint64_t bit = at_span_key_bit(key);

	for (unsigned i = 0; (b->key_bits & bit) && i < b->n_attrs; i++) {
		if (b->attrs[i].key == key)
			b->full = 1; /* a key twice: the calls, not the copy */
	}
	if (b->n_attrs == AT_SPAN_BLOCK_ATTRS) {
		b->full = 1;
		return NULL;
	}
	b->key_bits |= bit;
	b->attrs[b->n_attrs].key = key;
	return &b->attrs[b->n_attrs++];
}

void at_span_block_str(struct at_span_block *b, const char *key,
		       const char *val, size_t len)
{
	struct at_attr *a;

	if (len > (size_t)(AT_SPAN_BLOCK_ARENA - b->arena_used)) {
		b->full = 1;
		return;
	}
	if (!(a = block_slot(b, key)))
		return;
	a->type = AT_ATTR_STRING;
	memcpy(b->arena + b->arena_used, val, len);
	a->v.s.off = b->arena_used;
	a->v.s.len = (uint16_t)len;
	b->arena_used = (uint16_t)(b->arena_used + len);
	if (len > b->longest)
		b->longest = (uint16_t)len;
}

void at_span_block_int(struct at_span_block *b, const char *key, int64_t val)
{
	struct at_attr *a = block_slot(b, key);

	if (!a)
		return;
	a->type = AT_ATTR_INT;
	a->v.i = val;
}

/* Is a key of b set on s already?  Searched only for the keys whose bit
 * s has (key bits are a hash: two keys may share one). */
static bool block_key_set(const struct at_span *s,
			  const struct at_span_block *b)
{
	uint64_t clash = s->key_bits & b->key_bits;

	for (unsigned i = 0; clash && i < b->n_attrs; i++) {
		const char *key = b->attrs[i].key;

		if (!(at_span_key_bit(key) & clash))
			continue;
		for (unsigned j = 0; j < s->h.n_attrs; j++) {
			if (s->attrs[j].key == key)
				return true;
		}
	}
	return false;
}

/* at_span_set_block, the search for b's keys on s made only if
 * check_keys (at_span_set_block_new's caller knows none is there). */
static inline __attribute__((always_inline)) bool
set_block(struct at_span *s, const struct at_span_block *b, bool check_keys)
{
	struct at_span_hdr *h = &s->h;
	size_t used = h->arena_used;
	unsigned n = b->n_attrs;
	struct at_attr *a;

	if (b->full)
		return false;
	if (!at_span_recording(s))
		return true;
	if (AT_UNLIKELY((check_keys && block_key_set(s, b)) ||
			h->n_attrs + n > attr_limit() ||
			b->longest > at_cfg.attr_value_len_limit ||
			used + b->arena_used > AT_SPAN_ARENA)) {
		for (unsigned i = 0; i < n; i++) {
			const struct at_attr *x = &b->attrs[i];

			if (x->type == AT_ATTR_STRING)
				at_span_set_str(s, x->key, b->arena + x->v.s.off,
						x->v.s.len);
			else
				at_span_set_int(s, x->key, x->v.i);
		}
		return true;
	}
	/* What the calls would do: new slots in order, each value whole in
	 * the arena after the previous one. */
	a = &s->attrs[h->n_attrs];
	for (unsigned i = 0; i < n; i++) {
		a[i] = b->attrs[i];
		if (a[i].type == AT_ATTR_STRING)
			a[i].v.s.off = (uint16_t)(a[i].v.s.off + used);
	}
	at_span_copy_short(s->arena + used, b->arena, b->arena_used);
	h->arena_used = (uint16_t)(used + b->arena_used);
	h->n_attrs = (uint8_t)(h->n_attrs + n);
	s->key_bits |= b->key_bits;
	return true;
}

bool at_span_set_block(struct at_span *s, const struct at_span_block *b)
{
	return set_block(s, b, true);
}

bool at_span_set_block_new(struct at_span *s, const struct at_span_block *b)
{
	return set_block(s, b, false);
}

void at_span_set_status(struct at_span *s, enum at_status_code code,
			const char *msg, size_t msg_len)
{
	struct at_span_hdr *h = &s->h;

	/* Spec: Unset is never set explicitly; Ok is final. */
	if (!at_span_recording(s) || code == AT_STATUS_UNSET ||
	    h->status_code == AT_STATUS_OK)
		return;
	h->status_code = (uint8_t)code;
	h->status_message.len = 0;
	if (code == AT_STATUS_ERROR && msg && msg_len)
		arena_put(s, msg, msg_len, at_cfg.attr_value_len_limit,
			  &h->status_message);
}

static void event_attr(struct at_span *s, struct at_event *ev,
		       const char *key, const char *v, size_t len,
		       uint32_t limit)
{
	struct at_attr *a;

	if (!key)
		return;
	if (ev->n_attrs >= limit ||
	    s->h.n_ev_attrs >= AT_SPAN_MAX_EVENT_ATTRS) {
		ev->dropped_attrs++;
		return;
	}
	a = &s->ev_attrs[s->h.n_ev_attrs++];
	ev->n_attrs++;
	a->key = key;
	a->type = AT_ATTR_STRING;
	arena_put(s, v, len, at_cfg.attr_value_len_limit, &a->v.s);
}

/* A new event at unix_ns, or NULL when over the limit (counted). */
static struct at_event *new_event(struct at_span *s, const char *name,
				  uint64_t unix_ns)
{
	struct at_span_hdr *h = &s->h;
	uint32_t limit = at_cfg.event_count_limit;
	struct at_event *ev;

	if (limit > AT_SPAN_MAX_EVENTS)
		limit = AT_SPAN_MAX_EVENTS;
	if (h->n_events >= limit) {
		h->dropped_events++;
		return NULL;
	}
	ev = &s->events[h->n_events++];
	ev->name = name;
	ev->time_unix_ns = unix_ns;
	ev->first_attr = h->n_ev_attrs;
	ev->n_attrs = 0;
	ev->dropped_attrs = 0;
	return ev;
}

void at_span_add_event(struct at_span *s, const char *name,
		       const char *k1, const char *v1, size_t v1_len,
		       const char *k2, const char *v2, size_t v2_len)
{
	struct at_event *ev;

	if (!at_span_recording(s) ||
	    !(ev = new_event(s, name, at_unix_from_mono(at_mono_ns()))))
		return;
	event_attr(s, ev, k1, v1, v1_len, at_cfg.event_attr_count_limit);
	event_attr(s, ev, k2, v2, v2_len, at_cfg.event_attr_count_limit);
}

void at_span_set_errno(struct at_span *s, int err)
{
	const char *name = at_errno_name(err);
	const char *desc = at_errno_desc(err);

	if (!at_span_recording(s))
		return;
	at_span_set_cstr(s, "error.type", name ? name : "_OTHER");
	at_span_set_status(s, AT_STATUS_ERROR, desc, strlen(desc));
}

struct at_span *at_span_active(void)
{
	struct at_thread *t = at_self;

	return t ? at_context_active(t) : NULL;
}

bool at_span_has_active(void)
{
	return at_span_active() != NULL;
}

void at_span_activate(struct at_span *s)
{
	struct at_thread *t = at_thread_get();

	if (t && at_span_started(s) && !s->h.on_stack)
		s->h.on_stack = at_context_push(t, s) == 0;
}

void at_span_deactivate(struct at_span *s)
{
	struct at_thread *t = at_self;

	if (t && s->h.on_stack)
		at_context_remove(t, s);
	s->h.on_stack = 0;
}

void at_span_add_event_at(struct at_span *s, const char *name,
			  uint64_t mono_ns)
{
	if (at_span_recording(s))
		new_event(s, name, at_unix_from_mono(mono_ns));
}

