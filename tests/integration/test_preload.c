/*
 * Integration tests of the LD_PRELOAD rule for children (at_proc.h): a
 * program that removes LD_PRELOAD - env -u, env -i, a shell's unset,
 * unsetenv, clearenv, LD_PRELOAD set to "" or another list, a copy of its
 * environment without it - starts children exactly as it does without
 * the library; a child given an environment built afresh gets the
 * library back (AUTOTRACE_PROPAGATE_PRELOAD=true), never gets it (false),
 * or always gets it (always).  Every case is compared byte for byte with
 * the same program run without the library; the Python case checks,
 * by decoding what the receiver got, which children were traced.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 10000

/* out without its lines that start with one of the prefixes (malloc'd). */
static char *drop_lines(const char *out, const char *p1, const char *p2)
{
	char *copy = strdup(out), *w = copy;

	for (const char *p = out; *p;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) + 1 : strlen(p);
		if (strncmp(p, p1, strlen(p1)) &&
		    (!p2 || strncmp(p, p2, strlen(p2)))) {
			memcpy(w, p, len);
			w += len;
		}
		p += len;
	}
	*w = '\0';
	return copy;
}

/* The library's own LD_PRELOAD line, as a child of a traced run shows it
 * when the library was added back ("LD_PRELOAD=<lib>\n"; static). */
static const char *lib_line(void)
{
	static char buf[1024];

	snprintf(buf, sizeof(buf), "LD_PRELOAD=%s\n", h_lib());
	return buf;
}

/* Node.js: spawn with a copy of process.env without LD_PRELOAD, then
 * after deleting it from process.env. */
static const char node_children[] =
	"const cp = require('child_process');\n"
	"const sh = ['-c', 'echo ${LD_PRELOAD-unset}'];\n"
	"const env = {...process.env}; delete env.LD_PRELOAD;\n"
	"process.stdout.write(cp.execFileSync('sh', sh, {env}));\n"
	"delete process.env.LD_PRELOAD;\n"
	"process.stdout.write(cp.execFileSync('sh', sh));\n";

/*
 * The two commands of the report and their shell relatives: env -u and
 * env -i (which change environ and execvp), dash's `unset` (which passes
 * an environment of its own: environ minus LD_PRELOAD), bash's `unset`
 * (which passes environ), LD_PRELOAD= and another list, Node.js's
 * child_process.  Same stdout, stderr and exit status as without the
 * library.
 */
Test(preload, removed_by_env_and_shells_stays_removed, .timeout = 120)
{
	static const char *const cmds[][7] = {
		{ "env", "-u", "LD_PRELOAD", "sh", "-c",
		  "echo ${LD_PRELOAD-unset}" },
		{ "env", "-i", "/bin/sh", "-c", "env" },
		{ "env", "-i", "ONLY=1", "/bin/sh", "-c", "env" },
		{ "sh", "-c", "unset LD_PRELOAD; sh -c 'echo ${LD_PRELOAD-unset}'" },
		{ "sh", "-c", "unset LD_PRELOAD; export X=1; env | grep -c ." },
		{ "bash", "-c", "unset LD_PRELOAD; sh -c 'echo ${LD_PRELOAD-unset}'" },
		{ "sh", "-c", "LD_PRELOAD= sh -c 'echo [${LD_PRELOAD-unset}]'" },
		{ "sh", "-c", "LD_PRELOAD=libc.so.6 sh -c 'echo ${LD_PRELOAD}'" },
		{ "node", "-e", node_children },
	};
	const char *env[] = { "OTEL_TRACES_EXPORTER=none", NULL };

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct h_result bare, traced;
		const char *name = cmds[i][0];

		for (size_t k = 1; cmds[i][k]; k++)
			name = cmds[i][k]; /* the command line, for messages */

		cr_assert_eq(h_run(cmds[i], env, false, RUN_MS, &bare), 0);
		cr_assert_eq(h_run(cmds[i], env, true, RUN_MS, &traced), 0);
		cr_expect_eq(bare.status, 0, "%s: %s", name, bare.err);
		cr_expect_eq(traced.status, bare.status, "%s", name);
		cr_expect_str_eq(traced.out, bare.out, "%s: %s", cmds[i][0],
				 name);
		cr_expect_str_eq(traced.err, bare.err, "%s", name);
		cr_expect(!strstr(traced.out, "libautotrace"), "%s: %s", name,
			  traced.out);
		h_result_free(&bare);
		h_result_free(&traced);
	}

	/* The control: a child that nobody opted out keeps the library. */
	const char *keep[] = { "sh", "-c", "sh -c 'echo $LD_PRELOAD'", NULL };
	struct h_result res;
	cr_assert_eq(h_run(keep, env, true, RUN_MS, &res), 0);
	cr_expect(strstr(res.out, "libautotrace"), "%s", res.out);
	h_result_free(&res);
}

