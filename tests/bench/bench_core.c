/*
 * bench_core - micro-benchmarks of the core pipeline, in one process:
 *   - a sampled span (start + 6 attributes + end + enqueue) on 1, 2, 4 and
 *     8 threads at once: per span and per thread, wall-clock time and the
 *     thread's own CPU time (CLOCK_THREAD_CPUTIME_ID).  With more threads
 *     than cores the wall figure also counts the time a thread waited for
 *     a core in the middle of a timed batch; the CPU figure does not, and
 *     stays flat unless the threads share a cache line on the hot path;
 *     on 1 thread, the median batch's CPU time too ("sampled span, 1
 *     thread, CPU", the figure judged; the mean is "..., CPU, mean");
 *   - an unsampled span (start + end), the median batch's CPU time;
 *   - traceparent format and parse; the HTTP head scan a hook does per
 *     request and per response (start check, end of head, parse);
 *   - exporter throughput: records encoded and POSTed to a loopback sink
 *     (a server thread that discards bodies), on the calling thread;
 *   - bytes per span on the wire, with and without gzip.
 * Each figure is also given as a ratio to a bare operation measured in the
 * same run: write(2) of one byte to /dev/null, the cheapest real system
 * call a hook wraps.  Prints "name value unit ratio" lines; --json FILE
 * writes them as JSON members, one per line ("name": {"value", "unit"}).
 *
 * --spans N makes N sampled spans, then N unsampled ones, on one thread,
 * in two functions of their own (spans_sampled, spans_unsampled), and
 * nothing else: for an instruction count that the machine's load does not
 * change,
 *   valgrind --tool=callgrind --toggle-collect=spans_sampled bench_core --spans 100000
 * gives the instructions per sampled span as Ir / N (likewise
 * spans_unsampled).  The ring is drained every BATCH spans, outside them.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "at_clock.h"
#include "at_config.h"
#include "at_exporter.h"
#include "at_http.h"
#include "at_init.h"
#include "at_thread.h"
#include "at_traceparent.h"
#include "bench_common.h"

static FILE *json;

static double now_s(void)
{
	return bench_clock_s(CLOCK_MONOTONIC);
}

static void report(const char *name, double value, const char *unit,
		   double bare)
{
	if (bare > 0)
		printf("%-34s %12.1f %-8s (%.2fx a write(2) to /dev/null)\n",
		       name, value, unit, value / bare);
	else
		printf("%-34s %12.1f %s\n", name, value, unit);
	if (json) {
		fprintf(json, "\"%s\": {\"value\": %.3f, \"unit\": \"%s\"}\n",
			name, value, unit);
	}
}

static void drain_own_ring(void)
{
	struct at_thread *t = at_thread_get();
	while (at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
}

/* Spans per timed batch; the ring is drained between batches.  Past half
 * the ring's soft size (16 KiB, about 55 records of the bench's span) a
 * span also checks the consumer's counters and calls its wake-up (a flag
 * test with the manual exporter), as it does in a process whose exporter
 * has not drained its ring yet. */
#define BATCH 500

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * ns per span (wall), timing batches of BATCH and draining in between;
 * the thread's CPU time per span of the same batches in *cpu_ns if not
 * NULL, and the median batch's CPU time per span in *median_cpu_ns if not
 * NULL.  The median batch is the figure judged (scripts/bench/budgets.sh):
 * on a shared VM a batch now and then runs while another tenant slows the
 * core, or takes an interrupt, and those move the mean by 5-40 % from one
 * run to the next, not the median.
 */
