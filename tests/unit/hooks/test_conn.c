/*
 * Unit tests of the connection state machine (hooks/libc/at_conn.c),
 * driven the way the socket hooks drive it, with a fake kernel: the real
 * sendmsg(), send() and write() pointers (at_real_sendmsg and the others,
 * which at_conn sends everything with: one buffer with send() or write(),
 * several with sendmsg()) point at a function that records the bytes and
 * accepts a scripted number of them, or fails with a scripted errno.  The
 * descriptor is one end of a real socketpair, so the identity checks
 * (fstat) see a socket.  Spans are read back from the thread's ring.
 *
 * Each case checks the three promises of at_conn.h: the bytes the peer
 * gets are the program's plus the injected line (byte for byte), the
 * counts the program sees add up to its bytes and never exceed what it
 * asked for, and the spans end when their response is complete.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "at_clock.h"
#include "at_conn.h"
#include "at_real.h"
#include "at_traceparent.h"
#include "unit.h"
#include "ut_spans.h"

/* ---- the fake kernel ---- */

#define WIRE_MAX 65536
#define SCRIPT_MAX 4096
#define ACCEPT_ALL 0x7fffffff

static char wire[WIRE_MAX];
static size_t wire_len;
/* Per call: >= 0 accept at most that many bytes; < 0 fail with -errno. */
static long script[SCRIPT_MAX];
static int n_script, at_script, n_calls;
static ssize_t (*saved_sendmsg)(int, const struct msghdr *, int);

/* Read by a reader thread as soon as the request is out (inside the real
 * send: before the sending thread's hook returns), if not NULL. */
static const char *answer_inside;
static int answer_inside_err;

static void answer_now(int fd)
{
	struct iovec v = { (void *)answer_inside,
			   answer_inside ? strlen(answer_inside) : 0 };

	answer_inside = NULL;
	at_conn_received(fd, &v, 1, answer_inside_err ? -1 : (ssize_t)v.iov_len,
			 answer_inside_err);
}

static ssize_t fake_sendmsg(int fd, const struct msghdr *m, int flags)
{
	long lim = at_script < n_script ? script[at_script++] : ACCEPT_ALL;
	size_t done = 0;

	(void)fd;
	(void)flags;
	n_calls++;
	if (lim < 0) {
		errno = (int)-lim;
		return -1;
	}
	for (size_t i = 0; i < m->msg_iovlen && done < (size_t)lim; i++) {
		size_t take = m->msg_iov[i].iov_len;
		if (take > (size_t)lim - done)
			take = (size_t)lim - done;
		cr_assert_leq(wire_len + take, sizeof(wire));
		memcpy(wire + wire_len, m->msg_iov[i].iov_base, take);
		wire_len += take;
		done += take;
	}
	if (answer_inside)
		answer_now(fd);
	return (ssize_t)done;
}

static ssize_t fake_send(int fd, const void *buf, size_t len, int flags)
{
	struct iovec v = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &v, .msg_iovlen = 1 };

	return fake_sendmsg(fd, &m, flags);
}

static ssize_t fake_write(int fd, const void *buf, size_t len)
{
	return fake_send(fd, buf, len, 0);
}

static ssize_t (*saved_send)(int, const void *, size_t, int);
static ssize_t (*saved_write)(int, const void *, size_t);

static void kernel_script(const long *s, int n)
{
	memcpy(script, s, (size_t)n * sizeof(*s));
	n_script = n;
	at_script = 0;
}

/* ---- the program's side ---- */

static int sv[2];
static int fd;

/* A client connection to 127.0.0.1:8080, as connect() makes it: the
 * connect span started detached, the real call returned rc (errno err). */
static void client_connect(int rc, int err)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(8080) };
	static struct at_span fallback;
	struct at_span *s;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	at_conn_socket(fd, AF_INET, SOCK_STREAM);
	s = at_conn_connect_begin(fd, (struct sockaddr *)&sa, &fallback);
	cr_assert_neq(s, &fallback, "the connection has a state");
	at_span_start_detached(s, "connect", 7, AT_KIND_CLIENT);
	at_conn_connect_end(fd, s, rc, err);
}

