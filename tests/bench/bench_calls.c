/*
 * bench_calls - calls a hook sees and makes no span for, N times each,
 * with nothing of the library linked in: scripts/bench/instr.sh runs it
 * under valgrind --tool=callgrind bare and with the library preloaded,
 * with N and with 2N, so that (preloaded - bare) / N is what a hook adds
 * to one call, in instructions (bench_hooks measures the same in time).
 *
 *   bench_calls KIND N
 *
 * KIND: close (close(-1)); getsockopt (SO_TYPE on a TCP socket); file
 * (write + read of one byte on a regular file, each followed by an lseek
 * back to 0); pipe (write + read of one byte); tcp (write + read of 64
 * bytes on a loopback TCP connection that carries no HTTP: the traced slow
 * path).  The script divides by the hooked calls per round (2 for file,
 * pipe and tcp; lseek is not hooked).  Prints "KIND N done".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char buf[64];

static void tcp_pair(int *a, int *b)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t l = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(lfd, (void *)&sa, sizeof(sa)) || listen(lfd, 1) ||
	    getsockname(lfd, (void *)&sa, &l))
		abort();
	*a = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(*a, (void *)&sa, sizeof(sa)))
		abort();
	*b = accept(lfd, NULL, NULL);
	close(lfd);
	if (write(*a, "\x16\x03\x01 not http", 13) != 13 || read(*b, buf, 13) != 13)
		abort();
}

int main(int argc, char **argv)
{
	long n = argc == 3 ? atol(argv[2]) : 0;
	const char *k = argc == 3 ? argv[1] : "";
	int a, b, p[2], type;
	socklen_t len;
	char path[] = "/tmp/at-bench-calls-XXXXXX";

	if (n <= 0) {
		fprintf(stderr, "usage: bench_calls KIND N\n");
		return 2;
	}
	if (strcmp(k, "close") == 0) {
		for (long i = 0; i < n; i++)
			close(-1);
	} else if (strcmp(k, "getsockopt") == 0) {
		a = socket(AF_INET, SOCK_STREAM, 0);
		for (long i = 0; i < n; i++) {
			len = sizeof(type);
			getsockopt(a, SOL_SOCKET, SO_TYPE, &type, &len);
		}
	} else if (strcmp(k, "file") == 0) {
		a = mkstemp(path);
		unlink(path);
		for (long i = 0; i < n; i++)
			if (write(a, "x", 1) != 1 || lseek(a, 0, SEEK_SET) != 0 ||
			    read(a, buf, 1) != 1 || lseek(a, 0, SEEK_SET) != 0)
				abort();
	} else if (strcmp(k, "pipe") == 0) {
		if (pipe(p))
			abort();
		for (long i = 0; i < n; i++)
			if (write(p[1], "x", 1) != 1 || read(p[0], buf, 1) != 1)
				abort();
	} else if (strcmp(k, "tcp") == 0) {
		tcp_pair(&a, &b);
		for (long i = 0; i < n; i++)
			if (write(a, buf, 64) != 64 || read(b, buf, 64) != 64)
				abort();
	} else {
		fprintf(stderr, "bench_calls: unknown kind %s\n", k);
		return 2;
	}
	printf("%s %ld done\n", k, n);
	return 0;
}