static double span_loop_batches(long n, double *cpu_ns, double *median_cpu_ns)
{
	double t = 0, cpu = 0, *batch = NULL;
	long batches = 0;

	if (median_cpu_ns)
		batch = calloc((size_t)(n / BATCH + 1), sizeof(double));
	for (long done = 0; done < n; done += BATCH) {
		double c0 = bench_clock_s(CLOCK_THREAD_CPUTIME_ID), t0 = now_s();
		for (int i = 0; i < BATCH; i++)
			bench_connect_span();
		t += now_s() - t0;
		double c = bench_clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
		cpu += c;
		if (batch)
			batch[batches++] = c / BATCH * 1e9;
		drain_own_ring();
	}
	if (cpu_ns)
		*cpu_ns = cpu / (double)n * 1e9;
	if (batch) {
		qsort(batch, (size_t)batches, sizeof(double), cmp_double);
		*median_cpu_ns = batch[batches / 2];
		free(batch);
	}
	return t / (double)n * 1e9;
}

static double span_loop(long n, double *cpu_ns)
{
	return span_loop_batches(n, cpu_ns, NULL);
}

/* ---- thread scaling ---- */

#define MAX_THREADS 8
#define SPANS_PER_THREAD 1000000L

static pthread_barrier_t start_line;
static double thread_wall_ns[MAX_THREADS], thread_cpu_ns[MAX_THREADS];
static double one_thread_median_cpu_ns; /* scaling(1): the median batch */

static void *scaling_thread(void *arg)
{
	long idx = (long)arg;

	span_loop(20000, NULL); /* this thread's ring and ids, warm */
	pthread_barrier_wait(&start_line);
	thread_wall_ns[idx] = span_loop_batches(SPANS_PER_THREAD,
		&thread_cpu_ns[idx], idx == 0 ? &one_thread_median_cpu_ns : NULL);
	return NULL;
}

/* n threads making spans at once: mean per-thread ns per span (wall and
 * CPU), and spans/s made by all of them together. */
static void scaling(int n, double bare)
{
	pthread_t th[MAX_THREADS];
	double wall = 0, cpu = 0, t0, elapsed;
	char name[64];

	pthread_barrier_init(&start_line, NULL, (unsigned)n + 1);
	for (long i = 0; i < n; i++)
		pthread_create(&th[i], NULL, scaling_thread, (void *)i);
	pthread_barrier_wait(&start_line);
	t0 = now_s();
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	elapsed = now_s() - t0;
	pthread_barrier_destroy(&start_line);
	for (int i = 0; i < n; i++) {
		wall += thread_wall_ns[i] / n;
		cpu += thread_cpu_ns[i] / n;
	}
	snprintf(name, sizeof(name), "sampled span, %d thread%s, wall", n,
		 n > 1 ? "s" : "");
	report(name, wall, "ns/span", bare);
	snprintf(name, sizeof(name), "sampled span, %d thread%s, CPU%s", n,
		 n > 1 ? "s" : "", n > 1 ? "" : ", mean");
	report(name, cpu, "ns/span", bare);
	if (n == 1)
		report("sampled span, 1 thread, CPU", one_thread_median_cpu_ns,
		       "ns/span", bare);
	snprintf(name, sizeof(name), "sampled spans per second, %d thread%s",
		 n, n > 1 ? "s" : "");
	report(name, (double)n * SPANS_PER_THREAD / elapsed, "spans/s", 0);
}

/* ---- propagation and parsing ---- */

/*
 * One operation each, returning something that depends on its result (so
 * that the compiler keeps it); timed by ns_per_call(), whose indirect call
 * adds about a nanosecond.
 */
static uint8_t format_seq;

static size_t format_once(void)
{
	struct at_span_context ctx = { .flags = AT_FLAG_SAMPLED };
	char out[AT_TRACEPARENT_LEN + 1];

	memset(ctx.trace_id, 0x4b, sizeof(ctx.trace_id));
	memset(ctx.span_id, 0x7c, sizeof(ctx.span_id));
	ctx.span_id[0] = format_seq++;
	return at_traceparent_format(&ctx, out) + (size_t)out[9];
}

static size_t parse_once(void)
{
	static const char tp[] =
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
	struct at_span_context ctx;

	if (at_traceparent_parse(tp, sizeof(tp) - 1, &ctx) != 0)
		abort();
	return ctx.span_id[3];
}