/* ... and connected. */
static void client_open(void)
{
	client_connect(0, 0);
}

/* Forget the connection setup() made; start again with nothing. */
static void start_over(void)
{
	at_conn_forget(fd);
	ut_drain_ring();
}

static void setup(void)
{
	ut_core_setup();
	ut_drain_ring();
	at_span_set_env_parent(NULL, NULL, 0);
	cr_assert_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	fd = sv[0];
	saved_sendmsg = at_real_sendmsg;
	at_real_sendmsg = fake_sendmsg;
	saved_send = AT_REAL(send);
	at_real_send = fake_send;
	saved_write = AT_REAL(write);
	at_real_write = fake_write;
	wire_len = 0;
	n_script = at_script = n_calls = 0;
	client_open();
}

static void teardown(void)
{
	at_conn_forget(fd);
	at_real_sendmsg = saved_sendmsg;
	at_real_send = saved_send;
	at_real_write = saved_write;
	close(sv[0]);
	close(sv[1]);
	ut_drain_ring();
}

TestSuite(conn, .init = setup, .fini = teardown);

/*
 * The program writes iov until all of it is out, as a program with a
 * write loop does: retrying after EAGAIN and EINTR, going on after a
 * short count.  Checks each count; returns how many calls it took.
 */
static int program_send(const struct iovec *iov, int n)
{
	struct iovec v[16];
	size_t total = 0;
	int calls = 0;

	cr_assert_leq(n, 16);
	memcpy(v, iov, (size_t)n * sizeof(*iov));
	for (int i = 0; i < n; i++)
		total += iov[i].iov_len;
	while (total > 0) {
		ssize_t w = at_conn_send(fd, v, n, 0);

		cr_assert_lt(++calls, 10000, "the program makes progress");
		if (w < 0) {
			cr_assert(errno == EAGAIN || errno == EINTR,
				  "the kernel's errno: %d", errno);
			continue;
		}
		cr_assert_gt(w, 0, "never 0 for a non-empty send");
		cr_assert_leq((size_t)w, total, "never more than asked");
		total -= (size_t)w;
		for (int i = 0; i < n && w > 0; i++) {
			size_t t = v[i].iov_len < (size_t)w ? v[i].iov_len
							    : (size_t)w;
			v[i].iov_base = (char *)v[i].iov_base + t;
			v[i].iov_len -= t;
			w -= (ssize_t)t;
		}
	}
	return calls;
}

static int send_str(const char *s)
{
	struct iovec v = { (void *)s, strlen(s) };
	return program_send(&v, 1);
}

static void receive_str(const char *s)
{
	struct iovec v = { (void *)s, strlen(s) };
	at_conn_received(fd, &v, 1, (ssize_t)v.iov_len, 0);
}

/* ---- the spans ---- */

/* The line injected for span r, ending with eol. */
static void line_for(const struct rec *r, const char *eol, char *out,
		     size_t cap)
{
	char tp[AT_TRACEPARENT_LEN + 1];

	at_traceparent_format(&r->u.h.ctx, tp);
	snprintf(out, cap, "traceparent: %s%s", tp, eol);
}

/* head with line inserted before its blank line (the last eol). */
static void with_line(const char *head, const char *line, const char *eol,
		      char *out, size_t cap)
{
	size_t at = strlen(head) - strlen(eol);
	snprintf(out, cap, "%.*s%s%s", (int)at, head, line, eol);
}

static void assert_wire(const char *want)
{
	cr_assert_eq(wire_len, strlen(want), "wire: %zu bytes, want %zu",
		     wire_len, strlen(want));
	cr_assert_eq(memcmp(wire, want, wire_len), 0, "wire: %.*s",
		     (int)wire_len, wire);
}

/* The request span (and the connect span, its child) after one request
 * and its response: returns the request span in *req. */
