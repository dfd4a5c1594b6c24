/*
 * at_conn.c - HTTP/1.x tracing on the host's TCP connections: the
 * per-connection state, its pools and lifecycle (socket, connect, accept,
 * close, exit, fork), the connect spans, the identity check, and what both
 * directions share (flows, the in-flight FIFO).  The outgoing bytes are
 * handled in at_conn_send.c (client injection, server responses), the
 * incoming ones in at_conn_recv.c, the spans' attributes in
 * at_conn_attrs.c; at_conn_internal.h holds the struct they share.
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
 * Nothing is held back, and a client's request head gets its traceparent
 * line as it goes out: at_conn_send.c has how.
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
 * Costs.  Bytes are parsed where they are; the few hundred bytes of a
 * head are copied into a pooled buffer only when the head is split over
 * calls or iovecs (conn_head_at: a head that lies in one iovec is parsed
 * there, in one pass that also finds its end, which spares the pool, the
 * copy and a second scan on every request of a usual server or client).
 * What a request's Host value and the peer give (server.address/port,
 * a client's url.full prefix, the attributes all the requests of a
 * connection share) is worked out once per connection and Host value
 * (at_conn_attrs.c), not per request.  No malloc, no lock;
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
#include <sys/un.h>
#include <time.h>

#include "at_clock.h"
#include "at_conn.h"
#include "at_conn_internal.h"
#include "at_http.h"
#include "at_config.h"
#include "at_guard.h"
#include "at_pool.h"
#include "at_real.h"
#include "at_traceparent.h"

static struct at_pool conn_pool = AT_POOL_INIT(sizeof(struct at_conn), 65536);
static struct at_pool span_pool = AT_POOL_INIT(sizeof(struct at_span), 65536);
static struct at_pool buf_pool = AT_POOL_INIT(BUF_SIZE, 4096);
static struct at_pool head_copy_pool = AT_POOL_INIT(HEAD_COPY_MAX, 65536);

/* ---- small helpers ---- */

/*
 * Is c->fd still the socket c was made for?  An fstat (~0.3 us) on the
 * first message of a connection, then at most once a second: descriptors
 * closed inside libc by fclose() or close_range() are forgotten by those
 * hooks; this catches the rarer ways, such as a libc-internal close, at a
 * cost that does not grow with the request rate.
 */
int conn_identity_ok(struct at_conn *c)
{
	struct timespec now;
	struct stat st;

	if (c->tr)
		return 1; /* carried: the transport's session is its identity */
	clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
	if (c->checked_at && now.tv_sec == c->checked_at)
		return 1;
	if (fstat(c->fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
	    (uint64_t)st.st_ino != c->ino || (uint64_t)st.st_dev != c->dev)
		return 0;
	c->checked_at = now.tv_sec;
	return 1;
}

static void fmt_peer(struct at_conn *c, const struct sockaddr *sa,
		     socklen_t len)
{
	if (!sa)
		return;
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *un = (const void *)sa;
		size_t max = len > offsetof(struct sockaddr_un, sun_path)
				     ? len - offsetof(struct sockaddr_un,
						      sun_path)
				     : 0;
		if (max > sizeof(c->peer_path) - 1)
			max = sizeof(c->peer_path) - 1;
		/* An abstract socket (leading NUL) has no path to show. */
		size_t n = max ? strnlen(un->sun_path, max) : 0;
		memcpy(c->peer_path, un->sun_path, n);
		c->peer_path[n] = 0;
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, c->peer_ip,
			  sizeof(c->peer_ip));
		c->peer_ip_len = (uint8_t)strlen(c->peer_ip);
		c->peer_port = ntohs(in->sin_port);
		c->peer_v6 = 0;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, c->peer_ip,
			  sizeof(c->peer_ip));
		c->peer_ip_len = (uint8_t)strlen(c->peer_ip);
		c->peer_port = ntohs(in6->sin6_port);
		c->peer_v6 = 1;
	}
}

/* ---- connection state ---- */

static void conn_free(struct at_conn *c);

