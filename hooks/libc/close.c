/*
 * hooks/libc/close.c - close(2).
 *
 * The host never closes the exporter's socket under it.  Daemons close
 * every descriptor they did not open; without the library that descriptor
 * would not exist, so the host gets exactly what it would have got: -1
 * with EBADF, and the library keeps its connection.
 *
 * Closing a socket whose connect span is pending ends that span (outcome
 * unknown: status unset).
 *
 * The common case is two loads, a compare and a jump to the real close():
 * no initialisation is needed for that, so this hook never initialises the
 * library.
 */
#include <errno.h>
#include <unistd.h>

#include "at_exporter.h"
#include "at_init.h"
#include "at_pending.h"
#include "at_real.h"
#include "at_span.h"

static void end_pending(int fd)
{
	struct at_span *s;

	if (!at_hook_enter())
		return;
	s = at_pending_take(fd);
	if (s) {
		at_span_end(s);
		at_pending_release(s);
	}
	at_hook_leave();
}

AT_COLD static int slow_close(int fd)
{
	if (at_exporter_owns_fd(fd) && !at_guard_held()) {
		errno = EBADF;
		return -1;
	}
	if (at_pending_any()) {
		int err = errno;
		end_pending(fd);
		errno = err;
	}
	return AT_REAL(close)(fd);
}

AT_EXPORT int close(int fd)
{
	if (AT_LIKELY(fd != atomic_load_explicit(&at_exporter_fd,
						 memory_order_relaxed) &&
		      !at_pending_any()))
		return AT_REAL(close)(fd);
	return slow_close(fd);
}