/* The text after "== form\n" up to the next "== " line (malloc'd), or
 * NULL. */
static char *section(const char *out, const char *form)
{
	char head[128];
	const char *p, *end;

	snprintf(head, sizeof(head), "== %s\n", form);
	p = strstr(out, head);
	if (!p)
		return NULL;
	p += strlen(head);
	end = strstr(p, "\n== ");
	return strndup(p, end ? (size_t)(end - p) + 1 : strlen(p));
}

/* Forms of shell_forms' "preload" scenario whose child is given an
 * environment built afresh while the process keeps the library. */
static bool fresh_form(const char *form)
{
	return !strncmp(form, "keep ", 5) && strstr(form, " fresh");
}

#define MAX_FORMS 32

/* The forms the fixture ran, from its "== FORM" lines (pointers into
 * static storage, valid until the next call); at least the 21 it has. */
static size_t forms_of(const char *out, const char *forms[MAX_FORMS])
{
	static char buf[4096];
	size_t n = 0, used = 0;

	for (const char *p = out; *p && n < MAX_FORMS;) {
		const char *end = strchr(p, '\n');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (!strncmp(p, "== ", 3) && used + len - 2 <= sizeof(buf)) {
			memcpy(buf + used, p + 3, len - 3);
			buf[used + len - 3] = '\0';
			forms[n++] = buf + used;
			used += len - 2;
		}
		p += end ? len + 1 : len;
	}
	cr_assert_geq(n, 21, "the fixture's forms: %s", out);
	return n;
}

/*
 * shell_forms preload MODE with and without the library, setting
 * AUTOTRACE_PROPAGATE_PRELOAD to propagate (NULL: unset): every form's
 * child environment is the bare one, but for TRACEPARENT (under the
 * span: always there, whatever happened to LD_PRELOAD) and, where
 * added(form), the library's LD_PRELOAD line.
 */
