/*
 * bench_common.h - what the in-process benchmarks (bench_core,
 * bench_queue) share: the span they make and the clock they read.
 *
 * The span is a connect span as the connect() hook makes it: start, six
 * attributes, end (which enqueues it when sampled).
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <time.h>

#include "at_span.h"

static inline double bench_clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void bench_connect_span(void)
{
	struct at_span s;

	at_span_start(&s, "connect", 7, AT_KIND_CLIENT);
	if (at_span_recording(&s)) {
		at_span_set_cstr(&s, "network.peer.address", "127.0.0.1");
		at_span_set_int(&s, "network.peer.port", 8080);
		at_span_set_cstr(&s, "server.address", "127.0.0.1");
		at_span_set_int(&s, "server.port", 8080);
		at_span_set_cstr(&s, "network.transport", "tcp");
		at_span_set_cstr(&s, "network.type", "ipv4");
	}
	at_span_end(&s);
}

#endif
