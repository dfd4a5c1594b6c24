/*
 * fuzz_config.c - libFuzzer target for at_config*.c (the OTEL_* and
 * AUTOTRACE_* variables; built with at_sampler.c).
 *
 * The input is a list of records separated by '\n': a record's first byte
 * picks one of the variables, the rest is its value (the last record for
 * a variable wins).  Besides "no crash" (AddressSanitizer, UBSan), it
 * traps when one of these properties fails:
 *   - every warning is one line ("libautotrace: invalid NAME=...") with
 *     no CR or LF in it, and there is at most one per record;
 *   - the endpoint is an http:// or https:// URL (tls set for https) with
 *     a non-zero port and a path that starts with '/', or, unusable,
 *     empty with export disabled; host and URL are NUL-terminated in
 *     their buffers;
 *   - the extra headers are whole "Name: value\r\n" lines with no other
 *     CR or LF, and no NUL inside;
 *   - the service name and every resource pair are NUL-terminated inside
 *     their buffers, at most AT_CFG_RESOURCE_ATTRS pairs;
 *   - loading the same input twice gives the same settings.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at_config.h"
#include "fuzz.h"

static const char *const names[] = {
	"AUTOTRACE_CAPTURE_COMMAND_LINE", "AUTOTRACE_DB_QUERY_MAX_LENGTH",
	"AUTOTRACE_DB_RAW_QUERY", "AUTOTRACE_DEBUG",
	"AUTOTRACE_DNS_SPAN_THRESHOLD", "AUTOTRACE_EXIT_TIMEOUT",
	"AUTOTRACE_HTTP_REDACT_QUERY", "AUTOTRACE_PROCESS_SPANS",
	"AUTOTRACE_PROPAGATE_PRELOAD", "OTEL_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_BSP_EXPORT_TIMEOUT",
	"OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "OTEL_BSP_MAX_QUEUE_SIZE",
	"OTEL_BSP_SCHEDULE_DELAY", "OTEL_EVENT_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_ENDPOINT",
	"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
	"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_LINK_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_RESOURCE_ATTRIBUTES", "OTEL_SDK_DISABLED", "OTEL_SERVICE_NAME",
	"OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT",
	"OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT", "OTEL_SPAN_EVENT_COUNT_LIMIT",
	"OTEL_SPAN_LINK_COUNT_LIMIT", "OTEL_TRACES_EXPORTER",
	"OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG",
};
#define N_NAMES (sizeof(names) / sizeof(names[0]))

struct input {
	char *values[N_NAMES]; /* malloc'd, exactly sized (+ NUL) */
	size_t records;
	size_t warnings;
};

static const char *lookup(const char *name, void *ud)
{
	struct input *in = ud;

	for (size_t i = 0; i < N_NAMES; i++)
		if (!strcmp(names[i], name))
			return in->values[i];
	return NULL;
}

static void warn(const char *line, void *ud)
{
	struct input *in = ud;

	in->warnings++;
	CHECK(!strncmp(line, "libautotrace: ", 14));
	CHECK(!strpbrk(line, "\r\n"));
}

static int terminated(const char *buf, size_t cap)
{
	return memchr(buf, '\0', cap) != NULL;
}

static void check(const struct at_config *c)
{
	const struct at_endpoint *e = &c->endpoint;

	CHECK(terminated(e->url, sizeof(e->url)));
	CHECK(terminated(e->host, sizeof(e->host)));
	CHECK(terminated(e->path, sizeof(e->path)));
	if (e->url[0] == '\0') {
		/* An unusable endpoint: export disabled, no other endpoint. */
		CHECK(c->exporter == AT_EXPORTER_NONE);
		CHECK(e->port == 0);
	} else {
		/* Schemes ignore case; https is the TLS flag. */
		CHECK(!strncasecmp(e->url, "http://", 7) ||
		      !strncasecmp(e->url, "https://", 8));
		CHECK(e->tls == !strncasecmp(e->url, "https://", 8));
		CHECK(e->port != 0 && e->path[0] == '/');
	}
	CHECK(terminated(c->headers, sizeof(c->headers)));
	for (const char *p = c->headers; *p;) {
		const char *eol = strstr(p, "\r\n");
		CHECK(eol != NULL);
		const char *colon = memchr(p, ':', (size_t)(eol - p));
		CHECK(colon && colon > p);
		for (const char *q = p; q < eol; q++)
			CHECK(*q != '\r' && *q != '\n');
		p = eol + 2;
	}
	CHECK(terminated(c->service_name, sizeof(c->service_name)));
	CHECK(c->n_resource <= AT_CFG_RESOURCE_ATTRS);
	for (size_t i = 0; i < c->n_resource; i++) {
		const char *end = c->resource_buf + sizeof(c->resource_buf);
		CHECK(c->resource[i].key >= c->resource_buf &&
		      c->resource[i].key < end);
		CHECK(c->resource[i].value >= c->resource_buf &&
		      c->resource[i].value < end);
		CHECK(terminated(c->resource[i].key,
				 (size_t)(end - c->resource[i].key)));
		CHECK(terminated(c->resource[i].value,
				 (size_t)(end - c->resource[i].value)));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct at_config a, b;
	struct input in = { 0 };
	size_t start = 0;

	while (start < size) {
		const uint8_t *nl = memchr(data + start, '\n', size - start);
		size_t end = nl ? (size_t)(nl - data) : size;
		if (end > start) {
			size_t k = data[start] % N_NAMES, len = end - start - 1;
			free(in.values[k]);
			in.values[k] = malloc(len + 1);
			if (!in.values[k])
				return 0;
			memcpy(in.values[k], data + start + 1, len);
			in.values[k][len] = '\0';
			in.records++;
		}
		start = end + 1;
	}
	at_config_load(&a, lookup, &in, warn, &in);
	CHECK(in.warnings <= in.records);
	check(&a);
	in.warnings = 0;
	at_config_load(&b, lookup, &in, warn, &in);
	CHECK(!strcmp(a.endpoint.url, b.endpoint.url));
	CHECK(!strcmp(a.headers, b.headers));
	CHECK(!strcmp(a.service_name, b.service_name));
	CHECK(a.n_resource == b.n_resource);
	CHECK(a.bsp_max_queue_size == b.bsp_max_queue_size &&
	      a.export_timeout_ms == b.export_timeout_ms &&
	      a.sampler.threshold == b.sampler.threshold);
	for (size_t i = 0; i < N_NAMES; i++)
		free(in.values[i]);
	return 0;
}
