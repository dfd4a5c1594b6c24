/*
 * at_receiver.c - an embedded OTLP/HTTP trace receiver (see at_receiver.h).
 *
 * What: one background thread runs a poll() loop over a listening socket,
 * a wake-up pipe and every client connection (non-blocking sockets).  It
 * parses HTTP/1.1 requests (Content-Length or chunked bodies, keep-alive,
 * pipelining, "Expect: 100-continue", "Connection: close", HTTP/1.0) with
 * the library's one HTTP/1.x parser and chunked decoder (src/protocols:
 * at_http_parse_request(), the field walk, at_http_chunks_next()),
 * gunzips "Content-Encoding: gzip" bodies (at_gzip_decompress(), capped at
 * BODY_MAX), decodes the body as
 * an ExportTraceServiceRequest with the project's protobuf-c code and
 * stores it, then answers with a packed ExportTraceServiceResponse - or
 * with the next scripted answer (at_receiver_script()).
 *
 * Why: the integration tests need a collector they control (scripted
 * failures, blackholes, counting) and the autotrace command needs an
 * embedded one; neither may depend on anything outside this tree.
 *
 * Contract and limits: only this thread touches connections; the stored
 * requests, counters and the script queue are shared with the API
 * functions under one mutex, and a condition variable wakes the waiters.
 * on_request must not call at_receiver_clear() or at_receiver_stop()
 * (clear waits for a running callback, so that it never frees the
 * request the callback is reading).
 * Garbage never stops the receiver: a malformed request line, header or
 * chunk framing gets 400 and the connection is closed (its framing is
 * lost); a well-framed request to another path gets 404, another method
 * 405, another content type or encoding 415, an undecodable body or one
 * nested deeper than NEST_MAX messages 400, and the connection stays
 * usable.  Limits hold however the bytes are split into reads.  Per
 * request: headers above HDR_MAX bytes get 431, bodies (before or after
 * gunzip) above BODY_MAX get 413 and the connection is closed without
 * reading the body.
 *
 * Other local programs (any of them can connect) cannot lock exporters
 * out or run the memory up:
 *  - Memory: a connection holds at most IN_BASE bytes of input of its
 *    own (none while idle: the buffer is freed); whatever a request needs
 *    beyond is charged to one budget for all connections (body_budget,
 *    DEF_BODY_BUDGET): a Content-Length body as a whole when its head
 *    is parsed (before "100 Continue"), a chunked body chunk by chunk as
 *    each size line arrives, a long head or chunk framing READ_CHUNK at
 *    a time.  A request the budget cannot hold now gets 503 with
 *    "Retry-After: 1" (OTLP exporters retry it) and the connection
 *    closes; one it could never hold gets 413.  The input buffer is sized
 *    to exactly what is charged (no doubling), the charge is given back
 *    when the request is complete or the connection stops reading, and a
 *    client that does not read its answers stops being read above
 *    OUT_HIGH bytes of them.  So the input held is at most the budget +
 *    IN_BASE per connection; decoding one request at a time adds its
 *    joined chunks and gunzipped copy (at most 2 x BODY_MAX).
 *  - Time: a request must have its whole head within head_ms of its first
 *    byte (DEF_HEAD_MS), and its body must keep up min_rate bytes a
 *    second after that (DEF_MIN_RATE: the deadline moves on by one second
 *    per min_rate bytes that arrived), else it gets 408 and the
 *    connection closes; a connection with no request arriving closes
 *    after idle_ms without a byte read or written (DEF_IDLE_MS).  A byte
 *    a second therefore keeps nothing open for long.
 *  - Lockout: at most max_conns connections (DEF_MAX_CONNS, and at most
 *    half the descriptor limit) are served at once; a new connection is
 *    always accepted, and when the table is full another is closed for
 *    it (pick_victim()): one lingering, else the one idle longest, else
 *    the one whose request has arrived least.  So an exporter is never
 *    locked out by idle peers: its new connection is served, and its
 *    request in progress goes only after every idle connection (an idle
 *    keep-alive connection of its own may go: exporters send again on a
 *    fresh connection when a reused one was closed).
 *  The budget is also kept without sockets (the fuzzer); the timeouts
 *  and the table are the socket loop's.
 * Scripted answers apply to requests that reached the trace
 * handler with a decodable body, in arrival order.  Saved bodies are named
 * save_dir/req-NNNNNN.pb, numbered from 1 in order of acceptance for the
 * receiver's lifetime (at_receiver_clear() does not restart the count).
 * A slow collector (at_receiver_delay()): the request is stored when it
 * has been read, and its answer is held on its connection until the delay
 * has passed; meanwhile that connection is neither read nor written (the
 * client's next request waits in the kernel), other connections are
 * served as usual.
 *
 * The per-connection handling never touches the socket itself: the poll
 * loop recv()s into the connection's input buffer and calls
 * conn_received(), and at_rx_conn_input() does the same with bytes it is
 * handed, for a receiver without socket or thread (the fuzzer).
 *
 * The receiver is three files, by job (their shared types and internal
 * functions, prefixed at_rx_, are in at_rx_int.h):
 *  - at_receiver.c: connections - the poll loop, accepting and evicting,
 *    reading and writing, the timeouts; starting and stopping;
 *  - at_rx_http.c: requests - HTTP heads and body framing, the body
 *    budget, the answers;
 *  - at_rx_store.c: what a request carries - gunzip, the nesting check,
 *    OTLP decoding, scripted answers, the stored requests and the API
 *    over them.
 *
 * These files are not part of libautotrace.so (tools and tests only), so
 * they use malloc and stdio freely.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "at_compat.h"
#include "at_rx_int.h"

uint64_t at_rx_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- connections ---- */

