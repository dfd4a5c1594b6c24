/*
 * at_retry.h - the OTLP/HTTP retry policy, as pure functions.
 *
 * Retryable: 429, 502, 503, 504 and failures to connect or to get an
 * answer.  Everything else (other 4xx/5xx) is final.  Backoff doubles from
 * 1 s up to 5 s with "equal jitter" (a random point in the upper half);
 * a valid Retry-After (delta-seconds or HTTP-date) replaces it.
 */
#ifndef AT_RETRY_H
#define AT_RETRY_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define AT_RETRY_MAX_ATTEMPTS 6
#define AT_RETRY_INITIAL_MS 1000
#define AT_RETRY_MAX_MS 5000

enum at_retry_verdict {
	AT_RETRY_DONE = 0, /* success: 2xx */
	AT_RETRY_AGAIN,    /* retryable failure */
	AT_RETRY_FAIL,     /* final failure */
};

/* transport_err: 0 if an HTTP response was read, else a negative errno. */
enum at_retry_verdict at_retry_classify(int transport_err, int http_status);

/* Delay before retry number attempt (1 = first retry), rnd random bits. */
uint64_t at_retry_backoff_ms(unsigned attempt, uint64_t rnd);

/* Retry-After value -> milliseconds from now (now: Unix seconds), or -1. */
int64_t at_retry_after_parse(const char *v, size_t len, time_t now);

#endif
