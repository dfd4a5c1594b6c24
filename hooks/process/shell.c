/*
 * hooks/libc/shell.c - system, popen, pclose: children started through
 * the shell.
 *
 * glibc starts these shells inside libc with the process's own environ,
 * where no hook sees them.  Under an active span our own implementation
 * (at_shell.c, glibc's behaviour step by step) starts them instead, so
 * the child gets TRACEPARENT for a process span of its own; with no span,
 * the library disabled, or in a vfork child, glibc's functions run as
 * they are (at_shell.h says when one implementation takes the other's
 * calls).  pclose, like fclose in close.c, looks at its stream only while
 * popen streams are open.
 */
#include <stdio.h>
#include <stdlib.h>

#include "at_init.h"
#include "at_proc.h"
#include "at_real.h"
#include "at_shell.h"

/* Must the child of this call carry the active span? */
static bool under_span(void)
{
	return !at_guard_held() && at_span_active() != NULL;
}

AT_EXPORT int system(const char *cmd)
{
	if (!at_ready() || at_in_vfork_child())
		return AT_REAL(system)(cmd);
	return at_shell_system(cmd, under_span());
}

AT_EXPORT FILE *popen(const char *cmd, const char *mode)
{
	if (!at_ready() || at_in_vfork_child())
		return AT_REAL(popen)(cmd, mode);
	return at_shell_popen(cmd, mode, under_span());
}

AT_EXPORT int pclose(FILE *f)
{
	if (AT_LIKELY(!atomic_load_explicit(&at_shell_streams,
					    memory_order_relaxed)))
		return AT_REAL(pclose)(f);
	return at_shell_close(f, true);
}
