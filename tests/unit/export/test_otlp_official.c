/*
 * test_otlp_official.c - check at_otlp_encode()'s output with a decoder
 * generated from the OFFICIAL OpenTelemetry protos.
 *
 * A round trip through our own .proto files cannot catch a wrong field
 * number or type (encoder and decoder would agree on the mistake), so the
 * encoded bytes are written to a file and decoded by
 * tests/tools/otlp-decode.js, which uses the protobufjs code shipped in
 * @opentelemetry/otlp-transformer (installed by
 * scripts/setup-node-decoder.sh into build/node).  It prints the decoded
 * message as JSON; a small JSON reader below turns it into a tree and
 * every field is compared.  The tests are skipped only if node or the
 * package is missing.  Run from the repository root.
 */
#include <criterion/criterion.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "at_buf.h"
#include "at_compat.h"
#include "at_otlp.h"

#define START_NS 1700000000123456789ULL
#define DECODER "tests/tools/otlp-decode.js"

/* ---- a minimal JSON reader (enough for JSON.stringify output) ---- */

enum jtype { J_NULL, J_BOOL, J_NUM, J_STR, J_ARR, J_OBJ };

struct jv {
	enum jtype type;
	char *s;          /* J_STR: the string; J_NUM: the number's text */
	bool b;
	size_t n;         /* J_ARR / J_OBJ: number of members */
	char **keys;      /* J_OBJ */
	struct jv *items; /* J_ARR / J_OBJ */
};

static void skip_ws(const char **p)
{
	while (**p == ' ' || **p == '\n' || **p == '\r' || **p == '\t')
		(*p)++;
}

static void put_utf8(char **o, unsigned cp)
{
	if (cp < 0x80) {
		*(*o)++ = (char)cp;
	} else if (cp < 0x800) {
		*(*o)++ = (char)(0xc0 | (cp >> 6));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		*(*o)++ = (char)(0xe0 | (cp >> 12));
		*(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	} else {
		*(*o)++ = (char)(0xf0 | (cp >> 18));
		*(*o)++ = (char)(0x80 | ((cp >> 12) & 0x3f));
		*(*o)++ = (char)(0x80 | ((cp >> 6) & 0x3f));
		*(*o)++ = (char)(0x80 | (cp & 0x3f));
	}
}

static unsigned hex4(const char *p)
{
	unsigned v = 0;
	int i;

	for (i = 0; i < 4; i++) {
		char c = p[i];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			cr_assert_fail("bad \\u escape");
	}
	return v;
}

static char *parse_string(const char **p)
{
	const char *q = *p + 1;
	char *out = malloc(strlen(q) * 2 + 1), *o = out;

	cr_assert_not_null(out);
	for (; *q != '"'; q++) {
		cr_assert(*q, "unterminated JSON string");
		if (*q != '\\') {
			*o++ = *q;
			continue;
		}
		q++;
		switch (*q) {
		case 'n': *o++ = '\n'; break;
		case 't': *o++ = '\t'; break;
		case 'r': *o++ = '\r'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'u': {
			unsigned cp = hex4(q + 1);

			q += 4;
			if (cp >= 0xd800 && cp < 0xdc00 && q[1] == '\\' &&
			    q[2] == 'u') {
				unsigned lo = hex4(q + 3);

				cp = 0x10000 + ((cp - 0xd800) << 10) +
				     (lo - 0xdc00);
				q += 6;
			}
			put_utf8(&o, cp);
			break;
		}
		default: *o++ = *q; break;
		}
	}
	*o = '\0';
	*p = q + 1;
	return out;
}

static void parse_value(const char **p, struct jv *v)
{
	memset(v, 0, sizeof(*v));
	skip_ws(p);
	if (**p == '{' || **p == '[') {
		bool obj = **p == '{';
		char close = obj ? '}' : ']';

		v->type = obj ? J_OBJ : J_ARR;
		(*p)++;
		skip_ws(p);
		while (**p != close) {
			v->items = realloc(v->items,
					   (v->n + 1) * sizeof(*v->items));
			cr_assert_not_null(v->items);
			if (obj) {
				v->keys = realloc(v->keys, (v->n + 1) *
							   sizeof(*v->keys));
				cr_assert_not_null(v->keys);
				skip_ws(p);
				cr_assert_eq(**p, '"', "JSON key expected");
				v->keys[v->n] = parse_string(p);
				skip_ws(p);
				cr_assert_eq(**p, ':', "JSON ':' expected");
				(*p)++;
			}
			parse_value(p, &v->items[v->n++]);
			skip_ws(p);
			if (**p == ',')
				(*p)++;
			else
				cr_assert_eq(**p, close, "bad JSON");
			skip_ws(p);
		}
		(*p)++;
	} else if (**p == '"') {
		v->type = J_STR;
		v->s = parse_string(p);
	} else if (strncmp(*p, "true", 4) == 0) {
		v->type = J_BOOL;
		v->b = true;
		*p += 4;
	} else if (strncmp(*p, "false", 5) == 0) {
		v->type = J_BOOL;
		*p += 5;
	} else if (strncmp(*p, "null", 4) == 0) {
		v->type = J_NULL;
		*p += 4;
	} else {
		const char *s = *p;

		while (strchr("+-0123456789.eE", **p) && **p)
			(*p)++;
		cr_assert(*p > s, "bad JSON value at '%.20s'", s);
		v->type = J_NUM;
		v->s = strndup(s, (size_t)(*p - s));
	}
}

static void jfree(struct jv *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		jfree(&v->items[i]);
		if (v->keys)
			free(v->keys[i]);
	}
	free(v->items);
	free(v->keys);
	free(v->s);
}

