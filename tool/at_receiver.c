/*
 * at_receiver.c - an embedded OTLP/HTTP trace receiver (see at_receiver.h).
 *
 * What: one background thread runs a poll() loop over a listening socket,
 * a wake-up pipe and every client connection (non-blocking sockets).  It
 * parses HTTP/1.1 requests (Content-Length or chunked bodies, keep-alive,
 * pipelining, "Expect: 100-continue", "Connection: close", HTTP/1.0),
 * gunzips "Content-Encoding: gzip" bodies with zlib, decodes the body as
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
 * This file is not part of libautotrace.so (tools and tests only), so it
 * uses malloc and stdio freely.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "at_ascii.h"
#include "at_buf.h"
#include "at_compat.h"
#include "at_receiver.h"

#define HDR_MAX (64 * 1024)
#define BODY_MAX ((size_t)64 * 1024 * 1024)
#define RAW_MAX (2 * BODY_MAX) /* chunked framing included */
#define READ_CHUNK (64 * 1024)
#define READ_BUDGET (1024 * 1024) /* per connection per poll round */
#define OUT_HIGH (64 * 1024)      /* stop reading above this backlog */
#define LINGER_MS 2000             /* drain a closing connection */
#define IN_BASE (16 * 1024)        /* input held without the budget */
/* Defaults of the limits in at_receiver_opts. */
#define DEF_MAX_CONNS 512
#define DEF_BODY_BUDGET ((size_t)128 * 1024 * 1024)
#define DEF_IDLE_MS 60000
#define DEF_HEAD_MS 10000
#define DEF_MIN_RATE ((size_t)128 * 1024)
#define BUSY_RETRY_AFTER "1"       /* seconds, with a 503 */
#define ACCEPT_PAUSE_MS 100        /* out of descriptors */
#define TRACES_PATH "/v1/traces"
#define CHUNK_LINE_MAX 4096        /* chunk size and extensions */

/* ---- shared state ---- */

struct rx_req {
	at_otlp_request *req;
	const char *encoding; /* "gzip" or "" */
};

struct script {
	struct script *next;
	int count;
	int status;
	char *retry_after;
	int64_t rejected;
	char *message;
};

/* A parsed request head, kept while its body arrives. */
struct head {
	bool done;
	size_t body_off;    /* from the request start */
	bool post;
	int route;          /* 0 trace path, 404, 405 */
	bool chunked;
	size_t clen;
	bool protobuf;      /* Content-Type application/x-protobuf */
	int encoding;       /* 0 identity, 1 gzip, -1 other */
	bool close;         /* close after the response */
	bool expect_continue;
	/* chunked scan state, from the request start */
	size_t chunk_scan;
	size_t chunk_total;
	bool chunk_done;
	size_t chunk_end;
};

struct conn {
	struct conn *next;
	int fd;
	struct at_buf in;
	size_t in_off;      /* start of the current request in in */
	struct at_buf out;
	size_t out_off;
	bool close_after;   /* once out is flushed */
	bool dead;          /* close at the end of this round */
	bool blackhole;     /* never answer, discard input */
	bool sent_continue;
	bool lingering;     /* answered, write side shut: drain until EOF */
	uint64_t linger_until_ms;
	uint64_t hold_until_ms; /* answer held until then (0: not held) */
	uint64_t last_ms;   /* last byte read or written (or accepted) */
	uint64_t req_start_ms; /* first byte of the request now arriving */
	size_t charge;      /* bytes of the body budget held */
	struct head h;
};

struct at_receiver {
	int lfd;
	int wake[2];
	uint16_t port;
	pthread_t thread;
	bool running;

	char *save_dir;
	void (*on_request)(const at_otlp_request *req, void *ud);
	void *ud;
	int sink;
	size_t save_seq;
	_Atomic int delay_ms;   /* at_receiver_delay() */

