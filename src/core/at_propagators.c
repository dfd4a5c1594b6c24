/*
 * at_propagators.c - B3, Jaeger and W3C Baggage header values
 * (at_propagators.h).
 *
 * Each parser validates the whole value before it writes its output, so
 * that a rejected value leaves the caller's context as it was: with
 * several propagators configured, a later one that finds nothing usable
 * never clobbers what an earlier one extracted.  Ids are decoded into a
 * local context first for the same reason.
 *
 * Sources of the formats: the B3 propagation description of openzipkin
 * (b3-propagation), Jaeger's client library documentation (propagation
 * format), and the W3C Baggage draft (https://www.w3.org/TR/baggage/):
 * baggage-string = list-member 0*179( OWS "," OWS list-member ),
 * list-member = key OWS "=" OWS value *( OWS ";" OWS property ),
 * property = key OWS "=" OWS value / key OWS, key = token (RFC 9110),
 * value = *baggage-octet (%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E).
 */
#include "at_propagators.h"

#include <string.h>

#include "at_ascii.h"

/* ------------------------------------------------------------------ */
/* OTEL_PROPAGATORS                                                    */

static const struct {
	const char *name;
	unsigned bit;
} prop_names[] = {
	{ "tracecontext", AT_PROP_TRACECONTEXT },
	{ "baggage", AT_PROP_BAGGAGE },
	{ "b3", AT_PROP_B3 },
	{ "b3multi", AT_PROP_B3MULTI },
	{ "jaeger", AT_PROP_JAEGER },
};

int at_propagators_parse(const char *v, unsigned *mask,
			 uint8_t order[AT_PROP_MAX], int *n,
			 const char **bad, size_t *bad_len)
{
	uint8_t ord[AT_PROP_MAX];
	unsigned m = 0;
	int k = 0, none = 0, names = 0;
	const char *p = v ? v : "";

	for (;;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *name = p;
		unsigned bit = 0;

		at_trim_ows(&name, &len);
		if (len > 0) {
			names++;
			if (len == 4 && !memcmp(name, "none", 4)) {
				none = 1;
			} else {
				for (size_t i = 0; i < sizeof(prop_names) /
							sizeof(prop_names[0]); i++)
					if (strlen(prop_names[i].name) == len &&
					    !memcmp(prop_names[i].name, name, len))
						bit = prop_names[i].bit;
				if (!bit) {
					if (bad) {
						*bad = name;
						*bad_len = len;
					}
					return -1;
				}
				if (!(m & bit)) {
					m |= bit;
					ord[k++] = (uint8_t)bit;
				}
			}
		}
		if (!end)
			break;
		p = end + 1;
	}
	if (none && names > 1) {
		if (bad) {
			*bad = "none";
			*bad_len = 4;
		}
		return -1;
	}
	if (names == 0) { /* empty: the default */
		m = AT_PROP_DEFAULT;
		ord[0] = AT_PROP_TRACECONTEXT;
		ord[1] = AT_PROP_BAGGAGE;
		k = 2;
	}
	*mask = m;
	memcpy(order, ord, (size_t)k);
	*n = k;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Ids                                                                 */

/* Hex of len digits (either case when any_case, else lowercase only)
 * into the low end of out[size] (zero-padded on the left).  -1 if a
 * character is not a hex digit, len is 0 or more than 2 * size, or the
 * id is all zero. */
static int id_decode(const char *s, size_t len, uint8_t *out, size_t size,
		     int any_case)
{
	uint8_t id[16] = { 0 };

	if (len == 0 || len > 2 * size)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = at_hex_value(s[i]);
		size_t digit = 2 * size - len + i; /* position, left-padded */

		if (v < 0 || (!any_case && s[i] >= 'A' && s[i] <= 'F'))
			return -1;
		id[digit / 2] |= (uint8_t)(digit & 1 ? v : v << 4);
	}
	if (at_id_is_zero(id, size))
		return -1;
	memcpy(out, id, size);
	return 0;
}

static int sampled_flag(const char *s, size_t len, uint8_t *flags)
{
	if (len == 1 && (s[0] == '1' || s[0] == 'd'))
		*flags = AT_FLAG_SAMPLED;
	else if (len == 1 && s[0] == '0')
		*flags = 0;
	else
		return -1;
	return 0;
}

/* Split [s, s + len) at sep into at most four fields: their count, or
 * -1 when there are more. */
