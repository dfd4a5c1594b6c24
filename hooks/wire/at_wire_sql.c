/*
 * at_wire_sql.c - the attributes of an SQL statement's span, the same for
 * every layer that sees statements: libpq (hooks/libpq) and the wire
 * families (PostgreSQL and MySQL decoded on the socket), so that one
 * statement looks the same whichever layer traced it.
 *
 * DESIGN
 *
 * Text.  db.query.text is sanitised by at_sql (literals become '?', $n
 * placeholders stay) unless AUTOTRACE_DB_RAW_QUERY, and cut to
 * AUTOTRACE_DB_QUERY_MAX_LENGTH at a UTF-8 boundary.  The operation and
 * the collection come from the text; the span is named
 * "{operation} {collection}", or "{operation}".
 *
 * Memo.  A program runs the same few statements over and over (a
 * driver's Parse of the unnamed statement, the same Query text): the
 * wire families keep, per connection, the last AT_WIRE_SQL_MEMOS texts
 * with what they gave (sanitised text, operation, collection, span
 * name), so a repeated text costs one comparison instead of a lexing
 * (at_sql_describe: the three from one pass over the text).  An entry is what derive() computed for those bytes with the
 * same settings, so the span gets the same attributes either way; its
 * attributes are kept as an attribute block too (at_span_block), copied
 * into the span at once.
 * A text that is a remembered one but for its literals (what programs
 * that do not bind their values send: pgbench's "... WHERE aid = 4711")
 * describes the same (at_sql_shape_match: the bytes between the literals
 * compared, the new literals lexed), so it reuses the entry too, unless
 * AUTOTRACE_DB_RAW_QUERY (the text is then exported as it is).  The
 * search starts after the entry used last: programs run their statements
 * in the same order again and again.  libpq's hooks keep a memo per
 * PGconn the same way.
 *
 * Errors.  A server's error message echoes what the program sent (a
 * bound value included), so the status message goes through
 * at_sql_pg_error: values become '?', and a quoted name stays only if it
 * is an identifier of the statement text the span already carries
 * (db.query.text, read back from the span by its key's address) or, for
 * integrity errors, a constraint/column/relation/table name.  With
 * AUTOTRACE_DB_RAW_QUERY the server's message is kept as it is.  The
 * work is done in stack buffers.
 */
#include <string.h>

#include "at_config.h"
#include "at_sql.h"
#include "at_wire_kit.h"

#define MSG_MAX 1024 /* an error message is redacted into this */

/* One key object: the statement text is read back from the span by it. */
static const char key_query_text[] = "db.query.text";
static const char key_operation[] = "db.operation.name";
static const char key_collection[] = "db.collection.name";

/* What a statement's text gives: the attributes' values. */
struct derived {
	const char *q;          /* db.query.text (NULL: no text) */
	size_t q_len, op_len, coll_len, name_len;
	char op[32];
	char coll[128];
	char name[192];         /* "{operation} {collection}" */
	char qbuf[AT_SPAN_ARENA];
};

size_t at_wire_cat(char *b, size_t cap, size_t at, const char *p, size_t n)
{
	n = strnlen(p, n);
	if (at + n > cap - 1)
		n = at < cap - 1 ? cap - 1 - at : 0;
	memcpy(b + at, p, n);
	b[at + n] = '\0';
	return at + n;
}

size_t at_wire_join3(char *b, size_t cap, const char *a, size_t al,
		     const char *sep, size_t sl, const char *c, size_t cl)
{
	size_t n;

	if (al + sl + cl < cap) {
		memcpy(b, a, al);
		memcpy(b + al, sep, sl);
		memcpy(b + al + sl, c, cl);
		b[al + sl + cl] = '\0';
		return al + sl + cl;
	}
	n = at_wire_cat(b, cap, 0, a, al);
	n = at_wire_cat(b, cap, n, sep, sl);
	return at_wire_cat(b, cap, n, c, cl);
}

