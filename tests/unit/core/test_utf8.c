/*
 * test_utf8.c - the shared UTF-8 helpers (at_utf8.c): the decoder on the
 * edges of every RFC 3629 range and on each kind of invalid input, an
 * encode/decode round trip over every code point (lengths known from the
 * ranges, not from the code under test), the cut, and the sanitising
 * copy with and without room.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "at_utf8.h"

struct dcase {
	const char *s;
	size_t n;
	size_t len;   /* expected length, 0: invalid */
	uint32_t cp;
};

static const struct dcase dcases[] = {
	{ "A", 1, 1, 0x41 },
	{ "\x7f", 1, 1, 0x7f },
	{ "\xc2\x80", 2, 2, 0x80 },
	{ "\xdf\xbf", 2, 2, 0x7ff },
	{ "\xe0\xa0\x80", 3, 3, 0x800 },
	{ "\xed\x9f\xbf", 3, 3, 0xd7ff },
	{ "\xee\x80\x80", 3, 3, 0xe000 },
	{ "\xef\xbf\xbd", 3, 3, 0xfffd },
	{ "\xef\xbf\xbf", 3, 3, 0xffff },
	{ "\xf0\x90\x80\x80", 4, 4, 0x10000 },
	{ "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
	/* a longer input: only the first sequence counts */
	{ "\xc3\xa9tait", 6, 2, 0xe9 },
	/* invalid */
	{ "\x80", 1, 0, 0 },            /* stray continuation */
	{ "\xbf", 1, 0, 0 },
	{ "\xc0\x80", 2, 0, 0 },        /* overlong NUL */
	{ "\xc1\xbf", 2, 0, 0 },        /* overlong */
	{ "\xe0\x80\x80", 3, 0, 0 },    /* overlong */
	{ "\xe0\x9f\xbf", 3, 0, 0 },    /* overlong */
	{ "\xf0\x80\x80\x80", 4, 0, 0 },/* overlong */
	{ "\xf0\x8f\xbf\xbf", 4, 0, 0 },/* overlong */
	{ "\xed\xa0\x80", 3, 0, 0 },    /* high surrogate */
	{ "\xed\xbf\xbf", 3, 0, 0 },    /* low surrogate */
	{ "\xf4\x90\x80\x80", 4, 0, 0 },/* past U+10FFFF */
	{ "\xf5\x80\x80\x80", 4, 0, 0 },
	{ "\xf8\x88\x80\x80\x80", 5, 0, 0 },
	{ "\xff", 1, 0, 0 },
	{ "\xe2\x82", 2, 0, 0 },        /* cut short by n */
	{ "\xe2\x82\xac", 2, 0, 0 },    /* ... even if more bytes follow */
	{ "\xe2(\xac", 3, 0, 0 },       /* not a continuation */
	{ "\xc3", 1, 0, 0 },
};

Test(utf8, decode_edges_and_invalid_forms)
{
	for (size_t i = 0; i < sizeof(dcases) / sizeof(dcases[0]); i++) {
		const struct dcase *c = &dcases[i];
		uint32_t cp = 0x12345678;
		size_t len = at_utf8_decode(c->s, c->n, &cp);

		cr_assert_eq(len, c->len, "case %zu: length %zu", i, len);
		if (c->len)
			cr_assert_eq(cp, c->cp, "case %zu: U+%04X", i, cp);
		else
			cr_assert_eq(cp, 0x12345678, "case %zu: cp written", i);
		/* one character, or an invalid start: valid iff it is whole */
		if (c->len == 0 || c->len == c->n)
			cr_assert_eq(at_utf8_valid(c->s, c->n), c->len == c->n,
				     "case %zu", i);
	}
	cr_assert_eq(at_utf8_decode("A", 0, NULL), 0);
	cr_assert(at_utf8_valid("", 0));
	/* NUL is a valid one-byte character */
	cr_assert(at_utf8_valid("a\0b", 3));
}

Test(utf8, every_code_point_round_trips)
{
	for (uint32_t cp = 0; cp <= 0x10ffff; cp++) {
		size_t want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
		char buf[4];
		uint32_t back = 0;
		size_t len;

		if (cp >= 0xd800 && cp <= 0xdfff)
			continue;
		len = at_utf8_encode(cp, buf);
		cr_assert_eq(len, want, "U+%04X", cp);
		cr_assert_eq(at_utf8_decode(buf, len, &back), len, "U+%04X", cp);
		cr_assert_eq(back, cp);
		/* one byte short is never a character */
		if (len > 1)
			cr_assert_eq(at_utf8_decode(buf, len - 1, NULL), 0);
	}
}

Test(utf8, cut_never_splits_a_character)
{
	const char *s = "a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80";
	size_t n = strlen(s);
	/* the character boundaries of s, and the cut expected below each */
	static const size_t want[] = { 0, 1, 1, 3, 4, 4, 4, 7, 8, 8, 8, 8, 12 };

	for (size_t max = 0; max <= n; max++)
		cr_assert_eq(at_utf8_cut(s, n, max), want[max], "max %zu", max);
	cr_assert_eq(at_utf8_cut(s, n, n + 5), n);
	cr_assert_eq(at_utf8_cut(s, 3, 2), 1);
}

Test(utf8, copy_replaces_invalid_bytes_and_flattens_nul)
{
	static const char in[] = "ok\xff" "\xc3\xa9\0x\xed\xa0\x80";
	char out[64];
	size_t used = 0, w;

	w = at_utf8_copy(out, sizeof(out), in, sizeof(in) - 1, &used);
	cr_assert_eq(used, sizeof(in) - 1);
	cr_assert_str_eq(out, "ok\xef\xbf\xbd\xc3\xa9 x"
			      "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	cr_assert_eq(w, strlen(out));
	cr_assert(at_utf8_valid(out, w));
}

Test(utf8, copy_stops_at_a_boundary_when_room_runs_out)
{
	static const char in[] = "ab\xe2\x82\xac\xff";
	char out[8];
	size_t used, w;

	/* room 1: only the NUL */
	w = at_utf8_copy(out, 1, in, 6, &used);
	cr_assert_eq(w, 0);
	cr_assert_eq(used, 0);
	cr_assert_str_eq(out, "");
	/* room 5: "ab" and not the 3-byte euro sign (it needs 6) */
	w = at_utf8_copy(out, 5, in, 6, &used);
	cr_assert_eq(w, 2);
	cr_assert_eq(used, 2);
	cr_assert_str_eq(out, "ab");
	/* room 6: the euro sign, not the 3-byte replacement of \xff */
	w = at_utf8_copy(out, 6, in, 6, &used);
	cr_assert_eq(w, 5);
	cr_assert_eq(used, 5);
	cr_assert_str_eq(out, "ab\xe2\x82\xac");
	/* 3 * n + 1 is always enough */
	static const char bad[] = "\xff\xfe\xfd";
	char big[10];

	w = at_utf8_copy(big, sizeof(big), bad, 3, &used);
	cr_assert_eq(w, 9);
	cr_assert_eq(used, 3);
}
