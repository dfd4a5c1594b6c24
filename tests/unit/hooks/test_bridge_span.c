/*
 * Unit tests of the span messages of the bridge channel
 * (hooks/runtime/at_bridge_span.c), written as the Node bridge writes them
 * (bridges/node/autotrace-https.js): a start answers a handle and the
 * traceparent of a span made as the socket layer makes an HTTP client
 * span (https); an end sets the status (ends queued at the buffer's
 * end: once, at the next message, at their own times); parents come
 * from the request the message names (a fake resolver), or the head's
 * own traceparent; bad messages, stale handles and a full table change
 * nothing.  Spans are read back from the thread's ring.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_bridge_span.h"
#include "at_clock.h"
#include "at_context.h"
#include "at_http.h"
#include "at_span.h"
#include "at_traceparent.h"
#include "at_config.h"
#include "at_propagators.h"
#include "unit.h"
#include "ut_spans.h"

#define DATA 17408 /* the Node bridge's answer room */

static union {
	int32_t m[8 + DATA / 4];
	char b[32 + DATA];
} msg;

/* The request the fake resolver knows: connection 5, request 2. */
static struct at_span server;

static struct at_span *resolve(int fd, uint32_t seq)
{
	return fd == 5 && seq == 2 && at_span_started(&server) ? &server
							       : NULL;
}

static void setup(void)
{
	ut_core_setup();
	at_context_set_resolver(resolve);
	ut_drain_ring();
}

static void teardown(void)
{
	at_bridge_span_at_exit();
	if (at_span_started(&server))
		at_span_end(&server);
	ut_drain_ring();
}

TestSuite(bridge_span, .init = setup, .fini = teardown);

static ssize_t send_msg(size_t len)
{
	struct iovec v = { msg.b, len };

	memcpy(msg.b, AT_BRIDGE_SPAN_MAGIC, 8);
	return at_bridge_span_message(&v, 1, len);
}

/* START for head with parent [fd1, seq]: the handle (0: none). */
static int32_t start(const char *head, int32_t fd1, int32_t seq)
{
	size_t n = strlen(head);

	msg.m[2] = AT_BRIDGE_SPAN_START;
	msg.m[3] = -1;
	msg.m[4] = fd1;
	msg.m[5] = seq;
	msg.m[6] = (int32_t)n;
	msg.m[7] = -1;
	memcpy(msg.b + 32, head, n);
	cr_assert_eq(send_msg(32 + 1024), 32 + 1024);
	return msg.m[3];
}

static void end(int32_t h, int32_t status, const char *err)
{
	msg.m[2] = AT_BRIDGE_SPAN_END;
	msg.m[3] = h;
	msg.m[4] = status;
	msg.m[5] = err ? (int32_t)strlen(err) : 0;
	if (err)
		memcpy(msg.b + 32, err, strlen(err));
	cr_assert_eq(send_msg(32 + 64), 32 + 64);
	cr_assert_eq(msg.m[3], 0);
}

static const char head[] =
	"GET /a/b?token=x&k=1 HTTP/1.1\r\nHost: api.example.com\r\n"
	"Connection: keep-alive\r\n\r\n";

Test(bridge_span, start_answers_the_span_traceparent)
{
	struct rec r[2];
	char tp[AT_TRACEPARENT_LEN + 1];
	int32_t h = start(head, 0, 0);

	cr_assert_gt(h, 0);
	cr_assert_eq(msg.m[7], AT_BRIDGE_SPAN_OK);
	/* The lines to add: traceparent alone (the default propagators,
	 * no tracestate, no baggage). */
	cr_assert_eq(msg.m[4], 13 + AT_TRACEPARENT_LEN + 2);
	cr_assert_eq(memcmp(msg.b + 32, "traceparent: ", 13), 0);
	cr_assert_eq(memcmp(msg.b + 32 + 13 + AT_TRACEPARENT_LEN, "\r\n", 2), 0);
	memcpy(tp, msg.b + 32 + 13, AT_TRACEPARENT_LEN);
	tp[AT_TRACEPARENT_LEN] = 0;
	end(h, 200, NULL);
	cr_assert_eq(ut_take_spans(r, 2), 1);
	char want[AT_TRACEPARENT_LEN + 1];
	at_traceparent_format(&r[0].u.h.ctx, want);
	cr_expect_str_eq(tp, want);
	cr_expect(ut_has_name(&r[0], "GET"));
	cr_expect_eq(r[0].u.h.kind, AT_KIND_CLIENT);
	cr_expect(ut_str_is(&r[0], "http.request.method", "GET"));
	cr_expect(ut_str_is(&r[0], "url.full",
			    "https://api.example.com/a/b?token=REDACTED&k=REDACTED"));
	cr_expect(ut_str_is(&r[0], "url.scheme", "https"));
	cr_expect(ut_str_is(&r[0], "server.address", "api.example.com"));
	cr_expect_eq(ut_int_attr(&r[0], "server.port"), 443);
	cr_expect(ut_str_is(&r[0], "network.protocol.version", "1.1"));
	cr_expect_eq(ut_int_attr(&r[0], "http.response.status_code"), 200);
	cr_expect_eq(r[0].u.h.status_code, AT_STATUS_UNSET);
	cr_expect_eq(ut_attr(&r[0], "error.type"), NULL);
}

