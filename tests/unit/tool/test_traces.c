/*
 * test_traces.c - the trace model (at_traces.c), OTLP-JSON in and out,
 * and the terminal view (at_render_text.c).
 *
 * Requests are built by hand as protobuf-c messages (every part malloc'd
 * so that protobuf_c_message_free_unpacked() can free them).  Span ids
 * are small numbers: trace t has id 00..0t, span n has id 00..0n, so
 * parents are easy to name.  Times are in microseconds from a base.
 * The written OTLP-JSON is also checked by the protobufjs code generated
 * from the official protos (build/node, scripts/setup-node-decoder.sh):
 * each line must parse, convert with fromObject() (hex ids turned into
 * bytes first), verify(), and survive encode/decode/toObject() equal to
 * the input - which also catches misspelt field names, which fromObject()
 * would silently ignore.  That test is skipped without node or the
 * package.
 */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "at_render.h"
#include "at_traces.h"

#define BASE_NS 1700000000000000000ULL
#define US(x) (BASE_NS + (uint64_t)(x) * 1000ULL)

typedef Opentelemetry__Proto__Trace__V1__ResourceSpans t_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans t_sspans;
typedef Opentelemetry__Proto__Trace__V1__Span__Event t_event;
typedef Opentelemetry__Proto__Trace__V1__Status t_status;
typedef Opentelemetry__Proto__Common__V1__AnyValue t_any;

/* ---- building requests ---- */

static void *zalloc(size_t n)
{
	void *p = calloc(1, n);

	cr_assert_not_null(p);
	return p;
}

#define GROW(arr, n) do { \
	(arr) = realloc((arr), ((n) + 1) * sizeof(*(arr))); \
	cr_assert_not_null(arr); \
} while (0)

static at_otlp_kv *kv_new(const char *key)
{
	at_otlp_kv *kv = zalloc(sizeof(*kv));
	t_any *v = zalloc(sizeof(*v));

	opentelemetry__proto__common__v1__key_value__init(kv);
	opentelemetry__proto__common__v1__any_value__init(v);
	kv->key = strdup(key);
	kv->value = v;
	return kv;
}

static at_otlp_kv *kv_str(const char *key, const char *val)
{
	at_otlp_kv *kv = kv_new(key);

	kv->value->value_case =
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	kv->value->string_value = strdup(val);
	return kv;
}

static at_otlp_kv *kv_int(const char *key, int64_t val)
{
	at_otlp_kv *kv = kv_new(key);

	kv->value->value_case =
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	kv->value->int_value = val;
	return kv;
}

static at_otlp_kv *kv_dbl(const char *key, double val)
{
	at_otlp_kv *kv = kv_new(key);

	kv->value->value_case =
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_DOUBLE_VALUE;
	kv->value->double_value = val;
	return kv;
}

static at_otlp_kv *kv_bool(const char *key, int val)
{
	at_otlp_kv *kv = kv_new(key);

	kv->value->value_case =
		OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_BOOL_VALUE;
	kv->value->bool_value = val;
	return kv;
}

static at_otlp_request *req_new(void)
{
	at_otlp_request *r = zalloc(sizeof(*r));

	opentelemetry__proto__collector__trace__v1__export_trace_service_request__init(r);
	return r;
}

static void req_free(at_otlp_request *r)
{
	protobuf_c_message_free_unpacked(&r->base, NULL);
}

/* A new resource (service) with one scope; later spans go there. */
static void add_resource(at_otlp_request *r, const char *service)
{
	t_rspans *rs = zalloc(sizeof(*rs));
	t_sspans *ss = zalloc(sizeof(*ss));
	at_otlp_resource *res = zalloc(sizeof(*res));
	at_otlp_scope *sc = zalloc(sizeof(*sc));

	opentelemetry__proto__trace__v1__resource_spans__init(rs);
	opentelemetry__proto__trace__v1__scope_spans__init(ss);
	opentelemetry__proto__resource__v1__resource__init(res);
	opentelemetry__proto__common__v1__instrumentation_scope__init(sc);
	sc->name = strdup("autotrace");
	sc->version = strdup("1.2.3");
	GROW(res->attributes, res->n_attributes);
	res->attributes[res->n_attributes++] = kv_str("service.name", service);
	GROW(res->attributes, res->n_attributes);
	res->attributes[res->n_attributes++] = kv_int("process.pid", 4242);
	rs->resource = res;
	ss->scope = sc;
	GROW(rs->scope_spans, rs->n_scope_spans);
	rs->scope_spans[rs->n_scope_spans++] = ss;
	GROW(r->resource_spans, r->n_resource_spans);
	r->resource_spans[r->n_resource_spans++] = rs;
}

static void set_id(ProtobufCBinaryData *b, size_t len, unsigned v)
{
	b->len = len;
	b->data = zalloc(len);
	b->data[len - 1] = (uint8_t)v;
	b->data[len - 2] = (uint8_t)(v >> 8);
}

/* Span id of trace tid with parent pid (0: none), times in us. */
static at_otlp_span *add_span(at_otlp_request *r, unsigned tid, unsigned id,
			      unsigned pid, const char *name, int kind,
			      uint64_t start_us, uint64_t end_us)
{
	t_rspans *rs;
	t_sspans *ss;
	at_otlp_span *s = zalloc(sizeof(*s));

	if (!r->n_resource_spans)
		add_resource(r, "svc");
	rs = r->resource_spans[r->n_resource_spans - 1];
	ss = rs->scope_spans[rs->n_scope_spans - 1];
	opentelemetry__proto__trace__v1__span__init(s);
	set_id(&s->trace_id, 16, tid);
	set_id(&s->span_id, 8, id);
	if (pid)
		set_id(&s->parent_span_id, 8, pid);
	s->name = strdup(name);
	s->kind = (Opentelemetry__Proto__Trace__V1__Span__SpanKind)kind;
	s->start_time_unix_nano = US(start_us);
	s->end_time_unix_nano = US(end_us);
	s->flags = 0x101;
	GROW(ss->spans, ss->n_spans);
	ss->spans[ss->n_spans++] = s;
	return s;
}

