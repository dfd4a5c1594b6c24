/*
 * at_rx_http.c - the receiver's requests (see at_receiver.c): HTTP/1.1
 * heads and body framing over a connection's input, however it arrives;
 * the body budget each request is charged to; the answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "at_ascii.h"
#include "at_http_fields.h"
#include "at_rx_int.h"

/* ---- small helpers ---- */

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
	case 414: return "URI Too Long";
	case 415: return "Unsupported Media Type";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	case 504: return "Gateway Timeout";
	default: return "Status";
	}
}

/* ---- responses ---- */

/*
 * Queue a response.  body may be NULL (empty).  retry_after may be NULL.
 */
static void respond(struct conn *c, int status, const char *type,
		    const char *retry_after, const uint8_t *body, size_t len,
		    bool close)
{
	int rc;

	rc = at_buf_printf(&c->out,
			   "HTTP/1.1 %d %s\r\n"
			   "Content-Type: %s\r\n"
			   "Content-Length: %zu\r\n"
			   "%s%s%s%s%s%s"
			   "\r\n",
			   status, reason(status), type, len,
			   strcmp(type, "application/x-protobuf") ?
			   "Cache-Control: no-store\r\n"
			   "X-Content-Type-Options: nosniff\r\n" : "",
			   retry_after ? "Retry-After: " : "",
			   retry_after ? retry_after : "",
			   retry_after ? "\r\n" : "",
			   status == 405 ? "Allow: POST\r\n" : "",
			   close ? "Connection: close\r\n" : "");
	if (rc == 0 && len)
		rc = at_buf_append(&c->out, body, len);
	if (rc < 0)
		c->dead = true;
	if (close)
		c->close_after = true;
}

void at_rx_respond(struct conn *c, int status, const char *retry_after,
		   const uint8_t *body, size_t len, bool close)
{
	respond(c, status, "application/x-protobuf", retry_after, body, len,
		close);
}

/* An answer of another type (the dashboard's pages and JSON). */
void at_rx_respond_typed(struct conn *c, int status, const char *type,
			 const uint8_t *body, size_t len, bool close)
{
	respond(c, status, type, NULL, body, len, close);
}

/* A GET for the dashboard (route 1): its target, NUL-terminated, to
 * on_get; its answer. */
static void answer_get(struct at_receiver *r, struct conn *c,
		       const char *req)
{
	struct at_buf body = { 0 };
	const char *type = "text/plain; charset=utf-8";
	char target[8192];
	size_t n = c->h.target_len;
	int status;

	if (!c->h.host_local) {
		at_rx_respond_typed(c, 403, type,
				    (const uint8_t *)"not a loopback Host\n", 20,
				    c->h.close);
		return;
	}
	if (n >= sizeof(target)) {
		at_rx_respond_typed(c, 414, type, (const uint8_t *)"too long\n",
				    9, c->h.close);
		return;
	}
	memcpy(target, req + c->h.target_off, n);
	target[n] = 0;
	status = r->on_get(target, &body, &type, r->ud);
	at_rx_respond_typed(c, status, type, body.data, body.len, c->h.close);
	at_buf_free(&body);
}

/* An error answer whose body is a google.rpc.Status with a message;
 * retry_after may be NULL. */
static void respond_status(struct conn *c, int status,
			   const char *retry_after, const char *msg,
			   bool close)
{
	uint8_t body[256];
	size_t n = strlen(msg);

	if (n > sizeof(body) - 2)
		n = sizeof(body) - 2;
	body[0] = 0x12; /* Status.message = 2, length-delimited */
	body[1] = (uint8_t)n;
	memcpy(body + 2, msg, n);
	at_rx_respond(c, status, retry_after, body, n + 2, close);
}

void at_rx_respond_error(struct conn *c, int status, const char *msg,
			 bool close)
{
	respond_status(c, status, NULL, msg, close);
}

void at_rx_respond_ok(struct conn *c, int64_t rejected, const char *message,
		      bool close)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
		resp = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
	Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess
		ps = OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
	uint8_t small[512], *body = small;
	size_t len;

	if (rejected > 0 || (message && *message)) {
		ps.rejected_spans = rejected;
		if (message)
			ps.error_message = (char *)message;
		resp.partial_success = &ps;
	}
	len = protobuf_c_message_get_packed_size(&resp.base);
	if (len > sizeof(small)) {
		body = malloc(len);
		if (!body) {
			c->dead = true;
			return;
		}
	}
	protobuf_c_message_pack(&resp.base, body);
	at_rx_respond(c, 200, NULL, body, len, close);
	if (body != small)
		free(body);
}

