/*
 * at_conn_send.c - the bytes a program sends on a traced TCP connection:
 * a client's request heads, which get the traceparent line, and the spans
 * they start; a server's responses, observed for the status and the end of
 * the request span.  The connection's state is at_conn.c's.
 *
 * DESIGN
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
 * whole head (the copy of the bytes already sent plus this call's, or,
 * when the head is whole in one of this call's iovecs, that iovec, parsed
 * in place without a copy), is the header line added - right before the
 * blank line, ending like the head's lines (CRLF, or a bare LF when all
 * of them end so).  No line for a head
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
 * The head's bytes, the line and what follows in the call go out as one
 * buffer (a copy on the stack, up to 2 KiB: send_flat) with send() or
 * write(), the call the program made, cheaper for the kernel than a
 * sendmsg() of three iovecs; a longer call as iovecs.
 *
 * A lent span (at_conn.h).  While a family above owns HTTP on the thread
 * (libcurl's AT_OWN_HTTP) a head gets nothing and the connection is given
 * up - unless the family lent its span: then the head is handled as a C
 * client's, with the same insertion point and the same conditions, but
 * the lines are the lent span's and no span is made; the responses are
 * not parsed (the incoming flow passes, client_lent says when), the
 * requests' own framing finds the next lent head (a keep-alive loop).  The lend binds to the connection of its
 * first head; a head on another connection while that one is open is not
 * the lender's (a callback's own request: given up, counted in refused).
 * A lent head that cannot take the lines (split so that the blank line's
 * CR went out before, mixed line endings, over AT_HTTP_HEAD_MAX, no
 * buffer) goes out as it is, counted in lost and at_conn_lend_lost; the
 * lender chooses its conditions so that this does not happen.
 *
 * Order (client).  A client that waits for each response waits for
 * whatever the library does between the response's read and the next
 * request's send; what it does right after the send overlaps with the
 * server's work.  So only what the bytes need runs before the real send:
 * the head's parse, the span's start (its ids, which the line carries),
 * the line; the span's attributes (method, url.full, the Host's and the
 * peer's block) and the connect span it adopts come after it
 * (client_describe), whatever the send returned, errno kept.  The
 * flight is in the FIFO before the send, marked FL_DESCRIBING: a reader
 * on another thread may see the response before the sending thread is
 * done; it then keeps the end time and leaves the end to that thread
 * (conn_fl_finish, conn_fl_described), so that only one thread ever
 * writes the span.  A response's status and a read error wait in the
 * flight and are set as the span ends.  (The span's start and line stay
 * before: they are what goes on the wire.)
 *
 * CONNECT.  A CONNECT request opens a tunnel: it gets no line and no span
 * (the connect span is exported as it is).  A flight without a span
 * remembers it, so that its response is framed (a 2xx has no body); after
 * the response both flows start over at a message boundary: a tunnel that
 * carries plain HTTP/1.x is traced like any connection, anything else (TLS)
 * turns the connection to PASS.  Either way its bytes pass unchanged.
 *
 * Server.  A server's responses go out unchanged; their heads are parsed
 * (where they are when whole in one iovec, else from a copy, like a
 * request head) for the status, and the end of the
 * response ends the oldest request span.  A 101 turns both flows to PASS.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "at_bridge_span.h"
#include "at_conn.h"
#include "at_conn_internal.h"
#include "at_http.h"
#include "at_config.h"
#include "at_guard.h"
#include "at_real.h"
#include "at_traceparent.h"

/* ---- small helpers ---- */

/* Build in out[] the iovecs of bytes [from, from + len) of iov: their
 * count, or -1 if more than cap are needed. */
static int iov_slice(struct iovec *out, int cap, const struct iovec *iov,
		     int n, size_t from, size_t len)
{
	int k = 0;

	if (n == 1 && cap > 0) {
		/* One iovec (send, write): what the loop below gives. */
		if (len == 0)
			return 0;
		if (from + len > iov[0].iov_len)
			return -1;
		out[0].iov_base = (char *)iov[0].iov_base + from;
		out[0].iov_len = len;
		return 1;
	}
	return at_iov_slice(out, &k, cap, iov, n, from, len) < len ? -1 : k;
}

