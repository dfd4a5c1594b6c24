/*
 * test_traceparent.c - W3C traceparent / tracestate parsing and formatting.
 *
 * The invalid traceparent cases follow the categories of the W3C
 * trace-context test suite (version, ids, flags: illegal characters, too
 * long, too short, all zero; OWS; future versions), written here as unit
 * cases.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "at_compat.h"
#include "at_traceparent.h"

#define TID "12345678901234567890123456789012"
#define SID "1234567890123456"

static int parse(const char *s, struct at_span_context *out)
{
	return at_traceparent_parse(s, strlen(s), out);
}

static void expect_invalid(const char *s)
{
	struct at_span_context ctx;

	memset(&ctx, 0xab, sizeof(ctx));
	cr_expect_eq(parse(s, &ctx), -1, "accepted invalid \"%s\"", s);
	/* *out is untouched on failure. */
	for (size_t i = 0; i < sizeof(ctx.trace_id); i++)
		cr_expect_eq(ctx.trace_id[i], 0xab, "\"%s\" touched out", s);
	cr_expect_eq(ctx.flags, 0xab);
}

static void expect_valid(const char *s, uint8_t flags)
{
	struct at_span_context ctx;
	char hex[33];

	cr_assert_eq(parse(s, &ctx), 0, "rejected valid \"%s\"", s);
	at_hex_encode(ctx.trace_id, 16, hex);
	hex[32] = '\0';
	cr_expect_str_eq(hex, TID);
	at_hex_encode(ctx.span_id, 8, hex);
	hex[16] = '\0';
	cr_expect_str_eq(hex, SID);
	cr_expect_eq(ctx.flags, flags, "\"%s\": flags %02x", s, ctx.flags);
}

Test(traceparent, valid_basic)
{
	expect_valid("00-" TID "-" SID "-01", AT_FLAG_SAMPLED);
	expect_valid("00-" TID "-" SID "-00", 0);
	expect_valid("00-" TID "-" SID "-03", AT_FLAG_SAMPLED | AT_FLAG_RANDOM);
	expect_valid("00-" TID "-" SID "-02", AT_FLAG_RANDOM);
}

Test(traceparent, unknown_flags_cleared)
{
	expect_valid("00-" TID "-" SID "-ff", AT_FLAGS_KNOWN);
	expect_valid("00-" TID "-" SID "-08", 0);
	expect_valid("00-" TID "-" SID "-09", AT_FLAG_SAMPLED);
}

Test(traceparent, ows_handling)
{
	expect_valid(" 00-" TID "-" SID "-01", 1);
	expect_valid("\t00-" TID "-" SID "-01", 1);
	expect_valid("00-" TID "-" SID "-01 ", 1);
	expect_valid("00-" TID "-" SID "-01\t", 1);
	expect_valid("\t 00-" TID "-" SID "-01 \t", 1);
	/* Other whitespace is not OWS. */
	expect_invalid("\n00-" TID "-" SID "-01");
	expect_invalid("00-" TID "-" SID "-01\r\n");
	/* Whitespace inside is not allowed. */
	expect_invalid("00 -" TID "-" SID "-01");
	expect_invalid("00- " TID "-" SID "-01");
	expect_invalid("00-" TID " -" SID "-01");
}

Test(traceparent, version_00_exact_length)
{
	expect_invalid("00-" TID "-" SID "-01.");
	expect_invalid("00-" TID "-" SID "-01-what-the-future-will-be-like");
	expect_invalid("00-" TID "-" SID "-01-");
}

Test(traceparent, future_versions)
{
	expect_valid("cc-" TID "-" SID "-01", 1);
	expect_valid("cc-" TID "-" SID "-01-what-the-future-will-be-like", 1);
	expect_valid("01-" TID "-" SID "-01-", 1);
	expect_valid("fe-" TID "-" SID "-00-x-y-z", 0);
	expect_invalid("cc-" TID "-" SID "-01.what-the-future-will-be-like");
	expect_invalid("cc-" TID "-" SID "-01what");
	/* Even a future version needs the 55-character prefix. */
	expect_invalid("cc-" TID "-" SID "-1");
	expect_invalid("cc-" TID "-" SID);
}

