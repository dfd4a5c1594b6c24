/*
 * fuzz_http.c - libFuzzer target for the HTTP/1.x parser (at_http_*.c).
 *
 *   clang -fsanitize=fuzzer,address,undefined -Isrc/core -Isrc/protocols \
 *         src/protocols/at_http_head.c src/protocols/at_http_body.c \
 *         src/protocols/at_http_url.c tests/fuzz/fuzz_http.c -o fuzz_http
 *   ./fuzz_http tests/fuzz/corpus/http
 *
 * The input goes to every parser.  Besides "no crash, no out-of-bounds
 * read" (AddressSanitizer; libFuzzer's buffer ends exactly at the input),
 * it checks properties that must hold for any input, and traps if one
 * does not:
 *   - at_http_request_start / _response_start are monotonic over the
 *     prefixes of the input: once -1 or 1, always the same;
 *   - at_http_head_end finds the same end when the input arrives in
 *     pieces (resuming from the previous length minus 3);
 *   - a head the parsers accept ends where at_http_head_end says, the
 *     offsets and strings they return lie inside it (but the combined
 *     list of several tracestate fields, in the request's own buffer,
 *     NUL-terminated, or absent), and parsing only the head gives the
 *     same result as parsing the whole input;
 *   - an accepted request with an A-Z/-/_ method passes
 *     at_http_request_start;
 *   - an accepted request's line_ending agrees with the CRs and LFs of
 *     its head, and the place before its blank line (where the hooks put
 *     the traceparent line) is at a line start after the request line;
 *   - the body feeder gives the same outcome (bytes consumed, done, or the
 *     byte where it fails) whether the input is fed at once, one byte at a
 *     time, or in pieces whose sizes come from the input's own bytes.  It
 *     runs on the whole input as a chunked body, and on the bytes after an
 *     accepted head with the framing that head asks for;
 *   - the URL helpers never write past their cap and return the length of
 *     the NUL-terminated string they wrote; url.full of an origin- or
 *     asterisk-form target made after its prefix (at_http_url_full_after)
 *     is the same string.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#include "at_http.h"
#include "fuzz.h"

/* p..p+len inside [base, base+n)? */
static int inside(const char *base, size_t n, const char *p, size_t len)
{
	if (p == NULL)
		return len == 0;
	return p >= base && len <= n && (size_t)(p - base) <= n - len;
}

static void check_starts(const char *p, size_t n)
{
	int prev_req = 0, prev_resp = 0;
	size_t lim = n < 64 ? n : 64;

	for (size_t k = 0; k <= lim; k++) {
		int rq = at_http_request_start(p, k);
		int rs = at_http_response_start(p, k);

		CHECK(rq >= -1 && rq <= 1 && rs >= -1 && rs <= 1);
		if (prev_req != 0)
			CHECK(rq == prev_req);
		if (prev_resp != 0)
			CHECK(rs == prev_resp);
		prev_req = rq;
		prev_resp = rs;
	}
}

/* Piece sizes from the input's bytes: 1..16, cycling. */
static size_t piece(const char *p, size_t n, size_t i)
{
	return n == 0 ? 1 : ((unsigned char)p[i % n] & 15) + 1;
}

static void check_head_end(const char *p, size_t n)
{
	size_t want = at_http_head_end(p, n, 0);
	size_t prev = 0, got = 0, k = 0, i = 0;

	CHECK(want <= n);
	while (got == 0 && k < n) {
		k += piece(p, n, i++);
		if (k > n)
			k = n;
		got = at_http_head_end(p, k, prev >= 3 ? prev - 3 : 0);
		prev = k;
	}
	CHECK(got == want);
}

struct outcome {
	int err;
	size_t err_lo, err_hi; /* the piece that failed */
	size_t consumed;
	int done;
};

/* Feed with piece sizes: 0 = all at once, 1 = bytewise, 2 = from sizes. */
static struct outcome feed(const struct at_http_body *init, const char *p,
			   size_t n, int how, const char *sizes, size_t ns)
{
	struct at_http_body b = *init;
	struct outcome o = { 0 };
	size_t pos = 0, i = 0;

	do {
		size_t len = how == 0 ? n - pos : how == 1 ? 1 :
				   piece(sizes, ns, i++);
		int done = -1;
		ssize_t got;

		if (len > n - pos)
			len = n - pos;
		got = at_http_body_feed(&b, p + pos, len, &done);
		if (got < 0) {
			o.err = 1;
			o.err_lo = pos;
			o.err_hi = pos + len;
			/* it keeps failing */
			CHECK(at_http_body_feed(&b, p, n, &done) == -1);
			return o;
		}
		CHECK(done == 0 || done == 1);
		CHECK((size_t)got <= len);
		CHECK(done || (size_t)got == len);
		o.consumed += (size_t)got;
		o.done = done;
		pos += len;
	} while (pos < n && !o.done);
	return o;
}

