/*
 * test_propagators.c - OTEL_PROPAGATORS lists, B3 (single and multiple
 * headers), Jaeger uber-trace-id and W3C Baggage values: valid and
 * invalid cases of each grammar, and that a rejected value leaves the
 * output untouched.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "at_propagators.h"

#define TID "4bf92f3577b34da6a3ce929d0e0e4736"
#define SID "00f067aa0ba902b7"

static void expect_ids(const struct at_span_context *c, const char *tid,
		       const char *sid, uint8_t flags)
{
	char t[33], s[17];

	at_hex_encode(c->trace_id, 16, t);
	at_hex_encode(c->span_id, 8, s);
	t[32] = s[16] = 0;
	cr_expect_str_eq(t, tid);
	cr_expect_str_eq(s, sid);
	cr_expect_eq(c->flags, flags);
}

static int b3(const char *v, struct at_span_context *c)
{
	return at_b3_parse(v, strlen(v), c);
}

static int jaeger(const char *v, struct at_span_context *c)
{
	return at_jaeger_parse(v, strlen(v), c);
}

static void untouched(int (*parse)(const char *, struct at_span_context *),
		      const char *v)
{
	struct at_span_context c;

	memset(&c, 0xab, sizeof(c));
	cr_expect_eq(parse(v, &c), -1, "accepted \"%s\"", v);
	cr_expect_eq(c.trace_id[0], 0xab, "\"%s\" touched out", v);
	cr_expect_eq(c.flags, 0xab);
}

Test(propagators, list_parse)
{
	unsigned mask = 99;
	uint8_t order[AT_PROP_MAX];
	int n = -1;
	const char *bad = NULL;
	size_t bad_len = 0;

	cr_assert_eq(at_propagators_parse("b3multi, tracecontext ,jaeger", &mask,
					  order, &n, &bad, &bad_len), 0);
	cr_expect_eq(mask, AT_PROP_B3MULTI | AT_PROP_TRACECONTEXT | AT_PROP_JAEGER);
	cr_assert_eq(n, 3);
	cr_expect_eq(order[0], AT_PROP_B3MULTI);
	cr_expect_eq(order[1], AT_PROP_TRACECONTEXT);
	cr_expect_eq(order[2], AT_PROP_JAEGER);
	/* Repeated names count once. */
	cr_assert_eq(at_propagators_parse("b3,b3,baggage", &mask, order, &n, NULL,
					  NULL), 0);
	cr_expect_eq(n, 2);
	/* none, and the default for an empty value. */
	cr_assert_eq(at_propagators_parse("none", &mask, order, &n, NULL, NULL), 0);
	cr_expect_eq(mask, 0);
	cr_expect_eq(n, 0);
	cr_assert_eq(at_propagators_parse(" , ", &mask, order, &n, NULL, NULL), 0);
	cr_expect_eq(mask, AT_PROP_DEFAULT);
	cr_expect_eq(n, 2);
	/* Unknown names: refused, named, outputs untouched. */
	mask = 77;
	cr_expect_eq(at_propagators_parse("tracecontext,xray", &mask, order, &n,
					  &bad, &bad_len), -1);
	cr_expect_eq(mask, 77);
	cr_expect_eq(bad_len, 4);
	cr_expect_eq(strncmp(bad, "xray", 4), 0);
	cr_expect_eq(at_propagators_parse("none,b3", &mask, order, &n, NULL, NULL),
		     -1);
	cr_expect_eq(at_propagators_parse("B3", &mask, order, &n, NULL, NULL), -1);
}

Test(propagators, b3_single_valid)
{
	struct at_span_context c;

	cr_assert_eq(b3(TID "-" SID "-1", &c), 0);
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	cr_assert_eq(b3(TID "-" SID "-0", &c), 0);
	expect_ids(&c, TID, SID, 0);
	cr_assert_eq(b3(TID "-" SID "-d", &c), 0);
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	cr_assert_eq(b3(" " TID "-" SID " ", &c), 0); /* no sampling: sampled */
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	cr_assert_eq(b3(TID "-" SID "-1-" "05e3ac9a4f6e3b90", &c), 0);
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	/* 64-bit trace ids are the low half. */
	cr_assert_eq(b3("a3ce929d0e0e4736-" SID "-0", &c), 0);
	expect_ids(&c, "0000000000000000a3ce929d0e0e4736", SID, 0);
}

