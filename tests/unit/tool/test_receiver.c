/*
 * test_receiver.c - the embedded OTLP/HTTP receiver (at_receiver.c) over
 * real loopback sockets, and the autotrace-receiver tool when it is built.
 *
 * Payloads are encoded with at_otlp_encode() from hand-built span records;
 * requests are written byte for byte (Content-Length, chunked, gzip,
 * pipelined, garbage) and responses parsed by a small HTTP reader.  The
 * test in suite "concurrency" runs many keep-alive clients at once (it is
 * also run under ThreadSanitizer by make check).
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "at_buf.h"
#include "at_compat.h"
#include "at_otlp.h"
#include "at_receiver.h"
#include "../../fuzz/otlp_nest.h"

#define START_NS 1700000000000000000ULL

/* ---- payloads ---- */

static struct at_resource rx_res;

/* n root spans named span-<first+i> with attribute idx = first + i. */
static void make_payload(struct at_buf *out, unsigned first, size_t n)
{
	static struct at_span s;
	struct at_span_hdr **recs = calloc(n ? n : 1, sizeof(*recs));
	char name[32];
	size_t i;
	int k;

	cr_assert_not_null(recs);
	rx_res.attrs[0] = (struct at_kv){ "service.name", AT_KV_STRING,
					  "rx-test", 0 };
	rx_res.attrs[1] = (struct at_kv){ "process.pid", AT_KV_INT, NULL, 77 };
	rx_res.n = 2;
	for (i = 0; i < n; i++) {
		unsigned id = first + (unsigned)i;

		memset(&s, 0, sizeof(s));
		for (k = 0; k < 16; k++)
			s.h.ctx.trace_id[k] = (uint8_t)(id >> (k % 4 * 8));
		s.h.ctx.trace_id[15] = 1;
		for (k = 0; k < 8; k++)
			s.h.ctx.span_id[k] = (uint8_t)(id >> (k % 4 * 8));
		s.h.ctx.span_id[7] = 1;
		s.h.ctx.flags = 1;
		snprintf(name, sizeof(name), "span-%u", id);
		memcpy(s.arena, name, strlen(name));
		s.h.name.len = (uint16_t)strlen(name);
		s.h.arena_used = s.h.name.len;
		s.h.kind = AT_KIND_SERVER;
		s.h.status_code = AT_STATUS_OK;
		s.h.start_unix_ns = START_NS;
		s.h.end_unix_ns = START_NS + 1500000;
		s.attrs[0].key = "idx";
		s.attrs[0].type = AT_ATTR_INT;
		s.attrs[0].v.i = id;
		s.h.n_attrs = 1;
		recs[i] = aligned_alloc(8, at_span_record_size(&s));
		cr_assert_not_null(recs[i]);
		at_span_serialize(&s, recs[i]);
	}
	at_buf_reset(out);
	cr_assert_eq(at_otlp_encode((const struct at_span_hdr *const *)recs,
				    n, &rx_res, out), 0);
	for (i = 0; i < n; i++)
		free(recs[i]);
	free(recs);
}

static void gzip_buf(const struct at_buf *in, struct at_buf *out)
{
	z_stream zs;

	memset(&zs, 0, sizeof(zs));
	cr_assert_eq(deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
				  Z_DEFAULT_STRATEGY), Z_OK);
	at_buf_reset(out);
	cr_assert_eq(at_buf_reserve(out, deflateBound(&zs, in->len)), 0);
	zs.next_in = in->data;
	zs.avail_in = (uInt)in->len;
	zs.next_out = out->data;
	zs.avail_out = (uInt)out->cap;
	cr_assert_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
	out->len = zs.total_out;
	deflateEnd(&zs);
}

/* ---- a tiny HTTP client ---- */

struct client {
	int fd;
	struct at_buf in;
};

struct resp {
	int status;
	char head[4096];
	struct at_buf body;
};

static struct at_receiver *start_rx(void)
{
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };
	struct at_receiver *r = at_receiver_start(&o);

	cr_assert_not_null(r, "receiver start: %s", strerror(errno));
	cr_assert_neq(at_receiver_port(r), 0);
	return r;
}

static void cl_open(struct client *c, uint16_t port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval tv = { .tv_sec = 10 };
	int one = 1;

	memset(c, 0, sizeof(*c));
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cr_assert_geq(c->fd, 0);
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	cr_assert_eq(connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)), 0,
		     "connect: %s", strerror(errno));
}

static void cl_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	at_buf_free(&c->in);
}

/* Send everything; false if the peer is gone. */
static bool cl_send(struct client *c, const void *p, size_t n)
{
	const char *q = p;

	while (n) {
		ssize_t w = send(c->fd, q, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		q += w;
		n -= (size_t)w;
	}
	return true;
}

static bool cl_sends(struct client *c, const char *s)
{
	return cl_send(c, s, strlen(s));
}

/* Read more input; false on EOF, error or timeout. */
static bool cl_fill(struct client *c)
{
	ssize_t got;

	cr_assert_eq(at_buf_reserve(&c->in, 65536), 0);
	do {
		got = recv(c->fd, c->in.data + c->in.len,
			   c->in.cap - c->in.len, 0);
	} while (got < 0 && errno == EINTR);
	if (got <= 0)
		return false;
	c->in.len += (size_t)got;
	return true;
}

static void cl_consume(struct client *c, size_t n)
{
	memmove(c->in.data, c->in.data + n, c->in.len - n);
	c->in.len -= n;
}

/* Read one final response (1xx skipped).  false on EOF before one. */
static bool cl_response(struct client *c, struct resp *r)
{
	for (;;) {
		char *end = NULL, *cl;
		size_t hlen, blen = 0;

		while (!c->in.len ||
		       !(end = memmem(c->in.data, c->in.len, "\r\n\r\n", 4)))
			if (!cl_fill(c))
				return false;
		hlen = (size_t)(end + 4 - (char *)c->in.data);
		cr_assert_lt(hlen, sizeof(r->head));
		memcpy(r->head, c->in.data, hlen);
		r->head[hlen] = '\0';
		cr_assert_eq(sscanf(r->head, "HTTP/1.1 %d", &r->status), 1,
			     "bad status line: %s", r->head);
		cl_consume(c, hlen);
		if (r->status < 200)
			continue;
		cl = strcasestr(r->head, "\r\nContent-Length:");
		cr_assert_not_null(cl, "no Content-Length in %s", r->head);
		blen = strtoul(cl + 17, NULL, 10);
		while (c->in.len < blen)
			if (!cl_fill(c))
				return false;
		at_buf_reset(&r->body);
		cr_assert_eq(at_buf_append(&r->body, c->in.data, blen), 0);
		cl_consume(c, blen);
		return true;
	}
}

/* True if the server closed the connection (EOF within timeout_ms). */
static bool cl_sees_eof(struct client *c, int timeout_ms)
{
	struct pollfd p = { .fd = c->fd, .events = POLLIN };
	char tmp[256];
	ssize_t got;

	for (;;) {
		if (poll(&p, 1, timeout_ms) <= 0)
			return false;
		got = recv(c->fd, tmp, sizeof(tmp), 0);
		if (got == 0 || (got < 0 && errno == ECONNRESET))
			return true;
		if (got < 0)
			return false;
	}
}

static bool has_header(const struct resp *r, const char *line)
{
	return strcasestr(r->head, line) != NULL;
}

static void post(struct client *c, const struct at_buf *body,
		 const char *extra)
{
	char head[512];

	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Content-Type: application/x-protobuf\r\n"
		 "Content-Length: %zu\r\n%s\r\n", body->len,
		 extra ? extra : "");
	cr_assert(cl_sends(c, head));
	cr_assert(cl_send(c, body->data, body->len));
}

/* Chunked body: sizes of the first chunks, then the rest; sent in
 * separate writes with short pauses so the server sees partial data. */
