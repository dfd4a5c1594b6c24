/*
 * A traced process's exit under a misbehaving collector (README: "How it
 * works / Exit", Fault matrix).
 *
 * Each collector fault - refusing connections, resetting them, answering
 * something that is not HTTP, accepting and never answering, answering
 * after 5 s - against programs that end in different states: one curl
 * request (the exit flush does all the work); 400 requests and a 3 s run
 * with a short OTEL_BSP_SCHEDULE_DELAY (the exporter has already failed
 * and is backing off, or waiting on the collector, when exit comes); a
 * program that execs another (the exec hooks flush first); nginx stopped
 * with SIGQUIT (its worker exits with spans queued).  Each traced run is
 * compared with the same program bare: same output and status, and its
 * exit time at most a bound more.  The exit time is measured from the
 * program's last words (a line on stderr; nginx: the SIGQUIT) to the
 * process's end, so that the noise of a loaded machine in the rest of the
 * run does not count.
 *
 * Targets (README): an unusable collector costs the exit at most 50 ms,
 * a silent or slow one about 500 ms.  The bounds asserted here are looser,
 * for a loaded 2-core machine: 250 ms and 800 ms - still far below the
 * 2-3 s these exits took when the exit flush finished its backoff and
 * waited on a silent collector until AUTOTRACE_EXIT_TIMEOUT.  A traced run
 * over its bound is run once more and the faster of the two counts: a
 * bound, not a race against the machine's load.
 *
 * Then the accounting (AUTOTRACE_DEBUG's exit line: every sampled span
 * exported, dropped by reason or spooled) and a collector that is slow
 * but answers: it is fed until the exit bound, and what is left then is
 * spooled.
 */
#include <criterion/criterion.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RUN_MS 60000
#define WAIT_MS 10000

enum fault { REFUSE, RESET, GARBAGE, SILENT, SLOW, N_FAULTS };

static const char *const fault_name[N_FAULTS] = {
	"refused", "reset", "garbage", "silent", "slow (5 s)",
};

#define UNUSABLE_BOUND_MS 250 /* target 50 */
#define SILENT_BOUND_MS 800   /* target 500 */
#define SLOW_ANSWER_MS 5000
#define EVERY_REQUEST 1000000 /* a script long enough for any run */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static uint64_t bound_ms(enum fault f)
{
	return f == SILENT || f == SLOW ? SILENT_BOUND_MS : UNUSABLE_BOUND_MS;
}

/* A collector with the fault: the test's receiver, scripted, or for
 * REFUSE a port where nothing listens. */
struct collector {
	struct at_receiver *rx;
	char *ep; /* OTEL_EXPORTER_OTLP_ENDPOINT=... */
};

static struct at_receiver *plain_receiver(void)
{
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };
	struct at_receiver *rx = at_receiver_start(&o);

	cr_assert(rx, "receiver");
	return rx;
}

static void collector_start(struct collector *c, enum fault f)
{
	static const int script[N_FAULTS] = { [RESET] = -4, [GARBAGE] = -3,
					      [SILENT] = -1 };

	c->rx = NULL;
	c->ep = NULL;
	if (f == REFUSE) {
		cr_assert_gt(asprintf(&c->ep, "OTEL_EXPORTER_OTLP_ENDPOINT="
					      "http://127.0.0.1:%u",
				      h_closed_port()), 0);
		return;
	}
	c->rx = plain_receiver();
	if (f == SLOW)
		at_receiver_delay(c->rx, SLOW_ANSWER_MS);
	else
		at_receiver_script(c->rx, EVERY_REQUEST, script[f], NULL, 0,
				   NULL);
	c->ep = h_endpoint_env(c->rx);
}

static void collector_stop(struct collector *c)
{
	if (c->rx)
		at_receiver_stop(c->rx);
	free(c->ep);
}

/* ---- the programs ---- */

struct outcome {
	uint64_t ms; /* exit time: from the program's last words to its end */
	int status;
	char *out;   /* stdout and stderr */
};

/* A program run bare (ep NULL) or traced exporting to ep, against the
 * loopback server on port. */
typedef void (*program_fn)(const char *port, const char *ep,
			   struct outcome *o);

