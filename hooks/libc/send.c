/*
 * hooks/libc/send.c - the calls a program sends TCP bytes with: send,
 * sendto, sendmsg, write, writev.
 *
 * On anything but a traced TCP socket (files, pipes, terminals, unix and
 * UDP sockets) each is two loads, a compare and a jump to the real
 * function.  On a traced socket the bytes go through at_conn_send(), which
 * injects traceparent into HTTP request heads and watches responses, and
 * performs the real send with the program's flags: one buffer (the usual
 * send() or write(), or a request head flattened with its line) with
 * send() or write(), several with sendmsg(), or writev() for
 * write()/writev() (AT_SEND_WRITE: the descriptor may have
 * been closed behind the library's back - libuv closes with
 * syscall(SYS_close) - and reused for a file, which sendmsg() would
 * refuse).  Calls
 * the library cannot rebuild exactly - an address on sendto/sendmsg,
 * ancillary data, MSG_OOB - pass through untraced.
 */
#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "at_conn.h"
#include "at_init.h"
#include "at_real.h"

static ssize_t traced(int fd, const struct iovec *iov, int n, int flags)
{
	ssize_t r;
	int err;

	r = at_conn_send(fd, iov, n, flags);
	err = errno;
	at_hook_leave();
	errno = err;
	return r;
}

AT_COLD static ssize_t slow_send(int fd, const void *buf, size_t len,
				 int flags)
{
	struct iovec v = { (void *)buf, len };

	if ((flags & MSG_OOB) || !at_hook_enter())
		return AT_REAL(send)(fd, buf, len, flags);
	return traced(fd, &v, 1, flags);
}

AT_EXPORT ssize_t send(int fd, const void *buf, size_t len, int flags)
{
	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(send)(fd, buf, len, flags);
	return slow_send(fd, buf, len, flags);
}

AT_EXPORT ssize_t sendto(int fd, const void *buf, size_t len, int flags,
			 const struct sockaddr *addr, socklen_t alen)
{
	if (AT_LIKELY(!at_fd_io_traced(fd)) || addr)
		return AT_REAL(sendto)(fd, buf, len, flags, addr, alen);
	return slow_send(fd, buf, len, flags);
}

AT_COLD static ssize_t slow_sendmsg(int fd, const struct msghdr *m, int flags)
{
	if (!m || m->msg_name || m->msg_controllen || (flags & MSG_OOB) ||
	    m->msg_iovlen > 1024 || !at_hook_enter())
		return AT_REAL(sendmsg)(fd, m, flags);
	return traced(fd, m->msg_iov, (int)m->msg_iovlen, flags);
}

AT_EXPORT ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(sendmsg)(fd, m, flags);
	return slow_sendmsg(fd, m, flags);
}

AT_COLD static ssize_t slow_write(int fd, const void *buf, size_t len)
{
	struct iovec v = { (void *)buf, len };

	if (!at_hook_enter())
		return AT_REAL(write)(fd, buf, len);
	return traced(fd, &v, 1, AT_SEND_WRITE);
}

AT_EXPORT ssize_t write(int fd, const void *buf, size_t len)
{
	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(write)(fd, buf, len);
	return slow_write(fd, buf, len);
}

AT_COLD static ssize_t slow_writev(int fd, const struct iovec *iov, int n)
{
	if (n < 0 || n > 1024 || !at_hook_enter())
		return AT_REAL(writev)(fd, iov, n);
	return traced(fd, iov, n, AT_SEND_WRITE);
}

AT_EXPORT ssize_t writev(int fd, const struct iovec *iov, int n)
{
	if (AT_LIKELY(!at_fd_io_traced(fd)))
		return AT_REAL(writev)(fd, iov, n);
	return slow_writev(fd, iov, n);
}