/* url.full and server.address/port are the same whether the Host was
 * the last one asked for (kept) or another: hosts in turn, user info,
 * an IPv6 literal, a port, an asterisk target, a Host too long to keep. */
Test(bridge_span, url_and_server_for_hosts_in_turn)
{
	static const struct {
		const char *head, *url, *addr;
		int port;
	} c[] = {
		{ "GET /x?q=1 HTTP/1.1\r\nHost: a.example:8443\r\n\r\n",
		  "https://a.example:8443/x?q=REDACTED", "a.example", 8443 },
		{ "GET /y HTTP/1.1\r\nHost: [::1]:9\r\n\r\n",
		  "https://[::1]:9/y", "::1", 9 },
		{ "OPTIONS * HTTP/1.1\r\nHost: u:p@b.example\r\n\r\n",
		  "https://REDACTED:REDACTED@b.example", NULL, 0 },
		{ "GET /z?k=v HTTP/1.1\r\nHost: "
		  "h0123456789012345678901234567890123456789012345678901234567"
		  "890123456789012345678901234567890123456789.example\r\n\r\n",
		  "https://h0123456789012345678901234567890123456789012345678901"
		  "234567890123456789012345678901234567890123456789.example"
		  "/z?k=REDACTED", NULL, 443 },
	};
	struct rec r[2];

	for (int round = 0; round < 3; round++) {
		for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
			for (int again = 0; again < 2; again++) {
				int32_t h = start(c[i].head, 0, 0);
				cr_assert_gt(h, 0, "case %zu", i);
				end(h, 200, NULL);
				cr_assert_eq(ut_take_spans(r, 2), 1);
				cr_expect(ut_str_is(&r[0], "url.full", c[i].url),
					  "case %zu", i);
				if (c[i].addr) {
					cr_expect(ut_str_is(&r[0], "server.address",
							    c[i].addr), "case %zu", i);
					cr_expect_eq(ut_int_attr(&r[0], "server.port"),
						     c[i].port, "case %zu", i);
				}
			}
		}
	}
}

/* url.full is what at_http_url_full() makes of the Host and the target,
 * whichever way the target goes (the one-scan path of the usual target or
 * the general one): queries, matrix parameters, fragments, bare tokens,
 * empty members, sensitive keys, every value redacted or only theirs. */
Test(bridge_span, url_full_for_every_kind_of_target)
{
	static const char *const t[] = {
		"/", "/a/b", "/p%20q?x=%41&tok",         /* paths */
		"/a?", "/a?k=v", "/a?k=v&x=&y", "/a?&&k=1;;z=2", /* queries */
		"/a?k=v#frag", "/a#f?x=1", "/a?k=v#",    /* fragments */
		"/a;jsessionid=1/b?x=1",                 /* matrix */
		"/a?sig=1&Signature=2&AWSAccessKeyId=3&X-Goog-Signature=4&n=5",
		"/a?JSESSIONID=9&q=a=b", "*",
	};
	int saved = at_cfg.http_redact_query;
	struct rec r[2];
	char req[512], want[1024];

	for (int all = 0; all < 2; all++) {
		at_cfg.http_redact_query = all;
		for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
			snprintf(req, sizeof(req),
				 "GET %s HTTP/1.1\r\nHost: h.example:8443\r\n\r\n",
				 t[i]);
			at_http_url_full(want, sizeof(want), "https",
					 "h.example:8443", 14, t[i], strlen(t[i]),
					 all);
			int32_t h = start(req, 0, 0);
			cr_assert_gt(h, 0, "%s", t[i]);
			end(h, 200, NULL);
			cr_assert_eq(ut_take_spans(r, 2), 1);
			cr_expect(ut_str_is(&r[0], "url.full", want), "%s: %s",
				  t[i], want);
		}
	}
	at_cfg.http_redact_query = saved;
}

