/*
 * collector.c - build/autotrace-receiver, the collector of the tests'
 * scripts and of the benches (scripts/bench/): it runs the embedded
 * receiver (tool/at_receiver.c) and prints every received span as one
 * line on stdout, or counts them (--sink).  Built by the test targets
 * (`make tools`), not by `make`; users run `autotrace serve`.
 *
 *   autotrace-receiver [--port N] [--bind ADDR] [--save-dir DIR]
 *                      [--port-file FILE] [--count N] [--timeout-ms MS]
 *
 * --port-file gets the listening port (written atomically, so a script
 * can poll for the file and then read it).  With --count it exits 0 as
 * soon as N spans were printed, and 1 if --timeout-ms passes first (or a
 * signal stops it first).  Without --count it runs until SIGINT/SIGTERM
 * (exit 0) or --timeout-ms (exit 0).
 *
 * Output, one line per span, flushed at once:
 *   span trace=<32hex> span=<16hex> parent=<16hex|-> kind=CLIENT
 *     name="connect" service=<service.name|-> dur_us=<n>
 *     status=<UNSET|OK|ERROR> attrs={k=v, ...}
 * (one line; string values are quoted with C-style escapes, other values
 * are bare).  print_span() has no state of its own so that it can move
 * into the autotrace command.
 *
 * --sink answers every request at once without decoding it (benchmarks);
 * when it stops it prints one line, "sink requests=N spans=M" (spans
 * counted in uncompressed bodies), instead of the span lines.
 *
 * The receiver's limits against other local programs are at_receiver.c's;
 * tests shorten them with AUTOTRACE_RECEIVER_LIMITS (at_receiver_limits()).
 *
 * Signals are handled synchronously: they are blocked in every thread and
 * the main thread waits for them with sigtimedwait(); the receiver thread
 * raises SIGUSR1 when the count is reached.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "at_compat.h"
#include "at_receiver.h"

static void print_hex(FILE *f, const ProtobufCBinaryData *b)
{
	size_t i;

	for (i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
}

static void print_quoted(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");

	fputc('"', f);
	for (; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
	fputc('"', f);
}

static void print_value(FILE *f,
			const Opentelemetry__Proto__Common__V1__AnyValue *v)
{
	size_t i;

	if (!v) {
		fputs("null", f);
		return;
	}
	switch (v->value_case) {
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE:
		print_quoted(f, v->string_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE:
		fputs(v->bool_value ? "true" : "false", f);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE:
		fprintf(f, "%" PRId64, v->int_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE:
		fprintf(f, "%g", v->double_value);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_ARRAY_VALUE:
		fputc('[', f);
		for (i = 0; v->array_value && i < v->array_value->n_values;
		     i++) {
			if (i)
				fputs(", ", f);
			print_value(f, v->array_value->values[i]);
		}
		fputc(']', f);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_KVLIST_VALUE:
		fputc('{', f);
		for (i = 0; v->kvlist_value && i < v->kvlist_value->n_values;
		     i++) {
			if (i)
				fputs(", ", f);
			fprintf(f, "%s=", v->kvlist_value->values[i]->key);
			print_value(f, v->kvlist_value->values[i]->value);
		}
		fputc('}', f);
		break;
	case OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BYTES_VALUE:
		fputs("0x", f);
		print_hex(f, &v->bytes_value);
		break;
	default:
		fputs("null", f);
		break;
	}
}

static const char *kind_name(int kind)
{
	static const char *const names[] = {
		"UNSPECIFIED", "INTERNAL", "SERVER", "CLIENT", "PRODUCER",
		"CONSUMER",
	};

	if (kind >= 0 && (size_t)kind < AT_ARRAY_SIZE(names))
		return names[kind];
	return "UNKNOWN";
}

static const char *status_name(
	const Opentelemetry__Proto__Trace__V1__Status *st)
{
	static const char *const names[] = { "UNSET", "OK", "ERROR" };

	if (st && st->code >= 0 && (size_t)st->code < AT_ARRAY_SIZE(names))
		return names[st->code];
	return "UNSET";
}

/* One line for span sp of resource res (may be NULL). */
static void print_span(FILE *f, const at_otlp_span *sp,
		       const at_otlp_resource *res)
{
	const char *service = NULL;
	uint64_t dur = 0;
	size_t i;

	if (res)
		service = at_rx_attr_str(res->attributes, res->n_attributes,
					   "service.name");
	if (sp->end_time_unix_nano > sp->start_time_unix_nano)
		dur = (sp->end_time_unix_nano - sp->start_time_unix_nano) /
		      1000;
	fputs("span trace=", f);
	print_hex(f, &sp->trace_id);
	fputs(" span=", f);
	print_hex(f, &sp->span_id);
	fputs(" parent=", f);
	if (sp->parent_span_id.len)
		print_hex(f, &sp->parent_span_id);
	else
		fputc('-', f);
	fprintf(f, " kind=%s name=", kind_name((int)sp->kind));
	print_quoted(f, sp->name);
	fprintf(f, " service=%s dur_us=%" PRIu64 " status=%s attrs={",
		service && *service ? service : "-", dur,
		status_name(sp->status));
	for (i = 0; i < sp->n_attributes; i++) {
		if (i)
			fputs(", ", f);
		fprintf(f, "%s=", sp->attributes[i]->key);
		print_value(f, sp->attributes[i]->value);
	}
	fputs("}\n", f);
	fflush(f);
}

