/*
 * fuzz_sql.c - libFuzzer target for the SQL functions (at_sql_*.c).
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Isrc/core -Isrc/protocols -o fuzz_sql src/protocols/at_sql_*.c tests/fuzz/fuzz_sql.c
 *   ./fuzz_sql tests/fuzz/corpus/sql
 *
 * The input goes to all three functions, whole and with several caps.
 * Besides "no crash, no read outside the input" (AddressSanitizer;
 * libFuzzer's buffer ends exactly at the input), it traps when one of
 * these properties, which hold for any input, fails:
 *   - every call returns r < cap with out[r] == NUL, no NUL before it, and
 *     leaves the bytes from out[cap] on untouched;
 *   - the sanitized text is never longer than the input (so a cap of
 *     len + 1 never cuts), and sanitizing it again gives the same text;
 *   - outside quoted identifiers it holds no quote ', no "--" or "/ *",
 *     no whitespace but single spaces, no space at either end, and no
 *     identifier-like run ([0-9A-Za-z_$] and bytes >= 0x80) that starts
 *     with a digit: every number has become '?';
 *   - with a smaller cap the output is a prefix of the full one, the full
 *     one itself when it fits, else at most 4 bytes shorter than cap - 1
 *     (a cut UTF-8 sequence and a trailing space are dropped);
 *   - the operation is A-Z only; a collection is a substring of the input
 *     and comes with one of the statements that have one;
 *   - operation and collection give the same answer for the sanitized
 *     text as for the input (literals, signs and list contents never
 *     decide them).
 * Statements alike but for their literals (at_sql_shape_match, on the
 * pair "a\x01b" and on the input with its literals swapped) describe
 * alike.
 * The input also goes to at_sql_redact_message / at_sql_pg_error as an
 * error message, with the sanitized input as the statement and several
 * SQLSTATEs:
 *   - the same output contract (r < cap, NUL, nothing past cap), a
 *     smaller cap giving a prefix at most 4 bytes shorter than cap - 1;
 *   - redacting the output again gives the same output;
 *   - with nothing to keep, every " in the output is part of "?", every '
 *     not right after a letter part of '?' (the same for the typographic
 *     pairs), and no word starts with a digit or holds a '.';
 *   - RAISE's P0001 gives "?".
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "at_sql.h"
#include "fuzz.h"

#define GUARD 16

static const size_t caps[] = { 1, 2, 3, 4, 5, 7, 8, 16, 33, 64 };

/* r < cap, NUL-terminated, no NUL inside, nothing written past cap. */
static void check_out(const char *out, size_t cap, size_t r)
{
	CHECK(r < cap);
	CHECK(out[r] == '\0');
	CHECK(memchr(out, '\0', r) == NULL);
	for (size_t k = 0; k < GUARD; k++)
		CHECK(out[cap + k] == 'Z');
}

/* out[0..r) was made with cap: the full output full[0..fl), or a prefix
 * of it at most 4 bytes shorter than cap - 1 (a cut UTF-8 sequence and a
 * trailing space dropped). */
static void check_cut(const char *out, size_t cap, size_t r, const char *full,
		      size_t fl)
{
	check_out(out, cap, r);
	CHECK(r <= fl && memcmp(out, full, r) == 0);
	if (fl < cap)
		CHECK(r == fl);
	else
		CHECK(r + 4 >= cap - 1);
}

static int run_char(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	       (c >= 'a' && c <= 'z') || c == '_' || c == '$' || c >= 0x80;
}

/* The shape of a complete sanitized text. */
static void check_shape(const char *o, size_t r)
{
	int inq = 0;

	if (r > 0)
		CHECK(o[0] != ' ' && o[r - 1] != ' ');
	for (size_t i = 0; i < r; i++) {
		unsigned char c = (unsigned char)o[i];

		if (c == '"') {
			inq = !inq;
			continue;
		}
		if (inq)
			continue;
		CHECK(c != '\'');
		CHECK(c != '\t' && c != '\n' && c != '\r' && c != '\f' &&
		      c != '\v');
		if (i + 1 < r) {
			CHECK(!(c == ' ' && o[i + 1] == ' '));
			CHECK(!(c == '-' && o[i + 1] == '-'));
			CHECK(!(c == '/' && o[i + 1] == '*'));
		}
	}
}