Test(traceparent, version_ff_and_bad_version)
{
	expect_invalid("ff-" TID "-" SID "-01");
	expect_invalid(".0-" TID "-" SID "-01");
	expect_invalid("0.-" TID "-" SID "-01");
	expect_invalid("000-" TID "-" SID "-01");
	expect_invalid("0000-" TID "-" SID "-01");
	expect_invalid("0-" TID "-" SID "-01");
	expect_invalid("0A-" TID "-" SID "-01");
	expect_invalid("g0-" TID "-" SID "-01");
}

Test(traceparent, uppercase_rejected)
{
	expect_invalid("00-1234567890123456789012345678901A-" SID "-01");
	expect_invalid("00-" TID "-123456789012345A-01");
	expect_invalid("00-" TID "-" SID "-0A");
	expect_invalid("00-ABCDEF78901234567890123456789012-" SID "-01");
}

Test(traceparent, zero_ids)
{
	expect_invalid("00-00000000000000000000000000000000-" SID "-01");
	expect_invalid("00-" TID "-0000000000000000-01");
	expect_invalid("cc-00000000000000000000000000000000-" SID "-01");
	expect_invalid("00-" TID "-0000000000000000-00");
	/* One non-zero nibble is enough. */
	{
		struct at_span_context ctx;

		cr_expect_eq(parse("00-00000000000000000000000000000001-"
				   "0000000000000001-00", &ctx), 0);
	}
}

Test(traceparent, illegal_characters)
{
	expect_invalid("00-.2345678901234567890123456789012-" SID "-01");
	expect_invalid("00-1234567890123456789012345678901.-" SID "-01");
	expect_invalid("00-" TID "-.234567890123456-01");
	expect_invalid("00-" TID "-123456789012345.-01");
	expect_invalid("00-" TID "-" SID "-.0");
	expect_invalid("00-" TID "-" SID "-0.");
	expect_invalid("00-" TID "-" SID "-0g");
	expect_invalid("00-123456789012345678901234567890zz-" SID "-01");
}

Test(traceparent, wrong_lengths)
{
	expect_invalid("00-123456789012345678901234567890123-" SID "-01");
	expect_invalid("00-1234567890123456789012345678901-" SID "-01");
	expect_invalid("00-" TID "-12345678901234567-01");
	expect_invalid("00-" TID "-123456789012345-01");
	expect_invalid("00-" TID "-" SID "-001");
	expect_invalid("00-" TID "-" SID "-1");
	expect_invalid("");
	expect_invalid("00");
	expect_invalid("   ");
}

Test(traceparent, bad_separators)
{
	expect_invalid("00_" TID "-" SID "-01");
	expect_invalid("00-" TID "_" SID "-01");
	expect_invalid("00-" TID "-" SID "_01");
	expect_invalid("00" TID "-" SID "-01-");
	expect_invalid("00--" TID SID "-01");
}

Test(traceparent, length_argument_is_respected)
{
	const char *s = "00-" TID "-" SID "-01garbage";
	struct at_span_context ctx;

	cr_expect_eq(at_traceparent_parse(s, AT_TRACEPARENT_LEN, &ctx), 0);
	cr_expect_eq(at_traceparent_parse(s, AT_TRACEPARENT_LEN - 1, &ctx),
		     -1);
	cr_expect_eq(at_traceparent_parse(NULL, 0, &ctx), -1);
	cr_expect_eq(at_traceparent_parse(s, strlen(s), NULL), -1);
}

Test(traceparent, format_round_trip)
{
	struct at_span_context a, b;
	char out[AT_TRACEPARENT_LEN + 1];

	for (int i = 0; i < 16; i++)
		a.trace_id[i] = (uint8_t)(i * 0x11);
	for (int i = 0; i < 8; i++)
		a.span_id[i] = (uint8_t)(0xf0 - i);
	a.flags = AT_FLAG_SAMPLED | AT_FLAG_RANDOM;
	cr_assert_eq(at_traceparent_format(&a, out), AT_TRACEPARENT_LEN);
	cr_expect_eq(strlen(out), AT_TRACEPARENT_LEN);
	cr_expect_str_eq(out, "00-00112233445566778899aabbccddeeff"
			      "-f0efeeedecebeae9-03");
	cr_assert_eq(parse(out, &b), 0);
	cr_expect_eq(memcmp(&a.trace_id, &b.trace_id, 16), 0);
	cr_expect_eq(memcmp(&a.span_id, &b.span_id, 8), 0);
	cr_expect_eq(a.flags, b.flags);

	cr_assert_eq(parse("00-" TID "-" SID "-01", &b), 0);
	at_traceparent_format(&b, out);
	cr_expect_str_eq(out, "00-" TID "-" SID "-01");
}

