/*
 * at_wire_pg.h - PostgreSQL decoded on the program's sockets (the
 * frontend/backend protocol 3.0 of drivers that speak it themselves:
 * node-postgres, asyncpg, JDBC...): the wire family at_wire.c dispatches
 * to, and the SQLCommenter text libpq's hooks share.  at_wire_pg.c has
 * the design.
 */
#ifndef AT_WIRE_PG_H
#define AT_WIRE_PG_H

#include <stddef.h>

#include "at_span.h"
#include "at_wire_kit.h"

extern const struct at_wire_family at_wire_pg_family;

/*
 * SQLCommenter for libpq (PQexec, PQsendQuery): with
 * AUTOTRACE_DB_SQLCOMMENTER, the statement text q with
 * "/" "*traceparent='...'*" "/" of span s appended, written into
 * buf[0..cap); q itself when the setting is off, s is NULL, the text does
 * not fit or ends in a line comment.
 */
const char *at_wire_pg_commented(const struct at_span *s, const char *q,
				 char *buf, size_t cap);

#endif