/* ---- the body budget ---- */

/* Would the socket loop still hand this connection's input to at_rx_process()? */
bool at_rx_conn_reads(const struct conn *c)
{
	return !c->dead && !c->close_after && !c->blackhole;
}

/*
 * Let c's current request hold need bytes of input, counted from its
 * start: what goes past IN_BASE is charged to the receiver's budget.  0;
 * 413 if the budget could never cover it, 503 if it cannot now.
 */
int at_rx_conn_charge(struct at_receiver *r, struct conn *c, size_t need)
{
	size_t want = need > IN_BASE ? need - IN_BASE : 0;

	if (want <= c->charge)
		return 0;
	if (want > r->budget)
		return 413;
	if (want - c->charge > r->budget - r->held)
		return 503;
	r->held += want - c->charge;
	c->charge = want;
	return 0;
}

void at_rx_conn_uncharge(struct at_receiver *r, struct conn *c)
{
	r->held -= c->charge;
	c->charge = 0;
}

/* c no longer reads: forget its input and give its charge back. */
void at_rx_conn_drop_input(struct at_receiver *r, struct conn *c)
{
	at_rx_conn_uncharge(r, c);
	at_buf_free(&c->in);
	c->in_off = 0;
}

/* Refuse the request arriving on c (rc from conn_charge) and close. */
void at_rx_refuse(struct at_receiver *r, struct conn *c, int rc)
{
	at_rx_count_request(r);
	if (rc == 503)
		respond_status(c, 503, BUSY_RETRY_AFTER,
			       "receiver busy, retry later", true);
	else
		at_rx_respond_error(c, 413, "body too large", true);
}

/* Is the field name or value s lit (ASCII case ignored)? */
static bool is(struct at_http_str s, const char *lit)
{
	return at_http_eq_nocase(s.p, s.len, lit);
}

/* Does Host v name this machine's loopback (with any port)?  The
 * dashboard answers only those, so that a page of another site whose
 * name was made to resolve to 127.0.0.1 (DNS rebinding) cannot read it. */
static bool host_is_local(struct at_http_str v)
{
	static const char *const names[] = { "127.0.0.1", "localhost", "[::1]" };

	at_trim_ows(&v.p, &v.len);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		size_t n = strlen(names[i]), k;

		if (v.len < n || !at_http_eq_nocase(v.p, n, names[i]))
			continue;
		if (v.len == n)
			return true;
		if (v.p[n] != ':' || v.len == n + 1)
			continue;
		for (k = n + 1; k < v.len && v.p[k] >= '0' && v.p[k] <= '9'; k++)
			;
		if (k == v.len)
			return true;
	}
	return false;
}

/* The fields at_http_parse_request() does not keep, into h; -1 if the
 * transfer coding is not exactly one "chunked". */
static int head_fields(const char *p, size_t n, size_t pos, struct head *h)
{
	struct at_http_str name, v, type;
	bool have_ct = false;
	int n_te = 0;

	while (at_http_field_next(p, n, &pos, &name, &v)) {
		if (is(name, "Transfer-Encoding")) {
			if (n_te++ || !is(v, "chunked"))
				return -1;
		} else if (is(name, "Content-Type")) {
			const char *semi = memchr(v.p, ';', v.len);

			type.p = v.p;
			type.len = semi ? (size_t)(semi - v.p) : v.len;
			at_trim_ows(&type.p, &type.len);
			h->protobuf = is(type, "application/x-protobuf");
			have_ct = true;
		} else if (is(name, "Content-Encoding")) {
			if (v.len == 0 || is(v, "identity"))
				h->encoding = 0;
			else if (is(v, "gzip") || is(v, "x-gzip"))
				h->encoding = 1;
			else
				h->encoding = -1;
		} else if (is(name, "Host")) {
			h->host_local = host_is_local(v);
		} else if (is(name, "Expect")) {
			if (is(v, "100-continue"))
				h->expect_continue = true;
		}
	}
	if (!have_ct)
		h->protobuf = false;
	return 0;
}

