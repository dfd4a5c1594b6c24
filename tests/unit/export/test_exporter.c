/* Unit tests of the exporter (batching, retry, partial success, drops)
 * driven on the test's thread against the embedded receiver; plus
 * producers racing the exporter (also run under ThreadSanitizer). */
#include <criterion/criterion.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_receiver.h"
#include "at_span.h"
#include "at_thread.h"
#include "unit.h"

static struct at_receiver *rx;

static void setup(void)
{
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };
	char url[64];

	ut_core_setup();
	rx = at_receiver_start(&o);
	cr_assert_not_null(rx);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/traces",
		 at_receiver_port(rx));
	cr_assert_eq(at_endpoint_parse(url, &at_cfg.endpoint), 0);
	memset(&at_xstats, 0, sizeof(at_xstats));
}

static void teardown(void)
{
	at_receiver_stop(rx);
}

TestSuite(exporter, .init = setup, .fini = teardown);

static void make_spans(int n, uint8_t ids[][8])
{
	for (int i = 0; i < n; i++) {
		struct at_span s;
		at_span_start(&s, "op", 2, AT_KIND_INTERNAL);
		at_span_set_int(&s, "i", i);
		if (ids)
			memcpy(ids[i], s.h.ctx.span_id, 8);
		at_span_end(&s);
	}
}

Test(exporter, spans_arrive_with_their_ids)
{
	uint8_t ids[10][8];
	struct at_rx_span got[16];

	make_spans(10, ids);
	cr_assert_eq(at_exporter_run_once(), 10);
	cr_assert_eq(at_receiver_spans(rx, got, 16), 10);
	for (int i = 0; i < 10; i++) {
		cr_assert_eq(got[i].span->span_id.len, 8);
		cr_assert_eq(memcmp(got[i].span->span_id.data, ids[i], 8), 0,
			     "span %d", i);
		int64_t v = -1;
		at_rx_attr_int(got[i].span->attributes,
				 got[i].span->n_attributes, "i", &v);
		cr_assert_eq(v, i);
	}
	cr_assert_eq(at_receiver_request_count(rx), 1, "one batch");
}

Test(exporter, batches_respect_max_export_batch_size)
{
	at_cfg.bsp_max_export_batch = 4;
	make_spans(10, NULL);
	cr_assert_eq(at_exporter_run_once(), 10);
	cr_assert_eq(at_receiver_request_count(rx), 3, "4 + 4 + 2");
}

Test(exporter, gzip_bodies)
{
	struct at_rx_span got[4];

	at_cfg.compression = AT_COMPRESSION_GZIP;
	make_spans(3, NULL);
	cr_assert_eq(at_exporter_run_once(), 3);
	cr_assert_eq(at_receiver_spans(rx, got, 4), 3);
	cr_assert_str_eq(got[0].content_encoding, "gzip");
}

Test(exporter, retryable_status_is_retried_and_delivered_once)
{
	at_receiver_script(rx, 1, 503, "0", 0, NULL);
	at_receiver_script(rx, 1, 429, "0", 0, NULL);
	make_spans(5, NULL);
	cr_assert_eq(at_exporter_run_once(), 5);
	cr_assert_eq(at_receiver_request_count(rx), 3);
	cr_assert_eq(at_receiver_span_count(rx), 5);
	cr_assert_eq(atomic_load(&at_xstats.retries), 2);
	cr_assert_eq(atomic_load(&at_xstats.dropped_failed), 0);
}

Test(exporter, final_status_is_not_retried)
{
	at_receiver_script(rx, 1, 400, NULL, 0, NULL);
	make_spans(5, NULL);
	cr_assert_eq(at_exporter_run_once(), 0);
	cr_assert_eq(at_receiver_request_count(rx), 1);
	cr_assert_eq(atomic_load(&at_xstats.dropped_failed), 5);
	/* The next batch goes through. */
	make_spans(2, NULL);
	cr_assert_eq(at_exporter_run_once(), 2);
}

Test(exporter, partial_success_counts_rejected)
{
	at_receiver_script(rx, 1, 200, NULL, 2, "two were bad");
	make_spans(5, NULL);
	cr_assert_eq(at_exporter_run_once(), 3);
	cr_assert_eq(atomic_load(&at_xstats.rejected), 2);
}

Test(exporter, retries_stop_within_the_export_timeout)
{
	at_cfg.bsp_export_timeout_ms = 1500;
	at_receiver_script(rx, 100, 503, NULL, 0, NULL); /* backoff >= 500 ms */
	make_spans(2, NULL);
	cr_assert_eq(at_exporter_run_once(), 0);
	cr_assert_eq(atomic_load(&at_xstats.dropped_failed), 2);
	cr_assert_leq(at_receiver_request_count(rx), 4,
		      "bounded by the budget, not by the script");
}

Test(exporter, full_ring_drops_and_counts)
{
	struct at_thread *t;

	at_cfg.bsp_max_queue_size = 8; /* before the thread state exists */
	make_spans(20, NULL);
	t = at_thread_get();
	cr_assert_eq(atomic_load(&t->stats.dropped_full), 12);
	cr_assert_eq(at_exporter_run_once(), 8);
}

static void *one_span_thread(void *arg)
{
	(void)arg;
	make_spans(1, NULL);
	return NULL;
}

static void run_threads(int n)
{
	for (int i = 0; i < n; i++) {
		pthread_t th;
		cr_assert_eq(pthread_create(&th, NULL, one_span_thread, NULL), 0);
		pthread_join(th, NULL);
	}
}

