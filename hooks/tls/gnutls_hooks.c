/*
 * hooks/tls/gnutls_hooks.c - the interposed GnuTLS functions: gnutls_init
 * and gnutls_deinit (a session's role and end), the transport setters
 * (its socket), gnutls_record_send/_send2 and gnutls_record_recv (its
 * plaintext).  Thin: enter the family, call at_tls_gnutls.c, leave.  A
 * nested call (gnutls_record_send calls gnutls_record_send2 through the
 * PLT) or one made while the library runs on the thread passes straight
 * through.
 */
#include <errno.h>
#include <stdint.h>

#include "at_tls_gnutls.h"

AT_EXPORT int gnutls_init(gnutls_session_t *session, unsigned int flags)
{
	int rc;

	if (!at_gnutls_enter())
		return at_gnutls_resolve() ? at_gnutls.gnutls_init(session, flags)
					   : GNUTLS_E_INTERNAL_ERROR;
	rc = at_gnutls.gnutls_init(session, flags);
	if (rc == 0 && session && *session)
		at_gnutls_session_made(*session, flags);
	at_gnutls_leave();
	return rc;
}

AT_EXPORT void gnutls_deinit(gnutls_session_t session)
{
	if (!at_gnutls_enter()) {
		if (at_gnutls_resolve())
			at_gnutls.gnutls_deinit(session);
		return;
	}
	at_gnutls_session_end(session);
	at_gnutls.gnutls_deinit(session);
	at_gnutls_leave();
}

AT_EXPORT void gnutls_transport_set_int2(gnutls_session_t session, int r,
					 int s)
{
	if (!at_gnutls_enter()) {
		if (at_gnutls_resolve() && at_gnutls.gnutls_transport_set_int2)
			at_gnutls.gnutls_transport_set_int2(session, r, s);
		return;
	}
	if (at_gnutls.gnutls_transport_set_int2)
		at_gnutls.gnutls_transport_set_int2(session, r, s);
	at_gnutls_transport(session, s);
	at_gnutls_leave();
}

/* A pointer that is a descriptor cast to one (what most programs give),
 * or -1. */
static long ptr_fd(gnutls_transport_ptr_t p)
{
	uintptr_t v = (uintptr_t)p;

	return v <= INT32_MAX ? (long)v : -1;
}

AT_EXPORT void gnutls_transport_set_ptr(gnutls_session_t session,
					gnutls_transport_ptr_t ptr)
{
	if (!at_gnutls_enter()) {
		if (at_gnutls_resolve() && at_gnutls.gnutls_transport_set_ptr)
			at_gnutls.gnutls_transport_set_ptr(session, ptr);
		return;
	}
	if (at_gnutls.gnutls_transport_set_ptr)
		at_gnutls.gnutls_transport_set_ptr(session, ptr);
	at_gnutls_transport(session, ptr_fd(ptr));
	at_gnutls_leave();
}

AT_EXPORT void gnutls_transport_set_ptr2(gnutls_session_t session,
					 gnutls_transport_ptr_t recv_ptr,
					 gnutls_transport_ptr_t send_ptr)
{
	if (!at_gnutls_enter()) {
		if (at_gnutls_resolve() && at_gnutls.gnutls_transport_set_ptr2)
			at_gnutls.gnutls_transport_set_ptr2(session, recv_ptr,
							    send_ptr);
		return;
	}
	if (at_gnutls.gnutls_transport_set_ptr2)
		at_gnutls.gnutls_transport_set_ptr2(session, recv_ptr, send_ptr);
	at_gnutls_transport(session, ptr_fd(send_ptr));
	at_gnutls_leave();
}

AT_EXPORT ssize_t gnutls_record_send(gnutls_session_t session,
				     const void *data, size_t data_size)
{
	ssize_t r;

	if (!at_gnutls_enter())
		return at_gnutls_resolve()
			       ? at_gnutls.gnutls_record_send(session, data,
							      data_size)
			       : GNUTLS_E_INTERNAL_ERROR;
	r = at_gnutls_send(session, data, data_size, 0, 0, false);
	at_gnutls_leave();
	return r;
}

AT_EXPORT ssize_t gnutls_record_send2(gnutls_session_t session,
				      const void *data, size_t data_size,
				      size_t pad, unsigned flags)
{
	ssize_t r;

	if (!at_gnutls_enter()) {
		if (at_gnutls_resolve() && at_gnutls.gnutls_record_send2)
			return at_gnutls.gnutls_record_send2(session, data,
							     data_size, pad,
							     flags);
		return GNUTLS_E_INTERNAL_ERROR;
	}
	r = at_gnutls.gnutls_record_send2
		    ? at_gnutls_send(session, data, data_size, pad, flags, true)
		    : GNUTLS_E_INTERNAL_ERROR;
	at_gnutls_leave();
	return r;
}

AT_EXPORT ssize_t gnutls_record_recv(gnutls_session_t session, void *data,
				     size_t data_size)
{
	ssize_t r;

	if (!at_gnutls_enter())
		return at_gnutls_resolve()
			       ? at_gnutls.gnutls_record_recv(session, data,
							      data_size)
			       : GNUTLS_E_INTERNAL_ERROR;
	r = at_gnutls_recv(session, data, data_size);
	at_gnutls_leave();
	return r;
}
