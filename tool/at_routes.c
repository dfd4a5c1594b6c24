/*
 * at_routes.c - what a span is about, in words a person groups by: the
 * route of an HTTP request, the operation a span names, the signature
 * that makes two spans "the same call".  Pure functions of one span (see
 * at_traces.h); the endpoints table with its cardinality bound is in
 * at_endpoints.c.
 *
 * Route: http.route when the span has it (the server framework knew it),
 * else a template of the path (url.path, else the path of url.full): the
 * query and fragment go, and each segment that looks like an identifier
 * becomes "{id}": all digits, a UUID (8-4-4-4-12 hex digits), a hex id
 * (>= 8 hex digits with at least one digit), or a long token (>= 16
 * characters of letters, digits, '-', '_', '.', '~', '=' with at least
 * one digit and one letter).  "/orders/42/items" -> "/orders/{id}/items".
 * Segments are kept whole up to AT_ROUTE_MAX bytes in all; a longer path
 * ends in "...".  A cache key is templated the same way, segment by
 * segment on ':' and '/', with "?" for an identifier (the
 * library's own redaction of values): "user:42" -> "user:?".
 *
 * Operation: "GET /orders/{id}" (HTTP), "SELECT orders" (SQL: the span's
 * name when the library named it from the query, else operation and
 * collection), "GET user:? hit" (a cache read: command, key template,
 * hit or miss), else the span's name.
 *
 * Signature: the operation plus the target (server.address:port), with
 * the full sanitised query text for SQL, so that "the same statement"
 * means the same text, and without hit/miss.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "at_traces.h"
#include "at_xalloc.h"

static int is_hex(int c)
{
	return isxdigit(c);
}

static int is_uuid(const char *s, size_t n)
{
	static const int dash[] = { 8, 13, 18, 23 };
	size_t i, d = 0;

	if (n != 36)
		return 0;
	for (i = 0; i < n; i++) {
		if (d < 4 && (int)i == dash[d]) {
			if (s[i] != '-')
				return 0;
			d++;
		} else if (!is_hex((unsigned char)s[i])) {
			return 0;
		}
	}
	return 1;
}

int at_route_is_id(const char *s, size_t n)
{
	size_t i, digits = 0, hex = 0, alpha = 0, token = 0;

	if (!n)
		return 0;
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		digits += isdigit(c) != 0;
		hex += is_hex(c) != 0;
		alpha += isalpha(c) != 0;
		token += isalnum(c) || c == '-' || c == '_' || c == '.' ||
			 c == '~' || c == '=';
	}
	if (digits == n)
		return 1;
	if (is_uuid(s, n))
		return 1;
	if (hex == n && n >= 8 && digits)
		return 1;
	return token == n && n >= 16 && digits && alpha;
}

/* Append the template of s[0..n) to b, with seps as separators. */
static void template_into(struct at_buf *b, const char *s, size_t n,
			  const char *seps, const char *id)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i;

		while (j < n && !strchr(seps, s[j]))
			j++;
		if (b->len + (j - i) > AT_ROUTE_MAX) {
			at_xbuf_str(b, "...");
			return;
		}
		if (at_route_is_id(s + i, j - i))
			at_xbuf_str(b, id);
		else
			at_xbuf_add(b, s + i, j - i);
		if (j < n)
			at_xbuf_add(b, s + j, 1);
		i = j + 1;
	}
}

char *at_route_template(const char *path)
{
	struct at_buf b = { 0 };
	size_t n;

	if (!path || !*path)
		return at_xstrdup("/");
	n = strcspn(path, "?#");
	if (!n)
		return at_xstrdup("/");
	template_into(&b, path, n, "/", "{id}");
	return at_xbuf_take(&b);
}

char *at_cache_key_template(const char *key)
{
	struct at_buf b = { 0 };

	if (!key || !*key)
		return at_xstrdup("");
	template_into(&b, key, strlen(key), ":/", "?");
	return at_xbuf_take(&b);
}

const char *at_tv_span_path(const struct at_tv_span *s, size_t *len)
{
	const char *p = at_tv_attr(s, "url.path");
	const char *u;

	if (p && *p) {
		*len = strcspn(p, "?#");
		return p;
	}
	u = at_tv_attr(s, "url.full");
	if (!u)
		return NULL;
	p = strstr(u, "://");
	p = p ? strchr(p + 3, '/') : (*u == '/' ? u : NULL);
	if (!p)
		return NULL;
	*len = strcspn(p, "?#");
	return p;
}

char *at_tv_span_route(const struct at_tv_span *s)
{
	const char *r = at_tv_attr(s, "http.route");
	const char *p;
	char *path, *t;
	size_t n = 0;

	if (r && *r)
		return at_xstrdup(r);
	p = at_tv_span_path(s, &n);
	if (!p)
		return at_xstrdup("/");
	path = at_xstrndup(p, n);
	t = at_route_template(path);
	free(path);
	return t;
}

static int is_db(const struct at_tv_span *s)
{
	return at_tv_attr(s, "db.system.name") || at_tv_attr(s, "db.system");
}

int at_tv_span_is_cache(const struct at_tv_span *s)
{
	const char *sys = at_tv_attr(s, "db.system.name");

	if (!sys)
		sys = at_tv_attr(s, "db.system");
	return sys && (!strcmp(sys, "redis") || !strcmp(sys, "valkey") ||
		       !strcmp(sys, "memcached"));
}