/* Outside quoted identifiers no run of identifier bytes starts a digit. */
static void check_runs(const char *o, size_t r)
{
	int inq = 0, in_run = 0;

	for (size_t i = 0; i < r; i++) {
		unsigned char c = (unsigned char)o[i];

		if (c == '"') {
			inq = !inq;
			in_run = 0;
			continue;
		}
		if (inq || !run_char(c)) {
			in_run = 0;
			continue;
		}
		if (!in_run)
			CHECK(!(c >= '0' && c <= '9'));
		in_run = 1;
	}
}

static int known_table_op(const char *op)
{
	static const char *const ops[] = {
		"SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "COPY",
		"TRUNCATE", "CREATE", "ALTER", "DROP",
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i]) == 0)
			return 1;
	}
	return 0;
}

static void check_meta(const char *p, size_t n, const char *full, size_t fl)
{
	char op[40 + GUARD], op2[40], coll[300 + GUARD], coll2[300];
	size_t r, r2, c, c2;

	memset(op, 'Z', sizeof(op));
	r = at_sql_operation(p, n, op, 40);
	check_out(op, 40, r);
	for (size_t i = 0; i < r; i++)
		CHECK(op[i] >= 'A' && op[i] <= 'Z');
	r2 = at_sql_operation(full, fl, op2, sizeof(op2));
	CHECK(r2 == r && memcmp(op, op2, r) == 0);

	memset(coll, 'Z', sizeof(coll));
	c = at_sql_collection(p, n, coll, 300);
	check_out(coll, 300, c);
	if (c > 0) {
		CHECK(memmem(p, n, coll, c) != NULL);
		CHECK(known_table_op(op));
	}
	c2 = at_sql_collection(full, fl, coll2, sizeof(coll2));
	CHECK(c2 == c && memcmp(coll, coll2, c) == 0);

	/* Small caps: a name is whole or absent. */
	for (size_t k = 1; k < 8; k++) {
		char small[8 + GUARD];

		memset(small, 'Z', sizeof(small));
		r2 = at_sql_operation(p, n, small, k);
		check_out(small, k, r2);
		CHECK(r2 == 0 || (r2 == r && memcmp(small, op, r) == 0));
		memset(small, 'Z', sizeof(small));
		c2 = at_sql_collection(p, n, small, k);
		check_out(small, k, c2);
		CHECK(c2 == 0 || (c2 == c && memcmp(small, coll, c) == 0));
	}
}

