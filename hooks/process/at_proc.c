/*
 * at_proc.c - the environment carrier for child processes and the spans of
 * spawned children (see at_proc.h), kept by pid until the child is reaped
 * (the wait hooks, system(), pclose()) or given up on (at_proc_forget).
 *
 * vfork safety: at_proc_env() and at_span_active() only read shared
 * state and write to the caller's buffers, so an exec hook running in a
 * vfork child leaves the parent's memory exactly as it was.
 *
 * The LD_PRELOAD rule (at_proc.h) reads the process's environ besides the
 * child's environment, and only when the child's lacks LD_PRELOAD and is
 * not environ itself.  Like getenv() - which posix_spawnp and execvp call
 * for PATH too - that read assumes no other thread changes the
 * environment at the same moment (setenv is not thread-safe).  Whether
 * the child's environment is the process's own minus LD_PRELOAD compares
 * variable names, looking for each of environ's in the child's from just
 * after the last one found: a copy in the same order costs one pass, any
 * order at most DERIVED_WORK name comparisons, beyond which the
 * environment is taken as the program's copy and left as given.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "at_config.h"
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

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

/* The value of LD_PRELOAD in env (the last one, as ld.so reads it), or
 * NULL when it has none. */
static const char *preload_of(char *const env[])
{
	const char *v = NULL;

	for (size_t i = 0; env && env[i]; i++)
		if (has_prefix(env[i], "LD_PRELOAD="))
			v = env[i] + 11;
	return v;
}

/* Is lib an entry of the LD_PRELOAD list (separated by spaces or colons,
 * as ld.so splits it)? */
static bool lists_lib(const char *list, const char *lib)
{
	size_t n = strlen(lib);

	while (*list) {
		size_t len = strcspn(list, " :");
		if (len == n && !memcmp(list, lib, n))
			return true;
		list += len;
		if (*list)
			list++;
	}
	return false;
}

/* Variables left out of the comparison of two environments: the ones
 * this library adds or replaces. */
static bool ours(const char *entry)
{
	return has_prefix(entry, "LD_PRELOAD=") ||
	       has_prefix(entry, "TRACEPARENT=") ||
	       has_prefix(entry, "TRACESTATE=") ||
	       has_prefix(entry, "BAGGAGE=");
}

#define DERIVED_WORK (1u << 20)

/*
 * Is env the process's environment own with LD_PRELOAD taken out - every
 * variable of own's (but ours()) present in env by name, and own has at
 * least one - rather than one built afresh?  See the top of this file for
 * the cost.
 */
static bool derived_from(char *const env[], char *const own[])
{
	size_t n = at_proc_env_count(env), at = 0, work = 0, compared = 0;

	for (size_t i = 0; own && own[i]; i++) {
		const char *eq = strchr(own[i], '=');
		size_t k, len;

		if (!eq || ours(own[i]))
			continue;
		len = (size_t)(eq - own[i]) + 1; /* the name and its '=' */
		for (k = 0; k < n; k++)
			if (!strncmp(env[(at + k) % n], own[i], len))
				break;
		if (k == n)
			return false;
		at = (at + k + 1) % n;
		compared++;
		work += k + 1;
		if (work > DERIVED_WORK)
			return true;
	}
	return compared > 0;
}

bool at_proc_adds_preload(char *const envp[], char *const own[],
			  const char *lib, int mode)
{
	const char *given, *own_list;

	if (mode == AT_PRELOAD_NEVER || !lib || !lib[0])
		return false;
	given = preload_of(envp);
	if (given && lists_lib(given, lib))
		return false; /* already there */
	if (mode == AT_PRELOAD_ALWAYS)
		return true;
	if (given || envp == own)
		return false; /* the program's own list; environ without it */
	own_list = preload_of(own);
	if (!own_list || !lists_lib(own_list, lib))
		return false; /* the process opted itself out */
	return !derived_from(envp, own);
}

char **at_proc_env(char *const envp[], const struct at_span *span,
		   char **out, char *strbuf)
{
	size_t n = 0, used = 0;
	char *tp_line = NULL, *ts_line = NULL, *bag_line = NULL;
	char *pre_line = NULL;
	const char *old_pre = NULL;
	bool want_preload = at_proc_adds_preload(envp, environ, self_path,
						 at_cfg.propagate_preload);

	if (!span && !want_preload)
		return (char **)envp;
	if (want_preload)
		old_pre = preload_of(envp);
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
		if (at_cfg.propagators & AT_PROP_BAGGAGE) {
			int bl;

			memcpy(strbuf + used, "BAGGAGE=", 8);
			bl = at_baggage_copy(at_span_baggage(span),
					     strbuf + used + 8,
					     AT_BAGGAGE_MAX + 1);
			if (bl > 0) {
				bag_line = strbuf + used;
				used += 8 + (size_t)bl + 1;
			}
		}
	}
	if (want_preload) {
		pre_line = strbuf + used;
		snprintf(pre_line, AT_PROC_STRBUF - used, "LD_PRELOAD=%s%s%s",
			 old_pre ? old_pre : "",
			 old_pre && old_pre[0] ? " " : "", self_path);
	}
	for (size_t i = 0; envp && envp[i]; i++) {
		if ((span && (has_prefix(envp[i], "TRACEPARENT=") ||
			      has_prefix(envp[i], "TRACESTATE="))) ||
		    (bag_line && has_prefix(envp[i], "BAGGAGE=")) ||
		    (pre_line && has_prefix(envp[i], "LD_PRELOAD=")))
			continue;
		out[n++] = envp[i];
	}
	if (tp_line)
		out[n++] = tp_line;
	if (ts_line)
		out[n++] = ts_line;
	if (bag_line)
		out[n++] = bag_line;
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
	if (!at_cfg.process_spans || !at_span_active() ||
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
		AT_PROC_CHILD_ENV(envp, at_span_active(), env);
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
