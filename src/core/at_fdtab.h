/*
 * at_fdtab.h - what the library knows about each file descriptor, in a
 * table indexed by fd.
 *
 * Only TCP sockets are ever entered: socket() marks AF_INET/AF_INET6
 * stream sockets, connect() marks client connections, accept() server
 * connections.  Every other descriptor (files, pipes, terminals, unix and
 * UDP sockets) has no entry or an empty one, so the I/O hooks recognise it
 * with two loads and jump to the real function.  The table is two-level:
 * chunks of AT_FDTAB_CHUNK entries mapped on demand (by the socket hooks,
 * never by read/write), up to AT_FDTAB_MAX descriptors.
 *
 * An entry is reset by close(), dup2()/dup3() onto it, and close_range().
 * A descriptor closed behind the hooks' back (inside libc, e.g. fclose of
 * an fdopen'ed socket) and reused by a file keeps a stale entry: so the
 * connection code checks the socket's identity (st_ino, taken when the
 * entry was made) before it starts a span or changes a byte.
 */
#ifndef AT_FDTAB_H
#define AT_FDTAB_H

#include <stdatomic.h>
#include <stdint.h>

#include "at_compat.h"

#define AT_FDTAB_CHUNK 4096
#define AT_FDTAB_CHUNKS 256
#define AT_FDTAB_MAX (AT_FDTAB_CHUNK * AT_FDTAB_CHUNKS)

enum at_fd_kind {
	AT_FD_NONE = 0,   /* not a traced TCP socket */
	AT_FD_TCP,        /* TCP socket, not connected yet */
	AT_FD_CLIENT,     /* connected by this process */
	AT_FD_SERVER,     /* accepted by this process */
	AT_FD_PASSIVE,    /* a connection that carries no HTTP: its I/O is
			   * no longer looked at; close still forgets it */
	AT_FD_BRIDGE,     /* the runtime bridges' channel (at_context.h):
			   * a write to it registers the writer's slot */
};

struct at_conn;

struct at_fd {
	_Atomic uint8_t kind;
	uint8_t pad_[7];
	struct at_conn *_Atomic conn; /* HTTP state, when there is some */
};

extern struct at_fd *_Atomic at_fdtab[AT_FDTAB_CHUNKS];

/* The entry of fd if its chunk exists, else NULL.  Two loads. */
static inline struct at_fd *at_fd_peek(int fd)
{
	struct at_fd *chunk;

	if (AT_UNLIKELY((unsigned)fd >= AT_FDTAB_MAX))
		return NULL;
	chunk = atomic_load_explicit(&at_fdtab[(unsigned)fd / AT_FDTAB_CHUNK],
				     memory_order_acquire);
	return chunk ? &chunk[(unsigned)fd % AT_FDTAB_CHUNK] : NULL;
}

/* Is fd a socket the hooks trace (an entry with a kind)?  The I/O hooks'
 * fast path. */
static inline int at_fd_traced(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	return e && atomic_load_explicit(&e->kind, memory_order_relaxed);
}

/* Is fd a socket whose I/O the hooks look at?  Their fast path. */
static inline int at_fd_io_traced(int fd)
{
	struct at_fd *e = at_fd_peek(fd);
	uint8_t k;

	if (AT_LIKELY(!e))
		return 0;
	k = atomic_load_explicit(&e->kind, memory_order_relaxed);
	return k != AT_FD_NONE && k != AT_FD_PASSIVE;
}

/* The entry of fd, mapping its chunk if needed; NULL if impossible. */
struct at_fd *at_fd_get(int fd);

#endif