/* A zeroed connection from the pool (NULL if it is empty). */
static struct at_conn *conn_alloc(int fd, uint8_t role)
{
	struct at_conn *c = at_pool_get(&conn_pool);

	if (!c)
		return NULL;
	memset(c, 0, offsetof(struct at_conn, fl));
	atomic_store(&c->fl_head, 0);
	atomic_store(&c->fl_tail, 0);
	c->fd = fd;
	c->role = role;
	c->inj_at = NO_INJ;
	c->peer_port = -1;
	return c;
}

static struct at_conn *conn_new(int fd, uint8_t role,
				const struct sockaddr *peer, socklen_t plen)
{
	struct at_fd *e = at_fd_get(fd);
	struct at_conn *c, *old;
	struct stat st;

	if (!e || fstat(fd, &st) != 0)
		return NULL;
	old = atomic_exchange(&e->conn, NULL);
	if (old) /* a stale entry: the fd was closed behind our back */
		conn_free(old);
	c = conn_alloc(fd, role);
	if (!c)
		return NULL;
	c->ino = (uint64_t)st.st_ino;
	c->dev = (uint64_t)st.st_dev;
	fmt_peer(c, peer, plen);
	atomic_store(&e->kind, role);
	atomic_store(&e->conn, c);
	return c;
}

static struct at_conn *conn_of(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	return e ? atomic_load(&e->conn) : NULL;
}

/* conn_for_io's slow path: the connection made now (its own frame, the
 * peer's address on its stack: not set up on every I/O call). */
AT_COLD static struct at_conn *conn_for_io_new(int fd, struct at_fd *e)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	uint8_t kind;

	kind = atomic_load(&e->kind);
	if (kind != AT_FD_CLIENT && kind != AT_FD_SERVER)
		return NULL;
	if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0)
		return NULL;
	return conn_new(fd, kind, (struct sockaddr *)&ss, len);
}

/* The connection of a traced fd, made on first use for sockets whose
 * connect/accept we saw without a state (the pool was empty then). */
struct at_conn *conn_for_io(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	struct at_conn *c;

	if (!e)
		return NULL;
	c = atomic_load(&e->conn);
	return c ? c : conn_for_io_new(fd, e);
}

char *conn_flow_buf(struct flow *f)
{
	if (!f->buf)
		f->buf = at_pool_get(&buf_pool);
	return f->buf;
}

char *conn_buf_get(void)
{
	return at_pool_get(&buf_pool);
}

void conn_buf_put(char *buf)
{
	if (buf)
		at_pool_put(&buf_pool, buf);
}

char *conn_head_copy_get(void)
{
	return at_pool_get(&head_copy_pool);
}

void conn_head_copy_put(char *copy)
{
	if (copy)
		at_pool_put(&head_copy_pool, copy);
}

void conn_flow_release(struct flow *f)
{
	if (f->buf) {
		at_pool_put(&buf_pool, f->buf);
		f->buf = NULL;
	}
	f->hlen = 0;
}

struct at_span *conn_span_new(void)
{
	return at_span_pool_get(&span_pool);
}

void conn_span_free(struct at_span *s)
{
	at_span_pool_put(&span_pool, s);
}

/* End a pending connect now (its outcome is known, or moot).  Only one
 * thread wins the PENDING -> STOPPING transition. */
void conn_stop_connect(struct at_conn *c, int err)
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
struct at_span *conn_take_connect(struct at_conn *c)
{
	if (atomic_load(&c->connect_state) != CS_STOPPED)
		return NULL;
	return atomic_exchange(&c->connect_span, NULL);
}

/* Export the kept connect span as it is. */
void conn_submit_connect(struct at_conn *c)
{
	struct at_span *s = conn_take_connect(c);

	if (!s)
		return;
	at_span_end(s);
	conn_span_free(s);
}

/* ---- in-flight FIFO (the rest is inline in at_conn_internal.h) ---- */

/* A client span's status and read error, as the flight kept them. */
static inline void client_span_outcome(const struct flight *f,
				       struct at_span *s)
{
	if (f->status)
		conn_set_status(s, f->status, 0);
	if (AT_UNLIKELY(f->err))
		at_span_set_errno(s, f->err);
}