static void conn_free(struct at_receiver *r, struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	at_rx_conn_uncharge(r, c);
	at_buf_free(&c->in);
	at_buf_free(&c->out);
	free(c);
}

/*
 * The answer is out and the connection must close.  Closing a socket
 * with unread input makes the kernel send a reset, which can destroy the
 * answer before the client read it; so shut the write side and read (and
 * discard) until the client closes, or LINGER_MS pass.
 */
static void start_linger(struct conn *c)
{
	if (c->lingering)
		return;
	c->lingering = true;
	c->linger_until_ms = at_rx_now_ms() + LINGER_MS;
	if (shutdown(c->fd, SHUT_WR) < 0)
		c->dead = true;
}

static void flush_out(struct at_receiver *r, struct conn *c)
{
	while (c->out_off < c->out.len) {
		ssize_t w = send(c->fd, c->out.data + c->out_off,
				 c->out.len - c->out_off, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			return;
		}
		c->out_off += (size_t)w;
		c->last_ms = r->now_ms;
	}
	at_buf_reset(&c->out);
	c->out_off = 0;
	if (c->close_after)
		start_linger(c);
}

/* Read and throw away; EOF or an error ends the connection. */
static void drain(struct conn *c)
{
	char tmp[16384];
	int i;

	for (i = 0; i < 64; i++) {
		ssize_t got = recv(c->fd, tmp, sizeof(tmp), 0);

		if (got > 0)
			continue;
		if (got < 0 && errno == EINTR)
			continue;
		if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK))
			c->dead = true;
		return;
	}
}

/* Drop what earlier requests used from the input buffer. */
static void conn_compact(struct conn *c)
{
	if (!c->in_off)
		return;
	memmove(c->in.data, c->in.data + c->in_off, c->in.len - c->in_off);
	c->in.len -= c->in_off;
	c->in_off = 0;
}

/* Handle what is complete in c->in; forget the input once c stops
 * reading. */
static void conn_process(struct at_receiver *r, struct conn *c)
{
	at_rx_process(r, c);
	if (!at_rx_conn_reads(c))
		at_rx_conn_drop_input(r, c);
}

/*
 * got more bytes were written into c->in after its end (0: the client is
 * done sending): answer every request that is complete.  The socket loop
 * and the socket-free at_rx_conn_input() share this.
 */
