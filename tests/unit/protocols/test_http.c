/*
 * test_http.c - HTTP/1.x parsing: message recognition, request and
 * response heads, body framing (chunked in every split), url.full /
 * url.path / url.query / server.address values.
 *
 * The real-client heads are written out the way the clients send them
 * (curl 7.88, Python 3.11 urllib, nginx proxy_pass with its defaults,
 * Node's http module with its default keep-alive agent).  The guard-page
 * test places every prefix of several inputs at the very end of a
 * readable page followed by a PROT_NONE page: any read past the given
 * length crashes the test.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "at_http.h"

#define TP1 "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
#define TP2 "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"

static int parse_req(const char *s, struct at_http_request *r)
{
	return at_http_parse_request(s, strlen(s), r);
}

static int parse_resp(const char *s, struct at_http_response *r)
{
	return at_http_parse_response(s, strlen(s), r);
}

static int str_is(struct at_http_str s, const char *want)
{
	if (want == NULL)
		return s.p == NULL && s.len == 0;
	return s.p != NULL && s.len == strlen(want) &&
	       memcmp(s.p, want, s.len) == 0;
}

#define expect_str(s, want)                                               \
	cr_expect(str_is(s, want), "%s: got \"%.*s\" (%s), want \"%s\"", #s, \
		  (int)(s).len, (s).p ? (s).p : "", (s).p ? "set" : "NULL",  \
		  (want) ? (want) : "(absent)")

/* ---- recognising a message start ---- */

static int req_start(const char *s)
{
	return at_http_request_start(s, strlen(s));
}

Test(http, request_start_plausible)
{
	static const char *const yes[] = {
		"GET / HTTP/1.1\r\n", "GET /", "POST /api", "OPTIONS *",
		"OPTIONS * HTTP/1.1", "GET http://example.com/",
		"GET https://", "GET ws://x", "CONNECT example.com:443",
		"CONNECT [::1]:443", "CONNECT /", "M-SEARCH * HTTP/1.1",
		"PROPFIND /dav", "X_Y /", "ABCDEFGHIJKLMNOP /",
		"PRI * HTTP/2.0",
	};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_expect_eq(req_start(yes[i]), 1, "\"%s\"", yes[i]);
}

Test(http, request_start_need_more)
{
	static const char *const more[] = {
		"", "G", "GE", "GET", "GET ", "GET h", "GET http",
		"GET http:", "GET http:/", "CONNECT ", "ABCDEFGHIJKLMNOP",
		"M-SEARCH", "GET svn+ssh:/", "GET x",
	};

	for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++)
		cr_expect_eq(req_start(more[i]), 0, "\"%s\"", more[i]);
	cr_expect_eq(at_http_request_start(NULL, 0), 0);
}

Test(http, request_start_not_http)
{
	static const char *const no[] = {
		"get /", "Get /", "GET  /", "GET\t/", " GET /", "GET x ",
		"GET http:x", "GET http:/x", "GET 1http://",
		"GET example.com:80",
		"ABCDEFGHIJKLMNOPQ /", "ABCDEFGHIJKLMNOPQ", "1GET /",
		"G.T /", "\x16\x03\x01\x02\x00", "SSH-2.0-OpenSSH_9.2",
		"HTTP/1.1 200 OK", "GET \x01", "GET \xff", "{\"a\":1}",
		"\r\nGET / HTTP/1.1", "CONNECT @x", "GET ?x",
	};

	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_expect_eq(req_start(no[i]), -1, "\"%s\"", no[i]);
}

/* Every prefix of something plausible is plausible or "need more". */
Test(http, request_start_prefixes)
{
	static const char *const heads[] = {
		"GET /x HTTP/1.1\r\n",
		"CONNECT example.com:443 HTTP/1.1\r\n",
		"GET http://example.com/ HTTP/1.1\r\n",
		"OPTIONS * HTTP/1.1\r\n",
	};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		size_t len = strlen(heads[i]);
		int seen_one = 0;

		for (size_t k = 0; k <= len; k++) {
			int v = at_http_request_start(heads[i], k);

			cr_expect(v == 0 || v == 1, "%s[%zu]: %d", heads[i], k,
				  v);
			if (seen_one)
				cr_expect_eq(v, 1, "%s[%zu]", heads[i], k);
			seen_one |= v == 1;
		}
		cr_expect(seen_one);
	}
}

Test(http, response_start)
{
	static const char *const yes[] = {
		"HTTP/1.1 200", "HTTP/1.1 200 OK\r\n", "HTTP/1.0 404 Not Found",
		"HTTP/1.1 100 Continue", "HTTP/1.1 999",
	};
	static const char *const no[] = {
		"HTTP/2 200", "HTTP/1.2 200", "HTTP/1.1 099", "http/1.1 200",
		"HTTP/1.1  200", "HTTP/1.1 20x", "HTTP/1.1\t200",
		"GET / HTTP/1.1",
		"HTTP/1.1 2x", "{\"HTTP/1.1\": 200}",
	};
	static const char bin[] = "\x00\x01\x02" "abc";
	const char *full = "HTTP/1.1 204 No Content\r\n";

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		cr_expect_eq(at_http_response_start(yes[i], strlen(yes[i])), 1,
			     "\"%s\"", yes[i]);
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		cr_expect_eq(at_http_response_start(no[i], strlen(no[i])), -1,
			     "\"%s\"", no[i]);
	cr_expect_eq(at_http_response_start(bin, sizeof(bin) - 1), -1);
	for (size_t k = 0; k < 12; k++)
		cr_expect_eq(at_http_response_start(full, k), 0, "%zu", k);
	cr_expect_eq(at_http_response_start(NULL, 0), 0);
}

/* ---- head end ---- */

Test(http, head_end)
{
	const char *a = "GET / HTTP/1.1\r\nHost: a\r\n\r\nBODY";
	const char *b = "GET / HTTP/1.1\nHost: a\n\nBODY";
	const char *c = "GET / HTTP/1.1\r\nHost: a\n\r\nBODY";
	const char *d = "GET / HTTP/1.1\r\nHost: a\r\n\nBODY";
	const char *e = "GET / HTTP/1.1\r\nHost: a\r\n\rX\r\n";

	cr_expect_eq(at_http_head_end(a, strlen(a), 0), strlen(a) - 4);
	cr_expect_eq(at_http_head_end(b, strlen(b), 0), strlen(b) - 4);
	cr_expect_eq(at_http_head_end(c, strlen(c), 0), strlen(c) - 4);
	cr_expect_eq(at_http_head_end(d, strlen(d), 0), strlen(d) - 4);
	cr_expect_eq(at_http_head_end(e, strlen(e), 0), 0);
	cr_expect_eq(at_http_head_end(a, strlen(a) - 5, 0), 0);
	cr_expect_eq(at_http_head_end(a, 0, 0), 0);
	cr_expect_eq(at_http_head_end(a, strlen(a), 1000), 0);
	cr_expect_eq(at_http_head_end(NULL, 0, 0), 0);
	cr_expect_eq(at_http_head_end("\r\n\r\n", 4, 0), 4);
}

/* Resuming from (previous n - 3) finds the end exactly where a full scan
 * does, whatever the size of each arrival. */
Test(http, head_end_resume)
{
	static const char *const heads[] = {
		"GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\nBODY",
		"GET / HTTP/1.1\nHost: a\n\nBODY",
		"GET / HTTP/1.1\r\nHost: a\n\r\nxx",
		"GET / HTTP/1.1\r\nHost: a\r\n\nxx",
	};

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		const char *h = heads[i];
		size_t len = strlen(h);
		size_t want = at_http_head_end(h, len, 0);

		for (size_t step = 1; step <= 5; step++) {
			size_t prev = 0, got = 0, n;

			for (n = step; got == 0; n += step) {
				if (n > len)
					n = len;
				got = at_http_head_end(h, n, prev >= 3 ?
							     prev - 3 : 0);
				prev = n;
				if (n == len)
					break;
			}
			cr_expect_eq(got, want, "%zu step %zu", i, step);
		}
	}
}

/* ---- request heads from real clients ---- */

Test(http, curl_get)
{
	const char *h = "GET /api/items?id=42 HTTP/1.1\r\n"
			"Host: example.com:8080\r\n"
			"User-Agent: curl/7.88.1\r\n"
			"Accept: */*\r\n"
			"\r\n";
	struct at_http_request r;

	cr_assert_eq(at_http_request_start(h, strlen(h)), 1);
	cr_assert_eq(at_http_head_end(h, strlen(h), 0), strlen(h));
	cr_assert_eq(parse_req(h, &r), 0);
	expect_str(r.method, "GET");
	expect_str(r.target, "/api/items?id=42");
	cr_expect_eq(r.version_minor, 1);
	expect_str(r.host, "example.com:8080");
	expect_str(r.user_agent, "curl/7.88.1");
	expect_str(r.traceparent, NULL);
	cr_expect_eq(r.n_traceparent, 0);
	expect_str(r.tracestate, NULL);
	cr_expect_eq(r.content_length, -1);
	cr_expect_eq(r.chunked, 0);
	cr_expect_eq(r.conn_close, 0);
	cr_expect_eq(r.conn_keep_alive, 0);
	cr_expect_eq(r.upgrade, 0);
	cr_expect_eq(r.request_line_end,
		     strlen("GET /api/items?id=42 HTTP/1.1\r\n"));
	cr_expect_eq(r.head_len, strlen(h));
}

