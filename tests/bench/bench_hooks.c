/*
 * bench_hooks - the cost a hook adds to a call that makes no span,
 * measured in one process: this program links the hooks themselves, so
 * its calls go through them, while AT_REAL(...) are libc's.  Each pair is
 * timed alternately (which one runs first alternates too), many rounds,
 * and the medians compared:
 *   close(-1); getsockopt(SO_TYPE) on a TCP socket; write and read of one
 *   byte on a regular file, and on a pipe; write+read of 64 bytes on a
 *   loopback TCP connection that carries no HTTP (the traced slow path).
 * --json FILE writes the added ns per hooked call as JSON members, one per
 * line ("hook added, NAME": {"value", "unit"}).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "at_real.h"

#define ROUNDS 15
#define N 50000

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(double), cmp);
	return v[ROUNDS / 2];
}

static int tcp_a, tcp_b, file_fd, pipe_r, pipe_w, sock;
static char buf[64];

/* One operation, through the hook (hooked) or straight to libc. */
static void op_close(int h) { if (h) close(-1); else AT_REAL(close)(-1); }
static void op_gso(int h)
{
	int type;
	socklen_t len = sizeof(type);
	if (h)
		getsockopt(sock, SOL_SOCKET, SO_TYPE, &type, &len);
	else
		AT_REAL(getsockopt)(sock, SOL_SOCKET, SO_TYPE, &type, &len);
}
static void op_file(int h)
{
	if (h) {
		if (pwrite(file_fd, "x", 1, 0) != 1 || write(file_fd, "x", 1) != 1 ||
		    lseek(file_fd, 0, SEEK_SET) != 0 || read(file_fd, buf, 1) != 1)
			abort();
	} else {
		if (pwrite(file_fd, "x", 1, 0) != 1 ||
		    AT_REAL(write)(file_fd, "x", 1) != 1 ||
		    lseek(file_fd, 0, SEEK_SET) != 0 ||
		    AT_REAL(read)(file_fd, buf, 1) != 1)
			abort();
	}
}
static void op_pipe(int h)
{
	if (h) {
		if (write(pipe_w, "x", 1) != 1 || read(pipe_r, buf, 1) != 1)
			abort();
	} else if (AT_REAL(write)(pipe_w, "x", 1) != 1 ||
		   AT_REAL(read)(pipe_r, buf, 1) != 1) {
		abort();
	}
}
static void op_tcp(int h)
{
	if (h) {
		if (write(tcp_a, buf, 64) != 64 || read(tcp_b, buf, 64) != 64)
			abort();
	} else if (AT_REAL(write)(tcp_a, buf, 64) != 64 ||
		   AT_REAL(read)(tcp_b, buf, 64) != 64) {
		abort();
	}
}

struct bench {
	const char *name;
	void (*op)(int);
	int calls; /* hooked calls per op */
};

static void setup(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int lfd, p[2];
	char path[] = "/tmp/at-bench-XXXXXX";

	sock = socket(AF_INET, SOCK_STREAM, 0);
	file_fd = mkstemp(path);
	unlink(path);
	if (pipe(p))
		abort();
	pipe_r = p[0];
	pipe_w = p[1];
	/* A TCP connection made through the hooks: traced, not HTTP. */
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (void *)&sa, &l))
		abort();
	tcp_a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(tcp_a, (void *)&sa, sizeof(sa)))
		abort();
	tcp_b = accept(lfd, NULL, NULL);
	if (write(tcp_a, "\x16\x03\x01 not http", 13) != 13 ||
	    read(tcp_b, buf, 13) != 13)
		abort();
}

int main(int argc, char **argv)
{
	static const struct bench benches[] = {
		{ "close(-1)", op_close, 1 },
		{ "getsockopt(SO_TYPE)", op_gso, 1 },
		{ "regular file write+read", op_file, 2 },
		{ "pipe write+read", op_pipe, 2 },
		{ "TCP, not HTTP, write+read", op_tcp, 2 },
	};
	FILE *json = argc == 3 ? fopen(argv[2], "w") : NULL; /* --json FILE */

	setup();
	for (size_t b = 0; b < sizeof(benches) / sizeof(benches[0]); b++) {
		double bare[ROUNDS], hooked[ROUNDS];

		for (int r = 0; r < ROUNDS; r++) {
			for (int k = 0; k < 2; k++) {
				int h = (r + k) % 2;
				double t0 = now_ns();
				for (int i = 0; i < N; i++)
					benches[b].op(h);
				(h ? hooked : bare)[r] = (now_ns() - t0) / N;
			}
		}
		double mb = median(bare), mh = median(hooked);
		double added = (mh - mb) / benches[b].calls;
		printf("%-30s %9.1f ns bare, %9.1f ns hooked: %+.2f ns per hooked call (ratio %.3f)\n",
		       benches[b].name, mb, mh, added, mh / mb);
		if (json)
			fprintf(json,
				"\"hook added, %s\": {\"value\": %.2f, \"unit\": \"ns/call\"}\n",
				benches[b].name, added);
	}
	if (json)
		fclose(json);
	return 0;
}
