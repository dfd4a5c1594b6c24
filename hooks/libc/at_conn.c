/*
 * at_conn.c - HTTP/1.x tracing on the host's TCP connections.
 *
 * DESIGN
 *
 * State.  Each traced TCP socket (at_fdtab) gets, on first use, a struct
 * at_conn from a lock-free pool: the peer, the connect span, and two
 * flows - bytes the program sends ("out") and bytes it receives ("in").
 * A flow is at a message boundary (START), inside a head (HEAD: a copy of
 * the head's bytes so far is kept to parse it once complete - bytes that
 * already went to the kernel, or came from it), inside a body (BODY:
 * counted with the framing at_http computed), sending a head whose
 * injection is decided (HEAD_SEND, client only), or gave up (PASS: not
 * HTTP/1.x, e.g. TLS, a database protocol, or after an Upgrade).  Spans in
 * flight sit in a small FIFO per connection (pipelining): a client pushes
 * one per request head it sends and pops it when the response is
 * complete; a server pushes one per request head it reads and pops it when
 * its response has been written.  A direction is driven by one thread at a
 * time (two threads writing one socket at once would interleave the bytes
 * anyway), so the FIFO is single-producer single-consumer.
 *
 * Nothing is held back.  Every byte the program writes goes to the kernel
 * in the call that carries it, and the count returned is what moved: a
 * program that writes part of something that looks like a request head
 * and then waits for its peer (an HTTP/0.9-style "GET /x\r\n" to a line
 * server, `printf 'GET / HTTP/1.1\r\n' | nc`), or shuts the socket down,
 * closes it, execs or exits, behaves exactly as without the library, on
 * any thread and with no hook on poll/select/epoll.  (An earlier design
 * kept such pieces until the head was complete: it lost them at close and
 * deadlocked line protocols.)  This is why the line goes at the end of the
 * head rather than after the request line: the end is the one place that
 * is still unsent when the head is known to be complete.
 *
 * Injection (client).  The call that carries a head's blank line
 * completes it; only then, and only if at_http_parse_request accepted the
 * whole head (the copy of the bytes already sent plus this call's), is the
 * header line added - right before the blank line, ending like the head's
 * lines (CRLF, or a bare LF when all of them end so).  No line for a head
 * that mixes CRLF and LF, nor for one that already carries a traceparent
 * field, valid or not (a valid one becomes the span's parent; two fields,
 * or an invalid one, give a span without a remote parent), nor when the
 * blank line's CR went out in an earlier call than its LF (a program that
 * writes byte by byte): the insertion point is gone; the span is still
 * made.  The bytes sent are the program's with the line inserted, and the
 * count returned maps the wire count back to the program's bytes: bytes
 * sent before the insertion point count as they are; a send that stops
 * inside the injected line counts the bytes before it, and the rest of the
 * line is sent first on the next call - which always comes, since the
 * blank line is still unsent; a count past the line counts without it.  A
 * send that moved no byte of the program's but part of the line is
 * retried at once, so the program never sees 0.  A head that stops
 * looking like HTTP, or outgrows AT_HTTP_HEAD_MAX, turns the flow to PASS.
 * One call carrying two request heads is cut at the second one (a short
 * count, legal on a stream socket) so each head gets its own decision.
 *
 * CONNECT.  A CONNECT request opens a tunnel: it gets no line and no span
 * (the connect span is exported as it is).  A flight without a span
 * remembers it, so that its response is framed (a 2xx has no body); after
 * the response both flows start over at a message boundary: a tunnel that
 * carries plain HTTP/1.x is traced like any connection, anything else (TLS)
 * turns the connection to PASS.  Either way its bytes pass unchanged.
 *
 * Connect spans.  The connect span is kept until the first bytes move: if
 * they are an HTTP request, the connect span becomes the child of its
 * client span, whose start moves back to the connect (the request covers
 * opening its connection); otherwise it is exported as it is.
 *
 * Identity.  A descriptor closed inside libc (fclose of an fdopen'ed
 * socket) escapes the close() hook; if a file reuses its number, the stale
 * entry must not make the library touch the file's bytes.  Before a span
 * starts or a byte is changed, the socket's inode is compared with the one
 * recorded at connect/accept; a mismatch forgets the entry.
 *
 * Costs.  Bytes are parsed where they are, except the few hundred bytes of
 * a head, which are copied into a pooled buffer.  No malloc, no lock;
 * system calls: the real ones, plus one fstat per request head (at most
 * one a second per connection).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "at_config.h"
#include "at_conn.h"
#include "at_guard.h"
#include "at_http.h"
#include "at_pool.h"
#include "at_real.h"
#include "at_traceparent.h"

#define INFLIGHT 8
#define BUF_SIZE (AT_HTTP_HEAD_MAX + 1024)
#define NO_INJ UINT32_MAX
#define PEEK_BYTES 24

enum { PH_START = 0, PH_HEAD, PH_HEAD_SEND, PH_BODY, PH_PASS };
enum { CS_NONE = 0, CS_PENDING, CS_STOPPING, CS_STOPPED };

struct flight {
	struct at_span *span;
	char method[16];
	uint8_t method_len;
	uint8_t has_status;
};

struct flow {
	uint8_t phase;
	uint32_t hlen;          /* bytes kept in buf */
	char *buf;              /* pooled head buffer, or NULL */
	struct at_http_body body;
};