static void one_exchange(struct rec *req)
{
	struct rec spans[4];
	int n = ut_take_spans(spans, 4);
	int ri = -1, ci = -1;

	cr_assert_eq(n, 2, "connect and request spans: %d", n);
	for (int i = 0; i < n; i++) {
		if (ut_has_name(&spans[i], "connect"))
			ci = i;
		else
			ri = i;
	}
	cr_assert(ci >= 0 && ri >= 0);
	cr_assert_eq(memcmp(spans[ci].u.h.parent_span_id,
			    spans[ri].u.h.ctx.span_id, 8), 0,
		     "connect is the request's child");
	*req = spans[ri];
}

static const char HEAD[] = "GET /a HTTP/1.1\r\nHost: example.test\r\n\r\n";
static const char RESP[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/* The program sent head (whatever the calls): answer it, and check the
 * peer got head with the request span's line (ending with eol). */
static void answer_and_check_line(const char *head, const char *eol)
{
	struct rec req;
	char line[128], want[512];

	receive_str(RESP);
	one_exchange(&req);
	line_for(&req, eol, line, sizeof(line));
	with_line(head, line, eol, want, sizeof(want));
	assert_wire(want);
}

/* ---- cases ---- */

Test(conn, whole_head_gets_the_line_before_the_blank_line)
{
	struct rec req;
	char line[128], want[512];

	cr_assert_eq(send_str(HEAD), 1);
	cr_assert_eq(ut_take_spans(&req, 1), 1, "connect ended by the request");
	receive_str(RESP);
	/* The connect span was handed to the request; the ring now holds the
	 * request span. */
	cr_assert_eq(ut_take_spans(&req, 1), 1);
	cr_assert(ut_has_name(&req, "GET"));
	cr_assert_eq(req.u.h.kind, AT_KIND_CLIENT);
	cr_assert_eq(ut_int_attr(&req, "http.response.status_code"), 200);
	line_for(&req, "\r\n", line, sizeof(line));
	with_line(HEAD, line, "\r\n", want, sizeof(want));
	assert_wire(want);
}

/*
 * Every way the kernel can cut the injected send: the first call accepts
 * k bytes (k from 1 to the whole wire), the rest goes on the next ones.
 */
Test(conn, every_partial_count_maps_back_to_the_program)
{
	for (long k = 1; k < 120; k++) {
		struct rec spans[4];
		char line[128], want[512];
		long s[2] = { k, ACCEPT_ALL };
		int n;

		teardown();
		setup();
		kernel_script(s, 2);
		send_str(HEAD);
		receive_str(RESP);
		n = ut_take_spans(spans, 4);
		cr_assert_eq(n, 2);
		line_for(ut_has_name(&spans[0], "GET") ? &spans[0] : &spans[1],
			 "\r\n", line, sizeof(line));
		with_line(HEAD, line, "\r\n", want, sizeof(want));
		assert_wire(want);
		if (k >= (long)strlen(want))
			break;
	}
}

Test(conn, byte_by_byte_kernel)
{
	struct rec spans[4];
	char line[128], want[512];
	static long s[SCRIPT_MAX];
	int calls, n;

	for (int i = 0; i < SCRIPT_MAX; i++)
		s[i] = 1;
	kernel_script(s, SCRIPT_MAX);
	calls = send_str(HEAD);
	cr_assert_eq(calls, (int)strlen(HEAD),
		     "one program byte per call: the line's bytes are "
		     "retried inside the call");
	receive_str(RESP);
	n = ut_take_spans(spans, 4);
	cr_assert_eq(n, 2);
	line_for(ut_has_name(&spans[0], "GET") ? &spans[0] : &spans[1], "\r\n",
		 line, sizeof(line));
	with_line(HEAD, line, "\r\n", want, sizeof(want));
	assert_wire(want);
}

Test(conn, eagain_and_eintr_are_the_programs)
{
	size_t at = strlen(HEAD) - 2;
	/* Part of the head, EAGAIN, EINTR, into the line, EAGAIN inside the
	 * line, then the rest. */
	long s[] = { 7, -EAGAIN, -EINTR, (long)(at - 7) + 5, -EAGAIN,
		     ACCEPT_ALL };
	struct iovec v = { (void *)HEAD, strlen(HEAD) };
	ssize_t w;

	kernel_script(s, 6);
	w = at_conn_send(fd, &v, 1, 0);
	cr_assert_eq(w, 7);
	v.iov_base = (char *)v.iov_base + 7;
	v.iov_len -= 7;
	errno = 0;
	cr_assert_eq(at_conn_send(fd, &v, 1, 0), -1);
	cr_assert_eq(errno, EAGAIN);
	cr_assert_eq(at_conn_send(fd, &v, 1, 0), -1);
	cr_assert_eq(errno, EINTR);
	w = at_conn_send(fd, &v, 1, 0);
	cr_assert_eq(w, (ssize_t)(at - 7), "stops inside the line: counts "
		     "the program's bytes before it");
	v.iov_base = (char *)v.iov_base + w;
	v.iov_len -= (size_t)w;
	cr_assert_eq(at_conn_send(fd, &v, 1, 0), -1);
	cr_assert_eq(errno, EAGAIN, "the kernel's EAGAIN, line unfinished");
	cr_assert_eq(at_conn_send(fd, &v, 1, 0), 2, "the blank line");
	answer_and_check_line(HEAD, "\r\n");
}

Test(conn, iovecs_with_the_blank_line_across_them)
{
	const char *a = "GET /a HTTP/1.1\r\nHo", *b = "st: example.test\r\n\r",
		   *c = "\n";
	struct iovec v[3] = { { (void *)a, strlen(a) },
			      { (void *)b, strlen(b) },
			      { (void *)c, strlen(c) } };

	cr_assert_eq(program_send(v, 3), 1);
	answer_and_check_line(HEAD, "\r\n");
}

Test(conn, head_split_across_calls)
{

	send_str("GET /a HTTP/1.1\r\nHo");
	cr_assert_eq(wire_len, strlen("GET /a HTTP/1.1\r\nHo"),
		     "a piece of a head goes out at once");
	send_str("st: example.test\r\n\r\n");
	answer_and_check_line(HEAD, "\r\n");
}

Test(conn, blank_line_split_between_cr_and_lf_gets_no_line)
{
	struct rec req;
	char head[] = "GET /a HTTP/1.1\r\nHost: example.test\r\n\r";

	send_str(head);
	send_str("\n");
	receive_str(RESP);
	one_exchange(&req);
	cr_assert(ut_has_name(&req, "GET"), "the span is still made");
	assert_wire(HEAD);
}

Test(conn, head_with_its_own_traceparent)
{
	struct rec req;
	const char *head =
		"GET /a HTTP/1.1\r\nHost: example.test\r\ntraceparent: "
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		"\r\n\r\n";
	static const uint8_t tid[16] = { 0x0a, 0xf7, 0x65, 0x19, 0x16, 0xcd,
					 0x43, 0xdd, 0x84, 0x48, 0xeb, 0x21,
					 0x1c, 0x80, 0x31, 0x9c };
	static const uint8_t pid[8] = { 0xb7, 0xad, 0x6b, 0x71,
					0x69, 0x20, 0x33, 0x31 };

	send_str(head);
	receive_str(RESP);
	one_exchange(&req);
	assert_wire(head);
	cr_assert_eq(memcmp(req.u.h.ctx.trace_id, tid, 16), 0);
	cr_assert_eq(memcmp(req.u.h.parent_span_id, pid, 8), 0);
	cr_assert(req.u.h.parent_is_remote);
}

Test(conn, bare_lf_head_gets_a_bare_lf_line)
{
	const char *head = "GET /a HTTP/1.1\nHost: example.test\n\n";

	send_str(head);
	answer_and_check_line(head, "\n");
}

Test(conn, mixed_line_endings_get_no_line)
{
	struct rec req;
	const char *head = "GET /a HTTP/1.1\nHost: example.test\r\n\r\n";

	send_str(head);
	receive_str(RESP);
	one_exchange(&req);
	assert_wire(head);
}

Test(conn, connect_tunnel_then_plain_http_inside)
{
	struct rec spans[4], *req;
	char line[128], want[1024], inner[512];
	const char *conn_head =
		"CONNECT example.test:80 HTTP/1.1\r\nHost: example.test:80"
		"\r\n\r\n";
	int n;

	send_str(conn_head);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "the connect span, alone");
	cr_assert(ut_has_name(&spans[0], "connect"));
	receive_str("HTTP/1.1 200 Connection established\r\n\r\n");
	cr_assert_eq(ut_take_spans(spans, 4), 0, "no span for a CONNECT");
	/* Plain HTTP in the tunnel: traced like any connection. */
	send_str(HEAD);
	receive_str(RESP);
	n = ut_take_spans(spans, 4);
	cr_assert_eq(n, 1);
	req = &spans[0];
	cr_assert(ut_has_name(req, "GET"));
	line_for(req, "\r\n", line, sizeof(line));
	with_line(HEAD, line, "\r\n", inner, sizeof(inner));
	snprintf(want, sizeof(want), "%s%s", conn_head, inner);
	assert_wire(want);
}