/*
 * Parse the head at p[0..n) with the library's HTTP/1.x parser (empty
 * lines before the request line are skipped).  0: need more; 1: parsed
 * into *h; or an HTTP error status (framing lost: answer and close).
 */
static int parse_head(const char *p, size_t n, struct head *h, bool gets)
{
	struct at_http_request rq;
	size_t lead = 0, end, pn;
	const char *q;

	memset(h, 0, sizeof(*h));
	while (lead < n && (p[lead] == '\r' || p[lead] == '\n'))
		lead++;
	/* Not even the start of a request: no need to wait for the rest. */
	if (at_http_request_start(p + lead, n - lead) < 0)
		return 400;
	/* The limit counts the empty lines skipped too. */
	end = at_http_head_end(p + lead, n - lead, 0);
	if (end == 0)
		return n > HDR_MAX ? 431 : 0;
	if (lead + end > HDR_MAX)
		return 431;
	if (at_http_parse_request(p + lead, end, &rq) != 0 ||
	    head_fields(p + lead, end, rq.request_line_end, h) < 0)
		return 400;
	h->post = rq.method.len == 4 && memcmp(rq.method.p, "POST", 4) == 0;
	q = memchr(rq.target.p, '?', rq.target.len);
	pn = q ? (size_t)(q - rq.target.p) : rq.target.len;
	if (pn == strlen(TRACES_PATH) &&
	    memcmp(rq.target.p, TRACES_PATH, pn) == 0)
		h->route = h->post ? 0 : 405;
	else if (gets && rq.method.len == 3 &&
		 memcmp(rq.method.p, "GET", 3) == 0)
		h->route = 1;
	else
		h->route = 404;
	h->target_off = lead + (size_t)(rq.target.p - (p + lead));
	h->target_len = rq.target.len;
	h->chunked = rq.chunked;
	h->clen = rq.content_length > 0 ? (size_t)rq.content_length : 0;
	h->close = rq.conn_close ||
		   (rq.version_minor == 0 && !rq.conn_keep_alive);
	h->body_off = lead + end;
	h->done = true;
	return 1;
}

/*
 * Advance the chunked-body scan over req[0..n) (the whole request so far)
 * with the library's chunked decoder.  0: need more; 1: complete
 * (h->chunk_end set); or an HTTP error status (503: the budget cannot
 * hold the chunk now).  Each chunk is charged to the budget as its size
 * line arrives, before its data.
 */
static int scan_chunks(struct at_receiver *r, struct conn *c,
		       const char *req, size_t n)
{
	struct head *h = &c->h;
	struct at_http_str data;
	size_t used;
	int ev, rc;

	if (!h->chunk_scan) {
		h->chunk_scan = h->body_off;
		at_http_chunks_init(&h->chunks, BODY_MAX, CHUNK_LINE_MAX,
				    HDR_MAX);
	}
	if (n - h->body_off > RAW_MAX)
		return 413;
	for (;;) {
		ev = at_http_chunks_next(&h->chunks, req + h->chunk_scan,
					 n - h->chunk_scan, &used, &data);
		h->chunk_scan += used;
		switch (ev) {
		case AT_CHUNKS_MORE:
			return 0;
		case AT_CHUNKS_DONE:
			h->chunk_end = h->chunk_scan;
			return 1;
		case AT_CHUNKS_SIZE:
			rc = at_rx_conn_charge(r, c, h->chunk_scan +
					       (size_t)h->chunks.body.remaining +
					       2);
			if (rc)
				return rc;
			break;
		case AT_CHUNKS_DATA:
			break;
		case AT_CHUNKS_TOO_LARGE:
			return 413;
		case AT_CHUNKS_TRAILER_LARGE:
			return 431;
		default:
			return 400;
		}
	}
}

/* Copy the data of the (validated) chunked body into out, decoding it
 * again. */
static int join_chunks(const char *req, const struct head *h,
		       struct at_buf *out)
{
	struct at_http_chunks ch;
	struct at_http_str data;
	size_t off = h->body_off, used;
	int ev;

