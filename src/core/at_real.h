/*
 * at_real.h - the one table of the real functions behind our hooks.
 *
 * Every function the library interposes, and every function its own I/O
 * needs that could be interposed, is reached through a pointer resolved
 * with dlsym(RTLD_NEXT) - never dlopen("libc.so.6"), which would skip other
 * preloaded libraries in the chain.  Pointers are resolved all at once by
 * at_real_resolve() (from the constructor) and one at a time, lazily, by
 * the AT_REAL() accessor, because a hook can run before our constructor
 * (another library's constructor calling connect()).  A symbol that cannot
 * be found, or that resolves to our own hook, is replaced by a stub that
 * fails with ENOSYS (returning -1, or NULL for popen): the library never
 * kills its host.
 */
#ifndef AT_REAL_H
#define AT_REAL_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netdb.h>
#include <stdio.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "at_compat.h"

/* X(return type, name, parameter list) for every real libc function. */
#define AT_REAL_LIBC(X)                                                    \
	X(int, connect, (int, const struct sockaddr *, socklen_t))         \
	X(int, close, (int))                                               \
	X(int, socket, (int, int, int))                                    \
	X(int, accept, (int, struct sockaddr *, socklen_t *))              \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int))        \
	X(ssize_t, send, (int, const void *, size_t, int))                 \
	X(ssize_t, sendto, (int, const void *, size_t, int,                \
			    const struct sockaddr *, socklen_t))           \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int))             \
	X(ssize_t, write, (int, const void *, size_t))                     \
	X(ssize_t, writev, (int, const struct iovec *, int))               \
	X(ssize_t, recv, (int, void *, size_t, int))                       \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, \
			      socklen_t *))                                \
	X(ssize_t, recvmsg, (int, struct msghdr *, int))                   \
	X(ssize_t, read, (int, void *, size_t))                            \
	X(ssize_t, readv, (int, const struct iovec *, int))                \
	X(ssize_t, __read_chk, (int, void *, size_t, size_t))              \
	X(ssize_t, __recv_chk, (int, void *, size_t, size_t, int))         \
	X(ssize_t, __recvfrom_chk, (int, void *, size_t, size_t, int,      \
				    struct sockaddr *, socklen_t *))       \
	X(int, fclose, (FILE *))                                           \
	X(int, execve, (const char *, char *const[], char *const[]))       \
	X(int, execvpe, (const char *, char *const[], char *const[]))      \
	X(int, fexecve, (int, char *const[], char *const[]))               \
	X(int, posix_spawn, (pid_t *, const char *,                        \
			     const posix_spawn_file_actions_t *,           \
			     const posix_spawnattr_t *, char *const[],     \
			     char *const[]))                               \
	X(int, posix_spawnp, (pid_t *, const char *,                       \
			      const posix_spawn_file_actions_t *,          \
			      const posix_spawnattr_t *, char *const[],    \
			      char *const[]))                              \
	X(pid_t, waitpid, (pid_t, int *, int))                             \
	X(pid_t, wait4, (pid_t, int *, int, struct rusage *))              \
	X(int, system, (const char *))                                     \
	X(FILE *, popen, (const char *, const char *))                     \
	X(int, pclose, (FILE *))                                           \
	X(int, close_range, (unsigned int, unsigned int, int))             \
	X(long, syscall, (long, ...))                                      \
	X(int, dup2, (int, int))                                           \
	X(int, dup3, (int, int, int))                                      \
	X(int, poll, (struct pollfd *, nfds_t, int))                       \
	X(int, getsockopt, (int, int, int, void *, socklen_t *))           \
	X(int, epoll_ctl, (int, int, int, struct epoll_event *))           \
	X(int, pthread_create, (pthread_t *, const pthread_attr_t *,       \
				void *(*)(void *), void *))                \
	X(int, getaddrinfo, (const char *, const char *,                   \
			     const struct addrinfo *, struct addrinfo **)) \
	X(char *, getenv, (const char *))

#define AT_REAL_DECL(ret, name, params)                                    \
	extern ret(*at_real_##name) params;                                \
	ret(*at_real_resolve_##name(void)) params;
AT_REAL_LIBC(AT_REAL_DECL)
#undef AT_REAL_DECL

/* The real function: the cached pointer, resolved on first use. */
#define AT_REAL(name)                                                      \
	(AT_LIKELY(at_real_##name != NULL) ? at_real_##name                \
					   : at_real_resolve_##name())

/*
 * The interposed name itself, called on purpose: through the whole preload
 * chain, our own hook included (exec.c's execv/execl family funnels into
 * execve and execvpe that way).  scripts/check-style.sh refuses a bare
 * call of an interposed name in the library; this says it is meant.
 */
#define AT_INTERPOSED(name) name

/*
 * The flags the write()/writev() hooks pass down the send path: not a
 * MSG_* flag (Linux uses none in the sign bit).  The real call is then
 * writev, not sendmsg: the descriptor may not be a socket at all (a
 * descriptor the library still takes for one, closed behind its back
 * and reused for a file), and write() on it must do what write() does.
 */
#define AT_SEND_WRITE ((int)0x80000000u)

/* The real send of n iovecs with the program's flags (or AT_SEND_WRITE
 * for a write()/writev()).  One iovec - the program's send() or write()
 * nearly always, or a head the socket layer flattened with its line -
 * goes out with the single-buffer call, send() or write(), as the
 * program made it: the kernel takes one buffer for 0.1-0.3 us less than
 * sendmsg()/writev() (no msghdr or iovec array to copy in and check;
 * loopback TCP, 150 bytes, on a 2-core VM); several, with sendmsg() or
 * writev().  Same bytes and result as the program's call. */
static inline ssize_t at_real_sendv(int fd, const struct iovec *iov, int n,
				    int flags)
{
	struct msghdr mh = { .msg_iov = (struct iovec *)iov,
			     .msg_iovlen = (size_t)n };

	if (n == 1)
		return flags == AT_SEND_WRITE
			       ? AT_REAL(write)(fd, iov[0].iov_base,
						iov[0].iov_len)
			       : AT_REAL(send)(fd, iov[0].iov_base,
					       iov[0].iov_len, flags);
	if (flags == AT_SEND_WRITE)
		return AT_REAL(writev)(fd, iov, n);
	return AT_REAL(sendmsg)(fd, &mh, flags);
}

/* Resolve every pointer now (constructor).  Idempotent, thread-safe. */
void at_real_resolve(void);

/*
 * dlsym(RTLD_NEXT, name), treating our own definition as not found; then,
 * if loaded is a handle (may be NULL), dlsym(loaded, name).  For optional
 * libraries (libpq, libcurl) resolved later: when a module loaded them
 * with RTLD_LOCAL (Python's psycopg2) they are invisible to RTLD_NEXT, and
 * the caller passes the already loaded library itself (RTLD_NOLOAD).
 */
void *at_real_lookup(const char *name, void *loaded);

#endif
