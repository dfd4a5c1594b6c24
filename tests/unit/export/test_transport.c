/* Unit tests of the HTTP/1.1 export transport against a scripted server
 * thread on a loopback port: framing, keep-alive, reconnects, timeouts,
 * and a host that closes our socket. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_transport.h"
#include "unit.h"

enum mode { CL_200, CHUNKED, UNTIL_CLOSE, CLOSE_AFTER_EACH, BLACKHOLE,
	    RETRY_AFTER, CONTINUE_100, GARBAGE, SLOW_200, ENDLESS_TRAILER };

struct server {
	int lfd;
	uint16_t port;
	enum mode mode;
	int accepts;
	int requests;
	char last_req[4096];
	pthread_t th;
};

/* Read one request (head + Content-Length body); 0, or -1 at EOF. */
static int read_request(struct server *s, int fd)
{
	char buf[65536];
	size_t len = 0;
	char *end;
	long cl;

	for (;;) {
		ssize_t r = read(fd, buf + len, sizeof(buf) - 1 - len);
		if (r <= 0)
			return -1;
		len += (size_t)r;
		buf[len] = 0;
		if ((end = strstr(buf, "\r\n\r\n")))
			break;
	}
	char *h = strcasestr(buf, "content-length:");
	cl = h ? atol(h + 15) : 0;
	size_t have = len - (size_t)(end + 4 - buf);
	while ((long)have < cl) {
		ssize_t r = read(fd, buf, sizeof(buf));
		if (r <= 0)
			return -1;
		have += (size_t)r;
	}
	snprintf(s->last_req, sizeof(s->last_req), "%.*s",
		 (int)(end + 4 - buf), buf);
	s->requests++;
	return 0;
}

static void answer(struct server *s, int fd)
{
	const char *r;

	switch (s->mode) {
	case CHUNKED:
		r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n";
		break;
	case UNTIL_CLOSE:
		r = "HTTP/1.0 200 OK\r\n\r\nxyz";
		break;
	case RETRY_AFTER:
		r = "HTTP/1.1 503 Unavailable\r\nRetry-After: 7\r\n"
		    "Content-Length: 0\r\n\r\n";
		break;
	case CONTINUE_100:
		r = "HTTP/1.1 100 Continue\r\n\r\n"
		    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
		break;
	case GARBAGE: /* not HTTP, and the connection stays open */
		r = "-ERR unknown command\r\n";
		break;
	case SLOW_200: /* answers, but only after 300 ms */
		poll(NULL, 0, 300);
		r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
		break;
	case ENDLESS_TRAILER: /* a chunked answer whose trailers never end */
		r = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
		    "2\r\nok\r\n0\r\n";
		if (send(fd, r, strlen(r), MSG_NOSIGNAL) < 0)
			return;
		/* Up to 4 MB of trailer lines, until the client gives up. */
		r = "X-Trailer: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n";
		for (int i = 0; i < 65536; i++)
			if (send(fd, r, strlen(r), MSG_NOSIGNAL) < 0)
				return;
		return;
	default:
		r = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	}
	if (write(fd, r, strlen(r)) < 0)
		return;
}

static void *serve(void *arg)
{
	struct server *s = arg;

	for (;;) {
		int fd = accept(s->lfd, NULL, NULL);
		if (fd < 0)
			return NULL;
		__atomic_add_fetch(&s->accepts, 1, __ATOMIC_SEQ_CST);
		while (read_request(s, fd) == 0) {
			if (s->mode == BLACKHOLE)
				continue;
			answer(s, fd);
			if (s->mode == UNTIL_CLOSE ||
			    s->mode == CLOSE_AFTER_EACH)
				break;
		}
		close(fd);
	}
}

/* The server thread's accept count once it reaches n, or what it is
 * after 30 s: a client can connect and give up (the kernel completed the
 * handshake) before that thread, slow to be scheduled, calls accept(). */
static int accepts_reaching(struct server *s, int n)
{
	for (int i = 0; i < 3000 &&
			__atomic_load_n(&s->accepts, __ATOMIC_SEQ_CST) < n;
	     i++)
		poll(NULL, 0, 10);
	return __atomic_load_n(&s->accepts, __ATOMIC_SEQ_CST);
}

static void start(struct server *s, enum mode m)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);

	memset(s, 0, sizeof(*s));
	s->mode = m;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->lfd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(s->lfd, (void *)&sa, sizeof(sa)), 0);
	cr_assert_eq(listen(s->lfd, 16), 0);
	getsockname(s->lfd, (void *)&sa, &l);
	s->port = ntohs(sa.sin_port);
	pthread_create(&s->th, NULL, serve, s);
}

static struct at_endpoint ep;
static struct at_transport tr;
static struct at_transport_response resp;

static void setup_ep(uint16_t port)
{
	char url[64];
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/traces", port);
	cr_assert_eq(at_endpoint_parse(url, &ep), 0);
	at_transport_init(&tr, &ep, "X-Test: 1\r\n");
	memset(&resp, 0, sizeof(resp));
}

