/*
 * hooks/libc/epoll.c - epoll_ctl(2): where an event loop says it waits to
 * write on a socket.  A loop that buffers what the program writes
 * (libevent's bufferevents, an nginx-style output chain) sends the bytes
 * later, from the callback that sees the socket writable, where the thread
 * may work for another request; the request the thread worked for when
 * the program asked for EPOLLOUT on a client connection is the one the
 * next request head sent there belongs to (at_conn.c keeps it; removing
 * EPOLLOUT forgets it).
 *
 * Any call on a descriptor that is not a traced socket is the real call,
 * a load, a compare and a jump.  Nothing is changed in the call.
 */
#include <errno.h>
#include <sys/epoll.h>

#include "at_conn.h"
#include "at_init.h"
#include "at_real.h"

AT_COLD static void note_epoll(int op, int fd, const struct epoll_event *ev)
{
	int err = errno;

	if (!at_hook_enter())
		return;
	at_conn_want_write(fd, op != EPOLL_CTL_DEL && ev &&
				       (ev->events & EPOLLOUT));
	at_hook_leave();
	errno = err;
}

AT_EXPORT int epoll_ctl(int epfd, int op, int fd, struct epoll_event *ev)
{
	int rc = AT_REAL(epoll_ctl)(epfd, op, fd, ev);

	if (AT_UNLIKELY(rc == 0 && at_fd_io_traced(fd)))
		note_epoll(op, fd, ev);
	return rc;
}