static void check_body(const struct at_http_body *b, const char *p, size_t n,
		       const char *sizes, size_t ns)
{
	struct outcome whole = feed(b, p, n, 0, NULL, 0);
	struct outcome one = feed(b, p, n, 1, NULL, 0);
	struct outcome split = feed(b, p, n, 2, sizes, ns);

	CHECK(whole.err == one.err && whole.err == split.err);
	if (whole.err) {
		CHECK(split.err_lo <= one.err_lo && one.err_lo < split.err_hi);
		CHECK(whole.err_lo <= one.err_lo);
		return;
	}
	CHECK(whole.consumed == one.consumed &&
	      whole.consumed == split.consumed);
	CHECK(whole.done == one.done && whole.done == split.done);
	CHECK(whole.consumed <= n);
	CHECK(whole.done || whole.consumed == n);
	if (b->mode == AT_BODY_UNTIL_CLOSE)
		CHECK(!whole.done && whole.consumed == n);
	if (b->mode == AT_BODY_NONE)
		CHECK(whole.done && whole.consumed == 0);
}

static void check_url(const char *host, size_t hl, const char *t, size_t tl)
{
	char out[300];
	size_t caps[] = { 0, 1, 7, sizeof(out) - 8 };

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i];
		size_t w;

		memset(out, 'Z', sizeof(out));
		w = at_http_url_full(out, cap, "http", host, hl, t, tl, 1);
		if (cap == 0) {
			CHECK(w == 0 && out[0] == 'Z');
		} else {
			CHECK(w < cap && out[w] == '\0');
			CHECK(out[cap] == 'Z');
		}
		if (cap > 1 && tl > 0 && (t[0] == '/' || t[0] == '*')) {
			char pre[300];
			size_t pl = at_http_url_full(pre, cap, "http", host, hl,
						     NULL, 0, 1);

			if (pl + 1 < cap) {
				CHECK(at_http_url_full_after(pre, cap, pl, t, tl,
							     1) == w);
				CHECK(memcmp(pre, out, w + 1) == 0);
			}
		}
		memset(out, 'Z', sizeof(out));
		w = at_http_redact_query(out, cap, t, tl, (int)(i & 1));
		if (cap > 0)
			CHECK(w < cap && out[w] == '\0' && out[cap] == 'Z');
	}
}

/*
 * In an accepted head every CR ends a line (CRLF): line_ending agrees with
 * the counts of CR and LF.  The blank line is CRLF exactly when the byte
 * before its LF is a CR, and the place before it (where the hooks insert
 * a line) starts a line, after the request line.
 */
static void check_line_ends(const char *p, size_t h,
			    const struct at_http_request *r)
{
	size_t crs = 0, lfs = 0, at;

	for (size_t i = 0; i < h; i++) {
		crs += p[i] == '\r';
		lfs += p[i] == '\n';
	}
	CHECK(lfs >= 2 && crs <= lfs);
	if (r->line_ending == AT_HTTP_EOL_CRLF)
		CHECK(crs == lfs);
	else if (r->line_ending == AT_HTTP_EOL_LF)
		CHECK(crs == 0);
	else
		CHECK(r->line_ending == AT_HTTP_EOL_MIXED && crs > 0 &&
		      crs < lfs);
	CHECK(p[h - 1] == '\n');
	at = h - (p[h - 2] == '\r' ? 2 : 1);
	CHECK(at >= r->request_line_end && p[at - 1] == '\n');
}