static uint64_t in_ms(int ms)
{
	return at_mono_ns() + (uint64_t)ms * 1000000u;
}

static const uint8_t body[] = "\x0a\x00payload";

TestSuite(transport, .init = ut_core_setup);

Test(transport, content_length_keepalive_and_headers)
{
	struct server s;

	start(&s, CL_200);
	setup_ep(s.port);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
					       in_ms(5000), &resp),
			     0);
		cr_assert_eq(resp.status, 200);
		cr_assert_eq(resp.body.len, 2);
		cr_assert_eq(memcmp(resp.body.data, "ok", 2), 0);
	}
	cr_assert_eq(s.accepts, 1, "one keep-alive connection");
	cr_assert(strstr(s.last_req, "POST /v1/traces HTTP/1.1\r\n"));
	cr_assert(strstr(s.last_req, "Content-Type: application/x-protobuf\r\n"));
	cr_assert(strstr(s.last_req, "X-Test: 1\r\n"));
	char want[64];
	snprintf(want, sizeof(want), "Host: 127.0.0.1:%u\r\n", s.port);
	cr_assert(strstr(s.last_req, want), "%s", s.last_req);
	at_transport_close(&tr);
}

Test(transport, chunked_and_until_close_and_100)
{
	struct server s;

	start(&s, CHUNKED);
	setup_ep(s.port);
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), "gzip",
				       in_ms(5000), &resp),
		     0);
	cr_assert_eq(resp.body.len, 5);
	cr_assert_eq(memcmp(resp.body.data, "abcde", 5), 0);
	cr_assert(strstr(s.last_req, "Content-Encoding: gzip\r\n"));
	s.mode = UNTIL_CLOSE;
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(5000), &resp),
		     0);
	cr_assert_eq(resp.body.len, 3);
	s.mode = CONTINUE_100;
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(5000), &resp),
		     0);
	cr_assert_eq(resp.status, 200);
	cr_assert_eq(resp.body.len, 2);
}

Test(transport, server_closing_idle_connection_is_transparent)
{
	struct server s;

	start(&s, CLOSE_AFTER_EACH);
	setup_ep(s.port);
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
					       in_ms(5000), &resp),
			     0);
		cr_assert_eq(resp.status, 200);
	}
	cr_assert_eq(s.requests, 3, "each request processed once");
}

Test(transport, refused_and_timeout)
{
	struct server s;

	/* Nothing listens on a closed port. */
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (void *)&sa, sizeof(sa));
	getsockname(fd, (void *)&sa, &l);
	close(fd);
	setup_ep(ntohs(sa.sin_port));
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(5000), &resp),
		     -ECONNREFUSED);

	start(&s, BLACKHOLE);
	setup_ep(s.port);
	uint64_t t0 = at_mono_ns();
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(300), &resp),
		     -ETIMEDOUT);
	cr_assert_lt(at_mono_ns() - t0, 5000000000ull,
		     "bounded by the deadline");
}

Test(transport, retry_after_header)
{
	struct server s;

	start(&s, RETRY_AFTER);
	setup_ep(s.port);
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(5000), &resp),
		     0);
	cr_assert_eq(resp.status, 503);
	cr_assert_eq(resp.retry_after_ms, 7000);
}

Test(transport, host_closing_our_socket)
{
	struct server s;
	char path[] = "/tmp/at-transport-XXXXXX";

	start(&s, CL_200);
	setup_ep(s.port);
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(5000), &resp),
		     0);
	int ours = tr.fd;
	cr_assert_geq(ours, 0, "connection kept");
	/* The host puts a file of its own at our descriptor's number
	 * (dup2 closes our socket on the way). */
	int file = mkstemp(path);
	cr_assert_geq(file, 0, "mkstemp: %s", strerror(errno));
	int d2 = dup2(file, ours);
	cr_assert_eq(d2, ours, "dup2(%d, %d) = %d: %s", file, ours, d2, strerror(errno));
	close(file);
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(5000), &resp),
		     0);
	cr_assert_eq(resp.status, 200);
	cr_assert_neq(tr.fd, ours);
	cr_assert_eq(lseek(ours, 0, SEEK_END), 0,
		     "nothing written into the host's file");
	cr_assert_eq(fcntl(ours, F_GETFD), 0, "host's fd left open");
	unlink(path);
}

/* A POST to a server in mode m fails with -EPROTO; how long it took
 * (the deadline is deadline_ms away). */
static uint64_t post_fails_eproto(struct server *s, enum mode m,
				  int deadline_ms)
{
	uint64_t t0;

	start(s, m);
	setup_ep(s->port);
	t0 = at_mono_ns();
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(deadline_ms), &resp),
		     -EPROTO);
	return at_mono_ns() - t0;
}

Test(transport, garbage_answer_ends_the_exchange_at_once)
{
	struct server s;

	cr_assert_lt(post_fails_eproto(&s, GARBAGE, 5000), 2000000000ull,
		     "not waited for until the deadline");
}

/* The process is exiting from exit_at on (0: not yet). */
static _Atomic uint64_t exit_at;