static void compare_forms(const char *mode, const char *propagate,
			  bool (*added)(const char *))
{
	const char *argv[] = { h_build_path("fixtures/shell_forms"),
			       "preload", mode, NULL };
	char setting[64];
	const char *env[] = { "OTEL_TRACES_EXPORTER=none", NULL, NULL };
	struct h_result bare, traced;
	bool span = !strcmp(mode, "span");

	if (propagate) {
		snprintf(setting, sizeof(setting),
			 "AUTOTRACE_PROPAGATE_PRELOAD=%s", propagate);
		env[1] = setting;
	}
	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_assert_eq(bare.status, 0, "%s", bare.out);
	cr_expect_eq(traced.status, 0, "%s", traced.out);
	cr_expect_str_eq(traced.err, bare.err);
	cr_expect(!strstr(bare.out, "form failed"), "%s", bare.out);
	cr_expect(!strstr(bare.out, "TRACEPARENT="));
	const char *forms[MAX_FORMS];
	size_t n = forms_of(bare.out, forms);
	for (size_t i = 0; i < n; i++) {
		char *b = section(bare.out, forms[i]);
		char *t = section(traced.out, forms[i]);
		bool lib = added(forms[i]);
		cr_assert(b && t, "%s: %s", forms[i], traced.out);
		char *rest = drop_lines(t, "TRACEPARENT=", lib ? lib_line()
							       : NULL);
		cr_expect_str_eq(rest, b, "%s %s %s: the child's environment",
				 mode, propagate ? propagate : "", forms[i]);
		cr_expect_eq(strstr(t, lib_line()) != NULL, lib,
			     "%s %s %s: LD_PRELOAD added: %d", mode,
			     propagate ? propagate : "", forms[i], lib);
		cr_expect_eq(strstr(t, "\nTRACEPARENT=00-") != NULL ||
				     !strncmp(t, "TRACEPARENT=00-", 15),
			     span, "%s %s: TRACEPARENT", mode, forms[i]);
		free(rest);
		free(b);
		free(t);
	}
	h_result_free(&bare);
	h_result_free(&traced);
}

static bool never(const char *form)
{
	(void)form;
	return false;
}

/*
 * unsetenv, clearenv, LD_PRELOAD="" or another list, then every way of
 * starting a child with the process's environ (exec*, posix_spawn with
 * environ, system, popen, vfork + execve): the child's environment is
 * the one it gets without the library, TRACEPARENT aside.  So is one
 * given a copy of environ without LD_PRELOAD, or a fresh one by a
 * process that removed the library from its own environment.  A fresh
 * environment from a process that still has the library gets it back.
 * With and without a span; system() and popen() under the span run the
 * library's own implementation.
 */
Test(preload, c_forms_honour_removal, .timeout = 120)
{
	compare_forms("nospan", NULL, fresh_form);
	compare_forms("span", NULL, fresh_form);
}

/* "always" adds the library wherever LD_PRELOAD does not list it
 * (appended to another list).  Under the span, so that system() and
 * popen() run the library's implementation: with none, glibc's start
 * their shell where no hook sees it, with the environment as it is. */
static void check_always(void)
{
	const char *argv[] = { h_build_path("fixtures/shell_forms"),
			       "preload", "span", NULL };
	const char *env[] = { "OTEL_TRACES_EXPORTER=none",
			      "AUTOTRACE_PROPAGATE_PRELOAD=always", NULL };
	struct h_result res;
	char other[1024];

	cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
	cr_expect_eq(res.status, 0, "%s", res.out);
	snprintf(other, sizeof(other), "LD_PRELOAD=libc.so.6 %s\n", h_lib());
	const char *forms[MAX_FORMS];
	size_t n = forms_of(res.out, forms);
	for (size_t i = 0; i < n; i++) {
		char *t = section(res.out, forms[i]);
		cr_assert(t, "%s", forms[i]);
		cr_expect(strstr(t, strncmp(forms[i], "other ", 6) ? lib_line()
								   : other),
			  "always, %s: %s", forms[i], t);
		free(t);
	}
	h_result_free(&res);
}

/*
 * The user's word: AUTOTRACE_PROPAGATE_PRELOAD=false never adds the
 * library (fresh environments included); always adds it to every child,
 * opt-outs included.
 */
Test(preload, propagate_setting_has_the_last_word, .timeout = 120)
{
	compare_forms("nospan", "false", never);
	compare_forms("span", "0", never);
	compare_forms("nospan", "true", fresh_form);
	check_always();
}

/*
 * A Python program (subprocess: vfork + execv without env=, execve with
 * it) runs curl in children: opted out by `env -u`, by a dash `unset`,
 * by env= a copy of os.environ without LD_PRELOAD, and - after the
 * program removed LD_PRELOAD from its own environment - with no env= and
 * with a fresh env=; and once with a fresh env= while it still has the
 * library.  Only that last child is traced: its request is the only one
 * the receiver gets, and each child saw LD_PRELOAD as it does without
 * the library but for that one.
 */
