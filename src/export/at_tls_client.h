/*
 * at_tls_client.h - the exporter's TLS client: the system's libssl
 * (OpenSSL 3 or 1.1), loaded at run time, only when an https endpoint is
 * used, and driven through memory buffers so that the socket stays the
 * transport's (at_transport.c: its non-blocking I/O, polls and deadlines).
 *
 * A connection is an SSL object between two memory BIOs: the transport
 * feeds what it read from the socket (at_tls_feed), sends what the
 * library wants sent (at_tls_pending / at_tls_take), and calls the
 * operation again when it returned AT_TLS_WANT_READ.  No call ever waits.
 *
 * Errors are negative errnos; the four below are the TLS ones and
 * at_tls_error() has their detail (one line, exporter thread only).
 */
#ifndef AT_TLS_CLIENT_H
#define AT_TLS_CLIENT_H

#include <errno.h>
#include <stddef.h>

#define AT_TLS_ENOLIB (-ENOPKG)         /* no usable libssl */
#define AT_TLS_ESETUP (-ENOKEY)         /* CA file, client cert or key */
#define AT_TLS_EVERIFY (-EKEYREJECTED)  /* server certificate not trusted */
#define AT_TLS_EPROTO (-ECONNABORTED)   /* handshake or record failure */

/* Not one of them: TLS was stopped at exit (a transient failure, quiet:
 * the batch is spooled or counted as any that could not be sent then). */
#define AT_TLS_ESTOPPED (-ESHUTDOWN)

#define AT_TLS_WANT_READ 1 /* feed more bytes from the peer, call again */

struct at_tls_files {
	const char *ca_file;   /* "" or NULL: the system store */
	const char *cert_file; /* "" or NULL: no client certificate */
	const char *key_file;  /* "" or NULL: the key is in cert_file */
};

struct at_tls_conn {
	void *ssl; /* NULL: none */
	void *rbio, *wbio;
};

/* 1 if rc is one of the AT_TLS_E* errors: the same settings would fail
 * the same way, so the batch is not retried (spooled or counted). */
int at_tls_error_final(int rc);

/* The detail of the last AT_TLS_E* error. */
const char *at_tls_error(void);

/* What to run at exit while OpenSSL is still whole (the exporter's
 * flush), before TLS stops for good (see at_tls_client.c). */
void at_tls_on_exit(void (*flush)(void));

/* Load and initialise libssl (once), early: as the first span starts
 * the exporter, when the endpoint is https (see at_tls_client.c:
 * OpenSSL's exit).  0 or AT_TLS_ENOLIB. */
int at_tls_preload(void);

/* Load libssl (at_tls_preload) and make the context (once; after a failure, the same
 * error again without trying).  0 or an AT_TLS_E* error. */
int at_tls_setup(const struct at_tls_files *files);

/* A client connection to host (SNI for a name; the certificate must
 * match the name or IP address).  0 or an AT_TLS_E* error. */
int at_tls_conn_open(struct at_tls_conn *c, const char *host);

/* Free the connection (nothing is sent: see at_tls_close_notify). */
void at_tls_conn_free(struct at_tls_conn *c);

/* Queue a close_notify alert (to send with at_tls_take, best effort). */
void at_tls_close_notify(struct at_tls_conn *c);

/* Give bytes read from the socket.  0, or -ENOMEM. */
int at_tls_feed(struct at_tls_conn *c, const void *p, size_t n);

/* Bytes waiting to go to the socket, and take up to cap of them. */
size_t at_tls_pending(struct at_tls_conn *c);
size_t at_tls_take(struct at_tls_conn *c, void *buf, size_t cap);

/* The handshake: 0 done, AT_TLS_WANT_READ, or an AT_TLS_E* error. */
int at_tls_handshake(struct at_tls_conn *c);

/* Encrypt n bytes (all of them, into the output): n, or an error. */
long at_tls_write(struct at_tls_conn *c, const void *p, size_t n);

/* Decrypt into buf: >0 bytes, 0 at the peer's close_notify,
 * AT_TLS_WANT_READ as -EAGAIN, or an AT_TLS_E* error. */
long at_tls_read(struct at_tls_conn *c, void *buf, size_t cap);

/* Fork child: forget (never free) what the parent's thread had. */
void at_tls_after_fork_child(struct at_tls_conn *c);

#endif