	/* limits (at_receiver_opts, defaults filled in) */
	size_t max_conns;
	size_t budget;
	uint64_t idle_ms, head_ms;
	size_t min_rate;

	/* thread only (or the caller of an unbound receiver) */
	struct conn *conns;
	size_t n_conns;       /* in the list, closed ones included */
	size_t held;          /* sum of the connections' charge */
	uint64_t now_ms;      /* of this poll round (0: unbound) */
	uint64_t accept_pause_until_ms;

	/* Held by the thread from storing a request until its on_request
	 * callback returned, and by at_receiver_clear(): the callback never
	 * sees its request freed under it. */
	pthread_mutex_t cb_mu;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	/* under mu */
	struct rx_req *reqs;
	size_t n_reqs, cap_reqs;
	struct at_rx_span *spans;
	size_t n_spans, cap_spans;
	size_t n_requests;
	size_t n_sink_spans; /* sink: spans counted in identity bodies */
	struct script *script_head, *script_tail;
};

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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void deadline_after(struct timespec *ts, int timeout_ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += timeout_ms / 1000;
	ts->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- responses ---- */

/*
 * Queue a response.  body may be NULL (empty).  retry_after may be NULL.
 */
static void respond(struct conn *c, int status, const char *retry_after,
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
	respond(c, status, retry_after, body, n + 2, close);
}

static void respond_error(struct conn *c, int status, const char *msg,
			  bool close)
{
	respond_status(c, status, NULL, msg, close);
}

static void respond_ok(struct conn *c, int64_t rejected, const char *message,
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
	respond(c, 200, NULL, body, len, close);
	if (body != small)
		free(body);
}

/* ---- storing ---- */

static int grow(void **arr, size_t *cap, size_t need, size_t elem)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 64;
	while (ncap < need)
		ncap *= 2;
	p = realloc(*arr, ncap * elem);
	if (!p)
		return -1;
	*arr = p;
	*cap = ncap;
	return 0;
}

static size_t count_spans(const at_otlp_request *req)
{
	size_t i, j, n = 0;

	for (i = 0; i < req->n_resource_spans; i++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
			req->resource_spans[i];

		for (j = 0; j < rs->n_scope_spans; j++)
			n += rs->scope_spans[j]->n_spans;
	}
	return n;
}

/* Read a base-128 varint at *p (< end); -1 if it does not end in time. */
static int wire_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	*v = 0;
	for (int shift = 0; *p < end && shift < 64; shift += 7) {
		uint8_t b = *(*p)++;
		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
	}
	return -1;
}

/*
 * Sink mode: the spans of an ExportTraceServiceRequest, counted by walking
 * the wire format without decoding it: resource_spans (field 1) ->
 * scope_spans (field 2) -> spans (field 2), each length-delimited; other
 * fields are skipped by wire type.  depth is 0 for the request.  0 for
 * anything that does not parse.
 */
static size_t wire_count_spans(const uint8_t *p, const uint8_t *end,
			       int depth)
{
	size_t n = 0;
	uint64_t key, len;

	while (p < end) {
		if (wire_varint(&p, end, &key) < 0)
			return 0;
		switch (key & 7) {
		case 0:
			if (wire_varint(&p, end, &len) < 0)
				return 0;
			continue;
		case 1:
			len = 8;
			break;
		case 5:
			len = 4;
			break;
		case 2:
			if (wire_varint(&p, end, &len) < 0)
				return 0;
			break;
		default:
			return 0;
		}
		if (len > (uint64_t)(end - p))
			return 0;
		if ((key & 7) == 2 && key >> 3 == (depth ? 2u : 1u))
			n += depth == 2 ? 1 : wire_count_spans(p, p + len,
							       depth + 1);
		p += len;
	}
	return n;
}

