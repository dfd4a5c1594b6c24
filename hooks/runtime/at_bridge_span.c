/*
 * at_bridge_span.c - client spans a runtime bridge asks for
 * (at_bridge_span.h).
 *
 * DESIGN
 *
 * Why.  The official Node.js builds link OpenSSL statically (and export
 * its symbols from the executable, so even an interposed SSL_write is
 * never called): the plaintext of Node's own HTTPS client (https.request,
 * fetch to https:) passes no function the library can hook, and the
 * socket layer sees only ciphertext.  Node itself knows each request
 * (diagnostics_channel, the request head it builds), so its bridge
 * (bridges/node/autotrace-https.js) asks the library for a span and a
 * traceparent for each, through the bridge channel (at_bridge.c): the
 * span, its attributes and its context stay the library's, made as the
 * socket layer makes an HTTP client span.
 *
 * Messages.  The bridge writes a buffer of its own memory to the channel
 * (one write() of a single buffer, 4-byte aligned); the write hook hands
 * it here; the answer is written into the same buffer and the write
 * returns its length: no system call, no lock, no malloc (span objects
 * come from a bounded lock-free pool).  The buffer is eight int32 then
 * data:
 *   [0] [1]  AT_BRIDGE_SPAN_MAGIC
 *   [2]      the operation: AT_BRIDGE_SPAN_START or _END
 *   [3]      the span's handle: answered by START (0: no span), given to
 *            END
 *   START    [4] [5] the request the HTTP request is made for, as a
 *            bridge slot names it (at_context.h: the server connection's
 *            descriptor + 1, 0 for none, and the request's number on it);
 *            [6] the length of the data: the request head as the runtime
 *            will send it (blank line included; a bridge that builds no
 *            head itself, undici, sends the request line, Host and its
 *            propagation fields).  Answer: [3] the handle, [4] the
 *            length of the header lines to add to the request, as data
 *            ("name: value" CRLF each: the configured propagators'
 *            formats the head does not carry itself, at_propagate.h; 0:
 *            none; the head is overwritten), [7] why there is no span
 *            (AT_BRIDGE_SPAN_OK...).
 *   END      [4] the response's status code (0: none), [5] the length of
 *            the error type as data (the error's code, e.g. ECONNRESET;
 *            0: none).  Answer: [3] 0.
 *   FLUSH    nothing but the queued ends (below).
 *   BIND     (with a queue, and data room for an answer of at least
 *            AT_BRIDGE_SPAN_BIND_DATA_MIN bytes) this buffer answers the
 *            calling thread's STARTs asked through getenv (below).
 *            Answer: [3] the bind's number (> 0).
 * An answer never writes [0] [1] [2] [6]: a bridge writes the magic once
 * and keeps its buffer for every message.
 *
 * Asked through getenv.  A write costs Node about 2.5 k instructions of
 * its own (fs.writeSync's checks, trace-category lookups, libuv's
 * request) plus copying the head in (latin1Write) and the answer out
 * (latin1Slice), about 0.65 k each; a read of process.env[name] is one
 * C++ interceptor that passes the name to getenv() as a C string and
 * makes a string of the value: about 1.6 k in all.  So a bridge BINDs
 * its buffer once per thread (a thread-local pointer here), then asks
 * for a START by reading process.env["\001ATBR<number>:" + head]: the
 * getenv hook (hooks/runtime/getenv.c) hands a name with the bound
 * number's prefix to at_bridge_span_env(), which takes [2] [4] [5] [6]
 * and the queue from the bound buffer ([2] = START | WITH_ENDS |
 * IN_NAME), the head from the name, writes the header lines as data
 * (NUL-terminated), sets [3] [4] [7] as a START's answer, adds ANSWERED
 * to [2], and returns the data to getenv (NULL: no span).  Node asks
 * twice when the value does not fit its first buffer (256 bytes: four
 * propagation formats): a START already ANSWERED returns the same
 * answer, no second span.  A name whose head is not [6] bytes long (a
 * character past ASCII: Node passes the name in UTF-8) is not answered,
 * [7] = AT_BRIDGE_SPAN_RESEND: the bridge writes that head, its bytes as
 * they are.  A read that does not reach the library at all (a worker
 * thread, whose process.env is a copy; a buffer bound since by another
 * channel on the thread, whose number it carries) leaves [7] as the
 * bridge set it, and the bridge writes from then on.  Every other name
 * is getenv's as without the library.
 *
 * Queued ends.  [2] may carry AT_BRIDGE_SPAN_WITH_ENDS: the message's
 * last AT_BRIDGE_SPAN_ENDS_BYTES bytes (the data ends before them) are
 * then a queue of ends, handled with the operation: a count, 3 int32
 * unused, then per end its handle, status and end time as the runtime
 * read CLOCK_MONOTONIC (seconds, nanoseconds: Node's process.hrtime),
 * kept between the span's start and the moment it is handled.  A START
 * handles them once its span started and takes its start time as "now"
 * (one clock read per message instead of two; before, when the table is
 * full and they free an entry); any other operation first.  The count
 * is zeroed: each end is handled once, a handle that names no open span
 * ends nothing.  A bridge queues the ends that carry no error and sends
 * them with its next message (a START, or a FLUSH when its queue is
 * full, a while after the first end or at exit): one message per span
 * instead of two.  The queue is read only during a message, on the
 * bridge's thread, from the bridge's own buffer: never at the library's
 * exit (the runtime may have freed it by then; a span whose end is still
 * queued is ended there as an open one).
 *
 * Cost (callgrind, Node 20, a span's start and end in a loop,
 * tests/fixtures/ctx/node_https_chan_cost.js, 10,000 against 20,000
 * spans, exporting to a sink): a START's process.env read takes 4.2 k
 * instructions (4.4 k before this pass's parser and url.full cuts), of
 * which 2.5 k are the library's under the getenv hook (the head parsed
 * 0.6 k, the queued end with the span's end 0.4 k, url.full 0.2 k: its
 * prefix kept per Host, the rest at_http_url_full_after's one scan; the
 * span's start 0.25 k, the header lines 0.2 k, the attributes) and 1.7 k
 * Node's interceptor around it; by write, the same START took about
 * 2.5 k of Node's own plus 1.3 k for the copies.  Node's thread in all:
 * 6.5-8 k per span (its compiled JavaScript moves by up to +-0.7 k from
 * one run to the next), 7.6 k by write; the exporter's thread 0.3-0.55 k.
 * No system call, one clock read (the START's, which the queued ends
 * share).
 *
 * The span.  Parsed with the socket layer's parser (at_http), named and
 * given the attributes the socket layer gives an HTTP client span
 * (http.request.method, url.full with its query redacted the same way,
 * server.address/port from Host - 443 by default -,
 * network.protocol.version), plus url.scheme=https.  Its parent is the
 * context the head carries itself in the configured formats (its formats
 * are then not answered); else the request the message names, resolved
 * by the socket layer's resolver as a slot is (a request already answered
 * gives a root, counted as unparented; no request named: the thread's
 * context, a root in an event loop).  END sets the status: 4xx and 5xx
 * (and an error type) make it ERROR with error.type, as the HTTP
 * semantic conventions say for a client.
 *
 * Open spans.  A table of AT_BRIDGE_SPAN_OPEN_MAX entries; a handle is
 * the entry's index and a generation, so a stale or forged handle ends
 * nothing.  Beyond the bound a start gets no span (counted untraced).
 * Spans still open at exit are ended as they are; a fork child forgets
 * its parent's.
 *
 * The TLS layer.  When the runtime uses a shared libssl that the
 * library's TLS hooks interpose (Debian's nodejs), the TLS layer makes
 * the span and injects: a start is answered "no span"
 * (AT_BRIDGE_SPAN_TLS_LAYER), decided once: SSL_write as the program
 * resolves it is the library's own and a libssl after the library
 * defines it.  The official build's SSL_write is its executable's, which
 * the program's calls resolve to first: spans from here.
 *
 * Limits: the span starts when the runtime builds the head and ends when
 * the bridge sees the response complete (or the request fail or close);
 * the peer's address is not known (Node resolves and connects by
 * itself); the connect span of the TLS connection (the socket layer's)
 * is not this span's child.
 */
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_bridge_span.h"
#include "at_clock.h"
#include "at_compat.h"
#include "at_config.h"
#include "at_http.h"
#include "at_pool.h"
#include "at_span.h"
#include "at_thread.h"
#include "at_propagate.h"
#include "at_traceparent.h"

