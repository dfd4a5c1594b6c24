/*
 * hooks/libc/exec.c - starting programs: execve, execv, execvp, execvpe,
 * execl, execle, execlp, fexecve, posix_spawn, posix_spawnp, and the wait
 * calls that reap spawned children (waitpid, wait4, wait).
 *
 * A child started while a span is active on the calling thread gets
 * TRACEPARENT (and TRACESTATE) for that span in its environment - the
 * OpenTelemetry environment carrier - so its own spans continue the trace.
 * The library goes into the LD_PRELOAD of a child given an environment
 * built afresh, so that it is traced too, but never where the program
 * removed LD_PRELOAD (the rule: at_proc.h): execv, execvp, execl and
 * execlp pass the process's environ, and so honour its absence.  The
 * caller's environment is never modified.
 *
 * vfork itself is not interposed.  A wrapper function would return twice
 * - in the child, which then goes on using the stack frames below it,
 * and again in the parent on that same, by then overwritten, stack - which
 * is undefined behaviour that only an assembly tail jump could avoid, and
 * a tail jump is what not wrapping it is.  Nothing needs to happen at the
 * vfork: the exec that follows is hooked, and knows it runs in a vfork
 * child (at_in_vfork_child).  system, popen and pclose: shell.c.
 *
 * The exec hooks may run in a vfork child, which shares the parent's
 * memory: they only read the library's state, keep the child's copy of
 * the environment on their own stack, and change nothing else.  When they
 * are sure not to be in a vfork child (our pid is the process's own), the
 * spans still queued are flushed first (the exit flush's rules and
 * bound), since exec discards them.
 *
 * posix_spawn/posix_spawnp under an active span make a span for the
 * child's life (name: the program's name; process.executable.name,
 * process.pid, process.exit.code, status ERROR for a non-zero exit or a
 * signal), active while the child is started so the child continues from
 * it, and ended when waitpid/wait4/wait reaps it.  AUTOTRACE_PROCESS_SPANS=false
 * turns those spans off (propagation stays).
 */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "at_exporter.h"
#include "at_init.h"
#include "at_proc.h"
#include "at_real.h"

/* Read-only check: may this call propagate a context? */
static int may_trace(void)
{
	return !at_guard_held() &&
	       atomic_load_explicit(&at_state, memory_order_acquire) ==
		       AT_STATE_READY;
}

/* Before the process image goes away: flush what is queued, unless this
 * may be a vfork child (then the parent's exporter is not ours to use). */
static void before_exec(void)
{
	if (at_in_vfork_child())
		return;
	at_exporter_before_exec();
}

AT_EXPORT int execve(const char *path, char *const argv[], char *const envp[])
{
	if (!may_trace())
		return AT_REAL(execve)(path, argv, envp);
	AT_PROC_CHILD_ENV(envp, at_span_active(), env);
	before_exec();
	return AT_REAL(execve)(path, argv, env);
}

AT_EXPORT int execvpe(const char *file, char *const argv[],
		      char *const envp[])
{
	if (!may_trace())
		return AT_REAL(execvpe)(file, argv, envp);
	AT_PROC_CHILD_ENV(envp, at_span_active(), env);
	before_exec();
	return AT_REAL(execvpe)(file, argv, env);
}

AT_EXPORT int execv(const char *path, char *const argv[])
{
	return AT_INTERPOSED(execve)(path, argv, environ);
}

AT_EXPORT int execvp(const char *file, char *const argv[])
{
	return AT_INTERPOSED(execvpe)(file, argv, environ);
}

AT_EXPORT int fexecve(int fd, char *const argv[], char *const envp[])
{
	if (!may_trace())
		return AT_REAL(fexecve)(fd, argv, envp);
	AT_PROC_CHILD_ENV(envp, at_span_active(), env);
	before_exec();
	return AT_REAL(fexecve)(fd, argv, env);
}

