/*
 * at_transport.c - HTTP/1.1 POST to the collector (see at_transport.h).
 *
 * Runs only on the exporter thread, which holds the reentrancy guard, and
 * calls the real libc functions, so none of this is ever traced.  Design
 * points:
 *  - every wait is a poll() bounded by the caller's deadline; the socket
 *    is non-blocking, SOCK_CLOEXEC (a host exec() does not leak it) and
 *    written with MSG_NOSIGNAL (a dead collector never SIGPIPEs the host);
 *  - the socket is announced (t->announce) before its number exists and
 *    identified right after socket(), so the exporter's close() hook view
 *    covers the whole exchange, connect included;
 *  - before reusing the connection its identity (st_dev, st_ino) is
 *    checked: if the host closed our fd, or put another file at that
 *    number, the fd is no longer ours and is left alone;
 *  - a request that fails on a reused keep-alive connection before any
 *    response byte arrived is sent once more on a fresh connection (the
 *    server may have closed an idle connection), which is safe because no
 *    byte of an answer means the collector did not process it... except
 *    for servers that process and then reset; OTLP accepts such rare
 *    duplicates rather than losses;
 *  - at exit (exit_limit returns a time) a wait also ends at that time and
 *    after AT_TRANSPORT_EXIT_SILENCE_MS without progress; until then the
 *    waits are cut in slices of AT_TRANSPORT_SLICE_MS so that an exchange
 *    already under way when the process starts exiting learns it (only
 *    while waiting on the collector: at most 20 wake-ups a second, on the
 *    exporter thread); answer bytes that cannot start a status line
 *    (at_http_response_start()) are garbage and end the exchange at once;
 *  - https: tls_start() shakes hands on each new connection, then
 *    send_all()/recv_more() go through the TLS layer, which never touches
 *    the socket: its bytes go out and come in through raw_send_all() and
 *    raw_recv(), the same polls and deadlines as plain HTTP;
 *  - the answer is read with the library's one HTTP/1.x parser
 *    (src/protocols: at_http_parse_response(), the field walk for
 *    Retry-After, the chunked decoder), never a parser of its own; a
 *    head is at most AT_HTTP_HEAD_MAX bytes, a body MAX_BODY.
 */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>

#include "at_clock.h"
#include "at_compat.h"
#include "at_http_chunked.h"
#include "at_http_fields.h"
#include "at_real.h"
#include "at_retry.h"
#include "at_transport.h"

#define MAX_HEAD AT_HTTP_HEAD_MAX /* what the parser takes */
#define MAX_BODY (4 * 1024 * 1024)
#define CHUNK_LINE_MAX 4096 /* a chunk-size line with its extensions */

void at_transport_init(struct at_transport *t, const struct at_endpoint *ep,
		       const char *extra_headers)
{
	memset(t, 0, sizeof(*t));
	t->ep = ep;
	t->extra_headers = extra_headers ? extra_headers : "";
	t->fd = -1;
}

static int still_ours(const struct at_transport *t)
{
	struct stat st;

	if (t->fd < 0 || fstat(t->fd, &st) != 0)
		return 0;
	return st.st_dev == t->dev && st.st_ino == t->ino;
}

static void announce(const struct at_transport *t, int fd, dev_t dev,
		     ino_t ino)
{
	if (t->announce)
		t->announce(fd, dev, ino);
}

static void tls_goodbye(struct at_transport *t);

void at_transport_close(struct at_transport *t)
{
	int ours = t->fd >= 0 && still_ours(t);

	if (ours && t->tls.ssl)
		tls_goodbye(t);
	at_tls_conn_free(&t->tls);
	/* Closed first, then unannounced: a host descriptor that takes the
	 * number in between fails the identity check (at_exporter_owns_fd). */
	if (ours)
		AT_REAL(close)(t->fd);
	if (t->fd >= 0)
		announce(t, -1, 0, 0);
	t->fd = -1;
}

void at_transport_after_fork_child(struct at_transport *t)
{
	at_tls_after_fork_child(&t->tls);
	at_transport_close(t);
}

static int remaining_ms(uint64_t now, uint64_t deadline)
{
	if (now >= deadline)
		return 0;
	if (deadline - now > 3600ull * 1000000000u)
		return 3600 * 1000;
	return (int)((deadline - now + 999999) / 1000000);
}