/* What a client library typically writes, and what a server answers. */
static const char request_head[] =
	"GET /api/orders/42?expand=items HTTP/1.1\r\n"
	"Host: orders.internal:8080\r\n"
	"User-Agent: bench-client/1.0\r\n"
	"Accept: application/json\r\n"
	"Accept-Encoding: gzip, deflate\r\n"
	"Connection: keep-alive\r\n"
	"traceparent: 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01\r\n"
	"\r\n";
static const char response_head[] =
	"HTTP/1.1 200 OK\r\n"
	"Date: Mon, 02 Nov 2026 10:00:00 GMT\r\n"
	"Content-Type: application/json\r\n"
	"Content-Length: 1234\r\n"
	"Connection: keep-alive\r\n"
	"\r\n";

/* What a hook does once per head: start check, end of head, parse. */
static size_t request_scan_once(void)
{
	struct at_http_request r;
	size_t len = sizeof(request_head) - 1, end;

	if (at_http_request_start(request_head, len) != 1)
		abort();
	end = at_http_head_end(request_head, len, 0);
	if (at_http_parse_request(request_head, end, &r) != 0)
		abort();
	return r.head_len;
}

static size_t response_scan_once(void)
{
	struct at_http_response r;
	size_t len = sizeof(response_head) - 1, end;

	if (at_http_response_start(response_head, len) != 1)
		abort();
	end = at_http_head_end(response_head, len, 0);
	if (at_http_parse_response(response_head, end, &r) != 0)
		abort();
	return r.head_len;
}

static volatile size_t keep;

static double ns_per_call(size_t (*fn)(void), long n)
{
	double t0 = now_s();

	for (long i = 0; i < n; i++)
		keep += fn();
	return (now_s() - t0) / (double)n * 1e9;
}

static double bare_write_ns(long n)
{
	int fd = open("/dev/null", O_WRONLY);
	double t0 = now_s();
	for (long i = 0; i < n; i++)
		if (write(fd, "x", 1) != 1)
			abort();
	double t = now_s() - t0;
	close(fd);
	return t / (double)n * 1e9;
}

/* ---- a sink collector ---- */

static int sink_fd;
static uint16_t sink_port;
static _Atomic uint64_t sink_bytes;

static void *sink_conn(void *arg)
{
	int fd = (int)(long)arg;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	char *buf = malloc(1 << 20);
	size_t len = 0;

	for (;;) {
		ssize_t r = read(fd, buf + len, (1 << 20) - len);
		if (r <= 0)
			break;
		len += (size_t)r;
		for (;;) {
			char *end = memmem(buf, len, "\r\n\r\n", 4);
			if (!end)
				break;
			char *cl = memmem(buf, (size_t)(end - buf),
					  "Content-Length: ", 16);
			size_t body = cl ? strtoul(cl + 16, NULL, 10) : 0;
			size_t total = (size_t)(end + 4 - buf) + body;
			if (len < total)
				break;
			sink_bytes += body;
			if (write(fd, ok, sizeof(ok) - 1) < 0)
				goto out;
			memmove(buf, buf + total, len - total);
			len -= total;
		}
	}
out:
	free(buf);
	close(fd);
	return NULL;
}

static void *sink_main(void *arg)
{
	(void)arg;
	for (;;) {
		int fd = accept(sink_fd, NULL, NULL);
		pthread_t th;
		if (fd < 0)
			return NULL;
		pthread_create(&th, NULL, sink_conn, (void *)(long)fd);
		pthread_detach(th);
	}
}

static void sink_start(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	pthread_t th;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sink_fd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(sink_fd, (void *)&sa, sizeof(sa)) || listen(sink_fd, 8))
		abort();
	getsockname(sink_fd, (void *)&sa, &l);
	sink_port = ntohs(sa.sin_port);
	pthread_create(&th, NULL, sink_main, NULL);
}

