/*
 * at_tls_ssl.c - OpenSSL's side of the TLS layer (at_tls.h): the table
 * of real libssl functions, how a session is started (role, descriptor,
 * ALPN, SNI through the real getters), the inner writes, and what a read's
 * failure means for the HTTP machine.  The interposed functions are in
 * ssl_io.c.
 *
 * Resolution.  The table is filled at the first hook call, with
 * dlsym(RTLD_NEXT), else from the libssl a module loaded privately
 * (Python's _ssl is dlopen'ed after startup, with its libssl: the first
 * call comes from it, so the library is there to be found): libssl.so.3,
 * else libssl.so.1.1.  SSL_write_ex/SSL_read_ex are missing from 1.1.0;
 * the program then never calls them.
 */
#include <errno.h>

#include "at_tls.h"
#include "at_tls_ssl.h"

struct at_ssl_real at_ssl;

#define AT_SSL_SYM(ret, name, params) AT_SYM(at_ssl, name)
static const struct at_sym ssl_syms[] = { AT_SSL_FUNCS(AT_SSL_SYM) };
#undef AT_SSL_SYM
static const char *const ssl_required[] = {
	"SSL_write", "SSL_read", "SSL_get_fd", "SSL_is_server", "SSL_ctrl",
	"SSL_get_error", NULL
};
struct at_symtab at_ssl_syms3 = AT_SYMTAB_INIT("libssl.so.3", ssl_syms,
					       ssl_required);
static struct at_symtab syms11 = AT_SYMTAB_INIT("libssl.so.1.1", ssl_syms,
						ssl_required);

bool at_ssl_resolve_slow(void)
{
	return at_symtab_resolve(&at_ssl_syms3) || at_symtab_resolve(&syms11);
}

/* ---- the layer's view of a session ---- */

static long ssl_write(struct at_tls *t, const void *buf, size_t len)
{
	SSL *ssl = (SSL *)t->session;
	size_t w = 0;
	int r;

	if (t->flavor == AT_SSL_WRITE_EX) {
		r = at_ssl.SSL_write_ex(ssl, buf, len, &w);
		return r == 1 ? (long)w : r;
	}
	/* len fits: it is part of the int the program gave. */
	return at_ssl.SSL_write(ssl, buf, (int)len);
}

static const char *ssl_server_name(const void *session)
{
	if (!at_ssl.SSL_get_servername)
		return NULL;
	return at_ssl.SSL_get_servername(session,
					 AT_TLSEXT_NAMETYPE_host_name);
}

/* Does the session return partial writes (SSL_MODE_ENABLE_PARTIAL_WRITE)? */
static bool ssl_partial(struct at_tls *t)
{
	return (at_ssl.SSL_ctrl((SSL *)t->session, AT_SSL_CTRL_MODE, 0, NULL) &
		AT_SSL_MODE_ENABLE_PARTIAL_WRITE) != 0;
}

static const struct at_tls_lib ssl_lib = {
	.write = ssl_write,
	.partial = ssl_partial,
	.server_name = ssl_server_name,
};

struct at_tls *at_ssl_session_slow(struct at_tls *t, SSL *ssl, bool start)
{
	const unsigned char *alpn = NULL;
	unsigned int alpn_len = 0;

	if (!t || t->state != AT_TLS_NEW || !start)
		return t && t->state == AT_TLS_TRACED ? t : NULL;
	if (at_ssl.SSL_get0_alpn_selected)
		at_ssl.SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
	at_tls_sess_start(t, &ssl_lib, at_ssl.SSL_is_server(ssl) == 1,
		     at_ssl.SSL_get_fd(ssl), (const char *)alpn, alpn_len);
	return t->state == AT_TLS_TRACED ? t : NULL;
}

void at_ssl_read_failed(struct at_tls *t, SSL *ssl, const void *buf, long r)
{
	int err = errno, e;

	e = at_ssl.SSL_get_error(ssl, (int)r);
	if (e == AT_SSL_ERROR_ZERO_RETURN ||
	    (e == AT_SSL_ERROR_SYSCALL && err == 0))
		at_tls_sess_read(t, buf, 0, 0); /* the peer closed */
	else if (e == AT_SSL_ERROR_WANT_READ || e == AT_SSL_ERROR_WANT_WRITE)
		at_tls_sess_read(t, buf, -1, EAGAIN);
	else
		at_tls_sess_read(t, buf, -1, err ? err : EPROTO);
}
