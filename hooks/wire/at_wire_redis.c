/*
 * at_wire_redis.c - Redis commands as client spans, decoded on the
 * program's sockets (RESP2 and RESP3, arrays and inline commands), for
 * the drivers that speak the protocol themselves: Node's ioredis and
 * redis, redis-py, redis-cli, Jedis, go-redis...
 *
 * DESIGN
 *
 * Detection: the first bytes the client sends are a RESP array of bulk
 * strings ("*<n>\r\n$") or one whole inline line starting with a Redis
 * command's name, never an HTTP request line (at_resp_detect_request).
 *
 * Sending: the kit gives the family the bytes BEFORE the real send
 * (decode_out, each byte of the stream once, also across short writes);
 * it decodes them (at_resp_req_next) and pushes one FIFO entry per
 * complete command, with its span begun (a child of the sending thread's
 * active span): a reply can then never be read, on another thread,
 * before its command is in the FIFO.  Pipelining is the FIFO: many
 * commands in one write, replies in order.
 *
 * Receiving: each complete top-level reply (at_resp_rep_next) ends the
 * oldest entry's span; RESP3 pushes (>: client-side caching
 * invalidations) are out of band and end nothing.  A reply nobody waits
 * for, or malformed bytes either way, stop the connection's decoding
 * (what is pending ends at the close).
 *
 * A span: named by the command (GET, HGETALL, JSON.GET), with
 * db.system.name=redis, db.operation.name, db.namespace (the database
 * index: "0", then what SELECT chose, from the command after it),
 * db.query.text: the command, its key (the first argument of a keyed
 * command; all of them for DEL, MGET, EXISTS... whose arguments are all
 * keys; the subcommand of CLIENT, CONFIG, OBJECT... and OBJECT's key),
 * every other argument replaced by '?'; AUTOTRACE_DB_RAW_QUERY=true keeps
 * them all, except for AUTH, HELLO, MIGRATE, ACL and CONFIG whose
 * arguments never leave the process; cut to
 * AUTOTRACE_DB_QUERY_MAX_LENGTH.  An error reply (-ERR, !...) sets
 * error.type to its prefix (ERR, WRONGTYPE, NOAUTH...) and status ERROR
 * with the message redacted (quoted parts and numbers become '?': the
 * server echoes arguments), as it is with AUTOTRACE_DB_RAW_QUERY.
 *
 * Cache hits: a read command's reply says whether the key was there:
 *   autotrace.cache.hit (bool) on GET, GETEX, GETDEL, HGET, HGETALL,
 *     HKEYS, HVALS, HEXISTS, SISMEMBER, SMEMBERS, LINDEX, LRANGE, ZRANGE
 *     (and BYSCORE, BYLEX, REV...), ZSCORE, XRANGE, XREVRANGE: false when
 *     the reply is a null, an empty array/map/set or the integer 0;
 *   on MGET and HMGET (one element per key/field, a null for each one
 *     missing) and EXISTS (the count of keys found):
 *     autotrace.cache.hits and autotrace.cache.misses (ints) and
 *     autotrace.cache.hit = no miss.
 * No hit is recorded for an error reply, nor inside MULTI.
 *
 * MULTI/EXEC: MULTI's span ends at its +OK, each queued command's at its
 * +QUEUED (or its error), EXEC's at the array of results (or the null of
 * an aborted transaction), DISCARD's at its +OK.
 *
 * Leaving request/reply: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, MONITOR,
 * SYNC, PSYNC get their span, ended by the first reply that follows; the
 * connection is then no longer decoded (its bytes pass).  Nothing sent
 * after them is looked at.  CLIENT REPLY OFF/SKIP (replies that never
 * come) stop decoding at once.
 *
 * Limits: 1 KiB of arguments is copied: a longer first argument shows
 * cut, and the raw text holds at most that much;
 * more than 256 commands in flight on one connection stop its decoding
 * (counted as untraced); a reply nested deeper than 16 or a line over
 * 64 KiB does too (at_resp.h).
 */
#include <string.h>

#include "at_config.h"
#include "at_resp.h"
#include "at_sql.h"
#include "at_utf8.h"
#include "at_wire_redis.h"