static void add_attr(at_otlp_span *s, at_otlp_kv *kv)
{
	GROW(s->attributes, s->n_attributes);
	s->attributes[s->n_attributes++] = kv;
}

static void set_status(at_otlp_span *s, int code, const char *msg)
{
	t_status *st = zalloc(sizeof(*st));

	opentelemetry__proto__trace__v1__status__init(st);
	st->code = (Opentelemetry__Proto__Trace__V1__Status__StatusCode)code;
	st->message = strdup(msg);
	s->status = st;
}

static t_event *add_event(at_otlp_span *s, const char *name, uint64_t t_us)
{
	t_event *e = zalloc(sizeof(*e));

	opentelemetry__proto__trace__v1__span__event__init(e);
	e->name = strdup(name);
	e->time_unix_nano = US(t_us);
	GROW(s->events, s->n_events);
	s->events[s->n_events++] = e;
	return e;
}

/* A database CLIENT span. */
static at_otlp_span *add_db(at_otlp_request *r, unsigned tid, unsigned id,
			    unsigned pid, const char *q, uint64_t a, uint64_t b)
{
	at_otlp_span *s = add_span(r, tid, id, pid, "SELECT items", 3, a, b);

	add_attr(s, kv_str("db.system.name", "postgresql"));
	add_attr(s, kv_str("db.operation.name", "SELECT"));
	add_attr(s, kv_str("db.query.text", q));
	add_attr(s, kv_int("db.response.returned_rows", 1));
	add_attr(s, kv_str("server.address", "db.local"));
	add_attr(s, kv_int("server.port", 5432));
	return s;
}

/* An HTTP CLIENT span. */
static at_otlp_span *add_http(at_otlp_request *r, unsigned tid, unsigned id,
			      unsigned pid, const char *host, const char *url,
			      uint64_t a, uint64_t b)
{
	at_otlp_span *s = add_span(r, tid, id, pid, "GET", 3, a, b);

	add_attr(s, kv_str("http.request.method", "GET"));
	add_attr(s, kv_str("url.full", url));
	add_attr(s, kv_str("server.address", host));
	add_attr(s, kv_int("http.response.status_code", 200));
	return s;
}

static struct at_traces *build_from(const at_otlp_request *r)
{
	struct at_traces *t = at_traces_new();

	cr_assert_not_null(t);
	at_traces_add_request(t, r);
	at_traces_build(t);
	return t;
}

/* The span with the low id byte n in trace tr. */
static struct at_tv_span *span_n(const struct at_tv_trace *tr, unsigned n)
{
	size_t i;

	for (i = 0; i < tr->n_spans; i++)
		if (tr->spans[i]->span_id[7] == n &&
		    tr->spans[i]->span_id[6] == 0)
			return tr->spans[i];
	cr_assert_fail("span %u not found", n);
	return NULL;
}

static size_t count_kind(const struct at_tv_trace *tr,
			 enum at_tv_finding_kind k)
{
	size_t i, n = 0;

	for (i = 0; i < tr->n_findings; i++)
		n += tr->findings[i].kind == k;
	return n;
}

static const struct at_tv_finding *first_kind(const struct at_tv_trace *tr,
					      enum at_tv_finding_kind k)
{
	size_t i;

	for (i = 0; i < tr->n_findings; i++)
		if (tr->findings[i].kind == k)
			return &tr->findings[i];
	return NULL;
}

static char *render(const struct at_traces *t, const struct at_render_opts *o)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	at_render_text(f, t, o);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static char *json_of(const at_otlp_request *r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	cr_assert_eq(at_otlpjson_write(f, r), 0);
	cr_assert_eq(fclose(f), 0);
	cr_assert(len > 0 && buf[len - 1] == '\n');
	cr_assert_null(memchr(buf, '\n', len - 1), "one line");
	return buf;
}

/* ---- model ---- */

Test(traces, fmt_dur)
{
	char b[32];

	at_tv_fmt_dur(0, b, sizeof(b));
	cr_assert_str_eq(b, "0 ns");
	at_tv_fmt_dur(999, b, sizeof(b));
	cr_assert_str_eq(b, "999 ns");
	at_tv_fmt_dur(1234, b, sizeof(b));
	cr_assert_str_eq(b, "1.23 us");
	at_tv_fmt_dur(50000000, b, sizeof(b));
	cr_assert_str_eq(b, "50.0 ms");
	at_tv_fmt_dur(380000000, b, sizeof(b));
	cr_assert_str_eq(b, "380 ms");
	at_tv_fmt_dur(2500000000ULL, b, sizeof(b));
	cr_assert_str_eq(b, "2.50 s");
	at_tv_fmt_dur(125000000000ULL, b, sizeof(b));
	cr_assert_str_eq(b, "2m05s");
}