static int split4(const char *s, size_t len, char sep, const char *f[4],
		  size_t fl[4])
{
	int nf = 0;

	f[0] = s;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != sep)
			continue;
		fl[nf] = (size_t)(s + i - f[nf]);
		nf++;
		if (i == len)
			break;
		if (nf == 4)
			return -1;
		f[nf] = s + i + 1;
	}
	return nf;
}

/* ------------------------------------------------------------------ */
/* B3                                                                  */

int at_b3_parse(const char *s, size_t len, struct at_span_context *out)
{
	struct at_span_context ctx = { .flags = AT_FLAG_SAMPLED };
	const char *f[4];
	size_t fl[4];
	int nf = 0;

	if (!s || !out)
		return -1;
	at_trim_ows(&s, &len);
	nf = split4(s, len, '-', f, fl);
	if (nf < 2) /* a sampling state alone, or garbage */
		return -1;
	if ((fl[0] != 32 && fl[0] != 16) || fl[1] != 16)
		return -1;
	if (id_decode(f[0], fl[0], ctx.trace_id, 16, 0) < 0 ||
	    id_decode(f[1], fl[1], ctx.span_id, 8, 0) < 0)
		return -1;
	if (nf >= 3 && sampled_flag(f[2], fl[2], &ctx.flags) < 0)
		return -1;
	if (nf == 4) {
		uint8_t parent[8];

		if (fl[3] != 16 || id_decode(f[3], fl[3], parent, 8, 0) < 0)
			return -1;
	}
	*out = ctx;
	return 0;
}

size_t at_b3_format(const struct at_span_context *ctx, char out[AT_B3_LEN + 1])
{
	at_hex_encode(ctx->trace_id, 16, out);
	out[32] = '-';
	at_hex_encode(ctx->span_id, 8, out + 33);
	out[49] = '-';
	out[50] = ctx->flags & AT_FLAG_SAMPLED ? '1' : '0';
	out[51] = 0;
	return AT_B3_LEN;
}

int at_b3multi_parse(const char *trace, size_t trace_len, const char *span,
		     size_t span_len, const char *sampled, size_t sampled_len,
		     const char *flags, size_t flags_len,
		     struct at_span_context *out)
{
	struct at_span_context ctx = { .flags = AT_FLAG_SAMPLED };

	if (!trace || !span || !out)
		return -1;
	at_trim_ows(&trace, &trace_len);
	at_trim_ows(&span, &span_len);
	if ((trace_len != 32 && trace_len != 16) || span_len != 16 ||
	    id_decode(trace, trace_len, ctx.trace_id, 16, 0) < 0 ||
	    id_decode(span, span_len, ctx.span_id, 8, 0) < 0)
		return -1;
	if (sampled) {
		at_trim_ows(&sampled, &sampled_len);
		if (sampled_len == 4 && !memcmp(sampled, "true", 4))
			ctx.flags = AT_FLAG_SAMPLED;
		else if (sampled_len == 5 && !memcmp(sampled, "false", 5))
			ctx.flags = 0;
		else if (sampled_flag(sampled, sampled_len, &ctx.flags) < 0 ||
			 sampled[0] == 'd')
			return -1;
	}
	if (flags) {
		at_trim_ows(&flags, &flags_len);
		if (flags_len == 1 && flags[0] == '1')
			ctx.flags = AT_FLAG_SAMPLED; /* debug */
		else if (!(flags_len == 1 && flags[0] == '0'))
			return -1;
	}
	*out = ctx;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Jaeger                                                              */

int at_jaeger_parse(const char *s, size_t len, struct at_span_context *out)
{
	struct at_span_context ctx = { 0 };
	char buf[128];
	size_t n = 0;
	const char *f[4];
	size_t fl[4];
	int nf = 0, fv = 0;

	if (!s || !out)
		return -1;
	at_trim_ows(&s, &len);
	/* URL-decoded ':' ("%3A", "%3a") into buf. */
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < len && s[i + 1] == '3' &&
		    (s[i + 2] == 'A' || s[i + 2] == 'a')) {
			c = ':';
			i += 2;
		}
		if (n == sizeof(buf))
			return -1;
		buf[n++] = c;
	}
	nf = split4(buf, n, ':', f, fl);
	if (nf != 4)
		return -1;
	if (id_decode(f[0], fl[0], ctx.trace_id, 16, 1) < 0 ||
	    id_decode(f[1], fl[1], ctx.span_id, 8, 1) < 0)
		return -1;
	/* The parent: hex, may be "0" (deprecated, ignored). */
	if (fl[2] == 0 || fl[2] > 16)
		return -1;
	for (size_t i = 0; i < fl[2]; i++)
		if (at_hex_value(f[2][i]) < 0)
			return -1;
	if (fl[3] == 0 || fl[3] > 2)
		return -1;
	for (size_t i = 0; i < fl[3]; i++) {
		int v = at_hex_value(f[3][i]);

		if (v < 0)
			return -1;
		fv = fv * 16 + v;
	}
	ctx.flags = (fv & 0x03) ? AT_FLAG_SAMPLED : 0; /* sampled or debug */
	*out = ctx;
	return 0;
}