static void post_chunked(struct client *c, const struct at_buf *body,
			 const char *extra, bool trailer)
{
	static const size_t sizes[] = { 1, 7, 100 };
	char line[512];
	size_t off = 0, i = 0;

	snprintf(line, sizeof(line),
		 "POST /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n"
		 "Content-Type: application/x-protobuf\r\n"
		 "Transfer-Encoding: chunked\r\n%s\r\n", extra ? extra : "");
	cr_assert(cl_sends(c, line));
	while (off < body->len) {
		size_t n = i < 3 ? sizes[i] : body->len - off;

		if (n > body->len - off)
			n = body->len - off;
		snprintf(line, sizeof(line), "%zx%s\r\n", n,
			 i == 1 ? ";ext=1" : "");
		cr_assert(cl_sends(c, line));
		usleep(2000);
		cr_assert(cl_send(c, body->data + off, n));
		cr_assert(cl_sends(c, "\r\n"));
		off += n;
		i++;
	}
	cr_assert(cl_sends(c, trailer ? "0\r\nX-Trailer: yes\r\n\r\n" :
				       "0\r\n\r\n"));
}

static void expect_ok_empty(const struct resp *r)
{
	Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse
		*m;

	cr_assert_eq(r->status, 200, "status %d: %s", r->status, r->head);
	cr_assert(has_header(r, "Content-Type: application/x-protobuf"));
	m = opentelemetry__proto__collector__trace__v1__export_trace_service_response__unpack(
		NULL, r->body.len, r->body.data);
	cr_assert_not_null(m);
	cr_assert_null(m->partial_success);
	protobuf_c_message_free_unpacked(&m->base, NULL);
}

static void check_stored(struct at_receiver *r, unsigned first, size_t n,
			 const char *enc)
{
	struct at_rx_span *sp = calloc(n + 1, sizeof(*sp));
	char name[32];
	int64_t v;
	size_t i;

	cr_assert_not_null(sp);
	cr_assert_eq(at_receiver_spans(r, sp, n + 1), n);
	for (i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "span-%u", first + (unsigned)i);
		cr_assert_str_eq(sp[i].span->name, name);
		cr_assert_eq(at_rx_attr_int(sp[i].span->attributes,
					      sp[i].span->n_attributes, "idx",
					      &v), 0);
		cr_assert_eq(v, first + i);
		cr_assert_not_null(sp[i].resource);
		cr_assert_str_eq(at_rx_attr_str(sp[i].resource->attributes,
						  sp[i].resource->n_attributes,
						  "service.name"), "rx-test");
		cr_assert_not_null(sp[i].scope);
		cr_assert_str_eq(sp[i].scope->name, AT_SCOPE_NAME);
		cr_assert_str_eq(sp[i].content_encoding, enc);
	}
	free(sp);
}

TestSuite(receiver, .timeout = 60);

Test(receiver, post_content_length)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;

	make_payload(&body, 1, 3);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_request_count(r), 1);
	cr_assert_eq(at_receiver_span_count(r), 3);
	check_stored(r, 1, 3, "");
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, gzip_body)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 }, gz = { 0 };
	struct resp rs = { 0 };
	struct client c;

	make_payload(&body, 10, 50);
	gzip_buf(&body, &gz);
	cl_open(&c, at_receiver_port(r));
	post(&c, &gz, "Content-Encoding: gzip\r\n");
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	check_stored(r, 10, 50, "gzip");
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&gz);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, chunked_body)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;

	make_payload(&body, 100, 20);
	cl_open(&c, at_receiver_port(r));
	post_chunked(&c, &body, NULL, false);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	check_stored(r, 100, 20, "");
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, chunked_gzip_with_trailer)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 }, gz = { 0 };
	struct resp rs = { 0 };
	struct client c;

	make_payload(&body, 7, 40);
	gzip_buf(&body, &gz);
	cl_open(&c, at_receiver_port(r));
	post_chunked(&c, &gz, "Content-Encoding: gzip\r\n", true);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	check_stored(r, 7, 40, "gzip");
	/* The connection is still usable afterwards. */
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_span_count(r), 80);
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&gz);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, keepalive_and_pipelining)
{
	struct at_receiver *r = start_rx();
	struct at_buf a = { 0 }, b = { 0 }, both = { 0 };
	struct resp rs = { 0 };
	struct client c;
	char head[256];
	int i;

	make_payload(&a, 1, 2);
	make_payload(&b, 3, 2);
	cl_open(&c, at_receiver_port(r));
	for (i = 0; i < 5; i++) {
		post(&c, &a, NULL);
		cr_assert(cl_response(&c, &rs));
		expect_ok_empty(&rs);
		cr_assert(!has_header(&rs, "Connection: close"));
	}
	/* Two requests in one write. */
	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.1\r\nContent-Type: "
		 "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
		 a.len);
	at_buf_append(&both, head, strlen(head));
	at_buf_append(&both, a.data, a.len);
	snprintf(head, sizeof(head),
		 "POST /v1/traces?x=1 HTTP/1.1\r\ncontent-type: "
		 "application/x-protobuf; proto=otlp\r\ncontent-length: "
		 "%zu\r\n\r\n", b.len);
	at_buf_append(&both, head, strlen(head));
	at_buf_append(&both, b.data, b.len);
	cr_assert(cl_send(&c, both.data, both.len));
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_request_count(r), 7);
	cr_assert_eq(at_receiver_span_count(r), 14);
	cl_close(&c);
	at_buf_free(&a);
	at_buf_free(&b);
	at_buf_free(&both);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* Send raw bytes on a new connection; the status answered, or 0 if the
 * server closed without answering. */
static int raw_status(uint16_t port, const void *p, size_t n)
{
	struct resp rs = { 0 };
	struct client c;
	int st = 0;

	cl_open(&c, port);
	cl_send(&c, p, n);
	shutdown(c.fd, SHUT_WR);
	if (cl_response(&c, &rs))
		st = rs.status;
	cl_close(&c);
	at_buf_free(&rs.body);
	return st;
}

static int raw_status_s(uint16_t port, const char *s)
{
	return raw_status(port, s, strlen(s));
}

Test(receiver, garbage_gets_400_and_serving_goes_on)
{
	struct at_receiver *r = start_rx();
	uint16_t port = at_receiver_port(r);
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;
	static const char *const bad[] = {
		"hello\r\n\r\n",
		"GET\r\n\r\n",
		"POST /v1/traces HTTP/9.9\r\n\r\n",
		"POST /v1/traces HTTP/1.1\r\nno colon here\r\n\r\n",
		"POST /v1/traces HTTP/1.1\r\nContent-Length: x\r\n\r\n",
		"POST /v1/traces HTTP/1.1\r\nContent-Length: 1\r\n"
		"Content-Length: 2\r\n\r\nab",
		"POST /v1/traces HTTP/1.1\r\nContent-Length: 3\r\n"
		"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"POST /v1/traces HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
		"POST /v1/traces HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		"Content-Type: application/x-protobuf\r\n\r\nzz\r\n",
		"POST /v1/traces HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
		"Content-Type: application/x-protobuf\r\n\r\n2\r\nabcd\r\n",
		"POST /v1/traces HTTP/1.1\r\nBad Name: x\r\n\r\n",
	};
	const uint8_t bad_pb[] = { 0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01 };
	char head[256];
	size_t i;

	for (i = 0; i < AT_ARRAY_SIZE(bad); i++)
		cr_assert_eq(raw_status_s(port, bad[i]), 400, "case %zu: %s", i,
			     bad[i]);

	/* A well-framed request with a body that is no protobuf: 400, and
	 * the same connection goes on. */
	make_payload(&body, 1, 1);
	cl_open(&c, port);
	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.1\r\nContent-Type: "
		 "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
		 sizeof(bad_pb));
	cr_assert(cl_sends(&c, head));
	cr_assert(cl_send(&c, bad_pb, sizeof(bad_pb)));
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 400);
	cr_assert(!has_header(&rs, "Connection: close"));
	/* Bad gzip data: 400, connection kept. */
	post(&c, &body, "Content-Encoding: gzip\r\n");
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 400);
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);

	cr_assert_eq(at_receiver_span_count(r), 1);
	cr_assert_eq(at_receiver_request_count(r), AT_ARRAY_SIZE(bad) + 3);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/*
 * Regression: protobuf-c unpacks by recursion, and a body of nested
 * AnyValue arrays (20,000 levels, 150 kB; 5,000 were enough) overflowed
 * the receiver thread's stack (a crash of autotrace serve).  Nested deeper than 100
 * messages: 400, and the connection goes on; 40 levels are stored.
 */