/*
 * Run argv, traced with env (bare when env is NULL), its stdout and stderr
 * to a file; its exit time is from the moment `last` shows in that file
 * (the program's last words on stderr, unbuffered) to the process's end.
 * The line starting with `varies` (if not NULL) is left out of the output.
 */
static void timed(const char *const argv[], const char *const env[],
		  const char *last, const char *varies, struct outcome *o)
{
	char dir[] = "/tmp/autotrace-exit-XXXXXX", log[64];
	uint64_t t0;

	cr_assert(mkdtemp(dir));
	snprintf(log, sizeof(log), "%s/log", dir);
	pid_t pid = h_start(argv, env, env != NULL, log);
	cr_assert_gt(pid, 0);
	cr_assert_eq(h_wait_file_has(log, last, RUN_MS), 0, "%s: no \"%s\"",
		     argv[0], last);
	t0 = mono_ms();
	o->status = h_wait_exit(pid, RUN_MS);
	o->ms = mono_ms() - t0;
	o->out = h_read_file(log, NULL);
	cr_assert(o->out);
	if (varies)
		h_cut_lines(o->out, varies);
	unlink(log);
	rmdir(dir);
}

/* {ep, extra, NULL}, or NULL for a bare run (ep NULL). */
#define TRACED_ENV(env, ep, extra)                                           \
	const char *env##_list[] = { ep, extra, NULL };                      \
	const char *const *env = ep ? env##_list : NULL

static void curl_once(const char *port, const char *ep, struct outcome *o)
{
	char url[64];
	TRACED_ENV(env, ep, NULL);

	snprintf(url, sizeof(url), "http://127.0.0.1:%s/", port);
	const char *argv[] = { "curl", "-sS", "-w", "%{stderr}curl: done\n",
			       url, NULL };
	timed(argv, env, "curl: done", NULL, o);
}

/* The exporter wakes every 100 ms: the exit finds it backing off after a
 * failed export, or waiting on the collector. */
#define BUSY_EXPORTER "OTEL_BSP_SCHEDULE_DELAY=100"
/* http_client --stats's last words (they vary: not compared). */
#define STATS "http_client: stats"

static void requests_400(const char *port, const char *ep, struct outcome *o)
{
	TRACED_ENV(env, ep, BUSY_EXPORTER);
	const char *argv[] = { h_build_path("fixtures/http_client"), "--count",
			       "400", "--reconnect", "--stats", "127.0.0.1",
			       port, NULL };
	timed(argv, env, STATS, STATS, o);
}

/* python3 -c code (code_fmt with the server's port), whose last words
 * on stderr are `last`. */
static void python(const char *code_fmt, const char *port, const char *ep,
		   const char *extra_env, const char *last, struct outcome *o)
{
	char code[512];
	TRACED_ENV(env, ep, extra_env);

	snprintf(code, sizeof(code), code_fmt, port);
	const char *argv[] = { "python3", "-c", code, NULL };
	timed(argv, env, last, NULL, o);
}

static void run_3s(const char *port, const char *ep, struct outcome *o)
{
	python("import sys, time, urllib.request as u\n"
	       "end = time.monotonic() + 3\n"
	       "while time.monotonic() < end:\n"
	       "    body = u.urlopen('http://127.0.0.1:%s/').read()\n"
	       "    time.sleep(0.02)\n"
	       "print(body.decode(), end='', flush=True)\n"
	       "sys.stderr.write('python: done\\n')\n",
	       port, ep, BUSY_EXPORTER, "python: done", o);
}

/* The exit time here is the exec's: from the request's end to the end of
 * the program exec'd (echo). */
static void request_then_exec(const char *port, const char *ep,
			      struct outcome *o)
{
	python("import os, sys, urllib.request as u\n"
	       "print(u.urlopen('http://127.0.0.1:%s/').read().decode(), "
	       "end='', flush=True)\n"
	       "sys.stderr.write('python: exec\\n')\n"
	       "os.execv('/bin/echo', ['echo', 'execed'])\n",
	       port, ep, NULL, "python: exec", o);
}

/* nginx (master + one worker) serves three requests, then SIGQUIT (a
 * graceful stop: the worker exits with its spans queued); the time from
 * the signal to the master's exit. */