/* When the wait must end: the caller's deadline, or at exit the exit
 * limit and AT_TRANSPORT_EXIT_SILENCE_MS after the last progress.
 * *slice_end: when to look at the exit limit again. */
static uint64_t wait_end(const struct at_transport *t, uint64_t now,
			 uint64_t deadline, uint64_t *slice_end)
{
	uint64_t ex = t->exit_limit ? t->exit_limit() : 0;
	uint64_t end = deadline;

	*slice_end = UINT64_MAX;
	if (ex) {
		uint64_t quiet = t->progress_ns +
				 AT_TRANSPORT_EXIT_SILENCE_MS * 1000000ull;
		if (ex < end)
			end = ex;
		if (quiet < end)
			end = quiet;
	} else if (t->exit_limit) {
		*slice_end = now + AT_TRANSPORT_SLICE_MS * 1000000ull;
	}
	return end;
}

static void progress(struct at_transport *t)
{
	t->progress_ns = at_mono_ns();
}

/* Wait for events on fd: 0 when ready, -ETIMEDOUT, or -errno. */
static int wait_fd(const struct at_transport *t, int fd, short events,
		   uint64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		uint64_t now = at_mono_ns(), slice_end;
		uint64_t end = wait_end(t, now, deadline, &slice_end);
		int ms = remaining_ms(now, end < slice_end ? end : slice_end);
		int rc;

		if (now >= end)
			return -ETIMEDOUT;
		rc = AT_REAL(poll)(&p, 1, ms);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR)
			return -errno;
	}
}