Test(propagators, b3_single_invalid)
{
	static const char *bad[] = {
		"", "0", "1", "d", "-", TID, TID "-", TID "-" SID "-",
		TID "-" SID "-2", TID "-" SID "-true", TID "-" SID "-1-",
		TID "-" SID "-1-05e3ac9a4f6e3b9", TID "-" SID "-1-05e3ac9a4f6e3b90-x",
		"4BF92F3577B34DA6A3CE929D0E0E4736-" SID "-1", /* uppercase */
		"00000000000000000000000000000000-" SID "-1", /* zero ids */
		TID "-0000000000000000-1", TID "0-" SID, TID "-" SID "0",
		"a3ce929d0e0e473-" SID, TID "-00f067aa0ba9g2b7",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		untouched(b3, bad[i]);
}

Test(propagators, b3_format_round_trip)
{
	struct at_span_context c, d;
	char out[AT_B3_LEN + 1];

	cr_assert_eq(b3(TID "-" SID "-1", &c), 0);
	cr_expect_eq(at_b3_format(&c, out), AT_B3_LEN);
	cr_expect_str_eq(out, TID "-" SID "-1");
	c.flags = 0;
	at_b3_format(&c, out);
	cr_expect_str_eq(out, TID "-" SID "-0");
	cr_assert_eq(b3(out, &d), 0);
	cr_expect_eq(memcmp(&c, &d, sizeof(c)), 0);
}

static int b3m(const char *t, const char *s, const char *smp, const char *fl,
	       struct at_span_context *c)
{
	return at_b3multi_parse(t, t ? strlen(t) : 0, s, s ? strlen(s) : 0, smp,
				smp ? strlen(smp) : 0, fl, fl ? strlen(fl) : 0, c);
}

Test(propagators, b3_multi)
{
	struct at_span_context c;

	cr_assert_eq(b3m(TID, SID, "1", NULL, &c), 0);
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	cr_assert_eq(b3m(TID, SID, "0", NULL, &c), 0);
	expect_ids(&c, TID, SID, 0);
	cr_assert_eq(b3m(TID, SID, "false", NULL, &c), 0);
	cr_expect_eq(c.flags, 0);
	cr_assert_eq(b3m(TID, SID, "true", NULL, &c), 0);
	cr_expect_eq(c.flags, AT_FLAG_SAMPLED);
	cr_assert_eq(b3m(TID, SID, "0", "1", &c), 0); /* debug wins */
	cr_expect_eq(c.flags, AT_FLAG_SAMPLED);
	cr_assert_eq(b3m("a3ce929d0e0e4736", SID, NULL, NULL, &c), 0);
	expect_ids(&c, "0000000000000000a3ce929d0e0e4736", SID, AT_FLAG_SAMPLED);

	memset(&c, 0xab, sizeof(c));
	cr_expect_eq(b3m(NULL, SID, "1", NULL, &c), -1);
	cr_expect_eq(b3m(TID, NULL, "1", NULL, &c), -1);
	cr_expect_eq(b3m(TID, SID, "2", NULL, &c), -1);
	cr_expect_eq(b3m(TID, SID, "d", NULL, &c), -1);
	cr_expect_eq(b3m(TID, SID, "1", "2", &c), -1);
	cr_expect_eq(b3m(TID, "00f067aa0ba902b", "1", NULL, &c), -1);
	cr_expect_eq(b3m("0", SID, "1", NULL, &c), -1);
	cr_expect_eq(c.flags, 0xab);
}

Test(propagators, jaeger)
{
	struct at_span_context c;
	char out[AT_JAEGER_LEN + 1];

	cr_assert_eq(jaeger(TID ":" SID ":0:1", &c), 0);
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	cr_assert_eq(jaeger(TID ":" SID ":0:0", &c), 0);
	expect_ids(&c, TID, SID, 0);
	cr_assert_eq(jaeger(TID ":" SID ":0:02", &c), 0); /* debug */
	cr_expect_eq(c.flags, AT_FLAG_SAMPLED);
	cr_assert_eq(jaeger(TID "%3A" SID "%3a0%3A1", &c), 0); /* URL-encoded */
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	/* Short ids are zero-padded; case is free. */
	cr_assert_eq(jaeger("ABC:def:0:1", &c), 0);
	expect_ids(&c, "00000000000000000000000000000abc", "0000000000000def",
		   AT_FLAG_SAMPLED);
	at_jaeger_format(&c, out);
	cr_expect_str_eq(out, "00000000000000000000000000000abc:0000000000000def:0:01");
	cr_assert_eq(jaeger(TID ":" SID ":" SID ":1", &c), 0);

	static const char *bad[] = {
		"", TID, TID ":" SID, TID ":" SID ":0", TID ":" SID ":0:1:2",
		"0:" SID ":0:1", TID ":0:0:1", TID ":" SID "::1", TID ":" SID ":0:",
		TID "0:" SID ":0:1", TID ":" SID "0:0:1", TID ":" SID ":0:100",
		TID ":" SID ":x:1", TID ":" SID ":0:g",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		untouched(jaeger, bad[i]);
}

static int bag(const char *in, char *out, size_t cap)
{
	return at_baggage_sanitize(in, strlen(in), out, cap);
}

Test(propagators, baggage_valid)
{
	char out[AT_BAGGAGE_MAX + 1];

	cr_expect_eq(bag("userId=alice", out, sizeof(out)), 12);
	cr_expect_str_eq(out, "userId=alice");
	cr_expect_gt(bag(" a = 1 , , b=2;prop ; p2 = v2 ,c=%20x ", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "a=1,b=2;prop;p2=v2,c=%20x");
	cr_expect_eq(bag("", out, sizeof(out)), 0);
	cr_expect_str_eq(out, "");
	cr_expect_eq(bag(" , ", out, sizeof(out)), 0);
	cr_expect_gt(bag("k=", out, sizeof(out)), 0); /* empty value */
	cr_expect_str_eq(out, "k=");
	cr_expect_gt(bag("k=v=w", out, sizeof(out)), 0); /* '=' is an octet */
	cr_expect_str_eq(out, "k=v=w");
}

Test(propagators, baggage_invalid)
{
	static const char *bad[] = {
		"k", "=v", "k v=1", "k=a b", "k=\"q\"", "k=a\\b", "k=1;", "k=1;=x",
		"k=1 x", "k=1,,=2", "k=\x80", "k(=1",
	};
	char out[64];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 'x', sizeof(out));
		cr_expect_eq(bag(bad[i], out, sizeof(out)), -1, "accepted \"%s\"",
			     bad[i]);
		cr_expect_eq(out[0], 0);
	}
}

Test(propagators, baggage_limits)
{
	static char in[3 * AT_BAGGAGE_MAX], out[AT_BAGGAGE_MAX + 1];
	size_t w = 0;
	int n;

	/* 70 members: the first 64 are kept, in order. */
	for (int i = 0; i < 70; i++)
		w += (size_t)snprintf(in + w, sizeof(in) - w, "%sk%d=%d", i ? "," : "", i, i);
	n = bag(in, out, sizeof(out));
	cr_assert_gt(n, 0);
	cr_expect_not_null(strstr(out, "k63=63"));
	cr_expect_null(strstr(out, "k64="));
	cr_expect_eq(strncmp(out, "k0=0,k1=1,", 10), 0);

	/* Over 8192 bytes: members from the end dropped until it fits. */
	w = 0;
	for (int i = 0; i < 10; i++) {
		w += (size_t)snprintf(in + w, sizeof(in) - w, "%sm%d=", i ? "," : "", i);
		memset(in + w, 'v', 1000);
		w += 1000;
	}
	in[w] = 0;
	n = bag(in, out, sizeof(out));
	cr_expect_leq(n, AT_BAGGAGE_MAX);
	cr_expect_not_null(strstr(out, "m7="));
	cr_expect_null(strstr(out, "m8="));
	/* A smaller buffer bounds it the same way. */
	n = bag("a=1,b=2,c=3", out, 8);
	cr_expect_str_eq(out, "a=1,b=2");
	cr_expect_eq(n, 7);
	/* A member too long to fit, then one that would: dropped too. */
	n = bag("a=1,bbbbbbbbbb=2,c=3", out, 12);
	cr_expect_str_eq(out, "a=1");
}

Test(propagators, baggage_get)
{
	const char *b = "user.id=al%20ice;meta,k=v,team=a%2Cb";
	char v[32];

	cr_expect_eq(at_baggage_get(b, strlen(b), "user.id", v, sizeof(v)), 6);
	cr_expect_str_eq(v, "al ice");
	cr_expect_eq(at_baggage_get(b, strlen(b), "team", v, sizeof(v)), 3);
	cr_expect_str_eq(v, "a,b");
	cr_expect_eq(at_baggage_get(b, strlen(b), "k", v, sizeof(v)), 1);
	cr_expect_eq(at_baggage_get(b, strlen(b), "user", v, sizeof(v)), -1);
	cr_expect_eq(at_baggage_get("k=%zz", 5, "k", v, sizeof(v)), -1);
	cr_expect_eq(at_baggage_get(b, strlen(b), "team", v, 3), 2); /* cut */
	cr_expect_str_eq(v, "a,");
}

#define S(x) { x, sizeof(x) - 1 }

Test(propagators, field_names)
{
	enum at_prop_field w = 0;

	cr_expect_eq(at_prop_field_of("TraceParent", 11, &w), AT_PROP_TRACECONTEXT);
	cr_expect_eq(w, AT_PF_TRACEPARENT);
	cr_expect_eq(at_prop_field_of("X-B3-Sampled", 12, &w), AT_PROP_B3MULTI);
	cr_expect_eq(w, AT_PF_B3_SAMPLED);
	cr_expect_eq(at_prop_field_of("uber-trace-id", 13, &w), AT_PROP_JAEGER);
	cr_expect_eq(at_prop_field_of("b3", 2, &w), AT_PROP_B3);
	cr_expect_eq(at_prop_field_of("BAGGAGE", 7, &w), AT_PROP_BAGGAGE);
	cr_expect_eq(at_prop_field_of("b33", 3, &w), 0);
	cr_expect_eq(at_prop_field_of("host", 4, &w), 0);
	cr_expect_eq(at_prop_field_of("x-b3-traceidx", 13, &w), 0);
}

Test(propagators, extract_in_order)
{
	struct at_prop_fields f = { 0 };
	struct at_span_context c;
	uint8_t tc_b3[] = { AT_PROP_TRACECONTEXT, AT_PROP_B3 };
	uint8_t b3_tc[] = { AT_PROP_B3, AT_PROP_TRACECONTEXT };
	uint8_t jg[] = { AT_PROP_JAEGER };
	uint8_t multi[] = { AT_PROP_B3MULTI };

	f.traceparent = (struct at_prop_str)S("00-" TID "-" SID "-01");
	f.n_traceparent = 1;
	f.b3 = (struct at_prop_str)S("a3ce929d0e0e4736a3ce929d0e0e4736-05e3ac9a4f6e3b90-0");
	/* A later propagator found valid wins. */
	cr_expect_eq(at_prop_extract(&f, tc_b3, 2, &c), AT_PROP_B3);
	expect_ids(&c, "a3ce929d0e0e4736a3ce929d0e0e4736", "05e3ac9a4f6e3b90", 0);
	cr_expect_eq(at_prop_extract(&f, b3_tc, 2, &c), AT_PROP_TRACECONTEXT);
	expect_ids(&c, TID, SID, AT_FLAG_SAMPLED);
	/* An invalid later one does not clobber. */
	f.b3 = (struct at_prop_str)S("garbage");
	cr_expect_eq(at_prop_extract(&f, tc_b3, 2, &c), AT_PROP_TRACECONTEXT);
	/* Two traceparents: none. */
	f.n_traceparent = 2;
	memset(&c, 0xab, sizeof(c));
	cr_expect_eq(at_prop_extract(&f, tc_b3, 2, &c), 0);
	cr_expect_eq(c.flags, 0xab);
	/* Only the configured ones are read. */
	f.uber = (struct at_prop_str)S(TID ":" SID ":0:1");
	cr_expect_eq(at_prop_extract(&f, tc_b3, 2, &c), 0);
	cr_expect_eq(at_prop_extract(&f, jg, 1, &c), AT_PROP_JAEGER);
	f.b3_trace = (struct at_prop_str)S(TID);
	f.b3_span = (struct at_prop_str)S(SID);
	f.b3_sampled = (struct at_prop_str)S("0");
	cr_expect_eq(at_prop_extract(&f, multi, 1, &c), AT_PROP_B3MULTI);
	expect_ids(&c, TID, SID, 0);
}

Test(propagators, lines)
{
	struct at_span_context c;
	char out[512];
	size_t n;

	cr_assert_eq(b3(TID "-" SID "-1", &c), 0);
	n = at_prop_lines(&c, "k=v", 3, "u=1", 3, AT_PROP_TRACECONTEXT |
			  AT_PROP_BAGGAGE | AT_PROP_B3 | AT_PROP_B3MULTI |
			  AT_PROP_JAEGER, 0, "\r\n", out, sizeof(out));
	cr_expect_eq(n, strlen(out));
	cr_expect_str_eq(out,
		"traceparent: 00-" TID "-" SID "-01\r\n"
		"tracestate: k=v\r\n"
		"b3: " TID "-" SID "-1\r\n"
		"X-B3-TraceId: " TID "\r\n"
		"X-B3-SpanId: " SID "\r\n"
		"X-B3-Sampled: 1\r\n"
		"uber-trace-id: " TID ":" SID ":0:01\r\n"
		"baggage: u=1\r\n");
	/* What the program sent itself is left out; LF heads get LF. */
	at_prop_lines(&c, NULL, 0, NULL, 0, AT_PROP_TRACECONTEXT | AT_PROP_B3,
		      AT_PROP_TRACECONTEXT, "\n", out, sizeof(out));
	cr_expect_str_eq(out, "b3: " TID "-" SID "-1\n");
	/* No baggage line without baggage; nothing for mask 0. */
	cr_expect_eq(at_prop_lines(&c, NULL, 0, NULL, 0, AT_PROP_BAGGAGE, 0,
				   "\r\n", out, sizeof(out)), 0);
	cr_expect_eq(at_prop_lines(&c, NULL, 0, "u=1", 3, 0, 0, "\r\n", out,
				   sizeof(out)), 0);
	/* Whole lines only: the B3 trio is not cut. */
	n = at_prop_lines(&c, NULL, 0, NULL, 0, AT_PROP_TRACECONTEXT |
			  AT_PROP_B3MULTI, 0, "\r\n", out, 120);
	cr_expect_str_eq(out, "traceparent: 00-" TID "-" SID "-01\r\n");
	cr_expect_eq(n, 70);
}

Test(propagators, baggage_fields_combined)
{
	struct at_prop_str p[3] = { S("a=1, b=2"), S(""), S(" c=3") };
	struct at_prop_str bad[2] = { S("a=1"), S("b") };
	char out[64];

	cr_expect_eq(at_baggage_sanitize_parts(p, 3, out, sizeof(out)), 11);
	cr_expect_str_eq(out, "a=1,b=2,c=3");
	cr_expect_eq(at_baggage_sanitize_parts(bad, 2, out, sizeof(out)), -1);
	cr_expect_str_eq(out, "");
}