static void derive(struct derived *d, const char *text, size_t len,
		   const char *op_override)
{
	size_t max = at_cfg.db_query_max;
	size_t qcap = max + 1 < sizeof(d->qbuf) ? max + 1 : sizeof(d->qbuf);
	struct at_sql_parts p = {
		.text = at_cfg.db_raw_query ? NULL : d->qbuf, .text_cap = qcap,
		.op = d->op, .op_cap = sizeof(d->op),
		.coll = d->coll, .coll_cap = sizeof(d->coll),
	};

	d->q = NULL;
	d->q_len = d->op_len = d->coll_len = d->name_len = 0;
	if (op_override) {
		d->op_len = strlen(op_override);
		if (d->op_len >= sizeof(d->op))
			d->op_len = sizeof(d->op) - 1;
		memcpy(d->op, op_override, d->op_len);
		d->op[d->op_len] = 0;
		if (text && p.text)
			d->q_len = at_sql_sanitize(text, len, d->qbuf, qcap);
	} else if (text) {
		/* One lexing for the three; the sanitiser cuts at a UTF-8
		 * boundary itself. */
		at_sql_describe(text, len, &p);
		d->op_len = p.op_len;
		d->coll_len = p.coll_len;
		d->q_len = p.text_len;
	}
	if (text && p.text) {
		d->q = d->qbuf;
	} else if (text) {
		d->q = text;
		d->q_len = len;
		if (d->q_len > max) {
			d->q_len = max;
			while (d->q_len > 0 &&
			       ((unsigned char)text[d->q_len] & 0xc0) == 0x80)
				d->q_len--;
		}
	}
	if (d->op_len && d->coll_len)
		/* "{operation} {collection}": op[32] and coll[128]
		 * always fit name[192]. */
		d->name_len = at_wire_join3(d->name, sizeof(d->name), d->op,
					    d->op_len, " ", 1, d->coll,
					    d->coll_len);
}

/* The span's name: "{operation} {collection}", or "{operation}". */
static void apply_name(struct at_span *s, const char *op, size_t op_len,
		       size_t coll_len, const char *name, size_t name_len)
{
	if (op_len && coll_len)
		at_span_set_name(s, name, name_len);
	else if (op_len)
		at_span_set_name(s, op, op_len);
}

static void apply(struct at_span *s, const char *q, size_t q_len,
		  const char *op, size_t op_len, const char *coll,
		  size_t coll_len, const char *name, size_t name_len)
{
	if (q)
		at_span_set_str(s, key_query_text, q, q_len);
	if (op_len) {
		at_span_set_str(s, key_operation, op, op_len);
		if (coll_len)
			at_span_set_str(s, key_collection, coll, coll_len);
	}
	apply_name(s, op, op_len, coll_len, name, name_len);
}

void at_wire_sql_statement(struct at_span *s, const char *text, size_t len,
			   const char *op_override)
{
	struct derived d;

	if (!s || !at_span_recording(s))
		return;
	derive(&d, text, len, op_override);
	apply(s, d.q, d.q_len, d.op, d.op_len, d.coll, d.coll_len, d.name,
	      d.name_len);
}

static bool memo_fits(const struct derived *d, size_t len)
{
	return len <= AT_WIRE_SQL_MEMO_TEXT &&
	       d->q_len <= AT_WIRE_SQL_MEMO_TEXT;
}

/* Does text describe as entry e did, with the settings in force? */
static bool memo_same(const struct at_wire_sql_memo_entry *e,
		      const char *text, size_t len)
{
	if (e->max != at_cfg.db_query_max || e->raw != (bool)at_cfg.db_raw_query)
		return false;
	if (e->text_len == len && memcmp(e->text, text, len) == 0)
		return true;
	return e->shaped &&
	       at_sql_shape_match(e->text, e->text_len, &e->shape, text, len);
}

/* at_wire_sql_statement_memo; keys_new: none of the statement's keys
 * is on s (at_wire_sql_statement_memo_new). */
static void statement_memo(struct at_span *s, const char *text, size_t len,
			   struct at_wire_sql_memo *memo, bool keys_new)
{
	struct at_wire_sql_memo_entry *e;
	struct derived d;
	unsigned n;