#define IDX_BITS 10
#define IDX_MASK ((1u << IDX_BITS) - 1)
#define BUSY 1u   /* an entry being filled or ended (a handle is > IDX_MASK) */
#define ERR_TYPE_MAX 64

_Static_assert(AT_BRIDGE_SPAN_OPEN_MAX == 1u << IDX_BITS,
	       "a handle's index bits cover the table");

struct open_span {
	_Atomic uint32_t handle;   /* 0: free; BUSY; else the handle */
	struct at_span *span;
};

static struct open_span table[AT_BRIDGE_SPAN_OPEN_MAX];
static _Atomic uint32_t next_idx, next_gen;
static struct at_pool span_pool =
	AT_POOL_INIT(sizeof(struct at_span), AT_BRIDGE_SPAN_OPEN_MAX);

/* ---- the TLS layer ---- */

static _Atomic int tls_layer; /* 0: not asked yet; 1: it traces; 2: not */

static bool tls_layer_traces(void)
{
	int v = atomic_load_explicit(&tls_layer, memory_order_relaxed);
	Dl_info mine, def_info;
	void *def, *next;

	if (AT_LIKELY(v))
		return v == 1;
	def = dlsym(RTLD_DEFAULT, "SSL_write");
	next = dlsym(RTLD_NEXT, "SSL_write");
	v = def && next &&
	    dladdr((void *)&at_bridge_span_message, &mine) &&
	    dladdr(def, &def_info) && def_info.dli_fbase == mine.dli_fbase
		? 1 : 2;
	atomic_store_explicit(&tls_layer, v, memory_order_relaxed);
	return v == 1;
}