static void conn_received(struct at_receiver *r, struct conn *c, size_t got)
{
	if (got == 0) {
		/* Answer what is complete, then close. */
		at_rx_process(r, c);
		if (c->blackhole)
			c->dead = true;
		c->close_after = true;
		at_rx_conn_drop_input(r, c);
		return;
	}
	if (c->in.len == c->in_off)
		c->req_start_ms = r->now_ms;
	c->in.len += got;
	conn_process(r, c);
}

/* Make c->in's capacity exactly cap (> its length): no doubling, so
 * that what a connection may hold is what it was charged for. */
static int in_resize(struct conn *c, size_t cap)
{
	uint8_t *p;

	if (cap == c->in.cap)
		return 0;
	p = realloc(c->in.data, cap);
	if (!p)
		return -1;
	c->in.data = p;
	c->in.cap = cap;
	return 0;
}

/*
 * Read what c sent, at most IN_BASE + its charge bytes held: a body
 * charged as a whole is read straight to its end; a request that fills
 * that room without being complete (a long head or trailer, chunk
 * framing) is charged READ_CHUNK more, or refused.
 */
static void read_conn(struct at_receiver *r, struct conn *c)
{
	size_t budget = READ_BUDGET;

	if (c->lingering || c->blackhole) {
		drain(c);
		return;
	}
	while (budget && at_rx_conn_reads(c) && !c->hold_until_ms) {
		ssize_t got;
		int rc;

		conn_compact(c);
		if (c->in.len >= IN_BASE + c->charge) {
			rc = at_rx_conn_charge(r, c, c->in.len + READ_CHUNK);
			if (rc) {
				at_rx_refuse(r, c, rc);
				at_rx_conn_drop_input(r, c);
				return;
			}
		}
		if (in_resize(c, IN_BASE + c->charge) < 0) {
			c->dead = true;
			return;
		}
		got = recv(c->fd, c->in.data + c->in.len,
			   c->in.cap - c->in.len, 0);
		if (got < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				c->dead = true;
			break;
		}
		if (got > 0)
			c->last_ms = r->now_ms;
		conn_received(r, c, (size_t)got);
		if (got == 0)
			break;
		budget -= (size_t)got < budget ? (size_t)got : budget;
		if (c->out.len - c->out_off > OUT_HIGH)
			break;
	}
	/* An idle connection holds no buffer. */
	if (c->in.len == c->in_off)
		at_rx_conn_drop_input(r, c);
}

/*
 * When c is given up (0: never): a lingering one after LINGER_MS; one
 * with a request arriving when the head took more than head_ms, or the
 * body came slower than min_rate after that; any other after idle_ms
 * without a byte read or written.  Held (slow answer) and blackholed
 * connections are the tests' and wait.
 */
static uint64_t conn_deadline(const struct at_receiver *r,
			      const struct conn *c)
{
	uint64_t d;

	if (c->dead || c->blackhole || c->hold_until_ms)
		return 0;
	if (c->lingering)
		return c->linger_until_ms;
	if (!at_rx_conn_reads(c) || c->in.len == c->in_off)
		return c->last_ms + r->idle_ms;
	d = c->req_start_ms + r->head_ms;
	if (c->h.done)
		d += (uint64_t)(c->in.len - c->in_off - c->h.body_off) * 1000 /
		     r->min_rate;
	return d;
}

/* c's deadline passed: a request still arriving gets 408 and the
 * connection closes after it; any other connection closes at once. */
static void conn_expire(struct at_receiver *r, struct conn *c)
{
	if (c->lingering || !at_rx_conn_reads(c) || c->in.len == c->in_off ||
	    c->out_off < c->out.len) {
		c->dead = true;
		return;
	}
	at_rx_count_request(r);
	at_rx_respond_error(c, 408, "request timeout", true);
	at_rx_conn_drop_input(r, c);
	flush_out(r, c);
}

/*
 * The connection to close to make room for a new one: one that lingers
 * (its answer is out), else the one idle the longest (no request
 * arriving), else the one whose arriving request has the fewest bytes
 * (the oldest of those), else (tests only) the oldest held or
 * blackholed one.  NULL if there is none.
 */
static struct conn *pick_victim(struct at_receiver *r)
{
	struct conn *c, *best = NULL;
	uint64_t key, best_key = 0;
	int rank, best_rank = 4;