/* Store req (taking ownership).  -1 if memory ran out (req freed). */
static int store(struct at_receiver *r, at_otlp_request *req, bool gzip)
{
	size_t i, j, k, n = count_spans(req);
	struct at_rx_span *s;
	int rc = 0;

	pthread_mutex_lock(&r->mu);
	if (grow((void **)&r->reqs, &r->cap_reqs, r->n_reqs + 1,
		 sizeof(*r->reqs)) < 0 ||
	    grow((void **)&r->spans, &r->cap_spans, r->n_spans + n,
		 sizeof(*r->spans)) < 0) {
		rc = -1;
		goto out;
	}
	r->reqs[r->n_reqs].req = req;
	r->reqs[r->n_reqs].encoding = gzip ? "gzip" : "";
	r->n_reqs++;
	/* Without spans so far r->spans may be NULL (NULL + 0 is undefined). */
	s = n ? r->spans + r->n_spans : NULL;
	for (i = 0; i < req->n_resource_spans; i++) {
		const Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
			req->resource_spans[i];

		for (j = 0; j < rs->n_scope_spans; j++) {
			const Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
				rs->scope_spans[j];

			for (k = 0; k < ss->n_spans; k++, s++) {
				s->span = ss->spans[k];
				s->resource = rs->resource;
				s->scope = ss->scope;
				s->content_encoding = gzip ? "gzip" : "";
			}
		}
	}
	r->n_spans += n;
	pthread_cond_broadcast(&r->cv);
out:
	pthread_mutex_unlock(&r->mu);
	if (rc < 0)
		protobuf_c_message_free_unpacked(&req->base, NULL);
	return rc;
}

static void save_body(struct at_receiver *r, const uint8_t *p, size_t n)
{
	char path[PATH_MAX];
	FILE *f;

	if (!r->save_dir)
		return;
	r->save_seq++;
	if (snprintf(path, sizeof(path), "%s/req-%06zu.pb", r->save_dir,
		     r->save_seq) >= (int)sizeof(path))
		return;
	f = fopen(path, "wbe");
	if (!f)
		return;
	if (n)
		fwrite(p, 1, n, f);
	fclose(f);
}

/* Next scripted answer; false if none is queued. */
static bool script_pop(struct at_receiver *r, int *status, char *retry_after,
		       size_t ra_cap, int64_t *rejected, char **message)
{
	struct script *s;

	pthread_mutex_lock(&r->mu);
	s = r->script_head;
	if (!s) {
		pthread_mutex_unlock(&r->mu);
		return false;
	}
	*status = s->status;
	snprintf(retry_after, ra_cap, "%s",
		 s->retry_after ? s->retry_after : "");
	*rejected = s->rejected;
	*message = s->message ? strdup(s->message) : NULL;
	if (--s->count <= 0) {
		r->script_head = s->next;
		if (!r->script_head)
			r->script_tail = NULL;
		free(s->retry_after);
		free(s->message);
		free(s);
	}
	pthread_mutex_unlock(&r->mu);
	return true;
}

/* ---- gzip ---- */

/* 0, -1 corrupt, -2 too large, -3 out of memory. */
static int gunzip(const uint8_t *in, size_t n, struct at_buf *out)
{
	z_stream zs;
	int rc, ret = 0;

	memset(&zs, 0, sizeof(zs));
	if (inflateInit2(&zs, 16 + MAX_WBITS) != Z_OK)
		return -3;
	zs.next_in = (Bytef *)in;
	zs.avail_in = (uInt)n;
	for (;;) {
		size_t room;

		if (at_buf_reserve(out, n < 16384 ? 65536 : 4 * n) < 0) {
			ret = -3;
			break;
		}
		room = out->cap - out->len;
		if (room > UINT_MAX)
			room = UINT_MAX;
		zs.next_out = out->data + out->len;
		zs.avail_out = (uInt)room;
		rc = inflate(&zs, Z_NO_FLUSH);
		out->len = (size_t)(zs.next_out - out->data);
		if (out->len > BODY_MAX) {
			ret = -2;
			break;
		}
		if (rc == Z_STREAM_END) {
			if (zs.avail_in == 0)
				break;
			/* Another gzip member follows. */
			if (inflateReset(&zs) != Z_OK) {
				ret = -1;
				break;
			}
			continue;
		}
		if (rc == Z_BUF_ERROR && zs.avail_out != 0) {
			ret = -1; /* truncated */
			break;
		}
		if (rc != Z_OK && rc != Z_BUF_ERROR) {
			ret = rc == Z_MEM_ERROR ? -3 : -1;
			break;
		}
		if (zs.avail_in == 0 && zs.avail_out != 0) {
			ret = -1; /* input ended inside the stream */
			break;
		}
	}
	inflateEnd(&zs);
	return ret;
}

