/*
 * harness.h - what the integration tests share: running real programs with
 * the library preloaded in the child's environment only, a receiver, tiny
 * loopback servers, and helpers over decoded spans.
 *
 * Waiting is always on a condition with a timeout, never a sleep.
 */
#ifndef HARNESS_H
#define HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "at_receiver.h"

struct h_result {
	int status;     /* exit code, or 128 + signal; -1 if timed out */
	char *out;      /* stdout, NUL-terminated */
	size_t out_len;
	char *err;      /* stderr, NUL-terminated */
	size_t err_len;
};

/* Absolute path of the build directory's file (AT_BUILD_DIR or "build"). */
const char *h_build_path(const char *rel);
const char *h_lib(void);

/*
 * Run argv[0] (PATH is searched) with the test's environment minus every
 * OTEL_*, AUTOTRACE_*, TRACEPARENT, TRACESTATE and LD_PRELOAD variable,
 * plus env (NULL-terminated "K=V" list, may be NULL), plus
 * LD_PRELOAD=<the library> if preload (after $AT_SAN_PRELOAD, if set).  stdin is /dev/null.  Kills it
 * after timeout_ms.  Returns 0 if it ran.
 */
int h_run(const char *const argv[], const char *const env[], bool preload,
	  int timeout_ms, struct h_result *res);
void h_result_free(struct h_result *res);

/* A receiver on 127.0.0.1 with raw bodies saved to a fresh temp dir. */
struct at_receiver *h_receiver(char **save_dir);
/* "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:<port>" (static buffer
 * per call site is not needed: returns a malloc'd string). */
char *h_endpoint_env(struct at_receiver *r);

/*
 * A loopback HTTP/1.x server in a thread: answers every request on every
 * connection with 200 and the body "hello\n" (keep-alive).  Returns its
 * port.  h_http_stop stops it.
 */
struct h_http;
struct h_http *h_http_start(void);
uint16_t h_http_port(struct h_http *s);
void h_http_stop(struct h_http *s);

/* A port on 127.0.0.1 where nothing listens (bound, then closed). */
uint16_t h_closed_port(void);

/* Hex of bytes (static rotating buffers, for messages). */
const char *h_hex(const uint8_t *p, size_t n);

/* Spans stored by r, waiting up to timeout_ms for at least min of them.
 * Returns the count; *out is malloc'd. */
size_t h_spans(struct at_receiver *r, size_t min, int timeout_ms,
	       struct at_rx_span **out);

/* Attribute helpers on a decoded span. */
const char *h_attr_str(const at_otlp_span *s, const char *key);
int64_t h_attr_int(const at_otlp_span *s, const char *key, int64_t dflt);
const char *h_res_str(const at_otlp_resource *r, const char *key);
int64_t h_res_int(const at_otlp_resource *r, const char *key, int64_t dflt);

/*
 * What most tests need: a receiver (raw bodies saved in dir), a loopback
 * HTTP server to connect to (its port also as a string), and the
 * OTEL_EXPORTER_OTLP_ENDPOINT=... setting for the receiver.
 */
struct h_env {
	struct at_receiver *rx;
	struct h_http *http;
	char *ep;
	char *dir;
	char port[8];
};
int h_env_start(struct h_env *e);
void h_env_stop(struct h_env *e);

/*
 * A background process (a server): like h_run but returns at once with
 * its pid; stdout and stderr go to log (a path; may be NULL: /dev/null).
 * h_stop sends SIGTERM, waits up to timeout_ms (then SIGKILL) and returns
 * the exit status as h_run does.
 */
pid_t h_start(const char *const argv[], const char *const env[], bool preload,
	      const char *log);
int h_stop(pid_t pid, int timeout_ms);
/* Wait for a background process to exit by itself (SIGKILL after
 * timeout_ms); its status as h_run gives it. */
int h_wait_exit(pid_t pid, int timeout_ms);

/* Wait until path exists and is not empty: 0, or -1 on timeout. */
int h_wait_file(const char *path, int timeout_ms);
/* Wait until the file at path contains needle: 0, or -1 on timeout. */
int h_wait_file_has(const char *path, const char *needle, int timeout_ms);
/* The port number written in path (waiting for it), or 0. */
uint16_t h_read_port(const char *path, int timeout_ms);

/* A traced http_service (fixture) in dir relaying every request to
 * 127.0.0.1:downstream (GET /downstream), with env; its pid, and its
 * port in port ("0" if it did not start). */
pid_t h_start_relay(const char *dir, uint16_t downstream,
		    const char *const env[], char port[8]);
/* Wait until 127.0.0.1:port accepts connections: 0 or -1. */
int h_wait_port(uint16_t port, int timeout_ms);
/* The whole file (NUL-terminated, malloc'd; *len may be NULL), or NULL. */
char *h_read_file(const char *path, size_t *len);
/* Remove each line of text that starts with prefix (the prefix and up to
 * the next newline, wherever it stands: a program's stderr lines land in
 * the middle of its buffered stdout ones). */
void h_cut_lines(char *text, const char *prefix);

/* The first span (from index `from`) with this name and kind (0: any). */
const at_otlp_span *h_find_span(const struct at_rx_span *spans, size_t n,
				const char *name, int kind);

/* "00-<trace id>-<span id>-<flags>" of a decoded span, as injected. */
void h_span_traceparent(const at_otlp_span *s, char out[56]);

/*
 * A recording HTTP server (the record_server fixture, not traced): every
 * byte it receives is appended to a file; it answers each request with
 * 200 "ok".  h_rec_start: 0, or -1 if it did not come up.  h_rec_stop
 * stops it and returns the bytes it recorded (malloc'd, NUL-terminated;
 * *len may be NULL).
 */
struct h_rec {
	char *dir, *port_file, *out_file;
	pid_t pid;
	uint16_t port;
};
int h_rec_start(struct h_rec *r);
/* The same with more record_server options (NULL-terminated; e.g.
 * "--answer", "lines"). */
int h_rec_start_with(struct h_rec *r, const char *const opts[]);
/* Another recording server: prog (NULL-terminated argv start) is run with
 * PORT_FILE OUT_FILE and opts, as record_server is. */
int h_rec_start_prog(struct h_rec *r, const char *const prog[],
		     const char *const opts[]);
char *h_rec_stop(struct h_rec *r, size_t *len);

/*
 * Remove every "traceparent: <55 characters>\r\n" line that is the last
 * line of a head (directly followed by the blank line "\r\n") in buf, in
 * place: what the library injects (a program's own traceparent written
 * last in its head would be removed too).  The first max values go to
 * tps.  Returns the new length; *n = lines removed.
 */
size_t h_strip_injected(char *buf, size_t len, char (*tps)[56], int max,
			int *n);

/* Run a shell command line, return its stdout (malloc'd) or NULL. */
char *h_shell(const char *cmd, int *status);

#endif
