/*
 * at_tls_client.c - the exporter's TLS through the system's libssl,
 * loaded at run time (see at_tls_client.h).
 *
 * DESIGN
 *
 * Never linked.  The library's run-time dependencies stay libc and zlib:
 * libssl.so.3, else libssl.so.1.1, is loaded the first time an https
 * endpoint is used, and the few functions used are declared here (opaque
 * pointers, the constants of the stable ABI), not taken from OpenSSL's
 * headers.
 *
 * Not a private copy.  dlopen(RTLD_LOCAL): the program's libssl, if it
 * has one, is the same object.  A private copy (dlmopen) was tried and
 * refused: a second libc in another link map allocates pthread keys
 * from its own table, and they collide with the main libc's keys in the
 * threads' shared descriptors (OpenSSL's per-thread DRBG read another
 * library's value and crashed).  Sharing is safe because:
 *  - the functions are taken with dlsym on our handle: libssl's own, not
 *    the TLS hooks' interposed names; and the exporter thread holds the
 *    reentrancy guard, so whatever libssl calls is never traced;
 *  - our context, connections and error queue (per thread: the exporter
 *    thread's) are ours; nothing global is changed (no callbacks, no
 *    default settings);
 *  - OpenSSL's exit.  libssl is loaded and initialised when the process
 *    makes its first span, on the host's thread, as the exporter thread
 *    is started (at_tls_preload: a process without spans never loads it;
 *    one with spans loads it before it can exit), with
 *    OPENSSL_INIT_NO_ATEXIT: when we are first, OpenSSL never registers
 *    its OPENSSL_cleanup() atexit handler (the choice is made once, by
 *    the first initialisation), so it cannot free what the exporter uses
 *    during the final flush, which runs in the library's destructor,
 *    after every atexit handler.  When libcrypto was already there (the
 *    program loaded it first, maybe initialised it), an atexit handler
 *    of ours, registered after OpenSSL's and so run before it, runs the
 *    exporter's flush (at_tls_on_exit) while OpenSSL is whole.  Either
 *    way that handler then stops TLS (waiting for a call under way):
 *    whatever is left for the destructor's flush is spooled or counted,
 *    never sent through freed state.  A program that calls
 *    OPENSSL_cleanup() itself before exit is not covered (README).
 *
 * No I/O.  The SSL object sits between two memory BIOs: it never touches
 * the socket, so every call returns at once (CPU only) and the transport
 * keeps its non-blocking socket, its polls and its deadlines (the exit
 * bounds hold during a handshake as during a request).
 *
 * Fork.  Every call into libssl holds call_lock, and a pthread_atfork
 * handler takes it before a fork: the child never inherits OpenSSL in
 * the middle of one of our calls (an OpenSSL lock held by the parent's
 * exporter thread, which the child does not have, would block the
 * program's own OpenSSL use in the child).  Since calls never wait on
 * I/O, a fork waits at most for one handshake step.  The child forgets
 * (does not free) the parent's connection.
 *
 * Verification.  The server certificate is verified (chain, validity,
 * and host name or IP address) against the system store
 * (SSL_CTX_set_default_verify_paths) or the given CA file, which
 * replaces it.  SNI is sent for a name (not for an IP literal).  TLS 1.2
 * at least.  Client certificate and key from PEM files.
 *
 * Errors.  A failure of the settings (no libssl, a file that does not
 * load) is final for the process: at_tls_setup() keeps returning it
 * without trying again.  The detail of the last error is in a static
 * buffer: everything here runs on the exporter thread only (or the tool's
 * single thread).
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "at_compat.h"
#include "at_tls_client.h"

/* The stable ABI values used (identical in OpenSSL 1.1 and 3). */
#define SSL_VERIFY_PEER 0x01
#define SSL_FILETYPE_PEM 1
#define SSL_ERROR_SSL 1
#define SSL_ERROR_WANT_READ 2
#define SSL_ERROR_ZERO_RETURN 6
#define SSL_CTRL_SET_TLSEXT_HOSTNAME 55
#define TLSEXT_NAMETYPE_host_name 0
#define SSL_CTRL_SET_MIN_PROTO_VERSION 123
#define TLS1_2_VERSION 0x0303
#define BIO_CTRL_PENDING 10
#define OPENSSL_INIT_NO_ATEXIT 0x00080000L
#define X509_V_OK 0