Test(receiver, deeply_nested_body_gets_400)
{
	struct at_receiver *r = start_rx();
	struct at_buf deep = { 0 }, ok = { 0 };
	struct resp rs = { 0 };
	struct at_rx_span sp;
	struct client c;

	cr_assert_eq(otlp_nested_request(&deep, 20000), 0);
	cr_assert_eq(otlp_nested_request(&ok, 40), 0);
	cl_open(&c, at_receiver_port(r));
	post(&c, &deep, NULL);
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 400);
	cr_assert_not_null(memmem(rs.body.data, rs.body.len,
				  "nested too deeply", 17));
	cr_assert(!has_header(&rs, "Connection: close"));
	post(&c, &ok, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);
	cr_assert_eq(at_receiver_spans(r, &sp, 1), 1);
	cr_assert_str_eq(sp.span->name, "deep");
	cr_assert_eq(sp.span->n_attributes, 1);
	at_buf_free(&deep);
	at_buf_free(&ok);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, random_garbage_never_kills_it)
{
	struct at_receiver *r = start_rx();
	uint16_t port = at_receiver_port(r);
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	uint8_t junk[3000];
	struct client c;
	unsigned seed = 12345;
	int i;
	size_t j, n;

	make_payload(&body, 1, 2);
	for (i = 0; i < 150; i++) {
		n = (size_t)(rand_r(&seed) % sizeof(junk));
		for (j = 0; j < n; j++)
			junk[j] = (uint8_t)rand_r(&seed);
		if (i % 3 == 0 && n > 80) {
			/* A valid head, then junk as the body. */
			int h = snprintf((char *)junk, 80,
					 "POST /v1/traces HTTP/1.1\r\n"
					 "Content-Length: %zu\r\n\r\n",
					 n - 60);

			memset(junk + h, 'A', (size_t)(60 - h));
		}
		if (i % 5 == 0)
			memcpy(junk, "POST / HTTP/1.1\r\n", n < 17 ? n : 17);
		cl_open(&c, port);
		cl_send(&c, junk, n);
		if (i % 2)
			cl_close(&c); /* hang up without reading */
		else {
			shutdown(c.fd, SHUT_WR);
			cl_response(&c, &rs);
			cl_close(&c);
		}
	}
	cl_open(&c, port);
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);
	cr_assert_eq(at_receiver_span_count(r), 2);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, other_paths_methods_types)
{
	struct at_receiver *r = start_rx();
	uint16_t port = at_receiver_port(r);
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;

	cr_assert_eq(raw_status_s(port, "GET /v1/traces HTTP/1.1\r\n\r\n"),
		     405);
	cr_assert_eq(raw_status_s(port, "GET / HTTP/1.1\r\n\r\n"), 404);
	cr_assert_eq(raw_status_s(port, "POST /v1/metrics HTTP/1.1\r\n"
				  "Content-Type: application/x-protobuf\r\n"
				  "Content-Length: 0\r\n\r\n"), 404);
	cr_assert_eq(raw_status_s(port, "POST /v1/traces HTTP/1.1\r\n"
				  "Content-Type: application/json\r\n"
				  "Content-Length: 2\r\n\r\n{}"), 415);
	cr_assert_eq(raw_status_s(port, "POST /v1/traces HTTP/1.1\r\n"
				  "Content-Length: 0\r\n\r\n"), 415);

	/* Keep-alive survives these; and unknown encodings are 415. */
	make_payload(&body, 1, 1);
	cl_open(&c, port);
	cr_assert(cl_sends(&c, "PUT /v1/traces HTTP/1.1\r\n"
			   "Content-Length: 3\r\n\r\nabc"));
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 405);
	cr_assert(has_header(&rs, "Allow: POST"));
	post(&c, &body, "Content-Encoding: br\r\n");
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 415);
	post(&c, &body, "Content-Encoding: identity\r\n");
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);

	/* An empty request decodes (no spans). */
	cr_assert_eq(raw_status_s(port, "POST /v1/traces HTTP/1.1\r\n"
				  "Content-Type: application/x-protobuf\r\n"
				  "Content-Length: 0\r\n\r\n"), 200);
	cr_assert_eq(at_receiver_span_count(r), 1);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* The dashboard's GETs (at_receiver_opts.on_get): any path but
 * /v1/traces, with its query, answered with the callback's status, type
 * and body on a kept-alive connection that still takes OTLP posts; only
 * for a loopback Host. */
static int echo_get(const char *target, struct at_buf *body,
		    const char **type, void *ud)
{
	(void)ud;
	*type = "application/json";
	at_buf_printf(body, "{\"target\":\"%s\"}", target);
	return strstr(target, "missing") ? 404 : 200;
}

Test(receiver, dashboard_gets)
{
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1",
				      .on_get = echo_get };
	struct at_receiver *r = at_receiver_start(&o);
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;

	cr_assert_not_null(r);
	cl_open(&c, at_receiver_port(r));
	cr_assert(cl_sends(&c, "GET /api/traces?status=error HTTP/1.1\r\n"
			   "Host: 127.0.0.1:4318\r\n\r\n"));
	cr_assert(cl_response(&c, &rs));
	cr_expect_eq(rs.status, 200);
	cr_expect(has_header(&rs, "Content-Type: application/json"), "%s", rs.head);
	cr_expect(has_header(&rs, "Cache-Control: no-store"), "%s", rs.head);
	cr_expect_eq(rs.body.len, strlen("{\"target\":\"/api/traces?status=error\"}"));
	cr_expect(!memcmp(rs.body.data, "{\"target\":\"/api/traces?status=error\"}",
			  rs.body.len));
	cr_assert(cl_sends(&c, "GET /missing HTTP/1.1\r\nHost: localhost\r\n\r\n"));
	cr_assert(cl_response(&c, &rs));
	cr_expect_eq(rs.status, 404);
	cr_assert(cl_sends(&c, "GET / HTTP/1.1\r\nHost: rebound.example:4318\r\n\r\n"));
	cr_assert(cl_response(&c, &rs));
	cr_expect_eq(rs.status, 403, "a page of another site: not answered");
	cr_assert(cl_sends(&c, "GET / HTTP/1.1\r\n\r\n"));
	cr_assert(cl_response(&c, &rs));
	cr_expect_eq(rs.status, 403, "no Host");
	/* still a receiver on the same connection */
	make_payload(&body, 1, 2);
	post(&c, &body, "");
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_expect_eq(at_receiver_span_count(r), 2);
	cl_close(&c);
	cr_expect_eq(raw_status_s(at_receiver_port(r),
				  "GET /v1/traces HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"),
		     405);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, too_large_is_413)
{
	struct at_receiver *r = start_rx();
	uint16_t port = at_receiver_port(r);
	struct resp rs = { 0 };
	struct client c;
	char chunk[64];

	cl_open(&c, port);
	cr_assert(cl_sends(&c, "POST /v1/traces HTTP/1.1\r\n"
			   "Content-Type: application/x-protobuf\r\n"
			   "Content-Length: 100000000\r\n\r\nsome bytes"));
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 413);
	cr_assert(has_header(&rs, "Connection: close"));
	cr_assert(cl_sees_eof(&c, 5000));
	cl_close(&c);

	/* A chunk that would go past the limit. */
	cl_open(&c, port);
	cr_assert(cl_sends(&c, "POST /v1/traces HTTP/1.1\r\n"
			   "Content-Type: application/x-protobuf\r\n"
			   "Transfer-Encoding: chunked\r\n\r\n"));
	snprintf(chunk, sizeof(chunk), "%zx\r\n", (size_t)65 << 20);
	cr_assert(cl_sends(&c, chunk));
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 413);
	cl_close(&c);

	/* A gzip bomb: small on the wire, > 64 MiB inflated. */
	{
		struct at_buf zeros = { 0 }, gz = { 0 };

		cr_assert_eq(at_buf_reserve(&zeros, (size_t)65 << 20), 0);
		memset(zeros.data, 0, (size_t)65 << 20);
		zeros.len = (size_t)65 << 20;
		gzip_buf(&zeros, &gz);
		at_buf_free(&zeros);
		cl_open(&c, port);
		post(&c, &gz, "Content-Encoding: gzip\r\n");
		cr_assert(cl_response(&c, &rs));
		cr_assert_eq(rs.status, 413);
		cl_close(&c);
		at_buf_free(&gz);
	}
	cr_assert_eq(raw_status_s(port, "POST /v1/traces HTTP/1.1\r\n"
				  "Content-Type: application/x-protobuf\r\n"
				  "Content-Length: 0\r\n\r\n"), 200);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, huge_head_is_431)
{
	struct at_receiver *r = start_rx();
	char *big = malloc(100000);
	struct resp rs = { 0 };
	struct client c;

	cr_assert_not_null(big);
	memcpy(big, "POST /v1/traces HTTP/1.1\r\nX-Big: ", 34);
	memset(big + 34, 'b', 100000 - 34);
	cl_open(&c, at_receiver_port(r));
	cl_send(&c, big, 100000);
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 431);
	cl_close(&c);
	free(big);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, scripted_503_then_200)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;

	at_receiver_script(r, 2, 503, "3", 0, NULL);
	at_receiver_script(r, 1, 429, NULL, 0, NULL);
	make_payload(&body, 1, 4);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 503);
	cr_assert(has_header(&rs, "\r\nRetry-After: 3\r\n"));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 503);
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 429);
	cr_assert(!has_header(&rs, "Retry-After"));
	cr_assert_eq(at_receiver_span_count(r), 0, "refused: not stored");
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_request_count(r), 4);
	cr_assert_eq(at_receiver_span_count(r), 4);
	check_stored(r, 1, 4, "");
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, scripted_partial_success)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;
	int64_t rejected;
	char msg[64];

	at_receiver_script(r, 1, 200, NULL, 5, "quota exceeded");
	make_payload(&body, 1, 6);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 200);
	cr_assert_eq(at_otlp_parse_response(rs.body.data, rs.body.len,
					    &rejected, msg, sizeof(msg)), 0);
	cr_assert_eq(rejected, 5);
	cr_assert_str_eq(msg, "quota exceeded");
	cr_assert_eq(at_receiver_span_count(r), 6, "200: stored");
	/* Script used up: a plain success. */
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, scripted_close_and_blackhole)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c, d;
	struct timespec t0, t1;

	make_payload(&body, 1, 1);
	at_receiver_script(r, 1, -2, NULL, 0, NULL);
	at_receiver_script(r, 1, -1, NULL, 0, NULL);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert(!cl_response(&c, &rs), "-2: closed without an answer");
	cl_close(&c);

	cl_open(&d, at_receiver_port(r));
	post(&d, &body, NULL);
	cr_assert_eq(at_receiver_wait_requests(r, 2, 5000), 0);
	cr_assert(!cl_sees_eof(&d, 300), "-1: no answer, no close");
	cr_assert_eq(at_receiver_span_count(r), 0);

	/* Others are served meanwhile. */
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);

	/* Stop does not wait for the blackholed client. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	at_receiver_stop(r);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_assert_lt(t1.tv_sec - t0.tv_sec, 2);
	cr_assert(cl_sees_eof(&d, 2000), "stop closes every socket");
	cl_close(&d);
	at_buf_free(&body);
	at_buf_free(&rs.body);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* A slow collector: requests are stored when read, each answer comes
 * DELAY ms later (pipelined requests one after the other), and other
 * connections are read meanwhile. */
