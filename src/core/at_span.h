/*
 * at_span.h - spans: a fixed-size, allocation-free record of one operation.
 *
 * A span is caller-owned storage (usually on the hook's stack, or in the
 * state a hook keeps for a connection).  at_span_start() fills its ids
 * from the thread's active span (or the process's TRACEPARENT, or a new
 * trace), decides sampling and makes it the thread's active span.
 * Attributes and events are copied into the span itself: keys and event
 * names are static strings (pointers that live as long as the library),
 * string values go into a small arena at the end of the struct.
 * at_span_end() takes the end time, removes the span from the thread's
 * context stack and, if sampled, copies the used part of the span into the
 * thread's ring buffer as a compact record (struct at_span_hdr followed by
 * the used attributes, events, event attributes and arena bytes).
 *
 * An unsampled span costs an id and a context-stack slot: no clock read,
 * no attribute copy, nothing enqueued; it still propagates its context.
 *
 * Limits: at most AT_SPAN_MAX_ATTRS attributes (further ones are counted in
 * dropped_attrs), AT_SPAN_MAX_EVENTS events, AT_SPAN_ARENA bytes of strings
 * (a value that does not fit is truncated, at a UTF-8 boundary).  The OTel
 * limits from the environment can only lower these.
 *
 * Storage rules: a started span's storage must stay valid (mapped) until
 * the span is ended, from whichever thread ends it; a span ended on
 * another thread than the one that started it leaves a stale entry on the
 * starter's context stack, which is recognised (state and id) and skipped.
 *
 * None of these functions allocates, locks or makes a system call except
 * the first span of a thread (which maps the thread's state) and the rare
 * exporter wake-up when a ring crosses half full.
 */
#ifndef AT_SPAN_H
#define AT_SPAN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at_pool.h"

#include "at_config.h"

#include "at_context.h"
#include "at_baggage.h"
#include "at_span_rec.h"

/* Size of the record for span s (header + used parts, rounded up to 8). */
size_t at_span_record_size(const struct at_span *s);

/* Serialise s into dst (at least at_span_record_size(s) bytes). */
void at_span_serialize(const struct at_span *s, void *dst);

/* ---- lifecycle ---- */

/*
 * Start s as a child of the calling thread's active span; if there is
 * none, of the process's TRACEPARENT environment context; else as the root
 * of a new trace.  s becomes the thread's active span.
 * Returns true if the span was started (recording or propagating), false
 * if tracing is off or the thread cannot trace (s is then left FREE and
 * every other call on it is a no-op).
 */
bool at_span_start(struct at_span *s, const char *name, size_t name_len,
		   enum at_span_kind kind);

/* Like at_span_start, but s does not become the active span (for spans
 * that outlive their hook, such as a pending non-blocking connect). */
bool at_span_start_detached(struct at_span *s, const char *name,
			    size_t name_len, enum at_span_kind kind);

/* Like at_span_start_detached; *req is set to the request the span was
 * made for (at_context.h), to resume it when the reply comes. */
bool at_span_start_for(struct at_span *s, const char *name, size_t name_len,
		       enum at_span_kind kind, struct at_ctx_entry *req);

/*
 * Like at_span_start, with an explicit parent: the remote context parent
 * (with its tracestate, may be NULL/0) or, if parent is NULL, a new root
 * regardless of the active span.  activate: make s the thread's active
 * span.
 */
bool at_span_start_with_parent(struct at_span *s, const char *name,
			       size_t name_len, enum at_span_kind kind,
			       const struct at_span_context *parent,
			       const char *tracestate, size_t tracestate_len,
			       bool activate);

/* End s now: take the end time, deactivate it, enqueue it if sampled. */
void at_span_end(struct at_span *s);
/* at_span_end with the end time given (monotonic ns, not before the
 * start): for a span whose end was seen on another thread earlier. */
void at_span_end_at(struct at_span *s, uint64_t mono_ns);

/*
 * Two-step end, for a span whose parent may still change (a connect span
 * adopted by the HTTP request that follows it): at_span_stop() takes the
 * end time and deactivates s, which stays started; at_span_end()
 * then enqueues it (if sampled) and frees it.  Between the two,
 * at_span_adopt() may make s a child of parent (trace id, parent id and
 * sampling follow the parent).
 */
