/*
 * at_traces.c - the trace model of the autotrace command.
 *
 * Spans arrive as decoded OTLP requests (at_traces_add_request) or as
 * lines of OTLP-JSON (at_traces_add_json) and are copied into flat
 * struct at_tv_span records that own all their strings.  Attribute values
 * are kept in a printable form with their type, which is all the views
 * need.
 *
 * at_traces_build() sorts a copy of the span list by (trace id, start,
 * span id), so that every trace is one run of that array and its spans
 * are already in start order.  Parents are found by binary search over
 * the trace's spans sorted by span id; a span whose parent is not in the
 * set is a root of its trace (an orphan).  Children are appended in start
 * order.  A walk from the roots sets the depths; spans it cannot reach
 * are in a parent cycle (bad input), and the earliest of them is cut
 * loose and made a root until every span is reached.  The critical path
 * runs from each root down through the child that ends last.
 *
 * Findings are computed per parent over its children:
 *  - N+1: >= 3 children with the same signature (the query text, else
 *    method + URL without its query string, else the span name);
 *  - sequential: >= 3 CLIENT children to the same server.address (and
 *    not part of an N+1 group) of which each starts after the previous
 *    one ended;
 *  - dominant: a non-root span longer than half the trace, reported only
 *    at the deepest level (a dominant span none of whose children is
 *    dominant), so that one slow call is not reported once per ancestor.
 *
 * The OTLP-JSON side has its own small JSON parser (building a tree of
 * values, with a depth limit) and a writer of the OpenTelemetry
 * Collector file exporter's form: proto3 JSON mapping with hex ids,
 * int64 as decimal strings, enums as integers, default values omitted.
 *
 * Tool-only: memory is allocated freely and an allocation failure aborts.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_ascii.h"
#include "at_traces.h"

typedef Opentelemetry__Proto__Common__V1__AnyValue pb_any;
typedef Opentelemetry__Proto__Trace__V1__Span__Event pb_event;
typedef Opentelemetry__Proto__Trace__V1__Span__Link pb_link;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans pb_rspans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans pb_sspans;

#define AV(x) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##x

/* ---- allocation ---- */

static void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p) {
		fputs("autotrace: out of memory\n", stderr);
		abort();
	}
	return p;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p) {
		fputs("autotrace: out of memory\n", stderr);
		abort();
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p) {
		fputs("autotrace: out of memory\n", stderr);
		abort();
	}
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = xmalloc(n + 1);

	memcpy(d, s, n);
	d[n] = '\0';
	return d;
}

static char *xstrdup(const char *s)
{
	return xstrndup(s ? s : "", s ? strlen(s) : 0);
}

/* A growable string. */
struct sbuf {
	char *p;
	size_t len, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static __attribute__((format(printf, 2, 3)))
void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n < sizeof(tmp)) {
		sb_add(b, tmp, (size_t)n);
		return;
	}
	{
		char *big = xmalloc((size_t)n + 1);

		va_start(ap, fmt);
		vsnprintf(big, (size_t)n + 1, fmt, ap);
		va_end(ap);
		sb_add(b, big, (size_t)n);
		free(big);
	}
}

static char *sb_take(struct sbuf *b)
{
	char *p = b->p ? b->p : xstrdup("");

	b->p = NULL;
	b->len = b->cap = 0;
	return p;
}

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p (NUL-terminated), 0 if none. */
static size_t utf8_len(const unsigned char *p)
{
	unsigned cp;
	size_t n, i;

	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp < 0xe000))) ||
	    (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return n;
}

/* A copy of s with every invalid UTF-8 byte replaced by U+FFFD. */
static char *xstrdup_utf8(const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	struct sbuf b = { 0 };
	size_t n;

	sb_add(&b, "", 0);
	while (*p) {
		n = utf8_len(p);
		if (n) {
			sb_add(&b, (const char *)p, n);
			p += n;
		} else {
			sb_add(&b, "\xef\xbf\xbd", 3);
			p++;
		}
	}
	return sb_take(&b);
}

/* ---- small helpers ---- */

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
static void fmt_double(double d, char *out, size_t cap)
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

static void span_free(struct at_tv_span *s)
{
	size_t i;

	if (!s)
		return;
	free(s->name);
	free(s->status_msg);
	free(s->service);
	attr_free(s->attrs, s->n_attrs);
	for (i = 0; i < s->n_events; i++) {
		free(s->events[i].name);
		attr_free(s->events[i].attrs, s->events[i].n_attrs);
	}
	free(s->events);
	free(s->children);
	free(s);
}

static void push_span(struct at_traces *t, struct at_tv_span *s)
{
	if (t->n_all == t->cap_all) {
		t->cap_all = t->cap_all ? t->cap_all * 2 : 64;
		t->all = xrealloc(t->all, t->cap_all * sizeof(*t->all));
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
		}
		free(tr->findings);
		free(tr->spans);
		free(tr->roots);
	}
	free(t->traces);
	t->traces = NULL;
	t->n_traces = 0;
}

struct at_traces *at_traces_new(void)
{
	return xcalloc(1, sizeof(struct at_traces));
}

void at_traces_free(struct at_traces *t)
{
	size_t i;

	if (!t)
		return;
	clear_built(t);
	for (i = 0; i < t->n_all; i++)
		span_free(t->all[i]);
	free(t->all);
	free(t);
}

/* ---- from decoded protobuf ---- */

static void any_to_text(const pb_any *v, struct sbuf *b, enum at_tv_type *type);

static void kvs_to_text(at_otlp_kv *const *kv, size_t n, struct sbuf *b)
{
	enum at_tv_type ty;
	size_t i;

	sb_str(b, "{");
	for (i = 0; i < n; i++) {
		if (i)
			sb_str(b, ", ");
		sb_str(b, kv[i]->key ? kv[i]->key : "");
		sb_str(b, "=");
		any_to_text(kv[i]->value, b, &ty);
	}
	sb_str(b, "}");
}