/* The session's own state after the kit's. */
struct redis_sess {
	/* Sending side (one thread at a time). */
	struct at_resp_req req;
	bool in_multi;      /* between MULTI and EXEC/DISCARD/RESET */
	bool left;          /* a command left request/reply */
	/* Receiving side. */
	struct at_resp_rep rep;
	/* Sending side: the last command's name and its at_resp_command
	 * flags (the same few commands come over and over). */
	uint32_t last_flags;
	bool last_special;  /* one of the commands on_command looks at */
	uint8_t last_len;
	char last_name[AT_RESP_NAME_MAX + 1];
};

/* cmd->tag: the command's AT_RESP_* flags, and: */
#define TAG_QUEUED (1u << 31) /* sent inside MULTI */

#define TEXT_MAX 2048 /* name, arguments copy, " ?"s: then cut to the setting */

static struct at_pool redis_pool = AT_WIRE_POOL_INIT(struct redis_sess, 4096);

static int redis_detect_out(const char *p, size_t len)
{
	return at_resp_detect_request(p, len);
}

static void redis_open(struct at_wire *w)
{
	memcpy(w->ns, "0", 2);
}

/* ---- db.query.text ---- */

struct text {
	char b[TEXT_MAX];
	size_t len;
};

/* Append p[0..n) as valid UTF-8 (as much as fits). */
static void text_put(struct text *t, const char *p, size_t n)
{
	size_t room = sizeof(t->b) - t->len, used, k = 0;
	uint64_t v;

	if (room <= 1)
		return;
	/* Plain ASCII without NUL goes as it is (what at_utf8_copy would
	 * copy, a character at a time), 8 bytes at a time while a word has
	 * none other (a byte 0 or over 0x7f sets its top bit in v | v - 1s),
	 * the last 4 to 7 as two words of 4, then byte by byte;
	 * at_utf8_copy from the first other byte on. */
	while (k + 8 <= n && k + 8 < room) {
		memcpy(&v, p + k, sizeof(v));
		if ((v | (v - 0x0101010101010101ull)) & 0x8080808080808080ull)
			break;
		k += 8;
	}
	/* 4 to 7 bytes left that all fit: the first 4 and the last 4. */
	if (n - k >= 4 && n - k <= 8 && n < room) {
		uint32_t a, b;

		memcpy(&a, p + k, sizeof(a));
		memcpy(&b, p + n - 4, sizeof(b));
		if (!((a | (a - 0x01010101u) | b | (b - 0x01010101u)) &
		      0x80808080u))
			k = n;
	}
	while (k < n && k + 1 < room && (unsigned char)(p[k] - 1) < 0x7f)
		k++;
	memcpy(t->b + t->len, p, k);
	t->len += k;
	if (k < n && k + 1 < room)
		t->len += at_utf8_copy(t->b + t->len, room - k, p + k, n - k,
				       &used);
	else
		t->b[t->len] = '\0';
}

/* Append one ASCII byte (if it fits, as text_put would). */
static inline void text_byte(struct text *t, char ch)
{
	if (t->len + 1 < sizeof(t->b))
		t->b[t->len++] = ch;
}

/* Append " ?" for each of n arguments (as many as fit). */
static void text_hidden(struct text *t, uint64_t n)
{
	while (n-- > 0 && t->len + 2 < sizeof(t->b)) {
		t->b[t->len++] = ' ';
		t->b[t->len++] = '?';
	}
}

/* " " and argument i (its copied part if it is not whole); a subcommand
 * uppercased, as the command is. */
static void text_arg(struct text *t, const struct at_resp_cmd *c, uint32_t i,
		     bool subcommand)
{
	const char *p;
	size_t n, from;

	if (!at_resp_arg(c, i, &p, &n)) {
		size_t start = i == 1 ? 0 : c->arg_end[i - 2] + 1u;

		/* Only the last argument begun can be cut short. */
		p = c->args + start;
		n = c->args_len > start ? c->args_len - start : 0;
	}
	text_byte(t, ' ');
	from = t->len;
	text_put(t, p, n);
	for (; subcommand && from < t->len; from++)
		if (t->b[from] >= 'a' && t->b[from] <= 'z')
			t->b[from] = (char)(t->b[from] - 'a' + 'A');
}

