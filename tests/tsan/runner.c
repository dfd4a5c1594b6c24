/*
 * runner.c - runs the tests registered through the Criterion stand-in
 * (tests/tsan/criterion/criterion.h) whose "suite/name" matches the filter
 * argument (an fnmatch pattern; by default every test of the suite
 * "concurrency"), each in a forked
 * child with its .init/.fini and .timeout, and prints one line per test and
 * "N passed, N failed" at the end.  Exit status 1 if any failed.
 */
#include <fnmatch.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "criterion/criterion.h"

struct shim_test {
	const char *suite, *name;
	void (*fn)(void);
	struct shim_opts opts;
};

static struct shim_test tests[512];
static int n_tests;
static int expect_failed;

void shim_register(const char *suite, const char *name, void (*fn)(void),
		   struct shim_opts opts)
{
	if (n_tests < (int)(sizeof(tests) / sizeof(tests[0])))
		tests[n_tests++] = (struct shim_test){ suite, name, fn, opts };
}

void shim_fail(const char *file, int line, const char *expr, int fatal,
	       const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, expr);
	if (fmt && *fmt) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	if (fatal)
		_exit(1);
	expect_failed = 1;
}

void shim_skip(const char *fmt, ...)
{
	(void)fmt;
	_exit(77);
}

int main(int argc, char **argv)
{
	const char *filter = argc > 1 ? argv[1] : "concurrency/*";
	int passed = 0, failed = 0;

	for (int i = 0; i < n_tests; i++) {
		char full[256];
		int st;
		pid_t pid;

		snprintf(full, sizeof(full), "%s/%s", tests[i].suite,
			 tests[i].name);
		if (fnmatch(filter, full, 0) != 0)
			continue;
		fflush(stdout);
		pid = fork();
		if (pid == 0) {
			if (tests[i].opts.timeout > 0)
				alarm((unsigned)tests[i].opts.timeout);
			if (tests[i].opts.init)
				tests[i].opts.init();
			tests[i].fn();
			if (tests[i].opts.fini)
				tests[i].opts.fini();
			_exit(expect_failed ? 1 : 0);
		}
		waitpid(pid, &st, 0);
		if (WIFEXITED(st) && (WEXITSTATUS(st) == 0 ||
				      WEXITSTATUS(st) == 77)) {
			printf("[PASS] %s%s\n", full,
			       WEXITSTATUS(st) == 77 ? " (skipped)" : "");
			passed++;
		} else {
			printf("[FAIL] %s (%s %d)\n", full,
			       WIFEXITED(st) ? "exit" : "signal",
			       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			failed++;
		}
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
