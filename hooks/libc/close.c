/*
 * hooks/libc/close.c - close(2): the host never closes the exporter's
 * socket under it.
 *
 * Daemons close every descriptor they did not open; without the library
 * that descriptor would not exist, so the host gets exactly what it would
 * have got: -1 with EBADF, and the library keeps its connection.  All other
 * descriptors go straight to the real close(); the cost is one load and
 * compare.  No initialisation is needed for that, so this hook never
 * initialises the library.
 */
#include <errno.h>
#include <unistd.h>

#include "at_exporter.h"
#include "at_init.h"
#include "at_real.h"

AT_EXPORT int close(int fd)
{
	if (AT_UNLIKELY(at_exporter_owns_fd(fd)) && !at_guard_held()) {
		errno = EBADF;
		return -1;
	}
	return AT_REAL(close)(fd);
}