struct at_conn {
	int fd;
	uint8_t role;           /* AT_FD_CLIENT / AT_FD_SERVER */
	_Atomic uint8_t connect_state;
	uint8_t peer_v6;
	uint64_t ino;
	uint64_t dev;
	time_t checked_at;      /* last identity check (coarse seconds) */
	char peer_ip[INET6_ADDRSTRLEN];
	int peer_port;
	/* The connect span: owned by whoever takes it (take_connect), since
	 * a reader and a writer thread may both move the first bytes. */
	struct at_span *_Atomic connect_span;
	struct flow out, in;

	/* client: sending a head whose injection is decided */
	uint32_t head_rem;      /* program bytes of the head still to send */
	uint32_t inj_at;        /* where the line goes in them, or NO_INJ */
	uint16_t inj_len, inj_sent;
	char inj[AT_TRACEPARENT_LEN + AT_TRACESTATE_MAX + 40];

	struct flight fl[INFLIGHT];
	_Atomic uint32_t fl_head, fl_tail;
};

static struct at_pool conn_pool = AT_POOL_INIT(sizeof(struct at_conn), 65536);
static struct at_pool span_pool = AT_POOL_INIT(sizeof(struct at_span), 65536);
static struct at_pool buf_pool = AT_POOL_INIT(BUF_SIZE, 4096);

/* ---- small helpers ---- */

static size_t iov_total(const struct iovec *iov, int n)
{
	size_t t = 0;
	for (int i = 0; i < n; i++)
		t += iov[i].iov_len;
	return t;
}

/* Copy up to cap bytes starting at byte `skip` of the iovec data. */
static size_t iov_copy(char *dst, const struct iovec *iov, int n, size_t skip,
		       size_t cap)
{
	size_t done = 0;

	for (int i = 0; i < n && done < cap; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t take = l - skip;
		if (take > cap - done)
			take = cap - done;
		memcpy(dst + done, (const char *)iov[i].iov_base + skip, take);
		done += take;
		skip = 0;
	}
	return done;
}

/* Build in out[] the iovecs of bytes [from, from + len) of iov. */
static int iov_slice(struct iovec *out, int cap, const struct iovec *iov,
		     int n, size_t from, size_t len)
{
	int k = 0;

	for (int i = 0; i < n && len > 0 && k < cap; i++) {
		size_t l = iov[i].iov_len;
		if (from >= l) {
			from -= l;
			continue;
		}
		size_t take = l - from;
		if (take > len)
			take = len;
		out[k].iov_base = (char *)iov[i].iov_base + from;
		out[k].iov_len = take;
		k++;
		len -= take;
		from = 0;
	}
	return len ? -1 : k;
}

static ssize_t real_sendv(int fd, struct iovec *iov, int n, int flags)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	return AT_REAL(sendmsg)(fd, &mh, flags);
}

/*
 * Is c->fd still the socket c was made for?  An fstat (~0.3 us) on the
 * first message of a connection, then at most once a second: descriptors
 * closed inside libc by fclose() or close_range() are forgotten by those
 * hooks; this catches the rarer ways, such as a libc-internal close, at a
 * cost that does not grow with the request rate.
 */
static int identity_ok(struct at_conn *c)
{
	struct timespec now;
	struct stat st;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (c->checked_at && now.tv_sec == c->checked_at)
		return 1;
	if (fstat(c->fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    (uint64_t)st.st_ino != c->ino || (uint64_t)st.st_dev != c->dev)
		return 0;
	c->checked_at = now.tv_sec;
	return 1;
}

static void fmt_peer(struct at_conn *c, const struct sockaddr *sa)
{
	if (!sa)
		return;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, c->peer_ip,
			  sizeof(c->peer_ip));
		c->peer_port = ntohs(in->sin_port);
		c->peer_v6 = 0;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_ip,
			  sizeof(c->peer_ip));
		c->peer_port = ntohs(in6->sin6_port);
		c->peer_v6 = 1;
	}
}

/* ---- connection state ---- */

static void conn_free(struct at_conn *c);

static struct at_conn *conn_new(int fd, uint8_t role,
				const struct sockaddr *peer)
{
	struct at_fd *e = at_fd_get(fd);
	struct at_conn *c, *old;
	struct stat st;

	if (!e || fstat(fd, &st) != 0)
		return NULL;
	old = atomic_exchange(&e->conn, NULL);
	if (old) /* a stale entry: the fd was closed behind our back */
		conn_free(old);
	c = at_pool_get(&conn_pool);
	if (!c)
		return NULL;
	memset(c, 0, offsetof(struct at_conn, fl));
	atomic_store(&c->fl_head, 0);
	atomic_store(&c->fl_tail, 0);
	c->fd = fd;
	c->role = role;
	c->ino = (uint64_t)st.st_ino;
	c->dev = (uint64_t)st.st_dev;
	c->inj_at = NO_INJ;
	c->peer_port = -1;
	fmt_peer(c, peer);
	atomic_store(&e->kind, role);
	atomic_store(&e->conn, c);
	return c;
}

static struct at_conn *conn_of(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	return e ? atomic_load(&e->conn) : NULL;
}

/* The connection of a traced fd, made on first use for sockets whose
 * connect/accept we saw without a state (the pool was empty then). */