/*
 * The header lines to inject for s (at_span_header_lines), leaving out
 * the formats the program's head carries (skip), each ending with CRLF,
 * or a bare LF when lf: into c->inj, or with the request's baggage into
 * a pooled buffer (none free: the lines without it).
 */
static void build_inj(struct at_conn *c, const struct at_span *s,
		      unsigned skip, bool lf)
{
	const char *eol = lf ? "\n" : "\r\n";

	conn_buf_put(c->inj_big);
	c->inj_big = NULL;
	if (AT_UNLIKELY(at_span_passes_baggage(s, skip)) &&
	    (c->inj_big = conn_buf_get())) {
		c->inj_len = (uint16_t)at_span_header_lines(s, skip, eol,
							    c->inj_big,
							    BUF_SIZE);
		return;
	}
	c->inj_len = (uint16_t)at_span_header_lines(s, skip | AT_PROP_BAGGAGE,
						    eol, c->inj,
						    sizeof(c->inj));
}

/* ---- client: outgoing requests ---- */

/* A flight's fields as a new request's (its span set by the caller). */
static void flight_new(struct flight *f, const char *m, size_t len)
{
	conn_flight_method(f, m, len);
	atomic_store_explicit(&f->owner, FL_READY, memory_order_relaxed);
	f->status = 0;
	f->err = 0;
	f->head = NULL;
}

/*
 * Start the client span for request r and push its flight; with
 * `inject`, and if the head carries no traceparent field, build the line
 * to inject (c->inj_len is 0 otherwise).  Only what the bytes on the
 * wire need: the span's ids (and the parent they come from).  Its
 * attributes wait for client_describe, after the head went out.  Returns
 * the flight (FL_DESCRIBING, its span set), or NULL.
 */
static struct flight *client_request(struct at_conn *c,
				     const struct at_http_request *r,
				     const char *known, bool inject)
{
	struct at_span *s = conn_span_new();
	struct flight *f = fl_push(c);
	struct at_span_context parent;
	char ts[AT_TRACESTATE_MAX + 1];
	int ts_n = 0;
	const char *name = conn_span_name(known);

	c->inj_len = 0;
	c->inj_sent = 0;
	/* A request head sent on a connection opened, or for which the
	 * program asked EPOLLOUT, while the thread worked for a request that
	 * is still open is that request's: an event loop sends it from the
	 * callback that saw the socket writable, where the thread last read
	 * another request, or none.  The thread works for it again, as at a
	 * reply (at_conn_internal.h). */
	conn_resume_pending(c);
	if (!s || !f) {
		conn_span_free(s);
		return NULL;
	}
	memset(&f->req, 0, sizeof(f->req));
	/* The program's own context (traceparent, or another configured
	 * format): no line of its formats; if one is valid, our span
	 * continues it. */
	if (at_http_request_context(r, at_cfg.prop_order, at_cfg.n_prop,
				    &parent, ts, sizeof(ts), &ts_n)) {
		at_span_start_with_parent(s, name, conn_span_name_len(known, r),
					  AT_KIND_CLIENT,
					  &parent, ts,
					  ts_n > 0 ? (size_t)ts_n : 0, false);
	} else {
		at_span_start_for(s, name, conn_span_name_len(known, r),
				  AT_KIND_CLIENT, &f->req);
	}
	if (!at_span_started(s)) {
		conn_span_free(s);
		return NULL;
	}
	f->span = s;
	flight_new(f, r->method.p, r->method.len);
	/* Committed before the send: a reader thread may see the response
	 * before client_describe is done (conn_fl_finish leaves the end to
	 * it then). */
	atomic_store_explicit(&f->owner, FL_DESCRIBING, memory_order_relaxed);
	fl_commit(c);
	if (inject)
		build_inj(c, s, r->prop_present,
			  r->line_ending == AT_HTTP_EOL_LF);
	return f;
}

/*
 * The rest of a client span, once its head went out (whatever the send
 * returned), while the server works on the request: its attributes and
 * the connect span it adopts.  r's bytes are still the program's (its
 * buffer, or the flow's, released after this).  s is f's span, read
 * before the send (a reader may clear f->span since); then the flight is
 * the readers' (conn_fl_described).  Not inlined: its url buffer stays
 * off the stack of the send path.
 */