/* A reader ends a client flight whose span the sending thread may still
 * be describing (another thread sends on the connection: its request
 * went out, the response came back before it was done): the end time is
 * kept and the sending thread ends the span (conn_fl_described).  True
 * if it does. */
static bool client_end_asked(struct flight *f)
{
	uint8_t expected = FL_DESCRIBING;

	if (AT_LIKELY(atomic_load_explicit(&f->owner, memory_order_acquire) !=
		      FL_DESCRIBING))
		return false;
	f->end_ns = at_mono_ns();
	return atomic_compare_exchange_strong_explicit(
		&f->owner, &expected, FL_END_ASKED, memory_order_acq_rel,
		memory_order_acquire);
}

void conn_fl_described(struct flight *f, struct at_span *s)
{
	if (AT_UNLIKELY(atomic_exchange_explicit(&f->owner, FL_READY,
						 memory_order_acq_rel) ==
			FL_END_ASKED)) {
		client_span_outcome(f, s);
		at_span_end_at(s, f->end_ns);
		conn_span_free(s);
	}
}

/* End the oldest flight's span and drop it. */
void conn_fl_finish(struct at_conn *c)
{
	struct flight *f = fl_oldest(c);

	if (!f)
		return;
	if (f->span) {
		if (c->role == AT_FD_SERVER) {
			conn_server_describe(c, f);
			at_context_leave_request(f->span);
			at_span_end(f->span);
			conn_span_free(f->span);
		} else if (!client_end_asked(f)) {
			client_span_outcome(f, f->span);
			at_span_end(f->span);
			conn_span_free(f->span);
		}
		f->span = NULL;
	}
	atomic_store_explicit(&c->fl_head,
			      atomic_load_explicit(&c->fl_head,
						   memory_order_relaxed) + 1,
			      memory_order_release);
}

/* The request's method, as the flight remembers it (cut at 15 bytes). */
void conn_flight_method(struct flight *f, const char *m, size_t len)
{
	f->method_len = (uint8_t)(len < sizeof(f->method)
					  ? len
					  : sizeof(f->method) - 1);
	memcpy(f->method, m, f->method_len);
}

/* ---- flows ---- */

/* Feed n bytes at `skip` of iov to the flow's body; returns how many it
 * took, sets *done. */
