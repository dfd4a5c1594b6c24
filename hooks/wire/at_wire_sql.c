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
 * Errors.  A server's error message echoes what the program sent (a
 * bound value included), so the status message goes through
 * at_sql_pg_error: values become '?', and a quoted name stays only if it
 * is an identifier of the statement text the span already carries
 * (db.query.text, read back from the span by its key's address) or, for
 * integrity errors, a constraint/column/relation/table name.  With
 * AUTOTRACE_DB_RAW_QUERY the server's message is kept as it is.  The
 * work is done in stack buffers.
 */
#include <stdio.h>
#include <string.h>

#include "at_config.h"
#include "at_sql.h"
#include "at_wire_kit.h"

#define MSG_MAX 1024 /* an error message is redacted into this */

/* One key object: the statement text is read back from the span by it. */
static const char key_query_text[] = "db.query.text";

void at_wire_sql_statement(struct at_span *s, const char *text, size_t len,
			   const char *op_override)
{
	char op[32], coll[128], name[192], *q = NULL;
	char qbuf[AT_SPAN_ARENA];
	size_t qlen = 0, oplen, clen = 0;
	size_t max = at_cfg.db_query_max;

	if (!s || !at_span_recording(s))
		return;
	if (op_override) {
		oplen = strlen(op_override);
		if (oplen >= sizeof(op))
			oplen = sizeof(op) - 1;
		memcpy(op, op_override, oplen);
		op[oplen] = 0;
	} else {
		oplen = text ? at_sql_operation(text, len, op, sizeof(op)) : 0;
		if (text)
			clen = at_sql_collection(text, len, coll, sizeof(coll));
	}
	if (text) {
		if (!at_cfg.db_raw_query) {
			/* The sanitiser cuts at a UTF-8 boundary itself. */
			qlen = at_sql_sanitize(text, len, qbuf,
					       max + 1 < sizeof(qbuf) ? max + 1
								  : sizeof(qbuf));
			q = qbuf;
		} else {
			q = (char *)text;
			qlen = len;
			if (qlen > max) {
				qlen = max;
				while (qlen > 0 &&
				       ((unsigned char)q[qlen] & 0xc0) == 0x80)
					qlen--;
			}
		}
		at_span_set_str(s, key_query_text, q, qlen);
	}
	if (oplen) {
		at_span_set_str(s, "db.operation.name", op, oplen);
		if (clen) {
			at_span_set_str(s, "db.collection.name", coll, clen);
			int n = snprintf(name, sizeof(name), "%s %s", op, coll);
			at_span_set_name(s, name,
					 n < (int)sizeof(name) ? (size_t)n
							       : sizeof(name) - 1);
		} else {
			at_span_set_name(s, op, oplen);
		}
	}
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
