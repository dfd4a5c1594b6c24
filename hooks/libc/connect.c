/*
 * hooks/libc/connect.c - connect(2): one CLIENT span per TCP connect.
 *
 * Attributes: network.peer.address/port and server.address/port (the
 * address as given to connect: numeric), network.transport "tcp",
 * network.type "ipv4"/"ipv6".  A failure sets status ERROR and
 * error.type to the errno name (ECONNREFUSED...).
 *
 * Non-blocking connects: connect() returns EINPROGRESS (or EINTR: the
 * connection goes on in the background), and the outcome comes later.  The
 * span then waits in the pending pool (at_pending.h) and ends when the
 * program learns the outcome - getsockopt(SO_ERROR) after poll, which is
 * what curl, CPython, libuv and nginx do, or a second connect() returning
 * EISCONN or the error - or when the program closes the socket (status
 * left unset: the outcome was never known).  If the pool is full the span
 * ends at once, covering only the system call.
 *
 * Unix sockets, UDP and other families pass through with no span.  The
 * only system call added (getsockopt SO_TYPE) is made for AF_INET/AF_INET6
 * addresses, on a call that is itself a slow system call.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "at_init.h"
#include "at_pending.h"
#include "at_real.h"
#include "at_span.h"

static int is_tcp(int fd)
{
	int type = 0;
	socklen_t len = sizeof(type);

	return AT_REAL(getsockopt)(fd, SOL_SOCKET, SO_TYPE, &type, &len) == 0 &&
	       type == SOCK_STREAM;
}

static void peer_attrs(struct at_span *s, const struct sockaddr *addr)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned port;

	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)addr;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		at_span_set_cstr(s, "network.type", "ipv4");
	} else {
		const struct sockaddr_in6 *in6 = (const void *)addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		at_span_set_cstr(s, "network.type", "ipv6");
	}
	at_span_set_cstr(s, "network.peer.address", ip);
	at_span_set_int(s, "network.peer.port", port);
	at_span_set_cstr(s, "server.address", ip);
	at_span_set_int(s, "server.port", port);
	at_span_set_cstr(s, "network.transport", "tcp");
}

static int in_progress(int err)
{
	return err == EINPROGRESS || err == EINTR || err == EALREADY;
}

/* connect() again on a socket whose span is pending: it reports the
 * outcome (0/EISCONN: connected; EALREADY: still going; else the error). */
static int connect_again(struct at_span *s, int fd,
			 const struct sockaddr *addr, socklen_t len)
{
	int rc = AT_REAL(connect)(fd, addr, len);
	int err = errno;

	if (rc != 0 && in_progress(err)) {
		at_pending_publish(s, fd);
	} else {
		if (rc != 0 && err != EISCONN)
			at_span_set_errno(s, err);
		at_span_end(s);
		at_pending_release(s);
	}
	errno = err;
	return rc;
}

static int traced_connect(int fd, const struct sockaddr *addr,
			  socklen_t len)
{
	struct at_span stack_span, *s;
	int rc, err = errno;

	if (!addr || len < sizeof(sa_family_t) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
	    (addr->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (addr->sa_family == AF_INET6 &&
	     len < sizeof(struct sockaddr_in6)))
		return AT_REAL(connect)(fd, addr, len);
	if (at_pending_any() && (s = at_pending_take(fd)))
		return connect_again(s, fd, addr, len);
	if (!is_tcp(fd)) {
		errno = err;
		return AT_REAL(connect)(fd, addr, len);
	}

	s = at_pending_claim();
	if (!s)
		s = &stack_span;
	at_span_start_detached(s, "connect", 7, AT_KIND_CLIENT);
	if (at_span_recording(s))
		peer_attrs(s, addr);
	errno = err;
	rc = AT_REAL(connect)(fd, addr, len);
	err = errno;
	if (rc != 0 && in_progress(err) && s != &stack_span &&
	    at_span_started(s)) {
		at_pending_publish(s, fd);
	} else {
		if (rc != 0 && !in_progress(err))
			at_span_set_errno(s, err);
		at_span_end(s);
		if (s != &stack_span)
			at_pending_release(s);
	}
	errno = err;
	return rc;
}

AT_EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int rc;

	if (!at_hook_enter())
		return AT_REAL(connect)(fd, addr, len);
	rc = traced_connect(fd, addr, len);
	at_hook_leave();
	return rc;
}