Test(http, curl_post_and_proxy)
{
	const char *post = "POST /form HTTP/1.1\r\n"
			   "Host: localhost:8000\r\n"
			   "User-Agent: curl/7.88.1\r\n"
			   "Accept: */*\r\n"
			   "Content-Length: 9\r\n"
			   "Content-Type: application/x-www-form-urlencoded\r\n"
			   "\r\n"
			   "name=adam";
	/* curl -x proxy: absolute-form */
	const char *proxy = "GET http://example.com/index.html HTTP/1.1\r\n"
			    "Host: example.com\r\n"
			    "User-Agent: curl/7.88.1\r\n"
			    "Accept: */*\r\n"
			    "Proxy-Connection: Keep-Alive\r\n"
			    "\r\n";
	struct at_http_request r;
	struct at_http_body b;
	size_t hl = at_http_head_end(post, strlen(post), 0);

	cr_assert_eq(hl, strlen(post) - 9);
	cr_assert_eq(at_http_parse_request(post, hl, &r), 0);
	expect_str(r.method, "POST");
	cr_expect_eq(r.content_length, 9);
	cr_expect_eq(r.head_len, hl);
	at_http_body_request(&b, &r);
	cr_expect_eq(b.mode, AT_BODY_LENGTH);
	cr_expect_eq(b.remaining, 9);

	/* the whole buffer given: the head still ends at its blank line */
	cr_assert_eq(parse_req(post, &r), 0);
	cr_expect_eq(r.head_len, hl);

	cr_assert_eq(parse_req(proxy, &r), 0);
	expect_str(r.target, "http://example.com/index.html");
	expect_str(r.host, "example.com");
	/* Proxy-Connection is not Connection */
	cr_expect_eq(r.conn_keep_alive, 0);
}

Test(http, python_urllib)
{
	const char *get = "GET /status HTTP/1.1\r\n"
			  "Accept-Encoding: identity\r\n"
			  "Host: localhost:8000\r\n"
			  "User-Agent: Python-urllib/3.11\r\n"
			  "Connection: close\r\n"
			  "\r\n";
	const char *post = "POST /submit HTTP/1.1\r\n"
			   "Accept-Encoding: identity\r\n"
			   "Content-Type: application/x-www-form-urlencoded\r\n"
			   "Content-Length: 7\r\n"
			   "Host: localhost:8000\r\n"
			   "User-Agent: Python-urllib/3.11\r\n"
			   "Connection: close\r\n"
			   "\r\n";
	struct at_http_request r;

	cr_assert_eq(parse_req(get, &r), 0);
	expect_str(r.target, "/status");
	expect_str(r.host, "localhost:8000");
	expect_str(r.user_agent, "Python-urllib/3.11");
	cr_expect_eq(r.conn_close, 1);
	cr_expect_eq(r.conn_keep_alive, 0);
	cr_expect_eq(r.head_len, strlen(get));

	cr_assert_eq(parse_req(post, &r), 0);
	expect_str(r.method, "POST");
	cr_expect_eq(r.content_length, 7);
	cr_expect_eq(r.conn_close, 1);
}

/* nginx proxy_pass defaults: HTTP/1.0, Host $proxy_host, Connection close,
 * then the client's headers as received (lowercase from an h2 client). */
Test(http, nginx_proxy_pass)
{
	const char *h = "GET /app/page?x=1 HTTP/1.0\r\n"
			"Host: backend\r\n"
			"Connection: close\r\n"
			"user-agent: Mozilla/5.0 (X11; Linux x86_64; rv:115.0) "
			"Gecko/20100101 Firefox/115.0\r\n"
			"accept: text/html,application/xhtml+xml\r\n"
			"accept-language: en-US,en;q=0.5\r\n"
			"traceparent: " TP1 "\r\n"
			"tracestate: congo=t61rcWkgMzE\r\n"
			"\r\n";
	const char *post = "POST /api/v1/orders HTTP/1.0\r\n"
			   "Host: 10.0.0.7:9000\r\n"
			   "X-Real-IP: 203.0.113.9\r\n"
			   "X-Forwarded-For: 203.0.113.9\r\n"
			   "Connection: close\r\n"
			   "Content-Length: 13\r\n"
			   "content-type: application/json\r\n"
			   "\r\n";
	struct at_http_request r;

	cr_assert_eq(parse_req(h, &r), 0);
	cr_expect_eq(r.version_minor, 0);
	expect_str(r.host, "backend");
	expect_str(r.user_agent, "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) "
				 "Gecko/20100101 Firefox/115.0");
	expect_str(r.traceparent, TP1);
	cr_expect_eq(r.n_traceparent, 1);
	expect_str(r.tracestate, "congo=t61rcWkgMzE");
	cr_expect_eq(r.conn_close, 1);
	cr_expect_eq(r.request_line_end,
		     strlen("GET /app/page?x=1 HTTP/1.0\r\n"));

	cr_assert_eq(parse_req(post, &r), 0);
	cr_expect_eq(r.content_length, 13);
	expect_str(r.host, "10.0.0.7:9000");
}

/* Node's http.request with the default (keep-alive) agent. */
Test(http, node_http)
{
	const char *get = "GET /users HTTP/1.1\r\n"
			  "Host: localhost:3000\r\n"
			  "Connection: keep-alive\r\n"
			  "\r\n";
	const char *post = "POST /upload HTTP/1.1\r\n"
			   "Content-Type: application/json\r\n"
			   "Host: localhost:3000\r\n"
			   "Connection: keep-alive\r\n"
			   "Transfer-Encoding: chunked\r\n"
			   "\r\n";
	struct at_http_request r;
	struct at_http_body b;

	cr_assert_eq(parse_req(get, &r), 0);
	cr_expect_eq(r.conn_keep_alive, 1);
	cr_expect_eq(r.conn_close, 0);
	expect_str(r.user_agent, NULL);
	at_http_body_request(&b, &r);
	cr_expect_eq(b.mode, AT_BODY_NONE);

	cr_assert_eq(parse_req(post, &r), 0);
	cr_expect_eq(r.chunked, 1);
	cr_expect_eq(r.content_length, -1);
	at_http_body_request(&b, &r);
	cr_expect_eq(b.mode, AT_BODY_CHUNKED);
}

Test(http, request_edge_cases_accepted)
{
	struct at_http_request r;

	/* HTTP/1.1 without Host: parsed, host absent */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\n\r\n", &r), 0);
	expect_str(r.host, NULL);
	cr_expect_eq(r.request_line_end, 16);
	cr_expect_eq(r.head_len, 18);
	cr_assert_eq(parse_req("GET / HTTP/1.0\r\n\r\n", &r), 0);
	expect_str(r.host, NULL);
	/* empty Host value: present, empty */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nHost:\r\n\r\n", &r), 0);
	cr_expect(r.host.p != NULL && r.host.len == 0);
	/* OWS trimmed, case-insensitive names */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nhOST: \t a b \t\r\n"
			       "USER-AGENT:x\r\n\r\n", &r), 0);
	expect_str(r.host, "a b");
	expect_str(r.user_agent, "x");
	/* tchar methods (not lowercase) */
	cr_expect_eq(parse_req("M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:"
			       "1900\r\n\r\n", &r), 0);
	cr_expect_eq(parse_req("PATCH2 / HTTP/1.1\r\n\r\n", &r), 0);
	cr_expect_eq(parse_req("X!#$%&'*+.^_`|~ / HTTP/1.1\r\n\r\n", &r), 0);
	cr_expect_eq(parse_req("ABCDEFGHIJKLMNOP / HTTP/1.1\r\n\r\n", &r), 0);
	/* asterisk, absolute and authority forms */
	cr_expect_eq(parse_req("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", &r), 0);
	cr_assert_eq(parse_req("CONNECT example.com:443 HTTP/1.1\r\n"
			       "Host: example.com:443\r\n\r\n", &r), 0);
	expect_str(r.target, "example.com:443");
	cr_expect_eq(parse_req("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n\r\n",
			       &r), 0);
	/* obs-text and HTAB in values, empty values, odd but valid names */
	cr_expect_eq(parse_req("GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\tb\r\n"
			       "X-Empty:\r\nX-OWS:   \r\n"
			       "!#$%&'*+-.^_`|~09az: v\r\n\r\n", &r), 0);
	/* identical repeated Content-Length; leading zeros */
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
			       "content-length:005\r\n\r\n", &r), 0);
	cr_expect_eq(r.content_length, 5);
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			       &r), 0);
	cr_expect_eq(r.content_length, 0);
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nContent-Length: "
			       "4611686018427387904\r\n\r\n", &r), 0);
	cr_expect_eq(r.content_length, (int64_t)1 << 62);
	/* bytes 0x80-0xff (obs-text) are fine in values */
	cr_expect_eq(parse_req("GET / HTTP/1.1\r\nX: \x80\xff\r\n\r\n", &r), 0);
}

Test(http, bare_lf_line_ends)
{
	struct at_http_request r;
	const char *h = "GET /lf HTTP/1.1\nHost: a\nConnection: close\n\n";
	const char *mixed = "GET /m HTTP/1.1\nHost: a\r\nX: y\n\r\nBODY";

	cr_assert_eq(parse_req(h, &r), 0);
	cr_expect_eq(r.request_line_end, strlen("GET /lf HTTP/1.1\n"));
	cr_expect_eq(r.head_len, strlen(h));
	expect_str(r.host, "a");
	cr_expect_eq(r.conn_close, 1);

	cr_assert_eq(parse_req(mixed, &r), 0);
	cr_expect_eq(r.request_line_end, strlen("GET /m HTTP/1.1\n"));
	cr_expect_eq(r.head_len, strlen(mixed) - 4);
	cr_expect_eq(r.head_len, at_http_head_end(mixed, strlen(mixed), 0));
}

/* How a head's lines end: every one (the request line, each field line,
 * the blank line) counts; a single odd one makes the head mixed. */