Test(receiver, delayed_answers)
{
	enum { DELAY = 300 };
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 }, two = { 0 };
	struct resp rs = { 0 };
	struct client c, d;
	struct timespec t0;
	char head[256];

	at_receiver_delay(r, DELAY);
	make_payload(&body, 1, 2);
	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.1\r\nContent-Type: "
		 "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
		 body.len);
	for (int i = 0; i < 2; i++) {
		at_buf_append(&two, head, strlen(head));
		at_buf_append(&two, body.data, body.len);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cl_open(&c, at_receiver_port(r));
	cr_assert(cl_send(&c, two.data, two.len));
	cr_assert_eq(at_receiver_wait_spans(r, 2, 5000), 0,
		     "stored before the answer");
	cl_open(&d, at_receiver_port(r));
	post(&d, &body, NULL);
	cr_assert_eq(at_receiver_wait_spans(r, 4, 5000), 0,
		     "another connection is read while the first waits");

	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_geq(ms_since(&t0), DELAY);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_geq(ms_since(&t0), 2 * DELAY, "one answer at a time");
	cr_assert(cl_response(&d, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_span_count(r), 6);

	/* Back to answering at once. */
	at_receiver_delay(r, 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	post(&d, &body, NULL);
	cr_assert(cl_response(&d, &rs));
	expect_ok_empty(&rs);
	cr_assert_lt(ms_since(&t0), 5000);
	cl_close(&c);
	cl_close(&d);
	at_buf_free(&body);
	at_buf_free(&two);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, connection_close_and_http10)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;
	char head[256];

	make_payload(&body, 1, 1);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, "Connection: close\r\n");
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert(has_header(&rs, "Connection: close"));
	cr_assert(cl_sees_eof(&c, 5000));
	cl_close(&c);

	cl_open(&c, at_receiver_port(r));
	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.0\r\nContent-Type: "
		 "application/x-protobuf\r\nContent-Length: %zu\r\n\r\n",
		 body.len);
	cr_assert(cl_sends(&c, head));
	cr_assert(cl_send(&c, body.data, body.len));
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert(cl_sees_eof(&c, 5000), "HTTP/1.0: closed after answer");
	cl_close(&c);
	cr_assert_eq(at_receiver_span_count(r), 2);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, expect_100_continue)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;
	char head[256];

	make_payload(&body, 1, 2);
	cl_open(&c, at_receiver_port(r));
	snprintf(head, sizeof(head),
		 "POST /v1/traces HTTP/1.1\r\nExpect: 100-continue\r\n"
		 "Content-Type: application/x-protobuf\r\n"
		 "Content-Length: %zu\r\n\r\n", body.len);
	cr_assert(cl_sends(&c, head));
	while (!memmem(c.in.data ? (void *)c.in.data : "", c.in.len,
		       "100 Continue\r\n\r\n", 16))
		cr_assert(cl_fill(&c));
	cr_assert(cl_send(&c, body.data, body.len));
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, save_dir_gets_decoded_bodies)
{
	char dir[] = "/tmp/at_rx_save_XXXXXX", path[256];
	struct at_receiver_opts o = { 0 };
	struct at_buf body = { 0 }, gz = { 0 }, file = { 0 };
	struct resp rs = { 0 };
	struct at_receiver *r;
	struct client c;
	FILE *f;
	size_t n;

	cr_assert_not_null(mkdtemp(dir));
	o.save_dir = dir;
	r = at_receiver_start(&o);
	cr_assert_not_null(r);
	make_payload(&body, 5, 5);
	gzip_buf(&body, &gz);
	at_receiver_script(r, 1, 503, NULL, 0, NULL);
	cl_open(&c, at_receiver_port(r));
	post(&c, &gz, "Content-Encoding: gzip\r\n");
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 503);
	post(&c, &gz, "Content-Encoding: gzip\r\n");
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);

	snprintf(path, sizeof(path), "%s/req-000001.pb", dir);
	f = fopen(path, "rb");
	cr_assert_not_null(f, "%s missing", path);
	cr_assert_eq(at_buf_reserve(&file, body.len + 100), 0);
	n = fread(file.data, 1, file.cap, f);
	fclose(f);
	cr_assert_eq(n, body.len, "the plain (gunzipped) body is saved");
	cr_assert(memcmp(file.data, body.data, n) == 0);
	snprintf(path, sizeof(path), "%s/req-000002.pb", dir);
	cr_assert_neq(access(path, F_OK), 0, "only accepted requests");
	unlink(path);
	snprintf(path, sizeof(path), "%s/req-000001.pb", dir);
	unlink(path);
	rmdir(dir);
	at_receiver_stop(r);
	at_buf_free(&body);
	at_buf_free(&gz);
	at_buf_free(&file);
	at_buf_free(&rs.body);
}