/* The bridge writes the magic once and reuses its buffer: an answer
 * leaves the magic, the operation and the data length as they were. */
Test(bridge_span, answers_keep_the_magic)
{
	struct iovec v = { msg.b, 32 + 1024 };
	size_t n = strlen(head);
	int32_t h;

	memcpy(msg.b, AT_BRIDGE_SPAN_MAGIC, 8);
	for (int i = 0; i < 3; i++) {
		msg.m[2] = AT_BRIDGE_SPAN_START;
		msg.m[3] = 0;
		msg.m[4] = msg.m[5] = 0;
		msg.m[6] = (int32_t)n;
		msg.m[7] = -1;
		memcpy(msg.b + 32, head, n);
		v.iov_len = 32 + 1024;
		cr_assert_eq(at_bridge_span_message(&v, 1, v.iov_len),
			     32 + 1024);
		h = msg.m[3];
		cr_assert_gt(h, 0);
		cr_expect_eq(memcmp(msg.b, AT_BRIDGE_SPAN_MAGIC, 8), 0);
		cr_expect_eq(msg.m[2], AT_BRIDGE_SPAN_START);
		cr_expect_eq(msg.m[6], (int32_t)n);
		msg.m[2] = AT_BRIDGE_SPAN_END;
		msg.m[3] = h;
		msg.m[4] = 200;
		msg.m[5] = 0;
		v.iov_len = 32 + 64;
		cr_assert_eq(at_bridge_span_message(&v, 1, v.iov_len), 32 + 64);
		cr_expect_eq(msg.m[3], 0);
		cr_expect_eq(memcmp(msg.b, AT_BRIDGE_SPAN_MAGIC, 8), 0);
		cr_expect_eq(msg.m[2], AT_BRIDGE_SPAN_END);
	}
	struct rec r[4];
	cr_expect_eq(ut_take_spans(r, 4), 3);
}

Test(bridge_span, parent_is_the_named_request)
{
	struct rec r[4];

	cr_assert(at_span_start_with_parent(&server, "GET", 3, AT_KIND_SERVER,
					    NULL, NULL, 0, false));
	int32_t h = start(head, 6, 2);   /* fd 5 + 1, request 2 */
	cr_assert_gt(h, 0);
	end(h, 200, NULL);
	int32_t g = start(head, 6, 3);   /* not an open request */
	cr_assert_gt(g, 0);
	end(g, 200, NULL);
	cr_assert_eq(ut_take_spans(r, 4), 2);
	cr_expect_eq(memcmp(r[0].u.h.parent_span_id, server.h.ctx.span_id, 8),
		     0);
	cr_expect_eq(memcmp(r[0].u.h.ctx.trace_id, server.h.ctx.trace_id, 16),
		     0);
	static const uint8_t zero[8];
	cr_expect(!r[1].u.h.has_parent ||
		  !memcmp(r[1].u.h.parent_span_id, zero, 8),
		  "a request that is not open gives a root");
}

Test(bridge_span, own_traceparent_continued_not_answered)
{
	struct rec r[2];
	const char *own =
		"GET / HTTP/1.1\r\nHost: h:8443\r\n"
		"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
		"tracestate: a=1\r\n\r\n";
	int32_t h = start(own, 0, 0);

	cr_assert_gt(h, 0);
	cr_expect_eq(msg.m[4], 0, "no traceparent to add");
	end(h, 0, NULL);
	cr_assert_eq(ut_take_spans(r, 2), 1);
	static const uint8_t trace[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd,
					   0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21,
					   0x1c, 0x80, 0x31, 0x9c };
	static const uint8_t parent[8] = { 0xb7, 0xad, 0x6b, 0x71,
					   0x69, 0x20, 0x33, 0x31 };
	cr_expect_eq(memcmp(r[0].u.h.ctx.trace_id, trace, 16), 0);
	cr_expect_eq(memcmp(r[0].u.h.parent_span_id, parent, 8), 0);
	cr_expect(r[0].u.h.parent_is_remote);
	cr_expect_eq(ut_int_attr(&r[0], "server.port"), 8443);
}