size_t conn_body_consume(struct at_http_body *b, const struct iovec *iov,
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

/*
 * A head that starts at byte pos of iov and ends within the same iovec
 * (and within the len bytes that moved) is parsed where it is: no pooled
 * buffer, no copy.  That is every head Node, nginx or a C server writes
 * or reads in one call.  Returns the bytes available there (at most
 * AT_HTTP_HEAD_MAX) when start() accepts them, else 0.  The caller parses
 * them in one pass (the parser stops at the head's blank line and says
 * where it is: at_http_head_end()'s rule, so the same end); when that
 * fails it finds the end with at_http_head_end() as before: a head that
 * goes on in a later iovec or call, or that start() refuses, takes the
 * copying path, which sees the same bytes and decides as before.
 */
size_t conn_head_at(const struct iovec *iov, int iovcnt, size_t pos,
		    size_t len, int (*start)(const char *, size_t),
		    const char **head)
{
	size_t n;

	for (int i = 0; i < iovcnt; i++) {
		if (pos >= iov[i].iov_len) {
			pos -= iov[i].iov_len;
			continue;
		}
		n = iov[i].iov_len - pos;
		if (n > len)
			n = len;
		if (n > AT_HTTP_HEAD_MAX)
			n = AT_HTTP_HEAD_MAX;
		*head = (const char *)iov[i].iov_base + pos;
		return start(*head, n) == 1 ? n : 0;
	}
	return 0;
}

/* Observe `len` bytes the program sent (at `skip` of iov) on a flow whose
 * messages are responses (server out) or requests/responses (in). */

void conn_observe(struct at_conn *c, struct flow *fl, const struct iovec *iov,
		  int iovcnt, size_t len, int (*start)(const char *, size_t),
		  head_fn on_head)
{
	size_t pos = 0;

	while (pos < len && fl->phase != PH_PASS) {
		if (fl->phase == PH_BODY) {
			int done;
			pos += conn_body_consume(&fl->body, iov, iovcnt, pos,
						 len - pos, &done);
			if (done) {
				fl->phase = PH_START;
				if (fl == &c->out || c->role == AT_FD_CLIENT)
					conn_fl_finish(c);
			}
			continue;
		}
		const char *head;
		size_t n = fl->hlen == 0 ? conn_head_at(iov, iovcnt, pos,
							  len - pos, start,
							  &head)
					 : 0;
		size_t hend;

		if (n) {
			/* The head where it is, parsed in one pass. */
			fl->phase = PH_START;
			hend = on_head(c, head, n, false);
			if (hend) {
				pos += hend;
				continue;
			}
			hend = at_http_head_end(head, n, 0);
			if (hend) {
				on_head(c, head, hend, true);
				pos += hend;
				continue;
			}
		}
		char *buf = conn_flow_buf(fl);
		if (!buf) {
			fl->phase = PH_PASS;
			return;
		}
		/* Only the len bytes that moved: a readv() or recvmsg()
		 * fills its iovecs in part, a write may send part of them. */
		size_t room = AT_HTTP_HEAD_MAX - fl->hlen;
		size_t copy = at_iov_copy(buf + fl->hlen, iov, iovcnt, pos,
					    room < len - pos ? room : len - pos);
		int v = start(buf, fl->hlen + copy);
		size_t end = v < 0 ? 0
				   : at_http_head_end(buf, fl->hlen + copy,
						      fl->hlen > 3 ? fl->hlen - 3
								   : 0);
		if (v < 0 || (!end && fl->hlen + copy >= AT_HTTP_HEAD_MAX)) {
			fl->phase = PH_PASS;
			conn_flow_release(fl);
			return;
		}
		if (!end) {
			fl->hlen += (uint32_t)copy;
			fl->phase = PH_HEAD;
			return;
		}
		size_t used = end - fl->hlen;
		fl->phase = PH_START;
		on_head(c, buf, end, true);
		pos += used;
		conn_flow_release(fl);
	}
}

/* The first bytes of a client connection: a wire family's?  Asked once;
 * a claimed connection is the family's, its HTTP flows pass. */
void conn_sniff(struct at_conn *c, const struct iovec *iov, int iovcnt,
		bool out)
{
	char first[AT_WIRE_SNIFF];
	size_t n;
	struct at_wire_peer peer = {
		.ip = c->peer_ip,
		.port = c->peer_port,
		.path = c->peer_path[0] ? c->peer_path : NULL,
	};

	c->sniffed = 1;
	n = at_iov_copy(first, iov, iovcnt, 0, sizeof(first));
	c->wire = out ? at_wire_detect_out(first, n, &peer)
		      : at_wire_detect_in(first, n, &peer);
	if (!c->wire)
		return;
	c->out.phase = c->in.phase = PH_PASS;
	conn_flow_release(&c->out);
	conn_flow_release(&c->in);
	/* Not an HTTP request: the connect span goes out as it is. */
	conn_submit_connect(c);
}

/* Nothing left to look at on this connection: let the I/O hooks skip it
 * (close still comes here to forget it). */
void conn_maybe_passive(struct at_conn *c)
{
	struct at_fd *e;

	/* A wire connection still decoded (the common case, on each of its
	 * I/O calls) is told first, without reading the rest. */
	if (c->wire && !at_wire_passive(c->wire))
		return;
	if (c->tr || c->out.phase != PH_PASS || c->in.phase != PH_PASS ||
	    atomic_load(&c->connect_span) || fl_oldest(c))
		return;
	e = at_fd_peek(c->fd);
	if (e && atomic_load(&e->conn) == c)
		atomic_store(&e->kind, AT_FD_PASSIVE);
}

/* ---- the runtime bridges' resolver (at_context.h) ---- */

/* The open request numbered seq (0: the oldest) of server connection fd.
 * Called from any thread: the flights are read, never changed, and each
 * is a reference checked by its span id. */
static struct at_span *request_of_fd(int fd, uint32_t seq)
{
	struct at_conn *c = conn_of(fd), *cc;
	uint32_t h, t;

	/* A TLS server connection's requests are its carried connection's
	 * (pooled memory: a stale one is checked by the span ids below). */
	if (c && (cc = atomic_load(&c->carried)))
		c = cc;
	if (!c || c->role != AT_FD_SERVER)
		return NULL;
	h = atomic_load_explicit(&c->fl_head, memory_order_acquire);
	t = atomic_load_explicit(&c->fl_tail, memory_order_acquire);
	for (; h != t; h++) {
		const struct flight *f = &c->fl[h % INFLIGHT];
		if (seq && f->seq != seq)
			continue;
		return at_context_ref_get(&f->req);
	}
	return NULL;
}

void at_conn_init(void)
{
	at_context_set_resolver(request_of_fd);
}

/* ---- entry points ---- */

void at_conn_socket(int fd, int domain, int type)
{
	struct at_fd *e;

	if ((domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX) ||
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
	struct at_conn *c = conn_new(fd, AT_FD_CLIENT, addr,
				     addr->sa_family == AF_INET
					     ? sizeof(struct sockaddr_in)
					     : sizeof(struct sockaddr_in6));
	struct at_span *s;

	if (!c)
		return fallback;
	/* The request this connection is opened for (at_conn_send.c's
	 * client_request resumes it at the first head). */
	at_context_request(&c->conn_req);
	if (!(s = conn_span_new()))
		return fallback;
	atomic_store(&c->connect_span, s);
	atomic_store(&c->connect_state, CS_PENDING);
	return s;
}

void at_conn_unix_connected(int fd, const struct sockaddr *addr,
			    socklen_t len)
{
	struct at_fd *e = at_fd_peek(fd);

	struct at_conn *c;

	if (e && atomic_load(&e->kind) == AT_FD_TCP &&
	    (c = conn_new(fd, AT_FD_CLIENT, addr, len)))
		at_context_request(&c->conn_req);
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
	conn_stop_connect(c, rc != 0 ? err : 0);
	if (rc != 0)
		conn_submit_connect(c);
}

void at_conn_want_write(int fd, bool want)
{
	struct at_conn *c = conn_of(fd);
	struct at_ctx_entry req;

	if (!c || c->role != AT_FD_CLIENT)
		return;
	if (!want) {
		memset(&c->conn_req, 0, sizeof(c->conn_req));
		return;
	}
	/* The first ask since the last head says whose it is: a loop asks
	 * again from the callback that sees the connect complete. */
	if (at_context_ref_get(&c->conn_req))
		return;
	at_context_request(&req);
	if (req.span)
		c->conn_req = req;
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
	conn_stop_connect(c, so_error);
	if (so_error)
		conn_submit_connect(c);
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
	conn_new(fd, AT_FD_SERVER, peer, len);
}

static void conn_free(struct at_conn *c)
{
	struct flight *f;

	atomic_store(&c->carried, NULL);
	/* The connection closed: a response delimited by the close is now
	 * complete; anything else in flight ends as it is. */
	while ((f = fl_oldest(c)))
		conn_fl_finish(c);
	conn_stop_connect(c, 0);
	conn_submit_connect(c);
	if (c->wire) {
		at_wire_close(c->wire);
		c->wire = NULL;
	}
	conn_flow_release(&c->out);
	conn_flow_release(&c->in);
	conn_buf_put(c->inj_big);
	c->inj_big = NULL;
	at_pool_put(&conn_pool, c);
}

void at_conn_forget(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	struct at_conn *c;

	if (!e)
		return;
	if (AT_UNLIKELY(fd == at_context_bridge_fd))
		at_context_bridge_fd = -1; /* the program closed the channel */
	atomic_store(&e->kind, AT_FD_NONE);
	c = atomic_exchange(&e->conn, NULL);
	if (!c)
		return;
	conn_free(c);
}

/* ---- carried connections (at_conn.h) ---- */

void at_conn_fd_carries(int fd)
{
	struct at_conn *c = fd >= 0 ? conn_for_io(fd) : NULL;

	if (!c || c->tr || c->wire || c->out.phase == PH_PASS)
		return;
	if (c->out.phase != PH_START || c->out.hlen || fl_oldest(c))
		return; /* plain HTTP went first (an upgrade): leave it */
	c->sniffed = 1;
	c->out.phase = c->in.phase = PH_PASS;
	conn_flow_release(&c->out);
	conn_flow_release(&c->in);
	/* A client's connect span stays, for the carried connection's first
	 * request; the descriptor goes passive once it is taken. */
	conn_maybe_passive(c);
}

void at_conn_fd_uncarried(int fd, const char *proto, size_t len)
{
	struct at_conn *c = fd >= 0 ? conn_of(fd) : NULL;
	struct at_span *cs;

	if (!c || c->tr || c->out.phase != PH_PASS)
		return;
	conn_stop_connect(c, 0);
	cs = conn_take_connect(c);
	if (cs) {
		if (proto && len)
			at_span_set_str(cs, "tls.next_protocol", proto, len);
		at_span_end(cs);
		conn_span_free(cs);
	}
	conn_maybe_passive(c);
}

struct at_conn *at_conn_carried_new(uint8_t role, int fd,
				    const struct at_conn_transport *tr,
				    void *ctx)
{
	struct at_conn *u = fd >= 0 ? conn_for_io(fd) : NULL;
	struct at_conn *c = conn_alloc(fd, role);
	struct at_span *cs;

	if (!c)
		return NULL;
	c->tr = tr;
	c->tr_ctx = ctx;
	c->sniffed = 1; /* wire protocols inside TLS: not decoded */
	if (u && !u->tr) {
		memcpy(c->peer_ip, u->peer_ip, sizeof(c->peer_ip));
		c->peer_ip_len = u->peer_ip_len;
		c->peer_port = u->peer_port;
		c->peer_v6 = u->peer_v6;
		c->conn_req = u->conn_req;
		memset(&u->conn_req, 0, sizeof(u->conn_req));
		/* The socket's bytes are ciphertext from now on. */
		at_conn_fd_carries(fd);
		if (role == AT_FD_CLIENT) {
			conn_stop_connect(u, 0);
			cs = conn_take_connect(u);
			if (cs) {
				atomic_store(&c->connect_span, cs);
				atomic_store(&c->connect_state, CS_STOPPED);
			}
		}
		atomic_store(&u->carried, c);
		conn_maybe_passive(u);
	} else if (fd >= 0) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0)
			fmt_peer(c, (struct sockaddr *)&ss, len);
	}
	return c;
}