/* The first word of s (at most cap - 1 bytes) into out. */
static void first_word(const char *s, char *out, size_t cap)
{
	size_t n = 0;

	while (*s && isspace((unsigned char)*s))
		s++;
	while (s[n] && !isspace((unsigned char)s[n]) && n + 1 < cap)
		n++;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* The key of a cache command: the second word of its query text. */
static char *cache_key(const struct at_tv_span *s)
{
	const char *q = at_tv_attr(s, "db.query.text");
	size_t n;

	if (!q)
		return NULL;
	while (*q && isspace((unsigned char)*q))
		q++;
	while (*q && !isspace((unsigned char)*q))
		q++;
	while (*q && isspace((unsigned char)*q))
		q++;
	n = strcspn(q, " \t\r\n");
	if (!n)
		return NULL;
	{
		char *k = at_xstrndup(q, n), *t = at_cache_key_template(k);

		free(k);
		return t;
	}
}

int at_tv_span_is_connect(const struct at_tv_span *s)
{
	size_t n = strlen(s->name);

	return n >= 7 && strcasecmp(s->name + n - 7, "connect") == 0;
}

/* Operation of s into b; with_outcome adds a cache read's hit/miss. */
static void operation(const struct at_tv_span *s, struct at_buf *b,
		      int with_outcome)
{
	const char *m = at_tv_attr(s, "http.request.method");
	const char *op = at_tv_attr(s, "db.operation.name");
	const char *coll = at_tv_attr(s, "db.collection.name");
	const char *q = at_tv_attr(s, "db.query.text");
	const char *sys = at_tv_attr(s, "db.system.name");
	char w[64];

	if (m) {
		char *r = at_tv_span_route(s);

		at_xbuf_printf(b, "%s %s", m, r);
		free(r);
		return;
	}
	if (at_tv_span_is_cache(s)) {
		char *k = cache_key(s);
		const char *hit = at_tv_attr(s, "autotrace.cache.hit");

		if (op && *op)
			at_xbuf_str(b, op);
		else
			at_xbuf_str(b, s->name);
		if (k && *k)
			at_xbuf_printf(b, " %s", k);
		free(k);
		if (with_outcome && hit)
			at_xbuf_str(b, strcmp(hit, "true") == 0 ? " hit" :
				    " miss");
		return;
	}
	if (is_db(s) && !at_tv_span_is_connect(s)) {
		/* the library names a statement "SELECT items"; a bare
		 * system name says nothing */
		if (s->name[0] && !(sys && strcasecmp(s->name, sys) == 0)) {
			at_xbuf_str(b, s->name);
			return;
		}
		if (op && *op) {
			at_xbuf_str(b, op);
			if (coll && *coll)
				at_xbuf_printf(b, " %s", coll);
			return;
		}
		if (q) {
			first_word(q, w, sizeof(w));
			if (w[0]) {
				at_xbuf_str(b, w);
				return;
			}
		}
	}
	at_xbuf_str(b, s->name[0] ? s->name : "(unnamed)");
}

char *at_tv_span_op(const struct at_tv_span *s)
{
	struct at_buf b = { 0 };

	operation(s, &b, 1);
	return at_xbuf_take(&b);
}

/* The query text on one line (white space runs as one space). */
static void one_line(struct at_buf *b, const char *q)
{
	int sp = 0;

	for (; *q; q++) {
		if (isspace((unsigned char)*q)) {
			sp = 1;
			continue;
		}
		if (sp && b->len)
			at_xbuf_add(b, " ", 1);
		sp = 0;
		at_xbuf_add(b, q, 1);
	}
}

char *at_tv_span_target(const struct at_tv_span *s)
{
	const char *a = at_tv_attr(s, "server.address");
	const char *p = at_tv_attr(s, "server.port");
	const char *sys = at_tv_attr(s, "db.system.name");
	struct at_buf b = { 0 };

	if (!a) {
		a = at_tv_attr(s, "network.peer.address");
		p = at_tv_attr(s, "network.peer.port");
	}
	at_xbuf_printf(&b, "%s|%s:%s", sys ? sys : at_tv_attr(s,
		       "http.request.method") ? "http" : "", a ? a : "",
		       p ? p : "");
	return at_xbuf_take(&b);
}

char *at_tv_span_signature(const struct at_tv_span *s)
{
	const char *q = at_tv_attr(s, "db.query.text");
	struct at_buf b = { 0 };
	char *t = at_tv_span_target(s);

	at_xbuf_printf(&b, "%s ", t);
	free(t);
	if (q && *q && is_db(s) && !at_tv_span_is_cache(s))
		one_line(&b, q);
	else
		operation(s, &b, 0);
	return at_xbuf_take(&b);
}

char *at_tv_span_what(const struct at_tv_span *s)
{
	const char *q = at_tv_attr(s, "db.query.text");
	struct at_buf b = { 0 };

	if (q && *q && is_db(s) && !at_tv_span_is_cache(s))
		one_line(&b, q);
	else
		operation(s, &b, 0);
	return at_xbuf_take(&b);
}

void at_tv_span_error_text(const struct at_tv_span *s, char *out, size_t cap)
{
	const char *st = at_tv_attr(s, "http.response.status_code");
	const char *et = at_tv_attr(s, "error.type");

	if (!cap)
		return;
	if (s->status_msg && s->status_msg[0])
		snprintf(out, cap, "%s", s->status_msg);
	else if (st && atoi(st) >= 400)
		snprintf(out, cap, "HTTP %s", st);
	else if (et && *et)
		snprintf(out, cap, "%s", et);
	else
		snprintf(out, cap, "error");
}