static int is_letter(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_word(char c)
{
	return is_letter(c) || (c >= '0' && c <= '9') || c == '_';
}

/* The typographic pairs at_sql knows (also in at_sql_redact.c). */
static const char *const typo[][2] = {
	{ "\xc2\xab", "\xc2\xbb" }, { "\xc2\xbb", "\xc2\xab" },
	{ "\xe2\x80\x9c", "\xe2\x80\x9d" }, { "\xe2\x80\x9e", "\xe2\x80\x9c" },
	{ "\xe2\x80\x98", "\xe2\x80\x99" }, { "\xe2\x80\x9a", "\xe2\x80\x98" },
	{ "\xe3\x80\x8c", "\xe3\x80\x8d" }, { "\xe3\x80\x8e", "\xe3\x80\x8f" },
};

/* A message redacted with nothing to keep holds no quoted part but "?",
 * no number and no dotted name. */
static void check_bare(const char *o, size_t r)
{
	for (size_t i = 0; i < r;) {
		char prev = i > 0 ? o[i - 1] : '\0';
		size_t k;

		if (o[i] == '"' || (o[i] == '\'' && !is_letter(prev))) {
			CHECK(i + 2 < r && o[i + 1] == '?' && o[i + 2] == o[i]);
			i += 3;
			continue;
		}
		for (k = 0; k < sizeof(typo) / sizeof(typo[0]); k++) {
			size_t ol = strlen(typo[k][0]), cl = strlen(typo[k][1]);

			if (r - i >= ol && !memcmp(o + i, typo[k][0], ol)) {
				CHECK(r - i >= ol + 1 + cl && o[i + ol] == '?' &&
				      !memcmp(o + i + ol + 1, typo[k][1], cl));
				i += ol + 1 + cl;
				break;
			}
		}
		if (k < sizeof(typo) / sizeof(typo[0]))
			continue;
		if (is_word(o[i]) && !(is_word(prev) || prev == '$')) {
			CHECK(!(o[i] >= '0' && o[i] <= '9'));
			for (; i < r && (is_word(o[i]) || o[i] == '$'); i++)
				CHECK(!(i + 2 < r && o[i + 1] == '.' &&
					is_word(o[i + 2])));
			continue;
		}
		i++;
	}
}

static void check_messages(const char *p, size_t n, const char *sql,
			   size_t sl)
{
	static const char *const states[] = { NULL, "22P02", "23505",
					      "42P01", "XX000" };
	size_t big = 3 * n + 8, fl, r;
	char *full = malloc(big + GUARD), *again = malloc(big + GUARD);
	char out[64 + GUARD];

	if (full == NULL || again == NULL)
		abort();
	for (size_t s = 0; s <= sizeof(states) / sizeof(states[0]); s++) {
		const int bare = s == sizeof(states) / sizeof(states[0]);
		const char *st = bare ? NULL : states[s];

		memset(full, 'Z', big + GUARD);
		fl = bare ? at_sql_redact_message(p, n, NULL, full, big)
			  : at_sql_pg_error(p, n, st, sql, sl, full, big);
		check_out(full, big, fl);
		if (bare)
			check_bare(full, fl);

		memset(again, 'Z', big + GUARD);
		r = bare ? at_sql_redact_message(full, fl, NULL, again, big)
			 : at_sql_pg_error(full, fl, st, sql, sl, again, big);
		check_out(again, big, r);
		CHECK(r == fl && memcmp(again, full, fl) == 0);

		for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
			size_t cap = caps[i];

			memset(out, 'Z', sizeof(out));
			r = bare ? at_sql_redact_message(p, n, NULL, out, cap)
				 : at_sql_pg_error(p, n, st, sql, sl, out, cap);
			check_cut(out, cap, r, full, fl);
		}
	}
	r = at_sql_pg_error(p, n, "P0001", sql, sl, out, 64);
	CHECK(r == 1 && !strcmp(out, "?"));
	free(full);
	free(again);
}

/* at_sql_describe gives what the three functions give, at any caps. */
static void check_describe(const char *p, size_t n)
{
	static const size_t tcaps[] = { 1, 7, 64, 4096 };
	char t1[4096 + GUARD], t2[4096], o1[40 + GUARD], o2[40];
	char c1[300 + GUARD], c2[300];

	for (size_t i = 0; i < sizeof(tcaps) / sizeof(tcaps[0]); i++) {
		size_t ocap = i == 0 ? 3 : 40, ccap = i == 0 ? 5 : 300;
		struct at_sql_parts d = {
			.text = i == 3 && n % 2 ? NULL : t1,
			.text_cap = tcaps[i],
			.op = o1, .op_cap = ocap, .coll = c1, .coll_cap = ccap,
		};
		size_t r;

		memset(t1, 'Z', sizeof(t1));
		memset(o1, 'Z', sizeof(o1));
		memset(c1, 'Z', sizeof(c1));
		at_sql_describe(p, n, &d);
		if (d.text) {
			check_out(t1, tcaps[i], d.text_len);
			r = at_sql_sanitize(p, n, t2, tcaps[i]);
			CHECK(r == d.text_len && memcmp(t1, t2, r + 1) == 0);
		} else {
			CHECK(d.text_len == 0 && t1[0] == 'Z');
		}
		check_out(o1, ocap, d.op_len);
		r = at_sql_operation(p, n, o2, ocap);
		CHECK(r == d.op_len && memcmp(o1, o2, r + 1) == 0);
		check_out(c1, ccap, d.coll_len);
		r = at_sql_collection(p, n, c2, ccap);
		CHECK(r == d.coll_len && memcmp(c1, c2, r + 1) == 0);
	}
}

