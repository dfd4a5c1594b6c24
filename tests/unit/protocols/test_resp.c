/*
 * test_resp.c - the RESP2/RESP3 decoder (at_resp.c): commands (arrays of
 * bulk strings and inline lines), replies of every type, the same events
 * whatever the split, the limits, first-bytes detection, and the command
 * table.
 *
 * Every sequence is decoded whole and again in pieces of 1, 2, 3, 5 and
 * 7 bytes; the events (written as text) and the verdict must be the same.
 */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_resp.h"

struct log {
	char text[4096];
	size_t len;
	int verdict;   /* the last result: MORE (all consumed) or BAD */
	size_t events;
};

static void put(struct log *l, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void put(struct log *l, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	l->len += (size_t)vsnprintf(l->text + l->len, sizeof(l->text) - l->len,
				    fmt, ap);
	va_end(ap);
	cr_assert_lt(l->len, sizeof(l->text));
}

static void put_cmd(struct log *l, const struct at_resp_cmd *c)
{
	put(l, "%s%s/%u[%.*s]%s", c->inline_form ? "i:" : "", c->name, c->argc,
	    (int)c->args_len, c->args, c->args_cut ? "+" : "");
	for (uint32_t i = 1; i <= c->marks; i++) {
		const char *p;
		size_t n;

		cr_assert(at_resp_arg(c, i, &p, &n));
		put(l, " %u=%.*s", i, (int)n, p);
	}
	put(l, ";");
}

static void put_reply(struct log *l, const struct at_resp_reply *r)
{
	put(l, "%c%s%s", r->type, r->nil ? " nil" : "", r->push ? " push" : "");
	if (r->type == ':')
		put(l, " %lld", (long long)r->integer);
	if (strchr("*%~>", r->type) && !r->nil)
		put(l, " n=%llu/%llu", (unsigned long long)r->count,
		    (unsigned long long)r->nulls);
	if (r->text_len)
		put(l, " '%.*s'", (int)r->text_len, r->text);
	put(l, ";");
}

/* Decode s[0..n) in pieces of step bytes (0: whole); req: requests. */
static void run(const char *s, size_t n, size_t step, bool req,
		struct log *l)
{
	struct at_resp_req rq;
	struct at_resp_rep rp;
	size_t off = 0, avail = step ? 0 : n, used;
	int r;

	memset(l, 0, sizeof(*l));
	at_resp_req_init(&rq);
	at_resp_rep_init(&rp);
	for (;;) {
		if (req)
			r = at_resp_req_next(&rq, s + off, avail - off, &used);
		else
			r = at_resp_rep_next(&rp, s + off, avail - off, &used);
		cr_assert_leq(used, avail - off);
		off += used;
		if (r == AT_RESP_DONE) {
			l->events++;
			if (req)
				put_cmd(l, &rq.cmd);
			else
				put_reply(l, &rp.reply);
			continue;
		}
		if (r == AT_RESP_BAD) {
			l->verdict = r;
			put(l, "BAD@%zu", off);
			return;
		}
		cr_assert_eq(off, avail);
		if (avail == n)
			break;
		avail = avail + step > n ? n : avail + step;
	}
	l->verdict = AT_RESP_MORE;
}

/* The events of s, checked to be the same for every split. */
static const char *decode_n(const char *s, size_t n, bool req)
{
	static struct log whole;
	static const size_t steps[] = { 1, 2, 3, 5, 7 };
	struct log part;

	run(s, n, 0, req, &whole);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		run(s, n, steps[i], req, &part);
		cr_assert_str_eq(part.text, whole.text, "step %zu", steps[i]);
	}
	return whole.text;
}

static const char *cmds(const char *s)
{
	return decode_n(s, strlen(s), true);
}

static const char *replies(const char *s)
{
	return decode_n(s, strlen(s), false);
}

/* ---- requests ---- */

Test(resp, array_commands)
{
	cr_assert_str_eq(cmds("*2\r\n$3\r\nget\r\n$8\r\nuser:abc\r\n"),
			 "GET/1[user:abc] 1=user:abc;");
	cr_assert_str_eq(cmds("*1\r\n$4\r\nPING\r\n"), "PING/0[];");
	cr_assert_str_eq(cmds("*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nv a\r\n\r\n"
			      "$2\r\nEX\r\n$2\r\n60\r\n"),
			 "SET/4[k v a\r\n EX 60] 1=k 2=v a\r\n 3=EX 4=60;");
	/* Empty arguments are arguments. */
	cr_assert_str_eq(cmds("*3\r\n$4\r\nECHO\r\n$0\r\n\r\n$0\r\n\r\n"),
			 "ECHO/2[ ] 1= 2=;");
}