size_t at_jaeger_format(const struct at_span_context *ctx,
			char out[AT_JAEGER_LEN + 1])
{
	at_hex_encode(ctx->trace_id, 16, out);
	out[32] = ':';
	at_hex_encode(ctx->span_id, 8, out + 33);
	memcpy(out + 49, ":0:", 3);
	out[52] = '0';
	out[53] = ctx->flags & AT_FLAG_SAMPLED ? '1' : '0';
	out[54] = 0;
	return AT_JAEGER_LEN;
}

/* ------------------------------------------------------------------ */
/* W3C Baggage                                                         */

static int is_baggage_octet(unsigned char c)
{
	return c == 0x21 || (c >= 0x23 && c <= 0x2b) ||
	       (c >= 0x2d && c <= 0x3a) || (c >= 0x3c && c <= 0x5b) ||
	       (c >= 0x5d && c <= 0x7e);
}

struct scan {
	const char *s;
	size_t len, i;
};

static void skip_ows(struct scan *sc)
{
	while (sc->i < sc->len && at_is_ows(sc->s[sc->i]))
		sc->i++;
}

/* A token at sc->i: its start and length (0 if none). */
static size_t take(struct scan *sc, int (*ok)(char), const char **start)
{
	*start = sc->s + sc->i;
	while (sc->i < sc->len && ok(sc->s[sc->i]))
		sc->i++;
	return (size_t)(sc->s + sc->i - *start);
}

static int value_char(char c)
{
	return is_baggage_octet((unsigned char)c);
}

/* Output of one member: written while it fits in cap. */
struct sink {
	char *p;
	size_t cap, w;
	int over;
};

static void put(struct sink *o, const char *p, size_t n)
{
	if (o->over || o->w + n > o->cap) {
		o->over = 1;
		return;
	}
	memcpy(o->p + o->w, p, n);
	o->w += n;
}

/*
 * One list member at sc->i (after its leading OWS), scanned whole and
 * written normalized to o while it fits.  Returns 1 for a member, 0 for
 * an empty one, -1 for a syntax error.
 */
static int member(struct scan *sc, struct sink *o)
{
	const char *k, *v;
	size_t kl, vl;

	kl = take(sc, at_is_token_char, &k);
	if (kl == 0) {
		skip_ows(sc);
		return (sc->i == sc->len || sc->s[sc->i] == ',') ? 0 : -1;
	}
	skip_ows(sc);
	if (sc->i == sc->len || sc->s[sc->i] != '=')
		return -1;
	sc->i++;
	skip_ows(sc);
	vl = take(sc, value_char, &v);
	put(o, k, kl);
	put(o, "=", 1);
	put(o, v, vl);
	for (;;) {
		skip_ows(sc);
		if (sc->i == sc->len || sc->s[sc->i] == ',')
			return 1;
		if (sc->s[sc->i] != ';')
			return -1;
		sc->i++;
		skip_ows(sc);
		kl = take(sc, at_is_token_char, &k);
		if (kl == 0)
			return -1;
		put(o, ";", 1);
		put(o, k, kl);
		skip_ows(sc);
		if (sc->i < sc->len && sc->s[sc->i] == '=') {
			sc->i++;
			skip_ows(sc);
			vl = take(sc, value_char, &v);
			put(o, "=", 1);
			put(o, v, vl);
		}
	}
}