#define TLS_SYMS(X)                                                          \
	X(int, OPENSSL_init_ssl, (uint64_t, const void *))                   \
	X(const void *, TLS_client_method, (void))                           \
	X(void *, SSL_CTX_new, (const void *))                               \
	X(void, SSL_CTX_free, (void *))                                      \
	X(long, SSL_CTX_ctrl, (void *, int, long, void *))                   \
	X(void, SSL_CTX_set_verify, (void *, int, void *))                   \
	X(int, SSL_CTX_set_default_verify_paths, (void *))                   \
	X(int, SSL_CTX_load_verify_locations, (void *, const char *,         \
					       const char *))                \
	X(int, SSL_CTX_use_certificate_chain_file, (void *, const char *))   \
	X(int, SSL_CTX_use_PrivateKey_file, (void *, const char *, int))     \
	X(int, SSL_CTX_check_private_key, (const void *))                    \
	X(void *, SSL_new, (void *))                                         \
	X(void, SSL_free, (void *))                                          \
	X(void, SSL_set_bio, (void *, void *, void *))                       \
	X(void, SSL_set_connect_state, (void *))                             \
	X(long, SSL_ctrl, (void *, int, long, void *))                       \
	X(int, SSL_set1_host, (void *, const char *))                        \
	X(void *, SSL_get0_param, (void *))                                  \
	X(int, X509_VERIFY_PARAM_set1_ip_asc, (void *, const char *))        \
	X(int, SSL_do_handshake, (void *))                                   \
	X(int, SSL_read, (void *, void *, int))                              \
	X(int, SSL_write, (void *, void *, int)) /* const void * */          \
	X(int, SSL_shutdown, (void *))                                       \
	X(int, SSL_get_error, (const void *, int))                           \
	X(long, SSL_get_verify_result, (const void *))                       \
	X(const char *, X509_verify_cert_error_string, (long))               \
	X(unsigned long, ERR_get_error, (void))                              \
	X(void, ERR_error_string_n, (unsigned long, char *, size_t))         \
	X(void, ERR_clear_error, (void))                                     \
	X(const void *, BIO_s_mem, (void))                                   \
	X(void *, BIO_new, (const void *))                                   \
	X(int, BIO_free, (void *))                                           \
	X(int, BIO_read, (void *, void *, int))                              \
	X(int, BIO_write, (void *, const void *, int))                       \
	X(long, BIO_ctrl, (void *, int, long, void *))

#define TLS_FIELD(ret, name, args) ret(*name) args;
static struct {
	TLS_SYMS(TLS_FIELD)
} ssl;
#undef TLS_FIELD

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static void (*exit_flush)(void);
static int stopped; /* under call_lock: OpenSSL may be cleaned up now */
static int shared;  /* libcrypto was loaded before us */
static int lib_rc = 1; /* 1: not tried; else 0 or AT_TLS_ENOLIB */
static void *ctx;
static int setup_rc = 1; /* 1: not tried; else 0 or the final error */
static char why[256];

#define LOCK() pthread_mutex_lock(&call_lock)
#define UNLOCK() pthread_mutex_unlock(&call_lock)

int at_tls_error_final(int rc)
{
	return rc == AT_TLS_ENOLIB || rc == AT_TLS_ESETUP ||
	       rc == AT_TLS_EVERIFY || rc == AT_TLS_EPROTO;
}

const char *at_tls_error(void)
{
	return why;
}

static void fork_prepare(void)
{
	LOCK();
}

static void fork_release(void)
{
	UNLOCK();
}