__attribute__((noinline)) static void
client_describe(struct at_conn *c, struct flight *f,
			    struct at_span *s, const struct at_http_request *r,
			    const char *known)
{
	char url[2048];

	if (at_span_recording(s)) {
		struct at_http_str host;
		int port = -1;
		size_t url_len;

		conn_set_method(s, r, known);
		const char *scheme = conn_scheme(c), *sni;

		if (r->host.p && r->host.len) {
			/* The connection's Host: worked out once (its url.full
			 * prefix, and the attributes it gives with the peer's:
			 * one block). */
			int hp = conn_host_port(c, r->host.p, r->host.len,
						&host, &port, url, sizeof(url),
						&r->target, &url_len);

			if (!url_len)
				url_len = at_http_url_full(
					url, sizeof(url), scheme, r->host.p,
					r->host.len, r->target.p,
					r->target.len,
					at_cfg.http_redact_query);
			at_span_set_str(s, "url.full", url, url_len);
			if (hp == 0)
				conn_set_server(s, c, r->host.p, r->host.len,
						&host, port, r->version_minor);
			else
				conn_set_peer(s, c, r->version_minor);
		} else {
			/* No Host: the name TLS asked for, else the peer. */
			sni = conn_server_name(c);
			if (!sni || !*sni)
				sni = c->peer_ip;
			url_len = at_http_url_full(url, sizeof(url), scheme,
						   sni, strlen(sni),
						   r->target.p, r->target.len,
						   at_cfg.http_redact_query);
			at_span_set_str(s, "url.full", url, url_len);
			at_span_set_cstr(s, "server.address", sni);
			if (c->peer_port >= 0)
				at_span_set_int(s, "server.port", c->peer_port);
			conn_set_peer(s, c, r->version_minor);
		}
	}
	/* The connection was opened for this request: connect is its child. */
	struct at_span *cs = conn_take_connect(c);
	if (cs) {
		at_span_start_at(s, cs);
		at_span_adopt(cs, s);
		at_span_end(cs);
		conn_span_free(cs);
	}
	conn_fl_described(f, s);
}

/* ---- client: heads under a lent span (at_conn.h) ---- */

AT_TLS struct at_conn_lend at_conn_lend = { .fd = -1 };
_Atomic uint64_t at_conn_lend_lost;

/* Is a head on c one of the lending transfer's?  Not on a carried
 * connection (the family above traces TLS itself), nor on another
 * connection while the one the lend is bound to is still open. */
static bool lend_applies(const struct at_conn *c)
{
	struct at_conn_lend *l = &at_conn_lend;
	struct at_fd *e;

	if (!l->span || c->tr)
		return false;
	if (!l->conn || l->conn == c)
		return true;
	e = at_fd_peek(l->fd);
	if (e && atomic_load(&e->conn) == l->conn) {
		l->refused++;
		return false;
	}
	return true; /* that one closed: the transfer's fresh connection */
}

/* A lent head goes out without the lines. */
static void lend_lost(void)
{
	at_conn_lend.lost++;
	atomic_fetch_add_explicit(&at_conn_lend_lost, 1, memory_order_relaxed);
}

/* A request head under the lent span: its lines (with `inject`), no span
 * of ours.  Its response is not looked at: with no flight of ours open
 * and the responses at a message boundary, the connection's incoming
 * flow turns to PASS (the requests' framing is their own, so the next
 * lent head is still found; issue 19: parsing each response cost as much
 * as the request).  Otherwise a flight without a span frames the
 * response, so that the connection stays at a message boundary.  The
 * connect span goes out as it is (a child of the lender's span, which was
 * active when the thread connected). */