Test(receiver, wait_timeout_and_clear)
{
	struct at_receiver *r = start_rx();
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct timespec t0, t1;
	struct client c;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(at_receiver_wait_spans(r, 1, 200), -1);
	cr_assert_eq(at_receiver_wait_requests(r, 1, 0), -1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	cr_assert_geq(ms, 190);
	cr_assert_lt(ms, 3000);
	cr_assert_eq(at_receiver_wait_spans(r, 0, 0), 0);

	make_payload(&body, 1, 3);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert_eq(at_receiver_wait_spans(r, 3, 5000), 0);
	cr_assert(cl_response(&c, &rs));
	at_receiver_clear(r);
	cr_assert_eq(at_receiver_span_count(r), 0);
	cr_assert_eq(at_receiver_spans(r, NULL, 0), 0);
	cr_assert_eq(at_receiver_request_count(r), 1, "requests stay counted");
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_span_count(r), 3);
	check_stored(r, 1, 3, "");
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

Test(receiver, attribute_helpers)
{
	at_otlp_request *req;
	struct at_buf body = { 0 };
	at_otlp_span *sp;
	at_otlp_resource *res;
	int64_t v = 0;

	make_payload(&body, 42, 1);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, body.len, body.data);
	cr_assert_not_null(req);
	sp = req->resource_spans[0]->scope_spans[0]->spans[0];
	res = req->resource_spans[0]->resource;
	cr_assert_not_null(at_rx_find_attr(sp->attributes, sp->n_attributes,
					     "idx"));
	cr_assert_null(at_rx_find_attr(sp->attributes, sp->n_attributes,
					 "nope"));
	cr_assert_null(at_rx_find_attr(NULL, 0, "idx"));
	cr_assert_eq(at_rx_attr_int(sp->attributes, sp->n_attributes, "idx",
				      &v), 0);
	cr_assert_eq(v, 42);
	cr_assert_null(at_rx_attr_str(sp->attributes, sp->n_attributes,
					"idx"), "int is not a string");
	cr_assert_str_eq(at_rx_attr_str(res->attributes, res->n_attributes,
					  "service.name"), "rx-test");
	cr_assert_eq(at_rx_attr_int(res->attributes, res->n_attributes,
				      "service.name", &v), -1);
	cr_assert_eq(at_rx_attr_int(res->attributes, res->n_attributes,
				      "process.pid", &v), 0);
	cr_assert_eq(v, 77);
	protobuf_c_message_free_unpacked(&req->base, NULL);
	at_buf_free(&body);
}

struct cb_state {
	size_t calls, spans;
	bool saw_store; /* the spans were stored before the callback */
	struct at_receiver *r;
};

static void on_req(const at_otlp_request *req, void *ud)
{
	struct cb_state *st = ud;
	size_t n = req->resource_spans[0]->scope_spans[0]->n_spans;

	st->calls++;
	st->spans += n;
	st->saw_store = at_receiver_span_count(st->r) >= st->spans;
}

Test(receiver, on_request_callback)
{
	struct cb_state st = { 0 };
	struct at_receiver_opts o = { .on_request = on_req, .ud = &st };
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct at_receiver *r;
	struct client c;

	r = at_receiver_start(&o);
	cr_assert_not_null(r);
	st.r = r;
	make_payload(&body, 1, 4);
	cl_open(&c, at_receiver_port(r));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	cl_close(&c);
	at_receiver_stop(r);
	cr_assert_eq(st.calls, 2);
	cr_assert_eq(st.spans, 8);
	cr_assert(st.saw_store);
	at_buf_free(&body);
	at_buf_free(&rs.body);
}

Test(receiver, ipv6_loopback)
{
	struct at_receiver_opts o = { .bind_addr = "::1" };
	struct sockaddr_in6 sa = { .sin6_family = AF_INET6 };
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct at_receiver *r;
	struct client c = { .fd = -1 };

	r = at_receiver_start(&o);
	if (!r)
		cr_skip_test("no IPv6 loopback here (%s)", strerror(errno));
	c.fd = socket(AF_INET6, SOCK_STREAM, 0);
	sa.sin6_port = htons(at_receiver_port(r));
	sa.sin6_addr = in6addr_loopback;
	cr_assert_eq(connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	make_payload(&body, 1, 1);
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);
	at_receiver_stop(r);
	at_buf_free(&body);
	at_buf_free(&rs.body);
}

Test(receiver, bad_bind_address_fails)
{
	struct at_receiver_opts o = { .bind_addr = "not-an-address" };
	struct at_receiver *r, *r2;

	errno = 0;
	cr_assert_null(at_receiver_start(&o));
	cr_assert_eq(errno, EINVAL);
	r = start_rx();
	o.bind_addr = "127.0.0.1";
	o.port = at_receiver_port(r);
	errno = 0;
	r2 = at_receiver_start(&o);
	cr_assert_null(r2);
	cr_assert_eq(errno, EADDRINUSE);
	at_receiver_stop(r);
	at_receiver_stop(NULL);
}

/* The socket-free path: bytes handed in 7-byte pieces, answers read back. */
Test(receiver, unbound_connection_fed_in_pieces)
{
	struct at_receiver *r = at_receiver_new_unbound(NULL);
	struct at_buf body = { 0 }, in = { 0 };
	struct at_rx_conn *c;
	const uint8_t *out;
	size_t i, n, len;
	int rc = 0;

	cr_assert_not_null(r);
	c = at_rx_conn_open(r);
	cr_assert_not_null(c);
	make_payload(&body, 5, 2);
	cr_assert_eq(at_buf_printf(&in, "POST /v1/traces HTTP/1.1\r\n"
				   "Content-Type: application/x-protobuf\r\n"
				   "Content-Length: %zu\r\n\r\n", body.len), 0);
	cr_assert_eq(at_buf_append(&in, body.data, body.len), 0);
	cr_assert_eq(at_buf_printf(&in, "BAD\r\n\r\nGET / HTTP/1.1\r\n\r\n"),
		     0);
	for (i = 0; i < in.len && rc == 0; i += n) {
		n = in.len - i < 7 ? in.len - i : 7;
		rc = at_rx_conn_input(c, in.data + i, n);
	}
	/* the garbage closed the connection: the GET is never read */
	cr_assert_eq(rc, -1);
	cr_assert_eq(at_rx_conn_input(c, "x", 1), -1);
	cr_assert_eq(at_receiver_request_count(r), 2);
	check_stored(r, 5, 2, "");
	out = at_rx_conn_output(c, &len);
	cr_assert(len > 30);
	cr_assert_eq(memcmp(out, "HTTP/1.1 200 OK\r\n", 17), 0);
	cr_assert_not_null(memmem(out, len, "HTTP/1.1 400 Bad Request\r\n", 26));
	cr_assert_not_null(memmem(out, len, "Connection: close\r\n", 19));
	cr_assert_null(memmem(out, len, "HTTP/1.1 404", 12));
	at_rx_conn_close(c);
	at_receiver_stop(r);
	at_buf_free(&body);
	at_buf_free(&in);
}

/* in handed to a fresh socket-free receiver in pieces of `piece` bytes
 * (then the end of input); its answers into out. */
static void answers_to(const struct at_buf *in, size_t piece,
		       struct at_buf *out)
{
	struct at_receiver *r = at_receiver_new_unbound(NULL);
	struct at_rx_conn *c = at_rx_conn_open(r);
	const uint8_t *p;
	size_t i, len;

	cr_assert_not_null(c);
	for (i = 0; i < in->len; i += piece)
		at_rx_conn_input(c, in->data + i,
				 in->len - i < piece ? in->len - i : piece);
	at_rx_conn_input(c, NULL, 0);
	p = at_rx_conn_output(c, &len);
	at_buf_reset(out);
	cr_assert_eq(at_buf_append(out, p, len), 0);
	at_rx_conn_close(c);
	at_receiver_stop(r);
}

/*
 * Regression: a chunk-size line longer than 4096 bytes (extensions) and
 * a trailer section longer than the head limit were refused only when
 * their bytes arrived in several reads: one read of all of it was
 * accepted.  Now the same answer (400, 431) however the bytes arrive.
 */