static void any_to_text(const pb_any *v, struct sbuf *b, enum at_tv_type *type)
{
	char num[64];
	size_t i;

	*type = AT_TV_STRING;
	if (!v) {
		sb_str(b, "");
		return;
	}
	switch (v->value_case) {
	case AV(STRING_VALUE):
		sb_str(b, v->string_value ? v->string_value : "");
		break;
	case AV(BOOL_VALUE):
		*type = AT_TV_BOOL;
		sb_str(b, v->bool_value ? "true" : "false");
		break;
	case AV(INT_VALUE):
		*type = AT_TV_INT;
		sb_printf(b, "%" PRId64, v->int_value);
		break;
	case AV(DOUBLE_VALUE):
		*type = AT_TV_DOUBLE;
		fmt_double(v->double_value, num, sizeof(num));
		sb_str(b, num);
		break;
	case AV(ARRAY_VALUE):
		sb_str(b, "[");
		for (i = 0; v->array_value && i < v->array_value->n_values;
		     i++) {
			enum at_tv_type ty;

			if (i)
				sb_str(b, ", ");
			any_to_text(v->array_value->values[i], b, &ty);
		}
		sb_str(b, "]");
		break;
	case AV(KVLIST_VALUE):
		if (v->kvlist_value)
			kvs_to_text(v->kvlist_value->values,
				    v->kvlist_value->n_values, b);
		else
			sb_str(b, "{}");
		break;
	case AV(BYTES_VALUE):
		sb_str(b, "0x");
		for (i = 0; i < v->bytes_value.len; i++)
			sb_printf(b, "%02x", v->bytes_value.data[i]);
		break;
	default:
		sb_str(b, "");
		break;
	}
}

static struct at_tv_attr *copy_attrs(at_otlp_kv *const *kv, size_t n)
{
	struct at_tv_attr *a = xcalloc(n, sizeof(*a));
	size_t i;

	for (i = 0; i < n; i++) {
		struct sbuf b = { 0 };

		a[i].key = xstrdup_utf8(kv[i]->key);
		any_to_text(kv[i]->value, &b, &a[i].type);
		a[i].value = xstrdup_utf8(b.p);
		free(b.p);
	}
	return a;
}

static int ids_nonzero(const uint8_t *p, size_t n)
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
			svc = at_otlp_attr_str(rs->resource->attributes,
					       rs->resource->n_attributes,
					       "service.name");
		for (j = 0; j < rs->n_scope_spans; j++) {
			const pb_sspans *ss = rs->scope_spans[j];

			for (k = 0; k < ss->n_spans; k++) {
				const at_otlp_span *p = ss->spans[k];
				struct at_tv_span *s = xcalloc(1, sizeof(*s));

				copy_id(s->trace_id, 16, &p->trace_id);
				copy_id(s->span_id, 8, &p->span_id);
				copy_id(s->parent_id, 8, &p->parent_span_id);
				s->has_parent = ids_nonzero(s->parent_id, 8);
				s->name = xstrdup_utf8(p->name);
				s->kind = (int)p->kind;
				s->start_ns = p->start_time_unix_nano;
				s->end_ns = p->end_time_unix_nano;
				s->status = p->status ? (int)p->status->code : 0;
				s->status_msg = xstrdup_utf8(p->status ?
							p->status->message : "");
				s->service = xstrdup_utf8(svc);
				s->attrs = copy_attrs(p->attributes,
						      p->n_attributes);
				s->n_attrs = p->n_attributes;
				s->events = xcalloc(p->n_events,
						    sizeof(*s->events));
				s->n_events = p->n_events;
				for (e = 0; e < p->n_events; e++) {
					const pb_event *ev = p->events[e];
					struct at_tv_event *d = &s->events[e];

					d->name = xstrdup_utf8(ev->name);
					d->time_ns = ev->time_unix_nano;
					d->attrs = copy_attrs(ev->attributes,
							      ev->n_attributes);
					d->n_attrs = ev->n_attributes;
				}
				push_span(t, s);
			}
		}
	}
}

/* ---- a small JSON parser ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype type;
	int b;                /* J_BOOL */
	char *s;              /* J_STR (decoded), J_NUM (raw text) */
	size_t len;           /* of s */
	struct jv *items;     /* J_ARR, J_OBJ */
	char **keys;          /* J_OBJ */
	size_t n;
};

struct jp {
	const char *p, *end;
	int depth;
};

#define JSON_MAX_DEPTH 64

static void jv_free(struct jv *v)
{
	size_t i;

	free(v->s);
	for (i = 0; i < v->n; i++) {
		jv_free(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
}

static void jp_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\t' ||
				 *j->p == '\n' || *j->p == '\r'))
		j->p++;
}

static int jp_hex4(struct jp *j, unsigned *out)
{
	unsigned v = 0;
	int i, h;

	if (j->end - j->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		h = at_hex_value((unsigned char)j->p[i]);
		if (h < 0)
			return -1;
		v = v << 4 | (unsigned)h;
	}
	j->p += 4;
	*out = v;
	return 0;
}