/* Member key of object o, or NULL. */
static const struct jv *jget(const struct jv *o, const char *key)
{
	size_t i;

	cr_assert_eq(o->type, J_OBJ, "object expected for .%s", key);
	for (i = 0; i < o->n; i++)
		if (strcmp(o->keys[i], key) == 0)
			return &o->items[i];
	return NULL;
}

static const struct jv *jmust(const struct jv *o, const char *key)
{
	const struct jv *v = jget(o, key);

	cr_assert_not_null(v, "JSON member %s missing", key);
	return v;
}

static const struct jv *jat(const struct jv *a, size_t i)
{
	cr_assert_eq(a->type, J_ARR, "array expected");
	cr_assert_lt(i, a->n, "index %zu of %zu", i, a->n);
	return &a->items[i];
}

static const char *jstr(const struct jv *o, const char *key)
{
	const struct jv *v = jmust(o, key);

	cr_assert_eq(v->type, J_STR, "%s: string expected", key);
	return v->s;
}

static double jnum(const struct jv *o, const char *key)
{
	const struct jv *v = jmust(o, key);

	cr_assert_eq(v->type, J_NUM, "%s: number expected", key);
	return strtod(v->s, NULL);
}

/* ---- running the official decoder ---- */

static bool have_node(void)
{
	return system("command -v node >/dev/null 2>&1") == 0;
}

/* Encode recs, decode them with the official decoder into *root. */
static void official_decode(struct at_span_hdr **recs, size_t n,
			    const struct at_resource *res, struct jv *root)
{
	char path[] = "/tmp/at_otlp_official_XXXXXX";
	char cmd[512];
	struct at_buf out = { 0 }, json = { 0 };
	const char *p;
	FILE *f;
	int fd, st;
	size_t got;

	if (!have_node())
		cr_skip_test("node is not installed");
	cr_assert_eq(at_otlp_encode((const struct at_span_hdr *const *)recs,
				    n, res, &out), 0);
	fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, out.data, out.len), (ssize_t)out.len);
	close(fd);
	at_buf_free(&out);

	snprintf(cmd, sizeof(cmd),
		 "NODE_PATH=\"build/node/node_modules${NODE_PATH:+:$NODE_PATH}\" "
		 "node %s %s", DECODER, path);
	f = popen(cmd, "r");
	cr_assert_not_null(f);
	for (;;) {
		cr_assert_eq(at_buf_reserve(&json, 65536), 0);
		got = fread(json.data + json.len, 1, json.cap - json.len - 1,
			    f);
		if (got == 0)
			break;
		json.len += got;
	}
	st = pclose(f);
	unlink(path);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 3) {
		at_buf_free(&json);
		cr_skip_test("@opentelemetry/otlp-transformer is not installed "
			     "(scripts/setup-node-decoder.sh)");
	}
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		  "the official decoder rejected our encoding (status %d)",
		  st);
	json.data[json.len] = '\0';
	p = (const char *)json.data;
	parse_value(&p, root);
	at_buf_free(&json);
	cr_assert_eq(root->type, J_OBJ);
}

/* ---- spans ---- */

static struct at_str put(struct at_span *s, const char *str)
{
	struct at_str r;
	size_t n = strlen(str);

	r.off = s->h.arena_used;
	r.len = (uint16_t)n;
	memcpy(s->arena + s->h.arena_used, str, n);
	s->h.arena_used += (uint16_t)n;
	return r;
}