static struct at_conn *conn_for_io(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	struct at_conn *c;
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint8_t kind;

	if (!e)
		return NULL;
	c = atomic_load(&e->conn);
	if (c)
		return c;
	kind = atomic_load(&e->kind);
	if (kind != AT_FD_CLIENT && kind != AT_FD_SERVER)
		return NULL;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return NULL;
	return conn_new(fd, kind, (struct sockaddr *)&ss);
}

static char *flow_buf(struct flow *f)
{
	if (!f->buf)
		f->buf = at_pool_get(&buf_pool);
	return f->buf;
}

static void flow_release(struct flow *f)
{
	if (f->buf) {
		at_pool_put(&buf_pool, f->buf);
		f->buf = NULL;
	}
	f->hlen = 0;
}

static struct at_span *span_new(void)
{
	return at_span_pool_get(&span_pool);
}

static void span_free(struct at_span *s)
{
	at_span_pool_put(&span_pool, s);
}

/* End a pending connect now (its outcome is known, or moot).  Only one
 * thread wins the PENDING -> STOPPING transition. */
static void stop_connect(struct at_conn *c, int err)
{
	uint8_t expected = CS_PENDING;

	if (!atomic_compare_exchange_strong(&c->connect_state, &expected,
					    CS_STOPPING))
		return;
	if (err)
		at_span_set_errno(c->connect_span, err);
	at_span_stop(c->connect_span);
	atomic_store(&c->connect_state, CS_STOPPED);
}

/* Take the stopped connect span (NULL if there is none, or it is still
 * pending, or another thread took it). */
static struct at_span *take_connect(struct at_conn *c)
{
	if (atomic_load(&c->connect_state) != CS_STOPPED)
		return NULL;
	return atomic_exchange(&c->connect_span, NULL);
}

/* Export the kept connect span as it is. */
static void submit_connect(struct at_conn *c)
{
	struct at_span *s = take_connect(c);

	if (!s)
		return;
	at_span_submit(s);
	span_free(s);
}

/* ---- in-flight FIFO ---- */

static struct flight *fl_push(struct at_conn *c)
{
	uint32_t t = atomic_load_explicit(&c->fl_tail, memory_order_relaxed);
	uint32_t h = atomic_load_explicit(&c->fl_head, memory_order_acquire);

	if (t - h >= INFLIGHT)
		return NULL;
	return &c->fl[t % INFLIGHT];
}

