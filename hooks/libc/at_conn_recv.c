/*
 * at_conn_recv.c - the bytes a program receives on a traced TCP
 * connection: a client's responses (status, framing, the end of the
 * request span; a read error or the close ends it too) and a server's
 * requests (the server span, continuing the request's traceparent, with
 * its url/server/client attributes).  The connection's state is
 * at_conn.c's.
 *
 * DESIGN
 *
 * The received bytes are already the program's: they are only looked at,
 * never changed (at_conn_observe: heads are parsed from a copy in a pooled
 * buffer once complete, bodies counted with the framing at_http computed).
 * A response's framing depends on the request it answers (HEAD, CONNECT),
 * which the oldest flight remembers; interim 1xx responses are skipped;
 * a 101 turns both flows to PASS.  A response delimited by the close is
 * complete at EOF.  A server's request head is checked like a client's
 * (well-formed, the socket's identity) before its span starts; a request
 * starts its own unit of work on the thread: a remote parent or a new
 * trace, never the thread's previous request.
 *
 * Order.  What runs between a read and its return is what the program
 * waits for.  A client's response: the status and a read error wait in
 * the flight, set as the span ends (at_conn_send.c has why).  A server's
 * request: its span starts at once (the program's work is its child),
 * but its attributes are set from a copy of the head when the response's
 * head has gone out (server_in_head), while the client reads it.
 */
#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "at_conn.h"
#include "at_conn_internal.h"
#include "at_http.h"
#include "at_config.h"
#include "at_guard.h"
#include "at_traceparent.h"

/* ---- incoming ---- */

static size_t client_in_head(struct at_conn *c, const char *head,
			     size_t len, bool exact)
{
	struct at_http_response resp;
	struct flight *f = fl_oldest(c);

	if (at_http_parse_response(head, len, &resp) != 0) {
		if (!exact)
			return 0;
		c->in.phase = PH_PASS;
		return len;
	}
	if (resp.status < 200 && resp.status != 101)
		return resp.head_len;
	if (f && f->span)
		f->status = (uint16_t)resp.status; /* set as the span ends */
	if (resp.status == 101) {
		c->in.phase = c->out.phase = PH_PASS;
		conn_fl_finish(c);
		return resp.head_len;
	}
	at_http_body_response(&c->in.body, &resp, f ? f->method : "GET",
			      f ? f->method_len : 3);
	if (c->in.body.mode == AT_BODY_NONE)
		conn_fl_finish(c);
	else
		c->in.phase = PH_BODY;
	return resp.head_len;
}

/* The attributes a server request's head gives (r's method, target,
 * host, user agent and version are used). */