Test(conn, pipelined_requests_each_get_their_line)
{
	struct rec spans[4];
	const char *h2 = "GET /b HTTP/1.1\r\nHost: example.test\r\n\r\n";
	char both[256], l1[128], l2[128], w1[512], w2[512], want[1024];
	struct iovec v;
	ssize_t w;
	int n, i1, i2;

	snprintf(both, sizeof(both), "%s%s", HEAD, h2);
	v.iov_base = both;
	v.iov_len = strlen(both);
	w = at_conn_send(fd, &v, 1, 0);
	cr_assert_eq(w, (ssize_t)strlen(HEAD), "cut at the second head");
	send_str(both + w);
	/* Both responses in one read: both spans end, in order. */
	receive_str("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
		    "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
	n = ut_take_spans(spans, 4);
	cr_assert_eq(n, 3, "connect + 2 requests: %d", n);
	i1 = ut_has_name(&spans[0], "connect") ? 1 : 0;
	i2 = 2;
	cr_assert_eq(ut_int_attr(&spans[i1], "http.response.status_code"), 200);
	cr_assert_eq(ut_int_attr(&spans[i2], "http.response.status_code"), 404);
	cr_assert_eq(spans[i2].u.h.status_code, AT_STATUS_ERROR);
	line_for(&spans[i1], "\r\n", l1, sizeof(l1));
	line_for(&spans[i2], "\r\n", l2, sizeof(l2));
	with_line(HEAD, l1, "\r\n", w1, sizeof(w1));
	with_line(h2, l2, "\r\n", w2, sizeof(w2));
	snprintf(want, sizeof(want), "%s%s", w1, w2);
	assert_wire(want);
}

Test(conn, request_body_passes_unchanged)
{
	struct rec req;
	char line[128], want[512];
	const char *head = "POST /p HTTP/1.1\r\nHost: example.test\r\n"
			   "Content-Length: 11\r\n\r\n";
	char msg[256];
	long s[] = { 10, ACCEPT_ALL };

	snprintf(msg, sizeof(msg), "%shello world", head);
	kernel_script(s, 2);
	send_str(msg);
	receive_str(RESP);
	one_exchange(&req);
	cr_assert(ut_has_name(&req, "POST"));
	line_for(&req, "\r\n", line, sizeof(line));
	with_line(head, line, "\r\n", want, sizeof(want));
	strcat(want, "hello world");
	assert_wire(want);
}

Test(conn, response_framing_ends_spans)
{
	struct rec spans[4];
	struct iovec v = { 0 };

	/* Content-Length, the body split across reads. */
	send_str(HEAD);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "the connect span");
	receive_str("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab");
	cr_assert_eq(ut_take_spans(spans, 4), 0, "body incomplete: still open");
	receive_str("cde");
	cr_assert_eq(ut_take_spans(spans, 4), 1);

	/* Chunked. */
	send_str(HEAD);
	receive_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3\r\nabc\r\n");
	cr_assert_eq(ut_take_spans(spans, 4), 0, "chunks still to come");
	receive_str("0\r\n\r\n");
	cr_assert_eq(ut_take_spans(spans, 4), 1);

	/* Delimited by the close: ends at EOF. */
	send_str(HEAD);
	receive_str("HTTP/1.1 200 OK\r\n\r\nsome body");
	cr_assert_eq(ut_take_spans(spans, 4), 0, "open until EOF");
	at_conn_received(fd, &v, 1, 0, 0);
	cr_assert_eq(ut_take_spans(spans, 4), 1);
	cr_assert_eq(ut_int_attr(&spans[0], "http.response.status_code"), 200);

	/* A read error other than EAGAIN ends it with the error. */
	send_str(HEAD);
	at_conn_received(fd, &v, 1, -1, EAGAIN);
	cr_assert_eq(ut_take_spans(spans, 4), 0, "EAGAIN: still waiting");
	at_conn_received(fd, &v, 1, -1, ECONNRESET);
	cr_assert_eq(ut_take_spans(spans, 4), 1);
	cr_assert_not_null(ut_attr(&spans[0], "error.type"));
}