static void client_lent(struct at_conn *c, const struct at_http_request *r,
			bool inject)
{
	struct flight *f = NULL;

	if (c->in.phase == PH_START && c->in.hlen == 0 && !fl_oldest(c)) {
		c->in.phase = PH_PASS;
		conn_flow_release(&c->in);
	} else if (c->in.phase != PH_PASS) {
		f = fl_push(c);
	}
	c->inj_len = 0;
	c->inj_sent = 0;
	c->conn_req.span = NULL;
	conn_submit_connect(c);
	if (f) {
		f->span = NULL;
		memset(&f->req, 0, sizeof(f->req));
		flight_new(f, r->method.p, r->method.len);
		fl_commit(c);
	}
	at_conn_lend.conn = c;
	at_conn_lend.fd = c->fd;
	at_conn_lend.heads++;
	if (inject)
		build_inj(c, at_conn_lend.span, r->prop_present,
			  r->line_ending == AT_HTTP_EOL_LF);
	else
		lend_lost();
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
	memset(&c->conn_req, 0, sizeof(c->conn_req));
	conn_submit_connect(c);
	if (!f)
		return;
	f->span = NULL;
	memset(&f->req, 0, sizeof(f->req));
	flight_new(f, "CONNECT", 7);
	fl_commit(c);
}

/* Give up on the out flow: its bytes pass as they are.  A client whose
 * requests are not HTTP gets no HTTP responses either. */
static void out_give_up(struct at_conn *c)
{
	c->out.phase = PH_PASS;
	c->in.phase = PH_PASS;
	conn_flow_release(&c->out);
	conn_submit_connect(c);
}

/* How many of the n bytes at `skip` in iov belong to the current body
 * (framing b, not modified). */
static size_t body_span(const struct at_http_body *b, const struct iovec *iov,
			int n, size_t skip, size_t len, int *done)
{
	struct at_http_body copy = *b;

	return conn_body_consume(&copy, iov, n, skip, len, done);
}

/* The head bytes, the line and what follows, sent from one buffer when
 * they fit in FLAT_MAX bytes (nearly every request head with its line):
 * one send()/write() instead of a sendmsg()/writev() of three iovecs,
 * which costs the kernel more than the copy costs us (conn_sendv).  Same
 * bytes, same count returned. */
#define FLAT_MAX 2048
static ssize_t send_flat(struct at_conn *c, const struct iovec *v, int nv,
			 int flags)
{
	char flat[FLAT_MAX];
	struct iovec one;
	size_t total = at_iov_total(v, nv);

	if (c->tr || total > sizeof(flat))
		return conn_sendv(c, v, nv, flags);
	one.iov_base = flat;
	one.iov_len = at_iov_copy(flat, v, nv, 0, total);
	return conn_sendv(c, &one, 1, flags);
}

/* send_flat() of one buffer's bytes [0, lim) with the pending pend bytes
 * of the line inserted at `at` (at <= lim, lim + pend <= FLAT_MAX). */
static ssize_t send_line_flat(struct at_conn *c, const char *b, size_t at,
			      size_t lim, uint32_t pend, int flags)
{
	char flat[FLAT_MAX];
	struct iovec one = { flat, lim + pend };

	memcpy(flat, b, at);
	memcpy(flat + at, conn_inj(c) + c->inj_sent, pend);
	memcpy(flat + at + pend, b + at, lim - at);
	return conn_sendv(c, &one, 1, flags);
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
		if (iovcnt == 1 && c->inj_at != NO_INJ && pend &&
		    lim + pend <= FLAT_MAX && !c->tr) {
			/* The usual request (one buffer, its line pending):
			 * flattened here, without the iovecs. */
			w = send_line_flat(c, iov[0].iov_base, at, lim, pend,
					   flags);
			goto sent;
		}
		nv = 0;
		k = iov_slice(v, 32, iov, iovcnt, 0, at);
		if (k < 0)
			goto untraced;
		nv = k;
		if (c->inj_at != NO_INJ && pend) {
			v[nv].iov_base = (char *)conn_inj(c) + c->inj_sent;
			v[nv].iov_len = pend;
			nv++;
		}
		k = iov_slice(v + nv, 32, iov, iovcnt, at, lim - at);
		if (k < 0)
			goto untraced;
		nv += k;
		w = nv > 1 ? send_flat(c, v, nv, flags)
			   : conn_sendv(c, v, nv, flags);
sent:
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
		conn_body_consume(&c->out.body, iov, iovcnt, app_sent - body,
				  body, &done);
		if (done)
			c->out.phase = PH_START;
	}
	return (ssize_t)app_sent;
untraced:
	/* More iovecs than we can rebuild: no line for this head. */
	c->inj_at = NO_INJ;
	c->inj_sent = c->inj_len;
	w = conn_sendv(c, iov, iovcnt, flags);
	if (w > 0)
		c->out.phase = PH_PASS;
	return w;
}