	/* The list is newest first: "<=" keeps the oldest of equals. */
	for (c = r->conns; c; c = c->next) {
		if (c->dead)
			continue;
		if (c->lingering) {
			rank = 0;
			key = c->linger_until_ms;
		} else if (c->blackhole || c->hold_until_ms) {
			rank = 3;
			key = c->last_ms;
		} else if (!at_rx_conn_reads(c) || c->in.len == c->in_off) {
			rank = 1;
			key = c->last_ms;
		} else {
			rank = 2;
			key = c->in.len - c->in_off;
		}
		if (rank < best_rank || (rank == best_rank && key <= best_key)) {
			best = c;
			best_rank = rank;
			best_key = key;
		}
	}
	return best;
}

static void evict(struct conn *c)
{
	/* Freed at the end of the round; the descriptor goes now, for
	 * accept4() when the process is out of them. */
	close(c->fd);
	c->fd = -1;
	c->dead = true;
}

/* Accept every waiting connection: a full table makes room (a new
 * connection is always served). */
static void accept_conns(struct at_receiver *r)
{
	struct conn *c, *v;
	size_t live = 0;

	for (c = r->conns; c; c = c->next)
		live += !c->dead;
	for (;;) {
		int fd = accept4(r->lfd, NULL, NULL,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		int one = 1;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			if (errno != EMFILE && errno != ENFILE)
				return;
			/* Out of descriptors: make room, or wait a while
			 * (the listening socket would wake poll at once). */
			v = pick_victim(r);
			if (v) {
				evict(v);
				live--;
				continue;
			}
			r->accept_pause_until_ms = r->now_ms + ACCEPT_PAUSE_MS;
			return;
		}
		if (live >= r->max_conns && (v = pick_victim(r))) {
			evict(v);
			live--;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->fd = fd;
		c->last_ms = r->now_ms;
		c->next = r->conns;
		r->conns = c;
		r->n_conns++;
		live++;
	}
}

static void *rx_thread(void *arg)
{
	struct at_receiver *r = arg;
	struct pollfd *pfd = NULL;
	struct conn **pc = NULL;
	size_t cap_pfd = 0, cap_pc = 0;

	for (;;) {
		struct conn *c, **link;
		size_t n = 2, i;
		uint64_t wake = 0, d; /* the first deadline (0: none) */
		int timeout = -1;

		if (at_rx_grow((void **)&pfd, &cap_pfd, r->n_conns + 2,
			       sizeof(*pfd)) < 0 ||
		    at_rx_grow((void **)&pc, &cap_pc, r->n_conns + 2,
			       sizeof(*pc)) < 0) {
			/* Out of memory: back off and retry. */
			poll(NULL, 0, 10);
			continue;
		}
		r->now_ms = at_rx_now_ms();
		pfd[0].fd = r->wake[0];
		pfd[0].events = POLLIN;
		pfd[1].fd = r->lfd;
		pfd[1].events = POLLIN;
		if (r->accept_pause_until_ms > r->now_ms) {
			pfd[1].events = 0;
			wake = r->accept_pause_until_ms;
		}
		for (c = r->conns; c; c = c->next) {
			pfd[n].fd = c->fd;
			pfd[n].events = 0;
			pfd[n].revents = 0;
			if (c->hold_until_ms) {
				/* A slow answer: wait, do nothing else (not
				 * even a hang-up is reported). */
				pfd[n].fd = -1;
				d = c->hold_until_ms;
			} else {
				d = conn_deadline(r, c);
				if (c->lingering ||
				    (!c->close_after &&
				     c->out.len - c->out_off <= OUT_HIGH))
					pfd[n].events = POLLIN;
				if (c->out_off < c->out.len)
					pfd[n].events |= POLLOUT;
			}
			if (d && (!wake || d < wake))
				wake = d;
			pc[n] = c;
			n++;
		}
		if (wake)
			timeout = wake <= r->now_ms ? 0 :
				  wake - r->now_ms > INT_MAX ? INT_MAX :
				  (int)(wake - r->now_ms);
		if (poll(pfd, n, timeout) < 0) {
			if (errno != EINTR)
				poll(NULL, 0, 10);
			continue;
		}
		if (pfd[0].revents)
			break;
		r->now_ms = at_rx_now_ms();
		if (pfd[1].revents & POLLIN)
			accept_conns(r);
		for (i = 2; i < n; i++) {
			c = pc[i];
			if (c->dead)
				continue;
			if (c->hold_until_ms) {
				if (r->now_ms < c->hold_until_ms)
					continue;
				/* Answer now, then handle what waited (a
				 * request arriving was not read meanwhile:
				 * its time starts again). */
				c->hold_until_ms = 0;
				c->req_start_ms = r->now_ms;
				flush_out(r, c);
				if (!c->dead)
					conn_process(r, c);
			}
			if (pfd[i].revents & (POLLIN | POLLHUP | POLLERR))
				read_conn(r, c);
			if (c->dead || c->hold_until_ms)
				continue;
			if (c->out_off < c->out.len)
				flush_out(r, c);
			else if (c->close_after)
				start_linger(c);
			if (pfd[i].revents & POLLNVAL)
				c->dead = true;
			d = conn_deadline(r, c);
			if (d && r->now_ms >= d)
				conn_expire(r, c);
		}
		for (link = &r->conns; (c = *link);) {
			if (c->dead) {
				*link = c->next;
				conn_free(r, c);
				r->n_conns--;
			} else {
				link = &c->next;
			}
		}
	}
	free(pfd);
	free(pc);
	return NULL;
}

/* ---- API ---- */

static int listen_on(const char *addr, uint16_t port, uint16_t *bound)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int fd, one = 1, e;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		errno = EINVAL;
		return -1;
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    0);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 128) < 0)
		goto fail;
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
		goto fail;
	*bound = ntohs(ss.ss_family == AF_INET ? s4->sin_port : s6->sin6_port);
	return fd;
