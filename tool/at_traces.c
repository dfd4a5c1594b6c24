/*
 * at_traces.c - the trace model of the autotrace command: spans in,
 * linked trace trees out (see at_traces.h).
 *
 * Spans arrive as decoded OTLP requests (at_traces_add_request, here) or
 * as lines of OTLP-JSON (at_traces_add_json, at_otlpjson_read.c) and are
 * copied into flat struct at_tv_span records that own all their strings.
 * Attribute values are kept in a printable form with their type, which
 * is all the views need; strings are made valid UTF-8 on the way in.
 *
 * at_traces_build() sorts a copy of the span list by (trace id, start,
 * span id), so that every trace is one run of that array and its spans
 * are already in start order.  Parents are found by binary search over
 * the trace's spans sorted by span id; a span whose parent is not in the
 * set is a root of its trace (an orphan).  Children are appended in start
 * order (a span whose announced parent is absent is marked
 * missing_parent).  A walk from the roots sets the depths; spans it cannot reach
 * are in a parent cycle (bad input), and the earliest of them is cut
 * loose and made a root until every span is reached.  The critical path
 * runs from each root down through the child that ends last.  Then the
 * endpoints table of the whole set (at_endpoints.c) and the findings of
 * each trace, which need it (at_findings.c).
 *
 * Tool-only: memory is allocated freely and an allocation failure aborts.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_traces.h"
#include "at_xalloc.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_sspans;

#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/* ---- printable forms ---- */

void at_tv_fmt_dur(uint64_t ns, char *out, size_t cap)
{
	static const char *const units[] = { "us", "ms", "s" };
	double v = (double)ns;
	int u = -1;

	if (!cap)
		return;
	if (ns < 1000) {
		snprintf(out, cap, "%" PRIu64 " ns", ns);
		return;
	}
	while (v >= 1000.0 && u < 2) {
		v /= 1000.0;
		u++;
	}
	if (u == 2 && v >= 60.0) {
		uint64_t sec = ns / 1000000000ULL;

		snprintf(out, cap, "%" PRIu64 "m%02" PRIu64 "s", sec / 60,
			 sec % 60);
		return;
	}
	if (v < 9.995)
		snprintf(out, cap, "%.2f %s", v, units[u]);
	else if (v < 99.95)
		snprintf(out, cap, "%.1f %s", v, units[u]);
	else
		snprintf(out, cap, "%.0f %s", v, units[u]);
}

const char *at_tv_attr(const struct at_tv_span *s, const char *key)
{
	size_t i;

	for (i = 0; i < s->n_attrs; i++)
		if (strcmp(s->attrs[i].key, key) == 0)
			return s->attrs[i].value;
	return NULL;
}