Test(http, line_ending_reported)
{
	static const struct {
		const char *head;
		int want;
	} cases[] = {
		{ "GET / HTTP/1.1\r\n\r\n", AT_HTTP_EOL_CRLF },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\r\n", AT_HTTP_EOL_CRLF },
		{ "GET / HTTP/1.1\n\n", AT_HTTP_EOL_LF },
		{ "GET / HTTP/1.1\nHost: a\nX: y\n\n", AT_HTTP_EOL_LF },
		{ "GET / HTTP/1.1\n\r\n", AT_HTTP_EOL_MIXED },
		{ "GET / HTTP/1.1\r\n\n", AT_HTTP_EOL_MIXED },
		{ "GET / HTTP/1.1\r\nHost: a\n\r\n", AT_HTTP_EOL_MIXED },
		{ "GET / HTTP/1.1\nHost: a\r\n\n", AT_HTTP_EOL_MIXED },
		{ "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\n", AT_HTTP_EOL_MIXED },
		{ "GET / HTTP/1.1\nHost: a\nX: y\r\n\n", AT_HTTP_EOL_MIXED },
	};
	struct at_http_request r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert_eq(parse_req(cases[i].head, &r), 0, "case %zu", i);
		cr_expect_eq(r.line_ending, cases[i].want, "case %zu: %d", i,
			     r.line_ending);
	}
	/* only the head counts: what follows it is not looked at */
	cr_assert_eq(at_http_parse_request("GET / HTTP/1.1\n\nX\r\n", 17, &r),
		     0);
	cr_expect_eq(r.line_ending, AT_HTTP_EOL_LF);
}

/* request_line_end and head_len, and that nothing past n is used. */
Test(http, offsets_exact)
{
	char buf[256];
	const char *line = "PUT /obj/1 HTTP/1.1\r\n";
	const char *rest = "Host: s3\r\nContent-Length: 3\r\n\r\n";
	struct at_http_request r;
	size_t hl;

	strcpy(buf, line);
	strcat(buf, rest);
	strcat(buf, "abcGET / HTTP/1.1\r\n\r\n");
	hl = strlen(line) + strlen(rest);
	cr_assert_eq(at_http_head_end(buf, strlen(buf), 0), hl);
	cr_assert_eq(at_http_parse_request(buf, hl, &r), 0);
	cr_expect_eq(r.request_line_end, strlen(line));
	cr_expect_eq(r.head_len, hl);
	cr_expect_eq(r.method.p, buf);
	cr_expect_eq(r.target.p, buf + 4);
	cr_expect_eq(r.host.p, buf + strlen(line) + 6);
	/* one byte short: no blank line yet */
	cr_expect_eq(at_http_parse_request(buf, hl - 1, &r), -1);
	for (size_t k = 0; k < hl; k++)
		cr_expect_eq(at_http_parse_request(buf, k, &r), -1, "%zu", k);
}

Test(http, output_untouched_on_failure)
{
	struct at_http_request r;
	struct at_http_response s;

	memset(&r, 0x5a, sizeof(r));
	memset(&s, 0x5a, sizeof(s));
	cr_expect_eq(parse_req("GET / HTTP/1.1\r\nHost : a\r\n\r\n", &r), -1);
	cr_expect_eq(parse_resp("HTTP/1.1 200 OK\r\nX\r\n\r\n", &s), -1);
	for (size_t i = 0; i < sizeof(r); i++)
		cr_expect_eq(((unsigned char *)&r)[i], 0x5a);
	for (size_t i = 0; i < sizeof(s); i++)
		cr_expect_eq(((unsigned char *)&s)[i], 0x5a);
}

/* ---- malformed request heads ---- */

struct bad_case {
	const char *why;
	const char *head;
	size_t len; /* 0: strlen */
};

#define BAD(why, head) { why, head, 0 }
#define BADN(why, head) { why, head, sizeof(head) - 1 }

/* A byte string that may hold NULs. */
struct bytes {
	const char *p;
	size_t len;
};

#define BYTES(s) { s, sizeof(s) - 1 }

