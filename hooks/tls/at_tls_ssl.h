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

/* Resolve the table once (libssl.so.3, else libssl.so.1.1, when a module
 * loaded it privately); true if libssl is in the process. */
bool at_ssl_resolve(void);

/* Which real write a session's inner writes use (at_tls.flavor). */
enum { AT_SSL_WRITE = 0, AT_SSL_WRITE_EX };

struct at_tls;

/* The session of ssl if it is traced, else NULL; with start, a new
 * session is started first (its first plaintext moves: the handshake is
 * done, its role and ALPN are known).  Call with the guard held. */
struct at_tls *at_ssl_session(SSL *ssl, bool start);

/* Does ssl return partial writes (SSL_MODE_ENABLE_PARTIAL_WRITE)? */
static inline bool at_ssl_partial(SSL *ssl)
{
	return (at_ssl.SSL_ctrl(ssl, AT_SSL_CTRL_MODE, 0, NULL) &
		AT_SSL_MODE_ENABLE_PARTIAL_WRITE) != 0;
}

/* A read on a traced session returned r (SSL_read's convention: > 0
 * bytes in buf, else a failure SSL_get_error explains). */
void at_ssl_read_done(struct at_tls *t, SSL *ssl, const void *buf, long r);

#endif
