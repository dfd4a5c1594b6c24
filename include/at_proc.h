/*
 * at_proc.h - child processes: the OpenTelemetry environment carrier
 * (TRACEPARENT, TRACESTATE) for the processes a program starts, and a span
 * per child started with posix_spawn, ended when the parent reaps it.
 *
 * The caller's own environment is never modified: the child gets a copy,
 * built in memory the caller provides (the exec hooks may run in a vfork
 * child, where neither malloc nor any write to the parent's memory is
 * allowed).  An existing TRACEPARENT in that environment is replaced only
 * when a span is active on the calling thread; LD_PRELOAD with this
 * library is kept (added back if the program removed it) unless
 * AUTOTRACE_PROPAGATE_PRELOAD=false.
 */
#ifndef AT_PROC_H
#define AT_PROC_H

#include <stddef.h>
#include <sys/types.h>

#include "at_span.h"

/* Room needed for at_proc_env's strings. */
#define AT_PROC_STRBUF (4096 + 1024)

/* How many entries envp has (not counting its NULL). */
size_t at_proc_env_count(char *const envp[]);

/*
 * Build the child's environment: envp with TRACEPARENT/TRACESTATE from
 * ctx_span (NULL: no active span, keep envp's own), and LD_PRELOAD
 * ensured.  out has room for at_proc_env_count(envp) + 4 pointers, strbuf
 * for AT_PROC_STRBUF bytes.  Returns out, or envp itself when nothing
 * needs to change.  Reads only; writes only to out and strbuf.
 */
char **at_proc_env(char *const envp[], const struct at_span *ctx_span,
		   char **out, char *strbuf);

/* The thread's active span, without touching any state (vfork-safe). */
const struct at_span *at_proc_active_span(void);

/* Remember our own path (at initialisation) for LD_PRELOAD. */
void at_proc_init(void);

/* A posix_spawn child's span, kept until the child is reaped. */
void at_proc_spawned(pid_t pid, struct at_span *s);
/* The child pid was reaped with wait status st: end its span. */
void at_proc_reaped(pid_t pid, int st);
/* A span for a child process, from the pool (NULL if none). */
struct at_span *at_proc_span_new(void);
void at_proc_span_free(struct at_span *s);

#endif
