/*
 * at_tls.h - HTTPS: a TLS session's plaintext runs through the socket
 * layer's HTTP/1.x state machine; the socket layer stays passive on its fd.
 *
 * This is the transport-neutral part, shared by the TLS libraries' hooks
 * (at_tls_ssl.c and ssl_io.c for OpenSSL 1.1 and 3; GnuTLS likewise).  A
 * library's hooks find the session's state by the library's session pointer (an
 * SSL*, a gnutls_session_t), tell this layer what the session is when its
 * first plaintext moves (role, descriptor, ALPN), and hand it the program's
 * plaintext writes and what its reads returned.  This layer then:
 *
 *  - makes the session a carried connection of the socket layer
 *    (at_conn.h): client spans with the traceparent line injected into
 *    request heads, server spans continuing the caller's trace, the same
 *    attributes as plain HTTP plus url.scheme=https, server.address from
 *    the Host header or else SNI; the socket under it (when the session
 *    has one) stays passive, and its connect span becomes the child of the
 *    first request;
 *  - sends the plaintext through the library's real write, a head and its
 *    injected line as one record copied into the session's own buffer,
 *    which stays put, and keeps the library's rules:
 *    the counts returned are the program's bytes only; without partial
 *    writes a call either writes everything or fails, and after a failure
 *    that says "call again" (WANT_WRITE, GNUTLS_E_AGAIN) the program's
 *    retry, same arguments, re-issues the very inner write that failed,
 *    same pointer and length, then goes on; the failure the program sees
 *    is the real call's own return value, so the library's error getter
 *    (SSL_get_error) tells what it would have told;
 *  - passes through, for the session's life, what it must not trace:
 *    sessions opened while a family above traces the HTTP (libcurl: its
 *    own span and header), ALPN h2 (recorded on the connect span), and
 *    anything that is not HTTP/1.x once the machine gives up on it.
 *
 * A library's hooks hold the reentrancy guard (at_hook_enter) around the
 * whole call, the real one included: the socket hooks under it pass
 * straight through.  States live in a bounded pool behind a lock-free map
 * (the family kit's handle map); a session beyond the bound goes untraced.
 * One thread uses a session at a time (both libraries require it).
 * Each thread remembers the last session it found (at_handle_hit.h): a
 * keep-alive request's write and read find their state without the map.
 *
 * Limits: TLS linked statically into the program (Go, rustls, the official
 * Node.js builds) never calls these symbols; HTTP/2 passes untraced;
 * database protocols inside TLS are not decoded.
 */
#ifndef AT_TLS_H
#define AT_TLS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "at_compat.h"
#include "at_handle_hit.h"

struct at_conn;
struct at_tls;

/* What a TLS library's hooks give this layer. */
struct at_tls_lib {
	/* One real write of len plaintext bytes (len > 0) on t's session,
	 * with the flavour the program used (t->flavor): the count written
	 * (> 0; fewer than len only in partial-write mode), or the real
	 * call's own return value (<= 0), which this layer gives back. */
	long (*write)(struct at_tls *t, const void *buf, size_t len);
	/* Does t's session return partial writes (OpenSSL's
	 * SSL_MODE_ENABLE_PARTIAL_WRITE)?  Asked only when a write call
	 * fails or is retried, never on a call that writes everything; NULL:
	 * never. */
	bool (*partial)(struct at_tls *t);
	/* The server name of the session (SNI), or NULL. */
	const char *(*server_name)(const void *session);
};

enum { AT_TLS_NEW = 0, AT_TLS_TRACED, AT_TLS_PASS };

struct at_tls {
	const void *session;          /* the library's handle */
	const struct at_tls_lib *lib;
	struct at_conn *conn;         /* the carried connection (TRACED) */
	uint8_t state;                /* AT_TLS_NEW / _TRACED / _PASS */
	uint8_t flavor;               /* the library's: which write call */
	long raw;                     /* the last failed inner write's value */
	/* Without partial writes: program bytes of the failed call already
	 * written, to skip on its retry. */
	size_t wr_done;
	/* A head and its injected line, copied to go as one record. */
	char co[2048];
};

/* The last session this thread found, and the map's generation. */
extern AT_TLS struct at_handle_hit at_tls_sess_hit;
extern _Atomic unsigned at_tls_sess_gen;

/* at_tls_sess_get through the map (and remember what it found). */
struct at_tls *at_tls_sess_lookup(const void *session, bool create);

/* The state of session (made, zeroed and NEW, with create); NULL if
 * none, or the pool is full. */
static inline struct at_tls *at_tls_sess_get(const void *session, bool create)
{
	struct at_tls *t = at_handle_hit_find(&at_tls_sess_hit, &at_tls_sess_gen,
					   session);

	return AT_LIKELY(t != NULL) ? t : at_tls_sess_lookup(session, create);
}

/*
 * The first plaintext of a NEW session moves: decide.  server: the
 * session's role; fd: its descriptor, or -1 (memory transport); alpn: the
 * negotiated protocol (may be NULL).  Sets t->state to TRACED or PASS.
 */
void at_tls_sess_start(struct at_tls *t, const struct at_tls_lib *lib,
		  bool server, int fd, const char *alpn, size_t alpn_len);

/* The result of at_tls_sess_write. */
enum at_tls_wr {
	AT_TLS_WROTE,  /* *written bytes of the program's (> 0) */
	AT_TLS_FAILED, /* return *raw, the real call's value */
	AT_TLS_REAL,   /* not traced (any more): call the real function */
};

/* The program writes len bytes (len > 0) on a TRACED session (the
 * session may return fewer than len if t->lib->partial says so). */
enum at_tls_wr at_tls_sess_write(struct at_tls *t, const void *buf, size_t len,
				 size_t *written, long *raw);

/* A read of a TRACED session returned r bytes in buf (> 0); 0: the peer
 * closed (close_notify, or the transport's end); -1: error err (EAGAIN:
 * the program must wait, nothing is over). */
void at_tls_sess_read(struct at_tls *t, const void *buf, long r, int err);

/* fd is given to a session (SSL_set_fd, gnutls_transport_set_int): its
 * own bytes are ciphertext from now on (at_conn_fd_carries). */
void at_tls_sess_fd(int fd);

/* The session is shut down: what is in flight ends, nothing more is
 * traced; its state stays until at_tls_sess_forget. */
void at_tls_sess_shutdown(const void *session);

/* The session is freed: forget it. */
void at_tls_sess_forget(const void *session);

/* Fork child: the spans in flight on every session are the parent's (its
 * lifecycle line: "tls", .after_fork_child = this). */
void at_tls_sess_after_fork_child(void);

#endif
