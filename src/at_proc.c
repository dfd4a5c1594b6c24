/*
 * at_proc.c - the environment carrier for child processes and the spans of
 * spawned children (see at_proc.h), kept by pid until the child is reaped
 * (the wait hooks, system(), pclose()) or given up on (at_proc_forget).
 *
 * vfork safety: at_proc_env() and at_proc_active_span() only read shared
 * state and write to the caller's buffers, so an exec hook running in a
 * vfork child leaves the parent's memory exactly as it was.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "at_init.h"
#include "at_pool.h"
#include "at_proc.h"
#include "at_ptrmap.h"
#include "at_thread.h"
#include "at_traceparent.h"

static char self_path[PATH_MAX];
static struct at_ptrmap children;
static struct at_pool span_pool = AT_POOL_INIT(sizeof(struct at_span), 4096);

void at_proc_init(void)
{
	Dl_info info;

	if (dladdr((void *)&at_proc_init, &info) && info.dli_fname &&
	    info.dli_fname[0] == '/')
		snprintf(self_path, sizeof(self_path), "%s", info.dli_fname);
}

size_t at_proc_env_count(char *const envp[])
{
	size_t n = 0;

	while (envp && envp[n])
		n++;
	return n;
}

const struct at_span *at_proc_active_span(void)
{
	const struct at_thread *t = at_self;

	if (!t)
		return NULL;
	for (uint32_t i = t->depth; i > 0; i--) {
		const struct at_ctx_entry *e = &t->stack[i - 1];
		if (e->span->h.state != AT_SPAN_FREE &&
		    !memcmp(e->span->h.ctx.span_id, e->span_id, 8))
			return e->span;
	}
	return NULL;
}

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

char **at_proc_env(char *const envp[], const struct at_span *span,
		   char **out, char *strbuf)
{
	size_t n = 0, used = 0;
	char *tp_line = NULL, *ts_line = NULL, *pre_line = NULL;
	const char *old_pre = NULL;
	int want_preload = self_path[0] && at_cfg.propagate_preload;

	if (want_preload)
		for (size_t i = 0; envp && envp[i]; i++)
			if (has_prefix(envp[i], "LD_PRELOAD=")) {
				old_pre = envp[i] + 11;
				if (strstr(old_pre, self_path))
					want_preload = 0;
			}
	if (!span && !want_preload)
		return (char **)envp;
	if (span) {
		char tp[AT_TRACEPARENT_LEN + 1];
		size_t tsl;
		const char *ts = at_span_tracestate(span, &tsl);

		at_traceparent_format(at_span_ctx(span), tp);
		tp_line = strbuf + used;
		used += (size_t)snprintf(tp_line, 80, "TRACEPARENT=%s", tp) + 1;
		if (tsl) {
			ts_line = strbuf + used;
			used += (size_t)snprintf(ts_line, AT_TRACESTATE_MAX + 16,
						 "TRACESTATE=%.*s", (int)tsl,
						 ts) + 1;
		}
	}
	if (want_preload) {
		pre_line = strbuf + used;
		snprintf(pre_line, AT_PROC_STRBUF - used, "LD_PRELOAD=%s%s%s",
			 old_pre ? old_pre : "", old_pre ? " " : "", self_path);
	}
	for (size_t i = 0; envp && envp[i]; i++) {
		if ((span && (has_prefix(envp[i], "TRACEPARENT=") ||
			      has_prefix(envp[i], "TRACESTATE="))) ||
		    (pre_line && has_prefix(envp[i], "LD_PRELOAD=")))
			continue;
		out[n++] = envp[i];
	}
	if (tp_line)
		out[n++] = tp_line;
	if (ts_line)
		out[n++] = ts_line;
	if (pre_line)
		out[n++] = pre_line;
	out[n] = NULL;
	return out;
}

static struct at_span *span_new(void)
{
	return at_span_pool_get(&span_pool);
}

static void span_free(struct at_span *s)
{
	at_span_pool_put(&span_pool, s);
}

static const void *pid_key(pid_t pid)
{
	return (const void *)(uintptr_t)(pid + 2); /* never NULL or 1 */
}

/* A started process span for file under the active span, or NULL. */
static struct at_span *process_span(const char *file, const char *cmdline)
{
	struct at_span *s;
	const char *base = strrchr(file, '/');

	base = base ? base + 1 : file;
	/* Only under an active span: a program spawning children outside
	 * any traced work does not start a trace per child. */
	if (!at_cfg.process_spans || !at_proc_active_span() ||
	    !(s = span_new()))
		return NULL;
	at_span_start(s, base, strlen(base), AT_KIND_INTERNAL);
	if (!at_span_started(s)) {
		span_free(s);
		return NULL;
	}
	if (at_span_recording(s)) {
		at_span_set_cstr(s, "process.executable.name", base);
		if (cmdline && at_cfg.capture_command_line)
			at_span_set_cstr(s, "process.command_line", cmdline);
	}
	return s;
}

int at_proc_spawn(at_spawn_fn real, pid_t *pidp, const char *file,
		  const posix_spawn_file_actions_t *fa,
		  const posix_spawnattr_t *attr, char *const argv[],
		  char *const envp[], const char *cmdline)
{
	struct at_span *s = process_span(file, cmdline);
	pid_t pid = 0;
	int rc;

	{
		AT_PROC_CHILD_ENV(envp, at_proc_active_span(), env);
		rc = real(&pid, file, fa, attr, argv, env);
	}
	if (pidp && rc == 0)
		*pidp = pid;
	if (!s)
		return rc;
	at_span_deactivate(s);
	if (rc != 0) {
		at_span_set_errno(s, rc);
		at_span_end(s);
		span_free(s);
		return rc;
	}
	at_span_set_int(s, "process.pid", pid);
	if (at_ptrmap_put(&children, pid_key(pid), s) != 0) {
		at_span_end(s);
		span_free(s);
	}
	return rc;
}

void at_proc_reaped(pid_t pid, int st)
{
	struct at_span *s = at_ptrmap_del(&children, pid_key(pid));

	if (!s)
		return;
	if (at_span_recording(s)) {
		if (WIFEXITED(st)) {
			at_span_set_int(s, "process.exit.code", WEXITSTATUS(st));
			if (WEXITSTATUS(st) != 0) {
				at_span_set_cstr(s, "error.type", "exit_code");
				at_span_set_status(s, AT_STATUS_ERROR,
						   "non-zero exit code", 18);
			}
		} else if (WIFSIGNALED(st)) {
			at_span_set_int(s, "process.exit.code",
					128 + WTERMSIG(st));
			at_span_set_cstr(s, "error.type", "signal");
			at_span_set_status(s, AT_STATUS_ERROR,
					   "killed by a signal", 18);
		}
	}
	at_span_end(s);
	span_free(s);
}

void at_proc_after_fork_child(void)
{
	/* Their spans stay allocated in this copy of the pool: the parent
	 * ends them. */
	memset(&children, 0, sizeof(children));
}

void at_proc_forget(pid_t pid)
{
	struct at_span *s = at_ptrmap_del(&children, pid_key(pid));

	if (!s)
		return;
	at_span_end(s);
	span_free(s);
}