/* "what: <OpenSSL's first queued error>" into why; returns rc. */
static int fail(int rc, const char *what)
{
	unsigned long e = ssl.ERR_get_error ? ssl.ERR_get_error() : 0;
	char detail[160] = "";

	if (e)
		ssl.ERR_error_string_n(e, detail, sizeof(detail));
	snprintf(why, sizeof(why), "%s%s%s", what, e ? ": " : "", detail);
	if (ssl.ERR_clear_error)
		ssl.ERR_clear_error();
	return rc;
}

static int load_library(void)
{
	static const char *const sonames[] = { "libssl.so.3",
					       "libssl.so.1.1" };
	char first[160] = "";
	void *h = NULL;

	for (size_t i = 0; i < AT_ARRAY_SIZE(sonames) && !h; i++) {
		h = dlopen(sonames[i], RTLD_NOW | RTLD_LOCAL);
		if (!h && i == 0) {
			const char *e = dlerror();
			snprintf(first, sizeof(first), "%s", e ? e : "");
		}
	}
	if (!h) {
		snprintf(why, sizeof(why),
			 "https export needs libssl.so.3 or libssl.so.1.1 "
			 "(%s)", first);
		return AT_TLS_ENOLIB;
	}
#define TLS_RESOLVE(ret, name, args)                                         \
	*(void **)&ssl.name = dlsym(h, #name);                               \
	if (!ssl.name) {                                                     \
		snprintf(why, sizeof(why), "libssl has no %s", #name);       \
		memset(&ssl, 0, sizeof(ssl));                                \
		return AT_TLS_ENOLIB;                                        \
	}
	TLS_SYMS(TLS_RESOLVE)
#undef TLS_RESOLVE
	if (!ssl.OPENSSL_init_ssl(OPENSSL_INIT_NO_ATEXIT, NULL))
		return fail(AT_TLS_ENOLIB, "libssl does not initialise");
	return 0;
}

static int load_files(const struct at_tls_files *f)
{
	const char *cert = f->cert_file && f->cert_file[0] ? f->cert_file
							   : NULL;
	const char *key = f->key_file && f->key_file[0] ? f->key_file : cert;

	if (f->ca_file && f->ca_file[0]) {
		if (ssl.SSL_CTX_load_verify_locations(ctx, f->ca_file, NULL) !=
		    1)
			return fail(AT_TLS_ESETUP,
				    "cannot load the CA file "
				    "(OTEL_EXPORTER_OTLP_CERTIFICATE)");
	} else if (ssl.SSL_CTX_set_default_verify_paths(ctx) != 1) {
		return fail(AT_TLS_ESETUP, "cannot load the system CA store");
	}
	if (!cert && key)
		return fail(AT_TLS_ESETUP,
			    "OTEL_EXPORTER_OTLP_CLIENT_KEY without "
			    "OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE");
	if (!cert)
		return 0;
	if (ssl.SSL_CTX_use_certificate_chain_file(ctx, cert) != 1)
		return fail(AT_TLS_ESETUP,
			    "cannot load the client certificate "
			    "(OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE)");
	if (ssl.SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
	    ssl.SSL_CTX_check_private_key(ctx) != 1)
		return fail(AT_TLS_ESETUP,
			    "cannot load the client key "
			    "(OTEL_EXPORTER_OTLP_CLIENT_KEY)");
	return 0;
}

static int setup_locked(const struct at_tls_files *f)
{
	int rc;

	ctx = ssl.SSL_CTX_new(ssl.TLS_client_method());
	if (!ctx)
		return fail(AT_TLS_ESETUP, "cannot make a TLS context");
	ssl.SSL_CTX_ctrl(ctx, SSL_CTRL_SET_MIN_PROTO_VERSION, TLS1_2_VERSION,
			 NULL);
	ssl.SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	rc = load_files(f);
	if (rc) {
		ssl.SSL_CTX_free(ctx);
		ctx = NULL;
	}
	return rc;
}

void at_tls_on_exit(void (*flush)(void))
{
	exit_flush = flush;
}

/* At exit, before OpenSSL's own cleanup can run (see the top). */
static void tls_at_exit(void)
{
	if (exit_flush && shared)
		exit_flush();
	LOCK();
	stopped = 1;
	UNLOCK();
}

static int loaded_already(void)
{
	static const char *const sonames[] = { "libcrypto.so.3",
					       "libcrypto.so.1.1" };

	for (size_t i = 0; i < AT_ARRAY_SIZE(sonames); i++) {
		void *h = dlopen(sonames[i], RTLD_LAZY | RTLD_NOLOAD);

		if (h) {
			dlclose(h);
			return 1;
		}
	}
	return 0;
}

int at_tls_preload(void)
{
	if (lib_rc != 1)
		return lib_rc;
	shared = loaded_already();
	lib_rc = load_library();
	if (lib_rc == 0) {
		pthread_atfork(fork_prepare, fork_release, fork_release);
		atexit(tls_at_exit);
	}
	return lib_rc;
}

int at_tls_setup(const struct at_tls_files *f)
{
	if (setup_rc != 1)
		return setup_rc;
	setup_rc = at_tls_preload();
	if (setup_rc)
		return setup_rc;
	LOCK();
	setup_rc = stopped ? AT_TLS_ESTOPPED : setup_locked(f);
	UNLOCK();
	return setup_rc;
}

static int is_ip_literal(const char *host)
{
	unsigned char a[16];

	return inet_pton(AF_INET, host, a) == 1 ||
	       inet_pton(AF_INET6, host, a) == 1;
}

static int open_locked(struct at_tls_conn *c, const char *host)
{
	c->ssl = ssl.SSL_new(ctx);
	if (!c->ssl)
		return fail(AT_TLS_ESETUP, "cannot make a TLS connection");
	c->rbio = ssl.BIO_new(ssl.BIO_s_mem());
	c->wbio = ssl.BIO_new(ssl.BIO_s_mem());
	if (!c->rbio || !c->wbio) {
		if (c->rbio)
			ssl.BIO_free(c->rbio);
		if (c->wbio)
			ssl.BIO_free(c->wbio);
		ssl.SSL_free(c->ssl);
		c->ssl = NULL;
		return fail(AT_TLS_ESETUP, "out of memory");
	}
	ssl.SSL_set_bio(c->ssl, c->rbio, c->wbio); /* owned by the SSL now */
	ssl.SSL_set_connect_state(c->ssl);
	if (is_ip_literal(host)) {
		if (ssl.X509_VERIFY_PARAM_set1_ip_asc(
			    ssl.SSL_get0_param(c->ssl), host) != 1)
			return fail(AT_TLS_ESETUP, "bad IP address");
	} else if (ssl.SSL_set1_host(c->ssl, host) != 1 ||
		   ssl.SSL_ctrl(c->ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME,
				TLSEXT_NAMETYPE_host_name, (void *)host) != 1) {
		return fail(AT_TLS_ESETUP, "bad host name");
	}
	return 0;
}

int at_tls_conn_open(struct at_tls_conn *c, const char *host)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (!ctx)
		return setup_rc == 1 ? AT_TLS_ENOLIB : setup_rc;
	LOCK();
	rc = stopped ? AT_TLS_ESTOPPED : open_locked(c, host);
	UNLOCK();
	if (rc)
		at_tls_conn_free(c);
	return rc;
}

void at_tls_conn_free(struct at_tls_conn *c)
{
	if (c->ssl) {
		LOCK();
		if (!stopped) /* else OpenSSL's memory may be gone: leave it */
			ssl.SSL_free(c->ssl); /* and both BIOs */
		UNLOCK();
	}
	memset(c, 0, sizeof(*c));
}

void at_tls_close_notify(struct at_tls_conn *c)
{
	if (!c->ssl)
		return;
	LOCK();
	if (!stopped) {
		ssl.SSL_shutdown(c->ssl);
		ssl.ERR_clear_error();
	}
	UNLOCK();
}

void at_tls_after_fork_child(struct at_tls_conn *c)
{
	memset(c, 0, sizeof(*c)); /* the parent's: forgotten, not freed */
}

int at_tls_feed(struct at_tls_conn *c, const void *p, size_t n)
{
	int w;

	if (n > INT_MAX)
		return -ENOMEM;
	LOCK();
	w = stopped ? -1 : ssl.BIO_write(c->rbio, p, (int)n);
	UNLOCK();
	return w == (int)n ? 0 : -ENOMEM;
}

size_t at_tls_pending(struct at_tls_conn *c)
{
	long n;

	if (!c->ssl)
		return 0;
	LOCK();
	n = stopped ? 0 : ssl.BIO_ctrl(c->wbio, BIO_CTRL_PENDING, 0, NULL);
	UNLOCK();
	return n > 0 ? (size_t)n : 0;
}

size_t at_tls_take(struct at_tls_conn *c, void *buf, size_t cap)
{
	int r;

	if (cap > INT_MAX)
		cap = INT_MAX;
	LOCK();
	r = stopped ? 0 : ssl.BIO_read(c->wbio, buf, (int)cap);
	UNLOCK();
	return r > 0 ? (size_t)r : 0;
}

/* The error of an operation that returned r <= 0 (call_lock held). */
static int op_error(struct at_tls_conn *c, int r, const char *what)
{
	int e = ssl.SSL_get_error(c->ssl, r);
	long v;

	if (e == SSL_ERROR_WANT_READ) {
		ssl.ERR_clear_error();
		return AT_TLS_WANT_READ;
	}
	if (e == SSL_ERROR_ZERO_RETURN) {
		ssl.ERR_clear_error();
		return 0;
	}
	v = ssl.SSL_get_verify_result(c->ssl);
	if (v != X509_V_OK) {
		snprintf(why, sizeof(why),
			 "server certificate not trusted: %s",
			 ssl.X509_verify_cert_error_string(v));
		ssl.ERR_clear_error();
		return AT_TLS_EVERIFY;
	}
	return fail(AT_TLS_EPROTO, what);
}

int at_tls_handshake(struct at_tls_conn *c)
{
	int r, rc;

	LOCK();
	if (stopped) {
		UNLOCK();
		return AT_TLS_ESTOPPED;
	}
	r = ssl.SSL_do_handshake(c->ssl);
	rc = r == 1 ? 0 : op_error(c, r, "TLS handshake failed");
	UNLOCK();
	if (rc == 0 && r != 1)
		rc = AT_TLS_EPROTO; /* the peer closed during the handshake */
	return rc;
}

/* SSL_read or SSL_write: >0 bytes, 0 at close_notify, -EAGAIN to feed
 * more bytes first, or an AT_TLS_E* error. */
static long io_op(struct at_tls_conn *c, int (*op)(void *, void *, int),
		  void *p, size_t n, const char *what)
{
	int r, rc = 0;

	if (n > INT_MAX)
		n = INT_MAX;
	LOCK();
	if (stopped) {
		UNLOCK();
		return AT_TLS_ESTOPPED;
	}
	r = op(c->ssl, p, (int)n);
	if (r <= 0)
		rc = op_error(c, r, what);
	UNLOCK();
	if (r > 0)
		return r;
	return rc == AT_TLS_WANT_READ ? -EAGAIN : rc;
}

long at_tls_write(struct at_tls_conn *c, const void *p, size_t n)
{
	long rc = io_op(c, ssl.SSL_write, (void *)(uintptr_t)p, n,
			"TLS write failed");

	/* Nothing to wait for with memory buffers once the handshake is
	 * done: any other outcome is a failure. */
	return rc == 0 || rc == -EAGAIN ? AT_TLS_EPROTO : rc;
}

long at_tls_read(struct at_tls_conn *c, void *buf, size_t cap)
{
	return io_op(c, ssl.SSL_read, buf, cap, "TLS read failed");
}
