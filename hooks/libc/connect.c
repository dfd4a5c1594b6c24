/*
 * hooks/libc/connect.c - connect(2): one CLIENT span per TCP connect.
 *
 * Attributes: network.peer.address/port and server.address/port (the
 * address as given to connect: numeric), network.transport "tcp",
 * network.type "ipv4"/"ipv6".  A failure sets status ERROR and error.type
 * to the errno name (ECONNREFUSED...).
 *
 * The span lives in the connection's state (at_conn.c): a non-blocking
 * connect (EINPROGRESS, or EINTR: the connection goes on in the
 * background) keeps it open until the program learns the outcome -
 * getsockopt(SO_ERROR), a second connect(), the first bytes moved - or
 * closes the socket.  When the first bytes are an HTTP request, the
 * connect span becomes that request's child.  If no state can be had, the
 * span ends when connect() returns.
 *
 * Unix stream sockets get no span, but a client connection state (so
 * the wire families can decode a database protocol on them); UDP and
 * other families pass through.  The
 * only system calls added (getsockopt SO_TYPE, fstat) are made for
 * AF_INET/AF_INET6 addresses, on a call that is itself a slow one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "at_conn.h"
#include "at_init.h"
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

static int traced_connect(int fd, const struct sockaddr *addr,
			  socklen_t len)
{
	struct at_span fallback, *s;
	int rc, err = errno;
	struct at_fd *e;

	if (addr && len > sizeof(sa_family_t) && addr->sa_family == AF_UNIX) {
		/* No span: a unix connection only gets the spans of the
		 * protocol it carries (hooks/wire). */
		rc = AT_REAL(connect)(fd, addr, len);
		err = errno;
		if (rc == 0 || err == EINPROGRESS)
			at_conn_unix_connected(fd, addr, len);
		errno = err;
		return rc;
	}
	if (!addr || len < sizeof(sa_family_t) ||
	    (addr->sa_family != AF_INET && addr->sa_family != AF_INET6) ||
	    (addr->sa_family == AF_INET && len < sizeof(struct sockaddr_in)) ||
	    (addr->sa_family == AF_INET6 &&
	     len < sizeof(struct sockaddr_in6)))
		return AT_REAL(connect)(fd, addr, len);
	/* connect() again while one is in progress reports its outcome. */
	e = at_fd_peek(fd);
	if (e && atomic_load(&e->kind) == AT_FD_CLIENT) {
		rc = AT_REAL(connect)(fd, addr, len);
		err = errno;
		if (rc == 0 || err == EISCONN)
			at_conn_connect_outcome(fd, 0);
		else if (err != EALREADY && err != EINPROGRESS && err != EINTR)
			at_conn_connect_outcome(fd, err);
		errno = err;
		return rc;
	}
	if (!is_tcp(fd)) {
		errno = err;
		return AT_REAL(connect)(fd, addr, len);
	}

	s = at_conn_connect_begin(fd, addr, &fallback);
	at_span_start_detached(s, "connect", 7, AT_KIND_CLIENT);
	if (at_span_recording(s))
		peer_attrs(s, addr);
	errno = err;
	rc = AT_REAL(connect)(fd, addr, len);
	err = errno;
	at_conn_connect_end(fd, s, rc, err);
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
