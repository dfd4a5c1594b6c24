/*
 * at_sql_describe.c - a statement's db.query.text, db.operation.name and
 * db.collection.name in one lexing of its text (at_sql_describe).
 *
 * Design
 * ------
 * A span needs all three, and each of at_sql_sanitize, at_sql_operation
 * and at_sql_collection reads the text's tokens from the start: three
 * lexings (the collection's SELECT rule reads the statement to its end,
 * and re-reads the token after a name).  Here they share a lexer that
 * keeps the tokens in order (struct lexer, at_sql_lex.h) in a stack array
 * of DESCRIBE_TOKS: the sanitiser, which reads every token, lexes them,
 * and the operation and collection take theirs from memory.  A token
 * past the array (a long statement), or past where a cut sanitiser
 * stopped, is lexed again as before: the results are the same in any
 * case, only the work differs (tests/unit/protocols/test_sql.c and
 * tests/fuzz/fuzz_sql.c compare them with the three functions').
 * Pure, like the other at_sql files: no allocation, bounded reads and
 * writes, 1.5 KB of stack (64 tokens: a statement longer than that lexes
 * its tail again for the names, as without the array).
 */
#include <stddef.h>

#include "at_sql.h"
#include "at_sql_lex.h"

#define DESCRIBE_TOKS 64

void at_sql_describe(const char *sql, size_t len, struct at_sql_parts *p)
{
	struct tok toks[DESCRIBE_TOKS];
	struct lexer x;

	at_sql_lexer_init(&x, sql, at_sql_text_len(sql, len), toks,
			  DESCRIBE_TOKS);
	p->text_len = p->text ? at_sql_sanitize_lexed(&x, p->text,
						      p->text_cap)
			      : 0;
	p->op_len = at_sql_operation_lexed(&x, p->op, p->op_cap);
	p->coll_len = at_sql_collection_lexed(&x, p->coll, p->coll_cap);
}
