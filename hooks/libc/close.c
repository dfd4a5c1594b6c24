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
 * Everything else goes straight to the real close(): the added cost is two
 * loads and compares.  That needs no initialisation, so this hook never
 * initialises the library.
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

AT_EXPORT int close(int fd)
{
	if (AT_UNLIKELY(at_exporter_owns_fd(fd)) && !at_guard_held()) {
		errno = EBADF;
		return -1;
	}
	if (AT_UNLIKELY(at_pending_any())) {
		int err = errno;
		end_pending(fd);
		errno = err;
	}
	return AT_REAL(close)(fd);
}
