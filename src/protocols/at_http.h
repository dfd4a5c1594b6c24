/*
 * at_http.h - HTTP/1.x message parsing for the socket hooks: request and
 * response heads, body framing, and the attribute values the HTTP semantic
 * conventions ask for (method, url.full with redaction, url.path/query,
 * server.address/port from Host).
 *
 * Pure functions over caller-owned buffers: no allocation, no global
 * state, no locale, no system call; safe in hooks.  Every function bounds
 * its reads by the lengths it is given and treats anything unexpected as
 * "not HTTP" (an error return), never as a crash.  The hooks only inject
 * into a head that at_http_parse_request() accepted as a complete,
 * well-formed request head.
 *
 * One header for the parser's three files: at_http_head.c (recognising a
 * message, heads, the method's name), at_http_body.c (body framing and
 * the chunked decoder), at_http_url.c (url.full, url.path/query and their
 * redaction, Host -> server.address/port).
 */
#ifndef AT_HTTP_H
#define AT_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "at_propagators.h"
#include "at_traceparent.h"

#define AT_HTTP_HEAD_MAX 16384 /* longer heads are not traced */
#define AT_HTTP_BAGGAGE_FIELDS 4 /* baggage fields kept per head */

/* ---- recognising a message start ---- */

/*
 * Could p[0..n) be the beginning of an HTTP/1.x request?  Looks at the
 * method token (1-16 tchar, uppercase letters only for the methods we
 * accept: any token of A-Z and '-' '_') followed by one SP, then a target
 * starting with '/', '*' or a scheme ("http://"...), or, for CONNECT, an
 * authority.  Returns 1 (plausible so far), 0 (need more bytes to tell:
 * p is a proper prefix of something plausible), -1 (not HTTP).
 */
int at_http_request_start(const char *p, size_t n);

/* Same for a response: "HTTP/1.0 " / "HTTP/1.1 " then 3 digits. */
int at_http_response_start(const char *p, size_t n);

/*
 * Offset just past the blank line that ends a head ("\r\n\r\n"; a bare
 * "\n\n" is accepted too), searching p[0..n) from offset `from` (a caller
 * resuming a scan passes the previous n minus 3).  0 if not found yet.
 */
size_t at_http_head_end(const char *p, size_t n, size_t from);

/* ---- request heads ---- */

struct at_http_str {
	const char *p; /* into the caller's buffer; NULL if absent */
	size_t len;
};

struct at_http_request {
	struct at_http_str method;
	struct at_http_str target;
	int version_minor;          /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
	struct at_http_str host;    /* Host header, trimmed */
	struct at_http_str traceparent;
	int n_traceparent;          /* how many traceparent headers */
	struct at_http_str tracestate; /* see below */
	int n_tracestate;           /* how many tracestate fields */
	struct at_http_str user_agent;
	int64_t content_length;     /* -1 if absent */
	int chunked;                /* Transfer-Encoding ends with chunked */
	int conn_close;             /* Connection: close */
	int conn_keep_alive;        /* Connection: keep-alive */
	int upgrade;                /* Upgrade header present */
	size_t request_line_end;    /* offset just past the request line's
				     * line end */
	size_t head_len;            /* bytes of the head, blank line included */
	int line_ending;            /* AT_HTTP_EOL_*: how its lines end */
	/* The other propagation formats (OTEL_PROPAGATORS): the first b3,
	 * X-B3-* and uber-trace-id fields (prop.traceparent is left to the
	 * caller: traceparent above), the baggage fields in order (up to
	 * AT_HTTP_BAGGAGE_FIELDS; n_baggage counts them all), and which
	 * formats the head has at all (AT_PROP_* bits: an outgoing request
	 * already carrying one gets no line of it). */
	struct at_prop_fields prop;
	unsigned prop_present;
	int n_baggage;
	struct at_prop_str baggage[AT_HTTP_BAGGAGE_FIELDS];
	/*
	 * tracestate: with one field, its value (trimmed) in the head, as
	 * sent.  With several, they are one list (RFC 9110 5.3, the W3C
	 * Recommendation): combined in order, empty ones included, and
	 * validated as one (at_tracestate_sanitize_parts()); tracestate then
	 * points to tracestate_buf, which holds the valid list, or is absent
	 * (p NULL) if the combined list is invalid.  A copy of the struct
	 * still points into the original's buffer.  Last, so that the parser
	 * copies it only when used.
	 */
	char tracestate_buf[AT_TRACESTATE_MAX + 1];
};

/* How the lines of a head end (the request line and the blank line
 * included). */
enum {
	AT_HTTP_EOL_CRLF = 0,       /* every line with CRLF */
	AT_HTTP_EOL_LF,             /* every line with a bare LF */
	AT_HTTP_EOL_MIXED,          /* some with CRLF, some with LF */
};

/*
 * Parse the complete head p[0..n) (n = at_http_head_end()).  Checks: the
 * request line is "METHOD SP target SP HTTP/1.x CRLF" (no control
 * characters, no spaces in the target), every header line is
 * "token ':' value" with no control characters but HTAB, no obsolete line
 * folding; Content-Length is digits only and consistent if repeated;
 * both Content-Length and chunked is malformed.  Returns 0, or -1 if the
 * head is not a well-formed HTTP/1.x request head.
 */