static void nginx_sigquit(const char *port, const char *ep,
			  struct outcome *o)
{
	char dir[] = "/tmp/autotrace-ngx-XXXXXX", pf[64], url[64], cmd[96];
	const char *env[] = { ep, NULL };
	struct h_result res;
	uint64_t t0;

	(void)port;
	cr_assert(mkdtemp(dir));
	snprintf(pf, sizeof(pf), "%s/port", dir);
	const char *argv[] = { "sh", "tests/fixtures/nginx/nginx-run.sh", dir,
			       NULL };
	pid_t pid = h_start(argv, ep ? env : NULL, ep != NULL, NULL);
	uint16_t nport = h_read_port(pf, WAIT_MS);
	cr_assert_neq(nport, 0, "nginx did not start");
	cr_assert_eq(h_wait_port(nport, WAIT_MS), 0, "nginx not listening");
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", nport);
	const char *get[] = { "curl", "-sS", url, url, url, NULL };
	cr_assert_eq(h_run(get, NULL, false, RUN_MS, &res), 0);
	cr_expect_str_eq(res.out, "nginx ok\nnginx ok\nnginx ok\n");
	t0 = mono_ms();
	kill(pid, SIGQUIT);
	o->status = h_wait_exit(pid, RUN_MS);
	o->ms = mono_ms() - t0;
	o->out = res.out;
	res.out = NULL;
	h_result_free(&res);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	free(h_shell(cmd, NULL));
}

/*
 * The program bare, then traced against each fault: same status and
 * output, and the traced run's time within the fault's bound over the
 * bare one's.
 */
static void exit_matrix(const char *what, program_fn run)
{
	struct h_http *http = h_http_start();
	struct outcome bare, traced;
	char port[8];

	cr_assert(http);
	snprintf(port, sizeof(port), "%u", h_http_port(http));
	run(port, NULL, &bare);
	cr_assert_eq(bare.status, 0, "%s bare: %s", what, bare.out);
	for (int f = 0; f < N_FAULTS; f++) {
		struct collector c;

		collector_start(&c, (enum fault)f);
		run(port, c.ep, &traced);
		if (traced.ms > bare.ms + bound_ms((enum fault)f)) {
			struct outcome again;

			cr_log_info("%s, %s: %llu ms over bare %llu ms; once "
				    "more", what, fault_name[f],
				    (unsigned long long)traced.ms,
				    (unsigned long long)bare.ms);
			run(port, c.ep, &again);
			if (again.ms < traced.ms) {
				free(traced.out);
				traced = again;
			} else {
				free(again.out);
			}
		}
		cr_log_info("%s, collector %s: bare %llu ms, traced %llu ms",
			    what, fault_name[f], (unsigned long long)bare.ms,
			    (unsigned long long)traced.ms);
		cr_expect_eq(traced.status, bare.status, "%s, %s", what,
			     fault_name[f]);
		cr_expect_str_eq(traced.out, bare.out, "%s, %s", what,
				 fault_name[f]);
		cr_expect_lt(traced.ms, bare.ms + bound_ms((enum fault)f),
			     "%s, collector %s: exit took %llu ms, bare %llu "
			     "ms", what, fault_name[f],
			     (unsigned long long)traced.ms,
			     (unsigned long long)bare.ms);
		free(traced.out);
		collector_stop(&c);
	}
	free(bare.out);
	h_http_stop(http);
}

Test(exit, one_curl_request, .timeout = 120)
{
	exit_matrix("curl", curl_once);
}

Test(exit, four_hundred_requests, .timeout = 120)
{
	exit_matrix("400 requests", requests_400);
}

Test(exit, three_second_run, .timeout = 180)
{
	exit_matrix("3 s run", run_3s);
}

Test(exit, exec_after_a_request, .timeout = 120)
{
	exit_matrix("request then exec", request_then_exec);
}

Test(exit, nginx_sigquit, .timeout = 180)
{
	exit_matrix("nginx SIGQUIT", nginx_sigquit);
}

/* ---- accounting ---- */

/* "name=<n>" in AUTOTRACE_DEBUG's exit line, or -1. */
static long long counter(const char *report, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), " %s=", name);
	p = report ? strstr(report, key) : NULL;
	return p ? strtoll(p + strlen(key), NULL, 10) : -1;
}

struct account {
	long long sampled, exported, rejected, dropped, spooled;
	long long export_failed, unsent_at_exit;
};