static const struct bad_case bad_requests[] = {
	BAD("empty input", ""),
	BAD("empty method", " / HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("method longer than 16", "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n"),
	BAD("lowercase method", "get / HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("mixed-case method", "Get / HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("non-tchar in method", "GE(T / HTTP/1.1\r\n\r\n"),
	BAD("control char in method", "G\x01T / HTTP/1.1\r\n\r\n"),
	BAD("two spaces after method", "GET  / HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("HTAB after method", "GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("missing target", "GET HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("space in target", "GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("control char in target", "GET /a\x01" "b HTTP/1.1\r\n\r\n"),
	BAD("DEL in target", "GET /a\x7f HTTP/1.1\r\n\r\n"),
	BAD("non-ASCII in target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"),
	BAD("target of no form", "GET foo HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("asterisk plus more", "OPTIONS *x HTTP/1.1\r\n\r\n"),
	BAD("scheme without //", "GET http:foo HTTP/1.1\r\n\r\n"),
	BAD("authority without CONNECT", "GET a.com:80 HTTP/1.1\r\n\r\n"),
	BAD("CONNECT without port", "CONNECT example.com HTTP/1.1\r\n\r\n"),
	BAD("CONNECT bad authority", "CONNECT a b:1 HTTP/1.1\r\n\r\n"),
	BAD("HTTP/1.2", "GET / HTTP/1.2\r\nHost: a\r\n\r\n"),
	BAD("HTTP/2.0", "GET / HTTP/2.0\r\nHost: a\r\n\r\n"),
	BAD("lowercase version", "GET / http/1.1\r\nHost: a\r\n\r\n"),
	BAD("HTTP/1.10", "GET / HTTP/1.10\r\nHost: a\r\n\r\n"),
	BAD("no version (0.9)", "GET /\r\n\r\n"),
	BAD("space after version", "GET / HTTP/1.1 \r\nHost: a\r\n\r\n"),
	BAD("bare CR after version", "GET / HTTP/1.1\rHost: a\r\n\r\n"),
	BAD("CR CR LF", "GET / HTTP/1.1\r\r\nHost: a\r\n\r\n"),
	BAD("header without colon", "GET / HTTP/1.1\r\nHost a\r\n\r\n"),
	BAD("SP before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n"),
	BAD("HTAB before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n"),
	BAD("empty header name", "GET / HTTP/1.1\r\n: a\r\n\r\n"),
	BAD("non-tchar header name", "GET / HTTP/1.1\r\nX(A): b\r\n\r\n"),
	BAD("obs-text header name", "GET / HTTP/1.1\r\n\xc3\xa9: a\r\n\r\n"),
	BAD("obs-fold", "GET / HTTP/1.1\r\nX-A: b\r\n c\r\nHost: a\r\n\r\n"),
	BAD("obs-fold with HTAB", "GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\n\r\n"),
	BAD("SP before first header", "GET / HTTP/1.1\r\n Host: a\r\n\r\n"),
	BAD("bare CR in value", "GET / HTTP/1.1\r\nX-A: b\rc\r\n\r\n"),
	BAD("bare CR ends line", "GET / HTTP/1.1\r\nX-A: b\rHost: a\r\n\r\n"),
	BAD("bare CR as blank line", "GET / HTTP/1.1\r\nHost: a\r\n\r\r\n"),
	BADN("NUL in value", "GET / HTTP/1.1\r\nX-A: b\0c\r\n\r\n"),
	BADN("NUL in name", "GET / HTTP/1.1\r\nX\0A: b\r\n\r\n"),
	BADN("NUL in target", "GET /\0 HTTP/1.1\r\n\r\n"),
	BAD("control char in value", "GET / HTTP/1.1\r\nX-A: \x1b[31m\r\n\r\n"),
	BAD("DEL in value", "GET / HTTP/1.1\r\nX-A: \x7f\r\n\r\n"),
	BAD("conflicting Content-Length",
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n"
	    "\r\n"),
	BAD("Content-Length list",
	    "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n"),
	BAD("Content-Length sign",
	    "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n"),
	BAD("Content-Length negative",
	    "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"),
	BAD("Content-Length hex",
	    "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n"),
	BAD("Content-Length empty",
	    "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n"),
	BAD("Content-Length inner space",
	    "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n"),
	BAD("Content-Length over 2^62",
	    "POST / HTTP/1.1\r\nContent-Length: 4611686018427387905\r\n\r\n"),
	BAD("Content-Length overflow",
	    "POST / HTTP/1.1\r\n"
	    "Content-Length: 99999999999999999999999\r\n\r\n"),
	BAD("Content-Length and chunked",
	    "POST / HTTP/1.1\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"),
	BAD("chunked and Content-Length",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 5\r\n\r\n"),
	BAD("chunked not final",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
	BAD("chunked not final across lines",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Transfer-Encoding: gzip\r\n\r\n"),
	BAD("Transfer-Encoding without chunked",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"),
	BAD("chunked twice",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked, chunked\r\n\r\n"),
	BAD("chunked with parameters",
	    "POST / HTTP/1.1\r\nTransfer-Encoding: chunked;x=1\r\n\r\n"),
	BAD("empty Transfer-Encoding",
	    "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n\r\n"),
	BAD("Transfer-Encoding in HTTP/1.0",
	    "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
	BAD("two Host lines", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
	BAD("no blank line", "GET / HTTP/1.1\r\nHost: a\r\n"),
	BAD("blank line cut", "GET / HTTP/1.1\r\nHost: a\r\n\r"),
	BAD("leading CRLF", "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n"),
	BAD("a response", "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
	BAD("TLS ClientHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),
};

Test(http, malformed_requests)
{
	struct at_http_request r;
	size_t n = sizeof(bad_requests) / sizeof(bad_requests[0]);

	cr_assert_geq(n, 25);
	for (size_t i = 0; i < n; i++) {
		const struct bad_case *c = &bad_requests[i];
		size_t len = c->len ? c->len : strlen(c->head);

		cr_expect_eq(at_http_parse_request(c->head, len, &r), -1,
			     "accepted: %s", c->why);
	}
}

/* A bad byte at every position of a long target or value (the scanners
 * read 8 bytes at a time: every offset within a word is tried). */
Test(http, bad_byte_every_position)
{
	static const char bad_value[] = { 0x00, 0x01, 0x0b, 0x1f, 0x7f, '\r' };
	static const char bad_target[] = { 0x00, 0x01, 0x7f, (char)0x80,
					   (char)0xff, '\t' };
	const char *val = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";
	const char *tgt = "/abcdefghijklmnopqrstuvwxyz0123456789/ABCDEFG";
	struct at_http_request r;
	char buf[256];
	size_t vl = strlen(val), tl = strlen(tgt), n;

	for (size_t i = 0; i < vl; i++) {
		for (size_t k = 0; k < sizeof(bad_value); k++) {
			n = (size_t)snprintf(buf, sizeof(buf),
					     "GET / HTTP/1.1\r\nX-Long: "
					     "%s\r\nHost: a\r\n\r\n", val);
			cr_assert_eq(at_http_parse_request(buf, n, &r), 0);
			buf[24 + i] = bad_value[k];
			cr_expect_eq(at_http_parse_request(buf, n, &r), -1,
				     "value byte %zu = %02x", i,
				     (unsigned char)bad_value[k]);
		}
		/* HTAB is fine anywhere: inside kept, at the ends trimmed */
		snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nUser-Agent: "
			 "%s\r\n\r\n", val);
		buf[28 + i] = '\t';
		cr_assert_eq(parse_req(buf, &r), 0, "tab at %zu", i);
		cr_expect_eq(r.user_agent.p, buf + 28 + (i == 0));
		cr_expect_eq(r.user_agent.len, vl - (i == 0 || i == vl - 1));
	}
	for (size_t i = 1; i < tl; i++) {
		for (size_t k = 0; k < sizeof(bad_target); k++) {
			n = (size_t)snprintf(buf, sizeof(buf),
					     "GET %s HTTP/1.1\r\n\r\n", tgt);
			cr_assert_eq(at_http_parse_request(buf, n, &r), 0);
			buf[4 + i] = bad_target[k];
			cr_expect_eq(at_http_parse_request(buf, n, &r), -1,
				     "target byte %zu = %02x", i,
				     (unsigned char)bad_target[k]);
		}
	}
	/* and the reason phrase of a response */
	for (size_t i = 0; i < vl; i++) {
		struct at_http_response s;

		snprintf(buf, sizeof(buf), "HTTP/1.1 200 %s\r\n\r\n", val);
		cr_assert_eq(parse_resp(buf, &s), 0);
		buf[13 + i] = 0x7f;
		cr_expect_eq(parse_resp(buf, &s), -1, "reason byte %zu", i);
	}
}

/* A binary stream that starts like a request. */
Test(http, binary_after_get)
{
	static const unsigned char bin[] = {
		'G', 'E', 'T', ' ', '/', 0x00, 0x9c, 0xff, 0x10, '\r', '\n',
		0x01, 0x02, 0x03, ':', 0x04, '\n', '\n', 0xde, 0xad,
	};
	static const unsigned char bin2[] = {
		'G', 'E', 'T', ' ', 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a,
		'\n', '\n', 0x00,
	};
	const char *p = (const char *)bin;
	struct at_http_request r;
	size_t he = at_http_head_end(p, sizeof(bin), 0);

	cr_expect_eq(at_http_request_start(p, sizeof(bin)), 1);
	cr_expect_eq(he, 18);
	cr_expect_eq(at_http_parse_request(p, he, &r), -1);
	cr_expect_eq(at_http_parse_request(p, sizeof(bin), &r), -1);
	p = (const char *)bin2;
	cr_expect_eq(at_http_request_start(p, sizeof(bin2)), -1);
	cr_expect_eq(at_http_parse_request(p, sizeof(bin2), &r), -1);
}

Test(http, head_too_long)
{
	static char buf[AT_HTTP_HEAD_MAX + 64];
	const char *line = "GET / HTTP/1.1\r\nX: ";
	struct at_http_request r;
	size_t n;

	/* exactly AT_HTTP_HEAD_MAX bytes: accepted */
	strcpy(buf, line);
	n = strlen(line);
	memset(buf + n, 'a', AT_HTTP_HEAD_MAX - n - 4);
	memcpy(buf + AT_HTTP_HEAD_MAX - 4, "\r\n\r\n", 4);
	cr_expect_eq(at_http_parse_request(buf, AT_HTTP_HEAD_MAX, &r), 0);
	cr_expect_eq(r.head_len, AT_HTTP_HEAD_MAX);
	/* one more: refused */
	memset(buf + n, 'a', AT_HTTP_HEAD_MAX - n - 3);
	memcpy(buf + AT_HTTP_HEAD_MAX - 3, "\r\n\r\n", 4);
	cr_expect_eq(at_http_parse_request(buf, AT_HTTP_HEAD_MAX + 1, &r), -1);
}

/* ---- trace context headers ---- */

Test(http, trace_context_headers)
{
	struct at_http_request r;

	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nHost: a\r\n"
			       "traceparent: " TP1 "\r\n"
			       "tracestate: rojo=00f067aa0ba902b7\r\n"
			       "\r\n", &r), 0);
	expect_str(r.traceparent, TP1);
	cr_expect_eq(r.n_traceparent, 1);
	expect_str(r.tracestate, "rojo=00f067aa0ba902b7");

	/* names case-insensitive, values OWS-trimmed */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nTraceParent:\t " TP1 " \t\r\n"
			       "TRACESTATE:   a=1 , b=2  \r\n\r\n", &r), 0);
	expect_str(r.traceparent, TP1);
	expect_str(r.tracestate, "a=1 , b=2");

	/* two traceparent lines: counted, the first kept */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntraceparent: " TP1 "\r\n"
			       "Host: a\r\nTraceparent: " TP2 "\r\n"
			       "tracestate: x=1\r\ntracestate: y=2\r\n"
			       "\r\n", &r), 0);
	cr_expect_eq(r.n_traceparent, 2);
	expect_str(r.traceparent, TP1);
	expect_str(r.tracestate, "x=1,y=2");

	/* present but invalid: counted all the same (the hooks then leave
	 * the head alone) */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nHost: a\r\n"
			       "traceparent: garbage\r\n\r\n", &r), 0);
	cr_expect_eq(r.n_traceparent, 1);
	expect_str(r.traceparent, "garbage");

	/* present but empty */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntraceparent:\r\n"
			       "\r\n", &r), 0);
	cr_expect_eq(r.n_traceparent, 1);
	cr_expect(r.traceparent.p != NULL && r.traceparent.len == 0);

	/* near misses are other headers */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntraceparentx: 1\r\n"
			       "x-traceparent: 2\r\ntracestat: 3\r\n"
			       "\r\n", &r), 0);
	cr_expect_eq(r.n_traceparent, 0);
	expect_str(r.traceparent, NULL);
	expect_str(r.tracestate, NULL);
}

/* Several tracestate fields are one list, combined in order (RFC 9110
 * 5.3, W3C Trace Context). */
Test(http, tracestate_fields_combined)
{
	struct at_http_request r;
	char big[4096];

	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nHost: a\r\n"
			       "traceparent: " TP1 "\r\n"
			       "tracestate: foo=1,bar=2\r\n"
			       "X-Other: z\r\n"
			       "TraceState: rojo=1,congo=2\r\n"
			       "tracestate: baz=3\r\n\r\n", &r), 0);
	cr_expect_eq(r.n_tracestate, 3);
	expect_str(r.tracestate, "foo=1,bar=2,rojo=1,congo=2,baz=3");
	cr_expect_eq(r.tracestate.p, r.tracestate_buf);

	/* one field: the value as sent, in the head */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\n"
			       "tracestate: a=1 ,, b=2\r\n\r\n", &r), 0);
	cr_expect_eq(r.n_tracestate, 1);
	expect_str(r.tracestate, "a=1 ,, b=2");

	/* an empty field first, between or last */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate:\r\n"
			       "tracestate: foo=1\r\n\r\n", &r), 0);
	expect_str(r.tracestate, "foo=1");
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate: foo=1\r\n"
			       "tracestate: \t\r\ntracestate: , \r\n"
			       "tracestate: bar=2\r\n\r\n", &r), 0);
	cr_expect_eq(r.n_tracestate, 4);
	expect_str(r.tracestate, "foo=1,bar=2");
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate: foo=1\r\n"
			       "tracestate:\r\n\r\n", &r), 0);
	expect_str(r.tracestate, "foo=1");
	/* only empty ones: an empty list */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate:\r\n"
			       "tracestate: \r\n\r\n", &r), 0);
	expect_str(r.tracestate, "");

	/* an invalid member in any field: no list at all */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate: foo=1\r\n"
			       "tracestate: foo@=1\r\n\r\n", &r), 0);
	expect_str(r.tracestate, NULL);
	/* a member does not span two fields */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate: foo\r\n"
			       "tracestate: =1\r\n\r\n", &r), 0);
	expect_str(r.tracestate, NULL);
	/* duplicates across fields are kept */
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate: foo=1\r\n"
			       "tracestate: foo=2\r\n\r\n", &r), 0);
	expect_str(r.tracestate, "foo=1,foo=2");

	/* 33 fields of one member each: too many members */
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 33; i++)
		sprintf(big + strlen(big), "tracestate: k%d=%d\r\n", i, i);
	strcat(big, "\r\n");
	cr_assert_eq(parse_req(big, &r), 0);
	cr_expect_eq(r.n_tracestate, 33);
	expect_str(r.tracestate, NULL);
	/* 32 of them, with empty fields between: the whole list */
	strcpy(big, "GET / HTTP/1.1\r\n");
	for (int i = 0; i < 32; i++)
		sprintf(big + strlen(big), "tracestate: k%d=%d\r\n"
			"tracestate: ,\r\n", i, i);
	strcat(big, "\r\n");
	cr_assert_eq(parse_req(big, &r), 0);
	cr_expect_eq(r.n_tracestate, 64);
	cr_assert(r.tracestate.p != NULL && r.tracestate.len > 7);
	cr_expect_eq(memcmp(r.tracestate.p, "k0=0,k1=1,", 10), 0);
	cr_expect_eq(memcmp(r.tracestate.p + r.tracestate.len - 7, ",k31=31",
			    7), 0);

	/* a copy of the struct still points to the original's list */
	{
		struct at_http_request copy;

		cr_assert_eq(parse_req("GET / HTTP/1.1\r\ntracestate: a=1\r\n"
				       "tracestate: b=2\r\n\r\n", &r), 0);
		copy = r;
		expect_str(copy.tracestate, "a=1,b=2");
	}
}