/*
 * The span is described after its head went out; a reader thread that
 * sees the response before the sending thread is done (here: inside the
 * real send) leaves the end to it: one span, with its attributes, the
 * status (or the read error) and the end the reader saw.
 */
Test(conn, response_read_before_the_sender_described_its_span)
{
	struct rec spans[4];
	uint64_t before;

	send_str(HEAD);
	receive_str(RESP);
	cr_assert_eq(ut_take_spans(spans, 4), 2, "connect and the first");

	answer_inside = RESP;
	answer_inside_err = 0;
	before = at_unix_from_mono(at_mono_ns());
	cr_assert_eq(send_str(HEAD), 1);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "ended once, by the sender");
	cr_assert(ut_has_name(&spans[0], "GET"));
	cr_assert(ut_str_is(&spans[0], "url.full", "http://example.test/a"));
	cr_assert(ut_str_is(&spans[0], "server.address", "example.test"));
	cr_assert_eq(ut_int_attr(&spans[0], "http.response.status_code"), 200);
	cr_assert_geq(spans[0].u.h.end_unix_ns, spans[0].u.h.start_unix_ns);
	cr_assert_geq(spans[0].u.h.end_unix_ns + 1000000, before);

	/* The next request on the connection is as usual. */
	send_str(HEAD);
	receive_str(RESP);
	cr_assert_eq(ut_take_spans(spans, 4), 1);
	cr_assert_eq(ut_int_attr(&spans[0], "http.response.status_code"), 200);

	/* A read error seen meanwhile. */
	answer_inside = "";
	answer_inside_err = ECONNRESET;
	cr_assert_eq(send_str(HEAD), 1);
	answer_inside_err = 0;
	cr_assert_eq(ut_take_spans(spans, 4), 1);
	cr_assert(ut_str_is(&spans[0], "error.type", "ECONNRESET"));
	cr_assert(ut_str_is(&spans[0], "url.full", "http://example.test/a"));
}

