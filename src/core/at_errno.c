/*
 * at_errno.c - errno names and descriptions for span error.type and status
 * messages.  A table indexed by errno value, built with designated
 * initialisers so each entry sits beside its name.
 */
#include <errno.h>
#include <stddef.h>

#include "at_errno.h"

struct errno_entry {
	const char *name;
	const char *desc;
};

#define E(x, d) [x] = { #x, d }
static const struct errno_entry table[] = {
	E(EPERM, "Operation not permitted"),
	E(ENOENT, "No such file or directory"),
	E(EINTR, "Interrupted system call"),
	E(EIO, "Input/output error"),
	E(EBADF, "Bad file descriptor"),
	E(EAGAIN, "Resource temporarily unavailable"),
	E(ENOMEM, "Cannot allocate memory"),
	E(EACCES, "Permission denied"),
	E(EFAULT, "Bad address"),
	E(EINVAL, "Invalid argument"),
	E(ENFILE, "Too many open files in system"),
	E(EMFILE, "Too many open files"),
	E(ENOSPC, "No space left on device"),
	E(EPIPE, "Broken pipe"),
	E(ENOSYS, "Function not implemented"),
	E(ENOTSOCK, "Socket operation on non-socket"),
	E(EDESTADDRREQ, "Destination address required"),
	E(EMSGSIZE, "Message too long"),
	E(EPROTOTYPE, "Protocol wrong type for socket"),
	E(ENOPROTOOPT, "Protocol not available"),
	E(EPROTONOSUPPORT, "Protocol not supported"),
	E(EOPNOTSUPP, "Operation not supported"),
	E(EAFNOSUPPORT, "Address family not supported by protocol"),
	E(EADDRINUSE, "Address already in use"),
	E(EADDRNOTAVAIL, "Cannot assign requested address"),
	E(ENETDOWN, "Network is down"),
	E(ENETUNREACH, "Network is unreachable"),
	E(ENETRESET, "Network dropped connection on reset"),
	E(ECONNABORTED, "Software caused connection abort"),
	E(ECONNRESET, "Connection reset by peer"),
	E(ENOBUFS, "No buffer space available"),
	E(EISCONN, "Transport endpoint is already connected"),
	E(ENOTCONN, "Transport endpoint is not connected"),
	E(ESHUTDOWN, "Cannot send after transport endpoint shutdown"),
	E(ETIMEDOUT, "Connection timed out"),
	E(ECONNREFUSED, "Connection refused"),
	E(EHOSTDOWN, "Host is down"),
	E(EHOSTUNREACH, "No route to host"),
	E(EALREADY, "Operation already in progress"),
	E(EINPROGRESS, "Operation now in progress"),
	E(EPROTO, "Protocol error"),
	E(ECANCELED, "Operation canceled"),
};
#undef E

const char *at_errno_name(int err)
{
	if (err <= 0 || (size_t)err >= sizeof(table) / sizeof(table[0]))
		return NULL;
	return table[err].name;
}

const char *at_errno_desc(int err)
{
	if (err <= 0 || (size_t)err >= sizeof(table) / sizeof(table[0]) ||
	    !table[err].desc)
		return "Unknown error";
	return table[err].desc;
}
