/*
 * Odd programs and signals: the host behaves as without the library, and
 * the spans arrive when the program's way of ending lets them.  Real
 * programs (python3) against the harness's loopback HTTP server.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define RUN_MS 30000
#define WAIT_MS 10000

/* python3 -c "<prologue>; GET the server; print the body; <epilogue>"
 * with the library preloaded (or LD_PRELOAD from env when !preload). */
static void run_py(struct h_env *e, const char *prologue, const char *epilogue,
		   const char *extra_env, bool preload, struct h_result *res)
{
	char code[1024];
	const char *env[] = { e->ep, extra_env, NULL };

	snprintf(code, sizeof(code),
		 "import os, sys, signal, urllib.request as u\n%s\n"
		 "print(u.urlopen('http://127.0.0.1:%s/').read().decode(), "
		 "end='', flush=True)\n%s\n",
		 prologue, e->port, epilogue);
	const char *argv[] = { "python3", "-c", code, NULL };
	cr_assert_eq(h_run(argv, env, preload, RUN_MS, res), 0);
}

/* GET client spans to the harness's server (waits for min of them). */
static size_t get_spans(struct h_env *e, size_t min)
{
	struct at_rx_span *spans;
	size_t n = h_spans(e->rx, min, WAIT_MS, &spans), gets = 0;

	for (size_t i = 0; i < n; i++)
		gets += spans[i].span->kind == 3 &&
			!strcmp(spans[i].span->name, "GET");
	free(spans);
	return gets;
}

Test(programs, program_that_clears_its_environment, .timeout = 60)
{
	struct h_env e;
	struct h_result res;

	cr_assert_eq(h_env_start(&e), 0);
	run_py(&e, "os.environ.clear(); os.environ['ONLY'] = '1'",
	       "print(sorted(os.environ))", NULL, true, &res);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n['ONLY']\n");
	cr_expect_str_eq(res.err, "");
	cr_expect_eq(get_spans(&e, 2), 1,
		     "configuration was read at start-up");
	h_result_free(&res);
	h_env_stop(&e);
}

Test(programs, library_preloaded_twice_traces_once, .timeout = 60)
{
	struct h_env e;
	struct h_result res;
	char twice[1024];

	cr_assert_eq(h_env_start(&e), 0);
	snprintf(twice, sizeof(twice), "LD_PRELOAD=%s %s", h_lib(), h_lib());
	run_py(&e, "", "", twice, false, &res);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n");
	cr_expect_str_eq(res.err, "");
	cr_expect_eq(get_spans(&e, 2), 1, "one span, not two");
	cr_expect_eq(at_receiver_request_count(e.rx), 1);
	h_result_free(&res);
	h_env_stop(&e);
}

Test(programs, sigterm_handler_that_exits_flushes, .timeout = 60)
{
	struct h_env e;
	struct h_result bare, res;

	cr_assert_eq(h_env_start(&e), 0);
	/* A handler that exits: exit() runs, the spans are flushed. */
	run_py(&e, "signal.signal(signal.SIGTERM, lambda *a: sys.exit(7))",
	       "os.kill(os.getpid(), signal.SIGTERM)\nsignal.pause()", NULL,
	       true, &res);
	cr_expect_eq(res.status, 7, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n");
	cr_expect_eq(get_spans(&e, 2), 1);
	h_result_free(&res);

	/* The default action: the process dies as it would without the
	 * library (its queued spans are lost by design, see README). */
	run_py(&e, "", "os.kill(os.getpid(), signal.SIGTERM)", NULL, false,
	       &bare);
	run_py(&e, "", "os.kill(os.getpid(), signal.SIGTERM)", NULL, true,
	       &res);
	cr_expect_eq(bare.status, 128 + 15);
	cr_expect_eq(res.status, bare.status);
	cr_expect_str_eq(res.out, bare.out);
	cr_expect_str_eq(res.err, bare.err);
	h_result_free(&bare);
	h_result_free(&res);
	h_env_stop(&e);
}

/* 65,000 descriptors open (or as many as the hard limit allows, when
 * the test cannot raise it): a request on a socket numbered above them
 * behaves the same and is traced. */
Test(programs, program_with_65000_open_fds, .timeout = 120)
{
	struct h_env e;
	struct h_result res;

	cr_assert_eq(h_env_start(&e), 0);
	run_py(&e,
	       "import resource\n"
	       "want = 65000 + 64\n"
	       "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
	       "try:\n"
	       "    resource.setrlimit(resource.RLIMIT_NOFILE, (want, max(hard, want)))\n"
	       "except (ValueError, OSError):\n"
	       "    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))\n"
	       "    want = hard\n"
	       "base = os.open('/dev/null', os.O_RDONLY)\n"
	       "fds = [os.dup(base) for _ in range(want - 64)]\n"
	       "sys.stderr.write('%d\\n' % max(fds))",
	       "", NULL, true, &res);
	cr_expect_eq(res.status, 0, "%s", res.err);
	cr_expect_str_eq(res.out, "hello\n");
	long top = strtol(res.err, NULL, 10);
	cr_expect_gt(top, 10000, "descriptors open: %s", res.err);
	cr_log_info("descriptors open below the request's socket: %ld", top);
	cr_expect_eq(get_spans(&e, 2), 1, "the request above them traced");
	h_result_free(&res);
	h_env_stop(&e);
}
