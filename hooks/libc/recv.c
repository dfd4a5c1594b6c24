/*
 * hooks/libc/recv.c - the calls a program receives TCP bytes with: recv,
 * recvfrom, recvmsg, read, readv, and the _FORTIFY_SOURCE variants
 * __read_chk, __recv_chk, __recvfrom_chk.
 *
 * The real call always runs first and its result is returned unchanged;
 * on a traced TCP socket the bytes it returned are then shown to
 * at_conn_received() (HTTP response and request heads, body framing).
 * MSG_PEEK reads are not shown (the bytes will be read again).  On any
 * other descriptor: two loads, a compare and a jump to the real function.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "at_conn.h"
#include "at_init.h"
#include "at_real.h"

/* glibc's fortified variants (declared only under _FORTIFY_SOURCE). */
ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen);
ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen, int flags);
ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
		       int flags, struct sockaddr *addr, socklen_t *alen);

AT_COLD static void seen(int fd, const struct iovec *iov, int n, ssize_t r)
{
	int err = errno;

	if (!at_hook_enter())
		return;
	at_conn_received(fd, iov, n, r, err);
	at_hook_leave();
	errno = err;
}

static void seen_buf(int fd, void *buf, ssize_t r)
{
	struct iovec v = { buf, r > 0 ? (size_t)r : 0 };
	seen(fd, &v, 1, r);
}

AT_EXPORT ssize_t read(int fd, void *buf, size_t len)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(read)(fd, buf, len);
	r = AT_REAL(read)(fd, buf, len);
	seen_buf(fd, buf, r);
	return r;
}

AT_EXPORT ssize_t __read_chk(int fd, void *buf, size_t len, size_t buflen)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(__read_chk)(fd, buf, len, buflen);
	r = AT_REAL(__read_chk)(fd, buf, len, buflen);
	seen_buf(fd, buf, r);
	return r;
}

AT_EXPORT ssize_t readv(int fd, const struct iovec *iov, int n)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(readv)(fd, iov, n);
	r = AT_REAL(readv)(fd, iov, n);
	seen(fd, iov, n, r);
	return r;
}

AT_EXPORT ssize_t recv(int fd, void *buf, size_t len, int flags)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)) || (flags & (MSG_PEEK | MSG_OOB)))
		return AT_REAL(recv)(fd, buf, len, flags);
	r = AT_REAL(recv)(fd, buf, len, flags);
	seen_buf(fd, buf, r);
	return r;
}

AT_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t len, size_t buflen,
			     int flags)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)) || (flags & (MSG_PEEK | MSG_OOB)))
		return AT_REAL(__recv_chk)(fd, buf, len, buflen, flags);
	r = AT_REAL(__recv_chk)(fd, buf, len, buflen, flags);
	seen_buf(fd, buf, r);
	return r;
}

AT_EXPORT ssize_t recvfrom(int fd, void *buf, size_t len, int flags,
			   struct sockaddr *addr, socklen_t *alen)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)) || (flags & (MSG_PEEK | MSG_OOB)))
		return AT_REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	r = AT_REAL(recvfrom)(fd, buf, len, flags, addr, alen);
	seen_buf(fd, buf, r);
	return r;
}

AT_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t len, size_t buflen,
				 int flags, struct sockaddr *addr,
				 socklen_t *alen)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)) || (flags & (MSG_PEEK | MSG_OOB)))
		return AT_REAL(__recvfrom_chk)(fd, buf, len, buflen, flags,
					       addr, alen);
	r = AT_REAL(__recvfrom_chk)(fd, buf, len, buflen, flags, addr, alen);
	seen_buf(fd, buf, r);
	return r;
}

AT_EXPORT ssize_t recvmsg(int fd, struct msghdr *m, int flags)
{
	ssize_t r;

	if (AT_LIKELY(!at_fd_io_traced(fd)) || (flags & (MSG_PEEK | MSG_OOB)))
		return AT_REAL(recvmsg)(fd, m, flags);
	r = AT_REAL(recvmsg)(fd, m, flags);
	seen(fd, m->msg_iov, (int)m->msg_iovlen, r);
	return r;
}
