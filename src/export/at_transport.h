/*
 * at_transport.h - a minimal HTTP/1.1 client for POSTing OTLP requests to
 * the collector, over the real libc functions.
 *
 * One persistent connection (keep-alive), opened lazily and opened again
 * after any error, after the server closes it, or when the socket was
 * taken from us (the host closed our fd, or put another file at its
 * number: the socket's identity is checked before each use).  Every step is
 * bounded by a deadline (non-blocking socket + poll).  Responses are read
 * with Content-Length, chunked, or until close.
 *
 * Exit.  The caller may give an exit_limit function, consulted by every
 * wait at least every AT_TRANSPORT_SLICE_MS.  While it returns 0 nothing
 * changes.  Once it returns a time (the process is exiting), the exchange
 * ends by that time, and also after AT_TRANSPORT_EXIT_SILENCE_MS without
 * progress (a connect completed, request bytes written or answer bytes
 * read): a collector that accepts and says nothing is not waited for,
 * one that keeps answering is.  An answer that does not start as an HTTP
 * status line ends the exchange with -EPROTO as soon as its first bytes
 * arrive, without waiting for the rest.
 */
#ifndef AT_TRANSPORT_H
#define AT_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "at_buf.h"
#include "at_config.h"
#include "at_tls_client.h"

struct at_transport {
	const struct at_endpoint *ep;
	const char *extra_headers; /* "Name: value\r\n" lines */
	const char *content_type;  /* NULL: application/x-protobuf */
	int fd;                    /* -1 when not connected */
	struct sockaddr_storage addr; /* last address that worked */
	socklen_t addr_len;        /* 0: resolve the host again */
	dev_t dev;                 /* identity of our socket */
	ino_t ino;
	struct at_buf req;         /* request head */
	struct at_buf in;          /* response bytes */
	/* 0, or the monotonic time by which an exchange must end (exit). */
	uint64_t (*exit_limit)(void);
	uint64_t progress_ns;      /* last progress of the exchange */
	/* https: the CA and client files (NULL: the system store, no
	 * client certificate), and the connection's TLS state. */
	const struct at_tls_files *tls_files;
	struct at_tls_conn tls;
	/* NULL, or told the socket's life before anything else can use its
	 * number: AT_TRANSPORT_OPENING just before socket(), the descriptor
	 * and its identity right after it, -1 before it is closed (or when
	 * the open failed).  The exporter publishes it for the close() hook,
	 * so a host closing every descriptor never closes ours mid-exchange. */
	void (*announce)(int fd, dev_t dev, ino_t ino);
};

#define AT_TRANSPORT_OPENING (-2)

#define AT_TRANSPORT_SLICE_MS 50
#define AT_TRANSPORT_EXIT_SILENCE_MS 400

struct at_transport_response {
	int status;               /* HTTP status code */
	int64_t retry_after_ms;   /* from Retry-After, -1 if none/invalid */
	struct at_buf body;       /* decoded body (owned by the caller) */
};

void at_transport_init(struct at_transport *t, const struct at_endpoint *ep,
		       const char *extra_headers);

/*
 * POST body to the endpoint with Content-Type t->content_type, by
 * default application/x-protobuf (content_encoding: NULL or "gzip").  deadline_ns is a monotonic time.
 * Returns 0 when an HTTP response was read (see resp->status), or a
 * negative errno: -ECONNREFUSED, -ETIMEDOUT (deadline, or silence at
 * exit), -ECONNRESET, -EPROTO (an answer that is not HTTP)...  resp->body
 * must be initialised by the caller.
 */
int at_transport_post(struct at_transport *t, const uint8_t *body, size_t len,
		      const char *content_encoding, uint64_t deadline_ns,
		      struct at_transport_response *resp);

/* Close the connection (if still ours; an https one with a
 * close_notify first, best effort). */
void at_transport_close(struct at_transport *t);

/* Fork child: close our copy of the inherited connection without a byte
 * on it (the parent's TLS session goes on) and forget its TLS state. */
void at_transport_after_fork_child(struct at_transport *t);

#endif
