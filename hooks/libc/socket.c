/*
 * hooks/libc/socket.c - socket(2), accept(2), accept4(2): which
 * descriptors are TCP sockets, and which connections were accepted.
 *
 * socket() marks AF_INET/AF_INET6/AF_UNIX stream sockets in the
 * descriptor table;
 * accept()/accept4() give the new connection its state (a server
 * connection: HTTP requests read from it start SERVER spans).  Everything
 * else passes through.
 */
#include <errno.h>
#include <sys/socket.h>

#include "at_conn.h"
#include "at_init.h"
#include "at_real.h"

AT_EXPORT int socket(int domain, int type, int protocol)
{
	int fd = AT_REAL(socket)(domain, type, protocol);

	if (fd >= 0 &&
	    (domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX) &&
	    at_hook_enter()) {
		int err = errno;
		at_conn_socket(fd, domain, type);
		at_hook_leave();
		errno = err;
	}
	return fd;
}

AT_COLD static void accepted(int lfd, int fd, struct sockaddr *addr,
			     socklen_t *len)
{
	int err = errno;

	if (!at_hook_enter())
		return;
	at_conn_accept(lfd, fd, addr, addr && len ? *len : 0);
	at_hook_leave();
	errno = err;
}

AT_EXPORT int accept(int lfd, struct sockaddr *addr, socklen_t *len)
{
	int fd = AT_REAL(accept)(lfd, addr, len);

	if (fd >= 0)
		accepted(lfd, fd, addr, len);
	return fd;
}

AT_EXPORT int accept4(int lfd, struct sockaddr *addr, socklen_t *len,
		      int flags)
{
	int fd = AT_REAL(accept4)(lfd, addr, len, flags);

	if (fd >= 0)
		accepted(lfd, fd, addr, len);
	return fd;
}
