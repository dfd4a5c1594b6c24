/*
 * at_shell.h - system(), popen() and pclose() for children started under
 * a span.
 *
 * glibc starts the shell of system() and popen() with its internal
 * posix_spawn and the process's own environ, out of reach of the hooks.
 * When a span is active on the calling thread these functions do what
 * glibc 2.36 does, step by step - the same system calls in the same order,
 * so the same descriptor numbers, close-on-exec flags, signal dispositions
 * and masks, return values and errno - but start the shell through
 * at_proc_spawn(): its environment - the process's environ, so an
 * LD_PRELOAD the program removed stays removed (at_proc.h) - carries
 * the span's TRACEPARENT (and TRACESTATE), and it gets a process span,
 * ended when system() or pclose() reaps it.  Otherwise glibc's own functions run,
 * except where the two implementations would step on each other:
 *
 *  - system() ignores SIGINT and SIGQUIT in the caller while the shell
 *    runs, saving their dispositions on the first of concurrent calls and
 *    restoring them when the last returns.  glibc counts its own calls and
 *    ours have their own count; a mix would restore too early, or restore
 *    "ignored" for good.  So the implementation with calls in progress
 *    takes the new ones: while one of ours runs, a system() with no span
 *    runs ours too (environment unchanged, no span); while one of glibc's
 *    runs, a system() under a span goes to glibc (no TRACEPARENT).
 *  - A popen() child must close the streams earlier popen() calls left
 *    open in the parent (POSIX).  glibc's children know only glibc's
 *    streams, so while one of ours is open every popen() is ours; ours
 *    know every stream: glibc's are recorded when the hook returns them
 *    and forgotten when they are closed (pclose, fclose).
 *
 * Our popen stream is an ordinary fdopen() stream on the pipe.  For glibc
 * fclose() of a popen stream is pclose() (it waits for the child and
 * returns its status), so the fclose hook sends our streams here too.
 */
#ifndef AT_SHELL_H
#define AT_SHELL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>

/* popen streams followed (ours and glibc's).  While it is 0 the fclose and
 * pclose hooks go straight to libc. */
extern _Atomic unsigned at_shell_streams;

/*
 * system(cmd).  traced: a span is active on the calling thread (the caller
 * checked, with the library ready and not in a vfork child).  Returns and
 * sets errno as glibc's system(): the wait status; 127 << 8 (errno =
 * posix_spawn's error) if the shell could not be started; -1 if the wait
 * failed; for cmd NULL, whether a shell can run.  A cancellation point
 * (the waiting): a cancelled caller's shell is killed and reaped.
 */
int at_shell_system(const char *cmd, bool traced);

/* popen(cmd, mode), same contract as at_shell_system for traced.  NULL
 * with EINVAL for a bad mode, ENOMEM when the shell cannot be started. */
FILE *at_shell_popen(const char *cmd, const char *mode, bool traced);

/* fclose(f) (use_pclose false) or pclose(f): a stream of ours is closed,
 * its child waited for and its status returned, as glibc does for its
 * own; any other stream goes to libc's function. */
int at_shell_close(FILE *f, bool use_pclose);

/*
 * A popen mode as glibc reads it: any sequence of 'r', 'w' and 'e' with
 * exactly one of 'r' and 'w'.  Returns 0 and sets *reading and *cloexec,
 * or -1 for anything else.
 */
int at_shell_popen_mode(const char *mode, bool *reading, bool *cloexec);

/* In a fork child: the locks may have been held by threads that are gone,
 * and the parent's calls in progress are not the child's. */
void at_shell_after_fork_child(void);

#endif