Test(resp, pipelined_commands_in_one_write)
{
	cr_assert_str_eq(cmds("*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
			      "*2\r\n$3\r\nGET\r\n$1\r\nb\r\n"
			      "*0\r\n*-1\r\n"
			      "*3\r\n$4\r\nHGET\r\n$1\r\nh\r\n$1\r\nf\r\n"),
			 "GET/1[a] 1=a;GET/1[b] 1=b;HGET/2[h f] 1=h 2=f;");
}

Test(resp, inline_commands)
{
	cr_assert_str_eq(cmds("ping\r\n"), "i:PING/0[];");
	cr_assert_str_eq(cmds("SET  k   v\n\r\n\nGET k\r\n"),
			 "i:SET/2[k v] 1=k 2=v;i:GET/1[k] 1=k;");
	cr_assert_str_eq(cmds("SET \"a b\" 'c d' \"e\\\"f\"\r\n"),
			 "i:SET/3[a b c d e\"f] 1=a b 2=c d 3=e\"f;");
	cr_assert_str_eq(cmds("SET k \"\"\r\n"), "i:SET/2[k ] 1=k 2=;");
	cr_assert_str_eq(cmds("JSON.GET doc $\r\n"),
			 "i:JSON.GET/2[doc $] 1=doc 2=$;");
	/* Unbalanced quotes: the server refuses the line. */
	cr_assert_str_eq(cmds("SET \"k v\r\n"), "BAD@10");
}

Test(resp, arguments_are_copied_within_bounds)
{
	char big[8192];
	size_t n;

	/* Argument 2 longer than the copy: 1 is whole, the rest cut. */
	n = (size_t)snprintf(big, sizeof(big), "*4\r\n$3\r\nSET\r\n$3\r\nkey\r\n"
			     "$2000\r\n%02000d\r\n$2\r\nEX\r\n", 7);
	const char *t = decode_n(big, n, true);
	cr_assert(strstr(t, "SET/3[key 0000") == t, "%s", t);
	cr_assert(strstr(t, "0]+ 1=key;"), "%s", t);
	/* Many arguments: marks for the first ones, argc for all. */
	n = (size_t)snprintf(big, sizeof(big), "*401\r\n$4\r\nMGET\r\n");
	for (int i = 0; i < 400; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "$2\r\nk%d\r\n",
				      i % 10);
	t = decode_n(big, n, true);
	cr_assert(strstr(t, "MGET/400[k0 k1 k2"), "%s", t);
	cr_assert(strstr(t, "]+ 1=k0 2=k1 3=k2 4=k3;"), "%s", t);
	/* A long name is cut (and flagged). */
	struct at_resp_req d;
	size_t used;
	const char *longname = "*1\r\n$40\r\nABCDEFGHIJABCDEFGHIJABCDEFGHIJABCDEFGHIJ\r\n";
	at_resp_req_init(&d);
	cr_assert_eq(at_resp_req_next(&d, longname, strlen(longname), &used),
		     AT_RESP_DONE);
	cr_assert(d.cmd.name_cut);
	cr_assert_eq(d.cmd.name_len, AT_RESP_NAME_MAX - 1);
}