/* ---- the command ---- */

static atomic_size_t printed;
static size_t want_count;

static void print_one(const at_otlp_span *span,
		      const at_otlp_resource *resource,
		      const at_otlp_scope *scope, void *ud)
{
	(void)scope;
	(void)ud;
	print_span(stdout, span, resource);
}

static void on_request(const at_otlp_request *req, void *ud)
{
	size_t n = at_receiver_each_span(req, print_one, NULL), prev;

	(void)ud;
	if (!n)
		return;
	prev = atomic_fetch_add(&printed, n);
	/* Wake the main thread once, when the count is crossed. */
	if (want_count && prev < want_count && prev + n >= want_count)
		kill(getpid(), SIGUSR1);
}

static int write_port_file(const char *path, uint16_t port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path,
		     (long)getpid()) >= (int)sizeof(tmp))
		return -1;
	f = fopen(tmp, "w");
	if (!f)
		return -1;
	fprintf(f, "%u\n", (unsigned)port);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: autotrace-receiver [--port N] [--bind ADDR] "
	      "[--save-dir DIR]\n"
	      "                          [--port-file FILE] [--count N] "
	      "[--timeout-ms MS]\n"
	      "                          [--sink]   (answer 200, decode nothing)\n", f);
}

static int parse_num(const char *s, unsigned long long max,
		     unsigned long long *out)
{
	char *end;

	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || *out > max)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "bind", required_argument, NULL, 'b' },
		{ "save-dir", required_argument, NULL, 's' },
		{ "port-file", required_argument, NULL, 'f' },
		{ "count", required_argument, NULL, 'c' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "sink", no_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct at_receiver_opts opts = { .bind_addr = "127.0.0.1" };
	const char *port_file = NULL;
	unsigned long long v, timeout_ms = 0;
	struct at_receiver *r;
	struct timespec end, now, left;
	sigset_t set;
	int opt, sig, rc = 0;

	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			if (parse_num(optarg, 65535, &v) < 0)
				goto bad;
			opts.port = (uint16_t)v;
			break;
		case 'b':
			opts.bind_addr = optarg;
			break;
		case 's':
			opts.save_dir = optarg;
			break;
		case 'f':
			port_file = optarg;
			break;
		case 'c':
			if (parse_num(optarg, SIZE_MAX, &v) < 0)
				goto bad;
			want_count = (size_t)v;
			break;
		case 't':
			if (parse_num(optarg, 86400000ULL * 365,
				      &timeout_ms) < 0)
				goto bad;
			break;
		case 'k':
			opts.sink = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (optind != argc)
		goto bad;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	opts.on_request = on_request;
	at_receiver_limits(&opts, getenv("AUTOTRACE_RECEIVER_LIMITS"));
	r = at_receiver_start(&opts);
	if (!r) {
		fprintf(stderr, "autotrace-receiver: cannot listen on %s:%u: "
			"%s\n", opts.bind_addr, (unsigned)opts.port,
			strerror(errno));
		return 1;
	}
	if (port_file && write_port_file(port_file, at_receiver_port(r)) < 0) {
		fprintf(stderr, "autotrace-receiver: cannot write %s: %s\n",
			port_file, strerror(errno));
		at_receiver_stop(r);
		return 1;
	}
	fprintf(stderr, "autotrace-receiver: listening on %s port %u\n",
		opts.bind_addr, (unsigned)at_receiver_port(r));

	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(timeout_ms / 1000);
	end.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		if (want_count && atomic_load(&printed) >= want_count)
			break;
		if (timeout_ms) {
			clock_gettime(CLOCK_MONOTONIC, &now);
			left.tv_sec = end.tv_sec - now.tv_sec;
			left.tv_nsec = end.tv_nsec - now.tv_nsec;
			if (left.tv_nsec < 0) {
				left.tv_sec--;
				left.tv_nsec += 1000000000L;
			}
			if (left.tv_sec < 0) {
				rc = want_count ? 1 : 0;
				if (want_count)
					fprintf(stderr, "autotrace-receiver: "
						"timeout after %zu of %zu "
						"spans\n",
						atomic_load(&printed),
						want_count);
				break;
			}
			sig = sigtimedwait(&set, NULL, &left);
		} else {
			sig = sigwaitinfo(&set, NULL);
		}
		if (sig == SIGINT || sig == SIGTERM) {
			rc = want_count && atomic_load(&printed) < want_count;
			break;
		}
	}
	if (opts.sink) {
		printf("sink requests=%zu spans=%zu\n",
		       at_receiver_request_count(r), at_receiver_span_count(r));
		fflush(stdout);
	}
	at_receiver_stop(r);
	return rc;

bad:
	usage(stderr);
	return 2;
}