int at_http_parse_request(const char *p, size_t n, struct at_http_request *r);

/*
 * The context a parsed request carries in the propagation formats of
 * order[0..n) (OTEL_PROPAGATORS: at_prop_extract), with its tracestate
 * (sanitized into ts, *ts_n its length) when traceparent gave it.
 * Returns 1 with *out set, or 0.
 */
int at_http_request_context(const struct at_http_request *r,
			    const uint8_t *order, int n,
			    struct at_span_context *out, char *ts, size_t cap,
			    int *ts_n);

/* ---- response heads ---- */

struct at_http_response {
	int version_minor;
	int status;                 /* 100..999 */
	int64_t content_length;     /* -1 if absent */
	int chunked;
	int conn_close;
	int conn_keep_alive;
	size_t head_len;
};

int at_http_parse_response(const char *p, size_t n, struct at_http_response *r);

/* ---- body framing ---- */

enum at_http_body_mode {
	AT_BODY_NONE = 0,     /* no body: the message ends with its head */
	AT_BODY_LENGTH,       /* Content-Length bytes */
	AT_BODY_CHUNKED,      /* chunked transfer coding */
	AT_BODY_UNTIL_CLOSE,  /* a response delimited by the connection close */
};

struct at_http_body {
	enum at_http_body_mode mode;
	uint64_t remaining;   /* LENGTH: bytes left; CHUNKED: of this chunk */
	int state;            /* CHUNKED: the decoder's state */
	uint64_t size;        /* CHUNKED: size being read */
	int digits;
};

/* Framing of a request body (none unless Content-Length or chunked). */
void at_http_body_request(struct at_http_body *b,
			  const struct at_http_request *r);

/*
 * Framing of a response body, given the request method it answers: none
 * for HEAD, 1xx, 204, 304 (and 2xx to CONNECT); Content-Length; chunked;
 * else until close.
 */
void at_http_body_response(struct at_http_body *b,
			   const struct at_http_response *r,
			   const char *req_method, size_t req_method_len);

/*
 * Consume body bytes p[0..n) (any split: one byte at a time works).
 * Returns the number of bytes that belong to this body (<= n) and sets
 * *done when the body ended (bytes after it start the next message), or -1
 * if the chunked framing is malformed (stop tracking this connection).
 */
ssize_t at_http_body_feed(struct at_http_body *b, const char *p, size_t n,
			  int *done);

/* ---- semantic-convention values ---- */

/*
 * The method as http.request.method: the canonical name of a known method
 * (CONNECT, DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT, TRACE - exact
 * case), or NULL for any other (the caller then uses "_OTHER" and
 * http.request.method_original).
 */
const char *at_http_known_method(const char *m, size_t len);

/*
 * Redact a query string q[0..n) (without '?') into out.  Its members are
 * separated by '&' or ';'.  With redact_all, every value becomes
 * "REDACTED" ("a=1&b=" -> "a=REDACTED&b=REDACTED"); otherwise only the
 * values of the keys the semantic conventions list (AWSAccessKeyId,
 * Signature, sig, X-Goog-Signature) and of jsessionid.  A member without
 * '=' ("TOKEN") becomes "REDACTED" in both cases.  Returns the length
 * written (always NUL-terminated; cut at cap - 1).
 */
size_t at_http_redact_query(char *out, size_t cap, const char *q, size_t n,
			    int redact_all);

/*
 * Redact a path p[0..n) (no query) into out: the matrix parameters of a
 * segment - what follows its first ';' up to the next '/', members
 * separated by ';' - as a query's members ("/a;jsessionid=X;v/b" ->
 * "/a;jsessionid=REDACTED;REDACTED/b").  Same return as above.
 */
size_t at_http_redact_path(char *out, size_t cap, const char *p, size_t n,
			   int redact_all);

/*
 * url.full for a request: the target if it is absolute ("http://..."),
 * else scheme "://" host target.  User info ("user:pass@", also in a
 * host value) becomes "REDACTED:REDACTED@"; the path and the query are
 * redacted as above; a fragment is dropped.  Returns the length written
 * (NUL-terminated, cut at cap - 1).
 */
size_t at_http_url_full(char *out, size_t cap, const char *scheme,
			const char *host, size_t host_len, const char *target,
			size_t target_len, int redact_all);

/*
 * at_http_url_full() of an origin-form ('/') or asterisk-form ('*')
 * target, given what at_http_url_full() wrote for the same scheme and
 * Host with no target (out[0..len), len < cap - 1: not cut): writes the
 * rest after it and returns the whole length - the same bytes as
 * at_http_url_full() with the target.  Lets a caller keep the prefix of
 * a connection's requests instead of making it for each.
 */
size_t at_http_url_full_after(char *out, size_t cap, size_t len,
			      const char *target, size_t target_len,
			      int redact_all);

/* Split an origin-form target into path and query (without '?'; query.p
 * NULL if none; a fragment is dropped). */
void at_http_split_target(const char *target, size_t len,
			  struct at_http_str *path, struct at_http_str *query);

/*
 * Host header -> server.address and server.port ("example.com:8080",
 * "[::1]:80", "example.com").  *port = -1 if absent.  Returns 0, or -1 if
 * the value is not a valid host[:port].
 */
int at_http_host_port(const char *host, size_t len, struct at_http_str *name,
		      int *port);

#endif