Test(traceparent, hex_helpers)
{
	uint8_t in[4] = { 0x00, 0x9f, 0xa0, 0xff }, out[4];
	char hex[9];

	at_hex_encode(in, 4, hex);
	hex[8] = '\0';
	cr_expect_str_eq(hex, "009fa0ff");
	memset(out, 0x55, sizeof(out));
	cr_expect_eq(at_hex_decode_lower("009fa0ff", 8, out), 0);
	cr_expect_eq(memcmp(in, out, 4), 0);
	memset(out, 0x55, sizeof(out));
	cr_expect_eq(at_hex_decode_lower("009FA0ff", 8, out), -1);
	cr_expect_eq(out[0], 0x55); /* untouched on failure */
	cr_expect_eq(at_hex_decode_lower("abc", 3, out), -1);
	cr_expect_eq(at_hex_decode_lower("0x", 2, out), -1);
	cr_expect_eq(at_hex_decode_lower("", 0, out), 0);
}

/* ---- tracestate ---- */

static int ts(const char *in, char *out, size_t cap)
{
	return at_tracestate_sanitize(in, strlen(in), out, cap);
}

static void expect_ts(const char *in, const char *want)
{
	char out[AT_TRACESTATE_MAX + 1];
	int n = ts(in, out, sizeof(out));

	cr_expect_eq(n, (int)strlen(want), "\"%s\": length %d", in, n);
	cr_expect_str_eq(out, want, "\"%s\"", in);
}

static void expect_ts_invalid(const char *in)
{
	char out[AT_TRACESTATE_MAX + 1];

	out[0] = 'x';
	cr_expect_eq(ts(in, out, sizeof(out)), -1, "accepted \"%s\"", in);
	cr_expect_eq(out[0], '\0');
}

Test(traceparent, tracestate_valid_and_ows)
{
	expect_ts("foo=1", "foo=1");
	expect_ts("foo=1,bar=2", "foo=1,bar=2");
	expect_ts("foo=1 \t , \t bar=2, \t baz=3", "foo=1,bar=2,baz=3");
	expect_ts("foo=1\t \t,\t \tbar=2,\t \tbaz=3", "foo=1,bar=2,baz=3");
	expect_ts(" foo=1", "foo=1");
	expect_ts("\tfoo=1", "foo=1");
	expect_ts("foo=1 ", "foo=1");
	expect_ts("foo=1\t", "foo=1");
	expect_ts("\t foo=1 \t", "foo=1");
	expect_ts("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
		  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7");
}

Test(traceparent, tracestate_empty_members_dropped)
{
	expect_ts("", "");
	expect_ts("   ", "");
	expect_ts(",", "");
	expect_ts("foo=1,,bar=2", "foo=1,bar=2");
	expect_ts(",foo=1, ,\t,bar=2,", "foo=1,bar=2");
}

Test(traceparent, tracestate_all_allowed_characters)
{
	char key[64], value[128], in[256], out[AT_TRACESTATE_MAX + 1];
	size_t n = 0;

	for (char c = 'a'; c <= 'z'; c++)
		key[n++] = c;
	memcpy(key + n, "0123456789_-*/", 15);
	n = 0;
	for (int c = 0x20; c <= 0x7e; c++) {
		if (c != ',' && c != '=')
			value[n++] = (char)c;
	}
	value[n] = '\0';
	strcpy(in, key);
	strcat(in, "=");
	strcat(in, value);
	cr_expect_eq(ts(in, out, sizeof(out)), (int)strlen(in));
	cr_expect_str_eq(out, in);

	strcpy(in, key);
	strcat(in, "@a-z0-9_-*/=");
	strcat(in, value);
	cr_expect_eq(ts(in, out, sizeof(out)), (int)strlen(in));
}

Test(traceparent, tracestate_invalid_keys)
{
	expect_ts_invalid("foo =1");
	expect_ts_invalid("FOO=1");
	expect_ts_invalid("foo.bar=1");
	expect_ts_invalid("1foo=1"); /* simple key starts with lcalpha */
	expect_ts_invalid("=1");
	expect_ts_invalid("foo@=1,bar=2");
	expect_ts_invalid("@foo=1,bar=2");
	expect_ts_invalid("foo@@bar=1,bar=2");
	expect_ts_invalid("foo@bar@baz=1,bar=2");
	expect_ts_invalid("foo@1bar=1"); /* system-id starts with lcalpha */
	expect_ts("1foo@bar=1", "1foo@bar=1"); /* tenant may start with digit */
}

Test(traceparent, tracestate_key_length_limits)
{
	char in[600], out[AT_TRACESTATE_MAX + 1];
	int n;

	memset(in, 'z', 256);
	strcpy(in + 256, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), 258);
	memset(in, 'z', 257);
	strcpy(in + 257, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), -1);

	memset(in, 't', 241);
	in[241] = '@';
	memset(in + 242, 'v', 14);
	strcpy(in + 256, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), 258);

	memset(in, 't', 242);
	strcpy(in + 242, "@v=1");
	cr_expect_eq(ts(in, out, sizeof(out)), -1);

	strcpy(in, "t@");
	memset(in + 2, 'v', 15);
	strcpy(in + 17, "=1");
	n = ts(in, out, sizeof(out));
	cr_expect_eq(n, -1);
}