static ssize_t client_send(struct at_conn *c, const struct iovec *iov,
			   int iovcnt, size_t total, int flags)
{
	struct at_http_request r;
	struct flight *f = NULL;
	struct at_span *s = NULL;
	const char *head, *known = NULL;
	char *buf;
	size_t copy, end, at, avail;
	bool parsed, lent, skip, inject;
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
		w = n < 0 ? conn_sendv(c, iov, iovcnt, flags)
			  : conn_sendv(c, sv, n, flags);
		if (w > 0) {
			conn_body_consume(&c->out.body, iov, iovcnt, 0,
					  (size_t)w, &done);
			if (done)
				c->out.phase = PH_START;
		}
		return w;
	}
	case PH_START:
	case PH_HEAD:
		break;
	default:
		return conn_sendv(c, iov, iovcnt, flags);
	}

	/* Requests of a library traced at its own level (libcurl) are
	 * theirs: no second span, no second header - unless it lent us its
	 * span for them (skip false, lent true). */
	lent = at_owned(AT_OWN_HTTP) && lend_applies(c);
	skip = at_owned(AT_OWN_HTTP) && !lent;
	h = c->out.hlen;
	avail = h == 0 && !skip
			? conn_head_at(iov, iovcnt, 0, total,
				       at_http_request_start, &head)
			: 0;
	/* The whole head in one iovec: parsed where it is, in one pass
	 * (the parser finds its end); else its end is looked for. */
	parsed = avail && at_http_parse_request(head, avail, &r) == 0;
	end = parsed	? r.head_len
	      : avail ? at_http_head_end(head, avail, 0)
		      : 0;
	if (end) {
		v = 1;
		copy = end;
	} else {
		buf = conn_flow_buf(&c->out);
		if (!buf) {
			if (lent)
				lend_lost();
			out_give_up(c);
			return conn_sendv(c, iov, iovcnt, flags);
		}
		head = buf;
		copy = at_iov_copy(buf + h, iov, iovcnt, 0,
				   AT_HTTP_HEAD_MAX - h);
		v = skip ? -1 : at_http_request_start(buf, h + copy);
		end = v < 0 ? 0
			    : at_http_head_end(buf, h + copy,
					       h > 3 ? h - 3 : 0);
	}
	if (v < 0 || (!end && (copy < total || h + copy >= AT_HTTP_HEAD_MAX)) ||
	    (end && ((!parsed && at_http_parse_request(head, end, &r) != 0) ||
		     !conn_identity_ok(c)))) {
		if (lent)
			lend_lost();
		out_give_up(c);
		return conn_sendv(c, iov, iovcnt, flags);
	}
	if (!end) {
		/* A piece of a head: out now, as it is.  The copy of what
		 * went out stays, to parse the head once it is complete. */
		w = conn_sendv(c, iov, iovcnt, flags);
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
		at = end - (end >= 2 && head[end - 2] == '\r' ? 2 : 1);
		inject = at >= h && r.line_ending != AT_HTTP_EOL_MIXED;
		if (lent) {
			client_lent(c, &r, inject);
		} else {
			known = at_http_known_method(r.method.p, r.method.len);
			if ((f = client_request(c, &r, known, inject)))
				s = f->span;
		}
		if (c->inj_len)
			c->inj_at = (uint32_t)(at - h);
	}
	at_http_body_request(&c->out.body, &r);
	c->out.phase = PH_HEAD_SEND;
	w = send_head_part(c, iov, iovcnt, total, flags);
	if (f) {
		/* The head is out: the span's attributes now, while the
		 * server works on the request (errno is the send's). */
		int err = errno;

		client_describe(c, f, s, &r, known);
		errno = err;
	}
	/* The flow's copy of a split head, which r points into. */
	conn_flow_release(&c->out);
	return w;
}

/* ---- server: outgoing responses (observed, never changed) ---- */