Test(conn, not_http_passes_untouched)
{
	static const char tls[] = "\x16\x03\x01\x00\x05hello\r\n\r\n";
	struct rec spans[4];
	long s[] = { 3, ACCEPT_ALL };

	kernel_script(s, 2);
	send_str(tls);
	assert_wire(tls);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "the connect span, as it is");
	cr_assert(ut_has_name(&spans[0], "connect"));
	cr_assert_null(ut_attr(&spans[0], "http.request.method"));
}

/* The response head goes out in two writes (the kernel takes 20 bytes
 * first): only what went out is parsed, the rest when the program sends
 * it, and the next exchange on the connection is traced as well. */
Test(conn, server_span_ends_when_the_response_is_written)
{
	struct sockaddr_in peer = { .sin_family = AF_INET,
				    .sin_port = htons(40000) };
	struct rec spans[4];
	long s[] = { 20, ACCEPT_ALL };

	start_over();
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	at_conn_socket(fd, AF_INET, SOCK_STREAM);
	at_conn_accept(-1, fd, (struct sockaddr *)&peer, sizeof(peer));
	for (int round = 0; round < 2; round++) {
		wire_len = 0;
		receive_str(HEAD);
		cr_assert_eq(ut_take_spans(spans, 4), 0,
			     "open until answered");
		kernel_script(s, 2);
		send_str(RESP);
		assert_wire(RESP);
		cr_assert_eq(ut_take_spans(spans, 4), 1, "round %d", round);
		cr_assert_eq(spans[0].u.h.kind, AT_KIND_SERVER);
		cr_assert(ut_has_name(&spans[0], "GET"));
		cr_assert_eq(ut_int_attr(&spans[0],
					 "http.response.status_code"), 200);
	}
}