static int connect_one(struct at_transport *t, const struct addrinfo *ai,
		       uint64_t deadline)
{
	int fd, err = 0, one = 1;
	socklen_t len = sizeof(err);
	struct stat st;

	/* Announced before the socket exists and identified before its first
	 * use: from socket() on, the host's close() of this number waits
	 * for the announcement and then leaves it alone. */
	announce(t, AT_TRANSPORT_OPENING, 0, 0);
	fd = AT_REAL(socket)(ai->ai_family,
			     SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		announce(t, -1, 0, 0);
		return err;
	}
	if (fstat(fd, &st) != 0) {
		err = -errno;
		goto fail;
	}
	announce(t, fd, st.st_dev, st.st_ino);
	if (AT_REAL(connect)(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		if (errno != EINPROGRESS && errno != EINTR) {
			err = -errno;
			goto fail;
		}
		err = wait_fd(t, fd, POLLOUT, deadline);
		if (err)
			goto fail;
		if (AT_REAL(getsockopt)(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
			err = -errno;
			goto fail;
		}
		if (err) {
			err = -err;
			goto fail;
		}
	}
	progress(t);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	t->fd = fd;
	t->dev = st.st_dev;
	t->ino = st.st_ino;
	return 0;
fail:
	AT_REAL(close)(fd);
	announce(t, -1, 0, 0);
	return err;
}

/*
 * Connect, to the address that worked last time if there is one: name
 * resolution runs only when it must, which keeps the exporter out of the
 * resolver's locks (a fork child's exporter could otherwise find one held
 * by the parent's at the moment of fork).
 */
static int open_connection(struct at_transport *t, uint64_t deadline)
{
	struct addrinfo hints = { 0 }, *res = NULL, *ai;
	char port[8];
	int rc, err = -ECONNREFUSED;

	if (t->addr_len) {
		struct addrinfo cached = { .ai_family = t->addr.ss_family,
					   .ai_addr = (struct sockaddr *)&t->addr,
					   .ai_addrlen = t->addr_len };
		err = connect_one(t, &cached, deadline);
		if (err == 0)
			return 0;
		t->addr_len = 0;
		if (err == -ETIMEDOUT)
			return err;
	}
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(port, sizeof(port), "%u", t->ep->port);
	rc = AT_REAL(getaddrinfo)(t->ep->host, port, &hints, &res);
	if (rc != 0)
		return -EHOSTUNREACH;
	for (ai = res; ai; ai = ai->ai_next) {
		err = connect_one(t, ai, deadline);
		if (err == 0 && ai->ai_addrlen <= sizeof(t->addr)) {
			memcpy(&t->addr, ai->ai_addr, ai->ai_addrlen);
			t->addr_len = ai->ai_addrlen;
		}
		if (err == 0 || err == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return err;
}

static int raw_send_all(struct at_transport *t, struct iovec *iov, int n,
			uint64_t deadline)
{
	while (n > 0) {
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
		ssize_t w = AT_REAL(sendmsg)(t->fd, &mh, MSG_NOSIGNAL);

		if (w < 0) {
			int rc;
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				return -errno;
			rc = wait_fd(t, t->fd, POLLOUT, deadline);
			if (rc)
				return rc;
			continue;
		}
		if (w > 0)
			progress(t);
		while (n > 0 && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n > 0) {
			iov->iov_base = (char *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return 0;
}

/* Read from the socket into buf: >0 bytes, 0 at EOF, or -errno. */
static ssize_t raw_recv(struct at_transport *t, uint8_t *buf, size_t cap,
			uint64_t deadline)
{
	for (;;) {
		ssize_t r = AT_REAL(recv)(t->fd, buf, cap, 0);
		if (r >= 0) {
			if (r > 0)
				progress(t);
			return r;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		int rc = wait_fd(t, t->fd, POLLIN, deadline);
		if (rc)
			return rc;
	}
}

/* ---- TLS: at_tls_client.c's memory buffers against our socket ---- */

#define TLS_IO_CHUNK 16384

/* Send what the TLS layer has for the peer.  0 or -errno. */
static int tls_flush(struct at_transport *t, uint64_t deadline)
{
	uint8_t buf[TLS_IO_CHUNK];
	size_t n;

	while ((n = at_tls_take(&t->tls, buf, sizeof(buf))) > 0) {
		struct iovec iov = { buf, n };
		int rc = raw_send_all(t, &iov, 1, deadline);

		if (rc)
			return rc;
	}
	return 0;
}

/* Read once from the socket into the TLS layer: >0, 0 at EOF, -errno. */
static ssize_t tls_pull(struct at_transport *t, uint64_t deadline)
{
	uint8_t buf[TLS_IO_CHUNK];
	ssize_t r = raw_recv(t, buf, sizeof(buf), deadline);

	if (r > 0 && at_tls_feed(&t->tls, buf, (size_t)r) != 0)
		return -ENOMEM;
	return r;
}

/* A close_notify, if the socket takes it at once (never waits). */
static void tls_goodbye(struct at_transport *t)
{
	uint8_t buf[256];
	size_t n;

	at_tls_close_notify(&t->tls);
	n = at_tls_take(&t->tls, buf, sizeof(buf));
	if (n > 0)
		(void)!AT_REAL(send)(t->fd, buf, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

/* libssl and the settings (once): 0, or the error before connecting. */
static int tls_ready(struct at_transport *t)
{
	static const struct at_tls_files system_store = { 0 };

	return at_tls_setup(t->tls_files ? t->tls_files : &system_store);
}

/* The handshake on the new connection t->fd.  0 or -errno/AT_TLS_E*. */
static int tls_start(struct at_transport *t, uint64_t deadline)
{
	int rc = at_tls_conn_open(&t->tls, t->ep->host);

	while (rc == 0) {
		int hs = at_tls_handshake(&t->tls);
		int fl = tls_flush(t, deadline); /* our flight, or an alert */
		ssize_t r;

		if (hs != AT_TLS_WANT_READ)
			return hs ? hs : fl;
		if (fl)
			return fl;
		r = tls_pull(t, deadline);
		if (r == 0)
			return -ECONNRESET; /* closed before the handshake ended */
		if (r < 0)
			return (int)r;
	}
	return rc;
}

/*
 * The connection failed under us (rc): if the peer said why first, a TLS
 * alert already in the socket's buffer (as when it refuses to go on
 * without our client certificate, and closes), that is the error.
 */
static int tls_why_closed(struct at_transport *t, int rc)
{
	uint8_t buf[TLS_IO_CHUNK];
	ssize_t r;
	long v;

	while ((r = AT_REAL(recv)(t->fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		if (at_tls_feed(&t->tls, buf, (size_t)r) != 0)
			break;
	v = at_tls_read(&t->tls, buf, sizeof(buf));
	return at_tls_error_final((int)v) ? (int)v : rc;
}

static int tls_send_all(struct at_transport *t, const struct iovec *iov,
			int n, uint64_t deadline)
{
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t left = iov[i].iov_len;

		while (left > 0) {
			long w = at_tls_write(&t->tls, p,
					      left < TLS_IO_CHUNK ? left
								  : TLS_IO_CHUNK);
			int rc;

			if (w < 0)
				return (int)w;
			p += w;
			left -= (size_t)w;
			rc = tls_flush(t, deadline);
			if (rc)
				return rc == -ETIMEDOUT ? rc
							: tls_why_closed(t, rc);
		}
	}
	return 0;
}

/* Decrypted bytes into buf: >0, 0 at the end of the stream, or -errno. */
static ssize_t tls_recv(struct at_transport *t, uint8_t *buf, size_t cap,
			uint64_t deadline)
{
	for (;;) {
		long r = at_tls_read(&t->tls, buf, cap);
		int fl = tls_flush(t, deadline); /* e.g. a key update's answer */
		ssize_t g;

		if (r >= 0)
			return r;
		if (r != -EAGAIN)
			return r;
		if (fl)
			return fl;
		g = tls_pull(t, deadline);
		if (g < 0 && g != -ETIMEDOUT)
			return tls_why_closed(t, (int)g);
		if (g <= 0)
			return g; /* the socket's end (no close_notify) ends it */
	}
}

static int send_all(struct at_transport *t, struct iovec *iov, int n,
		    uint64_t deadline)
{
	if (t->tls.ssl)
		return tls_send_all(t, iov, n, deadline);
	return raw_send_all(t, iov, n, deadline);
}

/* Read more bytes into t->in: >0 bytes read, 0 at EOF, or -errno. */
static ssize_t recv_more(struct at_transport *t, uint64_t deadline)
{
	ssize_t r;

	if (at_buf_reserve(&t->in, 16384) != 0)
		return -ENOMEM;
	if (t->tls.ssl)
		r = tls_recv(t, t->in.data + t->in.len, t->in.cap - t->in.len,
			     deadline);
	else
		r = raw_recv(t, t->in.data + t->in.len, t->in.cap - t->in.len,
			     deadline);
	if (r > 0)
		t->in.len += (size_t)r;
	return r;
}

struct head_info {
	struct at_http_response r;
	int64_t retry_after_ms;
};

/* The head p[0..len) (at_http_head_end() long), parsed by the library's
 * one HTTP parser; Retry-After read from its fields.  0 or -EPROTO. */
static int parse_head(const char *p, size_t len, struct head_info *hi)
{
	struct at_http_str name, value;
	size_t pos;

	hi->retry_after_ms = -1;
	if (at_http_parse_response(p, len, &hi->r) != 0)
		return -EPROTO;
	pos = at_http_fields_start(p, len);
	while (at_http_field_next(p, len, &pos, &name, &value))
		if (at_http_eq_nocase(name.p, name.len, "retry-after"))
			hi->retry_after_ms = at_retry_after_parse(
				value.p, value.len, time(NULL));
	return 0;
}

/* Decode the chunked body that follows the head in t->in, reading more
 * as needed, into out (at most MAX_BODY bytes).  0 or -errno. */
static int read_chunked(struct at_transport *t, size_t head_len,
			uint64_t deadline, struct at_buf *out)
{
	struct at_http_chunks ch;
	struct at_http_str data;
	size_t pos = head_len, used;
	ssize_t r;

	at_http_chunks_init(&ch, MAX_BODY, CHUNK_LINE_MAX, AT_HTTP_HEAD_MAX);
	for (;;) {
		int ev = at_http_chunks_next(&ch, (const char *)t->in.data + pos,
					     t->in.len - pos, &used, &data);

		pos += used;
		if (ev < 0)
			return -EPROTO;
		if (ev == AT_CHUNKS_DONE)
			return 0;
		if (ev == AT_CHUNKS_DATA &&
		    at_buf_append(out, data.p, data.len) != 0)
			return -ENOMEM;
		if (ev != AT_CHUNKS_MORE)
			continue;
		r = recv_more(t, deadline);
		if (r <= 0)
			return r < 0 ? (int)r : -EPROTO;
	}
}

/* Read one response into resp.  Returns 0 or -errno; *got_any tells
 * whether any byte arrived. */
static int read_response(struct at_transport *t, uint64_t deadline,
			 struct at_transport_response *resp, int *got_any,
			 int *must_close)
{
	struct head_info hi;
	size_t head_len;
	ssize_t r;
	int rc;

	at_buf_reset(&t->in);
	for (;;) {
		while (!(head_len = at_http_head_end((const char *)t->in.data,
						     t->in.len, 0))) {
			if (t->in.len > MAX_HEAD)
				return -EPROTO;
			r = recv_more(t, deadline);
			if (r < 0)
				return (int)r;
			if (r == 0)
				return t->in.len ? -EPROTO : -ECONNRESET;
			*got_any = 1;
			if (at_http_response_start((const char *)t->in.data,
						   t->in.len) < 0)
				return -EPROTO;
		}
		rc = parse_head((const char *)t->in.data, head_len, &hi);
		if (rc)
			return rc;
		if (hi.r.status >= 200)
			break;
		/* 1xx: drop it and read the real response. */
		memmove(t->in.data, t->in.data + head_len,
			t->in.len - head_len);
		t->in.len -= head_len;
	}
	resp->status = hi.r.status;
	resp->retry_after_ms = hi.retry_after_ms;
	*must_close = hi.r.conn_close ||
		      (hi.r.version_minor == 0 && !hi.r.conn_keep_alive);
	at_buf_reset(&resp->body);

	if (hi.r.status == 204 || hi.r.status == 304) {
		return 0;
	} else if (hi.r.chunked) {
		return read_chunked(t, head_len, deadline, &resp->body);
	} else if (hi.r.content_length >= 0) {
		if (hi.r.content_length > MAX_BODY)
			return -EPROTO;
		while (t->in.len - head_len < (size_t)hi.r.content_length) {
			r = recv_more(t, deadline);
			if (r <= 0)
				return r < 0 ? (int)r : -EPROTO;
		}
		return at_buf_append(&resp->body, t->in.data + head_len,
				     (size_t)hi.r.content_length) ? -ENOMEM : 0;
	}
	/* Body until the server closes. */
	*must_close = 1;
	for (;;) {
		if (t->in.len - head_len > MAX_BODY)
			return -EPROTO;
		r = recv_more(t, deadline);
		if (r < 0)
			return (int)r;
		if (r == 0)
			break;
	}
	return at_buf_append(&resp->body, t->in.data + head_len,
			     t->in.len - head_len) ? -ENOMEM : 0;
}

int at_transport_post(struct at_transport *t, const uint8_t *body, size_t len,
		      const char *content_encoding, uint64_t deadline_ns,
		      struct at_transport_response *resp)
{
	int rc = 0;

	if (t->fd >= 0 && !still_ours(t)) {
		t->fd = -1; /* taken by the host: not ours to close */
		at_tls_conn_free(&t->tls);
	}

	at_buf_reset(&t->req);
	if (at_buf_printf(&t->req,
			  "POST %s HTTP/1.1\r\n"
			  "Host: %s\r\n"
			  "User-Agent: libautotrace/" AT_VERSION "\r\n"
			  "Content-Type: %s\r\n"
			  "Content-Length: %zu\r\n"
			  "%s%s%s"
			  "%s\r\n",
			  t->ep->path, t->ep->hostport,
			  t->content_type ? t->content_type :
					    "application/x-protobuf", len,
			  content_encoding ? "Content-Encoding: " : "",
			  content_encoding ? content_encoding : "",
			  content_encoding ? "\r\n" : "",
			  t->extra_headers) != 0)
		return -ENOMEM;

	for (int round = 0; round < 2; round++) {
		int reused = t->fd >= 0, got_any = 0, must_close = 0;
		struct iovec iov[2] = {
			{ t->req.data, t->req.len },
			{ (void *)(uintptr_t)body, len },
		};

		progress(t);
		if (!reused) {
			rc = t->ep->tls ? tls_ready(t) : 0;
			if (rc)
				return rc; /* nothing to connect for */
			rc = open_connection(t, deadline_ns);
			if (rc == 0 && t->ep->tls)
				rc = tls_start(t, deadline_ns);
			if (rc) {
				at_transport_close(t);
				return rc;
			}
		}
		rc = send_all(t, iov, len ? 2 : 1, deadline_ns);
		if (rc == 0)
			rc = read_response(t, deadline_ns, resp, &got_any,
					   &must_close);
		if (rc == 0) {
			if (must_close)
				at_transport_close(t);
			return 0;
		}
		at_transport_close(t);
		if (!reused || got_any || rc == -ETIMEDOUT)
			return rc;
	}
	return rc;
}