static void query_text(struct at_span *s, const struct at_resp_cmd *c,
		       uint32_t flags)
{
	struct text t; /* not zeroed: only b[0..len) is ever read */
	uint32_t shown = 0, i;
	size_t max = at_cfg.db_query_max;

	/* The name is made of name bytes (at_resp.h), uppercased: ASCII,
	 * shorter than the buffer (its whole array copied: one fixed-size
	 * move, the bytes after the name overwritten or never read). */
	memcpy(t.b, c->name, sizeof(c->name));
	t.len = c->name_len;
	/* One whole argument shown as it is (GET key, with the raw text as
	 * well): the name, a space, the copy, as text_arg would put it. */
	if (c->argc == 1 && c->marks == 1 && !(flags & AT_RESP_SUB) &&
	    (flags & (AT_RESP_KEY | AT_RESP_KEYS) ||
	     (at_cfg.db_raw_query && !(flags & AT_RESP_SECRET)))) {
		t.b[t.len++] = ' ';
		text_put(&t, c->args, c->args_len);
		goto cut;
	}
	if (flags & AT_RESP_SUB)
		shown = flags & AT_RESP_SUBKEY ? 2 : 1;
	else if (flags & AT_RESP_KEY)
		shown = 1;
	if (c->argc == 0) {
		/* the name alone */
	} else if (at_cfg.db_raw_query && !(flags & AT_RESP_SECRET)) {
		text_byte(&t, ' ');
		text_put(&t, c->args, c->args_len);
		shown = c->argc;
	} else if (flags & AT_RESP_KEYS) {
		size_t n = c->args_len;

		/* Every argument a key: the copy, without the one cut short
		 * (unless it is the first). */
		if (c->args_cut) {
			while (n > 0 && c->args[n - 1] != ' ')
				n--;
			n = n ? n - 1 : c->args_len;
		}
		text_byte(&t, ' ');
		text_put(&t, c->args, n);
		shown = c->argc;
	} else {
		if (shown > c->argc)
			shown = c->argc;
		for (i = 1; i <= shown && i <= c->marks + 1; i++)
			text_arg(&t, c, i, i == 1 && (flags & AT_RESP_SUB));
		shown = i - 1;
	}
	text_hidden(&t, c->argc - shown);
cut:
	if (t.len > max)
		t.len = at_utf8_cut(t.b, t.len, max);
	at_span_set_str(s, "db.query.text", t.b, t.len);
}

/* ---- sending ---- */

/* Is argument i of c the word w (uppercase), ASCII case-insensitively? */
static bool arg_is(const struct at_resp_cmd *c, uint32_t i, const char *w)
{
	const char *p;
	size_t n, k;

	if (!at_resp_arg(c, i, &p, &n) || n != strlen(w))
		return false;
	for (k = 0; k < n; k++)
		if ((p[k] >= 'a' && p[k] <= 'z' ? p[k] - 32 : p[k]) != w[k])
			return false;
	return true;
}

/* Is c the command name (a literal)?  The length first: most commands
 * are none of the few this is asked about. */
#define named(c, lit)                                                       \
	((c)->name_len == sizeof(lit) - 1 &&                                \
	 memcmp((c)->name, lit, sizeof(lit) - 1) == 0)

/* SELECT n: the namespace of the commands sent after it. */
static void select_db(struct at_wire *w, const struct at_resp_cmd *c)
{
	const char *p;
	size_t n, k;

	if (!at_resp_arg(c, 1, &p, &n) || n == 0 || n >= sizeof(w->ns))
		return;
	for (k = 0; k < n; k++)
		if (p[k] < '0' || p[k] > '9')
			return;
	memcpy(w->ns, p, n);
	w->ns[n] = '\0';
}

/* at_resp_command's flags of c, the last command's when it is the same;
 * rs->last_special says whether c is one that on_command looks at by
 * name (most commands are none of them). */