/*
 * A server span gets its request's attributes as its response goes out,
 * from a copy of the request head: the program may have reused its
 * buffer meanwhile.  A connection closed before the response ends the
 * span with them too.
 */
Test(conn, server_span_described_from_its_head_when_answered)
{
	struct sockaddr_in peer = { .sin_family = AF_INET,
				    .sin_port = htons(40000) };
	static const char req[] = "GET /p/q?x=1 HTTP/1.1\r\nHost: h.test:81\r\n"
				  "User-Agent: ua/1\r\n\r\n";
	char buf[sizeof(req)];
	struct iovec v = { buf, sizeof(req) - 1 };
	struct rec spans[4];

	start_over();
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	at_conn_socket(fd, AF_INET, SOCK_STREAM);
	at_conn_accept(-1, fd, (struct sockaddr *)&peer, sizeof(peer));
	for (int round = 0; round < 2; round++) {
		memcpy(buf, req, sizeof(req));
		at_conn_received(fd, &v, 1, (ssize_t)v.iov_len, 0);
		memset(buf, 'z', sizeof(buf)); /* the program reuses it */
		if (round == 0)
			send_str(RESP);
		else
			at_conn_forget(fd); /* closed before any answer */
		cr_assert_eq(ut_take_spans(spans, 4), 1, "round %d", round);
		cr_assert(ut_has_name(&spans[0], "GET"));
		cr_assert(ut_str_is(&spans[0], "http.request.method", "GET"));
		cr_assert(ut_str_is(&spans[0], "url.path", "/p/q"));
		cr_assert(ut_str_is(&spans[0], "url.query", "x=REDACTED"));
		cr_assert(ut_str_is(&spans[0], "server.address", "h.test"));
		cr_assert_eq(ut_int_attr(&spans[0], "server.port"), 81);
		cr_assert(ut_str_is(&spans[0], "client.address", "127.0.0.1"));
		cr_assert(ut_str_is(&spans[0], "user_agent.original", "ua/1"));
		cr_assert(ut_str_is(&spans[0], "network.protocol.version",
				    "1.1"));
		if (round == 0)
			cr_assert_eq(ut_int_attr(&spans[0],
						 "http.response.status_code"),
				     200);
		else
			cr_assert_null(ut_attr(&spans[0],
					       "http.response.status_code"));
	}
}

/* A head longer than a kept copy: its attributes are set as it is read. */
Test(conn, long_server_head_described_at_once)
{
	struct sockaddr_in peer = { .sin_family = AF_INET,
				    .sin_port = htons(40000) };
	static char req[4096];
	struct rec spans[4];
	int n;

	start_over();
	peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	at_conn_socket(fd, AF_INET, SOCK_STREAM);
	at_conn_accept(-1, fd, (struct sockaddr *)&peer, sizeof(peer));
	n = snprintf(req, sizeof(req),
		     "GET /long HTTP/1.1\r\nHost: h.test\r\nX-Pad: %03000d\r\n\r\n",
		     7);
	receive_str(req);
	memset(req, 'z', (size_t)n);
	send_str(RESP);
	cr_assert_eq(ut_take_spans(spans, 4), 1);
	cr_assert(ut_str_is(&spans[0], "url.path", "/long"));
	cr_assert(ut_str_is(&spans[0], "server.address", "h.test"));
	cr_assert_eq(ut_int_attr(&spans[0], "http.response.status_code"), 200);
}