static void account_of(const char *report, struct account *a)
{
	cr_assert(strstr(report, "spans started="), "the report: %s", report);
	a->sampled = counter(report, "sampled");
	a->exported = counter(report, "exported");
	a->rejected = counter(report, "rejected");
	a->dropped = counter(report, "dropped");
	a->spooled = counter(report, "spooled");
	a->export_failed = counter(report, "export_failed");
	a->unsent_at_exit = counter(report, "unsent_at_exit");
}

/* Every sampled span is exported, rejected, dropped or spooled. */
static void expect_accounted(const struct account *a, const char *report)
{
	cr_expect_gt(a->sampled, 0, "%s", report);
	cr_expect_eq(a->exported + a->rejected + a->dropped + a->spooled,
		     a->sampled, "every span accounted for: %s", report);
}

static int files_in(const char *dir)
{
	char cmd[PATH_MAX + 32];
	int n = 0;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' 2>/dev/null | wc -l", dir);
	char *out = h_shell(cmd, NULL);
	if (out)
		n = atoi(out);
	free(out);
	return n;
}

/*
 * A silent collector and a slow one (5 s), with and without a spool: the
 * spans of the batch given up at exit are counted as export_failed, or
 * spooled (a file is there).  Before, the exit line said exported=0
 * dropped=0 export_failed=0 for them.
 */
Test(exit, silent_or_slow_collector_every_span_is_counted, .timeout = 120)
{
	struct h_http *http = h_http_start();
	char port[8], spool[] = "/tmp/autotrace-xspool-XXXXXX";
	char spool_env[64];

	cr_assert(http && mkdtemp(spool));
	snprintf(port, sizeof(port), "%u", h_http_port(http));
	snprintf(spool_env, sizeof(spool_env), "AUTOTRACE_SPOOL_DIR=%s/d",
		 spool);
	for (int f = SILENT; f <= SLOW; f++) {
		for (int spooling = 0; spooling < 2; spooling++) {
			struct collector c;
			struct h_result res;
			struct account a;

			collector_start(&c, (enum fault)f);
			const char *env[] = { c.ep, "AUTOTRACE_DEBUG=1",
					      spooling ? spool_env : NULL,
					      NULL };
			const char *argv[] = {
				h_build_path("fixtures/tcp_client"),
				"127.0.0.1", port, "2", NULL
			};
			cr_assert_eq(h_run(argv, env, true, RUN_MS, &res), 0);
			cr_expect_eq(res.status, 0);
			cr_expect_str_eq(res.out, "connected 2\n");
			account_of(res.err, &a);
			cr_log_info("%s%s: %s", fault_name[f],
				    spooling ? ", spool" : "", res.err);
			expect_accounted(&a, res.err);
			cr_expect_eq(a.sampled, 2);
			if (spooling) {
				cr_expect_eq(a.spooled, 2, "%s", res.err);
				cr_expect_eq(files_in(spool_env + 20), 1);
			} else {
				cr_expect_eq(a.export_failed, 2, "%s",
					     res.err);
			}
			h_result_free(&res);
			collector_stop(&c);
			char cmd[PATH_MAX];
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'",
				 spool_env + 20);
			free(h_shell(cmd, NULL));
		}
	}
	rmdir(spool);
	h_http_stop(http);
}

struct busy_run {
	struct outcome bare, traced;
	struct account a;
};

/*
 * http_client making `requests` requests on one connection (a span each,
 * and one for the connect), bare and traced against a collector that
 * answers each export request after 300 ms; extra: more settings (the
 * batch size...).  The queue holds every span: what is measured is the
 * exit, not the queue's bound.
 */
static void busy_collector_run(struct at_receiver *rx, const char *requests,
			       const char *const extra[3],
			       struct busy_run *b)
{
	struct h_http *http = h_http_start();
	char port[8];

	cr_assert(http);
	snprintf(port, sizeof(port), "%u", h_http_port(http));
	char *ep = h_endpoint_env(rx);
	const char *argv[] = { h_build_path("fixtures/http_client"), "--count",
			       requests, "--stats", "127.0.0.1", port, NULL };
	const char *env[] = { ep, "AUTOTRACE_DEBUG=1",
			      "OTEL_BSP_MAX_QUEUE_SIZE=8192", extra[0],
			      extra[1], extra[2], NULL };