static struct at_attr *new_attr(struct at_span *s, const char *key,
				uint8_t type)
{
	struct at_attr *a = &s->attrs[s->h.n_attrs++];

	a->key = key;
	a->type = type;
	return a;
}

static void base_span(struct at_span *s, unsigned seed, const char *name,
		      uint8_t kind)
{
	int i;

	memset(s, 0, sizeof(*s));
	s->h.state = AT_SPAN_RECORDING;
	for (i = 0; i < 16; i++)
		s->h.ctx.trace_id[i] = (uint8_t)(0x10 * seed + i);
	for (i = 0; i < 8; i++)
		s->h.ctx.span_id[i] = (uint8_t)(0xf0 - seed - i);
	s->h.ctx.flags = AT_FLAG_SAMPLED;
	s->h.name = put(s, name);
	s->h.kind = kind;
	s->h.start_unix_ns = START_NS + seed;
	s->h.end_unix_ns = START_NS + seed + 1000 * seed + 1;
}

/* The rich span: a remote parent, every attribute type, events, error. */
static void rich_span(struct at_span *s)
{
	struct at_event *e;
	struct at_attr *a;
	int i;

	base_span(s, 1, "GET /users/{id}", AT_KIND_CLIENT);
	s->h.ctx.flags = AT_FLAG_SAMPLED | AT_FLAG_RANDOM;
	s->h.has_parent = 1;
	s->h.parent_is_remote = 1;
	for (i = 0; i < 8; i++)
		s->h.parent_span_id[i] = (uint8_t)(0x31 + i);
	s->h.tracestate = put(s, "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	new_attr(s, "http.request.method", AT_ATTR_STRING)->v.s =
		put(s, "GET");
	new_attr(s, "http.response.status_code", AT_ATTR_INT)->v.i = 503;
	new_attr(s, "negative", AT_ATTR_INT)->v.i = -9007199254740993LL;
	new_attr(s, "ratio", AT_ATTR_DOUBLE)->v.d = 0.25;
	new_attr(s, "cache.hit", AT_ATTR_BOOL)->v.b = 1;
	new_attr(s, "cache.miss", AT_ATTR_BOOL)->v.b = 0;
	new_attr(s, "empty", AT_ATTR_STRING)->v.s = put(s, "");
	new_attr(s, "unicode", AT_ATTR_STRING)->v.s =
		put(s, "caf\xc3\xa9 \xe2\x9c\x93 \"q\"\n");
	s->h.dropped_attrs = 3;

	e = &s->events[s->h.n_events++];
	e->name = "exception";
	e->time_unix_ns = START_NS + 500;
	e->first_attr = 0;
	e->n_attrs = 2;
	e->dropped_attrs = 1;
	a = &s->ev_attrs[s->h.n_ev_attrs++];
	a->key = "exception.type";
	a->type = AT_ATTR_STRING;
	a->v.s = put(s, "ECONNREFUSED");
	a = &s->ev_attrs[s->h.n_ev_attrs++];
	a->key = "exception.message";
	a->type = AT_ATTR_STRING;
	a->v.s = put(s, "Connection refused");
	e = &s->events[s->h.n_events++];
	e->name = "retry";
	e->time_unix_ns = START_NS + 900;
	e->first_attr = 2;
	e->n_attrs = 0;
	s->h.dropped_events = 2;

	s->h.status_code = AT_STATUS_ERROR;
	s->h.status_message = put(s, "connect: Connection refused");
}

static struct at_span_hdr *record(const struct at_span *s)
{
	size_t n = at_span_record_size(s);
	struct at_span_hdr *r = aligned_alloc(8, (n + 7) & ~(size_t)7);

	cr_assert_not_null(r);
	at_span_serialize(s, r);
	return r;
}

static void check_attr(const struct jv *attrs, size_t i, const char *key,
		       const char *type, const char *want)
{
	const struct jv *kv = jat(attrs, i), *v;

	cr_assert_str_eq(jstr(kv, "key"), key);
	v = jmust(kv, "value");
	cr_assert_str_eq(jstr(v, "value"), type, "%s: type", key);
	if (strcmp(type, "boolValue") == 0) {
		cr_assert_eq(jmust(v, "boolValue")->type, J_BOOL);
		cr_assert_eq(jmust(v, "boolValue")->b,
			     strcmp(want, "true") == 0, "%s", key);
	} else if (strcmp(type, "doubleValue") == 0) {
		cr_assert_eq(jnum(v, "doubleValue"), strtod(want, NULL), "%s",
			     key);
	} else {
		cr_assert_str_eq(jstr(v, type), want, "%s", key);
	}
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	size_t i;

	for (i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", p[i]);
}

Test(otlp, official_every_field, .timeout = 60)
{
	static struct at_span s[4];
	struct at_span_hdr *recs[4];
	static struct at_resource res;
	const struct jv *rs, *ss, *sp, *attrs, *ev, *st, *scope;
	char want[64];
	struct jv root;
	int i;

	rich_span(&s[0]);
	base_span(&s[1], 2, "accept", AT_KIND_SERVER);
	s[1].h.status_code = AT_STATUS_OK;
	base_span(&s[2], 3, "produce", AT_KIND_PRODUCER);
	s[2].h.has_parent = 1; /* local parent */
	memset(s[2].h.parent_span_id, 0x0e, 8);
	base_span(&s[3], 4, "consume", AT_KIND_CONSUMER);
	s[3].h.ctx.flags = 0;
	for (i = 0; i < 4; i++)
		recs[i] = record(&s[i]);
	res.attrs[0] = (struct at_kv){ "service.name", AT_KV_STRING,
				       "checkout", 0 };
	res.attrs[1] = (struct at_kv){ "process.pid", AT_KV_INT, NULL, 31337 };
	res.attrs[2] = (struct at_kv){ "telemetry.sdk.language", AT_KV_STRING,
				       "c", 0 };
	res.attrs[3] = (struct at_kv){ "debug.enabled", AT_KV_BOOL, NULL, 1 };
	res.n = 4;

	official_decode(recs, 4, &res, &root);

	rs = jmust(&root, "resourceSpans");
	cr_assert_eq(rs->n, 1);
	rs = jat(rs, 0);
	attrs = jmust(jmust(rs, "resource"), "attributes");
	cr_assert_eq(attrs->n, 4);
	check_attr(attrs, 0, "service.name", "stringValue", "checkout");
	check_attr(attrs, 1, "process.pid", "intValue", "31337");
	check_attr(attrs, 2, "telemetry.sdk.language", "stringValue", "c");
	check_attr(attrs, 3, "debug.enabled", "boolValue", "true");

	ss = jmust(rs, "scopeSpans");
	cr_assert_eq(ss->n, 1);
	ss = jat(ss, 0);
	scope = jmust(ss, "scope");
	cr_assert_str_eq(jstr(scope, "name"), "libautotrace");
	cr_assert_str_eq(jstr(scope, "version"), AT_VERSION);
	cr_assert_eq(jmust(ss, "spans")->n, 4);

	/* The rich span. */
	sp = jat(jmust(ss, "spans"), 0);
	hex(s[0].h.ctx.trace_id, 16, want);
	cr_assert_str_eq(jstr(sp, "traceId"), want);
	hex(s[0].h.ctx.span_id, 8, want);
	cr_assert_str_eq(jstr(sp, "spanId"), want);
	cr_assert_str_eq(jstr(sp, "parentSpanId"), "3132333435363738");
	cr_assert_str_eq(jstr(sp, "traceState"),
			 "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
	cr_assert_eq(jnum(sp, "flags"), 0x303);
	cr_assert_str_eq(jstr(sp, "name"), "GET /users/{id}");
	cr_assert_str_eq(jstr(sp, "kind"), "SPAN_KIND_CLIENT");
	cr_assert_str_eq(jstr(sp, "startTimeUnixNano"), "1700000000123456790");
	cr_assert_str_eq(jstr(sp, "endTimeUnixNano"), "1700000000123457791");
	attrs = jmust(sp, "attributes");
	cr_assert_eq(attrs->n, 8);
	check_attr(attrs, 0, "http.request.method", "stringValue", "GET");
	check_attr(attrs, 1, "http.response.status_code", "intValue", "503");
	check_attr(attrs, 2, "negative", "intValue", "-9007199254740993");
	check_attr(attrs, 3, "ratio", "doubleValue", "0.25");
	check_attr(attrs, 4, "cache.hit", "boolValue", "true");
	check_attr(attrs, 5, "cache.miss", "boolValue", "false");
	check_attr(attrs, 6, "empty", "stringValue", "");
	check_attr(attrs, 7, "unicode", "stringValue",
		   "caf\xc3\xa9 \xe2\x9c\x93 \"q\"\n");
	cr_assert_eq(jnum(sp, "droppedAttributesCount"), 3);
	cr_assert_eq(jmust(sp, "events")->n, 2);
	ev = jat(jmust(sp, "events"), 0);
	cr_assert_str_eq(jstr(ev, "timeUnixNano"), "1700000000123457289");
	cr_assert_str_eq(jstr(ev, "name"), "exception");
	cr_assert_eq(jmust(ev, "attributes")->n, 2);
	check_attr(jmust(ev, "attributes"), 0, "exception.type",
		   "stringValue", "ECONNREFUSED");
	check_attr(jmust(ev, "attributes"), 1, "exception.message",
		   "stringValue", "Connection refused");
	cr_assert_eq(jnum(ev, "droppedAttributesCount"), 1);
	ev = jat(jmust(sp, "events"), 1);
	cr_assert_str_eq(jstr(ev, "name"), "retry");
	cr_assert_str_eq(jstr(ev, "timeUnixNano"), "1700000000123457689");
	cr_assert_null(jget(ev, "attributes"));
	cr_assert_null(jget(ev, "droppedAttributesCount"));
	cr_assert_eq(jnum(sp, "droppedEventsCount"), 2);
	cr_assert_null(jget(sp, "links"));
	st = jmust(sp, "status");
	cr_assert_str_eq(jstr(st, "code"), "STATUS_CODE_ERROR");
	cr_assert_str_eq(jstr(st, "message"), "connect: Connection refused");

	/* A local root, OK: no parent, no trace state, no message. */
	sp = jat(jmust(ss, "spans"), 1);
	hex(s[1].h.ctx.trace_id, 16, want);
	cr_assert_str_eq(jstr(sp, "traceId"), want);
	hex(s[1].h.ctx.span_id, 8, want);
	cr_assert_str_eq(jstr(sp, "spanId"), want);
	cr_assert_null(jget(sp, "parentSpanId"));
	cr_assert_null(jget(sp, "traceState"));
	cr_assert_eq(jnum(sp, "flags"), 0x101);
	cr_assert_str_eq(jstr(sp, "name"), "accept");
	cr_assert_str_eq(jstr(sp, "kind"), "SPAN_KIND_SERVER");
	cr_assert_str_eq(jstr(sp, "startTimeUnixNano"), "1700000000123456791");
	cr_assert_str_eq(jstr(sp, "endTimeUnixNano"), "1700000000123458792");
	cr_assert_null(jget(sp, "attributes"));
	cr_assert_null(jget(sp, "events"));
	st = jmust(sp, "status");
	cr_assert_str_eq(jstr(st, "code"), "STATUS_CODE_OK");
	cr_assert_null(jget(st, "message"));

	/* A local parent; producer. */
	sp = jat(jmust(ss, "spans"), 2);
	cr_assert_str_eq(jstr(sp, "parentSpanId"), "0e0e0e0e0e0e0e0e");
	cr_assert_eq(jnum(sp, "flags"), 0x101);
	cr_assert_str_eq(jstr(sp, "kind"), "SPAN_KIND_PRODUCER");
	cr_assert_null(jget(jmust(sp, "status"), "code"), "UNSET is 0");

	/* Consumer, trace flags 0. */
	sp = jat(jmust(ss, "spans"), 3);
	cr_assert_eq(jnum(sp, "flags"), 0x100);
	cr_assert_str_eq(jstr(sp, "kind"), "SPAN_KIND_CONSUMER");
	cr_assert_str_eq(jstr(sp, "name"), "consume");

	jfree(&root);
	for (i = 0; i < 4; i++)
		free(recs[i]);
}

Test(otlp, official_large_batch_framing, .timeout = 120)
{
	/* Outer lengths of 4 varint bytes (> 2 MiB). */
	enum { N = 2500 };
	static struct at_span s;
	static char name[1100];
	struct at_span_hdr **recs = calloc(N, sizeof(*recs));
	const struct jv *spans;
	struct jv root;
	size_t i;

	cr_assert_not_null(recs);
	for (i = 0; i < N; i++) {
		memset(name, 'a' + (int)(i % 26), 1000);
		snprintf(name + 1000, 32, "-%zu", i);
		base_span(&s, (unsigned)(i % 200), name, AT_KIND_INTERNAL);
		recs[i] = record(&s);
	}
	official_decode(recs, N, NULL, &root);
	spans = jmust(jat(jmust(jat(jmust(&root, "resourceSpans"), 0),
				"scopeSpans"), 0), "spans");
	cr_assert_eq(spans->n, N);
	for (i = 0; i < N; i += 499) {
		const char *nm = jstr(jat(spans, i), "name");

		snprintf(name + 1000, 32, "-%zu", i);
		cr_assert_eq(nm[0], 'a' + (int)(i % 26));
		cr_assert_str_eq(nm + 1000, name + 1000);
		cr_assert_str_eq(jstr(jat(spans, i), "kind"),
				 "SPAN_KIND_INTERNAL");
	}
	jfree(&root);
	for (i = 0; i < N; i++)
		free(recs[i]);
	free(recs);
}