fail:
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* A receiver with its options and locks, but no socket and no thread. */
static struct at_receiver *rx_new(const struct at_receiver_opts *opts)
{
	struct at_receiver *r;
	pthread_condattr_t ca;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->lfd = -1;
	r->wake[0] = r->wake[1] = -1;
	if (opts && opts->save_dir) {
		r->save_dir = strdup(opts->save_dir);
		if (!r->save_dir) {
			free(r);
			return NULL;
		}
		mkdir(r->save_dir, 0777);
	}
	if (opts) {
		r->on_request = opts->on_request;
		r->ud = opts->ud;
		r->on_get = opts->on_get;
		r->sink = opts->sink;
	}
	r->max_conns = opts && opts->max_conns > 0 ? (size_t)opts->max_conns :
		       DEF_MAX_CONNS;
	r->budget = opts && opts->body_budget ? opts->body_budget :
		    DEF_BODY_BUDGET;
	r->idle_ms = opts && opts->idle_timeout_ms > 0 ?
		     (uint64_t)opts->idle_timeout_ms : DEF_IDLE_MS;
	r->head_ms = opts && opts->head_timeout_ms > 0 ?
		     (uint64_t)opts->head_timeout_ms : DEF_HEAD_MS;
	r->min_rate = opts && opts->body_min_rate ? opts->body_min_rate :
		      DEF_MIN_RATE;
	pthread_mutex_init(&r->cb_mu, NULL);
	pthread_mutex_init(&r->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cv, &ca);
	pthread_condattr_destroy(&ca);
	return r;
}

struct at_receiver *at_receiver_start(const struct at_receiver_opts *opts)
{
	struct at_receiver *r;
	struct rlimit rl;
	sigset_t all, old;
	int e;

	r = rx_new(opts);
	if (!r)
		return NULL;
	/* Within the process's descriptors, with some left for its own use
	 * (accept_conns() copes with running out anyway). */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    r->max_conns > rl.rlim_cur / 2)
		r->max_conns = rl.rlim_cur / 2 > 16 ? rl.rlim_cur / 2 : 16;
	r->lfd = listen_on(opts && opts->bind_addr ? opts->bind_addr :
			   "127.0.0.1", opts ? opts->port : 0, &r->port);
	if (r->lfd < 0)
		goto fail;
	if (pipe2(r->wake, O_CLOEXEC | O_NONBLOCK) < 0)
		goto fail;

	/* The thread blocks every signal: the host's threads handle them. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&r->thread, NULL, rx_thread, r);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e) {
		errno = e;
		goto fail;
	}
	r->running = true;
	return r;

fail:
	e = errno;
	at_receiver_stop(r);
	errno = e;
	return NULL;
}

/* ---- without sockets ---- */