/* spans/s exported; *bytes_per_span from what the sink received. */
static double exporter_rate(int rounds, int per_round, double *bytes_per_span)
{
	double t = 0;
	uint64_t before = sink_bytes, spans = 0;

	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < per_round; i++)
			bench_connect_span();
		double t0 = now_s();
		spans += at_exporter_run_once();
		t += now_s() - t0;
	}
	*bytes_per_span = (double)(sink_bytes - before) / (double)spans;
	return (double)spans / t;
}

/* --spans N: the two loops alone, each in a function of its own. */
static __attribute__((noipa)) void spans_sampled(int n)
{
	for (int i = 0; i < n; i++)
		bench_connect_span();
}

static __attribute__((noipa)) void spans_unsampled(int n)
{
	for (int i = 0; i < n; i++)
		bench_connect_span();
}

static void spans_only(long n)
{
	double t0, t_sampled = 0, t_unsampled = 0;

	span_loop(1000, NULL); /* the thread's state and ring, mapped */
	for (long done = 0; done < n; done += BATCH) {
		t0 = now_s();
		spans_sampled(BATCH);
		t_sampled += now_s() - t0;
		drain_own_ring();
	}
	at_sampler_init(&at_cfg.sampler, AT_SAMPLER_ALWAYS_OFF, 0);
	for (long done = 0; done < n; done += BATCH) {
		t0 = now_s();
		spans_unsampled(BATCH);
		t_unsampled += now_s() - t0;
	}
	report("sampled span, 1 thread, wall", t_sampled / (double)n * 1e9,
	       "ns/span", 0);
	report("unsampled span", t_unsampled / (double)n * 1e9, "ns/span", 0);
}

int main(int argc, char **argv)
{
	char url[64];
	double bare, nsu, rate, rate_gz, bps, bps_gz;
	char name[64];

	if (argc == 3 && strcmp(argv[1], "--json") == 0)
		json = fopen(argv[2], "w");
	at_config_defaults(&at_cfg);
	at_exporter_manual();
	atomic_store(&at_state, AT_STATE_READY);
	if (argc == 3 && strcmp(argv[1], "--spans") == 0) {
		long n = strtol(argv[2], NULL, 10);

		spans_only(n > BATCH ? n - n % BATCH : BATCH);
		return 0;
	}

	bare = bare_write_ns(2000000);
	report("bare write(2) to /dev/null", bare, "ns", 0);

	span_loop(200000, NULL); /* warm up */
	for (int n = 1; n <= MAX_THREADS; n *= 2)
		scaling(n, bare);

	at_sampler_init(&at_cfg.sampler, AT_SAMPLER_ALWAYS_OFF, 0);
	span_loop_batches(2000000, NULL, &nsu);
	report("unsampled span", nsu, "ns/span", bare);
	at_sampler_init(&at_cfg.sampler, AT_SAMPLER_PARENTBASED_ALWAYS_ON, 1);

	report("traceparent format", ns_per_call(format_once, 5000000), "ns", 0);
	report("traceparent parse", ns_per_call(parse_once, 5000000), "ns", 0);
	snprintf(name, sizeof(name), "HTTP request head scan, %zu bytes",
		 sizeof(request_head) - 1);
	report(name, ns_per_call(request_scan_once, 2000000), "ns", 0);
	snprintf(name, sizeof(name), "HTTP response head scan, %zu bytes",
		 sizeof(response_head) - 1);
	report(name, ns_per_call(response_scan_once, 2000000), "ns", 0);

	sink_start();
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/traces", sink_port);
	at_endpoint_parse(url, &at_cfg.endpoint);
	exporter_rate(5, 512, &bps); /* connect, warm up */
	rate = exporter_rate(400, 512, &bps);
	report("exporter throughput", rate, "spans/s", 0);
	report("bytes per span on the wire", bps, "bytes", 0);
	at_cfg.compression = AT_COMPRESSION_GZIP;
	rate_gz = exporter_rate(200, 512, &bps_gz);
	report("exporter throughput, gzip", rate_gz, "spans/s", 0);
	report("bytes per span on the wire, gzip", bps_gz, "bytes", 0);

	if (json)
		fclose(json);
	return 0;
}