/* Exiting, with a minute left: only the silence bound can end a wait. */
static uint64_t test_exit_limit(void)
{
	uint64_t at = atomic_load(&exit_at), now = at_mono_ns();

	return at && now >= at ? now + 60000000000ull : 0;
}

static void *exit_soon(void *arg)
{
	(void)arg;
	atomic_store(&exit_at, at_mono_ns() + 200000000ull);
	return NULL;
}

/* A post to a silent peer (tr set up) while exiting already: given up
 * after the silence bound.  Returns the milliseconds it took. */
static uint64_t post_exiting_to_silence(void)
{
	uint64_t t0, took;

	tr.exit_limit = test_exit_limit;
	atomic_store(&exit_at, 1); /* exiting already */
	t0 = at_mono_ns();
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(10000), &resp),
		     -ETIMEDOUT);
	took = (at_mono_ns() - t0) / 1000000u;
	cr_assert_lt(took, 3000, "given up after %llu ms of silence",
		     (unsigned long long)took);
	return took;
}

/*
 * At exit, a collector that says nothing is given up after the silence
 * bound - also when the exchange started before the exit - while one
 * that answers within it is waited for; outside exit the deadline rules.
 */
Test(transport, exit_gives_up_on_silence_not_on_a_slow_answer)
{
	struct server silent, slow;
	pthread_t th;
	uint64_t t0, took;

	start(&silent, BLACKHOLE);
	setup_ep(silent.port);
	took = post_exiting_to_silence();
	cr_assert_geq(took, AT_TRANSPORT_EXIT_SILENCE_MS - 1);

	/* The exit starts while the exchange is under way. */
	setup_ep(silent.port);
	tr.exit_limit = test_exit_limit;
	atomic_store(&exit_at, 0);
	pthread_create(&th, NULL, exit_soon, NULL);
	t0 = at_mono_ns();
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(10000), &resp),
		     -ETIMEDOUT);
	took = (at_mono_ns() - t0) / 1000000u;
	pthread_join(th, NULL);
	cr_assert_lt(took, 3000, "the exit was noticed: %llu ms",
		     (unsigned long long)took);

	start(&slow, SLOW_200);
	setup_ep(slow.port);
	tr.exit_limit = test_exit_limit;
	atomic_store(&exit_at, 1);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
					       in_ms(10000), &resp),
			     0, "an answer after 300 ms is waited for");
		cr_assert_eq(resp.status, 200);
	}
}

/*
 * Regression: the transport read a chunked answer's trailer section
 * without a limit (until the deadline, holding all of it).  With the
 * library's chunked decoder it is at most AT_HTTP_HEAD_MAX bytes: the
 * exchange ends at once as a protocol error, long before the deadline.
 */
Test(transport, endless_chunked_trailer_is_a_protocol_error)
{
	struct server s;

	cr_assert_lt(post_fails_eproto(&s, ENDLESS_TRAILER, 20000),
		     10000000000ull, "well before the deadline");
	cr_assert_lt(tr.in.cap, (size_t)1 << 20, "the trailers were not kept");
}

/* https: setup_ep with the https scheme. */
static void setup_https(uint16_t port, const struct at_tls_files *files)
{
	char url[64];
	snprintf(url, sizeof(url), "https://127.0.0.1:%u/v1/traces", port);
	cr_assert_eq(at_endpoint_parse(url, &ep), 0);
	cr_assert_eq(ep.tls, 1);
	at_transport_init(&tr, &ep, "");
	tr.tls_files = files;
	memset(&resp, 0, sizeof(resp));
}

/* A TLS peer that takes the ClientHello and never answers: the
 * handshake is bounded like any exchange (deadline, exit silence). */
Test(transport, https_silent_peer_is_bounded)
{
	struct server s;
	uint64_t t0;

	start(&s, BLACKHOLE);
	setup_https(s.port, NULL);
	t0 = at_mono_ns();
	cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
				       in_ms(300), &resp),
		     -ETIMEDOUT);
	cr_assert_lt(at_mono_ns() - t0, 5000000000ull,
		     "bounded by the deadline");
	cr_assert_eq(accepts_reaching(&s, 1), 1, "it connected");
	cr_assert_eq(tr.fd, -1, "and closed");

	setup_https(s.port, NULL);
	post_exiting_to_silence();
}

/* TLS settings that do not load fail before any connection, the same
 * way each time, with the detail. */
Test(transport, https_bad_settings_fail_before_connecting)
{
	static const struct at_tls_files missing = {
		.ca_file = "/nonexistent/autotrace-ca.pem"
	};
	struct server s;

	start(&s, CL_200);
	setup_https(s.port, &missing);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(at_transport_post(&tr, body, sizeof(body), NULL,
					       in_ms(5000), &resp),
			     AT_TLS_ESETUP);
		cr_assert(at_tls_error_final(AT_TLS_ESETUP));
		cr_assert_not_null(strstr(at_tls_error(), "CA file"), "%s",
				   at_tls_error());
	}
	cr_assert_eq(s.accepts, 0, "no connection for nothing");
	cr_assert_eq(tr.fd, -1);
}
