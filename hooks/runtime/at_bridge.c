/*
 * at_bridge.c - runtime bridges (at_bridge.h).
 *
 * DESIGN
 *
 * Why.  In an event loop that interleaves the continuations of many
 * requests (Node.js, Python's asyncio), nothing the library sees from
 * below - which socket was read, which written - tells which request a
 * write belongs to: only the runtime's own context (AsyncLocalStorage,
 * contextvars) knows.  A bridge is a few dozen lines of JavaScript or
 * Python, shipped beside the library, that carries that context to the
 * library and nothing else: every decoder, span and export stays in C.
 *
 * Loading.  In the constructor, when the executable is node/nodejs or
 * python3[.N] and AUTOTRACE_RUNTIME_BRIDGES is not false, and the bridge
 * file is beside the library (autotrace-bridge.js, or the directory
 * autotrace-py/ with its sitecustomize.py), the library prepends
 * `--require <bridge>` to NODE_OPTIONS, or the directory to PYTHONPATH;
 * both runtimes read them after the constructors ran.  The user's own
 * value is kept, after ours, and is also passed in
 * AUTOTRACE_BRIDGE_ORIG (unset: no variable) so that the bridge puts it
 * back as it was once loaded: the program sees its environment as
 * without the library, and so do its children (which get the bridge
 * again from their own constructor if they keep LD_PRELOAD).  A
 * Python program's own sitecustomize still runs: the bridge imports
 * the next one on the path.
 *
 * Channel.  The library opens an eventfd (close-on-exec) and names it in
 * AUTOTRACE_BRIDGE="<pid>:<fd>".  The bridge checks the pid (a child
 * that did not keep the library, or inherited the variable, does
 * nothing), then registers a 16-byte buffer of its own memory by
 * writing it to that descriptor: the write hook sees the fd, takes the
 * buffer's address as the calling thread's slot (at_context.h) and
 * returns 16 without a system call.  From then on the bridge writes the
 * current request into the buffer with plain stores, and the library
 * reads it when a span starts: no system call, no lock, per change of
 * request a couple of stores.  Each runtime thread that runs code for
 * requests registers its own buffer once (the bridge keeps them alive).
 *
 * Spans asked for.  The same channel carries messages that ask for a
 * span where no hook sees the request (the HTTPS client of a Node.js that
 * links OpenSSL statically): a write of a buffer that starts with
 * AT_BRIDGE_SPAN_MAGIC is answered in that buffer, again without a system
 * call (at_bridge_span.c; bridges/node/autotrace-https.js asks); its
 * STARTs come more cheaply as getenv() names (hooks/runtime/getenv.c),
 * answered in a buffer bound once by such a write.
 *
 * Failure.  If the bridge cannot load or register (an old runtime, a
 * program that closed the descriptor), the program runs as without it,
 * and the native rules of at_context.c apply.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "at_bridge.h"
#include "at_config.h"
#include "at_context.h"
#include "at_fdtab.h"
#include "at_real.h"

enum runtime { RT_NONE, RT_NODE, RT_PYTHON };

static enum runtime runtime_of_exe(void)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	const char *base;

	if (n <= 0)
		return RT_NONE;
	exe[n] = 0;
	base = strrchr(exe, '/');
	base = base ? base + 1 : exe;
	if (!strcmp(base, "node") || !strcmp(base, "nodejs"))
		return RT_NODE;
	if (!strncmp(base, "python3", 7) &&
	    (base[7] == 0 || (base[7] == '.' && base[8] >= '0' &&
			      base[8] <= '9')))
		return RT_PYTHON;
	return RT_NONE;
}

/* The directory the library was loaded from (absolute), or -1. */
static int library_dir(char *dir, size_t cap)
{
	Dl_info info;
	char path[PATH_MAX];
	char *slash;

	if (!dladdr((void *)&at_bridge_init, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, path))
		return -1;
	slash = strrchr(path, '/');
	if (!slash || (size_t)(slash - path) + 1 > cap)
		return -1;
	*slash = 0;
	snprintf(dir, cap, "%s", path);
	return 0;
}

/* NAME = first + (the old value, if any, after sep); the old value (or
 * its absence) kept in AUTOTRACE_BRIDGE_ORIG. */
static int prepend_env(const char *name, const char *first, const char *sep)
{
	const char *old = AT_REAL(getenv)(name);
	size_t n = strlen(first) + (old ? strlen(sep) + strlen(old) : 0) + 1;
	char *v = malloc(n);
	int rc;

	if (!v)
		return -1;
	snprintf(v, n, "%s%s%s", first, old ? sep : "", old ? old : "");
	if (old)
		setenv("AUTOTRACE_BRIDGE_ORIG", old, 1);
	else
		unsetenv("AUTOTRACE_BRIDGE_ORIG");
	rc = setenv(name, v, 1);
	free(v);
	return rc;
}

void at_bridge_init(void)
{
	enum runtime rt;
	char dir[PATH_MAX], file[PATH_MAX + 64], chan[64];
	struct at_fd *e;
	int fd;

	if (!at_cfg.runtime_bridges || (rt = runtime_of_exe()) == RT_NONE ||
	    library_dir(dir, sizeof(dir)) != 0)
		return;
	snprintf(file, sizeof(file), "%s/%s", dir,
		 rt == RT_NODE ? "autotrace-bridge.js"
			       : "autotrace-py/sitecustomize.py");
	if (access(file, R_OK) != 0)
		return;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0)
		return;
	e = at_fd_get(fd);
	if (!e) {
		AT_REAL(close)(fd);
		return;
	}
	atomic_store(&e->kind, AT_FD_BRIDGE);
	at_context_bridge_fd = fd;
	snprintf(chan, sizeof(chan), "%d:%d", (int)getpid(), fd);
	setenv("AUTOTRACE_BRIDGE", chan, 1);
	if (rt == RT_NODE) {
		char opt[PATH_MAX + 96];
		snprintf(opt, sizeof(opt), "--require \"%s\"", file);
		prepend_env("NODE_OPTIONS", opt, " ");
	} else {
		snprintf(file, sizeof(file), "%s/autotrace-py", dir);
		prepend_env("PYTHONPATH", file, ":");
	}
}