static void check_request(const char *p, size_t n, size_t he)
{
	struct at_http_request r, r2;
	struct at_http_body b;
	struct at_http_str path, query, name;
	size_t h;
	int port;

	/* The parser writes the fields, not the padding between them: the
	 * structs are compared whole below. */
	memset(&r, 0, sizeof(r));
	memset(&r2, 0, sizeof(r2));
	if (at_http_parse_request(p, n, &r) != 0) {
		if (he > 0)
			CHECK(at_http_parse_request(p, he, &r2) != 0);
		return;
	}
	h = r.head_len;
	CHECK(he > 0 && h == he && h <= n && h <= AT_HTTP_HEAD_MAX);
	CHECK(r.request_line_end > 0 && r.request_line_end < h);
	CHECK(r.method.p == p && r.method.len >= 1 && r.method.len <= 16);
	CHECK(inside(p, h, r.target.p, r.target.len) && r.target.len > 0);
	CHECK(inside(p, h, r.host.p, r.host.len));
	CHECK(inside(p, h, r.traceparent.p, r.traceparent.len));
	if (r.n_tracestate <= 1)
		CHECK(inside(p, h, r.tracestate.p, r.tracestate.len));
	else
		CHECK(r.tracestate.p == NULL ||
		      (r.tracestate.p == r.tracestate_buf &&
		       r.tracestate.len <= AT_TRACESTATE_MAX &&
		       r.tracestate_buf[r.tracestate.len] == '\0'));
	CHECK((r.tracestate.p != NULL || r.n_tracestate > 1) ==
	      (r.n_tracestate > 0));
	CHECK(inside(p, h, r.user_agent.p, r.user_agent.len));
	CHECK((r.traceparent.p != NULL) == (r.n_traceparent > 0));
	CHECK(r.version_minor == 0 || r.version_minor == 1);
	CHECK(!(r.chunked && r.content_length >= 0));
	check_line_ends(p, h, &r);
	CHECK(at_http_parse_request(p, h, &r2) == 0);
	if (r.n_tracestate > 1) {
		/* the combined list is in each struct's own buffer */
		CHECK((r.tracestate.p == NULL) == (r2.tracestate.p == NULL));
		CHECK(r.tracestate.len == r2.tracestate.len);
		CHECK(!r.tracestate.p ||
		      !memcmp(r.tracestate.p, r2.tracestate.p,
			      r.tracestate.len));
		r2.tracestate = r.tracestate;
	}
	CHECK(memcmp(&r, &r2, offsetof(struct at_http_request,
				       tracestate_buf)) == 0);
	for (size_t i = 0; i < r.method.len; i++) {
		char c = r.method.p[i];

		if (!((c >= 'A' && c <= 'Z') || c == '-' || c == '_'))
			goto skip_start;
	}
	CHECK(at_http_request_start(p, n) == 1);
skip_start:
	(void)at_http_known_method(r.method.p, r.method.len);
	at_http_split_target(r.target.p, r.target.len, &path, &query);
	CHECK(inside(r.target.p, r.target.len, path.p, path.len));
	CHECK(inside(r.target.p, r.target.len, query.p, query.len));
	if (r.host.p != NULL &&
	    at_http_host_port(r.host.p, r.host.len, &name, &port) == 0)
		CHECK(inside(r.host.p, r.host.len, name.p, name.len) &&
		      port >= -1 && port <= 65535);
	check_url(r.host.p, r.host.len, r.target.p, r.target.len);

	at_http_body_request(&b, &r);
	check_body(&b, p + h, n - h, p, n);
}

static void check_response(const char *p, size_t n, size_t he)
{
	struct at_http_response r, r2;
	struct at_http_body b;

	if (at_http_parse_response(p, n, &r) != 0) {
		if (he > 0)
			CHECK(at_http_parse_response(p, he, &r2) != 0);
		return;
	}
	CHECK(he > 0 && r.head_len == he && r.head_len <= n);
	CHECK(r.status >= 100 && r.status <= 999);
	CHECK(at_http_response_start(p, n) == 1);
	CHECK(at_http_parse_response(p, r.head_len, &r2) == 0);
	CHECK(memcmp(&r, &r2, sizeof(r)) == 0);
	at_http_body_response(&b, &r, "GET", 3);
	check_body(&b, p + r.head_len, n - r.head_len, p, n);
	at_http_body_response(&b, &r, "HEAD", 4);
	CHECK(b.mode == AT_BODY_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct at_http_body b;
	struct at_http_str a, q;
	size_t he;
	int port;

	check_starts(p, size);
	check_head_end(p, size);
	he = at_http_head_end(p, size, 0);
	check_request(p, size, he);
	check_response(p, size, he);

	/* the whole input as a chunked body, and as other framings */
	memset(&b, 0, sizeof(b));
	b.mode = AT_BODY_CHUNKED;
	check_body(&b, p, size, p, size);
	b.mode = AT_BODY_LENGTH;
	b.remaining = size / 2;
	check_body(&b, p, size, p + size / 2, size - size / 2);
	b.mode = AT_BODY_UNTIL_CLOSE;
	check_body(&b, p, size, p, size);
	b.mode = AT_BODY_NONE;
	check_body(&b, p, size, p, size);

	/* the value helpers on the raw input */
	(void)at_http_known_method(p, size);
	at_http_split_target(p, size, &a, &q);
	CHECK(inside(p, size, a.p, a.len) && inside(p, size, q.p, q.len));
	if (at_http_host_port(p, size, &a, &port) == 0)
		CHECK(inside(p, size, a.p, a.len) && a.len > 0);
	check_url(p, size, p, size);
	check_url(NULL, 0, p, size);
	return 0;
}