Test(bridge_span, errors_and_client_statuses)
{
	struct rec r[4];
	int32_t a = start(head, 0, 0), b = start(head, 0, 0),
		c = start(head, 0, 0);

	end(a, 404, NULL);
	end(b, 0, "ECONNRESET");
	end(c, 302, NULL);
	cr_assert_eq(ut_take_spans(r, 4), 3);
	cr_expect_eq(r[0].u.h.status_code, AT_STATUS_ERROR);
	cr_expect(ut_str_is(&r[0], "error.type", "404"));
	cr_expect_eq(r[1].u.h.status_code, AT_STATUS_ERROR);
	cr_expect(ut_str_is(&r[1], "error.type", "ECONNRESET"));
	cr_expect_eq(ut_attr(&r[1], "http.response.status_code"), NULL);
	cr_expect_eq(r[2].u.h.status_code, AT_STATUS_UNSET);
}

Test(bridge_span, stale_and_forged_handles_end_nothing)
{
	struct rec r[2];
	int32_t h = start(head, 0, 0);

	end(h + (1 << 10), 200, NULL);  /* another generation */
	end(1, 200, NULL);
	end(0, 200, NULL);
	end(-5, 200, NULL);
	cr_expect_eq(ut_take_spans(r, 2), 0);
	end(h, 200, NULL);
	end(h, 500, NULL);               /* twice: the second is stale */
	cr_assert_eq(ut_take_spans(r, 2), 1);
	cr_expect_eq(ut_int_attr(&r[0], "http.response.status_code"), 200);
}

Test(bridge_span, bad_heads_and_other_writes)
{
	struct iovec two[2] = { { msg.b, 32 }, { msg.b + 32, 32 } };

	cr_expect_eq(start("GET / HTTP/1.1\r\nHost: h\r\n", 0, 0), 0,
		     "no blank line");
	cr_expect_eq(msg.m[7], AT_BRIDGE_SPAN_BAD_HEAD);
	cr_expect_eq(start("GET / HTTP/1.1\r\n\r\n", 0, 0), 0, "no Host");
	cr_expect_eq(start("G E T / HTTP/1.1\r\nHost: h\r\n\r\n", 0, 0), 0);
	/* A length past the buffer. */
	msg.m[2] = AT_BRIDGE_SPAN_START;
	msg.m[6] = 100000;
	cr_expect_eq(send_msg(64), 64);
	cr_expect_eq(msg.m[3], 0);
	/* Not messages: the caller writes them as they are. */
	msg.m[2] = 7;
	cr_expect_eq(send_msg(64), -1);
	cr_expect_eq(at_bridge_span_message(two, 2, 64), -1);
	memcpy(msg.b, "ATBRSPAX", 8);
	struct iovec one = { msg.b, 64 };
	cr_expect_eq(at_bridge_span_message(&one, 1, 64), -1);
	struct iovec odd = { msg.b + 1, 40 };
	cr_expect_eq(at_bridge_span_message(&odd, 1, 40), -1);
	struct iovec shortv = { msg.b, 16 };
	cr_expect_eq(at_bridge_span_message(&shortv, 1, 16), -1);
}

Test(bridge_span, bounded_table)
{
	static int32_t h[AT_BRIDGE_SPAN_OPEN_MAX];

	for (int i = 0; i < AT_BRIDGE_SPAN_OPEN_MAX; i++) {
		h[i] = start(head, 0, 0);
		cr_assert_gt(h[i], 0, "start %d", i);
	}
	cr_expect_eq(start(head, 0, 0), 0);
	cr_expect_eq(msg.m[7], AT_BRIDGE_SPAN_FULL);
	end(h[17], 200, NULL);
	ut_drain_ring();
	cr_expect_gt(start(head, 0, 0), 0, "an entry freed is taken again");
	at_bridge_span_at_exit();
	ut_drain_ring();
	cr_expect_gt(start(head, 0, 0), 0, "at exit every span was ended");
}

/* The answer carries every configured format the head lacks, and the
 * named request's baggage when the buffer has room for it. */