Test(receiver, chunk_line_and_trailer_limits_do_not_depend_on_reads)
{
	static const char head[] = "POST /v1/traces HTTP/1.1\r\n"
		"Content-Type: application/x-protobuf\r\n"
		"Transfer-Encoding: chunked\r\n\r\n";
	struct at_buf body = { 0 }, in = { 0 }, whole = { 0 }, split = { 0 };
	char *filler = malloc(70000);
	int pass;

	cr_assert_not_null(filler);
	memset(filler, 'x', 70000);
	make_payload(&body, 1, 1);
	for (pass = 0; pass < 2; pass++) {
		at_buf_reset(&in);
		cr_assert_eq(at_buf_printf(&in, "%s%zx;e=%.*s\r\n", head,
					   body.len, pass ? 10 : 5000,
					   filler), 0);
		cr_assert_eq(at_buf_append(&in, body.data, body.len), 0);
		cr_assert_eq(at_buf_printf(&in, "\r\n0\r\nX-T: %.*s\r\n\r\n",
					   pass ? 70000 : 1, filler), 0);
		answers_to(&in, in.len, &whole);
		answers_to(&in, 1000, &split);
		cr_assert(whole.len > 12);
		cr_assert_eq(memcmp(whole.data, pass ? "HTTP/1.1 431" :
				    "HTTP/1.1 400", 12), 0);
		cr_assert_eq(whole.len, split.len);
		cr_assert_eq(memcmp(whole.data, split.data, whole.len), 0);
	}
	free(filler);
	at_buf_free(&body);
	at_buf_free(&in);
	at_buf_free(&whole);
	at_buf_free(&split);
}

/* Regression: a first stored request without spans did arithmetic on
 * the still NULL span array (undefined; clang's UBSan, as the fuzzer is
 * built, stops there; GCC's does not check it). */
Test(receiver, first_request_without_spans)
{
	struct at_buf in = { 0 }, out = { 0 }, body = { 0 };

	cr_assert_eq(at_buf_printf(&in, "POST /v1/traces HTTP/1.1\r\n"
				   "Content-Type: application/x-protobuf\r\n"
				   "Content-Length: 0\r\n\r\n"), 0);
	make_payload(&body, 1, 2);
	cr_assert_eq(at_buf_printf(&in, "POST /v1/traces HTTP/1.1\r\n"
				   "Content-Type: application/x-protobuf\r\n"
				   "Content-Length: %zu\r\n\r\n", body.len), 0);
	cr_assert_eq(at_buf_append(&in, body.data, body.len), 0);
	answers_to(&in, in.len, &out);
	cr_assert_eq(memcmp(out.data, "HTTP/1.1 200", 12), 0);
	cr_assert_not_null(memmem(out.data + 12, out.len - 12, "HTTP/1.1 200",
				  12));
	at_buf_free(&in);
	at_buf_free(&out);
	at_buf_free(&body);
}

/* ---- the autotrace-receiver tool (skipped when not built) ---- */

#define TOOL "build/autotrace-receiver"