Test(traces, grouping_and_tree)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	struct at_tv_trace *a, *b;
	struct at_tv_span *root, *x, *y, *z;

	/* trace 2 starts later; spans interleaved and out of order */
	add_span(r, 2, 20, 0, "t2-root", 2, 500, 900);
	add_span(r, 1, 3, 1, "late-child", 1, 50, 80);
	add_span(r, 1, 1, 0, "root", 2, 0, 100);
	add_span(r, 2, 21, 20, "t2-child", 3, 600, 700);
	add_span(r, 1, 4, 2, "grandchild", 3, 20, 30);
	add_span(r, 1, 2, 1, "early-child", 1, 10, 40);
	t = build_from(r);
	cr_assert_eq(t->n_traces, 2);
	a = &t->traces[0];
	b = &t->traces[1];
	cr_assert_eq(a->trace_id[15], 1);
	cr_assert_eq(b->trace_id[15], 2);
	cr_assert_eq(a->n_spans, 4);
	cr_assert_eq(b->n_spans, 2);
	cr_assert_eq(a->start_ns, US(0));
	cr_assert_eq(a->end_ns, US(100));
	cr_assert_eq(a->n_roots, 1);
	/* spans by start */
	cr_assert_str_eq(a->spans[0]->name, "root");
	cr_assert_str_eq(a->spans[1]->name, "early-child");
	cr_assert_str_eq(a->spans[2]->name, "grandchild");
	cr_assert_str_eq(a->spans[3]->name, "late-child");
	root = a->roots[0];
	cr_assert_str_eq(root->name, "root");
	cr_assert_null(root->parent);
	cr_assert_eq(root->depth, 0);
	cr_assert_eq(root->n_children, 2);
	x = root->children[0];
	y = root->children[1];
	cr_assert_str_eq(x->name, "early-child");
	cr_assert_str_eq(y->name, "late-child");
	cr_assert_eq(x->parent, root);
	cr_assert_eq(x->depth, 1);
	cr_assert_eq(x->n_children, 1);
	z = x->children[0];
	cr_assert_str_eq(z->name, "grandchild");
	cr_assert_eq(z->depth, 2);
	cr_assert_eq(z->n_children, 0);
	cr_assert_str_eq(root->service, "svc");
	cr_assert_eq(b->roots[0]->n_children, 1);
	cr_assert_eq(a->has_error, 0);

	/* building again (after more spans) gives a consistent result */
	at_traces_add_request(t, r);
	at_traces_build(t);
	cr_assert_eq(t->n_traces, 2);
	cr_assert_eq(t->traces[0].n_spans, 8);
	at_traces_free(t);
	req_free(r);
}

Test(traces, orphans_and_cycles)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	struct at_tv_trace *tr;

	add_span(r, 1, 1, 0, "root", 2, 0, 100);
	add_span(r, 1, 2, 9, "orphan", 1, 50, 60);   /* parent 9 absent */
	add_span(r, 1, 3, 2, "under-orphan", 1, 52, 55);
	/* a parent cycle in another trace: 5 <-> 6, 7 under 6 */
	add_span(r, 2, 5, 6, "c5", 1, 200, 300);
	add_span(r, 2, 6, 5, "c6", 1, 210, 290);
	add_span(r, 2, 7, 6, "c7", 1, 220, 230);
	add_span(r, 3, 8, 8, "self", 1, 400, 410);
	t = build_from(r);
	cr_assert_eq(t->n_traces, 3);
	tr = &t->traces[0];
	cr_assert_eq(tr->n_roots, 2);
	cr_assert_str_eq(tr->roots[0]->name, "root");
	cr_assert_str_eq(tr->roots[1]->name, "orphan");
	cr_assert_null(tr->roots[1]->parent);
	cr_assert_eq(tr->roots[1]->has_parent, 1);
	cr_assert_eq(tr->roots[1]->depth, 0);
	cr_assert_eq(span_n(tr, 3)->parent, tr->roots[1]);
	cr_assert_eq(span_n(tr, 3)->depth, 1);

	tr = &t->traces[1];
	cr_assert_eq(tr->n_roots, 1);
	cr_assert_eq(span_n(tr, 7)->parent, span_n(tr, 6));
	cr_assert_eq(tr->roots[0]->depth, 0);
	cr_assert(span_n(tr, 5)->depth >= 0 && span_n(tr, 6)->depth >= 0);
	tr = &t->traces[2];
	cr_assert_eq(tr->n_roots, 1);
	cr_assert_null(tr->roots[0]->parent);
	at_traces_free(t);
	req_free(r);
}

Test(traces, critical_path)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	struct at_tv_trace *tr;

	add_span(r, 1, 1, 0, "root", 2, 0, 100);
	add_span(r, 1, 2, 1, "a", 1, 0, 40);
	add_span(r, 1, 3, 1, "b", 1, 10, 90);
	add_span(r, 1, 4, 3, "c", 1, 10, 30);
	add_span(r, 1, 5, 3, "d", 1, 40, 85);
	add_span(r, 1, 6, 2, "e", 1, 5, 39);
	t = build_from(r);
	tr = &t->traces[0];
	cr_assert_eq(span_n(tr, 1)->critical, 1);
	cr_assert_eq(span_n(tr, 2)->critical, 0);
	cr_assert_eq(span_n(tr, 3)->critical, 1);
	cr_assert_eq(span_n(tr, 4)->critical, 0);
	cr_assert_eq(span_n(tr, 5)->critical, 1);
	cr_assert_eq(span_n(tr, 6)->critical, 0);
	at_traces_free(t);
	req_free(r);
}

