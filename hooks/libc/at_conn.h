/*
 * at_conn.h - HTTP/1.x over the TCP connections of the host program:
 * client spans with traceparent injection on connections it opened,
 * server spans on connections it accepted, and the connect span of each
 * connection.  The socket hooks call these functions with the reentrancy
 * guard held; everything here uses only the real libc functions.
 *
 * Promises to the host (the design comment of at_conn.c says how):
 *  - the peer receives exactly the program's bytes, plus one injected
 *    header line (traceparent, and tracestate when there is one) at the
 *    end of each complete, well-formed HTTP/1.x request head that has no
 *    traceparent field (none in a CONNECT);
 *  - nothing is held back: every byte goes to the kernel in the call that
 *    carries it, so waiting for the peer, shutdown, close and exit behave
 *    as without the library;
 *  - the values returned count the program's bytes only and never exceed
 *    what it asked for; errno is the real one;
 *  - an injected line is sent whole before any later byte of the
 *    program's, or the program sees the real error (EAGAIN, EPIPE...);
 *  - anything that is not HTTP/1.x passes through untouched.
 */
#ifndef AT_CONN_H
#define AT_CONN_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "at_compat.h"
#include "at_fdtab.h"
#include "at_span.h"

/* Initialisation: lets the runtime bridges name a request by its
 * connection (at_context.h). */
void at_conn_init(void);

/* socket() made fd: remember TCP sockets. */
void at_conn_socket(int fd, int domain, int type);

/*
 * connect(): the span to record the connect in.  It lives in the
 * connection's state when that can be made (then it stays open past
 * connect() for non-blocking connects and becomes the child of the first
 * HTTP request's span); else it is *fallback.  Call at_conn_connect_end()
 * with the result.
 */
struct at_span *at_conn_connect_begin(int fd, const struct sockaddr *addr,
				      struct at_span *fallback);
void at_conn_connect_end(int fd, struct at_span *s, int rc, int err);

/* connect() of a unix stream socket fd to addr succeeded or is under
 * way: a client connection with no connect span (its protocol may be a
 * database's, decoded by hooks/wire). */
void at_conn_unix_connected(int fd, const struct sockaddr *addr,
			    socklen_t len);

/* The program asked (epoll_ctl) to be told when fd is writable (want),
 * or no longer: a client connection's next request head belongs to the
 * request the thread works for now (at_conn_send.c's client_request). */
void at_conn_want_write(int fd, bool want);

/* getsockopt(SO_ERROR) returned so_error for fd. */
void at_conn_connect_outcome(int fd, int so_error);

/* accept()/accept4() returned fd, a connection from peer. */
void at_conn_accept(int listen_fd, int fd, const struct sockaddr *peer,
		    socklen_t len);

/* fd is closed, or replaced (dup2/dup3 target): end its spans, forget it. */
void at_conn_forget(int fd);

/*
 * The program sends iov on fd (flags as given to send/sendmsg; 0 for
 * write/writev).  Performs the real send(s) and returns like sendmsg().
 */
ssize_t at_conn_send(int fd, const struct iovec *iov, int iovcnt, int flags);

/*
 * The program received: the real read/recv returned r (bytes in iov), or
 * -1 with errno err.  Call only for MSG_PEEK-less reads.
 */
void at_conn_received(int fd, const struct iovec *iov, int iovcnt, ssize_t r,
		      int err);

/* ---- a span lent by a family above (libcurl's easy transfers) ----
 *
 * While a family owns HTTP on the thread (AT_OWN_HTTP), the socket layer
 * makes no span and injects nothing - unless the family lent it the span
 * of the call: then each plain HTTP/1.x request head the thread sends
 * gets that span's header lines, as one of a C client's would (same
 * lines, same place: at the end of the head), and no span of the socket
 * layer's; its response is not parsed (nothing of ours waits for it),
 * the next lent head is found by the requests' own framing.  The first head binds the lend to its
 * connection: a head on another connection while that one is still open
 * (a request an application callback makes on its own socket) is not
 * lent (counted in refused).  A lent head that cannot get the lines (split
 * oddly, mixed line endings, over AT_HTTP_HEAD_MAX) goes out as it is and
 * is counted in at_conn_lend_lost.  The family lends only when nothing
 * but the transfer's own requests can be sent on the thread meanwhile
 * (at_curl.c says when), and ends the lend on every return of the call.
 */