bool at_conn_carried_active(struct at_conn *c)
{
	return c->out.phase != PH_PASS || c->in.phase != PH_PASS ||
	       fl_oldest(c) || atomic_load(&c->connect_span);
}

void at_conn_carried_free(struct at_conn *c)
{
	struct at_conn *u = c->fd >= 0 ? conn_of(c->fd) : NULL;
	struct at_conn *expected = c;

	if (u)
		atomic_compare_exchange_strong(&u->carried, &expected, NULL);
	conn_free(c);
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
		conn_stop_connect(c, 0);
	conn_submit_connect(c);
	if (c->wire)
		at_wire_at_exit(c->wire);
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
	struct flight *f;

	while ((f = fl_oldest(c))) {
		f->span = NULL;
		conn_head_copy_put(f->head);
		f->head = NULL;
		atomic_fetch_add(&c->fl_head, 1);
	}
	atomic_store(&c->connect_span, NULL);
	atomic_store(&c->connect_state, CS_NONE);
	if (c->wire) {
		at_wire_fork_child(c->wire);
		c->wire = NULL;
		c->out.phase = c->in.phase = PH_PASS;
	}
}

void at_conn_carried_fork_child(struct at_conn *c)
{
	forget_in_child(c);
}

void at_conn_after_fork_child(void)
{
	for_each_conn(forget_in_child);
}