Test(traces, n_plus_one)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	struct at_tv_trace *tr;
	const struct at_tv_finding *f;
	unsigned i;

	add_span(r, 1, 1, 0, "GET /items", 2, 0, 100000);
	add_span(r, 1, 2, 1, "load", 1, 0, 20000);
	/* five identical queries, 10 ms each, one after another */
	for (i = 0; i < 5; i++)
		add_db(r, 1, 10 + i, 2, "SELECT ? FROM items WHERE id = ?",
		       i * 3000, i * 3000 + 2000);
	add_db(r, 1, 20, 2, "SELECT ? FROM users", 16000, 17000);
	add_db(r, 1, 21, 2, "SELECT ? FROM users", 17000, 18000);
	t = build_from(r);
	tr = &t->traces[0];
	cr_assert_eq(tr->n_findings, 1, "%zu findings", tr->n_findings);
	f = &tr->findings[0];
	cr_assert_eq(f->kind, AT_FIND_N_PLUS_ONE);
	cr_assert_eq(f->n_spans, 5);
	cr_assert_eq(f->total_ns, 5ULL * 2000000);
	cr_assert_eq(f->parent, span_n(tr, 2));
	cr_assert_str_eq(f->text,
		"SELECT ? FROM items WHERE id = ? ran 5 times in a row under "
		"load (svc), 10.0 ms total");
	cr_assert_not_null(f->fix);
	at_traces_free(t);
	req_free(r);
}

Test(traces, n_plus_one_http_ignores_query_string_and_ids)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	const struct at_tv_finding *f;

	add_span(r, 1, 1, 0, "root", 2, 0, 1000);
	/* one after another: /item/N?x is one template */
	add_http(r, 1, 2, 1, "api", "http://api/item/1?id=1", 0, 100);
	add_http(r, 1, 3, 1, "api", "http://api/item/2?id=2", 100, 200);
	add_http(r, 1, 4, 1, "api", "http://api/item/3#x", 200, 300);
	add_http(r, 1, 5, 1, "api", "http://api/item/4", 300, 400);
	add_http(r, 1, 6, 1, "api", "http://api/item/5", 400, 500);
	add_http(r, 1, 7, 1, "api", "http://api/other", 500, 600);
	t = build_from(r);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_N_PLUS_ONE), 1);
	f = first_kind(&t->traces[0], AT_FIND_N_PLUS_ONE);
	cr_assert_eq(f->n_spans, 5);
	cr_assert_str_eq(f->text, "GET /item/{id} ran 5 times in a row under "
			 "root (svc), 500 us total");
	at_traces_free(t);
	req_free(r);

	/* the same five at once (a fan-out) are not an N+1 */
	r = req_new();
	add_span(r, 1, 1, 0, "root", 2, 0, 1000);
	for (unsigned i = 0; i < 5; i++)
		add_http(r, 1, 2 + i, 1, "api", "http://api/item/1", i * 10,
			 i * 10 + 100);
	t = build_from(r);
	cr_assert_eq(count_kind(&t->traces[0], AT_FIND_N_PLUS_ONE), 0);
	at_traces_free(t);
	req_free(r);
}

Test(traces, no_dominant_finding)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;

	add_span(r, 1, 1, 0, "root", 2, 0, 100);
	add_span(r, 1, 2, 1, "handler", 1, 10, 90);   /* 80 % */
	add_span(r, 1, 3, 2, "slow-call", 3, 20, 93); /* 73 %, deepest */
	add_span(r, 1, 4, 2, "quick", 3, 93, 95);
	t = build_from(r);
	cr_assert_eq(t->traces[0].n_findings, 0);
	at_traces_free(t);
	req_free(r);
}

/* ---- OTLP-JSON ---- */

/* A request with a bit of everything. */
static at_otlp_request *rich_request(void)
{
	at_otlp_request *r = req_new();
	at_otlp_span *s;
	t_event *e;

	add_resource(r, "checkout");
	s = add_span(r, 7, 1, 0, "GET /cart", 2, 0, 5000);
	add_attr(s, kv_str("http.request.method", "GET"));
	add_attr(s, kv_str("url.path", "/cart"));
	add_attr(s, kv_int("http.response.status_code", 500));
	add_attr(s, kv_dbl("ratio", 0.1));
	add_attr(s, kv_bool("cached", 0));
	add_attr(s, kv_str("quote\"s", "tab\there\nnl \\ \x01 caf\xc3\xa9 "
			   "\xff bad"));
	add_attr(s, kv_int("neg", -9000000000000000000LL));
	set_status(s, 2, "boom: \"x\"");
	s->trace_state = strdup("k=v");
	s->dropped_attributes_count = 3;
	e = add_event(s, "exception", 4000);
	GROW(e->attributes, e->n_attributes);
	e->attributes[e->n_attributes++] = kv_str("exception.type", "E");
	GROW(e->attributes, e->n_attributes);
	e->attributes[e->n_attributes++] = kv_int("exception.count", 2);
	add_event(s, "bare", 4500);
	s = add_db(r, 7, 2, 1, "SELECT ?", 100, 900);
	set_status(s, 1, "");
	add_resource(r, "inventory");
	s = add_span(r, 7, 3, 2, "remote", 4, 200, 800);
	s->kind = 0;
	return r;
}