Test(traceparent, tracestate_invalid_values)
{
	char in[300];

	expect_ts_invalid("foo=bar=baz");
	expect_ts_invalid("foo=,bar=3");
	expect_ts_invalid("foo");
	expect_ts_invalid("foo=a b ,bar=1x\x7f");
	expect_ts_invalid("foo=\x01");
	expect_ts_invalid("foo=caf\xc3\xa9");
	/* value: up to 256 characters */
	strcpy(in, "k=");
	memset(in + 2, 'v', 256);
	in[258] = '\0';
	expect_ts(in, in);
	strcat(in, "v");
	expect_ts_invalid(in);
	/* A space inside (and at the start of) the value is allowed. */
	expect_ts("foo= a b", "foo= a b");
}

Test(traceparent, tracestate_duplicates_kept)
{
	/* Only one entry per key is allowed, but a list with a duplicated
	 * key is kept as it came: never discarded for that. */
	expect_ts("foo=1,foo=1", "foo=1,foo=1");
	expect_ts("foo=1,foo=2", "foo=1,foo=2");
	expect_ts("foo=1,bar=2, foo=3", "foo=1,bar=2,foo=3");
	expect_ts("a@b=1,a@b=2", "a@b=1,a@b=2");
	expect_ts("foo=1,foo@x=2,x@foo=3", "foo=1,foo@x=2,x@foo=3");
}

/* Each rule of the key grammar, true and false. */
Test(traceparent, tracestate_key_grammar)
{
	/* simple-key = lcalpha 0*255( lcalpha / DIGIT / _ - * / ) */
	expect_ts("a=1", "a=1");
	expect_ts("z9_-*/=1", "z9_-*/=1");
	expect_ts_invalid("9a=1");     /* a simple key starts with a letter */
	expect_ts_invalid("_a=1");
	expect_ts_invalid("*=1");
	expect_ts_invalid("/a=1");
	expect_ts_invalid("aB=1");     /* lowercase only */
	expect_ts_invalid("a+b=1");
	expect_ts_invalid("a b=1");
	expect_ts_invalid("a\tb=1");
	expect_ts_invalid("a\"=1");
	/* multi-tenant-key = tenant-id "@" system-id */
	expect_ts("a@b=1", "a@b=1");
	expect_ts("0@b=1", "0@b=1");   /* tenant-id: lcalpha or DIGIT first */
	expect_ts("t_-*/9@s_-*/9=1", "t_-*/9@s_-*/9=1");
	expect_ts_invalid("_t@s=1");
	expect_ts_invalid("T@s=1");
	expect_ts_invalid("t@S=1");
	expect_ts_invalid("t@9=1");    /* system-id: lcalpha first */
	expect_ts_invalid("t@_s=1");
	expect_ts_invalid("t@=1");     /* empty system-id */
	expect_ts_invalid("@s=1");     /* empty tenant-id */
	expect_ts_invalid("@=1");
	/* '@' is not a keychar: one '@' only, as the separator. */
	expect_ts_invalid("foo@=1");
	expect_ts_invalid("foo@@bar=1");
	expect_ts_invalid("foo@bar@baz=1");
	expect_ts_invalid("@foo=1");
	/* An invalid member discards the whole list, wherever it is. */
	expect_ts_invalid("bar=2,foo@=1");
	expect_ts_invalid("bar=2, @foo=1 ,baz=3");
	/* Empty key, no '=' */
	expect_ts_invalid("=");
	expect_ts_invalid("foo");
	expect_ts_invalid("foo,bar=1");
	/* OWS around '=' is not allowed (OWS only around members). */
	expect_ts_invalid("foo= 1 ,bar =2");
	expect_ts_invalid("foo =1");
}