Test(resp, malformed_requests)
{
	/* A nested array, a missing '$', CRLF errors, bad lengths. */
	cr_assert_str_eq(cmds("*1\r\n*1\r\n$4\r\nPING\r\n"), "BAD@5");
	cr_assert_str_eq(cmds("*1\r\n$4\r\nPINGx\r\n"), "BAD@13");
	cr_assert_str_eq(cmds("*1\n$4\r\nPING\r\n"), "BAD@3");
	cr_assert_str_eq(cmds("*1\r\n$-1\r\n"), "BAD@6");
	cr_assert_str_eq(cmds("*1\r\n$a\r\n"), "BAD@6");
	cr_assert_str_eq(cmds("*99999999999999999999999\r\n"), "BAD@21");
	cr_assert_str_eq(cmds("*9999999999\r\n"), "BAD@13");
	cr_assert_str_eq(cmds("*1\r\n$2000000000000\r\n"), "BAD@20");
	/* Command names are words: no empty, no binary name. */
	cr_assert_str_eq(cmds("*1\r\n$0\r\n\r\n"), "BAD@10");
	cr_assert_str_eq(cmds("*1\r\n$2\r\n\x01\x02\r\n"), "BAD@12");
	cr_assert_str_eq(cmds("\x16\x03\x01 hello\r\n"), "BAD@4");
	/* BAD stays. */
	struct at_resp_req d;
	size_t used;
	at_resp_req_init(&d);
	cr_assert_eq(at_resp_req_next(&d, "*x", 2, &used), AT_RESP_BAD);
	cr_assert_eq(at_resp_req_next(&d, "PING\r\n", 6, &used), AT_RESP_BAD);
	cr_assert_eq(used, 0);
}

Test(resp, inline_line_limit)
{
	size_t n = AT_RESP_LINE_MAX + 10;
	char *s = malloc(n);

	memcpy(s, "SET k ", 6);
	memset(s + 6, 'v', n - 6);
	struct log l;
	run(s, n, 0, true, &l);
	cr_assert_eq(l.verdict, AT_RESP_BAD);
	/* Just under the limit is a command. */
	s[AT_RESP_LINE_MAX - 1] = '\n';
	run(s, AT_RESP_LINE_MAX, 4096, true, &l);
	cr_assert_eq(l.verdict, AT_RESP_MORE);
	cr_assert_eq(l.events, 1);
	free(s);
}

/* ---- replies ---- */

Test(resp, resp2_replies)
{
	cr_assert_str_eq(replies("+OK\r\n"), "+ 'OK';");
	cr_assert_str_eq(replies("-WRONGTYPE Operation against a key\r\n"),
			 "- 'WRONGTYPE Operation against a key';");
	cr_assert_str_eq(replies(":42\r\n:-3\r\n:0\r\n"), ": 42;: -3;: 0;");
	cr_assert_str_eq(replies("$-1\r\n$0\r\n\r\n$5\r\nhe\r\no\r\n"),
			 "$ nil;$;$;");
	cr_assert_str_eq(replies("*-1\r\n*0\r\n"), "* nil;* n=0/0;");
	/* MGET: two of four keys missing. */
	cr_assert_str_eq(replies("*4\r\n$1\r\na\r\n$-1\r\n$-1\r\n$1\r\nd\r\n"),
			 "* n=4/2;");
	/* Nested (EXEC's array of replies, with an error inside). */
	cr_assert_str_eq(replies("*3\r\n+OK\r\n*2\r\n:1\r\n$-1\r\n"
				 "-ERR x\r\n+PONG\r\n"),
			 "* n=3/0;+ 'PONG';");
	cr_assert_str_eq(replies(":9223372036854775807\r\n"
				 ":-9223372036854775808\r\n"),
			 ": 9223372036854775807;: -9223372036854775808;");
}

Test(resp, resp3_replies)
{
	cr_assert_str_eq(replies("_\r\n#t\r\n,3.14\r\n,inf\r\n"
				 "(3492890328409238509324850943850943825024385\r\n"),
			 "_ nil;#;,;,;(;");
	cr_assert_str_eq(replies("!21\r\nSYNTAX invalid syntax\r\n"),
			 "! 'SYNTAX invalid syntax';");
	cr_assert_str_eq(replies("=15\r\ntxt:Some string\r\n"), "=;");
	/* HGETALL as a map: pairs; an empty map: a miss. */
	cr_assert_str_eq(replies("%2\r\n+a\r\n:1\r\n+b\r\n_\r\n%0\r\n"),
			 "% n=2/1;% n=0/0;");
	cr_assert_str_eq(replies("~3\r\n+a\r\n+b\r\n+c\r\n"), "~ n=3/0;");
	cr_assert_str_eq(replies("*2\r\n_\r\n$1\r\nx\r\n"), "* n=2/1;");
	/* A push (out of band) between replies. */
	cr_assert_str_eq(replies("+OK\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\nk\r\n"
				 ":1\r\n"),
			 "+ 'OK';> push n=2/0;: 1;");
}

