/*
 * at_rx_http.c - the receiver's requests (see at_receiver.c): HTTP/1.1
 * heads and body framing over a connection's input, however it arrives;
 * the body budget each request is charged to; the answers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "at_ascii.h"
#include "at_rx_int.h"

/* ---- small helpers ---- */

static bool ieq(const char *p, size_t n, const char *lit)
{
	return strlen(lit) == n && strncasecmp(p, lit, n) == 0;
}

static void trim(const char **p, size_t *n)
{
	while (*n && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

/* An HTTP token (RFC 9110 tchar+): method names, header names. */
static bool is_token(const char *p, size_t n)
{
	size_t i;

	if (n == 0)
		return false;
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch <= ' ' || ch >= 0x7f || strchr("\"(),/:;<=>?@[\\]{}",
							ch))
			return false;
	}
	return true;
}

/* Does the comma-separated list p[0..n) contain token tok? */
static bool has_token(const char *p, size_t n, const char *tok)
{
	while (n) {
		const char *c = memchr(p, ',', n);
		size_t len = c ? (size_t)(c - p) : n;
		const char *t = p;
		size_t tn = len;

		trim(&t, &tn);
		if (ieq(t, tn, tok))
			return true;
		if (!c)
			break;
		p = c + 1;
		n -= len + 1;
	}
	return false;
}

