/*
 * at_rootspan.c - the root span `autotrace -- cmd` makes for the command
 * it runs, so that everything the command and its process tree do is one
 * trace (as `otel-cli exec` does).
 *
 * Before the command starts, at_root_begin() picks the span's context: a
 * new random trace id (getrandom), or the trace of a TRACEPARENT already
 * in autotrace's environment (autotrace run by a traced script: its span
 * is then the root's parent), and a new span id.  The command gets
 * TRACEPARENT=00-<trace>-<span>-01 (at_root_traceparent), which the
 * library reads at start in every process of the tree (and passes on to
 * the processes they start), so their spans are children of the root.
 *
 * When the command has been reaped, at_root_request() makes the span as
 * an OTLP request, which autotrace then treats like one received: shown,
 * written with --json, forwarded.  The span: name = the command's base
 * name, kind INTERNAL, the command's start and end (wall clock),
 * process.command_line (cut at 1,024 bytes), process.executable.name,
 * process.pid, process.exit.code (or autotrace.signal when killed), and
 * status ERROR ("exit code N" / "killed by signal N") when it did not
 * exit 0.  Resource: service.name (--service, OTEL_SERVICE_NAME, else the
 * command's base name).  Tool-only: allocation failure aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "at_rootspan.h"
#include "at_xalloc.h"

#define CMDLINE_MAX 1024

static uint64_t wall_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void random_bytes(uint8_t *p, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = getrandom(p + got, n - got, 0);

		if (r <= 0) {
			/* no entropy call: time and address, still unique
			 * enough for a local trace id */
			uint64_t x = wall_ns() ^ (uint64_t)(uintptr_t)p;

			for (; got < n; got++, x = x * 6364136223846793005ull + 1)
				p[got] = (uint8_t)(x >> 56);
			return;
		}
		got += (size_t)r;
	}
}

static int nonzero(const uint8_t *p, size_t n)
{
	while (n--)
		if (*p++)
			return 1;
	return 0;
}

void at_root_begin(struct at_root *r, const char *env_traceparent)
{
	struct at_span_context parent;

	memset(r, 0, sizeof(*r));
	if (env_traceparent &&
	    at_traceparent_parse(env_traceparent, strlen(env_traceparent),
				 &parent) == 0) {
		memcpy(r->ctx.trace_id, parent.trace_id, 16);
		memcpy(r->parent_id, parent.span_id, 8);
		r->has_parent = 1;
	} else {
		do
			random_bytes(r->ctx.trace_id, 16);
		while (!nonzero(r->ctx.trace_id, 16));
	}
	do
		random_bytes(r->ctx.span_id, 8);
	while (!nonzero(r->ctx.span_id, 8));
	r->ctx.flags = 1;
	r->start_ns = wall_ns();
}

void at_root_traceparent(const struct at_root *r, char *out, size_t cap)
{
	char tp[AT_TRACEPARENT_LEN + 1];
	at_traceparent_format(&r->ctx, tp);
	snprintf(out, cap, "TRACEPARENT=%s", tp);
}

static at_otlp_kv *kv_new(const char *key)
{
	at_otlp_kv *kv = at_xcalloc(1, sizeof(*kv));
	Opentelemetry__Proto__Common__V1__AnyValue *v =
		at_xcalloc(1, sizeof(*v));

	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(v);
	kv->key = at_xstrdup(key);
	kv->value = v;
	return kv;
}

static void add_str(at_otlp_kv ***arr, size_t *n, const char *key,
		    const char *val)
{
	at_otlp_kv *kv = kv_new(key);

	kv->value->value_case =
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	kv->value->string_value = at_xstrdup_utf8(val);
	*arr = at_xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = kv;
}

static void add_int(at_otlp_kv ***arr, size_t *n, const char *key,
		    int64_t val)
{
	at_otlp_kv *kv = kv_new(key);

	kv->value->value_case =
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = val;
	*arr = at_xrealloc(*arr, (*n + 1) * sizeof(**arr));
	(*arr)[(*n)++] = kv;
}

