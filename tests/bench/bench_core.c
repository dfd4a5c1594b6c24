/*
 * bench_core - micro-benchmarks of the core pipeline, in one process:
 *   - a sampled span (start + 6 attributes + end + enqueue), 1 and 2
 *     threads;
 *   - an unsampled span (start + end);
 *   - exporter throughput: records encoded and POSTed to a loopback sink
 *     (a server thread that discards bodies), on the calling thread;
 *   - bytes per span on the wire, with and without gzip.
 * Each figure is also given as a ratio to a bare operation measured in the
 * same run: write(2) of one byte to /dev/null, the cheapest real system
 * call a hook wraps.  Prints "name value unit ratio" lines; --json FILE
 * writes them as JSON too.
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
#include "at_init.h"
#include "at_span.h"
#include "at_thread.h"

static FILE *json;
static int json_first = 1;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
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
		fprintf(json, "%s\n  \"%s\": {\"value\": %.3f, \"unit\": \"%s\"}",
			json_first ? "" : ",", name, value, unit);
		json_first = 0;
	}
}

static void drain_own_ring(void)
{
	struct at_thread *t = at_thread_get();
	while (at_ring_peek(&t->ring))
		at_ring_pop(&t->ring);
}

static void one_span(void)
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

/* ns per span, timing batches of 500 and draining in between. */
static double span_loop(long n)
{
	double t = 0;

	for (long done = 0; done < n; done += 500) {
		double t0 = now_s();
		for (int i = 0; i < 500; i++)
			one_span();
		t += now_s() - t0;
		drain_own_ring();
	}
	return t / (double)n * 1e9;
}

static double per_thread_ns[8];

static void *thread_loop(void *arg)
{
	long idx = (long)arg;
	per_thread_ns[idx] = span_loop(1000000);
	return NULL;
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
			one_span();
		double t0 = now_s();
		spans += at_exporter_run_once();
		t += now_s() - t0;
	}
	*bytes_per_span = (double)(sink_bytes - before) / (double)spans;
	return (double)spans / t;
}

int main(int argc, char **argv)
{
	char url[64];
	double bare, ns1, ns2, nsu, rate, rate_gz, bps, bps_gz;
	pthread_t th[2];

	if (argc == 3 && strcmp(argv[1], "--json") == 0) {
		json = fopen(argv[2], "w");
		if (json)
			fputs("{", json);
	}
	at_config_defaults(&at_cfg);
	at_exporter_manual();
	atomic_store(&at_state, AT_STATE_READY);

	bare = bare_write_ns(2000000);
	report("bare write(2) to /dev/null", bare, "ns", 0);

	span_loop(200000); /* warm up */
	ns1 = span_loop(2000000);
	report("sampled span, 1 thread", ns1, "ns/span", bare);

	for (long i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, thread_loop, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	ns2 = (per_thread_ns[0] + per_thread_ns[1]) / 2;
	report("sampled span, 2 threads", ns2, "ns/span", bare);

	at_sampler_init(&at_cfg.sampler, AT_SAMPLER_ALWAYS_OFF, 0);
	nsu = span_loop(2000000);
	report("unsampled span", nsu, "ns/span", bare);
	at_sampler_init(&at_cfg.sampler, AT_SAMPLER_PARENTBASED_ALWAYS_ON, 1);

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

	if (json) {
		fputs("\n}\n", json);
		fclose(json);
	}
	return 0;
}