Test(http, connection_and_framing_headers)
{
	struct at_http_request r;

	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nConnection: Keep-Alive, "
			       "Upgrade\r\nUpgrade: websocket\r\n\r\n", &r), 0);
	cr_expect_eq(r.conn_keep_alive, 1);
	cr_expect_eq(r.conn_close, 0);
	cr_expect_eq(r.upgrade, 1);

	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nConnection: ,, CLOSE ,\r\n"
			       "connection: te\r\n\r\n", &r), 0);
	cr_expect_eq(r.conn_close, 1);
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nConnection: closed, "
			       "keep-alive2\r\n\r\n", &r), 0);
	cr_expect_eq(r.conn_close, 0);
	cr_expect_eq(r.conn_keep_alive, 0);
	cr_assert_eq(parse_req("GET / HTTP/1.1\r\nConnection: close\r\n"
			       "Connection: keep-alive\r\n\r\n", &r), 0);
	cr_expect_eq(r.conn_close, 1);
	cr_expect_eq(r.conn_keep_alive, 1);

	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, "
			       "Chunked\r\n\r\n", &r), 0);
	cr_expect_eq(r.chunked, 1);
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n"
			       "transfer-encoding:  CHUNKED ,\r\n\r\n", &r), 0);
	cr_expect_eq(r.chunked, 1);
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nTE: chunked\r\n"
			       "\r\n", &r), 0);
	cr_expect_eq(r.chunked, 0);
}

/* ---- responses ---- */

Test(http, responses)
{
	const char *nginx = "HTTP/1.1 200 OK\r\n"
			    "Server: nginx/1.22.1\r\n"
			    "Date: Mon, 15 Jan 2024 10:00:00 GMT\r\n"
			    "Content-Type: text/html\r\n"
			    "Content-Length: 615\r\n"
			    "Last-Modified: Tue, 11 Apr 2023 01:45:34 GMT\r\n"
			    "Connection: keep-alive\r\n"
			    "ETag: \"6434bbbe-267\"\r\n"
			    "Accept-Ranges: bytes\r\n"
			    "\r\n";
	const char *node = "HTTP/1.1 201 Created\r\n"
			   "Content-Type: application/json\r\n"
			   "Date: Mon, 15 Jan 2024 10:00:00 GMT\r\n"
			   "Connection: keep-alive\r\n"
			   "Keep-Alive: timeout=5\r\n"
			   "Transfer-Encoding: chunked\r\n"
			   "\r\n";
	const char *py = "HTTP/1.0 200 OK\r\n"
			 "Server: BaseHTTP/0.6 Python/3.11.2\r\n"
			 "Date: Mon, 15 Jan 2024 10:00:00 GMT\r\n"
			 "\r\n";
	struct at_http_response s;
	struct at_http_body b;

	cr_assert_eq(parse_resp(nginx, &s), 0);
	cr_expect_eq(s.version_minor, 1);
	cr_expect_eq(s.status, 200);
	cr_expect_eq(s.content_length, 615);
	cr_expect_eq(s.chunked, 0);
	cr_expect_eq(s.conn_keep_alive, 1);
	cr_expect_eq(s.conn_close, 0);
	cr_expect_eq(s.head_len, strlen(nginx));
	at_http_body_response(&b, &s, "GET", 3);
	cr_expect_eq(b.mode, AT_BODY_LENGTH);
	cr_expect_eq(b.remaining, 615);
	at_http_body_response(&b, &s, "HEAD", 4);
	cr_expect_eq(b.mode, AT_BODY_NONE);

	cr_assert_eq(parse_resp(node, &s), 0);
	cr_expect_eq(s.status, 201);
	cr_expect_eq(s.chunked, 1);
	cr_expect_eq(s.content_length, -1);
	at_http_body_response(&b, &s, "POST", 4);
	cr_expect_eq(b.mode, AT_BODY_CHUNKED);

	cr_assert_eq(parse_resp(py, &s), 0);
	cr_expect_eq(s.version_minor, 0);
	cr_expect_eq(s.conn_close, 0);
	at_http_body_response(&b, &s, "GET", 3);
	cr_expect_eq(b.mode, AT_BODY_UNTIL_CLOSE);

	/* no reason phrase, with or without its SP; bare LF */
	cr_assert_eq(parse_resp("HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\n",
				&s), 0);
	cr_expect_eq(s.content_length, 2);
	cr_assert_eq(parse_resp("HTTP/1.1 200\r\n\r\n", &s), 0);
	cr_expect_eq(s.head_len, 16);
	cr_assert_eq(parse_resp("HTTP/1.1 404 Not Found\nConnection: close\n\n",
				&s), 0);
	cr_expect_eq(s.status, 404);
	cr_expect_eq(s.conn_close, 1);
	/* a reason phrase with obs-text and HTAB */
	cr_expect_eq(parse_resp("HTTP/1.1 200 D\xc3\xa9j\xc3\xa0\tvu\r\n\r\n",
				&s), 0);
	/* Transfer-Encoding without final chunked: until close */
	cr_assert_eq(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
				"chunked, gzip\r\n\r\n", &s), 0);
	cr_expect_eq(s.chunked, 0);
	at_http_body_response(&b, &s, "GET", 3);
	cr_expect_eq(b.mode, AT_BODY_UNTIL_CLOSE);
}

Test(http, responses_without_body)
{
	static const char *const heads[] = {
		"HTTP/1.1 100 Continue\r\n\r\n",
		"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
		"Connection: Upgrade\r\nSec-WebSocket-Accept: "
		"s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
		"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n"
		"\r\n",
		"HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
		"HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n"
		"Content-Length: 99\r\n\r\n",
		"HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
	};
	struct at_http_response s;
	struct at_http_body b;
	int done = 0;

	for (size_t i = 0; i < sizeof(heads) / sizeof(heads[0]); i++) {
		cr_assert_eq(parse_resp(heads[i], &s), 0, "%zu", i);
		at_http_body_response(&b, &s, "GET", 3);
		cr_expect_eq(b.mode, AT_BODY_NONE, "%zu", i);
		cr_expect_eq(at_http_body_feed(&b, "HTTP/1.1", 8, &done), 0);
		cr_expect_eq(done, 1);
	}
	/* HEAD: no body whatever the framing headers say */
	cr_assert_eq(parse_resp("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
				"\r\n\r\n", &s), 0);
	at_http_body_response(&b, &s, "HEAD", 4);
	cr_expect_eq(b.mode, AT_BODY_NONE);
	/* "head" is another method */
	at_http_body_response(&b, &s, "head", 4);
	cr_expect_eq(b.mode, AT_BODY_CHUNKED);
	/* 2xx to CONNECT: a tunnel, no body; a 407 to CONNECT has one */
	cr_assert_eq(parse_resp("HTTP/1.1 200 Connection established\r\n\r\n",
				&s), 0);
	at_http_body_response(&b, &s, "CONNECT", 7);
	cr_expect_eq(b.mode, AT_BODY_NONE);
	at_http_body_response(&b, &s, "GET", 3);
	cr_expect_eq(b.mode, AT_BODY_UNTIL_CLOSE);
	cr_assert_eq(parse_resp("HTTP/1.1 407 Proxy Auth Required\r\n"
				"Content-Length: 5\r\n\r\n", &s), 0);
	at_http_body_response(&b, &s, "CONNECT", 7);
	cr_expect_eq(b.mode, AT_BODY_LENGTH);
	/* unknown request method */
	at_http_body_response(&b, &s, NULL, 0);
	cr_expect_eq(b.mode, AT_BODY_LENGTH);
}

Test(http, malformed_responses)
{
	static const char *const bad[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n"
		"\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		"Transfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
		"Transfer-Encoding: gzip\r\n\r\n",
		"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX : a\r\n\r\n",
		"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
		"HTTP/1.1 20 OK\r\n\r\n",
		"HTTP/1.1 2000 OK\r\n\r\n",
		"HTTP/1.1 200 O\x01K\r\n\r\n",
		"HTTP/1.1 200 OK\r\r\n\r\n",
		"HTTP/1.1 200 OK\r\n",
		"HTTP/1.1 200 OK",
		"HTTP/1.2 200 OK\r\n\r\n",
		"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"GET / HTTP/1.1\r\n\r\n",
		"",
	};
	struct at_http_response s;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(parse_resp(bad[i], &s), -1, "accepted %zu", i);
}

/* ---- body framing ---- */

Test(http, body_request_modes)
{
	struct at_http_request r;
	struct at_http_body b;

	memset(&b, 0x77, sizeof(b));
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
			       &r), 0);
	at_http_body_request(&b, &r);
	cr_expect_eq(b.mode, AT_BODY_NONE);
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nContent-Length: 12\r\n\r\n",
			       &r), 0);
	at_http_body_request(&b, &r);
	cr_expect_eq(b.mode, AT_BODY_LENGTH);
	cr_expect_eq(b.remaining, 12);
	cr_assert_eq(parse_req("POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
			       "\r\n\r\n", &r), 0);
	at_http_body_request(&b, &r);
	cr_expect_eq(b.mode, AT_BODY_CHUNKED);
	cr_expect_eq(b.state, 0);
	cr_expect_eq(b.size, 0);
	cr_expect_eq(b.digits, 0);
}

