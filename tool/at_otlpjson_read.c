/*
 * at_otlpjson_read.c - OTLP-JSON lines into the trace model
 * (at_traces_add_json, see at_traces.h): what `autotrace view` reads.
 *
 * A line is an ExportTraceServiceRequest as the OpenTelemetry Collector's
 * file exporter writes it (proto3 JSON mapping: camelCase fields, ids in
 * hex, int64 as decimal strings, enums as integers).  The JSON reader
 * (at_json.c) gives a tree of values; this file walks it into span
 * records.  It is lenient where proto3 JSON allows more than one form:
 * ids in hex or base64, enums as numbers or names, 64-bit numbers as
 * strings or numbers (also "1.7e18"), absent or null fields as their
 * default.  A field of the wrong type makes the whole line invalid: the
 * spans read so far go to a scratch model, which is handed over only
 * when the line has been read to the end, so a bad line adds nothing.
 *
 * Attribute values become their printable form, as for decoded requests
 * (at_traces.c): arrays as "[a, b]", key/value lists as "{k=v}", bytes as
 * given.  Tool-only: memory is allocated freely and an allocation
 * failure aborts.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_ascii.h"
#include "at_json.h"
#include "at_traces.h"
#include "at_xalloc.h"

/* An optional array field: 0 with *out NULL if absent, -1 if not an array. */
static int jarr(const struct at_json *o, const char *key,
		const struct at_json **out)
{
	*out = at_json_get(o, key);
	if (*out && (*out)->type != AT_JSON_ARR)
		return -1;
	return 0;
}

static int jstr(const struct at_json *o, const char *key, const char **out)
{
	const struct at_json *v = at_json_get(o, key);

	*out = "";
	if (!v)
		return 0;
	if (v->type != AT_JSON_STR)
		return -1;
	*out = v->s;
	return 0;
}