/* ---- the table of open spans ---- */

/* A free entry, marked BUSY, or NULL (all taken). */
static struct open_span *entry_take(void)
{
	uint32_t start = atomic_fetch_add_explicit(&next_idx, 1,
						   memory_order_relaxed);

	for (uint32_t i = 0; i < AT_BRIDGE_SPAN_OPEN_MAX; i++) {
		struct open_span *e = &table[(start + i) & IDX_MASK];
		uint32_t free_ = 0;
		if (atomic_load_explicit(&e->handle, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_strong(&e->handle, &free_, BUSY))
			return e;
	}
	return NULL;
}

/* Publish the span of a BUSY entry: its handle. */
static int32_t entry_open(struct open_span *e, struct at_span *s)
{
	uint32_t gen = atomic_fetch_add_explicit(&next_gen, 1,
						 memory_order_relaxed);
	uint32_t h = (((gen % 0x1fffffu) + 1) << IDX_BITS) |
		     (uint32_t)(e - table);

	e->span = s;
	atomic_store_explicit(&e->handle, h, memory_order_release);
	return (int32_t)h;
}

/* The span of handle h, its entry marked BUSY (the caller ends it), or
 * NULL: a handle that names no open span. */
static struct open_span *entry_claim(uint32_t h)
{
	struct open_span *e;