Test(bridge_span, answers_every_configured_format)
{
	const char *own_b3 = "GET / HTTP/1.1\r\nHost: h\r\n"
			     "b3: 0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-1\r\n"
			     "\r\n";
	char lines[1024];
	size_t n;
	int32_t h;

	cr_assert_eq(at_propagators_parse("tracecontext,baggage,b3,jaeger",
					  &at_cfg.propagators, at_cfg.prop_order,
					  &at_cfg.n_prop, NULL, NULL), 0);
	cr_assert(at_span_start_with_parent(&server, "GET", 3, AT_KIND_SERVER,
					    NULL, NULL, 0, false));
	at_span_own_baggage(&server, at_baggage_store("user.id=alice", 13));
	msg.m[2] = AT_BRIDGE_SPAN_START;
	msg.m[4] = 6;
	msg.m[5] = 2;
	msg.m[6] = (int32_t)strlen(head);
	memcpy(msg.b + 32, head, strlen(head));
	cr_assert_eq(send_msg(32 + DATA), 32 + DATA);
	h = msg.m[3];
	cr_assert_gt(h, 0);
	n = (size_t)msg.m[4];
	cr_assert(n > 0 && n < sizeof(lines));
	memcpy(lines, msg.b + 32, n);
	lines[n] = 0;
	cr_expect(strstr(lines, "traceparent: 00-") == lines, "%s", lines);
	cr_expect_not_null(strstr(lines, "\r\nb3: "), "%s", lines);
	cr_expect_not_null(strstr(lines, "\r\nuber-trace-id: "), "%s", lines);
	cr_expect_not_null(strstr(lines, "\r\nbaggage: user.id=alice\r\n"),
			   "%s", lines);
	end(h, 200, NULL);
	/* A short buffer: the same without the baggage line. */
	h = start(head, 6, 2);
	cr_assert_gt(h, 0);
	memcpy(lines, msg.b + 32, (size_t)msg.m[4]);
	lines[msg.m[4]] = 0;
	cr_expect_null(strstr(lines, "baggage"), "%s", lines);
	end(h, 200, NULL);
	/* The program's own b3: no b3 line, its context continued. */
	h = start(own_b3, 0, 0);
	cr_assert_gt(h, 0);
	memcpy(lines, msg.b + 32, (size_t)msg.m[4]);
	lines[msg.m[4]] = 0;
	cr_expect_null(strstr(lines, "b3:"), "%s", lines);
	cr_expect_not_null(strstr(lines, "traceparent: 00-0af7651916cd43dd8448eb211c80319c-"),
			   "%s", lines);
	end(h, 200, NULL);
	at_span_end(&server);
}

/* ---- queued ends (AT_BRIDGE_SPAN_WITH_ENDS) ---- */

/* A buffer as the Node bridge's: header, data, then the queue of ends. */
static union {
	int32_t m[(32 + 1024 + AT_BRIDGE_SPAN_ENDS_BYTES) / 4];
	char b[32 + 1024 + AT_BRIDGE_SPAN_ENDS_BYTES];
} qm;
#define QLEN sizeof(qm.b)
#define QUEUE (qm.m + (32 + 1024) / 4)

static ssize_t qsend(int32_t op)
{
	struct iovec v = { qm.b, QLEN };

	memcpy(qm.b, AT_BRIDGE_SPAN_MAGIC, 8);
	qm.m[2] = op;
	return at_bridge_span_message(&v, 1, QLEN);
}

static int32_t qstart(void)
{
	size_t n = strlen(head);

	qm.m[3] = 0;
	qm.m[4] = qm.m[5] = 0;
	qm.m[6] = (int32_t)n;
	qm.m[7] = -1;
	memcpy(qm.b + 32, head, n);
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	return qm.m[3];
}

static void queue_end(int32_t h, int32_t status, uint64_t mono)
{
	int32_t *e = QUEUE + 4 + 4 * QUEUE[0];

	e[0] = h;
	e[1] = status;
	e[2] = (int32_t)(mono / 1000000000u);
	e[3] = (int32_t)(mono % 1000000000u);
	QUEUE[0]++;
}

static uint64_t duration(const struct rec *r)
{
	return r->u.h.end_unix_ns - r->u.h.start_unix_ns;
}