/* A uint64 as a JSON number or decimal string. */
static int ju64(const struct at_json *o, const char *key, uint64_t *out)
{
	const struct at_json *v = at_json_get(o, key);
	char *end;

	*out = 0;
	if (!v)
		return 0;
	if (v->type != AT_JSON_STR && v->type != AT_JSON_NUM)
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
static int jid(const struct at_json *o, const char *key, uint8_t *out, size_t n,
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

static int jint_or_enum(const struct at_json *o, const char *key,
			const char *const *names, int n_names, int *out)
{
	const struct at_json *v = at_json_get(o, key);
	int i;

	*out = 0;
	if (!v)
		return 0;
	if (v->type == AT_JSON_NUM) {
		*out = atoi(v->s);
		return 0;
	}
	if (v->type != AT_JSON_STR)
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

static int jany_text(const struct at_json *v, struct at_buf *b,
		     enum at_tv_type *type);

static int jkvs_text(const struct at_json *arr, struct at_buf *b)
{
	enum at_tv_type ty;
	size_t i;

	at_xbuf_str(b, "{");
	for (i = 0; arr && i < arr->n; i++) {
		const char *k;

		if (i)
			at_xbuf_str(b, ", ");
		if (jstr(&arr->items[i], "key", &k) < 0)
			return -1;
		at_xbuf_str(b, k);
		at_xbuf_str(b, "=");
		if (jany_text(at_json_get(&arr->items[i], "value"), b, &ty) < 0)
			return -1;
	}
	at_xbuf_str(b, "}");
	return 0;
}

/* An AnyValue object to its printable form. */
static int jany_text(const struct at_json *v, struct at_buf *b,
		     enum at_tv_type *type)
{
	const struct at_json *x;
	char num[64];
	size_t i;

	*type = AT_TV_STRING;
	if (!v)
		return 0;
	if (v->type != AT_JSON_OBJ)
		return -1;
	if ((x = at_json_get(v, "stringValue"))) {
		if (x->type != AT_JSON_STR)
			return -1;
		at_xbuf_add(b, x->s, x->len);
	} else if ((x = at_json_get(v, "boolValue"))) {
		if (x->type != AT_JSON_BOOL)
			return -1;
		*type = AT_TV_BOOL;
		at_xbuf_str(b, x->b ? "true" : "false");
	} else if ((x = at_json_get(v, "intValue"))) {
		char *end;
		long long ll;

		if ((x->type != AT_JSON_STR && x->type != AT_JSON_NUM) || !x->len)
			return -1;
		errno = 0;
		ll = strtoll(x->s, &end, 10);
		if (*end || errno)
			return -1;
		*type = AT_TV_INT;
		at_xbuf_printf(b, "%lld", ll);
	} else if ((x = at_json_get(v, "doubleValue"))) {
		double d;
		char *end;

		if (x->type != AT_JSON_STR && x->type != AT_JSON_NUM)
			return -1;
		if (x->type == AT_JSON_STR && strcmp(x->s, "NaN") == 0)
			d = NAN;
		else if (x->type == AT_JSON_STR && strcmp(x->s, "Infinity") == 0)
			d = INFINITY;
		else if (x->type == AT_JSON_STR && strcmp(x->s, "-Infinity") == 0)
			d = -INFINITY;
		else {
			d = strtod(x->s, &end);
			if (!x->len || *end)
				return -1;
		}
		*type = AT_TV_DOUBLE;
		at_tv_fmt_double(d, num, sizeof(num));
		at_xbuf_str(b, num);
	} else if ((x = at_json_get(v, "arrayValue"))) {
		const struct at_json *vals = at_json_get(x, "values");
		enum at_tv_type ty;

		if (vals && vals->type != AT_JSON_ARR)
			return -1;
		at_xbuf_str(b, "[");
		for (i = 0; vals && i < vals->n; i++) {
			if (i)
				at_xbuf_str(b, ", ");
			if (jany_text(&vals->items[i], b, &ty) < 0)
				return -1;
		}
		at_xbuf_str(b, "]");
	} else if ((x = at_json_get(v, "kvlistValue"))) {
		const struct at_json *vals = at_json_get(x, "values");

		if (vals && vals->type != AT_JSON_ARR)
			return -1;
		return jkvs_text(vals, b);
	} else if ((x = at_json_get(v, "bytesValue"))) {
		if (x->type != AT_JSON_STR)
			return -1;
		at_xbuf_add(b, x->s, x->len);
	}
	return 0;
}

static int jattrs(const struct at_json *o, const char *key,
		  struct at_tv_attr **out, size_t *n_out)
{
	const struct at_json *arr;
	size_t i;

	*out = NULL;
	*n_out = 0;
	if (jarr(o, key, &arr) < 0)
		return -1;
	if (!arr)
		return 0;
	*out = at_xcalloc(arr->n, sizeof(**out));
	for (i = 0; i < arr->n; i++) {
		struct at_buf b = { 0 };
		const char *k;

		if (arr->items[i].type != AT_JSON_OBJ ||
		    jstr(&arr->items[i], "key", &k) < 0)
			return -1;
		(*out)[i].key = at_xstrdup(k);
		(*n_out)++;
		if (jany_text(at_json_get(&arr->items[i], "value"), &b,
			      &(*out)[i].type) < 0) {
			at_buf_free(&b);
			(*out)[i].value = at_xstrdup("");
			return -1;
		}
		(*out)[i].value = at_xbuf_take(&b);
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

static int jspan(const struct at_json *o, const char *svc, struct at_tv_span *s)
{
	const struct at_json *evs, *st;
	const char *str;
	int present;
	size_t i;

	if (o->type != AT_JSON_OBJ)
		return -1;
	s->service = at_xstrdup(svc);
	if (jstr(o, "name", &str) < 0)
		return -1;
	s->name = at_xstrdup(str);
	s->status_msg = at_xstrdup("");
	if (jid(o, "traceId", s->trace_id, 16, &present) < 0 ||
	    jid(o, "spanId", s->span_id, 8, &present) < 0 ||
	    jid(o, "parentSpanId", s->parent_id, 8, &present) < 0)
		return -1;
	s->has_parent = at_tv_id_nonzero(s->parent_id, 8);
	if (jint_or_enum(o, "kind", kind_names, 6, &s->kind) < 0 ||
	    ju64(o, "startTimeUnixNano", &s->start_ns) < 0 ||
	    ju64(o, "endTimeUnixNano", &s->end_ns) < 0 ||
	    jattrs(o, "attributes", &s->attrs, &s->n_attrs) < 0)
		return -1;
	if (jarr(o, "events", &evs) < 0)
		return -1;
	if (evs) {
		s->events = at_xcalloc(evs->n, sizeof(*s->events));
		for (i = 0; i < evs->n; i++) {
			struct at_tv_event *e = &s->events[i];

			s->n_events++;
			if (evs->items[i].type != AT_JSON_OBJ ||
			    jstr(&evs->items[i], "name", &str) < 0)
				return -1;
			e->name = at_xstrdup(str);
			if (ju64(&evs->items[i], "timeUnixNano",
				 &e->time_ns) < 0 ||
			    jattrs(&evs->items[i], "attributes", &e->attrs,
				   &e->n_attrs) < 0)
				return -1;
		}
	}
	st = at_json_get(o, "status");
	if (st) {
		if (st->type != AT_JSON_OBJ ||
		    jint_or_enum(st, "code", status_names, 3, &s->status) < 0 ||
		    jstr(st, "message", &str) < 0)
			return -1;
		free(s->status_msg);
		s->status_msg = at_xstrdup(str);
	}
	return 0;
}

static int jrequest(const struct at_json *root, struct at_traces *tmp)
{
	const struct at_json *rss, *sss, *spans, *res, *attrs;
	size_t i, j, k, a;

	if (root->type != AT_JSON_OBJ || jarr(root, "resourceSpans", &rss) < 0)
		return -1;
	for (i = 0; rss && i < rss->n; i++) {
		const struct at_json *rs = &rss->items[i];
		const char *svc = "";

		if (rs->type != AT_JSON_OBJ)
			return -1;
		res = at_json_get(rs, "resource");
		if (res && res->type != AT_JSON_OBJ)
			return -1;
		if (jarr(res, "attributes", &attrs) < 0)
			return -1;
		for (a = 0; attrs && a < attrs->n; a++) {
			const char *k2;
			const struct at_json *sv;

			if (jstr(&attrs->items[a], "key", &k2) < 0)
				return -1;
			sv = at_json_get(at_json_get(&attrs->items[a], "value"),
				  "stringValue");
			if (strcmp(k2, "service.name") == 0 && sv &&
			    sv->type == AT_JSON_STR)
				svc = sv->s;
		}
		if (jarr(rs, "scopeSpans", &sss) < 0)
			return -1;
		for (j = 0; sss && j < sss->n; j++) {
			if (sss->items[j].type != AT_JSON_OBJ ||
			    jarr(&sss->items[j], "spans", &spans) < 0)
				return -1;
			for (k = 0; spans && k < spans->n; k++) {
				struct at_tv_span *s =
					at_xcalloc(1, sizeof(*s));

				at_traces_push(tmp, s);
				if (jspan(&spans->items[k], svc, s) < 0)
					return -1;
			}
		}
	}
	return 0;
}

int at_traces_add_json(struct at_traces *t, const char *line, size_t len)
{
	struct at_json root;
	struct at_traces tmp = { 0 };
	size_t i;
	int rc = -1;

	if (at_json_parse(line, len, &root) == 0) {
		rc = jrequest(&root, &tmp);
		at_json_free(&root);
	}
	for (i = 0; i < tmp.n_all; i++) {
		if (rc == 0)
			at_traces_push(t, tmp.all[i]);
		else
			at_tv_span_free(tmp.all[i]);
	}
	free(tmp.all);
	return rc;
}

