/*
 * hooks/libc/sockopt.c - getsockopt(2): where programs learn the outcome
 * of a non-blocking connect (SO_ERROR after the socket became writable),
 * so it ends that connect's span with the right status.
 *
 * Any call on a descriptor that is not a traced TCP socket is a load, a
 * compare and a jump to the real function.  An SO_ERROR of 0 only counts
 * as "connected" when getpeername() agrees (see at_conn.c), since SO_ERROR
 * is also 0 while the connection is still in progress.
 */
#include <errno.h>
#include <sys/socket.h>

#include "at_conn.h"
#include "at_init.h"
#include "at_real.h"

AT_COLD static int slow_getsockopt(int fd, int level, int name, void *val,
				   socklen_t *len)
{
	int rc = AT_REAL(getsockopt)(fd, level, name, val, len);

	if (rc == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= sizeof(int) && at_hook_enter()) {
		int err = errno;
		at_conn_connect_outcome(fd, *(int *)val);
		at_hook_leave();
		errno = err;
	}
	return rc;
}

AT_EXPORT int getsockopt(int fd, int level, int name, void *val,
			 socklen_t *len)
{
	if (AT_LIKELY(name != SO_ERROR || level != SOL_SOCKET ||
		      !at_fd_io_traced(fd)))
		return AT_REAL(getsockopt)(fd, level, name, val, len);
	return slow_getsockopt(fd, level, name, val, len);
}
