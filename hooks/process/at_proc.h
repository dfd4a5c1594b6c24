/*
 * at_proc.h - child processes: the OpenTelemetry environment carrier
 * (TRACEPARENT, TRACESTATE) for the processes a program starts, and a span
 * per child started with posix_spawn (or system/popen, at_shell.h), ended
 * when the parent reaps it.
 *
 * The caller's own environment is never modified: the child gets a copy,
 * built in memory the caller provides (the exec hooks may run in a vfork
 * child, where neither malloc nor any write to the parent's memory is
 * allowed).  An existing TRACEPARENT in that environment is replaced only
 * when a span is active on the calling thread, whatever happens to
 * LD_PRELOAD (the child may be traced by other means).
 *
 * LD_PRELOAD: removing it is how programs and people opt a child out, so
 * the library is added to a child's environment that lacks it only when
 * that environment was built afresh - never when the program took it out.
 * With AUTOTRACE_PROPAGATE_PRELOAD=true (the default) the library is added
 * only when all of these hold (at_proc_adds_preload):
 *   - the child's environment has no LD_PRELOAD at all (one that is
 *     there, "" included, is the program's own list and passes as given);
 *   - it is not the process's own environ (execv, execvp, execl, execlp,
 *     system, popen, posix_spawn or execve given environ): the process's
 *     own environment lacks it, so the program removed it (unsetenv,
 *     clearenv, env -u, env -i);
 *   - the process's own environ still lists the library in LD_PRELOAD
 *     (a process that took it out of its own environment, or that got the
 *     library some other way - linked, /etc/ld.so.preload - does not
 *     spread it);
 *   - the child's environment is not the process's own minus LD_PRELOAD:
 *     it lacks some other variable of the process's too (TRACEPARENT and
 *     TRACESTATE aside).  A copy with LD_PRELOAD taken out - dash's
 *     `unset LD_PRELOAD`, Python's env={k: v ... if k != 'LD_PRELOAD'} -
 *     is an opt-out; Python's subprocess env={'PATH': ...} is afresh.
 * false: never added.  always: added to every child whose LD_PRELOAD does
 * not list it (appended to the list), as if nobody could opt out.
 */
#ifndef AT_PROC_H
#define AT_PROC_H

#include <spawn.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "at_propagators.h"
#include "at_span.h"

/* Room needed for at_proc_env's strings (a BAGGAGE line among them). */
#define AT_PROC_STRBUF (4096 + 1024 + AT_BAGGAGE_MAX + 16)

/* How many entries envp has (not counting its NULL). */
size_t at_proc_env_count(char *const envp[]);

/*
 * Must a child started with envp get lib added to its LD_PRELOAD?  own is
 * the process's environment (environ), mode AUTOTRACE_PROPAGATE_PRELOAD
 * (AT_PRELOAD_*); the rule is above.  Reads only, allocates nothing.
 */
bool at_proc_adds_preload(char *const envp[], char *const own[],
			  const char *lib, int mode);

/*
 * Build the child's environment: envp with TRACEPARENT/TRACESTATE from
 * ctx_span (NULL: no active span, keep envp's own), BAGGAGE when the
 * span carries a request's baggage (and the baggage propagator is on), and the library added
 * to LD_PRELOAD when at_proc_adds_preload says so.  out has room for at_proc_env_count(envp) + 5 pointers, strbuf
 * for AT_PROC_STRBUF bytes.  Returns out, or envp itself when nothing
 * needs to change.  Reads only; writes only to out and strbuf.
 */
char **at_proc_env(char *const envp[], const struct at_span *ctx_span,
		   char **out, char *strbuf);

/* Declares outvar, the environment for a child (at_proc_env) with its
 * storage on the caller's stack: a vfork child may not allocate. */
#define AT_PROC_CHILD_ENV(envp, span, outvar)                                \
	char *outvar##_arr[at_proc_env_count(envp) + 6];                     \
	char outvar##_str[AT_PROC_STRBUF];                                   \
	char **outvar = at_proc_env(envp, span, outvar##_arr, outvar##_str)

/* Remember our own path (at initialisation) for LD_PRELOAD. */
void at_proc_init(void);

typedef int (*at_spawn_fn)(pid_t *, const char *,
			   const posix_spawn_file_actions_t *,
			   const posix_spawnattr_t *, char *const[],
			   char *const[]);

/*
 * posix_spawn through real (posix_spawn or posix_spawnp) with the child's
 * environment built from envp for the calling thread's active span.
 * Under an active span, with AUTOTRACE_PROCESS_SPANS on, the child gets a
 * process span (named after file's last component; process.pid,
 * process.executable.name, and process.command_line = cmdline when
 * AUTOTRACE_CAPTURE_COMMAND_LINE is on and cmdline is not NULL), active
 * while the child starts - so the child's TRACEPARENT is that span - and
 * kept until at_proc_reaped/at_proc_forget.  Returns real's result; *pidp
 * is set as real sets it.  Must not be called in a vfork child.
 */
int at_proc_spawn(at_spawn_fn real, pid_t *pidp, const char *file,
		  const posix_spawn_file_actions_t *fa,
		  const posix_spawnattr_t *attr, char *const argv[],
		  char *const envp[], const char *cmdline);

/* The child pid was reaped with wait status st: end its span. */
void at_proc_reaped(pid_t pid, int st);
/* In a fork child: the spawned children are the parent's, not ours. */
void at_proc_after_fork_child(void);
/* The child pid will not be reaped by this caller (it was reaped
 * elsewhere, or automatically): end its span, if it still has one,
 * without an exit code. */
void at_proc_forget(pid_t pid);

#endif