Test(traceparent, tracestate_multi_tenant_lengths)
{
	char in[600], out[AT_TRACESTATE_MAX + 1];

	/* tenant-id of 241, system-id of 14: 256 in all */
	memset(in, 't', 241);
	in[241] = '@';
	memset(in + 242, 's', 14);
	strcpy(in + 256, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), 258);
	/* tenant-id of 242 */
	memset(in, 't', 242);
	in[242] = '@';
	memset(in + 243, 's', 13);
	strcpy(in + 256, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), -1);
	/* system-id of 15 with a short tenant */
	memset(in, 't', 5);
	in[5] = '@';
	memset(in + 6, 's', 15);
	strcpy(in + 21, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), -1);
	/* system-id of 14 with a short tenant */
	strcpy(in + 20, "=1");
	cr_expect_eq(ts(in, out, sizeof(out)), 22);
}

/* Each rule of the value grammar: 1-256 of 0x20-0x7e but ',' and '=',
 * the last not a space. */
Test(traceparent, tracestate_value_grammar)
{
	char in[300];

	expect_ts("k=!", "k=!");
	expect_ts("k=~", "k=~");
	expect_ts("k= x", "k= x");     /* leading spaces belong to the value */
	expect_ts("k=x y", "k=x y");
	expect_ts("k=x  ", "k=x");     /* trailing spaces are OWS */
	expect_ts("k=+-<>", "k=+-<>");
	expect_ts_invalid("k=");       /* at least one character */
	expect_ts_invalid("k=   ");    /* ... which is not a space */
	expect_ts_invalid("k=a,b=c=d");
	expect_ts_invalid("k=a=b");
	expect_ts_invalid("k=a\tb");   /* HTAB is not printable */
	expect_ts_invalid("k=a\x7f");
	expect_ts_invalid("k=\x80");
	expect_ts_invalid("k=a\nb");
	/* 256 characters with a trailing space: 255 + OWS */
	strcpy(in, "k=");
	memset(in + 2, 'v', 255);
	in[257] = ' ';
	in[258] = '\0';
	cr_expect_eq(ts(in, (char[AT_TRACESTATE_MAX + 1]){ 0 },
			AT_TRACESTATE_MAX + 1),
		     257);
	/* 256 with a leading space */
	in[2] = ' ';
	in[257] = 'v';
	expect_ts(in, in);
}

/* ---- several tracestate fields: one list ---- */

static int ts_parts(const char *const *fields, size_t n, char *out,
		    size_t cap)
{
	struct at_tracestate_part p[8];

	for (size_t i = 0; i < n; i++) {
		p[i].p = fields[i];
		p[i].len = strlen(fields[i]);
	}
	return at_tracestate_sanitize_parts(p, n, out, cap);
}

/* want NULL: the combined list is invalid. */
static void expect_parts(const char *want, const char *const *f, size_t n)
{
	char out[AT_TRACESTATE_MAX + 1];
	int got = ts_parts(f, n, out, sizeof(out));

	if (want == NULL) {
		cr_expect_eq(got, -1, "accepted \"%s\"...", f[0]);
		cr_expect_str_eq(out, "");
		return;
	}
	cr_expect_eq(got, (int)strlen(want), "\"%s\"...: %d", f[0], got);
	cr_expect_str_eq(out, want);
}