Test(bridge_span, queued_ends_handled_once_at_the_next_message)
{
	struct rec r[4];
	int32_t h1 = qstart(), h2 = qstart();
	uint64_t t = at_mono_ns();

	cr_assert_gt(h1, 0);
	cr_assert_gt(h2, 0);
	cr_assert_eq(QUEUE[0], 0);
	queue_end(h1, 200, t);
	queue_end(h2, 503, t);
	cr_assert_eq(ut_take_spans(r, 4), 0, "queued: not ended yet");
	/* The next start ends them first, at their own times. */
	int32_t h3 = qstart();
	cr_assert_gt(h3, 0);
	cr_expect_eq(QUEUE[0], 0);
	cr_assert_eq(ut_take_spans(r, 4), 2);
	cr_expect_eq(ut_int_attr(&r[0], "http.response.status_code"), 200);
	cr_expect_eq(r[0].u.h.status_code, AT_STATUS_UNSET);
	cr_expect_eq(duration(&r[0]), t - r[0].u.h.start_mono_ns);
	cr_expect_eq(ut_int_attr(&r[1], "http.response.status_code"), 503);
	cr_expect_eq(r[1].u.h.status_code, AT_STATUS_ERROR);
	cr_expect(ut_str_is(&r[1], "error.type", "503"));
	cr_expect_eq(duration(&r[1]), t - r[1].u.h.start_mono_ns);
	/* The same queue again (a bridge that lost the count): nothing. */
	QUEUE[0] = 2;
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_FLUSH | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	cr_expect_eq(QUEUE[0], 0);
	cr_expect_eq(ut_take_spans(r, 4), 0);
	/* A time before the start is the start; after now, now. */
	int32_t h4 = qstart();
	queue_end(h3, 200, 1);
	queue_end(h4, 200, at_mono_ns() + 3600ull * 1000000000u);
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_FLUSH | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	cr_assert_eq(ut_take_spans(r, 4), 2);
	cr_expect_eq(duration(&r[0]), 0);
	cr_expect_lt(duration(&r[1]), 3600ull * 1000000000u);
}

/* A START ends the queued spans after its own began (its start time is
 * their "now"), and first when the table is full and they free an
 * entry; a bad head still ends them. */
Test(bridge_span, queued_ends_with_a_start)
{
	static int32_t h[AT_BRIDGE_SPAN_OPEN_MAX];
	struct rec r[4];
	int32_t h2;

	for (int i = 0; i < AT_BRIDGE_SPAN_OPEN_MAX; i++) {
		h[i] = qstart();
		cr_assert_gt(h[i], 0, "start %d", i);
	}
	ut_drain_ring();
	queue_end(h[5], 200, at_mono_ns() + 3600ull * 1000000000u);
	h2 = qstart();
	cr_assert_gt(h2, 0, "the queued end freed an entry");
	cr_expect_eq(QUEUE[0], 0);
	cr_assert_eq(ut_take_spans(r, 4), 1);
	cr_expect_lt(duration(&r[0]), 3600ull * 1000000000u);
	cr_expect_neq(h2, h[5]);
	/* A head that makes no span: the queue is still handled. */
	queue_end(h2, 200, at_mono_ns());
	qm.m[6] = 3;
	memcpy(qm.b + 32, "bad", 3);
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	cr_expect_eq(qm.m[3], 0);
	cr_expect_eq(qm.m[7], AT_BRIDGE_SPAN_BAD_HEAD);
	cr_expect_eq(QUEUE[0], 0);
	cr_expect_eq(ut_take_spans(r, 4), 1);
}

/* An END with an error is sent at once, the queue with it. */
Test(bridge_span, error_end_with_the_queue)
{
	struct rec r[4];
	int32_t h1 = qstart(), h2 = qstart();

	queue_end(h1, 200, at_mono_ns());
	qm.m[3] = h2;
	qm.m[4] = 0;
	qm.m[5] = 10;
	memcpy(qm.b + 32, "ECONNRESET", 10);
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_END | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	cr_expect_eq(qm.m[3], 0);
	cr_assert_eq(ut_take_spans(r, 4), 2);
	cr_expect_eq(ut_int_attr(&r[0], "http.response.status_code"), 200);
	cr_expect(ut_str_is(&r[1], "error.type", "ECONNRESET"));
}

/* FLUSH only with a queue; a queue needs the room for it. */
Test(bridge_span, flush_needs_a_queue)
{
	struct iovec v = { qm.b, 32 + 64 };

	memcpy(qm.b, AT_BRIDGE_SPAN_MAGIC, 8);
	qm.m[2] = AT_BRIDGE_SPAN_FLUSH;
	cr_expect_eq(at_bridge_span_message(&v, 1, 32 + 64), -1);
	qm.m[2] = AT_BRIDGE_SPAN_FLUSH | AT_BRIDGE_SPAN_WITH_ENDS;
	cr_expect_eq(at_bridge_span_message(&v, 1, 32 + 64), -1);
}