void at_span_stop(struct at_span *s);
void at_span_adopt(struct at_span *s, const struct at_span *parent);

/* Move the start time of s (a span started later than what it covers)
 * back to that of other, or to the monotonic time mono_ns. */
void at_span_start_at(struct at_span *s, const struct at_span *other);
void at_span_backdate(struct at_span *s, uint64_t mono_ns);

static inline bool at_span_started(const struct at_span *s)
{
	return s->h.state != AT_SPAN_FREE;
}

static inline bool at_span_recording(const struct at_span *s)
{
	return s->h.state == AT_SPAN_RECORDING;
}

/* Rename (the name is copied; the old one stays in the arena). */
void at_span_set_name(struct at_span *s, const char *name, size_t len);

/* ---- attributes: key must be a static string; the same key (the same
 * pointer) set twice keeps the last value ---- */

/*
 * Copy n bytes without a call for the short strings spans hold (names,
 * addresses, methods, a block's values): loads and stores that may
 * overlap, exactly within [src, src + n) and [dst, dst + n) (up to 16
 * bytes two of 1 to 8 bytes, up to 64 blocks of 16).  Longer ones go to
 * memcpy.
 */
static inline __attribute__((always_inline)) void
at_span_copy_short(char *dst, const char *src, size_t n)
{
	if (n >= 8 && n <= 16) {
		uint64_t a, b;

		__builtin_memcpy(&a, src, 8);
		__builtin_memcpy(&b, src + n - 8, 8);
		__builtin_memcpy(dst, &a, 8);
		__builtin_memcpy(dst + n - 8, &b, 8);
	} else if (n >= 4 && n < 8) {
		uint32_t a, b;

		__builtin_memcpy(&a, src, 4);
		__builtin_memcpy(&b, src + n - 4, 4);
		__builtin_memcpy(dst, &a, 4);
		__builtin_memcpy(dst + n - 4, &b, 4);
	} else if (n > 0 && n < 4) {
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	} else if (n > 16 && n <= 64) {
		struct b16 {
			char c[16];
		} a, b, c, d;

		__builtin_memcpy(&a, src, 16);
		__builtin_memcpy(&d, src + n - 16, 16);
		if (n > 32) {
			__builtin_memcpy(&b, src + 16, 16);
			__builtin_memcpy(&c, src + n - 32, 16);
			__builtin_memcpy(dst + 16, &b, 16);
			__builtin_memcpy(dst + n - 32, &c, 16);
		}
		__builtin_memcpy(dst, &a, 16);
		__builtin_memcpy(dst + n - 16, &d, 16);
	} else if (n > 64) {
		__builtin_memcpy(dst, src, n);
	}
}

/* The bit of key in the span's key_bits: a multiplicative hash of its
 * address, 6 bits.  Setting an attribute whose bit is clear needs no
 * search for the key (at_span.c, attr_slot()). */
static inline uint64_t at_span_key_bit(const char *key)
{
	return 1ull << (((uintptr_t)key * 0x9e3779b97f4a7c15ull) >> 58);
}

/*
 * Can key take a new slot without a search: the span records, no key
 * with the key's bit was set (so not this one), and the count limits
 * leave room?
 */
static inline bool at_span_attr_new(const struct at_span *s, uint64_t bit)
{
	return s->h.state == AT_SPAN_RECORDING && !(s->key_bits & bit) &&
	       s->h.n_attrs < AT_SPAN_MAX_ATTRS &&
	       s->h.n_attrs < at_cfg.attr_count_limit;
}

/* What at_span_set_str()/at_span_set_int() do in every other case
 * (at_span.c): a key set before or sharing its bit, a limit reached, a
 * long value. */
void at_span_set_str_slow(struct at_span *s, const char *key, const char *val,
			  size_t len);
void at_span_set_int_slow(struct at_span *s, const char *key, int64_t val);

/*
 * Inline, the common attribute: a new key, and for a string a value of
 * at most AT_SPAN_INLINE_STR bytes that fits the length limit and the
 * arena whole; a few stores where the call cost twice as much (a hook
 * sets 6 to 12 attributes a span).  The same slots and bytes as the
 * _slow functions.
 */