/*
 * Threads that make a span and exit, as a thread-per-connection server's
 * do, while nothing is exported (a stalled collector): their states stay,
 * holding the spans, but no more than AT_THREAD_MAX_STATES of them; the
 * threads beyond are not traced (counted).  An export frees the states,
 * and new threads are traced again.
 */
Test(exporter, thread_states_are_bounded_and_freed_by_export, .timeout = 120)
{
	run_threads(AT_THREAD_MAX_STATES + 50);
	cr_assert_eq(atomic_load(&at_thread_refused), 50);
	cr_assert_eq(at_exporter_run_once(), AT_THREAD_MAX_STATES);
	run_threads(10);
	cr_assert_eq(atomic_load(&at_thread_refused), 50, "states were freed");
	cr_assert_eq(at_exporter_run_once(), 10);
	cr_assert_eq(at_receiver_span_count(rx), AT_THREAD_MAX_STATES + 10);
}

#define PRODUCERS 4
#define PER_PRODUCER 3000

static _Atomic int producers_done;

static void *producer(void *arg)
{
	(void)arg;
	make_spans(PER_PRODUCER, NULL);
	atomic_fetch_add(&producers_done, 1);
	return NULL;
}

Test(concurrency, producers_race_the_exporter, .init = setup,
     .fini = teardown, .timeout = 120)
{
	pthread_t th[PRODUCERS];
	uint64_t exported = 0, dropped = 0, s[4];

	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, NULL);
	while (atomic_load(&producers_done) < PRODUCERS)
		exported += at_exporter_run_once();
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	exported += at_exporter_run_once();
	at_exporter_thread_stats(s);
	dropped = s[2];
	cr_assert_eq(s[0], (uint64_t)PRODUCERS * PER_PRODUCER, "started");
	cr_assert_eq(exported + dropped, (uint64_t)PRODUCERS * PER_PRODUCER,
		     "every span exported or counted as dropped (%lu + %lu)",
		     (unsigned long)exported, (unsigned long)dropped);
	cr_assert_eq(at_receiver_span_count(rx), exported);
}

static void setup_background(void)
{
	struct at_receiver_opts o = { .bind_addr = "127.0.0.1" };
	char url[64];

	at_config_defaults(&at_cfg);
	at_cfg.bsp_schedule_delay_ms = 20;
	atomic_store(&at_state, AT_STATE_READY);
	at_exporter_init(); /* the spans' consumer: the first span starts it */
	rx = at_receiver_start(&o);
	cr_assert_not_null(rx);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/traces",
		 at_receiver_port(rx));
	cr_assert_eq(at_endpoint_parse(url, &at_cfg.endpoint), 0);
}

/* The real background thread, woken by half-full rings and its timer,
 * while producers run; then a flush like the one at exit. */
Test(concurrency, background_exporter_thread, .init = setup_background,
     .fini = teardown, .timeout = 120)
{
	pthread_t th[PRODUCERS];
	uint64_t s[4];

	for (int i = 0; i < PRODUCERS; i++)
		pthread_create(&th[i], NULL, producer, NULL);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(th[i], NULL);
	make_spans(10, NULL); /* and some from this thread */
	cr_assert_eq(at_exporter_flush(60000), 0, "flush completed");
	at_exporter_thread_stats(s);
	uint64_t exported = atomic_load(&at_xstats.exported);
	cr_assert_eq(s[0], (uint64_t)PRODUCERS * PER_PRODUCER + 10);
	cr_assert_eq(exported + s[2], s[0], "exported %lu, dropped %lu",
		     (unsigned long)exported, (unsigned long)s[2]);
	cr_assert_eq(at_receiver_span_count(rx), exported);
	cr_assert_gt(exported, 0);
}

/*
 * The flush before an exec (the exit flush's rules): the exporter is
 * backing off after a failed export (a reset); the flush cuts the backoff
 * short, tries once more, and - the collector resetting again - drops
 * the batch and counts it, at once.  The exec may fail: the exporter
 * then goes on as before, and the collector, answering again, gets the
 * next spans.
 */
Test(concurrency, exec_flush_cuts_the_backoff_short, .init = setup_background,
     .fini = teardown, .timeout = 60)
{
	uint64_t t0, took;

	at_receiver_script(rx, 2, -4, NULL, 0, NULL);
	make_spans(5, NULL);
	cr_assert_eq(at_receiver_wait_requests(rx, 1, 10000), 0);
	t0 = at_mono_ns();
	while (atomic_load(&at_xstats.failures) == 0 &&
	       at_mono_ns() - t0 < 10000000000ull)
		sched_yield();
	/* The first attempt was reset: a backoff of 500 ms or more now. */
	t0 = at_mono_ns();
	at_exporter_before_exec();
	took = (at_mono_ns() - t0) / 1000000u;
	cr_assert_lt(took, 450, "the backoff was cut short: %llu ms",
		     (unsigned long long)took);
	/* One more attempt (none if the flush came between the failure and
	 * the backoff: no attempt is retried at exit). */
	cr_assert_leq(at_receiver_request_count(rx), 2);
	cr_assert_eq(atomic_load(&at_xstats.dropped_failed), 5);
	cr_assert_eq(atomic_load(&at_xstats.exported), 0);

	make_spans(3, NULL);
	cr_assert_eq(at_exporter_flush(10000), 0);
	cr_assert_eq(atomic_load(&at_xstats.exported), 3, "back to normal");
	cr_assert_eq(at_receiver_span_count(rx), 3);
}
