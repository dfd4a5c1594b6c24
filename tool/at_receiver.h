/*
 * at_receiver.h - an embedded OTLP/HTTP trace receiver on a loopback port.
 *
 * Accepts POST /v1/traces with Content-Type application/x-protobuf
 * (optionally Content-Encoding: gzip; Content-Length or chunked bodies;
 * keep-alive; several concurrent clients), decodes the
 * ExportTraceServiceRequest with the project's protobuf-c code, keeps every
 * decoded request, and answers 200 with an empty ExportTraceServiceResponse
 * - or with whatever response was scripted with at_receiver_script().
 * Garbage gets a 400 (bad body, or messages nested deeper than 100), 404
 * (other path), 405 (other method) or 415 (other content type) and the
 * receiver goes on.
 *
 * It is used by the integration tests as the collector, and by the
 * autotrace command as its embedded receiver.  It is not part of
 * libautotrace.so.  One background thread serves all connections.
 *
 * Any local program can connect, so it holds against them (defaults in
 * at_receiver.c): idle and slow connections time out, the input held for
 * requests still arriving is bounded for all connections together (503
 * with Retry-After beyond), and when the connection table is full the
 * idlest connection makes room for a new one.
 */
#ifndef AT_RECEIVER_H
#define AT_RECEIVER_H

#include <stddef.h>
#include <stdint.h>

#include "at_buf.h"

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest
	at_otlp_request;
typedef Opentelemetry__Proto__Trace__V1__Span at_otlp_span;
typedef Opentelemetry__Proto__Resource__V1__Resource at_otlp_resource;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope at_otlp_scope;
typedef Opentelemetry__Proto__Common__V1__KeyValue at_otlp_kv;

struct at_receiver;

struct at_receiver_opts {
	const char *bind_addr; /* default "127.0.0.1" ("::1" works too) */
	uint16_t port;         /* 0: an ephemeral port */
	/* If set, every accepted request body (after gzip decoding) is also
	 * written to save_dir/req-<n>.pb, for independent decoders. */
	const char *save_dir;
	/* Called on the receiver thread for each decoded request, after it
	 * was stored.  May be NULL. */
	void (*on_request)(const at_otlp_request *req, void *ud);
	void *ud;
	/* If set, a GET (or HEAD) of any other path than /v1/traces is
	 * answered by it, on the receiver thread (the live dashboard shares
	 * the OTLP port: at_api.c): target is the request target (with its
	 * query), NUL-terminated, at most 8 KiB; it appends the body to *body, sets *type
	 * (a static Content-Type) and returns the status.  May be NULL: 404. */
	int (*on_get)(const char *target, struct at_buf *body,
		      const char **type, void *ud);
	/* A sink: answer 200 to every well-framed POST without decoding or
	 * storing it (benchmarks: the collector's cost is not measured); its
	 * spans are only counted, by walking the protobuf wire format
	 * (uncompressed bodies only; gzip bodies count 0). */
	int sink;
	/* Limits (0: the default; see at_receiver.c): connections served at
	 * once; bytes of request input held beyond 16 KiB per connection,
	 * all connections together; a connection's idle keep-alive time; the
	 * time a request head may take; and the rate (bytes/s) a body must
	 * keep up after that time. */
	int max_conns;
	size_t body_budget;
	int idle_timeout_ms;
	int head_timeout_ms;
	size_t body_min_rate;
};

/*
 * Tests: set the limits above from spec, "idle=MS,head=MS,rate=B/S,
 * conns=N,budget=B" (any subset, in any order); the tools read it from
 * AUTOTRACE_RECEIVER_LIMITS.  Items that do not parse are ignored.
 */
void at_receiver_limits(struct at_receiver_opts *o, const char *spec);

/* Start listening.  NULL with errno set on failure (e.g. EADDRINUSE). */
struct at_receiver *at_receiver_start(const struct at_receiver_opts *opts);
uint16_t at_receiver_port(const struct at_receiver *r);
/* Stop the thread, close every socket, free every stored request. */
void at_receiver_stop(struct at_receiver *r);

/*
 * Script the answers to the next count requests (queued after any earlier
 * script): HTTP status, an optional Retry-After value, and for status 200
 * an optional partial success (rejected > 0 with message).  Requests
 * answered with a non-200 status are counted but NOT stored.  Special
 * status values: -1 = accept the connection's request but never answer
 * (blackhole, until stop); -2 = close the connection without answering;
 * -3 = answer a line that is not HTTP, then nothing more (garbage, then
 * a blackhole); -4 = reset the connection (RST) without answering.
 */