#define AT_SPAN_INLINE_STR 16
static inline __attribute__((always_inline)) void
at_span_set_str(struct at_span *s, const char *key,
				   const char *val, size_t len)
{
	uint64_t bit = at_span_key_bit(key);
	size_t used = s->h.arena_used;
	struct at_attr *a;

	if (s->h.state != AT_SPAN_RECORDING)
		return;
	if (AT_UNLIKELY(!at_span_attr_new(s, bit) || len > AT_SPAN_INLINE_STR ||
			len > at_cfg.attr_value_len_limit ||
			used + len > AT_SPAN_ARENA)) {
		at_span_set_str_slow(s, key, val, len);
		return;
	}
	s->key_bits |= bit;
	a = &s->attrs[s->h.n_attrs++];
	a->key = key;
	a->type = AT_ATTR_STRING;
	at_span_copy_short(s->arena + used, val, len);
	a->v.s.off = (uint16_t)used;
	a->v.s.len = (uint16_t)len;
	s->h.arena_used = (uint16_t)(used + len);
}

static inline __attribute__((always_inline)) void
at_span_set_cstr(struct at_span *s, const char *key,
				    const char *val)
{
	at_span_set_str(s, key, val, __builtin_strlen(val));
}

void at_span_set_bool_slow(struct at_span *s, const char *key, bool val);

/* at_span_set_int() and at_span_set_bool() (a read command's cache hit
 * on every reply): an int64 value (a bool's 0 or 1, v.b sharing v.i). */
static inline __attribute__((always_inline)) void
at_span_set_int64_as(struct at_span *s, const char *key, uint8_t type,
		     int64_t val)
{
	uint64_t bit = at_span_key_bit(key);
	struct at_attr *a;

	if (s->h.state != AT_SPAN_RECORDING)
		return;
	if (AT_UNLIKELY(!at_span_attr_new(s, bit))) {
		if (type == AT_ATTR_INT)
			at_span_set_int_slow(s, key, val);
		else
			at_span_set_bool_slow(s, key, val != 0);
		return;
	}
	s->key_bits |= bit;
	a = &s->attrs[s->h.n_attrs++];
	a->key = key;
	a->type = type;
	a->v.i = val;
}

static inline __attribute__((always_inline)) void
at_span_set_int(struct at_span *s, const char *key, int64_t val)
{
	at_span_set_int64_as(s, key, AT_ATTR_INT, val);
}

static inline __attribute__((always_inline)) void
at_span_set_bool(struct at_span *s, const char *key, bool val)
{
	at_span_set_int64_as(s, key, AT_ATTR_BOOL, val ? 1 : 0);
}

void at_span_set_double(struct at_span *s, const char *key, double val);

/* Status: msg only kept for AT_STATUS_ERROR (as the spec says). */
void at_span_set_status(struct at_span *s, enum at_status_code code,
			const char *msg, size_t msg_len);

/*
 * Add an event named name (static string) at the current time, with up to
 * two string attributes (keys static; pass NULL key to omit).
 */
void at_span_add_event(struct at_span *s, const char *name,
		       const char *k1, const char *v1, size_t v1_len,
		       const char *k2, const char *v2, size_t v2_len);

/* An event without attributes at the monotonic time mono_ns. */
void at_span_add_event_at(struct at_span *s, const char *name,
			  uint64_t mono_ns);

/*
 * Attribute blocks: a few attributes made once and set on many spans (what
 * the requests of one connection share: its peer, its server address).
 * at_span_set_block() sets them in order exactly as the at_span_set_*
 * calls that filled the block would (same slots, values and drops), with
 * two copies instead of a call each when nothing needs a check (none of
 * the block's keys may be set already, and all fit the limits); otherwise
 * it makes those calls.  A block that could not hold what it was given
 * (full) is refused: false, nothing set, the caller sets them itself.
 */
#define AT_SPAN_BLOCK_ATTRS 6
#define AT_SPAN_BLOCK_ARENA 208
struct at_span_block {
	uint8_t n_attrs;
	uint8_t full;           /* something did not fit: unusable */
	uint16_t arena_used;
	uint16_t longest;       /* the longest string value */
	uint64_t key_bits;      /* as at_span.key_bits */
	struct at_attr attrs[AT_SPAN_BLOCK_ATTRS];
	char arena[AT_SPAN_BLOCK_ARENA];
};