#define EXPECT_PARTS(want, ...)                                               \
	do {                                                                  \
		const char *f_[] = { __VA_ARGS__ };                           \
		expect_parts(want, f_, AT_ARRAY_SIZE(f_));                    \
	} while (0)

Test(traceparent, tracestate_fields_combined_in_order)
{
	EXPECT_PARTS("foo=1,bar=2,rojo=1,congo=2,baz=3", "foo=1,bar=2",
		     "rojo=1,congo=2", "baz=3");
	/* empty and whitespace-only fields, anywhere */
	EXPECT_PARTS("foo=1", "foo=1", "");
	EXPECT_PARTS("foo=1", "", "foo=1");
	EXPECT_PARTS("foo=1,bar=2", "foo=1", " , ", "bar=2");
	EXPECT_PARTS("", "", "");
	EXPECT_PARTS("", "  ", ",");
	/* OWS at the field edges */
	EXPECT_PARTS("a=1,b=2", " a=1 ", "\tb=2\t");
	/* a member never spans two fields */
	EXPECT_PARTS(NULL, "foo", "=1");
	EXPECT_PARTS(NULL, "foo=", "1");
	/* duplicates across fields: kept */
	EXPECT_PARTS("foo=1,foo=2", "foo=1", "foo=2");
	EXPECT_PARTS("foo=1,foo=1", "foo=1", "foo=1");
}

Test(traceparent, tracestate_fields_invalid_discard_all)
{
	char k257[300];

	memset(k257, 'z', 257);
	strcpy(k257 + 257, "=1");
	EXPECT_PARTS(NULL, "foo=1", k257);
	EXPECT_PARTS(NULL, k257, "foo=1");
	EXPECT_PARTS(NULL, "foo=1,bar=2", "foo@=1");
	EXPECT_PARTS(NULL, "foo=1", "", "BAR=2");
	/* the member limit counts over all fields */
	EXPECT_PARTS(NULL,
		     "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,"
		     "bar07=07,bar08=08,bar09=09,bar10=10",
		     "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,"
		     "bar17=17,bar18=18,bar19=19,bar20=20",
		     "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,"
		     "bar27=27,bar28=28,bar29=29,bar30=30",
		     "bar31=31,bar32=32,bar33=33");
	EXPECT_PARTS("bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,"
		     "bar07=07,bar08=08,bar09=09,bar10=10,"
		     "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,"
		     "bar17=17,bar18=18,bar19=19,bar20=20,"
		     "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,"
		     "bar27=27,bar28=28,bar29=29,bar30=30,bar31=31,bar32=32",
		     "bar01=01,bar02=02,bar03=03,bar04=04,bar05=05,bar06=06,"
		     "bar07=07,bar08=08,bar09=09,bar10=10",
		     "bar11=11,bar12=12,bar13=13,bar14=14,bar15=15,bar16=16,"
		     "bar17=17,bar18=18,bar19=19,bar20=20",
		     "bar21=21,bar22=22,bar23=23,bar24=24,bar25=25,bar26=26,"
		     "bar27=27,bar28=28,bar29=29,bar30=30",
		     "bar31=31,bar32=32");
}

Test(traceparent, tracestate_parts_edge_cases)
{
	struct at_tracestate_part p[2] = { { NULL, 0 }, { "a=1", 3 } };
	char out[16];

	cr_expect_eq(at_tracestate_sanitize_parts(p, 2, out, sizeof(out)), 3);
	cr_expect_str_eq(out, "a=1");
	p[0].len = 1;
	cr_expect_eq(at_tracestate_sanitize_parts(p, 2, out, sizeof(out)), -1);
	cr_expect_eq(at_tracestate_sanitize_parts(NULL, 0, out, sizeof(out)),
		     0);
	cr_expect_eq(at_tracestate_sanitize_parts(NULL, 1, out, sizeof(out)),
		     -1);
}

