/*
 * bench_queue - producers that outrun the exporter: THREADS threads make
 * SPANS sampled spans each, as fast as they can, while the real exporter
 * thread (not the manual mode of bench_core) drains their rings and POSTs
 * to a collector in this process:
 *   sink       the embedded receiver in sink mode (answers 200 at once,
 *              counts the spans it is sent without decoding them);
 *   blackhole  a listening socket nobody accepts from: connections
 *              complete, requests are never answered, so nothing is ever
 *              exported and every ring stays full.
 * The producers must not be slowed by either (a full ring drops and
 * counts); their cost per span is measured as in bench_core, wall-clock
 * and the thread's own CPU time.  OTEL_BSP_MAX_QUEUE_SIZE is the QUEUE
 * argument (set before any thread has a ring).
 *
 *   bench_queue sink|blackhole QUEUE THREADS SPANS
 *
 * Prints one line of name=value pairs:
 *   made, dropped (ring full), exported (after a flush of at most 10 s; sink
 *   only), received (spans the sink counted), queued (records the rings
 *   still hold; with the blackhole, their capacity), in_export (made -
 *   dropped - exported - queued: taken by the exporter and not yet
 *   exported, at most one batch, retried against the blackhole; 0 with the
 *   sink), wall_ns and cpu_ns (producer, per span per thread),
 *   rss_added_kib (VmRSS with every producer's ring in use, minus VmRSS
 *   before the first span, threads already started).
 * Exits with _exit() so that the library's exit flush does not wait on
 * the blackhole.  Exit status 0, 2 on bad usage, 1 if setup failed.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "at_config.h"
#include "at_exporter.h"
#include "at_init.h"
#include "at_receiver.h"
#include "at_thread.h"
#include "bench_common.h"

#define MAX_THREADS 64

static long spans_per_thread;
static pthread_barrier_t before_first, after_last, release;
static double wall_ns[MAX_THREADS], cpu_ns[MAX_THREADS];

static void *producer(void *arg)
{
	long idx = (long)arg;
	double t0, c0;

	pthread_barrier_wait(&before_first);
	c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
	t0 = bench_clock_s(CLOCK_MONOTONIC);
	for (long i = 0; i < spans_per_thread; i++)
		bench_connect_span();
	wall_ns[idx] = (bench_clock_s(CLOCK_MONOTONIC) - t0) * 1e9 /
		       (double)spans_per_thread;
	cpu_ns[idx] = (bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0) * 1e9 /
		      (double)spans_per_thread;
	/* Stay alive (ring mapped) until the main thread measured. */
	pthread_barrier_wait(&after_last);
	pthread_barrier_wait(&release);
	return NULL;
}

static long vm_rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	fclose(f);
	return kib;
}

/* Records held by every thread's ring. */
static uint64_t queued_records(void)
{
	uint64_t n = 0;

	for (struct at_thread *t = at_thread_registry(); t; t = t->next)
		n += atomic_load(&t->ring.pushed) - atomic_load(&t->ring.popped);
	return n;
}

/* A loopback listener that is never accepted from; its port. */
static int blackhole_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (void *)&sa, sizeof(sa)) || listen(fd, 64) ||
	    getsockname(fd, (void *)&sa, &l))
		return -1;
	return ntohs(sa.sin_port);
}

int main(int argc, char **argv)
{
	struct at_receiver_opts opts = { .bind_addr = "127.0.0.1", .sink = 1 };
	struct at_receiver *rx = NULL;
	pthread_t th[MAX_THREADS];
	uint64_t stats[4];
	long queue, threads, rss0, rss1;
	double wall = 0, cpu = 0;
	size_t received = 0;
	int sink, port;
	char url[64];

	if (argc != 5 || (strcmp(argv[1], "sink") && strcmp(argv[1], "blackhole")))
		goto usage;
	sink = strcmp(argv[1], "sink") == 0;
	queue = atol(argv[2]);
	threads = atol(argv[3]);
	spans_per_thread = atol(argv[4]);
	if (queue < 1 || threads < 1 || threads > MAX_THREADS ||
	    spans_per_thread < 1)
		goto usage;

	if (sink) {
		rx = at_receiver_start(&opts);
		port = rx ? at_receiver_port(rx) : -1;
	} else {
		port = blackhole_port();
	}
	if (port < 0 || at_init_slow() != AT_STATE_READY) {
		fprintf(stderr, "bench_queue: setup failed\n");
		return 1;
	}
	/* Before any ring exists and before the exporter starts. */
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/v1/traces", port);
	at_endpoint_parse(url, &at_cfg.endpoint);
	at_cfg.bsp_max_queue_size = (uint32_t)queue;

	pthread_barrier_init(&before_first, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&after_last, NULL, (unsigned)threads + 1);
	pthread_barrier_init(&release, NULL, (unsigned)threads + 1);
	for (long i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, producer, (void *)i);
	rss0 = vm_rss_kib();
	pthread_barrier_wait(&before_first);
	pthread_barrier_wait(&after_last);
	rss1 = vm_rss_kib();
	at_exporter_thread_stats(stats);
	if (sink) {
		at_exporter_flush(10000);
		received = at_receiver_span_count(rx);
	}
	for (long i = 0; i < threads; i++) {
		wall += wall_ns[i] / (double)threads;
		cpu += cpu_ns[i] / (double)threads;
	}
	uint64_t made = (uint64_t)threads * (uint64_t)spans_per_thread;
	uint64_t exported = atomic_load(&at_xstats.exported);
	uint64_t queued = queued_records();
	printf("mode=%s queue=%ld threads=%ld made=%llu dropped=%llu "
	       "exported=%llu received=%zu queued=%llu in_export=%lld "
	       "wall_ns=%.1f cpu_ns=%.1f rss_added_kib=%ld\n",
	       argv[1], queue, threads, (unsigned long long)made,
	       (unsigned long long)stats[2], (unsigned long long)exported,
	       received, (unsigned long long)queued,
	       (long long)(made - stats[2] - exported - queued), wall, cpu,
	       rss1 - rss0);
	fflush(stdout);
	_exit(0);

usage:
	fprintf(stderr, "usage: bench_queue sink|blackhole QUEUE THREADS SPANS\n");
	return 2;
}