/* ---- nesting depth ---- */

/*
 * protobuf-c unpacks nested messages by recursion, without a depth limit,
 * and AnyValue nests without end (AnyValue -> ArrayValue or KeyValueList
 * -> AnyValue ...): a body of 35 kB (5,000 levels) overflowed the
 * receiver thread's 8 MB stack.  So the body is walked first, following only
 * the fields the descriptors say are messages, and refused if it nests
 * deeper than NEST_MAX (the default limit of Google's own parsers).
 * Where the walk finds malformed data it stops and leaves the verdict to
 * protobuf-c, which checks each message's fields before it descends into
 * any of them, so it does not descend past that point either.
 */
#define NEST_MAX 100

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	uint64_t x = 0;

	for (unsigned shift = 0; shift < 64 && *p < end; shift += 7) {
		uint8_t b = *(*p)++;

		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

/* Is the message d at p..end (at nesting level depth) nested too deep? */
static bool too_deep(const ProtobufCMessageDescriptor *d, const uint8_t *p,
		     const uint8_t *end, unsigned depth)
{
	if (depth > NEST_MAX)
		return true;
	while (p < end) {
		const ProtobufCFieldDescriptor *f;
		uint64_t key, len;

		if (!read_varint(&p, end, &key))
			return false;
		switch (key & 7) {
		case 0: /* varint */
			if (!read_varint(&p, end, &len))
				return false;
			break;
		case 1: /* 64-bit */
			if (end - p < 8)
				return false;
			p += 8;
			break;
		case 5: /* 32-bit */
			if (end - p < 4)
				return false;
			p += 4;
			break;
		case 2: /* length-delimited */
			if (!read_varint(&p, end, &len) ||
			    len > (uint64_t)(end - p))
				return false;
			f = key >> 3 > UINT_MAX ? NULL :
				protobuf_c_message_descriptor_get_field(
					d, (unsigned)(key >> 3));
			if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    too_deep(f->descriptor, p, p + len, depth + 1))
				return true;
			p += len;
			break;
		default: /* groups and invalid types: protobuf-c refuses */
			return false;
		}
	}
	return false;
}

/* ---- request handling ---- */