void at_receiver_script(struct at_receiver *r, int count, int status,
			const char *retry_after, int64_t rejected,
			const char *message);

/*
 * A slow collector: from now on, the answer to each trace request (200 or
 * scripted) is sent ms after the request was read (0: at once).  The
 * request is stored (and counted) when read, as a real collector has the
 * data before it answers; a client that gives up meanwhile still had it
 * delivered.  One connection waits for its answer before its next request
 * is read; other connections are not held up.
 */
void at_receiver_delay(struct at_receiver *r, int ms);

/* Requests received (all, including refused and garbage). */
size_t at_receiver_request_count(struct at_receiver *r);
/* Spans in stored (accepted) requests; for a sink, spans counted. */
size_t at_receiver_span_count(struct at_receiver *r);
/* Wait until at least n spans are stored: 0, or -1 on timeout. */
int at_receiver_wait_spans(struct at_receiver *r, size_t n, int timeout_ms);
/* Wait until at least n requests arrived: 0, or -1 on timeout. */
int at_receiver_wait_requests(struct at_receiver *r, size_t n, int timeout_ms);

/* One stored span with the resource and scope it came with. */
struct at_rx_span {
	const at_otlp_span *span;
	const at_otlp_resource *resource;
	const at_otlp_scope *scope;
	const char *content_encoding; /* "gzip" or "" for the request */
};

/*
 * Copy pointers to every stored span (in arrival order) into out (at most
 * cap); returns the total number stored.  The pointers stay valid until
 * at_receiver_clear() or at_receiver_stop().
 */
size_t at_receiver_spans(struct at_receiver *r, struct at_rx_span *out,
			 size_t cap);
/* Call fn on every stored request, in arrival order (under the
 * receiver's lock: fn must not call the receiver). */
void at_receiver_foreach_request(struct at_receiver *r,
				 void (*fn)(const at_otlp_request *req,
					    void *ud),
				 void *ud);

/* Forget every stored request. */
void at_receiver_clear(struct at_receiver *r);

/* ---- without sockets (the fuzzer; tests of the HTTP handling) ---- */

/*
 * A receiver with no listening socket and no thread (bind_addr and port
 * are ignored): the caller opens connections with at_rx_conn_open() and
 * hands them the bytes a client sent.  Everything else (parsing, gzip,
 * decoding, storing, on_request, scripts, the query functions above) is
 * the same code as for sockets.  Close every connection before
 * at_receiver_stop(), which frees it.
 */
struct at_receiver *at_receiver_new_unbound(const struct at_receiver_opts *opts);

struct at_rx_conn;
struct at_rx_conn *at_rx_conn_open(struct at_receiver *r);
/*
 * Bytes that arrived on the connection, in any pieces (n == 0: the client
 * shut down its sending side).  Complete requests are handled and
 * answered at once.  0 while the receiver still reads the connection, -1
 * once it no longer does (answered and closing, blackholed, or dropped):
 * further input is then ignored, as the socket loop would discard it.
 */
int at_rx_conn_input(struct at_rx_conn *c, const void *p, size_t n);
/* Every byte the receiver has answered on the connection so far. */
const uint8_t *at_rx_conn_output(const struct at_rx_conn *c, size_t *len);
void at_rx_conn_close(struct at_rx_conn *c);

/* ---- helpers over decoded messages (tests, tools) ---- */

typedef void at_receiver_span_fn(const at_otlp_span *span,
				 const at_otlp_resource *resource,
				 const at_otlp_scope *scope, void *ud);
/* Call fn (if not NULL) for every span of req in order, with its resource
 * and scope.  Returns how many spans req holds. */
size_t at_receiver_each_span(const at_otlp_request *req,
			     at_receiver_span_fn *fn, void *ud);

/* The attribute key of a span/resource attribute list, or NULL. */
const at_otlp_kv *at_rx_find_attr(at_otlp_kv *const *attrs, size_t n,
				  const char *key);
/* String value of that attribute, or NULL if absent / not a string. */
const char *at_rx_attr_str(at_otlp_kv *const *attrs, size_t n,
			   const char *key);
/* Int value in *out: 0, or -1 if absent / not an int. */
int at_rx_attr_int(at_otlp_kv *const *attrs, size_t n, const char *key,
		   int64_t *out);

#endif