/* An operation the library does not know, even with a queue: not a
 * message, and its queue is left as it is (no end handled). */
Test(bridge_span, unknown_operation_leaves_the_queue)
{
	struct rec r[2];
	int32_t h = qstart();

	cr_assert_gt(h, 0);
	ut_drain_ring();
	queue_end(h, 200, at_mono_ns());
	cr_expect_eq(qsend(7 | AT_BRIDGE_SPAN_WITH_ENDS), -1);
	cr_expect_eq(QUEUE[0], 1);
	cr_expect_eq(ut_take_spans(r, 2), 0);
	/* The same queue with a FLUSH: ended once. */
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_FLUSH | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	cr_expect_eq(QUEUE[0], 0);
	cr_expect_eq(ut_take_spans(r, 2), 1);
}

/* ---- STARTs asked through getenv (a bound buffer: qm) ---- */

/* BIND qm: the number its names carry. */
static int32_t bind_qm(void)
{
	qm.m[3] = 0;
	QUEUE[0] = 0;
	cr_assert_eq(qsend(AT_BRIDGE_SPAN_BIND | AT_BRIDGE_SPAN_WITH_ENDS),
		     (ssize_t)QLEN);
	cr_assert_gt(qm.m[3], 0);
	return qm.m[3];
}

static char env_name[64 + AT_HTTP_HEAD_MAX];

/* The name of a START of head for bind number nb, qm's header set as
 * the bridge sets it ([6]: len, the head's length as the bridge has it). */
static const char *env_start(int32_t nb, const char *h, int32_t len)
{
	snprintf(env_name, sizeof(env_name), "%s%d:%s",
		 AT_BRIDGE_SPAN_ENV_PREFIX, (int)nb, h);
	qm.m[2] = AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS |
		  AT_BRIDGE_SPAN_IN_NAME;
	qm.m[3] = 0;
	qm.m[4] = qm.m[5] = 0;
	qm.m[6] = len;
	qm.m[7] = -1;
	return env_name;
}

Test(bridge_span, env_start_answered_in_the_bound_buffer)
{
	struct rec r[4];
	char *ans = (char *)1, *again = (char *)1;
	int32_t nb = bind_qm(), h;
	const char *name = env_start(nb, head, (int32_t)strlen(head));
	char tp[AT_TRACEPARENT_LEN + 1], want[AT_TRACEPARENT_LEN + 1];

	cr_assert(at_bridge_span_env(name, &ans));
	cr_assert(qm.m[2] & AT_BRIDGE_SPAN_ANSWERED);
	h = qm.m[3];
	cr_assert_gt(h, 0);
	cr_expect_eq(qm.m[7], AT_BRIDGE_SPAN_OK);
	cr_assert_eq(ans, qm.b + 32, "the answer is the buffer's data");
	cr_expect_eq(strlen(ans), (size_t)qm.m[4]);
	cr_expect_eq(qm.m[4], 13 + AT_TRACEPARENT_LEN + 2);
	cr_expect_eq(memcmp(ans, "traceparent: ", 13), 0);
	memcpy(tp, ans + 13, AT_TRACEPARENT_LEN);
	tp[AT_TRACEPARENT_LEN] = 0;
	/* Asked again (the runtime's second try with a larger buffer): the
	 * same answer, no second span. */
	cr_assert(at_bridge_span_env(name, &again));
	cr_expect_eq(again, ans);
	cr_expect_eq(qm.m[3], h);
	/* Its end queued, handled by the next START. */
	queue_end(h, 200, at_mono_ns());
	name = env_start(nb, head, (int32_t)strlen(head));
	cr_assert(at_bridge_span_env(name, &ans));
	cr_expect_eq(QUEUE[0], 0);
	cr_assert_gt(qm.m[3], 0);
	cr_expect_neq(qm.m[3], h);
	cr_assert_eq(ut_take_spans(r, 4), 1);
	at_traceparent_format(&r[0].u.h.ctx, want);
	cr_expect_str_eq(tp, want);
	cr_expect(ut_str_is(&r[0], "url.full",
			    "https://api.example.com/a/b?token=REDACTED&k=REDACTED"));
	cr_expect_eq(ut_int_attr(&r[0], "http.response.status_code"), 200);
}

/* A head that makes no span is answered "none" (NULL); its queue is
 * handled all the same. */