/* Shortest "%g" form that reads back as the same double. */
void at_tv_fmt_double(double d, char *out, size_t cap)
{
	int prec;

	if (isnan(d)) {
		snprintf(out, cap, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, cap, d > 0 ? "Infinity" : "-Infinity");
		return;
	}
	for (prec = 15; prec <= 17; prec++) {
		snprintf(out, cap, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

static void attr_free(struct at_tv_attr *a, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(a[i].key);
		free(a[i].value);
	}
	free(a);
}

void at_tv_span_free(struct at_tv_span *s)
{
	size_t i;

	if (!s)
		return;
	free(s->name);
	free(s->status_msg);
	free(s->service);
	attr_free(s->attrs, s->n_attrs);
	attr_free(s->res_attrs, s->n_res_attrs);
	for (i = 0; i < s->n_events; i++) {
		free(s->events[i].name);
		attr_free(s->events[i].attrs, s->events[i].n_attrs);
	}
	free(s->events);
	free(s->children);
	free(s);
}

void at_traces_push(struct at_traces *t, struct at_tv_span *s)
{
	if (t->n_all == t->cap_all) {
		t->cap_all = t->cap_all ? t->cap_all * 2 : 64;
		t->all = at_xrealloc(t->all, t->cap_all * sizeof(*t->all));
	}
	t->all[t->n_all++] = s;
}

static void clear_built(struct at_traces *t)
{
	size_t i, j;

	for (i = 0; i < t->n_traces; i++) {
		struct at_tv_trace *tr = &t->traces[i];

		for (j = 0; j < tr->n_findings; j++) {
			free(tr->findings[j].spans);
			free(tr->findings[j].text);
			free(tr->findings[j].fix);
		}
		free(tr->findings);
		free(tr->spans);
		free(tr->roots);
	}
	free(t->traces);
	t->traces = NULL;
	t->n_traces = 0;
	at_tv_endpoints_free(t);
}

struct at_traces *at_traces_new(void)
{
	return at_xcalloc(1, sizeof(struct at_traces));
}

void at_traces_free(struct at_traces *t)
{
	size_t i;

	if (!t)
		return;
	clear_built(t);
	for (i = 0; i < t->n_all; i++)
		at_tv_span_free(t->all[i]);
	free(t->all);
	free(t);
}

/* ---- from decoded protobuf ---- */

static void any_to_text(const pb_any *v, struct at_buf *b,
			enum at_tv_type *type);

static void kvs_to_text(at_otlp_kv *const *kv, size_t n, struct at_buf *b)
{
	enum at_tv_type ty;
	size_t i;

	at_xbuf_str(b, "{");
	for (i = 0; i < n; i++) {
		if (i)
			at_xbuf_str(b, ", ");
		at_xbuf_str(b, kv[i]->key ? kv[i]->key : "");
		at_xbuf_str(b, "=");
		any_to_text(kv[i]->value, b, &ty);
	}
	at_xbuf_str(b, "}");
}

static void any_to_text(const pb_any *v, struct at_buf *b,
			enum at_tv_type *type)
{
	char num[64];
	size_t i;

	*type = AT_TV_STRING;
	if (!v) {
		at_xbuf_str(b, "");
		return;
	}
	switch (v->value_case) {
	case AV(STRING_VALUE):
		at_xbuf_str(b, v->string_value ? v->string_value : "");
		break;
	case AV(BOOL_VALUE):
		*type = AT_TV_BOOL;
		at_xbuf_str(b, v->bool_value ? "true" : "false");
		break;
	case AV(INT_VALUE):
		*type = AT_TV_INT;
		at_xbuf_printf(b, "%" PRId64, v->int_value);
		break;
	case AV(DOUBLE_VALUE):
		*type = AT_TV_DOUBLE;
		at_tv_fmt_double(v->double_value, num, sizeof(num));
		at_xbuf_str(b, num);
		break;
	case AV(ARRAY_VALUE):
		at_xbuf_str(b, "[");
		for (i = 0; v->array_value && i < v->array_value->n_values;
		     i++) {
			enum at_tv_type ty;

			if (i)
				at_xbuf_str(b, ", ");
			any_to_text(v->array_value->values[i], b, &ty);
		}
		at_xbuf_str(b, "]");
		break;
	case AV(KVLIST_VALUE):
		if (v->kvlist_value)
			kvs_to_text(v->kvlist_value->values,
				    v->kvlist_value->n_values, b);
		else
			at_xbuf_str(b, "{}");
		break;
	case AV(BYTES_VALUE):
		at_xbuf_str(b, "0x");
		for (i = 0; i < v->bytes_value.len; i++)
			at_xbuf_printf(b, "%02x", v->bytes_value.data[i]);
		break;
	default:
		at_xbuf_str(b, "");
		break;
	}
}

static struct at_tv_attr *copy_attrs(at_otlp_kv *const *kv, size_t n)
{
	struct at_tv_attr *a = at_xcalloc(n, sizeof(*a));
	size_t i;

	for (i = 0; i < n; i++) {
		struct at_buf b = { 0 };

		a[i].key = at_xstrdup_utf8(kv[i]->key);
		any_to_text(kv[i]->value, &b, &a[i].type);
		a[i].value = at_xstrdup_utf8(at_xbuf_cstr(&b));
		at_buf_free(&b);
	}
	return a;
}

int at_tv_id_nonzero(const uint8_t *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i])
			return 1;
	return 0;
}

static void copy_id(uint8_t *dst, size_t cap, const ProtobufCBinaryData *b)
{
	memset(dst, 0, cap);
	if (b->data && b->len)
		memcpy(dst, b->data, b->len < cap ? b->len : cap);
}