static inline void at_span_block_clear(struct at_span_block *b)
{
	b->n_attrs = 0;
	b->full = 0;
	b->arena_used = 0;
	b->longest = 0;
	b->key_bits = 0;
}

void at_span_block_str(struct at_span_block *b, const char *key,
		       const char *val, size_t len);
void at_span_block_int(struct at_span_block *b, const char *key, int64_t val);
bool at_span_set_block(struct at_span *s, const struct at_span_block *b);
/* The same when the caller knows that none of b's keys is set on s (a
 * block's keys that cannot be those of the others set before: libpq's
 * statement keys after its connection's), which saves the search for
 * them: with key bits shared by chance, a hundred instructions. */
bool at_span_set_block_new(struct at_span *s, const struct at_span_block *b);

/*
 * Mark the span failed because of errno value err: status ERROR with the
 * error's description, error.type = the errno name ("ECONNREFUSED").
 */
void at_span_set_errno(struct at_span *s, int err);

/*
 * The consumer of the span rings (the exporter, which registers itself at
 * initialisation through the lifecycle table, and again in a fork child):
 * the core never calls up into export.  start runs once, on the first
 * span after a registration (a flag test per span when it has run); wake
 * runs when a ring crossed its wake mark (a quarter of its bytes, or an
 * export batch of records, at most half its records) or was full.  With no consumer, spans stay in the rings.
 */
/* Spans dropped before a ring (OTEL_TRACES_EXPORTER=none; no thread
 * state), and operations a family saw but could not trace (untraced: a
 * wire connection whose commands outran its FIFO, no session free):
 * counted here, reported by the consumer. */
struct at_span_drops {
	_Atomic uint64_t disabled, nomem, untraced;
};
extern struct at_span_drops at_span_drops;

struct at_span_consumer {
	void (*start)(void);
	void (*wake)(void);
};
void at_span_consumer_set(const struct at_span_consumer *c);

/*
 * The process-wide remote parent from the TRACEPARENT/TRACESTATE
 * environment carrier, used by spans started with no active span.  Set
 * once at initialisation (before any span), never changed after.
 */
void at_span_set_env_parent(const struct at_span_context *ctx,
			    const char *tracestate, size_t len);
/* The BAGGAGE environment carrier (sanitized), likewise: the baggage of
 * spans started with no active span. */
void at_span_set_env_baggage(const char *bag, size_t len);

/* The baggage a span passes on (at_baggage.h): its parent's, or the one
 * it owns.  at_span_own_baggage gives a started span the list its
 * request brought (a server span); the span frees it when it ends (at
 * once if the span is not started). */
struct at_baggage_ref at_span_baggage(const struct at_span *s);
void at_span_own_baggage(struct at_span *s, struct at_baggage_ref ref);

/* Make a started span the calling thread's active span for a while (a
 * connection span around the libpq calls that open its socket), and stop
 * that again. */
void at_span_activate(struct at_span *s);
void at_span_deactivate(struct at_span *s);

/* Is the calling thread working for a span: one on its context stack,
 * or the request it works for (at_context.h)? */
bool at_span_has_active(void);
/* That span, or NULL; changes nothing (vfork-safe: the exec hooks). */
struct at_span *at_span_active(void);

/* The tracestate a span propagates (its arena; may be empty). */
static inline const char *at_span_tracestate(const struct at_span *s,
					     size_t *len)
{
	*len = s->h.tracestate.len;
	return s->arena + s->h.tracestate.off;
}

/* The context to propagate for s (valid once started). */
static inline const struct at_span_context *at_span_ctx(const struct at_span *s)
{
	return &s->h.ctx;
}

/* A span object from a module's pool, marked FREE (not started), or NULL
 * when the pool is exhausted; at_span_pool_put gives it back (NULL is
 * fine). */
static inline struct at_span *at_span_pool_get(struct at_pool *pool)
{
	struct at_span *s = at_pool_get(pool);

	if (s)
		s->h.state = AT_SPAN_FREE;
	return s;
}

static inline void at_span_pool_put(struct at_pool *pool, struct at_span *s)
{
	if (s)
		at_pool_put(pool, s);
}

#include "at_context.h"

#endif