static void expect_same_span(const struct at_tv_span *a,
			     const struct at_tv_span *b)
{
	size_t i, j;

	cr_assert_eq(memcmp(a->trace_id, b->trace_id, 16), 0);
	cr_assert_eq(memcmp(a->span_id, b->span_id, 8), 0);
	cr_assert_eq(memcmp(a->parent_id, b->parent_id, 8), 0);
	cr_assert_eq(a->has_parent, b->has_parent);
	cr_assert_str_eq(a->name, b->name);
	cr_assert_eq(a->kind, b->kind);
	cr_assert_eq(a->start_ns, b->start_ns);
	cr_assert_eq(a->end_ns, b->end_ns);
	cr_assert_eq(a->status, b->status);
	cr_assert_str_eq(a->status_msg, b->status_msg);
	cr_assert_str_eq(a->service, b->service);
	cr_assert_eq(a->n_attrs, b->n_attrs);
	for (i = 0; i < a->n_attrs; i++) {
		cr_assert_str_eq(a->attrs[i].key, b->attrs[i].key);
		cr_assert_str_eq(a->attrs[i].value, b->attrs[i].value,
				 "%s: %s vs %s", a->attrs[i].key,
				 a->attrs[i].value, b->attrs[i].value);
		cr_assert_eq(a->attrs[i].type, b->attrs[i].type);
	}
	cr_assert_eq(a->n_events, b->n_events);
	for (i = 0; i < a->n_events; i++) {
		cr_assert_str_eq(a->events[i].name, b->events[i].name);
		cr_assert_eq(a->events[i].time_ns, b->events[i].time_ns);
		cr_assert_eq(a->events[i].n_attrs, b->events[i].n_attrs);
		for (j = 0; j < a->events[i].n_attrs; j++) {
			cr_assert_str_eq(a->events[i].attrs[j].key,
					 b->events[i].attrs[j].key);
			cr_assert_str_eq(a->events[i].attrs[j].value,
					 b->events[i].attrs[j].value);
			cr_assert_eq(a->events[i].attrs[j].type,
				     b->events[i].attrs[j].type);
		}
	}
}

Test(traces, json_round_trip)
{
	at_otlp_request *r = rich_request();
	struct at_traces *a = at_traces_new(), *b = at_traces_new();
	char *js = json_of(r);
	size_t i;

	at_traces_add_request(a, r);
	cr_assert_eq(at_traces_add_json(b, js, strlen(js)), 0, "%s", js);
	cr_assert_eq(a->n_all, 3);
	cr_assert_eq(b->n_all, 3);
	for (i = 0; i < a->n_all; i++)
		expect_same_span(a->all[i], b->all[i]);
	/* a few literal checks of the form */
	cr_assert_not_null(strstr(js, "\"traceId\":\"00000000000000000000000000000007\""));
	cr_assert_not_null(strstr(js, "\"intValue\":\"500\""));
	cr_assert_not_null(strstr(js, "\"startTimeUnixNano\":\"1700000000000000000\""));
	cr_assert_not_null(strstr(js, "\"status\":{\"code\":2,\"message\":"));
	cr_assert_not_null(strstr(js, "\\u0001"));
	cr_assert_not_null(strstr(js, "caf\xc3\xa9 \xef\xbf\xbd bad"));
	cr_assert_not_null(strstr(js, "\"scope\":{\"name\":\"autotrace\",\"version\":\"1.2.3\"}"));
	cr_assert_null(strstr(js, "\"parentSpanId\":\"\""));
	cr_assert_null(strstr(js, "\"kind\":0"));
	/* the invalid byte became U+FFFD on both sides' view */
	cr_assert_not_null(strstr(b->all[0]->attrs[5].value, "\xef\xbf\xbd"));
	at_traces_build(a);
	at_traces_build(b);
	cr_assert_eq(a->n_traces, 1);
	cr_assert_eq(b->n_traces, 1);
	cr_assert_eq(b->traces[0].has_error, 1);
	free(js);
	at_traces_free(a);
	at_traces_free(b);
	req_free(r);
}

Test(traces, json_variants)
{
	struct at_traces *t = at_traces_new();
	const char *ok =
		"{\"resourceSpans\":[{\"resource\":{\"attributes\":[{\"key\":"
		"\"service.name\",\"value\":{\"stringValue\":\"s\\u00e9\"}}]},"
		"\"scopeSpans\":[{\"spans\":[{\"traceId\":\"AAAAAAAAAAAAAAAAAAAAAQ==\","
		"\"spanId\":\"000000000000000A\",\"name\":\"x\",\"kind\":"
		"\"SPAN_KIND_CLIENT\",\"startTimeUnixNano\":1700000000000000000,"
		"\"endTimeUnixNano\":\"1700000000000001000\",\"attributes\":["
		"{\"key\":\"i\",\"value\":{\"intValue\":7}},{\"key\":\"d\","
		"\"value\":{\"doubleValue\":1.5}},{\"key\":\"arr\",\"value\":"
		"{\"arrayValue\":{\"values\":[{\"intValue\":\"1\"},"
		"{\"stringValue\":\"b\"}]}}}],\"status\":{\"code\":"
		"\"STATUS_CODE_ERROR\",\"message\":\"\\ud83d\\ude00\"},"
		"\"unknownField\":[1,{\"a\":null}]}]}]}]}";
	const char *bad[] = {
		"", "{", "[]", "{\"resourceSpans\":{}}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"traceId\":\"zz\"}]}]}]}",
		"{\"resourceSpans\":[]} x",
		"{\"a\":\"unterminated}",
		"{\"resourceSpans\":[{\"scopeSpans\":[{\"spans\":[{\"name\":\"ok\"},"
		"{\"kind\":\"SPAN_KIND_BOGUS\"}]}]}]}",
	};
	struct at_tv_span *s;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(at_traces_add_json(t, bad[i], strlen(bad[i])), -1,
			     "accepted: %s", bad[i]);
	cr_assert_eq(t->n_all, 0, "nothing added by bad lines");
	cr_assert_eq(at_traces_add_json(t, "{}", 2), 0);
	cr_assert_eq(at_traces_add_json(t, ok, strlen(ok)), 0);
	cr_assert_eq(t->n_all, 1);
	s = t->all[0];
	cr_assert_eq(s->trace_id[15], 1);
	cr_assert_eq(s->span_id[7], 10);
	cr_assert_eq(s->has_parent, 0);
	cr_assert_eq(s->kind, 3);
	cr_assert_eq(s->start_ns, BASE_NS);
	cr_assert_eq(at_tv_dur(s), 1000);
	cr_assert_str_eq(s->service, "s\xc3\xa9");
	cr_assert_str_eq(at_tv_attr(s, "i"), "7");
	cr_assert_eq(s->attrs[0].type, AT_TV_INT);
	cr_assert_str_eq(at_tv_attr(s, "d"), "1.5");
	cr_assert_eq(s->attrs[1].type, AT_TV_DOUBLE);
	cr_assert_str_eq(at_tv_attr(s, "arr"), "[1, b]");
	cr_assert_eq(s->status, 2);
	cr_assert_str_eq(s->status_msg, "\xf0\x9f\x98\x80");
	at_traces_free(t);
}

