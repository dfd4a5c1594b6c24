/*
 * hooks/libc/close.c - the calls that end a descriptor's life: close,
 * dup2, dup3, fclose, close_range.
 *
 * The host never closes the exporter's socket under it.  Daemons close
 * every descriptor they did not open; without the library that descriptor
 * would not exist, so the host gets exactly what it would have got: -1
 * with EBADF, and the library keeps its connection.
 *
 * Closing (or dup2-ing over) a traced TCP socket ends its spans and
 * forgets its state (at_conn_forget) before the real call.  shutdown()
 * is not hooked: the library never holds bytes back (at_conn.c), so
 * there is nothing to send first.
 *
 * On any other descriptor close() is two loads, compares and a jump to
 * the real function; it needs no initialisation.
 *
 * libuv (Node.js) closes descriptors with syscall(SYS_close, fd), past
 * close(): syscall() is interposed for SYS_close and SYS_close_range
 * (everything else goes straight to the real syscall(), all six
 * arguments passed on as the ABI holds them), so a socket closed that way
 * is forgotten too and its number, reused for a file, is a file again.
 *
 * fclose() and close_range() close descriptors inside libc, where the
 * close() hook does not see them: they forget traced sockets first, and
 * close_range() leaves the exporter's socket open (it closes the range
 * around it).  While the exporter is opening a socket (at_exporter_fd is
 * AT_EXPORTER_FD_OPENING, a few microseconds per connection) every
 * close() takes the slow path and waits for the number, so a daemon's
 * loop over every descriptor never closes one the exporter is using.  While popen streams are open, fclose() of one of ours
 * waits for its child, as glibc's fclose() of a popen stream does
 * (at_shell.c).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "at_conn.h"
#include "at_exporter.h"
#include "at_init.h"
#include "at_real.h"
#include "at_shell.h"

AT_COLD static void forget(int fd)
{
	int err = errno;

	/* A vfork child closing the parent's sockets (close_fds before
	 * exec): their state is the parent's, shared memory - leave it. */
	if (!at_fd_traced(fd) || at_in_vfork_child() || !at_hook_enter())
		return;
	at_conn_forget(fd);
	at_hook_leave();
	errno = err;
}

AT_COLD static int slow_close(int fd)
{
	if (!at_guard_held() && at_exporter_owns_fd(fd)) {
		errno = EBADF;
		return -1;
	}
	forget(fd);
	return AT_REAL(close)(fd);
}

AT_EXPORT int close(int fd)
{
	int efd = atomic_load_explicit(&at_exporter_fd, memory_order_relaxed);

	if (AT_LIKELY(fd != efd && efd != AT_EXPORTER_FD_OPENING &&
		      !at_fd_traced(fd)))
		return AT_REAL(close)(fd);
	return slow_close(fd);
}

/* dup2/dup3 onto the exporter's socket: the host wants that number; the
 * exporter notices its socket is gone and connects again. */
AT_EXPORT int dup2(int oldfd, int newfd)
{
	if (AT_UNLIKELY(at_fd_traced(newfd)) && oldfd != newfd)
		forget(newfd);
	return AT_REAL(dup2)(oldfd, newfd);
}

AT_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (AT_UNLIKELY(at_fd_traced(newfd)) && oldfd != newfd)
		forget(newfd);
	return AT_REAL(dup3)(oldfd, newfd, flags);
}

AT_EXPORT int fclose(FILE *f)
{
	int fd = f ? fileno_unlocked(f) : -1;

	if (AT_UNLIKELY(fd >= 0 && at_fd_traced(fd)))
		forget(fd);
	if (AT_UNLIKELY(atomic_load_explicit(&at_shell_streams,
					     memory_order_relaxed)))
		return at_shell_close(f, false);
	return AT_REAL(fclose)(f);
}

AT_COLD static void forget_range(unsigned first, unsigned last)
{
	if (at_in_vfork_child())
		return;
	for (unsigned ch = first / AT_FDTAB_CHUNK;
	     ch < AT_FDTAB_CHUNKS && ch <= last / AT_FDTAB_CHUNK; ch++) {
		if (!atomic_load(&at_fdtab[ch]))
			continue;
		for (unsigned i = 0; i < AT_FDTAB_CHUNK; i++) {
			unsigned fd = ch * AT_FDTAB_CHUNK + i;
			if (fd >= first && fd <= last && at_fd_traced((int)fd))
				forget((int)fd);
		}
	}
}

/* close_range() as the library does it (below), for the hook and for
 * syscall(SYS_close_range). */
static int close_range_kept(unsigned first, unsigned last, int flags)
{
	int efd;

	if (flags & CLOSE_RANGE_CLOEXEC)
		return AT_REAL(close_range)(first, last, flags);
	efd = at_guard_held() ? -1 : at_exporter_settled_fd();
	forget_range(first, last);
	if (efd >= 0 && (unsigned)efd >= first && (unsigned)efd <= last &&
	    at_exporter_owns_fd(efd) && !at_guard_held()) {
		int rc = 0;
		if ((unsigned)efd > first)
			rc = AT_REAL(close_range)(first, (unsigned)efd - 1, flags);
		if (rc == 0 && (unsigned)efd < last)
			rc = AT_REAL(close_range)((unsigned)efd + 1, last, flags);
		return rc;
	}
	return AT_REAL(close_range)(first, last, flags);
}

AT_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	return close_range_kept(first, last, flags);
}

AT_COLD static long syscall_close(long fd)
{
	if (fd >= 0 && fd <= INT32_MAX) {
		if (!at_guard_held() && at_exporter_owns_fd((int)fd)) {
			errno = EBADF;
			return -1;
		}
		if (at_fd_traced((int)fd))
			forget((int)fd);
	}
	return AT_REAL(syscall)(SYS_close, fd);
}

AT_EXPORT long syscall(long nr, ...)
{
	va_list ap;
	long a[6];

	/* What the caller passed, and whatever the registers and stack
	 * slots of the others hold, as glibc's own syscall() reads them. */
	va_start(ap, nr);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (AT_UNLIKELY(nr == SYS_close))
		return syscall_close(a[0]);
#ifdef SYS_close_range
	if (AT_UNLIKELY(nr == SYS_close_range))
		return close_range_kept((unsigned)a[0], (unsigned)a[1],
					(int)a[2]);
#endif
	return AT_REAL(syscall)(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
}
