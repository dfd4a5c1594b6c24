/*
 * at_retry.c - the OTLP/HTTP retry policy (see at_retry.h).
 *
 * OTLP/HTTP says: retry 429, 502, 503 and 504 (the "retryable" statuses),
 * honour Retry-After, use exponential backoff with jitter, and never
 * retry other responses.  A failure to connect or to read an answer is
 * retryable too (the collector may be restarting).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "at_retry.h"

enum at_retry_verdict at_retry_classify(int transport_err, int http_status)
{
	if (transport_err != 0)
		return AT_RETRY_AGAIN;
	if (http_status >= 200 && http_status < 300)
		return AT_RETRY_DONE;
	switch (http_status) {
	case 429:
	case 502:
	case 503:
	case 504:
		return AT_RETRY_AGAIN;
	default:
		return AT_RETRY_FAIL;
	}
}

uint64_t at_retry_backoff_ms(unsigned attempt, uint64_t rnd)
{
	uint64_t base = AT_RETRY_INITIAL_MS;

	while (attempt > 1 && base < AT_RETRY_MAX_MS) {
		base *= 2;
		attempt--;
	}
	if (base > AT_RETRY_MAX_MS)
		base = AT_RETRY_MAX_MS;
	/* Equal jitter: half fixed, half random. */
	return base / 2 + rnd % (base / 2 + 1);
}

static const char *const months[12] = { "Jan", "Feb", "Mar", "Apr",
					"May", "Jun", "Jul", "Aug",
					"Sep", "Oct", "Nov", "Dec" };

/* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" (the only form a sender
 * may generate). */
static int parse_http_date(const char *v, size_t len, time_t *out)
{
	char buf[64];
	char wday[4], mon[4], zone[4];
	int day, year, hh, mm, ss, n = 0;
	struct tm tm;

	if (len >= sizeof(buf))
		return -1;
	memcpy(buf, v, len);
	buf[len] = 0;
	if (sscanf(buf, "%3s, %d %3s %d %d:%d:%d %3s%n", wday, &day, mon,
		   &year, &hh, &mm, &ss, zone, &n) != 8 ||
	    (size_t)n != len || strcmp(zone, "GMT") != 0)
		return -1;
	memset(&tm, 0, sizeof(tm));
	tm.tm_mon = -1;
	for (int i = 0; i < 12; i++)
		if (strcmp(mon, months[i]) == 0)
			tm.tm_mon = i;
	if (tm.tm_mon < 0 || day < 1 || day > 31 || hh > 23 || mm > 59 ||
	    ss > 60 || year < 1970)
		return -1;
	tm.tm_mday = day;
	tm.tm_year = year - 1900;
	tm.tm_hour = hh;
	tm.tm_min = mm;
	tm.tm_sec = ss;
	*out = timegm(&tm);
	return 0;
}

int64_t at_retry_after_parse(const char *v, size_t len, time_t now)
{
	uint64_t secs = 0;
	size_t i;
	time_t when;

	while (len && (*v == ' ' || *v == '\t')) {
		v++;
		len--;
	}
	while (len && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	if (len == 0)
		return -1;
	for (i = 0; i < len && isdigit((unsigned char)v[i]); i++) {
		if (secs > 86400ull * 365)
			return -1;
		secs = secs * 10 + (uint64_t)(v[i] - '0');
	}
	if (i == len)
		return (int64_t)secs * 1000;
	if (i != 0 || parse_http_date(v, len, &when) != 0)
		return -1;
	return when <= now ? 0 : (int64_t)(when - now) * 1000;
}