Test(resp, attributes_are_skipped)
{
	cr_assert_str_eq(replies("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.1923\r\n"
				 "*2\r\n:2039123\r\n:9543892\r\n"),
			 "* n=2/0;");
	/* Inside an aggregate, before an element: not an element. */
	cr_assert_str_eq(replies("*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n$-1\r\n"),
			 "* n=2/1;");
	cr_assert_str_eq(replies("|0\r\n+OK\r\n"), "+ 'OK';");
}

Test(resp, streamed_replies)
{
	cr_assert_str_eq(replies("$?\r\n;4\r\nHell\r\n;5\r\no wor\r\n;1\r\nd\r\n;0\r\n"
				 ":7\r\n"),
			 "$;: 7;");
	cr_assert_str_eq(replies("*?\r\n:1\r\n$-1\r\n:3\r\n.\r\n"), "* n=3/1;");
	cr_assert_str_eq(replies("%?\r\n+a\r\n:1\r\n.\r\n"), "% n=1/0;");
	cr_assert_str_eq(replies("*2\r\n*?\r\n.\r\n$?\r\n;0\r\n"), "* n=2/0;");
	/* '.' only ends a streamed aggregate; ';' only in a streamed string. */
	cr_assert_str_eq(replies(".\r\n"), "BAD@1");
	cr_assert_str_eq(replies("*1\r\n.\r\n"), "BAD@5");
	cr_assert_str_eq(replies(";3\r\nabc\r\n"), "BAD@1");
	cr_assert_str_eq(replies("$?\r\n+OK\r\n"), "BAD@5");
	cr_assert_str_eq(replies("|?\r\n"), "BAD@2");
}

Test(resp, error_text_is_a_bounded_prefix)
{
	char s[512];
	int n = snprintf(s, sizeof(s), "-ERR %0300d\r\n+OK\r\n", 5);
	const char *t = decode_n(s, (size_t)n, false);

	cr_assert(strncmp(t, "- 'ERR 000", 10) == 0, "%s", t);
	cr_assert_eq(strlen(t), 3 + AT_RESP_TEXT_MAX + 2 + 7, "%s", t);
}

Test(resp, malformed_replies)
{
	cr_assert_str_eq(replies("?\r\n"), "BAD@1");
	cr_assert_str_eq(replies("+OK\n"), "BAD@4");
	cr_assert_str_eq(replies("+O\nK\r\n"), "BAD@3");
	cr_assert_str_eq(replies("+OK\rx"), "BAD@5");
	cr_assert_str_eq(replies("$3\r\nabcd\r\n"), "BAD@8");
	cr_assert_str_eq(replies("$-2\r\n"), "BAD@5");
	cr_assert_str_eq(replies("%-1\r\n"), "BAD@2");
	cr_assert_str_eq(replies("_x\r\n"), "BAD@4");
	cr_assert_str_eq(replies(":\r\n"), "BAD@2");
	cr_assert_str_eq(replies(":9223372036854775808\r\n"), "BAD@22");
	cr_assert_str_eq(replies("*1\r\n*1\r\n+x\r\n?"), "* n=1/0;BAD@13");
	/* Too deep. */
	char deep[256];
	size_t n = 0;
	for (int i = 0; i < AT_RESP_DEPTH; i++)
		n += (size_t)snprintf(deep + n, sizeof(deep) - n, "*1\r\n");
	n += (size_t)snprintf(deep + n, sizeof(deep) - n, ":1\r\n");
	cr_assert_str_eq(decode_n(deep, n, false), "* n=1/0;");
	memmove(deep + 4, deep, n);
	memcpy(deep, "*1\r\n", 4);
	cr_assert_str_eq(decode_n(deep, n + 4, false), "BAD@68");
}

Test(resp, simple_line_limit)
{
	size_t n = AT_RESP_LINE_MAX + 10;
	char *s = malloc(n);
	struct log l;

	s[0] = '+';
	memset(s + 1, 'x', n - 1);
	run(s, n, 0, false, &l);
	cr_assert_eq(l.verdict, AT_RESP_BAD);
	run(s, n, 1000, false, &l);
	cr_assert_eq(l.verdict, AT_RESP_BAD);
	memcpy(s + AT_RESP_LINE_MAX + 1, "\r\n", 2);
	run(s, AT_RESP_LINE_MAX + 3, 1000, false, &l);
	cr_assert_eq(l.verdict, AT_RESP_MORE);
	cr_assert_eq(l.events, 1);
	free(s);
}