static const char *reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 413: return "Payload Too Large";
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
void at_rx_respond(struct conn *c, int status, const char *retry_after,
		   const uint8_t *body, size_t len, bool close)
{
	int rc;

	rc = at_buf_printf(&c->out,
			   "HTTP/1.1 %d %s\r\n"
			   "Content-Type: application/x-protobuf\r\n"
			   "Content-Length: %zu\r\n"
			   "%s%s%s%s%s"
			   "\r\n",
			   status, reason(status), len,
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

/*
 * Parse the head at p[0..n).  0: need more; 1: parsed into *h; or an HTTP
 * error status (framing lost: answer and close).
 */
static int parse_head(const char *p, size_t n, struct head *h)
{
	const char *line = p, *end = p + n, *nl;
	bool first = true, have_cl = false, have_te = false, http10 = false;
	bool conn_close = false, conn_keep = false;
	bool have_ct = false;

	memset(h, 0, sizeof(*h));
	/* Tolerate empty lines before the request line. */
	while (line < end && (*line == '\r' || *line == '\n'))
		line++;
	for (;;) {
		const char *le, *colon, *name, *val;
		size_t len, nn, vn;

		nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl)
			return n > HDR_MAX ? 431 : 0;
		le = nl;
		if (le > line && le[-1] == '\r')
			le--;
		len = (size_t)(le - line);
		if ((size_t)(nl + 1 - p) > HDR_MAX)
			return 431;
		if (first) {
			const char *sp1, *sp2;

			first = false;
			sp1 = memchr(line, ' ', len);
			if (!sp1 || sp1 == line)
				return 400;
			sp2 = memchr(sp1 + 1, ' ', (size_t)(le - sp1 - 1));
			if (!sp2 || sp2 == sp1 + 1)
				return 400;
			if (ieq(sp2 + 1, (size_t)(le - sp2 - 1), "HTTP/1.0"))
				http10 = true;
			else if (!ieq(sp2 + 1, (size_t)(le - sp2 - 1),
				      "HTTP/1.1"))
				return 400;
			if (!is_token(line, (size_t)(sp1 - line)))
				return 400;
			h->post = (size_t)(sp1 - line) == 4 &&
				  memcmp(line, "POST", 4) == 0;
			nn = (size_t)(sp2 - sp1 - 1);
			val = memchr(sp1 + 1, '?', nn);
			if (val)
				nn = (size_t)(val - sp1 - 1);
			if (nn == strlen(TRACES_PATH) &&
			    memcmp(sp1 + 1, TRACES_PATH, nn) == 0)
				h->route = h->post ? 0 : 405;
			else
				h->route = 404;
			line = nl + 1;
			continue;
		}
		if (len == 0) {
			h->body_off = (size_t)(nl + 1 - p);
			break;
		}
		colon = memchr(line, ':', len);
		if (!colon || colon == line)
			return 400;
		name = line;
		nn = (size_t)(colon - line);
		if (!is_token(name, nn))
			return 400;
		val = colon + 1;
		vn = (size_t)(le - val);
		trim(&val, &vn);
		if (ieq(name, nn, "Content-Length")) {
			size_t v = 0, i;

			if (vn == 0 || vn > 19)
				return 400;
			for (i = 0; i < vn; i++) {
				if (val[i] < '0' || val[i] > '9')
					return 400;
				v = v * 10 + (size_t)(val[i] - '0');
			}
			if (have_cl && v != h->clen)
				return 400;
			have_cl = true;
			h->clen = v;
		} else if (ieq(name, nn, "Transfer-Encoding")) {
			if (have_te || !ieq(val, vn, "chunked"))
				return 400;
			have_te = true;
			h->chunked = true;
		} else if (ieq(name, nn, "Content-Type")) {
			const char *semi = memchr(val, ';', vn);
			size_t tn = semi ? (size_t)(semi - val) : vn;

			trim(&val, &tn);
			h->protobuf = ieq(val, tn, "application/x-protobuf");
			have_ct = true;
		} else if (ieq(name, nn, "Content-Encoding")) {
			if (vn == 0 || ieq(val, vn, "identity"))
				h->encoding = 0;
			else if (ieq(val, vn, "gzip") || ieq(val, vn, "x-gzip"))
				h->encoding = 1;
			else
				h->encoding = -1;
		} else if (ieq(name, nn, "Connection")) {
			if (has_token(val, vn, "close"))
				conn_close = true;
			if (has_token(val, vn, "keep-alive"))
				conn_keep = true;
		} else if (ieq(name, nn, "Expect")) {
			if (ieq(val, vn, "100-continue"))
				h->expect_continue = true;
		}
		line = nl + 1;
	}
	if (have_cl && have_te)
		return 400;
	if (!have_ct)
		h->protobuf = false;
	h->close = conn_close || (http10 && !conn_keep);
	h->done = true;
	return 1;
}

/*
 * Advance the chunked-body scan over req[0..n) (the whole request so far).
 * 0: need more; 1: complete (h->chunk_end set); or an HTTP error status
 * (503: the budget cannot hold the chunk now).  Each chunk is charged to
 * the budget as its size line arrives, before its data.
 */
static int scan_chunks(struct at_receiver *r, struct conn *c,
		       const char *req, size_t n)
{
	struct head *h = &c->h;

	if (!h->chunk_scan)
		h->chunk_scan = h->body_off;
	if (n - h->body_off > RAW_MAX)
		return 413;
	for (;;) {
		const char *p = req + h->chunk_scan;
		size_t avail = n - h->chunk_scan, i, size = 0, digits = 0;
		const char *nl = memchr(p, '\n', avail);
		int v;

		/* A chunk-size line (with its extensions) is at most
		 * CHUNK_LINE_MAX bytes, however the bytes arrive. */
		if (!nl)
			return avail > CHUNK_LINE_MAX ? 400 : 0;
		if ((size_t)(nl - p) > CHUNK_LINE_MAX)
			return 400;
		for (i = 0; p + i < nl; i++) {
			v = at_hex_value(p[i]);
			if (v < 0)
				break;
			if (++digits > 15)
				return 400;
			size = size * 16 + (size_t)v;
		}
		if (digits == 0)
			return 400;
		/* Only chunk extensions (";...") or whitespace may follow. */
		if (p + i < nl && p[i] != ';' && p[i] != '\r' && p[i] != ' ' &&
		    p[i] != '\t')
			return 400;
		if (size == 0) {
			/* Trailer section: lines up to an empty one. */
			const char *t = nl + 1, *tend = req + n;

			for (;;) {
				const char *tl = memchr(t, '\n',
							(size_t)(tend - t));

				/* The trailer section, like a head, is at
				 * most HDR_MAX bytes however it arrives. */
				if (!tl)
					return (size_t)(tend - nl) > HDR_MAX ?
						       431 : 0;
				if ((size_t)(tl - nl) > HDR_MAX)
					return 431;
				if (tl == t || (tl == t + 1 && *t == '\r')) {
					h->chunk_end = (size_t)(tl + 1 - req);
					h->chunk_done = true;
					return 1;
				}
				t = tl + 1;
			}
		}
		if (size > BODY_MAX - h->chunk_total)
			return 413;
		v = at_rx_conn_charge(r, c, (size_t)(nl + 1 - req) + size + 2);
		if (v)
			return v;
		avail = n - (size_t)(nl + 1 - req);
		if (avail < size + 1)
			return 0;
		p = nl + 1 + size;
		if (*p == '\n') {
			h->chunk_scan = (size_t)(p + 1 - req);
		} else if (*p == '\r') {
			if (avail < size + 2)
				return 0;
			if (p[1] != '\n')
				return 400;
			h->chunk_scan = (size_t)(p + 2 - req);
		} else {
			return 400;
		}
		h->chunk_total += size;
	}
}

/* Copy the data of the (validated) chunked body into out. */
static int join_chunks(const char *req, const struct head *h,
		       struct at_buf *out)
{
	size_t off = h->body_off;

	if (at_buf_reserve(out, h->chunk_total ? h->chunk_total : 1) < 0)
		return -1;
	for (;;) {
		const char *p = req + off;
		const char *nl = memchr(p, '\n', h->chunk_end - off);
		size_t size = 0;
		int v;

		while ((v = at_hex_value(*p)) >= 0) {
			size = size * 16 + (size_t)v;
			p++;
		}
		if (size == 0 || !nl)
			return 0;
		memcpy(out->data + out->len, nl + 1, size);
		out->len += size;
		p = nl + 1 + size;
		off = (size_t)(p - req) + (*p == '\r' ? 2 : 1);
	}
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
			rc = parse_head(req, n, &c->h);
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
		if (c->h.route)
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