static pid_t spawn_tool(const char *port_file, const char *count,
			const char *timeout, int *out_fd)
{
	int p[2];
	pid_t pid;

	cr_assert_eq(pipe(p), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(p[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(p[0]);
		close(p[1]);
		execl(TOOL, TOOL, "--port-file", port_file, "--count", count,
		      "--timeout-ms", timeout, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	*out_fd = p[0];
	return pid;
}

static uint16_t read_port_file(const char *path)
{
	unsigned port = 0;
	FILE *f;
	int i;

	for (i = 0; i < 500; i++) {
		f = fopen(path, "r");
		if (f) {
			cr_assert_eq(fscanf(f, "%u", &port), 1);
			fclose(f);
			return (uint16_t)port;
		}
		usleep(10000);
	}
	cr_assert_fail("no port file %s", path);
	return 0;
}

Test(receiver, tool_prints_spans)
{
	char pf[] = "/tmp/at_rx_port_XXXXXX", out[4096];
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;
	size_t len = 0;
	ssize_t got;
	int fd, st;
	pid_t pid;

	if (access(TOOL, X_OK) != 0)
		cr_skip_test(TOOL " is not built");
	fd = mkstemp(pf);
	close(fd);
	unlink(pf);
	pid = spawn_tool(pf, "2", "20000", &fd);
	make_payload(&body, 1, 2);
	cl_open(&c, read_port_file(pf));
	post(&c, &body, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	cl_close(&c);
	while ((got = read(fd, out + len, sizeof(out) - 1 - len)) > 0)
		len += (size_t)got;
	out[len] = '\0';
	close(fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert_str_eq(out,
		"span trace=01000000010000000100000001000001 "
		"span=0100000001000001 parent=- kind=SERVER name=\"span-1\" "
		"service=rx-test dur_us=1500 status=OK attrs={idx=1}\n"
		"span trace=02000000020000000200000002000001 "
		"span=0200000002000001 parent=- kind=SERVER name=\"span-2\" "
		"service=rx-test dur_us=1500 status=OK attrs={idx=2}\n");
	unlink(pf);
	at_buf_free(&body);
	at_buf_free(&rs.body);
}

Test(receiver, tool_times_out)
{
	char pf[] = "/tmp/at_rx_port_XXXXXX", buf[256];
	int fd, st;
	pid_t pid;

	if (access(TOOL, X_OK) != 0)
		cr_skip_test(TOOL " is not built");
	fd = mkstemp(pf);
	close(fd);
	unlink(pf);
	pid = spawn_tool(pf, "5", "300", &fd);
	read_port_file(pf);
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "status %d", st);
	unlink(pf);
}

/* ---- concurrency ---- */

#define N_CLIENTS 8
#define N_REQS 25
#define SPANS_PER_REQ 5

struct worker {
	uint16_t port;
	struct at_buf body, gz;
	int idx;
	int ok;
};

static void *client_main(void *arg)
{
	struct worker *w = arg;
	struct resp rs = { 0 };
	struct client c;
	int i;

	cl_open(&c, w->port);
	for (i = 0; i < N_REQS; i++) {
		if (i % 3 == 0)
			post(&c, &w->gz, "Content-Encoding: gzip\r\n");
		else if (i % 3 == 1)
			post_chunked(&c, &w->body, NULL, false);
		else
			post(&c, &w->body, NULL);
		if (!cl_response(&c, &rs) || rs.status != 200)
			break;
		w->ok++;
		if (i == N_REQS / 2) {
			/* Reconnect half-way. */
			cl_close(&c);
			cl_open(&c, w->port);
		}
	}
	cl_close(&c);
	at_buf_free(&rs.body);
	return NULL;
}

Test(concurrency, receiver_many_clients, .timeout = 120)
{
	static struct worker w[N_CLIENTS];
	static struct at_rx_span spans[N_CLIENTS * N_REQS * SPANS_PER_REQ];
	pthread_t th[N_CLIENTS];
	struct at_receiver *r = start_rx();
	size_t total = N_CLIENTS * N_REQS * SPANS_PER_REQ, n, i, j;
	size_t per_id[N_CLIENTS * SPANS_PER_REQ];
	int64_t id;
	int k;

	/* The encoder is single-threaded: prepare payloads here. */
	for (k = 0; k < N_CLIENTS; k++) {
		w[k].port = at_receiver_port(r);
		w[k].idx = k;
		make_payload(&w[k].body, (unsigned)(k * SPANS_PER_REQ),
			     SPANS_PER_REQ);
		gzip_buf(&w[k].body, &w[k].gz);
	}
	for (k = 0; k < N_CLIENTS; k++)
		cr_assert_eq(pthread_create(&th[k], NULL, client_main, &w[k]),
			     0);
	/* Read while they write. */
	while (at_receiver_wait_spans(r, total, 20) < 0) {
		n = at_receiver_spans(r, spans, AT_ARRAY_SIZE(spans));
		cr_assert_leq(n, total);
		at_receiver_request_count(r);
	}
	for (k = 0; k < N_CLIENTS; k++) {
		pthread_join(th[k], NULL);
		cr_assert_eq(w[k].ok, N_REQS, "client %d", k);
	}
	n = at_receiver_spans(r, spans, AT_ARRAY_SIZE(spans));
	cr_assert_eq(n, total);
	cr_assert_eq(at_receiver_request_count(r), N_CLIENTS * N_REQS);
	memset(per_id, 0, sizeof(per_id));
	for (i = 0; i < n; i++) {
		cr_assert_eq(at_rx_attr_int(spans[i].span->attributes,
					      spans[i].span->n_attributes,
					      "idx", &id), 0);
		cr_assert_lt((size_t)id, AT_ARRAY_SIZE(per_id));
		per_id[id]++;
	}
	for (j = 0; j < AT_ARRAY_SIZE(per_id); j++)
		cr_assert_eq(per_id[j], N_REQS, "span idx %zu", j);
	at_receiver_stop(r);
	for (k = 0; k < N_CLIENTS; k++) {
		at_buf_free(&w[k].body);
		at_buf_free(&w[k].gz);
	}
}

/*
 * A sink answers 200 without decoding or storing, and counts the spans of
 * uncompressed bodies by walking the wire format: a body that is two
 * requests back to back (two ResourceSpans, as protobuf concatenation
 * merges them) counts both; gzip bodies and undecodable bodies count 0.
 */
Test(receiver, sink_counts_spans_without_decoding)
{
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1", .sink = 1 };
	struct at_receiver *r = at_receiver_start(&o);
	struct at_buf one = { 0 }, two = { 0 }, gz = { 0 };
	struct at_buf junk = { 0 };
	struct at_rx_span stored[1];
	struct resp rs = { 0 };
	struct client c;

	cr_assert_not_null(r);
	make_payload(&one, 1, 3);
	make_payload(&two, 100, 50);
	gzip_buf(&two, &gz);
	cr_assert_eq(at_buf_append(&two, one.data, one.len), 0);
	cr_assert_eq(at_buf_append(&junk, "\x0a\xff\xff\xff\x0f zz", 9), 0);
	cl_open(&c, at_receiver_port(r));
	post(&c, &one, NULL);
	post(&c, &two, NULL);
	post(&c, &gz, "Content-Encoding: gzip\r\n");
	post(&c, &junk, NULL);
	for (int i = 0; i < 4; i++) {
		cr_assert(cl_response(&c, &rs));
		cr_assert_eq(rs.status, 200, "response %d: %d", i, rs.status);
	}
	cr_assert_eq(at_receiver_request_count(r), 4);
	cr_assert_eq(at_receiver_span_count(r), 3 + 50 + 3);
	cr_assert_eq(at_receiver_spans(r, stored, 1), 0);
	cl_close(&c);
	at_buf_free(&one);
	at_buf_free(&two);
	at_buf_free(&gz);
	at_buf_free(&junk);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* ---- limits against other local programs ---- */

/*
 * These start receivers with short timeouts, a small connection table or
 * a small body budget (at_receiver_opts); each would fail on a receiver
 * without the limit.  Waits are bounded polls on the client's socket;
 * timing is only ever bounded generously from above.
 */
TestSuite(rxlimits, .timeout = 90);

static struct at_receiver *start_rx_limits(int max_conns, size_t budget,
					   int idle_ms, int head_ms,
					   size_t rate)
{
	struct at_receiver_opts o = {
		.bind_addr = "127.0.0.1", .max_conns = max_conns,
		.body_budget = budget, .idle_timeout_ms = idle_ms,
		.head_timeout_ms = head_ms, .body_min_rate = rate,
	};
	struct at_receiver *r = at_receiver_start(&o);

	cr_assert_not_null(r, "receiver start: %s", strerror(errno));
	return r;
}

/* Until the server answers or closes (at most limit_ms): send one byte of
 * p (cycling) every step_ms.  true if it answered or closed in time. */
static bool dribble(struct client *c, const char *p, int step_ms,
		    int limit_ms)
{
	struct pollfd pf = { .fd = c->fd, .events = POLLIN };
	struct timespec t0;
	size_t i = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct timespec t;

		if (poll(&pf, 1, step_ms) > 0)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > limit_ms)
			return false;
		if (send(c->fd, p + i, 1, MSG_NOSIGNAL) != 1)
			return true; /* closed under us */
		i = p[i + 1] ? i + 1 : 0;
	}
}

static const char POST_HEAD[] = "POST /v1/traces HTTP/1.1\r\n"
				"Host: 127.0.0.1\r\n"
				"Content-Type: application/x-protobuf\r\n";

/* A connection that sends nothing, and a keep-alive connection after its
 * request, are closed once idle for the idle timeout. */
Test(rxlimits, idle_connections_are_closed)
{
	struct at_receiver *r = start_rx_limits(0, 0, 300, 0, 0);
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client quiet, kept;

	cl_open(&quiet, at_receiver_port(r));
	cl_open(&kept, at_receiver_port(r));
	make_payload(&body, 1, 2);
	post(&kept, &body, NULL);
	cr_assert(cl_response(&kept, &rs));
	expect_ok_empty(&rs);
	cr_assert(cl_sees_eof(&quiet, 10000), "a silent connection stays");
	cr_assert(cl_sees_eof(&kept, 10000), "an idle keep-alive stays");
	cl_close(&quiet);
	cl_close(&kept);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* Slowloris: a head dribbled a byte at a time gets 408 and the
 * connection closes after the head timeout, however it keeps sending. */
Test(rxlimits, dribbled_head_gets_408)
{
	struct at_receiver *r = start_rx_limits(0, 0, 60000, 500, 0);
	struct resp rs = { 0 };
	struct client c;

	cl_open(&c, at_receiver_port(r));
	cr_assert(cl_sends(&c, POST_HEAD));
	cr_assert(dribble(&c, "X-Slow: abcdefgh\r\n", 50, 15000),
		  "a head dribbled a byte each 50 ms is kept");
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 408);
	cr_assert(has_header(&rs, "Connection: close"));
	cr_assert(cl_sees_eof(&c, 10000));
	cr_assert_eq(at_receiver_request_count(r), 1);
	cl_close(&c);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* A body must keep up the minimum rate after the head timeout: 10 bytes
 * a second against 1000 gets 408; 5000 a second is served. */
Test(rxlimits, slow_body_gets_408_and_a_steady_one_is_served)
{
	struct at_receiver *r = start_rx_limits(0, 0, 60000, 300, 1000);
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	struct client c;
	char head[256];
	size_t off;

	cl_open(&c, at_receiver_port(r));
	cr_assert(cl_sends(&c, POST_HEAD));
	cr_assert(cl_sends(&c, "Content-Length: 100000\r\n\r\n"));
	cr_assert(dribble(&c, "body", 100, 15000),
		  "a body at 10 bytes/s is kept");
	cr_assert(cl_response(&c, &rs));
	cr_assert_eq(rs.status, 408);
	cr_assert(cl_sees_eof(&c, 10000));
	cl_close(&c);

	make_payload(&body, 1, 60); /* a few kB */
	cr_assert_gt(body.len, 2000);
	cl_open(&c, at_receiver_port(r));
	snprintf(head, sizeof(head), "%sContent-Length: %zu\r\n\r\n",
		 POST_HEAD, body.len);
	cr_assert(cl_sends(&c, head));
	for (off = 0; off < body.len; off += 500) {
		struct pollfd pf = { .fd = c.fd, .events = POLLIN };

		cr_assert_eq(poll(&pf, 1, 100), 0, "answered early");
		cr_assert(cl_send(&c, body.data + off,
				  body.len - off < 500 ? body.len - off : 500));
	}
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);
	check_stored(r, 1, 60, "");
	cl_close(&c);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* Read the interim "100 Continue" answer (and nothing else). */
static void expect_continue(struct client *c)
{
	static const char want[] = "HTTP/1.1 100 Continue\r\n\r\n";

	while (c->in.len < sizeof(want) - 1)
		cr_assert(cl_fill(c), "no 100 Continue");
	cr_assert_eq(c->in.len, sizeof(want) - 1);
	cr_assert_eq(memcmp(c->in.data, want, sizeof(want) - 1), 0);
	cl_consume(c, c->in.len);
}

/* Wait until at least n of the clients saw the server close. */
static size_t wait_closed(struct client *cs, size_t count, size_t n,
			  int timeout_ms)
{
	bool *seen = calloc(count, sizeof(*seen));
	size_t closed = 0, i;
	struct timespec t0, t;

	cr_assert_not_null(seen);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (closed < n) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 +
		    (t.tv_nsec - t0.tv_nsec) / 1000000 > timeout_ms)
			break;
		for (i = 0; i < count; i++)
			if (!seen[i] && cl_sees_eof(&cs[i], 0)) {
				seen[i] = true;
				closed++;
			}
		if (closed < n)
			poll(NULL, 0, 10);
	}
	free(seen);
	return closed;
}

/*
 * A full table makes room for a new connection: idle ones go first (the
 * oldest), then the request with the least progress; a request well on
 * its way is kept and served.
 */
Test(rxlimits, full_table_closes_idle_connections_for_new_ones)
{
	enum { MAXC = 8, IDLE = 20 };
	struct at_receiver *r = start_rx_limits(MAXC, 0, 60000, 60000, 0);
	uint16_t port = at_receiver_port(r);
	struct client busy, idle[IDLE], fresh, small[MAXC];
	struct at_buf body = { 0 };
	struct resp rs = { 0 };
	char head[256];
	size_t i;

	/* A request half sent, acknowledged by 100 Continue: the receiver
	 * has it in its table. */
	make_payload(&body, 1, 3);
	cl_open(&busy, port);
	snprintf(head, sizeof(head),
		 "%sExpect: 100-continue\r\nContent-Length: %zu\r\n\r\n",
		 POST_HEAD, body.len);
	cr_assert(cl_sends(&busy, head));
	expect_continue(&busy);
	cr_assert(cl_send(&busy, body.data, 5));

	/* More idle connections than the table holds: the oldest go. */
	for (i = 0; i < IDLE; i++)
		cl_open(&idle[i], port);
	cr_assert_eq(wait_closed(idle, IDLE, IDLE + 1 - MAXC, 10000),
		     IDLE + 1 - MAXC, "the table took them all");

	/* An exporter still gets in, and the busy request is served. */
	cl_open(&fresh, port);
	make_payload(&body, 10, 2);
	post(&fresh, &body, NULL);
	cr_assert(cl_response(&fresh, &rs), "a new connection is served");
	expect_ok_empty(&rs);
	make_payload(&body, 1, 3);
	cr_assert(cl_send(&busy, body.data + 5, body.len - 5));
	cr_assert(cl_response(&busy, &rs), "a request on its way is kept");
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_span_count(r), 5);
	cl_close(&fresh);
	cl_close(&busy);
	for (i = 0; i < IDLE; i++)
		cl_close(&idle[i]);

	/* Every connection has a request arriving: the least advanced
	 * (smallest head so far) goes for a new one. */
	for (i = 0; i < MAXC; i++) {
		cl_open(&small[i], port);
		snprintf(head, sizeof(head),
			 "%sExpect: 100-continue\r\nX-Pad: %*s\r\n"
			 "Content-Length: %zu\r\n\r\n", POST_HEAD,
			 (int)(i == 3 ? 1 : 10 + i), "x", body.len);
		cr_assert(cl_sends(&small[i], head));
		expect_continue(&small[i]);
	}
	cl_open(&fresh, port);
	post(&fresh, &body, NULL);
	cr_assert(cl_response(&fresh, &rs));
	expect_ok_empty(&rs);
	cr_assert(cl_sees_eof(&small[3], 10000), "the least advanced went");
	for (i = 0; i < MAXC; i++) {
		if (i != 3) {
			cr_assert(cl_send(&small[i], body.data, body.len));
			cr_assert(cl_response(&small[i], &rs));
			expect_ok_empty(&rs);
		}
		cl_close(&small[i]);
	}
	cl_close(&fresh);
	at_buf_free(&body);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/* Send head + as much as fits of nothing: the head of a POST with
 * Content-Length len (and Expect: 100-continue if expect). */
static void send_post_head(struct client *c, size_t len, bool expect)
{
	char head[256];

	snprintf(head, sizeof(head), "%s%sContent-Length: %zu\r\n\r\n",
		 POST_HEAD, expect ? "Expect: 100-continue\r\n" : "", len);
	cr_assert(cl_sends(c, head));
}

/*
 * The input held for bodies still arriving is bounded for all
 * connections together: a body the budget cannot hold now gets 503 with
 * Retry-After (Content-Length before its body, chunked at the chunk that
 * does not fit) and the connection closes; one it never could gets 413;
 * small requests need none of it; the budget comes back when a request
 * is complete, and the refused request then goes through.
 */
Test(rxlimits, body_budget_gives_503_with_retry_after)
{
	struct at_receiver *r = start_rx_limits(0, 256 * 1024, 0, 0, 0);
	uint16_t port = at_receiver_port(r);
	struct at_buf big = { 0 }, small = { 0 };
	struct client a, b, c;
	struct resp rs = { 0 };
	char line[64];

	make_payload(&big, 1, 2000);
	cr_assert_gt(big.len, 140 * 1024);
	cr_assert_lt(big.len, 230 * 1024);
	make_payload(&small, 5000, 3);

	/* a holds the budget with its body announced (100 Continue). */
	cl_open(&a, port);
	send_post_head(&a, big.len, true);
	expect_continue(&a);

	/* b: the same again does not fit now. */
	cl_open(&b, port);
	send_post_head(&b, big.len, true);
	cr_assert(cl_response(&b, &rs));
	cr_assert_eq(rs.status, 503);
	cr_assert(has_header(&rs, "\r\nRetry-After: 1\r\n"), "%s", rs.head);
	cr_assert(has_header(&rs, "Connection: close"));
	cr_assert(cl_sees_eof(&b, 10000));
	cl_close(&b);

	/* A chunked body: refused at the chunk that does not fit. */
	cl_open(&b, port);
	cr_assert(cl_sends(&b, POST_HEAD));
	cr_assert(cl_sends(&b, "Transfer-Encoding: chunked\r\n\r\n10\r\n"
			       "0123456789abcdef\r\n"));
	snprintf(line, sizeof(line), "%zx\r\n", big.len);
	cr_assert(cl_sends(&b, line));
	cr_assert(cl_response(&b, &rs));
	cr_assert_eq(rs.status, 503);
	cr_assert(has_header(&rs, "\r\nRetry-After: 1\r\n"), "%s", rs.head);
	cl_close(&b);

	/* More than the whole budget: never, 413. */
	cl_open(&b, port);
	send_post_head(&b, 300 * 1024, false);
	cr_assert(cl_response(&b, &rs));
	cr_assert_eq(rs.status, 413);
	cl_close(&b);

	/* A small request needs no budget. */
	cl_open(&c, port);
	post(&c, &small, NULL);
	cr_assert(cl_response(&c, &rs));
	expect_ok_empty(&rs);

	/* a completes; its budget comes back and b's request goes through. */
	cr_assert(cl_send(&a, big.data, big.len));
	cr_assert(cl_response(&a, &rs));
	expect_ok_empty(&rs);
	cl_open(&b, port);
	post(&b, &big, NULL);
	cr_assert(cl_response(&b, &rs));
	expect_ok_empty(&rs);
	cr_assert_eq(at_receiver_span_count(r), 3 + 2000 + 2000);
	cl_close(&a);
	cl_close(&b);
	cl_close(&c);
	at_buf_free(&big);
	at_buf_free(&small);
	at_buf_free(&rs.body);
	at_receiver_stop(r);
}

/*
 * Empty lines before a request line are skipped (RFC 9112 2.2), and
 * count toward the head limit: a client sending only line ends gets 431,
 * as one sending a long head, not a wait for the budget or the timeout.
 */
Test(receiver, empty_lines_before_a_request_count_toward_the_head_limit)
{
	struct at_buf in = { 0 }, out = { 0 };

	cr_assert_eq(at_buf_printf(&in, "\r\n\n\r\nPOST /v1/traces HTTP/1.1\r\n"
				   "Content-Type: application/x-protobuf\r\n"
				   "Content-Length: 0\r\n\r\n"), 0);
	answers_to(&in, in.len, &out);
	cr_assert(out.len > 12 && !memcmp(out.data, "HTTP/1.1 200", 12));
	answers_to(&in, 1, &out);
	cr_assert(out.len > 12 && !memcmp(out.data, "HTTP/1.1 200", 12));
	at_buf_reset(&in);
	for (int i = 0; i < 20000; i++)
		cr_assert_eq(at_buf_append(&in, "\r\n", 2), 0);
	answers_to(&in, 4096, &out);
	cr_assert(out.len > 12 && !memcmp(out.data, "HTTP/1.1 431", 12),
		  "%.*s", (int)(out.len < 40 ? out.len : 40), out.data);
	at_buf_free(&in);
	at_buf_free(&out);
}