void at_traces_add_request(struct at_traces *t, const at_otlp_request *req)
{
	size_t i, j, k, e;

	if (!req)
		return;
	for (i = 0; i < req->n_resource_spans; i++) {
		const pb_rspans *rs = req->resource_spans[i];
		const char *svc = NULL;

		if (rs->resource)
			svc = at_rx_attr_str(rs->resource->attributes,
					       rs->resource->n_attributes,
					       "service.name");
		for (j = 0; j < rs->n_scope_spans; j++) {
			const pb_sspans *ss = rs->scope_spans[j];

			for (k = 0; k < ss->n_spans; k++) {
				const at_otlp_span *p = ss->spans[k];
				struct at_tv_span *s = at_xcalloc(1, sizeof(*s));

				copy_id(s->trace_id, 16, &p->trace_id);
				copy_id(s->span_id, 8, &p->span_id);
				copy_id(s->parent_id, 8, &p->parent_span_id);
				s->has_parent = at_tv_id_nonzero(s->parent_id, 8);
				s->name = at_xstrdup_utf8(p->name);
				s->kind = (int)p->kind;
				s->start_ns = p->start_time_unix_nano;
				s->end_ns = p->end_time_unix_nano;
				s->status = p->status ? (int)p->status->code : 0;
				s->status_msg = at_xstrdup_utf8(p->status ?
							p->status->message : "");
				s->service = at_xstrdup_utf8(svc);
				s->attrs = copy_attrs(p->attributes,
						      p->n_attributes);
				s->n_attrs = p->n_attributes;
				if (rs->resource) {
					s->res_attrs = copy_attrs(
						rs->resource->attributes,
						rs->resource->n_attributes);
					s->n_res_attrs =
						rs->resource->n_attributes;
				}
				s->events = at_xcalloc(p->n_events,
						    sizeof(*s->events));
				s->n_events = p->n_events;
				for (e = 0; e < p->n_events; e++) {
					const pb_event *ev = p->events[e];
					struct at_tv_event *d = &s->events[e];

					d->name = at_xstrdup_utf8(ev->name);
					d->time_ns = ev->time_unix_nano;
					d->attrs = copy_attrs(ev->attributes,
							      ev->n_attributes);
					d->n_attrs = ev->n_attributes;
				}
				at_traces_push(t, s);
			}
		}
	}
}

/* ---- building traces ---- */

static int cmp_span_trace(const void *a, const void *b)
{
	const struct at_tv_span *x = *(struct at_tv_span *const *)a;
	const struct at_tv_span *y = *(struct at_tv_span *const *)b;
	int c = memcmp(x->trace_id, y->trace_id, 16);

	if (c)
		return c;
	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	if (x->end_ns != y->end_ns)
		return x->end_ns > y->end_ns ? -1 : 1; /* longer first */
	c = memcmp(x->span_id, y->span_id, 8);
	if (c)
		return c;
	return x < y ? -1 : x > y;
}

static int cmp_span_id(const void *a, const void *b)
{
	const struct at_tv_span *x = *(struct at_tv_span *const *)a;
	const struct at_tv_span *y = *(struct at_tv_span *const *)b;

	return memcmp(x->span_id, y->span_id, 8);
}

static int cmp_trace_start(const void *a, const void *b)
{
	const struct at_tv_trace *x = a, *y = b;

	if (x->start_ns != y->start_ns)
		return x->start_ns < y->start_ns ? -1 : 1;
	return memcmp(x->trace_id, y->trace_id, 16);
}