Test(bridge_span, env_start_without_a_span)
{
	struct rec r[2];
	char *ans = (char *)1;
	int32_t nb = bind_qm(), h;
	const char *name = env_start(nb, head, (int32_t)strlen(head));

	cr_assert(at_bridge_span_env(name, &ans));
	h = qm.m[3];
	cr_assert_gt(h, 0);
	ut_drain_ring();
	queue_end(h, 200, at_mono_ns());
	name = env_start(nb, "GET / HTTP/1.1\r\n\r\n", 18);
	cr_assert(at_bridge_span_env(name, &ans));
	cr_expect_eq(ans, NULL);
	cr_expect_eq(qm.m[3], 0);
	cr_expect_eq(qm.m[7], AT_BRIDGE_SPAN_BAD_HEAD);
	cr_expect(qm.m[2] & AT_BRIDGE_SPAN_ANSWERED);
	cr_expect_eq(QUEUE[0], 0);
	cr_expect_eq(ut_take_spans(r, 2), 1);
}

/* Names that are not the bound buffer's STARTs are not the library's:
 * getenv looks them up as without it, and the buffer is left as it was
 * (a name of another length than the head: [7] says to write it). */
Test(bridge_span, env_names_not_answered)
{
	char *ans = NULL;
	int32_t nb;
	const char *name;

	name = env_start(1, head, (int32_t)strlen(head));
	cr_expect(!at_bridge_span_env(name, &ans), "nothing bound yet");
	cr_expect(!at_bridge_span_env("PATH", &ans));
	nb = bind_qm();
	cr_expect(!at_bridge_span_env(env_start(nb + 1, head,
						(int32_t)strlen(head)), &ans),
		  "another number");
	cr_expect(!at_bridge_span_env(AT_BRIDGE_SPAN_ENV_PREFIX, &ans));
	/* Not a START in name. */
	name = env_start(nb, head, (int32_t)strlen(head));
	qm.m[2] = AT_BRIDGE_SPAN_START | AT_BRIDGE_SPAN_WITH_ENDS;
	cr_expect(!at_bridge_span_env(name, &ans));
	cr_expect_eq(qm.m[3], 0);
	/* The head as the bridge has it is longer (a character past ASCII
	 * that the runtime wrote in two bytes is one for the bridge), or
	 * shorter. */
	queue_end(77, 200, 1);
	for (int d = -1; d <= 1; d += 2) {
		name = env_start(nb, head, (int32_t)strlen(head) + d);
		cr_expect(!at_bridge_span_env(name, &ans));
		cr_expect_eq(qm.m[7], AT_BRIDGE_SPAN_RESEND);
		cr_expect_eq(qm.m[2], AT_BRIDGE_SPAN_START |
				      AT_BRIDGE_SPAN_WITH_ENDS |
				      AT_BRIDGE_SPAN_IN_NAME);
		cr_expect_eq(qm.m[3], 0);
		cr_expect_eq(QUEUE[0], 1, "the queue waits for the write");
	}
	QUEUE[0] = 0;
	/* A second BIND on the thread replaces the first. */
	int32_t nb2 = bind_qm();
	cr_expect_neq(nb2, nb);
	cr_expect(!at_bridge_span_env(env_start(nb, head,
						(int32_t)strlen(head)), &ans));
	cr_expect(at_bridge_span_env(env_start(nb2, head,
					       (int32_t)strlen(head)), &ans));
	cr_expect_gt(qm.m[3], 0);
}

/* BIND needs a queue and room for an answer. */
Test(bridge_span, bind_needs_a_queue_and_room)
{
	struct iovec v = { qm.b, 32 + 64 + AT_BRIDGE_SPAN_ENDS_BYTES };

	memcpy(qm.b, AT_BRIDGE_SPAN_MAGIC, 8);
	qm.m[2] = AT_BRIDGE_SPAN_BIND;
	v.iov_len = QLEN;
	cr_expect_eq(at_bridge_span_message(&v, 1, QLEN), -1, "no queue");
	qm.m[2] = AT_BRIDGE_SPAN_BIND | AT_BRIDGE_SPAN_WITH_ENDS;
	v.iov_len = 32 + 64 + AT_BRIDGE_SPAN_ENDS_BYTES;
	cr_expect_eq(at_bridge_span_message(&v, 1, v.iov_len), -1,
		     "no room for an answer");
}