/* A readv()/recvmsg() fills its buffer in part: the bytes past the count
 * are stale, never part of the head (here they would end it early, and
 * the real rest would then look like a new message that is not HTTP). */
Test(conn, partly_filled_read_buffer_is_read_up_to_its_count)
{
	static const char got[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n";
	char buf[256];
	struct rec spans[4];
	struct iovec v = { buf, sizeof(buf) };

	send_str(HEAD);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "the connect span");
	snprintf(buf, sizeof(buf), "%sX-Stale: 1\r\n\r\n", got);
	at_conn_received(fd, &v, 1, (ssize_t)strlen(got), 0);
	cr_assert_eq(ut_take_spans(spans, 4), 0, "head incomplete: open");
	receive_str("\r\nok");
	cr_assert_eq(ut_take_spans(spans, 4), 1, "head and body complete");
	/* The connection is still followed. */
	send_str(HEAD);
	receive_str(RESP);
	cr_assert_eq(ut_take_spans(spans, 4), 1, "the next exchange too");
}

Test(conn, failed_connect_ends_its_span_with_the_error)
{
	struct rec spans[2];

	start_over();
	client_connect(-1, ECONNREFUSED);
	cr_assert_eq(ut_take_spans(spans, 2), 1, "ended at once");
	cr_assert(ut_has_name(&spans[0], "connect"));
	cr_assert(ut_str_is(&spans[0], "error.type", "ECONNREFUSED"));
	cr_assert_eq(spans[0].u.h.status_code, AT_STATUS_ERROR);
}

Test(conn, nonblocking_connect_pending_until_its_outcome)
{
	struct rec spans[2];

	start_over();
	client_connect(-1, EINPROGRESS);
	cr_assert_eq(ut_take_spans(spans, 2), 0, "pending");
	at_conn_connect_outcome(fd, ETIMEDOUT);
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert(ut_str_is(&spans[0], "error.type", "ETIMEDOUT"));
	at_conn_connect_outcome(fd, 0);
	cr_assert_eq(ut_take_spans(spans, 2), 0, "ended once");
}

/* A program that exits with its connection open and unused: the kept
 * connect span goes out at exit; a fork child forgets it instead. */
Test(conn, kept_connect_span_at_exit_and_fork)
{
	struct rec spans[2];

	cr_assert_eq(ut_take_spans(spans, 2), 0, "kept for a first request");
	at_conn_after_fork_child();
	at_conn_at_exit();
	cr_assert_eq(ut_take_spans(spans, 2), 0, "the child's is the parent's");
	start_over();
	client_open();
	at_conn_at_exit();
	cr_assert_eq(ut_take_spans(spans, 2), 1);
	cr_assert(ut_has_name(&spans[0], "connect"));
}

Test(conn, upgrade_turns_the_connection_to_pass)
{
	static const char ws[] = "\x81\x05hello";
	struct rec spans[4];

	send_str("GET /ws HTTP/1.1\r\nHost: example.test\r\n"
		 "Upgrade: websocket\r\nConnection: Upgrade\r\n\r\n");
	receive_str("HTTP/1.1 101 Switching Protocols\r\n"
		    "Upgrade: websocket\r\n\r\n");
	cr_assert_eq(ut_take_spans(spans, 4), 2, "connect and request");
	wire_len = 0;
	send_str(ws);
	assert_wire(ws);
	cr_assert_eq(at_fd_io_traced(fd), 0, "I/O no longer looked at");
}