static uint32_t command_flags(struct redis_sess *rs, const struct at_resp_cmd *c)
{
	/* A name of at most 8 bytes (most are) compared as one word: its
	 * first 8 bytes (the array is longer) with those past the name
	 * masked off. */
	if (c->name_len != 0 && c->name_len <= 8 &&
	    c->name_len == rs->last_len) {
		uint64_t a, b, keep = ~0ull;

		memcpy(&a, c->name, sizeof(a));
		memcpy(&b, rs->last_name, sizeof(b));
		if (c->name_len < 8)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			keep >>= 64 - 8 * c->name_len;
#else
			keep <<= 64 - 8 * c->name_len;
#endif
		if (((a ^ b) & keep) == 0)
			return rs->last_flags;
	}
	if (c->name_len == 0 || c->name_len > AT_RESP_NAME_MAX ||
	    c->name_len != rs->last_len ||
	    memcmp(c->name, rs->last_name, c->name_len) != 0) {
		rs->last_flags = at_resp_command(c->name, c->name_len, NULL);
		rs->last_special = named(c, "CLIENT") || named(c, "EXEC") ||
				   named(c, "DISCARD") || named(c, "RESET") ||
				   named(c, "SELECT") || named(c, "MULTI");
		rs->last_len = 0;
		if (c->name_len && c->name_len <= AT_RESP_NAME_MAX) {
			memcpy(rs->last_name, c->name, c->name_len);
			rs->last_len = (uint8_t)c->name_len;
		}
	}
	return rs->last_flags;
}

/* A command was decoded from the bytes about to be sent. */
static void on_command(struct at_wire *w, struct redis_sess *rs)
{
	const struct at_resp_cmd *c = &rs->req.cmd;
	uint32_t flags = command_flags(rs, c);
	struct at_wire_cmd *e;
	struct at_span *s;

	if (rs->last_special && named(c, "CLIENT") && arg_is(c, 1, "REPLY") &&
	    !arg_is(c, 2, "ON")) {
		at_wire_stop(w); /* no replies to match any more */
		return;
	}
	if (rs->last_special &&
	    (named(c, "EXEC") || named(c, "DISCARD") || named(c, "RESET")))
		rs->in_multi = false;
	e = at_wire_push(w);
	if (!e) {
		at_wire_overflow(w);
		return;
	}
	s = at_wire_span_begin(w, c->name, c->name_len);
	if (s && at_span_recording(s)) {
		at_span_set_str(s, "db.operation.name", c->name, c->name_len);
		query_text(s, c, flags);
	}
	e->span = s;
	e->tag = flags | (rs->in_multi ? TAG_QUEUED : 0);
	e->n = c->argc - (flags & AT_RESP_HFIELDS && c->argc ? 1 : 0);
	at_wire_commit(w);
	if (rs->last_special && named(c, "SELECT"))
		select_db(w, c);
	if (rs->last_special && named(c, "MULTI"))
		rs->in_multi = true;
	if (flags & AT_RESP_LEAVES)
		rs->left = true;
}

/* Decode bytes [skip, total) of this call's iov, about to be sent. */
static void decode_out(struct at_wire *w, const struct iovec *iov,
		       int iovcnt, size_t skip)
{
	struct redis_sess *rs = at_wire_sess(w);

	for (int i = 0; i < iovcnt; i++) {
		const char *p = iov[i].iov_base;
		size_t n = iov[i].iov_len, used;
		int r;

		if (skip >= n) {
			skip -= n;
			continue;
		}
		p += skip;
		n -= skip;
		skip = 0;
		while (n > 0 && !rs->left && !at_wire_stopped(w)) {
			r = at_resp_req_next(&rs->req, p, n, &used);
			if (r == AT_RESP_BAD) {
				at_wire_stop(w);
				return;
			}
			p += used;
			n -= used;
			if (r == AT_RESP_DONE)
				on_command(w, rs);
		}
	}
}

/* ---- receiving ---- */

/* An error reply: its prefix as error.type, status ERROR with the
 * message redacted (kept with AUTOTRACE_DB_RAW_QUERY). */