	if (at_buf_reserve(out, h->chunks.total ? h->chunks.total : 1) < 0)
		return -1;
	at_http_chunks_init(&ch, BODY_MAX, CHUNK_LINE_MAX, HDR_MAX);
	do {
		ev = at_http_chunks_next(&ch, req + off, h->chunk_end - off,
					 &used, &data);
		off += used;
		if (ev == AT_CHUNKS_DATA) {
			memcpy(out->data + out->len, data.p, data.len);
			out->len += data.len;
		}
	} while (ev == AT_CHUNKS_DATA || ev == AT_CHUNKS_SIZE);
	return 0;
}

/*
 * Handle every complete request in c->in.  Returns when more data is
 * needed, the connection must close, or it is blackholed.
 */
void at_rx_process(struct at_receiver *r, struct conn *c)
{
	while (!c->dead && !c->close_after && !c->blackhole &&
	       !c->hold_until_ms) {
		const char *req = (const char *)c->in.data + c->in_off;
		size_t n = c->in.len - c->in_off, total;
		struct at_buf joined = { 0 };
		const uint8_t *body;
		size_t blen;
		int rc;

		if (n == 0)
			return;
		if (!c->h.done) {
			rc = parse_head(req, n, &c->h, r->on_get != NULL);
			if (rc == 0)
				return;
			if (rc > 1) {
				at_rx_count_request(r);
				at_rx_respond_error(c, rc, "malformed request", true);
				return;
			}
			if (!c->h.chunked && c->h.clen > BODY_MAX) {
				at_rx_count_request(r);
				at_rx_respond_error(c, 413, "body too large", true);
				return;
			}
			/* The whole body is charged before it arrives (and
			 * before 100 Continue invites it). */
			rc = c->h.chunked ? 0 :
				at_rx_conn_charge(r, c, c->h.body_off + c->h.clen);
			if (rc) {
				at_rx_refuse(r, c, rc);
				return;
			}
		}
		if (c->h.chunked) {
			rc = scan_chunks(r, c, req, n);
			if (rc == 503) {
				at_rx_refuse(r, c, rc);
				return;
			}
			if (rc > 1) {
				at_rx_count_request(r);
				at_rx_respond_error(c, rc, rc == 413 ?
						    "body too large" :
						    "bad chunked encoding", true);
				return;
			}
			total = c->h.chunk_end;
		} else {
			rc = n - c->h.body_off >= c->h.clen;
			total = c->h.body_off + c->h.clen;
		}
		if (rc == 0) {
			if (c->h.expect_continue && !c->sent_continue) {
				c->sent_continue = true;
				if (at_buf_printf(&c->out,
					  "HTTP/1.1 100 Continue\r\n\r\n") < 0)
					c->dead = true;
			}
			return;
		}

		/* A complete request: req[0..total). */
		at_rx_count_request(r);
		if (c->h.chunked) {
			if (join_chunks(req, &c->h, &joined) < 0) {
				at_rx_respond_error(c, 500, "out of memory", true);
				return;
			}
			body = joined.data;
			blen = joined.len;
		} else {
			body = (const uint8_t *)req + c->h.body_off;
			blen = c->h.clen;
		}
		if (c->h.route == 1)
			answer_get(r, c, req);
		else if (c->h.route)
			at_rx_respond_error(c, c->h.route, c->h.route == 404 ?
					    "unknown path" : "use POST",
					    c->h.close);
		else if (!c->h.protobuf)
			at_rx_respond_error(c, 415, "use application/x-protobuf",
					    c->h.close);
		else if (c->h.encoding < 0)
			at_rx_respond_error(c, 415, "unsupported content encoding",
					    c->h.close);
		else
			at_rx_handle_traces(r, c, body, blen, c->h.close);
		if (!c->h.route && c->h.protobuf && c->h.encoding >= 0 &&
		    !c->blackhole && atomic_load(&r->delay_ms) > 0)
			c->hold_until_ms = at_rx_now_ms() +
					   (uint64_t)atomic_load(&r->delay_ms);
		at_buf_free(&joined);
		c->in_off += total;
		memset(&c->h, 0, sizeof(c->h));
		c->sent_continue = false;
		at_rx_conn_uncharge(r, c);
		c->req_start_ms = r->now_ms; /* of the next one, if here */
	}
}