	timed(argv, NULL, STATS, STATS, &b->bare);
	at_receiver_delay(rx, 300);
	timed(argv, env, STATS, STATS, &b->traced);
	const char *report = strstr(b->traced.out, "libautotrace: pid");
	cr_assert(report, "the report: %s", b->traced.out);
	cr_log_info("busy collector, %s requests: exit bare %llu ms, traced "
		    "%llu ms: %.*s", requests, (unsigned long long)b->bare.ms,
		    (unsigned long long)b->traced.ms,
		    (int)strcspn(report, "\n"), report);
	cr_expect_eq(b->traced.status, 0);
	account_of(report, &b->a);
	expect_accounted(&b->a, report);
	h_cut_lines(b->traced.out, "libautotrace: ");
	cr_expect_str_eq(b->traced.out, b->bare.out);
	free(ep);
	h_http_stop(http);
}

static void busy_run_free(struct busy_run *b)
{
	free(b->bare.out);
	free(b->traced.out);
}

/*
 * A healthy collector that is merely busy (each answer after 300 ms):
 * 1000 spans in batches of 200 take it about 1.5 s at exit, within
 * AUTOTRACE_EXIT_TIMEOUT (3 s by default), and every span is delivered,
 * once - the exit flush does not give up on a collector that answers.
 */
Test(exit, busy_collector_gets_every_span, .timeout = 120)
{
	struct at_receiver *rx = plain_receiver();
	const char *const extra[3] = { "OTEL_BSP_MAX_EXPORT_BATCH_SIZE=200" };
	struct busy_run b;

	busy_collector_run(rx, "999", extra, &b);
	cr_expect_eq(b.a.sampled, 1000);
	cr_expect_eq(b.a.exported, 1000);
	cr_expect_eq(b.a.dropped, 0);
	/* Each once: a batch sent twice would make more. */
	cr_expect_eq(at_receiver_wait_spans(rx, 1000, WAIT_MS), 0);
	cr_expect_eq(at_receiver_span_count(rx), 1000);
	cr_expect_lt(b.traced.ms, b.bare.ms + 3000 + UNUSABLE_BOUND_MS,
		     "exit within AUTOTRACE_EXIT_TIMEOUT");
	busy_run_free(&b);
	at_receiver_stop(rx);
}

/*
 * The same collector with more than the exit bound can take (1500 spans
 * in batches of 100: 4.5 s of answers, AUTOTRACE_EXIT_TIMEOUT=1000): it
 * is fed until the bound, and what is left then is spooled, or dropped
 * and counted without a spool - every span accounted for, the exit
 * bounded.  (Without a spool the exit used to stop waiting while the last
 * request was under way, and its spans and those still queued were
 * counted nowhere.)
 */
Test(exit, busy_collector_past_the_exit_bound_spools_or_counts_the_rest,
     .timeout = 120)
{
	struct at_receiver *rx = plain_receiver();
	char spool[] = "/tmp/autotrace-xspool-XXXXXX", spool_env[64];

	cr_assert(mkdtemp(spool));
	snprintf(spool_env, sizeof(spool_env), "AUTOTRACE_SPOOL_DIR=%s",
		 spool);
	for (int spooling = 0; spooling < 2; spooling++) {
		const char *const extra[3] = {
			"OTEL_BSP_MAX_EXPORT_BATCH_SIZE=100",
			"AUTOTRACE_EXIT_TIMEOUT=1000",
			spooling ? spool_env : NULL
		};
		struct busy_run b;

		busy_collector_run(rx, "1499", extra, &b);
		cr_expect_eq(b.a.sampled, 1500);
		cr_expect_gt(b.a.exported, 0, "fed until the bound");
		if (spooling) {
			cr_expect_gt(b.a.spooled, 0, "the rest spooled");
			cr_expect_gt(files_in(spool), 0);
		} else {
			cr_expect_gt(b.a.dropped, 0, "the rest dropped");
		}
		cr_expect_lt(b.traced.ms, b.bare.ms + 1000 + UNUSABLE_BOUND_MS,
			     "exit within AUTOTRACE_EXIT_TIMEOUT");
		busy_run_free(&b);
	}
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
	free(h_shell(cmd, NULL));
	at_receiver_stop(rx);
}