static void utf8_put(struct sbuf *b, unsigned cp)
{
	char u[4];

	if (cp < 0x80) {
		u[0] = (char)cp;
		sb_add(b, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		sb_add(b, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		sb_add(b, u, 3);
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		sb_add(b, u, 4);
	}
}

/* After the opening quote; the string into *out. */
static int jp_string(struct jp *j, char **out, size_t *outlen)
{
	struct sbuf b = { 0 };
	unsigned cp, lo;

	sb_add(&b, "", 0);
	while (j->p < j->end) {
		unsigned char c = (unsigned char)*j->p++;

		if (c == '"') {
			/* raw bytes may be invalid UTF-8 */
			*out = xstrdup_utf8(b.p);
			*outlen = strlen(*out);
			free(b.p);
			return 0;
		}
		if (c < 0x20)
			break;
		if (c != '\\') {
			sb_add(&b, (const char *)&c, 1);
			continue;
		}
		if (j->p >= j->end)
			break;
		c = (unsigned char)*j->p++;
		switch (c) {
		case '"':
		case '\\':
		case '/':
			sb_add(&b, (const char *)&c, 1);
			break;
		case 'b':
			sb_add(&b, "\b", 1);
			break;
		case 'f':
			sb_add(&b, "\f", 1);
			break;
		case 'n':
			sb_add(&b, "\n", 1);
			break;
		case 'r':
			sb_add(&b, "\r", 1);
			break;
		case 't':
			sb_add(&b, "\t", 1);
			break;
		case 'u':
			if (jp_hex4(j, &cp) < 0)
				goto bad;
			if (cp >= 0xd800 && cp < 0xdc00) {
				if (j->end - j->p >= 6 && j->p[0] == '\\' &&
				    j->p[1] == 'u') {
					j->p += 2;
					if (jp_hex4(j, &lo) < 0)
						goto bad;
					if (lo >= 0xdc00 && lo < 0xe000)
						cp = 0x10000 + ((cp - 0xd800) << 10) +
						     (lo - 0xdc00);
					else
						cp = 0xfffd; /* lone high */
				} else {
					cp = 0xfffd;
				}
			} else if (cp >= 0xdc00 && cp < 0xe000) {
				cp = 0xfffd;
			}
			utf8_put(&b, cp);
			break;
		default:
			goto bad;
		}
	}
bad:
	free(b.p);
	return -1;
}

static int jp_value(struct jp *j, struct jv *v);

static int jp_number(struct jp *j, struct jv *v)
{
	const char *s = j->p;

	if (j->p < j->end && *j->p == '-')
		j->p++;
	if (j->p >= j->end || !isdigit((unsigned char)*j->p))
		return -1;
	if (*j->p == '0')
		j->p++;
	else
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	if (j->p < j->end && *j->p == '.') {
		j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return -1;
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	if (j->p < j->end && (*j->p == 'e' || *j->p == 'E')) {
		j->p++;
		if (j->p < j->end && (*j->p == '+' || *j->p == '-'))
			j->p++;
		if (j->p >= j->end || !isdigit((unsigned char)*j->p))
			return -1;
		while (j->p < j->end && isdigit((unsigned char)*j->p))
			j->p++;
	}
	v->type = J_NUM;
	v->len = (size_t)(j->p - s);
	v->s = xstrndup(s, v->len);
	return 0;
}

static int jp_word(struct jp *j, const char *w)
{
	size_t n = strlen(w);

	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return -1;
	j->p += n;
	return 0;
}

static int jp_container(struct jp *j, struct jv *v, int obj)
{
	size_t cap = 0;
	char close = obj ? '}' : ']';

	v->type = obj ? J_OBJ : J_ARR;
	if (++j->depth > JSON_MAX_DEPTH)
		return -1;
	jp_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		j->depth--;
		return 0;
	}
	for (;;) {
		char *key = NULL;
		size_t klen;

		jp_ws(j);
		if (obj) {
			if (j->p >= j->end || *j->p != '"')
				return -1;
			j->p++;
			if (jp_string(j, &key, &klen) < 0)
				return -1;
			jp_ws(j);
			if (j->p >= j->end || *j->p != ':') {
				free(key);
				return -1;
			}
			j->p++;
		}
		if (v->n == cap) {
			cap = cap ? cap * 2 : 4;
			v->items = xrealloc(v->items, cap * sizeof(*v->items));
			if (obj)
				v->keys = xrealloc(v->keys,
						   cap * sizeof(*v->keys));
		}
		memset(&v->items[v->n], 0, sizeof(v->items[0]));
		if (obj)
			v->keys[v->n] = key;
		v->n++;
		if (jp_value(j, &v->items[v->n - 1]) < 0)
			return -1;
		jp_ws(j);
		if (j->p >= j->end)
			return -1;
		if (*j->p == ',') {
			j->p++;
			continue;
		}
		if (*j->p == close) {
			j->p++;
			j->depth--;
			return 0;
		}
		return -1;
	}
}

static int jp_value(struct jp *j, struct jv *v)
{
	jp_ws(j);
	if (j->p >= j->end)
		return -1;
	switch (*j->p) {
	case '{':
		j->p++;
		return jp_container(j, v, 1);
	case '[':
		j->p++;
		return jp_container(j, v, 0);
	case '"':
		j->p++;
		v->type = J_STR;
		return jp_string(j, &v->s, &v->len);
	case 't':
		v->type = J_BOOL;
		v->b = 1;
		return jp_word(j, "true");
	case 'f':
		v->type = J_BOOL;
		return jp_word(j, "false");
	case 'n':
		v->type = J_NULL;
		return jp_word(j, "null");
	default:
		return jp_number(j, v);
	}
}

static const struct jv *jget(const struct jv *o, const char *key)
{
	size_t i;

	if (!o || o->type != J_OBJ)
		return NULL;
	for (i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return o->items[i].type == J_NULL ? NULL : &o->items[i];
	return NULL;
}

/* ---- OTLP-JSON to spans ---- */

/* An optional array field: 0 with *out NULL if absent, -1 if not an array. */
static int jarr(const struct jv *o, const char *key, const struct jv **out)
{
	*out = jget(o, key);
	if (*out && (*out)->type != J_ARR)
		return -1;
	return 0;
}

static int jstr(const struct jv *o, const char *key, const char **out)
{
	const struct jv *v = jget(o, key);

	*out = "";
	if (!v)
		return 0;
	if (v->type != J_STR)
		return -1;
	*out = v->s;
	return 0;
}

/* A uint64 as a JSON number or decimal string. */
static int ju64(const struct jv *o, const char *key, uint64_t *out)
{
	const struct jv *v = jget(o, key);
	char *end;

	*out = 0;
	if (!v)
		return 0;
	if (v->type != J_STR && v->type != J_NUM)
		return -1;
	if (!v->len || v->s[0] == '-')
		return -1;
	errno = 0;
	*out = strtoull(v->s, &end, 10);
	if (*end) {
		/* 1.7e18 and the like */
		double d = strtod(v->s, &end);

		if (*end || d < 0 || d >= 18446744073709551616.0)
			return -1;
		*out = (uint64_t)d;
	} else if (errno) {
		return -1;
	}
	return 0;
}

static int b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '-')
		return 62;
	if (c == '/' || c == '_')
		return 63;
	return -1;
}

/*
 * An id of n bytes: lowercase/uppercase hex (the OTLP-JSON form), or
 * base64 (the plain proto3 JSON form) as a fallback.  Empty: all zero.
 */
static int jid(const struct jv *o, const char *key, uint8_t *out, size_t n,
	       int *present)
{
	const char *s;
	size_t i, len, bits = 0, got = 0;
	unsigned acc = 0;

	memset(out, 0, n);
	*present = 0;
	if (jstr(o, key, &s) < 0)
		return -1;
	len = strlen(s);
	if (!len)
		return 0;
	*present = 1;
	if (len == 2 * n) {
		for (i = 0; i < n; i++) {
			int h = at_hex_value((unsigned char)s[2 * i]);
			int l = at_hex_value((unsigned char)s[2 * i + 1]);

			if (h < 0 || l < 0)
				break;
			out[i] = (uint8_t)(h << 4 | l);
		}
		if (i == n)
			return 0;
	}
	for (i = 0; i < len && s[i] != '='; i++) {
		int v = b64val((unsigned char)s[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (got == n)
				return -1;
			out[got++] = (uint8_t)(acc >> bits);
		}
	}
	return got == n ? 0 : -1;
}

static int jint_or_enum(const struct jv *o, const char *key,
			const char *const *names, int n_names, int *out)
{
	const struct jv *v = jget(o, key);
	int i;

	*out = 0;
	if (!v)
		return 0;
	if (v->type == J_NUM) {
		*out = atoi(v->s);
		return 0;
	}
	if (v->type != J_STR)
		return -1;
	for (i = 0; i < n_names; i++) {
		if (strcmp(v->s, names[i]) == 0) {
			*out = i;
			return 0;
		}
	}
	if (v->s[0] && strspn(v->s, "0123456789") == v->len) {
		*out = atoi(v->s);
		return 0;
	}
	return -1;
}

static int jany_text(const struct jv *v, struct sbuf *b,
		     enum at_tv_type *type);

static int jkvs_text(const struct jv *arr, struct sbuf *b)
{
	enum at_tv_type ty;
	size_t i;

	sb_str(b, "{");
	for (i = 0; arr && i < arr->n; i++) {
		const char *k;

		if (i)
			sb_str(b, ", ");
		if (jstr(&arr->items[i], "key", &k) < 0)
			return -1;
		sb_str(b, k);
		sb_str(b, "=");
		if (jany_text(jget(&arr->items[i], "value"), b, &ty) < 0)
			return -1;
	}
	sb_str(b, "}");
	return 0;
}

/* An AnyValue object to its printable form. */
static int jany_text(const struct jv *v, struct sbuf *b,
		     enum at_tv_type *type)
{
	const struct jv *x;
	char num[64];
	size_t i;

	*type = AT_TV_STRING;
	if (!v)
		return 0;
	if (v->type != J_OBJ)
		return -1;
	if ((x = jget(v, "stringValue"))) {
		if (x->type != J_STR)
			return -1;
		sb_add(b, x->s, x->len);
	} else if ((x = jget(v, "boolValue"))) {
		if (x->type != J_BOOL)
			return -1;
		*type = AT_TV_BOOL;
		sb_str(b, x->b ? "true" : "false");
	} else if ((x = jget(v, "intValue"))) {
		char *end;
		long long ll;

		if ((x->type != J_STR && x->type != J_NUM) || !x->len)
			return -1;
		errno = 0;
		ll = strtoll(x->s, &end, 10);
		if (*end || errno)
			return -1;
		*type = AT_TV_INT;
		sb_printf(b, "%lld", ll);
	} else if ((x = jget(v, "doubleValue"))) {
		double d;
		char *end;

		if (x->type != J_STR && x->type != J_NUM)
			return -1;
		if (x->type == J_STR && strcmp(x->s, "NaN") == 0)
			d = NAN;
		else if (x->type == J_STR && strcmp(x->s, "Infinity") == 0)
			d = INFINITY;
		else if (x->type == J_STR && strcmp(x->s, "-Infinity") == 0)
			d = -INFINITY;
		else {
			d = strtod(x->s, &end);
			if (!x->len || *end)
				return -1;
		}
		*type = AT_TV_DOUBLE;
		fmt_double(d, num, sizeof(num));
		sb_str(b, num);
	} else if ((x = jget(v, "arrayValue"))) {
		const struct jv *vals = jget(x, "values");
		enum at_tv_type ty;

		if (vals && vals->type != J_ARR)
			return -1;
		sb_str(b, "[");
		for (i = 0; vals && i < vals->n; i++) {
			if (i)
				sb_str(b, ", ");
			if (jany_text(&vals->items[i], b, &ty) < 0)
				return -1;
		}
		sb_str(b, "]");
	} else if ((x = jget(v, "kvlistValue"))) {
		const struct jv *vals = jget(x, "values");

		if (vals && vals->type != J_ARR)
			return -1;
		return jkvs_text(vals, b);
	} else if ((x = jget(v, "bytesValue"))) {
		if (x->type != J_STR)
			return -1;
		sb_add(b, x->s, x->len);
	}
	return 0;
}

static int jattrs(const struct jv *o, const char *key,
		  struct at_tv_attr **out, size_t *n_out)
{
	const struct jv *arr;
	size_t i;

	*out = NULL;
	*n_out = 0;
	if (jarr(o, key, &arr) < 0)
		return -1;
	if (!arr)
		return 0;
	*out = xcalloc(arr->n, sizeof(**out));
	for (i = 0; i < arr->n; i++) {
		struct sbuf b = { 0 };
		const char *k;

		if (arr->items[i].type != J_OBJ ||
		    jstr(&arr->items[i], "key", &k) < 0)
			return -1;
		(*out)[i].key = xstrdup(k);
		(*n_out)++;
		if (jany_text(jget(&arr->items[i], "value"), &b,
			      &(*out)[i].type) < 0) {
			free(b.p);
			(*out)[i].value = xstrdup("");
			return -1;
		}
		(*out)[i].value = sb_take(&b);
	}
	return 0;
}

static const char *const kind_names[] = {
	"SPAN_KIND_UNSPECIFIED", "SPAN_KIND_INTERNAL", "SPAN_KIND_SERVER",
	"SPAN_KIND_CLIENT", "SPAN_KIND_PRODUCER", "SPAN_KIND_CONSUMER",
};

static const char *const status_names[] = {
	"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR",
};

static int jspan(const struct jv *o, const char *svc, struct at_tv_span *s)
{
	const struct jv *evs, *st;
	const char *str;
	int present;
	size_t i;

	if (o->type != J_OBJ)
		return -1;
	s->service = xstrdup(svc);
	if (jstr(o, "name", &str) < 0)
		return -1;
	s->name = xstrdup(str);
	s->status_msg = xstrdup("");
	if (jid(o, "traceId", s->trace_id, 16, &present) < 0 ||
	    jid(o, "spanId", s->span_id, 8, &present) < 0 ||
	    jid(o, "parentSpanId", s->parent_id, 8, &present) < 0)
		return -1;
	s->has_parent = ids_nonzero(s->parent_id, 8);
	if (jint_or_enum(o, "kind", kind_names, 6, &s->kind) < 0 ||
	    ju64(o, "startTimeUnixNano", &s->start_ns) < 0 ||
	    ju64(o, "endTimeUnixNano", &s->end_ns) < 0 ||
	    jattrs(o, "attributes", &s->attrs, &s->n_attrs) < 0)
		return -1;
	if (jarr(o, "events", &evs) < 0)
		return -1;
	if (evs) {
		s->events = xcalloc(evs->n, sizeof(*s->events));
		for (i = 0; i < evs->n; i++) {
			struct at_tv_event *e = &s->events[i];

			s->n_events++;
			if (evs->items[i].type != J_OBJ ||
			    jstr(&evs->items[i], "name", &str) < 0)
				return -1;
			e->name = xstrdup(str);
			if (ju64(&evs->items[i], "timeUnixNano",
				 &e->time_ns) < 0 ||
			    jattrs(&evs->items[i], "attributes", &e->attrs,
				   &e->n_attrs) < 0)
				return -1;
		}
	}
	st = jget(o, "status");
	if (st) {
		if (st->type != J_OBJ ||
		    jint_or_enum(st, "code", status_names, 3, &s->status) < 0 ||
		    jstr(st, "message", &str) < 0)
			return -1;
		free(s->status_msg);
		s->status_msg = xstrdup(str);
	}
	return 0;
}

static int jrequest(const struct jv *root, struct at_traces *tmp)
{
	const struct jv *rss, *sss, *spans, *res, *attrs;
	size_t i, j, k, a;

	if (root->type != J_OBJ || jarr(root, "resourceSpans", &rss) < 0)
		return -1;
	for (i = 0; rss && i < rss->n; i++) {
		const struct jv *rs = &rss->items[i];
		const char *svc = "";

		if (rs->type != J_OBJ)
			return -1;
		res = jget(rs, "resource");
		if (res && res->type != J_OBJ)
			return -1;
		if (jarr(res, "attributes", &attrs) < 0)
			return -1;
		for (a = 0; attrs && a < attrs->n; a++) {
			const char *k2;
			const struct jv *sv;

			if (jstr(&attrs->items[a], "key", &k2) < 0)
				return -1;
			sv = jget(jget(&attrs->items[a], "value"),
				  "stringValue");
			if (strcmp(k2, "service.name") == 0 && sv &&
			    sv->type == J_STR)
				svc = sv->s;
		}
		if (jarr(rs, "scopeSpans", &sss) < 0)
			return -1;
		for (j = 0; sss && j < sss->n; j++) {
			if (sss->items[j].type != J_OBJ ||
			    jarr(&sss->items[j], "spans", &spans) < 0)
				return -1;
			for (k = 0; spans && k < spans->n; k++) {
				struct at_tv_span *s = xcalloc(1, sizeof(*s));

				push_span(tmp, s);
				if (jspan(&spans->items[k], svc, s) < 0)
					return -1;
			}
		}
	}
	return 0;
}

int at_traces_add_json(struct at_traces *t, const char *line, size_t len)
{
	struct jp j = { line, line + len, 0 };
	struct jv root = { 0 };
	struct at_traces tmp = { 0 };
	size_t i;
	int rc = -1;

	if (!line)
		return -1;
	if (jp_value(&j, &root) == 0) {
		jp_ws(&j);
		if (j.p == j.end)
			rc = jrequest(&root, &tmp);
	}
	jv_free(&root);
	for (i = 0; i < tmp.n_all; i++) {
		if (rc == 0)
			push_span(t, tmp.all[i]);
		else
			span_free(tmp.all[i]);
	}
	free(tmp.all);
	return rc;
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
		p->children = xrealloc(p->children, (p->n_children ?
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

/* Printable one-line signature of a span for N+1 grouping. */
static char *signature(const struct at_tv_span *s)
{
	const char *q = at_tv_attr(s, "db.query.text");
	const char *m = at_tv_attr(s, "http.request.method");
	struct sbuf b = { 0 };
	const char *p;
	int sp = 0;

	if (q && *q) {
		sb_str(&b, q);
	} else if (m && *m) {
		const char *u = at_tv_attr(s, "url.full");

		if (!u)
			u = at_tv_attr(s, "url.path");
		sb_str(&b, m);
		if (u) {
			sb_str(&b, " ");
			sb_add(&b, u, strcspn(u, "?#"));
		}
	} else {
		sb_str(&b, s->name);
	}
	/* one line: collapse white space */
	{
		struct sbuf o = { 0 };

		sb_add(&o, "", 0);
		for (p = b.p; *p; p++) {
			if (isspace((unsigned char)*p)) {
				sp = o.len > 0;
				continue;
			}
			if (sp)
				sb_add(&o, " ", 1);
			sp = 0;
			sb_add(&o, p, 1);
		}
		free(b.p);
		return sb_take(&o);
	}
}

struct sig_ent {
	char *sig;
	struct at_tv_span *s;
	size_t idx;
};

static int cmp_sig(const void *a, const void *b)
{
	const struct sig_ent *x = a, *y = b;
	int c = strcmp(x->sig, y->sig);

	if (c)
		return c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static struct at_tv_finding *new_finding(struct at_tv_trace *tr,
					 enum at_tv_finding_kind kind,
					 struct at_tv_span *parent)
{
	struct at_tv_finding *f;

	tr->findings = xrealloc(tr->findings, (tr->n_findings + 1) *
				sizeof(*tr->findings));
	f = &tr->findings[tr->n_findings++];
	memset(f, 0, sizeof(*f));
	f->kind = kind;
	f->parent = parent;
	return f;
}

static void find_n_plus_one(struct at_tv_trace *tr, struct at_tv_span *p,
			    unsigned char *in_group)
{
	struct sig_ent *e;
	size_t i, j, k, n = p->n_children;
	char dur[32];

	if (n < 3)
		return;
	e = xcalloc(n, sizeof(*e));
	for (i = 0; i < n; i++) {
		e[i].sig = signature(p->children[i]);
		e[i].s = p->children[i];
		e[i].idx = i;
	}
	qsort(e, n, sizeof(*e), cmp_sig);
	for (i = 0; i < n; i = j) {
		for (j = i + 1; j < n && strcmp(e[i].sig, e[j].sig) == 0; j++)
			;
		if (j - i >= 3) {
			struct at_tv_finding *f =
				new_finding(tr, AT_FIND_N_PLUS_ONE, p);
			struct sbuf b = { 0 };

			f->spans = xcalloc(j - i, sizeof(*f->spans));
			for (k = i; k < j; k++) {
				f->spans[f->n_spans++] = e[k].s;
				f->total_ns += at_tv_dur(e[k].s);
				in_group[e[k].idx] = 1;
			}
			at_tv_fmt_dur(f->total_ns, dur, sizeof(dur));
			sb_printf(&b, "%s ran %zu times, %s total", e[i].sig,
				  f->n_spans, dur);
			f->text = sb_take(&b);
		}
	}
	for (i = 0; i < n; i++)
		free(e[i].sig);
	free(e);
}

static void add_sequential(struct at_tv_trace *tr, struct at_tv_span *p,
			   struct at_tv_span **run, size_t n,
			   const char *addr)
{
	struct at_tv_finding *f = new_finding(tr, AT_FIND_SEQUENTIAL, p);
	struct sbuf b = { 0 };
	char dur[32];
	size_t i;

	f->spans = xcalloc(n, sizeof(*f->spans));
	for (i = 0; i < n; i++) {
		f->spans[f->n_spans++] = run[i];
		f->total_ns += at_tv_dur(run[i]);
	}
	at_tv_fmt_dur(f->total_ns, dur, sizeof(dur));
	sb_printf(&b, "%zu calls to %s ran one after another (%s); "
		  "they could run in parallel", n, addr, dur);
	f->text = sb_take(&b);
}

static void find_sequential(struct at_tv_trace *tr, struct at_tv_span *p,
			    const unsigned char *in_group)
{
	size_t n = p->n_children, i, j, m, r;
	unsigned char *done;
	struct at_tv_span **grp;

	if (n < 3)
		return;
	done = xcalloc(n, 1);
	grp = xcalloc(n, sizeof(*grp));
	for (i = 0; i < n; i++) {
		const char *addr = at_tv_attr(p->children[i],
					      "server.address");

		if (done[i] || in_group[i] || p->children[i]->kind != 3 ||
		    !addr || !*addr)
			continue;
		/* the CLIENT children to addr, in start order */
		m = 0;
		for (j = i; j < n; j++) {
			const char *a2 = at_tv_attr(p->children[j],
						    "server.address");

			if (done[j] || in_group[j] ||
			    p->children[j]->kind != 3 || !a2 ||
			    strcmp(a2, addr) != 0)
				continue;
			done[j] = 1;
			grp[m++] = p->children[j];
		}
		/* maximal runs where each starts after the previous ended */
		for (j = 0; j < m; j = r) {
			for (r = j + 1; r < m &&
			     grp[r]->start_ns >= grp[r - 1]->end_ns; r++)
				;
			if (r - j >= 3)
				add_sequential(tr, p, grp + j, r - j, addr);
		}
	}
	free(done);
	free(grp);
}

static int is_dominant(const struct at_tv_span *s, uint64_t tdur)
{
	return s->parent && tdur && at_tv_dur(s) * 2 > tdur;
}

static void find_dominant(struct at_tv_trace *tr)
{
	uint64_t tdur = tr->end_ns - tr->start_ns;
	size_t i, c;

	for (i = 0; i < tr->n_spans; i++) {
		struct at_tv_span *s = tr->spans[i];
		struct at_tv_finding *f;
		struct sbuf b = { 0 };

		if (!is_dominant(s, tdur))
			continue;
		for (c = 0; c < s->n_children; c++)
			if (is_dominant(s->children[c], tdur))
				break;
		if (c < s->n_children)
			continue;
		f = new_finding(tr, AT_FIND_DOMINANT, s->parent);
		f->spans = xcalloc(1, sizeof(*f->spans));
		f->spans[f->n_spans++] = s;
		f->total_ns = at_tv_dur(s);
		sb_printf(&b, "%s is %d %% of the trace", s->name,
			  (int)((double)f->total_ns * 100.0 / (double)tdur));
		f->text = sb_take(&b);
	}
}

static void build_trace(struct at_tv_trace *tr, struct at_tv_span **stack)
{
	struct at_tv_span **byid;
	unsigned char *in_group;
	size_t i, n = tr->n_spans;

	byid = xcalloc(n, sizeof(*byid));
	memcpy(byid, tr->spans, n * sizeof(*byid));
	qsort(byid, n, sizeof(*byid), cmp_span_id);
	tr->start_ns = tr->spans[0]->start_ns;
	tr->end_ns = tr->spans[0]->end_ns;
	tr->roots = xcalloc(n, sizeof(*tr->roots));
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
	/* findings */
	in_group = xcalloc(n, 1);
	for (i = 0; i < n; i++) {
		struct at_tv_span *s = tr->spans[i];

		if (s->n_children < 3)
			continue;
		memset(in_group, 0, s->n_children);
		find_n_plus_one(tr, s, in_group);
		find_sequential(tr, s, in_group);
	}
	free(in_group);
	find_dominant(tr);
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
	sorted = xcalloc(t->n_all, sizeof(*sorted));
	memcpy(sorted, t->all, t->n_all * sizeof(*sorted));
	qsort(sorted, t->n_all, sizeof(*sorted), cmp_span_trace);
	stack = xcalloc(t->n_all, sizeof(*stack));
	t->traces = xcalloc(t->n_all, sizeof(*t->traces));
	for (i = 0; i < t->n_all; i = j) {
		struct at_tv_trace *tr = &t->traces[t->n_traces++];

		for (j = i + 1; j < t->n_all &&
		     memcmp(sorted[i]->trace_id, sorted[j]->trace_id, 16) == 0;
		     j++)
			;
		memcpy(tr->trace_id, sorted[i]->trace_id, 16);
		tr->n_spans = j - i;
		tr->spans = xcalloc(tr->n_spans, sizeof(*tr->spans));
		memcpy(tr->spans, sorted + i, tr->n_spans * sizeof(*tr->spans));
		build_trace(tr, stack);
	}
	free(stack);
	free(sorted);
	qsort(t->traces, t->n_traces, sizeof(*t->traces), cmp_trace_start);
}

/* ---- OTLP-JSON writer ---- */

static void jw_str(FILE *f, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n;

	fputc('"', f);
	while (*p) {
		unsigned char c = *p;

		if (c >= 0x80) {
			n = utf8_len(p);
			if (n)
				fwrite(p, 1, n, f);
			else
				fputs("\xef\xbf\xbd", f); /* U+FFFD */
			p += n ? n : 1;
			continue;
		}
		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\r')
			fputs("\\r", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
		p++;
	}
	fputc('"', f);
}

static void jw_hex(FILE *f, const ProtobufCBinaryData *b)
{
	size_t i;

	fputc('"', f);
	for (i = 0; i < b->len; i++)
		fprintf(f, "%02x", b->data[i]);
	fputc('"', f);
}

static void jw_b64(FILE *f, const ProtobufCBinaryData *b)
{
	static const char tab[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i;

	fputc('"', f);
	for (i = 0; i < b->len; i += 3) {
		unsigned v = (unsigned)b->data[i] << 16;
		size_t left = b->len - i;

		if (left > 1)
			v |= (unsigned)b->data[i + 1] << 8;
		if (left > 2)
			v |= b->data[i + 2];
		fputc(tab[v >> 18 & 63], f);
		fputc(tab[v >> 12 & 63], f);
		fputc(left > 1 ? tab[v >> 6 & 63] : '=', f);
		fputc(left > 2 ? tab[v & 63] : '=', f);
	}
	fputc('"', f);
}

static void jw_attrs(FILE *f, at_otlp_kv *const *kv, size_t n);

static void jw_any(FILE *f, const pb_any *v)
{
	char num[64];
	size_t i;

	fputc('{', f);
	if (!v) {
		fputc('}', f);
		return;
	}
	switch (v->value_case) {
	case AV(STRING_VALUE):
		fputs("\"stringValue\":", f);
		jw_str(f, v->string_value);
		break;
	case AV(BOOL_VALUE):
		fprintf(f, "\"boolValue\":%s", v->bool_value ? "true" : "false");
		break;
	case AV(INT_VALUE):
		fprintf(f, "\"intValue\":\"%" PRId64 "\"", v->int_value);
		break;
	case AV(DOUBLE_VALUE):
		fmt_double(v->double_value, num, sizeof(num));
		if (isnan(v->double_value) || isinf(v->double_value))
			fprintf(f, "\"doubleValue\":\"%s\"", num);
		else
			fprintf(f, "\"doubleValue\":%s", num);
		break;
	case AV(ARRAY_VALUE):
		fputs("\"arrayValue\":{", f);
		if (v->array_value && v->array_value->n_values) {
			fputs("\"values\":[", f);
			for (i = 0; i < v->array_value->n_values; i++) {
				if (i)
					fputc(',', f);
				jw_any(f, v->array_value->values[i]);
			}
			fputc(']', f);
		}
		fputc('}', f);
		break;
	case AV(KVLIST_VALUE):
		fputs("\"kvlistValue\":{", f);
		if (v->kvlist_value && v->kvlist_value->n_values) {
			fputs("\"values\":", f);
			jw_attrs(f, v->kvlist_value->values,
				 v->kvlist_value->n_values);
		}
		fputc('}', f);
		break;
	case AV(BYTES_VALUE):
		fputs("\"bytesValue\":", f);
		jw_b64(f, &v->bytes_value);
		break;
	default:
		break;
	}
	fputc('}', f);
}

/* A JSON array of KeyValue. */
static void jw_attrs(FILE *f, at_otlp_kv *const *kv, size_t n)
{
	size_t i;

	fputc('[', f);
	for (i = 0; i < n; i++) {
		if (i)
			fputc(',', f);
		fputs("{\"key\":", f);
		jw_str(f, kv[i]->key);
		fputs(",\"value\":", f);
		jw_any(f, kv[i]->value);
		fputc('}', f);
	}
	fputc(']', f);
}

/* Writes ,"name": before every member but the first of an object. */
struct jobj {
	FILE *f;
	int n;
};

static void jo_key(struct jobj *o, const char *key)
{
	fprintf(o->f, "%s\"%s\":", o->n++ ? "," : "", key);
}

static void jo_str(struct jobj *o, const char *key, const char *s)
{
	if (!s || !*s)
		return;
	jo_key(o, key);
	jw_str(o->f, s);
}

static void jo_u32(struct jobj *o, const char *key, uint32_t v)
{
	if (!v)
		return;
	jo_key(o, key);
	fprintf(o->f, "%" PRIu32, v);
}

static void jo_u64(struct jobj *o, const char *key, uint64_t v)
{
	if (!v)
		return;
	jo_key(o, key);
	fprintf(o->f, "\"%" PRIu64 "\"", v);
}

static void jo_hex(struct jobj *o, const char *key,
		   const ProtobufCBinaryData *b)
{
	if (!b->len)
		return;
	jo_key(o, key);
	jw_hex(o->f, b);
}

static void jo_attrs(struct jobj *o, const char *key, at_otlp_kv *const *kv,
		     size_t n)
{
	if (!n)
		return;
	jo_key(o, key);
	jw_attrs(o->f, kv, n);
}

static void jw_span(FILE *f, const at_otlp_span *s)
{
	struct jobj o = { f, 0 };
	size_t i;

	fputc('{', f);
	jo_hex(&o, "traceId", &s->trace_id);
	jo_hex(&o, "spanId", &s->span_id);
	jo_str(&o, "traceState", s->trace_state);
	jo_hex(&o, "parentSpanId", &s->parent_span_id);
	jo_u32(&o, "flags", s->flags);
	jo_str(&o, "name", s->name);
	jo_u32(&o, "kind", (uint32_t)s->kind);
	jo_u64(&o, "startTimeUnixNano", s->start_time_unix_nano);
	jo_u64(&o, "endTimeUnixNano", s->end_time_unix_nano);
	jo_attrs(&o, "attributes", s->attributes, s->n_attributes);
	jo_u32(&o, "droppedAttributesCount", s->dropped_attributes_count);
	if (s->n_events) {
		jo_key(&o, "events");
		fputc('[', f);
		for (i = 0; i < s->n_events; i++) {
			const pb_event *e = s->events[i];
			struct jobj eo = { f, 0 };

			fputs(i ? ",{" : "{", f);
			jo_u64(&eo, "timeUnixNano", e->time_unix_nano);
			jo_str(&eo, "name", e->name);
			jo_attrs(&eo, "attributes", e->attributes,
				 e->n_attributes);
			jo_u32(&eo, "droppedAttributesCount",
			       e->dropped_attributes_count);
			fputc('}', f);
		}
		fputc(']', f);
	}
	jo_u32(&o, "droppedEventsCount", s->dropped_events_count);
	if (s->n_links) {
		jo_key(&o, "links");
		fputc('[', f);
		for (i = 0; i < s->n_links; i++) {
			const pb_link *l = s->links[i];
			struct jobj lo = { f, 0 };

			fputs(i ? ",{" : "{", f);
			jo_hex(&lo, "traceId", &l->trace_id);
			jo_hex(&lo, "spanId", &l->span_id);
			jo_str(&lo, "traceState", l->trace_state);
			jo_attrs(&lo, "attributes", l->attributes,
				 l->n_attributes);
			jo_u32(&lo, "droppedAttributesCount",
			       l->dropped_attributes_count);
			jo_u32(&lo, "flags", l->flags);
			fputc('}', f);
		}
		fputc(']', f);
	}
	jo_u32(&o, "droppedLinksCount", s->dropped_links_count);
	if (s->status && (s->status->code || (s->status->message &&
					      *s->status->message))) {
		struct jobj so = { f, 0 };

		jo_key(&o, "status");
		fputc('{', f);
		jo_u32(&so, "code", (uint32_t)s->status->code);
		jo_str(&so, "message", s->status->message);
		fputc('}', f);
	}
	fputc('}', f);
}

int at_otlpjson_write(FILE *f, const at_otlp_request *req)
{
	size_t i, j, k;

	if (!f || !req)
		return -1;
	/* proto3 JSON: empty repeated fields are omitted */
	fputs(req->n_resource_spans ? "{\"resourceSpans\":[" : "{", f);
	for (i = 0; i < req->n_resource_spans; i++) {
		const pb_rspans *rs = req->resource_spans[i];
		struct jobj ro = { f, 0 };

		fputs(i ? ",{" : "{", f);
		if (rs->resource) {
			struct jobj reso = { f, 0 };

			jo_key(&ro, "resource");
			fputc('{', f);
			jo_attrs(&reso, "attributes", rs->resource->attributes,
				 rs->resource->n_attributes);
			jo_u32(&reso, "droppedAttributesCount",
			       rs->resource->dropped_attributes_count);
			fputc('}', f);
		}
		if (rs->n_scope_spans) {
			jo_key(&ro, "scopeSpans");
			fputc('[', f);
		}
		for (j = 0; j < rs->n_scope_spans; j++) {
			const pb_sspans *ss = rs->scope_spans[j];
			struct jobj so = { f, 0 };

			fputs(j ? ",{" : "{", f);
			if (ss->scope) {
				struct jobj sco = { f, 0 };

				jo_key(&so, "scope");
				fputc('{', f);
				jo_str(&sco, "name", ss->scope->name);
				jo_str(&sco, "version", ss->scope->version);
				jo_attrs(&sco, "attributes",
					 ss->scope->attributes,
					 ss->scope->n_attributes);
				jo_u32(&sco, "droppedAttributesCount",
				       ss->scope->dropped_attributes_count);
				fputc('}', f);
			}
			if (ss->n_spans) {
				jo_key(&so, "spans");
				fputc('[', f);
			}
			for (k = 0; k < ss->n_spans; k++) {
				if (k)
					fputc(',', f);
				jw_span(f, ss->spans[k]);
			}
			if (ss->n_spans)
				fputc(']', f);
			jo_str(&so, "schemaUrl", ss->schema_url);
			fputc('}', f);
		}
		if (rs->n_scope_spans)
			fputc(']', f);
		jo_str(&ro, "schemaUrl", rs->schema_url);
		fputc('}', f);
	}
	fputs(req->n_resource_spans ? "]}\n" : "}\n", f);
	if (fflush(f) != 0 || ferror(f))
		return -1;
	return 0;
}