struct at_rx_conn {
	struct at_receiver *r;
	struct conn *c;
};

struct at_receiver *at_receiver_new_unbound(const struct at_receiver_opts *opts)
{
	return rx_new(opts);
}

struct at_rx_conn *at_rx_conn_open(struct at_receiver *r)
{
	struct at_rx_conn *x = calloc(1, sizeof(*x));

	if (!x)
		return NULL;
	x->c = calloc(1, sizeof(*x->c));
	if (!x->c) {
		free(x);
		return NULL;
	}
	x->r = r;
	x->c->fd = -1;
	return x;
}

int at_rx_conn_input(struct at_rx_conn *x, const void *p, size_t n)
{
	struct conn *c = x->c;

	if (at_rx_conn_reads(c)) {
		/* As read_conn(): a buffer is there even for the end. */
		conn_compact(c);
		if (at_buf_reserve(&c->in, n ? n : 1) < 0) {
			c->dead = true;
			return -1;
		}
		if (n)
			memcpy(c->in.data + c->in.len, p, n);
		conn_received(x->r, c, n);
	}
	return at_rx_conn_reads(c) ? 0 : -1;
}

const uint8_t *at_rx_conn_output(const struct at_rx_conn *x, size_t *len)
{
	*len = x->c->out.len;
	return x->c->out.data;
}

void at_rx_conn_close(struct at_rx_conn *x)
{
	if (!x)
		return;
	conn_free(x->r, x->c);
	free(x);
}

void at_receiver_limits(struct at_receiver_opts *o, const char *spec)
{
	static const char *const keys[] = { "idle=", "head=", "rate=",
					    "conns=", "budget=" };

	while (spec && *spec) {
		size_t len = strcspn(spec, ",");
		unsigned long long v;
		char *end;

		for (size_t k = 0; k < AT_ARRAY_SIZE(keys); k++) {
			size_t kl = strlen(keys[k]);

			if (len <= kl || strncmp(spec, keys[k], kl) != 0 ||
			    spec[kl] < '0' || spec[kl] > '9')
				continue;
			errno = 0;
			v = strtoull(spec + kl, &end, 10);
			if (errno || end != spec + len || v > INT_MAX)
				break;
			if (k == 0)
				o->idle_timeout_ms = (int)v;
			else if (k == 1)
				o->head_timeout_ms = (int)v;
			else if (k == 2)
				o->body_min_rate = (size_t)v;
			else if (k == 3)
				o->max_conns = (int)v;
			else
				o->body_budget = (size_t)v;
			break;
		}
		spec += len;
		if (*spec == ',')
			spec++;
	}
}

uint16_t at_receiver_port(const struct at_receiver *r)
{
	return r->port;
}

void at_receiver_stop(struct at_receiver *r)
{
	struct conn *c, *next;
	struct script *s, *sn;
	ssize_t w;

	if (!r)
		return;
	if (r->running) {
		do {
			w = write(r->wake[1], "x", 1);
		} while (w < 0 && errno == EINTR);
		pthread_join(r->thread, NULL);
	}
	for (c = r->conns; c; c = next) {
		next = c->next;
		conn_free(r, c);
	}
	if (r->lfd >= 0)
		close(r->lfd);
	if (r->wake[0] >= 0) {
		close(r->wake[0]);
		close(r->wake[1]);
	}
	at_rx_clear_locked(r);
	for (s = r->script_head; s; s = sn) {
		sn = s->next;
		free(s->retry_after);
		free(s->message);
		free(s);
	}
	free(r->reqs);
	free(r->spans);
	free(r->save_dir);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
	pthread_mutex_destroy(&r->cb_mu);
	free(r);
}