/* ---- detection and the command table ---- */

static bool detect(const char *s)
{
	return at_resp_detect_request(s, strlen(s));
}

Test(resp, detection_of_the_first_bytes)
{
	cr_assert(detect("*1\r\n$4\r\nPING\r\n"));
	cr_assert(detect("*3\r\n"));
	cr_assert(detect("PING\r\n"));
	cr_assert(detect("GET user:1\r\n"));
	cr_assert_not(detect("get user:1\r\n"));  /* memcached, or a typist */
	cr_assert_not(detect("set k 0 0 5\r\nhello\r\n"));
	cr_assert(detect("SET k v\n"));
	cr_assert_not(detect("*"));
	cr_assert_not(detect("*x\r\n$"));
	cr_assert_not(detect("*3\r\n+"));
	cr_assert_not(detect("*3\n$"));
	cr_assert_not(detect("GET k"));           /* no whole line */
	cr_assert_not(detect("FOO bar\r\n"));     /* no such command */
	cr_assert_not(detect("GETX k\r\n"));
	cr_assert_not(detect("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
	cr_assert_not(detect("GET /index.html\r\n"));
	cr_assert_not(detect("POST /x HTTP/1.1\r\n"));
	cr_assert_not(detect("DELETE /x HTTP/1.0\r\n"));
	cr_assert_not(detect("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
	cr_assert_not(detect("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"));
	cr_assert_not(detect("\0\0\0\x08\x04\xd2\x16\x2f"));
}

Test(resp, command_table)
{
	bool known;

	cr_assert_eq(at_resp_command("GET", 3, &known),
		     AT_RESP_KEY | AT_RESP_READ_ONE);
	cr_assert(known);
	cr_assert(at_resp_command("MGET", 4, NULL) & AT_RESP_READ_EACH);
	cr_assert(at_resp_command("MGET", 4, NULL) & AT_RESP_KEYS);
	cr_assert(at_resp_command("HMGET", 5, NULL) & AT_RESP_HFIELDS);
	cr_assert(at_resp_command("EXISTS", 6, NULL) & AT_RESP_READ_COUNT);
	cr_assert(at_resp_command("AUTH", 4, NULL) & AT_RESP_SECRET);
	cr_assert(at_resp_command("HELLO", 5, NULL) & AT_RESP_SECRET);
	cr_assert(at_resp_command("MIGRATE", 7, NULL) & AT_RESP_SECRET);
	cr_assert(at_resp_command("CONFIG", 6, NULL) & AT_RESP_SECRET);
	cr_assert(at_resp_command("ACL", 3, NULL) & AT_RESP_SECRET);
	cr_assert(at_resp_command("SUBSCRIBE", 9, NULL) & AT_RESP_LEAVES);
	cr_assert(at_resp_command("PSUBSCRIBE", 10, NULL) & AT_RESP_LEAVES);
	cr_assert(at_resp_command("SSUBSCRIBE", 10, NULL) & AT_RESP_LEAVES);
	cr_assert(at_resp_command("MONITOR", 7, NULL) & AT_RESP_LEAVES);
	cr_assert(at_resp_command("OBJECT", 6, NULL) & AT_RESP_SUBKEY);
	cr_assert_eq(at_resp_command("ZUNIONSTORE", 11, &known), AT_RESP_KEY);
	cr_assert(known);
	cr_assert_eq(at_resp_command("ACL", 3, &known), AT_RESP_SUB | AT_RESP_SECRET);
	cr_assert(known);
	cr_assert_eq(at_resp_command("PING", 4, &known), 0);
	cr_assert(known);
	/* Prefixes and extensions of names are other names. */
	cr_assert_eq(at_resp_command("GE", 2, &known), 0);
	cr_assert_not(known);
	cr_assert_eq(at_resp_command("GETS", 4, &known), 0);
	cr_assert_not(known);
	cr_assert_eq(at_resp_command("get", 3, &known), 0);
	cr_assert_not(known);
	cr_assert_eq(at_resp_command("", 0, &known), 0);
	cr_assert_not(known);
}
