/*
 * hooks/libc/sockopt.c - getsockopt(2): where programs learn the outcome
 * of a non-blocking connect (SO_ERROR after the socket became writable),
 * so it ends that connect's pending span with the right status.
 *
 * Any other call costs one load (nothing pending) or one comparison.  An
 * SO_ERROR of 0 is only taken as "connected" when getpeername() agrees,
 * since SO_ERROR is also 0 while the connection is still in progress.
 */
#include <errno.h>
#include <sys/socket.h>

#include "at_init.h"
#include "at_pending.h"
#include "at_real.h"
#include "at_span.h"

static void connect_outcome(int fd, int so_error)
{
	struct at_span *s = at_pending_take(fd);
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (!s)
		return;
	if (so_error == 0 && getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
		at_pending_publish(s, fd); /* still connecting */
		return;
	}
	if (so_error != 0)
		at_span_set_errno(s, so_error);
	at_span_end(s);
	at_pending_release(s);
}

AT_COLD static int slow_getsockopt(int fd, int level, int name, void *val,
			   socklen_t *len)
{
	int rc = AT_REAL(getsockopt)(fd, level, name, val, len);

	if (rc == 0 && level == SOL_SOCKET && name == SO_ERROR && val && len &&
	    *len >= sizeof(int) && at_hook_enter()) {
		int err = errno;
		connect_outcome(fd, *(int *)val);
		errno = err;
		at_hook_leave();
	}
	return rc;
}

AT_EXPORT int getsockopt(int fd, int level, int name, void *val,
			 socklen_t *len)
{
	/* Common case: a load, a compare, a jump to the real function. */
	if (AT_LIKELY(!at_pending_any()))
		return AT_REAL(getsockopt)(fd, level, name, val, len);
	return slow_getsockopt(fd, level, name, val, len);
}