static const char py_children[] =
	"import os, subprocess, sys\n"
	"url = sys.argv[1]\n"
	"sh = 'echo %s ${LD_PRELOAD-unset}; exec curl -sS -o /dev/null '\n"
	"def run(tag, prefix=(), **kw):\n"
	"    sys.stdout.flush()\n"
	"    subprocess.run(list(prefix) + ['sh', '-c', sh % tag + url + '/' "
	"+ tag], check=True, **kw)\n"
	"fresh = {k: os.environ[k] for k in ('PATH', "
	"'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_BSP_SCHEDULE_DELAY')}\n"
	"run('env-u', ['env', '-u', 'LD_PRELOAD'])\n"
	"run('unset', ['sh', '-c', 'unset LD_PRELOAD; exec \"$@\"', 'sh'])\n"
	"run('copy', env={k: v for k, v in os.environ.items() "
	"if k != 'LD_PRELOAD'})\n"
	"run('fresh', env=fresh)\n"
	"os.environ.pop('LD_PRELOAD', None)\n"
	"run('popped')\n"
	"run('popped-fresh', env=fresh)\n";

Test(programs, python_children_traced_unless_opted_out, .timeout = 120)
{
	struct h_env e;
	struct h_result bare, traced;
	struct at_rx_span *spans;
	char url[64];

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%s", e.port);
	const char *argv[] = { "python3", "-c", py_children, url, NULL };
	const char *env[] = { e.ep, "OTEL_BSP_SCHEDULE_DELAY=20", NULL };

	cr_assert_eq(h_run(argv, env, false, RUN_MS, &bare), 0);
	cr_assert_eq(bare.status, 0, "%s", bare.err);
	cr_assert_eq(at_receiver_request_count(e.rx), 0);
	cr_assert_eq(h_run(argv, env, true, RUN_MS, &traced), 0);
	cr_expect_eq(traced.status, 0, "%s", traced.err);
	cr_expect_str_eq(traced.err, bare.err);
	cr_expect_str_eq(bare.out, "env-u unset\nunset unset\ncopy unset\n"
				   "fresh unset\npopped unset\n"
				   "popped-fresh unset\n");
	char *fresh_lib;
	cr_assert(asprintf(&fresh_lib, "fresh %s\n", h_lib()) > 0);
	char *rest = drop_lines(traced.out, fresh_lib, NULL);
	char *bare_rest = drop_lines(bare.out, "fresh unset\n", NULL);
	cr_expect(strstr(traced.out, fresh_lib), "%s", traced.out);
	cr_expect_str_eq(rest, bare_rest);
	free(rest);
	free(bare_rest);
	free(fresh_lib);

	/* Every child has exited (and flushed) before the program did. */
	size_t n = h_spans(e.rx, 1, WAIT_MS, &spans), requests = 0;
	const at_otlp_span *get = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *u = h_attr_str(spans[i].span, "url.full");
		if (!u)
			continue;
		requests++;
		cr_expect(strstr(u, "/fresh") && !strstr(u, "popped"),
			  "only the fresh child is traced: %s", u);
		get = spans[i].span;
	}
	cr_expect_eq(requests, 1, "%zu requests exported", requests);
	cr_assert(get, "the fresh child's request among %zu spans", n);
	/* ...and every span exported is that curl's (its connect too). */
	int64_t pid = -1;
	for (size_t i = 0; i < n; i++) {
		const char *exe = h_res_str(spans[i].resource,
					    "process.executable.name");
		int64_t p = h_res_int(spans[i].resource, "process.pid", -2);
		cr_expect_str_eq(exe ? exe : "", "curl");
		cr_expect(pid < 0 || p == pid, "spans of two processes");
		pid = p;
	}
	free(spans);
	h_result_free(&bare);
	h_result_free(&traced);
	h_env_stop(&e);
}