/* b matches a's shape: it must describe as a does (at any caps). */
static void check_alike(const char *a, size_t alen, const char *b,
			size_t blen)
{
	static const size_t tcaps[] = { 1, 7, 64, 1100 };
	char ta[1100], tb[1100], oa[40], ob[40], ca[300], cb[300];

	for (size_t i = 0; i < sizeof(tcaps) / sizeof(tcaps[0]); i++) {
		struct at_sql_parts da = { .text = ta, .text_cap = tcaps[i],
					   .op = oa, .op_cap = 40,
					   .coll = ca, .coll_cap = 300 };
		struct at_sql_parts db = { .text = tb, .text_cap = tcaps[i],
					   .op = ob, .op_cap = 40,
					   .coll = cb, .coll_cap = 300 };

		at_sql_describe(a, alen, &da);
		at_sql_describe(b, blen, &db);
		CHECK(da.text_len == db.text_len &&
		      memcmp(ta, tb, da.text_len + 1) == 0);
		CHECK(strcmp(oa, ob) == 0 && strcmp(ca, cb) == 0);
	}
}

/*
 * at_sql_shape_match(a, b) only when b describes as a does.  The input
 * "a\x01b" gives the pair; any input is also a, with b made from it by
 * swapping its literals for others chosen by its own bytes.
 */
static void check_shapes(const char *p, size_t n)
{
	static const char *const lits[] = {
		"0", "42", "-7", "+3", ".5", "1e5", "'x'", "''", "E'a'",
		"$$q$$", "0x1F", "- 3", "X'1'", "\"q", "1.", "9_0",
	};
	const char *sep = memchr(p, 1, n);
	size_t alen = sep ? (size_t)(sep - p) : n, bl = 0, ia = 0;
	struct at_sql_shape sh;
	char b[2 * AT_SQL_SHAPE_TEXT];

	if (!at_sql_shape_of(p, alen, &sh))
		return;
	CHECK(at_sql_shape_match(p, alen, &sh, p, alen));
	if (sep && at_sql_shape_match(p, alen, &sh, sep + 1, n - alen - 1))
		check_alike(p, alen, sep + 1, n - alen - 1);
	for (unsigned k = 0; k < sh.n; k++) {
		const char *l = lits[(unsigned char)p[sh.start[k]] %
				     (sizeof(lits) / sizeof(lits[0]))];

		memcpy(b + bl, p + ia, sh.start[k] - ia);
		bl += sh.start[k] - ia;
		memcpy(b + bl, l, strlen(l));
		bl += strlen(l);
		ia = sh.end[k];
	}
	memcpy(b + bl, p + ia, alen - ia);
	bl += alen - ia;
	if (at_sql_shape_match(p, alen, &sh, b, bl))
		check_alike(p, alen, b, bl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	size_t big = size + 1, fl, r;
	char *full, *again, *out;
	const char *z = memchr(p, '\0', size);
	size_t tl = z ? (size_t)(z - p) : size;

	full = malloc(big + GUARD);
	again = malloc(big + GUARD);
	out = malloc(64 + GUARD);
	if (full == NULL || again == NULL || out == NULL)
		abort();

	memset(full, 'Z', big + GUARD);
	fl = at_sql_sanitize(p, size, full, big);
	check_out(full, big, fl);
	CHECK(fl <= tl);
	check_shape(full, fl);
	check_runs(full, fl);

	memset(again, 'Z', big + GUARD);
	r = at_sql_sanitize(full, fl, again, big);
	check_out(again, big, r);
	CHECK(r == fl && memcmp(again, full, fl) == 0);

	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		size_t cap = caps[i];

		memset(out, 'Z', 64 + GUARD);
		r = at_sql_sanitize(p, size, out, cap);
		check_cut(out, cap, r, full, fl);
	}

	check_meta(p, size, full, fl);
	check_describe(p, size);
	check_shapes(p, size);
	check_messages(p, size, full, fl);

	free(full);
	free(again);
	free(out);
	return 0;
}