static void handle_traces(struct at_receiver *r, struct conn *c,
			  const uint8_t *body, size_t len, bool close)
{
	struct at_buf plain = { 0 };
	at_otlp_request *req;
	char retry_after[128];
	char *message = NULL;
	int64_t rejected = 0;
	int status = 200, rc;
	bool gzip = c->h.encoding == 1;

	if (r->sink) {
		size_t n = gzip ? 0 : wire_count_spans(body, body + len, 0);

		pthread_mutex_lock(&r->mu);
		r->n_sink_spans += n;
		pthread_mutex_unlock(&r->mu);
		respond_ok(c, 0, NULL, close);
		return;
	}
	if (gzip) {
		rc = gunzip(body, len, &plain);
		if (rc < 0) {
			at_buf_free(&plain);
			if (rc == -2)
				respond_error(c, 413, "body too large", true);
			else if (rc == -3)
				respond_error(c, 500, "out of memory", close);
			else
				respond_error(c, 400, "bad gzip data", close);
			return;
		}
		body = plain.data;
		len = plain.len;
	}
	if (too_deep(&opentelemetry__proto__collector__trace__v1__export_trace_service_request__descriptor,
		     body, body + len, 1)) {
		at_buf_free(&plain);
		respond_error(c, 400, "message nested too deeply", close);
		return;
	}
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, len, body);
	if (!req) {
		at_buf_free(&plain);
		respond_error(c, 400, "not an ExportTraceServiceRequest",
			      close);
		return;
	}

	retry_after[0] = '\0';
	script_pop(r, &status, retry_after, sizeof(retry_after), &rejected,
		   &message);
	if (status != 200) {
		protobuf_c_message_free_unpacked(&req->base, NULL);
		at_buf_free(&plain);
		if (status == -1) {
			c->blackhole = true;
		} else if (status == -2) {
			c->dead = true;
		} else if (status == -3) {
			/* Not HTTP, and nothing more: garbage then silence. */
			if (at_buf_printf(&c->out, "-ERR not a collector\r\n") < 0)
				c->dead = true;
			c->blackhole = true;
		} else if (status == -4) {
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };

			/* Closing with a zero linger sends a reset. */
			setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg,
				   sizeof(lg));
			c->dead = true;
		} else {
			respond(c, status, retry_after[0] ? retry_after : NULL,
				NULL, 0, close);
		}
		free(message);
		return;
	}

	save_body(r, body, len);
	at_buf_free(&plain);
	pthread_mutex_lock(&r->cb_mu);
	if (store(r, req, gzip) < 0) {
		pthread_mutex_unlock(&r->cb_mu);
		respond_error(c, 500, "out of memory", close);
		free(message);
		return;
	}
	if (r->on_request)
		r->on_request(req, r->ud);
	pthread_mutex_unlock(&r->cb_mu);
	respond_ok(c, rejected, message, close);
	free(message);
}