static void fl_commit(struct at_conn *c)
{
	atomic_store_explicit(&c->fl_tail,
			      atomic_load_explicit(&c->fl_tail,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

static struct flight *fl_oldest(struct at_conn *c)
{
	uint32_t h = atomic_load_explicit(&c->fl_head, memory_order_relaxed);
	uint32_t t = atomic_load_explicit(&c->fl_tail, memory_order_acquire);

	return h == t ? NULL : &c->fl[h % INFLIGHT];
}

/* End the oldest flight's span and drop it. */
static void fl_finish(struct at_conn *c)
{
	struct flight *f = fl_oldest(c);

	if (!f)
		return;
	if (f->span) {
		at_span_end(f->span);
		span_free(f->span);
		f->span = NULL;
	}
	atomic_store_explicit(&c->fl_head,
			      atomic_load_explicit(&c->fl_head,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

/* ---- span attributes ---- */

static void set_protocol(struct at_span *s, int minor)
{
	at_span_set_cstr(s, "network.protocol.version", minor ? "1.1" : "1.0");
}

static void set_method(struct at_span *s, const struct at_http_request *r)
{
	const char *known = at_http_known_method(r->method.p, r->method.len);

	if (known) {
		at_span_set_cstr(s, "http.request.method", known);
		at_span_set_name(s, known, strlen(known));
	} else {
		at_span_set_cstr(s, "http.request.method", "_OTHER");
		at_span_set_str(s, "http.request.method_original", r->method.p,
				r->method.len);
		at_span_set_name(s, "HTTP", 4);
	}
}

static void set_peer(struct at_span *s, struct at_conn *c)
{
	if (!c->peer_ip[0])
		return;
	at_span_set_cstr(s, "network.peer.address", c->peer_ip);
	at_span_set_int(s, "network.peer.port", c->peer_port);
}

static void set_status(struct at_span *s, int status, int server)
{
	char code[8];

	at_span_set_int(s, "http.response.status_code", status);
	if (status >= 500 || (!server && status >= 400)) {
		int n = snprintf(code, sizeof(code), "%d", status);
		at_span_set_str(s, "error.type", code, (size_t)n);
		at_span_set_status(s, AT_STATUS_ERROR, NULL, 0);
	}
}

/* The injected header lines for s, each ending with CRLF, or with a bare
 * LF when lf. */
static uint16_t build_inj(char *out, size_t cap, const struct at_span *s,
			  bool lf)
{
	char tp[AT_TRACEPARENT_LEN + 1];
	const char *eol = lf ? "\n" : "\r\n";
	size_t ts_len, n, el = lf ? 1 : 2;
	const char *ts = at_span_tracestate(s, &ts_len);

	at_traceparent_format(at_span_ctx(s), tp);
	n = (size_t)snprintf(out, cap, "traceparent: %s%s", tp, eol);
	if (ts_len && n + ts_len + 16 < cap) {
		memcpy(out + n, "tracestate: ", 12);
		memcpy(out + n + 12, ts, ts_len);
		memcpy(out + n + 12 + ts_len, eol, el);
		n += 12 + ts_len + el;
	}
	return (uint16_t)n;
}

/* The request's method, as the flight remembers it (cut at 15 bytes). */
static void flight_method(struct flight *f, const char *m, size_t len)
{
	f->method_len = (uint8_t)(len < sizeof(f->method)
					  ? len
					  : sizeof(f->method) - 1);
	memcpy(f->method, m, f->method_len);
}

/* ---- client: outgoing requests ---- */

/* Start the client span for request r; with `inject`, and if the head
 * carries no traceparent field, build the line to inject (c->inj_len is
 * 0 otherwise). */
static void client_request(struct at_conn *c, const struct at_http_request *r,
			   bool inject)
{
	struct at_span *s = span_new();
	struct flight *f = fl_push(c);
	struct at_span_context parent;
	char ts[AT_TRACESTATE_MAX + 1];
	char url[2048];
	int ts_n = 0;

	c->inj_len = 0;
	c->inj_sent = 0;
	if (!s || !f) {
		span_free(s);
		return;
	}
	/* The program's own traceparent: no line; if it is the only one and
	 * valid, our span continues it. */
	if (r->n_traceparent == 1 &&
	    at_traceparent_parse(r->traceparent.p, r->traceparent.len,
				 &parent) == 0) {
		if (r->tracestate.p)
			ts_n = at_tracestate_sanitize(r->tracestate.p,
						      r->tracestate.len, ts,
						      sizeof(ts));
		at_span_start_with_parent(s, "HTTP", 4, AT_KIND_CLIENT,
					  &parent, ts,
					  ts_n > 0 ? (size_t)ts_n : 0, false);
	} else {
		at_span_start_detached(s, "HTTP", 4, AT_KIND_CLIENT);
	}
	if (!at_span_started(s)) {
		span_free(s);
		return;
	}
	if (at_span_recording(s)) {
		struct at_http_str host;
		int port = -1;

		set_method(s, r);
		if (r->host.p && r->host.len) {
			at_http_url_full(url, sizeof(url), "http", r->host.p,
					 r->host.len, r->target.p,
					 r->target.len, at_cfg.http_redact_query);
			if (at_http_host_port(r->host.p, r->host.len, &host,
					      &port) == 0) {
				at_span_set_str(s, "server.address", host.p,
						host.len);
				at_span_set_int(s, "server.port",
						port >= 0 ? port : 80);
			}
		} else {
			at_http_url_full(url, sizeof(url), "http", c->peer_ip,
					 strlen(c->peer_ip), r->target.p,
					 r->target.len, at_cfg.http_redact_query);
			at_span_set_cstr(s, "server.address", c->peer_ip);
			at_span_set_int(s, "server.port", c->peer_port);
		}
		at_span_set_cstr(s, "url.full", url);
		set_peer(s, c);
		set_protocol(s, r->version_minor);
	}
	/* The connection was opened for this request: connect is its child. */
	struct at_span *cs = take_connect(c);
	if (cs) {
		at_span_start_at(s, cs);
		at_span_adopt(cs, s);
		at_span_submit(cs);
		span_free(cs);
	}
	f->span = s;
	flight_method(f, r->method.p, r->method.len);
	f->has_status = 0;
	fl_commit(c);
	if (inject && !r->n_traceparent)
		c->inj_len = build_inj(c->inj, sizeof(c->inj), s,
				       r->line_ending == AT_HTTP_EOL_LF);
}

static bool is_connect(const struct at_http_request *r)
{
	return r->method.len == 7 && memcmp(r->method.p, "CONNECT", 7) == 0;
}

/* A CONNECT request: no span, no line; a flight without a span, so that
 * the response is framed as a CONNECT's. */
static void client_connect(struct at_conn *c)
{
	struct flight *f = fl_push(c);

	c->inj_len = 0;
	c->inj_sent = 0;
	submit_connect(c);
	if (!f)
		return;
	f->span = NULL;
	flight_method(f, "CONNECT", 7);
	f->has_status = 0;
	fl_commit(c);
}

/* Give up on the out flow: its bytes pass as they are.  A client whose
 * requests are not HTTP gets no HTTP responses either. */
static void out_give_up(struct at_conn *c)
{
	c->out.phase = PH_PASS;
	c->in.phase = PH_PASS;
	flow_release(&c->out);
	submit_connect(c);
}

/* Feed n bytes at `skip` of iov to the flow's body; returns how many it
 * took, sets *done. */
static size_t body_consume(struct at_http_body *b, const struct iovec *iov,
			   int n, size_t skip, size_t len, int *done)
{
	size_t used = 0;

	*done = 0;
	for (int i = 0; i < n && used < len && !*done; i++) {
		size_t l = iov[i].iov_len;
		if (skip >= l) {
			skip -= l;
			continue;
		}
		size_t take = l - skip;
		if (take > len - used)
			take = len - used;
		ssize_t k = at_http_body_feed(b,
					      (const char *)iov[i].iov_base +
						      skip,
					      take, done);
		if (k < 0) {
			b->mode = AT_BODY_UNTIL_CLOSE;
			return len;
		}
		used += (size_t)k;
		skip = 0;
	}
	return used;
}

/* How many of the n bytes at `skip` in iov belong to the current body
 * (framing b, not modified). */
static size_t body_span(const struct at_http_body *b, const struct iovec *iov,
			int n, size_t skip, size_t len, int *done)
{
	struct at_http_body copy = *b;

	return body_consume(&copy, iov, n, skip, len, done);
}

/* HEAD_SEND: send the rest of the head (and the body bytes that follow
 * it in this call, up to the end of this message), with the line. */
static ssize_t send_head_part(struct at_conn *c, const struct iovec *iov,
			      int iovcnt, size_t total, int flags)
{
	struct iovec v[66];
	size_t lim = c->head_rem, app_sent;
	int done, nv = 0, k;
	ssize_t w;

	if (lim > total)
		lim = total;
	if (lim == c->head_rem && total > lim)
		lim += body_span(&c->out.body, iov, iovcnt, lim, total - lim,
				 &done);
	for (;;) {
		uint32_t pend = c->inj_len - c->inj_sent;
		size_t at = c->inj_at == NO_INJ || !pend ? lim : c->inj_at;

		if (at > lim)
			at = lim;
		nv = 0;
		k = iov_slice(v, 32, iov, iovcnt, 0, at);
		if (k < 0)
			goto untraced;
		nv = k;
		if (c->inj_at != NO_INJ && pend) {
			v[nv].iov_base = c->inj + c->inj_sent;
			v[nv].iov_len = pend;
			nv++;
		}
		k = iov_slice(v + nv, 32, iov, iovcnt, at, lim - at);
		if (k < 0)
			goto untraced;
		nv += k;
		w = real_sendv(c->fd, v, nv, flags);
		if (w < 0)
			return -1;
		if ((size_t)w <= at || c->inj_at == NO_INJ || !pend) {
			app_sent = (size_t)w;
		} else if ((size_t)w < at + pend) {
			app_sent = at;
			c->inj_sent += (uint16_t)((size_t)w - at);
		} else {
			app_sent = (size_t)w - pend;
			c->inj_sent = c->inj_len;
		}
		if (c->inj_at != NO_INJ) {
			if (c->inj_sent == c->inj_len)
				c->inj_at = NO_INJ;
			else
				c->inj_at -= (uint32_t)app_sent;
		}
		if (app_sent > 0)
			break;
		/* Only part of the line moved: go on, the program must not
		 * see 0. */
	}
	if (app_sent <= c->head_rem) {
		c->head_rem -= (uint32_t)app_sent;
		if (c->head_rem == 0)
			c->out.phase = c->out.body.mode == AT_BODY_NONE
					       ? PH_START
					       : PH_BODY;
	} else {
		size_t body = app_sent - c->head_rem;
		c->head_rem = 0;
		c->out.phase = PH_BODY;
		body_consume(&c->out.body, iov, iovcnt, app_sent - body, body,
			     &done);
		if (done)
			c->out.phase = PH_START;
	}
	return (ssize_t)app_sent;
untraced:
	/* More iovecs than we can rebuild: no line for this head. */
	c->inj_at = NO_INJ;
	c->inj_sent = c->inj_len;
	w = real_sendv(c->fd, (struct iovec *)iov, iovcnt, flags);
	if (w > 0)
		c->out.phase = PH_PASS;
	return w;
}

static ssize_t client_send(struct at_conn *c, const struct iovec *iov,
			   int iovcnt, size_t total, int flags)
{
	struct at_http_request r;
	char *buf;
	size_t copy, end, at;
	uint32_t h;
	int v, done;
	ssize_t w;

	switch (c->out.phase) {
	case PH_HEAD_SEND:
		return send_head_part(c, iov, iovcnt, total, flags);
	case PH_BODY: {
		size_t lim = body_span(&c->out.body, iov, iovcnt, 0, total,
				       &done);
		struct iovec sv[64];
		int n = iov_slice(sv, 64, iov, iovcnt, 0, lim);
		w = n < 0 ? real_sendv(c->fd, (struct iovec *)iov, iovcnt, flags)
			  : real_sendv(c->fd, sv, n, flags);
		if (w > 0) {
			body_consume(&c->out.body, iov, iovcnt, 0, (size_t)w,
				     &done);
			if (done)
				c->out.phase = PH_START;
		}
		return w;
	}
	case PH_START:
	case PH_HEAD:
		break;
	default:
		return real_sendv(c->fd, (struct iovec *)iov, iovcnt, flags);
	}

	buf = flow_buf(&c->out);
	if (!buf) {
		out_give_up(c);
		return real_sendv(c->fd, (struct iovec *)iov, iovcnt, flags);
	}
	h = c->out.hlen;
	copy = iov_copy(buf + h, iov, iovcnt, 0, AT_HTTP_HEAD_MAX - h);
	/* Requests of a library traced at its own level (libcurl) are
	 * theirs: no second span, no second header. */
	v = at_owned(AT_OWN_HTTP) ? -1 : at_http_request_start(buf, h + copy);
	end = v < 0 ? 0 : at_http_head_end(buf, h + copy, h > 3 ? h - 3 : 0);
	if (v < 0 || (!end && (copy < total || h + copy >= AT_HTTP_HEAD_MAX)) ||
	    (end && (at_http_parse_request(buf, end, &r) != 0 ||
		     !identity_ok(c)))) {
		out_give_up(c);
		return real_sendv(c->fd, (struct iovec *)iov, iovcnt, flags);
	}
	if (!end) {
		/* A piece of a head: out now, as it is.  The copy of what
		 * went out stays, to parse the head once it is complete. */
		w = real_sendv(c->fd, (struct iovec *)iov, iovcnt, flags);
		if (w > 0) {
			c->out.hlen = h + (uint32_t)w;
			c->out.phase = PH_HEAD;
		}
		return w;
	}

	/* A complete request head, whose first h bytes are out already. */
	c->head_rem = (uint32_t)(end - h);
	c->inj_at = NO_INJ;
	if (is_connect(&r)) {
		client_connect(c);
	} else {
		/* The line goes right before the blank line (CRLF or LF), if
		 * that is all in this call; not into a head mixing both. */
		at = end - (end >= 2 && buf[end - 2] == '\r' ? 2 : 1);
		client_request(c, &r,
			       at >= h && r.line_ending != AT_HTTP_EOL_MIXED);
		if (c->inj_len)
			c->inj_at = (uint32_t)(at - h);
	}
	at_http_body_request(&c->out.body, &r);
	flow_release(&c->out);
	c->out.phase = PH_HEAD_SEND;
	return send_head_part(c, iov, iovcnt, total, flags);
}

/* ---- server: outgoing responses (observed, never changed) ---- */

static void server_response_head(struct at_conn *c,
				 const struct at_http_response *resp)
{
	struct flight *f = fl_oldest(c);

	if (resp->status < 200 && resp->status != 101)
		return; /* interim: the final response follows */
	if (f && f->span)
		set_status(f->span, resp->status, 1);
	if (resp->status == 101) {
		c->out.phase = c->in.phase = PH_PASS;
		fl_finish(c);
		return;
	}
	at_http_body_response(&c->out.body, resp, f ? f->method : "GET",
			      f ? f->method_len : 3);
}

/* Observe `len` bytes the program sent (at `skip` of iov) on a flow whose
 * messages are responses (server out) or requests/responses (in). */
typedef void (*head_fn)(struct at_conn *c, const char *head, size_t len);

static void observe(struct at_conn *c, struct flow *fl, const struct iovec *iov,
		    int iovcnt, size_t len, int (*start)(const char *, size_t),
		    head_fn on_head)
{
	size_t pos = 0;

	while (pos < len && fl->phase != PH_PASS) {
		if (fl->phase == PH_BODY) {
			int done;
			pos += body_consume(&fl->body, iov, iovcnt, pos,
					    len - pos, &done);
			if (done) {
				fl->phase = PH_START;
				if (fl == &c->out || c->role == AT_FD_CLIENT)
					fl_finish(c);
			}
			continue;
		}
		char *buf = flow_buf(fl);
		if (!buf) {
			fl->phase = PH_PASS;
			return;
		}
		size_t copy = iov_copy(buf + fl->hlen, iov, iovcnt, pos,
				       AT_HTTP_HEAD_MAX - fl->hlen);
		int v = start(buf, fl->hlen + copy);
		size_t end = v < 0 ? 0
				   : at_http_head_end(buf, fl->hlen + copy,
						      fl->hlen > 3 ? fl->hlen - 3
								   : 0);
		if (v < 0 || (!end && fl->hlen + copy >= AT_HTTP_HEAD_MAX)) {
			fl->phase = PH_PASS;
			flow_release(fl);
			return;
		}
		if (!end) {
			fl->hlen += (uint32_t)copy;
			fl->phase = PH_HEAD;
			return;
		}
		size_t used = end - fl->hlen;
		fl->phase = PH_START;
		on_head(c, buf, end);
		pos += used;
		flow_release(fl);
	}
}

static void server_out_head(struct at_conn *c, const char *head, size_t len)
{
	struct at_http_response resp;

	if (at_http_parse_response(head, len, &resp) != 0) {
		c->out.phase = PH_PASS;
		return;
	}
	server_response_head(c, &resp);
	if (c->out.phase == PH_PASS)
		return;
	if (resp.status < 200)
		return;
	if (c->out.body.mode == AT_BODY_NONE)
		fl_finish(c);
	else
		c->out.phase = PH_BODY;
}

/* ---- incoming ---- */

static void client_in_head(struct at_conn *c, const char *head, size_t len)
{
	struct at_http_response resp;
	struct flight *f = fl_oldest(c);

	if (at_http_parse_response(head, len, &resp) != 0) {
		c->in.phase = PH_PASS;
		return;
	}
	if (resp.status < 200 && resp.status != 101)
		return;
	if (f && f->span)
		set_status(f->span, resp.status, 0);
	if (resp.status == 101) {
		c->in.phase = c->out.phase = PH_PASS;
		fl_finish(c);
		return;
	}
	at_http_body_response(&c->in.body, &resp, f ? f->method : "GET",
			      f ? f->method_len : 3);
	if (c->in.body.mode == AT_BODY_NONE)
		fl_finish(c);
	else
		c->in.phase = PH_BODY;
}

static void server_in_head(struct at_conn *c, const char *head, size_t len)
{
	struct at_http_request r;
	struct at_span_context parent;
	struct at_http_str path, query, host;
	char ts[AT_TRACESTATE_MAX + 1], q[1024];
	struct at_span *s;
	struct flight *f;
	int ts_n = 0, has_parent = 0, port = -1;

	if (at_http_parse_request(head, len, &r) != 0 || !identity_ok(c)) {
		c->in.phase = c->out.phase = PH_PASS;
		return;
	}
	at_http_body_request(&c->in.body, &r);
	if (c->in.body.mode != AT_BODY_NONE)
		c->in.phase = PH_BODY;
	f = fl_push(c);
	s = f ? span_new() : NULL;
	if (!s)
		return;
	if (r.n_traceparent == 1 &&
	    at_traceparent_parse(r.traceparent.p, r.traceparent.len,
				 &parent) == 0) {
		has_parent = 1;
		if (r.tracestate.p)
			ts_n = at_tracestate_sanitize(r.tracestate.p,
						      r.tracestate.len, ts,
						      sizeof(ts));
	}
	/* A request starts its own unit of work on this thread: a remote
	 * parent, or a new trace - never the thread's previous request. */
	at_span_start_with_parent(s, "HTTP", 4, AT_KIND_SERVER,
				  has_parent ? &parent : NULL, ts,
				  ts_n > 0 ? (size_t)ts_n : 0, true);
	if (!at_span_started(s)) {
		span_free(s);
		return;
	}
	if (at_span_recording(s)) {
		set_method(s, &r);
		at_span_set_cstr(s, "url.scheme", "http");
		at_http_split_target(r.target.p, r.target.len, &path, &query);
		if (path.p && memchr(path.p, ';', path.len)) {
			/* Matrix parameters (;jsessionid=...): redacted. */
			size_t n = at_http_redact_path(q, sizeof(q), path.p,
						       path.len,
						       at_cfg.http_redact_query);
			at_span_set_str(s, "url.path", q, n);
		} else if (path.p) {
			at_span_set_str(s, "url.path", path.p, path.len);
		}
		if (query.p) {
			size_t n = at_http_redact_query(q, sizeof(q), query.p,
							query.len,
							at_cfg.http_redact_query);
			at_span_set_str(s, "url.query", q, n);
		}
		if (r.host.p && at_http_host_port(r.host.p, r.host.len, &host,
						  &port) == 0) {
			at_span_set_str(s, "server.address", host.p, host.len);
			if (port >= 0)
				at_span_set_int(s, "server.port", port);
		}
		if (c->peer_ip[0])
			at_span_set_cstr(s, "client.address", c->peer_ip);
		set_peer(s, c);
		if (r.user_agent.p)
			at_span_set_str(s, "user_agent.original",
					r.user_agent.p, r.user_agent.len);
		set_protocol(s, r.version_minor);
	}
	f->span = s;
	flight_method(f, r.method.p, r.method.len);
	fl_commit(c);
}

/* Nothing left to look at on this connection: let the I/O hooks skip it
 * (close still comes here to forget it). */
static void maybe_passive(struct at_conn *c)
{
	struct at_fd *e;

	if (c->out.phase != PH_PASS || c->in.phase != PH_PASS ||
	    atomic_load(&c->connect_span) || fl_oldest(c))
		return;
	e = at_fd_peek(c->fd);
	if (e && atomic_load(&e->conn) == c)
		atomic_store(&e->kind, AT_FD_PASSIVE);
}

/* ---- entry points ---- */

void at_conn_socket(int fd, int domain, int type)
{
	struct at_fd *e;

	if ((domain != AF_INET && domain != AF_INET6) ||
	    (type & 0xf) != SOCK_STREAM)
		return;
	e = at_fd_get(fd);
	if (!e)
		return;
	if (atomic_load(&e->conn))
		at_conn_forget(fd);
	atomic_store(&e->kind, AT_FD_TCP);
}

struct at_span *at_conn_connect_begin(int fd, const struct sockaddr *addr,
				      struct at_span *fallback)
{
	struct at_conn *c = conn_new(fd, AT_FD_CLIENT, addr);
	struct at_span *s;

	if (!c || !(s = span_new()))
		return fallback;
	atomic_store(&c->connect_span, s);
	atomic_store(&c->connect_state, CS_PENDING);
	return s;
}

void at_conn_connect_end(int fd, struct at_span *s, int rc, int err)
{
	struct at_conn *c = conn_of(fd);
	int in_progress = rc != 0 && (err == EINPROGRESS || err == EINTR ||
				      err == EALREADY);

	if (!c || atomic_load(&c->connect_span) != s) {
		/* The fallback span: no state to keep it in. */
		if (rc != 0 && !in_progress)
			at_span_set_errno(s, err);
		at_span_end(s);
		return;
	}
	if (in_progress)
		return; /* stays pending: SO_ERROR, I/O or close ends it */
	stop_connect(c, rc != 0 ? err : 0);
	if (rc != 0)
		submit_connect(c);
}

void at_conn_connect_outcome(int fd, int so_error)
{
	struct at_conn *c = conn_of(fd);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!c || atomic_load(&c->connect_state) != CS_PENDING)
		return;
	if (so_error == 0 && getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return; /* still connecting */
	stop_connect(c, so_error);
	if (so_error)
		submit_connect(c);
}

/* A pending connect is over once bytes move. */
static void connect_done_by_io(struct at_conn *c)
{
	if (AT_UNLIKELY(atomic_load_explicit(&c->connect_state,
					     memory_order_relaxed) ==
			CS_PENDING))
		stop_connect(c, 0);
}

void at_conn_accept(int listen_fd, int fd, const struct sockaddr *peer,
		    socklen_t len)
{
	struct sockaddr_storage ss;

	(void)listen_fd;
	if (!peer || len < sizeof(sa_family_t)) {
		socklen_t l = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &l) != 0)
			return;
		peer = (struct sockaddr *)&ss;
	}
	if (peer->sa_family != AF_INET && peer->sa_family != AF_INET6)
		return;
	conn_new(fd, AT_FD_SERVER, peer);
}

static void conn_free(struct at_conn *c)
{
	struct flight *f;

	/* The connection closed: a response delimited by the close is now
	 * complete; anything else in flight ends as it is. */
	while ((f = fl_oldest(c)))
		fl_finish(c);
	stop_connect(c, 0);
	submit_connect(c);
	flow_release(&c->out);
	flow_release(&c->in);
	at_pool_put(&conn_pool, c);
}

void at_conn_forget(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	struct at_conn *c;

	if (!e)
		return;
	atomic_store(&e->kind, AT_FD_NONE);
	c = atomic_exchange(&e->conn, NULL);
	if (!c)
		return;
	conn_free(c);
}

ssize_t at_conn_send(int fd, const struct iovec *iov, int iovcnt, int flags)
{
	struct at_conn *c = conn_for_io(fd);
	size_t total = iov_total(iov, iovcnt);
	ssize_t w;

	if (!c || total == 0)
		return real_sendv(fd, (struct iovec *)iov, iovcnt, flags);
	connect_done_by_io(c);
	if (c->role == AT_FD_CLIENT) {
		w = client_send(c, iov, iovcnt, total, flags);
	} else {
		/* Server: the bytes go out unchanged; watch the responses. */
		w = real_sendv(fd, (struct iovec *)iov, iovcnt, flags);
		if (w > 0 && c->out.phase != PH_PASS)
			observe(c, &c->out, iov, iovcnt, (size_t)w,
				at_http_response_start, server_out_head);
	}
	if (c->out.phase == PH_PASS) {
		int err = errno;
		maybe_passive(c);
		errno = err;
	}
	return w;
}

void at_conn_received(int fd, const struct iovec *iov, int iovcnt, ssize_t r,
		      int err)
{
	struct at_conn *c = conn_for_io(fd);
	struct flight *f;

	if (!c)
		return;
	connect_done_by_io(c);
	if (c->role == AT_FD_CLIENT && c->out.phase == PH_START &&
	    atomic_load_explicit(&c->connect_span, memory_order_relaxed) &&
	    !fl_oldest(c))
		submit_connect(c); /* the peer spoke first: not HTTP */
	if (r > 0) {
		if (c->in.phase != PH_PASS && c->role == AT_FD_CLIENT)
			observe(c, &c->in, iov, iovcnt, (size_t)r,
				at_http_response_start, client_in_head);
		else if (c->in.phase != PH_PASS)
			observe(c, &c->in, iov, iovcnt, (size_t)r,
				at_http_request_start, server_in_head);
		if (c->in.phase == PH_PASS && c->role == AT_FD_SERVER)
			c->out.phase = PH_PASS;
		maybe_passive(c);
		return;
	}
	if (c->role != AT_FD_CLIENT || !(f = fl_oldest(c)))
		return;
	if (r == 0) {
		/* EOF: a body delimited by the close is complete. */
		if (c->in.phase == PH_BODY &&
		    c->in.body.mode == AT_BODY_UNTIL_CLOSE) {
			c->in.phase = PH_START;
			fl_finish(c);
		}
	} else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
		if (f->span)
			at_span_set_errno(f->span, err);
		fl_finish(c);
	}
}

/* Call fn on every connection the table holds. */
static void for_each_conn(void (*fn)(struct at_conn *c))
{
	for (unsigned ch = 0; ch < AT_FDTAB_CHUNKS; ch++) {
		struct at_fd *chunk = atomic_load(&at_fdtab[ch]);
		if (!chunk)
			continue;
		for (unsigned i = 0; i < AT_FDTAB_CHUNK; i++) {
			struct at_conn *c = atomic_load(&chunk[i].conn);
			if (c)
				fn(c);
		}
	}
}

/* The kernel closes the socket now: a connect still pending ends as at
 * close(), a kept one (waiting for a first request to adopt it) goes out
 * as is.  The atomic hand-offs make this safe against a thread still
 * using the connection. */
static void submit_at_exit(struct at_conn *c)
{
	if (atomic_load(&c->connect_state) == CS_PENDING)
		stop_connect(c, 0);
	submit_connect(c);
}

void at_conn_at_exit(void)
{
	for_each_conn(submit_at_exit);
}

/* The parent ends and exports these spans: the child only forgets them.
 * Their span objects stay as they are, so a request span active at fork
 * time is still the child's context (a child that execs passes it on in
 * TRACEPARENT), but the child never exports it. */
static void forget_in_child(struct at_conn *c)
{
	while (fl_oldest(c)) {
		fl_oldest(c)->span = NULL;
		atomic_fetch_add(&c->fl_head, 1);
	}
	atomic_store(&c->connect_span, NULL);
	atomic_store(&c->connect_state, CS_NONE);
}

void at_conn_after_fork_child(void)
{
	for_each_conn(forget_in_child);
}
