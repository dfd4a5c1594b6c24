/*
 * fuzz_sql.c - libFuzzer target for at_sql.c.
 *
 *   clang -std=gnu11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined \
 *         -Iinclude -o fuzz_sql src/at_sql.c tests/fuzz/fuzz_sql.c
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
		check_out(out, cap, r);
		CHECK(r <= fl && memcmp(out, full, r) == 0);
		if (fl < cap)
			CHECK(r == fl);
		else
			CHECK(r + 4 >= cap - 1);
	}

	check_meta(p, size, full, fl);

	free(full);
	free(again);
	free(out);
	return 0;
}
