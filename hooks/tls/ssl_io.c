/*
 * hooks/tls/ssl_io.c - OpenSSL's plaintext calls: SSL_write,
 * SSL_write_ex, SSL_read, SSL_read_ex; the calls that tie a session to its
 * descriptor and end it: SSL_set_fd, SSL_set_bio, SSL_shutdown, SSL_free.
 *
 * Each holds the reentrancy guard for the whole call (the socket hooks
 * under it pass straight through), finds the session's state, and passes
 * straight to the real function when the session is not traced.  A write
 * goes through the TLS layer (at_tls.h: injection, counts, retries); a
 * read runs the real function first and shows what it returned.  errno is
 * the real call's on return.  SSL_peek and SSL_peek_ex need no hook: the
 * bytes they show are read again.  SSL_get_fd needs none either: the
 * layer asks the real one.
 */
#include <errno.h>

#include "at_init.h"
#include "at_tls.h"
#include "at_tls_ssl.h"

/* The real function is there (the program calls it, so libssl is
 * loaded); if it could not be found the call fails as a missing libssl
 * would have it. */
#define SSL_REAL_OR(name, fail)                                              \
	do {                                                                 \
		if (AT_UNLIKELY(!at_ssl_resolve() || !at_ssl.name)) {        \
			errno = ENOSYS;                                      \
			return fail;                                         \
		}                                                            \
	} while (0)

static inline void leave_keep_errno(void)
{
	int err = errno;

	at_hook_leave();
	errno = err;
}

/* A write of len bytes on a traced session t, with SSL_write's
 * convention: the bytes written (> 0), else the real failure's value. */
static inline __attribute__((always_inline)) long
traced_write(struct at_tls *t, SSL *ssl, const void *buf, size_t len)
{
	size_t w = 0;
	long raw = -1;
	int r;

	switch (at_tls_sess_write(t, buf, len, &w, &raw)) {
	case AT_TLS_WROTE:
		return (long)w;
	case AT_TLS_FAILED:
		return raw;
	default:
		break;
	}
	if (t->flavor == AT_SSL_WRITE)
		return at_ssl.SSL_write(ssl, buf, (int)len);
	r = at_ssl.SSL_write_ex(ssl, buf, len, &w);
	return r == 1 ? (long)w : r;
}

AT_EXPORT int SSL_write(SSL *ssl, const void *buf, int num)
{
	struct at_tls *t;
	long r;

	SSL_REAL_OR(SSL_write, -1);
	if (num <= 0 || !at_hook_enter())
		return at_ssl.SSL_write(ssl, buf, num);
	t = at_ssl_session(ssl, true);
	if (!t) {
		r = at_ssl.SSL_write(ssl, buf, num);
	} else {
		t->flavor = AT_SSL_WRITE;
		r = traced_write(t, ssl, buf, (size_t)num);
	}
	leave_keep_errno();
	return (int)r;
}

AT_EXPORT int SSL_write_ex(SSL *ssl, const void *buf, size_t num,
			   size_t *written)
{
	struct at_tls *t;
	long r;

	SSL_REAL_OR(SSL_write_ex, 0);
	if (num == 0 || !written || !at_hook_enter())
		return at_ssl.SSL_write_ex(ssl, buf, num, written);
	t = at_ssl_session(ssl, true);
	if (!t) {
		r = at_ssl.SSL_write_ex(ssl, buf, num, written);
	} else {
		t->flavor = AT_SSL_WRITE_EX;
		r = traced_write(t, ssl, buf, num);
		if (r > 0) {
			*written = (size_t)r;
			r = 1;
		}
	}
	leave_keep_errno();
	return (int)r;
}

AT_EXPORT int SSL_read(SSL *ssl, void *buf, int num)
{
	struct at_tls *t;
	int r;

	SSL_REAL_OR(SSL_read, -1);
	if (!at_hook_enter())
		return at_ssl.SSL_read(ssl, buf, num);
	r = at_ssl.SSL_read(ssl, buf, num);
	t = at_ssl_session(ssl, r > 0);
	if (t)
		at_ssl_read_done(t, ssl, buf, r);
	leave_keep_errno();
	return r;
}

AT_EXPORT int SSL_read_ex(SSL *ssl, void *buf, size_t num, size_t *readbytes)
{
	struct at_tls *t;
	int r;

	SSL_REAL_OR(SSL_read_ex, 0);
	if (!readbytes || !at_hook_enter())
		return at_ssl.SSL_read_ex(ssl, buf, num, readbytes);
	r = at_ssl.SSL_read_ex(ssl, buf, num, readbytes);
	t = at_ssl_session(ssl, r == 1 && *readbytes > 0);
	if (t)
		at_ssl_read_done(t, ssl, buf,
				 r == 1 ? (long)*readbytes : (long)r);
	leave_keep_errno();
	return r;
}

AT_EXPORT int SSL_set_fd(SSL *ssl, int fd)
{
	int r;

	SSL_REAL_OR(SSL_set_fd, 0);
	r = at_ssl.SSL_set_fd(ssl, fd);
	if (r == 1 && at_hook_enter()) {
		at_tls_sess_fd(fd);
		leave_keep_errno();
	}
	return r;
}

AT_EXPORT void SSL_set_bio(SSL *ssl, BIO *rbio, BIO *wbio)
{
	SSL_REAL_OR(SSL_set_bio, );
	at_ssl.SSL_set_bio(ssl, rbio, wbio);
	/* A socket BIO: its descriptor carries the session.  The real getter
	 * finds it (-1 for memory BIOs and the programs' own). */
	if (rbio && at_hook_enter()) {
		at_tls_sess_fd(at_ssl.SSL_get_fd(ssl));
		leave_keep_errno();
	}
}

AT_EXPORT int SSL_shutdown(SSL *ssl)
{
	SSL_REAL_OR(SSL_shutdown, -1);
	if (at_hook_enter()) {
		at_tls_sess_shutdown(ssl);
		leave_keep_errno();
	}
	return at_ssl.SSL_shutdown(ssl);
}

AT_EXPORT void SSL_free(SSL *ssl)
{
	SSL_REAL_OR(SSL_free, );
	/* Forget the state even when the guard is held: a later session may
	 * get the same address. */
	if (ssl && at_ready()) {
		at_guard_enter();
		at_tls_sess_forget(ssl);
		at_guard_leave();
	}
	at_ssl.SSL_free(ssl);
}