Test(http, body_feed_length_none_until_close)
{
	struct at_http_body b = { .mode = AT_BODY_LENGTH, .remaining = 10 };
	const char *data = "0123456789GET / HTTP/1.1\r\n";
	int done = -1;

	cr_expect_eq(at_http_body_feed(&b, data, 4, &done), 4);
	cr_expect_eq(done, 0);
	cr_expect_eq(at_http_body_feed(&b, data + 4, 0, &done), 0);
	cr_expect_eq(done, 0);
	cr_expect_eq(at_http_body_feed(&b, data + 4, strlen(data) - 4, &done),
		     6);
	cr_expect_eq(done, 1);
	cr_expect_eq(at_http_body_feed(&b, data, 5, &done), 0);
	cr_expect_eq(done, 1);

	b.mode = AT_BODY_NONE;
	done = -1;
	cr_expect_eq(at_http_body_feed(&b, data, strlen(data), &done), 0);
	cr_expect_eq(done, 1);

	b.mode = AT_BODY_UNTIL_CLOSE;
	for (int i = 0; i < 3; i++) {
		done = -1;
		cr_expect_eq(at_http_body_feed(&b, data, strlen(data), &done),
			     (ssize_t)strlen(data));
		cr_expect_eq(done, 0);
	}
	cr_expect_eq(at_http_body_feed(&b, data, 0, &done), 0);
	cr_expect_eq(done, 0);
}

struct feed_result {
	int err;         /* a call returned -1 */
	size_t err_at;   /* [err_lo, err_at): the piece that failed */
	size_t err_lo;
	size_t consumed; /* total before done (or error) */
	int done;
};

/* Feed msg[0..len) as pieces ending at cuts[0..ncuts) then len; stop at
 * done or error.  Every piece before done is consumed whole. */
static struct feed_result feed_pieces(const char *msg, size_t len,
				      const size_t *cuts, size_t ncuts)
{
	struct at_http_body b = { .mode = AT_BODY_CHUNKED };
	struct feed_result res = { 0 };
	size_t start = 0;

	for (size_t i = 0; i <= ncuts && !res.done; i++) {
		size_t end = i < ncuts ? cuts[i] : len;
		int done = -1;
		ssize_t got = at_http_body_feed(&b, msg + start, end - start,
						&done);

		if (got < 0) {
			res.err = 1;
			res.err_lo = start;
			res.err_at = end;
			return res;
		}
		cr_assert(done == 0 || done == 1);
		cr_assert_leq((size_t)got, end - start);
		if (!done)
			cr_assert_eq((size_t)got, end - start,
				     "piece [%zu,%zu) not consumed", start,
				     end);
		res.consumed += (size_t)got;
		res.done = done;
		start = end;
	}
	return res;
}

static struct feed_result feed_bytewise(const char *msg, size_t len)
{
	struct at_http_body b = { .mode = AT_BODY_CHUNKED };
	struct feed_result res = { 0 };

	for (size_t i = 0; i < len && !res.done; i++) {
		int done = -1;
		ssize_t got = at_http_body_feed(&b, msg + i, 1, &done);

		if (got < 0) {
			res.err = 1;
			res.err_lo = i;
			res.err_at = i + 1;
			/* and it keeps failing */
			cr_assert_eq(at_http_body_feed(&b, msg, len, &done),
				     -1);
			return res;
		}
		res.consumed += (size_t)got;
		res.done = done;
	}
	return res;
}

/* Whole, byte by byte, every split in two and (for short messages) three
 * pieces: the same outcome.  Returns the outcome. */
static struct feed_result check_splits(const char *msg, size_t len)
{
	struct feed_result whole = feed_pieces(msg, len, NULL, 0);
	struct feed_result one = feed_bytewise(msg, len);
	size_t cuts[2];

	cr_assert_eq(one.err, whole.err, "bytewise err for \"%s\"", msg);
	if (!whole.err) {
		cr_assert_eq(one.consumed, whole.consumed, "\"%s\"", msg);
		cr_assert_eq(one.done, whole.done, "\"%s\"", msg);
	}
	for (size_t a = 0; a <= len; a++) {
		for (size_t c = a; c <= len; c++) {
			struct feed_result r;

			if (len > 120 && c != a)
				break;
			cuts[0] = a;
			cuts[1] = c;
			r = feed_pieces(msg, len, cuts, 2);
			cr_assert_eq(r.err, whole.err, "\"%s\" at %zu,%zu",
				     msg, a, c);
			if (r.err) {
				/* the failing piece holds the bad byte */
				cr_assert(r.err_lo <= one.err_lo &&
					  one.err_lo < r.err_at,
					  "\"%s\" at %zu,%zu: failed in "
					  "[%zu,%zu) not at %zu", msg, a, c,
					  r.err_lo,
					  r.err_at, one.err_lo);
			} else {
				cr_assert_eq(r.consumed, whole.consumed);
				cr_assert_eq(r.done, whole.done);
			}
		}
	}
	return whole;
}

struct chunked_case {
	const char *msg;
	size_t body_len; /* bytes of the body; the rest is the next message */
	int done;
};

Test(http, chunked_valid_every_split)
{
	static const struct chunked_case cases[] = {
		{ "5\r\nhello\r\n0\r\n\r\n", 15, 1 },
		{ "5\r\nhello\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n", 15, 1 },
		{ "1\r\nx\r\n2\r\nyz\r\n0\r\n\r\nHTTP/1.1 200 OK", 18, 1 },
		{ "A\r\n0123456789\r\na\r\n0123456789\r\n0\r\n\r\n", 35, 1 },
		{ "1f\r\n0123456789012345678901234567890\r\n0\r\n\r\n",
		  42, 1 },
		{ "1F\r\n0123456789012345678901234567890\r\n00\r\n\r\nX",
		  43, 1 },
		{ "0005\r\nhello\r\n000\r\n\r\n", 20, 1 },
		{ "5;name=value\r\nhello\r\n0;last\r\n\r\n", 31, 1 },
		{ "3 ; a = \"q\\\"x;y\" ;b;c=d\t;e\r\nabc\r\n0\r\n\r\n",
		  38, 1 },
		{ "3;a=\"\"\r\nabc\r\n0 ;  z\r\n\r\n", 23, 1 },
		{ "5\r\nhello\r\n0\r\nExpires: never\r\n"
		  "X-Checksum:  abc def \r\n\r\n", 54, 1 },
		{ "0\r\nX:\r\n\r\n", 9, 1 },
		{ "0\r\n\r\n", 5, 1 },
		/* data that looks like framing */
		{ "7\r\n0\r\n\r\n\r\n\r\n0\r\n\r\n", 17, 1 },
		/* incomplete: consumed, not done */
		{ "5\r\nhel", 6, 0 },
		{ "5\r\nhello\r\n0\r\n\r", 14, 0 },
		{ "5\r\nhello\r\n0\r\nX: y\r\n", 19, 0 },
		{ "4000000000000000\r\nabc", 21, 0 },
		{ "", 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *m = cases[i].msg;
		struct feed_result r = check_splits(m, strlen(m));

		cr_expect_eq(r.err, 0, "%zu \"%s\"", i, m);
		cr_expect_eq(r.consumed, cases[i].body_len, "%zu \"%s\"", i, m);
		cr_expect_eq(r.done, cases[i].done, "%zu \"%s\"", i, m);
	}
}

Test(http, chunked_invalid_every_split)
{
	static const struct bytes bad[] = {
		BYTES("5\r\nhelloX\r\n0\r\n\r\n"), /* no CRLF after data */
		BYTES("5\r\nhello\n0\r\n\r\n"), /* LF only after data */
		BYTES("5\r\nhello\r0\r\n\r\n"), /* CR only after data */
		BYTES("5\r\nhello\r\r\n0\r\n\r\n"),
		BYTES("5\nhello\r\n0\r\n\r\n"), /* LF only after size */
		BYTES("5\r\rhello\r\n"),
		BYTES("\r\n"), /* no size */
		BYTES("g\r\n"),
		BYTES("-5\r\n"),
		BYTES("+5\r\n"),
		BYTES(" 5\r\n"),
		BYTES("0x5\r\n"),
		BYTES("5 \r\nhello\r\n"), /* BWS not before ';' */
		BYTES("5 x\r\n"),
		BYTES("5;\r\n"), /* empty extension name */
		BYTES("5;=x\r\n"),
		BYTES("5;a=\r\n"), /* empty extension value */
		BYTES("5;a=b c\r\n"),
		BYTES("5;a=\"x\r\n"), /* unterminated quote */
		BYTES("5;a=\"x\\\x01\"\r\n"), /* bad quoted-pair */
		BYTES("5;a=\"\x01\"\r\n"),
		BYTES("5;a=\"x\"y\r\n"),
		BYTES("5;a@b\r\n"),
		BYTES("5;a\x00" "b\r\n"),
		BYTES("4000000000000001\r\n"), /* over 2^62 */
		BYTES("10000000000000000\r\n"),
		BYTES("ffffffffffffffffffffffff\r\n"),
		BYTES("0\r\n\r\r"), /* bad final CRLF */
		BYTES("0\r\n\n"),
		BYTES("0\r\nX: y\n\r\n"),
		BYTES("0\r\nfoo\r\n\r\n"), /* trailer without ':' */
		BYTES("0\r\nX : y\r\n\r\n"),
		BYTES("0\r\nX: y\r\n z\r\n\r\n"), /* obs-fold in trailers */
		BYTES("0\r\n: y\r\n\r\n"),
		BYTES("0\r\nX: a\x01\r\n\r\n"),
		BYTES("0\r\nX: a\rb\r\n\r\n"),
		BYTES("5\r\nhello\r\n\r\n"), /* missing last chunk */
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct feed_result r = check_splits(bad[i].p, bad[i].len);

		cr_expect_eq(r.err, 1, "accepted %zu \"%s\"", i, bad[i].p);
	}
}

Test(http, chunked_large_sizes)
{
	struct at_http_body b = { .mode = AT_BODY_CHUNKED };
	int done;

	/* 2^62 is allowed: the data is then skipped in bulk */
	cr_assert_eq(at_http_body_feed(&b, "4000000000000000\r\n", 18,
				       &done), 18);
	cr_expect_eq(b.remaining, (uint64_t)1 << 62);
	cr_expect_eq(at_http_body_feed(&b, "xyz", 3, &done), 3);
	cr_expect_eq(b.remaining, ((uint64_t)1 << 62) - 3);
	cr_expect_eq(done, 0);
}

/* ---- semantic-convention values ---- */

Test(http, known_methods)
{
	static const char *const known[] = {
		"CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST",
		"PUT", "TRACE",
	};
	static const char *const other[] = {
		"get", "Get", "gEt", "post", "PROPFIND", "QUERY", "GETX", "GE",
		"", "M-SEARCH", "PUTS", "CONNECTX",
	};
	const char *buf = "GETTER";

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
		const char *m = at_http_known_method(known[i],
						     strlen(known[i]));

		cr_assert_not_null(m, "%s", known[i]);
		cr_expect_str_eq(m, known[i]);
	}
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++)
		cr_expect_null(at_http_known_method(other[i], strlen(other[i])),
			       "%s", other[i]);
	/* bounded by len, not by a NUL */
	cr_expect_str_eq(at_http_known_method(buf, 3), "GET");
	cr_expect_null(at_http_known_method(buf, 4));
	cr_expect_null(at_http_known_method(NULL, 0));
}

