/*
 * at_wire.h - database and cache protocols decoded on the program's own
 * sockets (PostgreSQL, MySQL/MariaDB, Redis): what the socket layer
 * (hooks/libc/at_conn*.c) calls.  at_wire.c has the design; each
 * protocol is a family of its own (at_wire_pg.c, at_wire_mysql.c,
 * at_wire_redis.c) behind the table of at_wire.c.
 *
 * Only client connections are decoded (the program is the database's
 * client).  The socket layer asks once per connection, at the first bytes
 * that move: at_wire_detect_out() when the program sends first,
 * at_wire_detect_in() when the peer spoke first (MySQL's greeting).  A
 * connection no family claims is left to HTTP (or goes passive); a
 * claimed one is the family's for good: its sends go through
 * at_wire_send(), its receives to at_wire_received(), its close to
 * at_wire_close().
 *
 * Called with the hook guard held, on any thread: the sending direction
 * is driven by one thread at a time, and so is the receiving one (they
 * may be two different threads).
 */
#ifndef AT_WIRE_H
#define AT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct at_wire;

/* The server end of the connection, as the socket layer knows it. */
struct at_wire_peer {
	const char *ip;   /* numeric address ("" for a unix socket) */
	int port;         /* -1 when there is none */
	const char *path; /* unix socket path, or NULL */
};

/*
 * The program sends the first bytes of a client connection: p/len is a
 * copy of (at most) the first AT_WIRE_SNIFF bytes of this call.  Returns
 * the connection's session if a family claims it, else NULL (not one of
 * ours, a family turned off by AUTOTRACE_PROTOCOLS, a connection libpq
 * drives, or no session free).
 */
#define AT_WIRE_SNIFF 64
struct at_wire *at_wire_detect_out(const char *p, size_t len,
				   const struct at_wire_peer *peer);
/* The peer of a client connection spoke first (nothing sent yet). */
struct at_wire *at_wire_detect_in(const char *p, size_t len,
				  const struct at_wire_peer *peer);

/*
 * The program sends iov on fd of a claimed connection: performs the real
 * send(s) and returns like sendmsg() (the count and errno the program
 * must see).  The bytes sent are the program's (unless the family edits
 * them: SQLCommenter, opt-in).
 */
ssize_t at_wire_send(struct at_wire *w, int fd, const struct iovec *iov,
		     int iovcnt, int flags);

/* The program received len bytes (in iov) on a claimed connection; len 0
 * is the end of the stream. */
void at_wire_received(struct at_wire *w, const struct iovec *iov, int iovcnt,
		      size_t len);
/* A read failed with err (not EAGAIN/EINTR): what is pending ends. */
void at_wire_failed(struct at_wire *w, int err);

/* Nothing more will be decoded (TLS, pub/sub, a protocol error...) and
 * nothing is pending: the socket layer may stop calling. */
bool at_wire_passive(const struct at_wire *w);

/* The connection is closed: end what is pending, free the session. */
void at_wire_close(struct at_wire *w);
/* Process exit: end what is pending (the session stays). */
void at_wire_at_exit(struct at_wire *w);
/* Fork child: the spans are the parent's; forget them, free the session. */
void at_wire_fork_child(struct at_wire *w);

#endif