/* The official protobufjs code accepts every line, unchanged. */
static const char *const node_check =
	"const fs = require('fs');\n"
	"const root = require(process.cwd() + '/build/node/node_modules/"
	"@opentelemetry/otlp-transformer/build/src/generated/root.js');\n"
	"const T = root.opentelemetry.proto.collector.trace.v1"
	".ExportTraceServiceRequest;\n"
	"const ID = ['traceId', 'spanId', 'parentSpanId'];\n"
	"function ids(o, f) {\n"
	"  if (Array.isArray(o)) return o.map(x => ids(x, f));\n"
	"  if (o === null || typeof o !== 'object') return o;\n"
	"  const r = {};\n"
	"  for (const k of Object.keys(o)) r[k] = ID.includes(k) &&"
	" typeof o[k] === 'string' ? f(o[k]) : ids(o[k], f);\n"
	"  return r;\n"
	"}\n"
	"function canon(o) {\n"
	"  if (Array.isArray(o)) return o.map(canon);\n"
	"  if (o === null || typeof o !== 'object') return o;\n"
	"  const r = {};\n"
	"  for (const k of Object.keys(o).sort()) r[k] = canon(o[k]);\n"
	"  return r;\n"
	"}\n"
	"const lines = fs.readFileSync(process.argv[2], 'utf8')"
	".split('\\n').filter(l => l.length);\n"
	"if (!lines.length) throw new Error('no lines');\n"
	"for (const line of lines) {\n"
	"  const obj = JSON.parse(line);\n"
	"  const msg = T.fromObject(ids(obj, h => {\n"
	"    if (!/^([0-9a-f]{2})+$/.test(h)) throw new Error('bad hex ' + h);\n"
	"    return Buffer.from(h, 'hex'); }));\n"
	"  const err = T.verify(msg);\n"
	"  if (err) throw new Error('verify: ' + err);\n"
	"  const back = T.toObject(T.decode(T.encode(msg).finish()),"
	" {longs: String, enums: Number, bytes: String});\n"
	"  const a = JSON.stringify(canon(ids(back, b => "
	"Buffer.from(b, 'base64').toString('hex'))));\n"
	"  const b = JSON.stringify(canon(obj));\n"
	"  if (a !== b) throw new Error('differs:\\n' + a + '\\n' + b);\n"
	"}\n"
	"console.log('ok ' + lines.length);\n";

#define ROOT_JS "build/node/node_modules/@opentelemetry/otlp-transformer/" \
		"build/src/generated/root.js"

