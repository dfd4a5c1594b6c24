/*
 * bench_hooks - the cost a hook adds to a call that makes no span,
 * measured in one process: this program links the hooks themselves, so
 * its calls to close() and getsockopt() go through them, while
 * AT_REAL(close) and AT_REAL(getsockopt) are libc's.  The two are timed
 * alternately, many rounds, and the medians compared.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "at_real.h"

#define ROUNDS 21
#define N 1000000

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

int main(int argc, char **argv)
{
	double bc[ROUNDS], hc[ROUNDS], bg[ROUNDS], hg[ROUNDS];
	int s = socket(AF_INET, SOCK_STREAM, 0);
	int (*real_close)(int) = AT_REAL(close);
	int (*real_gso)(int, int, int, void *, socklen_t *) = AT_REAL(getsockopt);
	FILE *json = argc == 3 ? fopen(argv[2], "w") : NULL; /* --json FILE */

	close(-1); /* initialise */
	for (int r = 0; r < ROUNDS; r++) {
		/* Alternate which variant runs first, so that neither gains
		 * from the other's warm caches and branch predictors. */
		for (int k = 0; k < 2; k++) {
			int hooked = (r + k) % 2;
			double t0 = now_ns();
			for (int i = 0; i < N; i++)
				if (hooked)
					close(-1);
				else
					real_close(-1);
			double t1 = now_ns();
			for (int i = 0; i < N; i++) {
				int type;
				socklen_t len = sizeof(type);
				if (hooked)
					getsockopt(s, SOL_SOCKET, SO_TYPE, &type,
						   &len);
				else
					real_gso(s, SOL_SOCKET, SO_TYPE, &type,
						 &len);
			}
			double t2 = now_ns();
			(hooked ? hc : bc)[r] = (t1 - t0) / N;
			(hooked ? hg : bg)[r] = (t2 - t1) / N;
		}
	}
	double mbc = median(bc), mhc = median(hc), mbg = median(bg),
	       mhg = median(hg);
	printf("%-34s %8.2f ns bare, %8.2f ns hooked: %+.2f ns (ratio %.3f)\n",
	       "close(-1), no span", mbc, mhc, mhc - mbc, mhc / mbc);
	printf("%-34s %8.2f ns bare, %8.2f ns hooked: %+.2f ns (ratio %.3f)\n",
	       "getsockopt(SO_TYPE), no span", mbg, mhg, mhg - mbg, mhg / mbg);
	if (json) {
		fprintf(json, "{\"hook_close_added_ns\": %.2f, "
			      "\"hook_getsockopt_added_ns\": %.2f}\n",
			mhc - mbc, mhg - mbg);
		fclose(json);
	}
	return 0;
}
