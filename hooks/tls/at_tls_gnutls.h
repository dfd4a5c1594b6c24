/*
 * at_tls_gnutls.h - HTTPS through GnuTLS: the real GnuTLS functions and
 * what the interposed ones (gnutls_hooks.c) call.  at_tls_gnutls.c has
 * the design.
 */
#ifndef AT_TLS_GNUTLS_H
#define AT_TLS_GNUTLS_H

#include <gnutls/gnutls.h>
#include <stdbool.h>
#include <sys/types.h>

#include "at_family.h"

/* The GnuTLS functions the family calls: X(return type, name, params).
 * gnutls_transport_set_int is a macro of gnutls.h over _set_int2. */
#define AT_GNUTLS_FUNCS(X)                                                   \
	X(int, gnutls_init, (gnutls_session_t *, unsigned int))              \
	X(void, gnutls_deinit, (gnutls_session_t))                           \
	X(ssize_t, gnutls_record_send, (gnutls_session_t, const void *,      \
					size_t))                             \
	X(ssize_t, gnutls_record_send2, (gnutls_session_t, const void *,     \
					 size_t, size_t, unsigned))          \
	X(ssize_t, gnutls_record_recv, (gnutls_session_t, void *, size_t))   \
	X(void, gnutls_transport_set_int2, (gnutls_session_t, int, int))     \
	X(void, gnutls_transport_set_ptr, (gnutls_session_t,                 \
					   gnutls_transport_ptr_t))          \
	X(void, gnutls_transport_set_ptr2, (gnutls_session_t,                \
					    gnutls_transport_ptr_t,          \
					    gnutls_transport_ptr_t))         \
	X(void, gnutls_transport_get_int2, (gnutls_session_t, int *, int *)) \
	X(size_t, gnutls_record_get_max_size, (gnutls_session_t))            \
	X(int, gnutls_error_is_fatal, (int))                                 \
	X(int, gnutls_server_name_get, (gnutls_session_t, void *, size_t *,  \
					unsigned int *, unsigned int))       \
	X(int, gnutls_alpn_get_selected_protocol, (gnutls_session_t,         \
						   gnutls_datum_t *))

#define AT_GNUTLS_FIELD(ret, name, params) ret(*name) params;
struct at_gnutls_real {
	AT_GNUTLS_FUNCS(AT_GNUTLS_FIELD)
};
#undef AT_GNUTLS_FIELD

extern struct at_gnutls_real at_gnutls;
extern struct at_symtab at_gnutls_syms;

/* The real functions, resolved (the pass-through path); false if GnuTLS
 * is not there (the caller fails as a missing symbol would). */
static inline bool at_gnutls_resolve(void)
{
	return at_symtab_resolve(&at_gnutls_syms);
}

/*
 * Enter a traced call (false: pass straight through: nested, the
 * library's own thread, or GnuTLS absent); leave it.  The whole call,
 * the real one included, holds the guard too: the socket hooks under
 * GnuTLS pass straight through (the socket is passive anyway: its bytes
 * are ciphertext), and the spans this call starts or ends are the
 * library's own work.
 */
static inline bool at_gnutls_enter(void)
{
	if (!at_family_enter(AT_OWN_GNUTLS, &at_gnutls_syms))
		return false;
	at_guard_enter();
	return true;
}

static inline void at_gnutls_leave(void)
{
	at_guard_leave();
	at_family_leave(AT_OWN_GNUTLS);
}

/* gnutls_init made session with these flags (GNUTLS_SERVER...). */
void at_gnutls_session_made(gnutls_session_t session, unsigned int flags);
/* The program tied session to its transport: the sending side's
 * descriptor, or -1 when it is not one (a pointer of its own). */
void at_gnutls_transport(gnutls_session_t session, long send_side);
/* gnutls_record_send / _send2: returns what the program gets. */
ssize_t at_gnutls_send(gnutls_session_t session, const void *data,
		       size_t len, size_t pad, unsigned flags, bool send2);
/* gnutls_record_recv: does the real call, returns what it returned. */
ssize_t at_gnutls_recv(gnutls_session_t session, void *data, size_t len);
/* gnutls_deinit is about to end session: end its spans, forget it. */
void at_gnutls_session_end(gnutls_session_t session);

#endif