/*
 * The execl* argument lists, collected on the stack exactly as glibc does:
 * the arguments after arg0 up to the first NULL (whatever arg0 is), then
 * for execle the environment pointer after that NULL.
 */
static size_t count_args(va_list ap)
{
	size_t n = 1;

	while (va_arg(ap, const char *))
		n++;
	return n;
}

/* Declares argv[] (on the stack) from the list starting at arg0 and
 * leaves ap started just after the list's NULL: the caller reads what
 * follows (execle's envp) and ends ap. */
#define EXECL_ARGV(arg0, ap, argv)                                           \
	va_list ap;                                                          \
	va_start(ap, arg0);                                                  \
	size_t n_args = count_args(ap);                                      \
	va_end(ap);                                                          \
	char *argv[n_args + 1];                                              \
	argv[0] = (char *)arg0;                                              \
	va_start(ap, arg0);                                                  \
	for (size_t i_arg = 1; i_arg <= n_args; i_arg++)                     \
		argv[i_arg] = va_arg(ap, char *)

AT_EXPORT int execl(const char *path, const char *arg0, ...)
{
	EXECL_ARGV(arg0, ap, argv);
	va_end(ap);
	return AT_INTERPOSED(execve)(path, argv, environ);
}

AT_EXPORT int execlp(const char *file, const char *arg0, ...)
{
	EXECL_ARGV(arg0, ap, argv);
	va_end(ap);
	return AT_INTERPOSED(execvpe)(file, argv, environ);
}

AT_EXPORT int execle(const char *path, const char *arg0, ...)
{
	char *const *envp;

	EXECL_ARGV(arg0, ap, argv);
	envp = va_arg(ap, char *const *);
	va_end(ap);
	return AT_INTERPOSED(execve)(path, argv, envp);
}

/* ---- posix_spawn ---- */

AT_EXPORT int posix_spawn(pid_t *pid, const char *path,
			  const posix_spawn_file_actions_t *fa,
			  const posix_spawnattr_t *attr, char *const argv[],
			  char *const envp[])
{
	if (!at_hook_enter())
		return AT_REAL(posix_spawn)(pid, path, fa, attr, argv, envp);
	at_hook_leave(); /* spans of the spawn's own work are fine */
	return at_proc_spawn(AT_REAL(posix_spawn), pid, path, fa, attr, argv,
			     envp, NULL);
}

AT_EXPORT int posix_spawnp(pid_t *pid, const char *file,
			   const posix_spawn_file_actions_t *fa,
			   const posix_spawnattr_t *attr, char *const argv[],
			   char *const envp[])
{
	if (!at_hook_enter())
		return AT_REAL(posix_spawnp)(pid, file, fa, attr, argv, envp);
	at_hook_leave();
	return at_proc_spawn(AT_REAL(posix_spawnp), pid, file, fa, attr, argv,
			     envp, NULL);
}

/* ---- reaping ---- */

static void reaped(pid_t pid, int *st)
{
	int err = errno;

	if (pid > 0 && st && (WIFEXITED(*st) || WIFSIGNALED(*st)) &&
	    at_hook_enter()) {
		at_proc_reaped(pid, *st);
		at_hook_leave();
	}
	errno = err;
}

AT_EXPORT pid_t waitpid(pid_t pid, int *st, int options)
{
	int local;
	pid_t r = AT_REAL(waitpid)(pid, st ? st : &local, options);

	reaped(r, st ? st : &local);
	return r;
}

AT_EXPORT pid_t wait4(pid_t pid, int *st, int options, struct rusage *ru)
{
	int local;
	pid_t r = AT_REAL(wait4)(pid, st ? st : &local, options, ru);

	reaped(r, st ? st : &local);
	return r;
}

AT_EXPORT pid_t wait(int *st)
{
	int local;
	pid_t r = AT_REAL(waitpid)(-1, st ? st : &local, 0);

	reaped(r, st ? st : &local);
	return r;
}