static void count_request(struct at_receiver *r)
{
	pthread_mutex_lock(&r->mu);
	r->n_requests++;
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* ---- the body budget ---- */

/* Would the socket loop still hand this connection's input to process()? */
static bool conn_reads(const struct conn *c)
{
	return !c->dead && !c->close_after && !c->blackhole;
}

/*
 * Let c's current request hold need bytes of input, counted from its
 * start: what goes past IN_BASE is charged to the receiver's budget.  0;
 * 413 if the budget could never cover it, 503 if it cannot now.
 */
static int conn_charge(struct at_receiver *r, struct conn *c, size_t need)
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

static void conn_uncharge(struct at_receiver *r, struct conn *c)
{
	r->held -= c->charge;
	c->charge = 0;
}

/* c no longer reads: forget its input and give its charge back. */
static void conn_drop_input(struct at_receiver *r, struct conn *c)
{
	conn_uncharge(r, c);
	at_buf_free(&c->in);
	c->in_off = 0;
}

/* Refuse the request arriving on c (rc from conn_charge) and close. */
static void refuse(struct at_receiver *r, struct conn *c, int rc)
{
	count_request(r);
	if (rc == 503)
		respond_status(c, 503, BUSY_RETRY_AFTER,
			       "receiver busy, retry later", true);
	else
		respond_error(c, 413, "body too large", true);
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
		v = conn_charge(r, c, (size_t)(nl + 1 - req) + size + 2);
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
static void process(struct at_receiver *r, struct conn *c)
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
				count_request(r);
				respond_error(c, rc, "malformed request", true);
				return;
			}
			if (!c->h.chunked && c->h.clen > BODY_MAX) {
				count_request(r);
				respond_error(c, 413, "body too large", true);
				return;
			}
			/* The whole body is charged before it arrives (and
			 * before 100 Continue invites it). */
			rc = c->h.chunked ? 0 :
				conn_charge(r, c, c->h.body_off + c->h.clen);
			if (rc) {
				refuse(r, c, rc);
				return;
			}
		}
		if (c->h.chunked) {
			rc = scan_chunks(r, c, req, n);
			if (rc == 503) {
				refuse(r, c, rc);
				return;
			}
			if (rc > 1) {
				count_request(r);
				respond_error(c, rc, rc == 413 ?
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
		count_request(r);
		if (c->h.chunked) {
			if (join_chunks(req, &c->h, &joined) < 0) {
				respond_error(c, 500, "out of memory", true);
				return;
			}
			body = joined.data;
			blen = joined.len;
		} else {
			body = (const uint8_t *)req + c->h.body_off;
			blen = c->h.clen;
		}
		if (c->h.route)
			respond_error(c, c->h.route, c->h.route == 404 ?
				      "unknown path" : "use POST",
				      c->h.close);
		else if (!c->h.protobuf)
			respond_error(c, 415, "use application/x-protobuf",
				      c->h.close);
		else if (c->h.encoding < 0)
			respond_error(c, 415, "unsupported content encoding",
				      c->h.close);
		else
			handle_traces(r, c, body, blen, c->h.close);
		if (!c->h.route && c->h.protobuf && c->h.encoding >= 0 &&
		    !c->blackhole && atomic_load(&r->delay_ms) > 0)
			c->hold_until_ms = now_ms() +
					   (uint64_t)atomic_load(&r->delay_ms);
		at_buf_free(&joined);
		c->in_off += total;
		memset(&c->h, 0, sizeof(c->h));
		c->sent_continue = false;
		conn_uncharge(r, c);
		c->req_start_ms = r->now_ms; /* of the next one, if here */
	}
}

/* ---- connections ---- */

static void conn_free(struct at_receiver *r, struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	conn_uncharge(r, c);
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
	c->linger_until_ms = now_ms() + LINGER_MS;
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
	process(r, c);
	if (!conn_reads(c))
		conn_drop_input(r, c);
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
		process(r, c);
		if (c->blackhole)
			c->dead = true;
		c->close_after = true;
		conn_drop_input(r, c);
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
	while (budget && conn_reads(c) && !c->hold_until_ms) {
		ssize_t got;
		int rc;

		conn_compact(c);
		if (c->in.len >= IN_BASE + c->charge) {
			rc = conn_charge(r, c, c->in.len + READ_CHUNK);
			if (rc) {
				refuse(r, c, rc);
				conn_drop_input(r, c);
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
		conn_drop_input(r, c);
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
	if (!conn_reads(c) || c->in.len == c->in_off)
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
	if (c->lingering || !conn_reads(c) || c->in.len == c->in_off ||
	    c->out_off < c->out.len) {
		c->dead = true;
		return;
	}
	count_request(r);
	respond_error(c, 408, "request timeout", true);
	conn_drop_input(r, c);
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
		} else if (!conn_reads(c) || c->in.len == c->in_off) {
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

		if (grow((void **)&pfd, &cap_pfd, r->n_conns + 2,
			 sizeof(*pfd)) < 0 ||
		    grow((void **)&pc, &cap_pc, r->n_conns + 2,
			 sizeof(*pc)) < 0) {
			/* Out of memory: back off and retry. */
			poll(NULL, 0, 10);
			continue;
		}
		r->now_ms = now_ms();
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
		r->now_ms = now_ms();
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

	if (conn_reads(c)) {
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
	return conn_reads(c) ? 0 : -1;
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

static void clear_locked(struct at_receiver *r)
{
	size_t i;

	for (i = 0; i < r->n_reqs; i++)
		protobuf_c_message_free_unpacked(&r->reqs[i].req->base, NULL);
	r->n_reqs = 0;
	r->n_spans = 0;
	r->n_sink_spans = 0;
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
	clear_locked(r);
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

void at_receiver_delay(struct at_receiver *r, int ms)
{
	atomic_store(&r->delay_ms, ms > 0 ? ms : 0);
}

void at_receiver_script(struct at_receiver *r, int count, int status,
			const char *retry_after, int64_t rejected,
			const char *message)
{
	struct script *s;

	if (count <= 0)
		return;
	s = calloc(1, sizeof(*s));
	if (!s)
		return;
	s->count = count;
	s->status = status;
	s->rejected = rejected;
	s->retry_after = retry_after ? strdup(retry_after) : NULL;
	s->message = message ? strdup(message) : NULL;
	pthread_mutex_lock(&r->mu);
	if (r->script_tail)
		r->script_tail->next = s;
	else
		r->script_head = s;
	r->script_tail = s;
	pthread_mutex_unlock(&r->mu);
}

size_t at_receiver_request_count(struct at_receiver *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n_requests;
	pthread_mutex_unlock(&r->mu);
	return n;
}

size_t at_receiver_span_count(struct at_receiver *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->sink ? r->n_sink_spans : r->n_spans;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static int wait_for(struct at_receiver *r, const size_t *counter, size_t n,
		    int timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	deadline_after(&dl, timeout_ms < 0 ? 0 : timeout_ms);
	pthread_mutex_lock(&r->mu);
	while (*counter < n) {
		if (pthread_cond_timedwait(&r->cv, &r->mu, &dl) == ETIMEDOUT &&
		    *counter < n) {
			rc = -1;
			break;
		}
	}
	pthread_mutex_unlock(&r->mu);
	return rc;
}

int at_receiver_wait_spans(struct at_receiver *r, size_t n, int timeout_ms)
{
	return wait_for(r, &r->n_spans, n, timeout_ms);
}

int at_receiver_wait_requests(struct at_receiver *r, size_t n, int timeout_ms)
{
	return wait_for(r, &r->n_requests, n, timeout_ms);
}

size_t at_receiver_spans(struct at_receiver *r, struct at_rx_span *out,
			 size_t cap)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n_spans;
	if (out && cap && n)
		memcpy(out, r->spans, (cap < n ? cap : n) * sizeof(*out));
	pthread_mutex_unlock(&r->mu);
	return n;
}

void at_receiver_foreach_request(struct at_receiver *r,
				 void (*fn)(const at_otlp_request *req,
					    void *ud),
				 void *ud)
{
	pthread_mutex_lock(&r->mu);
	for (size_t i = 0; i < r->n_reqs; i++)
		fn(r->reqs[i].req, ud);
	pthread_mutex_unlock(&r->mu);
}

void at_receiver_clear(struct at_receiver *r)
{
	pthread_mutex_lock(&r->cb_mu);
	pthread_mutex_lock(&r->mu);
	clear_locked(r);
	pthread_mutex_unlock(&r->mu);
	pthread_mutex_unlock(&r->cb_mu);
}

/* ---- helpers over decoded messages ---- */

const at_otlp_kv *at_otlp_find_attr(at_otlp_kv *const *attrs, size_t n,
				    const char *key)
{
	size_t i;

	if (!attrs || !key)
		return NULL;
	for (i = 0; i < n; i++)
		if (attrs[i] && attrs[i]->key &&
		    strcmp(attrs[i]->key, key) == 0)
			return attrs[i];
	return NULL;
}

const char *at_otlp_attr_str(at_otlp_kv *const *attrs, size_t n,
			     const char *key)
{
	const at_otlp_kv *kv = at_otlp_find_attr(attrs, n, key);

	if (!kv || !kv->value || kv->value->value_case !=
	    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE)
		return NULL;
	return kv->value->string_value;
}

int at_otlp_attr_int(at_otlp_kv *const *attrs, size_t n, const char *key,
		     int64_t *out)
{
	const at_otlp_kv *kv = at_otlp_find_attr(attrs, n, key);

	if (!kv || !kv->value || kv->value->value_case !=
	    OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE)
		return -1;
	if (out)
		*out = kv->value->int_value;
	return 0;
}