Test(traces, json_official_decoder)
{
	char dir[] = "/tmp/at-traces-XXXXXX";
	char data[64], script[64], cmd[256];
	at_otlp_request *r;
	FILE *f;
	int rc;

	if (system("command -v node >/dev/null 2>&1") != 0)
		cr_skip_test("node is not installed");
	if (access(ROOT_JS, R_OK) != 0)
		cr_skip_test("@opentelemetry/otlp-transformer is not installed "
			     "(scripts/setup-node-decoder.sh)");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(data, sizeof(data), "%s/req.jsonl", dir);
	snprintf(script, sizeof(script), "%s/check.js", dir);
	f = fopen(script, "w");
	cr_assert_not_null(f);
	fputs(node_check, f);
	cr_assert_eq(fclose(f), 0);
	f = fopen(data, "w");
	cr_assert_not_null(f);
	r = rich_request();
	cr_assert_eq(at_otlpjson_write(f, r), 0);
	req_free(r);
	r = req_new();
	add_span(r, 1, 1, 0, "root", 2, 0, 100);
	add_db(r, 1, 2, 1, "SELECT 1", 10, 20);
	cr_assert_eq(at_otlpjson_write(f, r), 0);
	req_free(r);
	r = req_new();
	cr_assert_eq(at_otlpjson_write(f, r), 0); /* empty request */
	req_free(r);
	cr_assert_eq(fclose(f), 0);
	snprintf(cmd, sizeof(cmd), "node %s %s >%s/out 2>&1", script, data,
		 dir);
	rc = system(cmd);
	if (rc != 0) {
		char out[4096] = "";
		size_t n;

		snprintf(cmd, sizeof(cmd), "%s/out", dir);
		f = fopen(cmd, "r");
		if (f) {
			n = fread(out, 1, sizeof(out) - 1, f);
			out[n] = '\0';
			fclose(f);
		}
		cr_assert_fail("node check failed (%d): %s", rc, out);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	rc = system(cmd);
	(void)rc;
}

/* ---- the terminal view ---- */

static at_otlp_request *view_request(void)
{
	at_otlp_request *r = req_new();
	at_otlp_span *s;
	unsigned i;

	add_resource(r, "shop");
	s = add_span(r, 1, 1, 0, "GET /items", 2, 0, 100000);
	add_attr(s, kv_str("http.request.method", "GET"));
	add_attr(s, kv_str("url.path", "/items"));
	add_attr(s, kv_int("http.response.status_code", 200));
	add_span(r, 1, 2, 1, "load", 1, 1000, 60000);
	for (i = 0; i < 5; i++)
		add_db(r, 1, 10 + i, 2, "SELECT ? FROM items WHERE id = ?",
		       2000 + i * 10000, 10000 + i * 10000);
	s = add_http(r, 1, 3, 1, "pay.example", "http://pay.example/charge",
		     61000, 99000);
	set_status(s, 2, "connection refused");
	return r;
}

Test(traces, render_full)
{
	at_otlp_request *r = view_request();
	struct at_traces *t = build_from(r);
	struct at_render_opts o = { .width = 120, .max_full = 5 };
	char *out = render(t, &o), *again = render(t, &o);
	char *line, *save = NULL, *copy;
	size_t n_lines = 0;

	cr_assert_str_eq(out, again, "same output twice");
	cr_assert_not_null(strstr(out, "trace 00000000000000000000000000000001"
				  "  shop GET /items -> 200  100 ms  8 spans  "
				  "1 error\n"), "%s", out);
	cr_assert(strncmp(out, "marks: ! error", 14) == 0, "legend: %s", out);
	/* tree: root, then children indented by two per level; operations,
	 * no repeated method or kind */
	cr_assert_not_null(strstr(out, "\n  shop: GET /items  -> 200  "), "%s",
			   out);
	cr_assert_not_null(strstr(out, "\n    load  "), "%s", out);
	cr_assert_not_null(strstr(out, "\n      SELECT items  "
				  "SELECT ? FROM items WHERE id = ? rows=1"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "\n!   GET /charge  pay.example -> 200"),
			   "%s", out);
	cr_assert_null(strstr(out, " client "), "%s", out);
	cr_assert_not_null(strstr(out, "error: connection refused\n"), "%s",
			   out);
	cr_assert_not_null(strstr(out, "  ~ N+1 [40.0 ms]: SELECT ? FROM items "
				  "WHERE id = ? ran 5 times in a row under load "
				  "(shop), 40.0 ms total\n"), "%s", out);
	cr_assert_not_null(strstr(out, "  100 ms |##############################|"),
			   "%s", out);
	cr_assert_not_null(strstr(out, "8.00 ms |"), "%s", out);
	cr_assert_not_null(strstr(out, "|                  !!!!!!!!!!!!|"),
			   "%s", out);
	cr_assert_null(strstr(out, "\033["), "no colours");
	/* every span line is exactly the width */
	copy = strdup(out);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (line[strlen(line) - 1] == '|') {
			cr_assert_eq(strlen(line), 120, "[%s]", line);
			n_lines++;
		}
	}
	cr_assert_eq(n_lines, 8);
	free(copy);
	free(out);
	free(again);

	/* narrower: the query is cut, rows=N stays */
	o.width = 100;
	out = render(t, &o);
	cr_assert_not_null(strstr(out, "  SELECT ? FROM items WHERE i... rows=1"
				  "   8.00 ms |"), "%s", out);
	/* a finding is wrapped, never cut: every word of it is there, no
	 * line is wider than the width */
	cr_assert_not_null(strstr(out, "(shop), 40.0 ms\n"), "%s", out);
	cr_assert_not_null(strstr(out, "\n                   total\n"), "%s",
			   out);
	copy = strdup(out);
	for (line = strtok_r(copy, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save))
		if (strncmp(line, "marks:", 6) != 0)
			cr_assert(strlen(line) <= 100, "[%s]", line);
	free(copy);
	free(out);

	o.color = 1;
	out = render(t, &o);
	cr_assert_not_null(strstr(out, "\033[31m"));
	cr_assert_not_null(strstr(out, "\033[33m  ~ N+1"), "%s", out);
	free(out);
	at_traces_free(t);
	req_free(r);
}

/* ---- the terminal ---- */

static char *wrap(const char *prefix, const char *text, int width)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	cr_assert_not_null(f);
	at_render_wrap(f, prefix, text, width);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

Test(traces, wrap_never_cuts)
{
	char *out;

	out = wrap("  ~ x: ", "one two three four five six", 20);
	cr_assert_str_eq(out, "  ~ x: one two three\n"
			 "       four five six\n");
	free(out);
	/* a word longer than a line is split, not cut */
	out = wrap("> ", "abcdefghijklmnopqrstuvwxyz0123456789 end", 20);
	cr_assert_str_eq(out, "> abcdefghijklmnopqr\n"
			 "  stuvwxyz0123456789\n  end\n", "%s", out);
	free(out);
	/* fits: one line, inner spaces kept */
	out = wrap("", "a  b", 80);
	cr_assert_str_eq(out, "a  b\n");
	free(out);
	/* code points, not bytes */
	out = wrap("", "caf\xc3\xa9 caf\xc3\xa9 caf\xc3\xa9", 11);
	cr_assert_str_eq(out, "caf\xc3\xa9 caf\xc3\xa9\ncaf\xc3\xa9\n", "%s",
			 out);
	free(out);
}