static void server_response_head(struct at_conn *c,
				 const struct at_http_response *resp)
{
	struct flight *f = fl_oldest(c);

	if (resp->status < 200 && resp->status != 101)
		return; /* interim: the final response follows */
	if (f && f->span) {
		/* The response's head is out: the request's attributes. */
		conn_server_describe(c, f);
		conn_set_status(f->span, resp->status, 1);
	}
	if (resp->status == 101) {
		c->out.phase = c->in.phase = PH_PASS;
		conn_fl_finish(c);
		return;
	}
	at_http_body_response(&c->out.body, resp, f ? f->method : "GET",
			      f ? f->method_len : 3);
}

static size_t server_out_head(struct at_conn *c, const char *head,
			      size_t len, bool exact)
{
	struct at_http_response resp;

	if (at_http_parse_response(head, len, &resp) != 0) {
		if (!exact)
			return 0;
		c->out.phase = PH_PASS;
		return len;
	}
	server_response_head(c, &resp);
	if (c->out.phase == PH_PASS)
		return resp.head_len;
	if (resp.status < 200)
		return resp.head_len;
	if (c->out.body.mode == AT_BODY_NONE)
		conn_fl_finish(c);
	else
		c->out.phase = PH_BODY;
	return resp.head_len;
}

/* A runtime bridge registers its slot (at_context.h): the buffer is
 * the calling thread's slot from now on; nothing is written.  Or it asks
 * for a span (at_bridge_span.h), answered in its buffer. */
static ssize_t bridge_register(int fd, const struct iovec *iov, int iovcnt,
			       size_t total, int flags)
{
	ssize_t n;

	if (iovcnt < 1 || iov[0].iov_len != AT_BRIDGE_SLOT_BYTES ||
	    total != AT_BRIDGE_SLOT_BYTES ||
	    ((uintptr_t)iov[0].iov_base & 3) != 0 ||
	    memcmp(iov[0].iov_base, AT_BRIDGE_MAGIC, 8) != 0) {
		if (flags == AT_SEND_WRITE &&
		    (n = at_bridge_span_message(iov, iovcnt, total)) >= 0)
			return n;
		return at_real_sendv(fd, iov, iovcnt, flags);
	}
	at_context_bridge_register(iov[0].iov_base);
	return AT_BRIDGE_SLOT_BYTES;
}

ssize_t at_conn_send(int fd, const struct iovec *iov, int iovcnt, int flags)
{
	struct at_conn *c = conn_for_io(fd);

	if (AT_UNLIKELY(!c && fd == at_context_bridge_fd && fd >= 0))
		return bridge_register(fd, iov, iovcnt,
				       at_iov_total(iov, iovcnt), flags);
	if (!c)
		return at_real_sendv(fd, iov, iovcnt, flags);
	return conn_send(c, iov, iovcnt, flags);
}

ssize_t at_conn_carried_send(struct at_conn *c, const struct iovec *iov,
			     int iovcnt)
{
	return conn_send(c, iov, iovcnt, 0);
}

/* The program sends iov on connection c (a socket's, or carried). */
ssize_t conn_send(struct at_conn *c, const struct iovec *iov, int iovcnt,
		  int flags)
{
	size_t total = at_iov_total(iov, iovcnt);
	ssize_t w;

	if (total == 0)
		return conn_sendv(c, iov, iovcnt, flags);
	connect_done_by_io(c);
	if (c->role == AT_FD_CLIENT && !c->sniffed && !c->wire &&
	    c->out.phase == PH_START && c->out.hlen == 0)
		conn_sniff(c, iov, iovcnt, true);
	if (c->wire) {
		/* A command written from the callback that saw the socket
		 * writable is the request's that asked to write. */
		conn_resume_pending(c);
		w = at_wire_send(c->wire, c->fd, iov, iovcnt, flags);
	} else if (c->role == AT_FD_CLIENT) {
		w = client_send(c, iov, iovcnt, total, flags);
	} else {
		/* Server: the bytes go out unchanged; watch the responses. */
		w = conn_sendv(c, iov, iovcnt, flags);
		if (w > 0 && c->out.phase != PH_PASS) {
			int err = errno;

			conn_observe(c, &c->out, iov, iovcnt, (size_t)w,
				     at_http_response_start, server_out_head);
			errno = err;
		}
	}
	if (c->out.phase == PH_PASS) {
		int err = errno;
		conn_maybe_passive(c);
		errno = err;
	}
	return w;
}