static void server_attrs(struct at_conn *c, struct at_span *s,
			 const struct at_http_request *r, const char *known)
{
	struct at_http_str path, query;
	char q[1024];

	conn_set_method(s, r, known);
	at_span_set_cstr(s, "url.scheme", conn_scheme(c));
	at_http_split_target(r->target.p, r->target.len, &path, &query);
	if (path.p && memchr(path.p, ';', path.len)) {
		/* Matrix parameters (;jsessionid=...): redacted. */
		size_t n = at_http_redact_path(q, sizeof(q), path.p, path.len,
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
	if (r->user_agent.p) {
		conn_set_server_addrs(s, c, r, -1);
		at_span_set_str(s, "user_agent.original", r->user_agent.p,
				r->user_agent.len);
		conn_set_protocol(s, r->version_minor);
	} else {
		conn_set_server_addrs(s, c, r, r->version_minor);
	}
}

/* Keep what server_attrs needs of r (head[0..r->head_len)) in f, for
 * later (conn_server_describe): false if the head is longer than
 * HEAD_COPY_MAX or no copy is free. */
static bool server_keep_head(struct flight *f, const char *head,
			     const struct at_http_request *r,
			     const char *known)
{
	if (r->head_len > HEAD_COPY_MAX || !(f->head = conn_head_copy_get()))
		return false;
	memcpy(f->head, head, r->head_len);
	f->known = known;
	f->m_off = (uint16_t)(r->method.p - head);
	f->m_len = (uint16_t)r->method.len;
	f->t_off = (uint16_t)(r->target.p - head);
	f->t_len = (uint16_t)r->target.len;
	f->has_host = r->host.p != NULL;
	f->h_off = f->has_host ? (uint16_t)(r->host.p - head) : 0;
	f->h_len = (uint16_t)r->host.len;
	f->has_ua = r->user_agent.p != NULL;
	f->ua_off = f->has_ua ? (uint16_t)(r->user_agent.p - head) : 0;
	f->ua_len = (uint16_t)r->user_agent.len;
	f->minor = (uint8_t)r->version_minor;
	return true;
}

void conn_server_describe(struct at_conn *c, struct flight *f)
{
	struct at_http_request r;
	const char *h = f->head;

	if (!h)
		return;
	r.method = (struct at_http_str){ h + f->m_off, f->m_len };
	r.target = (struct at_http_str){ h + f->t_off, f->t_len };
	r.host = (struct at_http_str){ f->has_host ? h + f->h_off : NULL,
				       f->h_len };
	r.user_agent = (struct at_http_str){ f->has_ua ? h + f->ua_off : NULL,
					     f->ua_len };
	r.version_minor = f->minor;
	if (f->span)
		server_attrs(c, f->span, &r, f->known);
	conn_head_copy_put(f->head);
	f->head = NULL;
}

/*
 * A server's request head: its span starts now (the request's context:
 * what the program does for it becomes its children), but its attributes
 * wait for the response (conn_server_describe, on the thread that sends
 * it, right after the real send of its head, or at the flight's end),
 * from a copy of the head: the program gets the request sooner, and the
 * attributes are set while the client reads the response.  A head over
 * HEAD_COPY_MAX bytes, or no free copy: they are set now.  (The reading and the
 * sending thread may differ: the span's attributes and the connection's
 * Host memo are then written by the sending one; in that fallback, by
 * the reading one, as they always were.)
 */
static size_t server_in_head(struct at_conn *c, const char *head,
			     size_t len, bool exact)
{
	struct at_http_request r;
	struct at_span_context parent;
	char ts[AT_TRACESTATE_MAX + 1];
	struct at_span *s;
	struct flight *f;
	const char *known;
	int ts_n = 0, has_parent = 0;

	if (at_http_parse_request(head, len, &r) != 0) {
		if (!exact)
			return 0;
		c->in.phase = c->out.phase = PH_PASS;
		return len;
	}
	if (!conn_identity_ok(c)) {
		c->in.phase = c->out.phase = PH_PASS;
		return r.head_len;
	}
	at_http_body_request(&c->in.body, &r);
	if (c->in.body.mode != AT_BODY_NONE)
		c->in.phase = PH_BODY;
	f = fl_push(c);
	s = f ? conn_span_new() : NULL;
	if (!s)
		return r.head_len;
	/* The caller's context, in the configured formats. */
	has_parent = at_http_request_context(&r, at_cfg.prop_order,
					     at_cfg.n_prop, &parent, ts,
					     sizeof(ts), &ts_n);
	/* A request starts its own unit of work on this thread: a remote
	 * parent, or a new trace - never the thread's previous request.  The
	 * thread works for it from now on (at_context.h): what it sends
	 * becomes its children, until its response is complete. */
	known = at_http_known_method(r.method.p, r.method.len);
	at_span_start_with_parent(s, conn_span_name(known),
				  conn_span_name_len(known, &r), AT_KIND_SERVER,
				  has_parent ? &parent : NULL, ts,
				  ts_n > 0 ? (size_t)ts_n : 0, false);
	if (!at_span_started(s)) {
		conn_span_free(s);
		return r.head_len;
	}
	/* The request's baggage lasts as long as its span (at_baggage.h);
	 * the first AT_HTTP_BAGGAGE_FIELDS fields of it. */
	if (r.n_baggage && (at_cfg.propagators & AT_PROP_BAGGAGE)) {
		size_t nb = r.n_baggage < AT_HTTP_BAGGAGE_FIELDS
				    ? (size_t)r.n_baggage
				    : AT_HTTP_BAGGAGE_FIELDS;

		at_span_own_baggage(s, at_baggage_store_fields(r.baggage, nb));
	}
	at_context_enter_request(s);
	f->head = NULL;
	if (at_span_recording(s) && !server_keep_head(f, head, &r, known))
		server_attrs(c, s, &r, known);
	f->span = s;
	at_context_ref(&f->req, s);
	f->seq = ++c->req_seq;
	conn_flight_method(f, r.method.p, r.method.len);
	fl_commit(c);
	return r.head_len;
}

void at_conn_received(int fd, const struct iovec *iov, int iovcnt, ssize_t r,
		      int err)
{
	struct at_conn *c = conn_for_io(fd);

	if (c)
		conn_received(c, iov, iovcnt, r, err);
}

void at_conn_carried_received(struct at_conn *c, const struct iovec *iov,
			      int iovcnt, ssize_t r, int err)
{
	conn_received(c, iov, iovcnt, r, err);
}

/* The program received on connection c (a socket's, or carried). */
void conn_received(struct at_conn *c, const struct iovec *iov, int iovcnt,
		   ssize_t r, int err)
{
	struct flight *f;

	connect_done_by_io(c);
	if (c->role == AT_FD_CLIENT && r > 0 && !c->sniffed && !c->wire &&
	    c->out.phase == PH_START && c->out.hlen == 0 && !fl_oldest(c))
		conn_sniff(c, iov, iovcnt, false); /* the peer spoke first */
	if (c->wire) {
		if (r >= 0)
			at_wire_received(c->wire, iov, iovcnt, (size_t)r);
		else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR)
			at_wire_failed(c->wire, err);
		conn_maybe_passive(c);
		return;
	}
	if (c->role == AT_FD_CLIENT && c->out.phase == PH_START &&
	    atomic_load_explicit(&c->connect_span, memory_order_relaxed) &&
	    !fl_oldest(c))
		conn_submit_connect(c); /* the peer spoke first: not HTTP */
	if (r > 0) {
		/* The reply to something sent for a request: the code that
		 * reads it works for that request again. */
		if (c->role == AT_FD_CLIENT && (f = fl_oldest(c)))
			at_context_resume(&f->req);
		if (c->in.phase != PH_PASS && c->role == AT_FD_CLIENT)
			conn_observe(c, &c->in, iov, iovcnt, (size_t)r,
				     at_http_response_start, client_in_head);
		else if (c->in.phase != PH_PASS)
			conn_observe(c, &c->in, iov, iovcnt, (size_t)r,
				     at_http_request_start, server_in_head);
		if (c->in.phase == PH_PASS && c->role == AT_FD_SERVER)
			c->out.phase = PH_PASS;
		conn_maybe_passive(c);
		return;
	}
	if (c->role != AT_FD_CLIENT || !(f = fl_oldest(c)))
		return;
	if (r == 0) {
		/* EOF: a body delimited by the close is complete. */
		if (c->in.phase == PH_BODY &&
		    c->in.body.mode == AT_BODY_UNTIL_CLOSE) {
			c->in.phase = PH_START;
			conn_fl_finish(c);
		}
	} else if (err != EAGAIN && err != EWOULDBLOCK && err != EINTR) {
		if (f->span)
			f->err = err; /* set as the span ends */
		conn_fl_finish(c);
	}
}