static void reply_error(struct at_span *s, const struct at_resp_reply *rp)
{
	char msg[AT_RESP_TEXT_MAX * 3 + 1];
	size_t k = 0, n, used, len = rp->text_len;

	while (k < rp->text_len && rp->text[k] != ' ' && k < 32)
		k++;
	if (k == 0 || k == 32 || !at_utf8_valid(rp->text, k))
		at_span_set_cstr(s, "error.type", "_OTHER");
	else
		at_span_set_str(s, "error.type", rp->text, k);
	/* A message longer than the copy: its last whole word. */
	if (len == AT_RESP_TEXT_MAX)
		while (len > k && rp->text[len - 1] != ' ')
			len--;
	if (at_cfg.db_raw_query)
		n = at_utf8_copy(msg, sizeof(msg), rp->text, len, &used);
	else
		n = at_sql_redact_message(rp->text, len, NULL, msg,
					  sizeof(msg));
	at_span_set_status(s, AT_STATUS_ERROR, msg, n);
}

static void cache_hits(struct at_span *s, uint64_t hits, uint64_t misses)
{
	at_span_set_bool(s, "autotrace.cache.hit", misses == 0);
	at_span_set_int(s, "autotrace.cache.hits", (int64_t)hits);
	at_span_set_int(s, "autotrace.cache.misses", (int64_t)misses);
}

/* What a read command's reply says about the cache. */
static void cache_reply(struct at_span *s, const struct at_wire_cmd *e,
			const struct at_resp_reply *rp)
{
	bool agg = rp->type == '*' || rp->type == '%' || rp->type == '~';

	if (e->tag & AT_RESP_READ_ONE) {
		if (rp->nil || (agg && rp->count == 0) ||
		    (rp->type == ':' && rp->integer == 0))
			at_span_set_bool(s, "autotrace.cache.hit", false);
		else if (agg || rp->type == ':' || rp->type == '$' ||
			 rp->type == '+' || rp->type == '=' || rp->type == ',')
			at_span_set_bool(s, "autotrace.cache.hit", true);
	} else if ((e->tag & AT_RESP_READ_EACH) && rp->type == '*' && !rp->nil) {
		cache_hits(s, rp->count - rp->nulls, rp->nulls);
	} else if ((e->tag & AT_RESP_READ_COUNT) && rp->type == ':') {
		uint64_t found = rp->integer < 0 ? 0 : (uint64_t)rp->integer;

		if (found > e->n)
			found = e->n;
		cache_hits(s, found, e->n - found);
	}
}

/* A whole reply (or push) was received. */
static void on_reply(struct at_wire *w, const struct at_resp_reply *rp)
{
	struct at_wire_cmd *e = at_wire_oldest(w);
	struct at_span *s;

	if (e && (e->tag & AT_RESP_LEAVES)) {
		/* SUBSCRIBE's confirmation (a push in RESP3), MONITOR's OK:
		 * what follows is no reply. */
		at_wire_finish(w);
		at_wire_stop(w);
		return;
	}
	if (rp->push)
		return; /* out of band */
	if (!e) {
		at_wire_stop(w); /* a reply to nothing: out of step */
		return;
	}
	s = e->span;
	if (s && at_span_recording(s)) {
		if (rp->type == '-' || rp->type == '!')
			reply_error(s, rp);
		else if (!(e->tag & TAG_QUEUED))
			cache_reply(s, e, rp);
	}
	at_wire_finish(w);
}

static void redis_received(struct at_wire *w, const struct iovec *iov,
			   int iovcnt, size_t len)
{
	struct redis_sess *rs = at_wire_sess(w);
	size_t used, l;
	const char *p;
	int r;

	for (int i = 0; i < iovcnt && len > 0; i++) {
		p = iov[i].iov_base;
		l = iov[i].iov_len < len ? iov[i].iov_len : len;
		len -= l;
		while (l > 0) {
			r = at_resp_rep_next(&rs->rep, p, l, &used);
			if (r == AT_RESP_BAD) {
				at_wire_stop(w);
				return;
			}
			p += used;
			l -= used;
			if (r == AT_RESP_DONE) {
				on_reply(w, &rs->rep.reply);
				if (at_wire_stopped(w))
					return;
			}
		}
	}
}

const struct at_wire_family at_wire_redis_family = {
	.name = "redis",
	.proto_bit = AT_PROTO_REDIS,
	.pool = &redis_pool,
	.sess_size = sizeof(struct redis_sess),
	.detect_out = redis_detect_out,
	.open = redis_open,
	.decode_out = decode_out,
	.received = redis_received,
};