int at_baggage_sanitize_parts(const struct at_prop_str *parts, size_t n,
			      char *out, size_t cap)
{
	size_t lim, w = 0;
	int members = 0, full = 0;

	if (cap == 0)
		return -1;
	out[0] = 0;
	lim = cap - 1 < AT_BAGGAGE_MAX ? cap - 1 : AT_BAGGAGE_MAX;
	/* The fields are one list (RFC 9110 5.3): a member never spans two,
	 * so each is scanned alone, the limits counted over all. */
	for (size_t k = 0; k < n; k++) {
		struct scan sc = { parts[k].p, parts[k].len, 0 };

		if (!sc.s)
			return -1;
		for (;;) {
			/* Each member is written in place after a ',' and
			 * taken back when it does not fit. */
			size_t at = w ? w + 1 : 0;
			struct sink o = { out + at, at <= lim ? lim - at : 0,
					  0, 0 };
			int r;

			skip_ows(&sc);
			r = member(&sc, &o);
			if (r < 0) {
				out[0] = 0;
				return -1;
			}
			/* Over a limit: this member and every later one are
			 * dropped (the list keeps its order); the syntax is
			 * still checked. */
			if (r == 1 && (full || o.over ||
				       members == AT_BAGGAGE_MAX_MEMBERS)) {
				full = 1;
			} else if (r == 1) {
				if (w)
					out[w] = ',';
				w = at + o.w;
				members++;
			}
			if (sc.i == sc.len)
				break;
			sc.i++; /* ',' */
		}
	}
	out[w] = 0;
	return (int)w;
}

int at_baggage_sanitize(const char *in, size_t len, char *out, size_t cap)
{
	struct at_prop_str one = { in, len };

	return at_baggage_sanitize_parts(&one, 1, out, cap);
}

