/*
 * at_tls_ssl.h - OpenSSL (1.1 and 3) as seen by the TLS layer: the
 * real functions, resolved at run time, and the few ABI facts the hooks
 * need.  libssl is never linked and its headers are not needed: the
 * handles are opaque, and the constants below are part of OpenSSL's
 * stable ABI (the same in 1.1 and 3).
 */
#ifndef AT_TLS_SSL_H
#define AT_TLS_SSL_H

#include <stdbool.h>
#include <stddef.h>

#include "at_family.h"
#include "at_tls.h"

typedef struct ssl_st SSL;
typedef struct bio_st BIO;

#define AT_SSL_CTRL_MODE 33
#define AT_SSL_MODE_ENABLE_PARTIAL_WRITE 0x1L
#define AT_SSL_ERROR_WANT_READ 2
#define AT_SSL_ERROR_WANT_WRITE 3
#define AT_SSL_ERROR_SYSCALL 5
#define AT_SSL_ERROR_ZERO_RETURN 6
#define AT_TLSEXT_NAMETYPE_host_name 0

#define AT_SSL_FUNCS(X)                                                       \
	X(int, SSL_write, (SSL *, const void *, int))                         \
	X(int, SSL_write_ex, (SSL *, const void *, size_t, size_t *))         \
	X(int, SSL_read, (SSL *, void *, int))                                \
	X(int, SSL_read_ex, (SSL *, void *, size_t, size_t *))                \
	X(int, SSL_set_fd, (SSL *, int))                                      \
	X(void, SSL_set_bio, (SSL *, BIO *, BIO *))                           \
	X(int, SSL_shutdown, (SSL *))                                         \
	X(void, SSL_free, (SSL *))                                            \
	X(int, SSL_get_fd, (const SSL *))                                     \
	X(int, SSL_is_server, (const SSL *))                                  \
	X(long, SSL_ctrl, (SSL *, int, long, void *))                         \
	X(int, SSL_get_error, (const SSL *, int))                             \
	X(const char *, SSL_get_servername, (const SSL *, const int))         \
	X(void, SSL_get0_alpn_selected, (const SSL *, const unsigned char **, \
					 unsigned int *))

#define AT_SSL_DECL(ret, name, params) ret(*name) params;
struct at_ssl_real {
	AT_SSL_FUNCS(AT_SSL_DECL)
};
#undef AT_SSL_DECL

extern struct at_ssl_real at_ssl;

/* libssl's own prototypes (ssl_io.c defines those it interposes). */
#define AT_SSL_PROTO(ret, name, params) ret name params;
AT_SSL_FUNCS(AT_SSL_PROTO)
#undef AT_SSL_PROTO

/* The table through libssl.so.3 (tried first), and its slow path. */
extern struct at_symtab at_ssl_syms3;
bool at_ssl_resolve_slow(void);

/* Resolve the table once (libssl.so.3, else libssl.so.1.1, when a module
 * loaded it privately); true if libssl is in the process. */
static inline bool at_ssl_resolve(void)
{
	if (AT_LIKELY(atomic_load_explicit(&at_ssl_syms3.state,
					   memory_order_acquire) > 0))
		return true;
	return at_ssl_resolve_slow();
}

/* Which real write a session's inner writes use (at_tls.flavor). */
enum { AT_SSL_WRITE = 0, AT_SSL_WRITE_EX };

/* at_ssl_session when t (ssl's state, or NULL) is not TRACED. */
struct at_tls *at_ssl_session_slow(struct at_tls *t, SSL *ssl, bool start);

/* The session of ssl if it is traced, else NULL; with start, a new
 * session is started first (its first plaintext moves: the handshake is
 * done, its role and ALPN are known).  Call with the guard held. */
static inline struct at_tls *at_ssl_session(SSL *ssl, bool start)
{
	struct at_tls *t = at_tls_sess_get(ssl, start);

	if (AT_LIKELY(t && t->state == AT_TLS_TRACED))
		return t;
	return at_ssl_session_slow(t, ssl, start);
}

/* A read on a traced session failed (r <= 0): what SSL_get_error says it
 * means for the HTTP machine. */
void at_ssl_read_failed(struct at_tls *t, SSL *ssl, const void *buf, long r);

/* A read on a traced session returned r (SSL_read's convention: > 0
 * bytes in buf, else a failure SSL_get_error explains). */
static inline void at_ssl_read_done(struct at_tls *t, SSL *ssl,
				    const void *buf, long r)
{
	if (AT_LIKELY(r > 0))
		at_tls_sess_read(t, buf, r, 0);
	else
		at_ssl_read_failed(t, ssl, buf, r);
}

#endif
