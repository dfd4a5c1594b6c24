/*
 * at_init.c - constructor, lazy initialisation, fork and exit handlers
 * (see at_init.h for the state machine and the guard).
 *
 * Initialisation resolves the real functions, reads the configuration,
 * reads the TRACEPARENT/TRACESTATE environment carrier, runs the init
 * step of the lifecycle table (at_lifecycle.h) and registers the fork
 * handler.  Fork and exit run the table's other steps: this file knows
 * no module above the core.  It never starts a thread: the exporter
 * starts with the first span (at_span.h, the consumer), so a process
 * that makes none (ls, true) costs nothing more than this.  The configuration is read with secure_getenv: in a setuid
 * or otherwise AT_SECURE process no variable can redirect spans, and the
 * defaults apply.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_init.h"
#include "at_lifecycle.h"
#include "at_log.h"
#include "at_propagators.h"
#include "at_real.h"
#include "at_span.h"
#include "at_traceparent.h"

_Atomic int at_state;
AT_TLS uint32_t at_guard;
struct at_config at_cfg;
pid_t at_pid;

static const char *env_lookup(const char *name, void *ud)
{
	(void)ud;
	return secure_getenv(name);
}

static void warn_line(const char *line, void *ud)
{
	(void)ud;
	at_log_line(line);
}

static void after_fork_child(void)
{
	at_pid = getpid();
	if (atomic_load(&at_state) != AT_STATE_READY)
		return;
	at_lifecycle_run(AT_STEP_FORK_CHILD);
}

/* TRACEPARENT / TRACESTATE / BAGGAGE: the OpenTelemetry environment
 * carrier. */
static void read_env_parent(void)
{
	const char *tp = secure_getenv("TRACEPARENT");
	const char *ts = secure_getenv("TRACESTATE");
	struct at_span_context ctx;
	char state[AT_TRACESTATE_MAX + 1];
	int n = 0;

	const char *bag = secure_getenv("BAGGAGE");

	/* BAGGAGE, the W3C Baggage of the environment carrier, stands alone:
	 * a process may get baggage without a trace context. */
	if (bag && (at_cfg.propagators & AT_PROP_BAGGAGE)) {
		static char list[AT_BAGGAGE_MAX + 1];

		n = at_baggage_sanitize(bag, strlen(bag), list, sizeof(list));
		if (n > 0)
			at_span_set_env_baggage(list, (size_t)n);
		n = 0;
	}
	if (!tp || at_traceparent_parse(tp, strlen(tp), &ctx) != 0)
		return;
	if (ts)
		n = at_tracestate_sanitize(ts, strlen(ts), state,
					   sizeof(state));
	at_span_set_env_parent(&ctx, state, n > 0 ? (size_t)n : 0);
}

int at_init_slow(void)
{
	int expected = AT_STATE_UNINIT;
	int st;

	if (!atomic_compare_exchange_strong(&at_state, &expected,
					    AT_STATE_INITIALIZING))
		return expected;
	at_guard_enter();
	at_pid = getpid();
	at_real_resolve();
	at_config_load(&at_cfg, env_lookup, NULL, warn_line, NULL);
	at_clock_sync();
	if (at_cfg.sdk_disabled) {
		st = AT_STATE_DISABLED;
	} else {
		read_env_parent();
		at_lifecycle_run(AT_STEP_INIT);
		pthread_atfork(NULL, NULL, after_fork_child);
		st = AT_STATE_READY;
	}
	atomic_store_explicit(&at_state, st, memory_order_release);
	at_guard_leave();
	return st;
}

void at_lifecycle_run(enum at_lifecycle_step step)
{
	for (const struct at_lifecycle *l = at_lifecycle_table; l->name; l++) {
		void (*fn)(void) = step == AT_STEP_INIT ? l->init
				   : step == AT_STEP_FORK_CHILD
					   ? l->after_fork_child
					   : l->at_exit;

		if (fn)
			fn();
	}
}

__attribute__((constructor)) static void at_constructor(void)
{
	at_init_slow();
}

__attribute__((destructor)) static void at_destructor(void)
{
	if (atomic_load(&at_state) != AT_STATE_READY)
		return;
	at_guard_enter();
	at_lifecycle_run(AT_STEP_EXIT);
	at_guard_leave();
}