/* fn(in) with redact_all = all gives want. */
static void expect_redacted(size_t (*fn)(char *, size_t, const char *, size_t,
					 int),
			    const char *in, int all, const char *want)
{
	char out[256];
	size_t n = fn(out, sizeof(out), in, strlen(in), all);

	cr_expect_str_eq(out, want, "\"%s\" (all=%d)", in, all);
	cr_expect_eq(n, strlen(want));
}

#define expect_redact(q, all, want)                                     \
	expect_redacted(at_http_redact_query, q, all, want)
#define expect_path(p, all, want)                                       \
	expect_redacted(at_http_redact_path, p, all, want)

Test(http, redact_query)
{
	char out[8];
	size_t n;

	/* a member without '=' may be the secret itself: always redacted */
	expect_redact("a=1&b", 1, "a=REDACTED&REDACTED");
	expect_redact("a=1&b&c=", 1, "a=REDACTED&REDACTED&c=REDACTED");
	expect_redact("a=1&b", 0, "a=1&REDACTED");
	expect_redact("SECRETTOKEN", 1, "REDACTED");
	expect_redact("SECRETTOKEN", 0, "REDACTED");
	expect_redact("a=1&SECRETKEY", 1, "a=REDACTED&REDACTED");
	expect_redact("a=1&SECRETKEY", 0, "a=1&REDACTED");
	/* ';' separates members too (a=1;sig=2 is two of them) */
	expect_redact("a=1;sig=2;tok", 0, "a=1;sig=REDACTED;REDACTED");
	expect_redact("a=1;b=2&c", 1, "a=REDACTED;b=REDACTED&REDACTED");
	/* jsessionid: a session credential, in any case, in both modes */
	expect_redact("jsessionid=ABC&JSESSIONID=D&x=1", 0,
		      "jsessionid=REDACTED&JSESSIONID=REDACTED&x=1");
	expect_redact("q=0&sig=abc", 0, "q=0&sig=REDACTED");
	expect_redact("AWSAccessKeyId=AKIA&Signature=s%2F&Expires=1", 0,
		      "AWSAccessKeyId=REDACTED&Signature=REDACTED&Expires=1");
	expect_redact("X-Goog-Signature=abc&X-Goog-Date=1", 0,
		      "X-Goog-Signature=REDACTED&X-Goog-Date=1");
	/* exact, case-sensitive keys */
	expect_redact("SIG=1&signature=2&sig2=3&xsig=4", 0,
		      "SIG=1&signature=2&sig2=3&xsig=4");
	expect_redact("sig&sig=&sig==x", 0,
		      "REDACTED&sig=REDACTED&sig=REDACTED");
	/* empty members stay empty */
	expect_redact("=v&&x=1&", 1, "=REDACTED&&x=REDACTED&");
	expect_redact("&;&", 0, "&;&");
	expect_redact("", 1, "");
	expect_redact("", 0, "");

	/* cut at cap - 1, NUL-terminated */
	n = at_http_redact_query(out, sizeof(out), "a=1&b=2", 7, 1);
	cr_expect_eq(n, 7);
	cr_expect_str_eq(out, "a=REDAC");
	n = at_http_redact_query(out, 1, "a=1", 3, 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(out[0], '\0');
	out[0] = 'x';
	cr_expect_eq(at_http_redact_query(out, 0, "a=1", 3, 0), 0);
	cr_expect_eq(out[0], 'x');
}

Test(http, redact_path)
{
	char out[8];

	/* no matrix parameters: as it is */
	expect_path("/", 1, "/");
	expect_path("/a/b.txt", 1, "/a/b.txt");
	expect_path("", 0, "");
	/* a segment's parameters follow its first ';', up to the next '/' */
	expect_path("/x;jsessionid=SECRET", 1, "/x;jsessionid=REDACTED");
	expect_path("/x;jsessionid=SECRET", 0, "/x;jsessionid=REDACTED");
	expect_path("/x;JSESSIONID=S/y", 0, "/x;JSESSIONID=REDACTED/y");
	expect_path("/a;v=1;w=2/b;c=3", 1,
		    "/a;v=REDACTED;w=REDACTED/b;c=REDACTED");
	expect_path("/a;v=1;w=2/b;c=3", 0, "/a;v=1;w=2/b;c=3");
	expect_path("/a;sig=1;w=2", 0, "/a;sig=REDACTED;w=2");
	/* bare members are redacted in both modes, '&' is not a separator */
	expect_path("/reset;SECRET", 0, "/reset;REDACTED");
	expect_path("/a;b&c=1", 1, "/a;b&c=REDACTED");
	expect_path("/a;;b=1;", 1, "/a;;b=REDACTED;");
	expect_path("/a;/b;", 1, "/a;/b;");
	expect_path(";x=1", 1, ";x=REDACTED");
	/* cut at cap - 1 */
	cr_expect_eq(at_http_redact_path(out, sizeof(out), "/a;b=1", 6, 1), 7);
	cr_expect_str_eq(out, "/a;b=RE");
	cr_expect_eq(at_http_redact_path(out, 1, "/a", 2, 1), 0);
	cr_expect_eq(out[0], '\0');
}

static void expect_url(const char *scheme, const char *host,
		       const char *target, int all, const char *want)
{
	char out[256];
	size_t n = at_http_url_full(out, sizeof(out), scheme, host,
				    host ? strlen(host) : 0, target,
				    strlen(target), all);

	cr_expect_str_eq(out, want, "host \"%s\" target \"%s\" (all=%d)",
			 host ? host : "(null)", target, all);
	cr_expect_eq(n, strlen(want));
}

Test(http, url_full)
{
	char out[16];
	size_t n;

	/* origin-form + Host */
	expect_url("http", "example.com", "/", 0, "http://example.com/");
	expect_url("http", "example.com:8080", "/search?q=1&sig=abc#frag", 0,
		   "http://example.com:8080/search?q=1&sig=REDACTED");
	expect_url("http", "example.com", "/search?q=1&sig=abc#frag", 1,
		   "http://example.com/search?q=REDACTED&sig=REDACTED");
	expect_url("https", "example.com", "/p?", 0, "https://example.com/p?");
	expect_url("http", "example.com", "/p#x?y=1", 1,
		   "http://example.com/p");
	expect_url(NULL, "h", "/x", 0, "http://h/x");
	/* absolute-form */
	expect_url("http", "ignored", "http://example.com/a?b=1", 1,
		   "http://example.com/a?b=REDACTED");
	expect_url("http", "proxy", "http://user:pass@example.com:8080/p?"
		   "AWSAccessKeyId=AK&x=1#f", 0,
		   "http://REDACTED:REDACTED@example.com:8080/p?"
		   "AWSAccessKeyId=REDACTED&x=1");
	expect_url("http", NULL, "http://user@example.com", 0,
		   "http://REDACTED:REDACTED@example.com");
	expect_url("http", NULL, "http://a@b:c@example.com/", 0,
		   "http://REDACTED:REDACTED@example.com/");
	expect_url("http", NULL, "http://example.com/a@b?c=d@e", 0,
		   "http://example.com/a@b?c=d@e");
	expect_url("http", NULL, "https://example.com?sig=1", 0,
		   "https://example.com?sig=REDACTED");
	expect_url("http", NULL, "http://example.com#top", 0,
		   "http://example.com");
	/* token-only queries, matrix parameters, fragments */
	expect_url("http", "host", "/reset?SECRETTOKEN", 1,
		   "http://host/reset?REDACTED");
	expect_url("http", "host", "/reset?SECRETTOKEN", 0,
		   "http://host/reset?REDACTED");
	expect_url("http", "h", "/x;jsessionid=SECRET?a=1&SECRETKEY#S", 1,
		   "http://h/x;jsessionid=REDACTED?a=REDACTED&REDACTED");
	expect_url("http", "h", "/x;jsessionid=SECRET?a=1&SECRETKEY#S", 0,
		   "http://h/x;jsessionid=REDACTED?a=1&REDACTED");
	expect_url("http", NULL, "http://u:p@h/x;SECRET/y?T", 0,
		   "http://REDACTED:REDACTED@h/x;REDACTED/y?REDACTED");
	expect_url("http", "h", "/x;y#a;b?c", 1, "http://h/x;REDACTED");
	/* user info where it has no place (a Host value) */
	expect_url("http", "user:SECRET@example.com", "/", 0,
		   "http://REDACTED:REDACTED@example.com/");
	expect_url("http", "a@b@::1", "/", 0, "http://REDACTED:REDACTED@[::1]/");
	/* IPv6 hosts */
	expect_url("http", "[::1]:8080", "/x", 0, "http://[::1]:8080/x");
	expect_url("http", "[2001:db8::1]", "/", 0, "http://[2001:db8::1]/");
	expect_url("http", "::1", "/x", 0, "http://[::1]/x");
	expect_url("http", NULL, "http://[::1]:80/", 0, "http://[::1]:80/");
	/* asterisk and authority forms */
	expect_url("http", "example.com", "*", 0, "http://example.com");
	expect_url("http", "example.com:443", "example.com:443", 0,
		   "http://example.com:443");

	/* cut at cap - 1 */
	n = at_http_url_full(out, sizeof(out), "http", "example.com", 11,
			     "/abcdef", 7, 0);
	cr_expect_eq(n, 15);
	cr_expect_str_eq(out, "http://example.");
	n = at_http_url_full(out, 1, "http", "a", 1, "/", 1, 0);
	cr_expect_eq(n, 0);
	cr_expect_eq(out[0], '\0');
}

static void expect_split(const char *t, const char *path, const char *query)
{
	struct at_http_str p, q;

	at_http_split_target(t, strlen(t), &p, &q);
	cr_expect(str_is(p, path), "\"%s\": path \"%.*s\"", t, (int)p.len,
		  p.p ? p.p : "(null)");
	cr_expect(str_is(q, query), "\"%s\": query \"%.*s\"", t, (int)q.len,
		  q.p ? q.p : "(null)");
}

Test(http, split_target)
{
	expect_split("/", "/", NULL);
	expect_split("/a/b", "/a/b", NULL);
	expect_split("/a?x=1&y", "/a", "x=1&y");
	expect_split("/a?x=1#frag", "/a", "x=1");
	expect_split("/a?", "/a", "");
	expect_split("/a#f?x=1", "/a", NULL);
	expect_split("/a?b?c", "/a", "b?c");
	expect_split("*", "*", NULL);
	expect_split("http://h:1/a/b?x=1#f", "/a/b", "x=1");
	expect_split("http://u:p@h/a", "/a", NULL);
	expect_split("http://h", "", NULL);
	expect_split("http://h?x", "", "x");
	expect_split("example.com:443", NULL, NULL);
	expect_split("", NULL, NULL);
}

static void expect_host(const char *h, const char *name, int port)
{
	struct at_http_str n = { NULL, 0 };
	int p = -2;

	cr_assert_eq(at_http_host_port(h, strlen(h), &n, &p), 0, "\"%s\"", h);
	cr_expect(str_is(n, name), "\"%s\": name \"%.*s\"", h, (int)n.len,
		  n.p ? n.p : "");
	cr_expect_eq(p, port, "\"%s\": port %d", h, p);
}

Test(http, host_port)
{
	static const char *const bad[] = {
		"", ":80", "h:65536", "h:99999", "h:8a", "h:123456", "h: 80",
		"h:-1", "[::1", "[::1]x", "[::1]:x", "[]", "[1.2.3.4]",
		"[::g]", "[::1%eth0]", "[::1%25]", "a b", "h:80:90", "ex%2",
		"ex%zz", "user@host", "h/", "h?x", "\x01", "caf\xc3\xa9",
	};
	struct at_http_str n = { "untouched", 9 };
	int p = 7;

	expect_host("example.com", "example.com", -1);
	expect_host("example.com:8080", "example.com", 8080);
	expect_host("EXAMPLE.com:80", "EXAMPLE.com", 80);
	expect_host("127.0.0.1:65535", "127.0.0.1", 65535);
	expect_host("h:0", "h", 0);
	expect_host("h:00080", "h", 80);
	expect_host("h:", "h", -1);
	expect_host("[::1]:80", "::1", 80);
	expect_host("[::1]", "::1", -1);
	expect_host("[2001:db8::a:1]:443", "2001:db8::a:1", 443);
	expect_host("[::ffff:192.0.2.1]", "::ffff:192.0.2.1", -1);
	expect_host("[fe80::1%25eth0]:8080", "fe80::1%25eth0", 8080);
	expect_host("ex%41mple", "ex%41mple", -1);
	expect_host("a-b_c~d!$&'()*+,;=", "a-b_c~d!$&'()*+,;=", -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_expect_eq(at_http_host_port(bad[i], strlen(bad[i]), &n, &p),
			     -1, "accepted \"%s\"", bad[i]);
	cr_expect_eq(at_http_host_port(NULL, 0, &n, &p), -1);
	cr_expect(str_is(n, "untouched"));
	cr_expect_eq(p, 7);
}

/* ---- out-of-bounds reads: inputs end at a PROT_NONE page ---- */

static const struct bytes guard_inputs[] = {
	BYTES("GET /api/items?id=42&sig=x#f HTTP/1.1\r\n"
	      "Host: example.com:8080\r\n"
	      "User-Agent: curl/7.88.1\r\nAccept: */*\r\n"
	      "traceparent: " TP1 "\r\n"
	      "tracestate: a=1\r\nConnection: keep-alive, Upgrade\r\n"
	      "Upgrade: h2c\r\nContent-Length: 5\r\n\r\nhello"),
	BYTES("POST http://u:p@h:1/x?AWSAccessKeyId=1 HTTP/1.0\n"
	      "Host: [::1]:80\nTransfer-Encoding: gzip, chunked\n\n"),
	BYTES("CONNECT [2001:db8::1]:443 HTTP/1.1\r\n"
	      "Host: [2001:db8::1]:443\r\n\r\n"),
	BYTES("OPTIONS * HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n"),
	BYTES("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n"
	      "Transfer-Encoding: chunked\r\n\r\n"),
	BYTES("HTTP/1.1 204\nX-A: \xc3\xa9\n\r\n"),
	BYTES("5;a=\"b\\\"c\";d=e\r\nhello\r\n1A\r\n"
	      "abcdefghijklmnopqrstuvwxyz\r\n"
	      "0\r\nX: y\r\n\r\n"),
	BYTES("4000000000000000\r\n"),
	BYTES("[fe80::1%25eth0]:8080"),
	BYTES("example.com:65535"),
	BYTES("a=1&sig=2&&X-Goog-Signature=&b"),
	BYTES("GET \x00\xff\r\n\n\n"),
	BYTES("http://"),
	BYTES("\r\n\r\n"),
};

/* Every function on p[0..n). */
static void run_all(const char *p, size_t n)
{
	struct at_http_request r;
	struct at_http_response s;
	struct at_http_body b;
	struct at_http_str a, q;
	char out[512];
	int done, port;

	(void)at_http_request_start(p, n);
	(void)at_http_response_start(p, n);
	(void)at_http_head_end(p, n, 0);
	(void)at_http_head_end(p, n, n > 3 ? n - 3 : 0);
	if (at_http_parse_request(p, n, &r) == 0) {
		cr_assert_leq(r.head_len, n);
		cr_assert_leq(r.request_line_end, r.head_len);
		at_http_body_request(&b, &r);
		(void)at_http_known_method(r.method.p, r.method.len);
		if (r.host.p != NULL)
			(void)at_http_host_port(r.host.p, r.host.len, &a,
						&port);
		(void)at_http_url_full(out, sizeof(out), "http", r.host.p,
				       r.host.len, r.target.p, r.target.len, 0);
		at_http_split_target(r.target.p, r.target.len, &a, &q);
	}
	if (at_http_parse_response(p, n, &s) == 0) {
		cr_assert_leq(s.head_len, n);
		at_http_body_response(&b, &s, "GET", 3);
	}
	b = (struct at_http_body){ .mode = AT_BODY_CHUNKED };
	(void)at_http_body_feed(&b, p, n, &done);
	b = (struct at_http_body){ .mode = AT_BODY_CHUNKED };
	for (size_t i = 0; i < n; i++) {
		if (at_http_body_feed(&b, p + i, 1, &done) < 0 || done)
			break;
	}
	(void)at_http_known_method(p, n);
	(void)at_http_redact_query(out, sizeof(out), p, n, 0);
	(void)at_http_redact_query(out, sizeof(out), p, n, 1);
	(void)at_http_redact_path(out, sizeof(out), p, n, 0);
	(void)at_http_redact_path(out, sizeof(out), p, n, 1);
	(void)at_http_url_full(out, sizeof(out), "http", p, n, p, n, 0);
	(void)at_http_url_full(out, sizeof(out), "http", p, n, "/", 1, 1);
	at_http_split_target(p, n, &a, &q);
	(void)at_http_host_port(p, n, &a, &port);
}

Test(http, guard_page)
{
	long pg = sysconf(_SC_PAGESIZE);
	char *base = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *end;

	cr_assert_neq(base, MAP_FAILED);
	cr_assert_eq(mprotect(base + pg, (size_t)pg, PROT_NONE), 0);
	end = base + pg;
	for (size_t i = 0; i < sizeof(guard_inputs) / sizeof(guard_inputs[0]);
	     i++) {
		const char *in = guard_inputs[i].p;
		size_t len = guard_inputs[i].len;

		for (size_t k = 0; k <= len; k++) {
			memcpy(end - k, in, k);
			run_all(end - k, k);
		}
	}
	/* single-byte mutations of the first input, every byte value */
	{
		const char *in = guard_inputs[0].p;
		size_t len = guard_inputs[0].len;
		unsigned int x = 12345;

		for (int round = 0; round < 4000; round++) {
			size_t pos;

			memcpy(end - len, in, len);
			x = x * 1103515245u + 12345u;
			pos = (x >> 8) % len;
			end[-(long)len + (long)pos] = (char)(x >> 20);
			run_all(end - len, len);
			run_all(end - len + pos, len - pos);
		}
	}
	munmap(base, 2 * (size_t)pg);
}