Test(traces, terminal_width)
{
	int fds[2], m;
	struct winsize ws = { .ws_row = 30, .ws_col = 137 };

	cr_assert_eq(pipe(fds), 0);
	/* not a terminal: COLUMNS, else 100 */
	cr_assert_eq(at_render_term_width(fds[1], "123"), 123);
	cr_assert_eq(at_render_term_width(fds[1], NULL), 100);
	cr_assert_eq(at_render_term_width(fds[1], ""), 100);
	cr_assert_eq(at_render_term_width(fds[1], "abc"), 100);
	cr_assert_eq(at_render_term_width(fds[1], "12"), 40);
	cr_assert_eq(at_render_want_color(fds[1], NULL), 0);
	close(fds[0]);
	close(fds[1]);
	/* a terminal: its size wins over COLUMNS */
	m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0)
		cr_skip_test("no pseudo-terminal");
	cr_assert_eq(grantpt(m), 0);
	cr_assert_eq(unlockpt(m), 0);
	{
		int sfd = open(ptsname(m), O_RDWR | O_NOCTTY);

		cr_assert(sfd >= 0);
		cr_assert_eq(ioctl(sfd, TIOCSWINSZ, &ws), 0);
		cr_assert_eq(at_render_term_width(sfd, "80"), 137);
		cr_assert_eq(at_render_want_color(sfd, NULL), 1);
		cr_assert_eq(at_render_want_color(sfd, ""), 1);
		cr_assert_eq(at_render_want_color(sfd, "1"), 0);
		close(sfd);
	}
	close(m);
}

Test(traces, render_narrow_and_long_text)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	struct at_render_opts o = { .width = 60 };
	char q[600];
	char *out;

	memset(q, 'x', sizeof(q) - 1);
	q[sizeof(q) - 1] = '\0';
	memcpy(q, "SELECT caf\xc3\xa9 ", 12);
	add_span(r, 1, 1, 0, "root", 2, 0, 100);
	add_db(r, 1, 2, 1, q, 10, 20);
	t = build_from(r);
	out = render(t, &o);
	cr_assert_not_null(strstr(out, "..."), "%s", out);
	cr_assert_not_null(strstr(out, "caf\xc3\xa9"), "%s", out);
	free(out);
	o.width = 0; /* default */
	out = render(t, &o);
	cr_assert_not_null(strstr(out, "..."), "%s", out);
	free(out);
	at_traces_free(t);
	req_free(r);
}

Test(traces, render_many)
{
	at_otlp_request *r = req_new();
	struct at_traces *t;
	struct at_render_opts o = { .width = 100, .max_full = 2 };
	char *out, *again;
	unsigned i;

	add_resource(r, "api");
	for (i = 1; i <= 10; i++) {
		at_otlp_span *s = add_span(r, i, i, 0, "GET", 2,
					   i * 1000, i * 1000 + i * 10);

		add_attr(s, kv_str("http.request.method", "GET"));
		add_attr(s, kv_str("url.path", i % 2 ? "/a" : "/b"));
		if (i == 3)
			set_status(s, 2, "bad");
	}
	add_span(r, 11, 11, 0, "tiny", 2, 50000, 50001);
	t = build_from(r);
	cr_assert_eq(t->n_traces, 11);
	o.min_duration_ns = 5000;
	out = render(t, &o);
	again = render(t, &o);
	cr_assert_str_eq(out, again);
	cr_assert_not_null(strstr(out, "10 traces (1 shorter than 5.00 us "
				  "hidden)"), "%s", out);
	cr_assert_not_null(strstr(out, "endpoint"), "%s", out);
	/* GET /a: 10 30 50 70 90 us, 1 error of 5 */
	cr_assert(strstr(out, "api GET /a") != NULL, "%s", out);
	cr_assert_not_null(strstr(out, "      5   20.0%   50.0 us   90.0 us "
				  "  90.0 us     0.0\n"), "%s", out);
	cr_assert_not_null(strstr(out, "      5    0.0%   60.0 us    100 us "
				  "   100 us     0.0\n"), "%s", out);
	cr_assert_null(strstr(out, "tiny"), "%s", out);
	/* the trace list: path and status of each */
	cr_assert_not_null(strstr(out, "the traces:\n  00000000  api GET /a  "
				  "10.0 us  1 span\n"), "%s", out);
	cr_assert_not_null(strstr(out, "\n  00000000  api GET /a  30.0 us  1 "
				  "span  1 error  ~ error\n"), "%s", out);
	/* the slowest two in full, slowest first */
	cr_assert_not_null(strstr(out, "trace 0000000000000000000000000000000a"),
			   "%s", out);
	cr_assert(strstr(out, "trace 0000000000000000000000000000000a") <
		  strstr(out, "trace 00000000000000000000000000000009"));
	cr_assert_null(strstr(out, "trace 00000000000000000000000000000008"));
	free(out);
	free(again);

	o.min_duration_ns = 1000000000;
	out = render(t, &o);
	cr_assert_str_eq(out, "no traces (11 shorter than 1.00 s hidden)\n");
	free(out);
	at_traces_free(t);
	req_free(r);

	t = at_traces_new();
	at_traces_build(t);
	out = render(t, &o);
	cr_assert_str_eq(out, "no traces\n");
	free(out);
	at_traces_free(t);
}