static struct at_tv_span *find_id(struct at_tv_span **byid, size_t n,
				  const uint8_t *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(byid[mid]->span_id, id, 8);

		if (c == 0)
			return byid[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void add_child(struct at_tv_span *p, struct at_tv_span *c)
{
	/* capacity: powers of two, derived from the count */
	if ((p->n_children & (p->n_children - 1)) == 0)
		p->children = at_xrealloc(p->children, (p->n_children ?
				       p->n_children * 2 : 1) *
				       sizeof(*p->children));
	p->children[p->n_children++] = c;
}

static void remove_child(struct at_tv_span *p, struct at_tv_span *c)
{
	size_t i;

	for (i = 0; i < p->n_children; i++) {
		if (p->children[i] == c) {
			memmove(&p->children[i], &p->children[i + 1],
				(p->n_children - i - 1) * sizeof(*p->children));
			p->n_children--;
			return;
		}
	}
}

/* Depths below root; marks visited spans with depth >= 0. */
static void walk_depths(struct at_tv_span *root, struct at_tv_span **stack)
{
	size_t sp = 0, i;

	root->depth = 0;
	stack[sp++] = root;
	while (sp) {
		struct at_tv_span *s = stack[--sp];

		for (i = 0; i < s->n_children; i++) {
			s->children[i]->depth = s->depth + 1;
			stack[sp++] = s->children[i];
		}
	}
}

static void build_trace(struct at_tv_trace *tr, struct at_tv_span **stack)
{
	struct at_tv_span **byid;
	size_t i, n = tr->n_spans;

	byid = at_xcalloc(n, sizeof(*byid));
	memcpy(byid, tr->spans, n * sizeof(*byid));
	qsort(byid, n, sizeof(*byid), cmp_span_id);
	tr->start_ns = tr->spans[0]->start_ns;
	tr->end_ns = tr->spans[0]->end_ns;
	tr->roots = at_xcalloc(n, sizeof(*tr->roots));
	for (i = 0; i < n; i++) {
		struct at_tv_span *s = tr->spans[i];
		struct at_tv_span *p = NULL;

		if (s->has_parent)
			p = find_id(byid, n, s->parent_id);
		if (p == s)
			p = NULL;
		s->parent = p;
		s->depth = -1;
		s->critical = 0;
		s->missing_parent = s->has_parent && !p &&
				    !find_id(byid, n, s->parent_id);
		tr->missing_parents += s->missing_parent;
		if (p)
			add_child(p, s);
		else
			tr->roots[tr->n_roots++] = s;
		if (s->start_ns < tr->start_ns)
			tr->start_ns = s->start_ns;
		if (s->end_ns > tr->end_ns)
			tr->end_ns = s->end_ns;
		if (s->status == 2)
			tr->has_error = 1;
	}
	free(byid);
	for (i = 0; i < tr->n_roots; i++)
		walk_depths(tr->roots[i], stack);
	/* parent cycles: cut the earliest unreached span loose */
	for (i = 0; i < n; i++) {
		struct at_tv_span *s = tr->spans[i], *x;
		size_t r, k;

		while (s->depth < 0) {
			/* n steps up from s end inside the cycle */
			for (x = s, k = 0; k < n; k++)
				x = x->parent;
			remove_child(x->parent, x);
			x->parent = NULL;
			/* keep roots in start order */
			for (r = tr->n_roots; r > 0 &&
			     cmp_span_trace(&tr->roots[r - 1], &x) > 0; r--)
				tr->roots[r] = tr->roots[r - 1];
			tr->roots[r] = x;
			tr->n_roots++;
			walk_depths(x, stack);
		}
	}
	/* critical path */
	for (i = 0; i < tr->n_roots; i++) {
		struct at_tv_span *s = tr->roots[i];

		for (;;) {
			struct at_tv_span *next = NULL;
			size_t c;

			s->critical = 1;
			for (c = 0; c < s->n_children; c++)
				if (!next || s->children[c]->end_ns >
					     next->end_ns)
					next = s->children[c];
			if (!next)
				break;
			s = next;
		}
	}
}

void at_traces_build(struct at_traces *t)
{
	struct at_tv_span **sorted, **stack;
	size_t i, j;

	clear_built(t);
	for (i = 0; i < t->n_all; i++) {
		free(t->all[i]->children);
		t->all[i]->children = NULL;
		t->all[i]->n_children = 0;
		t->all[i]->parent = NULL;
	}
	if (!t->n_all)
		return;
	sorted = at_xcalloc(t->n_all, sizeof(*sorted));
	memcpy(sorted, t->all, t->n_all * sizeof(*sorted));
	qsort(sorted, t->n_all, sizeof(*sorted), cmp_span_trace);
	stack = at_xcalloc(t->n_all, sizeof(*stack));
	t->traces = at_xcalloc(t->n_all, sizeof(*t->traces));
	for (i = 0; i < t->n_all; i = j) {
		struct at_tv_trace *tr = &t->traces[t->n_traces++];

		for (j = i + 1; j < t->n_all &&
		     memcmp(sorted[i]->trace_id, sorted[j]->trace_id, 16) == 0;
		     j++)
			;
		memcpy(tr->trace_id, sorted[i]->trace_id, 16);
		tr->n_spans = j - i;
		tr->spans = at_xcalloc(tr->n_spans, sizeof(*tr->spans));
		memcpy(tr->spans, sorted + i, tr->n_spans * sizeof(*tr->spans));
		build_trace(tr, stack);
	}
	free(stack);
	free(sorted);
	qsort(t->traces, t->n_traces, sizeof(*t->traces), cmp_trace_start);
	at_tv_endpoints_build(t);
	for (i = 0; i < t->n_traces; i++)
		at_tv_find(t, &t->traces[i]);
}

void at_traces_drop_trace(struct at_traces *t, const uint8_t id[16])
{
	size_t i, k = 0;

	clear_built(t);
	for (i = 0; i < t->n_all; i++) {
		if (memcmp(t->all[i]->trace_id, id, 16) == 0) {
			at_tv_span_free(t->all[i]);
			continue;
		}
		t->all[k++] = t->all[i];
	}
	t->n_all = k;
}