static void set_bytes(ProtobufCBinaryData *b, const uint8_t *p, size_t n)
{
	b->data = at_xmalloc(n);
	memcpy(b->data, p, n);
	b->len = n;
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

at_otlp_request *at_root_request(const struct at_root *r,
				 char *const *argv, const char *service,
				 long pid, int exited, int code)
{
	at_otlp_request *req = at_xcalloc(1, sizeof(*req));
	Opentelemetry__Proto__Trace__V1__ResourceSpans *rs =
		at_xcalloc(1, sizeof(*rs));
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ss =
		at_xcalloc(1, sizeof(*ss));
	at_otlp_resource *res = at_xcalloc(1, sizeof(*res));
	at_otlp_scope *sc = at_xcalloc(1, sizeof(*sc));
	at_otlp_span *sp = at_xcalloc(1, sizeof(*sp));
	Opentelemetry__Proto__Trace__V1__Status *st =
		at_xcalloc(1, sizeof(*st));
	const char *name = argv && argv[0] ? base_name(argv[0]) : "command";
	struct at_buf line = { 0 };
	char msg[64];
	size_t i;

	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(req);
	opentelemetry__proto__trace__v1__resource_spans__init(rs);
	opentelemetry__proto__trace__v1__scope_spans__init(ss);
	opentelemetry__proto__resource__v1__resource__init(res);
	opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
	opentelemetry__proto__trace__v1__span__init(sp);
	opentelemetry__proto__trace__v1__status__init(st);
	add_str(&res->attributes, &res->n_attributes, "service.name",
		service && *service ? service : name);
	sc->name = at_xstrdup("autotrace");
	for (i = 0; argv && argv[i] && line.len < CMDLINE_MAX; i++) {
		if (i)
			at_xbuf_str(&line, " ");
		at_xbuf_str(&line, argv[i]);
	}
	set_bytes(&sp->trace_id, r->ctx.trace_id, 16);
	set_bytes(&sp->span_id, r->ctx.span_id, 8);
	if (r->has_parent)
		set_bytes(&sp->parent_span_id, r->parent_id, 8);
	sp->name = at_xstrdup(name);
	sp->kind = OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL;
	sp->start_time_unix_nano = r->start_ns;
	sp->end_time_unix_nano = wall_ns();
	sp->flags = 0x101;
	{
		char *cl = at_xstrndup(at_xbuf_cstr(&line), line.len >
				       CMDLINE_MAX ? CMDLINE_MAX : line.len);

		add_str(&sp->attributes, &sp->n_attributes,
			"process.command_line", cl);
		free(cl);
	}
	at_buf_free(&line);
	add_str(&sp->attributes, &sp->n_attributes, "process.executable.name",
		name);
	add_int(&sp->attributes, &sp->n_attributes, "process.pid", pid);
	if (exited)
		add_int(&sp->attributes, &sp->n_attributes,
			"process.exit.code", code);
	else
		add_int(&sp->attributes, &sp->n_attributes, "autotrace.signal",
			code);
	if (!exited || code != 0) {
		st->code = OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
		snprintf(msg, sizeof(msg), exited ? "exit code %d" :
			 "killed by signal %d", code);
		st->message = at_xstrdup(msg);
	} else {
		st->message = at_xstrdup("");
	}
	sp->status = st;
	ss->scope = sc;
	ss->spans = at_xcalloc(1, sizeof(*ss->spans));
	ss->spans[ss->n_spans++] = sp;
	rs->resource = res;
	rs->scope_spans = at_xcalloc(1, sizeof(*rs->scope_spans));
	rs->scope_spans[rs->n_scope_spans++] = ss;
	req->resource_spans = at_xcalloc(1, sizeof(*req->resource_spans));
	req->resource_spans[req->n_resource_spans++] = rs;
	return req;
}