static void build_members(char *buf, int count)
{
	buf[0] = '\0';
	for (int i = 1; i <= count; i++) {
		char m[16];

		m[0] = 'b';
		m[1] = 'a';
		m[2] = 'r';
		m[3] = (char)('0' + i / 10);
		m[4] = (char)('0' + i % 10);
		m[5] = '=';
		m[6] = (char)('0' + i / 10);
		m[7] = (char)('0' + i % 10);
		m[8] = '\0';
		if (i > 1)
			strcat(buf, ",");
		strcat(buf, m);
	}
}

Test(traceparent, tracestate_member_count_limit)
{
	char in[512], out[AT_TRACESTATE_MAX + 1];

	build_members(in, 32);
	cr_expect_eq(ts(in, out, sizeof(out)), (int)strlen(in));
	cr_expect_str_eq(out, in);
	build_members(in, 33);
	cr_expect_eq(ts(in, out, sizeof(out)), -1);
	/* Empty members do not count. */
	build_members(in, 32);
	strcat(in, ",,, ,");
	cr_expect_eq(ts(in, out, sizeof(out)), (int)strlen(in) - 5);
}

Test(traceparent, tracestate_truncation_long_members_first)
{
	char in[1200], out[AT_TRACESTATE_MAX + 1], want[1200];
	char longm[200];
	int n;

	/*
	 * "a=1", a 130-character member, 30 members of 15 characters:
	 * 3 + 131 + 30 * 16 = 614 > 512; without the long one 483.
	 */
	strcpy(longm, "long=");
	memset(longm + 5, 'x', 125);
	longm[130] = '\0';
	strcpy(in, "a=1,");
	strcat(in, longm);
	strcpy(want, "a=1");
	for (int i = 0; i < 30; i++) {
		char m[20] = ",kNN=vvvvvvvvvvv";

		m[2] = (char)('a' + i / 26);
		m[3] = (char)('a' + i % 26);
		strcat(in, m);
		strcat(want, m);
	}
	n = ts(in, out, sizeof(out));
	cr_expect_eq(n, 483);
	cr_expect_eq((size_t)n, strlen(out));
	cr_expect_null(strstr(out, "long="));
	cr_expect_str_eq(out, want);

	/* A bigger buffer does not lift AT_TRACESTATE_MAX. */
	cr_expect_eq(ts(in, out, 1024), 483);

	/* Long members are fine as long as the whole fits. */
	strcpy(in, "a=1,");
	strcat(in, longm);
	cr_expect_eq(ts(in, out, sizeof(out)), 134);
	cr_expect_str_eq(out, in);
}

Test(traceparent, tracestate_truncation_from_the_end)
{
	char in[2048], out[AT_TRACESTATE_MAX + 1];
	int n;

	/* 32 members of 30 characters: 32 * 31 - 1 = 991 > 512 */
	in[0] = '\0';
	for (int i = 0; i < 32; i++) {
		char m[40];

		memset(m, 'v', 30);
		m[0] = (char)('a' + i % 26);
		m[1] = (char)('a' + i / 26);
		m[2] = '=';
		m[30] = '\0';
		if (i > 0)
			strcat(in, ",");
		strcat(in, m);
	}
	n = ts(in, out, sizeof(out));
	/* 16 members: 16 * 31 - 1 = 495 fit, 17 would be 526 */
	cr_expect_eq(n, 495);
	cr_expect_eq(strncmp(out, in, 495), 0);
	cr_expect_eq(in[495], ',');
}

Test(traceparent, tracestate_small_cap)
{
	char out[12];

	cr_expect_eq(ts("foo=1,bar=2,baz=3", out, sizeof(out)), 11);
	cr_expect_str_eq(out, "foo=1,bar=2");
	cr_expect_eq(ts("foo=1,bar=2,baz=3", out, 5), 0);
	cr_expect_str_eq(out, "");
	cr_expect_eq(ts("foo=1", out, 1), 0);
	cr_expect_eq(ts("foo=1", out, 0), -1);
	cr_expect_eq(at_tracestate_sanitize(NULL, 0, out, sizeof(out)), 0);
	cr_expect_eq(at_tracestate_sanitize("foo=1", 3, out, sizeof(out)), -1);
	/* The length bounds the input: no NUL needed. */
	cr_expect_eq(at_tracestate_sanitize("foo=1XYZ", 5, out, sizeof(out)),
		     5);
	cr_expect_str_eq(out, "foo=1");
}