struct at_conn_lend {
	const struct at_span *span; /* NULL: nothing lent */
	const struct at_conn *conn; /* the connection it is bound to */
	int fd;                     /* conn's descriptor */
	uint16_t heads;             /* heads that got the lines */
	uint16_t lost;              /* lent heads sent without them */
	uint16_t refused;           /* heads on another, open connection */
};

extern AT_TLS struct at_conn_lend at_conn_lend;
/* Lent heads sent without the lines, in all threads. */
extern _Atomic uint64_t at_conn_lend_lost;

/* Lend s to the request heads this thread sends from now on. */
static inline void at_conn_lend_begin(const struct at_span *s)
{
	at_conn_lend = (struct at_conn_lend){ .span = s, .fd = -1 };
}

/* End the lend: what happened to it. */
static inline struct at_conn_lend at_conn_lend_end(void)
{
	struct at_conn_lend l = at_conn_lend;

	at_conn_lend = (struct at_conn_lend){ .fd = -1 };
	return l;
}

/* ---- carried connections: HTTP/1.x inside another transport ----
 *
 * A TLS session's plaintext runs through this same state machine (client
 * spans with injection, server spans with extraction, every promise
 * above), as a connection of its own: a struct at_conn that is in no fd's
 * entry and sends through the transport given here (the TLS library's
 * real write) instead of sendmsg.  Its URLs have the transport's scheme.
 * The socket under it, when there is one (fd >= 0), stays passive: its
 * bytes are ciphertext; its connect span waits (at_conn_fd_carries) and
 * becomes the child of the carried connection's first request, as for
 * plain HTTP.  A carried connection is used like a socket: one thread per
 * direction at a time.  hooks/tls/at_tls.h has the TLS side.
 */
struct at_conn_transport {
	/* Send bytes of iov like a stream socket: the count moved (fewer is
	 * fine: the machine calls again), or -1 (the transport keeps what
	 * its caller must return). */
	ssize_t (*sendv)(void *ctx, const struct iovec *iov, int iovcnt);
	/* The name the peer was asked for (TLS SNI), or NULL; may be NULL. */
	const char *(*server_name)(void *ctx);
	const char *scheme;     /* "https" */
	int default_port;       /* 443 */
};

struct at_conn;

/* fd (a connected or accepted socket, or -1) carries an encrypted
 * session from now on: its own flows pass; a client's connect span is
 * kept for the carried connection.  Cheap; idempotent. */
void at_conn_fd_carries(int fd);

/* fd's session carries nothing to trace after all (ALPN h2, a library
 * above that traces its HTTP): its kept connect span goes out, with
 * tls.next_protocol when proto is given (len bytes). */
void at_conn_fd_uncarried(int fd, const char *proto, size_t len);

/* A carried connection of role AT_FD_CLIENT / AT_FD_SERVER over fd (-1 if
 * none: a memory transport); NULL if the pool is empty.  Takes the fd's
 * peer, its kept connect span and the request it was opened for. */
struct at_conn *at_conn_carried_new(uint8_t role, int fd,
				    const struct at_conn_transport *tr,
				    void *ctx);
/* The program sends iov on c: returns like the transport's sendv (the
 * program's bytes only). */
ssize_t at_conn_carried_send(struct at_conn *c, const struct iovec *iov,
			     int iovcnt);
/* The program received r bytes in iov on c (0: the peer closed; -1: the
 * error err, EAGAIN when it must wait). */
void at_conn_carried_received(struct at_conn *c, const struct iovec *iov,
			      int iovcnt, ssize_t r, int err);
/* Does c still look at its bytes?  false: its flows gave up (not HTTP/1.x,
 * or a library above traces its HTTP); the caller may pass straight
 * through from now on, but must still free it. */
bool at_conn_carried_active(struct at_conn *c);
/* The session ended: end what is in flight, forget c. */
void at_conn_carried_free(struct at_conn *c);
/* Fork child: c's spans in flight are the parent's: forget them. */
void at_conn_carried_fork_child(struct at_conn *c);

/* Fork child: forget the parent's connection state (spans are the
 * parent's; the descriptors stay usable untraced until closed). */
void at_conn_after_fork_child(void);
/* Process exit: export the connect spans that connections still open
 * keep (a program that exits without closing its sockets). */
void at_conn_at_exit(void);

#endif