	if (h <= IDX_MASK)
		return NULL;
	e = &table[h & IDX_MASK];
	return atomic_compare_exchange_strong(&e->handle, &h, BUSY) ? e
								     : NULL;
}

static void entry_release(struct open_span *e)
{
	at_span_pool_put(&span_pool, e->span);
	e->span = NULL;
	atomic_store_explicit(&e->handle, 0, memory_order_release);
}

/* ---- the span ---- */

static void set_method(struct at_span *s, const struct at_http_request *r)
{
	const char *known = at_http_known_method(r->method.p, r->method.len);
	size_t kn = r->method.len; /* a known method is the method's bytes */

	if (known) {
		at_span_set_str(s, "http.request.method", known, kn);
		at_span_set_name(s, known, kn);
		return;
	}
	at_span_set_cstr(s, "http.request.method", "_OTHER");
	at_span_set_str(s, "http.request.method_original", r->method.p,
			r->method.len);
	at_span_set_name(s, "HTTP", 4);
}

/* The last Host's url.full prefix ("https://host") and server.address
 * and port, kept as the socket layer keeps a connection's: a client
 * mostly asks for one host.  One copy, taken with a flag: a thread that
 * finds it taken (another runtime thread's START) makes its own. */
#define MEMO_HOST_MAX 96
static struct host_memo {
	_Atomic int busy;
	uint8_t key_len;            /* 0: nothing kept */
	uint8_t hp_ok;              /* at_http_host_port() accepted it */
	uint8_t name_off, name_len; /* server.address, in the value */
	uint8_t prefix_len;         /* 0: not kept (would be cut) */
	int32_t port;
	char key[MEMO_HOST_MAX];
	char prefix[MEMO_HOST_MAX + 32];
} memo;

static void memo_give(void)
{
	atomic_store_explicit(&memo.busy, 0, memory_order_release);
}

/* The memo for Host h[0..len), made if it kept another, taken (the
 * caller gives it back with memo_give()); false: none for it. */
static bool memo_take(const char *h, size_t len)
{
	struct at_http_str name;
	size_t n;
	int port = -1, hp;

	if (len == 0 || len > MEMO_HOST_MAX ||
	    atomic_exchange_explicit(&memo.busy, 1, memory_order_acquire))
		return false;
	if (memo.key_len == len && memcmp(memo.key, h, len) == 0)
		return true;
	n = at_http_url_full(memo.prefix, sizeof(memo.prefix), "https", h,
			     len, NULL, 0, 0);
	memo.prefix_len = n > 0 && n + 1 < sizeof(memo.prefix) ? (uint8_t)n
							       : 0;
	hp = at_http_host_port(h, len, &name, &port);
	if (hp == 0 && !(name.p >= h && name.len <= len &&
			 (size_t)(name.p - h) <= len - name.len)) {
		/* Accepted, but not a part of the value: not kept. */
		memo.key_len = 0;
		memo_give();
		return false;
	}
	memo.hp_ok = hp == 0;
	memo.name_off = hp == 0 ? (uint8_t)(name.p - h) : 0;
	memo.name_len = hp == 0 ? (uint8_t)name.len : 0;
	memo.port = port;
	memcpy(memo.key, h, len);
	memo.key_len = (uint8_t)len;
	return true;
}

static void set_url(struct at_span *s, const struct at_http_request *r)
{
	char url[2048];
	struct at_http_str host;
	int port = -1, hp;
	size_t n;
	const char *t = r->target.p;
	bool kept = memo_take(r->host.p, r->host.len);

	if (kept && memo.prefix_len && (t[0] == '/' || t[0] == '*')) {
		/* A few overlapping moves (a variable-length memcpy here
		 * was a byte-counted "rep movsb"). */
		at_span_copy_short(url, memo.prefix, memo.prefix_len);
		n = at_http_url_full_after(url, sizeof(url), memo.prefix_len,
					   t, r->target.len,
					   at_cfg.http_redact_query);
	} else {
		n = at_http_url_full(url, sizeof(url), "https", r->host.p,
				     r->host.len, t, r->target.len,
				     at_cfg.http_redact_query);
	}
	if (kept) {
		hp = memo.hp_ok ? 0 : -1;
		host.p = r->host.p + memo.name_off;
		host.len = memo.name_len;
		port = memo.port;
		memo_give();
	} else {
		hp = at_http_host_port(r->host.p, r->host.len, &host, &port);
	}
	at_span_set_str(s, "url.full", url, n);
	at_span_set_cstr(s, "url.scheme", "https");
	if (hp == 0) {
		at_span_set_str(s, "server.address", host.p, host.len);
		at_span_set_int(s, "server.port", port >= 0 ? port : 443);
	}
}

/* Start s for request r: the child of the context its own head carries
 * in the configured formats, else of the request [fd1, seq] names (as a
 * bridge slot would). */
static bool span_start(struct at_span *s, const struct at_http_request *r,
		       int32_t fd1, int32_t seq)
{
	struct at_span_context parent;
	char ts[AT_TRACESTATE_MAX + 1];
	int ts_n = 0;
	struct at_thread *t;
	const volatile int32_t *saved;
	int32_t slot[4] = { 0, 0, fd1 > 0 ? fd1 : 0, seq };
	bool ok;

	if (at_http_request_context(r, at_cfg.prop_order, at_cfg.n_prop,
				    &parent, ts, sizeof(ts), &ts_n))
		return at_span_start_with_parent(s, "HTTP", 4, AT_KIND_CLIENT,
						 &parent, ts,
						 ts_n > 0 ? (size_t)ts_n : 0,
						 false);
	/* The request named in the message is the parent the thread's slot
	 * would give while it says so: the slot is pointed at a copy for
	 * the time of the start. */
	t = at_thread_get();
	if (!t) {
		s->h.state = AT_SPAN_FREE;
		return false;
	}
	saved = t->bridge;
	t->bridge = slot;
	ok = at_span_start_for(s, "HTTP", 4, AT_KIND_CLIENT, NULL);
	t->bridge = saved;
	return ok;
}

static void set_end(struct at_span *s, int32_t status, const char *err,
		    size_t err_len)
{
	char code[12];

	if (status >= 100 && status <= 999) {
		at_span_set_int(s, "http.response.status_code", status);
		if (status >= 400 && !err_len) {
			err_len = (size_t)snprintf(code, sizeof(code), "%d",
						   (int)status);
			err = code;
		}
	}
	if (err_len) {
		at_span_set_str(s, "error.type", err, err_len);
		at_span_set_status(s, AT_STATUS_ERROR, NULL, 0);
	}
}

/* Close the span of entry e (claimed): its status, and its end at the
 * monotonic time mono (0: now; a time before its start or after now is
 * taken as its start or now). */
static void end_entry(struct open_span *e, int32_t status, const char *err,
		      size_t err_len, uint64_t mono, uint64_t now)
{
	struct at_span *s = e->span;

	if (at_span_recording(s))
		set_end(s, status, err, err_len);
	if (mono) /* at_span_end_at takes a time before the start as it */
		at_span_end_at(s, mono > now ? now : mono);
	else
		at_span_end(s);
	entry_release(e);
}

/* The queued ends q (AT_BRIDGE_SPAN_ENDS_BYTES; NULL: none), each once:
 * the count is zeroed.  A handle that names no open span (ended already,
 * forged, a parent's after a fork) ends nothing.  now: the monotonic
 * time a START just read for its span (0: read it here, once, when an
 * end needs it); an end time after it is taken as it. */
static void drain_ends(int32_t *q, uint64_t now)
{
	int32_t n;

	if (!q)
		return;
	n = q[0];
	q[0] = 0;
	if (n <= 0)
		return;
	if (n > AT_BRIDGE_SPAN_ENDS)
		n = AT_BRIDGE_SPAN_ENDS;
	for (int32_t i = 0; i < n; i++) {
		const int32_t *x = q + 4 + 4 * i;
		struct open_span *e = entry_claim((uint32_t)x[0]);
		uint64_t mono;

		if (!e)
			continue;
		if (!now)
			now = at_mono_ns();
		mono = x[2] >= 0 && x[3] >= 0 && x[3] < 1000000000
			? (uint64_t)x[2] * 1000000000u + (uint64_t)x[3]
			: now;
		end_entry(e, x[1], NULL, 0, mono, now);
	}
}

/* START: m is the message, head[0..n) the request head (n 0: none),
 * the answer's lines written to out[0..cap) (the head itself, or not),
 * q the queued ends (NULL: none), drained after the span started (its
 * start time is the clock read they need), or before when they free the
 * entry it needs. */
static void msg_start(int32_t *m, const char *head, size_t n, char *out,
		      size_t cap, int32_t *q)
{
	struct at_http_request r;
	struct open_span *e;
	struct at_span *s;
	int32_t fd1 = m[4], seq = m[5];

	m[3] = 0;
	m[4] = m[5] = 0;
	if (tls_layer_traces()) {
		drain_ends(q, 0);
		m[7] = AT_BRIDGE_SPAN_TLS_LAYER;
		return;
	}
	/* The data must be exactly one head: the parser stops at its blank
	 * line (no scan for it before). */
	if (n == 0 || n > AT_HTTP_HEAD_MAX ||
	    at_http_parse_request(head, n, &r) != 0 || r.head_len != n ||
	    !r.host.p || !r.host.len) {
		drain_ends(q, 0);
		m[7] = AT_BRIDGE_SPAN_BAD_HEAD;
		return;
	}
	e = entry_take();
	if (!e && q && q[0] > 0) {
		drain_ends(q, 0);
		e = entry_take();
	}
	if (!e) {
		atomic_fetch_add_explicit(&at_span_drops.untraced, 1,
					  memory_order_relaxed);
		m[7] = AT_BRIDGE_SPAN_FULL;
		return;
	}
	if (!(s = at_span_pool_get(&span_pool)) ||
	    !span_start(s, &r, fd1, seq)) {
		at_span_pool_put(&span_pool, s);
		atomic_store_explicit(&e->handle, 0, memory_order_release);
		drain_ends(q, 0);
		m[7] = AT_BRIDGE_SPAN_NO_TRACE;
		return;
	}
	drain_ends(q, at_span_recording(s) ? s->h.start_mono_ns : 0);
	if (at_span_recording(s)) {
		set_method(s, &r);
		set_url(s, &r);
		at_span_set_cstr(s, "network.protocol.version",
				 r.version_minor ? "1.1" : "1.0");
	}
	/* The answer may overwrite the head (its attributes are copied):
	 * the header lines of the configured formats the head does not
	 * carry (the baggage line only when the buffer has room for it). */
	m[4] = (int32_t)at_span_header_lines(s, r.prop_present, "\r\n", out,
					     cap);
	m[7] = AT_BRIDGE_SPAN_OK;
	m[3] = entry_open(e, s);
}

/* END. */
static void msg_end(int32_t *m, const char *data, size_t cap)
{
	struct open_span *e = entry_claim((uint32_t)m[3]);
	size_t err_len = m[5] > 0 ? (size_t)m[5] : 0;

	m[3] = 0;
	if (!e)
		return;
	if (err_len > cap || err_len > ERR_TYPE_MAX)
		err_len = 0;
	end_entry(e, m[4], data, err_len, 0, 0);
}

/* ---- STARTs asked through getenv ---- */

/* The calling thread's bound buffer (BIND): its message, with the queue
 * at its end, and the name prefix its STARTs carry ("\001ATBR<n>:", n
 * the bind's number: a buffer bound before on the thread, replaced,
 * answers nothing). */
static AT_TLS int32_t *bound;
static AT_TLS size_t bound_len;
static AT_TLS char bound_name[24];
static AT_TLS size_t bound_name_len;
static _Atomic uint32_t binds;

/* BIND: m (total bytes, a queue at its end) is the thread's buffer. */
static void msg_bind(int32_t *m, size_t total)
{
	uint32_t n = atomic_fetch_add_explicit(&binds, 1,
					       memory_order_relaxed) %
			     0x7ffffffeu + 1u;
	int k = snprintf(bound_name, sizeof(bound_name), "%s%u:",
			 AT_BRIDGE_SPAN_ENV_PREFIX, (unsigned)n);

	bound = m;
	bound_len = total;
	bound_name_len = k > 0 ? (size_t)k : 0;
	m[3] = (int32_t)n;
}

bool at_bridge_span_env(const char *name, char **answer)
{
	int32_t *m = bound;
	char *out;
	const char *head;
	size_t n;

	if (!m || !bound_name_len ||
	    strncmp(name, bound_name, bound_name_len) != 0)
		return false;
	out = (char *)(m + 8);
	/* The same message again (the runtime asks twice when the answer
	 * did not fit its first buffer): the same answer. */
	if (m[2] == (AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS |
		     AT_BRIDGE_SPAN_IN_NAME | AT_BRIDGE_SPAN_ANSWERED)) {
		*answer = m[3] > 0 ? out : NULL;
		return true;
	}
	if (m[2] != (AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS |
		     AT_BRIDGE_SPAN_IN_NAME))
		return false;
	/* [6] is the head's length as the bridge has it: a name of another
	 * length is not those bytes (a character past ASCII, which the
	 * runtime encoded in UTF-8): the bridge writes that head. */
	head = name + bound_name_len;
	n = m[6] > 0 ? (size_t)m[6] : 0;
	if (n == 0 || n > AT_HTTP_HEAD_MAX || strnlen(head, n + 1) != n) {
		m[7] = AT_BRIDGE_SPAN_RESEND;
		return false;
	}
	msg_start(m, head, n, out,
		  bound_len - AT_BRIDGE_SPAN_HDR - AT_BRIDGE_SPAN_ENDS_BYTES - 1,
		  m + (bound_len - AT_BRIDGE_SPAN_ENDS_BYTES) / 4);
	if (m[3] > 0)
		out[m[4]] = 0;
	m[2] |= AT_BRIDGE_SPAN_ANSWERED;
	*answer = m[3] > 0 ? out : NULL;
	return true;
}

ssize_t at_bridge_span_message(const struct iovec *iov, int iovcnt,
			       size_t total)
{
	int32_t *m, *q = NULL;
	size_t len = total;
	int32_t op;

	if (iovcnt != 1 || total < AT_BRIDGE_SPAN_HDR ||
	    iov[0].iov_len != total || ((uintptr_t)iov[0].iov_base & 3) ||
	    memcmp(iov[0].iov_base, AT_BRIDGE_SPAN_MAGIC, 8) != 0)
		return -1;
	/* The bridge's own buffer, which it passed to write() to be
	 * answered in. */
	m = (int32_t *)iov[0].iov_base;
	op = m[2];
	if (op & AT_BRIDGE_SPAN_WITH_ENDS) {
		if (total < AT_BRIDGE_SPAN_HDR + AT_BRIDGE_SPAN_ENDS_BYTES ||
		    (total & 3))
			return -1;
		len = total - AT_BRIDGE_SPAN_ENDS_BYTES;
		q = m + len / 4;
		op &= ~AT_BRIDGE_SPAN_WITH_ENDS;
	}
	/* Not one of the operations (a FLUSH carries its queue): not a
	 * message, and nothing in it is read, the queue neither. */
	if (op != AT_BRIDGE_SPAN_START && op != AT_BRIDGE_SPAN_END &&
	    !(op == AT_BRIDGE_SPAN_FLUSH && q) &&
	    !(op == AT_BRIDGE_SPAN_BIND && q &&
	      len >= AT_BRIDGE_SPAN_HDR + AT_BRIDGE_SPAN_BIND_DATA_MIN))
		return -1;
	if (op == AT_BRIDGE_SPAN_START) {
		size_t cap = len - AT_BRIDGE_SPAN_HDR;
		char *data = (char *)(m + 8);
		msg_start(m, data,
			  m[6] > 0 && (size_t)m[6] <= cap ? (size_t)m[6] : 0,
			  data, cap, q);
		return (ssize_t)total;
	}
	drain_ends(q, 0);
	if (op == AT_BRIDGE_SPAN_BIND) {
		msg_bind(m, total);
		return (ssize_t)total;
	}
	if (op == AT_BRIDGE_SPAN_END)
		msg_end(m, (const char *)(m + 8), len - AT_BRIDGE_SPAN_HDR);
	return (ssize_t)total;
}

/* ---- lifecycle ---- */

void at_bridge_span_at_exit(void)
{
	for (uint32_t i = 0; i < AT_BRIDGE_SPAN_OPEN_MAX; i++) {
		uint32_t h = atomic_load(&table[i].handle);
		struct open_span *e = h > IDX_MASK ? entry_claim(h) : NULL;
		if (!e)
			continue;
		at_span_end(e->span);
		entry_release(e);
	}
}

void at_bridge_span_after_fork_child(void)
{
	/* A thread of the parent may have held the memo. */
	memo.key_len = 0;
	atomic_store(&memo.busy, 0);
	/* The parent ends these spans: the child drops them. */
	for (uint32_t i = 0; i < AT_BRIDGE_SPAN_OPEN_MAX; i++) {
		if (atomic_load(&table[i].handle) <= IDX_MASK)
			continue;
		entry_release(&table[i]);
	}
}