int at_baggage_get(const char *bag, size_t len, const char *key, char *val,
		   size_t cap)
{
	size_t kl = strlen(key), i = 0;

	if (!bag || cap == 0)
		return -1;
	while (i < len) {
		size_t end = i, vend;

		while (end < len && bag[end] != ',')
			end++;
		if (end - i > kl && !memcmp(bag + i, key, kl) &&
		    bag[i + kl] == '=') {
			size_t w = 0;

			vend = i + kl + 1;
			while (vend < end && bag[vend] != ';')
				vend++;
			for (size_t j = i + kl + 1; j < vend; j++) {
				int c = (unsigned char)bag[j];

				if (c == '%') {
					int hi, lo;

					if (j + 2 >= vend ||
					    (hi = at_hex_value(bag[j + 1])) < 0 ||
					    (lo = at_hex_value(bag[j + 2])) < 0)
						return -1;
					c = hi << 4 | lo;
					j += 2;
				}
				if (w + 1 >= cap)
					break;
				val[w++] = (char)c;
			}
			val[w] = 0;
			return (int)w;
		}
		i = end + 1;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Composition                                                         */

static int name_is(const char *name, size_t len, const char *lower)
{
	size_t n = strlen(lower);

	if (len != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (at_to_lower(name[i]) != lower[i])
			return 0;
	return 1;
}

unsigned at_prop_field_of(const char *name, size_t len,
			  enum at_prop_field *which)
{
	static const struct {
		const char *name;
		unsigned bit;
		enum at_prop_field field;
	} t[] = {
		{ "traceparent", AT_PROP_TRACECONTEXT, AT_PF_TRACEPARENT },
		{ "tracestate", AT_PROP_TRACECONTEXT, AT_PF_TRACESTATE },
		{ "baggage", AT_PROP_BAGGAGE, AT_PF_BAGGAGE },
		{ "b3", AT_PROP_B3, AT_PF_B3 },
		{ "x-b3-traceid", AT_PROP_B3MULTI, AT_PF_B3_TRACE },
		{ "x-b3-spanid", AT_PROP_B3MULTI, AT_PF_B3_SPAN },
		{ "x-b3-sampled", AT_PROP_B3MULTI, AT_PF_B3_SAMPLED },
		{ "x-b3-flags", AT_PROP_B3MULTI, AT_PF_B3_FLAGS },
		{ "x-b3-parentspanid", AT_PROP_B3MULTI, AT_PF_B3_PARENT },
		{ "uber-trace-id", AT_PROP_JAEGER, AT_PF_UBER },
	};

	/* Cheap rejection first: every name starts with t, b, x or u. */
	if (len < 2 || !strchr("tbxuTBXU", name[0]))
		return 0;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (name_is(name, len, t[i].name)) {
			if (which)
				*which = t[i].field;
			return t[i].bit;
		}
	return 0;
}

struct at_prop_str *at_prop_fields_slot(struct at_prop_fields *f,
					enum at_prop_field which)
{
	switch (which) {
	case AT_PF_TRACEPARENT: return &f->traceparent;
	case AT_PF_B3: return &f->b3;
	case AT_PF_B3_TRACE: return &f->b3_trace;
	case AT_PF_B3_SPAN: return &f->b3_span;
	case AT_PF_B3_SAMPLED: return &f->b3_sampled;
	case AT_PF_B3_FLAGS: return &f->b3_flags;
	case AT_PF_UBER: return &f->uber;
	default: return NULL;
	}
}

unsigned at_prop_extract(const struct at_prop_fields *f, const uint8_t *order,
			 int n, struct at_span_context *out)
{
	unsigned got = 0;

	for (int i = 0; i < n; i++) {
		struct at_span_context c;
		int r = -1;

		switch (order[i]) {
		case AT_PROP_TRACECONTEXT:
			if (f->n_traceparent == 1)
				r = at_traceparent_parse(f->traceparent.p,
							 f->traceparent.len, &c);
			break;
		case AT_PROP_B3:
			if (f->b3.p)
				r = at_b3_parse(f->b3.p, f->b3.len, &c);
			break;
		case AT_PROP_B3MULTI:
			r = at_b3multi_parse(f->b3_trace.p, f->b3_trace.len,
					     f->b3_span.p, f->b3_span.len,
					     f->b3_sampled.p, f->b3_sampled.len,
					     f->b3_flags.p, f->b3_flags.len, &c);
			break;
		case AT_PROP_JAEGER:
			if (f->uber.p)
				r = at_jaeger_parse(f->uber.p, f->uber.len, &c);
			break;
		default:
			break;
		}
		if (r == 0) {
			*out = c;
			got = order[i];
		}
	}
	return got;
}

/* Append "name: value<eol>" whole, or nothing. */
static int line(char *out, size_t cap, size_t *w, const char *name,
		const char *v, size_t vlen, const char *eol)
{
	size_t nl = strlen(name), el = strlen(eol), n = nl + 2 + vlen + el;

	if (*w + n + 1 > cap)
		return -1;
	memcpy(out + *w, name, nl);
	memcpy(out + *w + nl, ": ", 2);
	memcpy(out + *w + nl + 2, v, vlen);
	memcpy(out + *w + nl + 2 + vlen, eol, el);
	*w += n;
	out[*w] = 0;
	return 0;
}

size_t at_prop_lines(const struct at_span_context *ctx, const char *ts,
		     size_t ts_len, const char *bag, size_t bag_len,
		     unsigned mask, unsigned skip, const char *eol, char *out,
		     size_t cap)
{
	char id[AT_TRACEPARENT_LEN + 1];
	size_t w = 0;
	unsigned m = mask & ~skip;

	if (cap == 0)
		return 0;
	out[0] = 0;
	if (m & AT_PROP_TRACECONTEXT) {
		/* The line every traced request gets: formatted in place. */
		static const char name[] = "traceparent: ";
		/* eol is "\r\n" or "\n" nearly always: no strlen() call. */
		size_t nl = sizeof(name) - 1,
		       el = !eol[0] ? 0 : !eol[1] ? 1 : !eol[2] ? 2 : strlen(eol);

		if (nl + AT_TRACEPARENT_LEN + el + 1 > cap)
			return w;
		memcpy(out, name, nl);
		at_traceparent_format(ctx, out + nl);
		for (size_t i = 0; i < el; i++)
			out[nl + AT_TRACEPARENT_LEN + i] = eol[i];
		w = nl + AT_TRACEPARENT_LEN + el;
		out[w] = 0;
		if (ts_len && line(out, cap, &w, "tracestate", ts, ts_len, eol))
			return w;
	}
	if (m & AT_PROP_B3) {
		at_b3_format(ctx, id);
		if (line(out, cap, &w, "b3", id, AT_B3_LEN, eol))
			return w;
	}
	if (m & AT_PROP_B3MULTI) {
		size_t mark = w; /* the three lines, or none */

		at_hex_encode(ctx->trace_id, 16, id);
		at_hex_encode(ctx->span_id, 8, id + 32);
		if (line(out, cap, &w, "X-B3-TraceId", id, 32, eol) ||
		    line(out, cap, &w, "X-B3-SpanId", id + 32, 16, eol) ||
		    line(out, cap, &w, "X-B3-Sampled",
			 ctx->flags & AT_FLAG_SAMPLED ? "1" : "0", 1, eol)) {
			out[mark] = 0;
			return mark;
		}
	}
	if (m & AT_PROP_JAEGER) {
		at_jaeger_format(ctx, id);
		if (line(out, cap, &w, "uber-trace-id", id, AT_JAEGER_LEN, eol))
			return w;
	}
	if ((m & AT_PROP_BAGGAGE) && bag_len)
		line(out, cap, &w, "baggage", bag, bag_len, eol);
	return w;
}