	if (!s || !at_span_recording(s))
		return;
	if (!text || !len || len > AT_WIRE_SQL_MEMO_TEXT) {
		at_wire_sql_statement(s, text, len, NULL);
		return;
	}
	/* The filled entries, from the one after the last used. */
	n = memo->next < AT_WIRE_SQL_MEMOS ? memo->next : AT_WIRE_SQL_MEMOS;
	for (unsigned i = 0, k = n ? memo->hit % n : 0; i < n; i++) {
		e = &memo->e[k];
		if (++k == n)
			k = 0;
		if (memo_same(e, text, len)) {
			memo->hit = k;
			if (keys_new ? at_span_set_block_new(s, &e->attrs)
				     : at_span_set_block(s, &e->attrs))
				apply_name(s, e->op, e->op_len, e->coll_len,
					   e->name, e->name_len);
			else
				apply(s, e->q, e->q_len, e->op, e->op_len,
				      e->coll, e->coll_len, e->name,
				      e->name_len);
			return;
		}
	}
	derive(&d, text, len, NULL);
	apply(s, d.q, d.q_len, d.op, d.op_len, d.coll, d.coll_len, d.name,
	      d.name_len);
	if (!memo_fits(&d, len))
		return;
	memo->hit = memo->next % AT_WIRE_SQL_MEMOS;
	e = &memo->e[memo->hit++];
	memo->next++;
	e->text_len = (uint32_t)len;
	e->max = at_cfg.db_query_max;
	e->raw = at_cfg.db_raw_query;
	memcpy(e->text, text, len);
	e->shaped = !e->raw && at_sql_shape_of(text, len, &e->shape);
	memcpy(e->q, d.q, d.q_len);
	memcpy(e->op, d.op, d.op_len);
	memcpy(e->coll, d.coll, d.coll_len);
	memcpy(e->name, d.name, d.name_len);
	e->q_len = (uint16_t)d.q_len;
	e->op_len = (uint16_t)d.op_len;
	e->coll_len = (uint16_t)d.coll_len;
	e->name_len = (uint16_t)d.name_len;
	/* What apply() sets, in its order. */
	at_span_block_clear(&e->attrs);
	at_span_block_str(&e->attrs, key_query_text, e->q, e->q_len);
	if (e->op_len) {
		at_span_block_str(&e->attrs, key_operation, e->op, e->op_len);
		if (e->coll_len)
			at_span_block_str(&e->attrs, key_collection, e->coll,
					  e->coll_len);
	}
}

void at_wire_sql_statement_memo(struct at_span *s, const char *text,
				size_t len, struct at_wire_sql_memo *memo)
{
	statement_memo(s, text, len, memo, false);
}

void at_wire_sql_statement_memo_new(struct at_span *s, const char *text,
				    size_t len, struct at_wire_sql_memo *memo)
{
	statement_memo(s, text, len, memo, true);
}

/* The statement text s carries (db.query.text), or NULL. */
static const char *span_query_text(const struct at_span *s, size_t *len)
{
	for (unsigned i = 0; i < s->h.n_attrs; i++) {
		const struct at_attr *a = &s->attrs[i];

		if (a->key == key_query_text && a->type == AT_ATTR_STRING) {
			*len = a->v.s.len;
			return s->arena + a->v.s.off;
		}
	}
	*len = 0;
	return NULL;
}

void at_wire_sql_error_status(struct at_span *s, const char *sqlstate,
			      const char *m, size_t len)
{
	char buf[MSG_MAX];
	const char *sql;
	size_t sql_len, n;

	if (!s || !at_span_recording(s))
		return;
	if (!m || at_cfg.db_raw_query) {
		at_span_set_status(s, AT_STATUS_ERROR, m, m ? len : 0);
		return;
	}
	sql = span_query_text(s, &sql_len);
	n = at_sql_pg_error(m, len, sqlstate, sql, sql_len, buf, sizeof(buf));
	at_span_set_status(s, AT_STATUS_ERROR, buf, n);
}

void at_wire_sql_error(struct at_span *s, const char *code,
		       const char *sqlstate, const char *msg, size_t msg_len)
{
	if (!s || !at_span_recording(s))
		return;
	if (code && *code) {
		at_span_set_cstr(s, "db.response.status_code", code);
		at_span_set_cstr(s, "error.type", code);
	} else {
		at_span_set_cstr(s, "error.type", "_OTHER");
	}
	at_wire_sql_error_status(s, sqlstate, msg, msg_len);
}
