/*
 * bench_instr - one piece of the core's work N times, for counting its
 * instructions under valgrind --tool=callgrind (scripts/bench/instr.sh,
 * `make bench-instr`): the script runs each section with N and with 2N
 * and divides the difference of the two totals by N, so start-up, warm-up
 * and exit cancel out and what is left is the cost of one operation,
 * whatever the machine's load.
 *
 *   bench_instr SECTION N [SINK_PORT]
 *
 * Sections:
 *   sampled     a sampled span: start, 6 attributes, end, enqueue (the
 *               connect span of bench_common.h), its ring drained every
 *               512 spans as bench_core does
 *   unsampled   the same span, not sampled (start + end)
 *   export      a sampled span made and then exported: records encoded
 *               and POSTed in batches of 512 with at_exporter_run_once()
 *               to a sink at 127.0.0.1:SINK_PORT (another process, so its
 *               instructions are not counted); the script subtracts
 *               "sampled" to get the exporter's share per span
 *   format      traceparent formatted
 *   parse       traceparent parsed
 * N is rounded up to a multiple of 512.  Prints "SECTION N done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_config.h"
#include "at_exporter.h"
#include "at_init.h"
#include "at_thread.h"
#include "at_traceparent.h"
#include "bench_common.h"

static void drain_own_ring(void)
{
	struct at_thread *t = at_thread_get();
	while (at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
}

static void spans(long n)
{
	for (long done = 0; done < n; done += 512) {
		for (int i = 0; i < 512; i++)
			bench_connect_span();
		drain_own_ring();
	}
}

static void export_spans(long n)
{
	for (long done = 0; done < n; done += 512) {
		for (int i = 0; i < 512; i++)
			bench_connect_span();
		while (at_exporter_run_once())
			;
	}
}

static volatile size_t keep;

static void format_n(long n)
{
	struct at_span_context ctx = { .flags = AT_FLAG_SAMPLED };
	char out[AT_TRACEPARENT_LEN + 1];

	memset(ctx.trace_id, 0x4b, sizeof(ctx.trace_id));
	memset(ctx.span_id, 0x7c, sizeof(ctx.span_id));
	for (long i = 0; i < n; i++) {
		ctx.span_id[0] = (uint8_t)i;
		keep += at_traceparent_format(&ctx, out) + (size_t)out[9];
	}
}

static void parse_n(long n)
{
	static const char tp[] =
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	struct at_span_context ctx;

	for (long i = 0; i < n; i++) {
		if (at_traceparent_parse(tp, sizeof(tp) - 1, &ctx) != 0)
			abort();
		keep += ctx.span_id[3];
	}
}

int main(int argc, char **argv)
{
	char url[64];
	long n;

	if (argc < 3 || (n = atol(argv[2])) <= 0) {
		fprintf(stderr, "usage: bench_instr SECTION N [SINK_PORT]\n");
		return 2;
	}
	n = (n + 511) / 512 * 512;
	at_config_defaults(&at_cfg);
	at_exporter_manual();
	atomic_store(&at_state, AT_STATE_READY);
	spans(512); /* this thread's ring and ids, made before counting */

	if (strcmp(argv[1], "sampled") == 0) {
		spans(n);
	} else if (strcmp(argv[1], "unsampled") == 0) {
		at_sampler_init(&at_cfg.sampler, AT_SAMPLER_ALWAYS_OFF, 0);
		spans(n);
	} else if (strcmp(argv[1], "export") == 0 && argc == 4) {
		snprintf(url, sizeof(url), "http://127.0.0.1:%s/v1/traces", argv[3]);
		at_endpoint_parse(url, &at_cfg.endpoint);
		export_spans(512); /* connected before counting */
		export_spans(n);
	} else if (strcmp(argv[1], "format") == 0) {
		format_n(n);
	} else if (strcmp(argv[1], "parse") == 0) {
		parse_n(n);
	} else {
		fprintf(stderr, "bench_instr: unknown section %s\n", argv[1]);
		return 2;
	}
	printf("%s %ld done\n", argv[1], n);
	return 0;
}
